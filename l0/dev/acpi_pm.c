/* The ACPI fixed-hardware registers (see acpi_pm.h; register layouts
 * from ACPI 6.5, 4.8.3.1 and 4.8.3.2).
 *
 * PM1 status bits are write-1-to-clear. TMR_STS is set whenever bit 23
 * of the timer changes (every 2^23 counts, 2.34 s); it is computed from
 * the cycle count, like the timer itself.
 *
 * Simplifications: the SCI is never asserted (no enabled fixed event
 * raises it, and TMR_EN is storage only); SCI_EN reads 1 always, since
 * there is no SMI command port to switch modes; sleep types other than
 * S5 are not implemented, and writing SLP_EN with one of them does
 * nothing (the DSDT declares only \_S5). */
#include "dev/acpi_pm.h"

#include <stdbool.h>
#include <stdlib.h>

#include "dev/acpi.h"
#include "machine.h"

enum {
    OFF_STS = 0, OFF_EN = 2, OFF_CNT = 4, OFF_TMR = 8,
};

#define STS_TMR 0x0001u
#define STS_WRITABLE 0x8F31u /* the defined status bits (Table 4.16) */
#define EN_WRITABLE 0x0721u  /* TMR, GBL, PWRBTN, SLPBTN, RTC (Table 4.17) */
#define CNT_SCI_EN 0x0001u
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP_MASK 0x1C00u
#define CNT_SLP_EN 0x2000u
#define CNT_WRITABLE 0x1C06u /* BM_RLD, GBL_RLS, SLP_TYP */

struct acpi_pm {
    struct machine *m;
    uint64_t (*now)(void *ctx);
    void *ctx;
    uint16_t sts, en, cnt;
    uint64_t tmr_carries_seen; /* bit-23 changes already reported */
};

uint32_t acpi_pm_timer_at(uint64_t cycles)
{
    unsigned __int128 t = (unsigned __int128)cycles * ACPI_PM_TIMER_HZ;
    return (uint32_t)(t / MACHINE_TSC_HZ) & 0xFFFFFF;
}

/* How many times bit 23 has changed by cycle `cycles`. */
static uint64_t carries_at(uint64_t cycles)
{
    unsigned __int128 t = (unsigned __int128)cycles * ACPI_PM_TIMER_HZ;
    return (uint64_t)(t / MACHINE_TSC_HZ >> 23);
}

static uint16_t status(struct acpi_pm *p)
{
    uint64_t carries = carries_at(p->now(p->ctx));
    if (carries != p->tmr_carries_seen)
        p->sts |= STS_TMR;
    p->tmr_carries_seen = carries;
    return p->sts;
}

/* The 12 bytes of the block as little-endian registers; an access reads
 * or writes the bytes it covers. */
static uint8_t read_byte(struct acpi_pm *p, unsigned off)
{
    switch (off & ~1u) {
    case OFF_STS:
        return (uint8_t)(status(p) >> (8 * (off & 1)));
    case OFF_EN:
        return (uint8_t)(p->en >> (8 * (off & 1)));
    case OFF_CNT:
        return (uint8_t)((p->cnt | CNT_SCI_EN) >> (8 * (off & 1)));
    case OFF_TMR:
    case OFF_TMR + 2:
        return (uint8_t)(acpi_pm_timer_at(p->now(p->ctx)) >>
                         (8 * (off - OFF_TMR)));
    }
    return 0xFF; /* 6-7: nothing there */
}

static uint64_t pm_read(void *dev, uint64_t offset, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size && offset + i < ACPI_PM_LEN; i++)
        v |= (uint64_t)read_byte(dev, (unsigned)offset + i) << (8 * i);
    return v;
}

static void control_write(struct acpi_pm *p, uint16_t v)
{
    p->cnt = v & CNT_WRITABLE;
    unsigned type = (v & CNT_SLP_TYP_MASK) >> CNT_SLP_TYP_SHIFT;
    if ((v & CNT_SLP_EN) && type == ACPI_S5_SLP_TYP)
        machine_stop(p->m, STOP_SHUTDOWN, 0,
                     "the guest powered the machine off (ACPI S5)");
}

/* Byte-granular: each byte written lands in its register; status bits
 * written as 1 are cleared; the control register acts once per access. */
static void pm_write(void *dev, uint64_t offset, unsigned size,
                     uint64_t value)
{
    struct acpi_pm *p = dev;
    uint16_t clear = 0, en = p->en, cnt = p->cnt;
    bool cnt_written = false;
    for (unsigned i = 0; i < size && offset + i < ACPI_PM_LEN; i++) {
        unsigned off = (unsigned)offset + i, shift = 8 * (off & 1);
        uint16_t byte = (uint16_t)((value >> (8 * i)) & 0xFF) << shift;
        uint16_t keep = (uint16_t)~(0xFFu << shift);
        switch (off & ~1u) {
        case OFF_STS:
            clear |= byte;
            break;
        case OFF_EN:
            en = (uint16_t)((en & keep) | byte);
            break;
        case OFF_CNT:
            cnt = (uint16_t)((cnt & keep) | byte);
            cnt_written = true;
            break;
        }
    }
    if (clear) {
        status(p);
        p->sts &= (uint16_t)~(clear & STS_WRITABLE);
    }
    p->en = en & EN_WRITABLE;
    if (cnt_written)
        control_write(p, cnt);
}

struct acpi_pm *acpi_pm_create(struct machine *m, uint64_t (*now)(void *ctx),
                               void *ctx)
{
    struct acpi_pm *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->m = m;
    p->now = now;
    p->ctx = ctx;
    if (bus_register(&m->ports, ACPI_PM_BASE, ACPI_PM_LEN, p, pm_read,
                     pm_write, "acpi-pm") != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void acpi_pm_destroy(struct acpi_pm *p)
{
    free(p);
}
