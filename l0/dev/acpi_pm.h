/* The ACPI fixed hardware the FADT describes (acpi.h), at QEMU's PIIX4
 * ports: the PM1a event block (status, enable), the PM1a control block,
 * and the power-management timer, a 24-bit counter at 3.579545 MHz
 * derived from the modeled cycle count (ACPI 6.5, 4.8.3). Writing
 * SLP_EN with SLP_TYP = ACPI_S5_SLP_TYP powers the machine off: the run
 * stops with STOP_SHUTDOWN and exit status 0, what Linux's `poweroff`
 * gives (and what QEMU exits with). */
#ifndef L0_DEV_ACPI_PM_H
#define L0_DEV_ACPI_PM_H

#include <stdint.h>

struct machine;
struct acpi_pm;

#define ACPI_PM_TIMER_HZ 3579545u

/* Registers the ports on m->ports; `now(ctx)` is the modeled cycle
 * count. NULL on failure. */
struct acpi_pm *acpi_pm_create(struct machine *m, uint64_t (*now)(void *ctx),
                               void *ctx);
void acpi_pm_destroy(struct acpi_pm *p);

/* The PM timer's count at cycle `cycles` (24 bits). */
uint32_t acpi_pm_timer_at(uint64_t cycles);

#endif
