/* The template JIT (`--engine jit`, x86-64 hosts only): the block
 * engine (cpu/block.c) with its runs of register-only records turned
 * into native code. Everything else about a block stays the block
 * engine's: which records form a run, when a run is entered, and the
 * bookkeeping after it (steps, modeled cycles, the modeled fetch hits,
 * a faulting or taken Jcc). The native code of a run does exactly what
 * calling the run's handlers one after the other does (block.c
 * run_records): some records are written out from templates
 * (exec_fast_template: ALU and MOV on general registers), the others
 * are calls of their handler with c->next_rip set first.
 *
 * Native code is kept in one buffer mapped twice, read-write to write
 * it and read-execute to run it, emptied with the block arena
 * (jit_reset): the code calls handlers with pointers to records in the
 * arena, so it lives exactly as long as they do. Guest input reaches the code only
 * as immediates and register numbers (0-15) taken from decoded records,
 * so it touches no host memory but struct cpu. */
#ifndef L0_CPU_JIT_H
#define L0_CPU_JIT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/decode.h"

struct cpu;
struct jit;

/* A run's native code: runs the records from c->rip = `rip` on and
 * returns the RIP after the last one (whether or not its Jcc branched:
 * c->next_rip says where execution goes on, as after the handlers). */
typedef uint64_t (*jit_fn)(struct cpu *c, uint64_t rip);

/* Whether this host can run native code of ours (x86-64). */
bool jit_supported(void);

/* NULL where the host has no JIT or the code buffer cannot be mapped. */
struct jit *jit_create(void);
void jit_destroy(struct jit *j);

/* Forgets every run compiled so far (the block arena was emptied). */
void jit_reset(struct jit *j);

/* Native code for the `n` records at `recs`, each to run as exec[k]
 * would (its handler or its flag-free variant), all register-only but
 * the last, which may be a Jcc. NULL if the buffer is full (the block
 * engine then runs the records itself until the next jit_reset). The
 * records must stay where they are while the code is used. */
jit_fn jit_compile(struct jit *j, const struct insn *recs,
                   const exec_fn *exec, unsigned n);

/* Bytes of native code written since the last reset, for statistics. */
uint64_t jit_code_bytes(const struct jit *j);

#endif
