/* The vmcs02 merge (Turtles, OSDI 2010, sec. 3.2 and 3.5.1; KVM's
 * prepare_vmcs02): at each nested VM entry L0 builds the VMCS it really
 * runs L2 with from vmcs12 (what L1 asked for), vmcs01 (L1's own state and
 * L0's host area) and L0's choices.
 *
 * Every field of vmcs02 follows one rule, listed in merge.c:
 * - copied from vmcs12: guest state, CR3 targets, event injection, ...;
 *   with a dirty set only the fields L1 wrote since the last entry;
 * - host state: vmcs01's host area (a VM exit from L2 goes to L0);
 * - computed by L0 at every entry, dirty or not: the controls, exception
 *   bitmap with #PF mask/match, CR masks and read shadows, EPT pointer,
 *   VPID, I/O and MSR bitmaps, TSC offset, link pointer, MSR-list counts,
 *   and the guest EFER/PAT/debug state L1 did not ask VM entry to load;
 * - left alone: VM-exit information, and controls of features L0 does
 *   not pass to L2 (their addresses are L1's and mean nothing to the CPU).
 * The caller creates vmcs02 once with vmcs_init and merges into it at
 * every entry. */
#ifndef VMCS_SHADOW_MERGE_H
#define VMCS_SHADOW_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/vmcs.h"

/* L0's choices for vmcs02. Addresses are host-physical. */
struct merge_params {
    uint64_t ept02_pointer; /* EPT pointer of EPT02 (ept-compress/) */
    uint16_t vpid02;        /* VPID of L2 under L0; 0 turns VPIDs off */

    /* What L0 needs while L2 runs, whatever L1 asked for: exits it must
     * see (OR-ed into L1's, see merge.c for the bits it cannot give). */
    uint32_t l0_pin, l0_proc, l0_proc2;
    uint32_t l0_exception_bitmap; /* with #PF: L0 wants every #PF */
    uint64_t l0_cr0_mask, l0_cr4_mask;
    /* Exit controls: exits from L2 go to L0, so vmcs01's (host address
     * space, host EFER/PAT, saving guest state L0 gives back to L1). */
    uint32_t l0_exit_controls;

    /* L0's combined bitmaps (merge_bitmap_or of L0's and L1's, or all
     * ones where L1 exits unconditionally). Without I/O bitmaps every
     * I/O exits ("unconditional I/O exiting"); without an MSR bitmap
     * every RDMSR/WRMSR exits (SDM Vol. 3C 26.1.3). */
    bool use_io_bitmaps;
    uint64_t io_bitmap_a, io_bitmap_b;
    bool use_msr_bitmap;
    uint64_t msr_bitmap;
};

/* What one merge wrote into vmcs02, for the cost model: fields copied
 * from vmcs12 (all of them with a full merge, the dirty ones with a dirty
 * merge), and fields L0 computed or took from vmcs01 (every merge). */
struct merge_count {
    unsigned copied;
    unsigned computed;
};

/* v01 holds L1's guest state as of the exit of its VMLAUNCH/VMRESUME and
 * L0's host area; dirty is vmcs12.h's set, NULL for a full merge. */
struct merge_count vmcs02_merge(struct vmcs *v02, const struct vmcs *v01,
                                const struct vmcs *v12,
                                const struct merge_params *p,
                                const uint64_t *dirty);

/* dst |= src over n bytes: a combined I/O or MSR bitmap exits where
 * either level's does. */
void merge_bitmap_or(uint8_t *dst, const uint8_t *src, unsigned n);

#endif
