/* tlbloop: a memory loop for the modeled TLB (docs/cost-model.md). It
 * maps `pages=N` 4 KiB pages (4-level paging, tables built here, at
 * PML4[1]) onto RAM from 32 MiB up, writes each page's number into it
 * and reads it back untimed, then reads one word of every page
 * `passes=P` times and prints the TSC cycles that took (RESULT: the sum
 * of all reads, (P + 1) * N * (N - 1) / 2). With `reload=1` it writes CR3 (the same value)
 * before each pass, as a context switch does: without PCIDs that drops
 * every non-global translation (SDM Vol. 3A 4.10.4.1).
 *
 * Haswell's DTLB holds 64 4 KiB pages and its STLB 1,024: 32 pages fit
 * and cost the same everywhere; 2,048 pages read in order miss on every
 * access (LRU), and each miss pays a page walk, 1-D bare, 2-D under EPT. */
#include "cpu.h"
#include "rt.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define REGION 0x0000008000000000ull /* PML4 index 1 */
#define FRAMES (32ull << 20)        /* RAM the image does not use */
#define PAGE 4096u
enum { MAX_PAGES = 4096, TABLE = 512 };

extern uint64_t rt_pml4[512];

static uint64_t pdpt[TABLE] __attribute__((aligned(PAGE)));
static uint64_t pd[TABLE] __attribute__((aligned(PAGE)));
static uint64_t pt[MAX_PAGES / TABLE][TABLE] __attribute__((aligned(PAGE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

static void map_region(uint64_t pages)
{
    for (uint64_t k = 0; k < pages; k++)
        pt[k / TABLE][k % TABLE] = (FRAMES + k * PAGE) | PTE_P | PTE_W;
    for (uint64_t t = 0; t * TABLE < pages; t++)
        pd[t] = pa(pt[t]) | PTE_P | PTE_W;
    pdpt[0] = pa(pd) | PTE_P | PTE_W;
    rt_pml4[1] = pa(pdpt) | PTE_P | PTE_W;
    write_cr3(read_cr3());
}

static uint64_t walk(uint64_t pages)
{
    uint64_t sum = 0;
    for (uint64_t k = 0; k < pages; k++)
        sum += *(volatile uint64_t *)(uintptr_t)(REGION + k * PAGE);
    return sum;
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {
        {"pages", 1, MAX_PAGES, 0}, {"passes", 1, 1000000, 0},
        {"reload", 0, 1, 0}};
    RT_ARGS_REQUIRE(boot, "tlbloop", args);
    uint64_t pages = rt_cmdline_u64(boot->cmdline, "pages", 32);
    uint64_t passes = rt_cmdline_u64(boot->cmdline, "passes", 4);
    uint64_t reload = rt_cmdline_u64(boot->cmdline, "reload", 0);
    if (FRAMES + pages * PAGE > rt_ram_bytes(boot))
        rt_panic("tlbloop: %lu pages from 32 MiB up: more than RAM holds",
                 pages);
    map_region(pages);
    /* Read before the first touches: under shadow paging a CR3 read can
     * exit, and a round trip through an L1 without VPIDs empties the
     * TLB (docs/cost-model.md). */
    uint64_t cr3 = read_cr3();
    /* First touches, each page given its number (page faults, which
     * under shadow paging are exits that can empty the TLB), then a pass
     * that fills the TLB. */
    for (uint64_t k = 0; k < pages; k++)
        *(volatile uint64_t *)(uintptr_t)(REGION + k * PAGE) = k;
    uint64_t sum = walk(pages);

    uint64_t start = rdtsc();
    for (uint64_t p = 0; p < passes; p++) {
        if (reload)
            write_cr3(cr3);
        sum += walk(pages);
    }
    uint64_t cycles = rdtsc() - start;
    rt_printf("RESULT tlbloop pages=%lu passes=%lu reload=%lu sum=%lu\n",
              pages, passes, reload, sum);
    rt_printf("METRIC tlbloop tsc_cycles=%lu tsc_per_access=%lu\n", cycles,
              cycles / (pages * passes));
    return RT_EXIT_OK;
}
