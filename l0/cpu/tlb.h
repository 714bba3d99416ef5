/* The software TLB: linear page -> host pointer or physical page, with
 * the permissions of the whole walk. Direct-mapped, 4 KiB granularity;
 * a translation from a 2 MiB or 1 GiB page remembers its size so that
 * INVLPG removes every piece of it (SDM Vol. 3A 4.10.4.1). */
#ifndef L0_CPU_TLB_H
#define L0_CPU_TLB_H

#include <stdint.h>

enum { TLB_BITS = 10, TLB_SIZE = 1 << TLB_BITS };

/* Permission bits: the AND of U/S and R/W over all levels, the OR of XD,
 * and whether the leaf's dirty bit is already set. */
enum {
    TLB_USER = 1 << 0,
    TLB_WRITE = 1 << 1,
    TLB_NX = 1 << 2,
    TLB_DIRTY = 1 << 3,
    TLB_GLOBAL = 1 << 4,
};

struct tlb_entry {
    uint64_t tag;     /* (linear >> 12) + 1; 0 = empty */
    uint8_t *host;    /* the page in host memory, or NULL (not RAM) */
    uint64_t phys;    /* physical address of the 4 KiB page */
    uint64_t page_mask; /* ~(size - 1) of the translation's page */
    uint32_t perm;
};

struct tlb {
    struct tlb_entry e[TLB_SIZE];
    uint64_t fills, flushes; /* counted for the statistics */
    uint64_t generation;     /* bumped by every flush of any kind */
};

static inline struct tlb_entry *tlb_slot(struct tlb *t, uint64_t linear)
{
    return &t->e[(linear >> 12) & (TLB_SIZE - 1)];
}

void tlb_flush_all(struct tlb *t);
void tlb_flush_nonglobal(struct tlb *t);
void tlb_flush_page(struct tlb *t, uint64_t linear);

#endif
