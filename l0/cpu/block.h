/* The block engine (`--engine block`): straight-line runs of decoded
 * instructions, copied once into blocks of records with their handler
 * pointers and found by the physical address of their first byte, run
 * one record after the other without a fetch per instruction.
 *
 * Every instruction goes through the same step_execute() as in the step
 * engine (cpu/step.h), and after each one the block continues only if
 * the step engine's batch would have continued too and nothing it was
 * built or found under changed: the next RIP is the next record's, the
 * translations (tlb.generation) and the decoded code (fetch_generation:
 * a write to a code page, including the block's own) are the same. So
 * both engines retire the same instructions, take events at the same
 * instruction and model the same cycles; docs/emulator.md. An address
 * is stepped until it has been reached as a block's start a few times
 * (block_cache_build_after), and built into a block then. */
#ifndef L0_CPU_BLOCK_H
#define L0_CPU_BLOCK_H

#include <stdbool.h>

#include "cpu/cpu.h"

struct block_cache;

struct block_cache *block_cache_create(void);
void block_cache_destroy(struct block_cache *bc);

/* --engine jit: a block's runs are compiled at its `entries`-th entry
 * (default 8; 0 counts as 1). Tests set 1 to run native code at once. */
void block_cache_jit_after(struct block_cache *bc, unsigned entries);

/* A block is built at the `arrivals`-th time its start is reached (0
 * counts as 1); before, the address runs as under the step engine. Tests
 * set 1 to run blocks at once. */
void block_cache_build_after(struct block_cache *bc, unsigned arrivals);

/* Runs the block at c->rip, at most `budget` (>= 1) instructions of it.
 * Returns how many steps it ran, 0 if there is no block here (16-bit or
 * 32-bit code, a fetch that misses the TLB, an instruction that crosses
 * its page or does not decode): the caller steps once instead, which
 * also raises whatever the fetch raises. */
unsigned block_run(struct cpu *c, unsigned budget);

/* Blocks built so far, for statistics. */
unsigned long long block_built(const struct block_cache *bc);

/* Whether the step engine's batch goes on with another instruction
 * (cpu.c run_batch): the instruction limit, a due event, an interrupt
 * shadow or HLT end it. */
static inline bool block_batch_continues(const struct cpu *c)
{
    return cpu_steps(c) < c->step_limit &&
           c->cycles < c->next_event_check && !c->interrupt_shadow &&
           !c->halted;
}

#endif
