/* Polled 16550 UART on COM1. Bochs drops a byte written while the
 * transmitter holding register is full, so wait for LSR.THRE first. */
#include "cpu.h"
#include "rt.h"

enum {
    COM1 = 0x3F8,
    REG_DATA = 0, /* DLL when LCR.DLAB = 1 */
    REG_IER = 1,  /* DLM when LCR.DLAB = 1 */
    REG_FCR = 2,
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    LSR_THRE = 1 << 5,
    LCR_8N1 = 0x03,
    LCR_DLAB = 0x80,
};

void rt_uart_init(void)
{
    outb(COM1 + REG_IER, 0x00);      /* no interrupts */
    outb(COM1 + REG_LCR, LCR_DLAB);  /* divisor 1: 115200 baud */
    outb(COM1 + REG_DATA, 0x01);
    outb(COM1 + REG_IER, 0x00);
    outb(COM1 + REG_LCR, LCR_8N1);
    outb(COM1 + REG_FCR, 0x07);      /* enable and clear the FIFOs */
    outb(COM1 + REG_MCR, 0x03);      /* DTR, RTS */
}

void rt_uart_putc(char c)
{
    if (c == '\n')
        rt_uart_putc('\r');
    /* Bounded: a UART that never becomes ready must not hang the run. */
    for (unsigned spins = 0; spins < 1000000; spins++)
        if (inb(COM1 + REG_LSR) & LSR_THRE)
            break;
    outb(COM1 + REG_DATA, (uint8_t)c);
}
