/* Operand-specialized handlers for the most frequent instruction forms
 * (ALU and MOV on general registers, immediates and memory, INC, DEC,
 * Jcc, PUSH and POP): see exec_fast.c. */
#ifndef L0_CPU_EXEC_FAST_H
#define L0_CPU_EXEC_FAST_H

#include "cpu/decode.h"

/* The specialized handler for record `i`, whose general handler is
 * `general`, or `general` itself where there is none. */
exec_fn exec_fast_pick(const struct insn *i, exec_fn general);

#endif
