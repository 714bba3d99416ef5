/* roi: a region of interest (docs/exit-stats.md) with printing around it.
 * Inside the region: `iters` CPUIDs (leaf 0) and a loop of `work`
 * additions, nothing printed; before it and after it, `noise` lines each.
 * The region's counts must not depend on `noise` (tests/e2e/test_roi.py). */
#include "cpu.h"
#include "rt.h"

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"iters", 0, 1000000, 0},
                                         {"work", 0, 100000000, 0},
                                         {"noise", 0, 10000, 0}};
    RT_ARGS_REQUIRE(boot, "roi", args);
    uint64_t iters = rt_cmdline_u64(boot->cmdline, "iters", 10);
    uint64_t work = rt_cmdline_u64(boot->cmdline, "work", 1000);
    uint64_t noise = rt_cmdline_u64(boot->cmdline, "noise", 0);

    rt_printf("RESULT roi iters=%lu work=%lu\n", iters, work);
    for (uint64_t i = 0; i < noise; i++)
        rt_printf("before the region: line %lu\n", i);
    roi_start();
    for (uint64_t i = 0; i < iters; i++)
        cpuid(0, 0);
    volatile uint64_t sum = 0;
    for (uint64_t i = 0; i < work; i++)
        sum += i;
    roi_end();
    for (uint64_t i = 0; i < noise; i++)
        rt_printf("after the region: line %lu\n", i);
    rt_printf("RESULT roi sum=%lu\n", (uint64_t)sum);
    return RT_EXIT_OK;
}
