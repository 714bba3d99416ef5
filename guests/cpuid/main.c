/* cpuid: the CPUID microbenchmark. Executes CPUID (leaf 0) `iters` times
 * (multiboot command line, default 10000) and reports the TSC cycles per
 * iteration. Under a hypervisor every CPUID is a VM exit, so this measures
 * one exit round trip. */
#include "cpu.h"
#include "rt.h"

int main(const struct rt_boot *boot)
{
    uint64_t iters = rt_cmdline_u64(boot->cmdline, "iters", 10000);
    if (iters == 0)
        rt_panic("cpuid: iters must be at least 1");

    uint32_t max_leaf = cpuid(0, 0).eax;
    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < iters; i++)
        cpuid(0, 0);
    uint64_t cycles = rdtsc() - start;

    /* RESULT holds what every backend must agree on; METRIC what it
     * measured. */
    rt_printf("RESULT cpuid iters=%lu\n", iters);
    rt_printf("METRIC cpuid max_leaf=%#x tsc_cycles=%lu tsc_per_iter=%lu\n",
              max_leaf, cycles, cycles / iters);
    return RT_EXIT_OK;
}
