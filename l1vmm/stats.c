/* Exit accounting: a count and the TSC cycles spent in l1vmm per basic
 * exit reason, the CPUID leaves through which L2 reads them, and the
 * L1STATS block printed at the end (format in docs/l1vmm.md). */
#include "l1vmm.h"

/* Basic exit reasons, SDM Vol. 3D Appendix C. NULL marks the numbers the
 * SDM leaves undefined (35, 38, 42); reasons from 70 on are counted
 * under "other" and treated as undefined by the CPUID leaves. */
static const char *const names[EXIT_REASON_COUNT] = {
    "EXCEPTION_NMI", "EXTERNAL_INTERRUPT", "TRIPLE_FAULT", "INIT", "SIPI",
    "IO_SMI", "OTHER_SMI", "INTERRUPT_WINDOW", "NMI_WINDOW", "TASK_SWITCH",
    "CPUID", "GETSEC", "HLT", "INVD", "INVLPG", "RDPMC", "RDTSC", "RSM",
    "VMCALL", "VMCLEAR", "VMLAUNCH", "VMPTRLD", "VMPTRST", "VMREAD",
    "VMRESUME", "VMWRITE", "VMXOFF", "VMXON", "CR_ACCESS", "DR_ACCESS",
    "IO_INSTRUCTION", "RDMSR", "WRMSR", "INVALID_GUEST_STATE",
    "MSR_LOADING", 0, "MWAIT", "MONITOR_TRAP_FLAG", 0, "MONITOR", "PAUSE",
    "MACHINE_CHECK", 0, "TPR_BELOW_THRESHOLD", "APIC_ACCESS",
    "VIRTUALIZED_EOI", "GDTR_IDTR_ACCESS", "LDTR_TR_ACCESS",
    "EPT_VIOLATION", "EPT_MISCONFIG", "INVEPT", "RDTSCP",
    "PREEMPTION_TIMER", "INVVPID", "WBINVD", "XSETBV", "APIC_WRITE",
    "RDRAND", "INVPCID", "VMFUNC", "ENCLS", "RDSEED", "PML_FULL", "XSAVES",
    "XRSTORS", "PCONFIG", "SPP_EVENT", "UMWAIT", "TPAUSE", "LOADIWKEY",
};

enum { OTHER = EXIT_REASON_COUNT }; /* reasons past the table */
static uint64_t counts[EXIT_REASON_COUNT + 1], cycles[EXIT_REASON_COUNT + 1];
static uint64_t total_count, total_cycles;

const char *exit_reason_name(unsigned reason)
{
    return reason < EXIT_REASON_COUNT && names[reason] ? names[reason]
                                                        : "UNDEFINED";
}

static unsigned slot(unsigned reason)
{
    return reason < EXIT_REASON_COUNT ? reason : OTHER;
}

/* Counted when the exit arrives, so that a CPUID asking for counts sees
 * itself; its cycles are added after its handler returns. */
void stats_count(unsigned reason)
{
    counts[slot(reason)]++;
    total_count++;
}

void stats_cycles(unsigned reason, uint64_t c)
{
    cycles[slot(reason)] += c;
    total_cycles += c;
}

uint64_t stats_total(void) { return total_count; }

/* The exit-statistics leaves (issue 4, "Exit statistics for guests"):
 *   0x4FFFFFFC  EAX = total exits
 *   0x4FFFFFFD  EBX:ECX = total cycles (high:low)
 *   0x4FFFFFFE  ECX = reason; EAX = its exits
 *   0x4FFFFFFF  ECX = reason; EBX:ECX = its cycles
 * An undefined reason gives zeros with EDX = 0xFFFFFFFF. Returns 0 for
 * every other leaf. */
int stats_cpuid(uint32_t leaf, uint32_t sub, struct guest_regs *r)
{
    if (leaf < 0x4FFFFFFC || leaf > 0x4FFFFFFF)
        return 0;
    uint32_t out[4] = {0}; /* eax ebx ecx edx */
    int per_reason = leaf >= 0x4FFFFFFE;
    int defined = sub < EXIT_REASON_COUNT && names[sub];
    uint64_t count = per_reason ? (defined ? counts[sub] : 0) : total_count;
    uint64_t cyc = per_reason ? (defined ? cycles[sub] : 0) : total_cycles;
    if (per_reason && !defined)
        out[3] = 0xFFFFFFFF;
    else if (leaf == 0x4FFFFFFC || leaf == 0x4FFFFFFE)
        out[0] = (uint32_t)count;
    else {
        out[1] = (uint32_t)(cyc >> 32);
        out[2] = (uint32_t)cyc;
    }
    r->gpr[GPR_RAX] = out[0];
    r->gpr[GPR_RBX] = out[1];
    r->gpr[GPR_RCX] = out[2];
    r->gpr[GPR_RDX] = out[3];
    return 1;
}

void stats_print(void)
{
    rt_printf("L1STATS begin paging=%s l2_status=%d\n",
              l2.paging == PAGING_EPT ? "ept" : "shadow", l2.status);
    for (unsigned i = 0; i <= OTHER; i++)
        if (counts[i])
            rt_printf("L1STATS reason=%u name=%s count=%lu cycles=%lu\n",
                      i == OTHER ? 0xFFFF : i,
                      i == OTHER ? "OTHER" : exit_reason_name(i), counts[i],
                      cycles[i]);
    rt_printf("L1STATS total count=%lu cycles=%lu\n", total_count,
              total_cycles);
    rt_printf("L1STATS end\n");
}
