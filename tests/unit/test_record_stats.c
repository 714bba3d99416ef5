/* l0/record: in-memory exit accounting, nested costs, named counters, the
 * trace buffer, the options JSON and the guest output parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record/metrics.h"
#include "record/options_json.h"
#include "record/roi.h"
#include "record/stats.h"
#include "record/trace.h"

/* ---- exit cells ---- */

static void test_exits_sum_per_cell(void **state)
{
    (void)state;
    static struct exit_stats st;
    stats_init(&st);
    for (int i = 0; i < 5; i++)
        stats_count(&st, 0, 1, 10, 100, 7);
    stats_count(&st, 0, 2, 10, 50, 1);
    stats_count(&st, 1, 2, 10, 3000, 2);
    stats_count(&st, 0, 1, 23, 40, 4);

    struct exit_cell c = st.cell[0][0][10];
    assert_int_equal(c.count, 5);
    assert_int_equal(c.cycles, 500);
    assert_int_equal(c.host_ns, 35);
    assert_int_equal(st.cell[0][1][10].count, 1);
    assert_int_equal(st.cell[1][1][10].cycles, 3000);

    /* Sums over any axis. */
    c = stats_sum(&st, -1, -1, 10);
    assert_int_equal(c.count, 7);
    assert_int_equal(c.cycles, 3550);
    c = stats_sum(&st, -1, 2, 10);
    assert_int_equal(c.count, 2);
    c = stats_sum(&st, 0, 1, -1);
    assert_int_equal(c.count, 6);
    assert_int_equal(c.cycles, 540);
    c = stats_sum(&st, -1, -1, -1);
    assert_int_equal(c.count, 8);
    assert_int_equal(c.host_ns, 35 + 1 + 2 + 4);
    /* Out-of-range queries sum nothing rather than read out of bounds. */
    assert_int_equal(stats_sum(&st, 2, -1, -1).count, 0);
    assert_int_equal(stats_sum(&st, -1, 3, -1).count, 0);
    assert_int_equal(stats_sum(&st, -1, -1, EXIT_REASON_LIMIT).count, 0);
    assert_int_equal(st.dropped_exits, 0);
}

static void test_exits_out_of_range_are_dropped_and_counted(void **state)
{
    (void)state;
    static struct exit_stats st;
    stats_init(&st);
    stats_count(&st, 0, 1, EXIT_REASON_LIMIT, 1, 1); /* reason too big */
    stats_count(&st, 0, 3, 10, 1, 1);                /* no L3 */
    stats_count(&st, 0, 0, 10, 1, 1);                /* L0 does not exit */
    stats_count(&st, 1, 1, 10, 1, 1);                /* L1 handles L2 only */
    stats_count(&st, 2, 2, 10, 1, 1);
    assert_int_equal(st.dropped_exits, 5);
    assert_int_equal(stats_sum(&st, -1, -1, -1).count, 0);
}

/* ---- nested episodes ---- */

static void test_nested_episode_charges_the_l2_reason(void **state)
{
    (void)state;
    static struct exit_stats st;
    stats_init(&st);
    /* Two L2 CPUIDs reflected to L1; the first causes 3 L1 exits, the
     * second 2. L1 exits outside an episode are not charged. */
    stats_count(&st, 0, 1, 24, 10, 0);
    for (int e = 0; e < 2; e++) {
        stats_nested_begin(&st, 10);
        stats_nested_charge(&st, NESTED_TRANSITIONS, 1000);
        for (int i = 0; i < 3 - e; i++) {
            stats_count(&st, 0, 1, 23, 200, 0);
            stats_nested_charge(&st, NESTED_L0, 200);
        }
        stats_nested_charge(&st, NESTED_L1, 400);
        stats_nested_charge(&st, NESTED_L2, 5);
        stats_count(&st, 1, 2, 10, 1605, 0);
        stats_nested_end(&st);
    }
    stats_count(&st, 0, 1, 24, 10, 0);
    stats_nested_charge(&st, NESTED_L0, 999); /* no episode: ignored */

    const struct nested_cost *n = &st.nested[10];
    assert_int_equal(n->l2_exits, 2);
    assert_int_equal(n->l1_exits_caused, 5);
    assert_int_equal(n->cycles[NESTED_L0], 1000);
    assert_int_equal(n->cycles[NESTED_L1], 800);
    assert_int_equal(n->cycles[NESTED_L2], 10);
    assert_int_equal(n->cycles[NESTED_TRANSITIONS], 2000);
    assert_int_equal(nested_cost_total(n), 3810);
    assert_int_equal(st.nested[23].l2_exits, 0);
}

static void test_nested_begin_closes_an_open_episode(void **state)
{
    (void)state;
    static struct exit_stats st;
    stats_init(&st);
    stats_nested_begin(&st, 48);
    stats_count(&st, 0, 1, 25, 1, 0);
    stats_nested_begin(&st, 10); /* the _end of 48 was lost */
    stats_count(&st, 0, 1, 25, 1, 0);
    stats_count(&st, 0, 1, 25, 1, 0);
    stats_nested_end(&st);
    stats_nested_end(&st); /* a second end changes nothing */
    assert_int_equal(st.nested[48].l2_exits, 1);
    assert_int_equal(st.nested[48].l1_exits_caused, 1);
    assert_int_equal(st.nested[10].l2_exits, 1);
    assert_int_equal(st.nested[10].l1_exits_caused, 2);

    /* An out-of-range L2 reason swallows its own L1 exits, then vanishes. */
    stats_nested_begin(&st, 1000);
    stats_count(&st, 0, 1, 25, 1, 0);
    stats_nested_end(&st);
    assert_int_equal(st.nested[10].l1_exits_caused, 2);
    assert_int_equal(st.nested[48].l1_exits_caused, 1);
}

/* Each L1 exit of an episode is counted under its own reason too, apart
 * from the L1 exits outside any episode (an L1's setup). */
static void test_nested_l1_exits_by_reason(void **state)
{
    (void)state;
    static struct exit_stats st;
    stats_init(&st);
    stats_count(&st, 0, 1, 25, 1, 0); /* setup: no L2 exit open */
    stats_count(&st, 0, 1, 21, 1, 0);
    for (int i = 0; i < 2; i++) {
        stats_nested_begin(&st, 10);
        stats_count(&st, 1, 2, 10, 1, 0);
        stats_count(&st, 0, 1, 23, 1, 0);
        stats_count(&st, 0, 1, 23, 1, 0);
        stats_count(&st, 0, 1, 25, 1, 0);
        stats_count(&st, 0, 1, 24, 1, 0);
        stats_nested_end(&st);
    }
    stats_nested_begin(&st, 30);
    stats_count(&st, 0, 1, 30, 1, 0);
    stats_nested_end(&st);
    const struct nested_cost *cpuid = &st.nested[10];
    assert_int_equal(cpuid->l1_exits_caused, 8);
    assert_int_equal(cpuid->l1_exits_by_reason[23], 4);
    assert_int_equal(cpuid->l1_exits_by_reason[25], 2);
    assert_int_equal(cpuid->l1_exits_by_reason[24], 2);
    assert_int_equal(cpuid->l1_exits_by_reason[21], 0);
    assert_int_equal(cpuid->l1_exits_by_reason[10], 0); /* L2's own exit */
    assert_int_equal(st.nested[30].l1_exits_by_reason[30], 1);
    assert_int_equal(st.nested[30].l1_exits_by_reason[25], 0);
    assert_int_equal(st.cell[0][0][25].count, 3); /* exit_stats has all */
}

/* ---- named counters ---- */

static void test_counters_by_name(void **state)
{
    (void)state;
    static struct exit_stats st;
    stats_init(&st);
    uint64_t *fills = stats_counter(&st, "tlb_fills");
    assert_non_null(fills);
    ++*fills;
    assert_int_equal(stats_counter_add(&st, "tlb_fills", 2), 0);
    assert_int_equal(stats_counter_set(&st, "decoded", 77), 0);
    assert_ptr_equal(stats_counter(&st, "tlb_fills"), fills);
    assert_int_equal(*fills, 3);
    assert_int_equal(st.counter_count, 2);
    assert_string_equal(st.counters[1].name, "decoded");
    assert_int_equal(st.counters[1].value, 77);

    /* Bad names are refused, not stored. */
    assert_null(stats_counter(&st, ""));
    assert_null(stats_counter(&st, "Upper"));
    assert_null(stats_counter(&st, "with space"));
    assert_null(stats_counter(&st, "record.exits_dropped"));
    char longname[STATS_COUNTER_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_null(stats_counter(&st, longname));
    longname[STATS_COUNTER_NAME_MAX] = '\0';
    assert_non_null(stats_counter(&st, longname));
    assert_int_equal(st.counter_count, 3);
}

static void test_counters_table_full(void **state)
{
    (void)state;
    static struct exit_stats st;
    stats_init(&st);
    char name[16];
    for (int i = 0; i < STATS_COUNTERS_MAX; i++) {
        snprintf(name, sizeof name, "c%d", i);
        assert_int_equal(stats_counter_set(&st, name, (uint64_t)i), 0);
    }
    assert_int_equal(stats_counter_set(&st, "one_more", 1), -1);
    assert_int_equal(stats_counter_add(&st, "c5", 1), 0); /* existing: fine */
    assert_int_equal(st.counters[5].value, 6);
}

/* ---- trace ---- */

static void test_trace_grows_then_truncates(void **state)
{
    (void)state;
    struct exit_trace t;
    enum { CAP = 3000 }; /* past the first allocation, so it must regrow */
    trace_init(&t, CAP);
    struct trace_entry e = {.parent_seq = TRACE_NO_SEQ, .guest_level = 2,
                            .reason = 10};
    uint64_t parent = trace_add(&t, &e);
    assert_int_equal(parent, 0);
    for (uint64_t i = 1; i < CAP; i++) {
        struct trace_entry child = {.parent_seq = parent, .guest_level = 1,
                                    .reason = 23, .cycle = i};
        assert_int_equal(trace_add(&t, &child), i);
    }
    assert_int_equal(t.count, CAP);
    assert_false(t.truncated);
    assert_int_equal(t.entries[CAP - 1].cycle, CAP - 1);
    assert_int_equal(t.entries[CAP - 1].parent_seq, 0);
    assert_int_equal(t.entries[0].reason, 10);

    assert_true(trace_add(&t, &e) == TRACE_NO_SEQ);
    assert_true(trace_add(&t, &e) == TRACE_NO_SEQ);
    assert_true(t.truncated);
    assert_int_equal(t.dropped, 2);
    assert_int_equal(t.count, CAP);
    trace_free(&t);
    assert_null(t.entries);
    assert_int_equal(t.count, 0);
}

static void test_trace_cap_zero_records_nothing(void **state)
{
    (void)state;
    struct exit_trace t;
    trace_init(&t, 0);
    struct trace_entry e = {.parent_seq = TRACE_NO_SEQ};
    assert_true(trace_add(&t, &e) == TRACE_NO_SEQ);
    assert_true(t.truncated);
    assert_int_equal(t.count, 0);
    trace_free(&t);
}

/* Steps name the exit they belong to by the seq it will get; once the
 * trace is full they are dropped and counted, as the exits are. */
static void test_trace_steps_follow_their_exits(void **state)
{
    (void)state;
    struct exit_trace t;
    trace_init(&t, 2);
    struct trace_entry e = {.parent_seq = TRACE_NO_SEQ};
    assert_int_equal(trace_next_seq(&t), 0);
    trace_step_add(&t, &(struct trace_step){.exit_seq = trace_next_seq(&t),
                                             .kind = STEP_REFLECT});
    assert_int_equal(trace_add(&t, &e), 0);
    assert_int_equal(trace_next_seq(&t), 1);
    assert_int_equal(trace_add(&t, &e), 1);
    assert_true(trace_next_seq(&t) == TRACE_NO_SEQ); /* full */
    trace_step_add(&t, &(struct trace_step){.exit_seq = trace_next_seq(&t),
                                             .kind = STEP_MERGE});
    assert_int_equal(t.step_count, 1);
    assert_int_equal(t.steps_dropped, 1);
    assert_int_equal(t.steps[0].exit_seq, 0);
    assert_string_equal(trace_step_name(t.steps[0].kind), "reflect");
    assert_string_equal(trace_step_name(STEP_L2_RESUMES), "l2-resumes");
    assert_null(trace_step_name(STEP_KINDS));
    trace_free(&t);
}

/* ---- options JSON ---- */

static void test_options_json(void **state)
{
    (void)state;
    struct run_option opts[] = {
        {"paging", "ept", 0},
        {"mem", NULL, 256},
        {"odd", "a\"b\\c\n\x01", 0},
        {"neg", NULL, -5},
    };
    char *json = options_json(opts, 4);
    assert_non_null(json);
    assert_string_equal(json, "{\"paging\":\"ept\",\"mem\":256,"
                              "\"odd\":\"a\\\"b\\\\c\\u000a\\u0001\","
                              "\"neg\":-5}");
    free(json);
    json = options_json(NULL, 0);
    assert_string_equal(json, "{}");
    free(json);
    struct run_option nameless = {NULL, "x", 0};
    assert_null(options_json(&nameless, 1));
}

/* ---- guest output ---- */

static void assert_row(const struct guest_metric *r, unsigned level,
                       enum metric_kind kind, const char *guest,
                       const char *key, const char *value)
{
    assert_int_equal(r->level, level);
    assert_int_equal(r->kind, kind);
    assert_string_equal(r->guest, guest);
    assert_string_equal(r->key, key);
    assert_string_equal(r->value, value);
}

static size_t parse(struct guest_metrics *m, unsigned level, const char *s)
{
    return metrics_parse_line(m, level, s, strlen(s));
}

static void test_metrics_good_lines(void **state)
{
    (void)state;
    struct guest_metrics m;
    metrics_init(&m);
    assert_int_equal(parse(&m, 2, "RESULT hello primes=82025 "
                                  "crc32=0x1234abcd sorted=0x00ff\n"), 3);
    assert_int_equal(parse(&m, 1, "METRIC cpuid tsc_per_iter=2600\r\n"), 1);
    /* Tabs and runs of spaces separate; a value may hold '=' and ','. */
    assert_int_equal(parse(&m, 2, "RESULT paging\ta_d=0x1,0x2  eq=a=b"), 2);
    assert_int_equal(m.count, 6);
    assert_row(&m.rows[0], 2, METRIC_RESULT, "hello", "primes", "82025");
    assert_row(&m.rows[2], 2, METRIC_RESULT, "hello", "sorted", "0x00ff");
    assert_row(&m.rows[3], 1, METRIC_METRIC, "cpuid", "tsc_per_iter", "2600");
    assert_row(&m.rows[4], 2, METRIC_RESULT, "paging", "a_d", "0x1,0x2");
    assert_row(&m.rows[5], 2, METRIC_RESULT, "paging", "eq", "a=b");
    assert_int_equal(m.lines_dropped, 0);
    assert_int_equal(m.pairs_rejected, 0);
    metrics_free(&m);
}

static void test_metrics_other_lines_ignored(void **state)
{
    (void)state;
    struct guest_metrics m;
    metrics_init(&m);
    const char *ignored[] = {
        "", "\r\n", "hello world", "EXIT status=0", "RESULTS x k=v",
        " RESULT x k=v", "result x k=v", "RESULT", "METRIC",
        "L1STATS reason=10 name=CPUID count=3 cycles=9",
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        assert_int_equal(parse(&m, 2, ignored[i]), 0);
    assert_int_equal(m.count, 0);
    assert_int_equal(m.lines_dropped, 0); /* not ours: not a loss */
    metrics_free(&m);
}

static void test_metrics_malformed(void **state)
{
    (void)state;
    struct guest_metrics m;
    metrics_init(&m);
    /* Our lines with no usable guest name are dropped whole. */
    assert_int_equal(parse(&m, 2, "RESULT "), 0);
    assert_int_equal(parse(&m, 2, "RESULT b@d k=v"), 0);
    assert_int_equal(m.lines_dropped, 2);
    /* Bad pairs are skipped, good ones kept. */
    assert_int_equal(parse(&m, 2, "RESULT g noeq =v k= k\x1bx=1 "
                                  "v=\x7f ok=1 k\xc3\xa9=2"), 1);
    assert_int_equal(m.pairs_rejected, 6);
    assert_row(&m.rows[0], 2, METRIC_RESULT, "g", "ok", "1");
    /* A level that does not exist prints nothing. */
    assert_int_equal(parse(&m, 0, "RESULT g k=v"), 0);
    assert_int_equal(parse(&m, 3, "RESULT g k=v"), 0);
    /* Bounds: a name or value one byte too long is a rejected pair. */
    char line[METRIC_LINE_MAX];
    char key[METRIC_NAME_MAX + 2], value[METRIC_VALUE_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    snprintf(line, sizeof line, "METRIC g %s=1 k=%s", key, value);
    assert_int_equal(parse(&m, 1, line), 0);
    assert_int_equal(m.pairs_rejected, 8);
    key[METRIC_NAME_MAX] = '\0';
    value[METRIC_VALUE_MAX] = '\0';
    snprintf(line, sizeof line, "METRIC g %s=%s", key, value);
    assert_int_equal(parse(&m, 1, line), 1);
    assert_string_equal(m.rows[1].key, key);
    assert_string_equal(m.rows[1].value, value);
    assert_int_equal(m.count, 2);
    metrics_free(&m);
}

static void feed(struct guest_metrics *m, unsigned level, const char *s)
{
    metrics_feed(m, level, s, strlen(s));
}

static void test_metrics_feed_splits_lines(void **state)
{
    (void)state;
    struct guest_metrics m;
    metrics_init(&m);
    /* Byte by byte, two levels interleaved, CRLF, bare CR. */
    const char *l2 = "boot\r\nRESULT cpuid iters=5\r\nMETRIC cpuid t=9\r";
    const char *l1 = "L1 says hi\nRESULT l1vmm paging=ept\n";
    size_t n2 = strlen(l2), n1 = strlen(l1);
    for (size_t i = 0; i < n2 || i < n1; i++) {
        if (i < n2)
            metrics_feed(&m, 2, &l2[i], 1);
        if (i < n1)
            metrics_feed(&m, 1, &l1[i], 1);
    }
    /* Rows come in the order their lines ended. */
    assert_int_equal(m.count, 3);
    assert_row(&m.rows[0], 2, METRIC_RESULT, "cpuid", "iters", "5");
    assert_row(&m.rows[1], 1, METRIC_RESULT, "l1vmm", "paging", "ept");
    assert_row(&m.rows[2], 2, METRIC_METRIC, "cpuid", "t", "9");
    /* A line without its end waits for the flush. */
    feed(&m, 2, "RESULT last k=v");
    assert_int_equal(m.count, 3);
    metrics_flush(&m);
    assert_int_equal(m.count, 4);
    assert_row(&m.rows[3], 2, METRIC_RESULT, "last", "k", "v");
    metrics_flush(&m); /* nothing left: no row twice */
    assert_int_equal(m.count, 4);
    metrics_free(&m);
}

/* l1vmm forwards L2's console as "[L2] line" on L1's: those lines are
 * L2's, and land with level 2 (issue 13: they were dropped). */
static void test_metrics_forwarded_l2_lines(void **state)
{
    (void)state;
    struct guest_metrics m;
    metrics_init(&m);
    feed(&m, 1, "l1vmm: paging=ept\n[L2] RESULT cpuid iters=200\n"
                "[L2] METRIC cpuid tsc_per_iter=7947 cpuid_exits=201\n"
                "[L2] EXIT status=0\n[L2]\nRESULT l1vmm k=v\n");
    assert_int_equal(m.count, 4);
    assert_row(&m.rows[0], 2, METRIC_RESULT, "cpuid", "iters", "200");
    assert_row(&m.rows[1], 2, METRIC_METRIC, "cpuid", "tsc_per_iter", "7947");
    assert_row(&m.rows[2], 2, METRIC_METRIC, "cpuid", "cpuid_exits", "201");
    assert_row(&m.rows[3], 1, METRIC_RESULT, "l1vmm", "k", "v");
    /* Only the exact prefix at the start of an L1 line forwards. */
    assert_int_equal(parse(&m, 1, "[L2]RESULT x k=v"), 0);
    assert_int_equal(parse(&m, 1, " [L2] RESULT x k=v"), 0);
    assert_int_equal(parse(&m, 2, "[L2] RESULT x k=v"), 0);
    /* A forwarded line that is too long is counted as lost. */
    char big[METRIC_LINE_MAX + 64];
    memset(big, ' ', sizeof big);
    memcpy(big, "[L2] RESULT big k=v", 19);
    metrics_feed(&m, 1, big, sizeof big);
    feed(&m, 1, "\n");
    assert_int_equal(m.lines_dropped, 1);
    assert_int_equal(m.count, 4);
    metrics_free(&m);
}

static void test_metrics_very_long_lines(void **state)
{
    (void)state;
    struct guest_metrics m;
    metrics_init(&m);
    size_t n = 5 * METRIC_LINE_MAX;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memcpy(big, "RESULT big ", 11);
    for (size_t i = 11; i < n; i += 4)
        memcpy(big + i, "k=1 ", n - i < 4 ? n - i : 4);
    big[n] = '\0';
    /* Fed: the whole line is dropped, and the next line parses. */
    feed(&m, 2, big);
    feed(&m, 2, "\nRESULT after k=v\n");
    assert_int_equal(m.count, 1);
    assert_row(&m.rows[0], 2, METRIC_RESULT, "after", "k", "v");
    assert_int_equal(m.lines_dropped, 1);
    /* Given whole: the same. */
    assert_int_equal(metrics_parse_line(&m, 2, big, n), 0);
    assert_int_equal(m.lines_dropped, 2);
    /* A long line that is not ours is not a loss. */
    memset(big, 'x', n);
    feed(&m, 2, big);
    feed(&m, 2, "\n");
    assert_int_equal(m.lines_dropped, 2);
    /* Exactly METRIC_LINE_MAX bytes still fits. */
    memset(big, ' ', METRIC_LINE_MAX);
    memcpy(big, "RESULT edge k=v", 15);
    big[METRIC_LINE_MAX - 3] = 'a';
    big[METRIC_LINE_MAX - 2] = '=';
    big[METRIC_LINE_MAX - 1] = 'b';
    metrics_feed(&m, 2, big, METRIC_LINE_MAX);
    feed(&m, 2, "\n");
    assert_int_equal(m.count, 3);
    assert_row(&m.rows[2], 2, METRIC_RESULT, "edge", "a", "b");
    free(big);
    metrics_free(&m);
}

static void test_metrics_rows_are_bounded(void **state)
{
    (void)state;
    struct guest_metrics m;
    metrics_init(&m);
    /* 8 pairs a line; the line that would pass the bound is dropped whole. */
    const char *line = "METRIC g a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8\n";
    size_t lines = METRIC_ROWS_MAX / 8;
    for (size_t i = 0; i < lines + 3; i++)
        feed(&m, 2, line);
    assert_int_equal(m.count, lines * 8);
    assert_int_equal(m.lines_dropped, 3);
    assert_true(m.count <= METRIC_ROWS_MAX);
    metrics_free(&m);
}

/* ---- region of interest ---- */

static struct roi_point at(uint64_t insns, uint64_t cycles)
{
    return (struct roi_point){insns, cycles, 0};
}

static void test_roi_keeps_what_lies_between_the_marks(void **state)
{
    (void)state;
    static struct exit_stats st;
    static struct roi r;
    stats_init(&st);
    roi_init(&r);
    stats_count(&st, 0, 1, 30, 500, 0); /* before: not in the region */
    assert_false(roi_used(&r));
    roi_mark(&r, ROI_START, at(100, 1000), &st);
    stats_count(&st, 0, 1, 10, 2000, 0);
    stats_count(&st, 0, 1, 10, 2000, 0);
    stats_nested_begin(&st, 10);
    stats_nested_charge(&st, NESTED_L0, 300);
    stats_nested_end(&st);
    roi_mark(&r, ROI_END, at(150, 7000), &st);
    stats_count(&st, 0, 1, 30, 500, 0); /* after: not in the region */
    /* A second region adds up. */
    roi_mark(&r, ROI_START, at(200, 9000), &st);
    stats_count(&st, 0, 1, 10, 2000, 0);
    roi_mark(&r, ROI_END, at(210, 9500), &st);
    assert_true(roi_used(&r));
    assert_int_equal(r.regions, 2);
    assert_int_equal(r.sum.instructions, 50 + 10);
    assert_int_equal(r.sum.cycles, 6000 + 500);
    assert_int_equal(r.stats.cell[0][0][10].count, 3);
    assert_int_equal(r.stats.cell[0][0][10].cycles, 6000);
    assert_int_equal(r.stats.cell[0][0][30].count, 0);
    assert_int_equal(r.stats.nested[10].l2_exits, 1);
    assert_int_equal(r.stats.nested[10].cycles[NESTED_L0], 300);
    assert_int_equal(r.marks_refused, 0);
    assert_false(r.ended_by_run);
}

static void test_roi_refuses_stray_marks_and_ends_with_the_run(void **state)
{
    (void)state;
    static struct roi r;
    roi_init(&r);
    roi_mark(&r, ROI_END, at(1, 1), NULL);   /* no region open */
    roi_mark(&r, 7, at(2, 2), NULL);         /* not a sub-function */
    assert_true(roi_used(&r));
    roi_mark(&r, ROI_START, at(10, 100), NULL);
    roi_mark(&r, ROI_START, at(20, 200), NULL); /* already open */
    assert_int_equal(r.marks_refused, 3);
    roi_finish(&r, at(40, 700), NULL);
    assert_int_equal(r.regions, 1);
    assert_true(r.ended_by_run);
    assert_int_equal(r.sum.instructions, 30);
    assert_int_equal(r.sum.cycles, 600);
    roi_finish(&r, at(50, 800), NULL); /* nothing open: nothing changes */
    assert_int_equal(r.regions, 1);
    assert_int_equal(r.sum.cycles, 600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exits_sum_per_cell),
        cmocka_unit_test(test_exits_out_of_range_are_dropped_and_counted),
        cmocka_unit_test(test_nested_episode_charges_the_l2_reason),
        cmocka_unit_test(test_nested_begin_closes_an_open_episode),
        cmocka_unit_test(test_nested_l1_exits_by_reason),
        cmocka_unit_test(test_counters_by_name),
        cmocka_unit_test(test_counters_table_full),
        cmocka_unit_test(test_trace_grows_then_truncates),
        cmocka_unit_test(test_trace_cap_zero_records_nothing),
        cmocka_unit_test(test_trace_steps_follow_their_exits),
        cmocka_unit_test(test_options_json),
        cmocka_unit_test(test_metrics_good_lines),
        cmocka_unit_test(test_metrics_other_lines_ignored),
        cmocka_unit_test(test_metrics_malformed),
        cmocka_unit_test(test_metrics_feed_splits_lines),
        cmocka_unit_test(test_metrics_forwarded_l2_lines),
        cmocka_unit_test(test_metrics_very_long_lines),
        cmocka_unit_test(test_metrics_rows_are_bounded),
        cmocka_unit_test(test_roi_keeps_what_lies_between_the_marks),
        cmocka_unit_test(test_roi_refuses_stray_marks_and_ends_with_the_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
