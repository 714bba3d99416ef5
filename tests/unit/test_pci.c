/* l0/dev/pci.c: configuration mechanism #1 (PCI Local Bus Specification
 * 3.0, 3.2.2.3.2) with the 440FX host bridge at 00:00.0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "machine.h"
#include "machine_rig.h"

static uint32_t address(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
    return 1u << 31 | bus << 16 | dev << 11 | fn << 8 | reg;
}

static uint64_t config_read(struct machine *m, uint32_t addr, unsigned size)
{
    uint64_t v;
    bus_write(&m->ports, 0xCF8, 4, addr & ~3u);
    assert_int_equal(bus_read(&m->ports, 0xCFC + (addr & 3), size, &v), 1);
    return v;
}

static void test_host_bridge_identity(void **state)
{
    struct machine *m = *state;
    assert_int_equal(config_read(m, address(0, 0, 0, 0), 4), 0x12378086);
    assert_int_equal(config_read(m, address(0, 0, 0, 8), 4), 0x06000002);
    assert_int_equal(config_read(m, address(0, 0, 0, 0x0E), 1), 0x00);
    assert_int_equal(config_read(m, address(0, 0, 0, 2), 2), 0x1237);
    assert_int_equal(config_read(m, address(0, 0, 0, 0x0B), 1), 0x06);
    /* The address register reads back as written (reserved bits 0). */
    uint64_t v;
    bus_write(&m->ports, 0xCF8, 4, 0x80000A47);
    bus_read(&m->ports, 0xCF8, 4, &v);
    assert_int_equal(v, 0x80000A44);
}

static void test_absent_functions_and_disabled_cycles(void **state)
{
    struct machine *m = *state;
    assert_int_equal(config_read(m, address(0, 1, 0, 0), 4), 0xFFFFFFFF);
    assert_int_equal(config_read(m, address(0, 0, 1, 0), 4), 0xFFFFFFFF);
    assert_int_equal(config_read(m, address(1, 0, 0, 0), 2), 0xFFFF);
    uint64_t v;
    bus_write(&m->ports, 0xCF8, 4, 0); /* enable bit clear */
    bus_read(&m->ports, 0xCFC, 4, &v);
    assert_int_equal(v, 0xFFFFFFFF);
}

static void test_header_is_read_only_device_area_writable(void **state)
{
    struct machine *m = *state;
    bus_write(&m->ports, 0xCF8, 4, address(0, 0, 0, 0));
    bus_write(&m->ports, 0xCFC, 4, 0);
    assert_int_equal(config_read(m, address(0, 0, 0, 0), 4), 0x12378086);
    bus_write(&m->ports, 0xCF8, 4, address(0, 0, 0, 0x58));
    bus_write(&m->ports, 0xCFD, 1, 0x33); /* byte 0x59 (PAM0) */
    assert_int_equal(config_read(m, address(0, 0, 0, 0x58), 4), 0x3300);
}

static void test_reset_control_register(void **state)
{
    struct machine *m = *state;
    bus_write(&m->ports, 0xCF9, 1, 0x02); /* SYS_RST alone: no reset */
    assert_int_equal(m->stop, STOP_NONE);
    bus_write(&m->ports, 0xCF9, 1, 0x06);
    assert_int_equal(m->stop, STOP_RESET);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, machine_setup, machine_teardown)
    const struct CMUnitTest tests[] = {
        T(test_host_bridge_identity),
        T(test_absent_functions_and_disabled_cycles),
        T(test_header_is_read_only_device_area_writable),
        T(test_reset_control_register),
    };
    return cmocka_run_group_tests_name("pci", tests, NULL, NULL);
}
