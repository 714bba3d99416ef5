/* Exit accounting of one run, in memory: a cell per (handler level,
 * exited level, basic exit reason) holding count, modeled cycles and host
 * nanoseconds; the nested-cost accumulator that charges each L2 exit with
 * the L1 exits and cycles it caused; and named whole-run counters.
 *
 * Plain C data with no allocation, so the CPU side fills it on the hot
 * path and the SQLite writer (db.h) reads it once at the end of the run.
 * Zero-initialized (stats_init or memset) it is an empty run. */
#ifndef L0_RECORD_STATS_H
#define L0_RECORD_STATS_H

#include <stdint.h>

/* Basic exit reasons are 16 bits (SDM Vol. 3C 28.2.1) but the SDM
 * defines fewer than 80; a cell per possible value would waste memory. */
enum { EXIT_REASON_LIMIT = 80 };

/* Levels: 0 is L0 (this emulator), 1 the guest of L0 (l1vmm in nested
 * mode), 2 the guest of L1. An exit is counted once, under the level whose
 * handler dealt with it: (0, 1) L0 handled an L1 exit, (0, 2) L0 handled
 * an L2 exit without L1, (1, 2) the L2 exit was reflected to L1. */
enum { STATS_HANDLER_LEVELS = 2, STATS_GUEST_LEVELS = 2 };

struct exit_cell {
    uint64_t count;
    uint64_t cycles;  /* modeled cost of handling, from the cost profile */
    uint64_t host_ns; /* host time spent handling: the only varying figure */
};

/* Where the cycles of a nested episode were spent. */
enum nested_part {
    NESTED_L0,          /* L0's handlers (its own, and emulating L1's VMX) */
    NESTED_L1,          /* L1's exit handler, interpreted */
    NESTED_L2,          /* guest time attributed to the exit, if any */
    NESTED_TRANSITIONS, /* modeled VM exit and VM entry costs */
    NESTED_PARTS
};

/* The cost of L2 exits of one reason under nesting (Turtles' Figures 6
 * and 10). The total is not stored: it is the sum of the parts. */
struct nested_cost {
    uint64_t l2_exits;
    uint64_t l1_exits_caused; /* L1 exits while the L2 exits were handled */
    uint64_t cycles[NESTED_PARTS];
    /* l1_exits_caused by L1's basic exit reason (the nested_l1_exits
     * table): which of L1's exits each L2 exit reason caused, e.g. the
     * VMREAD/VMWRITE traps of one L2 CPUID, apart from the L1 exits no L2
     * exit caused (an L1's own setup). Sums to l1_exits_caused. */
    uint64_t l1_exits_by_reason[EXIT_REASON_LIMIT];
};

/* Named counters: few, set at the end of a run or bumped through the
 * pointer stats_counter returns. Names are [a-z0-9_.], 1..47 chars, and
 * do not start with "record." (the writer's own counters). */
enum { STATS_COUNTERS_MAX = 64, STATS_COUNTER_NAME_MAX = 47 };

struct stats_counter {
    char name[STATS_COUNTER_NAME_MAX + 1];
    uint64_t value;
};

struct exit_stats {
    struct exit_cell cell[STATS_HANDLER_LEVELS][STATS_GUEST_LEVELS]
                         [EXIT_REASON_LIMIT];
    /* Exits that stats_count refused (a level pair or reason out of
     * range): the writer records them as a counter rather than lose them
     * silently. */
    uint64_t dropped_exits;

    struct nested_cost nested[EXIT_REASON_LIMIT];
    /* The L2 exit being handled, between stats_nested_begin and _end.
     * An episode still open when the run is written is not written. */
    int nested_open;
    uint16_t nested_reason;
    struct nested_cost nested_now;

    struct stats_counter counters[STATS_COUNTERS_MAX];
    unsigned counter_count;
};

void stats_init(struct exit_stats *st);

/* One exit, after it was handled. guest_level is the level that exited.
 * While a nested episode is open, an exit of L1 is also charged to it as
 * an L1 exit caused by the L2 exit (its cycles are charged explicitly,
 * with stats_nested_charge, because only the caller knows the split). */
static inline void stats_count(struct exit_stats *st, unsigned handler_level,
                               unsigned guest_level, unsigned reason,
                               uint64_t cycles, uint64_t host_ns)
{
    if (handler_level >= guest_level || guest_level > STATS_GUEST_LEVELS ||
        reason >= EXIT_REASON_LIMIT) {
        st->dropped_exits++;
        return;
    }
    struct exit_cell *c = &st->cell[handler_level][guest_level - 1][reason];
    c->count++;
    c->cycles += cycles;
    c->host_ns += host_ns;
    if (st->nested_open && guest_level == 1) {
        st->nested_now.l1_exits_caused++;
        st->nested_now.l1_exits_by_reason[reason]++;
    }
}

/* A nested episode: from an L2 exit (handled by L0 alone or reflected to
 * L1) to the VM entry that resumes L2. begin while one is open ends the
 * open one first, so a lost _end cannot merge two exits. */
void stats_nested_begin(struct exit_stats *st, unsigned l2_reason);
static inline void stats_nested_charge(struct exit_stats *st,
                                       enum nested_part part, uint64_t cycles)
{
    if (st->nested_open && (unsigned)part < NESTED_PARTS)
        st->nested_now.cycles[part] += cycles;
}
void stats_nested_end(struct exit_stats *st);

static inline uint64_t nested_cost_total(const struct nested_cost *n)
{
    uint64_t total = 0;
    for (unsigned part = 0; part < NESTED_PARTS; part++)
        total += n->cycles[part];
    return total;
}

/* Sums cells; a negative argument means "every value": e.g.
 * stats_sum(st, -1, 1, 10) is every CPUID exit of L1, whoever handled it
 * (what the CPUID 0x4FFFFFFE leaf reports). */
struct exit_cell stats_sum(const struct exit_stats *st, int handler_level,
                           int guest_level, int reason);

/* The value of counter `name`, created at 0 if new; stable for the life
 * of st, so a hot path may keep it. NULL if the name is invalid or the
 * table is full. */
uint64_t *stats_counter(struct exit_stats *st, const char *name);
/* Shorthands; return 0, or -1 as stats_counter would give NULL. */
int stats_counter_set(struct exit_stats *st, const char *name, uint64_t v);
int stats_counter_add(struct exit_stats *st, const char *name, uint64_t d);

#endif
