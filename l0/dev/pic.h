/* The two cascaded 8259A programmable interrupt controllers of a PC:
 * the master at ports 0x20/0x21, the slave at 0xA0/0xA1 on the master's
 * IR2, and the PIIX edge/level control registers (ELCR) at 0x4D0/0x4D1.
 * The master's INTR output goes to the LAPIC's LINT0 (l0/dev/platform.c).
 *
 * After power-up both chips are uninitialized: every input masked
 * (IMR 0xFF), vector bases 0, so no interrupt leaves them until the
 * guest programs them with ICW1-ICW4. */
#ifndef L0_DEV_PIC_H
#define L0_DEV_PIC_H

#include <stdbool.h>
#include <stdint.h>

struct bus;
struct pic;

/* Registers the ports on `ports`. Before every register access the PIC
 * calls `sync(ctx)` (if not NULL) so that timers raise their IRQ lines up
 * to the present first. `changed(ctx, rose)` is called whenever INTR may
 * have risen (the CPU should look again); `rose` says it was low before,
 * a rising edge for an input that is edge-triggered (a LAPIC LINT0 in
 * fixed or NMI mode). NULL on failure. */
struct pic *pic_create(struct bus *ports, void (*sync)(void *ctx),
                       void (*changed)(void *ctx, bool rose), void *ctx);
void pic_destroy(struct pic *p);

/* The level of ISA IRQ line `irq` (0-15; 2 is the cascade and is
 * ignored). Edge-triggered inputs (ELCR bit 0) latch a rising edge in
 * IRR; level-triggered ones request while high. */
void pic_set_irq(struct pic *p, unsigned irq, bool level);

/* INTR: the vector an INTA cycle would return now, or -1 while INTR is
 * low. */
int pic_pending_vector(struct pic *p);

/* The INTA cycle: returns the vector (a spurious IRQ7 or IRQ15 when
 * nothing is requested any more) and moves the request into ISR. */
int pic_acknowledge(struct pic *p);

#endif
