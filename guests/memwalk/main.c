/* memwalk: the memory-bound benchmark. Maps `size_mib` MiB of RAM (from
 * 16 MiB physical up) with 4 KiB pages at a linear address of its own,
 * writes one word into every page, then reads `reads` words at random
 * 4 KiB-aligned addresses of the region (xorshift64 from `seed`). Nearly
 * every read is a TLB miss once the region is larger than the TLB; the
 * host's time per read measures the emulator's page-walk path. The sum of
 * what was read is recomputed independently by tests/e2e/expected.py. */
#include "cpu.h"
#include "rt.h"

enum {
    PAGE = 4096,
    MIB = 1 << 20,
    SIZE_MAX_MIB = 256,
    TABLES = SIZE_MAX_MIB * MIB / (2 * MIB), /* page tables of 2 MiB each */
};
#define REGION_VA 0x0000008000000000ull /* PML4 entry 1: not the rt's map */
#define REGION_PA 0x1000000ull          /* 16 MiB: above the image */
#define PTE_P 1ull
#define PTE_W 2ull

extern uint64_t rt_pml4[512];

static uint64_t pdpt[512] __attribute__((aligned(PAGE)));
static uint64_t pd[512] __attribute__((aligned(PAGE)));
static uint64_t pt[TABLES][512] __attribute__((aligned(PAGE)));

/* The word stored in page `i`: distinct per page and seed. */
static uint64_t page_word(uint64_t i, uint64_t seed)
{
    return (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
}

/* Region page i -> physical REGION_PA + i * 4 KiB, supervisor, writable. */
static void map_region(uint64_t pages)
{
    for (uint64_t i = 0; i < pages; i++)
        pt[i / 512][i % 512] = (REGION_PA + i * PAGE) | PTE_P | PTE_W;
    for (uint64_t t = 0; t < (pages + 511) / 512; t++)
        pd[t] = (uint64_t)(uintptr_t)pt[t] | PTE_P | PTE_W;
    pdpt[0] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_W;
    rt_pml4[1] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_W;
    write_cr3(read_cr3());
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"size_mib", 1, SIZE_MAX_MIB, 0},
                                         {"reads", 1, 1000000000, 0},
                                         {"seed", 1, 0xFFFFFFFF, 0}};
    RT_ARGS_REQUIRE(boot, "memwalk", args);
    uint64_t size_mib = rt_cmdline_u64(boot->cmdline, "size_mib", 64);
    uint64_t reads = rt_cmdline_u64(boot->cmdline, "reads", 1000000);
    uint64_t seed = rt_cmdline_u64(boot->cmdline, "seed", 1);
    uint64_t have = rt_ram_bytes(boot);
    if (have < REGION_PA + size_mib * MIB)
        rt_panic("memwalk: size_mib=%lu needs %lu MiB of RAM, the machine "
                 "has %lu MiB (give it more or a smaller size)",
                 (unsigned long)size_mib,
                 (unsigned long)(REGION_PA / MIB + size_mib),
                 (unsigned long)(have / MIB));

    uint64_t pages = size_mib * MIB / PAGE;
    map_region(pages);
    volatile uint64_t *region = (volatile uint64_t *)(uintptr_t)REGION_VA;
    for (uint64_t i = 0; i < pages; i++)
        region[i * (PAGE / 8)] = page_word(i, seed);

    /* The reads are the region of interest (docs/exit-stats.md): Figure
     * 9's compute-like ratio of l1vmm's paging modes is taken there,
     * without the first touch of every page. */
    uint64_t state = seed, sum = 0;
    roi_start();
    uint64_t start = rdtsc();
    for (uint64_t k = 0; k < reads; k++) {
        uint64_t page = rt_xorshift64(&state) % pages;
        sum = sum * 0x100000001B3ull ^ region[page * (PAGE / 8)];
    }
    uint64_t cycles = rdtsc() - start;
    roi_end();

    rt_printf("RESULT memwalk size_mib=%lu reads=%lu seed=%lu sum=%#lx\n",
              size_mib, reads, seed, sum);
    rt_printf("METRIC memwalk tsc_cycles=%lu tsc_per_read=%lu\n", cycles,
              cycles / reads);
    return RT_EXIT_OK;
}
