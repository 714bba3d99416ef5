/* l0/dev/exit_ports.c: isa-debug-exit (0xf4) and the Bochs port 0x8900. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/exit_ports.h"
#include "machine.h"

static int setup(void **state)
{
    static struct machine m;
    memset(&m, 0, sizeof m);
    m.ports.name = "port";
    *state = &m;
    return exit_ports_register(&m);
}

static int teardown(void **state)
{
    exit_ports_destroy(*state);
    return 0;
}

static void send(struct machine *m, const char *s)
{
    for (; *s; s++)
        bus_write(&m->ports, 0x8900, 1, (uint8_t)*s);
}

static void test_debug_exit_status_is_the_value(void **state)
{
    struct machine *m = *state;
    assert_int_equal(bus_write(&m->ports, 0xf4, 4, 0x12345678), 1);
    assert_int_equal(m->stop, STOP_DEBUG_EXIT);
    assert_int_equal(m->exit_status, 0x12345678);
    assert_non_null(strstr(m->stop_message, "305419896"));
}

static void test_debug_exit_spans_four_ports_any_size(void **state)
{
    struct machine *m = *state;
    assert_int_equal(bus_write(&m->ports, 0xf8, 1, 7), 0); /* not ours */
    assert_int_equal(bus_write(&m->ports, 0xf3, 1, 7), 0);
    assert_int_equal(m->stop, STOP_NONE);
    assert_int_equal(bus_write(&m->ports, 0xf7, 1, 3), 1);
    assert_int_equal(m->stop, STOP_DEBUG_EXIT);
    assert_int_equal(m->exit_status, 3);
    /* The first reason wins. */
    bus_write(&m->ports, 0xf4, 2, 9);
    send(m, "Shutdown");
    assert_int_equal(m->stop, STOP_DEBUG_EXIT);
    assert_int_equal(m->exit_status, 3);
}

static void test_shutdown_word_stops_only_when_complete(void **state)
{
    struct machine *m = *state;
    send(m, "Shutdow");
    assert_int_equal(m->stop, STOP_NONE);
    send(m, "n");
    assert_int_equal(m->stop, STOP_SHUTDOWN);
    assert_int_equal(m->exit_status, 0);
}

static void test_wrong_byte_resets_the_match(void **state)
{
    struct machine *m = *state;
    static const char *const misses[] = {
        "Shutxdown", "shutdown", "Shutdow\nn", "ShutdowN",
    };
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
        send(m, misses[i]);
        assert_int_equal(m->stop, STOP_NONE);
    }
    /* A 16-bit write is one value, not two bytes. */
    bus_write(&m->ports, 0x8900, 2, 'S' | 'h' << 8);
    send(m, "utdown");
    assert_int_equal(m->stop, STOP_NONE);
    /* A wrong 'S' starts a new match. */
    send(m, "ShutShutdown");
    assert_int_equal(m->stop, STOP_SHUTDOWN);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_debug_exit_status_is_the_value),
        T(test_debug_exit_spans_four_ports_any_size),
        T(test_shutdown_word_stops_only_when_complete),
        T(test_wrong_byte_resets_the_match),
    };
    return cmocka_run_group_tests_name("exit_ports", tests, NULL, NULL);
}
