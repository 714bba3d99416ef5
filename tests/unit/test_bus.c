/* l0/dev/bus.c: range registration, lookup, open-bus reads, sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dev/bus.h"

/* A device that records its last access and answers a fixed pattern. */
struct probe {
    uint64_t offset, value;
    unsigned size, reads, writes;
};

static uint64_t probe_read(void *dev, uint64_t offset, unsigned size)
{
    struct probe *p = dev;
    p->offset = offset;
    p->size = size;
    p->reads++;
    return 0x1122334455667788ull;
}

static void probe_write(void *dev, uint64_t offset, unsigned size,
                        uint64_t value)
{
    struct probe *p = dev;
    p->offset = offset;
    p->size = size;
    p->value = value;
    p->writes++;
}

static void test_find_covers_exactly_the_range(void **state)
{
    (void)state;
    struct bus bus = {.name = "port"};
    struct probe p = {0};
    assert_int_equal(bus_register(&bus, 0x3f8, 8, &p, probe_read,
                                  probe_write, "uart"), 0);
    assert_null(bus_find(&bus, 0x3f7));
    assert_non_null(bus_find(&bus, 0x3f8));
    assert_string_equal(bus_find(&bus, 0x3ff)->name, "uart");
    assert_null(bus_find(&bus, 0x400));
}

static void test_overlaps_are_refused_neighbours_accepted(void **state)
{
    (void)state;
    struct bus bus = {.name = "port"};
    assert_int_equal(bus_register(&bus, 0x100, 0x10, NULL, NULL, NULL, "a"),
                     0);
    static const struct { uint64_t base, len; int rc; } cases[] = {
        {0x100, 0x10, -1}, /* the same range */
        {0x0f8, 0x09, -1}, /* ends on the first byte */
        {0x10f, 0x01, -1}, /* starts on the last byte */
        {0x104, 0x02, -1}, /* inside */
        {0x000, 0x1000, -1}, /* around */
        {0x0f0, 0x10, 0},  /* just below */
        {0x110, 0x10, 0},  /* just above */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(bus_register(&bus, cases[i].base, cases[i].len,
                                      NULL, NULL, NULL, "b"), cases[i].rc);
    assert_int_equal(bus.count, 3);
}

static void test_empty_wrapping_and_full_are_refused(void **state)
{
    (void)state;
    struct bus bus = {.name = "mmio"};
    assert_int_equal(bus_register(&bus, 0x1000, 0, NULL, NULL, NULL, "x"),
                     -1);
    assert_int_equal(bus_register(&bus, UINT64_MAX - 1, 4, NULL, NULL, NULL,
                                  "x"), -1);
    /* The very top of the address space is fine if it does not wrap. */
    assert_int_equal(bus_register(&bus, UINT64_MAX - 3, 4, NULL, NULL, NULL,
                                  "top"), 0);
    for (int i = 1; i < BUS_MAX_RANGES; i++)
        assert_int_equal(bus_register(&bus, (uint64_t)i * 16, 16, NULL,
                                      NULL, NULL, "r"), 0);
    assert_int_equal(bus_register(&bus, 0x100000, 16, NULL, NULL, NULL,
                                  "one too many"), -1);
    assert_non_null(bus_find(&bus, UINT64_MAX));
}

static void test_open_bus_reads_all_ones_of_the_size(void **state)
{
    (void)state;
    struct bus bus = {.name = "port"};
    static const struct { unsigned size; uint64_t value; } sizes[] = {
        {1, 0xff}, {2, 0xffff}, {4, 0xffffffff}, {8, UINT64_MAX},
    };
    for (size_t i = 0; i < 4; i++) {
        uint64_t v = 0;
        assert_int_equal(bus_read(&bus, 0x80, sizes[i].size, &v), 0);
        assert_int_equal(v, sizes[i].value);
    }
    assert_int_equal(bus_write(&bus, 0x80, 1, 0x12), 0);
}

static void test_device_sees_offset_size_and_masked_values(void **state)
{
    (void)state;
    struct bus bus = {.name = "mmio"};
    struct probe p = {0};
    assert_int_equal(bus_register(&bus, 0xfee00000, 0x1000, &p, probe_read,
                                  probe_write, "probe"), 0);
    uint64_t v;
    assert_int_equal(bus_read(&bus, 0xfee00030, 2, &v), 1);
    assert_int_equal(p.offset, 0x30);
    assert_int_equal(p.size, 2);
    assert_int_equal(v, 0x7788); /* only the bytes the access asked for */
    assert_int_equal(bus_read(&bus, 0xfee00030, 8, &v), 1);
    assert_int_equal(v, 0x1122334455667788ull);

    assert_int_equal(bus_write(&bus, 0xfee00ff0, 1, 0xabcd), 1);
    assert_int_equal(p.offset, 0xff0);
    assert_int_equal(p.size, 1);
    assert_int_equal(p.value, 0xcd);
    /* A size the CPU should never produce reaches no device. */
    assert_int_equal(bus_write(&bus, 0xfee00000, 3, 1), 0);
    assert_int_equal(p.writes, 1);
}

static void test_missing_callbacks_float_and_drop(void **state)
{
    (void)state;
    struct bus bus = {.name = "port"};
    assert_int_equal(bus_register(&bus, 0x8900, 1, NULL, NULL, NULL, "wo"),
                     0);
    uint64_t v = 0;
    assert_int_equal(bus_read(&bus, 0x8900, 2, &v), 1);
    assert_int_equal(v, 0xffff);
    assert_int_equal(bus_write(&bus, 0x8900, 1, 'S'), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_covers_exactly_the_range),
        cmocka_unit_test(test_overlaps_are_refused_neighbours_accepted),
        cmocka_unit_test(test_empty_wrapping_and_full_are_refused),
        cmocka_unit_test(test_open_bus_reads_all_ones_of_the_size),
        cmocka_unit_test(test_device_sees_offset_size_and_masked_values),
        cmocka_unit_test(test_missing_callbacks_float_and_drop),
    };
    return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
