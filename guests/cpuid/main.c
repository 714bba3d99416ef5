/* cpuid: the CPUID microbenchmark. Executes CPUID (leaf 0) `iters` times
 * (multiboot command line, default 10000) and reports the TSC cycles per
 * iteration. Under a hypervisor every CPUID is a VM exit, so this measures
 * one exit round trip. */
#include "cpu.h"
#include "rt.h"

#define LEAF_EXIT_COUNT 0x4FFFFFFEu /* ECX = exit reason -> EAX = count */
#define EXIT_REASON_CPUID 10

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"iters", 1, 1000000000, 0}};
    RT_ARGS_REQUIRE(boot, "cpuid", args);
    uint64_t iters = rt_cmdline_u64(boot->cmdline, "iters", 10000);

    uint32_t max_leaf = cpuid(0, 0).eax;
    /* Under a hypervisor that answers the exit-statistics leaves
     * (docs/exit-stats.md), the CPUID exits of the loop: iters, plus the
     * second query itself. Elsewhere the leaf is not special. */
    uint32_t exits_before = cpuid(LEAF_EXIT_COUNT, EXIT_REASON_CPUID).eax;
    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < iters; i++)
        cpuid(0, 0);
    uint64_t cycles = rdtsc() - start;
    uint32_t exits_after = cpuid(LEAF_EXIT_COUNT, EXIT_REASON_CPUID).eax;

    /* RESULT holds what every backend must agree on; METRIC what it
     * measured. */
    rt_printf("RESULT cpuid iters=%lu\n", iters);
    rt_printf("METRIC cpuid max_leaf=%#x tsc_cycles=%lu tsc_per_iter=%lu "
              "cpuid_exits=%u\n",
              max_leaf, cycles, cycles / iters, exits_after - exits_before);
    return RT_EXIT_OK;
}
