/* l0/cpu/flags.c: lazily derived arithmetic flags. Expected flag values
 * are worked out by hand from the SDM's definitions (Vol. 1 3.4.3,
 * Appendix B), never taken from the code under test. The build under
 * UBSan (make SAN=1) also checks that no read shifts out of range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpu/flags.h"

/* The condition codes tttn of Jcc (SDM Vol. 1 Appendix B). */
enum { CC_O = 0, CC_NO, CC_B, CC_NB, CC_E, CC_NE, CC_BE, CC_NBE,
       CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_NL, CC_LE, CC_NLE };

/* Flags set directly (reset, POPF, IRET) have no operand size: every
 * condition reads them from the bits. Issue 9 item 2: a JG before any
 * arithmetic shifted by -1 in flags_of. */
static void test_conditions_before_any_arithmetic(void **state)
{
    (void)state;
    struct lazy_flags f = {0};
    flags_set(&f, FL_FIXED1);
    assert_false(flags_of(&f));
    assert_true(flags_cond(&f, CC_NLE)); /* ZF = 0, SF = OF */
    assert_false(flags_cond(&f, CC_O));
    assert_true(flags_cond(&f, CC_NL));
    assert_int_equal(flags_get(&f), FL_FIXED1);

    flags_set(&f, FL_OF | FL_FIXED1);
    assert_true(flags_of(&f));
    assert_true(flags_cond(&f, CC_O));
    assert_true(flags_cond(&f, CC_L));     /* SF != OF */
    assert_false(flags_cond(&f, CC_NLE));
    assert_int_equal(flags_get(&f), FL_OF | FL_FIXED1);

    flags_set(&f, FL_SF | FL_OF | FL_FIXED1);
    assert_true(flags_cond(&f, CC_NLE)); /* SF = OF, ZF = 0 */
}

/* The zero-initialized state a CPU starts from (calloc), before even
 * flags_set: size 0, op FOP_NONE. */
static void test_zeroed_state(void **state)
{
    (void)state;
    struct lazy_flags f = {0};
    for (unsigned cc = 0; cc < 16; cc++)
        assert_int_equal(flags_cond(&f, cc), (cc & 1) != 0);
}

/* OF after the recorded operations, one case per rule. */
static void test_overflow_rules(void **state)
{
    (void)state;
    struct lazy_flags f = {0};
    flags_record(&f, FOP_ADD, 1, 0x80, 0x7F, 0x01, 0); /* 127 + 1 */
    assert_true(flags_of(&f));
    flags_record(&f, FOP_SUB, 2, 0x7FFF, 0x8000, 1, 0); /* -32768 - 1 */
    assert_true(flags_of(&f));
    flags_record(&f, FOP_SUB, 4, 1, 2, 1, 0);
    assert_false(flags_of(&f));
    flags_record(&f, FOP_LOGIC, 8, 0x8000000000000000ull, 0, 0, 0);
    assert_false(flags_of(&f));
    flags_record_incdec(&f, FOP_INC, 1, 0x80, 0x7F);
    assert_true(flags_of(&f));
    flags_record_incdec(&f, FOP_DEC, 8, 0x7FFFFFFFFFFFFFFFull,
                        0x8000000000000000ull);
    assert_true(flags_of(&f));
    flags_record_incdec(&f, FOP_DEC, 4, 0, 1);
    assert_false(flags_of(&f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conditions_before_any_arithmetic),
        cmocka_unit_test(test_zeroed_state),
        cmocka_unit_test(test_overflow_rules),
    };
    return cmocka_run_group_tests_name("flags", tests, NULL, NULL);
}
