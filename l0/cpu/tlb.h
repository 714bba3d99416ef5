/* The software TLB: linear page -> host pointer or physical page, with
 * the permissions of the whole walk. Direct-mapped, 4 KiB granularity;
 * a translation from a 2 MiB or 1 GiB page remembers its size so that
 * INVLPG removes every piece of it (SDM Vol. 3A 4.10.4.1).
 *
 * This is the emulator's own host-side structure (DESIGN.md: two TLBs).
 * A flush is O(1): each tag carries the epoch it was filled in, in the
 * 12 bits above the 52-bit linear page number, and a flush starts a new
 * epoch, so every older entry stops matching. Only when the epochs run
 * out is the array cleared. Which translations a flush removes is
 * exactly what a cleared array would remove. An epoch can also be set
 * aside and made current again later (tlb_set_aside, tlb_take_back):
 * the entries of that epoch still in the array then match again. */
#ifndef L0_CPU_TLB_H
#define L0_CPU_TLB_H

#include <stdbool.h>
#include <stdint.h>

enum { TLB_BITS = 10, TLB_SIZE = 1 << TLB_BITS };

enum {
    TLB_EPOCH_SHIFT = 52, /* bits 63:52 of a tag; 63:12 of a linear address
                           * are 52 bits */
    TLB_EPOCHS = 1 << (64 - TLB_EPOCH_SHIFT), /* epoch 0 is never current */
};

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
    uint64_t tag;     /* tlb_tag() of the page when filled; 0 = empty */
    uint8_t *host;    /* the page in host memory, or NULL (not RAM) */
    uint64_t phys;    /* physical address of the 4 KiB page */
    uint64_t page_mask; /* ~(size - 1) of the translation's page */
    uint32_t perm;
};

struct tlb {
    struct tlb_entry e[TLB_SIZE];
    uint64_t fills, flushes; /* counted for the statistics */
    uint64_t generation;     /* bumped by every flush of any kind */
    uint64_t epoch;          /* the current epoch << TLB_EPOCH_SHIFT */
    /* Since the last full flush: whether any global or any large-page
     * translation was filled (the partial flushes then need a scan). */
    uint64_t globals, large;
    /* Epochs are handed out in increasing order (epoch_last is the
     * latest), so that one set aside (tlb_set_aside) is never reused;
     * `wraps` counts the clearings when they run out. */
    uint64_t epoch_last, wraps;
};

/* The translations of one context, set aside while another runs (VM
 * exit to L0 and back, vmx/transition.c): their epoch, valid while no
 * clearing of the array happened since. */
struct tlb_aside {
    bool held;
    uint64_t epoch, globals, large, wraps;
};

/* The walk cache: what successful page walks found, per linear page, so
 * that refilling the TLB after a flush (every VM entry and exit of a
 * guest without VPID flushes it) looks the walk up instead of making it
 * again. Also the emulator's own host-side structure: a hit gives
 * exactly what the walk would (mmu.c, walk_cache_keep, walk_cached).
 *
 * A walk is kept only when a second one would read and find the same:
 * its translation context is the key (CR3, paging mode, NXE, PGE, VMX
 * non-root operation, EPT and EPTP, the APIC-access page, the EPT
 * cache's generation), and every page it read an entry from is marked
 * (CODE_MAP_TABLE, decode.h), so that a write there which changes a
 * byte starts a new generation here, in O(1), and every walk kept
 * before stops matching. A flush of the TLB itself leaves the cache
 * alone: the architecture asks that a walk follow it, and the one kept
 * is exactly that walk. */
enum { WALK_CACHE_BITS = 8, WALK_CACHE_SIZE = 1 << WALK_CACHE_BITS };

struct walk_cache_entry {
    uint64_t page;       /* linear address >> 12 */
    uint64_t cr3, eptp, apic_page;
    uint64_t mode;       /* walk_mode_key(); 0 = empty */
    uint64_t generation; /* the cache's, when kept */
    uint64_t ept_generation;
    uint64_t gpa;        /* the guest-physical 4 KiB page it gave */
    uint64_t page_mask;  /* ~(size - 1) of the guest's page */
    uint32_t perm;       /* TLB_* of the walk, before the EPT's */
    uint8_t refs;        /* entries the walk read, EPT's included */
    uint8_t ept_refs;    /* of those, the EPT's (vmx.ept_walk_refs) */
    uint8_t ept_hits;    /* EPT cache hits the walk made */
};

struct walk_cache {
    struct walk_cache_entry e[WALK_CACHE_SIZE];
    uint64_t generation; /* bumped by a write to a marked page */
    uint64_t hits;       /* host-side figure, in no result */
    bool keep_first;     /* tests: keep a page's first walk, not its second */
};

static inline struct tlb_entry *tlb_slot(struct tlb *t, uint64_t linear)
{
    return &t->e[(linear >> 12) & (TLB_SIZE - 1)];
}

/* The tag a current entry for `linear` holds. */
static inline uint64_t tlb_tag(const struct tlb *t, uint64_t linear)
{
    return (linear >> 12) | t->epoch;
}

void tlb_init(struct tlb *t);

/* A new entry in `slot` for `linear`; the caller fills the rest. Inline:
 * every TLB miss makes one. */
static inline void tlb_fill(struct tlb *t, struct tlb_entry *slot,
                            uint64_t linear, uint32_t perm,
                            uint64_t page_mask)
{
    slot->tag = tlb_tag(t, linear);
    slot->perm = perm;
    slot->page_mask = page_mask;
    if (perm & TLB_GLOBAL)
        t->globals++;
    if (page_mask != ~0xFFFull)
        t->large++;
}
void tlb_flush_all(struct tlb *t);
void tlb_flush_nonglobal(struct tlb *t);
void tlb_flush_page(struct tlb *t, uint64_t linear);
/* Sets the current translations aside in `a` and starts with none, in
 * O(1): to the CPU this is tlb_flush_all. */
void tlb_set_aside(struct tlb *t, struct tlb_aside *a);
/* Makes the translations set aside in `a` current again (their entries
 * that other epochs have not overwritten), or, when `a` holds none or
 * the array was cleared since, flushes everything. `a` is then empty. */
void tlb_take_back(struct tlb *t, struct tlb_aside *a);

#endif
