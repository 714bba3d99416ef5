/* l0/cpu/tlb.c: O(1) flushes by epoch remove exactly what clearing the
 * array would (SDM Vol. 3A 4.10.4.1 for which entries each flush keeps),
 * also across the wrap of the 12-bit epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cpu/tlb.h"

static const uint64_t page_4k = ~0xFFFull, page_2m = ~0x1FFFFFull;

static struct tlb *new_tlb(void)
{
    struct tlb *t = calloc(1, sizeof *t);
    assert_non_null(t);
    tlb_init(t);
    return t;
}

static void fill(struct tlb *t, uint64_t lin, uint32_t perm, uint64_t mask)
{
    tlb_fill(t, tlb_slot(t, lin), lin, perm, mask);
}

static bool hit(struct tlb *t, uint64_t lin)
{
    return tlb_slot(t, lin)->tag == tlb_tag(t, lin);
}

static void test_fill_hits_only_its_own_page(void **state)
{
    (void)state;
    struct tlb *t = new_tlb();
    fill(t, 0x5000, TLB_WRITE, page_4k);
    assert_true(hit(t, 0x5FFF));
    assert_false(hit(t, 0x5000 + TLB_SIZE * 4096ull)); /* same slot */
    assert_false(hit(t, 0x6000));
    /* The top page of the address space: its tag uses all 52 bits. */
    fill(t, 0xFFFFFFFFFFFFF000ull, 0, page_4k);
    assert_true(hit(t, 0xFFFFFFFFFFFFF123ull));
    assert_false(hit(t, 0x7FFFFFFFFFFFF000ull));
    /* An empty slot never matches, not even linear page 0. */
    assert_false(hit(t, 0));
    free(t);
}

static void test_flush_all_removes_globals_too(void **state)
{
    (void)state;
    struct tlb *t = new_tlb();
    fill(t, 0x1000, 0, page_4k);
    fill(t, 0x2000, TLB_GLOBAL, page_4k);
    tlb_flush_all(t);
    assert_false(hit(t, 0x1000));
    assert_false(hit(t, 0x2000));
    assert_int_equal(t->flushes, 1);
    free(t);
}

static void test_flush_nonglobal_keeps_globals(void **state)
{
    (void)state;
    struct tlb *t = new_tlb();
    fill(t, 0x1000, 0, page_4k);
    fill(t, 0x2000, TLB_GLOBAL, page_4k);
    uint64_t gen = t->generation;
    tlb_flush_nonglobal(t);
    assert_false(hit(t, 0x1000));
    assert_true(hit(t, 0x2000));
    assert_true(t->generation != gen);
    /* Twice: the carried global survives again, and a full flush ends it. */
    tlb_flush_nonglobal(t);
    assert_true(hit(t, 0x2000));
    tlb_flush_all(t);
    assert_false(hit(t, 0x2000));
    free(t);
}

static void test_flush_page_removes_every_piece_of_a_large_page(void **state)
{
    (void)state;
    struct tlb *t = new_tlb();
    fill(t, 0x200000, 0, page_2m);
    fill(t, 0x3FF000, TLB_GLOBAL, page_2m);
    fill(t, 0x400000, 0, page_4k);
    tlb_flush_page(t, 0x234000); /* inside the 2 MiB page */
    assert_false(hit(t, 0x200000));
    assert_false(hit(t, 0x3FF000));
    assert_true(hit(t, 0x400000));
    free(t);
}

static void test_flush_page_of_small_pages(void **state)
{
    (void)state;
    struct tlb *t = new_tlb();
    fill(t, 0x7000, TLB_GLOBAL, page_4k);
    fill(t, 0x8000, 0, page_4k);
    tlb_flush_page(t, 0x7ABC);
    assert_false(hit(t, 0x7000));
    assert_true(hit(t, 0x8000));
    /* A page in the same slot but another linear page is left alone. */
    fill(t, 0x7000, 0, page_4k);
    tlb_flush_page(t, 0x7000 + TLB_SIZE * 4096ull);
    assert_true(hit(t, 0x7000));
    free(t);
}

/* After every epoch was used once, old entries must not come back: an
 * entry filled in epoch 1 and untouched must stay gone when epoch 1
 * starts again, while carried globals remain. */
static void test_epoch_wrap_revives_nothing(void **state)
{
    (void)state;
    struct tlb *t = new_tlb();
    fill(t, 0x1000, 0, page_4k);
    fill(t, 0x2000, TLB_GLOBAL, page_4k);
    for (unsigned i = 0; i < 3 * TLB_EPOCHS; i++) {
        tlb_flush_nonglobal(t);
        assert_false(hit(t, 0x1000));
        assert_true(hit(t, 0x2000));
    }
    for (unsigned i = 0; i < 2 * TLB_EPOCHS; i++) {
        if (i == 5)
            fill(t, 0x3000, 0, page_4k);
        tlb_flush_all(t);
        assert_false(hit(t, 0x1000));
        assert_false(hit(t, 0x2000));
        assert_false(hit(t, 0x3000));
    }
    free(t);
}

/* An epoch set aside comes back with its entries, except those another
 * epoch overwrote meanwhile; what was filled while it was aside does not
 * survive the return; a flush after the return starts an epoch never
 * used before (the one in between stays dead); and once the epochs wrap
 * and the array is cleared, nothing set aside comes back. */
static void test_set_aside_and_take_back(void **state)
{
    (void)state;
    struct tlb *t = new_tlb();
    struct tlb_aside a = {0};
    fill(t, 0x1000, 0, page_4k);
    fill(t, 0x2000, 0, page_4k);
    tlb_set_aside(t, &a);
    assert_false(hit(t, 0x1000));
    fill(t, 0x2000 + TLB_SIZE * 4096ull, 0, page_4k); /* 0x2000's slot */
    fill(t, 0x7000, 0, page_4k);
    tlb_take_back(t, &a);
    assert_true(hit(t, 0x1000));
    assert_false(hit(t, 0x2000));
    assert_false(hit(t, 0x7000));
    assert_false(a.held);
    tlb_flush_all(t);
    assert_false(hit(t, 0x1000));
    assert_false(hit(t, 0x7000));
    /* Nothing held: taking back flushes. */
    fill(t, 0x3000, 0, page_4k);
    tlb_take_back(t, &a);
    assert_false(hit(t, 0x3000));
    /* A wrap in between. */
    fill(t, 0x4000, 0, page_4k);
    tlb_set_aside(t, &a);
    for (unsigned i = 0; i < TLB_EPOCHS; i++)
        tlb_flush_all(t);
    tlb_take_back(t, &a);
    assert_false(hit(t, 0x4000));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_hits_only_its_own_page),
        cmocka_unit_test(test_flush_all_removes_globals_too),
        cmocka_unit_test(test_flush_nonglobal_keeps_globals),
        cmocka_unit_test(test_flush_page_removes_every_piece_of_a_large_page),
        cmocka_unit_test(test_flush_page_of_small_pages),
        cmocka_unit_test(test_epoch_wrap_revives_nothing),
        cmocka_unit_test(test_set_aside_and_take_back),
    };
    return cmocka_run_group_tests_name("tlb", tests, NULL, NULL);
}
