/* What one `turtles run` leaves in the results database (--db): the run
 * record built from the options and the machine, the exit statistics,
 * the guest's RESULT/METRIC lines and the emulator's counters. */
#ifndef L0_RESULTS_H
#define L0_RESULTS_H

#include <stdint.h>
#include <time.h>

#include "record/db.h"

struct machine;

struct run_facts {
    const char *mode, *image, *cmdline;
    const char *cost_profile; /* the profile's name */
    const char *cost_arg;     /* --cost-profile as given (NAME or FILE) */
    const char *cost_text;    /* the profile's JSON */
    uint64_t mem_mib, max_insns;
    struct timespec started, finished;
    uint64_t host_ns;
    int exit_code;
    const char *label;   /* --label, or NULL */
    const char *l1_args; /* nested: L1's command line, else NULL */
    int shadowing, merge_dirty; /* nested: L0's options */
    const char *engine;  /* --engine: "step", "block" or "jit" */
    /* nested: --l1 ("kvm" or the multiboot L1's path); with "kvm", the
     * kernel and initramfs that L1 booted. NULL otherwise. */
    const char *l1, *l1_kernel, *l1_initrd;
    const char *l0_traps;        /* --l0-traps kvm, else NULL */
    int64_t l0_exception_bitmap; /* --l0-exception-bitmap, else -1 */
};

/* Writes one run. Returns 0, or -1 with a message on stderr; `turtles
 * run` then exits with the database-failure status (docs/emulator.md),
 * whatever the guest's own status was. */
int results_write(struct db *db, const struct run_facts *f,
                  struct machine *m, struct exit_stats *stats,
                  const struct guest_metrics *metrics,
                  const struct exit_trace *trace);

/* The git revision turtles was built from (runs.git_revision), or NULL. */
const char *results_revision(void);

#endif
