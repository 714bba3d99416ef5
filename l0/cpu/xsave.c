/* Saving and restoring the x87/SSE state: FXSAVE/FXRSTOR (SDM Vol. 1
 * 10.5.1, Vol. 2A "FXSAVE"), XSAVE/XRSTOR in the standard form for the
 * x87 and SSE components (Vol. 1 13.7, 13.8), and XGETBV/XSETBV for
 * XCR0.
 *
 * Simplified: XINUSE is always 1 for every enabled component, which the
 * SDM allows (13.6), so XSAVE always stores both components it is asked
 * for; there is no XSAVEOPT, XSAVEC or XSAVES (CPUID.(EAX=0DH,ECX=1)
 * reports none), and no compacted form. */
#include <capstone/capstone.h>
#include <string.h>

#include "cpu/exec_fpu.h"
#include "cpu/fpu_mem.h"
#include "cpu/ops.h"

enum {
    FX_FCW = 0, FX_FSW = 2, FX_FTW = 4, FX_FOP = 6, FX_FIP = 8, FX_FCS = 12,
    FX_FDP = 16, FX_FDS = 20, FX_MXCSR = 24, FX_MXCSR_MASK = 28, FX_ST = 32,
    FX_XMM = 160, FX_SIZE = 512,
    XH_XSTATE_BV = 512, XH_XCOMP_BV = 520,
};

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* The x87 part (bytes 0-23 and 32-159). `wide`: REX.W, 64-bit FIP/FDP
 * (Vol. 2A Tables 3-46/3-47). ST(i) is stored in stack order. */
static void x87_store(const struct cpu *c, uint8_t *img, bool wide)
{
    const struct fpu *f = &c->fpu;
    put16(img + FX_FCW, f->fcw);
    put16(img + FX_FSW, f->fsw);
    img[FX_FTW] = f->ftw;
    img[FX_FTW + 1] = 0;
    put16(img + FX_FOP, f->fop);
    if (wide) {
        put64(img + FX_FIP, f->fip);
        put64(img + FX_FDP, f->fdp);
    } else {
        put32(img + FX_FIP, (uint32_t)f->fip);
        put32(img + FX_FCS, f->fcs);
        put32(img + FX_FDP, (uint32_t)f->fdp);
        put32(img + FX_FDS, f->fds);
    }
    unsigned top = (f->fsw >> FSW_TOP_SHIFT) & 7;
    for (unsigned k = 0; k < 8; k++) {
        const struct x87_reg *r = &f->st[(top + k) & 7];
        uint8_t *slot = img + FX_ST + 16 * k;
        put64(slot, r->mant);
        put16(slot + 8, r->sexp);
        memset(slot + 10, 0, 6);
    }
}

static void x87_load(struct cpu *c, const uint8_t *img, bool wide)
{
    struct fpu *f = &c->fpu;
    f->fcw = get16(img + FX_FCW);
    f->fsw = get16(img + FX_FSW);
    f->ftw = img[FX_FTW];
    f->fop = get16(img + FX_FOP) & 0x7FF;
    if (wide) {
        f->fip = get64(img + FX_FIP);
        f->fdp = get64(img + FX_FDP);
        f->fcs = f->fds = 0;
    } else {
        f->fip = get32(img + FX_FIP);
        f->fcs = get16(img + FX_FCS);
        f->fdp = get32(img + FX_FDP);
        f->fds = get16(img + FX_FDS);
    }
    unsigned top = (f->fsw >> FSW_TOP_SHIFT) & 7;
    for (unsigned k = 0; k < 8; k++) {
        struct x87_reg *r = &f->st[(top + k) & 7];
        r->mant = get64(img + FX_ST + 16 * k);
        r->sexp = get16(img + FX_ST + 16 * k + 8);
    }
}

/* XMM0-15 in 64-bit mode, XMM0-7 elsewhere. */
static unsigned xmm_count(const struct cpu *c) { return c->code64 ? 16 : 8; }

static void sse_store(const struct cpu *c, uint8_t *img)
{
    memcpy(img + FX_XMM, c->fpu.xmm, 16 * xmm_count(c));
}

static void sse_load(struct cpu *c, const uint8_t *img)
{
    memcpy(c->fpu.xmm, img + FX_XMM, 16 * xmm_count(c));
}

static void mxcsr_store(const struct cpu *c, uint8_t *img)
{
    put32(img + FX_MXCSR, c->fpu.mxcsr);
    put32(img + FX_MXCSR_MASK, MXCSR_MASK);
}

static bool wide_form(const struct insn *i)
{
    return i->id == X86_INS_FXSAVE64 || i->id == X86_INS_FXRSTOR64 ||
           i->id == X86_INS_XSAVE64 || i->id == X86_INS_XRSTOR64;
}

/* Reads the save area (with write checks when it is to be written back),
 * after the alignment check. */
static bool area_read(struct cpu *c, const struct insn *i, unsigned align,
                      uint8_t *img, unsigned n, bool for_write)
{
    const struct operand *o = &i->op[0];
    uint64_t ea = op_ea(c, i, o);
    return fpu_check_align(c, o->seg, ea, align) &&
           fpu_mem_read(c, o->seg, ea, addr_mask(i), n, img, for_write);
}

static bool area_write(struct cpu *c, const struct insn *i, const uint8_t *img,
                       unsigned n)
{
    const struct operand *o = &i->op[0];
    return fpu_mem_write(c, o->seg, op_ea(c, i, o), addr_mask(i), n, img);
}

/* FXSAVE/FXRSTOR: #NM with CR0.TS or CR0.EM (Vol. 2A "FXSAVE"). */
static bool fx_usable(struct cpu *c)
{
    if (c->cr0 & (CR0_TS | CR0_EM))
        return cpu_fault_noerr(c, VEC_NM);
    return true;
}

bool exec_fxsave(struct cpu *c, const struct insn *i)
{
    uint8_t img[FX_SIZE];
    if (!fx_usable(c) || !area_read(c, i, 16, img, FX_SIZE, true))
        return false;
    x87_store(c, img, wide_form(i));
    mxcsr_store(c, img);
    sse_store(c, img);
    return area_write(c, i, img, FX_SIZE);
}

bool exec_fxrstor(struct cpu *c, const struct insn *i)
{
    uint8_t img[FX_SIZE];
    if (!fx_usable(c) || !area_read(c, i, 16, img, FX_SIZE, false))
        return false;
    if (get32(img + FX_MXCSR) & ~MXCSR_MASK)
        return cpu_fault(c, VEC_GP, 0);
    x87_load(c, img, wide_form(i));
    c->fpu.mxcsr = get32(img + FX_MXCSR);
    sse_load(c, img);
    return true;
}

/* XSAVE, XRSTOR: #UD without CR4.OSXSAVE or with LOCK, #NM with CR0.TS,
 * #GP(0) unless the area is 64-byte aligned (Vol. 2C "XSAVE"). */
static bool xsave_usable(struct cpu *c, const struct insn *i)
{
    if (!(c->cr4 & CR4_OSXSAVE) || i->lock)
        return cpu_fault_noerr(c, VEC_UD);
    if (c->cr0 & CR0_TS)
        return cpu_fault_noerr(c, VEC_NM);
    return true;
}

static uint64_t rfbm(const struct cpu *c)
{
    uint64_t mask = (c->gpr[RDX] << 32) | (uint32_t)c->gpr[RAX];
    return mask & c->fpu.xcr0;
}

bool exec_xsave(struct cpu *c, const struct insn *i)
{
    uint8_t img[XSAVE_AREA_SIZE], x87[FX_SIZE];
    if (!xsave_usable(c, i) ||
        !area_read(c, i, 64, img, XSAVE_AREA_SIZE, true))
        return false;
    uint64_t rf = rfbm(c);
    /* The x87 image is built aside: its bytes 24-31 are MXCSR, which
     * belongs to the SSE component (13.5.2). */
    x87_store(c, x87, wide_form(i));
    if (rf & XCR0_X87) {
        memcpy(img, x87, FX_MXCSR);
        memcpy(img + FX_ST, x87 + FX_ST, FX_XMM - FX_ST);
    }
    if (rf & XCR0_SSE) {
        mxcsr_store(c, img);
        sse_store(c, img);
    }
    put64(img + XH_XSTATE_BV, (get64(img + XH_XSTATE_BV) & ~rf) | rf);
    return area_write(c, i, img, XSAVE_AREA_SIZE);
}

bool exec_xrstor(struct cpu *c, const struct insn *i)
{
    uint8_t img[XSAVE_AREA_SIZE];
    if (!xsave_usable(c, i) ||
        !area_read(c, i, 64, img, XSAVE_AREA_SIZE, false))
        return false;
    uint64_t rf = rfbm(c), bv = get64(img + XH_XSTATE_BV);
    /* 13.8.1: without compaction support, XCOMP_BV and the next 8 bytes
     * must be 0; XSTATE_BV may name only components enabled in XCR0. MXCSR
     * must be valid whenever the SSE component is requested. */
    if (get64(img + XH_XCOMP_BV) || get64(img + XH_XCOMP_BV + 8) ||
        (bv & ~c->fpu.xcr0) ||
        ((rf & XCR0_SSE) && (get32(img + FX_MXCSR) & ~MXCSR_MASK)))
        return cpu_fault(c, VEC_GP, 0);
    if (rf & XCR0_X87) {
        if (bv & XCR0_X87) {
            x87_load(c, img, wide_form(i));
        } else {
            fpu_x87_init(c);
            memset(c->fpu.st, 0, sizeof c->fpu.st);
        }
    }
    if (rf & XCR0_SSE) {
        /* The standard form loads MXCSR even when XSTATE_BV[1] is 0. */
        c->fpu.mxcsr = get32(img + FX_MXCSR);
        if (bv & XCR0_SSE)
            sse_load(c, img);
        else
            memset(c->fpu.xmm, 0, 16 * xmm_count(c));
    }
    return true;
}

/* XGETBV: ECX = 0 reads XCR0; XGETBV with ECX = 1 is not supported
 * (CPUID.(EAX=0DH,ECX=1):EAX[2] = 0), so any other index is #GP(0). */
bool exec_xgetbv(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!(c->cr4 & CR4_OSXSAVE))
        return cpu_fault_noerr(c, VEC_UD);
    if ((uint32_t)c->gpr[RCX] != 0)
        return cpu_fault(c, VEC_GP, 0);
    gpr_set(c, RAX, 4, false, (uint32_t)c->fpu.xcr0);
    gpr_set(c, RDX, 4, false, c->fpu.xcr0 >> 32);
    return true;
}

/* XSETBV (Vol. 2C "XSETBV"): CPL 0, XCR0 only, x87 always enabled, no
 * bit this CPU lacks. In VMX non-root operation it always exits
 * (l0/vmx/intercept.c) before getting here. */
bool xsetbv_check(const struct cpu *c, uint32_t index, uint64_t value)
{
    return c->cpl == 0 && index == 0 && (value & XCR0_X87) &&
           !(value & ~XCR0_SUPPORTED);
}

bool exec_xsetbv(struct cpu *c, const struct insn *i)
{
    (void)i;
    uint64_t v = (c->gpr[RDX] << 32) | (uint32_t)c->gpr[RAX];
    if (!(c->cr4 & CR4_OSXSAVE))
        return cpu_fault_noerr(c, VEC_UD);
    if (!xsetbv_check(c, (uint32_t)c->gpr[RCX], v))
        return cpu_fault(c, VEC_GP, 0);
    c->fpu.xcr0 = v;
    return true;
}
