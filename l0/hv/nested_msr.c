/* L1's MSR lists: the VM-entry MSR-load list (SDM Vol. 3C 27.4), the
 * VM-exit MSR-store list (28.4) and the VM-exit MSR-load list (28.6).
 * They live in L1's memory and vmcs02 has none (vmcs-shadow/merge.c):
 * L0 processes them itself around each nested entry and exit, as the
 * processor L1 believes it has would.
 *
 * That processor's MSRs are in three places. Those VM entry and exit
 * switch (EFER, PAT, SYSENTER_*, FS/GS base) are in the guest-state
 * area of the VMCS its software runs under: vmcs02 for L2, vmcs01 for
 * L1. Those VMX virtualizes for L1 (IA32_FEATURE_CONTROL, the VMX
 * capabilities) are L0's answers. Every other MSR is the CPU's own,
 * which L1 and L2 share as they would on hardware: that sharing is why
 * L1 uses the lists. */
#include "hv/nested.h"

#include <stdio.h>

#include "machine.h"

#include "cpu/cpu.h"
#include "cpu/msr.h"
#include "hv/guest_mem.h"
#include "vmx/caps.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"

/* One entry of an MSR list (SDM Vol. 3C 25.7.2, Table 25-15). */
struct msr_entry {
    uint32_t index;
    uint32_t reserved; /* must be 0 */
    uint64_t data;
};

enum {
    MSR_SMM_MONITOR_CTL = 0x9B, /* writable only in SMM */
    MSR_SMBASE = 0x9E,          /* readable only in SMM */
};

/* VMX-abort indicators (SDM Vol. 3C 28.7). */
enum {
    VMX_ABORT_SAVING_MSRS = 1,
    VMX_ABORT_LOADING_MSRS = 4,
};

static const struct {
    uint32_t msr;
    enum vmcs_index field;
} in_vmcs[] = {
    {0x174, VMCS_IDX_GUEST_SYSENTER_CS},
    {0x175, VMCS_IDX_GUEST_SYSENTER_ESP},
    {0x176, VMCS_IDX_GUEST_SYSENTER_EIP},
    {0x277, VMCS_IDX_GUEST_PAT},
    {MSR_EFER, VMCS_IDX_GUEST_EFER},
    {MSR_FS_BASE, VMCS_IDX_GUEST_FS_BASE},
    {MSR_GS_BASE, VMCS_IDX_GUEST_GS_BASE},
};

static int vmcs_field_of(uint32_t msr)
{
    for (size_t k = 0; k < sizeof in_vmcs / sizeof *in_vmcs; k++)
        if (in_vmcs[k].msr == msr)
            return (int)in_vmcs[k].field;
    return -1;
}

/* IA32_TSC as L1 reads it: L0's TSC plus vmcs01's offset, if any. The
 * lists see L1's TSC even for L2 (the processor is leaving or not yet in
 * non-root operation; KVM stores L1's TSC too). */
static uint64_t l1_tsc_offset(struct hv *h)
{
    const struct vmcs *v = &h->vmcs01;
    return (vmcs_get(v, VMCS_IDX_PROC_CONTROLS) & PROC_TSC_OFFSETTING)
               ? vmcs_get(v, VMCS_IDX_TSC_OFFSET)
               : 0;
}

/* RDMSR at CPL 0 on the processor L1 sees, for software running under
 * `v`; false where it would raise #GP. */
static bool vcpu_read(struct hv *h, struct vmcs *v, uint32_t msr,
                      uint64_t *value)
{
    int f = vmcs_field_of(msr);
    if (nested_read_msr(h, msr, value))
        return true;
    if (f >= 0) {
        *value = vmcs_get(v, (enum vmcs_index)f);
        return true;
    }
    if (!msr_get(h->c, msr, value))
        return false;
    if (msr == MSR_TSC)
        *value += l1_tsc_offset(h);
    return true;
}

/* WRMSR at CPL 0 on that processor; false where it would raise #GP. */
static bool vcpu_write(struct hv *h, struct vmcs *v, uint32_t msr,
                       uint64_t value)
{
    uint64_t old;
    int f = vmcs_field_of(msr);
    if (nested_read_msr(h, msr, &old))
        return false; /* IA32_FEATURE_CONTROL is locked, the rest read-only */
    if (f >= 0) {
        old = vmcs_get(v, (enum vmcs_index)f);
        if (!msr_check_write(msr, old, vmcs_get(v, VMCS_IDX_GUEST_CR0), &value))
            return false;
        vmcs_set(v, (enum vmcs_index)f, value);
        return true;
    }
    if (msr == MSR_TSC)
        value -= l1_tsc_offset(h);
    return msr_set(h->c, msr, value);
}

/* MSRs no list may name: the x2APIC registers (bits 31:8 = 000008H),
 * the SMM-only ones, and for loads FS/GS base (SDM 27.4, 28.4, 28.6). */
static bool refused(uint32_t msr, bool store)
{
    if ((msr >> 8) == 0x8)
        return true;
    return store ? msr == MSR_SMBASE
                 : msr == MSR_FS_BASE || msr == MSR_GS_BASE ||
                       msr == MSR_SMM_MONITOR_CTL;
}

static void charge_entries(struct hv *h, uint32_t entries)
{
    *hv_counter(h, &h->counters.msr_list_entries, "msr_list_entries") +=
        entries;
    hv_charge(h, NESTED_L0, (uint64_t)entries * h->cost->msr_list_entry);
}

/* Loads a list into the processor for software under `v` (27.4, 28.6),
 * or stores that processor's MSRs in it (28.4). Returns 0, or the number
 * (from 1) of the entry that failed, which is left in *e; the entries
 * before it stay done. Entries beyond IA32_VMX_MISC's recommended
 * maximum fail, as in KVM: the SDM leaves them undefined. Memory outside
 * L1's RAM reads as all ones, whose reserved bits fail the entry. */
static uint32_t process_list(struct hv *h, struct vmcs *v, uint64_t area,
                             uint32_t count, bool store, struct msr_entry *e)
{
    uint32_t k = 0;
    for (; k < count; k++) {
        uint64_t at = area + 16ull * k;
        *e = (struct msr_entry){0, 0, 0};
        if (k >= VMX_MISC_MAX_MSR_LIST ||
            !gmem_read_phys(h, at, e, sizeof *e) || e->reserved ||
            refused(e->index, store) ||
            !(store ? vcpu_read(h, v, e->index, &e->data)
                    : vcpu_write(h, v, e->index, e->data)))
            break;
        if (store)
            gmem_write_phys(h, at + 8, &e->data, sizeof e->data);
    }
    charge_entries(h, k < count ? k + 1 : count);
    return k < count ? k + 1 : 0;
}

static uint64_t get12(struct hv *h, enum vmcs_index i)
{
    return vmcs_get(&h->l1.vmcs12, i);
}

uint32_t nested_msr_entry_load(struct hv *h)
{
    struct msr_entry failed;
    return process_list(h, &h->vmcs02,
                        get12(h, VMCS_IDX_ENTRY_MSR_LOAD_ADDR),
                        (uint32_t)get12(h, VMCS_IDX_ENTRY_MSR_LOAD_COUNT),
                        false, &failed);
}

/* A VMX abort (28.7): the indicator goes to offset 4 of the VMCS region
 * and L1's processor shuts down, which ends the run. */
static bool vmx_abort(struct hv *h, uint32_t indicator, const char *list,
                      uint32_t entry, const struct msr_entry *e)
{
    gmem_write_phys(h, h->l1.current + 4, &indicator, sizeof indicator);
    machine_stop(h->m, STOP_TRIPLE_FAULT, 0,
                 "VMX abort %u in a VM exit to L1: entry %u of the VM-exit "
                 "%s list (index %#x, reserved %#x) fails (SDM Vol. 3C "
                 "28.4/28.6); L1's processor shuts down (28.7)",
                 indicator, entry, list, e->index, e->reserved);
    return false;
}

bool nested_msr_exit(struct hv *h, bool entry_failure)
{
    struct msr_entry failed;
    /* A VM-entry failure saves no guest state, so no MSRs (27.8). */
    uint32_t bad = entry_failure
                       ? 0
                       : process_list(h, &h->vmcs02,
                                      get12(h, VMCS_IDX_EXIT_MSR_STORE_ADDR),
                                      (uint32_t)get12(h, VMCS_IDX_EXIT_MSR_STORE_COUNT),
                                      true, &failed);
    if (bad)
        return vmx_abort(h, VMX_ABORT_SAVING_MSRS, "MSR-store", bad, &failed);
    bad = process_list(h, &h->vmcs01, get12(h, VMCS_IDX_EXIT_MSR_LOAD_ADDR),
                       (uint32_t)get12(h, VMCS_IDX_EXIT_MSR_LOAD_COUNT),
                       false, &failed);
    if (bad)
        return vmx_abort(h, VMX_ABORT_LOADING_MSRS, "MSR-load", bad, &failed);
    return true;
}
