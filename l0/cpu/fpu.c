/* The floating-point state: reset, the availability checks every x87,
 * MMX and SSE instruction makes, and memory blocks of any size (m128
 * operands, FXSAVE images) with all-or-nothing writes. */
#include "cpu/fpu.h"

#include <string.h>

#include "cpu/cpu.h"
#include "cpu/fpu_mem.h"
#include "cpu/ops.h"
#include "cpu/tlb_charge.h"

void fpu_x87_init(struct cpu *c)
{
    struct fpu *f = &c->fpu;
    f->fcw = FCW_INIT;
    f->fsw = 0;
    f->ftw = 0;
    f->fop = f->fcs = f->fds = 0;
    f->fip = f->fdp = 0;
}

void fpu_reset(struct cpu *c)
{
    memset(&c->fpu, 0, sizeof c->fpu);
    fpu_x87_init(c);
    c->fpu.fcw = 0x0040; /* power-up value, SDM Vol. 3A Table 10-1 */
    c->fpu.mxcsr = MXCSR_RESET;
    c->fpu.xcr0 = XCR0_X87;
}

bool fpu_sse_usable(struct cpu *c)
{
    if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
        return cpu_fault_noerr(c, VEC_UD);
    if (c->cr0 & CR0_TS)
        return cpu_fault_noerr(c, VEC_NM);
    return true;
}

bool fpu_mmx_available(struct cpu *c)
{
    if (c->cr0 & CR0_EM)
        return cpu_fault_noerr(c, VEC_UD);
    if (c->cr0 & CR0_TS)
        return cpu_fault_noerr(c, VEC_NM);
    if (c->fpu.fsw & FSW_ES)
        return cpu_fault_noerr(c, VEC_MF);
    return true;
}

bool fpu_mmx_usable(struct cpu *c)
{
    if (!fpu_mmx_available(c))
        return false;
    c->fpu.fsw &= (uint16_t)~(7u << FSW_TOP_SHIFT);
    c->fpu.ftw = 0xFF;
    return true;
}

bool fpu_simd_exception(struct cpu *c)
{
    return cpu_fault_noerr(c, (c->cr4 & CR4_OSXMMEXCPT) ? VEC_XM : VEC_UD);
}

/* ---- memory blocks ------------------------------------------------------ */

static uint64_t linear_base(const struct cpu *c, unsigned seg)
{
    /* In 64-bit mode only FS and GS have a base (SDM Vol. 1 3.4.2.1). */
    return c->code64 && seg != SEG_FS && seg != SEG_GS ? 0 : c->seg[seg].base;
}

bool fpu_check_align(struct cpu *c, unsigned seg, uint64_t ea, unsigned align)
{
    if ((linear_base(c, seg) + ea) & (align - 1))
        return cpu_fault(c, VEC_GP, 0);
    return true;
}

bool fpu_mem_read(struct cpu *c, unsigned seg, uint64_t ea, uint64_t amask,
                  unsigned n, void *dst, bool for_write)
{
    uint8_t *out = dst;
    struct tlb_entry *t = fast_tlb(c, seg, ea, n, for_write);
    if (t) {
        memcpy(out, t->host + (ea & 0xFFF), n);
        return true;
    }
    tlb_charge_one_access(c, true);
    bool ok = true;
    for (unsigned k = 0; k < n;) {
        unsigned piece = n - k >= 8 ? 8 : n - k >= 4 ? 4 : n - k >= 2 ? 2 : 1;
        uint64_t v;
        ok = for_write ? mem_read_rmw(c, seg, (ea + k) & amask, piece, &v)
                       : mem_read(c, seg, (ea + k) & amask, piece, &v);
        if (!ok)
            break;
        memcpy(out + k, &v, piece);
        k += piece;
    }
    tlb_charge_one_access(c, false);
    return ok;
}

bool fpu_mem_write(struct cpu *c, unsigned seg, uint64_t ea, uint64_t amask,
                   unsigned n, const void *src)
{
    const uint8_t *in = src;
    struct tlb_entry *t = fast_tlb(c, seg, ea, n, true);
    if (t) {
        memcpy(t->host + (ea & 0xFFF), in, n);
        return true;
    }
    /* Every byte is checked for writing before any is written, so that a
     * fault part-way leaves memory unchanged, as on hardware. */
    tlb_charge_one_access(c, true);
    bool ok = true;
    for (unsigned k = 0; ok && k < n;) {
        unsigned piece = n - k >= 8 ? 8 : n - k >= 4 ? 4 : n - k >= 2 ? 2 : 1;
        uint64_t v;
        ok = mem_read_rmw(c, seg, (ea + k) & amask, piece, &v);
        k += piece;
    }
    for (unsigned k = 0; ok && k < n;) {
        unsigned piece = n - k >= 8 ? 8 : n - k >= 4 ? 4 : n - k >= 2 ? 2 : 1;
        uint64_t v = 0;
        memcpy(&v, in + k, piece);
        ok = mem_write(c, seg, (ea + k) & amask, piece, v);
        k += piece;
    }
    tlb_charge_one_access(c, false);
    return ok;
}
