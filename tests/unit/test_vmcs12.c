/* vmcs-shadow/vmcs12.c: vmcs12 kept in L1 memory in the engine's region
 * layout (vmx/vmcs.h), and the set of fields L1 dirtied. Expected bytes
 * come from the layout the header documents (revision at 0, values from
 * 0x10 by dense index, SDM Vol. 3C 25.2 for the first two words). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmcs-shadow/vmcs12.h"

/* L1 memory: 16 KiB at MEM_BASE; nothing else is backed. */
enum { MEM_BASE = 0x200000, MEM_SIZE = 0x4000, REGION = MEM_BASE + 0x1000 };
#include "fake_phys.h"

static const struct vmcs12_mem l1 = {fake_read, fake_write, NULL};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int reset(void **state)
{
    (void)state;
    memset(mem, 0xA5, sizeof mem);
    return 0;
}

static void test_round_trip_through_l1_memory(void **state)
{
    (void)state;
    struct vmcs a, b;
    vmcs_init(&a, VMCS_REVISION_ID);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        vmcs_set(&a, (enum vmcs_index)i, 0x0123456789ABCDEFull * (i + 1));
    a.launch = VMCS_STATE_LAUNCHED;
    assert_true(vmcs12_write(&a, &l1, REGION));
    assert_int_equal(vmcs12_read(&b, &l1, REGION), VMCS12_OK);
    assert_int_equal(b.revision, VMCS_REVISION_ID);
    assert_int_equal(b.launch, VMCS_STATE_LAUNCHED);
    assert_memory_equal(a.value, b.value, sizeof a.value);
}

static void test_region_bytes_follow_the_engine_layout(void **state)
{
    (void)state;
    struct vmcs a;
    vmcs_init(&a, VMCS_REVISION_ID);
    vmcs_set(&a, VMCS_IDX_GUEST_RIP, 0xFFFF800000001000ull);
    vmcs_set(&a, VMCS_IDX_VPID, 7);
    assert_true(vmcs12_write(&a, &l1, REGION));
    const uint8_t *r = &mem[REGION - MEM_BASE];
    assert_int_equal(le32(r + 0), VMCS_REVISION_ID);
    assert_int_equal(le32(r + 4), 0); /* abort indicator */
    assert_int_equal(le32(r + 8), 0); /* clear */
    assert_int_equal(le32(r + 12), VMCS_FIELD_COUNT);
    assert_int_equal(le64(r + 16 + 8 * VMCS_IDX_GUEST_RIP),
                     0xFFFF800000001000ull);
    assert_int_equal(le64(r + 16 + 8 * VMCS_IDX_VPID), 7);
    /* The rest of the 4 KiB page is zero, not left as it was. */
    assert_int_equal(r[VMCS_REGION_SIZE - 1], 0);
    /* Nothing beyond the region was touched. */
    assert_int_equal(r[VMCS_REGION_SIZE], 0xA5);
}

static void test_region_outside_l1_memory(void **state)
{
    (void)state;
    struct vmcs a;
    vmcs_init(&a, VMCS_REVISION_ID);
    vmcs_set(&a, VMCS_IDX_GUEST_RIP, 5);
    /* Straddles the end of L1 memory. */
    uint64_t gpa = MEM_BASE + MEM_SIZE - 0x800;
    assert_false(vmcs12_write(&a, &l1, gpa));
    assert_int_equal(vmcs12_read(&a, &l1, gpa), VMCS12_UNREADABLE);
    assert_int_equal(vmcs_get(&a, VMCS_IDX_GUEST_RIP), 0);
    assert_int_equal(a.revision, 0);
}

static void test_region_of_another_layout_reads_as_zero(void **state)
{
    (void)state;
    /* What L1 does before VMPTRLD on real hardware: zero the page and
     * stamp a revision (here not ours). */
    memset(&mem[REGION - MEM_BASE], 0, VMCS_REGION_SIZE);
    mem[REGION - MEM_BASE] = 0x12;
    mem[REGION - MEM_BASE + 16 + 8 * VMCS_IDX_GUEST_RIP] = 0x77;
    struct vmcs v;
    assert_int_equal(vmcs12_read(&v, &l1, REGION), VMCS12_BAD_REVISION);
    assert_int_equal(v.revision, 0x12);
    assert_int_equal(vmcs_get(&v, VMCS_IDX_GUEST_RIP), 0);
}

static void test_dirty_set_starts_clear_and_marks_one_bit(void **state)
{
    (void)state;
    uint64_t d[VMCS12_DIRTY_WORDS];
    memset(d, 0xFF, sizeof d);
    vmcs12_dirty_clear(d);
    assert_int_equal(vmcs12_dirty_count(d), 0);
    vmcs12_dirty_mark(d, VMCS_IDX_GUEST_RIP);
    assert_true(vmcs12_dirty_test(d, VMCS_IDX_GUEST_RIP));
    assert_false(vmcs12_dirty_test(d, VMCS_IDX_GUEST_RSP));
    assert_int_equal(vmcs12_dirty_count(d), 1);
    /* The last index lives in the last word. */
    vmcs12_dirty_mark(d, (enum vmcs_index)(VMCS_FIELD_COUNT - 1));
    assert_true(vmcs12_dirty_test(d, (enum vmcs_index)(VMCS_FIELD_COUNT - 1)));
    assert_int_equal(vmcs12_dirty_count(d), 2);
}

static void test_dirty_all_marks_exactly_every_field(void **state)
{
    (void)state;
    uint64_t d[VMCS12_DIRTY_WORDS];
    vmcs12_dirty_all(d);
    assert_int_equal(vmcs12_dirty_count(d), VMCS_FIELD_COUNT);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        assert_true(vmcs12_dirty_test(d, (enum vmcs_index)i));
}

static void test_vmwrite_marks_the_field_it_wrote(void **state)
{
    (void)state;
    struct vmcs v;
    uint64_t d[VMCS12_DIRTY_WORDS];
    vmcs_init(&v, VMCS_REVISION_ID);
    vmcs12_dirty_clear(d);
    assert_int_equal(vmcs12_vmwrite(&v, d, VMCS_GUEST_RIP, 0x1234, false),
                     VMCS_OK);
    assert_int_equal(vmcs_get(&v, VMCS_IDX_GUEST_RIP), 0x1234);
    assert_true(vmcs12_dirty_test(d, VMCS_IDX_GUEST_RIP));
    /* The high half of a 64-bit field dirties the field. */
    assert_int_equal(vmcs12_vmwrite(&v, d, VMCS_TSC_OFFSET_HIGH, 1, false),
                     VMCS_OK);
    assert_true(vmcs12_dirty_test(d, VMCS_IDX_TSC_OFFSET));
    assert_int_equal(vmcs12_dirty_count(d), 2);
}

static void test_failed_vmwrite_marks_nothing(void **state)
{
    (void)state;
    struct vmcs v;
    uint64_t d[VMCS12_DIRTY_WORDS];
    vmcs_init(&v, VMCS_REVISION_ID);
    vmcs12_dirty_clear(d);
    /* Exit information without VMWRITE-any-field: error 13. */
    assert_int_equal(vmcs12_vmwrite(&v, d, VMCS_EXIT_REASON, 10, false),
                     VMCS_READ_ONLY_FIELD);
    /* No such field: error 12. */
    assert_int_equal(vmcs12_vmwrite(&v, d, 0x7FFE, 1, false),
                     VMCS_UNSUPPORTED_FIELD);
    assert_int_equal(vmcs12_dirty_count(d), 0);
    /* With VMWRITE-any-field the exit information is writable. */
    assert_int_equal(vmcs12_vmwrite(&v, d, VMCS_EXIT_REASON, 10, true),
                     VMCS_OK);
    assert_true(vmcs12_dirty_test(d, VMCS_IDX_EXIT_REASON));
}

#define T(f) cmocka_unit_test_setup(f, reset)
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_round_trip_through_l1_memory),
        T(test_region_bytes_follow_the_engine_layout),
        T(test_region_outside_l1_memory),
        T(test_region_of_another_layout_reads_as_zero),
        T(test_dirty_set_starts_clear_and_marks_one_bit),
        T(test_dirty_all_marks_exactly_every_field),
        T(test_vmwrite_marks_the_field_it_wrote),
        T(test_failed_vmwrite_marks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
