/* strio: string I/O (SDM Vol. 2A "INS", Vol. 2B "OUTS", "REP"), on the
 * 16550 UART every backend has. One RESULT line, partly written by the
 * instructions under test:
 *
 *   out=     REP OUTSB of a string to the data port
 *   back=    REP OUTSB with DF = 1, from the string's last byte: reversed
 *   fs=      OUTSB FS:[RSI] (segment override of the source), FS base
 *            set through IA32_FS_BASE; then OUTSW and OUTSD to port 0x80
 *            (a word to the UART would reach two of its registers): RSI
 *            advances by 2 and 4
 *   in=      REP INSB of the line status register (ES:[RDI]), and the
 *            registers afterwards: RCX 0, RDI and RSI advanced by the
 *            count times the element size, the other one unchanged
 *
 * The FIFOs are on (guests/rt/uart.c) and the transmitter is drained
 * before each OUTS, so up to 16 bytes go out back to back (Bochs drops
 * bytes written while its FIFO is full). */
#include "cpu.h"
#include "rt.h"

enum {
    COM1_DATA = 0x3F8,
    COM1_LSR = 0x3FD,
    POST_PORT = 0x80,
    LSR_TEMT = 1 << 6, /* transmitter and FIFO empty */
    INS_COUNT = 8,
};

static void drain_uart(void)
{
    for (unsigned spins = 0; spins < 1000000; spins++)
        if (inb(COM1_LSR) & LSR_TEMT)
            return;
}

static const char word[] = "turtles";
static const char fs_target[] = "F";
static const char wide[] = "wdDWRD";

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "strio", 0, 0); /* it takes no arguments */
    rt_printf("RESULT strio out=");
    drain_uart();
    const void *src = word;
    uint64_t n = sizeof word - 1;
    __asm__ volatile("cld; rep outsb"
                     : "+S"(src), "+c"(n) : "d"(COM1_DATA) : "memory");
    int out_regs = src == word + sizeof word - 1 && n == 0;

    rt_printf(" back=");
    drain_uart();
    src = word + sizeof word - 2;
    n = sizeof word - 1;
    __asm__ volatile("std; rep outsb; cld"
                     : "+S"(src), "+c"(n) : "d"(COM1_DATA) : "memory");
    int back_regs = (uintptr_t)src == (uintptr_t)word - 1 && n == 0;

    /* FS base = fs_target - 0x1000: FS:[0x1000] is fs_target. */
    rt_printf(" fs=");
    drain_uart();
    wrmsr(MSR_FS_BASE, (uint64_t)(uintptr_t)fs_target - 0x1000);
    src = (const void *)0x1000;
    __asm__ volatile("fs outsb" : "+S"(src) : "d"(COM1_DATA) : "memory");
    wrmsr(MSR_FS_BASE, 0);
    src = wide;
    __asm__ volatile("outsw; outsl" : "+S"(src) : "d"(POST_PORT) : "memory");
    int fs_regs = src == wide + 6;

    uint8_t in[INS_COUNT + 1];
    in[INS_COUNT] = 0xA5; /* must stay */
    void *dst = in;
    n = INS_COUNT;
    src = word;
    drain_uart();
    __asm__ volatile("cld; rep insb"
                     : "+D"(dst), "+c"(n), "+S"(src) : "d"(COM1_LSR)
                     : "memory");
    rt_printf(" in=");
    for (unsigned k = 0; k < INS_COUNT; k++)
        rt_printf("%s%#x", k ? "," : "", in[k]);
    int in_regs = dst == in + INS_COUNT && n == 0 && src == word &&
                  in[INS_COUNT] == 0xA5;
    rt_printf(" regs=%d,%d,%d,%d\n", out_regs, back_regs, fs_regs, in_regs);
    return RT_EXIT_OK;
}
