/* REP MOVS, STOS and LODS over ordinary RAM, many iterations at a time
 * (string_fast.c): the same registers, memory, modeled cycles, modeled
 * TLB and instruction-limit figures as the same iterations made one at
 * a time by exec_string() (cpu/exec_move.c), which stays the reference
 * and takes every case this path declines. */
#ifndef L0_CPU_STRING_FAST_H
#define L0_CPU_STRING_FAST_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "machine.h"

/* Whether a REP string stops between two iterations, so that the run
 * loop can take what is due: an interrupt, an NMI or a VM exit (external
 * interrupt, preemption timer) the next event check finds, the machine
 * stopping, the instruction limit, a signal to the host process
 * (machine_take_signal), or a data breakpoint's #DB. */
static inline bool string_must_pause(const struct cpu *c)
{
    /* A data breakpoint traps after the iteration that hit it (SDM Vol.
     * 3B 18.3.1.2), and single-step after every iteration (18.3.1.4:
     * a REP string is stepped one iteration at a time): cpu/debug.c. */
    return c->cycles >= c->next_event_check ||
           cpu_steps(c) >= c->step_limit || c->m->stop_signal ||
           c->dbg.hits || (c->flags.bits & FL_TF);
}

/* Runs iterations of the REP string `i` (RCX != 0) with elements of
 * `size` bytes, RSI/RDI moving by `step`, and the per-iteration
 * bookkeeping of exec_string (RCX, the modeled cycle, rep_iterations):
 * at least one, and never past an iteration after which exec_string
 * would pause. False, with nothing done, where the element path must
 * take the next iteration. */
bool string_fast(struct cpu *c, const struct insn *i, unsigned size,
                 unsigned src_seg, int64_t step);

#endif
