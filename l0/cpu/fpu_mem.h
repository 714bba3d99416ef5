/* Memory operands of the x87, MMX and SSE families: blocks of any size
 * (m80, m128, the 512-byte FXSAVE image), alignment checks. */
#ifndef L0_CPU_FPU_MEM_H
#define L0_CPU_FPU_MEM_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

/* #GP(0) unless the linear address of seg:ea is a multiple of `align`
 * (SDM Vol. 1 11.4.1.1 for m128, 10.5.1 for FXSAVE). */
bool fpu_check_align(struct cpu *c, unsigned seg, uint64_t ea,
                     unsigned align);
/* `amask` is the address-size mask the offset wraps in. A write checks
 * every byte before it writes any; `for_write` reads with the checks of
 * a write (the read half of a read-modify-write of a save area). */
bool fpu_mem_read(struct cpu *c, unsigned seg, uint64_t ea, uint64_t amask,
                  unsigned n, void *dst, bool for_write);
bool fpu_mem_write(struct cpu *c, unsigned seg, uint64_t ea, uint64_t amask,
                   unsigned n, const void *src);

#endif
