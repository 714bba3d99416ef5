/* Data movement: MOV and its relatives, the stack, string instructions. */
#include "cpu/exec.h"
#include "cpu/ops.h"
#include "cpu/string_fast.h"
#include "cpu/system.h"
#include "machine.h"

bool exec_mov(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    if (d->kind == OPK_REG && d->rclass != RC_GPR)
        return d->rclass == RC_SEG ? sys_mov_to_seg(c, i)
                                   : sys_mov_to_crdr(c, i);
    if (s->kind == OPK_REG && s->rclass != RC_GPR)
        return s->rclass == RC_SEG ? sys_mov_from_seg(c, i)
                                   : sys_mov_from_crdr(c, i);
    return exec_mov_data(c, i);
}

/* MOV between general registers, memory and immediates (no segment,
 * control or debug register): chosen at decode time. */
bool exec_mov_data(struct cpu *c, const struct insn *i)
{
    uint64_t v;
    return op_read(c, i, 1, &v) && op_write(c, i, 0, v);
}

bool exec_movzx(struct cpu *c, const struct insn *i)
{
    uint64_t v;
    return op_read(c, i, 1, &v) && op_write(c, i, 0, v);
}

/* MOVSX and MOVSXD. */
bool exec_movsx(struct cpu *c, const struct insn *i)
{
    uint64_t v;
    if (!op_read(c, i, 1, &v))
        return false;
    unsigned shift = 64 - i->op[1].size * 8;
    return op_write(c, i, 0, (uint64_t)((int64_t)(v << shift) >> shift));
}

bool exec_lea(struct cpu *c, const struct insn *i)
{
    return op_write(c, i, 0, op_ea(c, i, &i->op[1]));
}

bool exec_nop(struct cpu *c, const struct insn *i)
{
    (void)c;
    (void)i;
    return true;
}

bool exec_push(struct cpu *c, const struct insn *i)
{
    const struct operand *o = &i->op[0];
    unsigned size = stack_opsize(c, i);
    uint64_t v;
    if (o->kind == OPK_REG && o->rclass == RC_SEG)
        v = c->seg[o->reg].sel;
    else if (o->kind == OPK_IMM)
        v = (uint64_t)o->value; /* sign-extended to the operand size */
    else if (o->kind == OPK_MEM) {
        if (!mem_read(c, o->seg, op_ea(c, i, o), size, &v))
            return false;
    } else
        v = gpr_get(c, o->reg, size, false);
    /* PUSH RSP pushes the value before the push (SDM Vol. 2B "PUSH"). */
    return stack_push(c, size, v);
}

bool exec_pop(struct cpu *c, const struct insn *i)
{
    const struct operand *o = &i->op[0];
    unsigned size = stack_opsize(c, i);
    uint64_t v;
    if (!stack_peek(c, 0, size, &v))
        return false;
    if (o->kind == OPK_REG && o->rclass == RC_SEG)
        return sys_pop_seg(c, o->reg, v, size);
    uint64_t old_sp = c->gpr[RSP];
    unsigned as = stack_addr_size(c);
    gpr_set(c, RSP, as, false, old_sp + size);
    /* POP to memory computes its address after RSP moved (SDM Vol. 2B
     * "POP"); a fault restores RSP. POP RSP loads the popped value. */
    if (o->kind == OPK_MEM) {
        if (!mem_write(c, o->seg, op_ea(c, i, o), size, v)) {
            c->gpr[RSP] = old_sp;
            return false;
        }
        return true;
    }
    gpr_set(c, o->reg, size, false, v);
    return true;
}

/* PUSHF: the image with VM and RF cleared (SDM Vol. 2B "PUSHF"). */
bool exec_pushf(struct cpu *c, const struct insn *i)
{
    uint64_t f = cpu_rflags(c) & ~(FL_VM | FL_RF);
    return stack_push(c, stack_opsize(c, i), f);
}

/* POPF in protected mode (SDM Vol. 2B "POPF"): CPL 0 may change IOPL;
 * IF only changes when CPL <= IOPL, silently otherwise. VM, VIF, VIP
 * keep their values, RF is cleared. */
bool exec_popf(struct cpu *c, const struct insn *i)
{
    unsigned size = stack_opsize(c, i);
    uint64_t v;
    if (!stack_pop(c, size, &v))
        return false;
    uint64_t old = cpu_rflags(c);
    uint64_t mask = FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_TF | FL_DF |
                    FL_OF | FL_NT | FL_AC | FL_ID;
    if (c->cpl <= FL_IOPL_OF(old))
        mask |= FL_IF;
    if (c->cpl == 0)
        mask |= FL_IOPL;
    mask &= size_mask(size);
    cpu_set_rflags(c, ((old & ~mask) | (v & mask)) & ~FL_RF);
    return true;
}

bool exec_leave(struct cpu *c, const struct insn *i)
{
    unsigned as = stack_addr_size(c), size = stack_opsize(c, i);
    uint64_t v, old_sp = c->gpr[RSP];
    gpr_set(c, RSP, as, false, c->gpr[RBP]);
    if (!stack_pop(c, size, &v)) {
        c->gpr[RSP] = old_sp;
        return false;
    }
    gpr_set(c, RBP, size, false, v);
    return true;
}

unsigned string_source_seg(const struct insn *i)
{
    for (unsigned k = 0; k < i->nops; k++)
        if (i->op[k].kind == OPK_MEM && i->op[k].base == RSI)
            return i->op[k].seg;
    return SEG_DS;
}

/* The element size from the opcode (6C..6F, A4..AF: even = byte) and
 * the operand size, not from capstone's operands: capstone 4.0.2 decodes
 * 66 F3 A5 as "rep movsd" (dword elements) although 0x66 makes them
 * words; F3 66 A5 it decodes right. INS and OUTS have no 64-bit form:
 * REX.W leaves them at 32 bits (SDM Vol. 2A "INS", Vol. 2B "OUTS"). */
unsigned string_element_size(const struct insn *i)
{
    if (!(i->opcode & 1))
        return 1;
    bool io = i->sub == STR_INS || i->sub == STR_OUTS;
    return io && i->opsize > 4 ? 4 : i->opsize;
}

/* Whether a write of `size` bytes at ES:offset would succeed, faulting
 * as the write would if not: INS checks its destination before it reads
 * the port, so that a faulting write does not consume the device's data
 * (a restarted INS reads the port once). */
static bool es_writable(struct cpu *c, uint64_t offset, unsigned size)
{
    uint64_t lin, pa;
    bool user = c->cpl == 3;
    if (!seg_linear(c, SEG_ES, offset, size, ACC_WRITE, &lin) ||
        !lin_translate(c, lin, ACC_WRITE, user, &pa))
        return false;
    uint64_t last = lin + size - 1;
    if (!c->long_mode)
        last &= 0xFFFFFFFF;
    return (last >> 12) == (lin >> 12) ||
           lin_translate(c, last, ACC_WRITE, user, &pa);
}

/* One iteration of MOVS/STOS/LODS/CMPS/SCAS/INS/OUTS. */
static bool string_step(struct cpu *c, const struct insn *i, unsigned size,
                        unsigned src_seg, int64_t step)
{
    uint64_t am = addr_mask(i);
    uint64_t si = c->gpr[RSI] & am, di = c->gpr[RDI] & am;
    uint64_t a, b;
    switch (i->sub) {
    case STR_MOVS:
        if (!mem_read(c, src_seg, si, size, &a) ||
            !mem_write(c, SEG_ES, di, size, a))
            return false;
        break;
    case STR_STOS:
        if (!mem_write(c, SEG_ES, di, size, c->gpr[RAX]))
            return false;
        break;
    case STR_LODS:
        if (!mem_read(c, src_seg, si, size, &a))
            return false;
        gpr_set(c, RAX, size, false, a);
        break;
    case STR_CMPS:
        if (!mem_read(c, src_seg, si, size, &a) ||
            !mem_read(c, SEG_ES, di, size, &b))
            return false;
        flags_record(&c->flags, FOP_SUB, size, a - b, a, b, 0);
        break;
    case STR_SCAS:
        if (!mem_read(c, SEG_ES, di, size, &b))
            return false;
        a = c->gpr[RAX] & size_mask(size);
        flags_record(&c->flags, FOP_SUB, size, a - b, a, b, 0);
        break;
    case STR_INS: /* ES:rDI, not overridable */
        if (!es_writable(c, di, size))
            return false;
        a = ~0ull;
        bus_read(&c->m->ports, (uint16_t)c->gpr[RDX], size, &a);
        if (!mem_write(c, SEG_ES, di, size, a & size_mask(size)))
            return false;
        break;
    default: /* OUTS */
        if (!mem_read(c, src_seg, si, size, &a))
            return false;
        bus_write(&c->m->ports, (uint16_t)c->gpr[RDX], size, a);
        break;
    }
    unsigned as = i->addrsize;
    bool reads_si = i->sub == STR_MOVS || i->sub == STR_LODS ||
                    i->sub == STR_CMPS || i->sub == STR_OUTS;
    if (reads_si)
        gpr_set(c, RSI, as, false, si + (uint64_t)step);
    if (i->sub != STR_LODS && i->sub != STR_OUTS)
        gpr_set(c, RDI, as, false, di + (uint64_t)step);
    return true;
}

/* With a REP prefix the count register is RCX/ECX/CX by address size.
 * Registers advance after every element, so a fault mid-way leaves a
 * restartable state (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ"). Events
 * are taken between iterations (SDM Vol. 1 7.3.9.1): the instruction
 * then returns false with nothing raised, RIP stays at it, and the next
 * step resumes it from RCX/RSI/RDI. Each iteration costs a modeled cycle
 * and counts one step against the instruction limit; the instruction
 * retires (c->insns) once, when it completes (docs/emulator.md). */
bool exec_string(struct cpu *c, const struct insn *i)
{
    unsigned size = string_element_size(i), src_seg = string_source_seg(i);
    /* INS/OUTS: IOPL and the TSS I/O permission bitmap, once for the
     * whole instruction and before its count is looked at (SDM Vol. 2A
     * "INS", Vol. 2B "OUTS"). */
    if ((i->sub == STR_INS || i->sub == STR_OUTS) &&
        !sys_io_allowed(c, (uint16_t)c->gpr[RDX], size))
        return false;
    int64_t step = (flags_get(&c->flags) & FL_DF) ? -(int64_t)size
                                                  : (int64_t)size;
    if (i->rep == REP_NONE)
        return string_step(c, i, size, src_seg, step);
    bool compares = i->sub == STR_CMPS || i->sub == STR_SCAS;
    uint64_t am = addr_mask(i);
    while (c->gpr[RCX] & am) {
        /* Many iterations over RAM at once where that changes nothing
         * the machine shows (string_fast.h), else one here. */
        if (!string_fast(c, i, size, src_seg, step)) {
            if (!string_step(c, i, size, src_seg, step))
                return false;
            gpr_set(c, RCX, i->addrsize, false, (c->gpr[RCX] & am) - 1);
            c->cycles++;
            c->rep_iterations++;
        }
        if (compares && flags_zf(&c->flags) != (i->rep == REP_E))
            break;
        if ((c->gpr[RCX] & am) && string_must_pause(c)) {
            /* Whatever is taken now (an interrupt, an NMI, a #DB trap, a
             * VM exit) sees RF = 1, and so does the resumed instruction,
             * whose breakpoint does not fire again (SDM Vol. 3B 18.3.1.1:
             * RF is pushed as 1 for an interrupt or a trap after any
             * iteration but the last; debug_before() clears it). */
            flags_update(&c->flags, FL_RF, FL_RF);
            c->string_paused = true;
            return false;
        }
    }
    return true;
}
