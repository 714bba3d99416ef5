/* Physical memory for the unit tests of code that reads and writes
 * memory through callbacks (EPT walks, VM-entry checks, exit bitmaps,
 * vmcs12 regions): MEM_SIZE bytes at MEM_BASE, both defined by the test
 * before including this. An access that does not lie wholly inside fails,
 * as one to unbacked memory does. */
#ifndef TESTS_UNIT_FAKE_PHYS_H
#define TESTS_UNIT_FAKE_PHYS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static uint8_t mem[MEM_SIZE];
static unsigned fake_writes; /* successful fake_write calls */

/* [pa, pa + len) in mem, or NULL if it is not all there. */
static inline uint8_t *fake_at(uint64_t pa, unsigned len)
{
    uint64_t off = pa - (uint64_t)MEM_BASE; /* huge below MEM_BASE */
    return off < MEM_SIZE && len <= MEM_SIZE - off ? &mem[off] : NULL;
}

static inline bool fake_read(void *ctx, uint64_t pa, void *dst, unsigned len)
{
    (void)ctx;
    const uint8_t *p = fake_at(pa, len);
    if (p)
        memcpy(dst, p, len);
    return p != NULL;
}

static inline bool fake_write(void *ctx, uint64_t pa, const void *src,
                             unsigned len)
{
    (void)ctx;
    uint8_t *p = fake_at(pa, len);
    if (p) {
        memcpy(p, src, len);
        fake_writes++;
    }
    return p != NULL;
}

#endif
