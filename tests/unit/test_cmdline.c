/* guests/rt/cmdline.c: key=value lookup on multiboot command lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmdline.h"

static void test_finds_keys_after_the_image_path(void **state)
{
    (void)state;
    char v[16];
    const char *line = "/boot/image.elf iters=100 paging=ept";
    assert_int_equal(rt_cmdline_get(line, "iters", v, sizeof v), 1);
    assert_string_equal(v, "100");
    assert_int_equal(rt_cmdline_get(line, "paging", v, sizeof v), 1);
    assert_string_equal(v, "ept");
}

static void test_absent_keys_and_near_misses(void **state)
{
    (void)state;
    char v[16] = "untouched";
    /* "iters" must not match inside "xiters" nor as a prefix of "iterations". */
    const char *line = "xiters=5 iterations=6 iters";
    assert_int_equal(rt_cmdline_get(line, "iters", v, sizeof v), 0);
    assert_string_equal(v, "untouched");
    assert_int_equal(rt_cmdline_get("", "iters", v, sizeof v), 0);
    assert_int_equal(rt_cmdline_get(NULL, "iters", v, sizeof v), 0);
}

static void test_empty_value_and_truncation(void **state)
{
    (void)state;
    char v[4];
    assert_int_equal(rt_cmdline_get("mode= x=1", "mode", v, sizeof v), 1);
    assert_string_equal(v, "");
    assert_int_equal(rt_cmdline_get("mode=shadow", "mode", v, sizeof v), -1);
    assert_string_equal(v, "sha");
    assert_int_equal(rt_cmdline_get("mode=abc", "mode", v, sizeof v), 1);
    assert_string_equal(v, "abc");
}

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(rt_parse_u64("0", &v) && v == 0);
    assert_true(rt_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
    assert_true(rt_parse_u64("0xFFFFffffFFFFffff", &v) && v == UINT64_MAX);
    assert_true(rt_parse_u64("0x10", &v) && v == 16);
    v = 7;
    assert_false(rt_parse_u64("18446744073709551616", &v)); /* overflow */
    assert_false(rt_parse_u64("0x10000000000000000", &v));
    assert_false(rt_parse_u64("", &v));
    assert_false(rt_parse_u64("0x", &v));
    assert_false(rt_parse_u64("12a", &v));
    assert_false(rt_parse_u64("-1", &v));
    assert_int_equal(v, 7); /* failures leave the output alone */
}

static void test_u64_fallback(void **state)
{
    (void)state;
    assert_int_equal(rt_cmdline_u64("iters=250", "iters", 1), 250);
    assert_int_equal(rt_cmdline_u64("iters=abc", "iters", 1), 1);
    assert_int_equal(rt_cmdline_u64("other=3", "iters", 9), 9);
    /* Too long to be a number: the fallback, not a truncated value. */
    assert_int_equal(rt_cmdline_u64("iters=123456789012345678901234", "iters", 5), 5);
}

static const struct rt_arg l1vmm_like[] = {
    {"paging", 0, 0, "ept shadow"},
    {"ram", 4, 1024, 0},
};
#define CHECK(line) \
    rt_args_check(line, l1vmm_like, 2, err, sizeof err)

static void test_args_accepted(void **state)
{
    (void)state;
    char err[160] = "";
    assert_true(CHECK(NULL));
    assert_true(CHECK(""));
    assert_true(CHECK("/boot/l1vmm.elf"));
    assert_true(CHECK("/boot/l1vmm.elf paging=shadow ram=0x40"));
    assert_true(CHECK("  ram=4   paging=ept "));
    assert_true(CHECK("ram=1024"));
    assert_string_equal(err, "");
}

/* Each mistake: refused, with a message naming it. */
static void test_args_refused(void **state)
{
    (void)state;
    static const struct {
        const char *line, *message;
    } cases[] = {
        {"/boot/l1vmm.elf pagin=shadow",
         "unknown argument 'pagin=shadow' (keys: paging, ram)"},
        {"paging=shadw", "'paging=shadw': the value must be one of: ept shadow"},
        {"paging=", "'paging=': the value must be one of: ept shadow"},
        {"paging=ep", "the value must be one of"},
        {"paging=eptx", "the value must be one of"},
        {"ram=3", "'ram=3': the value must be a number from 4 to 1024"},
        {"ram=1025", "from 4 to 1024"},
        {"ram= 8", "'ram=': the value must be a number"},
        {"ram=-8", "from 4 to 1024"},
        {"ram=8k", "from 4 to 1024"},
        {"ram=99999999999999999999999999999999", "from 4 to 1024"},
        {"ram=8 ram=8", "'ram' is given twice"},
        {"/boot/l1vmm.elf shadow", "'shadow' is not KEY=VALUE (keys: paging, ram)"},
        {"=shadow", "'=shadow' is not KEY=VALUE"},
        {"paging=ept\tpaging=shadow", "'paging' is given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[160] = "";
        if (CHECK(cases[i].line) || !strstr(err, cases[i].message))
            fail_msg("'%s': got \"%s\", want \"%s\"", cases[i].line, err,
                     cases[i].message);
    }
}

static void test_args_none_accepted(void **state)
{
    (void)state;
    char err[160] = "";
    assert_true(rt_args_check("/boot/timer.elf", NULL, 0, err, sizeof err));
    assert_false(rt_args_check("/boot/timer.elf x=1", NULL, 0, err,
                               sizeof err));
    assert_string_equal(err, "unknown argument 'x=1' (keys: none: no "
                             "arguments)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_keys_after_the_image_path),
        cmocka_unit_test(test_absent_keys_and_near_misses),
        cmocka_unit_test(test_empty_value_and_truncation),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_args_accepted),
        cmocka_unit_test(test_args_refused),
        cmocka_unit_test(test_args_none_accepted),
        cmocka_unit_test(test_u64_fallback),
    };
    return cmocka_run_group_tests_name("rt cmdline", tests, NULL, NULL);
}
