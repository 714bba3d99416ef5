/* SHLD with a count above the operand size (SDM Vol. 2B "SHLD/SHRD": the
 * result is undefined). The emulator's choice, documented in exec_alu.c,
 * is to shift through the concatenation of the two operands; what must
 * never happen is undefined behaviour in the emulator itself (found by
 * the guest-code fuzzer: a 16-bit SHLD with CL = 20 shifted a 128-bit
 * value by a negative amount, which UBSan reports). Expected values are
 * worked out by hand below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "machine.h"

#define CODE 0x100000u

/* Runs one instruction in 32-bit protected mode (the multiboot entry
 * state) with AX, BX and CL set; returns AX. */
static uint64_t run(const uint8_t *insn, size_t len, uint64_t ax, uint64_t bx,
                    uint64_t cl)
{
    struct machine *m = machine_create(2, NULL);
    assert_non_null(m);
    memcpy(m->ram + CODE, insn, len);
    cpu_reset_multiboot(m->cpu, CODE, 0);
    m->cpu->gpr[RAX] = ax;
    m->cpu->gpr[RBX] = bx;
    m->cpu->gpr[RCX] = cl;
    cpu_step(m->cpu);
    assert_int_equal(m->cpu->rip, CODE + len);
    uint64_t r = m->cpu->gpr[RAX];
    machine_destroy(m);
    return r;
}

/* shld ax, bx, cl */
static const uint8_t shld16[] = {0x66, 0x0f, 0xa5, 0xd8};

static void test_16bit_count_above_16(void **state)
{
    (void)state;
    /* AX:BX = 0x12345678; shifted left by 20 = 0x1234567800000, whose
     * bits 31:16 (where AX is read from) are 0x6780. */
    assert_int_equal(run(shld16, sizeof shld16, 0x1234, 0x5678, 20) & 0xffff,
                     0x6780);
    /* By 24: 0x123456780000000, bits 31:16 = 0x7800. */
    assert_int_equal(run(shld16, sizeof shld16, 0x1234, 0x5678, 24) & 0xffff,
                     0x7800);
}

static void test_16bit_count_within_16(void **state)
{
    (void)state;
    /* 0x1234 << 4 | 0x5678 >> 12 = 0x2345. */
    assert_int_equal(run(shld16, sizeof shld16, 0x1234, 0x5678, 4) & 0xffff,
                     0x2345);
    /* 16: AX becomes BX. */
    assert_int_equal(run(shld16, sizeof shld16, 0x1234, 0x5678, 16) & 0xffff,
                     0x5678);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_16bit_count_above_16),
        cmocka_unit_test(test_16bit_count_within_16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
