/* ACPI tables in guest memory (ACPI 6.x specification, chapter 5) and
 * the fixed-hardware registers they describe.
 *
 * The tables sit in the BIOS area at ACPI_TABLES_BASE, where a guest
 * finds the RSDP by scanning 0xE0000-0xFFFFF on 16-byte boundaries
 * (ACPI 5.2.5.1); a loader passes ACPI_RSDP_ADDR to Linux in
 * boot_params.acpi_rsdp_addr. The RSDP points to an RSDT and an XSDT,
 * both listing the FADT and the MADT; the FADT points to the FACS and
 * the DSDT. There is no HPET table (there is no HPET). */
#ifndef L0_DEV_ACPI_H
#define L0_DEV_ACPI_H

#include <stdint.h>

struct machine;

#define ACPI_TABLES_BASE 0xE0000u
#define ACPI_RSDP_ADDR ACPI_TABLES_BASE
#define ACPI_TABLES_SIZE 0x400u

/* The fixed hardware (acpi_pm.c) at QEMU's PIIX4 addresses. */
#define ACPI_PM_BASE 0x600u
#define ACPI_PM1A_EVT (ACPI_PM_BASE + 0) /* status, enable: 2 + 2 bytes */
#define ACPI_PM1A_CNT (ACPI_PM_BASE + 4) /* 2 bytes */
#define ACPI_PM_TMR (ACPI_PM_BASE + 8)   /* 4 bytes, 24 bits used */
#define ACPI_PM_LEN 12u
#define ACPI_SCI_IRQ 9
/* SLP_TYP of S5 in PM1a_CNT, as the DSDT's \_S5 package says. */
#define ACPI_S5_SLP_TYP 5

/* Writes the tables into guest RAM at ACPI_TABLES_BASE. Returns 0, or -1
 * if RAM does not reach past the BIOS area. */
int acpi_build_tables(struct machine *m);

#endif
