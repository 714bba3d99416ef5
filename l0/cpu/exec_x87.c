/* The x87 FPU (SDM Vol. 1 chapter 8, Vol. 2 "F..." pages).
 *
 * Decoding is by opcode byte (D8-DF) and ModRM, as in the SDM's opcode
 * map (Vol. 2 A.4), not by capstone's mnemonics. The register stack, the
 * tags, stack faults and the deferred reporting of unmasked exceptions
 * are modeled here; the arithmetic itself runs on the host's x87 (this
 * emulator's hosts are x86-64, whose long double is the x87's 80-bit
 * format): the operands are loaded into host x87 registers and the host
 * instruction of the same name runs under the guest's control word
 * (precision and rounding control) with every exception masked, so
 * results, C1 and the exception flags are the hardware's, bit for bit.
 * The transcendental instructions (F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN,
 * FSIN, FCOS, FSINCOS) give the host CPU's results, which the SDM leaves
 * implementation-specific within its error bounds.
 *
 * Simplified (docs/emulator.md): an unmasked exception sets ES and B and
 * #MF comes at the next waiting x87 instruction as the SDM says, but the
 * destination then keeps its old value for IE/DE/ZE and gets the masked
 * result for OE/UE (hardware stores a bias-adjusted one); #MF is raised
 * even with CR0.NE clear (no FERR#/IRQ 13); FIP, FCS, FOP, FDP and FDS
 * are not recorded (they read as 0); FISTTP, FBLD and FBSTP are not
 * implemented (#UD). */
#include <float.h>
#include <string.h>

#include "cpu/exec_fpu.h"
#include "cpu/fpu_mem.h"
#include "cpu/ops.h"

_Static_assert(LDBL_MANT_DIG == 64, "the host's long double must be the x87's");

/* ---- the host's x87 around one guest operation ---------------------------- */

/* In and out of the host x87: st0 and st1 before, two results after. */
struct hx {
    long double a, b;
    uint16_t sw; /* the status word right after the operation */
};

static uint16_t host_enter(uint16_t guest_fcw)
{
    uint16_t saved, run = guest_fcw | 0x3F;
    __asm__ volatile("fnstcw %0" : "=m"(saved) : : "memory");
    __asm__ volatile("fldcw %0\n\tfnclex" : : "m"(run) : "memory");
    return saved;
}

static void host_leave(uint16_t saved)
{
    __asm__ volatile("fldcw %0" : : "m"(saved) : "memory");
}

typedef void (*hx_fn)(struct hx *x, const void *m);

/* st0 = a, st1 = b; the result of st0 back into a. */
#define HX_ST(name, insn)                                                     \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        (void)m;                                                              \
        __asm__ volatile("fldt %2\n\tfldt %0\n\t" insn "\n\tfnstsw %1\n\t"   \
                         "fstpt %0\n\tfstp %%st(0)"                          \
                         : "+m"(x->a), "=m"(x->sw) : "m"(x->b) : "memory");                \
    }
/* st0 = a and a memory operand of type T. */
#define HX_MEM(name, insn, T)                                                 \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        __asm__ volatile("fldt %0\n\t" insn " %2\n\tfnstsw %1\n\tfstpt %0"   \
                         : "+m"(x->a), "=m"(x->sw) : "m"(*(const T *)m)      \
                         : "memory");       \
    }
/* One operand, one result. */
#define HX_UN(name, insn)                                                     \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        (void)m;                                                              \
        __asm__ volatile("fldt %0\n\t" insn "\n\tfnstsw %1\n\tfstpt %0"      \
                         : "+m"(x->a), "=m"(x->sw) : : "memory");                          \
    }
/* st0 = a, st1 = b; the instruction pops; the result into a. */
#define HX_POP(name, insn)                                                    \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        (void)m;                                                              \
        __asm__ volatile("fldt %2\n\tfldt %0\n\t" insn "\n\tfnstsw %1\n\t"   \
                         "fstpt %0"                                           \
                         : "+m"(x->a), "=m"(x->sw) : "m"(x->b) : "memory");                \
    }
/* st0 = a; the instruction pushes: new st0 into a, new st1 into b. */
#define HX_PUSH(name, insn)                                                   \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        (void)m;                                                              \
        __asm__ volatile("fldt %0\n\t" insn "\n\tfnstsw %2\n\tfstpt %0\n\t"  \
                         "fstpt %1"                                           \
                         : "+m"(x->a), "=m"(x->b), "=m"(x->sw) : : "memory");              \
    }
/* A load: the result into a. */
#define HX_LD(name, insn, T)                                                  \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        __asm__ volatile(insn " %2\n\tfnstsw %1\n\tfstpt %0"                 \
                         : "=m"(x->a), "=m"(x->sw) : "m"(*(const T *)m)      \
                         : "memory");       \
    }
#define HX_CONST(name, insn)                                                  \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        (void)m;                                                              \
        __asm__ volatile(insn "\n\tfnstsw %1\n\tfstpt %0"                 \
                         : "=m"(x->a), "=m"(x->sw) : : "memory");      \
    }
/* A store of a into memory of type T (a popping form on a copy). */
#define HX_ST_MEM(name, insn, T)                                              \
    static void hx_##name(struct hx *x, const void *m)                        \
    {                                                                         \
        __asm__ volatile("fldt %2\n\t" insn " %0\n\tfnstsw %1"               \
                         : "=m"(*(T *)(uintptr_t)m), "=m"(x->sw) : "m"(x->a)  \
                         : "memory");  \
    }

/* The arithmetic of D8/DC (reg forms) in the order of ModRM.reg, with
 * st0 = the destination: dest op src. */
HX_ST(add, "fadd %%st(1), %%st")
HX_ST(mul, "fmul %%st(1), %%st")
HX_ST(com, "fcom %%st(1)")
HX_ST(sub, "fsub %%st(1), %%st")
HX_ST(subr, "fsubr %%st(1), %%st")
HX_ST(div, "fdiv %%st(1), %%st")
HX_ST(divr, "fdivr %%st(1), %%st")
HX_ST(ucom, "fucom %%st(1)")
HX_ST(scale, "fscale")
HX_ST(prem, "fprem")
HX_ST(prem1, "fprem1")
static const hx_fn arith_st[8] = {hx_add, hx_mul, NULL, NULL,
                                  hx_sub, hx_subr, hx_div, hx_divr};

#define HX_MEM_SET(sfx, T, p)                                                 \
    HX_MEM(add_##sfx, "f" p "add" #sfx, T)                                    \
    HX_MEM(mul_##sfx, "f" p "mul" #sfx, T)                                    \
    HX_MEM(com_##sfx, "f" p "com" #sfx, T)                                    \
    HX_MEM(sub_##sfx, "f" p "sub" #sfx, T)                                    \
    HX_MEM(subr_##sfx, "f" p "subr" #sfx, T)                                  \
    HX_MEM(div_##sfx, "f" p "div" #sfx, T)                                    \
    HX_MEM(divr_##sfx, "f" p "divr" #sfx, T)
HX_MEM_SET(s, float, "")   /* D8: m32fp */
HX_MEM_SET(l, double, "")  /* DC: m64fp */
#undef HX_MEM_SET
HX_MEM(add_i32, "fiaddl", int32_t) HX_MEM(mul_i32, "fimull", int32_t)
HX_MEM(com_i32, "ficoml", int32_t) HX_MEM(sub_i32, "fisubl", int32_t)
HX_MEM(subr_i32, "fisubrl", int32_t) HX_MEM(div_i32, "fidivl", int32_t)
HX_MEM(divr_i32, "fidivrl", int32_t)
HX_MEM(add_i16, "fiadds", int16_t) HX_MEM(mul_i16, "fimuls", int16_t)
HX_MEM(com_i16, "ficoms", int16_t) HX_MEM(sub_i16, "fisubs", int16_t)
HX_MEM(subr_i16, "fisubrs", int16_t) HX_MEM(div_i16, "fidivs", int16_t)
HX_MEM(divr_i16, "fidivrs", int16_t)

/* Memory arithmetic by opcode (D8 m32fp, DA m32int, DC m64fp, DE m16int)
 * and ModRM.reg; FCOMP is FCOM and a pop. */
static const struct {
    hx_fn fn[8];
    uint8_t size;
} arith_mem[4] = {
    {{hx_add_s, hx_mul_s, hx_com_s, hx_com_s, hx_sub_s, hx_subr_s, hx_div_s,
      hx_divr_s}, 4},
    {{hx_add_i32, hx_mul_i32, hx_com_i32, hx_com_i32, hx_sub_i32,
      hx_subr_i32, hx_div_i32, hx_divr_i32}, 4},
    {{hx_add_l, hx_mul_l, hx_com_l, hx_com_l, hx_sub_l, hx_subr_l, hx_div_l,
      hx_divr_l}, 8},
    {{hx_add_i16, hx_mul_i16, hx_com_i16, hx_com_i16, hx_sub_i16,
      hx_subr_i16, hx_div_i16, hx_divr_i16}, 2},
};

HX_UN(sqrt, "fsqrt") HX_UN(rndint, "frndint") HX_UN(f2xm1, "f2xm1")
HX_UN(sin, "fsin") HX_UN(cos, "fcos") HX_UN(tst, "ftst")
HX_POP(patan, "fpatan") HX_POP(yl2x, "fyl2x") HX_POP(yl2xp1, "fyl2xp1")
HX_PUSH(ptan, "fptan") HX_PUSH(sincos, "fsincos") HX_PUSH(xtract, "fxtract")
HX_LD(ld_s, "flds", float) HX_LD(ld_l, "fldl", double)
HX_LD(ild_s, "filds", int16_t) HX_LD(ild_l, "fildl", int32_t)
HX_LD(ild_q, "fildll", int64_t)
HX_CONST(ld1, "fld1") HX_CONST(ldl2t, "fldl2t") HX_CONST(ldl2e, "fldl2e")
HX_CONST(ldpi, "fldpi") HX_CONST(ldlg2, "fldlg2") HX_CONST(ldln2, "fldln2")
HX_CONST(ldz, "fldz")
HX_ST_MEM(st_s, "fstps", float) HX_ST_MEM(st_l, "fstpl", double)
HX_ST_MEM(ist_s, "fistps", int16_t) HX_ST_MEM(ist_l, "fistpl", int32_t)
HX_ST_MEM(ist_q, "fistpll", int64_t)

static const hx_fn constants[8] = {hx_ld1, hx_ldl2t, hx_ldl2e, hx_ldpi,
                                   hx_ldlg2, hx_ldln2, hx_ldz, NULL};

/* ---- the register stack --------------------------------------------------- */

#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FSW_EXC 0x3Fu

static unsigned top(const struct cpu *c)
{
    return (c->fpu.fsw >> FSW_TOP_SHIFT) & 7;
}

static void set_top(struct cpu *c, unsigned t)
{
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~(7u << FSW_TOP_SHIFT)) |
                            (t & 7) << FSW_TOP_SHIFT);
}

static unsigned phys(const struct cpu *c, unsigned i) { return (top(c) + i) & 7; }

static bool empty(const struct cpu *c, unsigned i)
{
    return !((c->fpu.ftw >> phys(c, i)) & 1);
}

static long double get(const struct cpu *c, unsigned i)
{
    long double v = 0;
    memcpy(&v, &c->fpu.st[phys(c, i)].mant, 8);
    memcpy((uint8_t *)&v + 8, &c->fpu.st[phys(c, i)].sexp, 2);
    return v;
}

static void put(struct cpu *c, unsigned i, long double v)
{
    struct x87_reg *r = &c->fpu.st[phys(c, i)];
    memcpy(&r->mant, &v, 8);
    memcpy(&r->sexp, (uint8_t *)&v + 8, 2);
    c->fpu.ftw |= (uint8_t)(1u << phys(c, i));
}

static void pop(struct cpu *c)
{
    c->fpu.ftw &= (uint8_t)~(1u << phys(c, 0));
    set_top(c, top(c) + 1);
}

static void push(struct cpu *c, long double v)
{
    set_top(c, top(c) - 1);
    put(c, 0, v);
}

/* The QNaN floating-point indefinite (SDM Vol. 1 4.8.3.7). */
static long double indefinite(void)
{
    long double v = 0;
    uint64_t mant = 0xC000000000000000ull;
    uint16_t sexp = 0xFFFF;
    memcpy(&v, &mant, 8);
    memcpy((uint8_t *)&v + 8, &sexp, 2);
    return v;
}

/* Records exception flags (and the condition codes in `cc_mask` from
 * `sw`); ES and B follow the unmasked ones (Vol. 1 8.1.3). Returns false
 * when an unmasked pre-computation exception (IE, DE, ZE) keeps the
 * destination unchanged. */
static bool x87_flags(struct cpu *c, uint16_t sw, uint16_t cc_mask)
{
    struct fpu *f = &c->fpu;
    const uint16_t pre = FSW_IE | FSW_DE | FSW_ZE;
    uint16_t raised = sw & FSW_EXC;
    bool abort = raised & ~f->fcw & pre;
    if (abort) /* the operation does not complete: no post-computation */
        raised &= pre;
    if (!abort || cc_mask == FSW_CC) /* compares set their codes anyway */
        f->fsw = (uint16_t)((f->fsw & ~cc_mask) | (sw & cc_mask));
    f->fsw |= raised;
    if (f->fsw & ~f->fcw & FSW_EXC)
        f->fsw |= FSW_ES | FSW_B;
    return !abort;
}

/* Stack overflow or underflow (Vol. 1 8.5.1.1): IE and SF, C1 = 1 for an
 * overflow. Returns true when IE is masked and the instruction goes on
 * with the indefinite. */
static bool stack_fault(struct cpu *c, bool overflow)
{
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~FSW_C1) | FSW_IE | FSW_SF |
                            (overflow ? FSW_C1 : 0));
    if (c->fpu.fcw & FSW_IE)
        return true;
    c->fpu.fsw |= FSW_ES | FSW_B;
    return false;
}

/* Runs a host operation on (a, b) with memory operand m. */
static uint16_t run(const struct cpu *c, hx_fn fn, struct hx *x, const void *m)
{
    uint16_t saved = host_enter(c->fpu.fcw);
    fn(x, m);
    host_leave(saved);
    return x->sw;
}

/* ---- memory operands -------------------------------------------------------- */

static bool mem_in(struct cpu *c, const struct insn *i, unsigned n, void *buf)
{
    const struct operand *o = &i->op[0];
    return fpu_mem_read(c, o->seg, op_ea(c, i, o), addr_mask(i), n, buf, false);
}

static bool mem_out(struct cpu *c, const struct insn *i, unsigned n,
                    const void *buf)
{
    const struct operand *o = &i->op[0];
    return fpu_mem_write(c, o->seg, op_ea(c, i, o), addr_mask(i), n, buf);
}

/* ---- instruction groups ------------------------------------------------------ */

/* A compare of ST(0) with `x->b` (or a memory operand): C3, C2, C0 are
 * set even when an unmasked exception aborts it (unordered for an empty
 * register), but then nothing is popped. Returns the status word. */
static uint16_t compare(struct cpu *c, hx_fn fn, struct hx *x, const void *m,
                        bool operand_empty, unsigned pops)
{
    bool done;
    if (empty(c, 0) || operand_empty) {
        done = stack_fault(c, false);
        c->fpu.fsw |= FSW_C0 | FSW_C2 | FSW_C3;
    } else {
        x->a = get(c, 0);
        done = x87_flags(c, run(c, fn, x, m), FSW_CC);
    }
    while (done && pops--)
        pop(c);
    return c->fpu.fsw;
}

/* FCOM, FCOMP, FCOMPP, FUCOM, FUCOMP, FUCOMPP with a register. */
static bool compare_cc(struct cpu *c, unsigned i, bool quiet, unsigned pops)
{
    struct hx x = {0, get(c, i), 0};
    compare(c, quiet ? hx_ucom : hx_com, &x, NULL, empty(c, i), pops);
    return true;
}

/* st0 op= src, or st(i) op= st0 (the DC/DE forms), then pop for the P
 * forms. `op` is ModRM.reg of D8: 0 add, 1 mul, 4 sub (dest - src),
 * 5 subr, 6 div, 7 divr. */
static bool arith_regs(struct cpu *c, unsigned op, unsigned dst, unsigned src,
                       bool pop_after)
{
    if (empty(c, dst) || empty(c, src)) {
        if (!stack_fault(c, false))
            return true;
        put(c, dst, indefinite());
    } else {
        struct hx x = {get(c, dst), get(c, src), 0};
        if (!x87_flags(c, run(c, arith_st[op], &x, NULL), FSW_C1))
            return true;
        put(c, dst, x.a);
    }
    if (pop_after)
        pop(c);
    return true;
}

/* D8, DA, DC, DE with a memory operand: st0 op= m. */
static bool arith_mem_op(struct cpu *c, const struct insn *i, unsigned op)
{
    unsigned form = (i->opcode >> 1) & 3; /* D8 0, DA 1, DC 2, DE 3 */
    uint8_t m[8];
    if (!mem_in(c, i, arith_mem[form].size, m))
        return false;
    if (op == 2 || op == 3) {
        struct hx x = {0, 0, 0};
        compare(c, arith_mem[form].fn[op], &x, m, false, op == 3);
        return true;
    }
    if (empty(c, 0)) {
        if (stack_fault(c, false))
            put(c, 0, indefinite());
    } else {
        struct hx x = {get(c, 0), 0, 0};
        if (x87_flags(c, run(c, arith_mem[form].fn[op], &x, m), FSW_C1))
            put(c, 0, x.a);
    }
    return true;
}

/* A load onto the stack from a host operation. */
static bool load(struct cpu *c, hx_fn fn, const void *m)
{
    if (!empty(c, 7)) {
        if (stack_fault(c, true))
            push(c, indefinite());
        return true;
    }
    struct hx x = {0, 0, 0};
    uint16_t sw = run(c, fn, &x, m);
    /* An unmasked denormal operand still loads (only IE aborts a load). */
    if (x87_flags(c, sw, FSW_C1) || !(sw & ~c->fpu.fcw & FSW_IE))
        push(c, x.a);
    return true;
}

/* FST/FSTP/FIST/FISTP to memory of `n` bytes. An empty ST(0) stores the
 * indefinite (masked IE) of the format. */
static bool store(struct cpu *c, const struct insn *i, hx_fn fn, unsigned n,
                  bool pop_after)
{
    uint8_t m[8] = {0};
    struct hx x = {empty(c, 0) ? indefinite() : get(c, 0), 0, 0};
    if (empty(c, 0) && !stack_fault(c, false))
        return true;
    uint16_t sw = run(c, fn, &x, m);
    if (!x87_flags(c, sw, FSW_C1))
        return true;
    if (!mem_out(c, i, n, m))
        return false;
    if (pop_after)
        pop(c);
    return true;
}

static bool unary(struct cpu *c, hx_fn fn, uint16_t cc_mask)
{
    if (empty(c, 0)) {
        if (stack_fault(c, false) && cc_mask != FSW_CC)
            put(c, 0, indefinite());
        if (cc_mask == FSW_CC) /* FTST: unordered */
            c->fpu.fsw |= FSW_C0 | FSW_C2 | FSW_C3;
        return true;
    }
    struct hx x = {get(c, 0), 0, 0};
    uint16_t sw = run(c, fn, &x, NULL);
    if (x87_flags(c, sw, cc_mask) && fn != hx_tst)
        put(c, 0, x.a);
    return true;
}

static bool is_nan(const struct x87_reg *r)
{
    return (r->sexp & 0x7FFF) == 0x7FFF && (r->mant << 1) != 0;
}

/* FSIN, FCOS, FPTAN, FSINCOS leave a finite operand of magnitude 2^63 or
 * more unchanged and set C2 (Vol. 2A "FSIN"). */
static bool out_of_range(struct cpu *c)
{
    const struct x87_reg *r = &c->fpu.st[phys(c, 0)];
    uint16_t e = r->sexp & 0x7FFF;
    if (e == 0x7FFF || e < 0x3FFF + 63 || !(r->mant >> 63))
        return false; /* unnormals are invalid operands instead */
    c->fpu.fsw |= FSW_C2;
    return true;
}

/* FPTAN, FSINCOS, FXTRACT: ST(0) replaced and a second result pushed. */
static bool push_two(struct cpu *c, hx_fn fn)
{
    c->fpu.fsw &= (uint16_t)~FSW_C2;
    if (empty(c, 0) || !empty(c, 7)) {
        if (stack_fault(c, !empty(c, 0))) {
            put(c, 0, indefinite());
            push(c, indefinite());
        }
        return true;
    }
    if (fn != hx_xtract && out_of_range(c))
        return true;
    struct hx x = {get(c, 0), 0, 0};
    uint16_t sw = run(c, fn, &x, NULL);
    if (!x87_flags(c, sw, FSW_C1))
        return true;
    put(c, 0, x.b);
    push(c, x.a);
    return true;
}

/* FPATAN, FYL2X, FYL2XP1: ST(1) = f(ST(1), ST(0)), pop. FSCALE, FPREM,
 * FPREM1: ST(0) = f(ST(0), ST(1)). */
static bool binary_st01(struct cpu *c, hx_fn fn, bool pops, uint16_t cc_mask)
{
    if (empty(c, 0) || empty(c, 1)) {
        if (stack_fault(c, false)) {
            put(c, pops ? 1 : 0, indefinite());
            if (pops)
                pop(c);
        }
        return true;
    }
    struct hx x = {get(c, 0), get(c, 1), 0};
    uint16_t sw = run(c, fn, &x, NULL);
    /* FPREM/FPREM1 of a NaN or of invalid operands, or aborted by an
     * unmasked denormal, leave the codes. */
    if (cc_mask == FSW_CC &&
        ((sw & (FSW_IE | (~c->fpu.fcw & FSW_DE))) ||
         is_nan(&c->fpu.st[phys(c, 0)]) ||
         is_nan(&c->fpu.st[phys(c, 1)])))
        cc_mask = 0;
    if (!x87_flags(c, sw, cc_mask))
        return true;
    put(c, pops ? 1 : 0, x.a);
    if (pops)
        pop(c);
    return true;
}

/* FCOMI, FUCOMI (and the P forms): ZF, PF, CF from the compare (C3, C2,
 * C0); OF, SF, AF cleared (Vol. 2A "FCOMI"). */
static bool compare_eflags(struct cpu *c, unsigned i, bool quiet, bool pops)
{
    struct hx x = {0, get(c, i), 0};
    uint16_t saved = c->fpu.fsw & (FSW_C0 | FSW_C2 | FSW_C3);
    uint16_t sw = compare(c, quiet ? hx_ucom : hx_com, &x, NULL, empty(c, i),
                          pops);
    /* The result goes to EFLAGS; C0, C2, C3 keep their values, C1 is 0. */
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~FSW_CC) | saved);
    uint64_t f = cpu_rflags(c) & ~(FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF);
    f |= (sw & FSW_C3 ? FL_ZF : 0) | (sw & FSW_C2 ? FL_PF : 0) |
         (sw & FSW_C0 ? FL_CF : 0);
    cpu_set_rflags(c, f);
    return true;
}

/* FXAM (Vol. 2A "FXAM"): the class in C3, C2, C0 and the sign in C1. */
static void examine(struct cpu *c)
{
    const struct x87_reg *r = &c->fpu.st[phys(c, 0)];
    uint16_t e = r->sexp & 0x7FFF, cc;
    bool integer_bit = r->mant >> 63, fraction = r->mant << 1;
    if (empty(c, 0))
        cc = FSW_C3 | FSW_C0;
    else if (e == 0x7FFF)
        cc = !integer_bit ? 0 : fraction ? FSW_C0 : FSW_C2 | FSW_C0;
    else if (e == 0)
        cc = r->mant ? FSW_C3 | FSW_C2 : FSW_C3;
    else
        cc = integer_bit ? FSW_C2 : 0; /* normal; unnormal: unsupported */
    if (r->sexp & 0x8000)
        cc |= FSW_C1;
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~FSW_CC) | cc);
}

/* FCMOVcc (Vol. 2A "FCMOVcc"): ModRM.reg of DA (B, E, BE, U) and DB (the
 * negations). */
static bool fcmov(struct cpu *c, unsigned opcode, unsigned reg, unsigned i)
{
    uint64_t f = cpu_rflags(c);
    bool cond = reg == 0 ? f & FL_CF : reg == 1 ? f & FL_ZF
              : reg == 2 ? f & (FL_CF | FL_ZF) : f & FL_PF;
    if (opcode == 0xDB)
        cond = !cond;
    if (empty(c, 0) || empty(c, i)) {
        if (stack_fault(c, false))
            put(c, 0, indefinite());
        return true;
    }
    c->fpu.fsw &= (uint16_t)~FSW_C1;
    if (cond)
        put(c, 0, get(c, i));
    return true;
}

/* ---- FNSTENV/FLDENV, FNSAVE/FRSTOR (32-bit protected-mode format) -------- */

/* The full tag of a physical register (Vol. 1 8.1.7). */
static unsigned full_tag(const struct cpu *c, unsigned p)
{
    const struct x87_reg *r = &c->fpu.st[p];
    uint16_t e = r->sexp & 0x7FFF;
    if (!((c->fpu.ftw >> p) & 1))
        return 3;
    if (e == 0 && r->mant == 0)
        return 1;
    if (e == 0x7FFF || e == 0 || !(r->mant >> 63))
        return 2;
    return 0;
}

uint16_t fpu_tag_word(const struct cpu *c)
{
    unsigned w = 0;
    for (unsigned p = 0; p < 8; p++)
        w |= full_tag(c, p) << (2 * p);
    return (uint16_t)w;
}

static void env_store(const struct cpu *c, uint8_t *env)
{
    uint32_t w[7] = {0xFFFF0000u | c->fpu.fcw, 0xFFFF0000u | c->fpu.fsw,
                     0xFFFF0000u | fpu_tag_word(c), 0, 0, 0, 0xFFFF0000u};
    memcpy(env, w, 28);
}

static void env_load(struct cpu *c, const uint8_t *env)
{
    uint32_t w[7];
    memcpy(w, env, 28);
    c->fpu.fcw = (uint16_t)w[0];
    c->fpu.fsw = (uint16_t)w[1];
    c->fpu.ftw = 0;
    for (unsigned p = 0; p < 8; p++)
        if (((w[2] >> (2 * p)) & 3) != 3)
            c->fpu.ftw |= (uint8_t)(1u << p);
    c->fpu.fsw = (uint16_t)(c->fpu.fsw & ~(FSW_ES | FSW_B));
    if (c->fpu.fsw & ~c->fpu.fcw & FSW_EXC)
        c->fpu.fsw |= FSW_ES | FSW_B;
}

static bool fnstenv(struct cpu *c, const struct insn *i, bool save)
{
    uint8_t img[108];
    env_store(c, img);
    for (unsigned k = 0; save && k < 8; k++) {
        const struct x87_reg *r = &c->fpu.st[phys(c, k)];
        memcpy(img + 28 + 10 * k, &r->mant, 8);
        memcpy(img + 28 + 10 * k + 8, &r->sexp, 2);
    }
    if (!mem_out(c, i, save ? 108 : 28, img))
        return false;
    if (save)
        fpu_x87_init(c);
    else
        c->fpu.fcw |= FSW_EXC; /* FNSTENV masks every exception */
    return true;
}

static bool fldenv(struct cpu *c, const struct insn *i, bool restore)
{
    uint8_t img[108];
    if (!mem_in(c, i, restore ? 108 : 28, img))
        return false;
    env_load(c, img);
    for (unsigned k = 0; restore && k < 8; k++) {
        struct x87_reg *r = &c->fpu.st[phys(c, k)];
        memcpy(&r->mant, img + 28 + 10 * k, 8);
        memcpy(&r->sexp, img + 28 + 10 * k + 8, 2);
    }
    return true;
}

/* ---- dispatch ------------------------------------------------------------------ */

static bool x87_memory(struct cpu *c, const struct insn *i, unsigned reg)
{
    uint8_t m[10];
    switch (i->opcode) {
    case 0xD8: case 0xDA: case 0xDC: case 0xDE:
        return arith_mem_op(c, i, reg);
    case 0xD9:
        switch (reg) {
        case 0: return mem_in(c, i, 4, m) && load(c, hx_ld_s, m);
        case 2: return store(c, i, hx_st_s, 4, false);
        case 3: return store(c, i, hx_st_s, 4, true);
        case 4: return fldenv(c, i, false);
        case 5: {
            uint16_t cw;
            if (!mem_in(c, i, 2, &cw))
                return false;
            c->fpu.fcw = (cw & 0x1F3F) | 0x40; /* reserved bits: SDM 8.1.5 */
            c->fpu.fsw &= (uint16_t)~(FSW_ES | FSW_B);
            if (c->fpu.fsw & ~cw & FSW_EXC)
                c->fpu.fsw |= FSW_ES | FSW_B;
            return true;
        }
        case 6: return fnstenv(c, i, false);
        case 7: return mem_out(c, i, 2, &c->fpu.fcw);
        default: return cpu_fault_noerr(c, VEC_UD);
        }
    case 0xDB:
        switch (reg) {
        case 0: return mem_in(c, i, 4, m) && load(c, hx_ild_l, m);
        case 2: return store(c, i, hx_ist_l, 4, false);
        case 3: return store(c, i, hx_ist_l, 4, true);
        case 5: /* FLD m80: no conversion, no exception */
            if (!mem_in(c, i, 10, m))
                return false;
            if (!empty(c, 7)) {
                if (stack_fault(c, true))
                    push(c, indefinite());
                return true;
            }
            {
                long double v = 0;
                memcpy(&v, m, 10);
                push(c, v);
            }
            c->fpu.fsw &= (uint16_t)~FSW_C1;
            return true;
        case 7: { /* FSTP m80 */
            long double v = empty(c, 0) ? indefinite() : get(c, 0);
            if (empty(c, 0) && !stack_fault(c, false))
                return true;
            memcpy(m, &v, 10);
            if (!mem_out(c, i, 10, m))
                return false;
            pop(c);
            return true;
        }
        default: return cpu_fault_noerr(c, VEC_UD);
        }
    case 0xDD:
        switch (reg) {
        case 0: return mem_in(c, i, 8, m) && load(c, hx_ld_l, m);
        case 2: return store(c, i, hx_st_l, 8, false);
        case 3: return store(c, i, hx_st_l, 8, true);
        case 4: return fldenv(c, i, true);
        case 6: return fnstenv(c, i, true);
        case 7: return mem_out(c, i, 2, &c->fpu.fsw);
        default: return cpu_fault_noerr(c, VEC_UD);
        }
    default: /* DF */
        switch (reg) {
        case 0: return mem_in(c, i, 2, m) && load(c, hx_ild_s, m);
        case 2: return store(c, i, hx_ist_s, 2, false);
        case 3: return store(c, i, hx_ist_s, 2, true);
        case 5: return mem_in(c, i, 8, m) && load(c, hx_ild_q, m);
        case 7: return store(c, i, hx_ist_q, 8, true);
        default: return cpu_fault_noerr(c, VEC_UD);
        }
    }
}

static bool x87_d9_register(struct cpu *c, unsigned reg, unsigned rm)
{
    switch (reg) {
    case 0: /* FLD ST(i): an empty source is found before a full stack */
        if (empty(c, rm) || !empty(c, 7)) {
            if (stack_fault(c, !empty(c, rm)))
                push(c, indefinite());
        } else {
            push(c, get(c, rm));
            c->fpu.fsw &= (uint16_t)~FSW_C1;
        }
        return true;
    case 1: { /* FXCH */
        if (empty(c, 0) || empty(c, rm)) {
            if (!stack_fault(c, false))
                return true;
            if (empty(c, 0))
                put(c, 0, indefinite());
            if (empty(c, rm))
                put(c, rm, indefinite());
        }
        long double a = get(c, 0), b = get(c, rm);
        put(c, 0, b);
        put(c, rm, a);
        c->fpu.fsw &= (uint16_t)~FSW_C1;
        return true;
    }
    case 2: /* FNOP */
        return rm == 0 || cpu_fault_noerr(c, VEC_UD);
    case 4:
        if (rm == 0 || rm == 1) { /* FCHS, FABS: the sign bit only */
            if (empty(c, 0)) {
                if (stack_fault(c, false))
                    put(c, 0, indefinite());
                return true;
            }
            struct x87_reg *r = &c->fpu.st[phys(c, 0)];
            r->sexp = rm == 0 ? r->sexp ^ 0x8000 : r->sexp & 0x7FFF;
            c->fpu.fsw &= (uint16_t)~FSW_C1;
            return true;
        }
        if (rm == 4)
            return unary(c, hx_tst, FSW_CC);
        if (rm == 5) {
            examine(c);
            return true;
        }
        return cpu_fault_noerr(c, VEC_UD);
    case 5:
        if (!constants[rm])
            return cpu_fault_noerr(c, VEC_UD);
        return load(c, constants[rm], NULL);
    case 6:
        switch (rm) {
        case 0: return unary(c, hx_f2xm1, FSW_C1);
        case 1: return binary_st01(c, hx_yl2x, true, FSW_C1);
        case 2: return push_two(c, hx_ptan);
        case 3: return binary_st01(c, hx_patan, true, FSW_C1);
        case 4: return push_two(c, hx_xtract);
        case 5: return binary_st01(c, hx_prem1, false, FSW_CC);
        case 6: set_top(c, top(c) - 1); c->fpu.fsw &= (uint16_t)~FSW_C1; return true;
        default: set_top(c, top(c) + 1); c->fpu.fsw &= (uint16_t)~FSW_C1; return true;
        }
    case 7:
        switch (rm) {
        case 0: return binary_st01(c, hx_prem, false, FSW_CC);
        case 1: return binary_st01(c, hx_yl2xp1, true, FSW_C1);
        case 2: return unary(c, hx_sqrt, FSW_C1);
        case 3: return push_two(c, hx_sincos);
        case 4: return unary(c, hx_rndint, FSW_C1);
        case 5: return binary_st01(c, hx_scale, false, FSW_C1);
        case 6:
        case 7:
            c->fpu.fsw &= (uint16_t)~FSW_C2;
            if (!empty(c, 0) && out_of_range(c))
                return true;
            return unary(c, rm == 6 ? hx_sin : hx_cos, FSW_C1);
        }
        /* fall through */
    default:
        return cpu_fault_noerr(c, VEC_UD);
    }
}

static bool x87_register(struct cpu *c, const struct insn *i, unsigned reg,
                         unsigned rm)
{
    switch (i->opcode) {
    case 0xD8:
        if (reg == 2 || reg == 3)
            return compare_cc(c, rm, false, reg == 3);
        return arith_regs(c, reg, 0, rm, false);
    case 0xD9:
        return x87_d9_register(c, reg, rm);
    case 0xDA:
        if (reg < 4)
            return fcmov(c, 0xDA, reg, rm);
        if (reg == 5 && rm == 1) /* FUCOMPP */
            return compare_cc(c, 1, true, 2);
        return cpu_fault_noerr(c, VEC_UD);
    case 0xDB:
        if (reg < 4)
            return fcmov(c, 0xDB, reg, rm);
        if (reg == 5 || reg == 6)
            return compare_eflags(c, rm, reg == 5, false);
        if (reg == 4 && rm == 2) { /* FNCLEX */
            c->fpu.fsw &= (uint16_t)~(FSW_EXC | FSW_SF | FSW_ES | FSW_B);
            return true;
        }
        if (reg == 4 && rm == 3) { /* FNINIT */
            fpu_x87_init(c);
            return true;
        }
        if (reg == 4 && (rm < 2 || rm == 4))
            return true; /* FENI, FDISI, FSETPM: no-ops since the 80387 */
        return cpu_fault_noerr(c, VEC_UD);
    case 0xDC:
        if (reg == 2 || reg == 3)
            return cpu_fault_noerr(c, VEC_UD);
        return arith_regs(c, reg >= 4 ? reg ^ 1 : reg, rm, 0, false);
    case 0xDD:
        switch (reg) {
        case 0: /* FFREE */
            c->fpu.ftw &= (uint8_t)~(1u << phys(c, rm));
            return true;
        case 2:
        case 3: /* FST/FSTP ST(i) */
            if (empty(c, 0)) {
                if (!stack_fault(c, false))
                    return true;
                put(c, rm, indefinite());
            } else {
                put(c, rm, get(c, 0));
                c->fpu.fsw &= (uint16_t)~FSW_C1;
            }
            if (reg == 3)
                pop(c);
            return true;
        case 4:
        case 5: /* FUCOM/FUCOMP */
            return compare_cc(c, rm, true, reg == 5);
        default:
            return cpu_fault_noerr(c, VEC_UD);
        }
    case 0xDE:
        if (reg == 3 && rm != 1)
            return cpu_fault_noerr(c, VEC_UD);
        if (reg == 3) /* FCOMPP */
            return compare_cc(c, 1, false, 2);
        if (reg == 2)
            return cpu_fault_noerr(c, VEC_UD);
        return arith_regs(c, reg >= 4 ? reg ^ 1 : reg, rm, 0, true);
    default: /* DF */
        if (reg == 4 && rm == 0) { /* FNSTSW AX */
            gpr_set(c, RAX, 2, false, c->fpu.fsw);
            return true;
        }
        if (reg == 5 || reg == 6)
            return compare_eflags(c, rm, reg == 5, true);
        return cpu_fault_noerr(c, VEC_UD);
    }
}

/* The FN* control instructions do not wait for a pending unmasked
 * exception (Vol. 1 8.3.11): FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV,
 * FNSAVE. */
static bool no_wait(const struct insn *i, unsigned reg, bool mem)
{
    if (mem)
        return (i->opcode == 0xD9 && (reg == 6 || reg == 7)) ||
               (i->opcode == 0xDD && (reg == 6 || reg == 7));
    return (i->opcode == 0xDB && reg == 4) ||
           (i->opcode == 0xDF && reg == 4);
}

bool exec_x87(struct cpu *c, const struct insn *i)
{
    unsigned reg = (i->modrm >> 3) & 7, rm = i->modrm & 7;
    bool mem = (i->modrm >> 6) != 3;
    /* Vol. 2A "Floating-Point Exceptions" of each instruction: #NM with
     * CR0.EM or CR0.TS, then a pending unmasked exception: #MF. */
    if (c->cr0 & (CR0_EM | CR0_TS))
        return cpu_fault_noerr(c, VEC_NM);
    if ((c->fpu.fsw & FSW_ES) && !no_wait(i, reg, mem))
        return cpu_fault_noerr(c, VEC_MF);
    return mem ? x87_memory(c, i, reg) : x87_register(c, i, reg, rm);
}

/* WAIT/FWAIT: #NM only when CR0.MP and CR0.TS are both set; #MF for a
 * pending unmasked exception (Vol. 2B "WAIT/FWAIT"). */
bool exec_fwait(struct cpu *c, const struct insn *i)
{
    (void)i;
    if ((c->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
        return cpu_fault_noerr(c, VEC_NM);
    if (c->fpu.fsw & FSW_ES)
        return cpu_fault_noerr(c, VEC_MF);
    return true;
}
