/* Memory as the CPU sees it: segmentation (SDM Vol. 3A chapter 3),
 * paging with the software TLB (chapter 4), physical RAM and MMIO.
 *
 * Every function that can fault raises the exception on the CPU
 * (cpu_fault) and returns false; the caller abandons the instruction. */
#ifndef L0_CPU_MMU_H
#define L0_CPU_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

enum access { ACC_READ, ACC_WRITE, ACC_EXEC };

/* MAXPHYADDR reported by CPUID.80000008H:EAX[7:0]. */
#define PHYS_ADDR_BITS 39

/* Page-fault error code bits (SDM Vol. 3A 4.7). */
enum {
    PFEC_P = 1 << 0,
    PFEC_W = 1 << 1,
    PFEC_U = 1 << 2,
    PFEC_RSVD = 1 << 3,
    PFEC_I = 1 << 4,
};

/* Physical accesses: RAM, else the MMIO bus (open bus when unclaimed). */
void phys_read(struct cpu *c, uint64_t pa, unsigned size, void *dst);
void phys_write(struct cpu *c, uint64_t pa, unsigned size, const void *src);
uint64_t phys_read_u64(struct cpu *c, uint64_t pa);

/* Linear-address accesses. `user` selects user-mode access rights (CPL 3
 * data and fetches); implicit supervisor accesses (descriptor tables,
 * TSS, interrupt stacks) pass false. */
bool lin_read(struct cpu *c, uint64_t lin, unsigned size, void *dst,
              enum access acc, bool user);
bool lin_write(struct cpu *c, uint64_t lin, unsigned size, const void *src,
               bool user);

/* Linear -> physical, for INVLPG-style users and debugging. */
bool lin_translate(struct cpu *c, uint64_t lin, enum access acc, bool user,
                   uint64_t *pa);

/* Segment:offset accesses at the current CPL. `offset` is the effective
 * address, already truncated to the address size. */
bool seg_linear(struct cpu *c, unsigned seg, uint64_t offset, unsigned size,
                enum access acc, uint64_t *lin);
bool mem_read(struct cpu *c, unsigned seg, uint64_t offset, unsigned size,
              uint64_t *value);
bool mem_write(struct cpu *c, unsigned seg, uint64_t offset, unsigned size,
               uint64_t value);
/* A read that also checks write access (read-modify-write destinations). */
bool mem_read_rmw(struct cpu *c, unsigned seg, uint64_t offset,
                  unsigned size, uint64_t *value);

/* Flushes after paging-control changes. */
void mmu_flush_all(struct cpu *c);
/* For the block engine's lookup (block.c): the TLB fill of an
 * instruction fetch at `lin` (CPL 3 or not, as now), made only when the
 * walk cache and, under EPT, the EPT translation cache hold all of it
 * and the fill is an ordinary one (not the APIC-access page, readable
 * under EPT), so that it is exactly the fill fetch()'s lin_translate()
 * would make, effects and counters included, and cannot fault or exit.
 * False, with nothing done, otherwise. */
bool mmu_fetch_fill(struct cpu *c, uint64_t lin);
/* Every walk in the walk cache (cpu/tlb.h) stops matching: for what
 * changes guest RAM other than through phys_write or the CPU. */
void mmu_forget_walks(struct cpu *c);

#endif
