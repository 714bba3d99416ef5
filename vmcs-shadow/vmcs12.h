/* vmcs12: the VMCS L1 builds for L2, kept in L1's memory (Turtles, OSDI
 * 2010, sec. 3.2; SDM Vol. 3C 25.2). Its layout is the VMX engine's own
 * (vmx/vmcs.h: region layout version VMCS_LAYOUT_VERSION, revision
 * identifier VMCS_REVISION_ID, offsets frozen by _Static_assert in
 * vmx/vmcs.c): L1 sees one kind of VMCS whether it runs on the hardware
 * or under L0, and one field table drives both (vmcs-shadow/README.md).
 *
 * L0 keeps the current vmcs12 in a struct vmcs (as KVM keeps its
 * cached_vmcs12): read from L1's memory at VMPTRLD, written back at
 * VMCLEAR or when another VMCS becomes current. Beside it L0 keeps the
 * dirty set: one bit per dense field index, set when L1 writes the field
 * (a trapped VMWRITE, or a write found in the shadow VMCS), cleared at
 * each nested VM entry; the vmcs02 merge with --merge dirty copies only
 * those fields (Turtles sec. 3.5.1). */
#ifndef VMCS_SHADOW_VMCS12_H
#define VMCS_SHADOW_VMCS12_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/exit_cond.h" /* vmx_read_phys_fn */
#include "vmx/vmcs.h"

/* Writes len bytes of src at guest-physical pa of L1; false if some byte
 * is not L1 memory (then nothing need have been written). */
typedef bool (*vmcs12_write_phys_fn)(void *ctx, uint64_t pa, const void *src,
                                     unsigned len);

/* L1's memory, as L0 reaches it (through EPT01). */
struct vmcs12_mem {
    vmx_read_phys_fn read;
    vmcs12_write_phys_fn write;
    void *ctx;
};

enum vmcs12_status {
    VMCS12_OK,
    VMCS12_UNREADABLE,   /* some byte of the region is not L1 memory */
    VMCS12_BAD_REVISION, /* not our layout: every field reads as 0 */
};

/* Reads the region at gpa (VMCS_REGION_SIZE bytes) into v12, as vmcs_load
 * does. Unreadable: v12 is a zeroed VMCS with revision 0. Bad revision:
 * revision and abort indicator from the region, fields 0 (VMPTRLD then
 * fails with VM-instruction error 11, SDM Vol. 3C 31.4). */
enum vmcs12_status vmcs12_read(struct vmcs *v12, const struct vmcs12_mem *m,
                               uint64_t gpa);

/* Writes v12 to the region at gpa in the engine's layout; false if the
 * region is not (all) L1 memory. */
bool vmcs12_write(const struct vmcs *v12, const struct vmcs12_mem *m,
                  uint64_t gpa);

/* ---- the dirty set: one bit per dense index ---- */

#define VMCS12_DIRTY_WORDS ((VMCS_FIELD_COUNT + 63) / 64)

static inline void vmcs12_dirty_mark(uint64_t *dirty, enum vmcs_index i)
{
    dirty[i / 64] |= 1ull << (i % 64);
}

static inline bool vmcs12_dirty_test(const uint64_t *dirty, enum vmcs_index i)
{
    return (dirty[i / 64] >> (i % 64)) & 1;
}

/* After a nested VM entry: vmcs02 holds every field L1 wrote. */
void vmcs12_dirty_clear(uint64_t *dirty);

/* After VMPTRLD of another vmcs12: vmcs02 holds none of its fields. */
void vmcs12_dirty_all(uint64_t *dirty);

unsigned vmcs12_dirty_count(const uint64_t *dirty);

/* L1's VMWRITE, emulated against vmcs12 (shadowing off, or a field not
 * shadowed): vmcs_write's width and read-only rules, and the field is
 * marked dirty when the write succeeds. */
enum vmcs_status vmcs12_vmwrite(struct vmcs *v12, uint64_t *dirty,
                                uint64_t encoding, uint64_t value,
                                bool exit_info_writable);

#endif
