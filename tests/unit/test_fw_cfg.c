/* l0/dev/fw_cfg.c: QEMU's fw_cfg legacy ports as a guest reads them
 * (select with a 16-bit write to 0x510, read bytes from 0x511), and the
 * loader's interface for publishing items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "port_io.h"

#include "dev/fw_cfg.h"
#include "machine.h"
#include "machine_rig.h"

static void select_item(struct machine *m, uint16_t key)
{
    assert_int_equal(bus_write(&m->ports, 0x510, 2, key), 1);
}

static void read_item(struct machine *m, uint16_t key, uint8_t *out,
                      size_t n)
{
    select_item(m, key);
    for (size_t i = 0; i < n; i++)
        out[i] = port_in(&m->ports, 0x511);
}

static uint64_t read_le(struct machine *m, uint16_t key, unsigned n)
{
    uint8_t b[8];
    read_item(m, key, b, n);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void test_signature_id_ram_and_cpus(void **state)
{
    struct machine *m = *state;
    uint8_t sig[5];
    read_item(m, 0x00, sig, 5);
    assert_memory_equal(sig, "QEMU\0", 5); /* then zeros */
    assert_int_equal(read_le(m, 0x01, 4), 1); /* no DMA interface */
    assert_int_equal(read_le(m, 0x03, 8), 2u << 20);
    assert_int_equal(read_le(m, 0x05, 2), 1);
    assert_int_equal(read_le(m, 0x0f, 2), 1);
    assert_int_equal(read_le(m, 0x19, 4), 0); /* no files */
    /* Selecting again starts over. */
    assert_int_equal(read_le(m, 0x00, 4), 0x554D4551); /* "QEMU" */
}

static void test_unknown_items_read_zero(void **state)
{
    struct machine *m = *state;
    assert_int_equal(read_le(m, 0x08, 4), 0); /* no kernel yet */
    assert_int_equal(read_le(m, 0x1234, 8), 0);
    uint64_t v;
    assert_int_equal(bus_read(&m->ports, 0x510, 2, &v), 1);
    assert_int_equal(v, 0xFFFF); /* the selector is write-only */
}

static void test_loader_publishes_kernel_items(void **state)
{
    struct machine *m = *state;
    static const char cmdline[] = "console=ttyS0 quiet";
    assert_int_equal(fw_cfg_set_u32(m, FW_CFG_CMDLINE_SIZE, sizeof cmdline),
                     0);
    assert_int_equal(fw_cfg_set_blob(m, FW_CFG_CMDLINE_DATA, cmdline,
                                     sizeof cmdline), 0);
    assert_int_equal(fw_cfg_set_u32(m, FW_CFG_KERNEL_SIZE, 0x123456), 0);
    assert_int_equal(read_le(m, 0x14, 4), sizeof cmdline);
    char got[sizeof cmdline];
    read_item(m, 0x15, (uint8_t *)got, sizeof got);
    assert_string_equal(got, cmdline);
    assert_int_equal(read_le(m, 0x08, 4), 0x123456);
    /* Replacing an item replaces it whole. */
    assert_int_equal(fw_cfg_set_blob(m, FW_CFG_CMDLINE_DATA, "x", 2), 0);
    assert_int_equal(read_le(m, 0x15, 4), 'x');
    assert_int_equal(fw_cfg_set_blob(m, 0x4000, "x", 1), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, machine_setup, machine_teardown)
    const struct CMUnitTest tests[] = {
        T(test_signature_id_ram_and_cpus),
        T(test_unknown_items_read_zero),
        T(test_loader_publishes_kernel_items),
    };
    return cmocka_run_group_tests_name("fw_cfg", tests, NULL, NULL);
}
