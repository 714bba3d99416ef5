/* The template JIT (`--engine jit`, x86-64 hosts only): the block
 * engine (cpu/block.c) with runs of its records turned into native
 * code. Everything else about a block stays the block engine's: when a
 * run is entered, and the bookkeeping after it (steps, modeled cycles,
 * the modeled fetch hits, a faulting or taken Jcc). The native code of
 * a run does exactly what calling the run's handlers one after the
 * other does (block.c run_records): some records are written out from
 * templates (exec_fast_template: ALU and MOV on general registers), the
 * others are calls of their handler with c->next_rip set first.
 *
 * Side exits. A run may also hold records with one data access to a
 * memory operand, the other operand a general register or an
 * immediate, not through FS or GS: MOV, MOVZX, MOVSX, MOVSXD and the
 * two-operand ALU forms (jit.c mem_kind). Native code runs such a
 * record (a helper doing what its handler does) where its access
 * takes ops.h's fast path with nothing else to do: within one page, a
 * host TLB hit with the rights (tlb_peek: a write also needs the dirty
 * bit and no decoded code on the page) and a modeled TLB hit through
 * the data hint (charge_data's first branch, counted as it counts it).
 * A fast-path access adds no modeled cycle: the record costs its
 * step's one, as in a run.
 *
 * Where any of that fails (a host TLB miss, a modeled TLB miss, a
 * page crossing, MMIO, a write to code or a fault), the native code
 * runs the record as the block engine runs the record a side exit
 * stops before (jit.c step_record): the records before it retire,
 * then step_execute_charged() with every check, which walks, fills the
 * TLB, sets A/D bits and charges the modeled TLB in its own order.
 * Where the block engine would then go on into the rest of the run
 * (the record retired at the next RIP, nothing it checks changed, the
 * rest before the next event check) the native code goes on;
 * otherwise it stops after the record (JIT_STEPPED), its bookkeeping
 * done, and run_records() carries on as after that step. Since 3
 * December 2026; until then every such record was a side exit, and
 * memwalk's loop left its native code at every read.
 *
 * A DIV of a 32- or 64-bit general register is written out too; where
 * it would raise #DE it stops before it (a side exit: struct
 * jit_stop), having changed nothing, and the block engine runs it
 * through its handler, which raises the fault.
 *
 * Native code is kept in one buffer mapped twice, read-write to write
 * it and read-execute to run it, emptied with the block arena
 * (jit_reset): the code calls handlers with pointers to records in the
 * arena, so it lives exactly as long as they do. Guest input reaches the code only
 * as immediates and register numbers (0-15) taken from decoded records,
 * so it touches no host memory but struct cpu and, through the host
 * TLB, guest RAM. */
#ifndef L0_CPU_JIT_H
#define L0_CPU_JIT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/decode.h"

struct cpu;
struct jit;

/* How a run's native code stopped (struct jit_stop). */
enum jit_how {
    /* At the run's end, or a side exit before record `ran` (where `ran`
     * is below the run's length): a DIV that would raise #DE (above)
     * at `rip`, which has changed nothing. */
    JIT_ENDED,
    /* The last record retired is a Jcc before the run's end that
     * branched or raised #GP: the run ends there as a run ending at
     * that Jcc would. */
    JIT_BRANCHED,
    /* After record ran - 1, run through step_record() (above, side
     * exits) as the block engine runs a record outside a run: every
     * record up to it is retired and counted (steps, cycles, fetch
     * hits), its outcome delivered, and `rip` is the RIP after it. */
    JIT_STEPPED,
};

/* Where a run's native code stopped: `ran` records done, and `rip`
 * the RIP after them (after the last one whether or not its Jcc
 * branched: c->next_rip then says where execution goes on, as after
 * the handlers); `how`: an enum jit_how. Returned in RAX and RDX. */
struct jit_stop {
    uint64_t rip;
    uint32_t ran;
    uint32_t how;
};

/* A native run compiled to loop (jit_compile's `loops`: it starts a
 * block, and its Jcc may branch back to the block's start) runs itself
 * again where its Jcc does branch there and run_records() would enter
 * it again at once: another whole round fits in `room` (records that
 * may still retire in this call of run_records, beyond `looped`) and
 * ends before the next event check. It then retires the round itself
 * as run_records() retires a run (c->cycles, c->insns and the modeled
 * fetch hits += the run's length) and adds its length to `looped`;
 * the round it returns from is left to run_records(), as without the
 * loop. */
struct jit_loop {
    uint64_t looped; /* records retired by rounds run again */
    uint64_t room;
};

/* A run's native code: runs the records from c->rip = `rip` on. */
typedef struct jit_stop (*jit_fn)(struct cpu *c, uint64_t rip,
                                  struct jit_loop *l);

/* Whether this host can run native code of ours (x86-64). */
bool jit_supported(void);

/* NULL where the host has no JIT or the code buffer cannot be mapped. */
struct jit *jit_create(void);
void jit_destroy(struct jit *j);

/* Forgets every run compiled so far (the block arena was emptied). */
void jit_reset(struct jit *j);

/* Whether record `i` joins native runs without being register-only:
 * a record with one data access, of the forms above (run natively or
 * by step_record), or a DIV written out (which may stop before it, a
 * side exit). */
bool jit_side_exits(const struct insn *i);

/* Native code for the `n` records at `recs`, each to run as exec[k]
 * would (its handler or its flag-free variant), all register-only or
 * jit_side_exits() or Jccs (the runs of compile_runs); `loops`: the
 * run starts a block, and where its Jcc branches back to the run's
 * start it loops as struct jit_loop says. NULL if the buffer is full
 * (the block engine then runs the records itself until the next
 * jit_reset). The records must stay where they are while the code is
 * used. */
jit_fn jit_compile(struct jit *j, const struct insn *recs,
                   const exec_fn *exec, unsigned n, bool loops);

/* Bytes of native code written since the last reset, for statistics. */
uint64_t jit_code_bytes(const struct jit *j);

#endif
