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
 * that assume it (Jcc, PUSH, POP): the decode cache and the engines hand
 * such a record out only while the CPU is in 64-bit mode. */
#include "cpu/exec_fast.h"

#include "cpu/exec.h"
#include "cpu/ops.h"

/* ---- ALU operations on a general register (exec_alu_reg) ------------- */

#define FAST static inline __attribute__((always_inline))

FAST bool alu_reg(struct cpu *c, const struct insn *i, enum alu_op op,
                  bool imm, unsigned size, bool flags)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    uint64_t mask = size_mask(size);
    uint64_t a = c->gpr[d->reg] & mask;
    uint64_t b = (imm ? (uint64_t)s->value : c->gpr[s->reg]) & mask;
    uint64_t r;
    enum flags_op fop = FOP_LOGIC;
    switch (op) {
    case ALU_ADD: r = a + b; fop = FOP_ADD; break;
    case ALU_SUB:
    case ALU_CMP: r = a - b; fop = FOP_SUB; break;
    case ALU_OR: r = a | b; break;
    case ALU_XOR: r = a ^ b; break;
    default: r = a & b; break; /* AND, TEST */
    }
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

FAST bool mov_load(struct cpu *c, const struct insn *i, unsigned size)
{
    const struct operand *m = &i->op[1];
    uint64_t v;
    if (!mem_read_fast(c, m->seg, op_ea(c, i, m), size, &v))
        return false;
    gpr_set(c, i->op[0].reg, size, false, v);
    return true;
}

FAST bool mov_store(struct cpu *c, const struct insn *i, unsigned size)
{
    const struct operand *m = &i->op[0];
    return mem_write_fast(c, m->seg, op_ea(c, i, m), size,
                          c->gpr[i->op[1].reg] & size_mask(size));
}

FAST bool mov_store_imm(struct cpu *c, const struct insn *i, unsigned size)
{
    const struct operand *m = &i->op[0];
    return mem_write_fast(c, m->seg, op_ea(c, i, m), size,
                          (uint64_t)i->op[1].value & size_mask(size));
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
MOV_FORMS(mov_load)
MOV_FORMS(mov_store)
MOV_FORMS(mov_store_imm)

/* [form][operand size 1, 4, 8]: register from register, from immediate,
 * from memory; memory from register, from immediate. */
enum { MOV_RR, MOV_RI, MOV_RM, MOV_MR, MOV_MI };
#define MOV_ROW(name) {name##1, name##4, name##8}
static const exec_fn mov_forms[][3] = {
    [MOV_RR] = MOV_ROW(mov_from_reg), [MOV_RI] = MOV_ROW(mov_from_imm),
    [MOV_RM] = MOV_ROW(mov_load), [MOV_MR] = MOV_ROW(mov_store),
    [MOV_MI] = MOV_ROW(mov_store_imm),
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

static bool push_reg64(struct cpu *c, const struct insn *i)
{
    /* PUSH RSP pushes the value before the push (SDM Vol. 2B "PUSH"). */
    return stack_push(c, 8, c->gpr[i->op[0].reg]);
}

static bool pop_reg64(struct cpu *c, const struct insn *i)
{
    uint64_t v;
    if (!stack_peek(c, 0, 8, &v))
        return false;
    c->gpr[RSP] += 8;
    c->gpr[i->op[0].reg] = v; /* POP RSP loads the popped value */
    return true;
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

exec_fn exec_fast_pick(const struct insn *i, exec_fn general)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    unsigned w = d->size == 8;
    if (i->lock)
        return general;
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
    if (general == exec_jcc && i->mode64 && d->kind == OPK_IMM)
        return jcc_forms[i->opcode & 0xF];
    if (general == exec_mov_data && i->nops == 2 && s->size == d->size &&
        (d->size == 1 || wide(d)) && !(d->kind == OPK_REG && d->hi8) &&
        !(s->kind == OPK_REG && s->hi8)) {
        unsigned z = d->size == 1 ? 0 : d->size == 4 ? 1 : 2;
        if (plain_gpr(d) && plain_gpr(s))
            return mov_forms[MOV_RR][z];
        if (plain_gpr(d) && s->kind == OPK_IMM)
            return mov_forms[MOV_RI][z];
        if (plain_gpr(d) && s->kind == OPK_MEM)
            return mov_forms[MOV_RM][z];
        if (d->kind == OPK_MEM && plain_gpr(s))
            return mov_forms[MOV_MR][z];
        if (d->kind == OPK_MEM && s->kind == OPK_IMM)
            return mov_forms[MOV_MI][z];
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
    /* Shifts keep AF, so they do not make earlier flags dead either. */
    {shl4, shl4_nf, false}, {shl8, shl8_nf, false},
    {shr4, shr4_nf, false}, {shr8, shr8_nf, false},
    {sar4, sar4_nf, false}, {sar8, sar8_nf, false},
    {mov_from_reg1, NULL, false}, {mov_from_reg4, NULL, false},
    {mov_from_reg8, NULL, false}, {mov_from_imm1, NULL, false},
    {mov_from_imm4, NULL, false}, {mov_from_imm8, NULL, false},
    {lea4, NULL, false}, {lea8, NULL, false},
};

/* exec_fast_traits runs for every record of every block built (a fresh
 * fuzz machine builds hundreds): a linear search of the 62 handlers
 * above was 11% of guestfuzz's CPU. An open-addressed table of them,
 * filled at the first call (a handler's address is no constant the
 * compiler can hash), makes it one or two probes. */
enum { TRAITS_SLOTS = 256 }; /* a power of two, over twice the handlers */

static struct {
    exec_fn fn;
    struct fast_traits t;
} traits_table[TRAITS_SLOTS];
static bool traits_filled;
_Static_assert(sizeof reg_only / sizeof *reg_only + 16 <= TRAITS_SLOTS / 2,
               "the traits table needs room for probing");

static unsigned traits_slot(exec_fn fn)
{
    uint64_t h = (uint64_t)(uintptr_t)fn * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 56) & (TRAITS_SLOTS - 1);
}

static void traits_put(exec_fn fn, struct fast_traits t)
{
    unsigned k = traits_slot(fn);
    while (traits_table[k].fn && traits_table[k].fn != fn)
        k = (k + 1) & (TRAITS_SLOTS - 1);
    traits_table[k].fn = fn;
    traits_table[k].t = t;
}

static void traits_fill(void)
{
    for (unsigned k = 0; k < sizeof reg_only / sizeof *reg_only; k++)
        traits_put(reg_only[k].fn,
                   (struct fast_traits){true, reg_only[k].writes_all_flags,
                                        false, reg_only[k].flagless});
    for (unsigned k = 0; k < 16; k++)
        traits_put(jcc_forms[k], (struct fast_traits){false, false, true, NULL});
}

struct fast_traits exec_fast_traits(exec_fn fn)
{
    if (!traits_filled) {
        traits_fill();
        traits_filled = true;
    }
    for (unsigned k = traits_slot(fn); traits_table[k].fn;
         k = (k + 1) & (TRAITS_SLOTS - 1))
        if (traits_table[k].fn == fn)
            return traits_table[k].t;
    return (struct fast_traits){false, false, false, NULL};
}

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

struct fast_template exec_fast_template(exec_fn fn)
{
    for (unsigned k = 0; k < sizeof templates / sizeof *templates; k++)
        if (templates[k].fn == fn)
            return templates[k].t;
    return (struct fast_template){FORM_NONE, 0, 0, false, false};
}
