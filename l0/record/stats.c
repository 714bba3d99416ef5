/* Exit accounting of one run: the parts that are not on the hot path
 * (stats_count and stats_nested_charge are inline in stats.h). */
#include "record/stats.h"

#include <string.h>

void stats_init(struct exit_stats *st)
{
    memset(st, 0, sizeof *st);
}

void stats_nested_begin(struct exit_stats *st, unsigned l2_reason)
{
    if (st->nested_open)
        stats_nested_end(st);
    memset(&st->nested_now, 0, sizeof st->nested_now);
    st->nested_now.l2_exits = 1;
    st->nested_reason = (uint16_t)l2_reason;
    /* An out-of-range reason still opens the episode, so that the L1
     * exits it causes are not charged to the previous one; it is dropped
     * at the end, like stats_count drops it. */
    st->nested_open = 1;
}

void stats_nested_end(struct exit_stats *st)
{
    if (!st->nested_open)
        return;
    st->nested_open = 0;
    if (st->nested_reason >= EXIT_REASON_LIMIT)
        return;
    struct nested_cost *n = &st->nested[st->nested_reason];
    n->l2_exits += st->nested_now.l2_exits;
    n->l1_exits_caused += st->nested_now.l1_exits_caused;
    for (unsigned part = 0; part < NESTED_PARTS; part++)
        n->cycles[part] += st->nested_now.cycles[part];
    if (st->nested_now.l1_exits_caused)
        for (unsigned k = 0; k < EXIT_REASON_LIMIT; k++)
            n->l1_exits_by_reason[k] += st->nested_now.l1_exits_by_reason[k];
}

/* Index ranges for stats_sum: a negative request means the whole range. */
static void range(int want, int lo, int hi, int *from, int *to)
{
    *from = want < 0 ? lo : want;
    *to = want < 0 ? hi : want;
}

struct exit_cell stats_sum(const struct exit_stats *st, int handler_level,
                           int guest_level, int reason)
{
    struct exit_cell sum = {0, 0, 0};
    int h0, h1, g0, g1, r0, r1;
    range(handler_level, 0, STATS_HANDLER_LEVELS - 1, &h0, &h1);
    range(guest_level, 1, STATS_GUEST_LEVELS, &g0, &g1);
    range(reason, 0, EXIT_REASON_LIMIT - 1, &r0, &r1);
    if (h1 >= STATS_HANDLER_LEVELS || g0 < 1 || g1 > STATS_GUEST_LEVELS ||
        r1 >= EXIT_REASON_LIMIT)
        return sum;
    for (int h = h0; h <= h1; h++)
        for (int g = g0; g <= g1; g++)
            for (int r = r0; r <= r1; r++) {
                const struct exit_cell *c = &st->cell[h][g - 1][r];
                sum.count += c->count;
                sum.cycles += c->cycles;
                sum.host_ns += c->host_ns;
            }
    return sum;
}

/* "record." names are the writer's own (what it had to drop, db.c). */
static const char reserved_prefix[] = "record.";

static int valid_counter_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STATS_COUNTER_NAME_MAX ||
        strncmp(name, reserved_prefix, sizeof reserved_prefix - 1) == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.'))
            return 0;
    }
    return 1;
}

uint64_t *stats_counter(struct exit_stats *st, const char *name)
{
    if (!name || !valid_counter_name(name))
        return NULL;
    for (unsigned i = 0; i < st->counter_count; i++)
        if (strcmp(st->counters[i].name, name) == 0)
            return &st->counters[i].value;
    if (st->counter_count == STATS_COUNTERS_MAX)
        return NULL;
    struct stats_counter *c = &st->counters[st->counter_count++];
    strcpy(c->name, name);
    c->value = 0;
    return &c->value;
}

int stats_counter_set(struct exit_stats *st, const char *name, uint64_t v)
{
    uint64_t *p = stats_counter(st, name);
    if (!p)
        return -1;
    *p = v;
    return 0;
}

int stats_counter_add(struct exit_stats *st, const char *name, uint64_t d)
{
    uint64_t *p = stats_counter(st, name);
    if (!p)
        return -1;
    *p += d;
    return 0;
}
