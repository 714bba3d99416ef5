#include "record/roi.h"

#include <string.h>
#include <time.h>

void roi_init(struct roi *r)
{
    memset(r, 0, sizeof *r);
}

uint64_t roi_host_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void add_cell(struct exit_cell *sum, const struct exit_cell *now,
                     const struct exit_cell *then)
{
    sum->count += now->count - then->count;
    sum->cycles += now->cycles - then->cycles;
    sum->host_ns += now->host_ns - then->host_ns;
}

/* sum += now - then, for the exit cells and the nested costs. */
static void add_stats(struct exit_stats *sum, const struct exit_stats *now,
                      const struct exit_stats *then)
{
    for (unsigned h = 0; h < STATS_HANDLER_LEVELS; h++)
        for (unsigned g = 0; g < STATS_GUEST_LEVELS; g++)
            for (unsigned k = 0; k < EXIT_REASON_LIMIT; k++)
                add_cell(&sum->cell[h][g][k], &now->cell[h][g][k],
                         &then->cell[h][g][k]);
    for (unsigned k = 0; k < EXIT_REASON_LIMIT; k++) {
        struct nested_cost *s = &sum->nested[k];
        const struct nested_cost *a = &now->nested[k], *b = &then->nested[k];
        s->l2_exits += a->l2_exits - b->l2_exits;
        s->l1_exits_caused += a->l1_exits_caused - b->l1_exits_caused;
        for (unsigned p = 0; p < NESTED_PARTS; p++)
            s->cycles[p] += a->cycles[p] - b->cycles[p];
        for (unsigned j = 0; j < EXIT_REASON_LIMIT; j++)
            s->l1_exits_by_reason[j] +=
                a->l1_exits_by_reason[j] - b->l1_exits_by_reason[j];
    }
}

static void end_region(struct roi *r, struct roi_point now,
                       const struct exit_stats *st)
{
    r->sum.instructions += now.instructions - r->start.instructions;
    r->sum.cycles += now.cycles - r->start.cycles;
    r->sum.host_ns += now.host_ns - r->start.host_ns;
    if (st)
        add_stats(&r->stats, st, &r->at_start);
    r->regions++;
    r->open = false;
}

void roi_mark(struct roi *r, uint32_t ecx, struct roi_point now,
              const struct exit_stats *st)
{
    if (ecx == ROI_START && !r->open) {
        r->open = true;
        r->start = now;
        if (st)
            r->at_start = *st;
    } else if (ecx == ROI_END && r->open) {
        end_region(r, now, st);
    } else {
        r->marks_refused++;
    }
}

void roi_finish(struct roi *r, struct roi_point now,
                const struct exit_stats *st)
{
    if (!r->open)
        return;
    end_region(r, now, st);
    r->ended_by_run = true;
}
