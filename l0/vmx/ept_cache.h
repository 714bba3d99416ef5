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
 * else (a violation, a misconfiguration) walks.
 *
 * A walk that ends in a 2 MiB or 1 GiB page is kept once for its whole
 * 2 MiB piece, in a second array indexed by that piece: every address
 * in it indexes the same entries at the levels above the leaf and
 * reaches the same leaf (bits 20:0 select no entry, SDM Vol. 3C 29.3.2),
 * so its walk reads the same entries and gives the same permissions,
 * page size and reference count. A guest touching many 4 KiB pages of
 * one large EPT page then walks once, not once per page. */
#ifndef L0_VMX_EPT_CACHE_H
#define L0_VMX_EPT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

enum { EPT_CACHE_BITS = 8, EPT_CACHE_SIZE = 1 << EPT_CACHE_BITS };
/* 2 MiB pieces: 256 MiB of guest-physical space without a collision. */
enum { EPT_CACHE_LARGE_BITS = 7, EPT_CACHE_LARGE = 1 << EPT_CACHE_LARGE_BITS };
enum { EPT_CACHE_PIECE_PAGES = 512 }; /* 4 KiB pages in a 2 MiB piece */

struct ept_cache_entry {
    /* 4 KiB page numbers; in the large array, of the piece's first page */
    uint64_t eptp, gpa_page, hpa_page;
    uint64_t generation; /* 0: empty */
    uint8_t perms;       /* EPT_R|W|X of the walk */
    uint8_t refs;        /* entries the walk read, for the counters */
    uint8_t page_shift;  /* log2 of the walk's page size */
};

/* The pages of the guest's paging structures that recent walks went
 * through (EPT_ORIGIN_GUEST_PAGING), kept again at 4 KiB and indexed by
 * their page number: a guest's walks read the same few table pages
 * (the same PML4, PDPT and PD at nearly every walk), found here with one
 * comparison and without the call of a walk (cpu/mmu.c, eptmmu.h). Its
 * slots are chosen by the EPTP's root page too, as the others'. */
enum { EPT_CACHE_TABLES = 64 };

struct ept_cache {
    struct ept_cache_entry e[EPT_CACHE_SIZE];
    struct ept_cache_entry large[EPT_CACHE_LARGE]; /* 2 MiB pieces */
    struct ept_cache_entry tables[EPT_CACHE_TABLES]; /* paging structures */
    uint64_t generation; /* current; starts at 1 (ept_cache_invalidate) */
    uint64_t hits, walks; /* host-side figures, not in any result */
};

/* The slots are chosen by the EPTP's root page as well as the address:
 * under L1 and L2 the same guest-physical pages (each loaded at 1 MiB)
 * go through different EPTPs, which must not keep evicting each other
 * at every nested transition. */
static inline struct ept_cache_entry *
ept_cache_slot(struct ept_cache *k, uint64_t eptp, uint64_t gpa)
{
    uint64_t page = gpa >> 12;
    return &k->e[(page ^ (page >> EPT_CACHE_BITS) ^ (eptp >> 12)) &
                 (EPT_CACHE_SIZE - 1)];
}

static inline struct ept_cache_entry *
ept_cache_large_slot(struct ept_cache *k, uint64_t eptp, uint64_t gpa)
{
    return &k->large[((gpa >> 21) ^ (eptp >> 12)) & (EPT_CACHE_LARGE - 1)];
}

/* The entry of this EPTP that holds `gpa`'s walk, or NULL; *hpa gets
 * the translation of `gpa`. */
static inline const struct ept_cache_entry *
ept_cache_find(struct ept_cache *k, uint64_t eptp, uint64_t gpa,
               uint64_t *hpa)
{
    uint64_t page = gpa >> 12;
    const struct ept_cache_entry *e = ept_cache_slot(k, eptp, gpa);
    if (k->generation == 0)
        return NULL;
    if (e->generation == k->generation && e->eptp == eptp &&
        e->gpa_page == page) {
        *hpa = e->hpa_page << 12 | (gpa & 0xFFF);
        return e;
    }
    uint64_t offset = page & (EPT_CACHE_PIECE_PAGES - 1);
    e = ept_cache_large_slot(k, eptp, gpa);
    if (e->generation == k->generation && e->eptp == eptp &&
        e->gpa_page == page - offset) {
        *hpa = (e->hpa_page + offset) << 12 | (gpa & 0xFFF);
        return e;
    }
    return NULL;
}

static inline struct ept_cache_entry *
ept_cache_table_slot(struct ept_cache *k, uint64_t eptp, uint64_t gpa)
{
    return &k->tables[((gpa >> 12) ^ (eptp >> 12)) & (EPT_CACHE_TABLES - 1)];
}

/* The entry of this EPTP for the paging-structure page holding `gpa`,
 * or NULL. */
static inline const struct ept_cache_entry *
ept_cache_find_table(struct ept_cache *k, uint64_t eptp, uint64_t gpa)
{
    const struct ept_cache_entry *e = ept_cache_table_slot(k, eptp, gpa);
    if (k->generation != 0 && e->generation == k->generation &&
        e->eptp == eptp && e->gpa_page == gpa >> 12)
        return e;
    return NULL;
}

/* Every entry stops matching. */
static inline void ept_cache_invalidate(struct ept_cache *k)
{
    k->generation++;
}

#endif
