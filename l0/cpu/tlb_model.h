/* The modeled TLB: the sizes, associativity and tags of a documented CPU
 * (Haswell), consulted on every translation the emulated CPU makes. It
 * decides modeled cycles only: whether an access hits the first-level
 * TLB, hits the second-level TLB (STLB), or misses and pays the page
 * walk's memory references (docs/cost-model.md). It never translates:
 * the emulator's own host-side TLB (cpu/tlb.h) does that, and neither
 * changes the other's results.
 *
 * Geometry (Intel 64 and IA-32 Architectures Optimization Reference
 * Manual, the Haswell microarchitecture's table of TLB parameters):
 *   ITLB  4 KiB: 128 entries, 4-way; 2/4 MiB: 8 entries, fully assoc.
 *   DTLB  4 KiB: 64 entries, 4-way; 2/4 MiB: 32 entries, 4-way;
 *         1 GiB: 4 entries, 4-way
 *   STLB  4 KiB and 2 MiB pages shared: 1024 entries, 8-way
 * Replacement is LRU within a set (the real policy is not documented).
 * Simplified: the ITLB keeps a 1 GiB page as the 2 MiB piece fetched
 * (Haswell's ITLB has no 1 GiB entries); the STLB holds no 1 GiB pages
 * (neither does Haswell's); there are no paging-structure caches, so a
 * miss pays every reference of the walk.
 *
 * Tags (SDM Vol. 3A 4.10.1, 4.10.2.4; Vol. 3C 29.4.1): every entry
 * belongs to a VPID (0 in VMX root operation and without "enable VPID")
 * and a PCID (0 unless CR4.PCIDE = 1); a combined mapping (EPT in use)
 * also to an EP4TA, the EPTP's bits 51:12 (0 here for linear mappings,
 * made without EPT). A global entry matches any PCID. With EPT and guest
 * paging off the CPU caches guest-physical mappings instead (29.4.1):
 * tagged by EP4TA alone, never used for a linear address, and removed
 * only by INVEPT. */
#ifndef L0_CPU_TLB_MODEL_H
#define L0_CPU_TLB_MODEL_H

#include <stdbool.h>
#include <stdint.h>

enum tlbm_page { TLBM_4K, TLBM_2M, TLBM_1G, TLBM_PAGE_SIZES };

static inline unsigned tlbm_page_shift(unsigned size)
{
    return 12 + 9 * size; /* 4 KiB, 2 MiB, 1 GiB */
}

/* The context a translation is made in. */
struct tlbm_tag {
    uint16_t vpid;
    uint16_t pcid;
    uint64_t ep4ta; /* 0: a linear mapping (no EPT) */
    bool guest_phys; /* a guest-physical mapping (EPT, guest paging off) */
};

struct tlbm_entry {
    uint64_t vpn;   /* linear address >> the page size's shift */
    uint64_t ep4ta;
    uint16_t vpid, pcid;
    uint8_t size;   /* enum tlbm_page */
    bool global;
    bool guest_phys;
    /* Host speed only: while not empty, the entry is on the list of its
     * VPID's bucket (tlb_model.c, "VPID lists"); pool indices. */
    uint16_t next, prev;
};

/* One set-associative array holding one or more page sizes. */
struct tlbm_array {
    unsigned sets, ways;
    unsigned sizes; /* bit per enum tlbm_page it holds */
    struct tlbm_entry *e; /* sets * ways */
    /* Per entry of e, beside it (host speed only: a set's keys are one
     * cache line, searched without the entries): its page and size
     * packed in one word (tlbm_key; 0 = empty), so that the whole tag is
     * compared only where the page matches. */
    uint64_t *key;
    /* Per set (host speed only): its ways in the order of their last
     * use, 4 bits a way, the least recent lowest, and a bit per empty
     * way (tlb_model.c, "LRU order"). */
    uint32_t *order;
    uint8_t *empty;
    unsigned way_bits; /* log2(ways) */
    unsigned live; /* entries not empty (a search of none is skipped) */
    unsigned live_size[TLBM_PAGE_SIZES]; /* of them, per page size */
};

/* An entry's key: its page number, its size, and a bit that no empty
 * entry has. Page numbers have at most 52 bits. */
static inline uint64_t tlbm_key(uint64_t vpn, unsigned size)
{
    return vpn << 3 | (uint64_t)size << 1 | 1;
}

/* The non-empty entries, listed by VPID modulo this many buckets. */
enum { TLBM_VPID_LISTS = 64 };

enum tlbm_array_id {
    TLBM_ITLB_4K, TLBM_ITLB_2M, TLBM_DTLB_4K, TLBM_DTLB_2M, TLBM_DTLB_1G,
    TLBM_STLB, TLBM_ARRAYS
};

enum tlbm_result { TLBM_HIT, TLBM_STLB_HIT, TLBM_MISS };

struct tlbm_stats {
    uint64_t hits;      /* first-level (ITLB/DTLB) hits */
    uint64_t stlb_hits; /* first-level misses that hit the STLB */
    uint64_t misses;    /* misses of both levels: a page walk */
    uint64_t walk_refs; /* paging-structure references of those walks */
    uint64_t flushes;   /* invalidation operations performed */
    uint64_t cycles;    /* modeled cycles charged for STLB hits and walks */
};

struct tlb_model {
    struct tlbm_array a[TLBM_ARRAYS];
    struct tlbm_entry *pool; /* every array's entries, one after another */
    uint64_t *keys; /* their keys, likewise */
    uint32_t *orders; /* every array's sets' LRU orders */
    uint8_t *empties; /* and empty ways */
    uint16_t list[TLBM_VPID_LISTS]; /* first entry of each VPID bucket */
    /* The last first-level hit, per side (fetch, data): the same page
     * again, with nothing else done on that side since, is a hit on the
     * same (already most recent) entry, found without a search. */
    struct tlbm_entry *last[2];
    struct tlbm_stats stats;
    /* The last lookup's miss (host speed only): a fill of that page in
     * that context needs no search for the same translation, which the
     * lookup proved absent from every array. */
    struct tlbm_miss {
        bool valid, fetch;
        uint64_t linear;
        struct tlbm_tag tag;
    } miss;
    /* One access made of pieces (tlb_charge.h, tlb_charge_one_access):
     * while `one_access`, a data lookup of the page the last one found
     * is not made again. */
    bool one_access, access_charged;
    /* Modeled cycles, from the cost profile (hv/cost.h). */
    uint32_t stlb_hit_cycles, walk_ref_cycles;
};

struct tlb_model *tlbm_create(void);
void tlbm_destroy(struct tlb_model *t);

/* Looks the page of `linear` up for an instruction fetch (fetch = true)
 * or a data access, and counts the outcome. On TLBM_MISS the caller
 * walks and calls tlbm_fill with what the walk found. */
enum tlbm_result tlbm_lookup(struct tlb_model *t, uint64_t linear,
                             bool fetch, struct tlbm_tag tag);
/* The side's last first-level hit, if `linear` is on its page in this
 * context: a hit, counted, with nothing else to do (the entry is already
 * the most recent of its set). */
static inline bool tlbm_is_last_page(const struct tlb_model *t,
                                     uint64_t linear, bool fetch,
                                     struct tlbm_tag tag)
{
    const struct tlbm_entry *e = t->last[fetch];
    return e && e->vpn == linear >> tlbm_page_shift(e->size) &&
           e->vpid == tag.vpid && e->ep4ta == tag.ep4ta &&
           e->guest_phys == tag.guest_phys &&
           (e->global || e->pcid == tag.pcid);
}

static inline bool tlbm_same_page(struct tlb_model *t, uint64_t linear,
                                  bool fetch, struct tlbm_tag tag)
{
    if (!tlbm_is_last_page(t, linear, fetch, tag))
        return false;
    t->stats.hits++;
    return true;
}

/* tlbm_lookup() of a page that tlbm_same_page() has just said is not
 * the side's last: the same outcome and counts, without asking again. */
enum tlbm_result tlbm_lookup_other_page(struct tlb_model *t, uint64_t linear,
                                        bool fetch, struct tlbm_tag tag);

/* tlbm_lookup_other_page() of a page whose walk is already known (the
 * MMU made it for this access: cpu.h, walk_memo), and on TLBM_MISS the
 * tlbm_fill() of that walk at once: the same outcome, counts, cycles and
 * entries as the two calls, without searching the sets again. */
enum tlbm_result tlbm_lookup_walked(struct tlb_model *t, uint64_t linear,
                                    bool fetch, struct tlbm_tag tag,
                                    enum tlbm_page size, bool global,
                                    unsigned refs);

/* Caches a walk's translation in the first level and the STLB; `refs`
 * is the walk's paging-structure reference count, charged here. */
void tlbm_fill(struct tlb_model *t, uint64_t linear, bool fetch,
               struct tlbm_tag tag, enum tlbm_page size, bool global,
               unsigned refs);
/* A walk that ended in a fault: its references are charged, nothing is
 * cached (SDM Vol. 3A 4.10.2.1: no entry for a faulting translation). */
void tlbm_fill_failed(struct tlb_model *t, unsigned refs);

/* ---- invalidation, each as the architecture defines it --------------- */

/* Everything (used at reset). */
void tlbm_flush_all(struct tlb_model *t);
/* INVLPG (SDM Vol. 3A 4.10.4.1, Vol. 3C 29.4.3.1): the page's entries of
 * the current VPID and PCID, for every EP4TA, and its global entries of
 * any PCID. */
void tlbm_invlpg(struct tlb_model *t, struct tlbm_tag cur, uint64_t linear);
/* MOV to CR3 (4.10.4.1) without the no-flush bit 63: the non-global
 * entries of the current VPID and the PCID loaded (000H with CR4.PCIDE
 * = 0). */
void tlbm_mov_cr3(struct tlb_model *t, uint16_t vpid, uint16_t pcid);
/* MOV to CR4 changing PGE, or PCIDE from 1 to 0, and MOV to CR0
 * changing PG from 1 to 0 (4.10.4.1): all entries of the current VPID,
 * global ones included, for all PCIDs. */
void tlbm_flush_vpid(struct tlb_model *t, uint16_t vpid);
/* MOV to CR4 changing PAE, or SMEP from 0 to 1 (4.10.4.1): all entries of
 * the current VPID and PCID. */
void tlbm_flush_pcid(struct tlb_model *t, uint16_t vpid, uint16_t pcid);
/* INVPCID types 0-3 (SDM Vol. 2B INVPCID; 4.10.4.1), current VPID. */
void tlbm_invpcid(struct tlb_model *t, uint16_t vpid, unsigned type,
                  uint16_t pcid, uint64_t linear);
/* INVVPID types 0-3 (SDM Vol. 2C INVVPID; Vol. 3C 29.4.3.1): linear and
 * combined mappings; type 2 spares VPID 0. */
void tlbm_invvpid(struct tlb_model *t, unsigned type, uint16_t vpid,
                  uint64_t linear);
/* INVEPT (SDM Vol. 2C INVEPT; 29.4.3.1): the combined mappings of one
 * EP4TA (single context) or of all EP4TAs (all_contexts). */
void tlbm_invept(struct tlb_model *t, bool all_contexts, uint64_t ep4ta);
/* INVEPT-like, for L0: the combined mappings of every EP4TA but `keep`. */
void tlbm_invept_except(struct tlb_model *t, uint64_t keep);

/* The number of entries of an array (for tests and documentation). */
static inline unsigned tlbm_capacity(const struct tlb_model *t,
                                     enum tlbm_array_id id)
{
    return t->a[id].sets * t->a[id].ways;
}

#endif
