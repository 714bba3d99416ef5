/* guestfuzz's bare/single comparison (fuzz/check.c) on made-up runs:
 * which pairs it compares, and that a planted difference is reported.
 * Runs stopped by the instruction limit are compared when both were and
 * every VM exit of the single run was completed within the step that
 * exited (run.c); the registers and memory then count as well as the
 * output, since no register dump was printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "machine.h"

/* A pair of runs that stopped at the limit the same way: an OUT's exit
 * in the single run, the same serial bytes, registers and memory. */
static void limit_pair(struct run_result *bare, struct run_result *single)
{
    memset(bare, 0, sizeof *bare);
    bare->stop = STOP_INSN_LIMIT;
    bare->out_len = 2;
    bare->out_hash = 0x1234;
    bare->state_hash = 0x5678;
    bare->ram_hash = 0x9abc;
    bare->insns = 20000;
    *single = *bare;
    single->insns = 19990; /* the exits are steps but not retired */
    single->exits = 10;
    single->exit_reasons = 1ull << 30;
    single->exits_in_step = true;
}

static struct run_result bare, single;

static void test_limit_pair_compared_and_agrees(void **state)
{
    (void)state;
    limit_pair(&bare, &single);
    assert_true(check_run_comparable(&bare, &single));
    assert_null(check_agree(&bare, &single));
}

static void test_limit_planted_register_difference(void **state)
{
    (void)state;
    limit_pair(&bare, &single);
    single.state_hash ^= 1;
    assert_true(check_run_comparable(&bare, &single));
    assert_non_null(strstr(check_agree(&bare, &single), "registers"));
}

static void test_limit_planted_memory_difference(void **state)
{
    (void)state;
    limit_pair(&bare, &single);
    bare.ram_hash ^= 1;
    assert_non_null(strstr(check_agree(&bare, &single), "memory"));
}

static void test_limit_planted_output_difference(void **state)
{
    (void)state;
    limit_pair(&bare, &single);
    single.out_len = 4;
    assert_non_null(strstr(check_agree(&bare, &single), "serial"));
}

/* An exit that L0 resumes at the same instruction (INS/OUTS, an EPT
 * violation) takes a step more than bare mode: the runs stop at
 * different points and are not compared. */
static void test_limit_exit_not_in_step_not_compared(void **state)
{
    (void)state;
    limit_pair(&bare, &single);
    single.exits_in_step = false;
    assert_false(check_run_comparable(&bare, &single));
}

static void test_limit_one_side_not_compared(void **state)
{
    (void)state;
    limit_pair(&bare, &single);
    single.stop = STOP_DEBUG_EXIT;
    assert_false(check_run_comparable(&bare, &single));
    assert_false(check_run_comparable(&single, &bare));
}

/* A run that ended by itself printed its registers: its output is what
 * is compared, and the exits' kinds do not matter. */
static void test_ended_runs_compare_output_only(void **state)
{
    (void)state;
    limit_pair(&bare, &single);
    bare.stop = single.stop = STOP_DEBUG_EXIT;
    single.exits_in_step = false;
    single.ram_hash ^= 1;
    assert_true(check_run_comparable(&bare, &single));
    assert_null(check_agree(&bare, &single));
    single.out_hash ^= 1;
    assert_non_null(check_agree(&bare, &single));
}

/* RDMSR may read IA32_TSC without an exit (L0's MSR bitmap): like
 * RDTSC, its opcode bytes anywhere in the code exclude a program. */
static void test_rdmsr_bytes_not_compared(void **state)
{
    (void)state;
    static struct prog p;
    memset(p.code, 0x90, sizeof p.code);
    assert_true(check_code_comparable(&p));
    p.code[100] = 0x0f;
    p.code[101] = 0x32;
    assert_false(check_code_comparable(&p));
    p.code[101] = 0x31; /* RDTSC */
    assert_false(check_code_comparable(&p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_pair_compared_and_agrees),
        cmocka_unit_test(test_limit_planted_register_difference),
        cmocka_unit_test(test_limit_planted_memory_difference),
        cmocka_unit_test(test_limit_planted_output_difference),
        cmocka_unit_test(test_limit_exit_not_in_step_not_compared),
        cmocka_unit_test(test_limit_one_side_not_compared),
        cmocka_unit_test(test_ended_runs_compare_output_only),
        cmocka_unit_test(test_rdmsr_bytes_not_compared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
