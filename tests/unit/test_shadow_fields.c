/* vmcs-shadow/shadow_fields.c: the VMREAD/VMWRITE bitmaps of VMCS
 * shadowing and the two sync directions. Bit positions are worked out
 * here from the SDM's rule (Vol. 2C "VMREAD"/"VMWRITE", Vol. 3C 25.6.15):
 * bit n of the bitmap, n = encoding bits 14:0, is bit n % 8 of byte n / 8;
 * clear means the access goes to the shadow VMCS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmcs-shadow/shadow_fields.h"
#include "vmcs-shadow/vmcs12.h"

static uint8_t rbm[SHADOW_BITMAP_SIZE], wbm[SHADOW_BITMAP_SIZE];

static bool exits(const uint8_t *bitmap, uint32_t encoding)
{
    return (bitmap[encoding / 8] >> (encoding % 8)) & 1;
}

static void test_guest_rip_is_shadowed_both_ways(void **state)
{
    (void)state;
    shadow_bitmaps_build(rbm, wbm, false);
    /* GUEST_RIP = 0x681E: byte 0xD03, bit 6. */
    assert_int_equal(rbm[0xD03] & 0x40, 0);
    assert_int_equal(wbm[0xD03] & 0x40, 0);
}

static void test_ept_pointer_and_insn_error_exit(void **state)
{
    (void)state;
    shadow_bitmaps_build(rbm, wbm, true);
    /* EPT_POINTER 0x201A (an address L0 must translate) and its high
     * half; VM-instruction error 0x4400 (L0 writes it on VMfailValid). */
    const uint32_t enc[] = {0x201A, 0x201B, 0x4400, 0x2004, 0x2800};
    for (unsigned k = 0; k < sizeof enc / sizeof enc[0]; k++) {
        assert_true(exits(rbm, enc[k]));
        assert_true(exits(wbm, enc[k]));
    }
}

static void test_l1vmm_cpuid_exit_path_is_shadowed(void **state)
{
    (void)state;
    shadow_bitmaps_build(rbm, wbm, false);
    /* l1vmm's L2 CPUID: VMREAD EXIT_REASON 0x4402, IDT_VECTORING_INFO
     * 0x4408, GUEST_RIP 0x681E, EXIT_INSN_LEN 0x440C; VMWRITE GUEST_RIP. */
    const uint32_t reads[] = {0x4402, 0x4408, 0x681E, 0x440C};
    for (unsigned k = 0; k < sizeof reads / sizeof reads[0]; k++)
        assert_false(exits(rbm, reads[k]));
    assert_false(exits(wbm, 0x681E));
}

static void test_exit_information_is_read_shadowed_only(void **state)
{
    (void)state;
    /* EXIT_REASON 0x4402, EXIT_QUALIFICATION 0x6400: read from the
     * shadow; a VMWRITE of them must reach L0, which answers VMfailValid
     * 13 as the hardware would. */
    shadow_bitmaps_build(rbm, wbm, false);
    assert_false(exits(rbm, 0x4402));
    assert_false(exits(rbm, 0x6400));
    assert_true(exits(wbm, 0x4402));
    assert_true(exits(wbm, 0x6400));
    /* With VMWRITE-any-field (IA32_VMX_MISC[29]) they are writable, so
     * both bitmaps shadow them. */
    shadow_bitmaps_build(rbm, wbm, true);
    assert_false(exits(wbm, 0x4402));
    assert_false(exits(wbm, 0x6400));
}

static void test_64bit_field_shadows_full_and_high(void **state)
{
    (void)state;
    shadow_bitmaps_build(rbm, wbm, false);
    /* GUEST_PHYSICAL_ADDR 0x2400/0x2401 (read-only), GUEST_EFER
     * 0x2806/0x2807 (read-write). */
    assert_false(exits(rbm, 0x2400));
    assert_false(exits(rbm, 0x2401));
    assert_false(exits(rbm, 0x2806));
    assert_false(exits(rbm, 0x2807));
    assert_false(exits(wbm, 0x2806));
    assert_false(exits(wbm, 0x2807));
}

/* Every clear bit belongs to a field the predicate calls shadowed, and
 * every such field's bits are clear: no stray bits. */
static void test_bitmaps_agree_with_the_predicate(void **state)
{
    (void)state;
    for (int any = 0; any <= 1; any++) {
        shadow_bitmaps_build(rbm, wbm, any);
        for (uint32_t n = 0; n < 8 * SHADOW_BITMAP_SIZE; n++) {
            int idx = vmcs_field_index(n);
            bool r = idx >= 0 &&
                     shadow_field_shadowed((enum vmcs_index)idx, false, any);
            bool w = idx >= 0 &&
                     shadow_field_shadowed((enum vmcs_index)idx, true, any);
            assert_int_equal(!exits(rbm, n), r);
            assert_int_equal(!exits(wbm, n), w);
        }
    }
}

static void fill(struct vmcs *v, uint64_t base)
{
    vmcs_init(v, VMCS_REVISION_ID);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        vmcs_set(v, (enum vmcs_index)i, base + i);
}

static void test_sync_to_shadow_copies_only_shadowed_fields(void **state)
{
    (void)state;
    struct vmcs v12, shadow;
    fill(&v12, 0x1000);
    fill(&shadow, 0x9000);
    assert_int_equal(shadow_sync_to_shadow(&shadow, &v12), shadow_field_count);
    assert_int_equal(vmcs_get(&shadow, VMCS_IDX_GUEST_RIP),
                     0x1000 + VMCS_IDX_GUEST_RIP);
    assert_int_equal(vmcs_get(&shadow, VMCS_IDX_EXIT_REASON),
                     0x1000 + VMCS_IDX_EXIT_REASON);
    assert_int_equal(vmcs_get(&shadow, VMCS_IDX_EPT_POINTER),
                     0x9000 + VMCS_IDX_EPT_POINTER);
    assert_int_equal(vmcs_get(&shadow, VMCS_IDX_HOST_RIP),
                     0x9000 + VMCS_IDX_HOST_RIP);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++) {
        bool sh = shadow_field_shadowed((enum vmcs_index)i, false, false);
        assert_int_equal(vmcs_get(&shadow, (enum vmcs_index)i),
                         (sh ? 0x1000 : 0x9000) + i);
    }
}

static void test_sync_from_shadow_copies_writes_and_marks_dirty(void **state)
{
    (void)state;
    struct vmcs v12, shadow;
    uint64_t d[VMCS12_DIRTY_WORDS];
    fill(&v12, 0x1000);
    fill(&shadow, 0x1000); /* as the last sync to the shadow left it */
    vmcs12_dirty_clear(d);
    /* L1 ran: it wrote GUEST_RIP and ENTRY_INTR_INFO in the shadow. The
     * others cannot change by L1 under these bitmaps; the changes below
     * check that the sync does not look at them. */
    vmcs_set(&shadow, VMCS_IDX_GUEST_RIP, 0xAAAA);
    vmcs_set(&shadow, VMCS_IDX_ENTRY_INTR_INFO, 0x80000B0E);
    vmcs_set(&shadow, VMCS_IDX_EPT_POINTER, 0xBAD);  /* not shadowed */
    vmcs_set(&shadow, VMCS_IDX_EXIT_REASON, 0xBAD);  /* read-only */
    unsigned read = shadow_sync_from_shadow(&v12, d, &shadow, false);
    assert_true(read > 0 && read < shadow_field_count);
    assert_int_equal(vmcs_get(&v12, VMCS_IDX_GUEST_RIP), 0xAAAA);
    assert_int_equal(vmcs_get(&v12, VMCS_IDX_ENTRY_INTR_INFO), 0x80000B0E);
    assert_int_equal(vmcs_get(&v12, VMCS_IDX_EPT_POINTER),
                     0x1000 + VMCS_IDX_EPT_POINTER);
    assert_int_equal(vmcs_get(&v12, VMCS_IDX_EXIT_REASON),
                     0x1000 + VMCS_IDX_EXIT_REASON);
    assert_true(vmcs12_dirty_test(d, VMCS_IDX_GUEST_RIP));
    assert_true(vmcs12_dirty_test(d, VMCS_IDX_ENTRY_INTR_INFO));
    assert_int_equal(vmcs12_dirty_count(d), 2);
}

static void test_sync_from_shadow_with_vmwrite_any_field(void **state)
{
    (void)state;
    struct vmcs v12, shadow;
    uint64_t d[VMCS12_DIRTY_WORDS];
    fill(&v12, 0x1000);
    fill(&shadow, 0x1000);
    vmcs12_dirty_clear(d);
    vmcs_set(&shadow, VMCS_IDX_EXIT_QUALIFICATION, 0x77);
    unsigned read = shadow_sync_from_shadow(&v12, d, &shadow, true);
    assert_int_equal(read, shadow_field_count);
    assert_int_equal(vmcs_get(&v12, VMCS_IDX_EXIT_QUALIFICATION), 0x77);
    assert_true(vmcs12_dirty_test(d, VMCS_IDX_EXIT_QUALIFICATION));
    assert_int_equal(vmcs12_dirty_count(d), 1);
}

static void test_unchanged_shadow_dirties_nothing(void **state)
{
    (void)state;
    struct vmcs v12, shadow;
    uint64_t d[VMCS12_DIRTY_WORDS];
    fill(&v12, 0x1000);
    fill(&shadow, 0x5000);
    vmcs12_dirty_clear(d);
    shadow_sync_to_shadow(&shadow, &v12);
    shadow_sync_from_shadow(&v12, d, &shadow, false);
    assert_int_equal(vmcs12_dirty_count(d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_rip_is_shadowed_both_ways),
        cmocka_unit_test(test_ept_pointer_and_insn_error_exit),
        cmocka_unit_test(test_l1vmm_cpuid_exit_path_is_shadowed),
        cmocka_unit_test(test_exit_information_is_read_shadowed_only),
        cmocka_unit_test(test_64bit_field_shadows_full_and_high),
        cmocka_unit_test(test_bitmaps_agree_with_the_predicate),
        cmocka_unit_test(test_sync_to_shadow_copies_only_shadowed_fields),
        cmocka_unit_test(test_sync_from_shadow_copies_writes_and_marks_dirty),
        cmocka_unit_test(test_sync_from_shadow_with_vmwrite_any_field),
        cmocka_unit_test(test_unchanged_shadow_dirties_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
