/* VMCS storage: the value of every field of vmcs_fields.h by dense index,
 * plus the region header state (revision identifier, VMX-abort indicator,
 * launch state); VMREAD/VMWRITE semantics by encoding; and the layout in
 * which a VMCS is kept in its 4 KiB region of guest memory.
 *
 * The engine keeps the current VMCS in a struct vmcs and copies it to and
 * from the guest's region (vmcs_store on VMCLEAR or when another VMCS
 * becomes current, vmcs_load on VMPTRLD).
 *
 * Region layout, version 1 (all little-endian; the rest of the 4 KiB is
 * zero). SDM Vol. 3C 25.2 fixes the first two words; the rest is ours:
 *   0x000  u32  revision identifier (bits 30:0), shadow-VMCS indicator (31)
 *   0x004  u32  VMX-abort indicator
 *   0x008  u32  launch state: 0 clear, 1 launched
 *   0x00C  u32  number of field values that follow (VMCS_FIELD_COUNT)
 *   0x010  u64  field values, by dense index (= encoding order)
 * The revision identifier carries the layout version in bits 15:0, so a
 * region written by another layout fails VMPTRLD's revision check (VM-
 * instruction error 11) instead of being misread. Adding, removing or
 * reordering a field breaks a _Static_assert in vmcs.c: bump
 * VMCS_LAYOUT_VERSION and update the asserted fingerprint there. */
#ifndef L0_VMX_VMCS_H
#define L0_VMX_VMCS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/vmcs_fields.h"

#define VMCS_REGION_SIZE 4096
#define VMCS_LAYOUT_VERSION 1
/* 0x5452 ("TR", turtles) in bits 30:16, the layout version in 15:0. */
#define VMCS_REVISION_ID (0x54520000u | VMCS_LAYOUT_VERSION)
#define VMCS_SHADOW_INDICATOR (1u << 31)

/* Bits of the guest's pending debug exceptions field (SDM Vol. 3C Table
 * 25-3): B3-B0, an enabled breakpoint, BS (single step). */
#define PENDING_DBG_B0_B3 0xFull
#define PENDING_DBG_ENABLED_BP (1ull << 12)
#define PENDING_DBG_BS (1ull << 14)

/* Region header offsets (frozen by _Static_assert in vmcs.c). */
#define VMCS_REGION_REVISION 0x000
#define VMCS_REGION_ABORT 0x004
#define VMCS_REGION_LAUNCH 0x008
#define VMCS_REGION_FIELD_COUNT 0x00C
#define VMCS_REGION_VALUES 0x010

/* SDM Vol. 3C 25.1: VMLAUNCH needs clear, VMRESUME launched. */
enum vmcs_launch_state {
    VMCS_STATE_CLEAR = 0,
    VMCS_STATE_LAUNCHED = 1,
};

#define VMCS_WRITTEN_WORDS ((VMCS_FIELD_COUNT + 63) / 64)

struct vmcs {
    uint32_t revision; /* bits 30:0 revision id, bit 31 shadow indicator */
    uint32_t abort;    /* VMX-abort indicator (SDM Vol. 3C 28.7) */
    enum vmcs_launch_state launch;
    /* By dense index; a value never has bits beyond its field's width. */
    uint64_t value[VMCS_FIELD_COUNT];
    /* Host-side bookkeeping of the incremental VM-entry checks
     * (vmx_check_entry_incremental), no part of the architecture: the
     * fields written with a new value, by dense index, since the passing
     * check whose stamp written_since holds (0: no such check, every
     * field counts). */
    uint64_t written[VMCS_WRITTEN_WORDS];
    uint64_t written_since;
};

/* Results of VMREAD/VMWRITE by encoding; the numbers are the VM-instruction
 * error numbers (SDM Vol. 3C 31.4) for VMfailValid. */
enum vmcs_status {
    VMCS_OK = 0,
    VMCS_UNSUPPORTED_FIELD = 12, /* "VMREAD/VMWRITE from/to unsupported
                                    VMCS component" */
    VMCS_READ_ONLY_FIELD = 13,   /* "VMWRITE to read-only VMCS component" */
};

/* Every field 0, launch state clear, abort indicator 0. */
void vmcs_init(struct vmcs *v, uint32_t revision);

/* By dense index, for the engine: set stores the value truncated to the
 * field's width and ignores the read-only rule (VM exits write exit
 * information this way). Every write of a value goes through
 * vmcs_set, which notes the field in `written` if the value changes. */
static inline uint64_t vmcs_get(const struct vmcs *v, enum vmcs_index i)
{
    return v->value[i];
}
/* Each field's value mask by dense index (vmcs.c). */
extern const uint64_t vmcs_field_masks[VMCS_FIELD_COUNT];
static inline void vmcs_set(struct vmcs *v, enum vmcs_index i, uint64_t value)
{
    /* Most writes (a VM exit saving guest state, a merge) store the value
     * a field already has: those leave the VMCS alone. */
    value &= vmcs_field_masks[i];
    if (v->value[i] == value)
        return;
    v->value[i] = value;
    v->written[i / 64] |= 1ull << (i % 64);
}

/* VMREAD (SDM Vol. 2C; Vol. 3C 25.11.2): a 16- or 32-bit field reads
 * zero-extended; a 64-bit or natural-width field reads all 64 bits; the
 * high encoding of a 64-bit field reads bits 63:32 into bits 31:0. The
 * caller truncates to the operand size outside 64-bit mode. Returns
 * VMCS_OK or VMCS_UNSUPPORTED_FIELD (value untouched). */
enum vmcs_status vmcs_read(const struct vmcs *v, uint64_t encoding,
                           uint64_t *value);

/* VMWRITE: the value is truncated to the field's width; the high encoding
 * of a 64-bit field writes bits 31:0 of value into bits 63:32 and keeps
 * bits 31:0. The caller passes a 32-bit operand zero-extended, which for
 * a full 64-bit or natural-width field clears bits 63:32 as the SDM says.
 * VM-exit information fields are writable only if exit_info_writable
 * (IA32_VMX_MISC bit 29: vmx_cap_vmwrite_any_field()). Returns VMCS_OK,
 * VMCS_UNSUPPORTED_FIELD or VMCS_READ_ONLY_FIELD (nothing written). */
enum vmcs_status vmcs_write(struct vmcs *v, uint64_t encoding,
                            uint64_t value, bool exit_info_writable);

/* Writes the whole region (VMCS_REGION_SIZE bytes) in the layout above. */
void vmcs_store(const struct vmcs *v, uint8_t *region);

/* Reads a region. Whatever the bytes, the result is a valid struct vmcs:
 * values are truncated to their widths, a launch state other than 1 reads
 * as clear. If the region does not hold our layout (revision bits 30:0
 * other than VMCS_REVISION_ID, or a wrong field count, as in a region the
 * guest only zeroed and stamped), every field reads as 0 and the launch
 * state as clear, and the function returns false; revision and abort are
 * taken from the region either way. */
bool vmcs_load(struct vmcs *v, const uint8_t *region);

#endif
