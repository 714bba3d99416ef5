#include "gdb/regs.h"

#include <string.h>

#include "cpu/cpu.h"
#include "cpu/fpu.h"

enum kind { GPR, RIP, EFLAGS, SEG, ST, X87_CTL, XMM, MXCSR };

/* One row per register, in gdb's numbering. */
static const struct reg {
    uint8_t kind, index, size;
} regs[GDB_REG_COUNT] = {
    {GPR, RAX, 8}, {GPR, RBX, 8}, {GPR, RCX, 8}, {GPR, RDX, 8},
    {GPR, RSI, 8}, {GPR, RDI, 8}, {GPR, RBP, 8}, {GPR, RSP, 8},
    {GPR, R8, 8},  {GPR, R9, 8},  {GPR, R10, 8}, {GPR, R11, 8},
    {GPR, R12, 8}, {GPR, R13, 8}, {GPR, R14, 8}, {GPR, R15, 8},
    {RIP, 0, 8},   {EFLAGS, 0, 4},
    {SEG, SEG_CS, 4}, {SEG, SEG_SS, 4}, {SEG, SEG_DS, 4},
    {SEG, SEG_ES, 4}, {SEG, SEG_FS, 4}, {SEG, SEG_GS, 4},
    {ST, 0, 10}, {ST, 1, 10}, {ST, 2, 10}, {ST, 3, 10},
    {ST, 4, 10}, {ST, 5, 10}, {ST, 6, 10}, {ST, 7, 10},
    {X87_CTL, 0, 4}, {X87_CTL, 1, 4}, {X87_CTL, 2, 4}, {X87_CTL, 3, 4},
    {X87_CTL, 4, 4}, {X87_CTL, 5, 4}, {X87_CTL, 6, 4}, {X87_CTL, 7, 4},
    {XMM, 0, 16},  {XMM, 1, 16},  {XMM, 2, 16},  {XMM, 3, 16},
    {XMM, 4, 16},  {XMM, 5, 16},  {XMM, 6, 16},  {XMM, 7, 16},
    {XMM, 8, 16},  {XMM, 9, 16},  {XMM, 10, 16}, {XMM, 11, 16},
    {XMM, 12, 16}, {XMM, 13, 16}, {XMM, 14, 16}, {XMM, 15, 16},
    {MXCSR, 0, 4},
};

unsigned gdb_reg_size(unsigned n)
{
    return n < GDB_REG_COUNT ? regs[n].size : 0;
}

/* fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop (FXSAVE's fields;
 * the tag word in full, as FNSTENV has it). */
static uint32_t x87_control(const struct cpu *c, unsigned k)
{
    const struct fpu *f = &c->fpu;
    const uint32_t values[8] = {f->fcw, f->fsw, fpu_tag_word(c), f->fcs,
                                (uint32_t)f->fip, f->fds, (uint32_t)f->fdp,
                                f->fop};
    return values[k];
}

unsigned gdb_reg_get(const struct cpu *c, unsigned n, uint8_t *out)
{
    if (n >= GDB_REG_COUNT)
        return 0;
    const struct reg *r = &regs[n];
    uint64_t v = 0;
    switch (r->kind) {
    case GPR: v = c->gpr[r->index]; break;
    case RIP: v = c->rip; break;
    case EFLAGS: v = cpu_rflags(c); break;
    case SEG: v = c->seg[r->index].sel; break;
    case ST: {
        /* ST(i) is physical register (TOP + i) mod 8 (SDM Vol. 1 8.1.2). */
        unsigned top = (c->fpu.fsw >> 11) & 7;
        const struct x87_reg *x = &c->fpu.st[(top + r->index) & 7];
        memcpy(out, &x->mant, 8);
        memcpy(out + 8, &x->sexp, 2);
        return r->size;
    }
    case X87_CTL: v = x87_control(c, r->index); break;
    case XMM:
        memcpy(out, c->fpu.xmm[r->index].b, 16);
        return r->size;
    case MXCSR: v = c->fpu.mxcsr; break;
    }
    memcpy(out, &v, r->size); /* little-endian host, as the guest */
    return r->size;
}

bool gdb_reg_set(struct cpu *c, unsigned n, const uint8_t *in)
{
    if (n >= GDB_REG_COUNT)
        return false;
    const struct reg *r = &regs[n];
    uint64_t v = 0;
    if (r->size <= 8)
        memcpy(&v, in, r->size);
    switch (r->kind) {
    case GPR: c->gpr[r->index] = v; return true;
    case RIP: c->rip = c->long_mode ? v : v & 0xFFFFFFFF; return true;
    case EFLAGS:
        /* Bit 1 reads as 1, the reserved bits stay 0 (SDM Vol. 1 3.4.3);
         * VM stays 0: virtual-8086 mode is not emulated. */
        cpu_set_rflags(c, (v & 0x3D7FD5) | FL_FIXED1);
        return true;
    case XMM: memcpy(c->fpu.xmm[r->index].b, in, 16); return true;
    case MXCSR:
        if (v & ~(uint64_t)MXCSR_MASK)
            return false;
        c->fpu.mxcsr = (uint32_t)v;
        return true;
    default: return false;
    }
}
