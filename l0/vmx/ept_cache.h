/* The EPT translation cache: guest-physical page -> host-physical page
 * for successful EPT walks, so that a two-dimensional refill (every
 * paging-structure entry and the final address go through the EPT) does
 * not walk the EPT five times. The emulator's own host-side structure
 * (DESIGN.md: two TLBs), not the modeled TLB: a hit gives exactly what
 * the walk would, counters included.
 *
 * It holds a walk only when nothing can change what the walk reads
 * without the cache hearing of it:
 * - every EPT entry was read from memory only L0 has (above RAM, where
 *   L0 keeps EPT01 and EPT02), never from the machine's RAM, which the
 *   guest can write;
 * - L0 calls vmx_ept_tables_changed() whenever it may write its EPT
 *   tables (l0/hv/ept01.c, the EPT02 page callback in nested.c), which
 *   empties the cache in O(1) by a generation;
 * - the EPTP has no accessed/dirty flags (bit 6): such a walk writes;
 * - the capability MSR and MAXPHYADDR the walk checks entries against
 *   are the machine's constants (transition.c), so the EPTP is the key.
 * A hit still needs the cached permissions to cover the access; anything
 * else (a violation, a misconfiguration) walks. */
#ifndef L0_VMX_EPT_CACHE_H
#define L0_VMX_EPT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

enum { EPT_CACHE_BITS = 8, EPT_CACHE_SIZE = 1 << EPT_CACHE_BITS };

struct ept_cache_entry {
    uint64_t eptp, gpa_page, hpa_page;
    uint64_t generation; /* 0: empty */
    uint8_t perms;       /* EPT_R|W|X of the walk */
    uint8_t refs;        /* entries the walk read, for the counters */
    uint8_t page_shift;  /* log2 of the walk's page size */
};

struct ept_cache {
    struct ept_cache_entry e[EPT_CACHE_SIZE];
    uint64_t generation; /* current; starts at 1 (ept_cache_invalidate) */
    uint64_t hits, walks; /* host-side figures, not in any result */
};

static inline struct ept_cache_entry *ept_cache_slot(struct ept_cache *k,
                                                     uint64_t gpa)
{
    uint64_t page = gpa >> 12;
    return &k->e[(page ^ (page >> EPT_CACHE_BITS)) & (EPT_CACHE_SIZE - 1)];
}

/* Every entry stops matching. */
static inline void ept_cache_invalidate(struct ept_cache *k)
{
    k->generation++;
}

#endif
