/* VM exits: one dispatch table by basic exit reason (SDM Vol. 3D
 * Appendix C). A reason without a handler stops L2 with a report. */
#include "cpu.h"
#include "l1vmm.h"

#define APIC_BASE_ENABLE (1ull << 11)

static char why[160]; /* the message of the exit that stops L2 */

void l2_end(int status, const char *reason)
{
    io_flush();
    if (reason)
        rt_printf("l1vmm: %s (L2 rip %#lx)\n", reason, exit_rip());
    l2.done = 1;
    l2.status = status;
}

static uint64_t gpr_read(unsigned n)
{
    return n == GPR_RSP ? vmread(GUEST_RSP) : l2.regs.gpr[n];
}

static void gpr_write(unsigned n, uint64_t v)
{
    if (n == GPR_RSP)
        vmwrite(GUEST_RSP, v);
    else
        l2.regs.gpr[n] = v;
}

/* Events: an exception raised while the CPU was delivering another one
 * combines with it as SDM Vol. 3A 7.15 (Table 7-5) says. */
static int contributory(unsigned v)
{
    return v == 0 || (v >= 10 && v <= 13);
}

static void inject(uint32_t info, uint32_t error, uint32_t length)
{
    vmwrite(ENTRY_INTERRUPTION_INFO, info & ~(1u << 12));
    if (info & INTR_HAS_ERROR)
        vmwrite(ENTRY_EXCEPTION_ERROR, error);
    if (INTR_TYPE(info) >= INTR_SW_INTERRUPT)
        vmwrite(ENTRY_INSTRUCTION_LENGTH, length);
    l2.injected = 1;
}

void inject_exception(unsigned vector, int has_error, uint32_t error)
{
    uint32_t prev = l2.vectoring_info;
    if ((prev & INTR_VALID) && INTR_TYPE(prev) == INTR_HW_EXCEPTION) {
        unsigned pv = INTR_VECTOR(prev);
        if (pv == VEC_DF) {
            l2_end(RT_EXIT_EXCEPTION, "L2 triple fault (a fault while "
                                      "delivering #DF)");
            return;
        }
        if ((contributory(pv) && contributory(vector)) ||
            (pv == VEC_PF && (vector == VEC_PF || contributory(vector)))) {
            vector = VEC_DF;
            has_error = 1;
            error = 0;
        }
    }
    inject(INTR_VALID | INTR_HW_EXCEPTION << 8 | vector |
               (has_error ? INTR_HAS_ERROR : 0),
           error, 0);
}

static void gp0(void) { inject_exception(VEC_GP, 1, 0); }

/* --- control registers (SDM Vol. 3C Table 28-3) --- */

/* What L2 reads: masked bits from l1vmm's copy, the rest from the CPU. */
static uint64_t visible_cr0(void)
{
    return (vmread(GUEST_CR0) & ~l2.cr0_mask) | (l2.cr0 & l2.cr0_mask);
}

static uint64_t visible_cr4(void)
{
    return (vmread(GUEST_CR4) & ~l2.cr4_mask) | (l2.cr4 & l2.cr4_mask);
}

/* EFER as L2 reads it: under shadow paging the CPU's LME/LMA follow
 * L2's paging, not L2's writes. */
static uint64_t efer_visible(void)
{
    if (l2.paging == PAGING_EPT)
        return vmread(GUEST_IA32_EFER);
    int lma = (l2.cr0 & CR0_PG) && (l2.efer & EFER_LME);
    return l2.efer | (lma ? EFER_LMA : 0);
}

struct l2_paging l2_paging_now(void)
{
    uint64_t cr3 = l2.paging == PAGING_EPT ? vmread(GUEST_CR3) : l2.cr3;
    return (struct l2_paging){visible_cr0(), cr3, visible_cr4(),
                              efer_visible()};
}

/* MOV to CR0, CLTS and LMSW: the #GP checks of SDM Vol. 3A 2.5 and the
 * MOV CR instruction page, then the new value. Paging cannot be turned
 * off in 64-bit mode (IA-32e mode is left from compatibility mode). */
static void set_cr0(uint64_t v)
{
    int code64 = (efer_visible() & EFER_LMA) &&
                 (vmread(GUEST_SEG_ACCESS(SEG_CS)) & SEG_ACCESS_L);
    if ((v >> 32) || ((v & CR0_PG) && !(v & CR0_PE)) ||
        ((v & CR0_NW) && !(v & CR0_CD)) ||
        ((v & CR0_PG) && (efer_visible() & EFER_LME) &&
         !(visible_cr4() & CR4_PAE)) ||
        (!(v & CR0_PG) && (visible_cr0() & CR0_PG) && code64)) {
        gp0();
        return;
    }
    uint64_t old = l2.cr0;
    vmcs_set_cr0(v);
    if (l2.paging == PAGING_SHADOW && ((old ^ v) & l2.cr0_mask))
        shadow_mode_changed();
    /* Paging turned on with EFER.LME activates IA-32e mode, off leaves
     * it (SDM Vol. 3A 10.8.5): what the CPU would have done had the
     * write not exited. EPT only: shadow paging keeps LMA itself. */
    if (l2.paging == PAGING_EPT && ((old ^ v) & CR0_PG)) {
        uint64_t efer = vmread(GUEST_IA32_EFER);
        int lma = (v & CR0_PG) && (efer & EFER_LME);
        vmwrite(GUEST_IA32_EFER, lma ? efer | EFER_LMA : efer & ~EFER_LMA);
        vmcs_set_long_mode(lma);
    }
    skip_instruction();
}

static void set_cr4(uint64_t v)
{
    /* Bits the CPU cannot set in VMX operation are reserved for L2, and
     * so is VMXE: L2 sees no VMX. Shadow paging has no PCIDs. */
    uint64_t reserved = ~caps.cr4_fixed1 | CR4_VMXE |
                        (l2.paging == PAGING_SHADOW ? CR4_PCIDE : 0);
    uint64_t lma = l2.paging == PAGING_SHADOW
                       ? (l2.cr0 & CR0_PG) && (l2.efer & EFER_LME)
                       : !!(vmread(GUEST_IA32_EFER) & EFER_LMA);
    if ((v & reserved) || (lma && !(v & CR4_PAE))) {
        gp0();
        return;
    }
    uint64_t old = l2.cr4;
    vmcs_set_cr4(v);
    if (l2.paging == PAGING_SHADOW && ((old ^ v) & l2.cr4_mask))
        shadow_mode_changed();
    skip_instruction();
}

/* In IA-32e mode, CR3 bits 62:MAXPHYADDR are reserved, and bit 63 too
 * without PCIDs (SDM Vol. 2B "MOV to CR": #GP(0)). */
static void set_cr3(uint64_t v)
{
    uint64_t reserved = ~((1ull << caps.maxphyaddr) - 1);
    if (visible_cr4() & CR4_PCIDE)
        reserved &= ~(1ull << 63);
    if ((efer_visible() & EFER_LMA) && (v & reserved)) {
        gp0();
        return;
    }
    l2.cr3 = v;
    if (l2.paging == PAGING_SHADOW)
        shadow_set_cr3(); /* the cached shadow of that address space */
    else
        vmwrite(GUEST_CR3, v); /* CR3-load exiting forced by the CPU */
    skip_instruction();
}

static void on_cr_access(void)
{
    uint64_t q = vmread(EXIT_QUALIFICATION);
    unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
    switch (type) {
    case 0: /* MOV to CR */
        if (cr == 0)
            set_cr0(gpr_read(reg));
        else if (cr == 3)
            set_cr3(gpr_read(reg));
        else if (cr == 4)
            set_cr4(gpr_read(reg));
        else
            skip_instruction(); /* CR8: no TPR is virtualized */
        return;
    case 1: /* MOV from CR: CR3 or CR8 */
        gpr_write(reg, cr == 3 ? (l2.paging == PAGING_SHADOW
                                      ? l2.cr3
                                      : vmread(GUEST_CR3))
                               : 0);
        skip_instruction();
        return;
    case 2: /* CLTS */
        set_cr0(visible_cr0() & ~CR0_TS);
        return;
    default: { /* LMSW: bits 3:0, and it cannot clear PE */
        uint64_t cr0 = visible_cr0();
        set_cr0((cr0 & ~0xEull) | ((q >> 16) & 0xF) | (cr0 & CR0_PE));
        return;
    }
    }
}

/* --- MSRs --- */

enum msr_kind { MSR_VMCS, MSR_HARDWARE, MSR_EFER_, MSR_READ_ONLY, MSR_TSC };

/* MSRs L2 may use; any other RDMSR/WRMSR raises #GP. L2's syscall MSRs
 * go to the CPU directly: l1vmm never uses SYSCALL or SWAPGS, so they
 * need no switching (a simplification). */
static const struct {
    uint32_t msr;
    enum msr_kind kind;
    uint32_t field;
    int canonical; /* a write must be a canonical address */
} msrs[] = {
    {0x10, MSR_TSC, 0, 0},
    {MSR_APIC_BASE, MSR_HARDWARE, 0, 0}, /* the APIC is passed through */
    {MSR_FEATURE_CONTROL, MSR_READ_ONLY, 0, 0},
    {0x8B, MSR_HARDWARE, 0, 0},          /* IA32_BIOS_SIGN_ID */
    {0x1A0, MSR_HARDWARE, 0, 0},         /* IA32_MISC_ENABLE */
    {0xC0000103, MSR_HARDWARE, 0, 0},    /* IA32_TSC_AUX, for RDTSCP */
    {0x174, MSR_VMCS, GUEST_SYSENTER_CS, 0},
    {0x175, MSR_VMCS, GUEST_SYSENTER_ESP, 1},
    {0x176, MSR_VMCS, GUEST_SYSENTER_EIP, 1},
    {0x1D9, MSR_VMCS, GUEST_IA32_DEBUGCTL, 0},
    {0x277, MSR_VMCS, GUEST_IA32_PAT, 0},
    {MSR_EFER, MSR_EFER_, 0, 0},
    {MSR_STAR, MSR_HARDWARE, 0, 0},
    {MSR_LSTAR, MSR_HARDWARE, 0, 1},
    {0xC0000083, MSR_HARDWARE, 0, 1}, /* CSTAR */
    {MSR_FMASK, MSR_HARDWARE, 0, 0},
    {MSR_FS_BASE, MSR_VMCS, GUEST_ES_BASE + 2 * SEG_FS, 1},
    {MSR_GS_BASE, MSR_VMCS, GUEST_ES_BASE + 2 * SEG_GS, 1},
    {MSR_KERNEL_GS_BASE, MSR_HARDWARE, 0, 1},
};

static int find_msr(uint32_t msr)
{
    for (unsigned i = 0; i < sizeof msrs / sizeof msrs[0]; i++)
        if (msrs[i].msr == msr &&
            (msr != 0x277 || (caps.entry & ENTRY_LOAD_PAT)))
            return (int)i;
    return -1;
}

static int canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static void on_rdmsr(void)
{
    uint32_t msr = (uint32_t)l2.regs.gpr[GPR_RCX];
    int i = find_msr(msr);
    uint64_t v = 0;
    if (i < 0) {
        gp0();
        return;
    }
    switch (msrs[i].kind) {
    case MSR_VMCS: v = vmread(msrs[i].field); break;
    case MSR_HARDWARE: v = rdmsr(msr); break;
    case MSR_EFER_: v = efer_visible(); break;
    case MSR_READ_ONLY: v = FEATURE_CONTROL_LOCK; break; /* VMX off */
    case MSR_TSC: v = rdtsc(); break;
    }
    l2.regs.gpr[GPR_RAX] = (uint32_t)v;
    l2.regs.gpr[GPR_RDX] = v >> 32;
    skip_instruction();
}

/* EFER: SCE, LME and NXE are writable, LMA is the CPU's (SDM Vol. 3A
 * 2.2.1); LME cannot change while paging is on. */
static void write_efer(uint64_t v)
{
    uint64_t cur = efer_visible();
    int paging = !!(visible_cr0() & CR0_PG);
    if ((v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) ||
        (paging && ((v ^ cur) & EFER_LME))) {
        gp0();
        return;
    }
    v = (v & ~EFER_LMA) | (cur & EFER_LMA);
    if (l2.paging == PAGING_EPT) {
        vmwrite(GUEST_IA32_EFER, v);
    } else {
        l2.efer = v & ~EFER_LMA;
        shadow_mode_changed();
    }
    skip_instruction();
}

/* IA32_PAT: eight memory types, each one of 0, 1, 4, 5, 6, 7 (SDM Vol. 3A
 * 13.12.2); VM entry checks the same (Vol. 3C 27.3.1.1). */
static int valid_pat(uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        unsigned t = (v >> (8 * i)) & 0xFF;
        if (t == 2 || t == 3 || t > 7)
            return 0;
    }
    return 1;
}

static void on_wrmsr(void)
{
    uint32_t msr = (uint32_t)l2.regs.gpr[GPR_RCX];
    uint64_t v = (uint32_t)l2.regs.gpr[GPR_RAX] |
                 l2.regs.gpr[GPR_RDX] << 32;
    int i = find_msr(msr);
    if (i < 0 || (msrs[i].canonical && !canonical(v)) ||
        msrs[i].kind == MSR_READ_ONLY || (msr == 0x277 && !valid_pat(v))) {
        gp0();
        return;
    }
    switch (msrs[i].kind) {
    case MSR_VMCS: vmwrite(msrs[i].field, v); break;
    case MSR_HARDWARE:
        wrmsr(msr, v);
        if (msr == MSR_APIC_BASE)
            cpuid_table_apic_enabled(!!(v & APIC_BASE_ENABLE));
        break;
    case MSR_EFER_: write_efer(v); return;
    default: break; /* the TSC is not virtualized: writes are dropped */
    }
    skip_instruction();
}

/* --- CPUID: from the table of cpuid.c --- */

static void on_cpuid(void)
{
    uint32_t leaf = (uint32_t)l2.regs.gpr[GPR_RAX];
    uint32_t sub = (uint32_t)l2.regs.gpr[GPR_RCX];
    if (!stats_cpuid(leaf, sub, &l2.regs)) {
        /* L2's CR4 matters to leaves 1 and 7 only (OSXSAVE, OSPKE). */
        uint64_t cr4 = leaf == 1 || leaf == 7 ? visible_cr4() : 0;
        struct cpuid_regs c = cpuid_table_lookup(leaf, sub, cr4);
        l2.regs.gpr[GPR_RAX] = c.eax;
        l2.regs.gpr[GPR_RBX] = c.ebx;
        l2.regs.gpr[GPR_RCX] = c.ecx;
        l2.regs.gpr[GPR_RDX] = c.edx;
    }
    skip_instruction();
}

/* --- XSETBV --- */

/* XSETBV always exits (SDM Vol. 3C 26.1.2), after the CPU's own #UD
 * (CR4.OSXSAVE) and CPL checks. The machine has one XCR0 and l1vmm uses
 * no state XSAVE manages, so l1vmm sets L2's value itself (enabling
 * CR4.OSXSAVE for its own XSETBV), after the checks of the instruction
 * page: XCR0 only, x87 always on, AVX only with SSE, nothing CPUID leaf
 * 0xD does not offer; anything else is #GP(0) for L2. */
static void on_xsetbv(void)
{
    uint32_t index = (uint32_t)l2.regs.gpr[GPR_RCX];
    uint64_t v = (l2.regs.gpr[GPR_RDX] << 32) | (uint32_t)l2.regs.gpr[GPR_RAX];
    struct cpuid_regs d = cpuid(0xD, 0);
    uint64_t supported = (uint64_t)d.edx << 32 | d.eax;
    if (index != 0 || !(v & 1) || (v & ~supported) || ((v & 4) && !(v & 2))) {
        gp0();
        return;
    }
    if (!(read_cr4() & CR4_OSXSAVE))
        write_cr4(read_cr4() | CR4_OSXSAVE);
    __asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)v),
                     "d"((uint32_t)(v >> 32)) : "memory");
    cpuid_table_xcr0_changed();
    skip_instruction();
}

/* --- the rest --- */

static void on_exception(void)
{
    uint32_t info = exit_interruption_info();
    if (INTR_TYPE(info) == INTR_NMI)
        return; /* an NMI for l1vmm, taken by the exit: nothing to do */
    uint32_t error = info & INTR_HAS_ERROR ? vmread(EXIT_INTERRUPTION_ERROR)
                                           : 0;
    if (INTR_VECTOR(info) == VEC_PF && l2.paging == PAGING_SHADOW) {
        shadow_page_fault(vmread(EXIT_QUALIFICATION), error);
        return;
    }
    /* Intercepted (exception-bitmap=) but not l1vmm's business: given
     * back to L2. A hardware exception raised while another event was
     * being delivered combines with it (inject_exception); INT3 and
     * INTO go back with their instruction length. */
    if (INTR_TYPE(info) == INTR_HW_EXCEPTION)
        inject_exception(INTR_VECTOR(info), !!(info & INTR_HAS_ERROR), error);
    else
        inject(info, error, exit_instruction_length());
}

/* With interrupts=exit the vector is held for L2 (irq.c). Otherwise
 * only if the CPU forces external-interrupt exiting (l1vmm leaves it off
 * so that APIC interrupts go to L2): l1vmm runs with interrupts off and
 * takes none, so it masks the PICs again and resumes. */
static void on_external_interrupt(void)
{
    if (irq_forwarding)
        irq_on_external_interrupt();
    else
        rt_mask_pic();
}

/* With interrupts=exit irq_prepare_entry injects what waited for the
 * window; otherwise l1vmm never asks for it. */
static void on_interrupt_window(void)
{
    if (irq_forwarding)
        return;
    caps.proc &= ~PROC_INTERRUPT_WINDOW;
    vmwrite(PROC_BASED_CONTROLS, caps.proc);
}

static void on_preemption_timer(void)
{
    /* l1vmm does not arm the timer; an expiry has nothing to do. */
}

static void on_triple_fault(void)
{
    l2_end(RT_EXIT_EXCEPTION, "L2 triple fault (shutdown)");
}

/* Whether an NMI may wake L2 from HLT with interrupts off (SDM Vol. 2A
 * "HLT"): it is not blocked by NMI (25.4.2), and LINT0 or LINT1 of the
 * APIC, which L2 shares with l1vmm (passed through), is unmasked in NMI
 * delivery mode (Vol. 3A 11.5.1), so a device on the pin can raise one.
 * NMIs go to L2 without an exit (no "NMI exiting"). */
static int nmi_may_wake(void)
{
    enum { BLOCKING_BY_NMI = 1u << 3, LVT_MASKED = 1u << 16, MODE_NMI = 4 };
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if ((vmread(GUEST_INTERRUPTIBILITY) & BLOCKING_BY_NMI) ||
        !(base & APIC_BASE_ENABLE))
        return 0;
    for (unsigned reg = 0x350; reg <= 0x360; reg += 0x10) { /* LINT0/1 */
        uint32_t lvt = *(volatile uint32_t *)(uintptr_t)(
            (base & APIC_BASE_ADDR_MASK) + reg);
        if (!(lvt & LVT_MASKED) && ((lvt >> 8) & 7) == MODE_NMI)
            return 1;
    }
    return 0;
}

/* HLT with interrupts on: L2 waits in the HLT activity state (SDM Vol.
 * 3C 25.4.2), halted by the CPU in non-root operation until its APIC
 * delivers an interrupt, which goes to L2 without an exit. That state
 * needs no STI or MOV-SS blocking (27.3.1.5), and the blocking ended
 * with HLT anyway. With interrupts off only an NMI wakes L2: it waits
 * the same way if one may come, else nothing would wake it. */
#define RFLAGS_TF (1u << 8)
#define RFLAGS_IF (1u << 9)
#define PENDING_DBG_BS (1u << 14) /* SDM Vol. 3C Table 25-3 */
#define ACTIVITY_HLT 1
static void on_hlt(void)
{
    if (!(vmread(GUEST_RFLAGS) & RFLAGS_IF) && !nmi_may_wake()) {
        l2_end(RT_EXIT_FAIL, "L2 executed HLT with interrupts off; nothing "
                             "would wake it");
    } else if (!(caps.misc & VMX_MISC_HLT_STATE)) {
        l2_end(RT_EXIT_FAIL, "L2 executed HLT, and this CPU has no HLT "
                             "activity state for it to wait in "
                             "(IA32_VMX_MISC[6])");
    } else {
        skip_instruction(); /* ends STI/MOV-SS blocking, as 25.4.2 needs */
        /* With RFLAGS.TF the HLT ends in a single-step trap (SDM Vol. 3A
         * 18.3.1.4), made pending for the entry to deliver; the entry
         * checks require BS then (Vol. 3C 27.3.1.5). Other skipped
         * instructions lose that trap: docs/l1vmm.md. */
        if (vmread(GUEST_RFLAGS) & RFLAGS_TF)
            vmwrite(GUEST_PENDING_DEBUG,
                    vmread(GUEST_PENDING_DEBUG) | PENDING_DBG_BS);
        vmwrite(GUEST_ACTIVITY_STATE, ACTIVITY_HLT);
    }
}

/* INVD always exits (SDM Vol. 3C 26.1.2; at CPL > 0 L2 gets its #GP(0)
 * without an exit). No caches are modeled for L2: skipping it is
 * complete. */
static void on_invd(void) { skip_instruction(); }

static void on_invlpg(void)
{
    shadow_invlpg(vmread(EXIT_QUALIFICATION));
    skip_instruction();
}

/* Every INVPCID type invalidates at most every mapping: dropping all
 * shadows is always correct (operands are not decoded; a simplification
 * that also skips INVPCID's own #GP checks). */
static void on_invpcid(void)
{
    shadow_flush();
    skip_instruction();
}

static void on_io(void) { io_exit(vmread(EXIT_QUALIFICATION)); }

/* Hypercalls (VMCALL, RAX = number; docs/l1vmm.md):
 *   1  write the byte in RBX to L2's console
 *   2  end L2 with status RBX
 * Others return RAX = ~0. */
static void on_vmcall(void)
{
    uint64_t *r = l2.regs.gpr;
    switch (r[GPR_RAX]) {
    case 1: io_console_putc((char)r[GPR_RBX]); r[GPR_RAX] = 0; break;
    case 2: l2_end((int)r[GPR_RBX], 0); break;
    default: r[GPR_RAX] = ~0ull; break;
    }
    skip_instruction();
}

/* VMX instructions in L2: it runs without VMX, so they are undefined. */
static void on_vmx_instruction(void) { inject_exception(VEC_UD, 0, 0); }

static void on_ept_violation(void)
{
    uint64_t q = vmread(EXIT_QUALIFICATION);
    const char *access = q & 4 ? "fetch" : q & 2 ? "write" : "read";
    rt_snprintf(why, sizeof why,
                "EPT violation: L2 %s at guest-physical %#lx, outside its "
                "%lu MiB of RAM (l1vmm emulates no memory-mapped devices)",
                access, vmread(GUEST_PHYSICAL_ADDRESS), l2.ram_bytes >> 20);
    l2_end(RT_EXIT_FAIL, why);
}

static void on_ept_misconfig(void)
{
    rt_snprintf(why, sizeof why,
                "EPT misconfiguration at guest-physical %#lx: l1vmm's EPT12 "
                "entry is malformed (a bug in l1vmm/ept.c)",
                vmread(GUEST_PHYSICAL_ADDRESS));
    l2_end(RT_EXIT_FAIL, why);
}

typedef void (*exit_handler)(void);
static const exit_handler handlers[EXIT_REASON_COUNT] = {
    [EXIT_EXCEPTION_NMI] = on_exception,
    [EXIT_EXTERNAL_INTERRUPT] = on_external_interrupt,
    [EXIT_TRIPLE_FAULT] = on_triple_fault,
    [EXIT_INTERRUPT_WINDOW] = on_interrupt_window,
    [EXIT_CPUID] = on_cpuid,
    [EXIT_HLT] = on_hlt,
    [13] = on_invd, /* INVD */
    [EXIT_INVLPG] = on_invlpg,
    [EXIT_VMCALL] = on_vmcall,
    [19 ... 27] = on_vmx_instruction, /* VMCLEAR ... VMXON */
    [EXIT_CR_ACCESS] = on_cr_access,
    [EXIT_IO] = on_io,
    [EXIT_RDMSR] = on_rdmsr,
    [EXIT_WRMSR] = on_wrmsr,
    [EXIT_EPT_VIOLATION] = on_ept_violation,
    [EXIT_EPT_MISCONFIG] = on_ept_misconfig,
    [50] = on_vmx_instruction, /* INVEPT */
    [EXIT_PREEMPTION_TIMER] = on_preemption_timer,
    [53] = on_vmx_instruction, /* INVVPID */
    [EXIT_INVPCID] = on_invpcid,
    [EXIT_XSETBV] = on_xsetbv,
};

void exits_dispatch(uint32_t reason_field)
{
    unsigned reason = reason_field & 0xFFFF;
    stats_count(reason);
    if (reason_field & EXIT_REASON_ENTRY_FAILED) {
        diag_entry_failure(reason_field);
        l2_end(RT_EXIT_FAIL, "VM entry to L2 failed");
        return;
    }
    /* With unrestricted guest L2 switches to long mode without an exit;
     * CPUs that do not store EFER.LMA into the entry control on exit
     * (IA32_VMX_MISC[5]) need it copied. */
    if (l2.paging == PAGING_EPT && !(caps.misc & VMX_MISC_SAVES_LMA))
        vmcs_set_long_mode(!!(vmread(GUEST_IA32_EFER) & EFER_LMA));

    /* exitpath.c has read the IDT-vectoring information. */
    exit_handler h = reason < EXIT_REASON_COUNT ? handlers[reason] : 0;
    if (h) {
        h();
    } else {
        rt_snprintf(why, sizeof why,
                    "unexpected VM exit: reason %u (%s), qualification %#lx",
                    reason, exit_reason_name(reason),
                    vmread(EXIT_QUALIFICATION));
        l2_end(RT_EXIT_FAIL, why);
    }
    /* The interrupted event is delivered again (SDM Vol. 3C 28.2.4). */
    if (!l2.injected && !l2.done && (l2.vectoring_info & INTR_VALID))
        inject(l2.vectoring_info, l2.vectoring_error, l2.vectoring_length);
    if (!l2.done)
        irq_prepare_entry();
}
