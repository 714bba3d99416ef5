/* The per-exit trace of a run (turtles run --trace): every exit in order,
 * each L1 exit linked to the L2 exit whose handling caused it, so that the
 * path of one L2 exit through the levels can be shown.
 *
 * A growable buffer with a cap: a long run cannot exhaust host memory
 * through its trace; what does not fit is counted and the trace is marked
 * truncated (the database says so). Exits are only ever dropped from the
 * end, so a recorded exit's parent is always recorded too. */
#ifndef L0_RECORD_TRACE_H
#define L0_RECORD_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* parent_seq of an exit that no L2 exit caused; also what trace_add
 * returns when the exit was not recorded. */
#define TRACE_NO_SEQ UINT64_MAX

struct trace_entry {
    uint64_t seq;        /* set by trace_add: 0, 1, 2 ... in order */
    uint64_t parent_seq; /* the L2 exit that caused it, or TRACE_NO_SEQ */
    uint8_t handler_level, guest_level; /* as in stats.h */
    uint16_t reason;                    /* basic exit reason */
    uint64_t qualification;
    uint64_t guest_rip;
    uint64_t cycle;   /* modeled time of the exit */
    uint64_t cycles;  /* modeled cost of handling it */
    uint64_t host_ns;
};

/* A cap for turtles run --trace: 64 MiB of 64-byte entries. */
enum { TRACE_DEFAULT_CAP = 1 << 20 };

struct exit_trace {
    struct trace_entry *entries;
    size_t count, capacity; /* capacity: allocated entries */
    size_t cap;             /* the most it may ever hold */
    uint64_t dropped;       /* exits that came after the cap was reached */
    int truncated;          /* dropped > 0, or an allocation failed */
};

/* An empty trace that will hold at most `cap` exits. */
void trace_init(struct exit_trace *t, size_t cap);
void trace_free(struct exit_trace *t);

/* Appends *e (its seq is assigned). Returns the seq to pass as parent_seq
 * to the exits this one causes, or TRACE_NO_SEQ if it was dropped. */
uint64_t trace_add(struct exit_trace *t, const struct trace_entry *e);

#endif
