/* Guest-reported results: the `RESULT <guest> k=v ...` and `METRIC <guest>
 * k=v ...` lines of the output contract (docs/guests.md), turned into one
 * row per pair for the guest_metrics table.
 *
 * The serial output is guest input: anything may arrive. Lines, names and
 * values are bounded; a line too long is dropped whole (a cut line could
 * yield a wrong value), a malformed pair is skipped, and both are counted
 * so the database says that something was lost. */
#ifndef L0_RECORD_METRICS_H
#define L0_RECORD_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum {
    METRIC_LINE_MAX = 1024, /* bytes of one line, without its end */
    METRIC_NAME_MAX = 47,   /* a guest name or a key: [A-Za-z0-9_.-] */
    METRIC_VALUE_MAX = 127, /* a value: printable ASCII, no space */
    METRIC_ROWS_MAX = 65536,
    METRIC_LEVELS = 2,      /* guest levels 1 and 2 print */
};

enum metric_kind { METRIC_RESULT, METRIC_METRIC };

struct guest_metric {
    uint8_t level; /* 1 or 2: the guest level that printed the line */
    uint8_t kind;  /* enum metric_kind */
    char guest[METRIC_NAME_MAX + 1];
    char key[METRIC_NAME_MAX + 1];
    char value[METRIC_VALUE_MAX + 1];
};

/* Bytes of one level's output since its last line end. */
struct metric_line {
    char buf[METRIC_LINE_MAX];
    size_t len;
    int overflow; /* the current line passed METRIC_LINE_MAX */
};

struct guest_metrics {
    struct guest_metric *rows; /* in the order printed */
    size_t count, capacity;
    uint64_t lines_dropped;   /* too long, or no room for their rows */
    uint64_t pairs_rejected;  /* not k=v, or a key or value out of bounds */
    struct metric_line line[METRIC_LEVELS];
};

void metrics_init(struct guest_metrics *m);
void metrics_free(struct guest_metrics *m);

/* One complete line printed by `level` (1 or 2), with or without its
 * "\n" or "\r\n". Lines that are not RESULT/METRIC lines are ignored.
 * Returns the number of rows added. */
size_t metrics_parse_line(struct guest_metrics *m, unsigned level,
                          const char *line, size_t len);

/* Raw serial bytes from `level`, in any pieces (a byte at a time from the
 * UART is fine): complete lines are parsed, the rest waits. "\n", "\r"
 * and "\r\n" all end a line. */
void metrics_feed(struct guest_metrics *m, unsigned level, const char *bytes,
                  size_t n);

/* Parses what is left after the last line end, for output that stopped
 * mid-line (a guest killed while printing). */
void metrics_flush(struct guest_metrics *m);

const char *metric_kind_name(enum metric_kind kind);

#endif
