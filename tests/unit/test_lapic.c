/* l0/dev/lapic.c: the local APIC timer and interrupt priorities (SDM Vol.
 * 3A chapter 11), driven by a clock the test sets by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/lapic.h"
#include "machine.h"

enum {
    ID = 0x20, VERSION = 0x30, TPR = 0x80, PPR = 0xa0, EOI = 0xb0,
    SVR = 0xf0, ISR = 0x100, IRR = 0x200, ESR = 0x280, ICR_LO = 0x300,
    LVT_TIMER = 0x320, LVT_LINT0 = 0x350, INITIAL = 0x380, CURRENT = 0x390,
    DIVIDE = 0x3e0,
};
#define MASKED (1u << 16)
#define PERIODIC (1u << 17)
#define DIV1 0xb /* divide configuration for a divisor of 1 */

#define RIG_DEVICE struct lapic *l
#define RIG_CREATE(rig) ((rig)->l = lapic_create(&(rig)->m, clock_now, (rig)))
#define RIG_DESTROY(rig) lapic_destroy((rig)->l)
#include "device_rig.h"

static uint32_t rd(struct rig *r, unsigned reg)
{
    uint64_t v;
    assert_int_equal(bus_read(&r->m.mmio, LAPIC_DEFAULT_BASE + reg, 4, &v),
                     1);
    return (uint32_t)v;
}

static void wr(struct rig *r, unsigned reg, uint32_t v)
{
    assert_int_equal(bus_write(&r->m.mmio, LAPIC_DEFAULT_BASE + reg, 4, v),
                     1);
}

/* Software-enabled, TPR 0, timer vector `vector` in `mode`. */
static void enable_timer(struct rig *r, uint32_t mode, unsigned vector,
                         uint32_t divide)
{
    wr(r, SVR, 0x1ff);
    wr(r, DIVIDE, divide);
    wr(r, LVT_TIMER, mode | vector);
}

/* A fixed self-IPI through the ICR (shorthand "self"). */
static void self_ipi(struct rig *r, unsigned vector)
{
    wr(r, ICR_LO, 1u << 18 | vector);
}

static void test_power_up_state(void **state)
{
    struct rig *r = *state;
    assert_int_equal(rd(r, ID), 0);
    assert_int_equal(rd(r, VERSION), 0x00050014);
    assert_int_equal(rd(r, SVR), 0xff); /* software-disabled */
    assert_int_equal(rd(r, LVT_TIMER), MASKED);
    assert_int_equal(rd(r, 0xe0), 0xffffffff); /* DFR */
    assert_int_equal(lapic_pending_vector(r->l, 0), -1);
    assert_int_equal(lapic_next_event(r->l, 0), UINT64_MAX);
    assert_non_null(bus_find(&r->m.mmio, LAPIC_DEFAULT_BASE + 0xfff));
    assert_null(bus_find(&r->m.mmio, LAPIC_DEFAULT_BASE + 0x1000));
}

static void test_one_shot_fires_at_initial_times_divide(void **state)
{
    struct rig *r = *state;
    enable_timer(r, 0, 0x40, 0x3); /* divide by 16 */
    r->now = 1000;
    wr(r, INITIAL, 100);
    uint64_t due = 1000 + 100 * 16;
    assert_int_equal(lapic_next_event(r->l, 1000), due);
    assert_int_equal(lapic_pending_vector(r->l, due - 1), -1);
    assert_int_equal(lapic_pending_vector(r->l, due), 0x40);
    lapic_accept(r->l, 0x40);
    wr(r, EOI, 0);
    /* One-shot: it stays at 0 and never fires again. */
    r->now = due + 100000;
    assert_int_equal(rd(r, CURRENT), 0);
    assert_int_equal(lapic_pending_vector(r->l, r->now), -1);
    assert_int_equal(lapic_next_event(r->l, r->now), UINT64_MAX);
}

static void test_divide_configuration_encodings(void **state)
{
    struct rig *r = *state;
    /* SDM Figure 11-10; bit 2 is reserved and ignored. */
    static const struct { uint32_t conf; uint64_t div; } enc[] = {
        {0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64},
        {0xa, 128}, {0xb, 1}, {0x4, 2}, {0xf, 1},
    };
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        enable_timer(r, 0, 0x30, enc[i].conf);
        assert_int_equal(rd(r, DIVIDE), enc[i].conf & 0xb);
        uint64_t t0 = r->now;
        wr(r, INITIAL, 10);
        r->now = t0 + 3 * enc[i].div;
        assert_int_equal(rd(r, CURRENT), 7);
        r->now = t0 + 3 * enc[i].div - 1;
        assert_int_equal(rd(r, CURRENT), 8);
        uint64_t due = t0 + 10 * enc[i].div;
        assert_int_equal(lapic_next_event(r->l, t0), due);
        assert_int_equal(lapic_pending_vector(r->l, due - 1), -1);
        assert_int_equal(lapic_pending_vector(r->l, due), 0x30);
        lapic_accept(r->l, 0x30);
        wr(r, EOI, 0);
        r->now = due + 1;
    }
}

static void test_current_count_reads_back(void **state)
{
    struct rig *r = *state;
    enable_timer(r, 0, 0x40, DIV1);
    r->now = 500;
    wr(r, INITIAL, 1000);
    assert_int_equal(rd(r, INITIAL), 1000);
    assert_int_equal(rd(r, CURRENT), 1000);
    r->now = 750;
    assert_int_equal(rd(r, CURRENT), 750);
    r->now = 1499;
    assert_int_equal(rd(r, CURRENT), 1);
    r->now = 1500;
    assert_int_equal(rd(r, CURRENT), 0);
}

static void test_periodic_rearms(void **state)
{
    struct rig *r = *state;
    enable_timer(r, PERIODIC, 0x41, DIV1);
    wr(r, INITIAL, 50);
    for (uint64_t k = 1; k <= 3; k++) {
        assert_int_equal(lapic_pending_vector(r->l, 50 * k - 1), -1);
        assert_int_equal(lapic_pending_vector(r->l, 50 * k), 0x41);
        lapic_accept(r->l, 0x41);
        wr(r, EOI, 0);
        assert_int_equal(lapic_next_event(r->l, 50 * k), 50 * (k + 1));
    }
    r->now = 170;
    assert_int_equal(rd(r, CURRENT), 30);
    /* Many periods at once request the vector once (IRR is one bit) and
     * keep the phase. */
    assert_int_equal(lapic_pending_vector(r->l, 1010), 0x41);
    lapic_accept(r->l, 0x41);
    assert_int_equal(lapic_pending_vector(r->l, 1010), -1);
    assert_int_equal(lapic_next_event(r->l, 1010), 1050);
    /* A zero initial count stops it. */
    r->now = 1020;
    wr(r, INITIAL, 0);
    assert_int_equal(lapic_next_event(r->l, 1020), UINT64_MAX);
    assert_int_equal(rd(r, CURRENT), 0);
}

static void test_masked_timer_does_not_fire(void **state)
{
    struct rig *r = *state;
    enable_timer(r, MASKED, 0x42, DIV1);
    wr(r, INITIAL, 10);
    assert_int_equal(lapic_next_event(r->l, 0), UINT64_MAX);
    assert_int_equal(lapic_pending_vector(r->l, 10), -1);
    assert_int_equal(rd(r, IRR + 0x20), 0);
    /* Unmasking later does not bring the lost one-shot expiry back. */
    r->now = 20;
    wr(r, LVT_TIMER, 0x42);
    assert_int_equal(lapic_pending_vector(r->l, 1000), -1);
}

static void test_software_disable_masks_every_lvt(void **state)
{
    struct rig *r = *state;
    wr(r, LVT_TIMER, 0x42); /* disabled: the mask bit stays set */
    assert_int_equal(rd(r, LVT_TIMER), MASKED | 0x42);
    wr(r, SVR, 0x1ff);
    wr(r, LVT_TIMER, PERIODIC | 0x42);
    wr(r, LVT_LINT0, 0x700); /* ExtINT, unmasked */
    assert_int_equal(rd(r, LVT_TIMER), PERIODIC | 0x42);
    wr(r, SVR, 0x0ff);
    assert_int_equal(rd(r, LVT_TIMER), MASKED | PERIODIC | 0x42);
    assert_int_equal(rd(r, LVT_LINT0), MASKED | 0x700);
    wr(r, SVR, 0x1ff); /* enabling again leaves them masked */
    assert_int_equal(rd(r, LVT_TIMER), MASKED | PERIODIC | 0x42);
    /* Read-only and reserved bits: delivery status 12, TSC-deadline 18. */
    wr(r, LVT_TIMER, 0xffffffff);
    assert_int_equal(rd(r, LVT_TIMER), 0x000300ff);
}

static void test_priority_isr_and_eoi(void **state)
{
    struct rig *r = *state;
    wr(r, SVR, 0x1ff);
    self_ipi(r, 0x50);
    self_ipi(r, 0x61);
    assert_int_equal(rd(r, IRR + 0x20), 1u << (0x50 - 0x40));
    assert_int_equal(rd(r, IRR + 0x30), 1u << (0x61 - 0x60));
    assert_int_equal(lapic_pending_vector(r->l, 0), 0x61);
    lapic_accept(r->l, 0x61);
    assert_int_equal(rd(r, IRR + 0x30), 0);
    assert_int_equal(rd(r, ISR + 0x30), 1u << 1);
    assert_int_equal(rd(r, PPR), 0x60);
    /* 0x50 is in a lower class than the one in service. */
    assert_int_equal(lapic_pending_vector(r->l, 0), -1);
    /* A higher class nests; EOI retires the highest in service first. */
    self_ipi(r, 0x70);
    assert_int_equal(lapic_pending_vector(r->l, 0), 0x70);
    lapic_accept(r->l, 0x70);
    assert_int_equal(rd(r, PPR), 0x70);
    assert_int_equal(rd(r, ISR + 0x30), 1u << 1 | 1u << 16);
    wr(r, EOI, 0);
    assert_int_equal(rd(r, ISR + 0x30), 1u << 1);
    wr(r, EOI, 0);
    assert_int_equal(rd(r, ISR + 0x30), 0);
    assert_int_equal(rd(r, PPR), 0);
    assert_int_equal(lapic_pending_vector(r->l, 0), 0x50);
}

static void test_task_priority_blocks_its_class_and_below(void **state)
{
    struct rig *r = *state;
    wr(r, SVR, 0x1ff);
    self_ipi(r, 0x5f);
    wr(r, TPR, 0x50);
    assert_int_equal(rd(r, PPR), 0x50);
    assert_int_equal(lapic_pending_vector(r->l, 0), -1);
    wr(r, TPR, 0x4f);
    assert_int_equal(lapic_pending_vector(r->l, 0), 0x5f);
    lapic_accept(r->l, 0x5f);
    /* PPR: the in-service class wins over a lower TPR, with subclass 0;
     * a TPR of a class at least as high wins whole. */
    assert_int_equal(rd(r, PPR), 0x50);
    wr(r, TPR, 0x53);
    assert_int_equal(rd(r, PPR), 0x53);
    wr(r, TPR, 0x1ff);
    assert_int_equal(rd(r, TPR), 0xff);
}

static void test_illegal_vectors_and_unimplemented_registers(void **state)
{
    struct rig *r = *state;
    wr(r, SVR, 0x1ff);
    self_ipi(r, 0x0f); /* vectors 0-15 are illegal (SDM 11.5.2) */
    assert_int_equal(rd(r, IRR), 0);
    assert_int_equal(lapic_pending_vector(r->l, 0), -1);
    wr(r, ESR, 0x1234);
    assert_int_equal(rd(r, ESR), 0);
    wr(r, 0x3f0, 0x1234);
    assert_int_equal(rd(r, 0x3f0), 0);
    wr(r, VERSION, 0);
    assert_int_equal(rd(r, VERSION), 0x00050014);
    wr(r, ID, 0x01000000);
    assert_int_equal(rd(r, ID), 0);
    /* Misaligned accesses reach no register. */
    wr(r, TPR + 4, 0x20);
    assert_int_equal(rd(r, TPR), 0);
}

static void test_divide_change_mid_count(void **state)
{
    struct rig *r = *state;
    enable_timer(r, 0, 0x44, DIV1);
    wr(r, INITIAL, 100);
    r->now = 40;
    wr(r, DIVIDE, 0x0); /* 60 ticks left, now 2 cycles each */
    assert_int_equal(rd(r, CURRENT), 60);
    assert_int_equal(lapic_next_event(r->l, 40), 40 + 60 * 2);
    assert_int_equal(lapic_pending_vector(r->l, 159), -1);
    assert_int_equal(lapic_pending_vector(r->l, 160), 0x44);
}

/* IA32_APIC_BASE.EN = 0 (SDM 11.4.3): the page reads as unbacked memory
 * (all ones), writes reach nothing, nothing is requested; EN = 1 again
 * gives the power-up state of 11.4.7.1, whatever was programmed. */
static void test_global_disable_and_reenable(void **state)
{
    struct rig *r = *state;
    enable_timer(r, PERIODIC, 0x40, DIV1);
    wr(r, TPR, 0x10);
    wr(r, INITIAL, 100);
    self_ipi(r, 0x50);
    lapic_accept(r->l, 0x50);
    self_ipi(r, 0x60);
    lapic_set_global_enable(r->l, false);
    assert_int_equal(rd(r, VERSION), 0xffffffff);
    assert_int_equal(rd(r, SVR), 0xffffffff);
    assert_int_equal(rd(r, IRR + 0x30), 0xffffffff);
    r->now = 1000;
    assert_int_equal(lapic_pending_vector(r->l, r->now), -1);
    assert_int_equal(lapic_next_event(r->l, r->now), UINT64_MAX);
    wr(r, SVR, 0x1ff);
    wr(r, LVT_TIMER, 0x41);
    wr(r, INITIAL, 10);
    self_ipi(r, 0x70);
    r->now = 2000;
    assert_int_equal(lapic_pending_vector(r->l, r->now), -1);

    lapic_set_global_enable(r->l, true);
    assert_int_equal(rd(r, VERSION), 0x00050014);
    assert_int_equal(rd(r, SVR), 0xff);
    assert_int_equal(rd(r, LVT_TIMER), MASKED);
    assert_int_equal(rd(r, LVT_LINT0), MASKED);
    assert_int_equal(rd(r, TPR), 0);
    assert_int_equal(rd(r, INITIAL), 0);
    assert_int_equal(rd(r, CURRENT), 0);
    for (unsigned k = 0; k < 8; k++) {
        assert_int_equal(rd(r, IRR + 0x10 * k), 0);
        assert_int_equal(rd(r, ISR + 0x10 * k), 0);
    }
    assert_int_equal(lapic_pending_vector(r->l, 1u << 20), -1);
    assert_int_equal(lapic_next_event(r->l, r->now), UINT64_MAX);
    /* It works again from there. */
    wr(r, SVR, 0x1ff);
    self_ipi(r, 0x80);
    assert_int_equal(lapic_pending_vector(r->l, r->now), 0x80);
}

/* NMIs (SDM 11.6.1, 11.5.1): by the ICR in delivery mode NMI to our own
 * ID or to all including self, not by the "self" shorthand (valid only
 * for fixed mode); by LINT0/1 whose LVT entry says NMI, unless masked.
 * One latch: a second NMI before the CPU takes the first is lost. */
static void test_nmi_sources(void **state)
{
    struct rig *r = *state;
    enum { ICR_HI = 0x310, LVT_LINT1 = 0x360, NMI_MODE = 4u << 8 };
    wr(r, SVR, 0x1ff);
    wr(r, ICR_HI, 0);
    wr(r, ICR_LO, NMI_MODE | 0x33); /* physical destination 0: us */
    assert_true(lapic_nmi_pending(r->l));
    assert_int_equal(rd(r, IRR + 0x10), 0); /* the vector is ignored */
    wr(r, ICR_LO, NMI_MODE);
    lapic_nmi_accept(r->l);
    assert_false(lapic_nmi_pending(r->l));
    wr(r, ICR_LO, 1u << 18 | NMI_MODE); /* shorthand self: invalid */
    assert_false(lapic_nmi_pending(r->l));
    wr(r, ICR_LO, 2u << 18 | NMI_MODE); /* all including self */
    assert_true(lapic_nmi_pending(r->l));
    lapic_nmi_accept(r->l);
    wr(r, ICR_HI, 5u << 24); /* another APIC ID: nobody */
    wr(r, ICR_LO, NMI_MODE);
    assert_false(lapic_nmi_pending(r->l));

    lapic_lint(r->l, 1); /* LVT masked at power-up */
    assert_false(lapic_nmi_pending(r->l));
    wr(r, LVT_LINT1, NMI_MODE);
    lapic_lint(r->l, 1);
    assert_true(lapic_nmi_pending(r->l));
    lapic_nmi_accept(r->l);
    wr(r, LVT_LINT0, 0x45); /* fixed */
    lapic_lint(r->l, 0);
    assert_false(lapic_nmi_pending(r->l));
    assert_int_equal(lapic_pending_vector(r->l, 0), 0x45);
    lapic_set_global_enable(r->l, false);
    lapic_lint(r->l, 1);
    assert_false(lapic_nmi_pending(r->l));
}

/* A platform whose sync raises LINT0 once (fixed mode), counting syncs. */
struct counting_platform {
    struct lapic *l;
    unsigned syncs;
};

static void count_sync(void *ctx, uint64_t now)
{
    struct counting_platform *p = ctx;
    (void)now;
    if (p->syncs++ == 0)
        lapic_lint(p->l, 0);
}

static uint64_t no_platform_event(void *ctx, uint64_t now)
{
    (void)ctx, (void)now;
    return UINT64_MAX;
}

/* lapic_pending_vector syncs the platform once; lapic_synced_vector
 * leaves that to its caller (lapic_sync_platform) and then answers the
 * same. */
static void test_synced_vector_leaves_the_sync_out(void **state)
{
    struct rig *r = *state;
    struct counting_platform p = {.l = r->l};
    struct lapic_platform hooks = {.ctx = &p, .sync = count_sync,
                                   .next_event = no_platform_event};
    lapic_connect_platform(r->l, &hooks);
    wr(r, SVR, 0x1ff);
    wr(r, LVT_LINT0, 0x46);
    assert_int_equal(lapic_synced_vector(r->l, 0), -1);
    assert_int_equal(p.syncs, 0);
    lapic_sync_platform(r->l, 0);
    assert_int_equal(p.syncs, 1);
    assert_int_equal(lapic_synced_vector(r->l, 0), 0x46);
    assert_int_equal(p.syncs, 1);
    assert_int_equal(lapic_pending_vector(r->l, 0), 0x46);
    assert_int_equal(p.syncs, 2);
    lapic_connect_platform(r->l, NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_power_up_state),
        T(test_one_shot_fires_at_initial_times_divide),
        T(test_divide_configuration_encodings),
        T(test_current_count_reads_back),
        T(test_periodic_rearms),
        T(test_masked_timer_does_not_fire),
        T(test_software_disable_masks_every_lvt),
        T(test_priority_isr_and_eoi),
        T(test_task_priority_blocks_its_class_and_below),
        T(test_illegal_vectors_and_unimplemented_registers),
        T(test_divide_change_mid_count),
        T(test_global_disable_and_reenable),
        T(test_nmi_sources),
        T(test_synced_vector_leaves_the_sync_out),
    };
    return cmocka_run_group_tests_name("lapic", tests, NULL, NULL);
}
