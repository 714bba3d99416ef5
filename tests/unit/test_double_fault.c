/* l0/cpu/double_fault.c: SDM Vol. 3A Table 7-5 "Conditions for
 * Generating a Double Fault", every pair of exception vectors 0-31, and
 * the shutdown rule of Interrupt 8 (7.15). The classes are written here
 * from Table 7-4, one letter per vector, not taken from the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpu/double_fault.h"

/* Table 7-4: B benign, C contributory (#DE, #TS, #NP, #SS, #GP, #CP),
 * P page fault (#PF, #VE), D the double fault; reserved vectors are not
 * listed and take no part in the rules (benign). */
static const char class_of[33] = "CBBBBBBBDBCCCCPBBBBBPCBBBBBBBBBB";

/* Table 7-5, rows the first exception, columns the second, in the order
 * B, C, P: S handled serially, D a double fault. Interrupt 8: a
 * contributory exception or a page fault during a double fault shuts
 * the processor down (X); a benign one is handled serially. */
static const char *const rule[4] = {"SSS", "SDS", "SDD", "SXX"};

static unsigned row(char cls)
{
    return cls == 'B' ? 0 : cls == 'C' ? 1 : cls == 'P' ? 2 : 3;
}

static enum delivery_outcome expected(unsigned first, unsigned second)
{
    char r = rule[row(class_of[first])][row(class_of[second])];
    return r == 'S' ? DELIVER_SERIALLY
                    : r == 'D' ? DELIVER_DOUBLE : DELIVER_SHUTDOWN;
}

static void test_every_pair_of_exceptions(void **state)
{
    (void)state;
    for (unsigned first = 0; first < 32; first++)
        for (unsigned second = 0; second < 32; second++) {
            if (second == 8)
                continue; /* delivery never raises #DF itself */
            enum delivery_outcome got =
                double_fault_rule(first, true, second);
            if (got != expected(first, second))
                fail_msg("vector %u while delivering %u: outcome %d, "
                         "expected %d", second, first, got,
                         expected(first, second));
        }
}

/* The reproducer of issue 9 item 10(b): INT 33 through a not-present
 * gate raises #NP, pushing the #NP frame raises #PF: the #PF is
 * delivered. A #GP then #NP is the double fault of the exceptions guest;
 * #PF then #PF a double fault; #PF while delivering #DF a shutdown. */
static void test_named_cases(void **state)
{
    (void)state;
    assert_int_equal(double_fault_rule(33, false, 11), DELIVER_SERIALLY);
    assert_int_equal(double_fault_rule(11, true, 14), DELIVER_SERIALLY);
    assert_int_equal(double_fault_rule(13, true, 11), DELIVER_DOUBLE);
    assert_int_equal(double_fault_rule(14, true, 14), DELIVER_DOUBLE);
    assert_int_equal(double_fault_rule(14, true, 13), DELIVER_DOUBLE);
    assert_int_equal(double_fault_rule(8, true, 14), DELIVER_SHUTDOWN);
    assert_int_equal(double_fault_rule(8, true, 6), DELIVER_SERIALLY);
}

/* External interrupts and INT n are not exceptions: whatever their
 * vector, an exception while delivering them is handled serially. */
static void test_interrupts_are_benign(void **state)
{
    (void)state;
    static const unsigned raised[] = {0, 10, 11, 12, 13, 14};
    for (unsigned v = 0; v < 256; v++)
        for (unsigned k = 0; k < sizeof raised / sizeof *raised; k++)
            if (double_fault_rule(v, false, raised[k]) != DELIVER_SERIALLY)
                fail_msg("vector %u while delivering interrupt %u: not "
                         "serial", raised[k], v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair_of_exceptions),
        cmocka_unit_test(test_named_cases),
        cmocka_unit_test(test_interrupts_are_benign),
    };
    return cmocka_run_group_tests_name("double fault", tests, NULL, NULL);
}
