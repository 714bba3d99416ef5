/* The instruction families. Each executes one decoded instruction; see
 * exec_fn in decode.h for the contract. */
#ifndef L0_CPU_EXEC_H
#define L0_CPU_EXEC_H

#include "cpu/decode.h"

enum alu_op { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR,
              ALU_CMP, ALU_TEST };
enum shift_op { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL,
                SH_SAR };
enum bit_op { BIT_BT, BIT_BTS, BIT_BTR, BIT_BTC };
enum flag_op { FLG_CLC, FLG_STC, FLG_CMC, FLG_CLD, FLG_STD, FLG_LAHF,
               FLG_SAHF };
enum string_op { STR_MOVS, STR_STOS, STR_LODS, STR_CMPS, STR_SCAS, STR_INS,
                 STR_OUTS };
enum loop_op { LOOP_ALWAYS, LOOP_E, LOOP_NE, LOOP_JCXZ };
enum table_op { TBL_GDT, TBL_IDT };

/* exec_alu.c */
bool exec_alu(struct cpu *c, const struct insn *i);
bool exec_alu_reg(struct cpu *c, const struct insn *i);
/* The two-operand ALU operation `sub` on a and b (b masked to `size`),
 * its flags recorded, as exec_alu() does it: for the JIT's records with
 * a memory operand (cpu/jit.c). */
uint64_t exec_alu_apply(struct cpu *c, unsigned sub, unsigned size,
                        uint64_t a, uint64_t b);
bool exec_inc(struct cpu *c, const struct insn *i);
bool exec_dec(struct cpu *c, const struct insn *i);
bool exec_neg(struct cpu *c, const struct insn *i);
bool exec_not(struct cpu *c, const struct insn *i);
bool exec_shift(struct cpu *c, const struct insn *i);
bool exec_shld(struct cpu *c, const struct insn *i);
bool exec_shrd(struct cpu *c, const struct insn *i);
bool exec_mul(struct cpu *c, const struct insn *i);
bool exec_imul(struct cpu *c, const struct insn *i);
bool exec_div(struct cpu *c, const struct insn *i);
bool exec_idiv(struct cpu *c, const struct insn *i);
bool exec_bit(struct cpu *c, const struct insn *i);
bool exec_bsf(struct cpu *c, const struct insn *i);
bool exec_bsr(struct cpu *c, const struct insn *i);
bool exec_setcc(struct cpu *c, const struct insn *i);
bool exec_cmovcc(struct cpu *c, const struct insn *i);
bool exec_bswap(struct cpu *c, const struct insn *i);
bool exec_flagop(struct cpu *c, const struct insn *i);
bool exec_xadd(struct cpu *c, const struct insn *i);
bool exec_cmpxchg(struct cpu *c, const struct insn *i);
bool exec_xchg(struct cpu *c, const struct insn *i);
bool exec_sign_extend_ax(struct cpu *c, const struct insn *i);  /* CBW.. */
bool exec_sign_extend_dx(struct cpu *c, const struct insn *i);  /* CWD.. */

/* exec_move.c */
bool exec_mov(struct cpu *c, const struct insn *i);
bool exec_mov_data(struct cpu *c, const struct insn *i);
bool exec_movzx(struct cpu *c, const struct insn *i);
bool exec_movsx(struct cpu *c, const struct insn *i);
bool exec_lea(struct cpu *c, const struct insn *i);
bool exec_push(struct cpu *c, const struct insn *i);
bool exec_pop(struct cpu *c, const struct insn *i);
bool exec_pushf(struct cpu *c, const struct insn *i);
bool exec_popf(struct cpu *c, const struct insn *i);
bool exec_leave(struct cpu *c, const struct insn *i);
bool exec_string(struct cpu *c, const struct insn *i);
/* The element size of a string instruction, and the segment of its
 * source (DS unless overridden); for the VMX engine's INS/OUTS exits. */
unsigned string_element_size(const struct insn *i);
unsigned string_source_seg(const struct insn *i);
bool exec_nop(struct cpu *c, const struct insn *i);

/* exec_flow.c */
bool exec_jmp(struct cpu *c, const struct insn *i);
bool exec_jcc(struct cpu *c, const struct insn *i);
bool exec_call(struct cpu *c, const struct insn *i);
bool exec_ret(struct cpu *c, const struct insn *i);
bool exec_loop(struct cpu *c, const struct insn *i);
bool exec_ljmp(struct cpu *c, const struct insn *i);
bool exec_lret(struct cpu *c, const struct insn *i);
bool exec_int(struct cpu *c, const struct insn *i);
bool exec_int3(struct cpu *c, const struct insn *i);
bool exec_int1(struct cpu *c, const struct insn *i);
bool exec_iret(struct cpu *c, const struct insn *i);
bool exec_syscall(struct cpu *c, const struct insn *i);
bool exec_sysret(struct cpu *c, const struct insn *i);
bool exec_ud(struct cpu *c, const struct insn *i);

/* exec_system.c */
bool exec_cpuid(struct cpu *c, const struct insn *i);
bool exec_rdtsc(struct cpu *c, const struct insn *i);
bool exec_rdtscp(struct cpu *c, const struct insn *i);
bool exec_rdpmc(struct cpu *c, const struct insn *i);
bool exec_rdmsr(struct cpu *c, const struct insn *i);
bool exec_wrmsr(struct cpu *c, const struct insn *i);
bool exec_in(struct cpu *c, const struct insn *i);
bool exec_out(struct cpu *c, const struct insn *i);
bool exec_cli(struct cpu *c, const struct insn *i);
bool exec_sti(struct cpu *c, const struct insn *i);
bool exec_hlt(struct cpu *c, const struct insn *i);
bool exec_load_table(struct cpu *c, const struct insn *i);  /* LGDT/LIDT */
bool exec_store_table(struct cpu *c, const struct insn *i); /* SGDT/SIDT */
bool exec_lldt(struct cpu *c, const struct insn *i);
bool exec_ltr(struct cpu *c, const struct insn *i);
bool exec_sldt(struct cpu *c, const struct insn *i);
bool exec_str(struct cpu *c, const struct insn *i);
bool exec_smsw(struct cpu *c, const struct insn *i);
bool exec_lmsw(struct cpu *c, const struct insn *i);
bool exec_clts(struct cpu *c, const struct insn *i);
bool exec_invlpg(struct cpu *c, const struct insn *i);
bool exec_privileged_nop(struct cpu *c, const struct insn *i); /* WBINVD.. */
bool exec_swapgs(struct cpu *c, const struct insn *i);
bool exec_lar(struct cpu *c, const struct insn *i);
bool exec_lsl(struct cpu *c, const struct insn *i);
bool exec_verr(struct cpu *c, const struct insn *i);
bool exec_verw(struct cpu *c, const struct insn *i);

#endif
