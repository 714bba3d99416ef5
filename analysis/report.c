/* turtles report --db FILE: the tables of the default experiment, read
 * from a results database (analysis/schema.sql) and never from memory, so
 * any results.db can be reported again. For every labeled configuration
 * (its newest run): the cost of one exit of the workload's main reason,
 * how many L1 exits one L2 exit caused, and where its cycles went, beside
 * the Turtles paper's numbers (OSDI 2010, sec. 4). */
#include "analysis/report.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* The newest run of each label, in the order the labels first appear,
 * with how it ended and whether its workload made CPUID exits (the CPUID
 * table shows only those: a bare run or another workload has none). */
static const char *const runs_sql =
    "SELECT l.label, r.run_id, r.mode, r.status, r.exit_code, "
    "EXISTS (SELECT 1 FROM exit_stats AS e WHERE e.run_id = r.run_id "
    "        AND e.reason = 10 AND e.guest_level = "
    "        (CASE r.mode WHEN 'nested' THEN 2 ELSE 1 END)), "
    "json_extract(r.options, '$.l1') "
    "FROM (SELECT json_extract(options, '$.label') AS label, "
    "      max(run_id) AS newest, min(run_id) AS first FROM runs "
    "      WHERE label IS NOT NULL GROUP BY label) AS l "
    "JOIN runs AS r ON r.run_id = l.newest ORDER BY l.first";

static double scalar(sqlite3 *db, const char *sql, sqlite3_int64 run,
                     int reason)
{
    sqlite3_stmt *st;
    double v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_bind_parameter_count(st) > 1)
        sqlite3_bind_int(st, 2, reason);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The L1 of a nested run as `turtles run --l1` named it (runs.options
 * $.l1, recorded since schema 5): "kvm", or a multiboot L1's file name
 * without directory and ".elf" (l1vmm). "?" for an older run. */
static const char *l1_name(const char *l1, char *buf, size_t n)
{
    if (!l1)
        return "?";
    const char *base = strrchr(l1, '/') ? strrchr(l1, '/') + 1 : l1;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".elf") == 0)
        len -= 4;
    snprintf(buf, n, "%.*s", (int)len, base);
    return buf;
}

enum { REASON_CPUID = 10, REASON_VMREAD = 23, REASON_VMWRITE = 25 };

/* One configuration: single-level runs report L0's CPUID exits; nested
 * runs report L2's CPUID exits and what each one cost at every level. */
static void report_run(sqlite3 *db, const char *label, sqlite3_int64 run,
                       const char *mode, const char *l1)
{
    if (strcmp(mode, "nested") != 0) {
        double cycles = scalar(db,
            "SELECT cycles_per_exit FROM exit_cost_by_reason WHERE run_id = ?1 "
            "AND handler_level = 0 AND guest_level = 1 AND reason = ?2",
            run, REASON_CPUID);
        printf("%-24s %-7s %-6s %12.0f %10s %10s %8s %8s %8s %11s   %s\n",
               label, mode, "-", cycles, "-", "-", "-", "-", "-", "-",
               "single-level CPUID ~2,600");
        return;
    }
    const char *per_exit =
        "SELECT %s FROM nested_cost_per_exit WHERE run_id = ?1 AND reason = ?2";
    char sql[256];
    double v[6];
    static const char *const cols[6] = {
        "l2_exits", "cycles_per_l2_exit", "l1_exits_per_l2_exit",
        "l0_cycles_per_l2_exit", "l1_cycles_per_l2_exit",
        "transition_cycles_per_l2_exit"};
    for (int k = 0; k < 6; k++) {
        snprintf(sql, sizeof sql, per_exit, cols[k]);
        v[k] = scalar(db, sql, run, REASON_CPUID);
    }
    /* The VMREAD/VMWRITE traps of L1 that L2's CPUIDs caused (schema 5,
     * nested_l1_exits): not those of L1's own setup, which a KVM L1 does
     * before its first VM entry. A database without the table has no
     * such split: "-". */
    char traps_per[16] = "-";
    if (scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = "
               "'nested_l1_exits'", run, 0) > 0 && v[0] > 0)
        snprintf(traps_per, sizeof traps_per, "%.1f", scalar(db,
            "SELECT coalesce(sum(count), 0) FROM nested_l1_exits WHERE "
            "run_id = ?1 AND reason = ?2 AND l1_reason IN (23, 25)",
            run, REASON_CPUID) / v[0]);
    printf("%-24s %-7s %-6s %12.0f %10.1f %10s %8.0f %8.0f %8.0f %11.1f   "
           "%s\n", label, mode, l1, v[1], v[2], traps_per, v[3], v[4], v[5],
           v[2] + 1,
           "nested CPUID ~58,000; 11 traps, 13 pairs without shadowing");
}

/* The page-fault workload: L2's exits that L1 handled, by reason. */
static void report_paging(sqlite3 *db, const char *label, sqlite3_int64 run)
{
    static const int reasons[] = {0, 10, 14, 28, 58};
    printf("%-18s", label);
    for (size_t k = 0; k < sizeof reasons / sizeof *reasons; k++)
        printf(" %10.0f", scalar(db,
            "SELECT coalesce(sum(count), 0) FROM exit_stats WHERE run_id = ?1 "
            "AND handler_level = 1 AND guest_level = 2 AND reason = ?2",
            run, reasons[k]));
    printf("\n");
}

int report_main(const char *path)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "turtles report: cannot open %s: %s\n", path,
                sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, runs_sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "turtles report: %s is not a results database: %s\n",
                path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    printf("CPUID microbenchmark: modeled cycles per exit of the workload "
           "(L2's CPUID when nested)\n");
    printf("%-24s %-7s %-6s %12s %10s %10s %8s %8s %8s %11s   %s\n",
           "configuration", "mode", "L1VMM", "cycles/exit", "L1 exits",
           "VMRD/WR",
           "L0", "L1", "trans.", "exit pairs", "published (Turtles)");
    int rows = 0, labeled = 0;
    char paging[8][64], failed[8][160];
    sqlite3_int64 paging_run[8];
    int npaging = 0, nfailed = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *label = (const char *)sqlite3_column_text(st, 0);
        sqlite3_int64 run = sqlite3_column_int64(st, 1);
        const char *mode = (const char *)sqlite3_column_text(st, 2);
        int exit_code = sqlite3_column_int(st, 4);
        labeled++;
        if (exit_code != 0) {
            /* A crashed or cut-off run is not a measurement. */
            if (nfailed < 8)
                snprintf(failed[nfailed], sizeof failed[0],
                         "%-18s run %lld ended %s (exit %d)", label,
                         (long long)run, sqlite3_column_text(st, 3),
                         exit_code);
            nfailed++;
            continue;
        }
        if (strncmp(label, "pf-", 3) == 0) {
            if (npaging < 8) {
                snprintf(paging[npaging], sizeof paging[0], "%s", label);
                paging_run[npaging++] = run;
            }
            continue;
        }
        if (!sqlite3_column_int(st, 5))
            continue; /* not a CPUID workload */
        char l1[32];
        report_run(db, label, run, mode,
                   l1_name((const char *)sqlite3_column_text(st, 6), l1,
                           sizeof l1));
        rows++;
    }
    sqlite3_finalize(st);
    if (npaging) {
        printf("\nPage-fault workload under l1vmm: L2 exits handled by L1, "
               "by reason\n%-18s %10s %10s %10s %10s %10s\n", "configuration",
               "#PF(0)", "CPUID(10)", "INVLPG(14)", "CR(28)", "INVPCID(58)");
        for (int k = 0; k < npaging; k++)
            report_paging(db, paging[k], paging_run[k]);
    }
    if (nfailed) {
        printf("\nRuns that did not end with status 0 (not measurements)\n");
        for (int k = 0; k < nfailed && k < 8; k++)
            printf("%s\n", failed[k]);
        if (nfailed > 8)
            printf("... and %d more\n", nfailed - 8);
    }
    sqlite3_close(db);
    if (!labeled) {
        fprintf(stderr, "turtles report: %s has no labeled runs (turtles "
                        "run --label NAME --db FILE)\n", path);
        return 1;
    }
    return 0;
}
