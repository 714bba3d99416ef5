/* The instruction set: capstone instruction id -> the family that
 * executes it and its sub-operation. One table, in isa.c. */
#ifndef L0_CPU_ISA_H
#define L0_CPU_ISA_H

#include <stdint.h>

#include "cpu/decode.h"

enum {
    ISA_BRANCH = 1 << 0, /* the immediate is a branch target */
    ISA_VMX = 1 << 1,    /* may cause a VM exit (l0/vmx/intercept.c) */
};

struct isa_entry {
    exec_fn exec;
    uint8_t sub;
    uint8_t flags;
};

/* NULL if the instruction is not implemented. */
const struct isa_entry *isa_lookup(unsigned capstone_id);

/* A faster handler for this decoded instruction's operand kinds, or its
 * generic one. */
exec_fn isa_specialize(const struct insn *i);

/* Whether the instruction may cause a VM exit in non-root operation. */
bool isa_vmx_exits(const struct insn *i, const struct isa_entry *e);

#endif
