/* The guest-state fields of each segment register, by the CPU's segment
 * order (enum seg in cpu/cpu.h): one table for VM entry, VM exit and the
 * entry checks. */
#ifndef L0_VMX_GUEST_SEGMENTS_H
#define L0_VMX_GUEST_SEGMENTS_H

#include "cpu/cpu.h"
#include "vmx/vmcs_fields.h"

struct vmcs_segment_fields {
    enum vmcs_index sel, base, limit, ar;
};

extern const struct vmcs_segment_fields vmcs_guest_segment[SEG_COUNT];

#endif
