/* The local APIC, as far as a deterministic timer needs it: the timer
 * (LVT timer, initial/current count, divide configuration; one-shot and
 * periodic), TPR, EOI, spurious-interrupt vector register, IRR/ISR, ID and
 * version, self-IPIs (fixed, NMI), LINT0/1, the global enable of
 * IA32_APIC_BASE, at the default MMIO base 0xFEE00000 (SDM Vol. 3A
 * chapter 11).
 *
 * Time is the CPU's modeled cycle count: the timer counts down once every
 * `divide` cycles (the divide configuration register), so a run is a pure
 * function of its inputs. */
#ifndef L0_DEV_LAPIC_H
#define L0_DEV_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct lapic;

#define LAPIC_DEFAULT_BASE 0xFEE00000ull

/* Registers the LAPIC page on m->mmio. `now` reads the current modeled
 * cycle count (the CPU's), so MMIO reads of the current count are exact. */
struct lapic *lapic_create(struct machine *m, uint64_t (*now)(void *ctx),
                           void *ctx);
void lapic_destroy(struct lapic *l);

/* IA32_APIC_BASE.EN changed (SDM 11.4.3). Disabled, the MMIO page reads
 * as unbacked memory and the APIC requests nothing; both a disable and
 * a re-enable leave it in its power-up state (11.4.7.1). */
void lapic_set_global_enable(struct lapic *l, bool enabled);

/* The vector the CPU should take now (highest-priority requested vector
 * above the processor priority, SDM 11.8.3), or -1. Timer expiries up to
 * `now` are accounted first. */
int lapic_pending_vector(struct lapic *l, uint64_t now);

/* The same, for a caller that brought the platform to `now` itself
 * (lapic_sync_platform) with nothing run since: a second sync at the
 * same cycle finds no new timer edge and sets every line to the level it
 * has, which changes nothing, so it is left out. */
int lapic_synced_vector(struct lapic *l, uint64_t now);

/* An NMI waits for the CPU (a self-IPI in NMI delivery mode, or LINT0/1
 * with an NMI LVT entry); the CPU takes it with lapic_nmi_accept(). */
bool lapic_nmi_pending(const struct lapic *l);
void lapic_nmi_accept(struct lapic *l);

/* An edge on LINT0 (pin 0) or LINT1 (pin 1), delivered as its LVT entry
 * says (SDM 11.5.1): fixed or NMI; masked entries and other modes drop
 * it. The platform calls it for LINT0 when the 8259's INTR rises. */
void lapic_lint(struct lapic *l, unsigned pin);

/* Whether a platform device may still raise an NMI: LINT0, the 8259's
 * INTR, unmasked in NMI mode (for HLT with IF = 0, which an NMI wakes). */
bool lapic_lint_nmi_armed(const struct lapic *l);

/* Brings the platform's timers to `now` (their edges may reach LINT0 as
 * an NMI), before the CPU looks for an NMI. */
void lapic_sync_platform(struct lapic *l, uint64_t now);

/* The CPU delivers `vector`: it moves from IRR to ISR (SDM 11.8.4), or,
 * when lapic_pending_vector offered the PIC's vector, the PIC sees INTA. */
void lapic_accept(struct lapic *l, int vector);

/* The cycle at which the next timer interrupt will be requested, or
 * UINT64_MAX if none is armed (for HLT: time jumps there). */
uint64_t lapic_next_event(const struct lapic *l, uint64_t now);

/* The platform outside the CPU (l0/dev/platform.c): the 8259 PIC on
 * LINT0, and the timers whose IRQ lines reach the LAPIC through the PIC
 * or the IOAPIC. Nothing runs in the background there either, so the
 * LAPIC asks it to catch up before it answers the CPU. */
struct lapic_platform {
    void *ctx;
    /* Brings the platform's timers to `now`: their IRQ lines move, and
     * the IOAPIC calls lapic_deliver. */
    void (*sync)(void *ctx, uint64_t now);
    /* The first cycle after `now` at which an IRQ line may rise, or
     * UINT64_MAX. */
    uint64_t (*next_event)(void *ctx, uint64_t now);
    /* LINT0's input, the 8259's INTR output: the vector its INTA cycle
     * would return now, or -1 while INTR is low. */
    int (*extint_vector)(void *ctx);
    /* The INTA cycle of an ExtINT delivery (the PIC moves IRR to ISR). */
    void (*inta)(void *ctx);
    /* The EOI of a level-triggered vector, broadcast to the IOAPIC. */
    void (*eoi)(void *ctx, int vector);
};

/* Connects the platform (stored by pointer; it outlives the LAPIC). */
void lapic_connect_platform(struct lapic *l, const struct lapic_platform *p);

/* An interrupt message from the IOAPIC, fixed or lowest-priority delivery
 * to this (the only) CPU: `vector` is requested, and its TMR bit says
 * whether its EOI is broadcast (SDM Vol. 3A 11.8.4, 11.8.5). */
void lapic_deliver(struct lapic *l, int vector, int level);

#endif
