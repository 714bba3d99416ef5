/* The handler behind rt_catch: records the exception and makes the probe
 * that raised it return 1 (probe.h). */
#include "probe.h"

#include "cpu.h"
#include "rt.h"

volatile struct rt_caught rt_caught;

extern const char __start_rt_probes[], __stop_rt_probes[];
extern const char rt_probe_fail[];

static int in_probes(uint64_t rip)
{
    return rip >= (uint64_t)(uintptr_t)__start_rt_probes &&
           rip < (uint64_t)(uintptr_t)__stop_rt_probes;
}

static void on_caught(struct rt_frame *f)
{
    /* A fetch fault leaves RIP at the target and the probe's return
     * address on top of the stack. */
    if (!in_probes(f->rip) && !in_probes(*(const uint64_t *)f->rsp)) {
        rt_report_exception(f);
        rt_exit(RT_EXIT_EXCEPTION);
    }
    rt_caught.vector = f->vector;
    rt_caught.error = f->error;
    rt_caught.cr2 = read_cr2();
    rt_caught.rip = f->rip;
    rt_caught.cs = f->cs;
    rt_caught.count++;
    f->rip = (uint64_t)(uintptr_t)rt_probe_fail;
}

void rt_catch(unsigned vector) { rt_set_handler(vector, on_caught); }
