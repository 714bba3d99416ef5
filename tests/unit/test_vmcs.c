/* l0/vmx/vmcs.c: VMREAD/VMWRITE width rules (SDM Vol. 3C 25.11.2, Vol. 2C
 * VMREAD/VMWRITE), read-only exit information, and the region layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmx/vmcs.h"
#include "vmcs_sdm_encodings.h"

/* A distinct 64-bit pattern per encoding, so that two fields sharing
 * storage would show. */
static uint64_t pattern(uint64_t e)
{
    uint64_t x = e * 0x9E3779B97F4A7C15ull + 0xD1B54A32D192ED03ull;
    x ^= x >> 29;
    return x | 0x8000000080008000ull; /* set a bit above each width */
}

static uint64_t width_mask(enum vmcs_width w)
{
    switch (w) {
    case VMCS_WIDTH_16: return 0xFFFF;
    case VMCS_WIDTH_32: return 0xFFFFFFFF;
    default: return ~0ull; /* 64-bit, and natural on a 64-bit CPU */
    }
}

static int setup(void **state)
{
    static struct vmcs v;
    vmcs_init(&v, VMCS_REVISION_ID);
    *state = &v;
    return 0;
}

static void test_every_field_round_trips_truncated_to_its_width(void **state)
{
    struct vmcs *v = *state;
    for (size_t s = 0; s < N(sections); s++)
        for (size_t k = 0; k < sections[s].n; k++) {
            uint16_t e = sections[s].enc[k];
            assert_int_equal(vmcs_write(v, e, pattern(e), true), VMCS_OK);
        }
    /* Read back after all writes: no field overlaps another. */
    for (size_t s = 0; s < N(sections); s++)
        for (size_t k = 0; k < sections[s].n; k++) {
            uint16_t e = sections[s].enc[k];
            uint64_t got = 0;
            assert_int_equal(vmcs_read(v, e, &got), VMCS_OK);
            if (got != (pattern(e) & width_mask(sections[s].width)))
                fail_msg("%#x read %#llx", e, (unsigned long long)got);
        }
}

static void test_high_encoding_accesses_bits_63_32(void **state)
{
    struct vmcs *v = *state;
    for (size_t s = 0; s < N(sections); s++) {
        if (sections[s].width != VMCS_WIDTH_64)
            continue;
        for (size_t k = 0; k < sections[s].n; k++) {
            uint16_t e = sections[s].enc[k];
            uint64_t got;
            assert_int_equal(
                vmcs_write(v, e, 0x1122334455667788ull, true), VMCS_OK);
            assert_int_equal(vmcs_read(v, e + 1, &got), VMCS_OK);
            assert_int_equal(got, 0x11223344);
            /* A high write takes bits 31:0 of the operand, keeps the low
             * half of the field. */
            assert_int_equal(
                vmcs_write(v, e + 1, 0xFFFFFFFFAABBCCDDull, true), VMCS_OK);
            assert_int_equal(vmcs_read(v, e, &got), VMCS_OK);
            assert_int_equal(got, 0xAABBCCDD55667788ull);
            assert_int_equal(vmcs_read(v, e + 1, &got), VMCS_OK);
            assert_int_equal(got, 0xAABBCCDD);
            /* A full write of a zero-extended 32-bit operand (VMWRITE
             * outside 64-bit mode) clears bits 63:32. */
            assert_int_equal(vmcs_write(v, e, 0x12345678, true), VMCS_OK);
            assert_int_equal(vmcs_read(v, e + 1, &got), VMCS_OK);
            assert_int_equal(got, 0);
        }
    }
}

/* VMWRITE then VMREAD of one field (exit information writable). */
static uint64_t write_read(struct vmcs *v, uint16_t e, uint64_t value)
{
    uint64_t got = 0x5A5A;
    assert_int_equal(vmcs_write(v, e, value, true), VMCS_OK);
    assert_int_equal(vmcs_read(v, e, &got), VMCS_OK);
    return got;
}

static void test_natural_width_fields_hold_64_bits(void **state)
{
    struct vmcs *v = *state;
    assert_int_equal(write_read(v, 0x681E, 0xFFFF800012345678ull),
                     0xFFFF800012345678ull); /* GUEST_RIP */
    assert_int_equal(vmcs_get(v, VMCS_IDX_GUEST_RIP), 0xFFFF800012345678ull);
    assert_int_equal(write_read(v, 0x6400, ~0ull), ~0ull); /* qualification */
}

static void test_narrow_fields_zero_extend_and_truncate(void **state)
{
    struct vmcs *v = *state;
    assert_int_equal(write_read(v, 0x0802, 0xFFFFFFFFFFFF0010ull),
                     0x0010); /* GUEST_CS_SELECTOR */
    assert_int_equal(write_read(v, 0x4816, 0xDEADBEEF0000A09Bull),
                     0xA09B); /* GUEST_CS_AR */
    assert_int_equal(write_read(v, 0x4402, 0xFFFFFFFF80000021ull),
                     0x80000021); /* EXIT_REASON */
    vmcs_set(v, VMCS_IDX_GUEST_SS_SELECTOR, 0x123456);
    assert_int_equal(vmcs_get(v, VMCS_IDX_GUEST_SS_SELECTOR), 0x3456);
}

static void test_exit_information_is_read_only_unless_allowed(void **state)
{
    struct vmcs *v = *state;
    static const uint16_t exit_info[] = {0x2400, 0x2401, 0x4402, 0x440E,
                                         0x6400, 0x640A};
    for (size_t k = 0; k < N(exit_info); k++) {
        uint64_t got = 1;
        assert_int_equal(vmcs_write(v, exit_info[k], 7, false),
                         VMCS_READ_ONLY_FIELD);
        assert_int_equal(vmcs_read(v, exit_info[k], &got), VMCS_OK);
        assert_int_equal(got, 0);
        assert_int_equal(vmcs_write(v, exit_info[k], 7, true), VMCS_OK);
        assert_int_equal(vmcs_read(v, exit_info[k], &got), VMCS_OK);
        assert_int_equal(got, 7);
    }
    /* Other types are writable either way. */
    assert_int_equal(vmcs_write(v, 0x4000, 1, false), VMCS_OK);
    assert_int_equal(vmcs_write(v, 0x6C16, 1, false), VMCS_OK);
}

static void test_unsupported_components_fail_with_error_12(void **state)
{
    struct vmcs *v = *state;
    static const uint64_t bad[] = {0x0003, 0xFFFF, 0x4001, 0x6801, 0x482C,
                                   0x1000, 0x100000000ull};
    for (size_t k = 0; k < N(bad); k++) {
        uint64_t got = 0x5A;
        assert_int_equal(vmcs_read(v, bad[k], &got), 12);
        assert_int_equal(got, 0x5A);
        assert_int_equal(vmcs_write(v, bad[k], 1, true), 12);
        assert_int_equal(vmcs_write(v, bad[k], 1, false), 12);
    }
    /* Nothing was written anywhere. */
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        assert_int_equal(vmcs_get(v, (enum vmcs_index)i), 0);
    assert_int_equal(VMCS_UNSUPPORTED_FIELD, 12);
    assert_int_equal(VMCS_READ_ONLY_FIELD, 13);
}

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void fill(struct vmcs *v)
{
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        vmcs_set(v, (enum vmcs_index)i, pattern(vmcs_field_at(i)->encoding));
    v->abort = 0xABCD;
    v->launch = VMCS_STATE_LAUNCHED;
}

static void test_region_header_offsets(void **state)
{
    struct vmcs *v = *state;
    static uint8_t region[4096];
    fill(v);
    v->revision = VMCS_REVISION_ID | 0x80000000u; /* a shadow VMCS */
    memset(region, 0xEE, sizeof region);
    vmcs_store(v, region);
    /* SDM Vol. 3C 25.2: revision identifier at byte 0, abort at 4. */
    assert_int_equal(le32(region + 0), VMCS_REVISION_ID | 0x80000000u);
    assert_int_equal(le32(region + 4), 0xABCD);
    /* Layout version 1: launch state at 8, field count at 12, values by
     * dense index from 16 (VPID, index 0, first). */
    assert_int_equal(le32(region + 8), 1);
    assert_int_equal(le32(region + 12), VMCS_FIELD_COUNT);
    assert_int_equal(le64(region + 16), pattern(0x0000) & 0xFFFF);
    assert_int_equal(le64(region + 16 + 8 * VMCS_IDX_GUEST_RIP),
                     pattern(0x681E));
    size_t end = 16 + 8 * VMCS_FIELD_COUNT;
    for (size_t k = end; k < sizeof region; k++)
        assert_int_equal(region[k], 0);
    /* The revision carries the layout version; bit 31 is never part of
     * it. */
    assert_int_equal(VMCS_REVISION_ID & 0xFFFF, VMCS_LAYOUT_VERSION);
    assert_int_equal(VMCS_REVISION_ID >> 31, 0);
}

static void test_region_round_trip(void **state)
{
    struct vmcs *v = *state;
    static struct vmcs back;
    static uint8_t region[4096];
    fill(v);
    vmcs_store(v, region);
    assert_true(vmcs_load(&back, region));
    assert_int_equal(back.revision, v->revision);
    assert_int_equal(back.abort, v->abort);
    assert_int_equal(back.launch, VMCS_STATE_LAUNCHED);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        assert_int_equal(back.value[i], v->value[i]);
    v->launch = VMCS_STATE_CLEAR;
    vmcs_store(v, region);
    assert_true(vmcs_load(&back, region));
    assert_int_equal(back.launch, VMCS_STATE_CLEAR);
}

static void test_region_load_tolerates_any_bytes(void **state)
{
    (void)state;
    static struct vmcs v;
    static uint8_t region[4096];
    /* A region the guest zeroed and stamped with the revision: not our
     * layout (no field count), so all fields 0 and launch state clear. */
    memset(region, 0, sizeof region);
    region[0] = VMCS_REVISION_ID & 0xFF;
    region[1] = VMCS_REVISION_ID >> 8 & 0xFF;
    region[2] = VMCS_REVISION_ID >> 16 & 0xFF;
    region[3] = VMCS_REVISION_ID >> 24;
    region[8] = 1;
    region[16] = 0x77;
    assert_false(vmcs_load(&v, region));
    assert_int_equal(v.revision, VMCS_REVISION_ID);
    assert_int_equal(v.launch, VMCS_STATE_CLEAR);
    assert_int_equal(v.value[0], 0);
    /* All ones with our header: values truncated to their widths, an
     * unknown launch state reads as clear. */
    memset(region, 0xFF, sizeof region);
    memcpy(region, (uint8_t[]){VMCS_REVISION_ID & 0xFF,
                               VMCS_REVISION_ID >> 8 & 0xFF,
                               VMCS_REVISION_ID >> 16 & 0xFF,
                               VMCS_REVISION_ID >> 24 | 0x80},
           4);
    region[12] = VMCS_FIELD_COUNT;
    region[13] = region[14] = region[15] = 0;
    assert_true(vmcs_load(&v, region));
    assert_int_equal(v.revision, VMCS_REVISION_ID | 0x80000000u);
    assert_int_equal(v.abort, 0xFFFFFFFFu);
    assert_int_equal(v.launch, VMCS_STATE_CLEAR);
    assert_int_equal(vmcs_get(&v, VMCS_IDX_GUEST_CS_SELECTOR), 0xFFFF);
    assert_int_equal(vmcs_get(&v, VMCS_IDX_EXIT_REASON), 0xFFFFFFFF);
    assert_int_equal(vmcs_get(&v, VMCS_IDX_GUEST_RIP), ~0ull);
    /* Another revision: not ours either. */
    region[0] ^= 1;
    assert_false(vmcs_load(&v, region));
    assert_int_equal(vmcs_get(&v, VMCS_IDX_GUEST_RIP), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(
            test_every_field_round_trips_truncated_to_its_width, setup),
        cmocka_unit_test_setup(test_high_encoding_accesses_bits_63_32, setup),
        cmocka_unit_test_setup(test_natural_width_fields_hold_64_bits, setup),
        cmocka_unit_test_setup(test_narrow_fields_zero_extend_and_truncate,
                               setup),
        cmocka_unit_test_setup(
            test_exit_information_is_read_only_unless_allowed, setup),
        cmocka_unit_test_setup(test_unsupported_components_fail_with_error_12,
                               setup),
        cmocka_unit_test_setup(test_region_header_offsets, setup),
        cmocka_unit_test_setup(test_region_round_trip, setup),
        cmocka_unit_test(test_region_load_tolerates_any_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
