/* The per-exit trace buffer: doubling growth up to the cap. */
#include "record/trace.h"

#include <stdlib.h>

#include "record/grow.h"

/* The first allocation: big enough that short runs never regrow. */
enum { TRACE_FIRST_CAPACITY = 1024 };

void trace_init(struct exit_trace *t, size_t cap)
{
    *t = (struct exit_trace){.cap = cap};
}

void trace_free(struct exit_trace *t)
{
    free(t->entries);
    free(t->steps);
    trace_init(t, t->cap);
}

static int grow(struct exit_trace *t)
{
    struct trace_entry *p = grow_to(t->entries, &t->capacity, t->count + 1,
                                    sizeof *p, TRACE_FIRST_CAPACITY, t->cap);
    if (!p)
        return -1;
    t->entries = p;
    return 0;
}

uint64_t trace_add(struct exit_trace *t, const struct trace_entry *e)
{
    if (t->truncated || t->count == t->cap ||
        (t->count == t->capacity && grow(t) != 0)) {
        /* Once one exit is dropped every later one is too: a recorded
         * child never points at a missing parent. */
        t->truncated = 1;
        t->dropped++;
        return TRACE_NO_SEQ;
    }
    struct trace_entry *slot = &t->entries[t->count];
    *slot = *e;
    slot->seq = t->count++;
    return slot->seq;
}

uint64_t trace_next_seq(const struct exit_trace *t)
{
    return t->truncated || t->count == t->cap ? TRACE_NO_SEQ : t->count;
}

void trace_step_add(struct exit_trace *t, const struct trace_step *s)
{
    struct trace_step *p = NULL;
    if (s->exit_seq != TRACE_NO_SEQ)
        p = grow_to(t->steps, &t->step_capacity, t->step_count + 1,
                    sizeof *p, TRACE_FIRST_CAPACITY, t->cap);
    if (!p) {
        t->steps_dropped++;
        return;
    }
    t->steps = p;
    t->steps[t->step_count++] = *s;
}

static const char *const step_names[STEP_KINDS] = {
    [STEP_REFLECT] = "reflect",
    [STEP_L0_HANDLES] = "l0-handles",
    [STEP_NESTED_EXIT] = "nested-exit",
    [STEP_SYNC_TO_SHADOW] = "sync-to-shadow",
    [STEP_SYNC_FROM_SHADOW] = "sync-from-shadow",
    [STEP_ENTRY_CHECKS] = "entry-checks",
    [STEP_MERGE] = "merge",
    [STEP_EPT02_FILL] = "ept02-fill",
    [STEP_VMREAD] = "vmread",
    [STEP_VMWRITE] = "vmwrite",
    [STEP_L2_RESUMES] = "l2-resumes",
};

const char *trace_step_name(unsigned kind)
{
    return kind < STEP_KINDS ? step_names[kind] : NULL;
}
