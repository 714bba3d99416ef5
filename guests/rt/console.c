/* printf to the serial console, panic, and the end of a run. */
#include "cpu.h"
#include "rt.h"

static void uart_sink(void *ctx, char c)
{
    (void)ctx;
    rt_uart_putc(c);
}

int rt_vprintf(const char *fmt, va_list ap)
{
    return rt_vformat(uart_sink, 0, fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

void rt_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_printf("PANIC: ");
    rt_vprintf(fmt, ap);
    rt_printf("\n");
    va_end(ap);
    rt_exit(RT_EXIT_FAIL);
}

void rt_exit(int status)
{
    enum { DEBUG_EXIT_PORT = 0xF4, BOCHS_SHUTDOWN_PORT = 0x8900 };
    cli();
    rt_printf("EXIT status=%d\n", status);
    outl(DEBUG_EXIT_PORT, (uint32_t)status);
    /* Still running: not QEMU's isa-debug-exit. Try Bochs. */
    for (const char *s = "Shutdown"; *s; s++)
        outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*s);
    for (;;)
        hlt();
}
