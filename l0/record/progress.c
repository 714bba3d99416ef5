#include "record/progress.h"

#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void progress_init(struct progress *p, bool enabled, FILE *out,
                   uint64_t tsc_hz)
{
    *p = (struct progress){.out = enabled ? out : NULL, .tsc_hz = tsc_hz};
    if (!p->out)
        return;
    uint64_t delay_ms = PROGRESS_DELAY_MS;
    const char *env = getenv("TURTLES_PROGRESS_DELAY_MS");
    if (env && *env)
        delay_ms = strtoull(env, NULL, 10);
    p->start_ns = now_ns();
    p->next_ns = p->start_ns + delay_ms * 1000000u;
}

void progress_poll(struct progress *p, uint64_t insns, uint64_t cycles)
{
    if (!p->out || (++p->polls & 255))
        return;
    uint64_t now = now_ns();
    if (now < p->next_ns)
        return;
    p->next_ns = now + PROGRESS_PERIOD_MS * 1000000ull;
    double host_s = (double)(now - p->start_ns) / 1e9;
    uint64_t exits = p->stats ? stats_sum(p->stats, -1, -1, -1).count : 0;
    /* \r and "erase to the end of the line" (ECMA-48 EL): the line is
     * redrawn in place. */
    fprintf(p->out,
            "\rturtles: %.0f s, %.1f M instructions (%.1f MIPS), %llu exits, "
            "modeled %.3f s\033[K",
            host_s, (double)insns / 1e6,
            host_s > 0 ? (double)insns / 1e6 / host_s : 0.0,
            (unsigned long long)exits, (double)cycles / (double)p->tsc_hz);
    fflush(p->out);
    p->shown = true;
}

void progress_end(struct progress *p)
{
    if (p->out && p->shown) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    p->shown = false;
    p->out = NULL;
}
