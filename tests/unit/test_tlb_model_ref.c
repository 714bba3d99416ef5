/* l0/cpu/tlb_model.c against a reference model written here from the
 * rules alone: Haswell's geometry (the Optimization Reference Manual's
 * table), LRU within a set, tags and the invalidation rules of SDM Vol.
 * 3A 4.10 and Vol. 3C 29.4. The reference keeps every entry in a plain
 * array with a use stamp and searches it naively; the model under test
 * keeps packed keys, per-size counts, a last-hit shortcut and VPID
 * lists for speed. Long pseudo-random streams of lookups, fills and
 * invalidations must give the same outcome at every step and the same
 * statistics: the speed-ups may change nothing the model decides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpu/tlb_model.h"

/* ---- the reference ------------------------------------------------- */

struct ref_entry {
    bool valid, global, guest_phys;
    unsigned size; /* enum tlbm_page */
    uint64_t vpn, ep4ta, stamp;
    uint16_t vpid, pcid;
};

struct ref_array {
    unsigned sets, ways, sizes;
    struct ref_entry e[1024];
};

enum { R_ITLB_4K, R_ITLB_2M, R_DTLB_4K, R_DTLB_2M, R_DTLB_1G, R_STLB, R_N };

struct ref {
    struct ref_array a[R_N];
    /* Per side, the entry of the last first-level hit or fill, until a
     * miss or an invalidation (tlb_model.h, tlbm_is_last_page). */
    struct ref_entry *last[2];
    uint64_t clock;
    struct tlbm_stats stats;
    unsigned stlb_hit_cycles, walk_ref_cycles;
};

static void ref_init(struct ref *r)
{
    /* entries, ways, sizes held */
    static const unsigned g[R_N][3] = {
        [R_ITLB_4K] = {128, 4, 1}, [R_ITLB_2M] = {8, 8, 2},
        [R_DTLB_4K] = {64, 4, 1},  [R_DTLB_2M] = {32, 4, 2},
        [R_DTLB_1G] = {4, 4, 4},   [R_STLB] = {1024, 8, 3},
    };
    *r = (struct ref){.stlb_hit_cycles = 9, .walk_ref_cycles = 30};
    for (unsigned i = 0; i < R_N; i++)
        r->a[i] = (struct ref_array){.sets = g[i][0] / g[i][1],
                                     .ways = g[i][1], .sizes = g[i][2]};
}

static bool ref_match(const struct ref_entry *e, uint64_t linear,
                      unsigned size, struct tlbm_tag t)
{
    return e->valid && e->size == size &&
           e->vpn == linear >> tlbm_page_shift(size) &&
           e->vpid == t.vpid && e->ep4ta == t.ep4ta &&
           e->guest_phys == t.guest_phys &&
           (e->global || e->pcid == t.pcid);
}

/* The smallest page size first, then the lowest way. */
static struct ref_entry *ref_find(struct ref_array *a, uint64_t linear,
                                  struct tlbm_tag t)
{
    for (unsigned s = 0; s < TLBM_PAGE_SIZES; s++) {
        if (!(a->sizes & (1u << s)))
            continue;
        uint64_t set = (linear >> tlbm_page_shift(s)) % a->sets;
        for (unsigned w = 0; w < a->ways; w++)
            if (ref_match(&a->e[set * a->ways + w], linear, s, t))
                return &a->e[set * a->ways + w];
    }
    return NULL;
}

/* The same translation is replaced; else the first empty way; else the
 * least recently used. */
static struct ref_entry *ref_insert(struct ref *r, struct ref_array *a,
                                    uint64_t linear, struct tlbm_tag t,
                                    unsigned size, bool global)
{
    uint64_t set = (linear >> tlbm_page_shift(size)) % a->sets;
    struct ref_entry *ways = &a->e[set * a->ways], *v = NULL;
    for (unsigned w = 0; w < a->ways && !v; w++)
        if (ref_match(&ways[w], linear, size, t))
            v = &ways[w];
    for (unsigned w = 0; w < a->ways && !v; w++)
        if (!ways[w].valid)
            v = &ways[w];
    if (!v) {
        v = &ways[0];
        for (unsigned w = 1; w < a->ways; w++)
            if (ways[w].stamp < v->stamp)
                v = &ways[w];
    }
    *v = (struct ref_entry){.valid = true, .global = global,
                            .guest_phys = t.guest_phys, .size = size,
                            .vpn = linear >> tlbm_page_shift(size),
                            .ep4ta = t.ep4ta, .stamp = ++r->clock,
                            .vpid = t.vpid, .pcid = t.pcid};
    return v;
}

static const unsigned ref_first[2][TLBM_PAGE_SIZES] = {
    {R_DTLB_4K, R_DTLB_2M, R_DTLB_1G}, {R_ITLB_4K, R_ITLB_2M, R_ITLB_2M}};

static enum tlbm_result ref_lookup(struct ref *r, uint64_t linear,
                                   bool fetch, struct tlbm_tag t)
{
    static const unsigned side[2][3] = {{R_DTLB_4K, R_DTLB_2M, R_DTLB_1G},
                                        {R_ITLB_4K, R_ITLB_2M, R_N}};
    /* The model's rule: the page of the side's last hit, in its context,
     * is a hit on that entry without a new use stamp. It is the most
     * recent of its set, unless a second entry maps the same page (page
     * tables changed without an invalidation): then the search below
     * would find the other one and stamp it, and the two LRU orders
     * part. The model decides so, and the reference follows. */
    struct ref_entry *l = r->last[fetch];
    if (l && ref_match(l, linear, l->size, t)) {
        r->stats.hits++;
        return TLBM_HIT;
    }
    for (unsigned i = 0; i < 3 && side[fetch][i] != R_N; i++) {
        struct ref_entry *e = ref_find(&r->a[side[fetch][i]], linear, t);
        if (e) {
            e->stamp = ++r->clock;
            r->last[fetch] = e;
            r->stats.hits++;
            return TLBM_HIT;
        }
    }
    struct ref_entry *e = ref_find(&r->a[R_STLB], linear, t);
    if (!e) {
        r->last[fetch] = NULL;
        r->stats.misses++;
        return TLBM_MISS;
    }
    e->stamp = ++r->clock;
    r->last[fetch] = ref_insert(r, &r->a[ref_first[fetch][e->size]], linear,
                                t, e->size, e->global);
    r->stats.stlb_hits++;
    r->stats.cycles += r->stlb_hit_cycles;
    return TLBM_STLB_HIT;
}

static void ref_fill(struct ref *r, uint64_t linear, bool fetch,
                     struct tlbm_tag t, unsigned size, bool global,
                     unsigned refs)
{
    r->stats.walk_refs += refs;
    r->stats.cycles += (uint64_t)refs * r->walk_ref_cycles;
    if (r->a[R_STLB].sizes & (1u << size))
        ref_insert(r, &r->a[R_STLB], linear, t, size, global);
    unsigned l1 = fetch && size == TLBM_1G ? TLBM_2M : size;
    r->last[fetch] = ref_insert(r, &r->a[ref_first[fetch][l1]], linear, t,
                                l1, global);
}

/* ---- invalidations, each a predicate on an entry ------------------- */

struct inval {
    unsigned kind, type;
    uint16_t vpid, pcid;
    uint64_t linear, ep4ta;
};

enum { INV_ALL, INV_INVLPG, INV_CR3, INV_VPID, INV_PCID, INV_INVPCID,
       INV_INVVPID, INV_INVEPT, INV_INVEPT_ALL, INV_INVEPT_EXCEPT,
       INV_KINDS };

static bool on_page(const struct ref_entry *e, uint64_t linear)
{
    return e->vpn == linear >> tlbm_page_shift(e->size);
}

static bool ref_removes(const struct inval *v, const struct ref_entry *e)
{
    bool vpid = e->vpid == v->vpid, pcid = e->pcid == v->pcid;
    /* Only INVEPT (and everything) removes guest-physical mappings. */
    bool lin = !e->guest_phys;
    switch (v->kind) {
    case INV_ALL:
        return true;
    case INV_INVLPG:
        return lin && vpid && (pcid || e->global) && on_page(e, v->linear);
    case INV_CR3:
        return lin && vpid && pcid && !e->global;
    case INV_VPID:
        return lin && vpid;
    case INV_PCID:
        return lin && vpid && pcid;
    case INV_INVPCID:
        switch (v->type) {
        case 0: return lin && vpid && pcid && !e->global &&
                       on_page(e, v->linear);
        case 1: return lin && vpid && pcid && !e->global;
        case 2: return lin && vpid;
        default: return lin && vpid && !e->global;
        }
    case INV_INVVPID:
        switch (v->type) {
        case 0: return lin && vpid && on_page(e, v->linear);
        case 1: return lin && vpid;
        case 2: return lin && e->vpid != 0;
        default: return lin && vpid && !e->global;
        }
    case INV_INVEPT:
        return e->ep4ta != 0 && e->ep4ta == v->ep4ta;
    case INV_INVEPT_ALL:
        return e->ep4ta != 0;
    default: /* INV_INVEPT_EXCEPT */
        return e->ep4ta != 0 && e->ep4ta != v->ep4ta;
    }
}

static void ref_invalidate(struct ref *r, const struct inval *v)
{
    for (unsigned i = 0; i < R_N; i++)
        for (unsigned k = 0; k < r->a[i].sets * r->a[i].ways; k++)
            if (r->a[i].e[k].valid && ref_removes(v, &r->a[i].e[k]))
                r->a[i].e[k].valid = false;
    r->last[0] = r->last[1] = NULL;
    r->stats.flushes++;
}

static void model_invalidate(struct tlb_model *t, const struct inval *v)
{
    struct tlbm_tag cur = {v->vpid, v->pcid, 0, false};
    switch (v->kind) {
    case INV_ALL: tlbm_flush_all(t); break;
    case INV_INVLPG: tlbm_invlpg(t, cur, v->linear); break;
    case INV_CR3: tlbm_mov_cr3(t, v->vpid, v->pcid); break;
    case INV_VPID: tlbm_flush_vpid(t, v->vpid); break;
    case INV_PCID: tlbm_flush_pcid(t, v->vpid, v->pcid); break;
    case INV_INVPCID:
        tlbm_invpcid(t, v->vpid, v->type, v->pcid, v->linear);
        break;
    case INV_INVVPID:
        tlbm_invvpid(t, v->type, v->vpid, v->linear);
        break;
    case INV_INVEPT: tlbm_invept(t, false, v->ep4ta); break;
    case INV_INVEPT_ALL: tlbm_invept(t, true, 0); break;
    default: tlbm_invept_except(t, v->ep4ta); break;
    }
}

/* ---- the streams --------------------------------------------------- */

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void assert_same_stats(const struct tlbm_stats *a,
                              const struct tlbm_stats *b)
{
    assert_int_equal(a->hits, b->hits);
    assert_int_equal(a->stlb_hits, b->stlb_hits);
    assert_int_equal(a->misses, b->misses);
    assert_int_equal(a->walk_refs, b->walk_refs);
    assert_int_equal(a->flushes, b->flushes);
    assert_int_equal(a->cycles, b->cycles);
}

struct pending {
    uint64_t linear;
    bool fetch;
    struct tlbm_tag tag;
};

/* What a walk found, given to both: mostly 4 KiB pages, some large, and
 * sometimes a fault (nothing cached). */
static void fill_both(struct ref *r, struct tlb_model *t,
                      const struct pending *p, uint64_t *s)
{
    uint64_t w = next(s);
    unsigned size = w % 8 == 0 ? TLBM_2M : w % 16 == 1 ? TLBM_1G : TLBM_4K;
    bool global = (w >> 8) % 4 == 0, fault = (w >> 12) % 32 == 0;
    unsigned refs = 1 + (unsigned)(w >> 16) % 24;
    if (fault) {
        r->stats.walk_refs += refs;
        r->stats.cycles += (uint64_t)refs * r->walk_ref_cycles;
        tlbm_fill_failed(t, refs);
    } else {
        ref_fill(r, p->linear, p->fetch, p->tag, size, global, refs);
        tlbm_fill(t, p->linear, p->fetch, p->tag, (enum tlbm_page)size,
                  global, refs);
    }
}

/* `pages` distinct 4 KiB pages in a few regions (so that sets are shared
 * and large pages overlap small ones), `stride` bytes apart in each;
 * contexts from a small set; one invalidation in `inval_every` steps on
 * average. */
static void run_stream(uint64_t seed, unsigned steps, unsigned pages,
                       uint64_t stride, unsigned inval_every)
{
    static struct ref r;
    ref_init(&r);
    struct tlb_model *t = tlbm_create();
    assert_non_null(t);
    t->stlb_hit_cycles = r.stlb_hit_cycles;
    t->walk_ref_cycles = r.walk_ref_cycles;
    static const uint64_t eps[] = {0, 0x5000, 0x9000};
    uint64_t s = seed;
    struct pending late;
    bool have_late = false;
    for (unsigned k = 0; k < steps; k++) {
        uint64_t x = next(&s);
        struct tlbm_tag tag = {.vpid = (uint16_t)(x % 3),
                               .pcid = (uint16_t)(x >> 2) % 3,
                               .ep4ta = eps[(x >> 4) % 3]};
        if (tag.ep4ta && (x >> 6) % 8 == 0) /* EPT, guest paging off */
            tag = (struct tlbm_tag){0, 0, tag.ep4ta, true};
        uint64_t page = next(&s) % pages;
        uint64_t linear = (page % 3) * 0x40000000ull + (page / 3) * stride +
                          (x >> 9) % 0x1000;
        if (next(&s) % inval_every == 0) {
            uint64_t y = next(&s);
            struct inval v = {.kind = (unsigned)(y % INV_KINDS),
                              .type = (unsigned)(y >> 8) % 4,
                              .vpid = tag.vpid, .pcid = tag.pcid,
                              .linear = linear,
                              .ep4ta = eps[1 + (y >> 12) % 2]};
            ref_invalidate(&r, &v);
            model_invalidate(t, &v);
            continue;
        }
        bool fetch = (x >> 20) % 4 == 0;
        /* Now and then a fill without a lookup before it (the walk of
         * an access whose lookup was made earlier): it may find the
         * same translation in a set and replace it. */
        bool refill = (x >> 24) % 64 == 0;
        enum tlbm_result want = TLBM_MISS;
        if (!refill) {
            want = ref_lookup(&r, linear, fetch, tag);
            assert_int_equal(tlbm_lookup(t, linear, fetch, tag), want);
        }
        /* A miss is filled at once, or (one in eight) after the next
         * step's lookup, which may meanwhile have put the translation
         * in from the STLB. */
        if (have_late) {
            fill_both(&r, t, &late, &s);
            have_late = false;
        }
        if (want == TLBM_MISS) {
            struct pending p = {linear, fetch, tag};
            if (!refill && next(&s) % 8 == 0) {
                late = p;
                have_late = true;
            } else {
                fill_both(&r, t, &p, &s);
            }
        }
    }
    assert_same_stats(&t->stats, &r.stats);
    tlbm_destroy(t);
}

/* Few pages: mostly hits; the first level and the STLB both matter. */
static void test_stream_hot(void **state)
{
    (void)state;
    run_stream(0x243F6A8885A308D3ull, 200000, 300, 0x1000, 500);
}

/* Many pages: evictions from every set of the STLB. */
static void test_stream_evicting(void **state)
{
    (void)state;
    run_stream(0x13198A2E03707344ull, 200000, 6000, 0x1000, 2000);
}

/* Frequent invalidations of every kind. */
static void test_stream_invalidating(void **state)
{
    (void)state;
    run_stream(0xA4093822299F31D0ull, 200000, 1500, 0x1000, 20);
}

/* A few more 4 KiB pages per region than a set has ways, all in one set
 * of every array (128 pages apart: the STLB's sets, a multiple of the
 * first level's): each fill replaces a way, and which one is the LRU
 * rule's choice after hits, refills and invalidations in any order. */
static void test_stream_one_set(void **state)
{
    (void)state;
    run_stream(0x082EFA98EC4E6C89ull, 200000, 36, 128 * 0x1000, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_hot),
        cmocka_unit_test(test_stream_evicting),
        cmocka_unit_test(test_stream_invalidating),
        cmocka_unit_test(test_stream_one_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
