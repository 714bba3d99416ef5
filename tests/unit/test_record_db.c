/* l0/record/db.c: the SQLite results writer. Every test reads back with
 * its own sqlite3 connection, so it checks the file, not the writer's
 * idea of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "record/db.h"

struct fixture {
    char dir[64];
    char path[128];
    char err[512];
    struct exit_stats stats;
    struct guest_metrics metrics;
    struct exit_trace trace;
    struct run_option options[3];
    struct run_record run;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/turtles-dbtest-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/results.db", f->dir);
    stats_init(&f->stats);
    metrics_init(&f->metrics);
    trace_init(&f->trace, 100);
    f->options[0] = (struct run_option){"paging", "ept", 0};
    f->options[1] = (struct run_option){"mem", NULL, 256};
    f->options[2] = (struct run_option){"vmcs_shadowing", "off", 0};
    f->run = (struct run_record){
        .started_at = {1700000000, 123456789},
        .finished_at = {1700000003, 5000000},
        .mode = "nested",
        .image = "build/images/cpuid.elf",
        .image_sha256 = "0123456789abcdef0123456789abcdef"
                        "0123456789abcdef0123456789abcdef",
        .cmdline = "iters=5",
        .options = f->options,
        .option_count = 3,
        .git_revision = "a4d2de6",
        .cost_profile = "turtles-nehalem",
        .cost_profile_json = "{\"name\": \"turtles-nehalem\"}",
        .stop = STOP_DEBUG_EXIT,
        .exit_code = 0,
        .has_guest_status = 1,
        .guest_status = 0,
        .instructions = 123456,
        .cycles = 987654321,
        .host_ns = 4200000,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    metrics_free(&f->metrics);
    trace_free(&f->trace);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- reading back ---- */

static sqlite3 *reader(const char *path)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    return h;
}

static int64_t q_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The first column of the only row, as text; "NULL" for SQL NULL. */
static const char *q_text(sqlite3 *h, const char *sql)
{
    static char buf[512];
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, sizeof buf, "%s", t ? (const char *)t : "NULL");
    sqlite3_finalize(st);
    return buf;
}

static int64_t rows_of_any_run(sqlite3 *h)
{
    return q_int(h, "SELECT (SELECT count(*) FROM runs) + "
                    "(SELECT count(*) FROM exit_stats) + "
                    "(SELECT count(*) FROM nested_costs) + "
                    "(SELECT count(*) FROM counters) + "
                    "(SELECT count(*) FROM guest_metrics) + "
                    "(SELECT count(*) FROM exit_trace)");
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static size_t read_file(const char *path, void *data, size_t n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t got = fread(data, 1, n, fp);
    fclose(fp);
    return got;
}

/* A small nested run: L2 CPUIDs reflected to L1, each causing VMREAD and
 * VMRESUME exits, one EPT violation L0 handled alone, guest lines. */
static void fill_run(struct fixture *f)
{
    struct exit_stats *st = &f->stats;
    for (int e = 0; e < 3; e++) {
        stats_nested_begin(st, 10);
        uint64_t l2 = trace_add(&f->trace, &(struct trace_entry){
            .parent_seq = TRACE_NO_SEQ, .handler_level = 1, .guest_level = 2,
            .reason = 10, .guest_rip = 0xffffffff81000000ull + e,
            .cycle = 1000u * e, .cycles = 5000, .host_ns = 900});
        for (int i = 0; i < 2; i++) {
            stats_count(st, 0, 1, 23, 300, 40);
            stats_nested_charge(st, NESTED_L0, 300);
            trace_add(&f->trace, &(struct trace_entry){
                .parent_seq = l2, .handler_level = 0, .guest_level = 1,
                .reason = 23, .cycles = 300, .host_ns = 40});
        }
        stats_count(st, 0, 1, 24, 700, 50);
        stats_nested_charge(st, NESTED_L0, 700);
        stats_nested_charge(st, NESTED_L1, 2000);
        stats_nested_charge(st, NESTED_TRANSITIONS, 2000);
        stats_count(st, 1, 2, 10, 5000, 900);
        stats_nested_end(st);
    }
    stats_nested_begin(st, 48);
    stats_count(st, 0, 2, 48, 1500, 300);
    stats_nested_charge(st, NESTED_L0, 1500);
    stats_nested_end(st);
    stats_count(st, 0, 1, 77, 1, 1); /* a reason the SDM table lacks */
    stats_count(st, 0, 9, 10, 1, 1); /* dropped */
    stats_counter_set(st, "tlb_fills", 42);
    stats_counter_set(st, "ept02_fills", 7);
    const char *out = "hello\r\nRESULT cpuid iters=5\r\n"
                      "METRIC cpuid tsc_per_iter=58000 b@d\r\n";
    metrics_feed(&f->metrics, 2, out, strlen(out));
    metrics_feed(&f->metrics, 1, "RESULT l1vmm paging=ept\n", 24);
}

/* ---- tests ---- */

static void test_create_write_read_back(void **state)
{
    struct fixture *f = *state;
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    if (!db)
        fail_msg("%s", f->err);
    fill_run(f);
    int64_t id = db_write_run(db, &f->run, &f->stats, &f->metrics, &f->trace,
                              f->err, sizeof f->err);
    if (id < 0)
        fail_msg("%s", f->err);
    assert_true(id > 0);
    db_close(db);

    sqlite3 *h = reader(f->path);
    assert_int_equal(q_int(h, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    assert_string_equal(q_text(h, "PRAGMA journal_mode"), "wal");

    /* runs */
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(q_int(h, "SELECT run_id FROM runs"), id);
    assert_string_equal(q_text(h, "SELECT started_at FROM runs"),
                        "2023-11-14T22:13:20.123Z");
    assert_string_equal(q_text(h, "SELECT finished_at FROM runs"),
                        "2023-11-14T22:13:23.005Z");
    assert_string_equal(q_text(h, "SELECT mode || '|' || image || '|' || "
                                  "cmdline || '|' || git_revision || '|' || "
                                  "cost_profile || '|' || status FROM runs"),
                        "nested|build/images/cpuid.elf|iters=5|a4d2de6|"
                        "turtles-nehalem|debug-exit");
    assert_string_equal(q_text(h, "SELECT cost_profile_json FROM runs"),
                        "{\"name\": \"turtles-nehalem\"}");
    assert_string_equal(q_text(h, "SELECT image_sha256 FROM runs"),
                        f->run.image_sha256);
    assert_string_equal(q_text(h, "SELECT options FROM runs"),
                        "{\"paging\":\"ept\",\"mem\":256,"
                        "\"vmcs_shadowing\":\"off\"}");
    assert_int_equal(q_int(h, "SELECT json_extract(options, '$.mem') "
                              "FROM runs"), 256);
    assert_int_equal(q_int(h, "SELECT exit_code FROM runs"), 0);
    assert_int_equal(q_int(h, "SELECT guest_status FROM runs"), 0);
    assert_int_equal(q_int(h, "SELECT instructions FROM runs"), 123456);
    assert_int_equal(q_int(h, "SELECT cycles FROM runs"), 987654321);
    assert_int_equal(q_int(h, "SELECT host_ns FROM runs"), 4200000);
    assert_int_equal(q_int(h, "SELECT trace_truncated FROM runs"), 0);

    /* exit_stats: one row per non-empty cell, names from exit_reasons. */
    assert_int_equal(q_int(h, "SELECT count(*) FROM exit_stats"), 5);
    assert_string_equal(
        q_text(h, "SELECT group_concat(handler_level || ',' || guest_level "
                  "|| ',' || reason || ',' || reason_name || ',' || count || "
                  "',' || cycles || ',' || host_ns, ' ') FROM (SELECT * FROM "
                  "exit_stats ORDER BY handler_level, guest_level, reason)"),
        "0,1,23,VMREAD,6,1800,240 0,1,24,VMRESUME,3,2100,150 "
        "0,1,77,UNDEFINED,1,1,1 0,2,48,EPT_VIOLATION,1,1500,300 "
        "1,2,10,CPUID,3,15000,2700");

    /* nested_costs and its view */
    assert_string_equal(
        q_text(h, "SELECT l2_exits || ',' || l1_exits_caused || ',' || "
                  "cycles_total || ',' || cycles_l0 || ',' || cycles_l1 || "
                  "',' || cycles_l2 || ',' || cycles_transitions FROM "
                  "nested_costs WHERE reason = 10"),
        "3,9,15900,3900,6000,0,6000");
    assert_string_equal(q_text(h, "SELECT l1_exits_caused || ',' || "
                                  "cycles_total FROM nested_costs WHERE "
                                  "reason = 48"), "0,1500");
    assert_string_equal(
        q_text(h, "SELECT reason_name || ' ' || l1_exits_per_l2_exit || ' ' "
                  "|| cycles_per_l2_exit FROM nested_cost_per_exit WHERE "
                  "reason = 10"),
        "CPUID 3.0 5300.0");

    /* nested_l1_exits: the 9 L1 exits of the 3 CPUIDs by L1's reason;
     * the UNDEFINED L1 exit outside any episode is in none. */
    assert_string_equal(
        q_text(h, "SELECT group_concat(reason || ',' || l1_reason || ',' || "
                  "count, ' ') FROM (SELECT * FROM nested_l1_exits ORDER BY "
                  "reason, l1_reason)"),
        "10,23,6 10,24,3");

    /* counters, with the recorder's own losses */
    assert_int_equal(q_int(h, "SELECT value FROM counters WHERE "
                              "name = 'tlb_fills'"), 42);
    assert_int_equal(q_int(h, "SELECT value FROM counters WHERE "
                              "name = 'ept02_fills'"), 7);
    assert_int_equal(q_int(h, "SELECT value FROM counters WHERE "
                              "name = 'record.exits_dropped'"), 1);
    assert_int_equal(q_int(h, "SELECT value FROM counters WHERE "
                              "name = 'record.metric_pairs_rejected'"), 1);
    assert_int_equal(q_int(h, "SELECT value FROM counters WHERE "
                              "name = 'record.trace_dropped'"), 0);

    /* guest_metrics, in the order the lines ended */
    assert_string_equal(
        q_text(h, "SELECT group_concat(level || ':' || kind || ':' || guest "
                  "|| ':' || key || '=' || value, ' ') FROM (SELECT * FROM "
                  "guest_metrics ORDER BY seq)"),
        "2:RESULT:cpuid:iters=5 2:METRIC:cpuid:tsc_per_iter=58000 "
        "1:RESULT:l1vmm:paging=ept");

    /* exit_trace: 64-bit RIPs keep every bit, children point at parents */
    assert_int_equal(q_int(h, "SELECT count(*) FROM exit_trace"), 9);
    assert_string_equal(q_text(h, "SELECT printf('%x', guest_rip) FROM "
                                  "exit_trace WHERE seq = 3"),
                        "ffffffff81000001");
    assert_string_equal(q_text(h, "SELECT parent_seq FROM exit_trace WHERE "
                                  "seq = 3"), "NULL");
    assert_int_equal(q_int(h, "SELECT parent_seq FROM exit_trace WHERE "
                              "seq = 5"), 3);
    assert_string_equal(
        q_text(h, "SELECT group_concat(seq || ':' || l1_exits_caused || ':' "
                  "|| l1_exit_cycles, ' ') FROM trace_l2_exits"),
        "0:2:600 3:2:600 6:2:600");
    assert_int_equal(q_int(h, "SELECT exits FROM run_summary"), 14);
    sqlite3_close(h);

    /* The file opens again and the next run gets the next id; a run with
     * no metrics and no trace writes NULL trace_truncated. */
    db = db_open(f->path, f->err, sizeof f->err);
    if (!db)
        fail_msg("%s", f->err);
    f->run.has_guest_status = 0;
    f->run.image_sha256 = NULL;
    f->run.stop = STOP_TRIPLE_FAULT;
    f->run.exit_code = 80;
    assert_int_equal(db_write_run(db, &f->run, &f->stats, NULL, NULL, f->err,
                                  sizeof f->err), id + 1);
    db_close(db);
    h = reader(f->path);
    assert_string_equal(q_text(h, "SELECT coalesce(guest_status, 'NULL') || "
                                  "coalesce(trace_truncated, 'NULL') || "
                                  "coalesce(image_sha256, 'NULL') || status "
                                  "FROM runs WHERE run_id = 2"),
                        "NULLNULLNULLtriple-fault");
    assert_int_equal(q_int(h, "SELECT count(*) FROM counters WHERE run_id = "
                              "2 AND name LIKE 'record.%'"), 1);
    sqlite3_close(h);
}

/* The region of interest: its row and its exits, only for a run that
 * marked one. */
static void test_roi_rows(void **state)
{
    struct fixture *f = *state;
    static struct roi roi;
    roi_init(&roi);
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    if (!db)
        fail_msg("%s", f->err);
    f->run.roi = &roi; /* never marked: no rows */
    assert_true(db_write_run(db, &f->run, &f->stats, NULL, NULL, f->err,
                             sizeof f->err) > 0);
    roi_mark(&roi, ROI_START, (struct roi_point){10, 100, 5}, &f->stats);
    fill_run(f);
    roi_mark(&roi, ROI_END, (struct roi_point){40, 900, 9}, &f->stats);
    assert_int_equal(db_write_run(db, &f->run, &f->stats, NULL, NULL, f->err,
                                  sizeof f->err), 2);
    db_close(db);
    sqlite3 *h = reader(f->path);
    assert_int_equal(q_int(h, "SELECT count(*) FROM roi"), 1);
    assert_string_equal(q_text(h, "SELECT printf('%d %d %d %d %d %d %d', "
                                  "run_id, regions, ended_by_run, "
                                  "marks_refused, instructions, cycles, "
                                  "host_ns) FROM roi"),
                        "2 1 0 0 30 800 4");
    /* fill_run's 14 exits (3 x (2 VMREAD, VMRESUME, CPUID), an EPT
     * violation, reason 77), all in the region, and its nested costs. */
    assert_int_equal(q_int(h, "SELECT sum(count) FROM roi_exit_stats"), 14);
    assert_string_equal(q_text(h, "SELECT reason_name FROM roi_exit_stats "
                                  "WHERE reason = 23"), "VMREAD");
    assert_string_equal(q_text(h, "SELECT printf('%d %d %d', l2_exits, "
                                  "l1_exits_caused, cycles_l0) FROM "
                                  "roi_nested_costs WHERE reason = 10"),
                        "3 9 3900");
    sqlite3_close(h);
}

static void test_truncated_trace_is_marked(void **state)
{
    struct fixture *f = *state;
    trace_free(&f->trace);
    trace_init(&f->trace, 4);
    fill_run(f);
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    assert_non_null(db);
    assert_true(db_write_run(db, &f->run, &f->stats, &f->metrics, &f->trace,
                             f->err, sizeof f->err) > 0);
    db_close(db);
    sqlite3 *h = reader(f->path);
    assert_int_equal(q_int(h, "SELECT trace_truncated FROM runs"), 1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM exit_trace"), 4);
    assert_int_equal(q_int(h, "SELECT value FROM counters WHERE "
                              "name = 'record.trace_dropped'"), 5);
    sqlite3_close(h);
}

static void test_other_schema_version_refused_untouched(void **state)
{
    struct fixture *f = *state;
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    assert_non_null(db);
    db_close(db);
    sqlite3 *h = reader(f->path);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(h);

    static char before[1 << 16], after[1 << 16];
    size_t n = read_file(f->path, before, sizeof before);
    f->err[0] = '\0';
    assert_null(db_open(f->path, f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "schema version 99"));
    assert_non_null(strstr(f->err, f->path));
    assert_int_equal(read_file(f->path, after, sizeof after), n);
    assert_memory_equal(before, after, n);
}

/* Writes f's run to f->path in a db_open ... db_close of its own. */
static void write_one_run(struct fixture *f)
{
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    if (!db || db_write_run(db, &f->run, &f->stats, &f->metrics, NULL,
                            f->err, sizeof f->err) < 0)
        fail_msg("%s", f->err);
    db_close(db);
}

/* A file with one run, made an older version by `older`, then given a
 * second run (with fill_run's exits if `fill`): the file read back. */
static sqlite3 *upgraded(struct fixture *f, const char *older, int fill)
{
    write_one_run(f);
    sqlite3 *h = reader(f->path);
    assert_int_equal(sqlite3_exec(h, older, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    if (fill)
        fill_run(f);
    write_one_run(f);
    return reader(f->path);
}

/* A version-2 database (no runs.cost_profile_json) is upgraded in place:
 * its runs stay, with NULL there, and new runs are written. A file of
 * version 2 has neither that column nor version 4's tables (the region
 * of interest, trace_steps) nor version 5's. */
static void test_version_2_is_upgraded(void **state)
{
    sqlite3 *h = upgraded(*state,
                          "DROP TABLE nested_l1_exits; "
                          "DROP VIEW trace_l2_exits; DROP TABLE "
                          "trace_steps; DROP TABLE roi_exit_stats; "
                          "DROP TABLE roi_nested_costs; DROP TABLE "
                          "roi; ALTER TABLE runs DROP COLUMN "
                          "cost_profile_json; PRAGMA user_version = 2", 0);
    assert_int_equal(q_int(h, "PRAGMA user_version"), 5); /* via 3, 4 */
    assert_int_equal(q_int(h, "SELECT count(*) FROM nested_l1_exits"), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM roi"), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs"), 2);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs WHERE "
                              "cost_profile_json IS NULL AND run_id = 1"), 1);
    assert_string_equal(q_text(h, "SELECT cost_profile_json FROM runs "
                                  "WHERE run_id = 2"),
                        "{\"name\": \"turtles-nehalem\"}");
    sqlite3_close(h);
}

/* A version-4 file gains nested_l1_exits and keeps its runs; the new
 * run's L1 exits land in it. */
static void test_version_4_is_upgraded(void **state)
{
    sqlite3 *h = upgraded(*state, "DROP TABLE nested_l1_exits; "
                                  "PRAGMA user_version = 4", 1);
    assert_int_equal(q_int(h, "PRAGMA user_version"), 5);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs"), 2);
    assert_int_equal(q_int(h, "SELECT count(*) FROM roi"), 0);
    assert_int_equal(q_int(h, "SELECT sum(count) FROM nested_l1_exits "
                              "WHERE run_id = 2 AND reason = 10"), 9);
    sqlite3_close(h);
}

static void test_foreign_sqlite_file_refused(void **state)
{
    struct fixture *f = *state;
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "CREATE TABLE notes (x)", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_null(db_open(f->path, f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "not a turtles results database"));

    /* Right version number, wrong tables: refused too. */
    h = reader(f->path);
    char right[40];
    snprintf(right, sizeof right, "PRAGMA user_version = %d",
             DB_SCHEMA_VERSION);
    assert_int_equal(sqlite3_exec(h, right, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_null(db_open(f->path, f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "does not match"));
}

static void test_unwritable_paths_fail_and_create_nothing(void **state)
{
    struct fixture *f = *state;
    char file[160], path[200];
    /* Root ignores permission bits, so the paths are impossible rather
     * than forbidden: a parent that is a regular file, a parent that does
     * not exist, a directory, and /proc. */
    snprintf(file, sizeof file, "%s/plain", f->dir);
    write_file(file, "x", 1);
    const char *const paths[] = {"%s/plain/results.db", "%s/missing/r.db",
                                 "%s", "/proc/turtles-results.db"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(path, sizeof path, paths[i], f->dir);
        f->err[0] = '\0';
        struct db *db = db_open(path, f->err, sizeof f->err);
        if (db)
            fail_msg("db_open(%s) succeeded", path);
        assert_true(strlen(f->err) > 10);
        assert_non_null(strstr(f->err, path));
        if (i != 2)
            assert_false(exists(path));
    }
    snprintf(path, sizeof path, "%s/missing", f->dir);
    assert_false(exists(path));
}

static void test_corrupt_file_refused_untouched(void **state)
{
    struct fixture *f = *state;
    static unsigned char junk[8192], after[8192 + 1];
    srand(4);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rand();
    write_file(f->path, junk, sizeof junk);
    assert_null(db_open(f->path, f->err, sizeof f->err));
    assert_non_null(strstr(f->err, "not a usable SQLite database"));
    assert_non_null(strstr(f->err, f->path));
    assert_int_equal(read_file(f->path, after, sizeof after), sizeof junk);
    assert_memory_equal(junk, after, sizeof junk);
    char side[200];
    snprintf(side, sizeof side, "%s-wal", f->path);
    assert_false(exists(side));
    snprintf(side, sizeof side, "%s-journal", f->path);
    assert_false(exists(side));
}

static void test_empty_file_gets_the_schema(void **state)
{
    struct fixture *f = *state;
    write_file(f->path, "", 0);
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    if (!db)
        fail_msg("%s", f->err);
    db_close(db);
    sqlite3 *h = reader(f->path);
    assert_int_equal(q_int(h, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    assert_int_equal(q_int(h, "SELECT count(*) FROM exit_reasons"), 67);
    sqlite3_close(h);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_locked_database_waits_then_fails_cleanly(void **state)
{
    struct fixture *f = *state;
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    assert_non_null(db);
    db_set_busy_timeout(db, 300);
    fill_run(f);

    sqlite3 *other = reader(f->path);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                     SQLITE_OK);
    double t0 = now_s();
    assert_int_equal(db_write_run(db, &f->run, &f->stats, &f->metrics,
                                  &f->trace, f->err, sizeof f->err), -1);
    double waited = now_s() - t0;
    assert_true(waited >= 0.25);
    assert_true(waited < 5);
    assert_non_null(strstr(f->err, "locked"));
    assert_non_null(strstr(f->err, "nothing of this run was written"));
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(rows_of_any_run(other), 0);

    /* Once the lock is gone the same connection writes normally. */
    assert_int_equal(db_write_run(db, &f->run, &f->stats, &f->metrics,
                                  &f->trace, f->err, sizeof f->err), 1);
    assert_int_equal(q_int(other, "SELECT count(*) FROM runs"), 1);
    sqlite3_close(other);
    db_close(db);
}

/* A child process: open (racing the other child on a new file), then
 * write `runs` runs. Exit status 0 on success; no cmocka in a child. */
static void child_writes(struct fixture *f, int go_fd, int runs)
{
    char c;
    if (read(go_fd, &c, 1) != 1)
        _exit(2);
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    if (!db) {
        fprintf(stderr, "child: %s\n", f->err);
        _exit(3);
    }
    for (int i = 0; i < runs; i++)
        if (db_write_run(db, &f->run, &f->stats, &f->metrics, &f->trace,
                         f->err, sizeof f->err) < 0) {
            fprintf(stderr, "child: %s\n", f->err);
            _exit(4);
        }
    db_close(db);
    _exit(0);
}

static void test_concurrent_writers_both_land(void **state)
{
    struct fixture *f = *state;
    enum { CHILDREN = 2, RUNS = 15 };
    fill_run(f);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            f->run.exit_code = 10 + i; /* tells the children's runs apart */
            child_writes(f, go[0], RUNS);
        }
    }
    close(go[0]);
    /* Both start at once, so both may find the file absent. */
    assert_int_equal(write(go[1], "gg", CHILDREN), CHILDREN);
    close(go[1]);
    for (int i = 0; i < CHILDREN; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    sqlite3 *h = reader(f->path);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs"), CHILDREN * RUNS);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs WHERE "
                              "exit_code = 10"), RUNS);
    assert_int_equal(q_int(h, "SELECT count(*) FROM runs WHERE "
                              "exit_code = 11"), RUNS);
    /* Every run is complete: the same rows under each run_id. */
    assert_int_equal(q_int(h, "SELECT count(*) FROM exit_stats"),
                     5 * CHILDREN * RUNS);
    assert_int_equal(q_int(h, "SELECT count(*) FROM exit_trace"),
                     9 * CHILDREN * RUNS);
    assert_int_equal(q_int(h, "SELECT count(DISTINCT run_id) FROM "
                              "guest_metrics"), CHILDREN * RUNS);
    sqlite3_close(h);
}

/* A failure in the middle of the run leaves nothing of it. Each case
 * breaks a different table, so that rows of the tables before it were
 * already inserted in the transaction. */
static void test_failure_mid_write_leaves_no_rows(void **state)
{
    struct fixture *f = *state;
    struct db *db = db_open(f->path, f->err, sizeof f->err);
    assert_non_null(db);
    fill_run(f);

    /* runs: a mode the schema does not know. */
    f->run.mode = "sideways";
    assert_int_equal(db_write_run(db, &f->run, &f->stats, &f->metrics,
                                  &f->trace, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "table runs"));
    f->run.mode = "nested";

    /* counters (after runs, exit_stats, nested_costs): a duplicate name,
     * which the stats API refuses but plain data can hold. */
    struct exit_stats dup = f->stats;
    dup.counters[dup.counter_count++] = dup.counters[0];
    assert_int_equal(db_write_run(db, &f->run, &dup, &f->metrics, &f->trace,
                                  f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "table counters"));

    /* exit_trace, the last table: a parent that does not exist. */
    f->trace.entries[8].parent_seq = 7;
    f->trace.entries[7].parent_seq = 99;
    assert_int_equal(db_write_run(db, &f->run, &f->stats, &f->metrics,
                                  &f->trace, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "table exit_trace"));
    assert_non_null(strstr(f->err, "nothing of this run was written"));

    /* A run that has not ended is refused before anything is written. */
    f->run.stop = STOP_NONE;
    assert_int_equal(db_write_run(db, &f->run, &f->stats, NULL, NULL, f->err,
                                  sizeof f->err), -1);
    assert_non_null(strstr(f->err, "no end status"));

    sqlite3 *h = reader(f->path);
    assert_int_equal(rows_of_any_run(h), 0);
    sqlite3_close(h);

    /* The connection is still usable: a good run lands. */
    f->run.stop = STOP_DEBUG_EXIT;
    f->trace.entries[7].parent_seq = 6;
    f->trace.entries[8].parent_seq = 6;
    assert_true(db_write_run(db, &f->run, &f->stats, &f->metrics, &f->trace,
                             f->err, sizeof f->err) > 0);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_write_read_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_trace_is_marked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_roi_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_other_schema_version_refused_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_2_is_upgraded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_version_4_is_upgraded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_foreign_sqlite_file_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_unwritable_paths_fail_and_create_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_refused_untouched,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_gets_the_schema,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_locked_database_waits_then_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers_both_land,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_mid_write_leaves_no_rows,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
