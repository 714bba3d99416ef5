/* l0/dev/i8042.c: an absent keyboard controller whose reset line works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "port_io.h"

#include "machine.h"
#include "machine_rig.h"

static void test_absent_controller_reads_all_ones(void **state)
{
    struct machine *m = *state;
    assert_int_equal(port_in(&m->ports, 0x64), 0xFF);
    assert_int_equal(port_in(&m->ports, 0x60), 0xFF);
    port_out(&m->ports, 0x64, 0xAA); /* self-test: nothing answers */
    assert_int_equal(port_in(&m->ports, 0x60), 0xFF);
    assert_int_equal(m->stop, STOP_NONE);
}

static void test_command_fe_resets_the_machine(void **state)
{
    struct machine *m = *state;
    port_out(&m->ports, 0x60, 0xFE); /* data, not a command */
    assert_int_equal(m->stop, STOP_NONE);
    port_out(&m->ports, 0x64, 0xFE);
    assert_int_equal(m->stop, STOP_RESET);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, machine_setup, machine_teardown)
    const struct CMUnitTest tests[] = {
        T(test_absent_controller_reads_all_ones),
        T(test_command_fe_resets_the_machine),
    };
    return cmocka_run_group_tests_name("i8042", tests, NULL, NULL);
}
