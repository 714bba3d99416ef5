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
 * is a call of its handler or written out on the host's flags. */
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
#include "machine.h"

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
    switch ((r >> 9) % 11) {
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
    unsigned templated = 0, faulted = 0, host_jcc = 0;
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
            if (jcc && k == n - 1) { /* Jcc rel32, any condition */
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
            assert_true(jcc && k == n - 1 ? tr.jcc : tr.reg_only);
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
        jit_fn fn = jit_compile(j, recs, exec, n);
        assert_non_null(fn);
        uint64_t rip = rng(&s) & 1 ? 0x7FFFFFFFFF00ull : 0x401000;
        randomize(c, &s);
        uint64_t gpr[16];
        struct lazy_flags flags = c->flags;
        memcpy(gpr, c->gpr, sizeof gpr);

        /* The block engine's loop (run_records). */
        uint64_t at = rip;
        for (unsigned k = 0; k < n; k++) {
            at += recs[k].len;
            c->next_rip = at;
            exec[k](c, &recs[k]);
        }
        struct state want = taken(c, at);
        faulted += c->exc.raised;

        memcpy(c->gpr, gpr, sizeof gpr);
        c->flags = flags;
        memset(&c->exc, 0, sizeof c->exc);
        c->next_rip = 0;
        uint64_t ret = fn(c, rip);
        struct state got = taken(c, ret);
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
    jit_destroy(j);
    machine_destroy(m);
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
    while (jit_compile(j, recs, exec, 32))
        compiled++;
    assert_true(compiled > 100);
    assert_true(jit_code_bytes(j) > 0);
    jit_reset(j);
    assert_int_equal(jit_code_bytes(j), 0);
    assert_non_null(jit_compile(j, recs, exec, 32));
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
        cmocka_unit_test(test_full_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
