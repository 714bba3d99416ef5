/* The local APIC in xAPIC mode, as far as one CPU with a deterministic
 * timer needs it (SDM Vol. 3A chapter 11).
 *
 * Time: the timer's input is the modeled cycle count (our "bus clock",
 * SDM 11.5.4), divided by the divide configuration. Nothing runs in the
 * background: the timer is a start cycle and a count, and every question
 * (current count, has it fired, when will it fire) is answered from
 * `now`. Expiries are turned into IRR bits lazily, when the CPU asks for
 * a pending vector or when a register write changes the timer.
 *
 * LINT0 in ExtINT mode is the 8259's INTR input (virtual wire, SDM
 * 11.5.1): the vector comes from the PIC's INTA, not from IRR/ISR, and
 * the LAPIC's own requested vectors go first. TMR records which vectors
 * the IOAPIC delivered level-triggered, whose EOI it broadcasts back.
 *
 * Not modeled (reads 0, writes ignored unless noted): ESR, APR, CMCI (the version register
 * reports 6 LVT entries, so there is none), the TSC-deadline timer mode,
 * IPIs other than fixed and NMI self-IPIs, relocation through
 * IA32_APIC_BASE, and x2APIC. LINT0 also takes the 8259's rising INTR
 * edges in fixed and NMI mode (lapic_lint, from the platform); LINT1 is
 * the PC's NMI line, which no modeled device raises; the thermal,
 * performance and error LVTs are plain storage: nothing here raises
 * those interrupts. */
#include "dev/lapic.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

/* Register offsets in the 4 KiB page (SDM Table 11-1). */
enum {
    REG_ID = 0x020,
    REG_VERSION = 0x030,
    REG_TPR = 0x080,
    REG_PPR = 0x0a0,
    REG_EOI = 0x0b0,
    REG_LDR = 0x0d0,
    REG_DFR = 0x0e0,
    REG_SVR = 0x0f0,
    REG_ISR = 0x100, /* 8 registers, 0x10 apart */
    REG_TMR = 0x180,
    REG_IRR = 0x200,
    REG_ICR_LO = 0x300,
    REG_ICR_HI = 0x310,
    REG_LVT_TIMER = 0x320,
    REG_INITIAL = 0x380,
    REG_CURRENT = 0x390,
    REG_DIVIDE = 0x3e0,
};

/* Version 0x14 (an integrated APIC), max LVT entry 5 (SDM 11.4.8). */
#define LAPIC_VERSION 0x00050014u

#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17) /* timer mode 01 (SDM Figure 11-8) */
#define SVR_ENABLE (1u << 8)    /* APIC software enable (SDM 11.4.7.2) */
#define LVT_MODE(v) (((v) >> 8) & 7)
#define MODE_EXTINT 7

/* The six LVT entries and the bits software may write in each (SDM
 * Figure 11-8): vector 0-7, delivery mode 8-10, polarity 13, trigger
 * mode 15, mask 16, timer mode 17. Delivery status (12) and remote IRR
 * (14) are read-only and always 0 here. Bit 18 of the timer (TSC-
 * deadline mode) is treated as reserved: CPUID must not report it. */
enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
       LVT_COUNT };
static const struct {
    uint32_t offset, writable;
} lvt_regs[LVT_COUNT] = {
    [LVT_TIMER] = {0x320, 0x000300ff},
    [LVT_THERMAL] = {0x330, 0x000107ff},
    [LVT_PERF] = {0x340, 0x000107ff},
    [LVT_LINT0] = {0x350, 0x0001a7ff},
    [LVT_LINT1] = {0x360, 0x0001a7ff},
    [LVT_ERROR] = {0x370, 0x000100ff},
};

struct lapic {
    uint64_t (*now)(void *ctx);
    void *ctx;
    /* IA32_APIC_BASE.EN clear: the APIC is globally disabled (SDM
     * 11.4.3). Everything below is then in its power-up state. */
    bool disabled;

    uint32_t tpr, ldr, dfr, svr, icr_lo, icr_hi;
    uint32_t lvt[LVT_COUNT];
    uint32_t irr[8], isr[8], tmr[8];
    const struct lapic_platform *platform; /* or NULL */
    bool extint_offered; /* the last pending vector came from the PIC */
    /* An NMI accepted and not yet taken by the CPU: one latch, so NMIs
     * arriving while one waits are lost (SDM Vol. 3A 7.7, "Handling
     * Multiple NMIs"). */
    bool nmi;

    /* The timer: the count was `count0` at cycle `t0` and drops by one
     * every `divide` cycles; `fire` = t0 + count0 * divide. */
    uint32_t initial, divide_conf;
    uint32_t count0;
    uint64_t t0, fire;
    bool armed;
};

/* SDM Figure 11-10: bits 3 and 1:0 of the divide configuration register
 * select the divisor (bit 2 is reserved). */
static unsigned divisor(uint32_t conf)
{
    static const unsigned by_code[8] = {2, 4, 8, 16, 32, 64, 128, 1};
    return by_code[((conf >> 1) & 4) | (conf & 3)];
}

static void set_bit(uint32_t *set, int v)
{
    set[v >> 5] |= 1u << (v & 31);
}

static void clear_bit(uint32_t *set, int v)
{
    set[v >> 5] &= ~(1u << (v & 31));
}

/* The highest vector in a 256-bit set, or -1. */
static int highest(const uint32_t *set)
{
    for (int i = 7; i >= 0; i--)
        if (set[i])
            return i * 32 + 31 - __builtin_clz(set[i]);
    return -1;
}

/* SDM 11.8.3.1: PPR is TPR if TPR's class is at least the class of the
 * highest in-service vector, otherwise that class with subclass 0. */
static uint32_t ppr(const struct lapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (l->tpr & 0xf0) >= isr_class ? l->tpr : isr_class;
}

/* A fixed interrupt arrives: SDM 11.5.2 makes vectors 0-15 illegal (an
 * error the ESR would record; here the interrupt is simply dropped). */
static void request(struct lapic *l, uint32_t vector)
{
    if (vector >= 16)
        set_bit(l->irr, (int)vector);
}

/* Turns timer expiries up to `now` into (at most one) IRR bit: while a
 * vector is already requested, further expiries add nothing, as IRR has
 * one bit per vector. A masked expiry is lost (SDM 11.5.1). */
static void timer_update(struct lapic *l, uint64_t now)
{
    if (!l->armed || now < l->fire)
        return;
    if (!(l->lvt[LVT_TIMER] & LVT_MASKED))
        request(l, l->lvt[LVT_TIMER] & 0xff);
    if (!(l->lvt[LVT_TIMER] & LVT_PERIODIC)) {
        l->armed = false; /* one-shot: the count stays at 0 */
        return;
    }
    /* Periodic: reload from the initial count (SDM 11.5.4), skipping the
     * whole periods that have passed since. */
    uint64_t period = (uint64_t)l->initial * divisor(l->divide_conf);
    uint64_t periods = (now - l->fire) / period;
    l->t0 = l->fire + periods * period;
    l->count0 = l->initial;
    l->fire = l->t0 + period;
}

static uint32_t current_count(const struct lapic *l, uint64_t now)
{
    if (!l->armed)
        return 0;
    uint64_t ticks = (now - l->t0) / divisor(l->divide_conf);
    return ticks >= l->count0 ? 0 : l->count0 - (uint32_t)ticks;
}

static void timer_start(struct lapic *l, uint64_t now, uint32_t count)
{
    l->armed = count != 0; /* a zero initial count stops the timer */
    l->t0 = now;
    l->count0 = count;
    l->fire = now + (uint64_t)count * divisor(l->divide_conf);
}

static int lvt_index(uint64_t offset)
{
    for (int i = 0; i < LVT_COUNT; i++)
        if (lvt_regs[i].offset == offset)
            return i;
    return -1;
}

static uint32_t lapic_read32(struct lapic *l, uint64_t offset)
{
    uint64_t now = l->now(l->ctx);
    timer_update(l, now);
    int lvt = lvt_index(offset);
    if (lvt >= 0)
        return l->lvt[lvt];
    if (offset >= REG_ISR && offset < REG_ISR + 0x80)
        return l->isr[(offset - REG_ISR) >> 4];
    if (offset >= REG_IRR && offset < REG_IRR + 0x80)
        return l->irr[(offset - REG_IRR) >> 4];
    if (offset >= REG_TMR && offset < REG_TMR + 0x80)
        return l->tmr[(offset - REG_TMR) >> 4];
    switch (offset) {
    case REG_ID:
        return 0; /* APIC ID 0 in bits 31:24: the only CPU */
    case REG_VERSION:
        return LAPIC_VERSION;
    case REG_TPR:
        return l->tpr;
    case REG_PPR:
        return ppr(l);
    case REG_LDR:
        return l->ldr;
    case REG_DFR:
        return l->dfr;
    case REG_SVR:
        return l->svr;
    case REG_ICR_LO:
        return l->icr_lo;
    case REG_ICR_HI:
        return l->icr_hi;
    case REG_INITIAL:
        return l->initial;
    case REG_CURRENT:
        return current_count(l, now);
    case REG_DIVIDE:
        return l->divide_conf;
    }
    return 0;
}

/* Delivery modes of the ICR and the LVT (SDM 11.6.1, 11.5.1). */
enum { MODE_FIXED = 0, MODE_NMI = 4 };

/* SDM 11.6.1 (ICR): only a self-IPI has a destination here, by
 * shorthand self (01) or all-including-self (10), or by physical
 * destination 0 (us) or 0xff (broadcast); fixed and NMI delivery modes
 * are delivered (the vector is ignored for an NMI). Shorthand "self" is
 * only for fixed mode: an NMI with it is not among the valid ICR
 * combinations listed in 11.6.1 (the ESR would flag it), and is dropped.
 * Lowest priority, SMI, INIT and SIPI are dropped: no other CPU, and no
 * SMM or reset by IPI on this one. */
static void send_ipi(struct lapic *l)
{
    uint32_t lo = l->icr_lo;
    unsigned mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3;
    unsigned dest = l->icr_hi >> 24;
    bool logical = lo & (1u << 11);
    bool to_us = shorthand == 2 || (shorthand == 1 && mode == MODE_FIXED) ||
                 (shorthand == 0 && !logical && (dest == 0 || dest == 0xff));
    if (!to_us)
        return;
    if (mode == MODE_FIXED)
        request(l, lo & 0xff);
    else if (mode == MODE_NMI)
        l->nmi = true;
}

static void lapic_write32(struct lapic *l, uint64_t offset, uint32_t v)
{
    uint64_t now = l->now(l->ctx);
    timer_update(l, now);
    int lvt = lvt_index(offset);
    if (lvt >= 0) {
        l->lvt[lvt] = v & lvt_regs[lvt].writable;
        /* SDM 11.4.7.2: while software-disabled, the mask bits stay set. */
        if (!(l->svr & SVR_ENABLE))
            l->lvt[lvt] |= LVT_MASKED;
        return;
    }
    switch (offset) {
    case REG_TPR:
        l->tpr = v & 0xff;
        break;
    case REG_EOI: {
        /* SDM 11.8.5: EOI retires the highest-priority in-service vector;
         * the value written does not matter in xAPIC mode. */
        int v_isr = highest(l->isr);
        if (v_isr >= 0) {
            clear_bit(l->isr, v_isr);
            if (l->tmr[v_isr >> 5] & (1u << (v_isr & 31))) {
                clear_bit(l->tmr, v_isr);
                if (l->platform)
                    l->platform->eoi(l->platform->ctx, v_isr);
            }
        }
        break;
    }
    case REG_LDR:
        l->ldr = v & 0xff000000u;
        break;
    case REG_DFR:
        l->dfr = v | 0x0fffffffu; /* bits 27:0 read as ones */
        break;
    case REG_SVR:
        /* Vector and enable; focus checking and EOI-broadcast suppression
         * are not offered. Clearing the enable masks every LVT, and
         * setting it again does not unmask them (SDM 11.4.7.2). */
        l->svr = v & 0x1ff;
        if (!(l->svr & SVR_ENABLE))
            for (int i = 0; i < LVT_COUNT; i++)
                l->lvt[i] |= LVT_MASKED;
        break;
    case REG_ICR_HI:
        l->icr_hi = v & 0xff000000u;
        break;
    case REG_ICR_LO:
        l->icr_lo = v & 0x000ccfffu; /* delivery status (12) reads idle */
        send_ipi(l);
        break;
    case REG_INITIAL:
        l->initial = v;
        timer_start(l, now, v);
        break;
    case REG_DIVIDE: {
        /* The count goes on at the new rate from the last whole tick.
         * (Simplification: a partial tick of the old divisor is kept as
         * progress towards the first tick of the new one.) */
        uint32_t count = current_count(l, now);
        if (l->armed) {
            uint64_t ticks = l->count0 - count;
            l->t0 += ticks * divisor(l->divide_conf);
            l->count0 = count;
        }
        l->divide_conf = v & 0xb;
        l->fire = l->t0 + (uint64_t)l->count0 * divisor(l->divide_conf);
        break;
    }
    }
}

/* SDM 11.4.1: registers are 32 bits wide on 16-byte boundaries and are
 * meant to be accessed with aligned 32-bit loads and stores. Here a read
 * at a register's offset returns it (the bus keeps the bytes the access
 * asked for); reads elsewhere return 0, and writes other than aligned 32-
 * or 64-bit ones are ignored (the SDM leaves them undefined). */
static uint64_t lapic_mmio_read(void *dev, uint64_t offset, unsigned size)
{
    (void)size;
    struct lapic *l = dev;
    /* Globally disabled, the page no longer answers: the range reads as
     * unbacked memory does, all ones (SDM 11.4.3: the processor then
     * behaves as one without an on-chip APIC). */
    if (l->disabled)
        return UINT64_MAX;
    return (offset & 0xf) ? 0 : lapic_read32(l, offset);
}

static void lapic_mmio_write(void *dev, uint64_t offset, unsigned size,
                             uint64_t value)
{
    struct lapic *l = dev;
    if (!l->disabled && (offset & 0xf) == 0 && size >= 4)
        lapic_write32(l, offset, (uint32_t)value);
}

/* Power-up state (SDM 11.4.7.1): software-disabled, every LVT masked,
 * DFR all ones, spurious vector 0xff, every other register 0, no
 * interrupt requested or in service, the timer stopped. */
static void reset_state(struct lapic *l)
{
    uint64_t (*now)(void *ctx) = l->now;
    void *ctx = l->ctx;
    bool disabled = l->disabled;
    memset(l, 0, sizeof *l);
    l->now = now;
    l->ctx = ctx;
    l->disabled = disabled;
    l->svr = 0xff;
    l->dfr = 0xffffffffu;
    for (int i = 0; i < LVT_COUNT; i++)
        l->lvt[i] = LVT_MASKED;
}

struct lapic *lapic_create(struct machine *m, uint64_t (*now)(void *ctx),
                           void *ctx)
{
    struct lapic *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->now = now;
    l->ctx = ctx;
    reset_state(l);
    if (bus_register(&m->mmio, LAPIC_DEFAULT_BASE, 0x1000, l,
                     lapic_mmio_read, lapic_mmio_write, "lapic") != 0) {
        free(l);
        return NULL;
    }
    return l;
}

void lapic_destroy(struct lapic *l)
{
    free(l);
}

/* LINT0 passes the 8259's INTR as ExtINT when it is unmasked in that
 * mode (SDM 11.5.1). The vector is the one INTA would return now. */
static int extint_vector(struct lapic *l)
{
    const struct lapic_platform *p = l->platform;
    uint32_t lint0 = l->lvt[LVT_LINT0];
    if (!p || (lint0 & LVT_MASKED) || LVT_MODE(lint0) != MODE_EXTINT)
        return -1;
    return p->extint_vector(p->ctx);
}

void lapic_set_global_enable(struct lapic *l, bool enabled)
{
    /* SDM 11.4.3: clearing EN may lose the APIC's programming and return
     * it to its power-up state; here it always does, so that re-enabling
     * finds the reset state, and nothing requested before survives. */
    if (enabled == !l->disabled)
        return;
    l->disabled = !enabled;
    reset_state(l);
}

int lapic_pending_vector(struct lapic *l, uint64_t now)
{
    lapic_sync_platform(l, now);
    return lapic_synced_vector(l, now);
}

int lapic_synced_vector(struct lapic *l, uint64_t now)
{
    if (l->disabled)
        return -1;
    timer_update(l, now);
    l->extint_offered = false;
    /* SDM 11.8.4: the highest requested vector is taken only if its
     * priority class is above the processor priority class. */
    int v = highest(l->irr);
    if (v >= 0 && ((uint32_t)v & 0xf0) > (ppr(l) & 0xf0))
        return v;
    v = extint_vector(l);
    l->extint_offered = v >= 0;
    return v;
}

bool lapic_nmi_pending(const struct lapic *l)
{
    return l->nmi;
}

bool lapic_lint_nmi_armed(const struct lapic *l)
{
    uint32_t lint0 = l->lvt[LVT_LINT0];
    return !l->disabled && l->platform && !(lint0 & LVT_MASKED) &&
           LVT_MODE(lint0) == MODE_NMI;
}

void lapic_sync_platform(struct lapic *l, uint64_t now)
{
    if (l->platform && !l->disabled)
        l->platform->sync(l->platform->ctx, now);
}

void lapic_nmi_accept(struct lapic *l)
{
    l->nmi = false;
}

void lapic_lint(struct lapic *l, unsigned pin)
{
    if (l->disabled || pin > 1)
        return;
    uint32_t lvt = l->lvt[LVT_LINT0 + pin];
    if (lvt & LVT_MASKED)
        return;
    /* SDM 11.5.1: NMI ignores the vector. ExtINT is the 8259's INTR,
     * which lapic_pending_vector() polls for its vector; SMI and INIT
     * are not modeled (no SMM, one CPU) and are dropped. Edges only: a
     * level-triggered fixed entry (bit 15) is taken as edge-triggered. */
    unsigned mode = (lvt >> 8) & 7;
    if (mode == MODE_FIXED)
        request(l, lvt & 0xff);
    else if (mode == MODE_NMI)
        l->nmi = true;
}

void lapic_accept(struct lapic *l, int vector)
{
    if (l->extint_offered) {
        /* The INTA cycle goes to the PIC; IRR and ISR are not involved.
         * The PIC answers with the vector offered, as nothing ran since. */
        l->extint_offered = false;
        l->platform->inta(l->platform->ctx);
        return;
    }
    if (vector < 0 || vector > 255)
        return;
    clear_bit(l->irr, vector);
    set_bit(l->isr, vector);
}

uint64_t lapic_next_event(const struct lapic *l, uint64_t now)
{
    uint64_t t = UINT64_MAX;
    if (l->armed && !(l->lvt[LVT_TIMER] & LVT_MASKED))
        t = l->fire > now ? l->fire : now;
    if (l->platform) {
        uint64_t p = l->platform->next_event(l->platform->ctx, now);
        if (p < t)
            t = p;
    }
    return t;
}

void lapic_connect_platform(struct lapic *l, const struct lapic_platform *p)
{
    l->platform = p;
}

void lapic_deliver(struct lapic *l, int vector, int level)
{
    if (vector < 16 || vector > 255)
        return; /* illegal vector (SDM 11.5.2): dropped, as in request() */
    set_bit(l->irr, vector);
    if (level)
        set_bit(l->tmr, vector);
    else
        clear_bit(l->tmr, vector);
}
