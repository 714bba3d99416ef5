/* The ACPI tables (see acpi.h). Each table is built field by field into
 * a byte buffer by offset, after the layouts of the ACPI specification
 * (6.5, chapter 5.2), then checksummed so that its bytes sum to 0.
 *
 * What they say about the machine:
 * - RSDP revision 2 (ACPI 2.0+) with both an RSDT and an XSDT.
 * - FADT revision 3 (244 bytes): SCI on IRQ 9, no SMI command port (the
 *   machine is always in ACPI mode, SCI_EN reads 1), PM1a event and
 *   control blocks and the 24-bit PM timer at ACPI_PM_BASE, no GPE
 *   blocks, no C2/C3, the RTC's century at CMOS 0x32, IA-PC boot flags
 *   "legacy devices" and "no VGA" but no 8042 (the keyboard controller
 *   is absent, i8042.h), power and sleep buttons absent from the fixed
 *   hardware, and a reset register (PIIX 0xCF9, value 0x06).
 * - MADT: the LAPIC at 0xFEE00000 (ID 0), PC-AT compatible 8259s, the
 *   IOAPIC (ID 0, at 0xFEC00000, GSI base 0), ISA overrides IRQ0 -> GSI 2
 *   (edge, high) and IRQ9 -> GSI 9 (level, high: the SCI), and LINT1 as
 *   the NMI input of every processor.
 * - DSDT: only \_S5 = Package {5, 5, 0, 0}: SLP_TYP 5 for S5.
 * - FACS: no waking vector, no global lock use. */
#include "dev/acpi.h"

#include <string.h>

#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "machine.h"

/* Where each table goes, from ACPI_TABLES_BASE. The FACS must be 64-byte
 * aligned (ACPI 5.2.10). */
enum {
    OFF_RSDP = 0x000,
    OFF_FACS = 0x040,
    OFF_RSDT = 0x080,
    OFF_XSDT = 0x0C0,
    OFF_FADT = 0x100,
    OFF_MADT = 0x200,
    OFF_DSDT = 0x280,
};

enum {
    HEADER_LEN = 36,
    RSDP_LEN = 36,
    FACS_LEN = 64,
    FADT_LEN = 244,
    GAS_SYSTEM_IO = 1,
};

static void put8(uint8_t *t, unsigned off, uint8_t v)
{
    t[off] = v;
}

static void put16(uint8_t *t, unsigned off, uint16_t v)
{
    t[off] = (uint8_t)v;
    t[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *t, unsigned off, uint32_t v)
{
    put16(t, off, (uint16_t)v);
    put16(t, off + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *t, unsigned off, uint64_t v)
{
    put32(t, off, (uint32_t)v);
    put32(t, off + 4, (uint32_t)(v >> 32));
}

static void put_bytes(uint8_t *t, unsigned off, const char *s, unsigned n)
{
    memcpy(t + off, s, n);
}

/* The value that makes `n` bytes at `t` sum to 0 mod 256 once stored in
 * their checksum byte (which must be 0 while summing). */
static uint8_t checksum(const uint8_t *t, unsigned n)
{
    uint8_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum = (uint8_t)(sum + t[i]);
    return (uint8_t)-sum;
}

/* The common header (ACPI 5.2.6); the checksum is set by finish(). */
static void header(uint8_t *t, const char *signature, uint32_t length,
                   uint8_t revision)
{
    put_bytes(t, 0, signature, 4);
    put32(t, 4, length);
    put8(t, 8, revision);
    put_bytes(t, 10, "TURTLS", 6);     /* OEM ID */
    put_bytes(t, 16, "TURTLES ", 8);   /* OEM table ID */
    put32(t, 24, 1);                   /* OEM revision */
    put_bytes(t, 28, "TRTL", 4);       /* creator ID */
    put32(t, 32, 1);                   /* creator revision */
}

static void finish(uint8_t *t)
{
    uint32_t length = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
    t[9] = 0;
    t[9] = checksum(t, length);
}

/* A Generic Address Structure (ACPI 5.2.3.2) in system I/O space. */
static void gas_io(uint8_t *t, unsigned off, uint8_t bit_width,
                   uint8_t access_size, uint64_t port)
{
    put8(t, off, GAS_SYSTEM_IO);
    put8(t, off + 1, bit_width);
    put8(t, off + 2, 0);
    put8(t, off + 3, access_size); /* 1 byte, 2 word, 3 dword */
    put64(t, off + 4, port);
}

static void build_rsdp(uint8_t *t)
{
    put_bytes(t, 0, "RSD PTR ", 8);
    put_bytes(t, 9, "TURTLS", 6);
    put8(t, 15, 2); /* revision: ACPI 2.0 and later */
    put32(t, 16, ACPI_TABLES_BASE + OFF_RSDT);
    put32(t, 20, RSDP_LEN);
    put64(t, 24, ACPI_TABLES_BASE + OFF_XSDT);
    put8(t, 8, checksum(t, 20));          /* the ACPI 1.0 part */
    put8(t, 32, checksum(t, RSDP_LEN));   /* all 36 bytes */
}

static void build_facs(uint8_t *t)
{
    put_bytes(t, 0, "FACS", 4);
    put32(t, 4, FACS_LEN);
    put8(t, 32, 1); /* version */
}

static void build_rsdt(uint8_t *t)
{
    header(t, "RSDT", HEADER_LEN + 2 * 4, 1);
    put32(t, HEADER_LEN, ACPI_TABLES_BASE + OFF_FADT);
    put32(t, HEADER_LEN + 4, ACPI_TABLES_BASE + OFF_MADT);
    finish(t);
}

static void build_xsdt(uint8_t *t)
{
    header(t, "XSDT", HEADER_LEN + 2 * 8, 1);
    put64(t, HEADER_LEN, ACPI_TABLES_BASE + OFF_FADT);
    put64(t, HEADER_LEN + 8, ACPI_TABLES_BASE + OFF_MADT);
    finish(t);
}

/* FADT flags (ACPI Table 5.10) and IA-PC boot architecture flags
 * (Table 5.11). */
#define FADT_WBINVD (1u << 0)
#define FADT_PWR_BUTTON (1u << 4)  /* no fixed-hardware power button */
#define FADT_SLP_BUTTON (1u << 5)  /* no fixed-hardware sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define BOOT_LEGACY_DEVICES (1u << 0)
#define BOOT_VGA_NOT_PRESENT (1u << 2)
#define RESET_PORT 0xCF9
#define RESET_VALUE 0x06
#define CMOS_CENTURY 0x32

static void build_fadt(uint8_t *t)
{
    header(t, "FACP", FADT_LEN, 3);
    put32(t, 36, ACPI_TABLES_BASE + OFF_FACS);
    put32(t, 40, ACPI_TABLES_BASE + OFF_DSDT);
    put16(t, 46, ACPI_SCI_IRQ);
    /* SMI_CMD (48) 0: no transition to ACPI mode is needed. */
    put32(t, 56, ACPI_PM1A_EVT);
    put32(t, 64, ACPI_PM1A_CNT);
    put32(t, 76, ACPI_PM_TMR);
    put8(t, 88, 4); /* PM1_EVT_LEN */
    put8(t, 89, 2); /* PM1_CNT_LEN */
    put8(t, 91, 4); /* PM_TMR_LEN */
    put16(t, 96, 101);  /* P_LVL2_LAT > 100: no C2 */
    put16(t, 98, 1001); /* P_LVL3_LAT > 1000: no C3 */
    put8(t, 108, CMOS_CENTURY);
    put16(t, 109, BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT);
    put32(t, 112, FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
                      FADT_RESET_REG_SUP);
    gas_io(t, 116, 8, 1, RESET_PORT);
    put8(t, 128, RESET_VALUE);
    put64(t, 132, ACPI_TABLES_BASE + OFF_FACS); /* X_FIRMWARE_CTRL */
    put64(t, 140, ACPI_TABLES_BASE + OFF_DSDT); /* X_DSDT */
    gas_io(t, 148, 32, 2, ACPI_PM1A_EVT);
    gas_io(t, 172, 16, 2, ACPI_PM1A_CNT);
    gas_io(t, 208, 32, 3, ACPI_PM_TMR);
    finish(t);
}

/* MADT (ACPI 5.2.12) and its interrupt controller structures. */
#define MADT_PCAT_COMPAT 1u
#define MPS_ACTIVE_HIGH 0x1u
#define MPS_LEVEL 0xCu
#define MPS_EDGE 0x4u

/* The start of an interrupt controller structure (ACPI 5.2.12): its type
 * and length are written, its fields follow at offsets 2 and up of the
 * pointer returned; *off moves past it. */
static uint8_t *madt_entry(uint8_t *t, unsigned *off, uint8_t type,
                           uint8_t length)
{
    uint8_t *e = t + *off;
    put8(e, 0, type);
    put8(e, 1, length);
    *off += length;
    return e;
}

static void madt_override(uint8_t *t, unsigned *off, uint8_t irq,
                          uint32_t gsi, uint16_t flags)
{
    uint8_t *e = madt_entry(t, off, 2, 10); /* interrupt source override */
    put8(e, 2, 0);                          /* bus: ISA */
    put8(e, 3, irq);
    put32(e, 4, gsi);
    put16(e, 8, flags);
}

static void build_madt(uint8_t *t)
{
    unsigned off = HEADER_LEN;
    put32(t, off, (uint32_t)LAPIC_DEFAULT_BASE);
    put32(t, off + 4, MADT_PCAT_COMPAT);
    off += 8;
    /* Processor local APIC: UID 0, APIC ID 0, enabled. */
    uint8_t *e = madt_entry(t, &off, 0, 8);
    put8(e, 2, 0);
    put8(e, 3, 0);
    put32(e, 4, 1);
    /* I/O APIC: ID 0, address, GSI base 0. */
    e = madt_entry(t, &off, 1, 12);
    put8(e, 2, 0);
    put32(e, 4, (uint32_t)IOAPIC_BASE);
    put32(e, 8, 0);
    madt_override(t, &off, 0, 2, MPS_ACTIVE_HIGH | MPS_EDGE);
    madt_override(t, &off, ACPI_SCI_IRQ, ACPI_SCI_IRQ,
                  MPS_ACTIVE_HIGH | MPS_LEVEL);
    /* Local APIC NMI: every processor (UID 0xFF), conforming, LINT1. */
    e = madt_entry(t, &off, 4, 6);
    put8(e, 2, 0xFF);
    put16(e, 3, 0);
    put8(e, 5, 1);
    header(t, "APIC", off, 1);
    finish(t);
}

/* DefinitionBlock with one statement, hand-assembled (ACPI 20.2):
 *   Name (_S5, Package (4) { 5, 5, 0, 0 })
 * NameOp "_S5_" PackageOp PkgLength(8) NumElements(4)
 * BytePrefix 5, BytePrefix 5, ZeroOp, ZeroOp. */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
    0x0A, ACPI_S5_SLP_TYP, 0x0A, ACPI_S5_SLP_TYP, 0x00, 0x00,
};

static void build_dsdt(uint8_t *t)
{
    /* Revision 2: AML integers are 64 bits wide. */
    header(t, "DSDT", HEADER_LEN + sizeof dsdt_aml, 2);
    memcpy(t + HEADER_LEN, dsdt_aml, sizeof dsdt_aml);
    finish(t);
}

int acpi_build_tables(struct machine *m)
{
    if (m->ram_size < ACPI_TABLES_BASE + ACPI_TABLES_SIZE)
        return -1;
    uint8_t *base = m->ram + ACPI_TABLES_BASE;
    memset(base, 0, ACPI_TABLES_SIZE);
    build_rsdp(base + OFF_RSDP);
    build_facs(base + OFF_FACS);
    build_rsdt(base + OFF_RSDT);
    build_xsdt(base + OFF_XSDT);
    build_fadt(base + OFF_FADT);
    build_madt(base + OFF_MADT);
    build_dsdt(base + OFF_DSDT);
    return 0;
}
