/* The region of interest of a run: the part a guest marks as measured,
 * so that a slowdown is not dominated by boot and printing.
 *
 * A guest marks it with CPUID leaf 0x4FFFFFFB (docs/exit-stats.md): ECX
 * = 1 starts a region, ECX = 2 ends it. The leaf is an ordinary CPUID to
 * the guest (it returns what any unknown leaf returns, so the guest runs
 * the same on QEMU and Bochs); turtles takes note of the mark. The marks
 * are taken from the level that runs the image: the CPU itself in --mode
 * bare, the guest's CPUID exit in --mode single, and L2's CPUID exit (seen
 * by L0 before it reflects it to L1) in --mode nested.
 *
 * A mark is taken before the marking instruction retires and before its
 * exit is counted: the start mark's CPUID and its exit are in the region,
 * the end mark's are not. Several regions add up. What is kept per region
 * is the difference of the run's totals between the two marks. */
#ifndef L0_RECORD_ROI_H
#define L0_RECORD_ROI_H

#include <stdbool.h>
#include <stdint.h>

#include "record/stats.h"

#define ROI_LEAF 0x4FFFFFFBu
enum { ROI_START = 1, ROI_END = 2 };

/* Totals of the run at one moment. */
struct roi_point {
    uint64_t instructions, cycles, host_ns;
};

struct roi {
    uint64_t regions;       /* regions ended (by a mark or by the run) */
    uint64_t marks_refused; /* a start inside a region, an end outside
                             * one, or an ECX that is neither */
    bool open;              /* inside a region now */
    bool ended_by_run;      /* the run ended inside a region */
    struct roi_point start; /* the open region's start */
    struct roi_point sum;   /* summed over the ended regions */
    /* Exits and nested costs: the run's at the open region's start, and
     * summed over the ended regions (cells and nested only). */
    struct exit_stats at_start, stats;
};

/* Zero: no region yet. */
void roi_init(struct roi *r);

/* A CPUID 0x4FFFFFFB with this ECX, at the run's totals `now` and exit
 * statistics `st` (NULL when the run has none, --mode bare). */
void roi_mark(struct roi *r, uint32_t ecx, struct roi_point now,
              const struct exit_stats *st);

/* At the end of the run: a region still open ends here. */
void roi_finish(struct roi *r, struct roi_point now,
                const struct exit_stats *st);

/* Did the guest mark anything? (A run without marks has no ROI rows.) */
static inline bool roi_used(const struct roi *r)
{
    return r->regions || r->open || r->marks_refused;
}

/* Host time for a roi_point: CLOCK_MONOTONIC in nanoseconds. */
uint64_t roi_host_ns(void);

#endif
