/* Cost profiles as data (hv/cost_profile.c, hv/json_read.c): the built-in
 * default holds the numbers of experiments/profiles/turtles-2010.json,
 * a handler a profile does not name costs handler.default, and every
 * mistake in a profile is refused with a message naming the key (and the
 * line) that is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/cost_profile.h"
#include "hv/json_read.h"

/* A complete minimal profile; %s is spliced in before the last cost. */
static const char base[] =
    "{\"name\": \"t\", \"costs\": {\n"
    " \"instruction\": {\"cycles\": 1, \"source\": \"unit\"},\n"
    " \"vmexit\": {\"cycles\": 500, \"source\": \"s\", \"fit\": true},\n"
    " \"vmentry\": {\"cycles\": 400, \"source\": \"s\"},\n"
    " \"handler.default\": {\"cycles\": 1000, \"source\": \"estimate\"},\n"
    " \"merge_field\": {\"cycles\": 20, \"source\": \"s\"},\n"
    " \"sync_field\": {\"cycles\": 10, \"source\": \"s\"},\n%s"
    " \"msr_list_entry\": {\"cycles\": 150, \"source\": \"s\"},\n"
    " \"stlb_hit\": {\"cycles\": 7, \"source\": \"s\"},\n"
    " \"walk_ref\": {\"cycles\": 10, \"source\": \"s\"},\n"
    " \"nested_exit\": {\"cycles\": 0, \"source\": \"s\"},\n"
    " \"l1_pollution\": {\"cycles\": 0, \"source\": \"s\"},\n"
    " \"l1_merge_field\": {\"cycles\": 0, \"source\": \"s\"},\n"
    " \"l1_refill\": {\"cycles\": 0, \"source\": \"s\"}}}";

static int parse_with(const char *extra, struct cost_profile *p, char *err,
                      size_t errlen)
{
    char text[4096];
    snprintf(text, sizeof text, base, extra);
    return cost_profile_parse(text, strlen(text), "t.json", p, err, errlen);
}

static void test_builtin_default_has_the_files_numbers(void **state)
{
    (void)state;
    const struct cost_profile *p = cost_default();
    assert_string_equal(p->name, "turtles-2010");
    /* The calibrated numbers of experiments/profiles/turtles-2010.json
     * (change them with the file when it is calibrated again). */
    assert_int_equal(p->instruction, 1);
    assert_int_equal(p->vmexit, 617);
    assert_int_equal(p->vmentry, 450);
    assert_int_equal(cost_handler(p, 10), 1487);  /* CPUID */
    assert_int_equal(cost_handler(p, 30), 11274); /* I/O instruction */
    assert_int_equal(cost_handler(p, 12), 700);   /* HLT */
    assert_int_equal(cost_handler(p, 23), 2806);  /* VMREAD */
    assert_int_equal(cost_handler(p, 19), 1000);  /* VMCLEAR: the default */
    assert_int_equal(cost_handler(p, 500), 1000); /* past the table */
    assert_int_equal(p->merge_field, 185);
    assert_int_equal(p->sync_field, 15);
    assert_int_equal(p->msr_list_entry, 150);
    assert_int_equal(p->stlb_hit, 7);
    assert_int_equal(p->walk_ref, 10);
    assert_int_equal(p->nested_exit, 1820);
    assert_int_equal(p->l1_pollution, 93);
    assert_int_equal(p->l1_merge_field, 15);
    assert_int_equal(p->l1_refill, 2185);
}

static void test_named_handler_and_default(void **state)
{
    (void)state;
    struct cost_profile p;
    char err[512];
    if (parse_with(" \"handler.CPUID\": {\"cycles\": 0, \"source\": \"s\"},\n"
                   " \"handler.I/O instruction\": {\"cycles\": 77, "
                   "\"source\": \"s\"},\n", &p, err, sizeof err))
        fail_msg("%s", err);
    assert_string_equal(p.name, "t");
    assert_int_equal(cost_handler(&p, 10), 0);   /* 0 is a cost, not "unset" */
    assert_int_equal(cost_handler(&p, 30), 77);
    assert_int_equal(cost_handler(&p, 31), 1000);
    assert_int_equal(p.vmexit, 500);
}

static void test_load_by_name_and_file(void **state)
{
    (void)state;
    struct cost_profile p;
    char err[512], *text = NULL;
    if (cost_profile_load("turtles-2010", &p, &text, err, sizeof err))
        fail_msg("%s", err);
    assert_non_null(strstr(text, "\"name\": \"turtles-2010\""));
    free(text);
    assert_int_equal(cost_profile_load("no-such", &p, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "unknown cost profile 'no-such'"));
    assert_non_null(strstr(err, "turtles-2010"));
    assert_int_equal(cost_profile_load("/nonexistent/p.json", &p, NULL, err,
                                       sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/p.json: cannot open"));

    char path[] = "/tmp/test_cost_profile_XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    char text2[4096];
    int n = snprintf(text2, sizeof text2, base, "");
    FILE *f = fdopen(fd, "w");
    fwrite(text2, 1, (size_t)n, f);
    fclose(f);
    text = NULL;
    int rc = cost_profile_load(path, &p, &text, err, sizeof err);
    remove(path);
    if (rc)
        fail_msg("%s", err);
    assert_string_equal(text, text2);
    assert_int_equal(p.vmentry, 400);
    free(text);
}

/* Each bad profile and a piece of the message it must get. */
static void test_mistakes_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"", "line 1, column 1: a value is missing"},
        {"[1]", "a cost profile is a JSON object, not an array"},
        {"{\"name\": \"t\", \"name\": \"u\"}", "the key \"name\" appears twice"},
        {"{\"name\": \"t\", \"costs\": {}, \"colour\": 1}",
         "unknown key \"colour\""},
        {"{\"costs\": {}}", "the key \"name\" is missing"},
        {"{\"name\": \"a b\", \"costs\": {}}", "name wants a string"},
        {"{\"name\": \"t\"}", "the key \"costs\" is missing"},
        {"{\"name\": \"t\", \"costs\": {}}", "costs.instruction is missing"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": 5}}",
         "costs.vmexit wants an object"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"source\": \"s\"}}}",
         "costs.vmexit.cycles is missing"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"cycles\": 1}}}",
         "costs.vmexit.source wants a non-empty string"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"cycles\": 1, "
         "\"source\": \"\"}}}", "costs.vmexit.source wants a non-empty"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"cycles\": -1, "
         "\"source\": \"s\"}}}", "costs.vmexit.cycles wants a whole number "
         "from 0 to 4294967295"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"cycles\": 4294967296, "
         "\"source\": \"s\"}}}", "costs.vmexit.cycles wants a whole number"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"cycles\": 1.5, "
         "\"source\": \"s\"}}}", "costs.vmexit.cycles wants a whole number"},
        {"{\"name\": 1.}", "a '.' in a number wants digits"},
        {"{\"name\": 1e+}", "an exponent wants digits"},
        {"{\"name\": \"t\", \"costs\": {\"instruction\": {\"cycles\": 2, "
         "\"source\": \"s\"}}}", "costs.instruction.cycles wants a whole "
         "number from 1 to 1: the CPU charges one cycle"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"cycles\": 1, "
         "\"source\": \"s\", \"fit\": 1}}}", "costs.vmexit.fit wants true"},
        {"{\"name\": \"t\", \"costs\": {\"vmexit\": {\"cycles\": 1, "
         "\"source\": \"s\", \"note\": 1}}}", "costs.vmexit.note: unknown key"},
        {"{\"name\": \"t\", \"costs\": {\"vm_exit\": {}}}",
         "costs.vm_exit: unknown cost"},
        {"{\"name\": \"t\", \"costs\": {\"handler.CPUIDX\": {}}}",
         "costs.handler.CPUIDX: unknown cost"},
        {"{\"name\": \"t\",\n \"costs\": {\"vmexit\" 1}}",
         "line 2, column 21: a ':' must follow the key"},
        {"{\"name\": \"t\", \"costs\": {},}", "an object member wants"},
        {"{\"name\": \"t\"} x", "text after the end"},
        {"{\"name\": \"t\\q\"}", "unknown escape \\q"},
        {"{\"name\": \"t", "no closing quote"},
        {"{\"name\": 01}", "may not start with 0"},
        {"{\"name\": \"\\u0000\"}", "\\u0000 is not allowed"},
        {"{\"name\": \"\\ud800\"}", "a high surrogate"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
         "nested deeper than 32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cost_profile p;
        char err[512] = "";
        int rc = cost_profile_parse(cases[i].text, strlen(cases[i].text),
                                    "bad.json", &p, err, sizeof err);
        if (rc != -1 || !strstr(err, cases[i].message) ||
            strncmp(err, "bad.json: ", 10) != 0)
            fail_msg("case %zu (%s): got %d \"%s\", wanted \"%s\"", i,
                     cases[i].text, rc, err, cases[i].message);
    }
}

static void test_json_values(void **state)
{
    (void)state;
    const char *text = "{\"a\": [true, false, null, -9223372036854775808, "
                       "\"\\u00e9\\ud83d\\ude00\\n\", -0.25e2, "
                       "99999999999999999999.5]}";
    struct json_value v;
    char err[200];
    if (json_parse(text, strlen(text), &v, err, sizeof err))
        fail_msg("%s", err);
    const struct json_value *a = json_member(&v, "a");
    assert_non_null(a);
    assert_int_equal(a->type, JSON_ARRAY);
    assert_int_equal(a->count, 7);
    assert_true(a->items[0].boolean);
    assert_false(a->items[1].boolean);
    assert_int_equal(a->items[2].type, JSON_NULL);
    assert_true(a->items[3].integer == INT64_MIN);
    assert_string_equal(a->items[4].string, "\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_int_equal(a->items[4].column, 49);
    assert_int_equal(a->items[5].type, JSON_NUMBER);
    assert_true(a->items[5].number == -25.0);
    assert_int_equal(a->items[6].type, JSON_NUMBER);
    assert_true(a->items[6].number > 9.9e19);
    json_free(&v);
    assert_int_equal(json_parse("9223372036854775808", 19, &v, err,
                                sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_default_has_the_files_numbers),
        cmocka_unit_test(test_named_handler_and_default),
        cmocka_unit_test(test_load_by_name_and_file),
        cmocka_unit_test(test_mistakes_name_the_key),
        cmocka_unit_test(test_json_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
