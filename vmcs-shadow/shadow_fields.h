/* VMCS shadowing for L1 (SDM Vol. 3C 25.10, 26.1.2; Turtles sec. 3.5.2):
 * the hot fields whose VMREAD/VMWRITE by L1 hit the shadow VMCS without a
 * VM exit, the VMREAD and VMWRITE bitmaps that say so, and the two sync
 * directions between vmcs12 and the shadow VMCS.
 *
 * When L0 runs L1 with shadowing on, vmcs01's link pointer names the
 * shadow VMCS and its VMREAD/VMWRITE bitmaps are the ones built here. The
 * shadow must hold vmcs12's values whenever L1 runs (shadow_sync_to_shadow
 * after a nested VM exit and after emulating VMPTRLD), and vmcs12 must
 * get back what L1 wrote before L0 reads it (shadow_sync_from_shadow when
 * L1's VMLAUNCH/VMRESUME/VMPTRLD/VMCLEAR traps). Fields outside the list
 * keep trapping and L0 emulates them against vmcs12. */
#ifndef VMCS_SHADOW_SHADOW_FIELDS_H
#define VMCS_SHADOW_SHADOW_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/vmcs.h"

/* VMREAD and VMWRITE bitmaps are 4 KiB each (SDM Vol. 3C 25.6.15). */
#define SHADOW_BITMAP_SIZE 4096

struct shadow_field {
    enum vmcs_index index;
    bool read_only; /* VM-exit information: L1 cannot write it unless
                       VMWRITE may write any field (IA32_VMX_MISC[29]) */
};

extern const struct shadow_field shadow_fields[];
extern const unsigned shadow_field_count;

/* Whether L1's VMREAD (write false) or VMWRITE (write true) of the field
 * goes to the shadow VMCS. vmwrite_any_field: vmx_cap_vmwrite_any_field()
 * of the VMX capabilities L0 reports to L1. */
bool shadow_field_shadowed(enum vmcs_index i, bool write,
                           bool vmwrite_any_field);

/* Fills both bitmaps: a set bit (bit encoding & 0x7FFF, SDM Vol. 2C
 * "VMREAD": byte encoding[14:3], bit encoding[2:0]) makes the access exit,
 * a clear bit sends it to the shadow. Both access encodings of a 64-bit
 * field (full and high) are shadowed together. */
void shadow_bitmaps_build(uint8_t vmread_bitmap[SHADOW_BITMAP_SIZE],
                          uint8_t vmwrite_bitmap[SHADOW_BITMAP_SIZE],
                          bool vmwrite_any_field);

/* vmcs12 -> shadow, before L1 runs: every shadowed field. Returns the
 * number of fields copied (L0's VMWRITEs to the shadow, for the cost
 * model). Other fields of the shadow are left alone. */
unsigned shadow_sync_to_shadow(struct vmcs *shadow, const struct vmcs *v12);

/* Shadow -> vmcs12, after L1 ran: every field L1 can write in the shadow
 * (the writable shadowed fields; with vmwrite_any_field also the
 * read-only ones). A field whose value changed is marked in dirty: the
 * shadow started as a copy of vmcs12, so a change is a write by L1 (a
 * write of the same value leaves nothing for the merge to do, as long as
 * L0 keeps vmcs12 in step with vmcs02 at each nested VM exit). Returns
 * the number of fields read (L0's VMREADs of the shadow). */
unsigned shadow_sync_from_shadow(struct vmcs *v12, uint64_t *dirty,
                                 const struct vmcs *shadow,
                                 bool vmwrite_any_field);

#endif
