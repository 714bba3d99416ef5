/* A 16550A UART on COM1 (0x3f8-0x3ff), transmit side only (register map
 * from the National Semiconductor PC16550D data sheet, table II).
 *
 * Transmission is instantaneous: a byte written to THR is on `out` before
 * the OUT instruction retires, so LSR always shows THRE|TEMT and a
 * polling driver never waits. Nothing is ever received, except in
 * loopback mode (MCR bit 4), where a transmitted byte comes back in RBR
 * as the data sheet describes; drivers use that to probe for the chip.
 *
 * The interrupt output follows the data sheet: the transmitter-empty
 * interrupt (IER bit 1, cleared by an IIR read that reports it or a THR
 * write) and received data (IER bit 0, loopback only), gated onto the
 * board's IRQ line by MCR.OUT2 as on every PC; uart_connect_irq names
 * the line. Linux's 8250 driver sends user output on these interrupts. */
#include "dev/uart.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "machine.h"

enum {
    UART_COM1 = 0x3f8,
    UART_PORTS = 8,
};

/* Register offsets; with LCR.DLAB set, 0 and 1 are the divisor latch. */
enum {
    REG_DATA = 0, /* RBR (read), THR (write), DLL (DLAB) */
    REG_IER = 1,  /* DLM (DLAB) */
    REG_IIR = 2,  /* IIR (read), FCR (write) */
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define LCR_DLAB 0x80
#define IER_THRE 0x02 /* enable the transmitter-holding-empty interrupt */
#define IER_MASK 0x0f /* bits 4-7 are always 0 on a 16550 */
#define FCR_ENABLE 0x01
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NONE 0x01
#define IIR_THRE 0x02
#define IIR_FIFO 0xc0 /* both bits set when FCR enabled the FIFOs */
/* Outside loopback the modem lines read as a connected terminal: CTS,
 * DSR and DCD asserted, RI not, no deltas. */
#define MSR_CONNECTED 0xb0

struct uart {
    FILE *out;
    struct machine *m; /* for its serial tap */
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    uint8_t rbr;         /* the looped-back byte, valid while rx_full */
    bool rx_full;
    bool thre_pending;   /* the THRE interrupt (data sheet: cleared by an
                            IIR read that reports it or a THR write) */
    void (*irq)(void *ctx, bool level); /* the IRQ line, or NULL */
    void *irq_ctx;
};

#define IER_RDA 0x01  /* enable the received-data-available interrupt */
#define MCR_OUT2 0x08 /* on a PC, connects the interrupt output to IRQ4 */

/* Drives the IRQ line after every register access: an enabled interrupt
 * is pending and OUT2 lets it through. */
static void update_irq(struct uart *u)
{
    bool pending = ((u->ier & IER_THRE) && u->thre_pending) ||
                   ((u->ier & IER_RDA) && u->rx_full);
    if (u->irq)
        u->irq(u->irq_ctx, pending && (u->mcr & MCR_OUT2));
}

void uart_connect_irq(struct uart *u, void (*irq)(void *ctx, bool level),
                      void *ctx)
{
    u->irq = irq;
    u->irq_ctx = ctx;
    update_irq(u);
}

/* In loopback the modem-control outputs drive the modem-status inputs:
 * DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (data sheet, MCR bit 4). */
static uint8_t loopback_msr(uint8_t mcr)
{
    return (uint8_t)(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) |
                     ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4));
}

static uint64_t read_register(struct uart *u, uint64_t offset)
{
    bool dlab = u->lcr & LCR_DLAB;
    switch (offset) {
    case REG_DATA:
        if (dlab)
            return u->dll;
        if (!u->rx_full)
            return 0;
        u->rx_full = false;
        return u->rbr;
    case REG_IER:
        return dlab ? u->dlm : u->ier;
    case REG_IIR: {
        uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
        if ((u->ier & IER_THRE) && u->thre_pending) {
            u->thre_pending = false;
            return fifo | IIR_THRE;
        }
        return fifo | IIR_NONE;
    }
    case REG_LCR:
        return u->lcr;
    case REG_MCR:
        return u->mcr;
    case REG_LSR:
        return LSR_THRE | LSR_TEMT | (u->rx_full ? LSR_DR : 0);
    case REG_MSR:
        return (u->mcr & MCR_LOOP) ? loopback_msr(u->mcr) : MSR_CONNECTED;
    case REG_SCR:
        return u->scr;
    }
    return 0xff;
}

static uint64_t uart_read(void *dev, uint64_t offset, unsigned size)
{
    (void)size;
    uint64_t value = read_register(dev, offset);
    update_irq(dev); /* an IIR read may have cleared THRE */
    return value;
}

static void uart_write(void *dev, uint64_t offset, unsigned size,
                       uint64_t value)
{
    struct uart *u = dev;
    (void)size;
    uint8_t v = (uint8_t)value;
    bool dlab = u->lcr & LCR_DLAB;
    switch (offset) {
    case REG_DATA:
        if (dlab) {
            u->dll = v;
            break;
        }
        if (u->mcr & MCR_LOOP) {
            u->rbr = v;
            u->rx_full = true;
        } else {
            if (u->out)
                fputc(v, u->out);
            if (u->m->serial_tap)
                u->m->serial_tap(u->m->serial_tap_ctx, (uint8_t)v);
        }
        u->thre_pending = true; /* sent at once: THR is empty again */
        break;
    case REG_IER:
        if (dlab) {
            u->dlm = v;
            break;
        }
        /* Enabling ETBEI while THR is empty raises the interrupt. */
        if ((v & IER_THRE) && !(u->ier & IER_THRE))
            u->thre_pending = true;
        u->ier = v & IER_MASK;
        break;
    case REG_IIR:
        u->fcr = v;
        break;
    case REG_LCR:
        u->lcr = v;
        break;
    case REG_MCR:
        u->mcr = v & MCR_MASK;
        break;
    case REG_SCR:
        u->scr = v;
        break;
    default: /* LSR and MSR: writes are for factory testing; ignored */
        break;
    }
    update_irq(u);
}

struct uart *uart_create(struct machine *m, FILE *out)
{
    struct uart *u = calloc(1, sizeof *u);
    if (u == NULL)
        return NULL;
    u->out = out;
    u->m = m;
    if (bus_register(&m->ports, UART_COM1, UART_PORTS, u, uart_read,
                     uart_write, "uart") != 0) {
        free(u);
        return NULL;
    }
    return u;
}

void uart_destroy(struct uart *u)
{
    free(u);
}
