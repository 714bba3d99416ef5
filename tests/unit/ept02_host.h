/* The small host under EPT02 of tests/unit/test_ept02.c and
 * fuzz/lf_ept02.c: L1's RAM (4 MiB of L1-physical space at host-physical
 * L1_HOST), EPT01's tables and a pool of pages for EPT02, each a fake
 * memory that refuses addresses outside it. L1's memory is reached
 * through EPT01 with vmx/ept.c, as L0 reaches it. EPT01 maps L1-physical
 * [0, 2 MiB) with one 2 MiB page and [2 MiB, 4 MiB) with 4 KiB pages,
 * nothing above. */
#ifndef TESTS_UNIT_EPT02_HOST_H
#define TESTS_UNIT_EPT02_HOST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ept-compress/ept02.h"

enum { MAXPHY = 39, PAGE = 0x1000 };

#define MIB (1ull << 20)
#define CAP_ALL                                                               \
    (EPT_CAP_EXEC_ONLY | EPT_CAP_WALK_LENGTH_4 | EPT_CAP_MEMTYPE_UC |         \
     EPT_CAP_MEMTYPE_WB | EPT_CAP_2M_PAGES | EPT_CAP_1G_PAGES |               \
     EPT_CAP_AD_FLAGS)

/* Host-physical layout: L1 RAM, EPT01's 4 tables, EPT02's page pool. */
#define L1_RAM_SIZE (4 * MIB)
#define L1_HOST 0x40000000ull
#define EPT01_HOST 0x80000000ull
#define EPT02_HOST 0xC0000000ull
enum { EPT01_PAGES = 4, POOL_PAGES = 64 };

static uint8_t l1_ram[L1_RAM_SIZE];
static uint8_t ept01_mem[EPT01_PAGES * PAGE];
static uint8_t pool[POOL_PAGES * PAGE] __attribute__((aligned(8)));
static unsigned pool_used, pool_limit;
static unsigned stray_host_reads; /* host reads outside every fake */
static unsigned failed_l1_reads;  /* L1 reads that EPT01 did not map */

static uint8_t *host_ptr(uint64_t hpa, unsigned len)
{
    static const struct {
        uint64_t base;
        uint8_t *mem;
        uint64_t size;
    } regions[] = {
        {L1_HOST, l1_ram, sizeof l1_ram},
        {EPT01_HOST, ept01_mem, sizeof ept01_mem},
        {EPT02_HOST, pool, sizeof pool},
    };
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
        if (hpa >= regions[i].base && len <= regions[i].size &&
            hpa - regions[i].base <= regions[i].size - len)
            return regions[i].mem + (hpa - regions[i].base);
    return NULL;
}

static bool host_read(void *ctx, uint64_t hpa, void *dst, unsigned len)
{
    (void)ctx;
    uint8_t *p = host_ptr(hpa, len);
    if (!p) {
        stray_host_reads++;
        return false;
    }
    memcpy(dst, p, len);
    return true;
}

/* EPT01's table pages, at these offsets of ept01_mem. */
enum {
    EPT01_PML4 = 0x0000, EPT01_PDPT = 0x1000, EPT01_PD = 0x2000,
    EPT01_PT = 0x3000,
};
#define EPT01_EPTP (EPT01_HOST | 6 | 3 << 3) /* WB, 4 levels */

static void ept01_set(uint64_t off, uint64_t v)
{
    memcpy(&ept01_mem[off], &v, 8);
}

static const struct ept_config ept01 = {
    .eptp = EPT01_EPTP, .cap = CAP_ALL, .maxphyaddr = MAXPHY,
    .read = host_read,
};

/* L1's memory as L0 reads it: through EPT01. */
static bool l1_access(uint64_t l1pa, unsigned len, enum ept_access a,
                      uint8_t **p)
{
    struct ept_result r;
    ept_walk(&ept01, l1pa, a, EPT_ORIGIN_NO_LINEAR, &r);
    *p = r.status == EPT_OK ? host_ptr(r.hpa, len) : NULL;
    if (!*p)
        failed_l1_reads++;
    return *p != NULL;
}

static bool read_l1(void *ctx, uint64_t l1pa, void *dst, unsigned len)
{
    (void)ctx;
    uint8_t *p;
    if (!l1_access(l1pa, len, EPT_ACCESS_READ, &p))
        return false;
    memcpy(dst, p, len);
    return true;
}

static bool write_l1(void *ctx, uint64_t l1pa, const void *src, unsigned len)
{
    (void)ctx;
    uint8_t *p;
    if (!l1_access(l1pa, len, EPT_ACCESS_WRITE, &p))
        return false;
    memcpy(p, src, len);
    return true;
}

static uint64_t pool_alloc(void *ctx)
{
    (void)ctx;
    if (pool_used == pool_limit)
        return 0;
    memset(&pool[pool_used * PAGE], 0, PAGE);
    return EPT02_HOST + PAGE * pool_used++;
}

/* A page EPT02 was given; anything else is a bug of EPT02's. */
static uint64_t *pool_page(void *ctx, uint64_t hpa)
{
    (void)ctx;
    uint8_t *p = host_ptr(hpa, PAGE);
    if (!p || hpa < EPT02_HOST || hpa >= EPT02_HOST + PAGE * pool_used) {
        fprintf(stderr, "EPT02 asked for a page it was not given: %#llx\n",
                (unsigned long long)hpa);
        abort();
    }
    return (uint64_t *)(void *)p;
}

/* Empty memories, a full pool, zero counters, and EPT01 as above. */
static void ept02_host_reset(void)
{
    memset(l1_ram, 0, sizeof l1_ram);
    memset(ept01_mem, 0, sizeof ept01_mem);
    pool_used = 0;
    pool_limit = POOL_PAGES;
    stray_host_reads = failed_l1_reads = 0;
    ept01_set(EPT01_PML4, (EPT01_HOST + EPT01_PDPT) | 7);
    ept01_set(EPT01_PDPT, (EPT01_HOST + EPT01_PD) | 7);
    ept01_set(EPT01_PD + 0 * 8, L1_HOST | 1 << 7 | 6 << 3 | 7);
    ept01_set(EPT01_PD + 1 * 8, (EPT01_HOST + EPT01_PT) | 7);
    for (unsigned i = 0; i < 512; i++)
        ept01_set(EPT01_PT + i * 8,
                  (L1_HOST + 2 * MIB + i * PAGE) | 6 << 3 | 7);
}

#endif
