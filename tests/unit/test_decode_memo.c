/* The process-wide memo of decoded instructions (cpu/decode_memo.h): a
 * record comes back only for bytes that start with the same
 * instruction's bytes, at the same address (for a branch) and mode,
 * whatever follows them; capstone decodes a window that starts with an
 * instruction to that instruction whatever follows it; and machines that run the same code one after the other (as the
 * fuzzers' runs do) get the same results from it as from decoding. A
 * relative jump is the case where the address matters: its record holds
 * the absolute target; a record without one is kept for every address.
 * Expected values are worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <capstone/capstone.h>

#include "cpu/cpu.h"
#include "cpu/decode_memo.h"
#include "machine.h"

/* Runs `jmp +0x10` (EB 10) at `at` in 32-bit protected mode on a fresh
 * machine; returns RIP after it. */
static uint64_t jump_from(uint64_t at)
{
    struct machine *m = machine_create(2, NULL);
    assert_non_null(m);
    static const uint8_t jmp[] = {0xEB, 0x10};
    memcpy(m->ram + at, jmp, sizeof jmp);
    cpu_reset_multiboot(m->cpu, (uint32_t)at, 0);
    cpu_step(m->cpu);
    uint64_t rip = m->cpu->rip;
    machine_destroy(m);
    return rip;
}

static void test_same_bytes_elsewhere_jump_elsewhere(void **state)
{
    (void)state;
    assert_int_equal(jump_from(0x100000), 0x100012);
    assert_int_equal(jump_from(0x100100), 0x100112); /* not the first's */
    assert_int_equal(jump_from(0x100000), 0x100012); /* from the memo */
}

static void test_key_is_the_instructions_bytes_address_and_mode(void **state)
{
    (void)state;
    const uint8_t bytes[15] = {0xB8, 1, 2, 3, 4, 0x90}; /* mov eax, imm */
    struct insn rec = {.id = 1234, .len = 5, .opsize = 4};
    decode_memo_put(bytes, 15, 0x5000, false, false, &rec);
    struct insn out;
    memset(&out, 0, sizeof out);
    assert_true(decode_memo_get(bytes, 15, 0x5000, false, &out));
    assert_memory_equal(&out, &rec, sizeof rec);
    uint8_t other[15];
    memcpy(other, bytes, sizeof other);
    other[14] ^= 1; /* a byte after the instruction: the same record */
    memset(&out, 0, sizeof out);
    assert_true(decode_memo_get(other, 15, 0x5000, false, &out));
    assert_memory_equal(&out, &rec, sizeof rec);
    memset(&out, 0, sizeof out);
    assert_true(decode_memo_get(bytes, 5, 0x5000, false, &out)); /* it all */
    assert_memory_equal(&out, &rec, sizeof rec);
    other[4] ^= 1; /* its last byte: another key */
    assert_false(decode_memo_get(other, 15, 0x5000, false, &out));
    assert_false(decode_memo_get(bytes, 4, 0x5000, false, &out)); /* cut */
    assert_false(decode_memo_get(bytes, 15, 0x5001, false, &out));
    assert_false(decode_memo_get(bytes, 15, 0x5000, true, &out));
    assert_false(decode_memo_get(bytes, 0, 0x5000, false, &out));
}

/* Two records of different lengths with the same first byte: each comes
 * back for the bytes that start with it. */
static void test_lengths_of_one_first_byte(void **state)
{
    (void)state;
    const uint8_t mov16[15] = {0x66, 0xB8, 7, 0};    /* mov ax, 7 */
    const uint8_t mov32[15] = {0x66, 0x90, 0x90};    /* xchg ax, ax */
    struct insn a = {.id = 11, .len = 4, .opsize = 2};
    struct insn b = {.id = 12, .len = 2, .opsize = 2};
    decode_memo_put(mov16, 15, 0x9000, true, true, &a);
    decode_memo_put(mov32, 15, 0x9000, true, true, &b);
    struct insn out;
    assert_true(decode_memo_get(mov16, 15, 0x9100, true, &out));
    assert_int_equal(out.id, 11);
    assert_true(decode_memo_get(mov32, 15, 0x9100, true, &out));
    assert_int_equal(out.id, 12);
    assert_false(decode_memo_get(mov16, 3, 0x9100, true, &out));
}

static void test_record_without_branch_serves_every_address(void **state)
{
    (void)state;
    const uint8_t bytes[15] = {0x00, 0x00}; /* add [eax], al, then zeros */
    struct insn rec = {.id = 4321, .len = 2, .opsize = 1};
    decode_memo_put(bytes, 15, 0x7000, true, true, &rec);
    struct insn out;
    memset(&out, 0, sizeof out);
    assert_true(decode_memo_get(bytes, 15, 0x7000, true, &out));
    assert_memory_equal(&out, &rec, sizeof rec);
    memset(&out, 0, sizeof out);
    assert_true(decode_memo_get(bytes, 15, 0x123456, true, &out));
    assert_memory_equal(&out, &rec, sizeof rec);
    assert_false(decode_memo_get(bytes, 15, 0x7000, false, &out));
    assert_false(decode_memo_get(bytes, 1, 0x7000, true, &out));
}

/* What the memo's key rests on: capstone decodes a window of 15 bytes
 * to the same instruction as the instruction's own bytes alone (it reads
 * none after them), and as those bytes followed by anything else. On
 * random windows in both modes, half of them opening with prefixes so
 * that long instructions are common; each check fails if capstone ever
 * looked past the instruction. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void decoded_alike(csh h, const cs_insn *a, const uint8_t *bytes,
                          size_t size)
{
    cs_insn *b = cs_malloc(h);
    const uint8_t *code = bytes;
    uint64_t addr = 0x40000;
    assert_true(cs_disasm_iter(h, &code, &size, &addr, b));
    assert_int_equal(b->id, a->id);
    assert_int_equal(b->size, a->size);
    assert_string_equal(b->mnemonic, a->mnemonic);
    assert_string_equal(b->op_str, a->op_str);
    assert_memory_equal(&b->detail->x86, &a->detail->x86,
                        sizeof a->detail->x86);
    cs_free(b, 1);
}

static void test_capstone_reads_no_byte_after_the_instruction(void **state)
{
    (void)state;
    static const uint8_t prefixes[] = {0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E,
                                       0x26, 0x64, 0x48, 0x41, 0x0F, 0xC4,
                                       0xC5, 0x62, 0x8F};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int decoded = 0;
    for (int mode64 = 0; mode64 < 2; mode64++) {
        csh h;
        assert_int_equal(cs_open(CS_ARCH_X86, mode64 ? CS_MODE_64 : CS_MODE_32,
                                 &h), CS_ERR_OK);
        cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
        cs_insn *a = cs_malloc(h);
        for (int i = 0; i < 50000; i++) {
            uint8_t w[15], other[15];
            for (int k = 0; k < 15; k++) {
                w[k] = (uint8_t)next_random(&seed);
                other[k] = (uint8_t)next_random(&seed);
            }
            for (int k = 0; i % 2 && k < (int)(next_random(&seed) % 4); k++)
                w[k] = prefixes[next_random(&seed) % sizeof prefixes];
            const uint8_t *code = w;
            size_t size = sizeof w;
            uint64_t addr = 0x40000;
            if (!cs_disasm_iter(h, &code, &size, &addr, a))
                continue;
            decoded++;
            decoded_alike(h, a, w, a->size);
            memcpy(other, w, a->size);
            decoded_alike(h, a, other, sizeof other);
        }
        cs_free(a, 1);
        cs_close(&h);
    }
    assert_true(decoded > 50000); /* most random windows decode */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_elsewhere_jump_elsewhere),
        cmocka_unit_test(test_key_is_the_instructions_bytes_address_and_mode),
        cmocka_unit_test(test_lengths_of_one_first_byte),
        cmocka_unit_test(test_record_without_branch_serves_every_address),
        cmocka_unit_test(test_capstone_reads_no_byte_after_the_instruction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
