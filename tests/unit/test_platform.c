/* l0/dev/platform.c: the wiring of a whole machine. The PIT's channel 0
 * reaches the CPU as IRQ0 through the 8259 and the LAPIC's LINT0 in
 * ExtINT mode (virtual wire, SDM Vol. 3A 11.5.1), at the modeled cycle
 * the 8254 data sheet predicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "port_io.h"

#include "cpu/cpu.h"
#include "dev/lapic.h"
#include "dev/pit.h"
#include "machine.h"
#include "machine_rig.h"

static void out(struct machine *m, uint16_t port, uint8_t v)
{
    port_out(&m->ports, port, v);
}

static uint8_t in(struct machine *m, uint16_t port)
{
    return port_in(&m->ports, port);
}

static void apic_write(struct machine *m, unsigned reg, uint32_t v)
{
    assert_int_equal(bus_write(&m->mmio, LAPIC_DEFAULT_BASE + reg, 4, v), 1);
}

/* PIC vectors 0x20/0x28, only IRQ0 unmasked; LAPIC enabled with LINT0
 * in ExtINT mode; PIT channel 0 in mode 2 with `count`. */
static void program(struct machine *m, unsigned count)
{
    static const uint8_t init[][2] = {
        {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
        {0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01},
        {0x21, 0xFE}, {0xA1, 0xFF},
    };
    for (size_t i = 0; i < sizeof init / sizeof *init; i++)
        out(m, init[i][0], init[i][1]);
    apic_write(m, 0xF0, 0x1FF);   /* SVR: enabled */
    apic_write(m, 0x350, 0x700);  /* LINT0: ExtINT, unmasked */
    out(m, 0x43, 0x34);
    out(m, 0x40, (uint8_t)count);
    out(m, 0x40, (uint8_t)(count >> 8));
}

static void test_pit_irq0_arrives_through_extint(void **state)
{
    struct machine *m = *state;
    m->cpu->cycles = 0;
    program(m, 1000); /* loaded at tick 1, OUT rises at tick 1001 */
    uint64_t due = pit_cycle_of(1001);
    assert_int_equal(lapic_next_event(m->lapic, 0), due);
    assert_int_equal(lapic_pending_vector(m->lapic, due - 1), -1);
    m->cpu->cycles = due;
    assert_int_equal(lapic_pending_vector(m->lapic, due), 0x20);
    lapic_accept(m->lapic, 0x20); /* INTA: the PIC's ISR, not the LAPIC's */
    out(m, 0x20, 0x0B);
    assert_int_equal(in(m, 0x20), 0x01);
    assert_int_equal(lapic_pending_vector(m->lapic, due), -1);
    out(m, 0x20, 0x20); /* EOI to the PIC */
    assert_int_equal(lapic_next_event(m->lapic, due), pit_cycle_of(2001));
    m->cpu->cycles = pit_cycle_of(2001);
    assert_int_equal(lapic_pending_vector(m->lapic, m->cpu->cycles), 0x20);
}

static void test_masked_lint0_blocks_the_pic(void **state)
{
    struct machine *m = *state;
    m->cpu->cycles = 0;
    program(m, 100);
    apic_write(m, 0x350, 0x10700); /* LINT0 masked */
    m->cpu->cycles = pit_cycle_of(500);
    assert_int_equal(lapic_pending_vector(m->lapic, m->cpu->cycles), -1);
    apic_write(m, 0x350, 0x700);
    assert_int_equal(lapic_pending_vector(m->lapic, m->cpu->cycles), 0x20);
}

static void test_power_up_platform_is_silent(void **state)
{
    struct machine *m = *state;
    /* Nothing programmed: no PIT edge ever, nothing from the PIC. */
    assert_int_equal(lapic_next_event(m->lapic, 0), UINT64_MAX);
    apic_write(m, 0xF0, 0x1FF);
    apic_write(m, 0x350, 0x700);
    m->cpu->cycles = 1000000000;
    assert_int_equal(lapic_pending_vector(m->lapic, m->cpu->cycles), -1);
}

/* The UART's interrupt output is ISA IRQ4: with MCR.OUT2 and IER's
 * transmitter-empty bit set, the 8259 requests vector base + 4. */
static void test_com1_interrupt_is_irq4(void **state)
{
    struct machine *m = *state;
    program(m, 0);
    out(m, 0x21, 0xEF); /* only IRQ4 */
    m->cpu->cycles = 0;
    assert_int_equal(lapic_pending_vector(m->lapic, 0), -1);
    out(m, 0x3FC, 0x08); /* MCR: OUT2 */
    out(m, 0x3F9, 0x02); /* IER: transmitter holding register empty */
    assert_int_equal(lapic_pending_vector(m->lapic, 0), 0x24);
    in(m, 0x3FA); /* IIR reports it and clears it */
    lapic_accept(m->lapic, 0x24);
    out(m, 0x20, 0x20);
    assert_int_equal(lapic_pending_vector(m->lapic, 0), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, machine_setup, machine_teardown)
    const struct CMUnitTest tests[] = {
        T(test_pit_irq0_arrives_through_extint),
        T(test_masked_lint0_blocks_the_pic),
        T(test_power_up_platform_is_silent),
        T(test_com1_interrupt_is_irq4),
    };
    return cmocka_run_group_tests_name("platform", tests, NULL, NULL);
}
