/* l0/dev/rtc.c: the MC146818A clock on modeled time. Expected dates are
 * worked out by hand from the start, 2024-01-01 00:00:00 (a Monday). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "port_io.h"

#include "dev/rtc.h"
#include "machine.h"

#define SECOND MACHINE_TSC_HZ

#define RIG_DEVICE struct rtc *r
#define RIG_CREATE(rig)                                                 \
    ((rig)->r = rtc_create(&(rig)->m.ports, clock_now, NULL, (rig),     \
                           256ull << 20))
#define RIG_DESTROY(rig) rtc_destroy((rig)->r)
#include "device_rig.h"

static uint8_t cmos(struct rig *r, uint8_t reg)
{
    port_out(&r->m.ports, 0x70, reg);
    return port_in(&r->m.ports, 0x71);
}

static void cmos_write(struct rig *r, uint8_t reg, uint8_t v)
{
    port_out(&r->m.ports, 0x70, reg);
    port_out(&r->m.ports, 0x71, v);
}

static void test_start_date_in_bcd_24_hour(void **state)
{
    struct rig *r = *state;
    assert_int_equal(cmos(r, 0x0A), 0x26); /* divider on, 1024 Hz */
    assert_int_equal(cmos(r, 0x0B), 0x02); /* BCD, 24-hour */
    assert_int_equal(cmos(r, 0x0D), 0x80); /* valid RAM and time */
    assert_int_equal(cmos(r, 0x00), 0x00);
    assert_int_equal(cmos(r, 0x02), 0x00);
    assert_int_equal(cmos(r, 0x04), 0x00);
    assert_int_equal(cmos(r, 0x06), 0x02); /* Monday */
    assert_int_equal(cmos(r, 0x07), 0x01);
    assert_int_equal(cmos(r, 0x08), 0x01);
    assert_int_equal(cmos(r, 0x09), 0x24);
    assert_int_equal(cmos(r, 0x32), 0x20);
}

static void test_time_advances_with_modeled_cycles(void **state)
{
    struct rig *r = *state;
    r->now = SECOND - 1;
    assert_int_equal(cmos(r, 0x00), 0x00);
    r->now = SECOND;
    assert_int_equal(cmos(r, 0x00), 0x01);
    /* 60 days, 13 h, 59 min, 58 s later: 2024-03-01 (leap year) 13:59:58,
     * a Friday. */
    r->now = (60ull * 86400 + 13 * 3600 + 59 * 60 + 58) * SECOND;
    assert_int_equal(cmos(r, 0x00), 0x58);
    assert_int_equal(cmos(r, 0x02), 0x59);
    assert_int_equal(cmos(r, 0x04), 0x13);
    assert_int_equal(cmos(r, 0x06), 0x06);
    assert_int_equal(cmos(r, 0x07), 0x01);
    assert_int_equal(cmos(r, 0x08), 0x03);
}

static void test_binary_and_12_hour_modes(void **state)
{
    struct rig *r = *state;
    r->now = (13ull * 3600 + 5 * 60) * SECOND; /* 13:05 */
    cmos_write(r, 0x0B, 0x06); /* binary, 24-hour */
    assert_int_equal(cmos(r, 0x04), 13);
    assert_int_equal(cmos(r, 0x02), 5);
    assert_int_equal(cmos(r, 0x09), 24);
    cmos_write(r, 0x0B, 0x04); /* binary, 12-hour */
    assert_int_equal(cmos(r, 0x04), 0x80 | 1); /* 1 PM */
    cmos_write(r, 0x0B, 0x00); /* BCD, 12-hour */
    r->now = 30ull * 60 * SECOND; /* 00:30 */
    assert_int_equal(cmos(r, 0x04), 0x12); /* 12 AM */
}

static void test_set_freezes_and_writes_the_time(void **state)
{
    struct rig *r = *state;
    cmos_write(r, 0x0B, 0x82); /* SET, BCD, 24-hour */
    cmos_write(r, 0x09, 0x99);
    cmos_write(r, 0x08, 0x12);
    cmos_write(r, 0x07, 0x31);
    cmos_write(r, 0x04, 0x23);
    cmos_write(r, 0x02, 0x59);
    cmos_write(r, 0x00, 0x59);
    cmos_write(r, 0x32, 0x20);
    r->now = 5 * SECOND; /* frozen while SET */
    assert_int_equal(cmos(r, 0x00), 0x59);
    cmos_write(r, 0x0B, 0x02); /* run: 2099-12-31 23:59:59 */
    r->now = 6 * SECOND;
    assert_int_equal(cmos(r, 0x00), 0x00);
    assert_int_equal(cmos(r, 0x09), 0x00);
    assert_int_equal(cmos(r, 0x32), 0x21); /* 2100-01-01 */
    assert_int_equal(cmos(r, 0x08), 0x01);
    assert_int_equal(cmos(r, 0x06), 0x06); /* a Friday */
}

static void test_update_in_progress_before_each_second(void **state)
{
    struct rig *r = *state;
    r->now = SECOND - 244000;
    assert_int_equal(cmos(r, 0x0A) & 0x80, 0x80);
    r->now = SECOND - 244001;
    assert_int_equal(cmos(r, 0x0A) & 0x80, 0);
    r->now = SECOND;
    assert_int_equal(cmos(r, 0x0A) & 0x80, 0);
}

static void test_periodic_interrupt_and_register_c(void **state)
{
    struct rig *r = *state;
    bool edge;
    cmos_write(r, 0x0B, 0x42); /* PIE */
    /* 1024 Hz: every 32 ticks of 32.768 kHz, 976562.5 ns. */
    assert_int_equal(rtc_next_event(r->r, 0), 976563);
    assert_false(rtc_irq_level(r->r, 976562, &edge));
    assert_true(rtc_irq_level(r->r, 976563, &edge));
    assert_true(edge);
    r->now = 976563;
    assert_int_equal(cmos(r, 0x0C), 0xC0); /* IRQF | PF */
    assert_int_equal(cmos(r, 0x0C), 0x00); /* cleared by the read */
    assert_false(rtc_irq_level(r->r, 976563, &edge));
    assert_false(edge);
}

static void test_update_and_alarm_interrupts(void **state)
{
    struct rig *r = *state;
    bool edge;
    cmos_write(r, 0x0A, 0x20); /* no periodic rate */
    cmos_write(r, 0x01, 0x03); /* alarm at hh:mm:03 ... */
    cmos_write(r, 0x03, 0xC0); /* ... any minute */
    cmos_write(r, 0x05, 0xC0); /* ... any hour */
    cmos_write(r, 0x0B, 0x22); /* AIE */
    assert_int_equal(rtc_next_event(r->r, 0), SECOND);
    assert_false(rtc_irq_level(r->r, 2 * SECOND, &edge));
    r->now = 2 * SECOND;
    assert_int_equal(cmos(r, 0x0C), 0x10); /* UF without IRQF */
    assert_true(rtc_irq_level(r->r, 3 * SECOND, &edge));
    r->now = 3 * SECOND;
    assert_int_equal(cmos(r, 0x0C), 0xB0); /* IRQF | AF | UF */
    cmos_write(r, 0x0B, 0x12); /* UIE */
    assert_true(rtc_irq_level(r->r, 4 * SECOND, &edge));
    assert_true(edge);
}

static void test_nvram_and_nmi_mask(void **state)
{
    struct rig *r = *state;
    assert_int_equal(cmos(r, 0x15) | cmos(r, 0x16) << 8, 640);
    assert_int_equal(cmos(r, 0x17) | cmos(r, 0x18) << 8, 0xFFFF);
    assert_int_equal(cmos(r, 0x34) | cmos(r, 0x35) << 8, (256 - 16) * 16);
    cmos_write(r, 0x40, 0xA5);
    cmos_write(r, 0x7F, 0x5A);
    assert_int_equal(cmos(r, 0x40), 0xA5);
    assert_int_equal(cmos(r, 0x7F), 0x5A);
    assert_false(rtc_nmi_masked(r->r));
    port_out(&r->m.ports, 0x70, 0x80 | 0x40);
    assert_true(rtc_nmi_masked(r->r));
    assert_int_equal(port_in(&r->m.ports, 0x71), 0xA5); /* index 0x40 */
    assert_int_equal(port_in(&r->m.ports, 0x70), 0xFF);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_start_date_in_bcd_24_hour),
        T(test_time_advances_with_modeled_cycles),
        T(test_binary_and_12_hour_modes),
        T(test_set_freezes_and_writes_the_time),
        T(test_update_in_progress_before_each_second),
        T(test_periodic_interrupt_and_register_c),
        T(test_update_and_alarm_interrupts),
        T(test_nvram_and_nmi_mask),
    };
    return cmocka_run_group_tests_name("rtc", tests, NULL, NULL);
}
