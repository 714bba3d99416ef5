/* Parser of the guests' RESULT and METRIC lines (docs/guests.md). */
#include "record/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "record/grow.h"

static const char *const kind_words[] = {
    [METRIC_RESULT] = "RESULT",
    [METRIC_METRIC] = "METRIC",
};
enum { KIND_COUNT = sizeof kind_words / sizeof kind_words[0] };

enum { ROWS_FIRST_CAPACITY = 64 };

const char *metric_kind_name(enum metric_kind kind)
{
    return (unsigned)kind < KIND_COUNT ? kind_words[kind] : "?";
}

void metrics_init(struct guest_metrics *m)
{
    memset(m, 0, sizeof *m);
}

void metrics_free(struct guest_metrics *m)
{
    free(m->rows);
    metrics_init(m);
}

struct span {
    const char *p;
    size_t len;
};

/* The next run of bytes between spaces or tabs; 0 at the end. */
static int next_token(struct span *rest, struct span *tok)
{
    while (rest->len && (*rest->p == ' ' || *rest->p == '\t'))
        rest->p++, rest->len--;
    tok->p = rest->p;
    while (rest->len && *rest->p != ' ' && *rest->p != '\t')
        rest->p++, rest->len--;
    tok->len = (size_t)(rest->p - tok->p);
    return tok->len != 0;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int valid_name(struct span s)
{
    if (s.len == 0 || s.len > METRIC_NAME_MAX)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if (!name_char(s.p[i]))
            return 0;
    return 1;
}

static int valid_value(struct span s)
{
    if (s.len == 0 || s.len > METRIC_VALUE_MAX)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] < 0x21 || (unsigned char)s.p[i] > 0x7e)
            return 0;
    return 1;
}

/* Splits "k=v" at its first '='; 0 if it is not a valid pair. */
static int split_pair(struct span tok, struct span *key, struct span *value)
{
    const char *eq = memchr(tok.p, '=', tok.len);
    if (!eq)
        return 0;
    *key = (struct span){tok.p, (size_t)(eq - tok.p)};
    *value = (struct span){eq + 1, tok.len - key->len - 1};
    return valid_name(*key) && valid_value(*value);
}

/* The kind of a line that starts with RESULT or METRIC and a space, or -1:
 * the test that decides whether a line is ours at all. */
static int line_kind(struct span line)
{
    for (int k = 0; k < KIND_COUNT; k++) {
        size_t n = strlen(kind_words[k]);
        if (line.len > n && memcmp(line.p, kind_words[k], n) == 0 &&
            (line.p[n] == ' ' || line.p[n] == '\t'))
            return k;
    }
    return -1;
}

/* Room for `more` rows; a line's rows land together or not at all. */
static int reserve(struct guest_metrics *m, size_t more)
{
    if (!more)
        return 0;
    struct guest_metric *p = grow_to(m->rows, &m->capacity, m->count + more,
                                     sizeof *p, ROWS_FIRST_CAPACITY,
                                     METRIC_ROWS_MAX);
    if (!p)
        return -1;
    m->rows = p;
    return 0;
}

static void copy_span(char *dst, struct span s)
{
    memcpy(dst, s.p, s.len);
    dst[s.len] = '\0';
}

/* An L1 hypervisor forwards its guest's console as "[L2] line" on its own
 * (l1vmm's convention, docs/l1vmm.md): such a line printed by level 1 is
 * level 2's line, and is recorded with level 2. */
static const char l2_forward_prefix[] = "[L2] ";

static void strip_forward_prefix(struct span *line, unsigned *level)
{
    size_t n = sizeof l2_forward_prefix - 1;
    if (*level == 1 && line->len >= n &&
        memcmp(line->p, l2_forward_prefix, n) == 0) {
        line->p += n;
        line->len -= n;
        *level = 2;
    }
}

size_t metrics_parse_line(struct guest_metrics *m, unsigned level,
                          const char *text, size_t len)
{
    struct span line = {text, len};
    while (line.len && (line.p[line.len - 1] == '\n' ||
                        line.p[line.len - 1] == '\r'))
        line.len--;
    strip_forward_prefix(&line, &level);
    int kind = line_kind(line);
    if (kind < 0 || level < 1 || level > METRIC_LEVELS)
        return 0;
    struct span rest = line, tok, guest, key, value;
    next_token(&rest, &tok); /* the kind word */
    if (line.len > METRIC_LINE_MAX || !next_token(&rest, &guest) ||
        !valid_name(guest)) {
        m->lines_dropped++;
        return 0;
    }
    /* Count first, so that a line either lands whole or not at all when
     * the rows run out. */
    struct span pairs = rest;
    size_t good = 0, bad = 0;
    while (next_token(&rest, &tok))
        split_pair(tok, &key, &value) ? good++ : bad++;
    if (reserve(m, good) != 0) {
        m->lines_dropped++;
        return 0;
    }
    m->pairs_rejected += bad;
    while (next_token(&pairs, &tok)) {
        if (!split_pair(tok, &key, &value))
            continue;
        struct guest_metric *row = &m->rows[m->count++];
        row->level = (uint8_t)level;
        row->kind = (uint8_t)kind;
        copy_span(row->guest, guest);
        copy_span(row->key, key);
        copy_span(row->value, value);
    }
    return good;
}

static void end_line(struct guest_metrics *m, unsigned level)
{
    struct metric_line *l = &m->line[level - 1];
    if (l->overflow) {
        /* Only the lines that claimed to be ours count as lost. */
        struct span start = {l->buf, l->len};
        unsigned from = level;
        strip_forward_prefix(&start, &from);
        if (line_kind(start) >= 0)
            m->lines_dropped++;
    } else if (l->len) {
        metrics_parse_line(m, level, l->buf, l->len);
    }
    l->len = 0;
    l->overflow = 0;
}

void metrics_feed(struct guest_metrics *m, unsigned level, const char *bytes,
                  size_t n)
{
    if (level < 1 || level > METRIC_LEVELS)
        return;
    struct metric_line *l = &m->line[level - 1];
    for (size_t i = 0; i < n; i++) {
        char c = bytes[i];
        if (c == '\n' || c == '\r')
            end_line(m, level);
        else if (l->len < METRIC_LINE_MAX)
            l->buf[l->len++] = c;
        else
            l->overflow = 1;
    }
}

void metrics_flush(struct guest_metrics *m)
{
    for (unsigned level = 1; level <= METRIC_LEVELS; level++)
        end_line(m, level);
}
