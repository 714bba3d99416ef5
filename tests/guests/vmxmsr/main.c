/* vmxmsr: an L1 that uses what l1vmm leaves alone: the VMX MSR lists
 * (SDM Vol. 3C 27.4 VM-entry MSR loading, 28.4 saving, 28.6 VM-exit MSR
 * loading) and TSC offsetting (26.3). It runs on Bochs' VMX and as L1 of
 * `turtles run --mode nested --l1`; tests/e2e/test_nested.py states the
 * architectural RESULT line and checks that both print it.
 *
 * L2 is a function of this program, run on its own stack in L1's address
 * space (no EPT). It reads the MSRs the entry list gave it, writes two,
 * reads the time stamp counter and ends with VMCALL. An MSR bitmap of
 * zeros lets its RDMSR/WRMSR run without exits.
 *
 * First, VM entries whose entry list has a bad second entry must fail
 * with exit reason 34 and qualification 2 (the entry's number), leave
 * the VMCS unlaunched, and still load the VM-exit MSR-load list (27.8).
 *
 * abort=store or abort=load on the command line puts a bad entry in the
 * VM-exit store or load list of the last exit: a VMX abort (28.7), which
 * shuts the processor down. Only turtles is checked for that.
 *
 * RESULT vmxmsr <case>=<basic exit reason>/<qualification> ...
 *        exit=<reason> <MSR as seen>=<hex> ... tsc_offset=ok|bad */
#include "../l1test.h"

/* Beside the runtime's MSR_* (cpu.h). */
enum {
    MSR_TSC = 0x10,
    MSR_SYSENTER_CS = 0x174,
    MSR_SYSENTER_ESP = 0x175,
    MSR_SYSENTER_EIP = 0x176,
    MSR_PAT = 0x277,
    MSR_X2APIC_TPR = 0x808,
};

/* Values L1 gives and L2 writes (canonical: two of these MSRs hold
 * addresses). */
#define L1_KGS 0x0000123400000000ull        /* L1's own, before L2 runs */
#define ENTRY_KGS 0x0000111122220000ull     /* entry list, for L2 */
#define ENTRY_SYSENTER_ESP 0x0000333344440000ull
#define L2_KGS 0x0000555566660000ull        /* L2 writes them */
#define L2_SYSENTER_EIP 0x0000777788880000ull
#define EXIT_KGS 0x00006666BBBB0000ull      /* exit list, for L1 */
#define EXIT_SYSENTER_CS 0x10ull
#define TSC_OFFSET_L2 (1ull << 40)

/* One MSR-list entry (SDM Vol. 3C 25.7.2). */
struct msr_entry {
    uint32_t index;
    uint32_t reserved;
    uint64_t data;
};

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));
static struct msr_entry entry_list[2] __attribute__((aligned(16)));
static struct msr_entry store_list[2] __attribute__((aligned(16)));
static struct msr_entry exit_list[2] __attribute__((aligned(16)));

/* What L2 saw. */
static volatile struct {
    uint64_t kgs, sysenter_esp, tsc, tsc_msr;
} seen;

__attribute__((noreturn)) static void l2_main(void)
{
    seen.kgs = rdmsr(MSR_KERNEL_GS_BASE);
    seen.sysenter_esp = rdmsr(MSR_SYSENTER_ESP);
    seen.tsc = rdtsc();
    seen.tsc_msr = rdmsr(MSR_TSC);
    wrmsr(MSR_KERNEL_GS_BASE, L2_KGS);
    wrmsr(MSR_SYSENTER_EIP, L2_SYSENTER_EIP);
    __asm__ volatile("vmcall" ::: "memory");
    for (;;) /* never resumed */
        ;
}

static void use_lists(unsigned entries, unsigned stores, unsigned exits)
{
    vmwrite(ENTRY_MSR_LOAD_ADDR, l1test_pa(entry_list));
    vmwrite(ENTRY_MSR_LOAD_COUNT, entries);
    vmwrite(EXIT_MSR_STORE_ADDR, l1test_pa(store_list));
    vmwrite(EXIT_MSR_STORE_COUNT, stores);
    vmwrite(EXIT_MSR_LOAD_ADDR, l1test_pa(exit_list));
    vmwrite(EXIT_MSR_LOAD_COUNT, exits);
}

/* VMLAUNCH, printed as "<basic reason>/<qualification>" when it comes
 * back at the host RIP, "fail<error>" on VMfail. */
static void launch_and_print(const char *name)
{
    enum launch_outcome o = launch(false);
    l1test_reload_tables();
    if (o != LAUNCH_HOST) {
        rt_printf(" %s=fail%d", name,
                  error_of(o == LAUNCH_FAIL_VALID ? VMX_FAIL_VALID
                                                  : VMX_FAIL_INVALID));
        return;
    }
    rt_printf(" %s=%lu/%lu", name, vmread(EXIT_REASON) & 0xFFFF,
              vmread(EXIT_QUALIFICATION));
}

/* Entry lists whose second entry a VM entry must refuse (27.4): the
 * first one is good, so the qualification is 2. */
static void refused_entries(bool *exit_list_loaded)
{
    uint64_t efer = rdmsr(MSR_EFER);
    const struct {
        const char *name;
        struct msr_entry bad;
    } cases[] = {
        {"fs_base", {MSR_FS_BASE, 0, 0}},
        {"gs_base", {MSR_GS_BASE, 0, 0}},
        {"reserved", {MSR_KERNEL_GS_BASE, 1, ENTRY_KGS}},
        {"x2apic", {MSR_X2APIC_TPR, 0, 0}},
        {"bad_pat", {MSR_PAT, 0, 0x0202020202020202ull}}, /* type 2 */
        {"efer_reserved", {MSR_EFER, 0, efer | 1u << 2}},
    };
    *exit_list_loaded = true;
    for (unsigned k = 0; k < sizeof cases / sizeof *cases; k++) {
        wrmsr(MSR_KERNEL_GS_BASE, L1_KGS);
        entry_list[0] = (struct msr_entry){MSR_KERNEL_GS_BASE, 0, ENTRY_KGS};
        entry_list[1] = cases[k].bad;
        exit_list[0] = (struct msr_entry){MSR_KERNEL_GS_BASE, 0, EXIT_KGS};
        use_lists(2, 0, 1);
        launch_and_print(cases[k].name);
        *exit_list_loaded &= rdmsr(MSR_KERNEL_GS_BASE) == EXIT_KGS;
    }
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"abort", 0, 0, "store load"}};
    RT_ARGS_REQUIRE(boot, "vmxmsr", args);
    char abort_list[8] = "";
    rt_cmdline_get(boot->cmdline, "abort", abort_list, sizeof abort_list);
    l1test_save_tables();
    uint32_t revision = l1test_prepare_vmx("vmxmsr");
    *(uint32_t *)vmxon_region = revision;
    *(uint32_t *)vmcs = revision;
    if (vmxon(l1test_pa(vmxon_region)) != VMX_OK ||
        vmclear(l1test_pa(vmcs)) != VMX_OK || vmptrld(l1test_pa(vmcs)) != VMX_OK)
        rt_panic("vmxmsr: VMXON/VMCLEAR/VMPTRLD failed");
    valid_controls();
    vmwrite(PROC_BASED_CONTROLS,
            vmread(PROC_BASED_CONTROLS) | PROC_MSR_BITMAPS | PROC_TSC_OFFSETTING);
    vmwrite(MSR_BITMAP, l1test_pa(msr_bitmap));
    vmwrite(TSC_OFFSET, TSC_OFFSET_L2);
    vmwrite(ENTRY_CONTROLS, vmread(ENTRY_CONTROLS) | ENTRY_IA32E_GUEST);
    valid_host();
    guest_like_l1((uint64_t)(uintptr_t)l2_main,
                  l1test_pa(l2_stack + sizeof l2_stack - 8));

    rt_printf("RESULT vmxmsr");
    bool after_failure;
    refused_entries(&after_failure);
    rt_printf(" after_failure=%s", after_failure ? "ok" : "bad");

    /* Then an entry that loads, an exit that stores and loads. The same
     * VMCS is launched again: the failures left it clear (27.8). */
    wrmsr(MSR_KERNEL_GS_BASE, L1_KGS);
    entry_list[0] = (struct msr_entry){MSR_KERNEL_GS_BASE, 0, ENTRY_KGS};
    entry_list[1] = (struct msr_entry){MSR_SYSENTER_ESP, 0, ENTRY_SYSENTER_ESP};
    store_list[0] = (struct msr_entry){MSR_KERNEL_GS_BASE, 0, 0};
    store_list[1] = (struct msr_entry){MSR_SYSENTER_EIP, 0, 0};
    exit_list[0] = (struct msr_entry){MSR_KERNEL_GS_BASE, 0, EXIT_KGS};
    exit_list[1] = (struct msr_entry){MSR_SYSENTER_CS, 0, EXIT_SYSENTER_CS};
    if (abort_list[0] == 's')
        store_list[1].reserved = 1;
    else if (abort_list[0] == 'l')
        exit_list[1].index = MSR_FS_BASE;
    use_lists(2, 2, 2);
    uint64_t before = rdtsc();
    launch_and_print("exit");
    uint64_t after = rdtsc();
    if (abort_list[0])
        rt_panic("vmxmsr: the VM exit did not abort (abort=%s)", abort_list);
    bool tsc_ok = seen.tsc >= before + TSC_OFFSET_L2 &&
                  seen.tsc <= after + TSC_OFFSET_L2 &&
                  seen.tsc_msr >= seen.tsc && seen.tsc_msr <= after + TSC_OFFSET_L2;
    rt_printf(" l2_kgs=%#lx l2_sysenter_esp=%#lx stored_kgs=%#lx "
              "stored_sysenter_eip=%#lx l1_kgs=%#lx l1_sysenter_cs=%#lx "
              "tsc_offset=%s\n",
              seen.kgs, seen.sysenter_esp, store_list[0].data,
              store_list[1].data, rdmsr(MSR_KERNEL_GS_BASE),
              rdmsr(MSR_SYSENTER_CS), tsc_ok ? "ok" : "bad");
    return RT_EXIT_OK;
}
