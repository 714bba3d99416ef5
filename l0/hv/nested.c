/* Nested VMX: what L1 sees of VMX, and running L2 for it. */
#include "hv/nested.h"

#include "machine.h"

#include "cpu/cpu.h"
#include "vmx/caps.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"

/* The capability MSRs L1 reads: the hardware's, without VMCS shadowing
 * (L0 does not shadow L1's own VMCS accesses for L2; Turtles does not
 * either), and IA32_FEATURE_CONTROL locked with VMX on outside SMX. */
bool nested_read_msr(struct hv *h, uint32_t msr, uint64_t *value)
{
    (void)h;
    if (msr == 0x3A) {
        *value = 0x5; /* lock, VMX outside SMX (SDM Vol. 3C 24.7) */
        return true;
    }
    if (!vmx_cap_read(msr, value))
        return false;
    if (msr == MSR_IA32_VMX_PROCBASED_CTLS2)
        *value &= ~((uint64_t)PROC2_VMCS_SHADOWING << 32);
    return true;
}

void nested_vmcs12_loaded(struct hv *h) { (void)h; }
void nested_after_exit(struct hv *h) { (void)h; }
void nested_field_written(struct hv *h, uint64_t encoding)
{
    (void)h;
    (void)encoding;
}
void nested_invalidate(struct hv *h, bool vpid)
{
    (void)h;
    (void)vpid;
}

enum hv_action nested_vmentry(struct hv *h, bool launch)
{
    (void)launch;
    machine_stop(h->m, STOP_INTERNAL, 0,
                 "L1 entered its guest: nested VM entry is not implemented yet");
    return HV_STOP;
}

/* ---- nested VM exit: L2 -> L1 --------------------------------------------- */

static uint64_t get12(struct hv *h, enum vmcs_index i)
{
    return vmcs_get(&h->l1.vmcs12, i);
}

static void set01(struct hv *h, enum vmcs_index i, uint64_t v)
{
    vmcs_set(&h->vmcs01, i, v);
}

/* L1's state after the exit, from vmcs12's host-state area, as a VM
 * exit loads it (SDM Vol. 3C 28.5), into vmcs01's guest-state area. */
static void load_l1_host_state(struct hv *h)
{
    enum { AR_CODE64 = 0xA09B, AR_CODE32 = 0xC09B, AR_DATA = 0xC093,
           AR_TSS_BUSY = 0x008B, AR_UNUSABLE = 0x10000 };
    static const struct {
        enum vmcs_index host_sel, sel, ar, limit, base;
    } data_segs[] = {
        {VMCS_IDX_HOST_ES_SELECTOR, VMCS_IDX_GUEST_ES_SELECTOR,
         VMCS_IDX_GUEST_ES_AR, VMCS_IDX_GUEST_ES_LIMIT, VMCS_IDX_GUEST_ES_BASE},
        {VMCS_IDX_HOST_SS_SELECTOR, VMCS_IDX_GUEST_SS_SELECTOR,
         VMCS_IDX_GUEST_SS_AR, VMCS_IDX_GUEST_SS_LIMIT, VMCS_IDX_GUEST_SS_BASE},
        {VMCS_IDX_HOST_DS_SELECTOR, VMCS_IDX_GUEST_DS_SELECTOR,
         VMCS_IDX_GUEST_DS_AR, VMCS_IDX_GUEST_DS_LIMIT, VMCS_IDX_GUEST_DS_BASE},
        {VMCS_IDX_HOST_FS_SELECTOR, VMCS_IDX_GUEST_FS_SELECTOR,
         VMCS_IDX_GUEST_FS_AR, VMCS_IDX_GUEST_FS_LIMIT, VMCS_IDX_GUEST_FS_BASE},
        {VMCS_IDX_HOST_GS_SELECTOR, VMCS_IDX_GUEST_GS_SELECTOR,
         VMCS_IDX_GUEST_GS_AR, VMCS_IDX_GUEST_GS_LIMIT, VMCS_IDX_GUEST_GS_BASE},
    };
    uint32_t exit_ctls = (uint32_t)get12(h, VMCS_IDX_EXIT_CONTROLS);
    bool host64 = exit_ctls & EXIT_HOST_ADDR_SPACE_SIZE;
    uint64_t cr0 = get12(h, VMCS_IDX_HOST_CR0), cr4 = get12(h, VMCS_IDX_HOST_CR4);
    /* L0 keeps CR0.NE and CR4.VMXE set; L1 reads its own values. */
    set01(h, VMCS_IDX_CR0_READ_SHADOW, cr0 & vmcs_get(&h->vmcs01, VMCS_IDX_CR0_MASK));
    set01(h, VMCS_IDX_CR4_READ_SHADOW, cr4 & vmcs_get(&h->vmcs01, VMCS_IDX_CR4_MASK));
    set01(h, VMCS_IDX_GUEST_CR0, cr0 | CR0_NE);
    set01(h, VMCS_IDX_GUEST_CR3, get12(h, VMCS_IDX_HOST_CR3));
    set01(h, VMCS_IDX_GUEST_CR4, cr4 | CR4_VMXE);
    set01(h, VMCS_IDX_GUEST_DR7, 0x400);
    set01(h, VMCS_IDX_GUEST_RSP, get12(h, VMCS_IDX_HOST_RSP));
    set01(h, VMCS_IDX_GUEST_RIP, get12(h, VMCS_IDX_HOST_RIP));
    set01(h, VMCS_IDX_GUEST_RFLAGS, 0x2);
    set01(h, VMCS_IDX_GUEST_SYSENTER_CS, get12(h, VMCS_IDX_HOST_SYSENTER_CS));
    set01(h, VMCS_IDX_GUEST_SYSENTER_ESP, get12(h, VMCS_IDX_HOST_SYSENTER_ESP));
    set01(h, VMCS_IDX_GUEST_SYSENTER_EIP, get12(h, VMCS_IDX_HOST_SYSENTER_EIP));
    uint64_t efer = vmcs_get(&h->vmcs01, VMCS_IDX_GUEST_EFER);
    if (exit_ctls & EXIT_LOAD_EFER)
        efer = get12(h, VMCS_IDX_HOST_EFER);
    else
        efer = (efer & ~(EFER_LMA | EFER_LME)) |
               (host64 ? EFER_LMA | EFER_LME : 0);
    set01(h, VMCS_IDX_GUEST_EFER, efer);
    if (exit_ctls & EXIT_LOAD_PAT)
        set01(h, VMCS_IDX_GUEST_PAT, get12(h, VMCS_IDX_HOST_PAT));
    set01(h, VMCS_IDX_GUEST_CS_SELECTOR, get12(h, VMCS_IDX_HOST_CS_SELECTOR));
    set01(h, VMCS_IDX_GUEST_CS_BASE, 0);
    set01(h, VMCS_IDX_GUEST_CS_LIMIT, 0xFFFFFFFF);
    set01(h, VMCS_IDX_GUEST_CS_AR, host64 ? AR_CODE64 : AR_CODE32);
    for (size_t k = 0; k < sizeof data_segs / sizeof *data_segs; k++) {
        uint64_t sel = get12(h, data_segs[k].host_sel);
        set01(h, data_segs[k].sel, sel);
        set01(h, data_segs[k].ar, (sel & 0xFFFC) ? AR_DATA : AR_UNUSABLE);
        set01(h, data_segs[k].limit, 0xFFFFFFFF);
        set01(h, data_segs[k].base, 0);
    }
    set01(h, VMCS_IDX_GUEST_FS_BASE, get12(h, VMCS_IDX_HOST_FS_BASE));
    set01(h, VMCS_IDX_GUEST_GS_BASE, get12(h, VMCS_IDX_HOST_GS_BASE));
    set01(h, VMCS_IDX_GUEST_TR_SELECTOR, get12(h, VMCS_IDX_HOST_TR_SELECTOR));
    set01(h, VMCS_IDX_GUEST_TR_BASE, get12(h, VMCS_IDX_HOST_TR_BASE));
    set01(h, VMCS_IDX_GUEST_TR_LIMIT, 0x67);
    set01(h, VMCS_IDX_GUEST_TR_AR, AR_TSS_BUSY);
    set01(h, VMCS_IDX_GUEST_LDTR_SELECTOR, 0);
    set01(h, VMCS_IDX_GUEST_LDTR_AR, AR_UNUSABLE);
    set01(h, VMCS_IDX_GUEST_GDTR_BASE, get12(h, VMCS_IDX_HOST_GDTR_BASE));
    set01(h, VMCS_IDX_GUEST_GDTR_LIMIT, 0xFFFF);
    set01(h, VMCS_IDX_GUEST_IDTR_BASE, get12(h, VMCS_IDX_HOST_IDTR_BASE));
    set01(h, VMCS_IDX_GUEST_IDTR_LIMIT, 0xFFFF);
    set01(h, VMCS_IDX_GUEST_INTERRUPTIBILITY, 0);
    set01(h, VMCS_IDX_GUEST_ACTIVITY_STATE, 0);
    set01(h, VMCS_IDX_GUEST_PENDING_DBG, 0);
}

void nested_vmexit(struct hv *h, const struct nested_exit *e)
{
    struct vmcs *v12 = &h->l1.vmcs12, *v02 = &h->vmcs02;
    /* L2's state and the hardware's exit information, field by field. */
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++) {
        enum vmcs_type t = vmcs_encoding_type(vmcs_field_at(i)->encoding);
        if (t == VMCS_TYPE_GUEST || t == VMCS_TYPE_EXIT_INFO)
            vmcs_set(v12, (enum vmcs_index)i, vmcs_get(v02, (enum vmcs_index)i));
    }
    /* What L0 decided L1 sees, where it differs from the hardware exit
     * (an EPT violation of EPT12 found while filling EPT02). */
    if (e) {
        vmcs_set(v12, VMCS_IDX_EXIT_REASON, e->reason);
        vmcs_set(v12, VMCS_IDX_EXIT_QUALIFICATION, e->qualification);
        vmcs_set(v12, VMCS_IDX_GUEST_PHYSICAL_ADDR, e->guest_physical);
    }
    vmcs_set(v12, VMCS_IDX_ENTRY_INTR_INFO,
             get12(h, VMCS_IDX_ENTRY_INTR_INFO) & ~(1ull << 31));
    load_l1_host_state(h);
    h->cur = &h->vmcs01;
    nested_after_exit(h);
}
