/* The process-wide memo of decoded instructions (cpu/decode_memo.h): a
 * record comes back only for the same bytes, length, address and mode,
 * and machines that run the same code one after the other (as the
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

static void test_key_is_bytes_length_address_and_mode(void **state)
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
    other[14] ^= 1; /* a byte after the instruction: still another key */
    assert_false(decode_memo_get(other, 15, 0x5000, false, &out));
    assert_false(decode_memo_get(bytes, 14, 0x5000, false, &out));
    assert_false(decode_memo_get(bytes, 15, 0x5001, false, &out));
    assert_false(decode_memo_get(bytes, 15, 0x5000, true, &out));
    assert_false(decode_memo_get(bytes, 16, 0x5000, false, &out));
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
    assert_false(decode_memo_get(bytes, 14, 0x7000, true, &out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_elsewhere_jump_elsewhere),
        cmocka_unit_test(test_key_is_bytes_length_address_and_mode),
        cmocka_unit_test(test_record_without_branch_serves_every_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
