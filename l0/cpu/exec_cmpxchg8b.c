/* CMPXCHG8B and CMPXCHG16B (SDM Vol. 2A "CMPXCHG8B/CMPXCHG16B"): compare
 * EDX:EAX (RDX:RAX) with the memory operand; if equal, store ECX:EBX
 * (RCX:RBX) and set ZF, else load the operand into EDX:EAX and clear ZF.
 * The destination is written in both cases (the old value when the
 * compare fails), so it is checked for writing first. Other flags are
 * unchanged. */
#include <capstone/capstone.h>
#include <string.h>

#include "cpu/exec_fpu.h"
#include "cpu/fpu_mem.h"
#include "cpu/ops.h"

bool exec_cmpxchg8b(struct cpu *c, const struct insn *i)
{
    const struct operand *o = &i->op[0];
    bool wide = i->id == X86_INS_CMPXCHG16B;
    unsigned half = wide ? 8 : 4;
    uint64_t ea = op_ea(c, i, o), mem[2] = {0, 0};
    if (wide && !fpu_check_align(c, o->seg, ea, 16))
        return false;
    uint8_t bytes[16];
    if (!fpu_mem_read(c, o->seg, ea, addr_mask(i), 2 * half, bytes, true))
        return false;
    memcpy(&mem[0], bytes, half);
    memcpy(&mem[1], bytes + half, half);
    uint64_t m = size_mask(half);
    bool equal = mem[0] == (c->gpr[RAX] & m) && mem[1] == (c->gpr[RDX] & m);
    if (equal) {
        uint64_t nw[2] = {c->gpr[RBX], c->gpr[RCX]};
        memcpy(bytes, &nw[0], half);
        memcpy(bytes + half, &nw[1], half);
    }
    if (!fpu_mem_write(c, o->seg, ea, addr_mask(i), 2 * half, bytes))
        return false;
    if (!equal) {
        gpr_set(c, RAX, half, false, mem[0]);
        gpr_set(c, RDX, half, false, mem[1]);
    }
    uint64_t f = cpu_rflags(c) & ~FL_ZF;
    cpu_set_rflags(c, f | (equal ? FL_ZF : 0));
    return true;
}
