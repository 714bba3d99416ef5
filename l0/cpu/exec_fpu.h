/* The x87, MMX, SSE and XSAVE families (exec_sse.c, exec_x87.c,
 * xsave.c) and CMPXCHG8B/16B (exec_cmpxchg8b.c); see exec_fn in decode.h for the contract. */
#ifndef L0_CPU_EXEC_FPU_H
#define L0_CPU_EXEC_FPU_H

#include "cpu/cpu.h"
#include "cpu/decode.h"

/* exec_sse.c */
bool exec_sse_op(struct cpu *c, const struct insn *i);   /* sse_ops.h */
bool exec_sse_cmp(struct cpu *c, const struct insn *i);  /* CMPPS imm8 */
bool exec_sse_move(struct cpu *c, const struct insn *i);
bool exec_sse_shuffle(struct cpu *c, const struct insn *i);
bool exec_sse_byteshift(struct cpu *c, const struct insn *i);
bool exec_sse_pinsrw(struct cpu *c, const struct insn *i);
bool exec_sse_pextrw(struct cpu *c, const struct insn *i);
bool exec_sse_movemask(struct cpu *c, const struct insn *i);
bool exec_sse_cvt_from_int(struct cpu *c, const struct insn *i);
bool exec_sse_cvt_to_int(struct cpu *c, const struct insn *i);
bool exec_sse_comi(struct cpu *c, const struct insn *i);
bool exec_ldmxcsr(struct cpu *c, const struct insn *i);
bool exec_stmxcsr(struct cpu *c, const struct insn *i);
bool exec_emms(struct cpu *c, const struct insn *i);
/* Whether a MOVSD/CMPSD record is the string instruction. */
bool exec_sse_is_string(const struct insn *i);

/* exec_x87.c */
bool exec_x87(struct cpu *c, const struct insn *i); /* D8-DF by ModRM */
bool exec_fwait(struct cpu *c, const struct insn *i);

/* xsave.c */
bool exec_fxsave(struct cpu *c, const struct insn *i);
bool exec_fxrstor(struct cpu *c, const struct insn *i);
bool exec_xsave(struct cpu *c, const struct insn *i);
bool exec_xrstor(struct cpu *c, const struct insn *i);
bool exec_xgetbv(struct cpu *c, const struct insn *i);
bool exec_xsetbv(struct cpu *c, const struct insn *i);
/* Whether XSETBV may write `value` to XCR[index] at the current CPL
 * (also L0's check when it emulates a guest's XSETBV). */
bool xsetbv_check(const struct cpu *c, uint32_t index, uint64_t value);

/* exec_cmpxchg8b.c */
bool exec_cmpxchg8b(struct cpu *c, const struct insn *i); /* and 16B */

#endif
