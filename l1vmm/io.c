/* L2's port I/O. Every IN and OUT exits (unconditional I/O exiting); the
 * devices L2's runtime uses register their port ranges in one table, and
 * any other port behaves as an empty ISA bus: reads give all ones, writes
 * are dropped. String I/O (INS/OUTS) is not emulated. L2 gets the local
 * APIC but no 8259: the 8259's ports are such empty ports, and the real
 * PICs stay masked as l1vmm's runtime left them (rt_mask_pic), so that
 * legacy IRQs such as the PIT's cannot reach L2 through LINT0. */
#include "cpu.h"
#include "l1vmm.h"

/* Exit qualification for I/O instructions, SDM Vol. 3C Table 28-5. */
#define IO_SIZE(q) ((unsigned)((q) & 7) + 1)
#define IO_IN(q) (((q) >> 3) & 1)
#define IO_STRING(q) (((q) >> 4) & 1)
#define IO_PORT(q) ((uint16_t)((q) >> 16))

/* L2's console: its UART output, forwarded line by line with a prefix
 * so that L2's lines can be told from l1vmm's own. */
static char line[2048]; /* longer lines are split */
static unsigned line_len;

void io_flush(void)
{
    if (!line_len)
        return;
    line[line_len] = '\0';
    rt_printf("[L2] %s\n", line);
    line_len = 0;
}

void io_console_putc(char c)
{
    if (c == '\r')
        return;
    if (c == '\n') {
        if (!line_len)
            rt_printf("[L2]\n");
        io_flush();
        return;
    }
    line[line_len++] = c;
    if (line_len == sizeof line - 1)
        io_flush();
}

/* A 16550 at 0x3F8 that is always ready to send: the transmitter
 * holding register empty (LSR bit 5) and the transmitter idle (bit 6). */
enum { UART_DATA = 0, UART_IIR = 2, UART_LCR = 3, UART_LSR = 5 };
#define UART_LCR_DLAB 0x80
static uint8_t uart_lcr;

static uint32_t uart_in(uint16_t reg)
{
    switch (reg) {
    case UART_LSR:
        return 0x60;
    case UART_IIR:
        return 0x01; /* no interrupt pending */
    case UART_LCR:
        return uart_lcr;
    default:
        return 0;
    }
}

static void uart_out(uint16_t reg, uint32_t v)
{
    if (reg == UART_LCR)
        uart_lcr = (uint8_t)v;
    else if (reg == UART_DATA && !(uart_lcr & UART_LCR_DLAB))
        io_console_putc((char)v); /* with DLAB set it is the divisor */
}

/* isa-debug-exit: the value written is L2's exit status (the runtime's
 * rt_exit writes it first, guests/rt/console.c). */
static void debug_exit_out(uint16_t reg, uint32_t v)
{
    (void)reg;
    l2_end((int)v, 0);
}

/* Bochs' shutdown port: "Shutdown" written byte by byte powers off. */
static void shutdown_out(uint16_t reg, uint32_t v)
{
    static const char word[] = "Shutdown";
    static unsigned matched;
    (void)reg;
    matched = (char)v == word[matched] ? matched + 1 : (char)v == word[0];
    if (matched == sizeof word - 1)
        l2_end(RT_EXIT_OK, "L2 powered off through port 0x8900");
}

static const struct port_range {
    uint16_t first, last;
    uint32_t (*in)(uint16_t reg);
    void (*out)(uint16_t reg, uint32_t v);
} ports[] = {
    {0x3F8, 0x3FF, uart_in, uart_out},
    {0xF4, 0xF7, 0, debug_exit_out},
    {0x8900, 0x8900, 0, shutdown_out},
};

/* Direct access (Linux as L2): ports l1vmm does not need for itself
 * (the exit and shutdown ports) are performed on the machine, so L2
 * drives the real PIC, PIT, RTC, UART, PCI and ACPI registers. */
static int direct;
void io_direct(int on) { direct = on; }

static void forward(uint16_t port, unsigned size, int in, uint64_t *rax)
{
    if (in) {
        uint64_t mask = size == 4 ? 0xFFFFFFFFull : size == 2 ? 0xFFFF : 0xFF;
        uint32_t v;
        if (size == 4)
            __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
        else if (size == 2)
            __asm__ volatile("inw %1, %w0" : "=a"(v) : "Nd"(port));
        else
            __asm__ volatile("inb %1, %b0" : "=a"(v) : "Nd"(port));
        *rax = size == 4 ? v : (*rax & ~mask) | (v & mask);
    } else if (size == 4) {
        outl(port, (uint32_t)*rax);
    } else if (size == 2) {
        outw(port, (uint16_t)*rax);
    } else {
        outb(port, (uint8_t)*rax);
    }
}

void io_exit(uint64_t q)
{
    if (IO_STRING(q)) {
        char why[80];
        rt_snprintf(why, sizeof why, "string I/O on port %#x is not emulated",
                    IO_PORT(q));
        l2_end(RT_EXIT_FAIL, why);
        return;
    }
    uint16_t port = IO_PORT(q);
    unsigned size = IO_SIZE(q);
    const struct port_range *dev = 0;
    for (unsigned i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (port >= ports[i].first && port <= ports[i].last)
            dev = &ports[i];

    uint64_t *rax = &l2.regs.gpr[GPR_RAX];
    if (direct && (!dev || dev->in == uart_in)) {
        forward(port, size, IO_IN(q), rax);
        skip_instruction();
        return;
    }
    if (IO_IN(q)) {
        uint32_t v = dev && dev->in ? dev->in(port - dev->first) : 0xFFFFFFFF;
        /* IN writes AL or AX, or EAX zero-extended into RAX. */
        if (size == 4)
            *rax = v;
        else {
            uint64_t mask = size == 2 ? 0xFFFF : 0xFF;
            *rax = (*rax & ~mask) | (v & mask);
        }
    } else if (dev && dev->out) {
        uint32_t mask = size == 4 ? 0xFFFFFFFF : size == 2 ? 0xFFFF : 0xFF;
        dev->out(port - dev->first, (uint32_t)*rax & mask);
    }
    skip_instruction();
}
