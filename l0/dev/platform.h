/* The PC platform around the CPU: the devices a PC chipset has (8259
 * PICs, 8254 PIT, IOAPIC, RTC, ...) and how their interrupt lines are
 * wired: ISA IRQ n goes to the PIC's input n and to IOAPIC pin n, except
 * IRQ0, which goes to pin 2 (the MADT's interrupt source override, as on
 * QEMU's pc machine). The PIC's INTR is the LAPIC's LINT0. */
#ifndef L0_DEV_PLATFORM_H
#define L0_DEV_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct platform;

/* Creates the platform devices on m's buses and connects them to
 * m->lapic (which must exist). NULL on failure. */
struct platform *platform_create(struct machine *m);
void platform_destroy(struct platform *p);

/* An ISA IRQ line (0-15) changes level. */
void platform_set_irq(struct platform *p, unsigned irq, bool level);

/* The modeled cycle count now. */
uint64_t platform_now(const struct platform *p);

#endif
