/* The local APIC, as far as a deterministic timer needs it: the timer
 * (LVT timer, initial/current count, divide configuration; one-shot and
 * periodic), TPR, EOI, spurious-interrupt vector register, IRR/ISR, ID and
 * version, at the default MMIO base 0xFEE00000 (SDM Vol. 3A chapter 11).
 *
 * Time is the CPU's modeled cycle count: the timer counts down once every
 * `divide` cycles (the divide configuration register), so a run is a pure
 * function of its inputs. */
#ifndef L0_DEV_LAPIC_H
#define L0_DEV_LAPIC_H

#include <stdint.h>

struct machine;
struct lapic;

#define LAPIC_DEFAULT_BASE 0xFEE00000ull

/* Registers the LAPIC page on m->mmio. `now` reads the current modeled
 * cycle count (the CPU's), so MMIO reads of the current count are exact. */
struct lapic *lapic_create(struct machine *m, uint64_t (*now)(void *ctx),
                           void *ctx);
void lapic_destroy(struct lapic *l);

/* The vector the CPU should take now (highest-priority requested vector
 * above the processor priority, SDM 11.8.3), or -1. Timer expiries up to
 * `now` are accounted first. */
int lapic_pending_vector(struct lapic *l, uint64_t now);

/* The CPU delivers `vector`: it moves from IRR to ISR (SDM 11.8.4). */
void lapic_accept(struct lapic *l, int vector);

/* The cycle at which the next timer interrupt will be requested, or
 * UINT64_MAX if none is armed (for HLT: time jumps there). */
uint64_t lapic_next_event(const struct lapic *l, uint64_t now);

#endif
