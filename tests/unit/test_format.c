/* guests/rt/format.c against the C library's snprintf: every combination
 * of flags, width, precision and length that C99 defines for each
 * conversion, over edge values, must produce the same text and count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "format.h"

/* Compares one format with one argument on both implementations. */
#define SAME(fmt, arg)                                                       \
    do {                                                                     \
        char want[256], got[256];                                            \
        int nw = snprintf(want, sizeof want, fmt, arg);                      \
        int ng = rt_snprintf(got, sizeof got, fmt, arg);                     \
        if (strcmp(want, got) != 0 || nw != ng)                              \
            fail_msg("format \"%s\": libc \"%s\" (%d), rt \"%s\" (%d)",      \
                     fmt, want, nw, got, ng);                                \
    } while (0)

static const char *const widths[] = {"", "1", "7", "24"};
static const char *const precisions[] = {"", ".0", ".1", ".5", ".22"};

/* Edge values plus one of every digit count in each base: 10^k - 1,
 * 10^k, 2^k - 1 and 2^k, and their negations. */
static int64_t signed_values[7 + 4 * 18]; /* 7 edges, 4 around 10^0 .. 10^17 */
static uint64_t unsigned_values[1 + 2 * 64];
static size_t n_signed, n_unsigned;

static int make_values(void **state)
{
    (void)state;
    const int64_t edges[] = {0, 127, -128, INT32_MIN, INT32_MAX, INT64_MIN,
                             INT64_MAX};
    n_signed = n_unsigned = 0;
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        signed_values[n_signed++] = edges[i];
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        const int64_t around[] = {p - 1, p, -(p - 1), -p};
        for (size_t i = 0; i < 4; i++)
            signed_values[n_signed++] = around[i];
    }
    unsigned_values[n_unsigned++] = UINT64_MAX;
    for (int k = 0; k < 64; k++) {
        unsigned_values[n_unsigned++] = 1ull << k;
        unsigned_values[n_unsigned++] = (1ull << k) - 1;
    }
    assert_int_equal(n_signed, sizeof signed_values / sizeof *signed_values);
    assert_int_equal(n_unsigned,
                     sizeof unsigned_values / sizeof *unsigned_values);
    return 0;
}

/* Walks every subset of `flags` (each subset once, in order). */
static void integer_formats(const char *flags, const char *lengths[],
                            const char *conversions, int is_signed)
{
    size_t nflags = strlen(flags);
    char fmt[32], fl[8];
    for (unsigned mask = 0; mask < 1u << nflags; mask++) {
        size_t k = 0;
        for (size_t i = 0; i < nflags; i++)
            if (mask & 1u << i)
                fl[k++] = flags[i];
        fl[k] = '\0';
        for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
            for (size_t p = 0; p < sizeof precisions / sizeof *precisions; p++)
                for (size_t l = 0; lengths[l]; l++)
                    for (const char *c = conversions; *c; c++) {
                        snprintf(fmt, sizeof fmt, "%%%s%s%s%s%c", fl,
                                 widths[w], precisions[p], lengths[l], *c);
                        if (is_signed)
                            for (size_t v = 0; v < n_signed; v++)
                                SAME(fmt, (long long)signed_values[v]);
                        else
                            for (size_t v = 0; v < n_unsigned; v++)
                                SAME(fmt, (unsigned long long)unsigned_values[v]);
                    }
    }
}

static void test_signed_conversions(void **state)
{
    (void)state;
    const char *lengths[] = {"ll", NULL};
    integer_formats("-0+ ", lengths, "di", 1);
}

static void test_unsigned_conversions(void **state)
{
    (void)state;
    const char *lengths[] = {"ll", NULL};
    integer_formats("-0#", lengths, "uxXo", 0);
}

/* Short lengths convert the (promoted) argument to char or short. */
static void test_short_lengths(void **state)
{
    (void)state;
    SAME("%hhd", 200);
    SAME("%hhu", 0x1ff);
    SAME("%hhx", -1);
    SAME("%hd", 40000);
    SAME("%hu", -2);
    SAME("%hx", 0x12345);
    SAME("%d", -2147483647 - 1);
    SAME("%u", 4294967295u);
    SAME("%lx", 0xFFFFFFFFFFFFFFFFul);
    SAME("%ld", -9223372036854775807L);
    SAME("%zu", (size_t)123456789);
    SAME("%zx", (size_t)0xFFFF);
}

static void test_strings_and_chars(void **state)
{
    (void)state;
    SAME("%s", "turtles");
    SAME("[%10s]", "abc");
    SAME("[%-10s]", "abc");
    SAME("[%.2s]", "abcdef");
    SAME("[%8.3s]", "abcdef");
    SAME("[%-8.3s]", "abcdef");
    SAME("[%.0s]", "abc");
    SAME("[%s]", "");
    SAME("[%c]", 'x');
    SAME("[%5c]", 'y');
    SAME("[%-5c]", 'z');
    SAME("%p", (void *)0x1234);
    SAME("%20p", (void *)0xFFFF800000001000ull);
    SAME("%-20p|", (void *)0x10);
}

static void test_star_width_and_literals(void **state)
{
    (void)state;
    char want[64], got[64];
    int nw = snprintf(want, sizeof want, "%*d|%-*d|%.*d|%%|", 6, 42, 6, 42, 4, 7);
    int ng = rt_snprintf(got, sizeof got, "%*d|%-*d|%.*d|%%|", 6, 42, 6, 42, 4, 7);
    assert_string_equal(got, want);
    assert_int_equal(ng, nw);
    nw = snprintf(want, sizeof want, "%*d|", -6, 42);
    ng = rt_snprintf(got, sizeof got, "%*d|", -6, 42);
    assert_string_equal(got, want);
    assert_int_equal(ng, nw);
}

/* A NULL string prints as glibc prints it (passing NULL to %s is
 * undefined in C, so the compiler refuses to compare the two here). */
static void test_null_string(void **state)
{
    (void)state;
    char got[16];
    const char *volatile null = NULL;
    rt_snprintf(got, sizeof got, "[%s]", null);
    assert_string_equal(got, "[(null)]");
}

/* Like snprintf, rt_snprintf truncates but returns the full length. */
static void test_truncation(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'X', sizeof buf);
    assert_int_equal(rt_snprintf(buf, 5, "%s", "abcdefgh"), 8);
    assert_string_equal(buf, "abcd");
    assert_int_equal(buf[5], 'X'); /* nothing written past the size */
    assert_int_equal(rt_snprintf(buf, 0, "%d", 12345), 5);
    assert_int_equal(buf[0], 'a');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_conversions),
        cmocka_unit_test(test_unsigned_conversions),
        cmocka_unit_test(test_short_lengths),
        cmocka_unit_test(test_strings_and_chars),
        cmocka_unit_test(test_star_width_and_literals),
        cmocka_unit_test(test_null_string),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests_name("rt format", tests, make_values, NULL);
}
