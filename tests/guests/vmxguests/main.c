/* vmxguests: an L1 written differently from l1vmm. For each of its L2
 * guests it takes a fresh VMCS region filled with garbage (0xCC), gives
 * it the revision identifier, VMCLEARs and VMPTRLDs it, VMWRITEs every
 * host-state and guest-state field and every control it relies on
 * (HOST_TR_BASE from its GDT's TSS descriptor), and launches it. The
 * guests are configured each differently: interrupt window, preemption
 * timer, I/O bitmaps, MSR bitmaps, EPT on (two different EPT12s) and
 * off, VPID, exception bitmap, CR0 guest/host mask. It runs on Bochs'
 * VMX and as L1 of `turtles run --mode nested --l1`;
 * tests/e2e/test_l1_vmx.py states the architectural lines and checks
 * that both print them.
 *
 * One line per guest, after its first VM exit and (where L1 can go on)
 * a VMRESUME to the VMCALL that ends it:
 *   RESULT vmxguests <guest> exit=<basic reason> qual=<qualification>
 *          [info=<exit interruption info>] [gpa=<guest-physical>]
 *          [seen=<what L2 read>] then=<reason of the exit after resume>
 * (for the CR0 shadow: seen=<CR0.TS as L2 read it>,<the other bits are
 * L2's CR0>, as L1's CR0 differs between machines).
 * A VMfail prints fail=<VM-instruction error> instead. */
#include "../l1test.h"

/* Fields and bits beside l1vmm/vmx.h's (SDM Vol. 3D Appendix B). */
enum {
    VPID_FIELD = 0x0000,
    IO_BITMAP_A = 0x2000,
    IO_BITMAP_B = 0x2002,
    PREEMPTION_TIMER_VALUE = 0x482E,
    EXIT_REASON_VMCALL = 18,
    MSR_PAT_NUM = 0x277,
    MSR_SYSENTER_CS_NUM = 0x174,
    EPT_RWX = 7,
    EPT_PS = 1u << 7,
    EPT_WB = 6u << 3,
};

void l2_cpuid(void), l2_io(void), l2_rdmsr(void), l2_read_hole(void),
    l2_ud2(void), l2_int3(void), l2_vmcall(void), l2_read_cr0(void),
    l2_clear_vmxe(void);
extern volatile uint64_t l2_seen;

enum bitmap_use { NONE, TRAP, PASS };

struct guest {
    const char *name;
    void (*code)(void);
    uint32_t pin, proc, proc2;
    uint32_t exception_bitmap;
    uint64_t rflags;
    int ept;              /* 0: off, 1 or 2: which EPT12 */
    uint16_t vpid;
    enum bitmap_use io, msr;
    bool cr0_ts_shadow;   /* L2 reads CR0.TS = 1 from the read shadow */
    bool show_seen;
    uint64_t cr4_mask;    /* CR4 guest/host mask (read shadow 0) */
};

static const struct guest guests[] = {
    {"cpuid", l2_cpuid, 0, 0, 0, 0, 0x2, 0, 0, NONE, NONE, false, false, 0},
    {"intr_window", l2_vmcall, 0, PROC_INTERRUPT_WINDOW, 0, 0, 0x202, 0, 0,
     NONE, NONE, false, false, 0},
    {"preemption_timer", l2_vmcall, PIN_PREEMPTION_TIMER, 0, 0, 0, 0x2, 0, 0,
     NONE, NONE, false, false, 0},
    {"io_trap", l2_io, 0, PROC_IO_BITMAPS, 0, 0, 0x2, 0, 0, TRAP, NONE, false,
     false, 0},
    {"io_pass", l2_io, 0, PROC_IO_BITMAPS, 0, 0, 0x2, 0, 0, PASS, NONE, false,
     false, 0},
    {"msr_trap", l2_rdmsr, 0, PROC_MSR_BITMAPS, 0, 0, 0x2, 0, 0, NONE, TRAP,
     false, false, 0},
    {"msr_pass", l2_rdmsr, 0, PROC_MSR_BITMAPS, 0, 0, 0x2, 0, 0, NONE, PASS,
     false, true, 0},
    {"ept", l2_cpuid, 0, PROC_SECONDARY, PROC2_EPT, 0, 0x2, 1, 0, NONE, NONE,
     false, false, 0},
    {"ept_other", l2_read_hole, 0, PROC_SECONDARY, PROC2_EPT, 0, 0x2, 2, 0,
     NONE, NONE, false, false, 0},
    {"vpid", l2_cpuid, 0, PROC_SECONDARY, PROC2_VPID, 0, 0x2, 0, 5, NONE, NONE,
     false, false, 0},
    {"exception_ud", l2_ud2, 0, 0, 0, 1u << 6, 0x2, 0, 0, NONE, NONE, false,
     false, 0},
    {"exception_bp", l2_int3, 0, 0, 0, 1u << 3, 0x2, 0, 0, NONE, NONE, false,
     false, 0},
    {"cr0_shadow", l2_read_cr0, 0, 0, 0, 0, 0x2, 0, 0, NONE, NONE, true, false, 0},
    {"ept_vpid", l2_cpuid, 0, PROC_SECONDARY, PROC2_EPT | PROC2_VPID, 0, 0x2, 1,
     7, NONE, NONE, false, false, 0},
    /* L1 owns CR4.PGE and a bit this CPU lacks (SMAP), L0 owns VMXE:
     * clearing VMXE is #GP(0) in VMX operation (SDM Vol. 3C 24.8), an
     * exception exit by the bitmap; L1 skips the 3-byte MOV. */
    {"cr4_vmxe", l2_clear_vmxe, 0, 0, 0, 1u << 13, 0x2, 0, 0, NONE, NONE,
     false, false, CR4_PGE | CR4_SMAP},
};
#define GUESTS (sizeof guests / sizeof *guests)

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t regions[GUESTS][4096] __attribute__((aligned(4096)));
static uint8_t io_bitmaps[2][2][4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmaps[2][4096] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));
/* Two EPT12s with tables of their own over one page directory that maps
 * the first GiB with 2 MiB pages (SDM Vol. 3C 29.3.2). */
static uint64_t ept_pml4[2][512] __attribute__((aligned(4096)));
static uint64_t ept_pdpt[2][512] __attribute__((aligned(4096)));
static uint64_t ept_pd[512] __attribute__((aligned(4096)));

static void build_tables(void)
{
    for (unsigned i = 0; i < 512; i++)
        ept_pd[i] = ((uint64_t)i << 21) | EPT_PS | EPT_WB | EPT_RWX;
    for (unsigned k = 0; k < 2; k++) {
        ept_pml4[k][0] = l1test_pa(ept_pdpt[k]) | EPT_RWX;
        ept_pdpt[k][0] = l1test_pa(ept_pd) | EPT_RWX;
    }
    /* Port 0x80 exits through bitmap A of the first pair; the second
     * pair is all zeros. Reads of IA32_SYSENTER_CS exit through the
     * first MSR bitmap (read bitmap for low MSRs, SDM 25.6.9). */
    io_bitmaps[0][0][0x80 / 8] |= 1u << (0x80 % 8);
    msr_bitmaps[0][MSR_SYSENTER_CS_NUM / 8] |= 1u << (MSR_SYSENTER_CS_NUM % 8);
}

static uint64_t eptp_of(int which)
{
    return l1test_pa(ept_pml4[which - 1]) | 3u << 3 | 6; /* 4 levels, WB */
}

/* Every control field the guest's configuration relies on: the region
 * held garbage, so nothing may be left to it. */
static void write_controls(const struct guest *g)
{
    vmwrite(PIN_BASED_CONTROLS, (uint32_t)rdmsr(0x48D) | g->pin);
    vmwrite(PROC_BASED_CONTROLS, (uint32_t)rdmsr(0x48E) | g->proc);
    vmwrite(PROC_BASED_CONTROLS2, g->proc2);
    vmwrite(EXIT_CONTROLS, (uint32_t)rdmsr(0x48F) | EXIT_HOST_64);
    vmwrite(ENTRY_CONTROLS, (uint32_t)rdmsr(0x490) | ENTRY_IA32E_GUEST);
    static const uint32_t zero[] = {
        PAGE_FAULT_ERROR_MASK, PAGE_FAULT_ERROR_MATCH, CR3_TARGET_COUNT,
        EXIT_MSR_STORE_COUNT, EXIT_MSR_LOAD_COUNT, ENTRY_MSR_LOAD_COUNT,
        ENTRY_INTERRUPTION_INFO, ENTRY_EXCEPTION_ERROR,
        ENTRY_INSTRUCTION_LENGTH, TSC_OFFSET, CR4_GUEST_HOST_MASK,
        CR4_READ_SHADOW, PREEMPTION_TIMER_VALUE,
    };
    for (unsigned k = 0; k < sizeof zero / sizeof *zero; k++)
        vmwrite(zero[k], 0);
    vmwrite(EXCEPTION_BITMAP, g->exception_bitmap);
    vmwrite(CR4_GUEST_HOST_MASK, g->cr4_mask);
    vmwrite(CR0_GUEST_HOST_MASK, g->cr0_ts_shadow ? CR0_TS : 0);
    vmwrite(CR0_READ_SHADOW, g->cr0_ts_shadow ? CR0_TS : 0);
    vmwrite(VPID_FIELD, g->vpid);
    if (g->ept)
        vmwrite(EPT_POINTER, eptp_of(g->ept));
    if (g->io) {
        unsigned pair = g->io == TRAP ? 0 : 1;
        vmwrite(IO_BITMAP_A, l1test_pa(io_bitmaps[pair][0]));
        vmwrite(IO_BITMAP_B, l1test_pa(io_bitmaps[pair][1]));
    }
    if (g->msr)
        vmwrite(MSR_BITMAP, l1test_pa(msr_bitmaps[g->msr == TRAP ? 0 : 1]));
}

/* The guest-state fields guest_like_l1 leaves out. */
static void write_more_guest_state(const struct guest *g)
{
    vmwrite(GUEST_RFLAGS, g->rflags);
    vmwrite(GUEST_IA32_PAT, rdmsr(MSR_PAT_NUM));
    vmwrite(GUEST_IA32_EFER, rdmsr(MSR_EFER));
    vmwrite(GUEST_SYSENTER_CS, 0x42);
}

/* What L1 does to let L2 go on after its first exit; false when it
 * cannot (the exit ends the guest). */
static bool handle_first_exit(const struct guest *g, uint64_t reason,
                              uint64_t info)
{
    uint64_t rip = vmread(GUEST_RIP);
    switch (reason) {
    case 7: /* interrupt window */
        vmwrite(PROC_BASED_CONTROLS,
                vmread(PROC_BASED_CONTROLS) & ~(uint64_t)PROC_INTERRUPT_WINDOW);
        return true;
    case 52: /* preemption timer */
        vmwrite(PIN_BASED_CONTROLS,
                vmread(PIN_BASED_CONTROLS) & ~(uint64_t)PIN_PREEMPTION_TIMER);
        return true;
    case 0: /* #UD and #GP are faults (length undefined): UD2 is 2
               bytes, cr4_vmxe's MOV to CR4 3 */
        vmwrite(GUEST_RIP, rip + ((info & 0xFF) == 6    ? 2
                                  : (info & 0xFF) == 13 ? 3
                                  : vmread(EXIT_INSTRUCTION_LENGTH)));
        return true;
    case 10: case 30: case 31: /* CPUID, I/O, RDMSR: skip it */
        vmwrite(GUEST_RIP, rip + vmread(EXIT_INSTRUCTION_LENGTH));
        return true;
    default:
        (void)g;
        return false;
    }
}

/* The VMCS-pointer operand of VMCLEAR and VMPTRLD, and HOST_TR_BASE,
 * come from memory as a compiler would address globals: an absolute
 * displacement and RIP-relative (the exit qualification then holds the
 * displacement plus the next RIP, SDM Vol. 3C 28.2.1). */
static uint64_t region_pa, tr_base;

static bool clear_and_load(void)
{
    uint8_t bad_clear, bad_load;
    __asm__ volatile("vmclear region_pa\n\tsetna %0\n\t"
                     "vmptrld region_pa(%%rip)\n\tsetna %1"
                     : "=q"(bad_clear), "=q"(bad_load)
                     : "m"(region_pa)
                     : "cc", "memory");
    return !bad_clear && !bad_load;
}

static void write_host_tr_base(void)
{
    tr_base = l1test_tss_base();
    __asm__ volatile("vmwrite tr_base(%%rip), %0"
                     :: "r"((uint64_t)HOST_TR_BASE), "m"(tr_base)
                     : "cc", "memory");
}

static void run_guest(unsigned n, uint32_t revision)
{
    const struct guest *g = &guests[n];
    uint8_t *region = regions[n];
    for (unsigned k = 0; k < sizeof regions[n]; k++)
        region[k] = 0xCC;
    *(uint32_t *)region = revision;
    rt_printf("RESULT vmxguests %s", g->name);
    region_pa = l1test_pa(region);
    if (!clear_and_load()) {
        rt_printf(" vmclear/vmptrld failed\n");
        return;
    }
    write_controls(g);
    valid_host();
    write_host_tr_base();
    guest_like_l1((uint64_t)(uintptr_t)g->code,
                  l1test_pa(l2_stack + sizeof l2_stack - 8));
    write_more_guest_state(g);
    l2_seen = 0;

    enum launch_outcome o = launch(false);
    l1test_reload_tables();
    if (o != LAUNCH_HOST) {
        rt_printf(" fail=%d\n", error_of(o == LAUNCH_FAIL_VALID
                                             ? VMX_FAIL_VALID
                                             : VMX_FAIL_INVALID));
        return;
    }
    uint64_t reason = vmread(EXIT_REASON), info = 0;
    rt_printf(" exit=%lu qual=%#lx", reason & 0xFFFF,
              vmread(EXIT_QUALIFICATION));
    if ((reason & 0xFFFF) == 0) {
        info = vmread(EXIT_INTERRUPTION_INFO);
        rt_printf(" info=%#lx", info);
    }
    if ((reason & 0xFFFF) == 48)
        rt_printf(" gpa=%#lx", vmread(GUEST_PHYSICAL_ADDRESS));
    uint64_t then = 0;
    if ((reason & 0xFFFF) != EXIT_REASON_VMCALL &&
        handle_first_exit(g, reason & 0xFFFF, info)) {
        o = launch(true);
        l1test_reload_tables();
        then = o == LAUNCH_HOST ? vmread(EXIT_REASON) & 0xFFFF : ~0ull;
    }
    if (g->cr0_ts_shadow) /* TS from the shadow, the rest L2's own CR0 */
        rt_printf(" seen=%d,%d", !!(l2_seen & CR0_TS),
                  ((l2_seen ^ vmread(GUEST_CR0)) & ~(uint64_t)CR0_TS) == 0);
    else if (g->show_seen)
        rt_printf(" seen=%#lx", l2_seen);
    if (then)
        rt_printf(" then=%ld", (long)then);
    rt_printf("\n");
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "vmxguests", 0, 0); /* it takes no arguments */
    l1test_save_tables();
    uint32_t revision = l1test_prepare_vmx("vmxguests");
    *(uint32_t *)vmxon_region = revision;
    if (vmxon(l1test_pa(vmxon_region)) != VMX_OK)
        rt_panic("vmxguests: VMXON failed");
    build_tables();
    for (unsigned n = 0; n < GUESTS; n++)
        run_guest(n, revision);
    return RT_EXIT_OK;
}
