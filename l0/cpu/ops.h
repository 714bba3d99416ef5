/* Operand access for the instruction families: registers (with the
 * 32-bit zero-extension rule), immediates, memory through the segment and
 * paging units, and the stack. */
#ifndef L0_CPU_OPS_H
#define L0_CPU_OPS_H

#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/mmu.h"
#include "cpu/tlb_charge.h"

/* Operand access is the interpreter's hot path: always inlined into the
 * families (measured: about 15% of run time otherwise). */
#define OPS_HOT static inline __attribute__((always_inline))

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
/* The linear address of offset `off` in segment `seg`, without checks:
 * in 64-bit mode only FS and GS add their base (SDM Vol. 3A 3.4.4). */
static inline uint64_t seg_offset_linear(const struct cpu *c, unsigned seg,
                                         uint64_t off)
{
    if (c->code64)
        return off + ((seg == SEG_FS || seg == SEG_GS) ? c->seg[seg].base : 0);
    return (c->seg[seg].base + off) & 0xFFFFFFFF;
}

/* The effective address with an address size of `addrsize` bytes (a
 * constant 8 drops the wrap). */
static inline uint64_t op_ea_sized(const struct cpu *c,
                                   const struct operand *o,
                                   unsigned addrsize)
{
    uint64_t a = (uint64_t)o->value;
    if (o->base == BASE_RIP)
        a += c->next_rip;
    else if (o->base != BASE_NONE)
        a += c->gpr[o->base];
    if (o->index != BASE_NONE)
        a += c->gpr[o->index] * o->scale;
    return a & size_mask(addrsize);
}

static inline uint64_t op_ea(const struct cpu *c, const struct insn *i,
                             const struct operand *o)
{
    return op_ea_sized(c, o, i->addrsize);
}

/* The modeled TLB for a data access on the fast path. In a block, the
 * page of the data side's last hit is looked up again without the
 * translation context (tlb_charge_tag): while tlb.generation is the
 * same, the context is (any change of CR0.PG, CR3, CR4, VMX operation,
 * VPID or EPTP changes the translations and bumps it), every entry put
 * in the model since carries it, and so the entry still at last[0]
 * answers tlbm_same_page() with a hit exactly when it covers the page;
 * the hit is counted as that function counts it. An invalidation
 * clears last[0]. */
OPS_HOT void charge_data(struct cpu *c, uint64_t lin)
{
    struct tlb_model *mt = c->mtlb;
    const struct tlbm_entry *h = c->data_hint;
    if (h && mt->last[0] == h && c->data_hint_gen == c->tlb.generation &&
        h->vpn == lin >> tlbm_page_shift(h->size)) {
        mt->stats.hits++;
        return;
    }
    tlb_charge_data(c, lin);
    if (c->data_hint_on) {
        bool charged = (c->cr0 & CR0_PG) || tlb_charge_ept(c);
        c->data_hint = charged ? mt->last[0] : NULL;
        c->data_hint_gen = c->tlb.generation;
    }
}

/* The TLB entry for a data access at linear `lin` that fits in one
 * page and hits the TLB with the needed rights; NULL sends the caller
 * to the full path in mmu.c, which also handles faults, A/D bits, MMIO
 * and self-modifying code. Nothing is charged to the modeled TLB. */
OPS_HOT struct tlb_entry *tlb_peek(struct cpu *c, uint64_t lin,
                                   unsigned size, bool write)
{
    if ((lin & 0xFFF) > 4096u - size)
        return NULL;
    struct tlb_entry *t = tlb_slot(&c->tlb, lin);
    if (t->tag != tlb_tag(&c->tlb, lin) || !t->host ||
        (c->cpl == 3 && !(t->perm & TLB_USER)))
        return NULL;
    if (write && (!(t->perm & TLB_DIRTY) || c->code_map[t->phys >> 12] ||
                  (!(t->perm & TLB_WRITE) &&
                   (c->cpl == 3 || (c->cr0 & CR0_WP)))))
        return NULL;
    return t;
}

/* Whether an access through `seg` needs no segmentation work now: in
 * 64-bit mode only FS and GS add a base, and no limit is checked (SDM
 * Vol. 3A 3.4.4, 5.3.1). */
OPS_HOT bool access_flat(const struct cpu *c, unsigned seg)
{
    return c->code64 && seg != SEG_FS && seg != SEG_GS;
}

/* tlb_peek() for an access that needs no segmentation work. A hit meets
 * the modeled TLB as the full path does: what the model charges must
 * not depend on this host-side TLB (a second look at the same page, as
 * a read-modify-write makes, charges nothing more). */
OPS_HOT struct tlb_entry *flat_tlb(struct cpu *c, uint64_t lin,
                                   unsigned size, bool write)
{
    struct tlb_entry *t = tlb_peek(c, lin, size, write);
    if (t)
        charge_data(c, lin);
    return t;
}

/* The same, where the access may need segmentation work (NULL then). */
OPS_HOT struct tlb_entry *fast_tlb(struct cpu *c, unsigned seg,
                                   uint64_t lin, unsigned size, bool write)
{
    return access_flat(c, seg) ? flat_tlb(c, lin, size, write) : NULL;
}

/* mem_read_fast() and mem_write_fast() where the caller knows that the
 * access needs no segmentation work, as the handlers of exec_fast.c
 * picked for such records do: the same accesses, lookups of the modeled
 * TLB and outcome, without the checks of the mode and segment. `rmw`:
 * the read of a read-modify-write, checked for writing as
 * mem_read_rmw() does. */
OPS_HOT bool mem_read_flat(struct cpu *c, unsigned seg, uint64_t off,
                           unsigned size, uint64_t *v, bool rmw)
{
    struct tlb_entry *t = flat_tlb(c, off, size, rmw);
    if (!t)
        return rmw ? mem_read_rmw(c, seg, off, size, v)
                   : mem_read(c, seg, off, size, v);
    *v = 0;
    memcpy(v, t->host + (off & 0xFFF), size);
    return true;
}

OPS_HOT bool mem_write_flat(struct cpu *c, unsigned seg, uint64_t off,
                            unsigned size, uint64_t v)
{
    struct tlb_entry *t = flat_tlb(c, off, size, true);
    if (!t)
        return mem_write(c, seg, off, size, v);
    memcpy(t->host + (off & 0xFFF), &v, size);
    return true;
}

OPS_HOT bool mem_read_fast(struct cpu *c, unsigned seg, uint64_t off,
                           unsigned size, uint64_t *v)
{
    if (!access_flat(c, seg))
        return mem_read(c, seg, off, size, v);
    return mem_read_flat(c, seg, off, size, v, false);
}

OPS_HOT bool mem_write_fast(struct cpu *c, unsigned seg, uint64_t off,
                            unsigned size, uint64_t v)
{
    if (!access_flat(c, seg))
        return mem_write(c, seg, off, size, v);
    return mem_write_flat(c, seg, off, size, v);
}

/* The read of a read-modify-write (mem_read_rmw) on the fast path. */
OPS_HOT bool mem_read_rmw_fast(struct cpu *c, unsigned seg, uint64_t off,
                               unsigned size, uint64_t *v)
{
    if (!access_flat(c, seg))
        return mem_read_rmw(c, seg, off, size, v);
    return mem_read_flat(c, seg, off, size, v, true);
}

OPS_HOT bool op_read(struct cpu *c, const struct insn *i, unsigned k,
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
        return mem_read_fast(c, o->seg, op_ea(c, i, o), o->size, v);
    }
}

OPS_HOT bool op_read_rmw(struct cpu *c, const struct insn *i, unsigned k,
                         uint64_t *v)
{
    const struct operand *o = &i->op[k];
    if (o->kind == OPK_MEM) {
        /* One access, so one lookup of the modeled TLB, as on the slow
         * path (flat_tlb makes it). */
        return mem_read_rmw_fast(c, o->seg, op_ea(c, i, o), o->size, v);
    }
    return op_read(c, i, k, v);
}

OPS_HOT bool op_write(struct cpu *c, const struct insn *i, unsigned k,
                      uint64_t v)
{
    const struct operand *o = &i->op[k];
    if (o->kind == OPK_REG) {
        gpr_set(c, o->reg, o->size, o->hi8, v);
        return true;
    }
    return mem_write_fast(c, o->seg, op_ea(c, i, o), o->size, v);
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
    if (!mem_write_fast(c, SEG_SS, sp, size, v))
        return false;
    gpr_set(c, RSP, as, false, sp);
    return true;
}

static inline bool stack_pop(struct cpu *c, unsigned size, uint64_t *v)
{
    unsigned as = stack_addr_size(c);
    uint64_t sp = c->gpr[RSP] & size_mask(as);
    if (!mem_read_fast(c, SEG_SS, sp, size, v))
        return false;
    gpr_set(c, RSP, as, false, sp + size);
    return true;
}

/* Reads from the stack at RSP + offset without moving RSP. */
static inline bool stack_peek(struct cpu *c, uint64_t offset, unsigned size,
                              uint64_t *v)
{
    unsigned as = stack_addr_size(c);
    return mem_read_fast(c, SEG_SS, (c->gpr[RSP] + offset) & size_mask(as),
                         size, v);
}

/* Push and pop operand size: 64-bit mode defaults to 8 (16 with 0x66). */
static inline unsigned stack_opsize(const struct cpu *c, const struct insn *i)
{
    if (c->code64)
        return i->opsize == 2 ? 2 : 8;
    return i->opsize;
}

#endif
