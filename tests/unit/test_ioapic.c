/* l0/dev/ioapic.c: redirection entries, masking, edge and level
 * delivery to a real LAPIC, Remote IRR and its EOI (82093AA data sheet;
 * SDM Vol. 3A 11.8.5 for the LAPIC's EOI broadcast). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "machine.h"

struct rig {
    struct machine m;
    struct lapic *l;
    struct ioapic *io;
    struct lapic_platform hooks;
};

static uint64_t clock_zero(void *ctx)
{
    (void)ctx;
    return 0;
}

static void no_sync(void *ctx, uint64_t now)
{
    (void)ctx, (void)now;
}

static uint64_t no_event(void *ctx, uint64_t now)
{
    (void)ctx, (void)now;
    return UINT64_MAX;
}

static int no_extint(void *ctx)
{
    (void)ctx;
    return -1;
}

static void no_inta(void *ctx)
{
    (void)ctx;
}

static void eoi_to_ioapic(void *ctx, int vector)
{
    ioapic_eoi(((struct rig *)ctx)->io, vector);
}

static int setup(void **state)
{
    static struct rig r;
    memset(&r, 0, sizeof r);
    r.m.mmio.name = "mmio";
    r.l = lapic_create(&r.m, clock_zero, NULL);
    r.io = ioapic_create(&r.m.mmio, r.l, NULL, NULL);
    r.hooks = (struct lapic_platform){&r, no_sync, no_event, no_extint,
                                      no_inta, eoi_to_ioapic};
    lapic_connect_platform(r.l, &r.hooks);
    *state = &r;
    return r.l && r.io ? 0 : -1;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    ioapic_destroy(r->io);
    lapic_destroy(r->l);
    return 0;
}

static uint32_t reg_read(struct rig *r, uint32_t reg)
{
    uint64_t v;
    bus_write(&r->m.mmio, IOAPIC_BASE, 4, reg);
    assert_int_equal(bus_read(&r->m.mmio, IOAPIC_BASE + 0x10, 4, &v), 1);
    return (uint32_t)v;
}

static void reg_write(struct rig *r, uint32_t reg, uint32_t v)
{
    bus_write(&r->m.mmio, IOAPIC_BASE, 4, reg);
    bus_write(&r->m.mmio, IOAPIC_BASE + 0x10, 4, v);
}

static void route(struct rig *r, unsigned pin, uint32_t low, uint32_t high)
{
    reg_write(r, 0x11 + 2 * pin, high);
    reg_write(r, 0x10 + 2 * pin, low);
}

static void lapic_eoi(struct rig *r)
{
    bus_write(&r->m.mmio, LAPIC_DEFAULT_BASE + 0xB0, 4, 0);
}

/* Takes the pending vector the way the CPU does; returns it. */
static int take(struct rig *r)
{
    int v = lapic_pending_vector(r->l, 0);
    if (v >= 0)
        lapic_accept(r->l, v);
    return v;
}

static void test_identification_and_reset_state(void **state)
{
    struct rig *r = *state;
    assert_int_equal(reg_read(r, 0x01), 0x00170020); /* 24 entries, 0x20 */
    assert_int_equal(reg_read(r, 0x00), 0);
    reg_write(r, 0x00, 0xFFFFFFFF);
    assert_int_equal(reg_read(r, 0x00), 0x0F000000); /* ID bits 27:24 */
    for (unsigned pin = 0; pin < 24; pin++) {
        assert_int_equal(reg_read(r, 0x10 + 2 * pin), 0x00010000);
        assert_int_equal(reg_read(r, 0x11 + 2 * pin), 0);
    }
    reg_write(r, 0x01, 0); /* read-only */
    assert_int_equal(reg_read(r, 0x01), 0x00170020);
}

static void test_edge_delivery_and_mask(void **state)
{
    struct rig *r = *state;
    route(r, 2, 0x00010030, 0); /* masked, vector 0x30 */
    ioapic_set_pin(r->io, 2, true);
    ioapic_set_pin(r->io, 2, false);
    assert_int_equal(take(r), -1); /* a masked edge is lost */
    route(r, 2, 0x00000030, 0);
    assert_int_equal(take(r), -1); /* unmasking does not replay it */
    ioapic_set_pin(r->io, 2, true);
    assert_int_equal(take(r), 0x30);
    lapic_eoi(r);
    ioapic_set_pin(r->io, 2, true); /* no new edge */
    assert_int_equal(take(r), -1);
    assert_int_equal(reg_read(r, 0x14) & (1u << 14), 0); /* no Remote IRR */
}

static void test_level_remote_irr_and_eoi_broadcast(void **state)
{
    struct rig *r = *state;
    route(r, 9, 0x00008041, 0); /* level, active high, vector 0x41 */
    ioapic_set_pin(r->io, 9, true);
    assert_int_equal(reg_read(r, 0x10 + 18) & (1u << 14), 1u << 14);
    assert_int_equal(take(r), 0x41);
    assert_int_equal(take(r), -1); /* Remote IRR holds the next one */
    lapic_eoi(r); /* TMR set: broadcast; still asserted: sent again */
    assert_int_equal(take(r), 0x41);
    ioapic_set_pin(r->io, 9, false);
    lapic_eoi(r);
    assert_int_equal(reg_read(r, 0x10 + 18) & (1u << 14), 0);
    assert_int_equal(take(r), -1);
}

static void test_eoi_register_and_active_low(void **state)
{
    struct rig *r = *state;
    /* Active low, level: asserted while the line is low. */
    route(r, 5, 0x0000A052, 0);
    assert_int_equal(take(r), 0x52);
    ioapic_set_pin(r->io, 5, true); /* deasserted */
    bus_write(&r->m.mmio, IOAPIC_BASE + 0x40, 4, 0x52); /* EOI register */
    assert_int_equal(reg_read(r, 0x10 + 10) & (1u << 14), 0);
    assert_int_equal(take(r), -1);
}

static void test_destinations_and_delivery_modes(void **state)
{
    struct rig *r = *state;
    route(r, 3, 0x00000060, 0x01000000); /* physical APIC ID 1: nobody */
    ioapic_set_pin(r->io, 3, true);
    assert_int_equal(take(r), -1);
    ioapic_set_pin(r->io, 3, false);
    route(r, 3, 0x00000960, 0x01000000); /* logical 1, lowest priority */
    ioapic_set_pin(r->io, 3, true);
    assert_int_equal(take(r), 0x60);
    lapic_eoi(r);
    ioapic_set_pin(r->io, 3, false);
    route(r, 3, 0x00000060, 0xFF000000); /* physical broadcast */
    ioapic_set_pin(r->io, 3, true);
    assert_int_equal(take(r), 0x60);
}

/* Setting a pin to the level it has sends nothing, edge or level entry,
 * whatever Remote IRR says; a change of level still does. */
static void test_unchanged_level_sends_nothing(void **state)
{
    struct rig *r = *state;
    route(r, 4, 0x00000033, 0); /* edge, vector 0x33 */
    ioapic_set_pin(r->io, 4, true);
    assert_int_equal(take(r), 0x33);
    lapic_eoi(r);
    for (int k = 0; k < 3; k++)
        ioapic_set_pin(r->io, 4, true);
    assert_int_equal(take(r), -1);
    ioapic_set_pin(r->io, 4, false);
    ioapic_set_pin(r->io, 4, false);
    assert_int_equal(take(r), -1);
    ioapic_set_pin(r->io, 4, true);
    assert_int_equal(take(r), 0x33);
    lapic_eoi(r);

    route(r, 6, 0x00008034, 0); /* level, active high, vector 0x34 */
    ioapic_set_pin(r->io, 6, true);
    assert_int_equal(take(r), 0x34);
    ioapic_set_pin(r->io, 6, true); /* Remote IRR set */
    assert_int_equal(take(r), -1);
    lapic_eoi(r); /* still asserted: sent again at the EOI */
    assert_int_equal(take(r), 0x34);
    ioapic_set_pin(r->io, 6, true);
    assert_int_equal(take(r), -1);
    ioapic_set_pin(r->io, 6, false);
    lapic_eoi(r); /* Remote IRR clear, deasserted */
    assert_int_equal(reg_read(r, 0x10 + 12) & (1u << 14), 0);
    ioapic_set_pin(r->io, 6, false);
    assert_int_equal(take(r), -1);
    ioapic_set_pin(r->io, 6, true);
    assert_int_equal(take(r), 0x34);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_identification_and_reset_state),
        T(test_edge_delivery_and_mask),
        T(test_level_remote_irr_and_eoi_broadcast),
        T(test_eoi_register_and_active_low),
        T(test_destinations_and_delivery_modes),
        T(test_unchanged_level_sends_nothing),
    };
    return cmocka_run_group_tests_name("ioapic", tests, NULL, NULL);
}
