/* l0/dev/pit.c: the 8254 counters against the Intel 82C54 data sheet's
 * mode descriptions, on a clock the test sets by PIT tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "port_io.h"

#include "dev/bus.h"
#include "dev/pit.h"

#define RIG_DEVICE struct pit *p
#define RIG_CREATE(rig) \
    ((rig)->p = pit_create(&(rig)->m.ports, clock_now, NULL, (rig)))
#define RIG_DESTROY(rig) pit_destroy((rig)->p)
#include "device_rig.h"

static void at_tick(struct rig *r, uint64_t tick)
{
    r->now = pit_cycle_of(tick);
}

static void out(struct rig *r, uint16_t port, uint8_t v)
{
    port_out(&r->m.ports, port, v);
}

static uint8_t in(struct rig *r, uint16_t port)
{
    return port_in(&r->m.ports, port);
}

/* LSB then MSB, as the access mode "both" reads them. */
static unsigned read_word(struct rig *r, uint16_t port)
{
    unsigned lo = in(r, port);
    return lo | (unsigned)in(r, port) << 8;
}

static void write_word(struct rig *r, uint16_t port, unsigned v)
{
    out(r, port, (uint8_t)v);
    out(r, port, (uint8_t)(v >> 8));
}

static unsigned status(struct rig *r, unsigned channel)
{
    out(r, 0x43, (uint8_t)(0xE0 | 2u << channel)); /* read-back status */
    return in(r, (uint16_t)(0x40 + channel));
}

static void test_clock_is_1193182_hz_of_the_tsc(void **state)
{
    (void)state;
    /* One second of the 1 GHz TSC is 1,193,182 PIT clocks. */
    assert_int_equal(pit_tick_at(1000000000ull), 1193182);
    assert_int_equal(pit_tick_at(999999999ull), 1193181);
    assert_int_equal(pit_cycle_of(1193182), 1000000000ull);
    assert_int_equal(pit_cycle_of(1), 839); /* 838.1 ns, rounded up */
    assert_int_equal(pit_tick_at(838), 0);
    assert_int_equal(pit_tick_at(839), 1);
}

static void test_mode0_interrupt_on_terminal_count(void **state)
{
    struct rig *r = *state;
    bool level;
    at_tick(r, 10);
    out(r, 0x43, 0x30); /* channel 0, LSB then MSB, mode 0, binary */
    assert_int_equal(status(r, 0) & 0x80, 0); /* OUT low at once */
    write_word(r, 0x40, 100);
    /* Loaded on the next clock, tick 11; terminal count at 111. */
    assert_int_equal(status(r, 0), 0x70); /* null count, RW 3, mode 0 */
    at_tick(r, 11);
    assert_int_equal(read_word(r, 0x40), 100);
    at_tick(r, 61);
    assert_int_equal(read_word(r, 0x40), 50);
    assert_int_equal(pit_next_out0_edge(r->p, r->now), pit_cycle_of(111));
    assert_int_equal(pit_out0_edges(r->p, pit_cycle_of(110), &level), 0);
    assert_false(level);
    assert_int_equal(pit_out0_edges(r->p, pit_cycle_of(111), &level), 1);
    assert_true(level);
    /* After terminal count the counter wraps and OUT stays high. */
    at_tick(r, 112);
    assert_int_equal(read_word(r, 0x40), 0xFFFF);
    assert_int_equal(pit_out0_edges(r->p, pit_cycle_of(5000), &level), 0);
    assert_true(level);
    assert_int_equal(pit_next_out0_edge(r->p, r->now), UINT64_MAX);
}

static void test_mode2_rate_generator(void **state)
{
    struct rig *r = *state;
    bool level;
    out(r, 0x43, 0x34); /* channel 0, both bytes, mode 2 (Linux's HZ) */
    write_word(r, 0x40, 1000); /* loaded at tick 1 */
    assert_int_equal(pit_next_out0_edge(r->p, 0), pit_cycle_of(1001));
    at_tick(r, 1000);
    assert_int_equal(read_word(r, 0x40), 1); /* OUT low for this clock */
    assert_int_equal(status(r, 0) & 0x80, 0);
    at_tick(r, 1001);
    assert_int_equal(read_word(r, 0x40), 1000); /* reloaded */
    assert_int_equal(status(r, 0) & 0x80, 0x80);
    assert_int_equal(pit_out0_edges(r->p, pit_cycle_of(5001), &level), 5);
    assert_true(level);
    assert_int_equal(pit_next_out0_edge(r->p, pit_cycle_of(5001)),
                     pit_cycle_of(6001));
}

static void test_mode3_square_wave(void **state)
{
    struct rig *r = *state;
    out(r, 0x43, 0x36); /* channel 0, both, mode 3 */
    write_word(r, 0x40, 10); /* loaded at tick 1 */
    at_tick(r, 1);
    assert_int_equal(status(r, 0) & 0x80, 0x80);
    assert_int_equal(read_word(r, 0x40), 10);
    at_tick(r, 3);
    assert_int_equal(read_word(r, 0x40), 6); /* down by two */
    at_tick(r, 6); /* second half: OUT low for N/2 clocks */
    assert_int_equal(status(r, 0) & 0x80, 0);
    at_tick(r, 11);
    assert_int_equal(status(r, 0) & 0x80, 0x80);
    bool level;
    assert_int_equal(pit_out0_edges(r->p, pit_cycle_of(31), &level), 3);
}

static void test_latch_and_read_back(void **state)
{
    struct rig *r = *state;
    out(r, 0x43, 0x30);
    write_word(r, 0x40, 0x1234); /* loaded at tick 1 */
    at_tick(r, 0x35);
    out(r, 0x43, 0x00); /* counter latch, channel 0 */
    at_tick(r, 0x100);
    out(r, 0x43, 0x00); /* a second latch before reading is ignored */
    assert_int_equal(read_word(r, 0x40), 0x1234 - 0x34);
    assert_int_equal(read_word(r, 0x40), 0x1234 - 0xFF); /* live again */
    /* Read-back of count and status: status first, then the count. */
    out(r, 0x43, 0xC2);
    assert_int_equal(in(r, 0x40), 0x30);
    assert_int_equal(read_word(r, 0x40), 0x1234 - 0xFF);
}

static void test_bcd_counting(void **state)
{
    struct rig *r = *state;
    out(r, 0x43, 0x31); /* mode 0, BCD */
    write_word(r, 0x40, 0x0100); /* 100 decimal */
    at_tick(r, 2);
    assert_int_equal(read_word(r, 0x40), 0x0099);
    at_tick(r, 101);
    assert_int_equal(read_word(r, 0x40), 0x0000);
    at_tick(r, 102);
    assert_int_equal(read_word(r, 0x40), 0x9999); /* wraps in decimal */
}

static void test_lsb_and_msb_only_access(void **state)
{
    struct rig *r = *state;
    out(r, 0x43, 0x10); /* LSB only, mode 0 */
    out(r, 0x40, 0x05);
    at_tick(r, 3);
    assert_int_equal(in(r, 0x40), 0x03);
    assert_int_equal(in(r, 0x40), 0x03); /* no flip-flop */
    out(r, 0x43, 0x20); /* MSB only, mode 0 */
    out(r, 0x40, 0x02); /* 0x200, loaded at tick 4 */
    at_tick(r, 4 + 0x101);
    assert_int_equal(in(r, 0x40), 0x00); /* 0x0FF */
}

/* Linux's quick_pit_calibrate: gate on through port 0x61, channel 2 in
 * mode 0 with 0xFFFF, then the MSB read every 256 clocks. */
static void test_channel2_gate_and_out_through_port_61(void **state)
{
    struct rig *r = *state;
    assert_int_equal(in(r, 0x61) & 0x21, 0x20); /* gate off; OUT2 high */
    out(r, 0x61, 0x01);
    out(r, 0x43, 0xB0); /* channel 2, both, mode 0, binary */
    assert_int_equal(in(r, 0x61) & 0x20, 0x00); /* mode 0: OUT low */
    write_word(r, 0x42, 0xFFFF); /* loaded at tick 1 */
    at_tick(r, 1 + 256);
    assert_int_equal(read_word(r, 0x42), 0xFEFF);
    at_tick(r, 1 + 3 * 256 + 5);
    assert_int_equal(read_word(r, 0x42) >> 8, 0xFC);
    /* Gate low suspends counting in mode 0. */
    out(r, 0x61, 0x00);
    at_tick(r, 50000);
    assert_int_equal(read_word(r, 0x42), 0xFFFF - 3 * 256 - 5);
    out(r, 0x61, 0x01); /* counts on from tick 50001 */
    at_tick(r, 50001 + 0xFFFF - 3 * 256 - 5);
    assert_int_equal(in(r, 0x61) & 0x21, 0x21); /* terminal count: OUT2 */
    at_tick(r, 50000 + 0xFFFF - 3 * 256 - 5);
    assert_int_equal(in(r, 0x61) & 0x21, 0x01);
}

static void test_mode1_and_mode5_wait_for_the_gate(void **state)
{
    struct rig *r = *state;
    out(r, 0x61, 0x00);
    out(r, 0x43, 0x92); /* channel 2, LSB only, mode 1 */
    out(r, 0x42, 10);
    at_tick(r, 100);
    assert_int_equal(in(r, 0x61) & 0x20, 0x20); /* not triggered: high */
    out(r, 0x61, 0x01); /* trigger: loaded at tick 101, OUT low */
    at_tick(r, 101);
    assert_int_equal(in(r, 0x61) & 0x20, 0x00);
    at_tick(r, 111);
    assert_int_equal(in(r, 0x61) & 0x20, 0x20);
    out(r, 0x61, 0x00);
    out(r, 0x43, 0x9A); /* mode 5 */
    out(r, 0x42, 4);
    out(r, 0x61, 0x01); /* trigger: loaded at tick 112 */
    at_tick(r, 115);
    assert_int_equal(in(r, 0x61) & 0x20, 0x20);
    at_tick(r, 116); /* count 0: one clock low */
    assert_int_equal(in(r, 0x61) & 0x20, 0x00);
    at_tick(r, 117);
    assert_int_equal(in(r, 0x61) & 0x20, 0x20);
}

static void test_mode4_software_strobe(void **state)
{
    struct rig *r = *state;
    bool level;
    out(r, 0x43, 0x38); /* channel 0, both, mode 4 */
    write_word(r, 0x40, 20); /* loaded at tick 1, strobe at 21 */
    assert_int_equal(pit_out0_edges(r->p, pit_cycle_of(21), &level), 0);
    assert_false(level);
    assert_int_equal(pit_out0_edges(r->p, pit_cycle_of(22), &level), 1);
    assert_true(level);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_clock_is_1193182_hz_of_the_tsc),
        T(test_mode0_interrupt_on_terminal_count),
        T(test_mode2_rate_generator),
        T(test_mode3_square_wave),
        T(test_latch_and_read_back),
        T(test_bcd_counting),
        T(test_lsb_and_msb_only_access),
        T(test_channel2_gate_and_out_through_port_61),
        T(test_mode1_and_mode5_wait_for_the_gate),
        T(test_mode4_software_strobe),
    };
    return cmocka_run_group_tests_name("pit", tests, NULL, NULL);
}
