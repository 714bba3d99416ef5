/* l0/dev/uart.c: the 16550 on COM1 as polling drivers see it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dev/uart.h"
#include "machine.h"

enum { COM1 = 0x3f8, THR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

struct rig {
    struct machine m;
    struct uart *u;
    FILE *out;
};

static int setup(void **state)
{
    static struct rig r;
    memset(&r, 0, sizeof r);
    r.m.ports.name = "port";
    r.out = tmpfile();
    r.u = uart_create(&r.m, r.out);
    *state = &r;
    return r.out && r.u ? 0 : -1;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    uart_destroy(r->u);
    fclose(r->out);
    return 0;
}

static uint8_t in(struct rig *r, unsigned reg)
{
    uint64_t v;
    assert_int_equal(bus_read(&r->m.ports, COM1 + reg, 1, &v), 1);
    return (uint8_t)v;
}

static void out(struct rig *r, unsigned reg, uint8_t v)
{
    assert_int_equal(bus_write(&r->m.ports, COM1 + reg, 1, v), 1);
}

/* Everything written to the FILE so far. */
static size_t written(struct rig *r, char *buf, size_t cap)
{
    fflush(r->out);
    rewind(r->out);
    size_t n = fread(buf, 1, cap, r->out);
    fseek(r->out, 0, SEEK_END);
    return n;
}

static void test_bytes_reach_the_file_raw(void **state)
{
    struct rig *r = *state;
    static const uint8_t msg[] = {'o', 'k', '\r', '\n', 0x00, 0xff};
    for (size_t i = 0; i < sizeof msg; i++)
        out(r, THR, msg[i]);
    char buf[16];
    assert_int_equal(written(r, buf, sizeof buf), sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);
}

static void test_line_status_always_ready_never_data(void **state)
{
    struct rig *r = *state;
    assert_int_equal(in(r, LSR), 0x60); /* THRE | TEMT, DR clear */
    out(r, THR, 'x');
    assert_int_equal(in(r, LSR), 0x60);
    assert_int_equal(in(r, THR), 0); /* nothing was received */
}

static void test_divisor_latch_does_not_transmit(void **state)
{
    struct rig *r = *state;
    out(r, IER, 0x05);
    out(r, LCR, 0x83); /* DLAB, 8 bits */
    out(r, THR, 0x01); /* DLL: 115200 baud */
    out(r, IER, 0x02); /* DLM */
    assert_int_equal(in(r, THR), 0x01);
    assert_int_equal(in(r, IER), 0x02);
    out(r, LCR, 0x03);
    assert_int_equal(in(r, LCR), 0x03);
    assert_int_equal(in(r, IER), 0x05); /* IER was kept apart from DLM */
    char buf[4];
    assert_int_equal(written(r, buf, sizeof buf), 0);
    out(r, THR, 'A');
    assert_int_equal(written(r, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'A');
}

static void test_scratch_and_register_widths(void **state)
{
    struct rig *r = *state;
    out(r, SCR, 0x5a);
    assert_int_equal(in(r, SCR), 0x5a);
    out(r, IER, 0xff);
    assert_int_equal(in(r, IER), 0x0f); /* bits 4-7 do not exist */
    out(r, MCR, 0xff);
    assert_int_equal(in(r, MCR), 0x1f);
    out(r, LSR, 0x00); /* ignored */
    assert_int_equal(in(r, LSR) & 0x60, 0x60);
}

static void test_interrupt_identification(void **state)
{
    struct rig *r = *state;
    assert_int_equal(in(r, IIR), 0x01); /* nothing pending, no FIFO */
    out(r, IIR, 0x07);                  /* FCR: FIFOs on, both reset */
    assert_int_equal(in(r, IIR), 0xc1);
    out(r, IER, 0x02);                  /* THR empty raises it at once */
    assert_int_equal(in(r, IIR), 0xc2);
    assert_int_equal(in(r, IIR), 0xc1); /* reading IIR cleared it */
    out(r, THR, 'z');
    assert_int_equal(in(r, IIR), 0xc2);
}

static void test_loopback_and_modem_status(void **state)
{
    struct rig *r = *state;
    assert_int_equal(in(r, MSR), 0xb0); /* CTS, DSR, DCD */
    out(r, MCR, 0x1f);                  /* loop, OUT2, OUT1, RTS, DTR */
    assert_int_equal(in(r, MSR), 0xf0);
    out(r, MCR, 0x11);                  /* loop, DTR only: DSR */
    assert_int_equal(in(r, MSR), 0x20);
    out(r, THR, 'L');
    assert_int_equal(in(r, LSR), 0x61); /* the byte came back */
    assert_int_equal(in(r, THR), 'L');
    assert_int_equal(in(r, LSR), 0x60);
    char buf[4];
    assert_int_equal(written(r, buf, sizeof buf), 0);
}

static void test_occupies_com1_only(void **state)
{
    struct rig *r = *state;
    assert_string_equal(bus_find(&r->m.ports, 0x3f8)->name, "uart");
    assert_non_null(bus_find(&r->m.ports, 0x3ff));
    assert_null(bus_find(&r->m.ports, 0x3f7));
    assert_null(bus_find(&r->m.ports, 0x400));
    /* A second UART on the same ports is refused. */
    assert_null(uart_create(&r->m, r->out));
}

/* The interrupt output on its line (PC16550D data sheet: IER, IIR; the
 * PC's MCR.OUT2 gate): every change is seen after the access that made it. */
static int line = -1;
static void record_line(void *ctx, bool level)
{
    (void)ctx;
    line = level;
}

static void test_interrupt_line(void **state)
{
    struct rig *r = *state;
    uart_connect_irq(r->u, record_line, NULL);
    assert_int_equal(line, 0);
    out(r, IER, 0x02);               /* THRE enabled: pending, but OUT2 off */
    assert_int_equal(line, 0);
    out(r, MCR, 0x08);               /* OUT2 connects it */
    assert_int_equal(line, 1);
    assert_int_equal(in(r, IIR) & 0x0f, 0x02); /* reported, so cleared */
    assert_int_equal(line, 0);
    out(r, THR, 'x');                /* THR empty again at once */
    assert_int_equal(line, 1);
    out(r, IER, 0x00);               /* disabled: the line drops */
    assert_int_equal(line, 0);
    /* Received data in loopback (IER bit 0), until RBR is read. */
    out(r, MCR, 0x18);
    out(r, IER, 0x01);
    out(r, THR, 'y');
    assert_int_equal(line, 1);
    assert_int_equal(in(r, THR), 'y');
    assert_int_equal(line, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_bytes_reach_the_file_raw),
        T(test_line_status_always_ready_never_data),
        T(test_divisor_latch_does_not_transmit),
        T(test_scratch_and_register_widths),
        T(test_interrupt_identification),
        T(test_loopback_and_modem_status),
        T(test_occupies_com1_only),
        T(test_interrupt_line),
    };
    return cmocka_run_group_tests_name("uart", tests, NULL, NULL);
}
