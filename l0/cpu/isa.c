/* Capstone instruction id -> family and sub-operation. An id missing
 * here is not implemented: it raises #UD and is reported once. */
#include "cpu/isa.h"

#include <capstone/capstone.h>

#include "cpu/exec.h"
#include "cpu/exec_fast.h"
#include "cpu/exec_fpu.h"
#include "cpu/sse_ops.h"

struct isa_row {
    unsigned id;
    exec_fn exec;
    uint8_t sub;
    uint8_t flags;
};

static const struct isa_row rows[] = {
    /* exec_alu.c */
    {X86_INS_ADD, exec_alu, ALU_ADD, 0},
    {X86_INS_OR, exec_alu, ALU_OR, 0},
    {X86_INS_ADC, exec_alu, ALU_ADC, 0},
    {X86_INS_SBB, exec_alu, ALU_SBB, 0},
    {X86_INS_AND, exec_alu, ALU_AND, 0},
    {X86_INS_SUB, exec_alu, ALU_SUB, 0},
    {X86_INS_XOR, exec_alu, ALU_XOR, 0},
    {X86_INS_CMP, exec_alu, ALU_CMP, 0},
    {X86_INS_TEST, exec_alu, ALU_TEST, 0},
    {X86_INS_INC, exec_inc, 0, 0},
    {X86_INS_DEC, exec_dec, 0, 0},
    {X86_INS_NEG, exec_neg, 0, 0},
    {X86_INS_NOT, exec_not, 0, 0},
    {X86_INS_ROL, exec_shift, SH_ROL, 0},
    {X86_INS_ROR, exec_shift, SH_ROR, 0},
    {X86_INS_RCL, exec_shift, SH_RCL, 0},
    {X86_INS_RCR, exec_shift, SH_RCR, 0},
    {X86_INS_SHL, exec_shift, SH_SHL, 0},
    {X86_INS_SAL, exec_shift, SH_SAL, 0},
    {X86_INS_SHR, exec_shift, SH_SHR, 0},
    {X86_INS_SAR, exec_shift, SH_SAR, 0},
    {X86_INS_SHLD, exec_shld, 0, 0},
    {X86_INS_SHRD, exec_shrd, 0, 0},
    {X86_INS_MUL, exec_mul, 0, 0},
    {X86_INS_IMUL, exec_imul, 0, 0},
    {X86_INS_DIV, exec_div, 0, 0},
    {X86_INS_IDIV, exec_idiv, 0, 0},
    {X86_INS_BT, exec_bit, BIT_BT, 0},
    {X86_INS_BTS, exec_bit, BIT_BTS, 0},
    {X86_INS_BTR, exec_bit, BIT_BTR, 0},
    {X86_INS_BTC, exec_bit, BIT_BTC, 0},
    {X86_INS_BSF, exec_bsf, 0, 0},
    {X86_INS_BSR, exec_bsr, 0, 0},
    {X86_INS_TZCNT, exec_bsf, 0, 0}, /* no BMI1: executes as BSF */
    {X86_INS_LZCNT, exec_bsr, 0, 0}, /* no LZCNT: executes as BSR */
    {X86_INS_BSWAP, exec_bswap, 0, 0},
    {X86_INS_CLC, exec_flagop, FLG_CLC, 0},
    {X86_INS_STC, exec_flagop, FLG_STC, 0},
    {X86_INS_CMC, exec_flagop, FLG_CMC, 0},
    {X86_INS_CLD, exec_flagop, FLG_CLD, 0},
    {X86_INS_STD, exec_flagop, FLG_STD, 0},
    {X86_INS_LAHF, exec_flagop, FLG_LAHF, 0},
    {X86_INS_SAHF, exec_flagop, FLG_SAHF, 0},
    {X86_INS_XADD, exec_xadd, 0, 0},
    {X86_INS_CMPXCHG, exec_cmpxchg, 0, 0},
    {X86_INS_XCHG, exec_xchg, 0, 0},
    {X86_INS_CBW, exec_sign_extend_ax, 2, 0},
    {X86_INS_CWDE, exec_sign_extend_ax, 4, 0},
    {X86_INS_CDQE, exec_sign_extend_ax, 8, 0},
    {X86_INS_CWD, exec_sign_extend_dx, 2, 0},
    {X86_INS_CDQ, exec_sign_extend_dx, 4, 0},
    {X86_INS_CQO, exec_sign_extend_dx, 8, 0},
    /* exec_move.c */
    {X86_INS_MOV, exec_mov, 0, 0},
    {X86_INS_MOVABS, exec_mov, 0, 0},
    {X86_INS_MOVZX, exec_movzx, 0, 0},
    {X86_INS_MOVSX, exec_movsx, 0, 0},
    {X86_INS_MOVSXD, exec_movsx, 0, 0},
    {X86_INS_LEA, exec_lea, 0, 0},
    {X86_INS_PUSH, exec_push, 0, 0},
    {X86_INS_POP, exec_pop, 0, 0},
    {X86_INS_PUSHF, exec_pushf, 0, 0},
    {X86_INS_PUSHFD, exec_pushf, 0, 0},
    {X86_INS_PUSHFQ, exec_pushf, 0, 0},
    {X86_INS_POPF, exec_popf, 0, 0},
    {X86_INS_POPFD, exec_popf, 0, 0},
    {X86_INS_POPFQ, exec_popf, 0, 0},
    {X86_INS_LEAVE, exec_leave, 0, 0},
    {X86_INS_MOVSB, exec_string, STR_MOVS, 0},
    {X86_INS_MOVSW, exec_string, STR_MOVS, 0},
    {X86_INS_MOVSD, exec_string, STR_MOVS, 0}, /* A5 (no SSE: never F2 0F 10) */
    {X86_INS_MOVSQ, exec_string, STR_MOVS, 0},
    {X86_INS_STOSB, exec_string, STR_STOS, 0},
    {X86_INS_STOSW, exec_string, STR_STOS, 0},
    {X86_INS_STOSD, exec_string, STR_STOS, 0},
    {X86_INS_STOSQ, exec_string, STR_STOS, 0},
    {X86_INS_LODSB, exec_string, STR_LODS, 0},
    {X86_INS_LODSW, exec_string, STR_LODS, 0},
    {X86_INS_LODSD, exec_string, STR_LODS, 0},
    {X86_INS_LODSQ, exec_string, STR_LODS, 0},
    {X86_INS_CMPSB, exec_string, STR_CMPS, 0},
    {X86_INS_CMPSW, exec_string, STR_CMPS, 0},
    {X86_INS_CMPSD, exec_string, STR_CMPS, 0},
    {X86_INS_CMPSQ, exec_string, STR_CMPS, 0},
    {X86_INS_SCASB, exec_string, STR_SCAS, 0},
    {X86_INS_SCASW, exec_string, STR_SCAS, 0},
    {X86_INS_SCASD, exec_string, STR_SCAS, 0},
    {X86_INS_SCASQ, exec_string, STR_SCAS, 0},
    {X86_INS_NOP, exec_nop, 0, 0},
    /* Cache hints with no architectural effect (SDM Vol. 2B PREFETCHh:
     * "does not affect program behavior"), so no faults either. */
    {X86_INS_PREFETCHT0, exec_nop, 0, 0},
    {X86_INS_PREFETCHT1, exec_nop, 0, 0},
    {X86_INS_PREFETCHT2, exec_nop, 0, 0},
    {X86_INS_PREFETCHNTA, exec_nop, 0, 0},
    {X86_INS_PREFETCHW, exec_nop, 0, 0},
    {X86_INS_PAUSE, exec_nop, 0, ISA_VMX},
    {X86_INS_ENDBR64, exec_nop, 0, 0},
    {X86_INS_ENDBR32, exec_nop, 0, 0},
    {X86_INS_CLFLUSH, exec_nop, 0, 0},
    {X86_INS_LFENCE, exec_nop, 0, 0},
    {X86_INS_MFENCE, exec_nop, 0, 0},
    {X86_INS_SFENCE, exec_nop, 0, 0},
    /* exec_flow.c */
    {X86_INS_JMP, exec_jmp, 0, ISA_BRANCH},
    {X86_INS_JO, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JNO, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JB, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JAE, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JE, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JNE, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JBE, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JA, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JS, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JNS, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JP, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JNP, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JL, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JGE, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JLE, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_JG, exec_jcc, 0, ISA_BRANCH},
    {X86_INS_CALL, exec_call, 0, ISA_BRANCH},
    {X86_INS_RET, exec_ret, 0, 0},
    {X86_INS_LOOP, exec_loop, LOOP_ALWAYS, ISA_BRANCH},
    {X86_INS_LOOPE, exec_loop, LOOP_E, ISA_BRANCH},
    {X86_INS_LOOPNE, exec_loop, LOOP_NE, ISA_BRANCH},
    {X86_INS_JRCXZ, exec_loop, LOOP_JCXZ, ISA_BRANCH},
    {X86_INS_JECXZ, exec_loop, LOOP_JCXZ, ISA_BRANCH},
    {X86_INS_JCXZ, exec_loop, LOOP_JCXZ, ISA_BRANCH},
    {X86_INS_LJMP, exec_ljmp, 0, 0},
    {X86_INS_RETF, exec_lret, 0, 0},
    {X86_INS_RETFQ, exec_lret, 0, 0},
    {X86_INS_INT, exec_int, 0, 0},
    {X86_INS_INT3, exec_int3, 0, 0},
    {X86_INS_INT1, exec_int1, 0, 0},
    {X86_INS_IRET, exec_iret, 0, 0},
    {X86_INS_IRETD, exec_iret, 0, 0},
    {X86_INS_IRETQ, exec_iret, 0, 0},
    {X86_INS_SYSCALL, exec_syscall, 0, 0},
    {X86_INS_SYSRET, exec_sysret, 0, 0},
    {X86_INS_UD2, exec_ud, 0, 0},
    {X86_INS_UD0, exec_ud, 0, 0},
    /* exec_alu.c, condition-coded */
    {X86_INS_SETO, exec_setcc, 0, 0}, {X86_INS_SETNO, exec_setcc, 0, 0},
    {X86_INS_SETB, exec_setcc, 0, 0}, {X86_INS_SETAE, exec_setcc, 0, 0},
    {X86_INS_SETE, exec_setcc, 0, 0}, {X86_INS_SETNE, exec_setcc, 0, 0},
    {X86_INS_SETBE, exec_setcc, 0, 0}, {X86_INS_SETA, exec_setcc, 0, 0},
    {X86_INS_SETS, exec_setcc, 0, 0}, {X86_INS_SETNS, exec_setcc, 0, 0},
    {X86_INS_SETP, exec_setcc, 0, 0}, {X86_INS_SETNP, exec_setcc, 0, 0},
    {X86_INS_SETL, exec_setcc, 0, 0}, {X86_INS_SETGE, exec_setcc, 0, 0},
    {X86_INS_SETLE, exec_setcc, 0, 0}, {X86_INS_SETG, exec_setcc, 0, 0},
    {X86_INS_CMOVO, exec_cmovcc, 0, 0}, {X86_INS_CMOVNO, exec_cmovcc, 0, 0},
    {X86_INS_CMOVB, exec_cmovcc, 0, 0}, {X86_INS_CMOVAE, exec_cmovcc, 0, 0},
    {X86_INS_CMOVE, exec_cmovcc, 0, 0}, {X86_INS_CMOVNE, exec_cmovcc, 0, 0},
    {X86_INS_CMOVBE, exec_cmovcc, 0, 0}, {X86_INS_CMOVA, exec_cmovcc, 0, 0},
    {X86_INS_CMOVS, exec_cmovcc, 0, 0}, {X86_INS_CMOVNS, exec_cmovcc, 0, 0},
    {X86_INS_CMOVP, exec_cmovcc, 0, 0}, {X86_INS_CMOVNP, exec_cmovcc, 0, 0},
    {X86_INS_CMOVL, exec_cmovcc, 0, 0}, {X86_INS_CMOVGE, exec_cmovcc, 0, 0},
    {X86_INS_CMOVLE, exec_cmovcc, 0, 0}, {X86_INS_CMOVG, exec_cmovcc, 0, 0},
    /* exec_system.c */
    {X86_INS_CPUID, exec_cpuid, 0, ISA_VMX},
    {X86_INS_RDTSC, exec_rdtsc, 0, ISA_VMX},
    {X86_INS_RDTSCP, exec_rdtscp, 0, ISA_VMX},
    {X86_INS_RDMSR, exec_rdmsr, 0, ISA_VMX},
    {X86_INS_WRMSR, exec_wrmsr, 0, ISA_VMX},
    {X86_INS_IN, exec_in, 0, ISA_VMX},
    {X86_INS_OUT, exec_out, 0, ISA_VMX},
    {X86_INS_CLI, exec_cli, 0, 0},
    {X86_INS_STI, exec_sti, 0, 0},
    {X86_INS_HLT, exec_hlt, 0, ISA_VMX},
    {X86_INS_LGDT, exec_load_table, TBL_GDT, ISA_VMX},
    {X86_INS_LIDT, exec_load_table, TBL_IDT, ISA_VMX},
    {X86_INS_SGDT, exec_store_table, TBL_GDT, ISA_VMX},
    {X86_INS_SIDT, exec_store_table, TBL_IDT, ISA_VMX},
    {X86_INS_LLDT, exec_lldt, 0, ISA_VMX},
    {X86_INS_LTR, exec_ltr, 0, ISA_VMX},
    {X86_INS_SLDT, exec_sldt, 0, ISA_VMX},
    {X86_INS_STR, exec_str, 0, ISA_VMX},
    {X86_INS_SMSW, exec_smsw, 0, ISA_VMX},
    {X86_INS_LMSW, exec_lmsw, 0, ISA_VMX},
    {X86_INS_CLTS, exec_clts, 0, ISA_VMX},
    {X86_INS_INVLPG, exec_invlpg, 0, ISA_VMX},
    {X86_INS_WBINVD, exec_privileged_nop, 0, ISA_VMX},
    {X86_INS_INVD, exec_privileged_nop, 0, ISA_VMX},
    {X86_INS_SWAPGS, exec_swapgs, 0, 0},
    {X86_INS_LAR, exec_lar, 0, 0},
    {X86_INS_LSL, exec_lsl, 0, 0},
    {X86_INS_VERR, exec_verr, 0, 0},
    {X86_INS_VERW, exec_verw, 0, 0},
    /* The VMX instructions: #UD outside VMX operation, which is where
     * every guest of the emulated CPU runs unless it is in non-root
     * operation, where they exit (l0/vmx/intercept.c). */
    {X86_INS_VMCALL, exec_ud, 0, ISA_VMX},
    {X86_INS_VMCLEAR, exec_ud, 0, ISA_VMX},
    {X86_INS_VMLAUNCH, exec_ud, 0, ISA_VMX},
    {X86_INS_VMPTRLD, exec_ud, 0, ISA_VMX},
    {X86_INS_VMPTRST, exec_ud, 0, ISA_VMX},
    {X86_INS_VMREAD, exec_ud, 0, ISA_VMX},
    {X86_INS_VMRESUME, exec_ud, 0, ISA_VMX},
    {X86_INS_VMWRITE, exec_ud, 0, ISA_VMX},
    {X86_INS_VMXOFF, exec_ud, 0, ISA_VMX},
    {X86_INS_VMXON, exec_ud, 0, ISA_VMX},
    {X86_INS_INVEPT, exec_ud, 0, ISA_VMX},
    {X86_INS_INVVPID, exec_ud, 0, ISA_VMX},
    {X86_INS_VMFUNC, exec_ud, 0, ISA_VMX},
    /* exec_sse.c: SSE, SSE2 and MMX */
#define SSE_ROW(name, mn, size, flags) {X86_INS_##name, exec_sse_op, SSE_OP_##name, 0},
    SSE_HOST_OPS(SSE_ROW)
#undef SSE_ROW
    {X86_INS_CMPPS, exec_sse_cmp, 0, 0},
    {X86_INS_CMPPD, exec_sse_cmp, 0, 0},
    {X86_INS_CMPSS, exec_sse_cmp, 0, 0},
    {X86_INS_MOVAPS, exec_sse_move, 0, 0},
    {X86_INS_MOVAPD, exec_sse_move, 0, 0},
    {X86_INS_MOVDQA, exec_sse_move, 0, 0},
    {X86_INS_MOVUPS, exec_sse_move, 0, 0},
    {X86_INS_MOVUPD, exec_sse_move, 0, 0},
    {X86_INS_MOVDQU, exec_sse_move, 0, 0},
    {X86_INS_MOVNTPS, exec_sse_move, 0, 0},
    {X86_INS_MOVNTPD, exec_sse_move, 0, 0},
    {X86_INS_MOVNTDQ, exec_sse_move, 0, 0},
    {X86_INS_MOVNTQ, exec_sse_move, 0, 0},
    {X86_INS_MOVSS, exec_sse_move, 0, 0},
    {X86_INS_MOVLPS, exec_sse_move, 0, 0},
    {X86_INS_MOVLPD, exec_sse_move, 0, 0},
    {X86_INS_MOVHPS, exec_sse_move, 0, 0},
    {X86_INS_MOVHPD, exec_sse_move, 0, 0},
    {X86_INS_MOVHLPS, exec_sse_move, 0, 0},
    {X86_INS_MOVLHPS, exec_sse_move, 0, 0},
    {X86_INS_MOVD, exec_sse_move, 0, 0},
    {X86_INS_MOVQ, exec_sse_move, 0, 0},
    {X86_INS_MOVQ2DQ, exec_sse_move, 0, 0},
    {X86_INS_MOVDQ2Q, exec_sse_move, 0, 0},
    {X86_INS_MOVNTI, exec_mov, 0, 0},
    {X86_INS_PSHUFD, exec_sse_shuffle, 0, 0},
    {X86_INS_PSHUFLW, exec_sse_shuffle, 0, 0},
    {X86_INS_PSHUFHW, exec_sse_shuffle, 0, 0},
    {X86_INS_PSHUFW, exec_sse_shuffle, 0, 0},
    {X86_INS_SHUFPS, exec_sse_shuffle, 0, 0},
    {X86_INS_SHUFPD, exec_sse_shuffle, 0, 0},
    {X86_INS_PSLLDQ, exec_sse_byteshift, 0, 0},
    {X86_INS_PSRLDQ, exec_sse_byteshift, 0, 0},
    {X86_INS_PINSRW, exec_sse_pinsrw, 0, 0},
    {X86_INS_PEXTRW, exec_sse_pextrw, 0, 0},
    {X86_INS_PMOVMSKB, exec_sse_movemask, 0, 0},
    {X86_INS_MOVMSKPS, exec_sse_movemask, 0, 0},
    {X86_INS_MOVMSKPD, exec_sse_movemask, 0, 0},
    {X86_INS_CVTSI2SS, exec_sse_cvt_from_int, 0, 0},
    {X86_INS_CVTSI2SD, exec_sse_cvt_from_int, 0, 0},
    {X86_INS_CVTSS2SI, exec_sse_cvt_to_int, 0, 0},
    {X86_INS_CVTTSS2SI, exec_sse_cvt_to_int, 0, 0},
    {X86_INS_CVTSD2SI, exec_sse_cvt_to_int, 0, 0},
    {X86_INS_CVTTSD2SI, exec_sse_cvt_to_int, 0, 0},
    {X86_INS_COMISS, exec_sse_comi, 0, 0},
    {X86_INS_COMISD, exec_sse_comi, 0, 0},
    {X86_INS_UCOMISS, exec_sse_comi, 0, 0},
    {X86_INS_UCOMISD, exec_sse_comi, 0, 0},
    {X86_INS_LDMXCSR, exec_ldmxcsr, 0, 0},
    {X86_INS_STMXCSR, exec_stmxcsr, 0, 0},
    {X86_INS_EMMS, exec_emms, 0, 0},
    /* xsave.c */
    {X86_INS_FXSAVE, exec_fxsave, 0, 0},
    {X86_INS_FXSAVE64, exec_fxsave, 0, 0},
    {X86_INS_FXRSTOR, exec_fxrstor, 0, 0},
    {X86_INS_FXRSTOR64, exec_fxrstor, 0, 0},
    {X86_INS_XSAVE, exec_xsave, 0, 0},
    {X86_INS_XSAVE64, exec_xsave, 0, 0},
    {X86_INS_XRSTOR, exec_xrstor, 0, 0},
    {X86_INS_XRSTOR64, exec_xrstor, 0, 0},
    {X86_INS_XGETBV, exec_xgetbv, 0, 0},
    {X86_INS_XSETBV, exec_xsetbv, 0, ISA_VMX},
    /* exec_x87.c: every x87 form, decoded by opcode and ModRM */
    {X86_INS_F2XM1, exec_x87, 0, 0}, {X86_INS_FABS, exec_x87, 0, 0},
    {X86_INS_FADD, exec_x87, 0, 0}, {X86_INS_FADDP, exec_x87, 0, 0},
    {X86_INS_FCHS, exec_x87, 0, 0}, {X86_INS_FCMOVB, exec_x87, 0, 0},
    {X86_INS_FCMOVBE, exec_x87, 0, 0}, {X86_INS_FCMOVE, exec_x87, 0, 0},
    {X86_INS_FCMOVNB, exec_x87, 0, 0}, {X86_INS_FCMOVNBE, exec_x87, 0, 0},
    {X86_INS_FCMOVNE, exec_x87, 0, 0}, {X86_INS_FCMOVNU, exec_x87, 0, 0},
    {X86_INS_FCMOVU, exec_x87, 0, 0}, {X86_INS_FCOM, exec_x87, 0, 0},
    {X86_INS_FCOMI, exec_x87, 0, 0}, {X86_INS_FCOMIP, exec_x87, 0, 0},
    {X86_INS_FCOMP, exec_x87, 0, 0}, {X86_INS_FCOMPP, exec_x87, 0, 0},
    {X86_INS_FCOS, exec_x87, 0, 0}, {X86_INS_FDECSTP, exec_x87, 0, 0},
    {X86_INS_FDISI8087_NOP, exec_x87, 0, 0}, {X86_INS_FDIV, exec_x87, 0, 0},
    {X86_INS_FDIVP, exec_x87, 0, 0}, {X86_INS_FDIVR, exec_x87, 0, 0},
    {X86_INS_FDIVRP, exec_x87, 0, 0}, {X86_INS_FENI8087_NOP, exec_x87, 0, 0},
    {X86_INS_FFREE, exec_x87, 0, 0}, {X86_INS_FIADD, exec_x87, 0, 0},
    {X86_INS_FICOM, exec_x87, 0, 0}, {X86_INS_FICOMP, exec_x87, 0, 0},
    {X86_INS_FIDIV, exec_x87, 0, 0}, {X86_INS_FIDIVR, exec_x87, 0, 0},
    {X86_INS_FILD, exec_x87, 0, 0}, {X86_INS_FIMUL, exec_x87, 0, 0},
    {X86_INS_FINCSTP, exec_x87, 0, 0}, {X86_INS_FIST, exec_x87, 0, 0},
    {X86_INS_FISTP, exec_x87, 0, 0}, {X86_INS_FISUB, exec_x87, 0, 0},
    {X86_INS_FISUBR, exec_x87, 0, 0}, {X86_INS_FLD, exec_x87, 0, 0},
    {X86_INS_FLD1, exec_x87, 0, 0}, {X86_INS_FLDCW, exec_x87, 0, 0},
    {X86_INS_FLDENV, exec_x87, 0, 0}, {X86_INS_FLDL2E, exec_x87, 0, 0},
    {X86_INS_FLDL2T, exec_x87, 0, 0}, {X86_INS_FLDLG2, exec_x87, 0, 0},
    {X86_INS_FLDLN2, exec_x87, 0, 0}, {X86_INS_FLDPI, exec_x87, 0, 0},
    {X86_INS_FLDZ, exec_x87, 0, 0}, {X86_INS_FMUL, exec_x87, 0, 0},
    {X86_INS_FMULP, exec_x87, 0, 0}, {X86_INS_FNCLEX, exec_x87, 0, 0},
    {X86_INS_FNINIT, exec_x87, 0, 0}, {X86_INS_FNOP, exec_x87, 0, 0},
    {X86_INS_FNSAVE, exec_x87, 0, 0}, {X86_INS_FNSTCW, exec_x87, 0, 0},
    {X86_INS_FNSTENV, exec_x87, 0, 0}, {X86_INS_FNSTSW, exec_x87, 0, 0},
    {X86_INS_FPATAN, exec_x87, 0, 0}, {X86_INS_FPREM, exec_x87, 0, 0},
    {X86_INS_FPREM1, exec_x87, 0, 0}, {X86_INS_FPTAN, exec_x87, 0, 0},
    {X86_INS_FRNDINT, exec_x87, 0, 0}, {X86_INS_FRSTOR, exec_x87, 0, 0},
    {X86_INS_FSCALE, exec_x87, 0, 0}, {X86_INS_FSETPM, exec_x87, 0, 0},
    {X86_INS_FSIN, exec_x87, 0, 0}, {X86_INS_FSINCOS, exec_x87, 0, 0},
    {X86_INS_FSQRT, exec_x87, 0, 0}, {X86_INS_FST, exec_x87, 0, 0},
    {X86_INS_FSTP, exec_x87, 0, 0}, {X86_INS_FSUB, exec_x87, 0, 0},
    {X86_INS_FSUBP, exec_x87, 0, 0}, {X86_INS_FSUBR, exec_x87, 0, 0},
    {X86_INS_FSUBRP, exec_x87, 0, 0}, {X86_INS_FTST, exec_x87, 0, 0},
    {X86_INS_FUCOM, exec_x87, 0, 0}, {X86_INS_FUCOMI, exec_x87, 0, 0},
    {X86_INS_FUCOMIP, exec_x87, 0, 0}, {X86_INS_FUCOMP, exec_x87, 0, 0},
    {X86_INS_FUCOMPP, exec_x87, 0, 0}, {X86_INS_FXAM, exec_x87, 0, 0},
    {X86_INS_FXCH, exec_x87, 0, 0}, {X86_INS_FXTRACT, exec_x87, 0, 0},
    {X86_INS_FYL2X, exec_x87, 0, 0}, {X86_INS_FYL2XP1, exec_x87, 0, 0},
    {X86_INS_WAIT, exec_fwait, 0, 0},
    /* exec_cmpxchg8b.c */
    {X86_INS_CMPXCHG8B, exec_cmpxchg8b, 0, 0},
    {X86_INS_CMPXCHG16B, exec_cmpxchg8b, 0, 0},
    /* exec_system.c: no PMU */
    {X86_INS_RDPMC, exec_rdpmc, 0, ISA_VMX},
    /* exec_move.c: string I/O, which exits like IN/OUT */
    {X86_INS_INSB, exec_string, STR_INS, ISA_VMX},
    {X86_INS_INSW, exec_string, STR_INS, ISA_VMX},
    {X86_INS_INSD, exec_string, STR_INS, ISA_VMX},
    {X86_INS_OUTSB, exec_string, STR_OUTS, ISA_VMX},
    {X86_INS_OUTSW, exec_string, STR_OUTS, ISA_VMX},
    {X86_INS_OUTSD, exec_string, STR_OUTS, ISA_VMX},
};

static bool plain_gpr(const struct operand *o)
{
    return o->kind == OPK_REG && o->rclass == RC_GPR && !o->hi8;
}

static bool special_reg(const struct operand *o)
{
    return o->kind == OPK_REG && o->rclass != RC_GPR;
}

exec_fn isa_specialize(const struct insn *i)
{
    /* MOVSD and CMPSD: the string rows above, unless SSE2's encoding. */
    if (i->exec == exec_string && (i->id == X86_INS_MOVSD ||
                                   i->id == X86_INS_CMPSD) &&
        !exec_sse_is_string(i))
        return i->id == X86_INS_MOVSD ? exec_sse_move : exec_sse_cmp;
    if (i->exec == exec_mov && !special_reg(&i->op[0]) &&
        !special_reg(&i->op[1]))
        return exec_fast_pick(i, exec_mov_data);
    if (i->exec == exec_alu && i->nops == 2 && plain_gpr(&i->op[0]) &&
        (i->op[1].kind == OPK_IMM || plain_gpr(&i->op[1])))
        return exec_fast_pick(i, exec_alu_reg);
    return exec_fast_pick(i, i->exec);
}

bool isa_vmx_exits(const struct insn *i, const struct isa_entry *e)
{
    if (e->flags & ISA_VMX)
        return true;
    /* MOV to or from a control or debug register. */
    return i->id == X86_INS_MOV &&
           ((special_reg(&i->op[0]) && i->op[0].rclass != RC_SEG) ||
            (special_reg(&i->op[1]) && i->op[1].rclass != RC_SEG));
}

static struct isa_entry table[X86_INS_ENDING];
static bool table_ready;

const struct isa_entry *isa_lookup(unsigned id)
{
    if (!table_ready) {
        for (unsigned k = 0; k < sizeof rows / sizeof *rows; k++)
            table[rows[k].id] = (struct isa_entry){rows[k].exec, rows[k].sub,
                                                   rows[k].flags};
        table_ready = true;
    }
    return id < X86_INS_ENDING && table[id].exec ? &table[id] : NULL;
}
