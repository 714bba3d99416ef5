/* The 8254 programmable interval timer (ports 0x40-0x43) and the PC's
 * port 0x61 (system control port B: channel 2's gate in bit 0, its
 * output in bit 5). Its input clock is 1,193,182 Hz, derived from the
 * modeled cycle count at MACHINE_TSC_HZ (machine.h), so the guest
 * measures the same TSC frequency with the PIT as the one the machine
 * declares. Channel 0's output is IRQ0; the platform asks for its rising
 * edges (l0/dev/platform.c). */
#ifndef L0_DEV_PIT_H
#define L0_DEV_PIT_H

#include <stdbool.h>
#include <stdint.h>

struct bus;
struct pit;

#define PIT_HZ 1193182u

/* Registers ports 0x40-0x43 and 0x61 on `ports`; `now(ctx)` is the
 * modeled cycle count. `sync(ctx)`, if not NULL, runs before every
 * register access (the platform catches up with channel 0's edges
 * before the guest reprograms it). NULL on failure. */
struct pit *pit_create(struct bus *ports, uint64_t (*now)(void *ctx),
                       void (*sync)(void *ctx), void *ctx);
void pit_destroy(struct pit *p);

/* The rising edges of channel 0's OUT since the previous call (or since
 * creation), up to cycle `now`; `*level` is OUT at `now`. */
unsigned pit_out0_edges(struct pit *p, uint64_t now, bool *level);

/* The first cycle after `now` at which channel 0's OUT rises, or
 * UINT64_MAX if it never will as programmed. */
uint64_t pit_next_out0_edge(const struct pit *p, uint64_t now);

/* Clock conversions: the PIT tick running at cycle `cycles`, and the
 * first cycle of PIT tick `tick`. */
uint64_t pit_tick_at(uint64_t cycles);
uint64_t pit_cycle_of(uint64_t tick);

#endif
