/* The template JIT (cpu/jit.h) against the handlers it replaces: random
 * runs of register-only instructions (ALU, MOV, INC, DEC, NEG, NOT,
 * shifts and LEA: written out from templates, or called where the
 * record's flags are recorded and there is none), each run ending in a
 * Jcc or not, are encoded as x86 bytes, decoded by the decode cache
 * (which picks the specialized handlers) and run twice from the same
 * random registers and random lazy-flags state: once by calling the
 * handlers one after the other as the block engine's run loop does
 * (cpu/block.c run_records), once as the JIT's native code. All 16
 * GPRs, every field of the lazy flags, next_rip, the returned RIP and
 * any exception must match. Records run with their flag-free handler
 * at random, as mark_runs() picks them. A Jcc near the top of the
 * canonical lower half takes #GP on a non-canonical target, whether it
 * is a call of its handler or written out on the host's flags.
 *
 * Runs with memory records (MOV, MOVZX, MOVSX, MOVSXD and ALU between
 * memory and registers or immediates, at absolute and RIP-relative
 * addresses: encode_mem) and DIVs of a register on a paged machine,
 * at addresses in the page of the data hint, other mapped pages,
 * across a page's end, on a page not present, one not in the TLB, a
 * read-only one (CR0.WP), one not yet dirty, one holding decoded code
 * and the LAPIC's: two machines made alike run them, one record by
 * record as the block engine steps records, the other natively, with
 * run_records' bookkeeping after it. Where the fast path is not taken
 * the native code runs the record as a step and goes on natively where
 * the block engine would go on (jit.c step_record); a DIV that would
 * raise #DE is a side exit. Registers, flags, RIP, every count, memory
 * and the frame of any exception must come out the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec_fast.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"
#include "cpu/ops.h"
#include "cpu/step.h"
#include "cpu/tlb.h"
#include "machine.h"
#include "paging_rig.h"

enum { MAX_RUN = 12, CASES = 20000 };

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Register values rich in edges: 0, sign bits, all ones, small. */
static uint64_t value(uint64_t *s)
{
    static const uint64_t edges[] = {
        0, 1, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
        0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, ~0ull,
    };
    uint64_t r = rng(s);
    switch (r & 3) {
    case 0: return edges[(r >> 2) % (sizeof edges / sizeof *edges)];
    case 1: return (r >> 8) & 0xFF;
    default: return rng(s);
    }
}

/* One register-only instruction, encoded at p; returns its length. */
static unsigned encode(uint64_t *s, uint8_t *p)
{
    uint64_t r = rng(s);
    unsigned d = r & 15, src = (r >> 4) & 15, w = (r >> 8) & 1;
    unsigned n = 0;
    uint8_t rex = (uint8_t)(0x40 | w << 3);
    uint32_t imm = (uint32_t)value(s);
    static const uint8_t alu_rr[] = {0x01, 0x09, 0x21, 0x29, 0x31, 0x39,
                                     0x85};
    static const uint8_t alu_ext[] = {0, 1, 4, 5, 6, 7};
    switch ((r >> 9) % 12) {
    case 0: case 1: /* ALU r/m, r; CMP; TEST */
        p[n++] = rex | (uint8_t)((src >> 3) << 2 | d >> 3);
        p[n++] = alu_rr[(r >> 16) % sizeof alu_rr];
        p[n++] = (uint8_t)(0xC0 | (src & 7) << 3 | (d & 7));
        break;
    case 2: case 3: /* ALU r/m, imm32 or imm8 */
        p[n++] = rex | (uint8_t)(d >> 3);
        p[n++] = (r >> 20) & 1 ? 0x83 : 0x81;
        p[n++] = (uint8_t)(0xC0 | alu_ext[(r >> 16) % sizeof alu_ext] << 3 |
                           (d & 7));
        memcpy(p + n, &imm, 4);
        n += p[n - 2] == 0x83 ? 1 : 4;
        break;
    case 4: /* TEST r/m, imm32 */
        p[n++] = rex | (uint8_t)(d >> 3);
        p[n++] = 0xF7;
        p[n++] = (uint8_t)(0xC0 | (d & 7));
        memcpy(p + n, &imm, 4);
        n += 4;
        break;
    case 5: /* MOV r/m, r */
        p[n++] = rex | (uint8_t)((src >> 3) << 2 | d >> 3);
        p[n++] = 0x89;
        p[n++] = (uint8_t)(0xC0 | (src & 7) << 3 | (d & 7));
        break;
    case 6: /* MOV r, imm32 / imm64; MOV r/m64, simm32 */
        p[n++] = rex | (uint8_t)(d >> 3);
        if ((r >> 20) & 1) {
            p[n++] = (uint8_t)(0xB8 + (d & 7));
            uint64_t v = value(s);
            memcpy(p + n, &v, w ? 8 : 4);
            n += w ? 8 : 4;
        } else {
            p[n++] = 0xC7;
            p[n++] = (uint8_t)(0xC0 | (d & 7));
            memcpy(p + n, &imm, 4);
            n += 4;
        }
        break;
    case 7: /* INC, DEC */
        p[n++] = rex | (uint8_t)(d >> 3);
        p[n++] = 0xFF;
        p[n++] = (uint8_t)(0xC0 | ((r >> 16) & 1) << 3 | (d & 7));
        break;
    case 10: /* NOT, NEG */
        p[n++] = rex | (uint8_t)(d >> 3);
        p[n++] = 0xF7;
        p[n++] = (uint8_t)(0xC0 | (2 + ((r >> 16) & 1)) << 3 | (d & 7));
        break;
    case 8: /* SHL, SHR, SAR by an immediate */
        p[n++] = rex | (uint8_t)(d >> 3);
        p[n++] = 0xC1;
        p[n++] = (uint8_t)(0xC0 | (4 + (r >> 16) % 4) << 3 | (d & 7));
        p[n++] = (uint8_t)(r >> 24);
        break;
    case 11: { /* register forms called through their handler */
        unsigned form = (r >> 16) % 7, cc = (r >> 24) & 15;
        uint8_t rm_rex = rex | (uint8_t)((d >> 3) << 2 | src >> 3);
        if (form == 0) { /* 16-bit ALU r/m, r; ADC, SBB */
            p[n++] = 0x66;
            rex &= (uint8_t)~8;
        }
        p[n++] = form <= 1 ? (uint8_t)(rex | (src >> 3) << 2 | d >> 3)
                 : form == 5 ? (uint8_t)(rex | d >> 3) : rm_rex;
        switch (form) {
        case 0: case 1: /* ALU r/m16 (or r/m8, r/m32/64 ADC/SBB), r */
            p[n++] = form == 1 && (r >> 28) % 3 == 0
                         ? (uint8_t)(8 * (2 + (r >> 30) % 2) + 1) /* ADC, SBB */
                         : (uint8_t)(8 * ((r >> 28) % 8) + (form == 1 ? 0 : 1));
            p[n++] = (uint8_t)(0xC0 | (src & 7) << 3 | (d & 7));
            break;
        case 2: case 3: /* MOVZX, MOVSX r, r/m8 or r/m16; CMOVcc r, r/m */
            p[n++] = 0x0F;
            p[n++] = form == 3 ? (uint8_t)(0x40 | cc)
                               : (uint8_t)(0xB6 + ((r >> 28) & 1) +
                                           8 * ((r >> 29) & 1));
            p[n++] = (uint8_t)(0xC0 | (d & 7) << 3 | (src & 7));
            break;
        case 4: /* SETcc r/m8 */
            p[n++] = 0x0F;
            p[n++] = (uint8_t)(0x90 | cc);
            p[n++] = (uint8_t)(0xC0 | (src & 7));
            break;
        case 5: /* BT, BTS, BTR, BTC r/m, imm8 */
            p[n++] = 0x0F;
            p[n++] = 0xBA;
            p[n++] = (uint8_t)(0xC0 | (4 + (r >> 28) % 4) << 3 | (d & 7));
            p[n++] = (uint8_t)(r >> 32);
            break;
        default: /* BT r/m, r */
            p[n++] = 0x0F;
            p[n++] = 0xA3;
            p[n++] = (uint8_t)(0xC0 | (d & 7) << 3 | (src & 7));
            break;
        }
        break;
    }
    default: /* LEA r, [base + disp8] (no SIB: base not RSP or R12) */
        if ((src & 7) == 4)
            src ^= 1;
        p[n++] = rex | (uint8_t)((d >> 3) << 2 | src >> 3);
        p[n++] = 0x8D;
        p[n++] = (uint8_t)(0x40 | (d & 7) << 3 | (src & 7));
        p[n++] = (uint8_t)(r >> 24);
        break;
    }
    return n;
}

/* What a run leaves that the two ways must agree on. */
struct state {
    uint64_t gpr[16], next_rip, ret;
    struct lazy_flags flags;
    struct pending_exception exc;
};

static struct state taken(const struct cpu *c, uint64_t ret)
{
    struct state st;
    memset(&st, 0, sizeof st); /* padding too: compared with memcmp */
    memcpy(st.gpr, c->gpr, sizeof st.gpr);
    st.next_rip = c->next_rip;
    st.ret = ret;
    st.flags.bits = c->flags.bits;
    st.flags.res = c->flags.res;
    st.flags.a = c->flags.a;
    st.flags.b = c->flags.b;
    st.flags.op = c->flags.op;
    st.flags.size = c->flags.size;
    st.flags.carry = c->flags.carry;
    st.exc.raised = c->exc.raised;
    st.exc.vector = c->exc.vector;
    st.exc.has_error = c->exc.has_error;
    st.exc.error = c->exc.error;
    return st;
}

/* Random registers and a random lazy-flags state (any recorded
 * operation, or the bits themselves). */
static void randomize(struct cpu *c, uint64_t *s)
{
    for (unsigned k = 0; k < 16; k++)
        c->gpr[k] = value(s);
    static const uint8_t sizes[] = {1, 2, 4, 8};
    uint8_t size = sizes[rng(s) & 3];
    c->flags.bits = (rng(s) & (FL_ARITH | FL_DF)) | FL_FIXED1;
    c->flags.op = (uint8_t)(rng(s) % (FOP_DEC + 1));
    c->flags.size = c->flags.op == FOP_NONE ? 0 : size;
    c->flags.res = value(s) & size_mask(size);
    c->flags.a = value(s) & size_mask(size);
    c->flags.b = value(s) & size_mask(size);
    c->flags.carry = (uint8_t)(rng(s) & 1 && (c->flags.op == FOP_ADD ||
                                              c->flags.op == FOP_SUB));
    memset(&c->exc, 0, sizeof c->exc);
}

static void test_runs_match_handlers(void **state)
{
    (void)state;
    struct machine *m = machine_create(4, NULL);
    assert_non_null(m);
    struct cpu *c = m->cpu;
    struct jit *j = jit_create();
    assert_non_null(j);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    unsigned templated = 0, faulted = 0, host_jcc = 0, mid_exits = 0;
    for (unsigned t = 0; t < CASES; t++) {
        if (t % 500 == 0)
            jit_reset(j); /* as the block arena empties */
        struct insn recs[MAX_RUN];
        exec_fn exec[MAX_RUN];
        unsigned n = 1 + rng(&s) % MAX_RUN;
        bool jcc = rng(&s) & 1;
        for (unsigned k = 0; k < n; k++) {
            uint8_t bytes[16];
            unsigned len;
            /* Jcc rel32, any condition: at the end, or before it (the
             * run ends there where it branches or faults). */
            bool here = jcc ? k == n - 1 : k < n - 1 && rng(&s) % 6 == 0;
            if (here) {
                bytes[0] = 0x0F;
                bytes[1] = (uint8_t)(0x80 | (rng(&s) & 15));
                uint32_t rel = (uint32_t)rng(&s) & 0x7FFFFFFF;
                memcpy(bytes + 2, &rel, 4);
                len = 6;
            } else {
                len = encode(&s, bytes);
            }
            bool more;
            assert_true(dcache_decode(c->dcache, bytes, len, 0, true,
                                      &recs[k], &more));
            assert_int_equal(recs[k].len, len);
            struct fast_traits tr = exec_fast_traits(recs[k].exec);
            assert_true(here ? tr.jcc : tr.reg_only);
            exec[k] = tr.flagless && (rng(&s) & 1) ? tr.flagless
                                                   : recs[k].exec;
            templated += exec_fast_template(exec[k]).form != FORM_NONE;
        }
        /* A Jcc right after an ALU template that records the flags is
         * written out on the host's flags (jit.c emit_jcc). */
        if (jcc && n >= 2) {
            struct fast_template before = exec_fast_template(exec[n - 2]);
            host_jcc += (before.form == FORM_ALU || before.form == FORM_NEG) &&
                        before.flags;
        }
        jit_fn fn = jit_compile(j, recs, exec, n, false);
        assert_non_null(fn);
        uint64_t rip = rng(&s) & 1 ? 0x7FFFFFFFFF00ull : 0x401000;
        randomize(c, &s);
        uint64_t gpr[16];
        struct lazy_flags flags = c->flags;
        memcpy(gpr, c->gpr, sizeof gpr);

        /* The block engine's loop (run_records), a run ending at each
         * Jcc. */
        uint64_t at = rip;
        unsigned ran = n;
        for (unsigned k = 0; k < n; k++) {
            at += recs[k].len;
            c->next_rip = at;
            exec[k](c, &recs[k]);
            if (k < n - 1 && (c->exc.raised || c->next_rip != at)) {
                ran = k + 1;
                break;
            }
        }
        struct state want = taken(c, at);
        faulted += c->exc.raised;
        mid_exits += ran < n;

        memcpy(c->gpr, gpr, sizeof gpr);
        c->flags = flags;
        memset(&c->exc, 0, sizeof c->exc);
        c->next_rip = 0;
        struct jit_loop l = {0, 0};
        struct jit_stop stop = fn(c, rip, &l);
        assert_int_equal(stop.ran, ran);
        assert_int_equal(stop.how, ran < n ? JIT_BRANCHED : JIT_ENDED);
        struct state got = taken(c, stop.rip);
        if (memcmp(&want, &got, sizeof want) != 0) {
            for (unsigned k = 0; k < 16; k++)
                if (want.gpr[k] != got.gpr[k])
                    print_error("case %u: gpr %u %#llx / jit %#llx\n", t, k,
                                (unsigned long long)want.gpr[k],
                                (unsigned long long)got.gpr[k]);
            print_error("case %u: flags op %u/%u size %u/%u res %#llx/%#llx "
                        "next_rip %#llx/%#llx\n", t, want.flags.op,
                        got.flags.op, want.flags.size, got.flags.size,
                        (unsigned long long)want.flags.res,
                        (unsigned long long)got.flags.res,
                        (unsigned long long)want.next_rip,
                        (unsigned long long)got.next_rip);
            fail();
        }
    }
    /* The cases covered what they are meant to. */
    assert_true(templated > CASES);
    assert_true(faulted > 100);
    assert_true(host_jcc > 500);
    assert_true(mid_exits > 500);
    jit_destroy(j);
    machine_destroy(m);
}

/* ---- runs with memory records ----------------------------------------- */

/* Identity paging of the first 2 MiB in 4 KiB pages; from DATA on, one
 * page of each kind a data access may meet. An exception is delivered
 * through the IDT at MEM_IDT, every vector to MEM_HANDLER, on the stack
 * below MEM_STACK. */
enum { PT = 0x4000, MEM_GDT = 0x6000, MEM_IDT = 0x7000,
       MEM_HANDLER = 0x9000, MEM_STACK = 0x80000, DATA = 0x100000,
       MEM_CASES = 4000, RUN_RIP = 0x401000 };
enum page {
    PG_DATA0, PG_DATA1, /* read and written: dirty, in the TLB */
    PG_READ_ONLY,       /* R/W = 0, CR0.WP = 1, read */
    PG_CODE,            /* written, then holds a decoded record */
    PG_CLEAN,           /* only read: the dirty bit not set */
    PG_ABSENT,          /* not present */
    PG_LAPIC,           /* mapped to the LAPIC: no host memory */
    PG_UNTOUCHED,       /* present, never accessed: not in the TLB */
    PAGES,
};

static uint64_t page_at(enum page p)
{
    return DATA + 0x1000 * (uint64_t)p;
}

static struct machine *paged_machine(void)
{
    struct machine *m = machine_create(4, NULL);
    assert_non_null(m);
    rig_tables(m, PT, true);
    uint64_t pte = PT + 8 * (DATA >> 12);
    put64(m, pte + 8 * PG_READ_ONLY, page_at(PG_READ_ONLY) | 1);
    put64(m, pte + 8 * PG_ABSENT, 0);
    put64(m, pte + 8 * PG_LAPIC, 0xFEE00000 | 3);
    put64(m, MEM_GDT + 8, 0x00209A0000000000ull); /* 64-bit code, DPL 0 */
    for (uint64_t v = 0; v < 256; v++)
        put64(m, MEM_IDT + 16 * v, (MEM_HANDLER & 0xFFFF) | 8ull << 16 |
                                       0x8Eull << 40);
    struct cpu *c = m->cpu;
    rig_long_mode(c);
    c->gdtr = (struct table_reg){MEM_GDT, 15};
    c->idtr = (struct table_reg){MEM_IDT, 256 * 16 - 1};
    c->cr0 |= CR0_WP; /* no translation cached yet to flush */
    assert_true(c->code64);
    uint64_t v = 0;
    for (enum page p = PG_DATA0; p <= PG_CODE; p++)
        assert_true(p == PG_READ_ONLY ? mem_read(c, SEG_DS, page_at(p), 8, &v)
                                      : mem_write(c, SEG_DS, page_at(p), 8, 0));
    assert_true(mem_read(c, SEG_DS, page_at(PG_CLEAN), 8, &v));
    assert_true(mem_read(c, SEG_DS, page_at(PG_LAPIC), 4, &v));
    static const uint8_t nop = 0x90;
    struct insn rec;
    bool more;
    assert_true(dcache_decode(c->dcache, &nop, 1, 0, true, &rec, &more));
    dcache_insert(c->dcache, page_at(PG_CODE), &rec);
    assert_true(c->code_map[page_at(PG_CODE) >> 12]);
    c->data_hint_on = true; /* as in block_run */
    return m;
}

/* An address for a memory record: mostly in the page of the data hint,
 * else anywhere on the pages above, or across the end of one. */
static uint64_t mem_address(uint64_t *s, enum page hint, unsigned size)
{
    uint64_t r = rng(s);
    enum page p = r & 1 ? hint : (enum page)((r >> 1) % PAGES);
    uint64_t off = (r >> 8) % (4097 - size);
    if (size > 1 && (r >> 40) % 10 == 0)
        off = 4096 - size + 1 + (r >> 44) % (size - 1);
    return page_at(p) + off;
}

/* The data access of a memory record: its memory operand, op[0] or
 * op[1], and whether it writes; or, for PUSH and POP (`stack`), at
 * RSP - 8 or RSP. */
struct mem_use {
    unsigned op;
    bool write, stack;
};

/* PUSH or POP of any 64-bit register (a REX prefix for R8-R15): `len`
 * bytes at p. */
static unsigned encode_stack(uint64_t *s, uint8_t *p, struct mem_use *acc)
{
    uint64_t r = rng(s);
    unsigned reg = r & 15, n = 0;
    bool push = (r >> 4) & 1;
    if (reg >= 8)
        p[n++] = 0x41;
    p[n++] = (uint8_t)((push ? 0x50 : 0x58) | (reg & 7));
    *acc = (struct mem_use){0, push, true};
    return n;
}

/* A record with one data access, at mem_address(), as [disp32] or
 * [RIP + disp32] for a record that starts `at` bytes after RUN_RIP:
 * MOV load, store and store of an immediate (1, 4, 8 bytes: the
 * specialized handlers; 2 bytes: exec_mov_data), ALU (ADD, OR, ADC,
 * SBB, AND, SUB, XOR, CMP, TEST) between memory and a register or an
 * immediate either way, MOVZX, MOVSX and MOVSXD from memory. Encoded
 * at p; returns its length and sets *acc. */
static unsigned encode_mem(uint64_t *s, uint8_t *p, unsigned at,
                           enum page hint, struct mem_use *acc)
{
    uint64_t r = rng(s);
    unsigned reg = r & 15, kind = (r >> 4) % 8, z = (r >> 8) % 3;
    unsigned alu = (r >> 12) % 9, pick = (r >> 20) % 5; /* alu 8: TEST */
    unsigned size = z == 0 ? 1 : z == 1 ? 4 : 8, access_size = size;
    bool rip_rel = (r >> 16) & 1, with_reg = true, o16 = false;
    uint8_t opcode[2] = {0, 0};
    unsigned nop = 1, ext = 0, imm = 0;
    bool changes = alu != 7 && alu != 8; /* not CMP or TEST */
    switch (kind) {
    case 0: /* MOV r, [m] */
        opcode[0] = size == 1 ? 0x8A : 0x8B;
        *acc = (struct mem_use){1, false, false};
        break;
    case 1: /* MOV [m], r */
        opcode[0] = size == 1 ? 0x88 : 0x89;
        *acc = (struct mem_use){0, true, false};
        break;
    case 2: /* MOV [m], imm */
        opcode[0] = size == 1 ? 0xC6 : 0xC7;
        with_reg = false;
        imm = size == 1 ? 1 : 4;
        *acc = (struct mem_use){0, true, false};
        break;
    case 3: /* ALU r, [m] */
        opcode[0] = (uint8_t)(8 * (alu % 8) + (size == 1 ? 2 : 3));
        *acc = (struct mem_use){1, false, false};
        break;
    case 4: /* ALU [m], r; TEST [m], r */
        opcode[0] = alu == 8 ? (size == 1 ? 0x84 : 0x85)
                             : (uint8_t)(8 * alu + (size == 1 ? 0 : 1));
        *acc = (struct mem_use){0, changes, false};
        break;
    case 5: /* ALU [m], imm8 / imm32 / sign-extended imm8; TEST [m], imm */
        with_reg = false;
        if (alu == 8) {
            opcode[0] = size == 1 ? 0xF6 : 0xF7;
            imm = size == 1 ? 1 : 4;
        } else {
            ext = alu;
            opcode[0] = size == 1 ? 0x80 : pick & 1 ? 0x83 : 0x81;
            imm = opcode[0] == 0x81 ? 4 : 1;
        }
        *acc = (struct mem_use){0, changes, false};
        break;
    case 6: /* MOVZX, MOVSX from 1 or 2 bytes; MOVSXD from 4 */
        size = size == 8 ? 8 : 4;
        if (pick == 4) {
            size = 8;
            access_size = 4;
            opcode[0] = 0x63;
        } else {
            static const uint8_t forms[] = {0xB6, 0xB7, 0xBE, 0xBF};
            access_size = pick & 1 ? 2 : 1;
            opcode[0] = 0x0F;
            opcode[1] = forms[pick];
            nop = 2;
        }
        *acc = (struct mem_use){1, false, false};
        break;
    default: /* 16-bit MOV: load, store, store of an immediate */
        o16 = true;
        size = access_size = 2;
        opcode[0] = pick % 3 == 0 ? 0x8B : pick % 3 == 1 ? 0x89 : 0xC7;
        with_reg = opcode[0] != 0xC7;
        imm = with_reg ? 0 : 2;
        *acc = (struct mem_use){opcode[0] == 0x8B ? 1u : 0u,
                               opcode[0] != 0x8B, false};
        break;
    }
    uint64_t addr = mem_address(s, hint, access_size);
    unsigned n = 0;
    if (o16)
        p[n++] = 0x66;
    /* A REX prefix always: byte registers 4-7 are then SPL to DIL. */
    unsigned r_ext = with_reg ? reg >> 3 : 0;
    p[n++] = (uint8_t)(0x40 | (size == 8) << 3 | r_ext << 2);
    memcpy(p + n, opcode, nop);
    n += nop;
    unsigned r_field = with_reg ? reg & 7 : ext;
    unsigned len = n + (rip_rel ? 5 : 6) + imm;
    uint32_t disp = (uint32_t)addr;
    if (rip_rel) {
        p[n++] = (uint8_t)(r_field << 3 | 5);
        disp = (uint32_t)(addr - (RUN_RIP + at + len));
    } else {
        p[n++] = (uint8_t)(r_field << 3 | 4);
        p[n++] = 0x25; /* SIB: no base, no index */
    }
    memcpy(p + n, &disp, 4);
    n += 4;
    uint32_t v = (uint32_t)value(s);
    memcpy(p + n, &v, imm);
    n += imm;
    assert_int_equal(n, len);
    return n;
}

/* Whether ops.h's fast path makes memory record `i`'s access `a` with
 * the modeled TLB's hit known from the data hint (charge_data's first
 * branch): where it does not, the native code runs the record through
 * step_record() (jit.c). */
static bool takes_fast_path(struct cpu *c, const struct insn *i,
                            struct mem_use a)
{
    const struct operand *m = &i->op[a.op];
    uint64_t ea = a.stack ? c->gpr[RSP] - 8 * a.write : op_ea(c, i, m);
    unsigned size = a.stack ? 8 : m->size;
    const struct tlbm_entry *h = c->data_hint;
    bool hint = h && c->mtlb->last[0] == h &&
                c->data_hint_gen == c->tlb.generation &&
                ea >> tlbm_page_shift(h->size) == h->vpn;
    return hint && tlb_peek(c, ea, size, a.write);
}

/* What the machine holds after a case, to be the same on both. */
struct mem_state {
    struct state regs;
    uint64_t rip, cycles, insns, fills, walk_refs;
    struct tlbm_stats stats;
    uint8_t mem[PAGES * 0x1000], stack[0x100];
};

static void take_mem(struct mem_state *st, const struct cpu *c,
                     const struct machine *m)
{
    st->regs = taken(c, 0);
    st->rip = c->rip;
    st->cycles = c->cycles;
    st->insns = c->insns;
    st->fills = c->tlb.fills;
    st->walk_refs = c->walk_refs;
    st->stats = c->mtlb->stats;
    memcpy(st->mem, m->ram + DATA, sizeof st->mem);
    memcpy(st->stack, m->ram + MEM_STACK - sizeof st->stack,
           sizeof st->stack);
}

/* Records k to n - 1 of a run at `rip` as the block engine runs
 * records outside a run (block.c run_records): each one step with its
 * modeled cycle and known fetch hit (step_execute_charged, with the
 * handler exec[k]), and on only while the block goes on after it
 * (block_continues: the next RIP, the same translations and code, the
 * next event not yet due). Whether it goes on after the last. */
static bool step_records(struct cpu *c, const struct insn *recs,
                         const exec_fn *exec, unsigned k, unsigned n,
                         uint64_t rip)
{
    uint64_t tlb_gen = c->tlb.generation, dc_gen = c->fetch_generation;
    for (; k < n; k++) {
        struct insn r = recs[k];
        r.exec = exec[k];
        c->rip = rip;
        c->mtlb->stats.hits++;
        step_execute_charged(c, &r, true, false);
        rip += r.len;
        if (c->rip != rip || c->tlb.generation != tlb_gen ||
            c->fetch_generation != dc_gen ||
            c->cycles >= c->next_event_check || c->interrupt_shadow ||
            c->halted)
            return false;
    }
    return true;
}

/* A native run from RUN_RIP, with run_records()'s bookkeeping after it
 * and what it runs next: the records after a side exit or after
 * JIT_STEPPED, outside a run (step_records), or the #GP of a Jcc. */
static struct jit_stop run_native(struct cpu *c, jit_fn fn,
                                  const struct insn *recs,
                                  const exec_fn *exec, unsigned n)
{
    uint64_t tlb_gen = c->tlb.generation, dc_gen = c->fetch_generation;
    struct jit_loop l = {0, 0};
    struct jit_stop stop = fn(c, RUN_RIP, &l);
    if (stop.how == JIT_STEPPED) {
        if (c->rip == stop.rip && c->tlb.generation == tlb_gen &&
            c->fetch_generation == dc_gen &&
            c->cycles < c->next_event_check && !c->interrupt_shadow &&
            !c->halted)
            step_records(c, recs, exec, stop.ran, n, stop.rip);
        return stop;
    }
    c->cycles += stop.ran;
    c->mtlb->stats.hits += stop.ran;
    if (stop.how == JIT_ENDED && stop.ran < n) { /* a side exit */
        c->insns += stop.ran;
        step_records(c, recs, exec, stop.ran, n, stop.rip);
    } else if (c->exc.raised) { /* a Jcc's #GP */
        c->insns += stop.ran - 1;
        c->rip = stop.rip - recs[stop.ran - 1].len;
        cpu_finish_event(c);
    } else {
        c->insns += stop.ran;
        c->rip = c->next_rip;
    }
    return stop;
}

/* DIV of a 32- or 64-bit register: `len` bytes at p. */
static unsigned encode_div(uint64_t *s, uint8_t *p)
{
    uint64_t r = rng(s);
    unsigned reg = r & 15;
    p[0] = (uint8_t)(0x40 | ((r >> 4) & 1) << 3 | reg >> 3);
    p[1] = 0xF7;
    p[2] = (uint8_t)(0xF0 | (reg & 7));
    return 3;
}

/* Two machines made alike run the same random runs from the same
 * registers: one record by record as the block engine steps them
 * (step_records), the other natively (run_native). Every register,
 * the lazy flags, RIP, the counts of steps, cycles, host TLB fills,
 * walk references and the modeled TLB, the data pages and the stack
 * (an exception's frame) must come out the same. The next event check
 * is set at random beyond the run (run_records enters it only so),
 * often close enough that a record's walk makes it due. */
static void test_memory_runs_match_steps(void **state)
{
    (void)state;
    struct machine *m = paged_machine(), *mj = paged_machine();
    struct cpu *c = m->cpu, *cj = mj->cpu;
    struct jit *j = jit_create();
    assert_non_null(j);
    static struct mem_state want, got;
    uint64_t s = 0x2545F4914F6CDD1Dull;
    unsigned went_on = 0, stepped = 0, stepped_late = 0, faults = 0;
    unsigned fast = 0, stores_fast = 0, divs = 0, div_faults = 0;
    unsigned pushes = 0, pops = 0, stack_fast = 0;
    /* Through FS or GS (a segment base to add): never in a native run. */
    static const uint8_t fs_load[] = {0x64, 0x8B, 0x04, 0x25, 0, 0, 0, 0};
    struct insn fs;
    bool fs_more;
    assert_true(dcache_decode(c->dcache, fs_load, sizeof fs_load, 0, true,
                              &fs, &fs_more));
    assert_int_equal(exec_fast_template(fs.exec).form, FORM_LOAD);
    assert_false(jit_side_exits(&fs));
    for (unsigned t = 0; t < MEM_CASES; t++) {
        if (t % 500 == 0)
            jit_reset(j);
        /* The data hint on one of the pages a fast access can reach. */
        static const enum page hints[] = {PG_DATA0, PG_DATA1, PG_DATA0,
                                          PG_READ_ONLY, PG_CODE, PG_CLEAN};
        enum page hint = hints[rng(&s) % (sizeof hints / sizeof *hints)];
        bool other = rng(&s) % 8 == 0, flush = rng(&s) % 4 == 0;
        for (struct cpu *on = c; on; on = on == c ? cj : NULL) {
            uint64_t v;
            assert_true(mem_read_fast(on, SEG_DS, page_at(hint), 1, &v));
            assert_true(on->data_hint != NULL);
            /* Sometimes a slow-path access to another page after it:
             * the modeled TLB's last data hit is then not the hint's. */
            if (other)
                assert_true(mem_read(on, SEG_DS,
                                     page_at(hint == PG_DATA0 ? PG_DATA1
                                                              : PG_DATA0),
                                     1, &v));
            /* Now and then a translation leaves the host TLB. */
            if (flush)
                tlb_flush_page(&on->tlb, page_at(PG_DATA1));
        }

        struct insn recs[MAX_RUN];
        exec_fn exec[MAX_RUN];
        struct mem_use acc[MAX_RUN] = {{0, false, false}};
        bool is_div[MAX_RUN] = {false};
        unsigned n = 1 + rng(&s) % MAX_RUN, at = 0;
        bool jcc = rng(&s) & 1;
        for (unsigned k = 0; k < n; k++) {
            uint8_t bytes[16];
            unsigned len;
            bool mem = false;
            unsigned pick = rng(&s) % 8;
            if (jcc && k == n - 1) { /* Jcc rel8, any condition */
                bytes[0] = (uint8_t)(0x70 | (rng(&s) & 15));
                bytes[1] = (uint8_t)rng(&s);
                len = 2;
            } else if (pick < 2) {
                len = encode(&s, bytes);
            } else if (pick == 2) {
                len = encode_div(&s, bytes);
                is_div[k] = true;
            } else if (pick == 3) {
                mem = true;
                len = encode_stack(&s, bytes, &acc[k]);
                pushes += acc[k].write;
                pops += !acc[k].write;
            } else {
                mem = true;
                len = encode_mem(&s, bytes, at, hint, &acc[k]);
            }
            bool more;
            assert_true(dcache_decode(c->dcache, bytes, len, 0, true,
                                      &recs[k], &more));
            assert_int_equal(recs[k].len, len);
            assert_true((mem || is_div[k]) == jit_side_exits(&recs[k]));
            assert_true(!mem || acc[k].stack ||
                        recs[k].op[acc[k].op].kind == OPK_MEM);
            struct fast_traits tr = exec_fast_traits(recs[k].exec);
            exec[k] = tr.flagless && (rng(&s) & 1) ? tr.flagless
                                                   : recs[k].exec;
            at += len;
        }
        jit_fn fn = jit_compile(j, recs, exec, n, false);
        assert_non_null(fn);
        randomize(c, &s);
        c->gpr[RSP] = MEM_STACK;
        /* PUSH and POP also on a page a data access can reach, written
         * or not, holding code, across its start or end, where an
         * exception's frame still fits. */
        if (rng(&s) & 1) {
            static const enum page stacks[] = {PG_DATA0, PG_DATA1, PG_CODE,
                                               PG_CLEAN};
            static const uint64_t offs[] = {0x800, 0x804, 0x7F8, 4, 0xFFC};
            uint64_t r = rng(&s);
            c->gpr[RSP] = page_at(stacks[r % 4]) + offs[(r >> 8) % 5];
        }
        if (rng(&s) & 1)
            c->gpr[RDX] &= 0xFF; /* a DIV then mostly fits */
        c->next_event_check = rng(&s) % 3 == 0
                                  ? ~0ull
                                  : c->cycles + n + 1 + rng(&s) % 64;
        cj->next_event_check = cj->cycles + (c->next_event_check -
                                             c->cycles);
        memcpy(cj->gpr, c->gpr, sizeof c->gpr);
        cj->flags = c->flags;
        cj->exc = c->exc;

        /* The step engine's way, counting what the cases cover. */
        uint64_t rip = RUN_RIP, faulted = c->faulted_steps;
        unsigned slow = 0, slow_at = 0;
        for (unsigned k = 0; k < n; k++) {
            if (jit_side_exits(&recs[k]) && !is_div[k] &&
                !takes_fast_path(c, &recs[k], acc[k])) {
                slow_at = slow++ ? slow_at : k;
            } else if (jit_side_exits(&recs[k]) && !is_div[k]) {
                fast++;
                stack_fast += acc[k].stack;
                stores_fast += acc[k].write;
            }
            divs += is_div[k];
            uint64_t before = c->faulted_steps;
            bool on = step_records(c, recs, exec, k, k + 1, rip);
            div_faults += is_div[k] && c->faulted_steps != before;
            rip += recs[k].len;
            if (!on)
                break;
        }
        faults += c->faulted_steps != faulted;
        take_mem(&want, c, m);

        struct jit_stop stop = run_native(cj, fn, recs, exec, n);
        take_mem(&got, cj, mj);
        if (memcmp(&want, &got, sizeof want) != 0) {
            print_error("case %u: rip %#llx / jit %#llx, insns %llu / %llu, "
                        "cycles %llu / %llu, hits %llu / %llu; stop after "
                        "%u, how %u\n", t,
                        (unsigned long long)want.rip,
                        (unsigned long long)got.rip,
                        (unsigned long long)want.insns,
                        (unsigned long long)got.insns,
                        (unsigned long long)want.cycles,
                        (unsigned long long)got.cycles,
                        (unsigned long long)want.stats.hits,
                        (unsigned long long)got.stats.hits, stop.ran,
                        stop.how);
            for (unsigned k = 0; k < 16; k++)
                if (want.regs.gpr[k] != got.regs.gpr[k])
                    print_error("gpr %u %#llx / %#llx\n", k,
                                (unsigned long long)want.regs.gpr[k],
                                (unsigned long long)got.regs.gpr[k]);
            print_error("regs %d flags %d mem %d stack %d fills %d refs %d "
                        "stats %d\n",
                        memcmp(&want.regs, &got.regs, sizeof want.regs) != 0,
                        memcmp(&want.regs.flags, &got.regs.flags,
                               sizeof want.regs.flags) != 0,
                        memcmp(want.mem, got.mem, sizeof want.mem) != 0,
                        memcmp(want.stack, got.stack, sizeof want.stack) != 0,
                        want.fills != got.fills,
                        want.walk_refs != got.walk_refs,
                        memcmp(&want.stats, &got.stats,
                               sizeof want.stats) != 0);
            fail();
        }
        stepped += stop.how == JIT_STEPPED;
        stepped_late += stop.how == JIT_STEPPED && stop.ran > 1;
        /* A record the fast path did not take, run by step_record(),
         * and the native code went on past it. */
        went_on += slow && stop.ran > slow_at + 1 &&
                   stop.how != JIT_STEPPED;
    }
    /* Native code went on past records it stepped, and stopped after
     * them; accesses made natively, loads and stores; faults and DIVs
     * both ways. */
    assert_true(went_on > MEM_CASES / 10);
    assert_true(stepped > MEM_CASES / 10);
    assert_true(stepped_late > MEM_CASES / 20);
    assert_true(faults > MEM_CASES / 20);
    assert_true(fast > MEM_CASES / 4);
    assert_true(stores_fast > MEM_CASES / 20);
    assert_true(divs > MEM_CASES / 4);
    assert_true(div_faults > 0);
    assert_true(pushes > MEM_CASES / 4 && pops > MEM_CASES / 4);
    assert_true(stack_fast > MEM_CASES / 20);
    jit_destroy(j);
    machine_destroy(m);
    machine_destroy(mj);
}

/* A full buffer gives NULL (the records are then interpreted), and a
 * reset makes room again. */
static void test_full_buffer(void **state)
{
    (void)state;
    struct machine *m = machine_create(4, NULL);
    assert_non_null(m);
    struct jit *j = jit_create();
    assert_non_null(j);
    static const uint8_t add[] = {0x48, 0x01, 0xC8}; /* add rax, rcx */
    struct insn recs[32];
    exec_fn exec[32];
    for (unsigned k = 0; k < 32; k++) {
        bool more;
        assert_true(dcache_decode(m->cpu->dcache, add, 3, 0, true, &recs[k],
                                  &more));
        exec[k] = recs[k].exec;
    }
    unsigned compiled = 0;
    while (jit_compile(j, recs, exec, 32, false))
        compiled++;
    assert_true(compiled > 100);
    assert_true(jit_code_bytes(j) > 0);
    jit_reset(j);
    assert_int_equal(jit_code_bytes(j), 0);
    assert_non_null(jit_compile(j, recs, exec, 32, false));
    jit_destroy(j);
    machine_destroy(m);
}

int main(void)
{
    if (!jit_supported()) {
        print_message("[  SKIPPED ] not an x86-64 host: no JIT\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_match_handlers),
        cmocka_unit_test(test_memory_runs_match_steps),
        cmocka_unit_test(test_full_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
