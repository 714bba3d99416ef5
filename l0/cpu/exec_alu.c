/* Integer arithmetic and logic (SDM Vol. 2 instruction pages; flags per
 * Vol. 1 Appendix A). Flags the SDM leaves undefined are set as noted at
 * each instruction; docs/emulator.md lists them. tests/unit/test_insn_diff.c
 * compares everything else with the host CPU; the undefined flags in which
 * the Intel host of that test differs from our choices: CF/OF/SF/AF/PF
 * after BSF/BSR, ZF after MUL/IMUL, OF after rotates by more than 1, AF
 * after shifts and OF after shifts (and SHLD/SHRD) by more than 1. */
#include "cpu/exec.h"
#include "cpu/ops.h"

static unsigned bits_of(unsigned size) { return size * 8; }

static uint64_t sign_extend(uint64_t v, unsigned size)
{
    unsigned shift = 64 - bits_of(size);
    return (uint64_t)((int64_t)(v << shift) >> shift);
}

/* SF, ZF and PF of a result, for flags computed eagerly. */

/* The two-operand ALU operation `sub` on a and b (b already masked):
 * the result, with the flags recorded. */
static inline __attribute__((always_inline)) uint64_t
alu_apply(struct cpu *c, unsigned sub, unsigned size, uint64_t a, uint64_t b)
{
    uint64_t r;
    unsigned carry = 0;
    enum flags_op fop = FOP_LOGIC;
    switch (sub) {
    case ALU_ADC:
        carry = flags_cf(&c->flags);
        /* fall through */
    case ALU_ADD:
        r = a + b + carry;
        fop = FOP_ADD;
        break;
    case ALU_SBB:
        carry = flags_cf(&c->flags);
        /* fall through */
    case ALU_SUB:
    case ALU_CMP:
        r = a - b - carry;
        fop = FOP_SUB;
        break;
    case ALU_OR: r = a | b; break;
    case ALU_XOR: r = a ^ b; break;
    default: r = a & b; break; /* AND, TEST */
    }
    flags_record(&c->flags, fop, size, r, a, b, carry);
    return r;
}

bool exec_alu(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size;
    bool writes = i->sub != ALU_CMP && i->sub != ALU_TEST;
    uint64_t a, b;
    if (!(writes ? op_read_rmw(c, i, 0, &a) : op_read(c, i, 0, &a)) ||
        !op_read(c, i, 1, &b))
        return false;
    b &= size_mask(size);
    /* The destination was read for writing (op_read_rmw checked write
     * access), so the write below cannot fault after the flags change. */
    uint64_t r = alu_apply(c, i->sub, size, a, b);
    return !writes || op_write(c, i, 0, r);
}

uint64_t exec_alu_apply(struct cpu *c, unsigned sub, unsigned size,
                        uint64_t a, uint64_t b)
{
    return alu_apply(c, sub, size, a, b);
}

/* The same for a general register destination (not AH..BH) and a
 * register or immediate source: chosen at decode time, it skips the
 * operand-kind dispatch on the interpreter's most frequent form. */
bool exec_alu_reg(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0], *s = &i->op[1];
    unsigned size = d->size;
    uint64_t mask = size_mask(size);
    uint64_t a = c->gpr[d->reg] & mask;
    uint64_t b = (s->kind == OPK_IMM ? (uint64_t)s->value : c->gpr[s->reg]) &
                 mask;
    uint64_t r = alu_apply(c, i->sub, size, a, b);
    if (i->sub != ALU_CMP && i->sub != ALU_TEST)
        gpr_set(c, d->reg, size, false, r);
    return true;
}

static bool incdec(struct cpu *c, const struct insn *i, enum flags_op op)
{
    uint64_t a;
    if (!op_read_rmw(c, i, 0, &a))
        return false;
    uint64_t r = op == FOP_INC ? a + 1 : a - 1;
    if (!op_write(c, i, 0, r))
        return false;
    flags_record_incdec(&c->flags, op, i->op[0].size, r, a);
    return true;
}

bool exec_inc(struct cpu *c, const struct insn *i) { return incdec(c, i, FOP_INC); }
bool exec_dec(struct cpu *c, const struct insn *i) { return incdec(c, i, FOP_DEC); }

bool exec_neg(struct cpu *c, const struct insn *i)
{
    uint64_t a;
    if (!op_read_rmw(c, i, 0, &a) || !op_write(c, i, 0, 0 - a))
        return false;
    /* As 0 - a: CF = (a != 0). */
    flags_record(&c->flags, FOP_SUB, i->op[0].size, 0 - a, 0, a, 0);
    return true;
}

bool exec_not(struct cpu *c, const struct insn *i)
{
    uint64_t a;
    return op_read_rmw(c, i, 0, &a) && op_write(c, i, 0, ~a);
}

/* A shift or rotate whose masked count is 0 changes no flag, but a
 * 32-bit register destination is still written, so its upper half is
 * cleared (SDM Vol. 1 3.4.1.1; what Intel processors do, checked by
 * tests/unit/test_insn_diff.c). A memory destination is left alone. */
static bool rewrite_register(struct cpu *c, const struct insn *i, uint64_t a)
{
    return i->op[0].kind != OPK_REG || op_write(c, i, 0, a);
}

/* Rotates through CF one bit at a time: counts are at most 64. */
static uint64_t rotate_carry(uint64_t a, unsigned bits, unsigned count,
                             bool left, bool *cf)
{
    uint64_t msb = 1ull << (bits - 1);
    for (unsigned k = 0; k < count; k++) {
        bool out;
        if (left) {
            out = a & msb;
            a = (a << 1) | *cf;
        } else {
            out = a & 1;
            a = (a >> 1) | ((uint64_t)*cf << (bits - 1));
        }
        *cf = out;
    }
    return a & size_mask(bits / 8);
}

/* SAL/SHL/SHR/SAR/ROL/ROR/RCL/RCR (SDM Vol. 2B "SAL/SAR/SHL/SHR", Vol. 2B
 * "RCL/RCR/ROL/ROR"). The count is masked to 5 bits (6 with REX.W); a
 * masked count of 0 changes nothing. OF is defined for a count of 1; for
 * larger counts we compute it with the count-1 formula, and AF is left
 * unchanged: both undefined. */
bool exec_shift(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size, bits = bits_of(size);
    uint64_t a, n;
    if (!op_read_rmw(c, i, 0, &a))
        return false;
    if (i->nops > 1) {
        if (!op_read(c, i, 1, &n))
            return false;
    } else {
        n = 1;
    }
    unsigned count = (unsigned)(n & (size == 8 ? 0x3F : 0x1F));
    if (count == 0)
        return rewrite_register(c, i, a);
    uint64_t flags = flags_get(&c->flags);
    bool cf = flags & FL_CF, of;
    uint64_t r, mask = size_mask(size), msb = sign_bit(size);
    bool rotate = false;

    switch (i->sub) {
    case SH_SHL:
    case SH_SAL:
        r = count < 64 ? a << count : 0;
        cf = count <= bits ? (a >> (bits - count)) & 1 : 0;
        of = ((r & msb) != 0) ^ cf;
        break;
    case SH_SHR:
        r = count < 64 ? a >> count : 0;
        cf = (a >> (count - 1)) & 1;
        of = (a & msb) != 0;
        break;
    case SH_SAR: {
        int64_t s = (int64_t)sign_extend(a, size);
        r = (uint64_t)(s >> (count < 64 ? count : 63));
        cf = (uint64_t)(s >> (count - 1 < 63 ? count - 1 : 63)) & 1;
        of = false;
        break;
    }
    case SH_ROL: {
        unsigned k = count % bits;
        r = k ? (a << k) | (a >> (bits - k)) : a;
        cf = r & 1;
        of = ((r & msb) != 0) ^ cf;
        rotate = true;
        break;
    }
    case SH_ROR: {
        unsigned k = count % bits;
        r = k ? (a >> k) | (a << (bits - k)) : a;
        r &= mask;
        cf = (r & msb) != 0;
        of = cf ^ ((r & (msb >> 1)) != 0);
        rotate = true;
        break;
    }
    case SH_RCL: {
        unsigned k = size < 4 ? count % (bits + 1) : count;
        r = rotate_carry(a, bits, k, true, &cf);
        of = ((r & msb) != 0) ^ cf;
        rotate = true;
        break;
    }
    default: { /* RCR: OF from the operand before the rotation */
        unsigned k = size < 4 ? count % (bits + 1) : count;
        of = ((a & msb) != 0) ^ cf;
        r = rotate_carry(a, bits, k, false, &cf);
        rotate = true;
        break;
    }
    }
    r &= mask;
    if (!op_write(c, i, 0, r))
        return false;
    uint64_t keep = rotate ? ~(FL_CF | FL_OF) : ~(FL_CF | FL_OF | FL_SF |
                                                  FL_ZF | FL_PF);
    uint64_t nf = (flags & keep) | (cf ? FL_CF : 0) | (of ? FL_OF : 0);
    if (!rotate)
        nf |= flags_szp(r, size);
    flags_set(&c->flags, nf);
    return true;
}

/* SHLD/SHRD (SDM Vol. 2B): count masked to 5 or 6 bits; 0 changes
 * nothing. A 16-bit count above 16 gives an undefined result: we shift
 * through the 32-bit concatenation. */
static bool double_shift(struct cpu *c, const struct insn *i, bool left)
{
    unsigned size = i->op[0].size, bits = bits_of(size);
    uint64_t a, b, n;
    if (!op_read_rmw(c, i, 0, &a) || !op_read(c, i, 1, &b) ||
        !op_read(c, i, 2, &n))
        return false;
    unsigned count = (unsigned)(n & (size == 8 ? 0x3F : 0x1F));
    if (count == 0)
        return rewrite_register(c, i, a);
    unsigned __int128 wide;
    uint64_t r;
    bool cf;
    if (left) {
        wide = ((unsigned __int128)a << bits) | b;
        /* The window slides left over a:b; for a 16-bit count above 16
         * it moves into b (never a shift by a negative amount). */
        r = (uint64_t)((wide << count) >> bits) & size_mask(size);
        cf = (uint64_t)(wide >> (2 * bits - count)) & 1;
    } else {
        wide = ((unsigned __int128)b << bits) | a;
        r = (uint64_t)(wide >> count) & size_mask(size);
        cf = (uint64_t)(wide >> (count - 1)) & 1;
    }
    if (!op_write(c, i, 0, r))
        return false;
    bool of = ((r ^ a) & sign_bit(size)) != 0;
    uint64_t flags = flags_get(&c->flags) & ~(FL_CF | FL_OF | FL_SF | FL_ZF | FL_PF);
    flags_set(&c->flags, flags | (cf ? FL_CF : 0) | (of ? FL_OF : 0) | flags_szp(r, size));
    return true;
}

bool exec_shld(struct cpu *c, const struct insn *i) { return double_shift(c, i, true); }
bool exec_shrd(struct cpu *c, const struct insn *i) { return double_shift(c, i, false); }

/* The accumulator pair of one-operand MUL/IMUL/DIV/IDIV: AX for bytes,
 * DX:AX, EDX:EAX or RDX:RAX. */
static unsigned __int128 acc_pair(const struct cpu *c, unsigned size)
{
    if (size == 1)
        return c->gpr[RAX] & 0xFFFF;
    return ((unsigned __int128)(c->gpr[RDX] & size_mask(size)) << bits_of(size)) |
           (c->gpr[RAX] & size_mask(size));
}

static void set_acc_pair(struct cpu *c, unsigned size, uint64_t lo, uint64_t hi)
{
    if (size == 1) {
        gpr_set(c, RAX, 2, false, (lo & 0xFF) | ((hi & 0xFF) << 8));
        return;
    }
    gpr_set(c, RAX, size, false, lo);
    gpr_set(c, RDX, size, false, hi);
}

/* CF = OF = the overflow condition; SF, ZF, PF (undefined) from the low
 * half, AF (undefined) cleared. */
static void mul_flags(struct cpu *c, bool overflow, uint64_t lo, unsigned size)
{
    uint64_t f = flags_get(&c->flags) & ~FL_ARITH;
    f |= flags_szp(lo, size);
    if (overflow)
        f |= FL_CF | FL_OF;
    flags_set(&c->flags, f);
}

bool exec_mul(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size;
    uint64_t src;
    if (!op_read(c, i, 0, &src))
        return false;
    unsigned __int128 p = (unsigned __int128)(c->gpr[RAX] & size_mask(size)) * src;
    uint64_t lo = (uint64_t)p & size_mask(size);
    uint64_t hi = (uint64_t)(p >> bits_of(size)) & size_mask(size);
    set_acc_pair(c, size, lo, hi);
    mul_flags(c, hi != 0, lo, size);
    return true;
}

bool exec_imul(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size;
    uint64_t a, b;
    if (i->nops == 1) {
        if (!op_read(c, i, 0, &b))
            return false;
        a = c->gpr[RAX];
    } else if (i->nops == 2) {
        if (!op_read(c, i, 0, &a) || !op_read(c, i, 1, &b))
            return false;
    } else {
        if (!op_read(c, i, 1, &a) || !op_read(c, i, 2, &b))
            return false;
    }
    __int128 p = (__int128)(int64_t)sign_extend(a, size) *
                 (__int128)(int64_t)sign_extend(b, size);
    uint64_t lo = (uint64_t)p & size_mask(size);
    bool overflow = (__int128)(int64_t)sign_extend(lo, size) != p;
    if (i->nops == 1)
        set_acc_pair(c, size, lo, (uint64_t)(p >> bits_of(size)) & size_mask(size));
    else
        gpr_set(c, i->op[0].reg, size, false, lo);
    mul_flags(c, overflow, lo, size);
    return true;
}

/* DIV/IDIV: #DE on a zero divisor or a quotient that does not fit. The
 * flags are undefined and left unchanged. */
bool exec_div(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size;
    uint64_t d;
    if (!op_read(c, i, 0, &d))
        return false;
    if (d == 0)
        return cpu_fault_noerr(c, VEC_DE);
    unsigned __int128 n = acc_pair(c, size);
    unsigned __int128 q = n / d;
    if (q > size_mask(size))
        return cpu_fault_noerr(c, VEC_DE);
    set_acc_pair(c, size, (uint64_t)q, (uint64_t)(n % d));
    return true;
}

bool exec_idiv(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size, bits = bits_of(size);
    uint64_t d;
    if (!op_read(c, i, 0, &d))
        return false;
    int64_t sd = (int64_t)sign_extend(d, size);
    if (sd == 0)
        return cpu_fault_noerr(c, VEC_DE);
    unsigned __int128 raw = acc_pair(c, size);
    /* Sign-extend the 2*bits-wide dividend. */
    __int128 n = (__int128)(raw << (128 - 2 * bits)) >> (128 - 2 * bits);
    /* The most negative dividend over -1: the quotient overflows (and
     * for 64-bit operands n / sd itself would overflow in C). The bound
     * is formed unsigned: 1 << 127 does not fit a signed __int128. */
    unsigned __int128 most_negative = -((unsigned __int128)1 << (2 * bits - 1));
    if (sd == -1 && (unsigned __int128)n == most_negative)
        return cpu_fault_noerr(c, VEC_DE);
    __int128 q = n / sd, rem = n % sd;
    __int128 lim = (__int128)1 << (bits - 1);
    if (q >= lim || q < -lim)
        return cpu_fault_noerr(c, VEC_DE);
    set_acc_pair(c, size, (uint64_t)q & size_mask(size),
                 (uint64_t)rem & size_mask(size));
    return true;
}

/* BT/BTS/BTR/BTC (SDM Vol. 2A "BT"): CF = the bit; OF, SF, AF, PF are
 * undefined and left unchanged, ZF unaffected. A register bit offset on a
 * memory operand may address outside it (signed, in operand-size units). */
bool exec_bit(struct cpu *c, const struct insn *i)
{
    const struct operand *dst = &i->op[0];
    unsigned size = dst->size, bits = bits_of(size);
    uint64_t off;
    if (!op_read(c, i, 1, &off))
        return false;
    uint64_t value, bit;
    uint64_t ea = 0;
    if (dst->kind == OPK_MEM && i->op[1].kind == OPK_REG) {
        int64_t soff = (int64_t)sign_extend(off, i->op[1].size);
        int64_t unit = soff >= 0 ? soff / (int64_t)bits
                                 : -((-soff + (int64_t)bits - 1) / (int64_t)bits);
        ea = (op_ea(c, i, dst) + (uint64_t)(unit * (int64_t)size)) & addr_mask(i);
        bit = (uint64_t)(soff - unit * (int64_t)bits);
        bool ok = i->sub == BIT_BT ? mem_read(c, dst->seg, ea, size, &value)
                                   : mem_read_rmw(c, dst->seg, ea, size, &value);
        if (!ok)
            return false;
    } else {
        bit = off & (bits - 1);
        bool ok = i->sub == BIT_BT ? op_read(c, i, 0, &value)
                                   : op_read_rmw(c, i, 0, &value);
        if (!ok)
            return false;
        if (dst->kind == OPK_MEM)
            ea = op_ea(c, i, dst);
    }
    bool was = (value >> bit) & 1;
    uint64_t nv = value;
    switch (i->sub) {
    case BIT_BTS: nv |= 1ull << bit; break;
    case BIT_BTR: nv &= ~(1ull << bit); break;
    case BIT_BTC: nv ^= 1ull << bit; break;
    default: break;
    }
    if (i->sub != BIT_BT) {
        bool ok = dst->kind == OPK_MEM ? mem_write(c, dst->seg, ea, size, nv)
                                       : op_write(c, i, 0, nv);
        if (!ok)
            return false;
    }
    flags_update(&c->flags, FL_CF, was ? FL_CF : 0);
    return true;
}

/* BSF/BSR: a zero source sets ZF and leaves the destination unchanged;
 * CF, OF, SF, AF, PF are undefined and left unchanged. TZCNT and LZCNT
 * arrive here too: without BMI1/LZCNT in CPUID (we report neither) the
 * F3 prefix is ignored, as on processors that predate them. */
static bool bit_scan(struct cpu *c, const struct insn *i, bool reverse)
{
    uint64_t src;
    if (!op_read(c, i, 1, &src))
        return false;
    src &= size_mask(i->op[1].size);
    if (src == 0) {
        flags_update(&c->flags, FL_ZF, FL_ZF);
        return true;
    }
    uint64_t idx = reverse ? 63u - (unsigned)__builtin_clzll(src)
                           : (unsigned)__builtin_ctzll(src);
    gpr_set(c, i->op[0].reg, i->op[0].size, false, idx);
    flags_update(&c->flags, FL_ZF, 0);
    return true;
}

bool exec_bsf(struct cpu *c, const struct insn *i) { return bit_scan(c, i, false); }
bool exec_bsr(struct cpu *c, const struct insn *i) { return bit_scan(c, i, true); }

bool exec_setcc(struct cpu *c, const struct insn *i)
{
    return op_write(c, i, 0, flags_cond(&c->flags, i->opcode & 0xF));
}

/* CMOVcc reads its source whatever the condition, and a 32-bit
 * destination is zero-extended even when nothing moves (SDM Vol. 2A). */
bool exec_cmovcc(struct cpu *c, const struct insn *i)
{
    uint64_t src;
    if (!op_read(c, i, 1, &src))
        return false;
    const struct operand *d = &i->op[0];
    uint64_t v = flags_cond(&c->flags, i->opcode & 0xF)
                     ? src
                     : gpr_get(c, d->reg, d->size, false);
    gpr_set(c, d->reg, d->size, false, v);
    return true;
}

/* BSWAP of a 16-bit register is undefined: we clear it, as Intel CPUs do. */
bool exec_bswap(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0];
    uint64_t v = c->gpr[d->reg];
    if (d->size == 8)
        v = __builtin_bswap64(v);
    else if (d->size == 4)
        v = __builtin_bswap32((uint32_t)v);
    else
        v = 0;
    gpr_set(c, d->reg, d->size, false, v);
    return true;
}

bool exec_flagop(struct cpu *c, const struct insn *i)
{
    struct lazy_flags *f = &c->flags;
    switch (i->sub) {
    case FLG_CLC: flags_update(f, FL_CF, 0); break;
    case FLG_STC: flags_update(f, FL_CF, FL_CF); break;
    case FLG_CMC: flags_update(f, FL_CF, ~flags_get(f)); break;
    case FLG_CLD: flags_update(f, FL_DF, 0); break;
    case FLG_STD: flags_update(f, FL_DF, FL_DF); break;
    case FLG_LAHF:
        gpr_set(c, RAX, 1, true, flags_get(f) & 0xFF);
        break;
    default: /* SAHF: SF ZF AF PF CF from AH */
        flags_update(f, FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF,
                     (c->gpr[RAX] >> 8) & 0xFF);
        break;
    }
    return true;
}

bool exec_xadd(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size;
    uint64_t a, b;
    if (!op_read_rmw(c, i, 0, &a) || !op_read(c, i, 1, &b))
        return false;
    uint64_t r = a + b;
    /* SDM Vol. 2C "XADD": SRC <- DEST, then DEST <- TEMP, so XADD of a
     * register with itself leaves the sum. A memory destination is
     * written first, so that a fault leaves the source register alone. */
    if (i->op[0].kind == OPK_MEM) {
        if (!op_write(c, i, 0, r))
            return false;
        op_write(c, i, 1, a); /* a register: cannot fault */
    } else {
        op_write(c, i, 1, a);
        op_write(c, i, 0, r);
    }
    flags_record(&c->flags, FOP_ADD, size, r, a, b, 0);
    return true;
}

/* CMPXCHG (SDM Vol. 2A): on a mismatch a memory destination is written
 * back unchanged (it sees a write cycle either way) and the accumulator
 * receives it. A register destination is not written on a mismatch: a
 * 32-bit one keeps its upper half, as on Intel processors (checked by
 * tests/unit/test_insn_diff.c). */
bool exec_cmpxchg(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size;
    uint64_t d, src;
    if (!op_read_rmw(c, i, 0, &d) || !op_read(c, i, 1, &src))
        return false;
    uint64_t acc = c->gpr[RAX] & size_mask(size);
    bool equal = acc == d;
    if ((equal || i->op[0].kind == OPK_MEM) &&
        !op_write(c, i, 0, equal ? src : d))
        return false;
    if (!equal)
        gpr_set(c, RAX, size, false, d);
    flags_record(&c->flags, FOP_SUB, size, acc - d, acc, d, 0);
    return true;
}

bool exec_xchg(struct cpu *c, const struct insn *i)
{
    uint64_t a, b;
    if (!op_read_rmw(c, i, 0, &a) || !op_read_rmw(c, i, 1, &b))
        return false;
    /* At most one operand is in memory; write it first so a fault leaves
     * the registers alone. */
    unsigned first = i->op[1].kind == OPK_MEM ? 1 : 0;
    return op_write(c, i, first, first ? a : b) &&
           op_write(c, i, 1 - first, first ? b : a);
}

/* CBW/CWDE/CDQE: sign-extend the low half of the accumulator. */
bool exec_sign_extend_ax(struct cpu *c, const struct insn *i)
{
    unsigned size = i->sub;
    gpr_set(c, RAX, size, false, sign_extend(c->gpr[RAX], size / 2));
    return true;
}

/* CWD/CDQ/CQO: fill DX/EDX/RDX with the accumulator's sign. */
bool exec_sign_extend_dx(struct cpu *c, const struct insn *i)
{
    unsigned size = i->sub;
    bool neg = c->gpr[RAX] & sign_bit(size);
    gpr_set(c, RDX, size, false, neg ? ~0ull : 0);
    return true;
}
