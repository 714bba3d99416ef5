/* l0/cpu/tlb_model.c: the modeled TLB. Expected outcomes follow from
 * Haswell's geometry as the Optimization Reference Manual gives it (DTLB
 * 4 KiB: 64 entries in 16 sets of 4; STLB: 1024 in 128 sets of 8; ...),
 * LRU replacement, and the invalidation rules of SDM Vol. 3A 4.10.4.1
 * and Vol. 3C 29.4.3.1, worked out here by hand, never asked of the
 * code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpu/tlb_model.h"

#define KIB4 0x1000ull
#define MIB2 0x200000ull
#define GIB1 0x40000000ull
/* Pages that share a DTLB 4 KiB set (16 sets) but not an STLB set. */
#define DTLB_STRIDE (16 * KIB4)
/* Pages that share both a DTLB 4 KiB set and an STLB set (128 sets). */
#define STLB_STRIDE (128 * KIB4)

static const struct tlbm_tag ROOT = {0, 0, 0, false};

static int setup(void **state)
{
    struct tlb_model *t = tlbm_create();
    *state = t;
    return t ? 0 : -1;
}

static int teardown(void **state)
{
    tlbm_destroy(*state);
    return 0;
}

/* A data access as the CPU makes it: look up, and on a miss walk (here:
 * `refs` references) and fill. */
static enum tlbm_result data(struct tlb_model *t, uint64_t lin,
                             struct tlbm_tag tag, enum tlbm_page size,
                             bool global)
{
    enum tlbm_result r = tlbm_lookup(t, lin, false, tag);
    if (r == TLBM_MISS)
        tlbm_fill(t, lin, false, tag, size, global, 4);
    return r;
}

static enum tlbm_result data4k(struct tlb_model *t, uint64_t lin,
                               struct tlbm_tag tag)
{
    return data(t, lin, tag, TLBM_4K, false);
}

static void test_geometry_is_haswell(void **state)
{
    struct tlb_model *t = *state;
    assert_int_equal(tlbm_capacity(t, TLBM_ITLB_4K), 128);
    assert_int_equal(tlbm_capacity(t, TLBM_ITLB_2M), 8);
    assert_int_equal(tlbm_capacity(t, TLBM_DTLB_4K), 64);
    assert_int_equal(tlbm_capacity(t, TLBM_DTLB_2M), 32);
    assert_int_equal(tlbm_capacity(t, TLBM_DTLB_1G), 4);
    assert_int_equal(tlbm_capacity(t, TLBM_STLB), 1024);
    assert_int_equal(t->a[TLBM_DTLB_4K].ways, 4);
    assert_int_equal(t->a[TLBM_STLB].ways, 8);
}

/* A miss, then hits on the same page (any offset), and the costs. */
static void test_miss_then_hit(void **state)
{
    struct tlb_model *t = *state;
    t->walk_ref_cycles = 10;
    t->stlb_hit_cycles = 7;
    assert_int_equal(data4k(t, 0x5000, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0x5FF8, ROOT), TLBM_HIT);
    assert_int_equal(data4k(t, 0x5000, ROOT), TLBM_HIT);
    assert_int_equal(data4k(t, 0x6000, ROOT), TLBM_MISS);
    assert_int_equal(t->stats.hits, 2);
    assert_int_equal(t->stats.misses, 2);
    assert_int_equal(t->stats.walk_refs, 8);
    assert_int_equal(t->stats.cycles, 80);
}

/* The ITLB and the DTLB are separate; the STLB serves both. */
static void test_itlb_dtlb_share_stlb(void **state)
{
    struct tlb_model *t = *state;
    t->stlb_hit_cycles = 7;
    assert_int_equal(data4k(t, 0x7000, ROOT), TLBM_MISS);
    assert_int_equal(tlbm_lookup(t, 0x7000, true, ROOT), TLBM_STLB_HIT);
    assert_int_equal(tlbm_lookup(t, 0x7000, true, ROOT), TLBM_HIT);
    assert_int_equal(t->stats.cycles, 7);
}

/* Associativity: a fifth page in a 4-way DTLB set evicts the least
 * recently used one, which the STLB still holds. */
static void test_dtlb_set_eviction_lru(void **state)
{
    struct tlb_model *t = *state;
    for (unsigned k = 0; k < 4; k++)
        assert_int_equal(data4k(t, k * DTLB_STRIDE, ROOT), TLBM_MISS);
    /* Page 0 used again: page 1 is now the least recent. */
    assert_int_equal(data4k(t, 0, ROOT), TLBM_HIT);
    assert_int_equal(data4k(t, 4 * DTLB_STRIDE, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0, ROOT), TLBM_HIT);
    assert_int_equal(data4k(t, 1 * DTLB_STRIDE, ROOT), TLBM_STLB_HIT);
}

/* Capacity: 64 consecutive pages fill the DTLB's 16 sets of 4 and all
 * hit; a 65th pushes the first out of set 0. */
static void test_dtlb_capacity(void **state)
{
    struct tlb_model *t = *state;
    for (unsigned k = 0; k < 64; k++)
        assert_int_equal(data4k(t, k * KIB4, ROOT), TLBM_MISS);
    for (unsigned k = 0; k < 64; k++)
        assert_int_equal(data4k(t, k * KIB4, ROOT), TLBM_HIT);
    assert_int_equal(data4k(t, 64 * KIB4, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0, ROOT), TLBM_STLB_HIT);
}

/* The STLB: nine pages in one of its 8-way sets leave the first in no
 * TLB at all; 1,024 pages fit, 1,025 consecutive ones do not. */
static void test_stlb_eviction_and_capacity(void **state)
{
    struct tlb_model *t = *state;
    for (unsigned k = 0; k < 9; k++)
        assert_int_equal(data4k(t, k * STLB_STRIDE, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0, ROOT), TLBM_MISS);

    tlbm_flush_all(t);
    for (unsigned k = 0; k < 1024; k++)
        data4k(t, k * KIB4, ROOT);
    uint64_t misses = t->stats.misses;
    for (unsigned k = 0; k < 1024; k++)
        assert_int_not_equal(data4k(t, k * KIB4, ROOT), TLBM_MISS);
    assert_int_equal(t->stats.misses, misses);
    /* A 1,025th page evicts page 0 from STLB set 0 (its LRU way). */
    data4k(t, 1024 * KIB4, ROOT);
    assert_int_equal(data4k(t, 0, ROOT), TLBM_MISS);
}

/* Large pages have arrays of their own; 1 GiB pages stay out of the
 * STLB. */
static void test_large_pages(void **state)
{
    struct tlb_model *t = *state;
    assert_int_equal(data(t, 3 * MIB2, ROOT, TLBM_2M, false), TLBM_MISS);
    assert_int_equal(data(t, 3 * MIB2 + 0x1FF000, ROOT, TLBM_2M, false),
                     TLBM_HIT);
    /* 32 entries in 8 sets of 4: five 2 MiB pages 8 apart share a set. */
    for (unsigned k = 1; k <= 4; k++)
        data(t, (3 + 8 * k) * MIB2, ROOT, TLBM_2M, false);
    assert_int_equal(data(t, 3 * MIB2, ROOT, TLBM_2M, false), TLBM_STLB_HIT);

    assert_int_equal(data(t, 2 * GIB1, ROOT, TLBM_1G, false), TLBM_MISS);
    assert_int_equal(data(t, 2 * GIB1 + 0x3FFFF000, ROOT, TLBM_1G, false),
                     TLBM_HIT);
    for (unsigned k = 3; k <= 6; k++)
        data(t, k * GIB1, ROOT, TLBM_1G, false);
    assert_int_equal(data(t, 2 * GIB1, ROOT, TLBM_1G, false), TLBM_MISS);
}

/* MOV to CR3 without PCIDs: non-global entries go, global ones stay. */
static void test_mov_cr3_keeps_global(void **state)
{
    struct tlb_model *t = *state;
    data(t, 0x1000, ROOT, TLBM_4K, true);
    data(t, 0x2000, ROOT, TLBM_4K, false);
    tlbm_mov_cr3(t, 0, 0);
    assert_int_equal(data4k(t, 0x1000, ROOT), TLBM_HIT);
    assert_int_equal(data4k(t, 0x2000, ROOT), TLBM_MISS);
}

/* PCIDs: MOV to CR3 drops the PCID it loads only; a global entry is
 * used under any PCID. */
static void test_pcid(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag p1 = {0, 1, 0, false}, p2 = {0, 2, 0, false};
    data(t, 0x1000, p1, TLBM_4K, false);
    data(t, 0x2000, p1, TLBM_4K, true);
    data(t, 0x3000, p2, TLBM_4K, false);
    assert_int_equal(data4k(t, 0x1000, p2), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, p2), TLBM_HIT);
    tlbm_mov_cr3(t, 0, 2);
    assert_int_equal(data4k(t, 0x3000, p2), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, p1), TLBM_HIT);
    assert_int_equal(data4k(t, 0x2000, p1), TLBM_HIT);
}

/* INVLPG: the page, global or not, in the current PCID (and its global
 * entry in any); other pages and other PCIDs' entries stay. */
static void test_invlpg(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag p1 = {0, 1, 0, false};
    data(t, 0x1000, ROOT, TLBM_4K, true);
    data(t, 0x2000, ROOT, TLBM_4K, false);
    data(t, 0x2000, p1, TLBM_4K, false);
    data(t, 4 * MIB2, ROOT, TLBM_2M, false);
    tlbm_invlpg(t, ROOT, 0x2abc);
    tlbm_invlpg(t, p1, 0x1000); /* the global entry, from another PCID */
    tlbm_invlpg(t, ROOT, 4 * MIB2 + 0x123456); /* inside the 2 MiB page */
    assert_int_equal(data4k(t, 0x2000, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, p1), TLBM_HIT);
    assert_int_equal(data(t, 4 * MIB2, ROOT, TLBM_2M, false), TLBM_MISS);
}

/* CR4.PGE changing (tlbm_flush_vpid) drops global entries too;
 * CR4.PAE changing drops the current PCID's, global ones included. */
static void test_cr4_flushes(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag p1 = {0, 1, 0, false}, v1 = {1, 0, 0, false};
    data(t, 0x1000, ROOT, TLBM_4K, true);
    data(t, 0x2000, p1, TLBM_4K, false);
    data(t, 0x3000, v1, TLBM_4K, false);
    tlbm_flush_pcid(t, 0, 0);
    assert_int_equal(data4k(t, 0x1000, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, p1), TLBM_HIT);
    data(t, 0x1000, ROOT, TLBM_4K, true);
    tlbm_flush_vpid(t, 0);
    assert_int_equal(data4k(t, 0x1000, ROOT), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, p1), TLBM_MISS);
    assert_int_equal(data4k(t, 0x3000, v1), TLBM_HIT);
}

/* VPIDs: a transition without VPIDs drops VPID 0's entries only; a guest
 * under VPID 1 keeps its own, and the host's do not serve it. */
static void test_vpid(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag guest = {1, 0, 0x5000, false};
    data(t, 0x1000, ROOT, TLBM_4K, true);
    data(t, 0x1000, guest, TLBM_4K, false);
    assert_int_equal(data4k(t, 0x2000, guest), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, ROOT), TLBM_MISS);
    tlbm_flush_vpid(t, 0); /* a VM exit with "enable VPID" = 0 */
    assert_int_equal(data4k(t, 0x1000, guest), TLBM_HIT);
    assert_int_equal(data4k(t, 0x2000, guest), TLBM_HIT);
    assert_int_equal(data4k(t, 0x1000, ROOT), TLBM_MISS);
}

/* INVVPID's four types. */
static void test_invvpid(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag v1 = {1, 0, 0, false}, v2 = {2, 0, 0, false};
    data(t, 0x1000, v1, TLBM_4K, false);
    data(t, 0x2000, v1, TLBM_4K, true);
    data(t, 0x1000, v2, TLBM_4K, false);
    data(t, 0x1000, ROOT, TLBM_4K, false);
    tlbm_invvpid(t, 0, 1, 0x1000); /* individual address */
    assert_int_equal(data4k(t, 0x1000, v1), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, v1), TLBM_HIT);
    assert_int_equal(data4k(t, 0x1000, v2), TLBM_HIT);
    tlbm_invvpid(t, 3, 1, 0); /* single context, globals retained */
    assert_int_equal(data4k(t, 0x1000, v1), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, v1), TLBM_HIT);
    tlbm_invvpid(t, 1, 1, 0); /* single context */
    assert_int_equal(data4k(t, 0x2000, v1), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, v2), TLBM_HIT);
    tlbm_invvpid(t, 2, 0, 0); /* all contexts: every VPID but 0 */
    assert_int_equal(data4k(t, 0x1000, v2), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, ROOT), TLBM_HIT);
}

/* INVPCID's four types. */
static void test_invpcid(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag p1 = {0, 1, 0, false}, p2 = {0, 2, 0, false};
    data(t, 0x1000, p1, TLBM_4K, false);
    data(t, 0x2000, p1, TLBM_4K, false);
    data(t, 0x3000, p1, TLBM_4K, true);
    data(t, 0x1000, p2, TLBM_4K, false);
    tlbm_invpcid(t, 0, 0, 1, 0x1000); /* individual address */
    assert_int_equal(data4k(t, 0x1000, p1), TLBM_MISS);
    assert_int_equal(data4k(t, 0x2000, p1), TLBM_HIT);
    assert_int_equal(data4k(t, 0x1000, p2), TLBM_HIT);
    tlbm_invpcid(t, 0, 1, 1, 0); /* single context, globals spared */
    assert_int_equal(data4k(t, 0x2000, p1), TLBM_MISS);
    assert_int_equal(data4k(t, 0x3000, p1), TLBM_HIT);
    assert_int_equal(data4k(t, 0x1000, p2), TLBM_HIT);
    tlbm_invpcid(t, 0, 3, 0, 0); /* all contexts but globals */
    assert_int_equal(data4k(t, 0x1000, p2), TLBM_MISS);
    assert_int_equal(data4k(t, 0x3000, p1), TLBM_HIT);
    tlbm_invpcid(t, 0, 2, 0, 0); /* everything */
    assert_int_equal(data4k(t, 0x3000, p1), TLBM_MISS);
}

/* INVEPT: combined mappings of one EP4TA (single context) or of all
 * (all contexts); linear mappings, made without EPT, stay. Guest-physical
 * mappings (guest paging off) serve no linear lookup, survive VPID
 * flushes and go with INVEPT. */
static void test_invept_and_guest_physical(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag a = {1, 0, 0xA000, false}, b = {1, 0, 0xB000, false};
    struct tlbm_tag gpa = {0, 0, 0xA000, true};
    data(t, 0x1000, a, TLBM_4K, false);
    data(t, 0x1000, b, TLBM_4K, false);
    data(t, 0x1000, ROOT, TLBM_4K, false);
    data(t, 0x1000, gpa, TLBM_4K, false);
    assert_int_equal(data4k(t, 0x1000, (struct tlbm_tag){0, 0, 0xA000,
                                                         false}),
                     TLBM_MISS);
    tlbm_flush_vpid(t, 0);
    tlbm_invvpid(t, 2, 0, 0);
    assert_int_equal(data4k(t, 0x1000, gpa), TLBM_HIT);
    data(t, 0x1000, a, TLBM_4K, false);
    data(t, 0x1000, b, TLBM_4K, false);
    data(t, 0x1000, ROOT, TLBM_4K, false);
    tlbm_invept(t, false, 0xA000);
    assert_int_equal(data4k(t, 0x1000, gpa), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, a), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, b), TLBM_HIT);
    tlbm_invept(t, true, 0);
    assert_int_equal(data4k(t, 0x1000, a), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, b), TLBM_MISS);
    assert_int_equal(data4k(t, 0x1000, ROOT), TLBM_HIT);
    /* L0's INVEPT for L1: every EP4TA but EPT01's. */
    tlbm_invept_except(t, 0xA000);
    assert_int_equal(data4k(t, 0x1000, a), TLBM_HIT);
    assert_int_equal(data4k(t, 0x1000, b), TLBM_MISS);
}

/* A VPID flush removes that VPID's entries only, also when another VPID
 * shares its place in the model's internal lists (1 and 65 share one of
 * 64 buckets) and when eviction hands ways from one VPID to the other.
 * Four pages of each VPID in DTLB set 0 (4 ways, LRU): the last four
 * filled stay (VPID 1's and 65's pages 2 and 3); all eight sit in
 * different STLB sets, so they stay there. */
static void test_vpid_flush_with_shared_bucket(void **state)
{
    struct tlb_model *t = *state;
    struct tlbm_tag v1 = {1, 0, 0, false}, v65 = {65, 0, 0, false};
    for (uint64_t i = 0; i < 4; i++) {
        data4k(t, i * DTLB_STRIDE, v1);
        data4k(t, i * DTLB_STRIDE, v65);
    }
    tlbm_flush_vpid(t, 65);
    assert_int_equal(data4k(t, 3 * DTLB_STRIDE, v1), TLBM_HIT);
    assert_int_equal(data4k(t, 2 * DTLB_STRIDE, v1), TLBM_HIT);
    /* The two ways VPID 65 held are empty: pages 0 and 1 come back from
     * the STLB into them, evicting nothing. */
    assert_int_equal(data4k(t, 0, v1), TLBM_STLB_HIT);
    assert_int_equal(data4k(t, DTLB_STRIDE, v1), TLBM_STLB_HIT);
    assert_int_equal(data4k(t, 3 * DTLB_STRIDE, v1), TLBM_HIT);
    assert_int_equal(data4k(t, 3 * DTLB_STRIDE, v65), TLBM_MISS);
    assert_int_equal(data4k(t, 0, v65), TLBM_MISS);
    /* Those two fills took VPID 1's least recently used ways (pages 2
     * and 0); flushing VPID 1 leaves VPID 65's two. */
    tlbm_flush_vpid(t, 1);
    assert_int_equal(data4k(t, 3 * DTLB_STRIDE, v65), TLBM_HIT);
    assert_int_equal(data4k(t, 0, v65), TLBM_HIT);
    assert_int_equal(data4k(t, DTLB_STRIDE, v1), TLBM_MISS);
    assert_int_equal(t->stats.hits, 5);
    assert_int_equal(t->stats.stlb_hits, 2);
    assert_int_equal(t->stats.misses, 8 + 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_geometry_is_haswell),
        T(test_miss_then_hit),
        T(test_itlb_dtlb_share_stlb),
        T(test_dtlb_set_eviction_lru),
        T(test_dtlb_capacity),
        T(test_stlb_eviction_and_capacity),
        T(test_large_pages),
        T(test_mov_cr3_keeps_global),
        T(test_pcid),
        T(test_invlpg),
        T(test_cr4_flushes),
        T(test_vpid),
        T(test_invvpid),
        T(test_invpcid),
        T(test_invept_and_guest_physical),
        T(test_vpid_flush_with_shared_bucket),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
