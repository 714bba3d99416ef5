/* Operand access for the instruction families: registers (with the
 * 32-bit zero-extension rule), immediates, memory through the segment and
 * paging units, and the stack. */
#ifndef L0_CPU_OPS_H
#define L0_CPU_OPS_H

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/mmu.h"

static inline uint64_t gpr_get(const struct cpu *c, unsigned reg,
                               unsigned size, bool hi8)
{
    if (hi8)
        return (c->gpr[reg] >> 8) & 0xFF;
    return c->gpr[reg] & size_mask(size);
}

/* Writes of 32 bits zero the upper half; 8 and 16 bits merge (SDM Vol. 1
 * 3.4.1.1). */
static inline void gpr_set(struct cpu *c, unsigned reg, unsigned size,
                           bool hi8, uint64_t v)
{
    uint64_t *r = &c->gpr[reg];
    if (hi8)
        *r = (*r & ~0xFF00ull) | ((v & 0xFF) << 8);
    else if (size == 4)
        *r = (uint32_t)v;
    else if (size == 8)
        *r = v;
    else
        *r = (*r & ~size_mask(size)) | (v & size_mask(size));
}

static inline uint64_t addr_mask(const struct insn *i)
{
    return size_mask(i->addrsize);
}

/* The effective address of a memory operand (SDM Vol. 1 3.7.5). */
static inline uint64_t op_ea(const struct cpu *c, const struct insn *i,
                             const struct operand *o)
{
    uint64_t a = (uint64_t)o->value;
    if (o->base == BASE_RIP)
        a += c->next_rip;
    else if (o->base != BASE_NONE)
        a += c->gpr[o->base];
    if (o->index != BASE_NONE)
        a += c->gpr[o->index] * o->scale;
    return a & addr_mask(i);
}

static inline bool op_read(struct cpu *c, const struct insn *i, unsigned k,
                           uint64_t *v)
{
    const struct operand *o = &i->op[k];
    switch (o->kind) {
    case OPK_REG:
        *v = gpr_get(c, o->reg, o->size, o->hi8);
        return true;
    case OPK_IMM:
        *v = (uint64_t)o->value & size_mask(o->size);
        return true;
    default:
        return mem_read(c, o->seg, op_ea(c, i, o), o->size, v);
    }
}

static inline bool op_read_rmw(struct cpu *c, const struct insn *i,
                               unsigned k, uint64_t *v)
{
    const struct operand *o = &i->op[k];
    if (o->kind == OPK_MEM)
        return mem_read_rmw(c, o->seg, op_ea(c, i, o), o->size, v);
    return op_read(c, i, k, v);
}

static inline bool op_write(struct cpu *c, const struct insn *i, unsigned k,
                            uint64_t v)
{
    const struct operand *o = &i->op[k];
    if (o->kind == OPK_REG) {
        gpr_set(c, o->reg, o->size, o->hi8, v);
        return true;
    }
    return mem_write(c, o->seg, op_ea(c, i, o), o->size, v);
}

/* The stack: RSP in 64-bit mode, ESP or SP by SS.B otherwise. */
static inline unsigned stack_addr_size(const struct cpu *c)
{
    if (c->code64)
        return 8;
    return (c->seg[SEG_SS].attr & SEG_ATTR_DB) ? 4 : 2;
}

static inline bool stack_push(struct cpu *c, unsigned size, uint64_t v)
{
    unsigned as = stack_addr_size(c);
    uint64_t sp = (c->gpr[RSP] - size) & size_mask(as);
    if (!mem_write(c, SEG_SS, sp, size, v))
        return false;
    gpr_set(c, RSP, as, false, sp);
    return true;
}

static inline bool stack_pop(struct cpu *c, unsigned size, uint64_t *v)
{
    unsigned as = stack_addr_size(c);
    uint64_t sp = c->gpr[RSP] & size_mask(as);
    if (!mem_read(c, SEG_SS, sp, size, v))
        return false;
    gpr_set(c, RSP, as, false, sp + size);
    return true;
}

/* Reads from the stack at RSP + offset without moving RSP. */
static inline bool stack_peek(struct cpu *c, uint64_t offset, unsigned size,
                              uint64_t *v)
{
    unsigned as = stack_addr_size(c);
    return mem_read(c, SEG_SS, (c->gpr[RSP] + offset) & size_mask(as), size,
                    v);
}

/* Push and pop operand size: 64-bit mode defaults to 8 (16 with 0x66). */
static inline unsigned stack_opsize(const struct cpu *c, const struct insn *i)
{
    if (c->code64)
        return i->opsize == 2 ? 2 : 8;
    return i->opsize;
}

#endif
