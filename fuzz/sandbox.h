/* Runs fuzz cases in a forked child, so that a crash, a sanitizer abort
 * or a hang of the emulator ends only the child: the child sends each
 * run's result back through a pipe, the parent waits for each with a
 * limit of the child's CPU time (and a far larger one of wall-clock
 * time, sandbox.c) and kills the child when it is exceeded. One child
 * runs a batch of cases, one after the other, each on fresh machines:
 * forking an ASan process costs more than a case. */
#ifndef FUZZ_SANDBOX_H
#define FUZZ_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "run.h"

/* A replay's: bare and single twice, under the two other engines, the
 * block engine and the JIT also from the first entry, nested. */
enum { CASE_MAX_RUNS = 13 };

struct case_plan {
    enum run_mode modes[CASE_MAX_RUNS];
    int engines[CASE_MAX_RUNS]; /* enum cpu_engine of each run */
    /* --engine block and jit: blocks built at the first arrival and
     * compiled at the first entry (1), or at the emulator's defaults (0;
     * block_cache_build_after, block_cache_jit_after) */
    unsigned first_entry[CASE_MAX_RUNS];
    int runs;
    bool leak_check; /* LeakSanitizer after the batch (sanitizer builds) */
};

struct case_outcome {
    int done;                   /* runs that reported a result */
    struct run_result res[CASE_MAX_RUNS];
    bool hang;                  /* run `done` exceeded its time */
    bool died;                  /* the child ended abnormally in run `done` */
    int signal, exit_code;
    bool leak;                  /* of the batch, set on its last case */
    char err[4096];             /* the child's stderr (the end of it) */
};

/* CPU-time limits per run: far above what the instruction limit needs
 * (a few milliseconds bare, about a second for nested boots under ASan). */
struct sandbox_limits {
    double seconds[RUN_MODES];
};

struct sandbox_case {
    const struct case_plan *plan;
    const uint8_t *image;
    size_t size;
    struct case_outcome *out;
};

/* Runs the cases in order in one child; returns how many have an
 * outcome: all of them, or up to and including the one during which the
 * child died or hung (later ones did not run). */
int sandbox_run(const struct run_config *cfg, const struct sandbox_limits *lim,
                struct sandbox_case *cases, int n, const char *err_path);

#endif
