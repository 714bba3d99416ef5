/* SSE, SSE2 and MMX instructions (SDM Vol. 1 chapters 9-11).
 *
 * Arithmetic runs on the host's own SSE unit: the operands are loaded
 * into host XMM registers and the host instruction of the same name runs
 * under the guest's MXCSR (rounding, DAZ, FZ) with every exception
 * masked; the flags it raises are then merged into the guest's MXCSR and
 * an unmasked one becomes #XM (or #UD). IEEE arithmetic is defined bit
 * for bit, so the results are exact; sse_ops.h lists the operations and
 * the one approximation (RCP/RSQRT). Moves, shuffles and inserts are C.
 *
 * Simplified: with an unmasked exception the flags recorded are those
 * the masked run raised, restricted to the pre-computation ones (IE, DE,
 * ZE) when one of those is unmasked (SDM Vol. 1 11.5.2); an unmasked
 * underflow is reported only where the masked result was also inexact.
 * MMX forms reuse the 128-bit host instruction on the low 64 bits. */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/exec_fpu.h"
#include "cpu/fpu_mem.h"
#include "cpu/ops.h"
#include "cpu/sse_ops.h"

#include <capstone/capstone.h>

typedef long long vec128 __attribute__((vector_size(16)));
typedef void (*host_fn)(vec128 *d, const vec128 *s);

struct sse_op {
    host_fn fn;
    uint8_t size;  /* memory operand bytes */
    uint8_t flags;
};

/* The host instructions: one register-to-register form each. */
#define SSE_HOST_FN(name, mn, size, flags)                                    \
    static void host_##name(vec128 *d, const vec128 *s)                       \
    {                                                                         \
        __asm__ volatile(mn " %1, %0" : "+x"(*d) : "x"(*s) : "memory");       \
    }
SSE_HOST_OPS(SSE_HOST_FN)
#undef SSE_HOST_FN

#define SSE_TABLE_ROW(name, mn, size, flags) [SSE_OP_##name] = {host_##name, size, flags},
static const struct sse_op sse_ops[SSE_OP_COUNT] = {SSE_HOST_OPS(SSE_TABLE_ROW)};
#undef SSE_TABLE_ROW

/* ---- the host's MXCSR around one guest operation ---------------------- */

static uint32_t host_mxcsr_enter(uint32_t guest)
{
    uint32_t saved, run = (guest | MXCSR_MASKS) & ~MXCSR_FLAGS;
    __asm__ volatile("stmxcsr %0" : "=m"(saved) : : "memory");
    __asm__ volatile("ldmxcsr %0" : : "m"(run) : "memory");
    return saved;
}

/* Returns the exception flags the operation raised. */
static uint32_t host_mxcsr_leave(uint32_t saved)
{
    uint32_t out;
    __asm__ volatile("stmxcsr %0" : "=m"(out) : : "memory");
    __asm__ volatile("ldmxcsr %0" : : "m"(saved) : "memory");
    return out & MXCSR_FLAGS;
}

/* Records raised flags in MXCSR; false (with #XM or #UD raised) when one
 * of them is unmasked, and the destination must then stay unchanged. */
static bool mxcsr_raise(struct cpu *c, uint32_t raised)
{
    uint32_t unmasked = raised & ~(c->fpu.mxcsr >> 7) & MXCSR_FLAGS;
    const uint32_t pre = MXCSR_IE | MXCSR_DE | MXCSR_ZE;
    if (unmasked & pre)
        raised &= pre;
    c->fpu.mxcsr |= raised;
    return !unmasked || fpu_simd_exception(c);
}

/* ---- operands ----------------------------------------------------------- */

static bool is_reg(const struct operand *o, unsigned rclass)
{
    return o->kind == OPK_REG && o->rclass == rclass;
}

/* An XMM, MM or general register as 128 bits (zero-extended). */
static void vreg_get(const struct cpu *c, const struct operand *o,
                     union xmm *v)
{
    memset(v, 0, sizeof *v);
    if (o->rclass == RC_XMM)
        *v = c->fpu.xmm[o->reg];
    else if (o->rclass == RC_MM)
        v->q[0] = c->fpu.st[o->reg].mant;
    else
        v->q[0] = gpr_get(c, o->reg, o->size, o->hi8);
}

/* Writing an MMX register sets its exponent and sign to all ones (SDM
 * Vol. 1 9.5.1); a general register takes the low bytes. */
static void vreg_put(struct cpu *c, const struct operand *o,
                     const union xmm *v)
{
    if (o->rclass == RC_XMM) {
        c->fpu.xmm[o->reg] = *v;
    } else if (o->rclass == RC_MM) {
        c->fpu.st[o->reg].mant = v->q[0];
        c->fpu.st[o->reg].sexp = 0xFFFF;
    } else {
        gpr_set(c, o->reg, o->size, false, v->q[0]);
    }
}

static bool vmem_load(struct cpu *c, const struct insn *i,
                      const struct operand *o, unsigned n, bool aligned,
                      union xmm *v)
{
    memset(v, 0, sizeof *v);
    uint64_t ea = op_ea(c, i, o);
    if (aligned && !fpu_check_align(c, o->seg, ea, 16))
        return false;
    return fpu_mem_read(c, o->seg, ea, addr_mask(i), n, v, false);
}

static bool vmem_store(struct cpu *c, const struct insn *i,
                       const struct operand *o, unsigned n, bool aligned,
                       const void *src)
{
    uint64_t ea = op_ea(c, i, o);
    if (aligned && !fpu_check_align(c, o->seg, ea, 16))
        return false;
    return fpu_mem_write(c, o->seg, ea, addr_mask(i), n, src);
}

/* A source operand: register, imm8 (a shift count), or `n` bytes of
 * memory, which must be aligned when they are 16. */
static bool vsrc(struct cpu *c, const struct insn *i, unsigned k, unsigned n,
                 union xmm *v)
{
    const struct operand *o = &i->op[k];
    if (o->kind == OPK_MEM)
        return vmem_load(c, i, o, n, n == 16, v);
    if (o->kind == OPK_IMM) {
        memset(v, 0, sizeof *v);
        v->q[0] = (uint8_t)o->value;
        return true;
    }
    vreg_get(c, o, v);
    return true;
}

/* The checks of the instruction's register file: MMX if an MM register
 * is involved, SSE if an XMM register is (MOVQ2DQ makes both). */
static bool usable(struct cpu *c, const struct insn *i)
{
    bool mmx = false, sse = false;
    for (unsigned k = 0; k < i->nops; k++) {
        mmx |= is_reg(&i->op[k], RC_MM);
        sse |= is_reg(&i->op[k], RC_XMM);
    }
    if (sse && !fpu_sse_usable(c))
        return false;
    return !mmx || fpu_mmx_usable(c);
}

/* ---- host-executed operations -------------------------------------------- */

static bool run_op(struct cpu *c, const struct insn *i, const struct sse_op *op)
{
    const struct operand *d = &i->op[0];
    bool mmx = d->rclass == RC_MM;
    if (!usable(c, i))
        return false;
    union xmm a, b;
    unsigned n = !mmx ? op->size : (op->flags & SSE_MMX_M32) ? 4 : 8;
    vreg_get(c, d, &a);
    if (!vsrc(c, i, 1, n, &b))
        return false;
    if (mmx && (op->flags & SSE_MMX_PACK)) {
        a.q[1] = b.q[0]; /* the packed halves land in the low 64 bits */
    } else if (mmx && (op->flags & SSE_MMX_HIGH)) {
        /* Bytes 4-7 of each move to bytes 8-11, where the 128-bit
         * unpack-high reads. */
        a.q[1] = a.q[0] >> 32;
        a.q[0] <<= 32;
        b.q[1] = b.q[0] >> 32;
        b.q[0] <<= 32;
    }
    vec128 va, vb;
    memcpy(&va, &a, 16);
    memcpy(&vb, &b, 16);
    uint32_t saved = host_mxcsr_enter(c->fpu.mxcsr);
    op->fn(&va, &vb);
    uint32_t raised = host_mxcsr_leave(saved);
    memcpy(&a, &va, 16);
    if ((op->flags & SSE_FP) && !mxcsr_raise(c, raised))
        return false;
    vreg_put(c, d, &a);
    return true;
}

bool exec_sse_op(struct cpu *c, const struct insn *i)
{
    return run_op(c, i, &sse_ops[i->sub]);
}

/* CMPPS/CMPPD/CMPSS/CMPSD with the predicate in imm8: legacy SSE uses
 * bits 2:0 (SDM Vol. 2A "CMPPS"). */
bool exec_sse_cmp(struct cpu *c, const struct insn *i)
{
    unsigned base = i->id == X86_INS_CMPPS   ? SSE_OP_CMPEQPS
                    : i->id == X86_INS_CMPPD ? SSE_OP_CMPEQPD
                    : i->id == X86_INS_CMPSS ? SSE_OP_CMPEQSS
                                             : SSE_OP_CMPEQSD;
    return run_op(c, i, &sse_ops[base + (i->op[2].value & 7)]);
}

/* ---- moves ----------------------------------------------------------------- */

enum move_kind {
    MV_FULL,   /* the whole register */
    MV_ZX,     /* n bytes, zero-extended into a register */
    MV_SCALAR, /* MOVSS/MOVSD: registers merge, a load zero-extends */
    MV_LOW,    /* MOVLPS/MOVLPD: the low quadword */
    MV_HIGH,   /* MOVHPS/MOVHPD: the high quadword */
    MV_HL,     /* MOVHLPS */
    MV_LH,     /* MOVLHPS */
};

bool exec_sse_move(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    enum move_kind kind = MV_ZX;
    unsigned n = 8;
    bool aligned = false;
    switch (i->id) {
    case X86_INS_MOVAPS: case X86_INS_MOVAPD: case X86_INS_MOVDQA:
    case X86_INS_MOVNTPS: case X86_INS_MOVNTPD: case X86_INS_MOVNTDQ:
        aligned = true;
        /* fall through */
    case X86_INS_MOVUPS: case X86_INS_MOVUPD: case X86_INS_MOVDQU:
        kind = MV_FULL, n = 16;
        break;
    case X86_INS_MOVSS: kind = MV_SCALAR, n = 4; break;
    case X86_INS_MOVSD: kind = MV_SCALAR, n = 8; break;
    case X86_INS_MOVLPS: case X86_INS_MOVLPD: kind = MV_LOW; break;
    case X86_INS_MOVHPS: case X86_INS_MOVHPD: kind = MV_HIGH; break;
    case X86_INS_MOVHLPS: kind = MV_HL; break;
    case X86_INS_MOVLHPS: kind = MV_LH; break;
    default: /* MOVD, MOVQ, MOVNTQ, MOVQ2DQ, MOVDQ2Q */
        if (is_reg(d, RC_GPR) || s->kind == OPK_MEM)
            n = d->kind == OPK_REG && d->rclass == RC_GPR ? d->size : s->size;
        if (is_reg(s, RC_GPR) || d->kind == OPK_MEM)
            n = s->kind == OPK_REG && s->rclass == RC_GPR ? s->size : d->size;
        break;
    }
    if (!usable(c, i))
        return false;
    union xmm v, old;
    if (s->kind == OPK_MEM) {
        if (!vmem_load(c, i, s, n, aligned, &v))
            return false;
    } else {
        vreg_get(c, s, &v);
    }
    if (d->kind == OPK_MEM)
        return vmem_store(c, i, d, n, aligned, kind == MV_HIGH ? &v.b[8] : &v.b[0]);
    vreg_get(c, d, &old);
    switch (kind) {
    case MV_ZX:
        memset(v.b + n, 0, 16 - n);
        break;
    case MV_SCALAR:
        if (s->kind != OPK_MEM) {
            memcpy(old.b, v.b, n);
            v = old;
        }
        break;
    case MV_LOW: old.q[0] = v.q[0]; v = old; break;
    case MV_HIGH: old.q[1] = v.q[0]; v = old; break;
    case MV_HL: old.q[0] = v.q[1]; v = old; break;
    case MV_LH: old.q[1] = v.q[0]; v = old; break;
    default: break;
    }
    vreg_put(c, d, &v);
    return true;
}

/* MOVSD and CMPSD name both a string instruction (A5, A7) and an SSE2
 * one (F2 0F 10/11, F2 0F C2). */
bool exec_sse_is_string(const struct insn *i)
{
    return i->opcode == 0xA5 || i->opcode == 0xA7;
}

/* ---- shuffles, byte shifts, word insert/extract ---------------------------- */

bool exec_sse_shuffle(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0];
    unsigned imm = (uint8_t)i->op[2].value;
    if (!usable(c, i))
        return false;
    union xmm a, s, r;
    vreg_get(c, d, &a);
    if (!vsrc(c, i, 1, d->rclass == RC_MM ? 8 : 16, &s))
        return false;
    r = s;
    switch (i->id) {
    case X86_INS_PSHUFD:
        for (unsigned k = 0; k < 4; k++)
            r.d[k] = s.d[(imm >> (2 * k)) & 3];
        break;
    case X86_INS_PSHUFW: /* MMX: the four words of the source */
    case X86_INS_PSHUFLW:
        for (unsigned k = 0; k < 4; k++)
            r.w[k] = s.w[(imm >> (2 * k)) & 3];
        break;
    case X86_INS_PSHUFHW:
        for (unsigned k = 0; k < 4; k++)
            r.w[4 + k] = s.w[4 + ((imm >> (2 * k)) & 3)];
        break;
    case X86_INS_SHUFPS:
        r.d[0] = a.d[imm & 3];
        r.d[1] = a.d[(imm >> 2) & 3];
        r.d[2] = s.d[(imm >> 4) & 3];
        r.d[3] = s.d[(imm >> 6) & 3];
        break;
    default: /* SHUFPD */
        r.q[0] = a.q[imm & 1];
        r.q[1] = s.q[(imm >> 1) & 1];
        break;
    }
    vreg_put(c, d, &r);
    return true;
}

/* PSLLDQ/PSRLDQ: byte shifts of the whole register; counts above 15
 * clear it. */
bool exec_sse_byteshift(struct cpu *c, const struct insn *i)
{
    if (!usable(c, i))
        return false;
    unsigned n = (uint8_t)i->op[1].value;
    union xmm *x = &c->fpu.xmm[i->op[0].reg], r;
    memset(&r, 0, sizeof r);
    if (n < 16) {
        if (i->id == X86_INS_PSLLDQ)
            memcpy(r.b + n, x->b, 16 - n);
        else
            memcpy(r.b, x->b + n, 16 - n);
    }
    *x = r;
    return true;
}

bool exec_sse_pinsrw(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0];
    if (!usable(c, i))
        return false;
    union xmm a, s;
    if (!vsrc(c, i, 1, 2, &s))
        return false;
    vreg_get(c, d, &a);
    unsigned lanes = d->rclass == RC_MM ? 4 : 8;
    a.w[i->op[2].value & (lanes - 1)] = s.w[0];
    vreg_put(c, d, &a);
    return true;
}

bool exec_sse_pextrw(struct cpu *c, const struct insn *i)
{
    const struct operand *s = &i->op[1];
    if (!usable(c, i))
        return false;
    union xmm v;
    vreg_get(c, s, &v);
    unsigned lanes = s->rclass == RC_MM ? 4 : 8;
    gpr_set(c, i->op[0].reg, i->op[0].size, false,
            v.w[i->op[2].value & (lanes - 1)]);
    return true;
}

/* PMOVMSKB, MOVMSKPS, MOVMSKPD: the sign bits into a general register. */
bool exec_sse_movemask(struct cpu *c, const struct insn *i)
{
    const struct operand *s = &i->op[1];
    if (!usable(c, i))
        return false;
    union xmm v;
    vreg_get(c, s, &v);
    unsigned width = i->id == X86_INS_MOVMSKPS ? 4
                     : i->id == X86_INS_MOVMSKPD ? 8 : 1;
    unsigned lanes = (s->rclass == RC_MM ? 8 : 16) / width;
    uint64_t mask = 0;
    for (unsigned k = 0; k < lanes; k++)
        mask |= (uint64_t)(v.b[k * width + width - 1] >> 7) << k;
    gpr_set(c, i->op[0].reg, i->op[0].size, false, mask);
    return true;
}

/* ---- conversions with general registers, ordered compares --------------- */

/* CVTSI2SS/CVTSI2SD: a 32- or 64-bit integer into the low element. */
bool exec_sse_cvt_from_int(struct cpu *c, const struct insn *i)
{
    if (!usable(c, i))
        return false;
    uint64_t v;
    if (!op_read(c, i, 1, &v))
        return false;
    union xmm x = c->fpu.xmm[i->op[0].reg];
    vec128 a;
    memcpy(&a, &x, 16);
    bool single = i->id == X86_INS_CVTSI2SS, wide = i->op[1].size == 8;
    uint32_t saved = host_mxcsr_enter(c->fpu.mxcsr);
    if (single && wide)
        __asm__ volatile("cvtsi2ssq %1, %0" : "+x"(a) : "r"(v) : "memory");
    else if (single)
        __asm__ volatile("cvtsi2ssl %1, %0" : "+x"(a) : "r"((uint32_t)v) : "memory");
    else if (wide)
        __asm__ volatile("cvtsi2sdq %1, %0" : "+x"(a) : "r"(v) : "memory");
    else
        __asm__ volatile("cvtsi2sdl %1, %0" : "+x"(a) : "r"((uint32_t)v) : "memory");
    uint32_t raised = host_mxcsr_leave(saved);
    if (!mxcsr_raise(c, raised))
        return false;
    memcpy(&c->fpu.xmm[i->op[0].reg], &a, 16);
    return true;
}

/* CVTSS2SI, CVTTSS2SI, CVTSD2SI, CVTTSD2SI into a 32- or 64-bit register. */
bool exec_sse_cvt_to_int(struct cpu *c, const struct insn *i)
{
    bool single = i->id == X86_INS_CVTSS2SI || i->id == X86_INS_CVTTSS2SI;
    bool trunc = i->id == X86_INS_CVTTSS2SI || i->id == X86_INS_CVTTSD2SI;
    bool wide = i->op[0].size == 8;
    if (!usable(c, i))
        return false;
    union xmm s;
    if (!vsrc(c, i, 1, single ? 4 : 8, &s))
        return false;
    vec128 b;
    memcpy(&b, &s, 16);
    uint64_t r;
    uint32_t r32;
    uint32_t saved = host_mxcsr_enter(c->fpu.mxcsr);
    switch ((single ? 4 : 0) | (trunc ? 2 : 0) | (wide ? 1 : 0)) {
    case 0: __asm__ volatile("cvtsd2si %1, %0" : "=r"(r32) : "x"(b) : "memory"); r = r32; break;
    case 1: __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(b) : "memory"); break;
    case 2: __asm__ volatile("cvttsd2si %1, %0" : "=r"(r32) : "x"(b) : "memory"); r = r32; break;
    case 3: __asm__ volatile("cvttsd2si %1, %0" : "=r"(r) : "x"(b) : "memory"); break;
    case 4: __asm__ volatile("cvtss2si %1, %0" : "=r"(r32) : "x"(b) : "memory"); r = r32; break;
    case 5: __asm__ volatile("cvtss2si %1, %0" : "=r"(r) : "x"(b) : "memory"); break;
    case 6: __asm__ volatile("cvttss2si %1, %0" : "=r"(r32) : "x"(b) : "memory"); r = r32; break;
    default: __asm__ volatile("cvttss2si %1, %0" : "=r"(r) : "x"(b) : "memory"); break;
    }
    uint32_t raised = host_mxcsr_leave(saved);
    if (!mxcsr_raise(c, raised))
        return false;
    gpr_set(c, i->op[0].reg, i->op[0].size, false, r);
    return true;
}

/* COMISS, COMISD, UCOMISS, UCOMISD: ZF, PF, CF from the compare; OF, SF
 * and AF cleared (SDM Vol. 2A "COMISS"). */
bool exec_sse_comi(struct cpu *c, const struct insn *i)
{
    bool single = i->id == X86_INS_COMISS || i->id == X86_INS_UCOMISS;
    bool quiet = i->id == X86_INS_UCOMISS || i->id == X86_INS_UCOMISD;
    if (!usable(c, i))
        return false;
    union xmm s;
    if (!vsrc(c, i, 1, single ? 4 : 8, &s))
        return false;
    vec128 a, b;
    memcpy(&a, &c->fpu.xmm[i->op[0].reg], 16);
    memcpy(&b, &s, 16);
    uint8_t zf, pf, cf;
    uint32_t saved = host_mxcsr_enter(c->fpu.mxcsr);
#define COMI(mn)                                                              \
    __asm__ volatile(mn " %3, %4\n\tsetz %0\n\tsetp %1\n\tsetc %2"            \
                     : "=q"(zf), "=q"(pf), "=q"(cf)                           \
                     : "x"(b), "x"(a)                                         \
                     : "cc", "memory")
    switch ((single ? 2 : 0) | (quiet ? 1 : 0)) {
    case 0: COMI("comisd"); break;
    case 1: COMI("ucomisd"); break;
    case 2: COMI("comiss"); break;
    default: COMI("ucomiss"); break;
    }
#undef COMI
    uint32_t raised = host_mxcsr_leave(saved);
    if (!mxcsr_raise(c, raised))
        return false;
    uint64_t f = cpu_rflags(c) & ~(FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF);
    f |= (zf ? FL_ZF : 0) | (pf ? FL_PF : 0) | (cf ? FL_CF : 0);
    cpu_set_rflags(c, f);
    return true;
}

/* ---- MXCSR, EMMS, prefetches ------------------------------------------------ */

/* LDMXCSR: #GP(0) for a reserved bit (SDM Vol. 2A "LDMXCSR"). */
bool exec_ldmxcsr(struct cpu *c, const struct insn *i)
{
    uint64_t v;
    if (!fpu_sse_usable(c) || !op_read(c, i, 0, &v))
        return false;
    if (v & ~(uint64_t)MXCSR_MASK)
        return cpu_fault(c, VEC_GP, 0);
    c->fpu.mxcsr = (uint32_t)v;
    return true;
}

bool exec_stmxcsr(struct cpu *c, const struct insn *i)
{
    return fpu_sse_usable(c) && op_write(c, i, 0, c->fpu.mxcsr);
}

/* EMMS: every x87 register empty (SDM Vol. 2A "EMMS"). */
bool exec_emms(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!fpu_mmx_available(c))
        return false;
    c->fpu.ftw = 0;
    return true;
}
