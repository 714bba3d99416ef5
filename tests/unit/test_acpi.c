/* l0/dev/acpi.c and acpi_pm.c: the tables a guest finds in memory
 * (found and checked the way an OS does: scan for the RSDP, follow the
 * pointers, sum the bytes), and the fixed hardware they describe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "port_io.h"

#include "cpu/cpu.h"
#include "dev/acpi.h"
#include "dev/acpi_pm.h"
#include "machine.h"
#include "machine_rig.h"

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* ACPI 5.2.5.1: the RSDP is on a 16-byte boundary in 0xE0000-0xFFFFF. */
static const uint8_t *find_rsdp(const struct machine *m)
{
    for (uint32_t a = 0xE0000; a < 0x100000; a += 16)
        if (memcmp(m->ram + a, "RSD PTR ", 8) == 0 && sum(m->ram + a, 20) == 0)
            return m->ram + a;
    return NULL;
}

/* A table at `addr`: its signature is `sig` and its bytes sum to 0. */
static const uint8_t *table(const struct machine *m, uint64_t addr,
                            const char *sig)
{
    assert_true(addr + 36 <= m->ram_size);
    const uint8_t *t = m->ram + addr;
    assert_memory_equal(t, sig, 4);
    uint32_t len = le32(t + 4);
    assert_true(len >= 36 && addr + len <= m->ram_size);
    assert_int_equal(sum(t, len), 0);
    return t;
}

static void test_rsdp_found_by_scanning(void **state)
{
    struct machine *m = *state;
    const uint8_t *rsdp = find_rsdp(m);
    assert_non_null(rsdp);
    assert_ptr_equal(rsdp, m->ram + ACPI_RSDP_ADDR);
    assert_int_equal(rsdp[15], 2);          /* ACPI 2.0+ */
    assert_int_equal(le32(rsdp + 20), 36);  /* length */
    assert_int_equal(sum(rsdp, 36), 0);     /* extended checksum */
}

static void test_rsdt_and_xsdt_list_fadt_and_madt(void **state)
{
    struct machine *m = *state;
    const uint8_t *rsdp = find_rsdp(m);
    const uint8_t *rsdt = table(m, le32(rsdp + 16), "RSDT");
    const uint8_t *xsdt = table(m, le64(rsdp + 24), "XSDT");
    assert_int_equal(le32(rsdt + 4), 36 + 2 * 4);
    assert_int_equal(le32(xsdt + 4), 36 + 2 * 8);
    const char *sigs[2] = {"FACP", "APIC"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(le32(rsdt + 36 + 4 * i), le64(xsdt + 36 + 8 * i));
        table(m, le32(rsdt + 36 + 4 * i), sigs[i]);
    }
}

static const uint8_t *fadt(const struct machine *m)
{
    return m->ram + le32(m->ram + le32(find_rsdp(m) + 16) + 36);
}

static void test_fadt_describes_the_pm_hardware(void **state)
{
    struct machine *m = *state;
    const uint8_t *f = table(m, (uint64_t)(fadt(m) - m->ram), "FACP");
    assert_int_equal(le32(f + 4), 244);
    assert_int_equal(f[46] | f[47] << 8, 9);    /* SCI_INT */
    assert_int_equal(le32(f + 48), 0);          /* SMI_CMD: none */
    assert_int_equal(le32(f + 56), 0x600);      /* PM1a_EVT_BLK */
    assert_int_equal(le32(f + 64), 0x604);      /* PM1a_CNT_BLK */
    assert_int_equal(le32(f + 76), 0x608);      /* PM_TMR_BLK */
    assert_int_equal(f[88], 4);
    assert_int_equal(f[89], 2);
    assert_int_equal(f[91], 4);
    assert_int_equal(f[108], 0x32);             /* CENTURY */
    assert_int_equal(f[109] & 2, 0);            /* no 8042 */
    assert_int_equal(le32(f + 112) & (1u << 8), 0); /* 24-bit timer */
    /* X_PM_TMR_BLK: system I/O, 32 bits, at 0x608. */
    assert_int_equal(f[208], 1);
    assert_int_equal(f[209], 32);
    assert_int_equal(le64(f + 212), 0x608);
    table(m, le64(f + 140), "DSDT");
    assert_int_equal(le32(f + 40), le64(f + 140));
    const uint8_t *facs = m->ram + le32(f + 36);
    assert_memory_equal(facs, "FACS", 4);
    assert_int_equal(le32(f + 36) % 64, 0);
}

static void test_dsdt_has_the_s5_package(void **state)
{
    struct machine *m = *state;
    const uint8_t *d = m->ram + le32(fadt(m) + 40);
    /* Name (_S5, Package (4) { 5, 5, 0, 0 }) */
    static const uint8_t aml[] = {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
                                  0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};
    assert_int_equal(le32(d + 4), 36 + sizeof aml);
    assert_memory_equal(d + 36, aml, sizeof aml);
}

static void test_madt_entries(void **state)
{
    struct machine *m = *state;
    const uint8_t *rsdt = m->ram + le32(find_rsdp(m) + 16);
    const uint8_t *t = m->ram + le32(rsdt + 40);
    assert_int_equal(le32(t + 36), 0xFEE00000);
    assert_int_equal(le32(t + 40), 1); /* PCAT_COMPAT */
    int lapics = 0, ioapics = 0, irq0_to_2 = 0, nmis = 0;
    for (uint32_t off = 44; off < le32(t + 4); off += t[off + 1]) {
        const uint8_t *e = t + off;
        assert_true(e[1] >= 2);
        switch (e[0]) {
        case 0:
            lapics += e[3] == 0 && (le32(e + 4) & 1);
            break;
        case 1:
            ioapics += le32(e + 4) == 0xFEC00000 && le32(e + 8) == 0;
            break;
        case 2:
            irq0_to_2 += e[2] == 0 && e[3] == 0 && le32(e + 4) == 2;
            break;
        case 4:
            nmis += e[5] == 1;
            break;
        }
    }
    assert_int_equal(lapics, 1);
    assert_int_equal(ioapics, 1);
    assert_int_equal(irq0_to_2, 1);
    assert_int_equal(nmis, 1);
}

static void test_pm_timer_counts_at_3579545_hz(void **state)
{
    struct machine *m = *state;
    assert_int_equal(acpi_pm_timer_at(1000000000ull), 3579545 & 0xFFFFFF);
    assert_int_equal(acpi_pm_timer_at(279), 0);  /* 0.9987 counts */
    assert_int_equal(acpi_pm_timer_at(280), 1);
    m->cpu->cycles = 10000000000ull; /* 35,795,450 counts: wraps 24 bits */
    uint64_t v;
    assert_int_equal(bus_read(&m->ports, 0x608, 4, &v), 1);
    assert_int_equal(v, 35795450u & 0xFFFFFF);
    /* TMR_STS: bit 23 changed since the start. */
    assert_int_equal(port_in(&m->ports, 0x600) & 1, 1);
    port_out(&m->ports, 0x600, 1);
    assert_int_equal(port_in(&m->ports, 0x600) & 1, 0);
}

static void test_s5_powers_off(void **state)
{
    struct machine *m = *state;
    uint64_t v;
    assert_int_equal(bus_read(&m->ports, 0x604, 2, &v), 1);
    assert_int_equal(v & 1, 1); /* SCI_EN: ACPI mode */
    bus_write(&m->ports, 0x604, 2, 1u << 13 | 3u << 10); /* SLP_TYP 3 */
    assert_int_equal(m->stop, STOP_NONE);
    bus_write(&m->ports, 0x604, 2, 5u << 10); /* no SLP_EN */
    assert_int_equal(m->stop, STOP_NONE);
    bus_write(&m->ports, 0x604, 2, 1u << 13 | 5u << 10);
    assert_int_equal(m->stop, STOP_SHUTDOWN);
    assert_int_equal(m->exit_status, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, machine_setup, machine_teardown)
    const struct CMUnitTest tests[] = {
        T(test_rsdp_found_by_scanning),
        T(test_rsdt_and_xsdt_list_fadt_and_madt),
        T(test_fadt_describes_the_pm_hardware),
        T(test_dsdt_has_the_s5_package),
        T(test_madt_entries),
        T(test_pm_timer_counts_at_3579545_hz),
        T(test_s5_powers_off),
    };
    return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
