#include "cpu/tlb_model.h"

#include <stdlib.h>

/* Haswell's arrays (tlb_model.h): entries, ways, page sizes held. */
static const struct {
    unsigned entries, ways, sizes;
} geometry[TLBM_ARRAYS] = {
    [TLBM_ITLB_4K] = {128, 4, 1u << TLBM_4K},
    [TLBM_ITLB_2M] = {8, 8, 1u << TLBM_2M},
    [TLBM_DTLB_4K] = {64, 4, 1u << TLBM_4K},
    [TLBM_DTLB_2M] = {32, 4, 1u << TLBM_2M},
    [TLBM_DTLB_1G] = {4, 4, 1u << TLBM_1G},
    [TLBM_STLB] = {1024, 8, (1u << TLBM_4K) | (1u << TLBM_2M)},
};

/* ---- VPID lists --------------------------------------------------------
 * Host speed only, no modeled effect: every non-empty entry is on a
 * doubly linked list of its VPID's bucket, so that an invalidation of one
 * VPID (every VM entry and exit of an L1 without VPIDs flushes two)
 * visits that VPID's entries instead of all 1,260. Which entries it
 * empties is the same as a scan of every array would empty. */
enum { TLBM_NONE = 0xFFFF };

static uint16_t *list_head(struct tlb_model *t, uint16_t vpid)
{
    return &t->list[vpid % TLBM_VPID_LISTS];
}

static void list_add(struct tlb_model *t, struct tlbm_entry *e)
{
    uint16_t *head = list_head(t, e->vpid), k = (uint16_t)(e - t->pool);
    e->prev = TLBM_NONE;
    e->next = *head;
    if (*head != TLBM_NONE)
        t->pool[*head].prev = k;
    *head = k;
}

static void list_remove(struct tlb_model *t, struct tlbm_entry *e)
{
    if (e->prev != TLBM_NONE)
        t->pool[e->prev].next = e->next;
    else
        *list_head(t, e->vpid) = e->next;
    if (e->next != TLBM_NONE)
        t->pool[e->next].prev = e->prev;
}

struct tlb_model *tlbm_create(void)
{
    struct tlb_model *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    unsigned total = 0, sets = 0;
    for (unsigned i = 0; i < TLBM_ARRAYS; i++) {
        total += geometry[i].entries;
        sets += geometry[i].entries / geometry[i].ways;
    }
    _Static_assert(1024 + 128 + 64 + 32 + 8 + 4 < TLBM_NONE,
                   "pool indices fit in 16 bits");
    t->pool = calloc(total, sizeof *t->pool);
    t->keys = calloc(total, sizeof *t->keys);
    t->orders = calloc(sets, sizeof *t->orders);
    t->empties = calloc(sets, sizeof *t->empties);
    if (!t->pool || !t->keys || !t->orders || !t->empties) {
        tlbm_destroy(t);
        return NULL;
    }
    for (unsigned k = 0; k < TLBM_VPID_LISTS; k++)
        t->list[k] = TLBM_NONE;
    unsigned entry = 0, set = 0;
    for (unsigned i = 0; i < TLBM_ARRAYS; i++) {
        struct tlbm_array *a = &t->a[i];
        a->ways = geometry[i].ways;
        a->sets = geometry[i].entries / geometry[i].ways;
        a->sizes = geometry[i].sizes;
        a->e = t->pool + entry;
        a->key = t->keys + entry;
        a->order = t->orders + set;
        a->empty = t->empties + set;
        a->way_bits = (unsigned)__builtin_ctz(a->ways);
        for (unsigned k = 0; k < a->sets; k++) {
            /* Every way empty; any order of them will do. */
            a->order[k] = (uint32_t)(0x76543210u &
                                     ((1ull << 4 * a->ways) - 1));
            a->empty[k] = (uint8_t)((1u << a->ways) - 1);
        }
        entry += geometry[i].entries;
        set += a->sets;
    }
    return t;
}

void tlbm_destroy(struct tlb_model *t)
{
    if (!t)
        return;
    free(t->pool);
    free(t->keys);
    free(t->orders);
    free(t->empties);
    free(t);
}

/* ---- LRU order ---------------------------------------------------------
 * Host speed only: the way of a set that a fill replaces is the lowest
 * empty one, else the least recently used, as LRU stamps on every use
 * would pick it; each set keeps its ways in the order of their last use
 * instead, so that a replacement compares no stamps (the oldest is the
 * lowest 4 bits). Every way of a set without an empty way was filled,
 * and so used, since it was last emptied: the order of those ways is
 * their order of use, and the place of an empty way does not matter. */

/* `order` with way `w` moved from its place to the most recent end
 * (at most 8 ways: 32 bits of order, 8 of empty ways). */
static inline uint32_t lru_use(uint32_t order, unsigned ways, unsigned w)
{
    if (order >> 4 * (ways - 1) == w)
        return order; /* already the most recent: most hits */
    const uint32_t ones = (uint32_t)(0x11111111u & ((1ull << 4 * ways) - 1));
    uint32_t x = order ^ ones * w; /* 0 in w's 4 bits only */
    uint32_t zero = (x - ones) & ~x & ones << 3; /* lowest: w's top bit */
    uint32_t below = ((zero & -zero) >> 3) - 1; /* the ways older than w */
    return (order & below) | ((order >> 4) & ~below) | w << 4 * (ways - 1);
}

/* Inlined into each search: a call per size and array searched cost
 * more than the search of a set itself. The searches of an array known
 * where they are made take its geometry as constants (geometry[id]), and
 * their loops over sizes and ways are unrolled: the sizes an array does
 * not hold drop out, and a set is searched without a loop's count and
 * exit (host speed only). */
#define TLBM_INLINE static inline __attribute__((always_inline))

/* The set of array `id` a page number falls in: every array has 2^n
 * sets. */
TLBM_INLINE unsigned set_of(enum tlbm_array_id id, uint64_t vpn)
{
    return (unsigned)(vpn & (geometry[id].entries / geometry[id].ways - 1));
}

/* The tag beyond page and size (those the key compares). */
static bool tag_matches(const struct tlbm_entry *e, struct tlbm_tag tag)
{
    return e->vpid == tag.vpid && e->ep4ta == tag.ep4ta &&
           e->guest_phys == tag.guest_phys &&
           (e->global || e->pcid == tag.pcid);
}

/* The way of the set at `first` (of `ways`) holding `key` in this
 * context, or -1. */
TLBM_INLINE int find_way(const struct tlbm_array *a, unsigned ways,
                         unsigned first, uint64_t key, struct tlbm_tag tag)
{
#pragma GCC unroll 8
    for (unsigned w = 0; w < ways; w++)
        if (a->key[first + w] == key && tag_matches(&a->e[first + w], tag))
            return (int)w;
    return -1;
}

/* The entry of array `id` that translates `linear` in this context, if
 * any (the smallest page size first, then the lowest way), made the most
 * recently used of its set: a lookup's hit. */
TLBM_INLINE struct tlbm_entry *find(struct tlb_model *t,
                                    enum tlbm_array_id id, uint64_t linear,
                                    struct tlbm_tag tag)
{
    struct tlbm_array *a = &t->a[id];
    if (!a->live)
        return NULL;
#pragma GCC unroll 3
    for (unsigned s = 0; s < TLBM_PAGE_SIZES; s++) {
        if (!(geometry[id].sizes & (1u << s)) || !a->live_size[s])
            continue; /* the array holds none of this size */
        uint64_t vpn = linear >> tlbm_page_shift(s);
        unsigned set = set_of(id, vpn), first = set * geometry[id].ways;
        int w = find_way(a, geometry[id].ways, first, tlbm_key(vpn, s), tag);
        if (w >= 0) {
            a->order[set] = lru_use(a->order[set], geometry[id].ways,
                                    (unsigned)w);
            return &a->e[first + (unsigned)w];
        }
    }
    return NULL;
}

/* Puts a translation in array `id`: in place of the same translation if
 * the set holds it (a refill; `absent`: the caller knows it does not),
 * else the lowest empty way of its set, else the least recently used
 * one. */
TLBM_INLINE struct tlbm_entry *insert(struct tlb_model *t,
                                      enum tlbm_array_id id, uint64_t linear,
                                      struct tlbm_tag tag,
                                      enum tlbm_page size, bool global,
                                      bool absent)
{
    struct tlbm_array *a = &t->a[id];
    const unsigned ways = geometry[id].ways;
    uint64_t vpn = linear >> tlbm_page_shift(size), key = tlbm_key(vpn, size);
    unsigned set = set_of(id, vpn), first = set * ways;
    int same = absent ? -1 : find_way(a, ways, first, key, tag);
    unsigned v, empty = a->empty[set];
    uint32_t order = a->order[set];
    bool filled = true;
    if (same >= 0) {
        v = (unsigned)same;
        order = lru_use(order, ways, v);
    } else if (empty) {
        v = (unsigned)__builtin_ctz(empty); /* the lowest */
        filled = false;
        a->empty[set] = (uint8_t)(empty & ~(1u << v));
        order = lru_use(order, ways, v);
    } else {
        v = order & 0xF; /* the oldest becomes the newest */
        order = order >> 4 | v << 4 * (ways - 1);
    }
    a->order[set] = order;
    struct tlbm_entry *victim = &a->e[first + v];
    /* A victim listed in the bucket of the new entry's VPID keeps its
     * place on that list (a list is only a set): no neighbours to relink,
     * which a random access pattern makes cache misses. */
    _Static_assert((TLBM_VPID_LISTS & (TLBM_VPID_LISTS - 1)) == 0,
                   "a bucket is the VPID's low bits");
    bool listed = filled &&
                  !((victim->vpid ^ tag.vpid) & (TLBM_VPID_LISTS - 1));
    if (filled) {
        if (!listed)
            list_remove(t, victim);
        a->live_size[victim->size]--;
    } else {
        a->live++;
    }
    a->live_size[size]++;
    a->key[first + v] = key;
    victim->vpn = vpn;
    victim->ep4ta = tag.ep4ta;
    victim->vpid = tag.vpid;
    victim->pcid = tag.pcid;
    victim->size = (uint8_t)size;
    victim->global = global;
    victim->guest_phys = tag.guest_phys;
    if (!listed)
        list_add(t, victim);
    return victim;
}

/* insert() in the first-level array of a side for a page size (the
 * ITLB keeps a 1 GiB page as its 2 MiB piece: `size` is the piece's),
 * each array's insert inlined with its geometry as constants. */
TLBM_INLINE struct tlbm_entry *
insert_first_level(struct tlb_model *t, bool fetch, uint64_t linear,
                   struct tlbm_tag tag, enum tlbm_page size, bool global,
                   bool absent)
{
    if (fetch)
        return size == TLBM_4K
                   ? insert(t, TLBM_ITLB_4K, linear, tag, size, global, absent)
                   : insert(t, TLBM_ITLB_2M, linear, tag, size, global,
                            absent);
    switch (size) {
    case TLBM_4K:
        return insert(t, TLBM_DTLB_4K, linear, tag, size, global, absent);
    case TLBM_2M:
        return insert(t, TLBM_DTLB_2M, linear, tag, size, global, absent);
    default:
        return insert(t, TLBM_DTLB_1G, linear, tag, size, global, absent);
    }
}

/* The first-level arrays of a side, searched for a hit (find()): the
 * DTLB's 4 KiB, 2 MiB and 1 GiB arrays, or the ITLB's 4 KiB and 2 MiB
 * ones. */
TLBM_INLINE struct tlbm_entry *find_first_level(struct tlb_model *t,
                                                uint64_t linear, bool fetch,
                                                struct tlbm_tag tag)
{
    struct tlbm_entry *e;
    if (fetch) {
        e = find(t, TLBM_ITLB_4K, linear, tag);
        return e ? e : find(t, TLBM_ITLB_2M, linear, tag);
    }
    e = find(t, TLBM_DTLB_4K, linear, tag);
    if (!e)
        e = find(t, TLBM_DTLB_2M, linear, tag);
    return e ? e : find(t, TLBM_DTLB_1G, linear, tag);
}

enum tlbm_result tlbm_lookup(struct tlb_model *t, uint64_t linear,
                             bool fetch, struct tlbm_tag tag)
{
    if (tlbm_same_page(t, linear, fetch, tag))
        return TLBM_HIT;
    return tlbm_lookup_other_page(t, linear, fetch, tag);
}

/* tlbm_lookup_other_page() but for the miss record: the outcome, its
 * counts and cycles, and on a miss of both levels nothing cached. */
TLBM_INLINE enum tlbm_result lookup(struct tlb_model *t, uint64_t linear,
                                    bool fetch, struct tlbm_tag tag)
{
    struct tlbm_entry *e = find_first_level(t, linear, fetch, tag);
    if (e) {
        t->last[fetch] = e;
        t->stats.hits++;
        return TLBM_HIT;
    }
    e = find(t, TLBM_STLB, linear, tag);
    if (!e) {
        t->last[fetch] = NULL;
        t->stats.misses++;
        return TLBM_MISS;
    }
    t->miss.valid = false; /* the insert below may cover that page */
    enum tlbm_page size = (enum tlbm_page)e->size;
    bool global = e->global;
    /* The search of the first level above found no entry of any size. */
    t->last[fetch] = insert_first_level(t, fetch, linear, tag, size, global,
                                        true);
    t->stats.stlb_hits++;
    t->stats.cycles += t->stlb_hit_cycles;
    return TLBM_STLB_HIT;
}

enum tlbm_result tlbm_lookup_other_page(struct tlb_model *t, uint64_t linear,
                                        bool fetch, struct tlbm_tag tag)
{
    enum tlbm_result r = lookup(t, linear, fetch, tag);
    if (r == TLBM_MISS)
        t->miss = (struct tlbm_miss){true, fetch, linear, tag};
    return r;
}

static void charge_walk(struct tlb_model *t, unsigned refs)
{
    t->stats.walk_refs += refs;
    t->stats.cycles += (uint64_t)refs * t->walk_ref_cycles;
}

void tlbm_fill_failed(struct tlb_model *t, unsigned refs)
{
    charge_walk(t, refs);
}

/* tlbm_fill(), told whether the lookup just made proved the translation
 * absent from every array. */
TLBM_INLINE void fill(struct tlb_model *t, uint64_t linear, bool fetch,
                      struct tlbm_tag tag, enum tlbm_page size, bool global,
                      unsigned refs, bool absent)
{
    charge_walk(t, refs);
    t->miss.valid = false;
    /* The ITLB keeps a 1 GiB page as its 2 MiB piece (no 1 GiB ways). */
    enum tlbm_page l1_size = fetch && size == TLBM_1G ? TLBM_2M : size;
    if (geometry[TLBM_STLB].sizes & (1u << size))
        insert(t, TLBM_STLB, linear, tag, size, global, absent);
    t->last[fetch] = insert_first_level(t, fetch, linear, tag, l1_size,
                                        global, absent);
}

void tlbm_fill(struct tlb_model *t, uint64_t linear, bool fetch,
               struct tlbm_tag tag, enum tlbm_page size, bool global,
               unsigned refs)
{
    /* After the lookup's miss of this page and context, neither array
     * holds the translation (nothing can have put it there since: every
     * lookup and invalidation forgets the miss). */
    const struct tlbm_miss *m = &t->miss;
    bool absent = m->valid && m->fetch == fetch &&
                  m->linear >> 12 == linear >> 12 &&
                  m->tag.vpid == tag.vpid && m->tag.pcid == tag.pcid &&
                  m->tag.ep4ta == tag.ep4ta &&
                  m->tag.guest_phys == tag.guest_phys;
    fill(t, linear, fetch, tag, size, global, refs, absent);
}

enum tlbm_result tlbm_lookup_walked(struct tlb_model *t, uint64_t linear,
                                    bool fetch, struct tlbm_tag tag,
                                    enum tlbm_page size, bool global,
                                    unsigned refs)
{
    enum tlbm_result r = lookup(t, linear, fetch, tag);
    if (r == TLBM_MISS)
        fill(t, linear, fetch, tag, size, global, refs, true);
    return r;
}

/* ---- invalidation ------------------------------------------------------ */

/* Which entries an invalidation removes. */
struct tlbm_match {
    bool any_vpid, any_pcid, any_ep4ta, any_page;
    bool keep_global;     /* global entries survive */
    bool globals_any_pcid; /* global entries match whatever their PCID */
    bool spare_vpid0;     /* INVVPID all-context */
    bool linear_only_spared; /* INVEPT: linear mappings (EP4TA 0) stay */
    uint16_t vpid, pcid;
    uint64_t ep4ta, ep4ta_keep;
    bool has_keep;
    bool ept; /* INVEPT or everything: guest-physical mappings go too */
    uint64_t linear;
};

/* Of a non-empty entry. */
static bool removes(const struct tlbm_match *m, const struct tlbm_entry *e)
{
    if (e->guest_phys && !m->ept)
        return false;
    if (!m->any_vpid && e->vpid != m->vpid)
        return false;
    if (m->spare_vpid0 && e->vpid == 0)
        return false;
    if (m->linear_only_spared && e->ep4ta == 0)
        return false;
    if (!m->any_ep4ta && e->ep4ta != m->ep4ta)
        return false;
    if (m->has_keep && e->ep4ta == m->ep4ta_keep)
        return false;
    if (e->global && m->keep_global)
        return false;
    if (!m->any_pcid && e->pcid != m->pcid &&
        !(e->global && m->globals_any_pcid))
        return false;
    if (!m->any_page &&
        e->vpn != m->linear >> tlbm_page_shift(e->size))
        return false;
    return true;
}

/* The array an entry of the pool belongs to. */
static struct tlbm_array *array_of(struct tlb_model *t,
                                   const struct tlbm_entry *e)
{
    unsigned i = 0;
    while (e >= t->a[i].e + t->a[i].sets * t->a[i].ways)
        i++;
    return &t->a[i];
}

static void empty(struct tlb_model *t, struct tlbm_entry *e)
{
    struct tlbm_array *a = array_of(t, e);
    unsigned k = (unsigned)(e - a->e);
    a->empty[k >> a->way_bits] |= (uint8_t)(1u << (k & (a->ways - 1)));
    a->key[k] = 0;
    list_remove(t, e);
    a->live--;
    a->live_size[e->size]--;
}

static void invalidate(struct tlb_model *t, const struct tlbm_match *m)
{
    if (!m->any_vpid) {
        /* Only entries of m->vpid can go: its bucket's list. */
        uint16_t k = *list_head(t, m->vpid);
        while (k != TLBM_NONE) {
            struct tlbm_entry *e = &t->pool[k];
            k = e->next;
            if (removes(m, e))
                empty(t, e);
        }
    } else {
        for (unsigned i = 0; i < TLBM_ARRAYS; i++) {
            struct tlbm_array *a = &t->a[i];
            for (unsigned k = 0; k < a->sets * a->ways; k++)
                if (a->key[k] && removes(m, &a->e[k]))
                    empty(t, &a->e[k]);
        }
    }
    t->last[0] = t->last[1] = NULL;
    t->miss.valid = false;
    t->stats.flushes++;
}

void tlbm_flush_all(struct tlb_model *t)
{
    invalidate(t, &(struct tlbm_match){.any_vpid = true, .any_pcid = true,
                                       .any_ep4ta = true, .any_page = true,
                                       .ept = true});
}

void tlbm_invlpg(struct tlb_model *t, struct tlbm_tag cur, uint64_t linear)
{
    invalidate(t, &(struct tlbm_match){.vpid = cur.vpid, .pcid = cur.pcid,
                                       .globals_any_pcid = true,
                                       .any_ep4ta = true,
                                       .linear = linear});
}

void tlbm_mov_cr3(struct tlb_model *t, uint16_t vpid, uint16_t pcid)
{
    invalidate(t, &(struct tlbm_match){.vpid = vpid, .pcid = pcid,
                                       .keep_global = true,
                                       .any_ep4ta = true, .any_page = true});
}

void tlbm_flush_vpid(struct tlb_model *t, uint16_t vpid)
{
    invalidate(t, &(struct tlbm_match){.vpid = vpid, .any_pcid = true,
                                       .any_ep4ta = true, .any_page = true});
}

void tlbm_flush_pcid(struct tlb_model *t, uint16_t vpid, uint16_t pcid)
{
    invalidate(t, &(struct tlbm_match){.vpid = vpid, .pcid = pcid,
                                       .any_ep4ta = true, .any_page = true});
}

void tlbm_invpcid(struct tlb_model *t, uint16_t vpid, unsigned type,
                  uint16_t pcid, uint64_t linear)
{
    /* 0: one address of a PCID, 1: a PCID, both sparing global entries;
     * 2: everything; 3: everything but global entries. */
    struct tlbm_match m = {.vpid = vpid, .pcid = pcid, .any_ep4ta = true,
                           .linear = linear, .any_page = type != 0,
                           .any_pcid = type >= 2,
                           .keep_global = type != 2};
    invalidate(t, &m);
}

void tlbm_invvpid(struct tlb_model *t, unsigned type, uint16_t vpid,
                  uint64_t linear)
{
    /* 0: one address of a VPID, 1: a VPID, 2: every VPID but 0, 3: a
     * VPID but its global entries. */
    struct tlbm_match m = {.vpid = vpid, .any_vpid = type == 2,
                           .spare_vpid0 = type == 2, .any_pcid = true,
                           .any_ep4ta = true, .linear = linear,
                           .any_page = type != 0, .keep_global = type == 3};
    invalidate(t, &m);
}

void tlbm_invept(struct tlb_model *t, bool all_contexts, uint64_t ep4ta)
{
    invalidate(t, &(struct tlbm_match){.any_vpid = true, .any_pcid = true,
                                       .any_page = true,
                                       .any_ep4ta = all_contexts,
                                       .ep4ta = ep4ta, .ept = true,
                                       .linear_only_spared = true});
}

void tlbm_invept_except(struct tlb_model *t, uint64_t keep)
{
    invalidate(t, &(struct tlbm_match){.any_vpid = true, .any_pcid = true,
                                       .any_page = true, .any_ep4ta = true,
                                       .linear_only_spared = true,
                                       .has_keep = true, .ept = true,
                                       .ep4ta_keep = keep});
}
