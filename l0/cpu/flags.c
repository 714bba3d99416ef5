#include "cpu/flags.h"

bool flags_cf(const struct lazy_flags *f)
{
    switch (f->op) {
    case FOP_ADD: return f->res < f->a || (f->carry && f->res == f->a);
    case FOP_SUB: return f->a < f->b || (f->carry && f->a == f->b);
    case FOP_LOGIC: return false;
    default: return f->bits & FL_CF;
    }
}

bool flags_zf(const struct lazy_flags *f)
{
    return f->op == FOP_NONE ? (f->bits & FL_ZF) != 0 : f->res == 0;
}

bool flags_sf(const struct lazy_flags *f)
{
    return f->op == FOP_NONE ? (f->bits & FL_SF) != 0
                             : (f->res & sign_bit(f->size)) != 0;
}

/* With op == FOP_NONE no operand size is recorded (size 0, as after
 * flags_set): only the recorded operations have a sign bit. */
bool flags_of(const struct lazy_flags *f)
{
    if (f->op == FOP_NONE || f->op == FOP_LOGIC)
        return f->op == FOP_NONE && (f->bits & FL_OF) != 0;
    uint64_t sign = sign_bit(f->size);
    switch (f->op) {
    case FOP_ADD: return ((f->a ^ f->res) & (f->b ^ f->res) & sign) != 0;
    case FOP_SUB: return ((f->a ^ f->b) & (f->a ^ f->res) & sign) != 0;
    case FOP_INC: return f->res == sign;
    default: return f->res == sign - 1; /* FOP_DEC */
    }
}

bool flags_pf(const struct lazy_flags *f)
{
    if (f->op == FOP_NONE)
        return (f->bits & FL_PF) != 0;
    /* Even parity of the low byte of the result. */
    return !__builtin_parity((unsigned)(f->res & 0xFF));
}

static bool flags_af(const struct lazy_flags *f)
{
    switch (f->op) {
    case FOP_ADD:
    case FOP_SUB: return ((f->a ^ f->b ^ f->res) & 0x10) != 0;
    case FOP_INC: return (f->res & 0xF) == 0;
    case FOP_DEC: return (f->res & 0xF) == 0xF;
    case FOP_LOGIC: return false;
    default: return (f->bits & FL_AF) != 0;
    }
}

uint64_t flags_get(const struct lazy_flags *f)
{
    if (f->op == FOP_NONE)
        return f->bits | FL_FIXED1;
    uint64_t v = (f->bits & ~FL_ARITH) | FL_FIXED1;
    v |= flags_cf(f) ? FL_CF : 0;
    v |= flags_pf(f) ? FL_PF : 0;
    v |= flags_af(f) ? FL_AF : 0;
    v |= flags_zf(f) ? FL_ZF : 0;
    v |= flags_sf(f) ? FL_SF : 0;
    v |= flags_of(f) ? FL_OF : 0;
    return v;
}

void flags_set(struct lazy_flags *f, uint64_t value)
{
    f->op = FOP_NONE;
    f->bits = value | FL_FIXED1;
}

void flags_update(struct lazy_flags *f, uint64_t mask, uint64_t value)
{
    flags_set(f, (flags_get(f) & ~mask) | (value & mask));
}

void flags_record_incdec(struct lazy_flags *f, enum flags_op op,
                         unsigned size, uint64_t res, uint64_t a)
{
    uint64_t cf = flags_cf(f) ? FL_CF : 0;
    f->bits = (f->bits & ~FL_CF) | cf;
    flags_record(f, op, size, res, a, 1, 0);
}

bool flags_cond_slow(const struct lazy_flags *f, unsigned cc)
{
    bool r;
    switch (cc >> 1) {
    case 0: r = flags_of(f); break;                      /* O */
    case 1: r = flags_cf(f); break;                      /* B */
    case 2: r = flags_zf(f); break;                      /* E */
    case 3: r = flags_cf(f) || flags_zf(f); break;       /* BE */
    case 4: r = flags_sf(f); break;                      /* S */
    case 5: r = flags_pf(f); break;                      /* P */
    case 6: r = flags_sf(f) != flags_of(f); break;       /* L */
    default: r = flags_zf(f) || flags_sf(f) != flags_of(f); break; /* LE */
    }
    return (cc & 1) ? !r : r;
}
