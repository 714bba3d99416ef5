/* What the VMCS harnesses share: a VMCS that passes every entry check
 * (the vmcs01 L0 builds for a guest), and a mutation of it driven by the
 * fuzzer's bytes that mostly stays within each field's legal values. */
#ifndef FUZZ_LF_VMCS_H
#define FUZZ_LF_VMCS_H

#include <stddef.h>
#include <stdint.h>

#include "vmx/vmcs.h"

/* vmcs01 of a nested-mode L0 (hv_init), built once. */
const struct vmcs *lf_valid_vmcs01(void);

/* Applies the operations the bytes encode (10 bytes each: field, how,
 * a 64-bit operand): set, flip one bit, set or clear bits, small
 * values, canonical boundaries. */
void lf_mutate_vmcs(struct vmcs *v, const uint8_t *data, size_t size);

#endif
