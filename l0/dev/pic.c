/* The 8259A pair, after the Intel 8259A data sheet (order 231468):
 * initialization words ICW1-ICW4, operation words OCW1-OCW3, the
 * IRR/ISR/IMR registers, fully nested priorities with rotation, specific
 * and non-specific EOI, automatic EOI, special mask mode, poll mode, and
 * the cascade of the slave on the master's IR2. Edge or level triggering
 * per input comes from the PIIX ELCR registers (0x4D0/0x4D1), as on a
 * PC; ICW1's LTIM bit is ignored there, as the PIIX ignores it.
 *
 * Simplifications: the MCS-80/85 mode (ICW4 bit 0 clear) behaves as
 * 8086 mode; buffered mode (ICW4 bits 2-3) changes nothing; special
 * fully nested mode only lets a slave's request through while the
 * cascade input is in service on the master. */
#include "dev/pic.h"

#include <stdlib.h>

#include "dev/bus.h"

enum {
    MASTER_PORT = 0x20,
    SLAVE_PORT = 0xA0,
    ELCR_PORT = 0x4D0,
    CASCADE_IR = 2,
};

/* IRQ0-2 (timer, keyboard, cascade) and IRQ8 and IRQ13 are always edge-
 * triggered on the PIIX: their ELCR bits are read-only 0. */
#define MASTER_ELCR_MASK 0xF8
#define SLAVE_ELCR_MASK 0xDE

struct chip {
    uint8_t irr, isr, imr;
    uint8_t lines;     /* input levels as last seen */
    uint8_t elcr, elcr_mask;
    uint8_t base;      /* ICW2: vector of IR0 */
    uint8_t icw3;
    uint8_t lowest;    /* the IR with the lowest priority (rotation) */
    uint8_t init_step; /* 0, or which ICW the data port expects next */
    bool icw4_needed, single, aeoi, rotate_on_aeoi, sfnm;
    bool special_mask, read_isr, poll;
};

struct pic {
    struct chip chip[2]; /* master, slave */
    void (*sync)(void *ctx);
    void (*changed)(void *ctx, bool rose);
    void *ctx;
    int output; /* the vector INTR stood for at the last update, or -1 */
};

/* ---- priorities ----------------------------------------------------- */

/* The highest-priority IR among `bits`: IR lowest+1 is served first and
 * priorities descend from there around the ring (data sheet, "rotating
 * priority"). -1 if none. */
static int highest(const struct chip *c, uint8_t bits)
{
    for (unsigned k = 1; k <= 8; k++) {
        unsigned ir = (c->lowest + k) & 7;
        if (bits & (1u << ir))
            return (int)ir;
    }
    return -1;
}

static unsigned rank(const struct chip *c, int ir)
{
    return ((unsigned)ir - c->lowest - 1) & 7; /* 0 is the highest */
}

/* The IR this chip asserts INT for, or -1: the highest unmasked request
 * of a priority above every in-service level. In special mask mode the
 * masked in-service levels do not count; with special fully nested mode
 * the master lets the cascade input interrupt its own service. */
static int chip_output(const struct chip *c, bool master)
{
    int ir = highest(c, c->irr & ~c->imr);
    if (ir < 0)
        return -1;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= (uint8_t)~c->imr;
    if (master && c->sfnm)
        in_service &= (uint8_t)~c->icw3;
    int busy = highest(c, in_service);
    return busy < 0 || rank(c, ir) < rank(c, busy) ? ir : -1;
}

/* ---- inputs --------------------------------------------------------- */

static void set_line(struct chip *c, unsigned ir, bool level)
{
    uint8_t bit = (uint8_t)(1u << ir);
    bool was = c->lines & bit;
    c->lines = level ? c->lines | bit : c->lines & (uint8_t)~bit;
    if (c->elcr & bit)
        c->irr = level ? c->irr | bit : c->irr & (uint8_t)~bit;
    else if (level && !was)
        c->irr |= bit;
}

static bool cascaded(const struct pic *p)
{
    const struct chip *m = &p->chip[0];
    return !m->single && (m->icw3 & (1u << CASCADE_IR));
}

static int resolve(struct pic *p, bool ack);

/* The slave's INT drives the master's IR2; the CPU is told when INTR
 * (or the vector it stands for) changed. */
static void update(struct pic *p)
{
    set_line(&p->chip[0], CASCADE_IR, chip_output(&p->chip[1], false) >= 0);
    int output = resolve(p, false);
    if (output != p->output && output >= 0 && p->changed)
        p->changed(p->ctx, p->output < 0);
    p->output = output;
}

/* A line already at `level` changes nothing, so nothing is done: an
 * edge input requests only when it rises, a level-triggered one's IRR
 * bit already equals its line (set_line, icw1 and the ELCR write keep
 * it so), and every other change of the chips' state ran update() when
 * it was made. The platform sets the timers' lines at every sync, most
 * often to the level they had (dev/platform.c). */
void pic_set_irq(struct pic *p, unsigned irq, bool level)
{
    if (irq >= 16 || irq == CASCADE_IR)
        return;
    struct chip *c = &p->chip[irq >> 3];
    if (!(c->lines & (1u << (irq & 7))) == !level)
        return;
    set_line(c, irq & 7, level);
    update(p);
}

/* ---- acknowledge ---------------------------------------------------- */

/* One chip's part of INTA (or a poll read): the request goes from IRR to
 * ISR, or nowhere in automatic-EOI mode. A level-triggered request stays
 * in IRR while its line is high. */
static void chip_ack(struct chip *c, int ir)
{
    uint8_t bit = (uint8_t)(1u << ir);
    if (!(c->elcr & bit))
        c->irr &= (uint8_t)~bit;
    if (!c->aeoi)
        c->isr |= bit;
    else if (c->rotate_on_aeoi)
        c->lowest = (uint8_t)ir;
}

/* The vector of the pending interrupt; with `ack`, the INTA cycle too.
 * A request that went away before INTA gives IR7 of the chip that was
 * asked, which sets no ISR bit (the spurious interrupt). */
static int resolve(struct pic *p, bool ack)
{
    struct chip *m = &p->chip[0], *s = &p->chip[1];
    int ir = chip_output(m, true);
    if (ir < 0)
        return ack ? m->base + 7 : -1;
    if (ir != CASCADE_IR || !cascaded(p)) {
        if (ack)
            chip_ack(m, ir);
        return m->base + ir;
    }
    int sir = chip_output(s, false);
    if (ack) {
        chip_ack(m, ir);
        if (sir >= 0)
            chip_ack(s, sir);
    }
    return s->base + (sir >= 0 ? sir : 7);
}

int pic_pending_vector(struct pic *p)
{
    return resolve(p, false);
}

int pic_acknowledge(struct pic *p)
{
    int v = resolve(p, true);
    update(p);
    return v;
}

/* ---- registers ------------------------------------------------------ */

/* ICW1 (data sheet, "Initialization command words"): IMR and ISR are
 * cleared, IR7 gets the lowest priority, special mask mode and status
 * reads go back to their defaults, and edge-triggered requests are
 * forgotten: an edge input must rise again to request. */
static void icw1(struct chip *c, uint8_t v)
{
    c->icw4_needed = v & 0x01;
    c->single = v & 0x02;
    c->init_step = 2;
    c->imr = 0;
    c->isr = 0;
    c->irr &= c->elcr;
    c->lowest = 7;
    c->special_mask = c->read_isr = c->poll = false;
    /* Without ICW4 all its functions are zero (data sheet, ICW1 IC4). */
    c->aeoi = c->rotate_on_aeoi = c->sfnm = false;
}

static void icw_next(struct chip *c, uint8_t v)
{
    switch (c->init_step) {
    case 2: /* ICW2: T7-T3 of the vector */
        c->base = v & 0xF8;
        c->init_step = !c->single ? 3 : c->icw4_needed ? 4 : 0;
        break;
    case 3: /* ICW3: slave inputs (master) or slave ID (slave) */
        c->icw3 = v;
        c->init_step = c->icw4_needed ? 4 : 0;
        break;
    case 4: /* ICW4 */
        c->aeoi = v & 0x02;
        c->sfnm = v & 0x10;
        c->init_step = 0;
        break;
    }
}

/* OCW2: R (bit 7), SL (bit 6) and EOI (bit 5) select the command;
 * L2-L0 name the level for the specific ones. */
static void ocw2(struct chip *c, uint8_t v)
{
    unsigned level = v & 7;
    int ir;
    switch (v >> 5) {
    case 0: /* rotate in automatic EOI mode: clear */
        c->rotate_on_aeoi = false;
        break;
    case 4: /* rotate in automatic EOI mode: set */
        c->rotate_on_aeoi = true;
        break;
    case 1: /* non-specific EOI */
    case 5: /* rotate on non-specific EOI */
        ir = highest(c, c->isr);
        if (ir >= 0) {
            c->isr &= (uint8_t)~(1u << ir);
            if (v & 0x80)
                c->lowest = (uint8_t)ir;
        }
        break;
    case 3: /* specific EOI */
        c->isr &= (uint8_t)~(1u << level);
        break;
    case 7: /* rotate on specific EOI */
        c->isr &= (uint8_t)~(1u << level);
        c->lowest = (uint8_t)level;
        break;
    case 6: /* set priority: `level` becomes the lowest */
        c->lowest = (uint8_t)level;
        break;
    default: /* 2: no operation */
        break;
    }
}

/* OCW3: ESMM/SMM (bits 6-5), poll (bit 2), RR/RIS (bits 1-0). */
static void ocw3(struct chip *c, uint8_t v)
{
    if (v & 0x40)
        c->special_mask = v & 0x20;
    if (v & 0x04)
        c->poll = true;
    if (v & 0x02)
        c->read_isr = v & 0x01;
}

/* A poll read: INTA for this chip alone; bit 7 says whether anything
 * was requested, bits 2-0 which level. */
static uint8_t poll_read(struct pic *p, struct chip *c)
{
    c->poll = false;
    int ir = chip_output(c, c == &p->chip[0]);
    if (ir < 0)
        return 0;
    chip_ack(c, ir);
    update(p);
    return (uint8_t)(0x80 | ir);
}

static uint64_t pic_read(void *dev, uint64_t offset, unsigned size,
                         struct chip *c)
{
    struct pic *p = dev;
    (void)size;
    if (p->sync)
        p->sync(p->ctx);
    if (c->poll)
        return poll_read(p, c);
    if (offset == 1)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

static void pic_write(void *dev, uint64_t offset, uint64_t value,
                      struct chip *c)
{
    struct pic *p = dev;
    uint8_t v = (uint8_t)value;
    if (p->sync)
        p->sync(p->ctx);
    if (offset == 0) {
        if (v & 0x10)
            icw1(c, v);
        else if (v & 0x08)
            ocw3(c, v);
        else
            ocw2(c, v);
    } else if (c->init_step) {
        icw_next(c, v);
    } else {
        c->imr = v; /* OCW1 */
    }
    update(p);
}

static uint64_t master_read(void *dev, uint64_t offset, unsigned size)
{
    return pic_read(dev, offset, size, &((struct pic *)dev)->chip[0]);
}

static uint64_t slave_read(void *dev, uint64_t offset, unsigned size)
{
    return pic_read(dev, offset, size, &((struct pic *)dev)->chip[1]);
}

static void master_write(void *dev, uint64_t offset, unsigned size,
                         uint64_t value)
{
    (void)size;
    pic_write(dev, offset, value, &((struct pic *)dev)->chip[0]);
}

static void slave_write(void *dev, uint64_t offset, unsigned size,
                        uint64_t value)
{
    (void)size;
    pic_write(dev, offset, value, &((struct pic *)dev)->chip[1]);
}

/* ELCR: one byte per chip; a wider access covers both. */
static uint64_t elcr_read(void *dev, uint64_t offset, unsigned size)
{
    struct pic *p = dev;
    uint64_t v = 0;
    for (unsigned i = 0; i < size && offset + i < 2; i++)
        v |= (uint64_t)p->chip[offset + i].elcr << (8 * i);
    return v;
}

static void elcr_write(void *dev, uint64_t offset, unsigned size,
                       uint64_t value)
{
    struct pic *p = dev;
    for (unsigned i = 0; i < size && offset + i < 2; i++) {
        struct chip *c = &p->chip[offset + i];
        c->elcr = (uint8_t)(value >> (8 * i)) & c->elcr_mask;
        /* A level input requests exactly while its line is high. */
        c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->lines & c->elcr));
    }
    update(p);
}

struct pic *pic_create(struct bus *ports, void (*sync)(void *ctx),
                       void (*changed)(void *ctx, bool rose), void *ctx)
{
    struct pic *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->sync = sync;
    p->changed = changed;
    p->ctx = ctx;
    p->output = -1;
    for (int i = 0; i < 2; i++) {
        p->chip[i].imr = 0xFF;
        p->chip[i].lowest = 7;
    }
    p->chip[0].elcr_mask = MASTER_ELCR_MASK;
    p->chip[1].elcr_mask = SLAVE_ELCR_MASK;
    if (bus_register(ports, MASTER_PORT, 2, p, master_read, master_write,
                     "pic-master") != 0 ||
        bus_register(ports, SLAVE_PORT, 2, p, slave_read, slave_write,
                     "pic-slave") != 0 ||
        bus_register(ports, ELCR_PORT, 2, p, elcr_read, elcr_write,
                     "elcr") != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void pic_destroy(struct pic *p)
{
    free(p);
}
