/* RFLAGS with lazily computed arithmetic flags. An arithmetic instruction
 * records its operands and result; CF, PF, AF, ZF, SF and OF are derived
 * only when something reads them (SDM Vol. 1 3.4.3 and Appendix A). */
#ifndef L0_CPU_FLAGS_H
#define L0_CPU_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#define FL_CF (1ull << 0)
#define FL_FIXED1 (1ull << 1) /* reads as 1 */
#define FL_PF (1ull << 2)
#define FL_AF (1ull << 4)
#define FL_ZF (1ull << 6)
#define FL_SF (1ull << 7)
#define FL_TF (1ull << 8)
#define FL_IF (1ull << 9)
#define FL_DF (1ull << 10)
#define FL_OF (1ull << 11)
#define FL_IOPL (3ull << 12)
#define FL_NT (1ull << 14)
#define FL_RF (1ull << 16)
#define FL_VM (1ull << 17)
#define FL_AC (1ull << 18)
#define FL_VIF (1ull << 19)
#define FL_VIP (1ull << 20)
#define FL_ID (1ull << 21)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#define FL_IOPL_OF(f) (((f) >> 12) & 3)

/* How the arithmetic flags are to be derived. */
enum flags_op {
    FOP_NONE,  /* they are in `bits` */
    FOP_ADD,   /* res = a + b (+ carry-in for ADC, kept in `carry`) */
    FOP_SUB,   /* res = a - b (- borrow-in for SBB, kept in `carry`) */
    FOP_LOGIC, /* CF = OF = 0; AF is undefined and left 0 */
    FOP_INC,   /* res = a + 1; CF kept in `bits` */
    FOP_DEC,   /* res = a - 1; CF kept in `bits` */
};

struct lazy_flags {
    uint64_t bits; /* every other bit of RFLAGS, and the arithmetic ones
                      when op == FOP_NONE */
    uint64_t res, a, b;
    uint8_t op;
    uint8_t size; /* operand size in bytes */
    uint8_t carry; /* ADC/SBB carry-in */
};

static inline uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t sign_bit(unsigned size)
{
    return 1ull << (size * 8 - 1);
}

static inline void flags_record(struct lazy_flags *f, enum flags_op op,
                                unsigned size, uint64_t res, uint64_t a,
                                uint64_t b, unsigned carry)
{
    f->op = (uint8_t)op;
    f->size = (uint8_t)size;
    f->res = res & size_mask(size);
    f->a = a & size_mask(size);
    f->b = b & size_mask(size);
    f->carry = (uint8_t)carry;
}

/* SF, ZF and PF of a result, as RFLAGS bits. */
static inline uint64_t flags_szp(uint64_t r, unsigned size)
{
    r &= size_mask(size);
    uint64_t f = 0;
    if (r == 0)
        f |= FL_ZF;
    if (r & sign_bit(size))
        f |= FL_SF;
    if (!__builtin_parity((unsigned)(r & 0xFF)))
        f |= FL_PF;
    return f;
}

bool flags_cf(const struct lazy_flags *f);
bool flags_zf(const struct lazy_flags *f);
bool flags_sf(const struct lazy_flags *f);
bool flags_of(const struct lazy_flags *f);
bool flags_pf(const struct lazy_flags *f);

/* All of RFLAGS. */
uint64_t flags_get(const struct lazy_flags *f);

/* Sets all of RFLAGS (bit 1 forced to 1). */
void flags_set(struct lazy_flags *f, uint64_t value);

/* Replaces the bits of `mask` with those of `value`. */
void flags_update(struct lazy_flags *f, uint64_t mask, uint64_t value);

/* Records an INC or DEC, which leave CF alone. */
void flags_record_incdec(struct lazy_flags *f, enum flags_op op,
                         unsigned size, uint64_t res, uint64_t a);

/* The condition tttn of Jcc/SETcc/CMOVcc (SDM Vol. 1 Appendix B). */
bool flags_cond_slow(const struct lazy_flags *f, unsigned cc);

/* The same, with the common case inline: a condition right after CMP or
 * SUB compares the operands directly (B: a < b unsigned, L: a < b
 * signed, ...), without deriving CF, ZF, SF and OF. Shifting both
 * operands to the top of 64 bits keeps their signed order. */
static inline bool flags_cond(const struct lazy_flags *f, unsigned cc)
{
    if (f->op != FOP_SUB || f->carry)
        return flags_cond_slow(f, cc);
    unsigned shift = 64 - 8 * f->size;
    int64_t sa = (int64_t)(f->a << shift), sb = (int64_t)(f->b << shift);
    bool r;
    switch (cc >> 1) {
    case 1: r = f->a < f->b; break;  /* B */
    case 2: r = f->a == f->b; break; /* E */
    case 3: r = f->a <= f->b; break; /* BE */
    case 6: r = sa < sb; break;      /* L */
    case 7: r = sa <= sb; break;     /* LE */
    default: return flags_cond_slow(f, cc);
    }
    return (cc & 1) ? !r : r;
}

#endif
