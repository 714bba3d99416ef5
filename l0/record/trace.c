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
