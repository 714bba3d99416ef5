/* Operand-specialized handlers for the most frequent instruction forms,
 * chosen at decode time (isa_specialize) into the record's handler
 * pointer: each is the general family's code (exec_alu.c, exec_flow.c,
 * exec_move.c) with the operation, the operand kinds and the operand
 * size made constants, so that the compiler drops the dispatch on them.
 * They do exactly what the general handler does for the same record;
 * tests/unit/test_insn_diff.c runs every form through both engines and
 * the host CPU.
 *
 * Only records decoded for 64-bit mode (insn.mode64) get the handlers
 * that assume it (Jcc, PUSH, POP, memory operands without the checks
 * of the mode and segment): the decode cache and the engines hand such
 * a record out only while the CPU is in 64-bit mode. */
#include "cpu/exec_fast.h"

#include "cpu/exec.h"
#include "cpu/ops.h"

/* ---- ALU operations on a general register (exec_alu_reg) ------------- */

#define FAST static inline __attribute__((always_inline))

/* ADD, OR, AND, SUB, XOR, CMP or TEST of a and b (not ADC or SBB,
 * which read CF): the result, and how its flags are derived. */
FAST uint64_t alu_compute(enum alu_op op, uint64_t a, uint64_t b,
                          enum flags_op *fop)
{
    switch (op) {
    case ALU_ADD: *fop = FOP_ADD; return a + b;
    case ALU_SUB:
    case ALU_CMP: *fop = FOP_SUB; return a - b;
    case ALU_OR: *fop = FOP_LOGIC; return a | b;
    case ALU_XOR: *fop = FOP_LOGIC; return a ^ b;
    default: *fop = FOP_LOGIC; return a & b; /* AND, TEST */
    }
}

FAST bool alu_reg(struct cpu *c, const struct insn *i, enum alu_op op,
                  bool imm, unsigned size, bool flags)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    uint64_t mask = size_mask(size);
    uint64_t a = c->gpr[d->reg] & mask;
    uint64_t b = (imm ? (uint64_t)s->value : c->gpr[s->reg]) & mask;
    enum flags_op fop;
    uint64_t r = alu_compute(op, a, b, &fop);
    if (flags)
        flags_record(&c->flags, fop, size, r, a, b, 0);
    if (op != ALU_CMP && op != ALU_TEST)
        gpr_set(c, d->reg, size, false, r);
    return true;
}

/* A form `name` of `fn` with the operands given, recording the flags,
 * and `name_nf` leaving them alone (for the block engine's records whose
 * flags are dead: exec_fast_traits()). */
#define FLAG_FORMS(name, fn, ...)                                             \
    static bool name(struct cpu *c, const struct insn *i)                    \
    { return fn(c, i, __VA_ARGS__, true); }                                  \
    static bool name##_nf(struct cpu *c, const struct insn *i)               \
    { return fn(c, i, __VA_ARGS__, false); }
#define ALU_FORMS(name, op)                                                   \
    FLAG_FORMS(name##_rr4, alu_reg, op, false, 4)                            \
    FLAG_FORMS(name##_rr8, alu_reg, op, false, 8)                            \
    FLAG_FORMS(name##_ri4, alu_reg, op, true, 4)                             \
    FLAG_FORMS(name##_ri8, alu_reg, op, true, 8)

ALU_FORMS(add, ALU_ADD)
ALU_FORMS(or, ALU_OR)
ALU_FORMS(and, ALU_AND)
ALU_FORMS(sub, ALU_SUB)
ALU_FORMS(xor, ALU_XOR)
ALU_FORMS(cmp, ALU_CMP)
ALU_FORMS(test, ALU_TEST)

/* [operation][immediate source][8-byte operands]; ADC and SBB, which
 * read CF, stay with exec_alu_reg. */
#define ALU_ROW(name) {{name##_rr4, name##_rr8}, {name##_ri4, name##_ri8}}
static const exec_fn alu_forms[][2][2] = {
    [ALU_ADD] = ALU_ROW(add), [ALU_OR] = ALU_ROW(or),
    [ALU_AND] = ALU_ROW(and), [ALU_SUB] = ALU_ROW(sub),
    [ALU_XOR] = ALU_ROW(xor), [ALU_CMP] = ALU_ROW(cmp),
    [ALU_TEST] = ALU_ROW(test),
};

/* ---- INC and DEC of a general register (exec_alu.c incdec) ----------- */

FAST bool incdec_reg(struct cpu *c, const struct insn *i, enum flags_op op,
                     unsigned size, bool flags)
{
    unsigned reg = i->op[0].reg;
    uint64_t a = c->gpr[reg] & size_mask(size);
    uint64_t r = op == FOP_INC ? a + 1 : a - 1;
    gpr_set(c, reg, size, false, r);
    if (flags)
        flags_record_incdec(&c->flags, op, size, r, a);
    return true;
}

FLAG_FORMS(inc4, incdec_reg, FOP_INC, 4)
FLAG_FORMS(inc8, incdec_reg, FOP_INC, 8)
FLAG_FORMS(dec4, incdec_reg, FOP_DEC, 4)
FLAG_FORMS(dec8, incdec_reg, FOP_DEC, 8)

/* ---- NEG and NOT of a general register (exec_alu.c) ------------------ */

/* NEG records its flags as 0 - a (CF = a != 0), as exec_neg does. */
FAST bool neg_reg(struct cpu *c, const struct insn *i, unsigned size,
                  bool flags)
{
    unsigned reg = i->op[0].reg;
    uint64_t a = c->gpr[reg] & size_mask(size), r = 0 - a;
    gpr_set(c, reg, size, false, r);
    if (flags)
        flags_record(&c->flags, FOP_SUB, size, r, 0, a, 0);
    return true;
}

FLAG_FORMS(neg4, neg_reg, 4)
FLAG_FORMS(neg8, neg_reg, 8)

static bool not4(struct cpu *c, const struct insn *i)
{
    gpr_set(c, i->op[0].reg, 4, false, ~c->gpr[i->op[0].reg]);
    return true;
}

static bool not8(struct cpu *c, const struct insn *i)
{
    gpr_set(c, i->op[0].reg, 8, false, ~c->gpr[i->op[0].reg]);
    return true;
}

/* ---- IMUL of general registers (exec_alu.c exec_imul) ----------------- */

/* IMUL r, r and IMUL r, r, imm: the signed product's low half; CF = OF
 * = whether it lost significant bits. SF, ZF and PF (undefined) from
 * the low half and AF (undefined) cleared, as exec_imul sets them; all
 * six are written whatever they were, and no other flag changes (the
 * non-arithmetic bits of the lazy flags are `bits`: flags.h). */
FAST bool imul_reg(struct cpu *c, const struct insn *i, bool imm,
                   unsigned size, bool flags)
{
    const struct operand *d = &i->op[0];
    uint64_t a = imm ? c->gpr[i->op[1].reg] : c->gpr[d->reg];
    uint64_t b = imm ? (uint64_t)i->op[2].value : c->gpr[i->op[1].reg];
    int64_t sa = size == 8 ? (int64_t)a : (int32_t)a;
    int64_t sb = size == 8 ? (int64_t)b : (int32_t)b;
    __int128 p = (__int128)sa * sb;
    uint64_t lo = (uint64_t)p & size_mask(size);
    int64_t slo = size == 8 ? (int64_t)lo : (int32_t)lo;
    gpr_set(c, d->reg, size, false, lo);
    if (flags)
        flags_set(&c->flags, (c->flags.bits & ~FL_ARITH) |
                                 flags_szp(lo, size) |
                                 ((__int128)slo != p ? FL_CF | FL_OF : 0));
    return true;
}

FLAG_FORMS(imul_rr4, imul_reg, false, 4)
FLAG_FORMS(imul_rr8, imul_reg, false, 8)
FLAG_FORMS(imul_rri4, imul_reg, true, 4)
FLAG_FORMS(imul_rri8, imul_reg, true, 8)

/* ---- SHL, SHR and SAR of a general register (exec_alu.c exec_shift) --- */

/* By an immediate or by 1: the count is masked to 5 bits (6 with
 * REX.W), so it is below the operand's width; 0 changes no flag but
 * still writes the register (a 32-bit one is zero-extended). The flags
 * as exec_shift() sets them, AF kept (SDM Vol. 2B "SAL/SAR/SHL/SHR"). */
FAST bool shift_reg(struct cpu *c, const struct insn *i, enum shift_op op,
                    unsigned size, bool flags)
{
    unsigned reg = i->op[0].reg, bits = 8 * size;
    uint64_t a = c->gpr[reg] & size_mask(size), msb = sign_bit(size);
    uint64_t n = i->nops > 1 ? (uint64_t)i->op[1].value : 1;
    unsigned count = (unsigned)(n & (size == 8 ? 0x3F : 0x1F));
    if (count == 0) {
        gpr_set(c, reg, size, false, a);
        return true;
    }
    uint64_t r;
    bool cf, of;
    if (op == SH_SHL) {
        r = a << count;
        cf = (a >> (bits - count)) & 1;
        of = ((r & msb) != 0) ^ cf;
    } else if (op == SH_SHR) {
        r = a >> count;
        cf = (a >> (count - 1)) & 1;
        of = (a & msb) != 0;
    } else {
        int64_t s = size == 8 ? (int64_t)a : (int64_t)(int32_t)a;
        r = (uint64_t)(s >> count);
        cf = (uint64_t)(s >> (count - 1)) & 1;
        of = false;
    }
    r &= size_mask(size);
    gpr_set(c, reg, size, false, r);
    if (flags) {
        uint64_t keep = ~(FL_CF | FL_OF | FL_SF | FL_ZF | FL_PF);
        flags_set(&c->flags, (flags_get(&c->flags) & keep) |
                                 (cf ? FL_CF : 0) | (of ? FL_OF : 0) |
                                 flags_szp(r, size));
    }
    return true;
}

FLAG_FORMS(shl4, shift_reg, SH_SHL, 4)
FLAG_FORMS(shl8, shift_reg, SH_SHL, 8)
FLAG_FORMS(shr4, shift_reg, SH_SHR, 4)
FLAG_FORMS(shr8, shift_reg, SH_SHR, 8)
FLAG_FORMS(sar4, shift_reg, SH_SAR, 4)
FLAG_FORMS(sar8, shift_reg, SH_SAR, 8)

/* ---- Jcc rel in 64-bit mode (exec_flow.c exec_jcc) -------------------- */

/* The target must be canonical, else #GP(0) at the branch (SDM Vol. 2A
 * "Jcc"). */
FAST bool jcc64(struct cpu *c, const struct insn *i, unsigned cc)
{
    if (!flags_cond(&c->flags, cc))
        return true;
    uint64_t t = c->next_rip + (uint64_t)i->op[0].value;
    if ((uint64_t)((int64_t)(t << 16) >> 16) != t)
        return cpu_fault(c, VEC_GP, 0);
    c->next_rip = t;
    return true;
}

#define JCC(cc)                                                               \
    static bool jcc_##cc(struct cpu *c, const struct insn *i)                \
    { return jcc64(c, i, cc); }
JCC(0) JCC(1) JCC(2) JCC(3) JCC(4) JCC(5) JCC(6) JCC(7)
JCC(8) JCC(9) JCC(10) JCC(11) JCC(12) JCC(13) JCC(14) JCC(15)

static const exec_fn jcc_forms[16] = {
    jcc_0, jcc_1, jcc_2, jcc_3, jcc_4, jcc_5, jcc_6, jcc_7,
    jcc_8, jcc_9, jcc_10, jcc_11, jcc_12, jcc_13, jcc_14, jcc_15,
};

/* ---- memory operands ----------------------------------------------------- */

/* How a handler finds and reaches its memory operand: for any record,
 * through op_ea() and mem_read_fast(), which check the mode and the
 * segment; or, for a record decoded for 64-bit mode with 64-bit
 * addressing through a segment other than FS and GS (ea_kind_of), with
 * neither check (access_flat holds) nor the address wrap, of any form
 * or of base + displacement. */
enum ea_kind { EA_ANY, EA_FLAT, EA_FLAT_BD, EA_KINDS };

FAST uint64_t mem_ea(const struct cpu *c, const struct insn *i,
                     const struct operand *m, enum ea_kind ea)
{
    if (ea == EA_FLAT_BD)
        return c->gpr[m->base] + (uint64_t)m->value;
    return ea == EA_FLAT ? op_ea_sized(c, m, 8) : op_ea(c, i, m);
}

/* `rmw`: the read of a read-modify-write (op_read_rmw). */
FAST bool mem_load(struct cpu *c, const struct operand *m, uint64_t lin,
                   unsigned size, uint64_t *v, bool rmw, enum ea_kind ea)
{
    if (ea != EA_ANY)
        return mem_read_flat(c, m->seg, lin, size, v, rmw);
    return rmw ? mem_read_rmw_fast(c, m->seg, lin, size, v)
               : mem_read_fast(c, m->seg, lin, size, v);
}

FAST bool mem_store(struct cpu *c, const struct operand *m, uint64_t lin,
                    unsigned size, uint64_t v, enum ea_kind ea)
{
    return ea != EA_ANY ? mem_write_flat(c, m->seg, lin, size, v)
                        : mem_write_fast(c, m->seg, lin, size, v);
}

/* Handlers `name##size` (EA_ANY), `name##size##_f` (EA_FLAT) and
 * `name##size##_bd` (EA_FLAT_BD) of `name`, and their row of a table
 * [size 1, 4, 8][enum ea_kind]. */
#define EA_FORMS(name, size)                                                  \
    static bool name##size(struct cpu *c, const struct insn *i)              \
    { return name(c, i, size, EA_ANY); }                                     \
    static bool name##size##_f(struct cpu *c, const struct insn *i)          \
    { return name(c, i, size, EA_FLAT); }                                    \
    static bool name##size##_bd(struct cpu *c, const struct insn *i)         \
    { return name(c, i, size, EA_FLAT_BD); }
#define MEM_FORMS(name) EA_FORMS(name, 1) EA_FORMS(name, 4) EA_FORMS(name, 8)
#define EA_ROW(name, size) {name##size, name##size##_f, name##size##_bd}
#define MEM_ROW(name) {EA_ROW(name, 1), EA_ROW(name, 4), EA_ROW(name, 8)}

/* ---- ALU operations with a memory operand (exec_alu) ------------------- */

/* Operation i->sub (not ADC or SBB) on a memory destination with an
 * immediate (ALU_MI) or register source (ALU_MR), or on a register
 * destination with a memory source (ALU_RM): exec_alu's accesses in
 * its order. A destination in memory is read checked for writing, so
 * the write cannot fault after the flags changed. */
enum { ALU_MI, ALU_MR, ALU_RM };

FAST bool alu_mem(struct cpu *c, const struct insn *i, unsigned form,
                  unsigned size, enum ea_kind ea)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    enum alu_op op = i->sub;
    bool writes = op != ALU_CMP && op != ALU_TEST;
    uint64_t mask = size_mask(size), a, b, lin = 0;
    if (form == ALU_RM) {
        a = c->gpr[d->reg] & mask;
        if (!mem_load(c, s, mem_ea(c, i, s, ea), size, &b, false, ea))
            return false;
    } else {
        lin = mem_ea(c, i, d, ea);
        if (!mem_load(c, d, lin, size, &a, writes, ea))
            return false;
        b = form == ALU_MI ? (uint64_t)s->value : c->gpr[s->reg];
    }
    b &= mask;
    enum flags_op fop;
    uint64_t r = alu_compute(op, a, b, &fop);
    flags_record(&c->flags, fop, size, r, a, b, 0);
    if (!writes)
        return true;
    if (form == ALU_RM) {
        gpr_set(c, d->reg, size, false, r);
        return true;
    }
    return mem_store(c, d, lin, size, r, ea);
}

FAST bool alu_mi(struct cpu *c, const struct insn *i, unsigned size,
                 enum ea_kind ea)
{
    return alu_mem(c, i, ALU_MI, size, ea);
}

FAST bool alu_mr(struct cpu *c, const struct insn *i, unsigned size,
                 enum ea_kind ea)
{
    return alu_mem(c, i, ALU_MR, size, ea);
}

FAST bool alu_rm(struct cpu *c, const struct insn *i, unsigned size,
                 enum ea_kind ea)
{
    return alu_mem(c, i, ALU_RM, size, ea);
}

MEM_FORMS(alu_mi)
MEM_FORMS(alu_mr)
MEM_FORMS(alu_rm)

/* [ALU_MI, ALU_MR, ALU_RM][size 1, 4, 8][enum ea_kind] */
static const exec_fn alu_mem_forms[][3][EA_KINDS] = {
    [ALU_MI] = MEM_ROW(alu_mi), [ALU_MR] = MEM_ROW(alu_mr),
    [ALU_RM] = MEM_ROW(alu_rm),
};

/* ---- MOV between general registers, immediates and memory ------------- */

FAST bool mov_from_reg(struct cpu *c, const struct insn *i, unsigned size)
{
    gpr_set(c, i->op[0].reg, size, false, c->gpr[i->op[1].reg]);
    return true;
}

FAST bool mov_from_imm(struct cpu *c, const struct insn *i, unsigned size)
{
    gpr_set(c, i->op[0].reg, size, false, (uint64_t)i->op[1].value);
    return true;
}

FAST bool mov_load(struct cpu *c, const struct insn *i, unsigned size,
                   enum ea_kind ea)
{
    const struct operand *m = &i->op[1];
    uint64_t v;
    if (!mem_load(c, m, mem_ea(c, i, m, ea), size, &v, false, ea))
        return false;
    gpr_set(c, i->op[0].reg, size, false, v);
    return true;
}

FAST bool mov_store(struct cpu *c, const struct insn *i, unsigned size,
                    enum ea_kind ea)
{
    const struct operand *m = &i->op[0];
    return mem_store(c, m, mem_ea(c, i, m, ea), size,
                     c->gpr[i->op[1].reg] & size_mask(size), ea);
}

FAST bool mov_store_imm(struct cpu *c, const struct insn *i, unsigned size,
                        enum ea_kind ea)
{
    const struct operand *m = &i->op[0];
    return mem_store(c, m, mem_ea(c, i, m, ea), size,
                     (uint64_t)i->op[1].value & size_mask(size), ea);
}

#define MOV_FORMS(name)                                                       \
    static bool name##1(struct cpu *c, const struct insn *i)                 \
    { return name(c, i, 1); }                                                \
    static bool name##4(struct cpu *c, const struct insn *i)                 \
    { return name(c, i, 4); }                                                \
    static bool name##8(struct cpu *c, const struct insn *i)                 \
    { return name(c, i, 8); }
MOV_FORMS(mov_from_reg)
MOV_FORMS(mov_from_imm)
MEM_FORMS(mov_load)
MEM_FORMS(mov_store)
MEM_FORMS(mov_store_imm)

/* [form][operand size 1, 4, 8]: register from register, from
 * immediate; and [form][size][enum ea_kind]: register from memory,
 * memory from register, from immediate. */
enum { MOV_RR, MOV_RI };
enum { MOV_RM, MOV_MR, MOV_MI };
#define MOV_ROW(name) {name##1, name##4, name##8}
static const exec_fn mov_forms[][3] = {
    [MOV_RR] = MOV_ROW(mov_from_reg), [MOV_RI] = MOV_ROW(mov_from_imm),
};
static const exec_fn mov_mem_forms[][3][EA_KINDS] = {
    [MOV_RM] = MEM_ROW(mov_load), [MOV_MR] = MEM_ROW(mov_store),
    [MOV_MI] = MEM_ROW(mov_store_imm),
};

/* ---- LEA into a general register (exec_move.c exec_lea) ---------------- */

/* Only the address is computed: no memory access, so no fault. */
FAST bool lea_reg(struct cpu *c, const struct insn *i, unsigned size)
{
    gpr_set(c, i->op[0].reg, size, false, op_ea(c, i, &i->op[1]));
    return true;
}

static bool lea4(struct cpu *c, const struct insn *i) { return lea_reg(c, i, 4); }
static bool lea8(struct cpu *c, const struct insn *i) { return lea_reg(c, i, 8); }

/* ---- PUSH and POP of a general register in 64-bit mode ----------------- */

/* stack_push() and stack_peek() in 64-bit mode: RSP, and SS has no
 * base (access_flat). */
static bool push_reg64(struct cpu *c, const struct insn *i)
{
    /* PUSH RSP pushes the value before the push (SDM Vol. 2B "PUSH"). */
    uint64_t sp = c->gpr[RSP] - 8;
    if (!mem_write_flat(c, SEG_SS, sp, 8, c->gpr[i->op[0].reg]))
        return false;
    c->gpr[RSP] = sp;
    return true;
}

static bool pop_reg64(struct cpu *c, const struct insn *i)
{
    uint64_t v;
    if (!mem_read_flat(c, SEG_SS, c->gpr[RSP], 8, &v, false))
        return false;
    c->gpr[RSP] += 8;
    c->gpr[i->op[0].reg] = v; /* POP RSP loads the popped value */
    return true;
}

/* ---- register forms of handlers that also take memory ----------------- */

/* The same handlers under other names, picked only where every operand
 * is a general register or an immediate: the block engine may then run
 * them in a run (reg_only below), where a memory form could fault. */
static bool movzx_r(struct cpu *c, const struct insn *i)
{
    return exec_movzx(c, i);
}

static bool movsx_r(struct cpu *c, const struct insn *i)
{
    return exec_movsx(c, i);
}

static bool setcc_r(struct cpu *c, const struct insn *i)
{
    return exec_setcc(c, i);
}

static bool cmovcc_r(struct cpu *c, const struct insn *i)
{
    return exec_cmovcc(c, i);
}

static bool bit_r(struct cpu *c, const struct insn *i)
{
    return exec_bit(c, i);
}

static bool gprs_and_imms(const struct insn *i)
{
    for (unsigned k = 0; k < i->nops; k++)
        if (i->op[k].kind != OPK_IMM &&
            !(i->op[k].kind == OPK_REG && i->op[k].rclass == RC_GPR))
            return false;
    return i->nops > 0;
}

/* ---- the choice -------------------------------------------------------- */

static bool plain_gpr(const struct operand *o)
{
    return o->kind == OPK_REG && o->rclass == RC_GPR && !o->hi8;
}

static bool wide(const struct operand *o)
{
    return o->size == 4 || o->size == 8;
}

/* How the handler of record `i` finds its memory operand `m`. A record
 * decoded for 64-bit mode runs only in 64-bit mode (the decode cache and
 * the engines hand it out only then). */
static enum ea_kind ea_kind_of(const struct insn *i, const struct operand *m)
{
    if (!i->mode64 || i->addrsize != 8 || m->seg == SEG_FS ||
        m->seg == SEG_GS)
        return EA_ANY;
    return m->base < 16 && m->index == BASE_NONE ? EA_FLAT_BD : EA_FLAT;
}

/* The index of operand size 1, 4 or 8 in the tables above. */
static unsigned size_index(unsigned size)
{
    return size == 1 ? 0 : size == 4 ? 1 : 2;
}

exec_fn exec_fast_pick(const struct insn *i, exec_fn general)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    unsigned w = d->size == 8;
    if (i->lock)
        return general;
    if (general == exec_alu && i->nops == 2 && i->sub != ALU_ADC &&
        i->sub != ALU_SBB && i->sub <= ALU_TEST && s->size == d->size &&
        (d->size == 1 || wide(d))) {
        unsigned z = size_index(d->size);
        if (d->kind == OPK_MEM && s->kind == OPK_IMM)
            return alu_mem_forms[ALU_MI][z][ea_kind_of(i, d)];
        if (d->kind == OPK_MEM && plain_gpr(s))
            return alu_mem_forms[ALU_MR][z][ea_kind_of(i, d)];
        if (plain_gpr(d) && s->kind == OPK_MEM)
            return alu_mem_forms[ALU_RM][z][ea_kind_of(i, s)];
    }
    if (general == exec_alu_reg && wide(d) && i->sub < sizeof alu_forms /
                                                      sizeof *alu_forms &&
        alu_forms[i->sub][s->kind == OPK_IMM][0])
        return alu_forms[i->sub][s->kind == OPK_IMM][w];
    if ((general == exec_inc || general == exec_dec) && i->nops == 1 &&
        plain_gpr(d) && wide(d))
        return general == exec_inc ? (w ? inc8 : inc4) : (w ? dec8 : dec4);
    if ((general == exec_neg || general == exec_not) && i->nops == 1 &&
        plain_gpr(d) && wide(d))
        return general == exec_neg ? (w ? neg8 : neg4) : (w ? not8 : not4);
    if (general == exec_imul && plain_gpr(d) && wide(d) && plain_gpr(s) &&
        s->size == d->size) {
        if (i->nops == 2)
            return w ? imul_rr8 : imul_rr4;
        if (i->nops == 3 && i->op[2].kind == OPK_IMM &&
            i->op[2].size == d->size)
            return w ? imul_rri8 : imul_rri4;
    }
    if (general == exec_jcc && i->mode64 && d->kind == OPK_IMM)
        return jcc_forms[i->opcode & 0xF];
    if (general == exec_mov_data && i->nops == 2 && s->size == d->size &&
        (d->size == 1 || wide(d)) && !(d->kind == OPK_REG && d->hi8) &&
        !(s->kind == OPK_REG && s->hi8)) {
        unsigned z = size_index(d->size);
        if (plain_gpr(d) && plain_gpr(s))
            return mov_forms[MOV_RR][z];
        if (plain_gpr(d) && s->kind == OPK_IMM)
            return mov_forms[MOV_RI][z];
        if (plain_gpr(d) && s->kind == OPK_MEM)
            return mov_mem_forms[MOV_RM][z][ea_kind_of(i, s)];
        if (d->kind == OPK_MEM && plain_gpr(s))
            return mov_mem_forms[MOV_MR][z][ea_kind_of(i, d)];
        if (d->kind == OPK_MEM && s->kind == OPK_IMM)
            return mov_mem_forms[MOV_MI][z][ea_kind_of(i, d)];
    }
    if (general == exec_shift && plain_gpr(d) && wide(d) &&
        (i->nops == 1 || (i->nops == 2 && s->kind == OPK_IMM)) &&
        (i->sub == SH_SHL || i->sub == SH_SAL || i->sub == SH_SHR ||
         i->sub == SH_SAR)) {
        if (i->sub == SH_SHR)
            return w ? shr8 : shr4;
        return i->sub == SH_SAR ? (w ? sar8 : sar4) : (w ? shl8 : shl4);
    }
    if (general == exec_lea && plain_gpr(d) && wide(d) && s->kind == OPK_MEM)
        return w ? lea8 : lea4;
    if ((general == exec_push || general == exec_pop) && i->mode64 &&
        i->nops == 1 && i->opsize != 2 && plain_gpr(d) && d->size == 8)
        return general == exec_push ? push_reg64 : pop_reg64;
    if (gprs_and_imms(i)) {
        static const struct {
            exec_fn general, reg;
        } reg_forms[] = {
            {exec_movzx, movzx_r}, {exec_movsx, movsx_r},
            {exec_setcc, setcc_r}, {exec_cmovcc, cmovcc_r},
            {exec_bit, bit_r},
        };
        for (unsigned k = 0; k < sizeof reg_forms / sizeof *reg_forms; k++)
            if (general == reg_forms[k].general)
                return reg_forms[k].reg;
    }
    return general;
}

/* ---- what the block engine may assume of a handler --------------------- */

/* The register-only handlers: their operands are general registers and
 * immediates, so they cannot fault, access no memory, do not branch and
 * change nothing but general registers and the arithmetic flags. */
#define ALU_TRAITS(name)                                                      \
    {name##_rr4, name##_rr4_nf, true}, {name##_rr8, name##_rr8_nf, true},    \
    {name##_ri4, name##_ri4_nf, true}, {name##_ri8, name##_ri8_nf, true}
static const struct {
    exec_fn fn;
    exec_fn flagless;
    bool writes_all_flags;
} reg_only[] = {
    ALU_TRAITS(add), ALU_TRAITS(or), ALU_TRAITS(and), ALU_TRAITS(sub),
    ALU_TRAITS(xor), ALU_TRAITS(cmp), ALU_TRAITS(test),
    /* INC and DEC keep CF, so they do not make earlier flags dead. */
    {inc4, inc4_nf, false}, {inc8, inc8_nf, false},
    {dec4, dec4_nf, false}, {dec8, dec8_nf, false},
    /* NEG writes all six as a SUB; NOT writes none. */
    {neg4, neg4_nf, true}, {neg8, neg8_nf, true},
    {not4, NULL, false}, {not8, NULL, false},
    /* IMUL writes all six, from its operands alone. */
    {imul_rr4, imul_rr4_nf, true}, {imul_rr8, imul_rr8_nf, true},
    {imul_rri4, imul_rri4_nf, true}, {imul_rri8, imul_rri8_nf, true},
    /* Shifts keep AF, so they do not make earlier flags dead either. */
    {shl4, shl4_nf, false}, {shl8, shl8_nf, false},
    {shr4, shr4_nf, false}, {shr8, shr8_nf, false},
    {sar4, sar4_nf, false}, {sar8, sar8_nf, false},
    {mov_from_reg1, NULL, false}, {mov_from_reg4, NULL, false},
    {mov_from_reg8, NULL, false}, {mov_from_imm1, NULL, false},
    {mov_from_imm4, NULL, false}, {mov_from_imm8, NULL, false},
    {lea4, NULL, false}, {lea8, NULL, false},
    /* exec_alu_reg: the register forms left (8 and 16 bits, ADC, SBB,
     * which read CF); and the register forms above, which write some
     * flags or none, or read them (SETcc, CMOVcc). */
    {exec_alu_reg, NULL, false}, {movzx_r, NULL, false},
    {movsx_r, NULL, false}, {setcc_r, NULL, false},
    {cmovcc_r, NULL, false}, {bit_r, NULL, false},
};

/* ---- the handlers the JIT writes out as native code --------------------- */

#define ALU_TEMPLATES(name, op)                                               \
    {name##_rr4, {FORM_ALU, op, 4, false, true}},                            \
    {name##_rr4_nf, {FORM_ALU, op, 4, false, false}},                        \
    {name##_rr8, {FORM_ALU, op, 8, false, true}},                            \
    {name##_rr8_nf, {FORM_ALU, op, 8, false, false}},                        \
    {name##_ri4, {FORM_ALU, op, 4, true, true}},                             \
    {name##_ri4_nf, {FORM_ALU, op, 4, true, false}},                         \
    {name##_ri8, {FORM_ALU, op, 8, true, true}},                             \
    {name##_ri8_nf, {FORM_ALU, op, 8, true, false}}
static const struct {
    exec_fn fn;
    struct fast_template t;
} templates[] = {
    ALU_TEMPLATES(add, ALU_ADD), ALU_TEMPLATES(or, ALU_OR),
    ALU_TEMPLATES(and, ALU_AND), ALU_TEMPLATES(sub, ALU_SUB),
    ALU_TEMPLATES(xor, ALU_XOR), ALU_TEMPLATES(cmp, ALU_CMP),
    ALU_TEMPLATES(test, ALU_TEST),
    {mov_from_reg4, {FORM_MOV, 0, 4, false, false}},
    {mov_from_reg8, {FORM_MOV, 0, 8, false, false}},
    {mov_from_imm4, {FORM_MOV, 0, 4, true, false}},
    {mov_from_imm8, {FORM_MOV, 0, 8, true, false}},
    {inc4_nf, {FORM_INCDEC, FOP_INC, 4, false, false}},
    {inc8_nf, {FORM_INCDEC, FOP_INC, 8, false, false}},
    {dec4_nf, {FORM_INCDEC, FOP_DEC, 4, false, false}},
    {dec8_nf, {FORM_INCDEC, FOP_DEC, 8, false, false}},
    {shl4_nf, {FORM_SHIFT, SH_SHL, 4, true, false}},
    {shl8_nf, {FORM_SHIFT, SH_SHL, 8, true, false}},
    {shr4_nf, {FORM_SHIFT, SH_SHR, 4, true, false}},
    {shr8_nf, {FORM_SHIFT, SH_SHR, 8, true, false}},
    {sar4_nf, {FORM_SHIFT, SH_SAR, 4, true, false}},
    {sar8_nf, {FORM_SHIFT, SH_SAR, 8, true, false}},
    {neg4, {FORM_NEG, 0, 4, false, true}},
    {neg4_nf, {FORM_NEG, 0, 4, false, false}},
    {neg8, {FORM_NEG, 0, 8, false, true}},
    {neg8_nf, {FORM_NEG, 0, 8, false, false}},
    {not4, {FORM_NOT, 0, 4, false, false}},
    {not8, {FORM_NOT, 0, 8, false, false}},
    {lea4, {FORM_LEA, 0, 4, false, false}},
    {lea8, {FORM_LEA, 0, 8, false, false}},
    {mov_load1, {FORM_LOAD, 0, 1, false, false}},
    {mov_load4, {FORM_LOAD, 0, 4, false, false}},
    {mov_load8, {FORM_LOAD, 0, 8, false, false}},
    {mov_store1, {FORM_STORE, 0, 1, false, false}},
    {mov_store4, {FORM_STORE, 0, 4, false, false}},
    {mov_store8, {FORM_STORE, 0, 8, false, false}},
    {mov_store_imm1, {FORM_STORE, 0, 1, true, false}},
    {mov_store_imm4, {FORM_STORE, 0, 4, true, false}},
    {mov_store_imm8, {FORM_STORE, 0, 8, true, false}},
};

/* ---- what the block engine and the JIT ask of a handler --------------- */

/* exec_fast_traits runs for every record of every block built, and the
 * JIT asks exec_fast_template and exec_fast_general of each record of
 * every block it compiles (jit_side_exits too): a fresh fuzz machine
 * builds hundreds of blocks, and a program that rewrites its own loop
 * builds them again at every round. Searching the tables above one by
 * one was 11% of guestfuzz's CPU for the traits, and 37% for the
 * templates once the memory forms came in three addressing kinds (each
 * search went through both tables of memory forms first). One
 * open-addressed table of every handler they know of, filled at the
 * first call (a handler's address is no constant the compiler can
 * hash), answers each in a probe or two. */
enum { FAST_SLOTS = 512 }; /* a power of two, over twice the handlers */

static struct fast_entry {
    exec_fn fn;
    struct fast_traits traits;
    struct fast_template tpl;
    bool alu_mem; /* an ALU form with a memory operand (exec_alu's) */
} fast_table[FAST_SLOTS];
static bool fast_filled;
_Static_assert(sizeof reg_only / sizeof *reg_only + 16 + 2 +
                       sizeof templates / sizeof *templates +
                       sizeof alu_mem_forms / sizeof(exec_fn) +
                       sizeof mov_mem_forms / sizeof(exec_fn) <=
                   FAST_SLOTS / 2,
               "the handler table needs room for probing");

static unsigned fast_slot(exec_fn fn)
{
    uint64_t h = (uint64_t)(uintptr_t)fn * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 55) & (FAST_SLOTS - 1);
}

/* The entry of `fn`: found, or new and empty. */
static struct fast_entry *fast_entry(exec_fn fn)
{
    unsigned k = fast_slot(fn);
    while (fast_table[k].fn && fast_table[k].fn != fn)
        k = (k + 1) & (FAST_SLOTS - 1);
    fast_table[k].fn = fn;
    return &fast_table[k];
}

/* A table of memory forms [row][size 1, 4, 8][enum ea_kind]: every
 * addressing kind of a form computes the same from its record, so each
 * has the template of its EA_ANY handler. */
static void fast_fill_mem(const exec_fn (*forms)[3][EA_KINDS], unsigned rows,
                          bool alu)
{
    for (unsigned r = 0; r < rows; r++)
        for (unsigned z = 0; z < 3; z++) {
            struct fast_template t = fast_entry(forms[r][z][EA_ANY])->tpl;
            for (unsigned k = EA_ANY; k < EA_KINDS; k++) {
                struct fast_entry *e = fast_entry(forms[r][z][k]);
                e->tpl = t;
                e->alu_mem = alu;
            }
        }
}

static void fast_fill(void)
{
    for (unsigned k = 0; k < sizeof reg_only / sizeof *reg_only; k++)
        fast_entry(reg_only[k].fn)->traits = (struct fast_traits){
            true, reg_only[k].writes_all_flags, false, reg_only[k].flagless};
    for (unsigned k = 0; k < 16; k++)
        fast_entry(jcc_forms[k])->traits =
            (struct fast_traits){false, false, true, NULL};
    for (unsigned k = 0; k < sizeof templates / sizeof *templates; k++)
        fast_entry(templates[k].fn)->tpl = templates[k].t;
    fast_entry(push_reg64)->tpl =
        (struct fast_template){FORM_PUSH, 0, 8, false, false};
    fast_entry(pop_reg64)->tpl =
        (struct fast_template){FORM_POP, 0, 8, false, false};
    fast_fill_mem(mov_mem_forms, sizeof mov_mem_forms / sizeof *mov_mem_forms,
                  false);
    fast_fill_mem(alu_mem_forms, sizeof alu_mem_forms / sizeof *alu_mem_forms,
                  true);
    fast_filled = true;
}

/* The entry of `fn`, or NULL for a handler none of the tables has. */
static const struct fast_entry *fast_find(exec_fn fn)
{
    if (!fast_filled)
        fast_fill();
    for (unsigned k = fast_slot(fn); fast_table[k].fn;
         k = (k + 1) & (FAST_SLOTS - 1))
        if (fast_table[k].fn == fn)
            return &fast_table[k];
    return NULL;
}

struct fast_traits exec_fast_traits(exec_fn fn)
{
    const struct fast_entry *e = fast_find(fn);
    return e ? e->traits : (struct fast_traits){false, false, false, NULL};
}

exec_fn exec_fast_general(exec_fn fn)
{
    const struct fast_entry *e = fast_find(fn);
    return e && e->alu_mem ? exec_alu : fn;
}

struct fast_template exec_fast_template(exec_fn fn)
{
    const struct fast_entry *e = fast_find(fn);
    return e ? e->tpl : (struct fast_template){FORM_NONE, 0, 0, false, false};
}
