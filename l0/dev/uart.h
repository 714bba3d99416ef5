/* A 16550 UART on COM1 (ports 0x3f8-0x3ff). Output only: the receive
 * side is always empty. The line status register reports the
 * transmitter empty, so polling drivers never wait; interrupt-driven
 * drivers get the transmitter-empty interrupt on the line given to
 * uart_connect_irq (IRQ4 on the PC platform). */
#ifndef L0_DEV_UART_H
#define L0_DEV_UART_H

#include <stdbool.h>
#include <stdio.h>

struct machine;
struct uart;

/* Registers the UART on m->ports; bytes the guest sends go to `out`
 * (unbuffered writes are the caller's choice). NULL on failure. */
struct uart *uart_create(struct machine *m, FILE *out);
void uart_destroy(struct uart *u);

/* The interrupt output's line: `irq(ctx, level)` is called with its new
 * level after every register access (and at once). */
void uart_connect_irq(struct uart *u, void (*irq)(void *ctx, bool level),
                      void *ctx);

#endif
