/* VMX controls derived from the capability MSRs. Each control word has
 * an allowed-0 half (bits that must be 1) and an allowed-1 half (bits
 * that may be 1) in its capability MSR (SDM Vol. 3D A.3-A.5); when
 * IA32_VMX_BASIC[55] is set, the TRUE_ MSRs give the real allowed-0
 * settings of the "default1" bits (A.2). A control is set when l1vmm
 * needs or wants it and the CPU allows it, or when the CPU forces it. */
#include "cpu.h"
#include "l1vmm.h"

struct vmx_caps caps;

enum group { PIN, PROC, PROC2, EXIT, ENTRY, GROUP_COUNT };

static const struct {
    const char *name;
    uint32_t msr, true_msr;
} groups[GROUP_COUNT] = {
    [PIN] = {"pin-based", MSR_VMX_PINBASED, MSR_VMX_TRUE_PINBASED},
    [PROC] = {"processor-based", MSR_VMX_PROCBASED, MSR_VMX_TRUE_PROCBASED},
    [PROC2] = {"secondary processor-based", MSR_VMX_PROCBASED2, 0},
    [EXIT] = {"VM-exit", MSR_VMX_EXIT, MSR_VMX_TRUE_EXIT},
    [ENTRY] = {"VM-entry", MSR_VMX_ENTRY, MSR_VMX_TRUE_ENTRY},
};

/* What l1vmm asks of a control in each paging mode. A control not listed
 * is 0 unless the CPU forces it to 1. */
enum need { OFF, WANT, NEED };
static const struct {
    enum group group;
    uint32_t bit;
    const char *name;
    enum need ept, shadow;
} controls[] = {
    /* HLT: l1vmm decides between waiting (HLT activity state) and
     * ending L2 (exits.c). */
    {PROC, PROC_HLT, "HLT exiting", NEED, NEED},
    /* Shadow paging must see every change of L2's address space. */
    {PROC, PROC_INVLPG, "INVLPG exiting", OFF, NEED},
    {PROC, PROC_CR3_LOAD, "CR3-load exiting", OFF, NEED},
    {PROC, PROC_CR3_STORE, "CR3-store exiting", OFF, NEED},
    /* Every port access exits: L2's devices are emulated in io.c. */
    {PROC, PROC_UNCOND_IO, "unconditional I/O exiting", NEED, NEED},
    {PROC, PROC_SECONDARY, "activate secondary controls", NEED, WANT},
    {PROC2, PROC2_EPT, "enable EPT", NEED, OFF},
    {PROC2, PROC2_UNRESTRICTED, "unrestricted guest", NEED, OFF},
    /* Without these RDTSCP and INVPCID raise #UD in L2 (SDM Vol. 3C
     * 26.3); with INVLPG exiting, INVPCID exits (25.6.2). */
    {PROC2, PROC2_RDTSCP, "enable RDTSCP", WANT, WANT},
    {PROC2, PROC2_INVPCID, "enable INVPCID", WANT, WANT},
    /* l1vmm runs in 64-bit mode; L2's EFER is switched by the CPU. */
    {EXIT, EXIT_HOST_64, "host address-space size", NEED, NEED},
    {EXIT, EXIT_SAVE_EFER, "save IA32_EFER", NEED, NEED},
    {EXIT, EXIT_LOAD_EFER, "load IA32_EFER", NEED, NEED},
    {EXIT, EXIT_SAVE_PAT, "save IA32_PAT", WANT, WANT},
    {EXIT, EXIT_LOAD_PAT, "load IA32_PAT", WANT, WANT},
    /* L2's DR7 and IA32_DEBUGCTL survive its exits, which reset them
     * (SDM Vol. 3C 28.5.1): saved in the VMCS, loaded at entry. */
    {EXIT, EXIT_SAVE_DEBUG, "save debug controls", NEED, NEED},
    {ENTRY, ENTRY_LOAD_EFER, "load IA32_EFER", NEED, NEED},
    {ENTRY, ENTRY_LOAD_DEBUG, "load debug controls", NEED, NEED},
    {ENTRY, ENTRY_LOAD_PAT, "load IA32_PAT", WANT, WANT},
};

static uint32_t *group_word(enum group g)
{
    uint32_t *words[GROUP_COUNT] = {&caps.pin, &caps.proc, &caps.proc2,
                                    &caps.exit, &caps.entry};
    return words[g];
}

/* allowed-0 in the low half, allowed-1 in the high half. */
static uint64_t group_msr(enum group g)
{
    if (g == PROC2 && !(rdmsr(MSR_VMX_PROCBASED) >> 32 & PROC_SECONDARY))
        return 0; /* the MSR exists only with secondary controls (A.3.3) */
    if (groups[g].true_msr && (caps.basic & VMX_BASIC_TRUE_CTLS))
        return rdmsr(groups[g].true_msr);
    return rdmsr(groups[g].msr);
}

int caps_init(enum paging_mode mode)
{
    caps.basic = rdmsr(MSR_VMX_BASIC);
    caps.misc = rdmsr(MSR_VMX_MISC);
    caps.cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
    caps.cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    caps.cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
    caps.cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
    caps.maxphyaddr = cpuid(0x80000008, 0).eax & 0xFF;

    uint64_t msr[GROUP_COUNT];
    uint32_t wanted[GROUP_COUNT] = {0};
    for (int g = 0; g < GROUP_COUNT; g++)
        msr[g] = group_msr((enum group)g);

    int ok = 1;
    for (unsigned i = 0; i < sizeof controls / sizeof controls[0]; i++) {
        enum need n = mode == PAGING_EPT ? controls[i].ept : controls[i].shadow;
        uint32_t allowed1 = (uint32_t)(msr[controls[i].group] >> 32);
        if (n == OFF)
            continue;
        if (allowed1 & controls[i].bit)
            wanted[controls[i].group] |= controls[i].bit;
        else if (n == NEED) {
            rt_printf("l1vmm: this CPU cannot set the %s control \"%s\", "
                      "which paging=%s needs\n",
                      groups[controls[i].group].name, controls[i].name,
                      mode == PAGING_EPT ? "ept" : "shadow");
            ok = 0;
        }
    }
    if (!(msr[ENTRY] >> 32 & ENTRY_IA32E_GUEST)) {
        rt_printf("l1vmm: this CPU cannot run a 64-bit guest "
                  "(VM-entry control \"IA-32e mode guest\")\n");
        ok = 0;
    }
    if (!ok)
        return -1;

    for (int g = 0; g < GROUP_COUNT; g++) {
        uint32_t allowed0 = (uint32_t)msr[g], allowed1 = (uint32_t)(msr[g] >> 32);
        *group_word((enum group)g) = (wanted[g] | allowed0) & allowed1;
    }
    if (!(caps.proc & PROC_SECONDARY))
        caps.proc2 = 0;
    /* L2 starts in 32-bit mode: vmcs_set_long_mode() sets this later. */
    caps.entry &= ~ENTRY_IA32E_GUEST;
    if (caps.proc2 & PROC2_EPT)
        caps.ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
    return 0;
}
