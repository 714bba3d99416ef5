#include "results.h"

#include <stdio.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "machine.h"

#ifndef TURTLES_GIT_REVISION
#define TURTLES_GIT_REVISION ""
#endif

const char *results_revision(void)
{
    return TURTLES_GIT_REVISION[0] ? TURTLES_GIT_REVISION : NULL;
}

/* The emulator's own counters, as the `counters` table holds them. */
static void emulator_counters(struct exit_stats *st, const struct cpu *c)
{
    stats_counter_set(st, "tlb_fills", c->tlb.fills);
    stats_counter_set(st, "tlb_flushes", c->tlb.flushes);
    stats_counter_set(st, "decoded", dcache_decoded(c->dcache));
    stats_counter_set(st, "walk_refs", c->walk_refs);
    stats_counter_set(st, "ept_walk_refs", c->vmx.ept_walk_refs);
    /* The modeled TLB (cpu/tlb_model.h): what decides modeled cycles. */
    const struct tlbm_stats *t = &c->mtlb->stats;
    stats_counter_set(st, "modeled_tlb_hits", t->hits);
    stats_counter_set(st, "modeled_tlb_stlb_hits", t->stlb_hits);
    stats_counter_set(st, "modeled_tlb_misses", t->misses);
    stats_counter_set(st, "modeled_walk_refs", t->walk_refs);
    stats_counter_set(st, "modeled_tlb_flushes", t->flushes);
    stats_counter_set(st, "modeled_mmu_cycles", t->cycles);
}

int results_write(struct db *db, const struct run_facts *f,
                  struct machine *m, struct exit_stats *stats,
                  const struct guest_metrics *metrics,
                  const struct exit_trace *trace)
{
    struct run_option options[14] = {
        {"mode", f->mode, 0},
        {"mem_mib", NULL, (int64_t)f->mem_mib},
        {"max_insns", NULL, (int64_t)f->max_insns},
        {"cost_profile", f->cost_arg, 0},
        {"engine", f->engine, 0},
    };
    size_t n = 5;
    if (f->label)
        options[n++] = (struct run_option){"label", f->label, 0};
    if (f->l1_args) {
        options[n++] = (struct run_option){"l1_args", f->l1_args, 0};
        options[n++] = (struct run_option){
            "vmcs_shadowing", f->shadowing ? "on" : "off", 0};
        options[n++] = (struct run_option){
            "merge", f->merge_dirty ? "dirty" : "full", 0};
    }
    if (f->l1)
        options[n++] = (struct run_option){"l1", f->l1, 0};
    if (f->l1_kernel)
        options[n++] = (struct run_option){"l1_kernel", f->l1_kernel, 0};
    if (f->l1_initrd)
        options[n++] = (struct run_option){"l1_initrd", f->l1_initrd, 0};
    if (f->l0_traps)
        options[n++] = (struct run_option){"l0_traps", f->l0_traps, 0};
    if (f->l0_exception_bitmap >= 0)
        options[n++] = (struct run_option){"l0_exception_bitmap", NULL,
                                           f->l0_exception_bitmap};
    emulator_counters(stats, m->cpu);
    const char *rev = results_revision();
    struct run_record r = {
        .started_at = f->started,
        .finished_at = f->finished,
        .mode = f->mode,
        .image = f->image,
        .cmdline = f->cmdline,
        .options = options,
        .option_count = n,
        .git_revision = rev,
        .cost_profile = f->cost_profile,
        .cost_profile_json = f->cost_text,
        .stop = m->stop,
        .exit_code = f->exit_code,
        .has_guest_status = m->stop == STOP_DEBUG_EXIT,
        .guest_status = m->exit_status,
        .instructions = m->cpu->insns,
        .cycles = m->cpu->cycles,
        .host_ns = f->host_ns,
        .roi = m->roi,
    };
    char err[512];
    int64_t run_id = db_write_run(db, &r, stats, metrics, trace, err,
                                  sizeof err);
    if (run_id < 0) {
        fprintf(stderr, "turtles: --db: %s\n", err);
        return -1;
    }
    /* stderr: stdout is the guest's serial output. */
    fprintf(stderr, "turtles: --db: wrote run_id=%lld\n", (long long)run_id);
    return 0;
}
