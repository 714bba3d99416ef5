/* The results database: SQLite, schema analysis/schema.sql (documented in
 * docs/results.md). The CPU side fills plain C structs (stats.h, trace.h,
 * metrics.h and struct run_record below); this writer turns them into the
 * rows of one run.
 *
 * Call db_open before the run starts, so that a bad path or a bad file
 * fails early with nothing run and nothing written; db_write_run once at
 * the end. Each run lands in one transaction: another process writing the
 * same file at the same time waits (WAL mode, a busy timeout), and a run
 * that fails to write leaves no row behind. */
#ifndef L0_RECORD_DB_H
#define L0_RECORD_DB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "machine.h"
#include "record/metrics.h"
#include "record/options_json.h"
#include "record/roi.h"
#include "record/stats.h"
#include "record/trace.h"

/* PRAGMA user_version of the schema this build writes. */
enum { DB_SCHEMA_VERSION = 5 };

/* How long a write waits for another writer before it gives up. */
enum { DB_BUSY_TIMEOUT_MS = 10000 };

struct db;

/* What a run was and how it ended. NULL strings are written as SQL NULL
 * where the column allows it (image_sha256, git_revision) and refused
 * where it does not. */
struct run_record {
    struct timespec started_at, finished_at; /* CLOCK_REALTIME */
    const char *mode;          /* "bare", "single" or "nested" */
    const char *image;         /* the path as given */
    const char *image_sha256;  /* 64 lowercase hex digits, or NULL */
    const char *cmdline;       /* the image's command line ("" if none) */
    const struct run_option *options; /* every option, defaults included */
    size_t option_count;
    const char *git_revision;  /* NULL if unknown */
    const char *cost_profile;  /* the cost profile's name */
    const char *cost_profile_json; /* its whole JSON text */
    enum machine_stop stop;    /* how the run ended; STOP_NONE is refused */
    int exit_code;             /* the exit status of `turtles run` */
    int has_guest_status;      /* the guest reported a status ... */
    uint32_t guest_status;     /* ... this one (isa-debug-exit value) */
    uint64_t instructions;     /* retired, all levels */
    uint64_t cycles;           /* modeled */
    uint64_t host_ns;          /* host time of the whole run */
    const struct roi *roi;     /* the region of interest, or NULL */
};

/* Opens `path`, creating it with the schema if it does not exist or is
 * empty. Refuses, with a message in err naming the file and what to do:
 * a path that cannot be created or written, a file that is not SQLite or
 * is corrupt, an SQLite file that is not a results database, and one of
 * another schema version. A refused existing file is left untouched, and
 * a refused path is left absent. NULL on failure. */
struct db *db_open(const char *path, char *err, size_t errlen);

/* Replaces DB_BUSY_TIMEOUT_MS for this connection (tests use a short one). */
void db_set_busy_timeout(struct db *db, int ms);

/* Writes one run: its runs row, exit_stats, nested_costs, counters (with
 * the losses of stats, metrics and trace, see docs/results.md),
 * guest_metrics (metrics may be NULL) and exit_trace (trace NULL: the run
 * was not traced), all in one transaction. Returns the new run_id (> 0),
 * or -1 with err saying what failed; then nothing of the run was written. */
int64_t db_write_run(struct db *db, const struct run_record *run,
                     const struct exit_stats *stats,
                     const struct guest_metrics *metrics,
                     const struct exit_trace *trace, char *err, size_t errlen);

void db_close(struct db *db);

/* The name the runs.status column uses for `stop`, or NULL for STOP_NONE. */
const char *db_status_name(enum machine_stop stop);

#endif
