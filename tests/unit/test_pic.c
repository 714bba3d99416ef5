/* l0/dev/pic.c: the 8259A pair, programmed through its ports as a guest
 * does, checked against the Intel 8259A data sheet's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "port_io.h"

#include "dev/bus.h"
#include "dev/pic.h"

struct rig {
    struct bus ports;
    struct pic *p;
    int kicks;
    int rises; /* of the kicks, those where INTR was low before */
};

static void kicked(void *ctx, bool rose)
{
    ((struct rig *)ctx)->kicks++;
    ((struct rig *)ctx)->rises += rose;
}

static int setup(void **state)
{
    static struct rig r;
    memset(&r, 0, sizeof r);
    r.ports.name = "port";
    r.p = pic_create(&r.ports, NULL, kicked, &r);
    *state = &r;
    return r.p ? 0 : -1;
}

static int teardown(void **state)
{
    pic_destroy(((struct rig *)*state)->p);
    return 0;
}

static void out(struct rig *r, uint16_t port, uint8_t v)
{
    port_out(&r->ports, port, v);
}

static uint8_t in(struct rig *r, uint16_t port)
{
    return port_in(&r->ports, port);
}

/* The initialization Linux and the BIOS use: edge, cascade, ICW4 with
 * 8086 mode (and `icw4_extra`, e.g. AEOI), vectors 0x20 and 0x28. */
static void init_pair(struct rig *r, uint8_t icw4_extra)
{
    out(r, 0x20, 0x11);
    out(r, 0x21, 0x20);
    out(r, 0x21, 0x04); /* slave on IR2 */
    out(r, 0x21, 0x01 | icw4_extra);
    out(r, 0xA0, 0x11);
    out(r, 0xA1, 0x28);
    out(r, 0xA1, 0x02); /* slave ID 2 */
    out(r, 0xA1, 0x01 | icw4_extra);
}

static uint8_t read_isr(struct rig *r, uint16_t port)
{
    out(r, port, 0x0B); /* OCW3: read ISR */
    return in(r, port);
}

static uint8_t read_irr(struct rig *r, uint16_t port)
{
    out(r, port, 0x0A); /* OCW3: read IRR */
    return in(r, port);
}

static void pulse(struct rig *r, unsigned irq)
{
    pic_set_irq(r->p, irq, true);
    pic_set_irq(r->p, irq, false);
}

static void test_power_up_masks_everything(void **state)
{
    struct rig *r = *state;
    assert_int_equal(in(r, 0x21), 0xFF);
    assert_int_equal(in(r, 0xA1), 0xFF);
    pulse(r, 0);
    assert_int_equal(pic_pending_vector(r->p), -1);
    assert_int_equal(r->kicks, 0);
}

static void test_icw1_clears_imr_and_vector_comes_from_icw2(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    assert_int_equal(in(r, 0x21), 0x00);
    assert_int_equal(in(r, 0xA1), 0x00);
    pulse(r, 0);
    assert_int_equal(r->kicks, 1);
    assert_int_equal(pic_pending_vector(r->p), 0x20);
    assert_int_equal(read_irr(r, 0x20), 0x01);
    assert_int_equal(pic_acknowledge(r->p), 0x20);
    assert_int_equal(read_irr(r, 0x20), 0x00);
    assert_int_equal(read_isr(r, 0x20), 0x01);
    out(r, 0x20, 0x20); /* non-specific EOI */
    assert_int_equal(read_isr(r, 0x20), 0x00);
    assert_int_equal(pic_pending_vector(r->p), -1);
}

/* INTR's rising edges, which a LAPIC LINT0 in fixed or NMI mode takes
 * (l0/dev/platform.c): a request of a higher priority while INTR is high
 * changes the vector, not the level; INTR falls when the vector is in
 * service and rises again at the EOI that lets the waiting one through. */
static void test_intr_rising_edges(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    int kicks = r->kicks, rises = r->rises;
    pulse(r, 3);
    assert_int_equal(r->rises, rises + 1);
    pulse(r, 1);
    assert_int_equal(r->kicks, kicks + 2);
    assert_int_equal(r->rises, rises + 1);
    assert_int_equal(pic_acknowledge(r->p), 0x21);
    assert_int_equal(pic_pending_vector(r->p), -1); /* IR3 waits: low */
    out(r, 0x20, 0x20);
    assert_int_equal(pic_pending_vector(r->p), 0x23);
    assert_int_equal(r->rises, rises + 2);
}

static void test_fully_nested_priorities(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    pulse(r, 3);
    pulse(r, 1);
    assert_int_equal(pic_acknowledge(r->p), 0x21); /* IR1 before IR3 */
    /* IR3 has a lower priority than IR1 in service: held back. */
    assert_int_equal(pic_pending_vector(r->p), -1);
    pulse(r, 0); /* IR0 is higher: nests */
    assert_int_equal(pic_acknowledge(r->p), 0x20);
    assert_int_equal(read_isr(r, 0x20), 0x03);
    out(r, 0x20, 0x20); /* EOI retires IR0, the highest in service */
    assert_int_equal(read_isr(r, 0x20), 0x02);
    assert_int_equal(pic_pending_vector(r->p), -1);
    out(r, 0x20, 0x20);
    assert_int_equal(pic_acknowledge(r->p), 0x23);
}

static void test_mask_holds_request_in_irr(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    out(r, 0x21, 0x10); /* OCW1: mask IR4 */
    pulse(r, 4);
    assert_int_equal(pic_pending_vector(r->p), -1);
    assert_int_equal(read_irr(r, 0x20), 0x10);
    out(r, 0x21, 0x00);
    assert_int_equal(pic_pending_vector(r->p), 0x24);
}

static void test_cascade_through_ir2(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    pulse(r, 10); /* slave IR2 */
    assert_int_equal(read_irr(r, 0x20), 0x04); /* the slave's INT */
    assert_int_equal(pic_acknowledge(r->p), 0x2A);
    assert_int_equal(read_isr(r, 0x20), 0x04);
    assert_int_equal(read_isr(r, 0xA0), 0x04);
    out(r, 0xA0, 0x20);
    out(r, 0x20, 0x20);
    assert_int_equal(read_isr(r, 0x20), 0x00);
    assert_int_equal(read_isr(r, 0xA0), 0x00);
    /* Masking the cascade input blocks every slave input. */
    out(r, 0x21, 0x04);
    pulse(r, 15);
    assert_int_equal(pic_pending_vector(r->p), -1);
    out(r, 0x21, 0x00);
    assert_int_equal(pic_pending_vector(r->p), 0x2F);
}

static void test_automatic_eoi_leaves_isr_clear(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0x02);
    pulse(r, 5);
    assert_int_equal(pic_acknowledge(r->p), 0x25);
    assert_int_equal(read_isr(r, 0x20), 0x00);
    pulse(r, 6); /* nothing in service holds it back */
    assert_int_equal(pic_pending_vector(r->p), 0x26);
}

static void test_rotation_and_specific_eoi(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    pulse(r, 1);
    assert_int_equal(pic_acknowledge(r->p), 0x21);
    out(r, 0x20, 0xA0); /* rotate on non-specific EOI: IR1 lowest */
    assert_int_equal(read_isr(r, 0x20), 0x00);
    pulse(r, 1);
    pulse(r, 5);
    pulse(r, 0);
    /* Priority now 2,3,4,5,6,7,0,1. */
    assert_int_equal(pic_acknowledge(r->p), 0x25);
    assert_int_equal(pic_pending_vector(r->p), -1); /* 0 and 1 are lower */
    out(r, 0x20, 0x65); /* specific EOI for IR5 */
    assert_int_equal(pic_acknowledge(r->p), 0x20);
    out(r, 0x20, 0xC6); /* set priority: IR6 lowest, IR7 highest */
    out(r, 0x20, 0x60); /* specific EOI for IR0 */
    pulse(r, 7);
    assert_int_equal(pic_acknowledge(r->p), 0x27); /* before IR1 */
    out(r, 0x20, 0xE7); /* rotate on specific EOI 7: IR0 highest */
    assert_int_equal(pic_acknowledge(r->p), 0x21);
}

static void test_rotate_in_automatic_eoi(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0x02);
    out(r, 0x20, 0x80); /* rotate in AEOI: set */
    pulse(r, 3);
    assert_int_equal(pic_acknowledge(r->p), 0x23);
    pulse(r, 3);
    pulse(r, 4);
    assert_int_equal(pic_acknowledge(r->p), 0x24); /* IR3 became lowest */
}

static void test_level_triggered_through_elcr(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    out(r, 0x4D0, 0xFF);
    assert_int_equal(in(r, 0x4D0), 0xF8); /* IRQ0-2 are edge only */
    out(r, 0x4D1, 0xFF);
    assert_int_equal(in(r, 0x4D1), 0xDE); /* IRQ8, IRQ13 edge only */
    pic_set_irq(r->p, 3, true);
    assert_int_equal(pic_acknowledge(r->p), 0x23);
    out(r, 0x20, 0x20);
    /* Still high: requests again. */
    assert_int_equal(pic_pending_vector(r->p), 0x23);
    pic_set_irq(r->p, 3, false);
    assert_int_equal(pic_pending_vector(r->p), -1);
    assert_int_equal(read_irr(r, 0x20), 0x00);
}

static void test_edge_needs_a_new_rising_edge(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    pic_set_irq(r->p, 4, true);
    assert_int_equal(pic_acknowledge(r->p), 0x24);
    out(r, 0x20, 0x20);
    pic_set_irq(r->p, 4, true); /* still high: no edge */
    assert_int_equal(pic_pending_vector(r->p), -1);
    pic_set_irq(r->p, 4, false);
    pic_set_irq(r->p, 4, true);
    assert_int_equal(pic_pending_vector(r->p), 0x24);
}

/* A line set again to the level it has changes nothing, edge or level
 * triggered, before and after INTA, EOI and a new ICW1: IRR, ISR, the
 * pending vector and the CPU's kicks stay as they were. */
static void expect_same_level_changes_nothing(struct rig *r, unsigned irq,
                                              bool level)
{
    uint16_t port = irq < 8 ? 0x20 : 0xA0;
    uint8_t irr = read_irr(r, port), isr = read_isr(r, port);
    int vector = pic_pending_vector(r->p), kicks = r->kicks;
    pic_set_irq(r->p, irq, level);
    assert_int_equal(read_irr(r, port), irr);
    assert_int_equal(read_isr(r, port), isr);
    assert_int_equal(pic_pending_vector(r->p), vector);
    assert_int_equal(r->kicks, kicks);
}

static void test_same_level_again_changes_nothing(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    out(r, 0x4D0, 0x08); /* IRQ3 level-triggered, IRQ4 edge */
    pic_set_irq(r->p, 3, true);
    pic_set_irq(r->p, 4, true);
    expect_same_level_changes_nothing(r, 3, true);
    expect_same_level_changes_nothing(r, 4, true);
    assert_int_equal(pic_acknowledge(r->p), 0x23);
    expect_same_level_changes_nothing(r, 3, true);
    expect_same_level_changes_nothing(r, 4, true);
    out(r, 0x20, 0x20);
    expect_same_level_changes_nothing(r, 3, true);
    pic_set_irq(r->p, 3, false);
    expect_same_level_changes_nothing(r, 3, false);
    assert_int_equal(pic_acknowledge(r->p), 0x24);
    expect_same_level_changes_nothing(r, 4, true);
    out(r, 0x20, 0x20);
    expect_same_level_changes_nothing(r, 4, true);
    pic_set_irq(r->p, 3, true);
    /* ICW1 forgets the edge request, keeps the level one (IRQ3 high). */
    init_pair(r, 0);
    assert_int_equal(read_irr(r, 0x20), 0x08);
    expect_same_level_changes_nothing(r, 3, true);
    expect_same_level_changes_nothing(r, 4, true);
    pic_set_irq(r->p, 3, false);
    expect_same_level_changes_nothing(r, 3, false);
    assert_int_equal(read_irr(r, 0x20), 0x00);
}

static void test_poll_mode(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    out(r, 0x21, 0xFF); /* polled systems mask the INT output */
    out(r, 0x20, 0x0C); /* OCW3: poll */
    assert_int_equal(in(r, 0x20), 0x00); /* nothing requested */
    pulse(r, 6);
    out(r, 0x21, 0x00);
    out(r, 0x20, 0x0C);
    assert_int_equal(in(r, 0x20), 0x86);
    assert_int_equal(read_isr(r, 0x20), 0x40); /* the read acknowledged */
}

static void test_spurious_interrupt_is_ir7(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    assert_int_equal(pic_acknowledge(r->p), 0x27);
    assert_int_equal(read_isr(r, 0x20), 0x00); /* no ISR bit */
}

static void test_special_mask_mode(void **state)
{
    struct rig *r = *state;
    init_pair(r, 0);
    pulse(r, 2 + 1);
    assert_int_equal(pic_acknowledge(r->p), 0x23);
    pulse(r, 5);
    assert_int_equal(pic_pending_vector(r->p), -1);
    out(r, 0x21, 0x08); /* mask IR3, which is in service */
    out(r, 0x20, 0x68); /* OCW3: set special mask mode */
    assert_int_equal(pic_pending_vector(r->p), 0x25);
    out(r, 0x20, 0x48); /* reset special mask mode */
    assert_int_equal(pic_pending_vector(r->p), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_power_up_masks_everything),
        T(test_icw1_clears_imr_and_vector_comes_from_icw2),
        T(test_intr_rising_edges),
        T(test_fully_nested_priorities),
        T(test_mask_holds_request_in_irr),
        T(test_cascade_through_ir2),
        T(test_automatic_eoi_leaves_isr_clear),
        T(test_rotation_and_specific_eoi),
        T(test_rotate_in_automatic_eoi),
        T(test_level_triggered_through_elcr),
        T(test_edge_needs_a_new_rising_edge),
        T(test_same_level_again_changes_nothing),
        T(test_poll_mode),
        T(test_spurious_interrupt_is_ir7),
        T(test_special_mask_mode),
    };
    return cmocka_run_group_tests_name("pic", tests, NULL, NULL);
}
