/* The I/O APIC at 0xFEC00000 (Intel 82093AA data sheet, with the EOI
 * register of the version-0x20 I/O APICs in Intel's ICH chipsets): 24
 * pins, each with a redirection table entry, delivering interrupt
 * messages to the LAPIC. ISA IRQ n is pin n, except IRQ0 (the PIT), which
 * is pin 2 (the MADT's interrupt source override). */
#ifndef L0_DEV_IOAPIC_H
#define L0_DEV_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct bus;
struct lapic;
struct ioapic;

#define IOAPIC_BASE 0xFEC00000ull
#define IOAPIC_PINS 24

/* Registers the register page on `mmio`; messages go to `lapic`.
 * `sync(ctx)` (if not NULL) runs before every register access, so that
 * pin levels are current. NULL on failure. */
struct ioapic *ioapic_create(struct bus *mmio, struct lapic *lapic,
                             void (*sync)(void *ctx), void *ctx);
void ioapic_destroy(struct ioapic *io);

/* The electrical level of input `pin` (high = true). */
void ioapic_set_pin(struct ioapic *io, unsigned pin, bool level);

/* The EOI of `vector` reached the I/O APIC (the LAPIC's broadcast for a
 * level-triggered interrupt, or a write of the EOI register): the
 * entries with that vector clear Remote IRR. */
void ioapic_eoi(struct ioapic *io, int vector);

#endif
