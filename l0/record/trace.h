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

/* L0's own work inside the handling of a traced exit, for the teaching
 * timeline (docs/results.md, trace_steps): what L0 decided and did, with
 * the modeled cycles charged for the step alone (0 when its cost is part
 * of the exit's handler cost). */
enum trace_step_kind {
    STEP_REFLECT,       /* an L2 exit goes to L1; detail: why */
    STEP_L0_HANDLES,    /* an L2 exit L0 handles alone; detail: why */
    STEP_NESTED_EXIT,   /* vmcs02 -> vmcs12; value: fields copied */
    STEP_SYNC_TO_SHADOW,   /* vmcs12 -> shadow VMCS; value: fields */
    STEP_SYNC_FROM_SHADOW, /* shadow VMCS -> vmcs12; value: fields */
    STEP_ENTRY_CHECKS,  /* L1's VM entry checked; value: 1 passed, 0 not;
                           detail: the failed rule */
    STEP_MERGE,         /* vmcs12 -> vmcs02; value: fields copied;
                           detail: "full" or "dirty" */
    STEP_EPT02_FILL,    /* an EPT02 miss; value: L2's guest-physical
                           address; detail: the outcome */
    STEP_VMREAD,        /* L1's trapped VMREAD; field, value read */
    STEP_VMWRITE,       /* L1's trapped VMWRITE; field, value written */
    STEP_L2_RESUMES,    /* the VM entry that ends an L2 exit's episode;
                           cycles: the whole episode, from the L2 exit to
                           this entry (nested_costs' cycles_total) */
    STEP_KINDS
};

struct trace_step {
    uint64_t exit_seq;  /* the exit during whose handling it happened */
    uint64_t cycle;     /* modeled time, after the step */
    uint8_t kind;       /* enum trace_step_kind */
    uint8_t has_field, has_value;
    uint32_t field;     /* VMCS field encoding */
    uint64_t value;
    uint64_t cycles;
    const char *detail; /* static text or NULL */
};

struct exit_trace {
    struct trace_entry *entries;
    size_t count, capacity; /* capacity: allocated entries */
    size_t cap;             /* the most it may ever hold */
    uint64_t dropped;       /* exits that came after the cap was reached */
    int truncated;          /* dropped > 0, or an allocation failed */
    struct trace_step *steps; /* in order; at most `cap` of them too */
    size_t step_count, step_capacity;
    uint64_t steps_dropped;
};

/* An empty trace that will hold at most `cap` exits. */
void trace_init(struct exit_trace *t, size_t cap);
void trace_free(struct exit_trace *t);

/* Appends *e (its seq is assigned). Returns the seq to pass as parent_seq
 * to the exits this one causes, or TRACE_NO_SEQ if it was dropped. */
uint64_t trace_add(struct exit_trace *t, const struct trace_entry *e);

/* The seq the exit being handled now will get from trace_add, or
 * TRACE_NO_SEQ if it will not be recorded. */
uint64_t trace_next_seq(const struct exit_trace *t);

/* Appends a step (a step whose exit_seq is TRACE_NO_SEQ is dropped and
 * counted, as is one past the cap). */
void trace_step_add(struct exit_trace *t, const struct trace_step *s);

/* "reflect", "merge", ... as the trace_steps table names the kinds. */
const char *trace_step_name(unsigned kind);

#endif
