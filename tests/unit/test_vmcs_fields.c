/* l0/vmx/vmcs_fields.c: the VMCS field table against SDM Vol. 3D
 * Appendix B (the encodings of vmcs_sdm_encodings.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmx/vmcs_fields.h"
#include "vmcs_sdm_encodings.h"

static void test_every_sdm_encoding_is_in_the_table_exactly_once(void **state)
{
    (void)state;
    static unsigned hits[VMCS_FIELD_COUNT];
    memset(hits, 0, sizeof hits);
    size_t total = 0;
    for (size_t s = 0; s < N(sections); s++) {
        for (size_t k = 0; k < sections[s].n; k++) {
            uint16_t e = sections[s].enc[k];
            int i = vmcs_field_index(e);
            if (i < 0)
                fail_msg("%s: %#x is not in the table", sections[s].name, e);
            assert_int_equal(vmcs_field_at((size_t)i)->encoding, e);
            hits[i]++;
            total++;
        }
    }
    /* As many rows as SDM encodings, each hit once: nothing extra. */
    assert_int_equal(total, VMCS_FIELD_COUNT);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        if (hits[i] != 1)
            fail_msg("row %zu (%s) hit %u times", i, vmcs_field_at(i)->name,
                     hits[i]);
}

static void test_width_and_type_follow_the_encoding_bits(void **state)
{
    (void)state;
    for (size_t s = 0; s < N(sections); s++)
        for (size_t k = 0; k < sections[s].n; k++) {
            uint16_t e = sections[s].enc[k];
            assert_int_equal(vmcs_encoding_width(e), sections[s].width);
            assert_int_equal(vmcs_encoding_type(e), sections[s].type);
            assert_false(vmcs_encoding_is_high(e));
        }
}

static void test_high_encodings_only_for_64_bit_fields(void **state)
{
    (void)state;
    for (size_t s = 0; s < N(sections); s++)
        for (size_t k = 0; k < sections[s].n; k++) {
            uint16_t e = sections[s].enc[k];
            if (sections[s].width == VMCS_WIDTH_64) {
                assert_int_equal(vmcs_field_index(e + 1), vmcs_field_index(e));
                assert_true(vmcs_encoding_is_high(e + 1));
            } else {
                assert_int_equal(vmcs_field_index(e + 1), -1);
            }
        }
}

static void test_unsupported_encodings_are_refused(void **state)
{
    (void)state;
    static const uint64_t bad[] = {
        0x0003,  /* high access of a 16-bit field */
        0x0001,  /* high access of VPID */
        0x4001,  /* high access of a 32-bit field */
        0x4403,  /* high access of a 32-bit read-only field */
        0x681F,  /* high access of a natural-width field */
        0xFFFF,  /* reserved bits 15 and 12 */
        0x8000,  /* bit 15 */
        0x1000,  /* bit 12 */
        0x1800,  /* bit 12 over a guest selector */
        0x000A,  /* not an Appendix B encoding in this table */
        0x2046, 0x2048, 0x2402, 0x281A, 0x2C08, 0x482C, 0x4C02, 0x600E + 2,
        0x640C, 0x682E, 0x6C1E,
        0x07FE,  /* index beyond the map */
        0x10000681Eull, /* bits 63:32 of a register operand */
        0x1681E,        /* bit 16 */
    };
    for (size_t k = 0; k < N(bad); k++)
        if (vmcs_field_index(bad[k]) != -1)
            fail_msg("%#llx accepted", (unsigned long long)bad[k]);
}

static void test_iteration_is_in_encoding_order(void **state)
{
    (void)state;
    for (size_t i = 1; i < VMCS_FIELD_COUNT; i++)
        assert_true(vmcs_field_at(i - 1)->encoding <
                    vmcs_field_at(i)->encoding);
    assert_null(vmcs_field_at(VMCS_FIELD_COUNT));
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        assert_int_equal(vmcs_field_index(vmcs_field_at(i)->encoding),
                         (int)i);
}

static void test_names_are_unique_and_match_the_enum(void **state)
{
    (void)state;
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++) {
        const char *a = vmcs_field_at(i)->name;
        assert_non_null(a);
        assert_true(strlen(a) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a, vmcs_field_at(j)->name);
    }
    /* Spot checks of the named constants against the SDM. */
    assert_int_equal(VMCS_GUEST_RIP, 0x681E);
    assert_string_equal(vmcs_field_at(VMCS_IDX_GUEST_RIP)->name, "GUEST_RIP");
    assert_int_equal(VMCS_VPID, 0x0000);
    assert_int_equal(VMCS_EPT_POINTER, 0x201A);
    assert_int_equal(VMCS_EPT_POINTER_HIGH, 0x201B);
    assert_int_equal(VMCS_LINK_POINTER, 0x2800);
    assert_int_equal(VMCS_GUEST_PAT_HIGH, 0x2805);
    assert_int_equal(VMCS_VMREAD_BITMAP_ADDR, 0x2026);
    assert_int_equal(VMCS_VMWRITE_BITMAP_ADDR, 0x2028);
    assert_int_equal(VMCS_PROC_CONTROLS2, 0x401E);
    assert_int_equal(VMCS_EXIT_REASON, 0x4402);
    assert_int_equal(VMCS_PREEMPTION_TIMER, 0x482E);
    assert_int_equal(VMCS_EXIT_QUALIFICATION, 0x6400);
    assert_int_equal(VMCS_HOST_RIP, 0x6C16);
    assert_int_equal(vmcs_field_index(VMCS_HOST_RIP), VMCS_IDX_HOST_RIP);
}

static void test_describe_names_fields_for_messages(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(vmcs_field_describe(0x681E, buf, sizeof buf),
                        "GUEST_RIP (0x681e)");
    assert_string_equal(vmcs_field_describe(0x2805, buf, sizeof buf),
                        "GUEST_PAT high (0x2805)");
    assert_string_equal(vmcs_field_describe(0x4001, buf, sizeof buf),
                        "unsupported field 0x4001");
    /* Truncation is safe. */
    assert_string_equal(vmcs_field_describe(0x681E, buf, 6), "GUEST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sdm_encoding_is_in_the_table_exactly_once),
        cmocka_unit_test(test_width_and_type_follow_the_encoding_bits),
        cmocka_unit_test(test_high_encodings_only_for_64_bit_fields),
        cmocka_unit_test(test_unsupported_encodings_are_refused),
        cmocka_unit_test(test_iteration_is_in_encoding_order),
        cmocka_unit_test(test_names_are_unique_and_match_the_enum),
        cmocka_unit_test(test_describe_names_fields_for_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
