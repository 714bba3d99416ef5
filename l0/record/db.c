/* The SQLite results writer: opening (and creating, and refusing) a
 * results database, and writing one run in one transaction. */
#include "record/db.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* analysis/schema.sql, embedded at build time by l0/record/record.mk. */
static const char schema_sql[] = {
#include "schema_sql.inc"
    0,
};

struct db {
    sqlite3 *h;
    char *path;
    int lock_fd; /* see lock_for_open; -1 if none */
};

static const char *const status_names[] = {
    [STOP_DEBUG_EXIT] = "debug-exit",
    [STOP_SHUTDOWN] = "shutdown",
    [STOP_TRIPLE_FAULT] = "triple-fault",
    [STOP_HALTED] = "halted",
    [STOP_INSN_LIMIT] = "insn-limit",
    [STOP_INTERNAL] = "internal",
    [STOP_INTERRUPTED] = "interrupted",
    /* The schema has no 'reset': a reset ends the run like
     * a power-off, and exit_code (84) tells the two apart. */
    [STOP_RESET] = "shutdown",
};

const char *db_status_name(enum machine_stop stop)
{
    return (unsigned)stop < sizeof status_names / sizeof status_names[0]
               ? status_names[stop]
               : NULL;
}

static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- opening ---------------------------------------------------------- */

/* The schema version and the number of schema objects, read by one
 * statement: one snapshot, so that a schema another process commits in
 * between cannot show up as "tables but no version". */
static int read_state(sqlite3 *h, int64_t *version, int64_t *objects)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h,
                                "SELECT (SELECT user_version FROM "
                                "pragma_user_version), (SELECT count(*) FROM "
                                "sqlite_schema)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        *objects = sqlite3_column_int64(st, 1);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The INSERT of each table. Also the check, at open, that a file of the
 * right version really has the tables and columns this writer needs. */
enum table {
    T_RUNS, T_EXIT_STATS, T_NESTED, T_COUNTERS, T_METRICS, T_TRACE,
    T_ROI, T_ROI_EXIT_STATS, T_ROI_NESTED, T_STEPS, T_NESTED_L1, T_COUNT
};
/* exit_stats and nested_costs, and their roi_ twins. */
#define EXIT_STATS_VALUES                                                    \
    " (run_id, handler_level, guest_level, reason, reason_name, count, "    \
    "cycles, host_ns) VALUES (?1, ?2, ?3, ?4, coalesce((SELECT name FROM "  \
    "exit_reasons WHERE reason = ?4), 'UNDEFINED'), ?5, ?6, ?7)"
#define NESTED_VALUES                                                        \
    " (run_id, reason, l2_exits, l1_exits_caused, cycles_total, cycles_l0, " \
    "cycles_l1, cycles_l2, cycles_transitions) "                             \
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
static const char *const insert_sql[T_COUNT] = {
    [T_RUNS] =
        "INSERT INTO runs (started_at, finished_at, mode, image, "
        "image_sha256, cmdline, options, git_revision, cost_profile, status, "
        "exit_code, guest_status, instructions, cycles, host_ns, "
        "trace_truncated, cost_profile_json) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
        "?14, ?15, ?16, ?17)",
    [T_EXIT_STATS] = "INSERT INTO exit_stats" EXIT_STATS_VALUES,
    [T_NESTED] = "INSERT INTO nested_costs" NESTED_VALUES,
    [T_COUNTERS] =
        "INSERT INTO counters (run_id, name, value) VALUES (?1, ?2, ?3)",
    [T_METRICS] =
        "INSERT INTO guest_metrics (run_id, seq, level, kind, guest, key, "
        "value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [T_TRACE] =
        "INSERT INTO exit_trace (run_id, seq, parent_seq, handler_level, "
        "guest_level, reason, qualification, guest_rip, cycle, cycles, "
        "host_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [T_ROI] =
        "INSERT INTO roi (run_id, regions, ended_by_run, marks_refused, "
        "instructions, cycles, host_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [T_ROI_EXIT_STATS] = "INSERT INTO roi_exit_stats" EXIT_STATS_VALUES,
    [T_ROI_NESTED] = "INSERT INTO roi_nested_costs" NESTED_VALUES,
    [T_STEPS] =
        "INSERT INTO trace_steps (run_id, seq, exit_seq, cycle, step, field, "
        "value, cycles, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [T_NESTED_L1] =
        "INSERT INTO nested_l1_exits (run_id, reason, l1_reason, count) "
        "VALUES (?1, ?2, ?3, ?4)",
};

static int check_tables(sqlite3 *h, char *err, size_t errlen,
                        const char *path)
{
    for (int t = 0; t < T_COUNT; t++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, insert_sql[t], -1, &st, NULL) != SQLITE_OK) {
            say(err, errlen,
                "results database '%s' says it has schema version %d but "
                "does not match it (%s); it was not written by turtles or "
                "is damaged: give another --db path",
                path, DB_SCHEMA_VERSION, sqlite3_errmsg(h));
            return -1;
        }
        sqlite3_finalize(st);
    }
    return 0;
}

/* Runs sql on a database of schema version `from` (0: an empty file) in
 * one transaction: creating the schema, or upgrading version 2, which
 * lacks only runs.cost_profile_json (added NULL in the old runs, so that
 * an existing database goes on growing). Two processes may race to do it:
 * the version is read again under the write lock, and the loser finds
 * the winner's work done. */
enum { DB_UPGRADABLE_VERSION = 2 };
static const char upgrade_sql[] =
    "ALTER TABLE runs ADD COLUMN cost_profile_json TEXT CHECK "
    "(cost_profile_json IS NULL OR json_valid(cost_profile_json)); "
    "PRAGMA user_version = 3";


static int change_schema(sqlite3 *h, int64_t from, const char *sql,
                         const char *what, char *err, size_t errlen,
                         const char *path)
{
    int64_t version = 0, objects = 0;
    int rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = read_state(h, &version, &objects);
    if (rc == SQLITE_OK && version == from && (from != 0 || objects == 0))
        rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        say(err, errlen, "cannot %s in '%s': %s", what, path,
            sqlite3_errmsg(h));
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Version N-1 -> N (N = 4, 5) runs the part of analysis/schema.sql from
 * its "-- VERSION N BEGIN" marker to the next version's marker (or the
 * end), so that each addition is written once: 4 added the region-of-
 * interest tables, trace_steps and trace_l2_exits.episode_cycles; 5
 * nested_l1_exits. */
static int upgrade_to(sqlite3 *h, int to, char *err, size_t errlen,
                      const char *path)
{
    char marker[32], next[32], what[64];
    snprintf(marker, sizeof marker, "-- VERSION %d BEGIN", to);
    snprintf(next, sizeof next, "-- VERSION %d BEGIN", to + 1);
    snprintf(what, sizeof what, "upgrade the results schema from version "
             "%d to %d", to - 1, to);
    const char *part = strstr(schema_sql, marker);
    const char *end = part ? strstr(part, next) : NULL;
    int len = !part ? 0 : end ? (int)(end - part) : (int)strlen(part);
    char *sql = part ? sqlite3_mprintf("%.*s; PRAGMA user_version = %d", len,
                                       part, to)
                     : NULL;
    int rc = sql ? change_schema(h, to - 1, sql, what, err, errlen, path)
                 : -1;
    if (!sql)
        say(err, errlen, "cannot upgrade '%s': out of memory", path);
    sqlite3_free(sql);
    return rc;
}

/* What db_open checks, in order. Nothing before change_schema writes to
 * the file, so a refused file is left as it was. */
static int open_checks(sqlite3 *h, const char *path, char *err, size_t errlen)
{
    int64_t version = 0, objects = 0;
    if (sqlite3_db_readonly(h, "main") == 1) {
        say(err, errlen,
            "results database '%s' is read-only: make it writable or give "
            "another --db path", path);
        return -1;
    }
    int rc = read_state(h, &version, &objects);
    if (rc != SQLITE_OK) {
        say(err, errlen,
            "'%s' is not a usable SQLite database (%s): it was left as it "
            "is; move it away or give another --db path",
            path, sqlite3_errmsg(h));
        return -1;
    }
    if (version == 0 && objects > 0) {
        say(err, errlen,
            "'%s' is an SQLite database but not a turtles results database "
            "(it has tables and no schema version): give another --db path",
            path);
        return -1;
    }
    if (version != 0 && (version < DB_UPGRADABLE_VERSION ||
                         version > DB_SCHEMA_VERSION)) {
        say(err, errlen,
            "results database '%s' has schema version %" PRId64 ", this "
            "turtles writes version %d: give another --db path (see "
            "docs/results.md)", path, version, DB_SCHEMA_VERSION);
        return -1;
    }
    /* WAL: readers never block the writer and a killed writer loses only
     * its own uncommitted run. NORMAL sync is durable against a killed
     * process, which is the failure that matters here. */
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(h, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        const unsigned char *mode = sqlite3_column_text(st, 0);
        rc = rc == SQLITE_ROW && mode && strcmp((const char *)mode, "wal") == 0
                 ? SQLITE_OK
                 : SQLITE_ERROR;
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, "PRAGMA synchronous = NORMAL; "
                             "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        say(err, errlen, "cannot put results database '%s' in WAL mode: %s",
            path, sqlite3_errmsg(h));
        return -1;
    }
    if (version == 0 && change_schema(h, 0, schema_sql, "create the results "
                                      "schema", err, errlen, path) != 0)
        return -1;
    if (version == DB_UPGRADABLE_VERSION &&
        change_schema(h, version, upgrade_sql, "upgrade the results schema "
                      "from version 2 to 3", err, errlen, path) != 0)
        return -1;
    for (int to = 4; version != 0 && to <= DB_SCHEMA_VERSION; to++)
        if (version < to && upgrade_to(h, to, err, errlen, path) != 0)
            return -1;
    return check_tables(h, err, errlen, path);
}

/* A file this open created and that is still empty is removed on failure:
 * a refused path must not leave a stray file behind. */
static void remove_if_ours(const char *path, int existed)
{
    struct stat sb;
    if (!existed && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
        sb.st_size == 0)
        unlink(path);
}

/* Two turtles starting at once on a new file race SQLite's switch to WAL
 * mode, which does not wait in the busy handler ("database is locked").
 * So db_open's checks run under an flock of the file: on Linux flock and
 * the POSIX locks SQLite uses are independent, which serializes the
 * openers without touching SQLite's own locking. The descriptor stays
 * open until db_close, because closing any descriptor of the file would
 * drop the POSIX locks SQLite holds on it. */
static int lock_for_open(struct db *db)
{
    db->lock_fd = open(db->path, O_RDONLY | O_CLOEXEC);
    if (db->lock_fd < 0)
        return -1;
    for (int ms = 0; flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0; ms++) {
        if (errno != EWOULDBLOCK || ms >= DB_BUSY_TIMEOUT_MS)
            return -1;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return 0;
}

struct db *db_open(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    int existed = stat(path, &sb) == 0;
    if (existed && S_ISDIR(sb.st_mode)) {
        say(err, errlen,
            "results database '%s' is a directory: give the path of a file",
            path);
        return NULL;
    }
    struct db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        say(err, errlen, "out of memory opening '%s'", path);
        free(db);
        return NULL;
    }
    db->lock_fd = -1;
    int rc = sqlite3_open_v2(path, &db->h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        say(err, errlen,
            "cannot open results database '%s': %s (does its directory "
            "exist, and is it writable?)",
            path, db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        db_close(db);
        remove_if_ours(path, existed);
        return NULL;
    }
    sqlite3_busy_timeout(db->h, DB_BUSY_TIMEOUT_MS);
    if (lock_for_open(db) != 0) {
        say(err, errlen, "cannot lock results database '%s' to open it: %s",
            path, strerror(errno));
    } else if (open_checks(db->h, path, err, errlen) == 0) {
        flock(db->lock_fd, LOCK_UN);
        return db;
    }
    db_close(db);
    remove_if_ours(path, existed);
    return NULL;
}

void db_set_busy_timeout(struct db *db, int ms)
{
    sqlite3_busy_timeout(db->h, ms);
}

void db_close(struct db *db)
{
    if (!db)
        return;
    sqlite3_close(db->h);
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    free(db->path);
    free(db);
}

/* ---- writing ---------------------------------------------------------- */

struct writer {
    sqlite3 *h;
    int64_t run_id;
    const struct run_record *run;
    const struct exit_stats *stats;
    const struct guest_metrics *metrics;
    const struct exit_trace *trace;
    const char *options;
    char *err;
    size_t errlen;
};

/* 64-bit unsigned values are stored as SQLite's signed INTEGER: two's
 * complement, so addresses and qualifications keep every bit (and
 * printf('%x', col) shows them as they were). */
static int bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
    return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
             : sqlite3_bind_null(st, i);
}

/* Runs a bound statement that returns no rows and makes it ready again. */
static int insert(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void iso8601(char *out, size_t n, struct timespec ts)
{
    struct tm tm;
    time_t secs = ts.tv_sec;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, n, "invalid");
        return;
    }
    size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static int write_run(struct writer *w, sqlite3_stmt *st)
{
    const struct run_record *r = w->run;
    char started[40], finished[40];
    iso8601(started, sizeof started, r->started_at);
    iso8601(finished, sizeof finished, r->finished_at);
    bind_text(st, 1, started);
    bind_text(st, 2, finished);
    bind_text(st, 3, r->mode);
    bind_text(st, 4, r->image);
    bind_text(st, 5, r->image_sha256);
    bind_text(st, 6, r->cmdline ? r->cmdline : "");
    bind_text(st, 7, w->options);
    bind_text(st, 8, r->git_revision);
    bind_text(st, 9, r->cost_profile);
    bind_text(st, 10, db_status_name(r->stop));
    sqlite3_bind_int(st, 11, r->exit_code);
    if (r->has_guest_status)
        sqlite3_bind_int64(st, 12, r->guest_status);
    bind_u64(st, 13, r->instructions);
    bind_u64(st, 14, r->cycles);
    bind_u64(st, 15, r->host_ns);
    if (w->trace)
        sqlite3_bind_int(st, 16, w->trace->truncated != 0);
    bind_text(st, 17, r->cost_profile_json);
    int rc = insert(st);
    w->run_id = sqlite3_last_insert_rowid(w->h);
    return rc;
}

static int write_cells(struct writer *w, sqlite3_stmt *st,
                       const struct exit_stats *stats)
{
    for (int h = 0; h < STATS_HANDLER_LEVELS; h++)
        for (int g = 1; g <= STATS_GUEST_LEVELS; g++)
            for (int r = 0; r < EXIT_REASON_LIMIT; r++) {
                const struct exit_cell *c = &stats->cell[h][g - 1][r];
                if (!c->count)
                    continue;
                sqlite3_bind_int64(st, 1, w->run_id);
                sqlite3_bind_int(st, 2, h);
                sqlite3_bind_int(st, 3, g);
                sqlite3_bind_int(st, 4, r);
                bind_u64(st, 5, c->count);
                bind_u64(st, 6, c->cycles);
                bind_u64(st, 7, c->host_ns);
                int rc = insert(st);
                if (rc != SQLITE_OK)
                    return rc;
            }
    return SQLITE_OK;
}

static int write_nested_costs(struct writer *w, sqlite3_stmt *st,
                              const struct exit_stats *stats)
{
    for (int r = 0; r < EXIT_REASON_LIMIT; r++) {
        const struct nested_cost *n = &stats->nested[r];
        if (!n->l2_exits)
            continue;
        sqlite3_bind_int64(st, 1, w->run_id);
        sqlite3_bind_int(st, 2, r);
        bind_u64(st, 3, n->l2_exits);
        bind_u64(st, 4, n->l1_exits_caused);
        bind_u64(st, 5, nested_cost_total(n));
        for (int part = 0; part < NESTED_PARTS; part++)
            bind_u64(st, 6 + part, n->cycles[part]);
        int rc = insert(st);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Which L1 exits each L2 exit reason caused (whole run). */
static int write_nested_l1(struct writer *w, sqlite3_stmt *st)
{
    for (int r = 0; r < EXIT_REASON_LIMIT; r++)
        for (int k = 0; k < EXIT_REASON_LIMIT; k++) {
            uint64_t n = w->stats->nested[r].l1_exits_by_reason[k];
            if (!n)
                continue;
            sqlite3_bind_int64(st, 1, w->run_id);
            sqlite3_bind_int(st, 2, r);
            sqlite3_bind_int(st, 3, k);
            bind_u64(st, 4, n);
            int rc = insert(st);
            if (rc != SQLITE_OK)
                return rc;
        }
    return SQLITE_OK;
}

static int write_exit_stats(struct writer *w, sqlite3_stmt *st)
{
    return write_cells(w, st, w->stats);
}

static int write_nested(struct writer *w, sqlite3_stmt *st)
{
    return write_nested_costs(w, st, w->stats);
}

/* The region of interest: its row only if the guest marked one. */
static const struct roi *marked_roi(const struct writer *w)
{
    return w->run->roi && roi_used(w->run->roi) ? w->run->roi : NULL;
}

static int write_roi(struct writer *w, sqlite3_stmt *st)
{
    const struct roi *r = marked_roi(w);
    if (!r)
        return SQLITE_OK;
    sqlite3_bind_int64(st, 1, w->run_id);
    bind_u64(st, 2, r->regions);
    sqlite3_bind_int(st, 3, r->ended_by_run);
    bind_u64(st, 4, r->marks_refused);
    bind_u64(st, 5, r->sum.instructions);
    bind_u64(st, 6, r->sum.cycles);
    bind_u64(st, 7, r->sum.host_ns);
    return insert(st);
}

static int write_roi_exit_stats(struct writer *w, sqlite3_stmt *st)
{
    const struct roi *r = marked_roi(w);
    return r ? write_cells(w, st, &r->stats) : SQLITE_OK;
}

static int write_roi_nested(struct writer *w, sqlite3_stmt *st)
{
    const struct roi *r = marked_roi(w);
    return r ? write_nested_costs(w, st, &r->stats) : SQLITE_OK;
}

static int write_counter(struct writer *w, sqlite3_stmt *st, const char *name,
                         uint64_t value)
{
    sqlite3_bind_int64(st, 1, w->run_id);
    bind_text(st, 2, name);
    bind_u64(st, 3, value);
    return insert(st);
}

/* The emulator's counters, then what the recorder itself had to drop
 * (names under "record.", which stats_counter keeps for this), so that a
 * query can tell a complete run from one that lost data. */
static int write_counters(struct writer *w, sqlite3_stmt *st)
{
    const struct exit_stats *s = w->stats;
    int rc = SQLITE_OK;
    for (unsigned i = 0; i < s->counter_count && rc == SQLITE_OK; i++)
        rc = write_counter(w, st, s->counters[i].name, s->counters[i].value);
    if (rc == SQLITE_OK)
        rc = write_counter(w, st, "record.exits_dropped", s->dropped_exits);
    if (rc == SQLITE_OK && w->metrics)
        rc = write_counter(w, st, "record.metric_lines_dropped",
                           w->metrics->lines_dropped);
    if (rc == SQLITE_OK && w->metrics)
        rc = write_counter(w, st, "record.metric_pairs_rejected",
                           w->metrics->pairs_rejected);
    if (rc == SQLITE_OK && w->trace)
        rc = write_counter(w, st, "record.trace_dropped", w->trace->dropped);
    if (rc == SQLITE_OK && w->trace)
        rc = write_counter(w, st, "record.trace_steps_dropped",
                           w->trace->steps_dropped);
    return rc;
}

static int write_metrics(struct writer *w, sqlite3_stmt *st)
{
    if (!w->metrics)
        return SQLITE_OK;
    for (size_t i = 0; i < w->metrics->count; i++) {
        const struct guest_metric *m = &w->metrics->rows[i];
        sqlite3_bind_int64(st, 1, w->run_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_int(st, 3, m->level);
        bind_text(st, 4, metric_kind_name(m->kind));
        bind_text(st, 5, m->guest);
        bind_text(st, 6, m->key);
        bind_text(st, 7, m->value);
        int rc = insert(st);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int write_trace(struct writer *w, sqlite3_stmt *st)
{
    if (!w->trace)
        return SQLITE_OK;
    for (size_t i = 0; i < w->trace->count; i++) {
        const struct trace_entry *e = &w->trace->entries[i];
        sqlite3_bind_int64(st, 1, w->run_id);
        bind_u64(st, 2, e->seq);
        if (e->parent_seq != TRACE_NO_SEQ)
            bind_u64(st, 3, e->parent_seq);
        sqlite3_bind_int(st, 4, e->handler_level);
        sqlite3_bind_int(st, 5, e->guest_level);
        sqlite3_bind_int(st, 6, e->reason);
        bind_u64(st, 7, e->qualification);
        bind_u64(st, 8, e->guest_rip);
        bind_u64(st, 9, e->cycle);
        bind_u64(st, 10, e->cycles);
        bind_u64(st, 11, e->host_ns);
        int rc = insert(st);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* L0's steps of the recorded exits (a step of an exit that did not make
 * it into the trace is left out: the trace only loses its tail). */
static int write_steps(struct writer *w, sqlite3_stmt *st)
{
    if (!w->trace)
        return SQLITE_OK;
    for (size_t i = 0, seq = 0; i < w->trace->step_count; i++) {
        const struct trace_step *s = &w->trace->steps[i];
        const char *name = trace_step_name(s->kind);
        if (s->exit_seq >= w->trace->count || !name)
            continue;
        sqlite3_bind_int64(st, 1, w->run_id);
        bind_u64(st, 2, seq++);
        bind_u64(st, 3, s->exit_seq);
        bind_u64(st, 4, s->cycle);
        bind_text(st, 5, name);
        if (s->has_field)
            sqlite3_bind_int64(st, 6, s->field);
        if (s->has_value)
            bind_u64(st, 7, s->value);
        bind_u64(st, 8, s->cycles);
        bind_text(st, 9, s->detail);
        int rc = insert(st);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* The order rows are written in: runs first (it gives run_id). */
static int (*const writers[T_COUNT])(struct writer *, sqlite3_stmt *) = {
    [T_RUNS] = write_run,
    [T_EXIT_STATS] = write_exit_stats,
    [T_NESTED] = write_nested,
    [T_COUNTERS] = write_counters,
    [T_METRICS] = write_metrics,
    [T_TRACE] = write_trace,
    [T_ROI] = write_roi,
    [T_ROI_EXIT_STATS] = write_roi_exit_stats,
    [T_ROI_NESTED] = write_roi_nested,
    [T_STEPS] = write_steps,
    [T_NESTED_L1] = write_nested_l1,
};
static const char *const table_names[T_COUNT] = {
    [T_RUNS] = "runs", [T_EXIT_STATS] = "exit_stats",
    [T_NESTED] = "nested_costs", [T_COUNTERS] = "counters",
    [T_METRICS] = "guest_metrics", [T_TRACE] = "exit_trace",
    [T_ROI] = "roi", [T_ROI_EXIT_STATS] = "roi_exit_stats",
    [T_ROI_NESTED] = "roi_nested_costs", [T_STEPS] = "trace_steps",
    [T_NESTED_L1] = "nested_l1_exits",
};

/* Every table in order, inside the caller's transaction. */
static int write_tables(struct writer *w)
{
    for (int t = 0; t < T_COUNT; t++) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(w->h, insert_sql[t], -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = writers[t](w, st);
        sqlite3_finalize(st);
        if (rc != SQLITE_OK) {
            say(w->err, w->errlen, "table %s: %s", table_names[t],
                sqlite3_errmsg(w->h));
            return -1;
        }
    }
    return 0;
}

int64_t db_write_run(struct db *db, const struct run_record *run,
                     const struct exit_stats *stats,
                     const struct guest_metrics *metrics,
                     const struct exit_trace *trace, char *err, size_t errlen)
{
    char why[512] = "";
    struct writer w = {
        .h = db->h, .run = run, .stats = stats, .metrics = metrics,
        .trace = trace, .err = why, .errlen = sizeof why,
    };
    char *options = NULL;
    if (!db_status_name(run->stop)) {
        snprintf(why, sizeof why, "the run has no end status");
    } else if (!(options = options_json(run->options, run->option_count))) {
        snprintf(why, sizeof why, "the options cannot be encoded");
    } else if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
               SQLITE_OK) {
        /* SQLITE_BUSY here means another writer held the file for the
         * whole busy timeout. */
        snprintf(why, sizeof why, "%s", sqlite3_errmsg(db->h));
    } else {
        w.options = options;
        if (write_tables(&w) == 0 &&
            sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
            free(options);
            return w.run_id;
        }
        if (!why[0])
            snprintf(why, sizeof why, "commit: %s", sqlite3_errmsg(db->h));
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    }
    free(options);
    say(err, errlen, "cannot record the run in '%s': %s; nothing of this "
        "run was written", db->path, why);
    return -1;
}
