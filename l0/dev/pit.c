/* The 8254 PIT, after the Intel 82C54 data sheet (order 231244): three
 * 16-bit down counters, modes 0-5, binary or BCD counting, LSB/MSB/both
 * access, the counter-latch and read-back commands and the status byte.
 *
 * Time: nothing counts in the background. A counter is a reload value
 * and the tick at which it was loaded into the counting element; its
 * value and OUT at any tick follow from the mode. Ticks are
 * floor(cycles * PIT_HZ / MACHINE_TSC_HZ). A count written at tick t is
 * loaded on the next clock, t + 1 (data sheet: "after writing ... the
 * count is loaded on the next CLK pulse").
 *
 * Gates: channels 0 and 1 have their gate tied high, as on a PC;
 * channel 2's is bit 0 of port 0x61. A low gate suspends counting in
 * modes 0 and 4 and stops it (OUT high) in modes 2 and 3; a rising gate
 * reloads in modes 2 and 3 and triggers modes 1 and 5.
 *
 * Simplifications: in mode 3 the value read is the ideal one (the count
 * minus twice the ticks into the current half period, even); a new
 * count written while mode 2 or 3 is running restarts the period on the
 * next clock instead of at the end of the current one; the one-clock
 * delays of the gate inputs are not modeled. */
#include "dev/pit.h"

#include <stdlib.h>

#include "dev/bus.h"
#include "machine.h"

enum {
    PIT_PORT = 0x40,
    PORT_B = 0x61,
    CONTROL = 3,
};

/* Access modes (control word bits 5-4). */
enum { RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD = 3 };

struct channel {
    uint8_t mode, rw;
    bool bcd;
    uint32_t reload; /* the period: the count written, 0 meaning 2^16 or
                        10^4 */
    bool gate;
    bool running;    /* loaded (or triggered) and counting */
    uint64_t t_load; /* tick at which the count was loaded */
    uint64_t paused_d; /* modes 0/4 with the gate low: ticks counted */
    bool paused;
    bool awaiting_count; /* control word written, count not yet complete */
    bool awaiting_trigger; /* modes 1/5: count written, no gate edge yet */
    uint16_t held;   /* the value shown while not running */
    uint8_t write_lsb; /* RW_WORD: the LSB written first */
    bool write_msb_next, read_msb_next;
    bool latched, latch_msb_next, status_latched;
    uint16_t latch;
    uint8_t status;
};

struct pit {
    struct channel ch[3];
    uint64_t (*now)(void *ctx);
    void (*sync)(void *ctx);
    void *ctx;
    uint8_t port_b;      /* bits 0-3 as written */
    uint64_t out0_tick;  /* channel 0's edges are counted up to here */
};

uint64_t pit_tick_at(uint64_t cycles)
{
    return (uint64_t)((unsigned __int128)cycles * PIT_HZ / MACHINE_TSC_HZ);
}

uint64_t pit_cycle_of(uint64_t tick)
{
    unsigned __int128 c = (unsigned __int128)tick * MACHINE_TSC_HZ;
    return (uint64_t)((c + PIT_HZ - 1) / PIT_HZ);
}

static uint64_t now_tick(const struct pit *p)
{
    return pit_tick_at(p->now(p->ctx));
}

/* ---- counting ------------------------------------------------------- */

static uint32_t modulus(const struct channel *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint32_t period(const struct channel *c)
{
    return c->reload ? c->reload : modulus(c);
}

/* Ticks counted since the load at tick t, or -1 before it. */
static int64_t elapsed(const struct channel *c, uint64_t t)
{
    if (c->paused)
        return (int64_t)c->paused_d;
    return t < c->t_load ? -1 : (int64_t)(t - c->t_load);
}

static bool counting(const struct channel *c, uint64_t t)
{
    return c->running && elapsed(c, t) >= 0;
}

/* The counting element at tick t, in binary. */
static uint32_t value_at(const struct channel *c, uint64_t t)
{
    if (!counting(c, t))
        return c->held;
    uint64_t d = (uint64_t)elapsed(c, t);
    uint32_t n = period(c), m = modulus(c);
    switch (c->mode) {
    case 2:
        return (uint32_t)(n - d % n) % m;
    case 3: {
        uint64_t h = d % n, high = (n + 1) / 2;
        uint64_t into = h < high ? h : h - high;
        return (uint32_t)((n - 2 * into) % m) & ~1u;
    }
    default: /* 0, 1, 4, 5: down from n, wrapping past 0 */
        return (uint32_t)((m - (d % m) + n) % m);
    }
}

/* OUT at tick t (data sheet, figures of modes 0-5). */
static bool out_at(const struct channel *c, uint64_t t)
{
    if (!counting(c, t))
        return c->mode != 0; /* mode 0 holds OUT low until terminal count */
    uint64_t d = (uint64_t)elapsed(c, t), n = period(c);
    switch (c->mode) {
    case 0:
    case 1:
        return d >= n;
    case 2:
        return d % n != n - 1;
    case 3:
        return d % n < (n + 1) / 2;
    default: /* 4, 5: one tick low when the count reaches 0 */
        return d != n;
    }
}

/* Rising edges of OUT in ticks (a, b], a < b. */
static uint64_t edges_between(const struct channel *c, uint64_t a, uint64_t b)
{
    if (!c->running || c->paused || b < c->t_load)
        return 0;
    uint64_t n = period(c);
    if (c->mode == 2 || c->mode == 3) {
        /* OUT rises at every reload: t_load + k * n, k >= 1. */
        uint64_t ka = a < c->t_load ? 0 : (a - c->t_load) / n;
        return (b - c->t_load) / n - ka;
    }
    uint64_t edge = c->t_load + n + (c->mode >= 4); /* the only one */
    return a < edge && edge <= b;
}

/* The first tick after t at which OUT rises, or UINT64_MAX. */
static uint64_t next_edge(const struct channel *c, uint64_t t)
{
    if (!c->running || c->paused)
        return UINT64_MAX;
    uint64_t n = period(c);
    if (c->mode == 2 || c->mode == 3) {
        uint64_t k = t < c->t_load ? 1 : (t - c->t_load) / n + 1;
        return c->t_load + k * n;
    }
    uint64_t edge = c->t_load + n + (c->mode >= 4);
    return edge > t ? edge : UINT64_MAX;
}

/* Starts counting the current reload value on the clock after tick t. */
static void start(struct channel *c, uint64_t t)
{
    c->running = true;
    c->paused = false;
    c->t_load = t + 1;
    c->awaiting_trigger = false;
    if ((c->mode == 0 || c->mode == 4) && !c->gate) {
        c->paused = true; /* loaded, but the gate holds it */
        c->paused_d = 0;
    }
}

/* Stops counting, keeping the value (and, for mode 0, OUT) it had. */
static void stop(struct channel *c, uint64_t t)
{
    c->held = (uint16_t)value_at(c, t);
    c->running = false;
}

/* A complete count has been written (data sheet, "mode definitions"). */
static void count_written(struct channel *c, uint64_t t)
{
    c->awaiting_count = false;
    switch (c->mode) {
    case 1:
    case 5: /* waits for a rising gate */
        if (c->running)
            break; /* takes effect at the next trigger */
        c->held = (uint16_t)c->reload;
        c->awaiting_trigger = true;
        break;
    default:
        if ((c->mode == 2 || c->mode == 3) && !c->gate) {
            c->held = (uint16_t)c->reload;
            c->running = false;
            break;
        }
        start(c, t);
        break;
    }
}

static void set_gate(struct channel *c, bool gate, uint64_t t)
{
    if (gate == c->gate)
        return;
    c->gate = gate;
    switch (c->mode) {
    case 0:
    case 4:
        if (!c->running)
            break;
        if (!gate) {
            int64_t d = elapsed(c, t);
            c->paused_d = d < 0 ? 0 : (uint64_t)d;
            c->paused = true;
        } else {
            c->paused = false;
            c->t_load = t + 1 - c->paused_d; /* go on where it stopped */
        }
        break;
    case 2:
    case 3:
        if (!gate) {
            if (c->running)
                stop(c, t);
        } else if (!c->awaiting_count) {
            start(c, t); /* a rising gate reloads the counter */
        }
        break;
    default: /* 1, 5: a rising gate (re)triggers */
        if (gate && !c->awaiting_count &&
            (c->running || c->awaiting_trigger))
            start(c, t);
        break;
    }
}

/* ---- registers ------------------------------------------------------ */

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)((v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 |
                      (v / 1000 % 10) << 12);
}

static uint32_t from_bcd(uint16_t v)
{
    return (v & 0xF) + (v >> 4 & 0xF) * 10 + (v >> 8 & 0xF) * 100 +
           (v >> 12 & 0xF) * 1000;
}

static uint16_t shown(const struct channel *c, uint64_t t)
{
    uint32_t v = value_at(c, t);
    return c->bcd ? to_bcd(v) : (uint16_t)v;
}

static void latch_count(struct channel *c, uint64_t t)
{
    if (c->latched)
        return; /* a second latch before the read is ignored */
    c->latch = shown(c, t);
    c->latched = true;
    c->latch_msb_next = false;
}

/* The status byte (data sheet, "read-back command"): OUT, null count,
 * then the control word's RW, mode and BCD bits. */
static void latch_status(struct channel *c, uint64_t t)
{
    if (c->status_latched)
        return;
    bool null_count = c->awaiting_count || c->awaiting_trigger ||
                      (c->running && !counting(c, t));
    c->status = (uint8_t)((out_at(c, t) ? 0x80 : 0) | (null_count ? 0x40 : 0) |
                          c->rw << 4 | c->mode << 1 | c->bcd);
    c->status_latched = true;
}

static void control_word(struct pit *p, uint8_t v, uint64_t t)
{
    unsigned sc = v >> 6, rw = (v >> 4) & 3;
    if (sc == 3) { /* read-back: bit 5 clear latches counts, 4 status */
        for (unsigned i = 0; i < 3; i++) {
            if (!(v & (2u << i)))
                continue;
            if (!(v & 0x20))
                latch_count(&p->ch[i], t);
            if (!(v & 0x10))
                latch_status(&p->ch[i], t);
        }
        return;
    }
    struct channel *c = &p->ch[sc];
    if (rw == RW_LATCH) {
        latch_count(c, t);
        return;
    }
    stop(c, t);
    c->mode = (v >> 1) & 7;
    if (c->mode >= 6)
        c->mode -= 4; /* 110 and 111 are modes 2 and 3 */
    c->rw = (uint8_t)rw;
    c->bcd = v & 1;
    c->awaiting_count = true;
    c->awaiting_trigger = false;
    c->write_msb_next = c->read_msb_next = false;
    c->latched = c->status_latched = false;
}

static void data_write(struct channel *c, uint8_t v, uint64_t t)
{
    uint16_t count;
    switch (c->rw) {
    case RW_LSB:
        count = v;
        break;
    case RW_MSB:
        count = (uint16_t)(v << 8);
        break;
    default:
        if (!c->write_msb_next) {
            c->write_lsb = v;
            c->write_msb_next = true;
            if (c->mode == 0) { /* the first byte stops the count */
                stop(c, t);
                c->awaiting_count = true;
            }
            return;
        }
        c->write_msb_next = false;
        count = (uint16_t)(c->write_lsb | v << 8);
        break;
    }
    c->reload = c->bcd ? from_bcd(count) : count;
    count_written(c, t);
}

static uint8_t data_read(struct channel *c, uint64_t t)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v;
    bool msb;
    if (c->latched) {
        v = c->latch;
        msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->latch_msb_next);
        if (c->rw == RW_WORD && !c->latch_msb_next)
            c->latch_msb_next = true;
        else
            c->latched = false;
    } else {
        v = shown(c, t);
        msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->read_msb_next);
        if (c->rw == RW_WORD)
            c->read_msb_next = !c->read_msb_next;
    }
    return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

/* Port 0x61 bit 4 toggles with every DRAM refresh request, every 18 PIT
 * clocks (15.09 us) on the PC/AT; some delay loops count it. */
static uint8_t port_b_value(const struct pit *p, uint64_t t)
{
    uint8_t refresh = (t / 18) & 1 ? 0x10 : 0;
    uint8_t out2 = out_at(&p->ch[2], t) ? 0x20 : 0;
    return (uint8_t)((p->port_b & 0x0F) | refresh | out2);
}

/* The tick now, after the platform caught up with channel 0's edges (a
 * register access may change them). */
static uint64_t synced_tick(struct pit *p)
{
    if (p->sync)
        p->sync(p->ctx);
    return now_tick(p);
}

static uint64_t pit_read(void *dev, uint64_t offset, unsigned size)
{
    struct pit *p = dev;
    (void)size;
    uint64_t t = synced_tick(p);
    if (offset == CONTROL)
        return 0xFF; /* the control word register cannot be read */
    return data_read(&p->ch[offset], t);
}

static void pit_write(void *dev, uint64_t offset, unsigned size,
                      uint64_t value)
{
    struct pit *p = dev;
    (void)size;
    uint64_t t = synced_tick(p);
    if (offset == CONTROL)
        control_word(p, (uint8_t)value, t);
    else
        data_write(&p->ch[offset], (uint8_t)value, t);
}

static uint64_t port_b_read(void *dev, uint64_t offset, unsigned size)
{
    struct pit *p = dev;
    (void)offset, (void)size;
    return port_b_value(p, now_tick(p));
}

static void port_b_write(void *dev, uint64_t offset, unsigned size,
                         uint64_t value)
{
    struct pit *p = dev;
    (void)offset, (void)size;
    p->port_b = (uint8_t)value & 0x0F;
    set_gate(&p->ch[2], value & 1, now_tick(p));
}

unsigned pit_out0_edges(struct pit *p, uint64_t now, bool *level)
{
    uint64_t t = pit_tick_at(now);
    const struct channel *c = &p->ch[0];
    uint64_t n = t > p->out0_tick ? edges_between(c, p->out0_tick, t) : 0;
    if (t > p->out0_tick)
        p->out0_tick = t;
    *level = out_at(c, t);
    return n > 0xFFFF ? 0xFFFF : (unsigned)n;
}

uint64_t pit_next_out0_edge(const struct pit *p, uint64_t now)
{
    uint64_t t = pit_tick_at(now);
    if (t < p->out0_tick)
        t = p->out0_tick;
    uint64_t edge = next_edge(&p->ch[0], t);
    return edge == UINT64_MAX ? UINT64_MAX : pit_cycle_of(edge);
}

struct pit *pit_create(struct bus *ports, uint64_t (*now)(void *ctx),
                       void (*sync)(void *ctx), void *ctx)
{
    struct pit *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->now = now;
    p->sync = sync;
    p->ctx = ctx;
    /* Power-up: no counter programmed; OUT of a counter in no mode is
     * undefined, here high (mode 0's OUT is low only once programmed). */
    for (int i = 0; i < 3; i++) {
        p->ch[i].gate = i < 2;
        p->ch[i].mode = 2;
        p->ch[i].rw = RW_WORD;
        p->ch[i].awaiting_count = true;
    }
    if (bus_register(ports, PIT_PORT, 4, p, pit_read, pit_write, "pit") != 0 ||
        bus_register(ports, PORT_B, 1, p, port_b_read, port_b_write,
                     "port-b") != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void pit_destroy(struct pit *p)
{
    free(p);
}
