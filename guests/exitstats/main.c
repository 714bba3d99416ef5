/* exitstats: reads its hypervisor's exit counts through the exit-
 * statistics CPUID leaves (docs/l1vmm.md) around work that exits only
 * under shadow paging: `iters` rounds (default 64) of touching a page,
 * INVLPG of it, touching it again and reloading CR3, then one INVPCID
 * when the CPU reports it. Under ept those exit nothing; under shadow
 * each gives #PF (reason 0), INVLPG (14), CR access (28), INVPCID (58).
 *
 * Prints the deltas as EXITSTATS lines: they depend on the hypervisor,
 * so they are not RESULT lines. Without a hypervisor the leaves return
 * whatever the CPU returns for them. */
#include "cpu.h"
#include "rt.h"

#define MIB (1ull << 20)
#define LEAF_REASON_COUNT 0x4FFFFFFEu
#define LEAF_TOTAL_COUNT 0x4FFFFFFCu
#define CPUID7_EBX_INVPCID (1u << 10)

static const unsigned reasons[] = {0, 10, 14, 28, 58};
enum { NREASONS = sizeof reasons / sizeof reasons[0] };

static uint32_t exits(unsigned reason)
{
    return cpuid(LEAF_REASON_COUNT, reason).eax;
}

static int has_invpcid(void)
{
    return cpuid(0, 0).eax >= 7 && (cpuid(7, 0).ebx & CPUID7_EBX_INVPCID);
}

static void invpcid_all(void)
{
    struct {
        uint64_t pcid, address;
    } desc = {0, 0};
    /* Type 2: every context, global pages included (SDM Vol. 2A). */
    __asm__ volatile("invpcid %0, %1" ::"m"(desc), "r"(2ull) : "memory");
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"iters", 1, 1000000, 0}};
    RT_ARGS_REQUIRE(boot, "exitstats", args);
    uint64_t iters = rt_cmdline_u64(boot->cmdline, "iters", 64);
    if (iters == 0)
        rt_panic("exitstats: iters must be at least 1");

    uint32_t before[NREASONS], after[NREASONS];
    for (unsigned i = 0; i < NREASONS; i++)
        before[i] = exits(reasons[i]);

    for (uint64_t i = 0; i < iters; i++) {
        /* Eight 2 MiB pages from 16 MiB: inside any L2 RAM of 32 MiB. */
        volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(16 * MIB +
                                                             (i % 8) * 2 * MIB);
        *p = (uint8_t)i;
        invlpg((const void *)p);
        if (*p != (uint8_t)i)
            rt_panic("exitstats: page at %p lost its contents", (void *)p);
        write_cr3(read_cr3());
    }
    int invpcid = has_invpcid();
    if (invpcid)
        invpcid_all();

    for (unsigned i = 0; i < NREASONS; i++)
        after[i] = exits(reasons[i]);

    /* A query counts itself: two in a row differ by exactly one. */
    uint32_t first = exits(10), second = exits(10);
    struct cpuid_regs undefined = cpuid(LEAF_REASON_COUNT, 35);

    rt_printf("RESULT exitstats iters=%lu\n", iters);
    for (unsigned i = 0; i < NREASONS; i++)
        rt_printf("EXITSTATS reason=%u delta=%u\n", reasons[i],
                  after[i] - before[i]);
    rt_printf("EXITSTATS cpuid_self=%u undefined_edx=%#x total=%u "
              "invpcid=%d\n",
              second - first, undefined.edx,
              cpuid(LEAF_TOTAL_COUNT, 0).eax, invpcid);
    return RT_EXIT_OK;
}
