/* The I/O APIC (see ioapic.h). Registers are reached indirectly: the
 * guest writes a register index to IOREGSEL (offset 0x00) and reads or
 * writes it through IOWIN (0x10); version 0x20 adds the EOI register
 * (0x40). Register 0 is the ID, 1 the version (0x20, max entry 23), 2
 * the arbitration ID, and 0x10 + 2n / 0x11 + 2n the low and high dwords
 * of redirection entry n.
 *
 * Delivery (82093AA data sheet, "interrupt signals"): an input is
 * asserted when its level matches the entry's polarity. An edge-
 * triggered entry sends a message on each assertion while unmasked (an
 * edge while masked is lost). A level-triggered entry sends one while
 * asserted, unmasked and Remote IRR is clear, and then sets Remote IRR
 * until the EOI of its vector; still asserted after that, it sends again.
 *
 * Simplifications (one CPU): a physical destination reaches the CPU if
 * it is its APIC ID (0) or the broadcast 0xFF, a logical one if any
 * destination bit is set; fixed and lowest-priority delivery both request
 * the vector; NMI, SMI, INIT and ExtINT entries deliver nothing (the LAPIC
 * has no entry point for them here; the 8259 reaches the CPU through
 * LINT0 instead); delivery status always reads idle. */
#include "dev/ioapic.h"

#include <stdlib.h>

#include "dev/bus.h"
#include "dev/lapic.h"

enum {
    OFF_IOREGSEL = 0x00,
    OFF_IOWIN = 0x10,
    OFF_EOI = 0x40,
    REG_ID = 0x00,
    REG_VERSION = 0x01,
    REG_ARBITRATION = 0x02,
    REG_TABLE = 0x10,
};

#define VERSION (0x20u | (IOAPIC_PINS - 1u) << 16)
#define ENTRY_VECTOR 0xFFull
#define ENTRY_MODE(e) (((e) >> 8) & 7)
#define ENTRY_LOGICAL (1ull << 11)
#define ENTRY_ACTIVE_LOW (1ull << 13)
#define ENTRY_REMOTE_IRR (1ull << 14)
#define ENTRY_LEVEL (1ull << 15)
#define ENTRY_MASKED (1ull << 16)
#define ENTRY_DEST(e) ((unsigned)((e) >> 56))
/* Writable bits: vector, delivery mode, destination mode, polarity,
 * trigger mode, mask, destination. */
#define ENTRY_WRITABLE 0xFF0000000001AFFFull
#define MODE_FIXED 0
#define MODE_LOWEST 1

struct ioapic {
    struct lapic *lapic;
    void (*sync)(void *ctx);
    void *ctx;
    uint32_t regsel, id;
    uint64_t entry[IOAPIC_PINS];
    uint32_t levels; /* input levels, one bit per pin */
};

static bool asserted(const struct ioapic *io, unsigned pin)
{
    bool high = io->levels & (1u << pin);
    return (io->entry[pin] & ENTRY_ACTIVE_LOW) ? !high : high;
}

static bool reaches_cpu(uint64_t e)
{
    unsigned dest = ENTRY_DEST(e);
    return (e & ENTRY_LOGICAL) ? dest != 0 : dest == 0 || dest == 0xFF;
}

/* Sends entry `pin`'s message; a level-triggered one sets Remote IRR. */
static void deliver(struct ioapic *io, unsigned pin)
{
    uint64_t e = io->entry[pin];
    unsigned mode = ENTRY_MODE(e);
    if ((mode != MODE_FIXED && mode != MODE_LOWEST) || !reaches_cpu(e))
        return;
    bool level = e & ENTRY_LEVEL;
    if (level)
        io->entry[pin] |= ENTRY_REMOTE_IRR;
    lapic_deliver(io->lapic, (int)(e & ENTRY_VECTOR), level);
}

/* A level-triggered entry sends whenever it may. */
static void service_level(struct ioapic *io, unsigned pin)
{
    uint64_t e = io->entry[pin];
    if ((e & ENTRY_LEVEL) && !(e & (ENTRY_MASKED | ENTRY_REMOTE_IRR)) &&
        asserted(io, pin))
        deliver(io, pin);
}

void ioapic_set_pin(struct ioapic *io, unsigned pin, bool level)
{
    /* An unchanged level changes nothing: an edge entry sees no edge,
     * and a level entry was serviced when its level, entry or Remote IRR
     * last changed (here, write_register, ioapic_eoi); servicing it again
     * with none of them changed sends nothing. */
    if (pin >= IOAPIC_PINS || !(io->levels & (1u << pin)) == !level)
        return;
    bool was = asserted(io, pin);
    io->levels = level ? io->levels | (1u << pin) : io->levels & ~(1u << pin);
    uint64_t e = io->entry[pin];
    if (e & ENTRY_LEVEL)
        service_level(io, pin);
    else if (!was && asserted(io, pin) && !(e & ENTRY_MASKED))
        deliver(io, pin);
}

void ioapic_eoi(struct ioapic *io, int vector)
{
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->entry[pin];
        if ((e & ENTRY_VECTOR) == (uint64_t)vector && (e & ENTRY_REMOTE_IRR)) {
            io->entry[pin] &= ~ENTRY_REMOTE_IRR;
            service_level(io, pin);
        }
    }
}

static uint32_t read_register(const struct ioapic *io, uint32_t reg)
{
    switch (reg) {
    case REG_ID:
    case REG_ARBITRATION:
        return io->id;
    case REG_VERSION:
        return VERSION;
    }
    if (reg >= REG_TABLE && reg < REG_TABLE + 2 * IOAPIC_PINS) {
        uint64_t e = io->entry[(reg - REG_TABLE) / 2];
        return (uint32_t)(reg & 1 ? e >> 32 : e);
    }
    return 0;
}

static void write_register(struct ioapic *io, uint32_t reg, uint32_t v)
{
    if (reg == REG_ID) {
        io->id = v & 0x0F000000u;
        return;
    }
    if (reg < REG_TABLE || reg >= REG_TABLE + 2 * IOAPIC_PINS)
        return; /* version and arbitration ID are read-only */
    unsigned pin = (reg - REG_TABLE) / 2;
    uint64_t e = io->entry[pin];
    uint64_t new = reg & 1 ? (e & 0xFFFFFFFFull) | (uint64_t)v << 32
                           : (e & ~0xFFFFFFFFull) | v;
    io->entry[pin] = (new & ENTRY_WRITABLE) | (e & ENTRY_REMOTE_IRR);
    /* An edge entry never had Remote IRR meaning; keep it clear. */
    if (!(io->entry[pin] & ENTRY_LEVEL))
        io->entry[pin] &= ~ENTRY_REMOTE_IRR;
    service_level(io, pin); /* e.g. unmasking an asserted level input */
}

/* 32-bit accesses at the register offsets; others read 0 and are
 * ignored (the data sheet requires dword accesses). */
static uint64_t ioapic_read(void *dev, uint64_t offset, unsigned size)
{
    struct ioapic *io = dev;
    if (size != 4)
        return 0;
    if (io->sync)
        io->sync(io->ctx);
    if (offset == OFF_IOREGSEL)
        return io->regsel;
    if (offset == OFF_IOWIN)
        return read_register(io, io->regsel);
    return 0;
}

static void ioapic_write(void *dev, uint64_t offset, unsigned size,
                         uint64_t value)
{
    struct ioapic *io = dev;
    if (size != 4)
        return;
    if (io->sync)
        io->sync(io->ctx);
    if (offset == OFF_IOREGSEL)
        io->regsel = (uint32_t)value & 0xFF;
    else if (offset == OFF_IOWIN)
        write_register(io, io->regsel, (uint32_t)value);
    else if (offset == OFF_EOI)
        ioapic_eoi(io, (int)(value & 0xFF));
}

struct ioapic *ioapic_create(struct bus *mmio, struct lapic *lapic,
                             void (*sync)(void *ctx), void *ctx)
{
    struct ioapic *io = calloc(1, sizeof *io);
    if (io == NULL)
        return NULL;
    io->lapic = lapic;
    io->sync = sync;
    io->ctx = ctx;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
        io->entry[pin] = ENTRY_MASKED; /* reset: every entry masked */
    if (bus_register(mmio, IOAPIC_BASE, 0x1000, io, ioapic_read,
                     ioapic_write, "ioapic") != 0) {
        free(io);
        return NULL;
    }
    return io;
}

void ioapic_destroy(struct ioapic *io)
{
    free(io);
}
