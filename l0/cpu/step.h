/* The execution of one fetched instruction, shared by the step engine
 * (cpu.c) and the block engine (block.c), so that both run exactly the
 * same code around an instruction: the modeled cycle it costs, debug
 * checks, VMX intercepts, retirement and the delivery of what it raised.
 * Only how the record is found differs between the engines. */
#ifndef L0_CPU_STEP_H
#define L0_CPU_STEP_H

#include "cpu/cpu.h"
#include "cpu/debug.h"
#include "cpu/decode.h"
#include "cpu/exec.h"
#include "cpu/tlb_charge.h"
#include "vmx/vmx.h"

/* The end of an instruction that raised an exception or a VM exit. */
void cpu_finish_event(struct cpu *c);

/* Instructions that deliver an event themselves and clear TF as they
 * do: no single-step trap follows them (SDM Vol. 3B 18.3.1.4). */
static inline bool step_delivers_event(const struct insn *i)
{
    return i->exec == exec_int || i->exec == exec_int3 ||
           i->exec == exec_int1;
}

/* Executes the record `i` fetched for c->rip (NULL: the fetch raised an
 * exception), with the step's modeled cycle. `plain` (a constant where
 * it is inlined) promises 64-bit code, no debugging (TF, RF, an armed
 * breakpoint or a waiting trap) and no VMX intercept for `i`: the block
 * engine's fast path (cpu/block.c), where the checks it leaves out
 * could only answer no. `charge_fetch` false means the caller has
 * already met the modeled TLB for this fetch with the same outcome
 * (cpu/block.c: the same page as the last fetch, known to hit). */
static inline __attribute__((always_inline)) void
step_execute_charged(struct cpu *c, const struct insn *i, bool plain,
                     bool charge_fetch)
{
    c->cycles++;
    /* Whether this step paused a REP string (exec_move.c), never an
     * earlier one's: an instruction that does not reach exec_string()
     * (a breakpoint, a VM exit, a fault before it) after an event taken
     * at a pause must not be taken for the paused string. */
    c->string_paused = false;
    if (i) {
        if (charge_fetch)
            tlb_charge_fetch(c, plain || c->code64
                                    ? c->rip
                                    : (c->seg[SEG_CS].base + c->rip) &
                                          0xFFFFFFFF,
                             i->len);
        uint64_t next = c->rip + i->len;
        bool single_step = !plain && (c->flags.bits & FL_TF);
        /* TF, RF, a breakpoint or a waiting #DB trap: cpu/debug.h. */
        bool debugging = !plain && (single_step ||
                                    (c->flags.bits & FL_RF) ||
                                    c->dbg.active);
        bool done = false;
        c->next_rip = plain || c->code64 ? next : (next & 0xFFFFFFFF);
        if (__builtin_expect(debugging, 0) && !debug_before(c)) {
            /* An instruction breakpoint: a #DB fault before it. */
        } else if (!plain && c->vmx.nonroot && i->vmx_exits &&
                   vmx_intercept(c, i)) {
            /* Exited, faulted, or carried out by the VMX engine. */
            done = !c->vmx.request.pending && !c->exc.raised;
        } else {
            done = i->exec(c, i);
        }
        if (done) {
            c->rip = c->next_rip;
            c->insns++;
            if (__builtin_expect(debugging, 0))
                debug_after(c, single_step, step_delivers_event(i));
        } else if (__builtin_expect(debugging, 0) && c->string_paused &&
                   i->exec == exec_string) {
            debug_after_iteration(c, single_step);
        }
    }
    if (__builtin_expect(c->exc.raised || c->vmx.request.pending, 0))
        cpu_finish_event(c);
}

static inline __attribute__((always_inline)) void
step_execute(struct cpu *c, const struct insn *i)
{
    step_execute_charged(c, i, false, true);
}

#endif
