/* The progress line of a long run: on stderr, redrawn in place, guest
 * MIPS (host speed), exits and modeled time. Only on a terminal, only
 * after a few seconds, off with `turtles run --quiet`; it reads the run's
 * counters and the host clock and changes nothing in the run, so output,
 * counts and cycles are the same with and without it. */
#ifndef L0_RECORD_PROGRESS_H
#define L0_RECORD_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "record/stats.h"

/* The line appears after this much host time (TURTLES_PROGRESS_DELAY_MS
 * overrides it, for tests) and is redrawn this often. */
enum { PROGRESS_DELAY_MS = 3000, PROGRESS_PERIOD_MS = 500 };

struct progress {
    FILE *out;
    uint64_t start_ns, next_ns; /* host time */
    const struct exit_stats *stats; /* the run's exits, NULL: none */
    uint64_t tsc_hz;            /* modeled cycles per modeled second */
    bool shown;                 /* a line is on the terminal */
    unsigned polls;             /* the clock is read every 256th poll */
};

/* Starts the clock. enabled: stderr is a terminal and --quiet was not
 * given; otherwise every later call does nothing. */
void progress_init(struct progress *p, bool enabled, FILE *out,
                   uint64_t tsc_hz);

/* Between instruction batches: redraws the line when it is time. */
void progress_poll(struct progress *p, uint64_t insns, uint64_t cycles);

/* At the end of the run: erases the line, so that later messages start
 * on a clean line. */
void progress_end(struct progress *p);

#endif
