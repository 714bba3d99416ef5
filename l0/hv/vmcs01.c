/* vmcs01: how L0 runs its guest (SDM Vol. 3C chapter 25 for the fields).
 * The guest starts in the state the multiboot spec promises: 32-bit
 * protected mode, flat segments, paging off. Paging off in VMX non-root
 * operation needs "unrestricted guest", which needs EPT. */
#include "cpu/cpu.h"
#include "hv/hv.h"
#include "vmx/caps.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"

/* Segment access rights in the VMCS format (SDM Vol. 3C 25.4.1). */
enum {
    AR_CODE32 = 0xC09B, /* execute/read, accessed, S, P, D/B, G */
    AR_DATA32 = 0xC093, /* read/write, accessed, S, P, D/B, G */
    AR_TSS32_BUSY = 0x008B,
    AR_UNUSABLE = 0x10000,
};

/* A control field: what L0 wants, with the bits the CPU insists on
 * (allowed-0) added; bits the CPU cannot do are dropped, and VM entry
 * would name them if L0 depended on one. */
static uint32_t control(enum vmx_controls which, uint32_t wanted)
{
    uint64_t cap = vmx_cap_controls(which);
    return (wanted | (uint32_t)cap) & (uint32_t)(cap >> 32);
}

static void set(struct vmcs *v, enum vmcs_index i, uint64_t value)
{
    vmcs_set(v, i, value);
}

void hv_vmcs01_setup(struct hv *h, uint32_t entry)
{
    struct vmcs *v = &h->vmcs01;
    vmcs_init(v, VMCS_REVISION_ID);

    /* Controls. Exits L0 takes: HLT (it advances time), all I/O (its
     * devices), IA32_FEATURE_CONTROL (it owns VMX), EPT violations
     * (MMIO). The local APIC is passed through: its interrupts reach the
     * guest through the guest's IDT without an exit. External-interrupt
     * exiting would make the guest see the exit's acknowledgment (the
     * vector leaving IRR while the guest has IF = 0), which a bare CPU
     * never shows; the handler for it stays in the table for L0s that
     * take interrupts. */
    set(v, VMCS_IDX_PIN_CONTROLS, control(VMX_CTL_PIN, 0));
    set(v, VMCS_IDX_PROC_CONTROLS,
        control(VMX_CTL_PROC, PROC_HLT_EXITING | PROC_UNCOND_IO_EXITING |
                                  PROC_USE_MSR_BITMAPS |
                                  PROC_SECONDARY_CONTROLS));
    set(v, VMCS_IDX_PROC_CONTROLS2,
        control(VMX_CTL_PROC2, PROC2_EPT | PROC2_VPID | PROC2_RDTSCP |
                                   PROC2_UNRESTRICTED_GUEST));
    set(v, VMCS_IDX_EXIT_CONTROLS,
        control(VMX_CTL_EXIT, EXIT_HOST_ADDR_SPACE_SIZE |
                                  EXIT_ACK_INTR_ON_EXIT | EXIT_SAVE_EFER |
                                  EXIT_LOAD_EFER | EXIT_SAVE_PAT |
                                  EXIT_LOAD_PAT));
    set(v, VMCS_IDX_ENTRY_CONTROLS,
        control(VMX_CTL_ENTRY, ENTRY_LOAD_EFER | ENTRY_LOAD_PAT));
    set(v, VMCS_IDX_VPID, 1);
    set(v, VMCS_IDX_EPT_POINTER, h->ept_root | 3 << 3 | 6); /* 4 levels, WB */
    set(v, VMCS_IDX_MSR_BITMAP, h->msr_bitmap);
    set(v, VMCS_IDX_LINK_POINTER, ~0ull);
    /* CR0.NE and CR4.VMXE are fixed to 1 in VMX operation (IA32_VMX_CR0/
     * CR4_FIXED0); the guest owns every other bit and reads its own
     * values of these two from the shadows. */
    set(v, VMCS_IDX_CR0_MASK, CR0_NE);
    set(v, VMCS_IDX_CR0_READ_SHADOW, 0);
    set(v, VMCS_IDX_CR4_MASK, CR4_VMXE);
    set(v, VMCS_IDX_CR4_READ_SHADOW, 0);

    /* Guest state: the multiboot entry (Multiboot 0.6.96 section 3.2). */
    static const enum vmcs_index data_sel[] = {
        VMCS_IDX_GUEST_ES_SELECTOR, VMCS_IDX_GUEST_SS_SELECTOR,
        VMCS_IDX_GUEST_DS_SELECTOR, VMCS_IDX_GUEST_FS_SELECTOR,
        VMCS_IDX_GUEST_GS_SELECTOR};
    static const enum vmcs_index data_ar[] = {
        VMCS_IDX_GUEST_ES_AR, VMCS_IDX_GUEST_SS_AR, VMCS_IDX_GUEST_DS_AR,
        VMCS_IDX_GUEST_FS_AR, VMCS_IDX_GUEST_GS_AR};
    static const enum vmcs_index data_limit[] = {
        VMCS_IDX_GUEST_ES_LIMIT, VMCS_IDX_GUEST_SS_LIMIT,
        VMCS_IDX_GUEST_DS_LIMIT, VMCS_IDX_GUEST_FS_LIMIT,
        VMCS_IDX_GUEST_GS_LIMIT};
    for (unsigned k = 0; k < 5; k++) {
        set(v, data_sel[k], 0x10);
        set(v, data_ar[k], AR_DATA32);
        set(v, data_limit[k], 0xFFFFFFFF);
    }
    set(v, VMCS_IDX_GUEST_CS_SELECTOR, 0x08);
    set(v, VMCS_IDX_GUEST_CS_LIMIT, 0xFFFFFFFF);
    set(v, VMCS_IDX_GUEST_CS_AR, AR_CODE32);
    set(v, VMCS_IDX_GUEST_LDTR_AR, AR_UNUSABLE);
    set(v, VMCS_IDX_GUEST_TR_LIMIT, 0xFFFF);
    set(v, VMCS_IDX_GUEST_TR_AR, AR_TSS32_BUSY);
    set(v, VMCS_IDX_GUEST_GDTR_LIMIT, 0xFFFF);
    set(v, VMCS_IDX_GUEST_IDTR_LIMIT, 0xFFFF);
    set(v, VMCS_IDX_GUEST_CR0, CR0_PE | CR0_ET | CR0_NE);
    set(v, VMCS_IDX_GUEST_CR4, CR4_VMXE);
    set(v, VMCS_IDX_GUEST_DR7, 0x400);
    set(v, VMCS_IDX_GUEST_RFLAGS, 0x2);
    set(v, VMCS_IDX_GUEST_RIP, entry);
    set(v, VMCS_IDX_GUEST_PAT, 0x0007040600070406ull);

    /* Host state: L0 is a 64-bit host. Nothing executes it (L0 is C
     * code), but VM exits load it as the architecture says. */
    set(v, VMCS_IDX_HOST_CR0, CR0_PE | CR0_NE | CR0_PG | CR0_ET | CR0_WP);
    set(v, VMCS_IDX_HOST_CR4, CR4_PAE | CR4_VMXE);
    set(v, VMCS_IDX_HOST_CS_SELECTOR, 0x08);
    set(v, VMCS_IDX_HOST_SS_SELECTOR, 0x10);
    set(v, VMCS_IDX_HOST_DS_SELECTOR, 0x10);
    set(v, VMCS_IDX_HOST_ES_SELECTOR, 0x10);
    set(v, VMCS_IDX_HOST_TR_SELECTOR, 0x18);
    set(v, VMCS_IDX_HOST_EFER, EFER_LMA | EFER_LME);
    set(v, VMCS_IDX_HOST_PAT, 0x0007040600070406ull);
}
