/* Operand-specialized handlers for the most frequent instruction forms
 * (ALU and MOV on general registers, immediates and memory, INC, DEC,
 * NEG, NOT, SHL, SHR, SAR, LEA, Jcc, PUSH and POP; memory operands by
 * addressing kind): see exec_fast.c. */
#ifndef L0_CPU_EXEC_FAST_H
#define L0_CPU_EXEC_FAST_H

#include "cpu/decode.h"

/* The specialized handler for record `i`, whose general handler is
 * `general`, or `general` itself where there is none. */
exec_fn exec_fast_pick(const struct insn *i, exec_fn general);

/* The general handler that `fn` stands for where the JIT needs it
 * (exec_alu for the ALU forms with a memory operand), else fn. */
exec_fn exec_fast_general(exec_fn fn);

/* What the block engine may assume of a handler (cpu/block.c). */
struct fast_traits {
    /* Operands in general registers and immediates only: the handler
     * cannot fault, accesses no memory, does not branch, adds no modeled
     * cycle and changes nothing but general registers and the arithmetic
     * flags (CF, PF, AF, ZF, SF, OF). */
    bool reg_only;
    /* Writes all six arithmetic flags and reads none of them. */
    bool writes_all_flags;
    /* A Jcc: reads the flags, may branch, adds no modeled cycle, and
     * faults only on a non-canonical target. */
    bool jcc;
    /* The same handler leaving RFLAGS alone, for a record whose flags
     * are dead; NULL where there is none. */
    exec_fn flagless;
};

struct fast_traits exec_fast_traits(exec_fn fn);

/* A register-only handler that the JIT (cpu/jit.c) writes out as native
 * code: what it computes, with the operands of its record; and the MOVs
 * between memory and a general register or an immediate and the PUSH
 * and POP of a register, which the JIT runs behind a guard (cpu/jit.h,
 * side exits). */
enum fast_form {
    FORM_NONE, FORM_ALU, FORM_MOV,
    FORM_INCDEC, /* flag-free INC or DEC */
    FORM_SHIFT,  /* flag-free SHL, SHR or SAR by an immediate or 1 */
    FORM_NEG,    /* NEG, its flags recorded as 0 - a or dead */
    FORM_NOT,
    FORM_LEA,
    FORM_LOAD,   /* MOV reg, [m] */
    FORM_STORE,  /* MOV [m], reg or imm */
    FORM_PUSH,   /* PUSH of a 64-bit register in 64-bit code */
    FORM_POP,    /* POP of one */
};
struct fast_template {
    uint8_t form;   /* enum fast_form */
    uint8_t op;     /* FORM_ALU: enum alu_op (ADD, OR, AND, SUB, XOR, CMP,
                       TEST); FORM_INCDEC: FOP_INC or FOP_DEC;
                       FORM_SHIFT: SH_SHL, SH_SHR or SH_SAR */
    uint8_t size;   /* 4 or 8; 1 too for FORM_LOAD and FORM_STORE */
    bool imm;       /* the source is op[1].value, else GPR op[1].reg */
    bool flags;     /* records the flags (flags_record), else leaves them */
};

/* The template of `fn`; form FORM_NONE where there is none. */
struct fast_template exec_fast_template(exec_fn fn);

#endif
