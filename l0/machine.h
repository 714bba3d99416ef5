/* The emulated machine: RAM, the two buses, the CPU, the devices, and the
 * reason a run ended. One machine per run; nothing global. */
#ifndef L0_MACHINE_H
#define L0_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dev/bus.h"

/* The machine's time base: one modeled cycle is one TSC tick, and the
 * TSC runs at this frequency. Every device clock (PIT, ACPI PM timer,
 * RTC) is derived from it; nothing else states a frequency. */
#define MACHINE_TSC_HZ 1000000000ull

/* Why the run ended. */
enum machine_stop {
    STOP_NONE = 0,
    STOP_DEBUG_EXIT,    /* the guest wrote to isa-debug-exit (0xf4) */
    STOP_SHUTDOWN,      /* "Shutdown" on the Bochs port 0x8900 */
    STOP_TRIPLE_FAULT,  /* SDM Vol. 3A 7.15, interrupt 8: shutdown */
    STOP_HALTED,        /* HLT with interrupts off and no event to wait for */
    STOP_INSN_LIMIT,    /* --max-insns reached */
    STOP_INTERNAL,      /* an emulator limit; the message says which */
    STOP_INTERRUPTED,   /* SIGINT or SIGTERM (stop_signal) */
    STOP_RESET,         /* the guest reset the machine (i8042 0xFE) */
    STOP_DEBUGGER,      /* gdb's kill request (gdb/stub.h) */
};

struct machine {
    uint8_t *ram;
    uint64_t ram_size;
    struct bus ports, mmio;
    struct cpu *cpu;
    struct lapic *lapic;
    struct uart *uart;

    /* Every byte the guest sends on the UART, for the results (RESULT
     * and METRIC lines); NULL when nobody listens. */
    void (*serial_tap)(void *ctx, uint8_t byte);
    void *serial_tap_ctx;

    enum machine_stop stop;
    uint32_t exit_status; /* the value written to isa-debug-exit */
    char stop_message[256];

    /* Set by a signal handler (the host's SIGINT, SIGTERM): the signal
     * that asks the run to stop, or 0. An int, as sig_atomic_t is on
     * Linux (main.c checks), so that this header need not pull in
     * <signal.h> and its raise() everywhere. */
    volatile int stop_signal;

    struct platform *platform; /* PIC, PIT, ... (l0/dev/platform.h) */

    /* The region of interest the guest marks (record/roi.h), or NULL
     * when nobody records it. */
    struct roi *roi;
    /* The progress line on stderr (record/progress.h), or NULL. */
    struct progress *progress;
};

/* A machine with `ram_mib` MiB of RAM, the UART writing to `serial`,
 * isa-debug-exit, the Bochs shutdown port and the local APIC. NULL (and
 * a message on stderr) if something could not be allocated. */
struct machine *machine_create(uint64_t ram_mib, FILE *serial);
void machine_destroy(struct machine *m);

/* Zeroes guest RAM [pa, pa + len), which the caller has checked lies in
 * RAM, touching only the partial pages at its ends. */
void machine_ram_zero(struct machine *m, uint64_t pa, uint64_t len);

/* Ends the run after the current instruction. The first reason wins. */
void machine_stop(struct machine *m, enum machine_stop reason,
                  uint32_t status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct exit_stats;
/* A region-of-interest mark (CPUID 0x4FFFFFFB with this ECX) of the
 * level that runs the image, at the CPU's present totals; st: the run's
 * exit statistics, NULL in --mode bare. Nothing when m->roi is NULL. */
void machine_roi_mark(struct machine *m, uint32_t ecx,
                      const struct exit_stats *st);
/* At the end of the run: ends a region the guest left open. */
void machine_roi_finish(struct machine *m, const struct exit_stats *st);

/* Redraws the progress line when it is time (m->progress set). */
void machine_progress(struct machine *m);

/* Between instructions: stops the run if a signal asked for it, and
 * keeps the progress line going (which changes nothing in the run). */
static inline bool machine_take_signal(struct machine *m)
{
    if (m->progress)
        machine_progress(m);
    if (!m->stop_signal)
        return false;
    machine_stop(m, STOP_INTERRUPTED, 0, "stopped by signal %d (%s)",
                 m->stop_signal, strsignal(m->stop_signal));
    return true;
}

#endif
