/* vmcs01: how L0 runs its guest (SDM Vol. 3C chapter 25 for the fields).
 * The guest starts in the state its boot protocol promises (multiboot or
 * Linux's 32-bit entry): 32-bit protected mode, flat segments, paging
 * off. Paging off in VMX non-root operation needs "unrestricted guest",
 * which needs EPT. */
#include "cpu/cpu.h"
#include "dev/lapic.h"
#include "hv/hv.h"
#include "vmx/caps.h"
#include "vmx/controls.h"
#include "vmx/guest_segments.h"
#include "vmx/vmcs.h"

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

void hv_vmcs01_setup(struct hv *h)
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
    /* The debug controls keep the guest's DR7 and IA32_DEBUGCTL across
     * exits, which reset them (SDM Vol. 3C 28.5.1); vmcs02 inherits
     * them through L0's exit controls and the merge's entry controls. */
    set(v, VMCS_IDX_EXIT_CONTROLS,
        control(VMX_CTL_EXIT, EXIT_HOST_ADDR_SPACE_SIZE |
                                  EXIT_ACK_INTR_ON_EXIT | EXIT_SAVE_EFER |
                                  EXIT_LOAD_EFER | EXIT_SAVE_PAT |
                                  EXIT_LOAD_PAT | EXIT_SAVE_DEBUG_CONTROLS));
    set(v, VMCS_IDX_ENTRY_CONTROLS,
        control(VMX_CTL_ENTRY, ENTRY_LOAD_EFER | ENTRY_LOAD_PAT |
                                   ENTRY_LOAD_DEBUG_CONTROLS));
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

    /* Guest state: the CPU as the boot loader left it (cpu_reset_boot),
     * so that L0's guest starts exactly where a bare run starts. CR0.NE
     * and CR4.VMXE are forced as above; the shadows hide them. */
    const struct cpu *c = h->c;
    for (unsigned s = 0; s < SEG_COUNT; s++) {
        const struct segment *seg = &c->seg[s];
        const struct vmcs_segment_fields *f = &vmcs_guest_segment[s];
        set(v, f->sel, seg->sel);
        set(v, f->base, seg->base);
        set(v, f->limit, seg->limit);
        set(v, f->ar, seg->attr);
    }
    set(v, VMCS_IDX_GUEST_GDTR_BASE, c->gdtr.base);
    set(v, VMCS_IDX_GUEST_GDTR_LIMIT, c->gdtr.limit);
    set(v, VMCS_IDX_GUEST_IDTR_BASE, c->idtr.base);
    set(v, VMCS_IDX_GUEST_IDTR_LIMIT, c->idtr.limit);
    set(v, VMCS_IDX_GUEST_CR0, c->cr0 | CR0_NE);
    set(v, VMCS_IDX_GUEST_CR3, c->cr3);
    set(v, VMCS_IDX_GUEST_CR4, c->cr4 | CR4_VMXE);
    set(v, VMCS_IDX_GUEST_DR7, c->dr[7]);
    set(v, VMCS_IDX_GUEST_RFLAGS, cpu_rflags(c));
    set(v, VMCS_IDX_GUEST_RIP, c->rip);
    set(v, VMCS_IDX_GUEST_EFER, c->efer);
    set(v, VMCS_IDX_GUEST_PAT, c->pat);

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

/* --l0-traps kvm: the vmcs01 controls of KVM 2.6.35 (arch/x86/kvm/vmx.c,
 * vmx_vcpu_setup and update_exception_bitmap, with EPT), so that a
 * single-level guest makes the exits Turtles' Figure 6 counts:
 * - CR0: every bit owned by L0 (mask ~0), KVM's mask while the guest's
 *   FPU is not loaded. KVM hands CR0.TS to the guest once it uses the
 *   FPU; L0 models no lazy FPU switching and keeps TS too, so MOV to CR0
 *   and CLTS exit whenever they change a bit.
 * - CR4: every bit but PVI, DE, PCE, OSFXSR, OSXMMEXCPT and (with EPT)
 *   PGE, KVM's guest-owned bits.
 * - External-interrupt exiting (with acknowledgment, vmcs01's exit
 *   controls): L0 holds the vector and injects it when the guest can
 *   take it, asking for an interrupt window otherwise (hv.c). As in
 *   l1vmm's interrupts=exit, the acknowledged vector sits in the APIC's
 *   ISR while L0 holds it, where KVM's emulated APIC keeps it in IRR.
 * - The exception bitmap (SDM Vol. 3C 25.6.3): #UD, #NM and #MC unless
 *   --l0-exception-bitmap says otherwise; L0 gives the exception back.
 * - EPT01 filled on demand, one 4 KiB page per EPT violation, as KVM
 *   maps guest memory when the guest first touches it.
 * - The MSR bitmap stays vmcs01's: KVM 2.6.35 too passed FS_BASE,
 *   GS_BASE and the SYSENTER MSRs through, so WRMSR of IA32_SYSENTER_CS
 *   does not exit; L0 cannot emulate every MSR on the guest's behalf
 *   (several live in vmcs01), so the other MSRs stay passed as well.
 * - "Virtualize APIC accesses" with the APIC-access page at the xAPIC's
 *   default base (KVM's flexpriority, with the page mapped at
 *   0xFEE00000 in guest-physical space): EPT01 maps that address to the
 *   machine's local APIC (handle_ept_violation), so every xAPIC MMIO
 *   access exits with reason 44 and L0 carries it out against the local
 *   APIC (handle_apic_access). A guest that moves its APIC with
 *   IA32_APIC_BASE reaches it without exits, as under KVM 2.6.35. */
int hv_use_kvm_traps(struct hv *h, uint32_t exception_bitmap)
{
    struct vmcs *v = &h->vmcs01;
    h->kvm_traps = true;
    set(v, VMCS_IDX_PIN_CONTROLS,
        control(VMX_CTL_PIN,
                (uint32_t)vmcs_get(v, VMCS_IDX_PIN_CONTROLS) |
                    PIN_EXT_INTR_EXITING));
    set(v, VMCS_IDX_CR0_MASK, ~0ull);
    set(v, VMCS_IDX_CR0_READ_SHADOW, h->c->cr0);
    set(v, VMCS_IDX_CR4_MASK,
        ~(uint64_t)(CR4_PVI | CR4_DE | CR4_PCE | CR4_OSFXSR |
                    CR4_OSXMMEXCPT | CR4_PGE));
    set(v, VMCS_IDX_CR4_READ_SHADOW,
        h->c->cr4 & vmcs_get(v, VMCS_IDX_CR4_MASK));
    set(v, VMCS_IDX_PROC_CONTROLS2,
        control(VMX_CTL_PROC2,
                (uint32_t)vmcs_get(v, VMCS_IDX_PROC_CONTROLS2) |
                    PROC2_VIRT_APIC_ACCESSES));
    set(v, VMCS_IDX_APIC_ACCESS_ADDR, LAPIC_DEFAULT_BASE);
    hv_set_exception_bitmap(h, exception_bitmap);
    return hv_ept_unmap_ram(h);
}

void hv_set_exception_bitmap(struct hv *h, uint32_t bitmap)
{
    set(&h->vmcs01, VMCS_IDX_EXCEPTION_BITMAP, bitmap);
}
