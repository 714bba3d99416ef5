#include "hv/cost_profile.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/json_read.h"
#include "read_file.h"

/* The numbers of a profile besides L0's handlers, one row each: a new
 * cost is a field of struct cost_profile and a row here. Every row is
 * required in every profile file. */
static const struct cost_field {
    const char *key;
    size_t offset;          /* of a uint32_t in struct cost_profile */
    uint32_t min, max;
    const char *why_range;  /* when [min, max] is narrower than uint32 */
} cost_fields[] = {
    {"instruction", offsetof(struct cost_profile, instruction), 1, 1,
     "the CPU charges one cycle per instruction: it is the model's unit"},
    {"vmexit", offsetof(struct cost_profile, vmexit), 0, UINT32_MAX, NULL},
    {"vmentry", offsetof(struct cost_profile, vmentry), 0, UINT32_MAX, NULL},
    {"handler.default", offsetof(struct cost_profile, handler_default), 0,
     UINT32_MAX, NULL},
    {"merge_field", offsetof(struct cost_profile, merge_field), 0,
     UINT32_MAX, NULL},
    {"sync_field", offsetof(struct cost_profile, sync_field), 0, UINT32_MAX,
     NULL},
    {"msr_list_entry", offsetof(struct cost_profile, msr_list_entry), 0,
     UINT32_MAX, NULL},
    {"stlb_hit", offsetof(struct cost_profile, stlb_hit), 0, UINT32_MAX,
     NULL},
    {"walk_ref", offsetof(struct cost_profile, walk_ref), 0, UINT32_MAX,
     NULL},
    {"nested_exit", offsetof(struct cost_profile, nested_exit), 0,
     UINT32_MAX, NULL},
    {"l1_refill", offsetof(struct cost_profile, l1_refill), 0, UINT32_MAX,
     NULL},
    {"l1_pollution", offsetof(struct cost_profile, l1_pollution), 0, 1000000,
     "per mille of L0's cycles, at most 1000 times them"},
    {"l1_merge_field", offsetof(struct cost_profile, l1_merge_field), 0,
     UINT32_MAX, NULL},
};
enum { FIELD_COUNT = sizeof cost_fields / sizeof cost_fields[0] };

/* L0's handler of one basic exit reason: "handler." and the reason's
 * name in the SDM (Vol. 3D Appendix C), as vmx_exit_reason_name has it. */
#define HANDLER_PREFIX "handler."

/* Files larger than this are not profiles. */
enum { PROFILE_MAX_BYTES = 1 << 20 };

static int say(char *err, size_t errlen, const char *where,
               const struct json_value *at, const char *fmt, ...)
{
    int n = at ? snprintf(err, errlen, "%s: line %u, column %u: ", where,
                          at->line, at->column)
               : snprintf(err, errlen, "%s: ", where);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The uint32_t a key of "costs" sets, or NULL for an unknown key. */
static uint32_t *field_of(struct cost_profile *p, const char *key,
                          const struct cost_field **row)
{
    *row = NULL;
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (strcmp(cost_fields[i].key, key) == 0) {
            *row = &cost_fields[i];
            return (uint32_t *)((char *)p + cost_fields[i].offset);
        }
    }
    size_t n = strlen(HANDLER_PREFIX);
    if (strncmp(key, HANDLER_PREFIX, n) != 0)
        return NULL;
    for (uint32_t r = 0; r < VMX_EXIT_REASON_LIMIT; r++) {
        const char *name = vmx_exit_reason_name(r);
        if (name && strcmp(name, key + n) == 0)
            return &p->handler[r];
    }
    return NULL;
}

/* One entry of "costs": {"cycles": N, "source": "...", "fit": bool}. */
static int read_cost(const char *where, const char *key,
                     const struct json_value *v,
                     const struct cost_field *row, uint32_t *out,
                     char *err, size_t errlen)
{
    if (v->type != JSON_OBJECT)
        return say(err, errlen, where, v, "costs.%s wants an object "
                   "{\"cycles\": N, \"source\": \"...\"}, not %s", key,
                   json_type_name(v->type));
    for (size_t k = 0; k < v->count; k++) {
        const char *m = v->keys[k];
        if (strcmp(m, "cycles") && strcmp(m, "source") && strcmp(m, "fit"))
            return say(err, errlen, where, &v->items[k], "costs.%s.%s: "
                       "unknown key (an entry has cycles, source and "
                       "optionally fit)", key, m);
    }
    const struct json_value *cycles = json_member(v, "cycles");
    const struct json_value *source = json_member(v, "source");
    const struct json_value *fit = json_member(v, "fit");
    uint32_t min = row ? row->min : 0, max = row ? row->max : UINT32_MAX;
    if (!cycles)
        return say(err, errlen, where, v, "costs.%s.cycles is missing", key);
    if (cycles->type != JSON_INTEGER || cycles->integer < (int64_t)min ||
        cycles->integer > (int64_t)max)
        return say(err, errlen, where, cycles, "costs.%s.cycles wants a "
                   "whole number from %u to %u%s%s", key, min, max,
                   row && row->why_range ? ": " : "",
                   row && row->why_range ? row->why_range : "");
    if (!source || source->type != JSON_STRING || !source->string[0])
        return say(err, errlen, where, source ? source : v, "costs.%s.source "
                   "wants a non-empty string: where the number comes from, "
                   "or \"estimate\" and why", key);
    if (fit && fit->type != JSON_BOOL)
        return say(err, errlen, where, fit, "costs.%s.fit wants true or "
                   "false", key);
    *out = (uint32_t)cycles->integer;
    return 0;
}

static int read_name(const char *where, const struct json_value *v,
                     struct cost_profile *p, char *err, size_t errlen)
{
    if (!v)
        return say(err, errlen, where, NULL, "the key \"name\" is missing");
    size_t n = v->type == JSON_STRING ? strlen(v->string) : 0;
    bool ok = n > 0 && n < COST_NAME_MAX;
    for (size_t k = 0; ok && k < n; k++) {
        char c = v->string[k];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return say(err, errlen, where, v, "name wants a string of 1 to %d "
                   "letters, digits, '.', '_' or '-'", COST_NAME_MAX - 1);
    memcpy(p->name, v->string, n + 1);
    return 0;
}

static int read_costs(const char *where, const struct json_value *costs,
                      struct cost_profile *p, char *err, size_t errlen)
{
    if (!costs)
        return say(err, errlen, where, NULL, "the key \"costs\" is missing");
    if (costs->type != JSON_OBJECT)
        return say(err, errlen, where, costs, "costs wants an object, not %s",
                   json_type_name(costs->type));
    bool handler_given[VMX_EXIT_REASON_LIMIT] = {false};
    for (size_t k = 0; k < costs->count; k++) {
        const struct cost_field *row;
        uint32_t *field = field_of(p, costs->keys[k], &row);
        if (!field)
            return say(err, errlen, where, &costs->items[k], "costs.%s: "
                       "unknown cost (the costs are listed in "
                       "docs/cost-model.md; a handler is \"" HANDLER_PREFIX
                       "\" and the exit reason's SDM name, e.g. \""
                       HANDLER_PREFIX "CPUID\")", costs->keys[k]);
        if (read_cost(where, costs->keys[k], &costs->items[k], row, field,
                      err, errlen))
            return -1;
        if (!row)
            handler_given[field - p->handler] = true;
    }
    for (size_t i = 0; i < FIELD_COUNT; i++)
        if (!json_member(costs, cost_fields[i].key))
            return say(err, errlen, where, costs, "costs.%s is missing "
                       "(every profile gives every cost but the handlers)",
                       cost_fields[i].key);
    for (uint32_t r = 0; r < VMX_EXIT_REASON_LIMIT; r++)
        if (!handler_given[r])
            p->handler[r] = p->handler_default;
    return 0;
}

int cost_profile_parse(const char *text, size_t len, const char *where,
                       struct cost_profile *p, char *err, size_t errlen)
{
    struct json_value root;
    char jerr[256];
    *p = (struct cost_profile){0};
    if (json_parse(text, len, &root, jerr, sizeof jerr) != 0)
        return say(err, errlen, where, NULL, "%s", jerr);
    int rc = 0;
    if (root.type != JSON_OBJECT) {
        rc = say(err, errlen, where, &root, "a cost profile is a JSON "
                 "object, not %s", json_type_name(root.type));
        goto out;
    }
    for (size_t k = 0; k < root.count; k++) {
        const char *key = root.keys[k];
        const struct json_value *v = &root.items[k];
        if (!strcmp(key, "name") || !strcmp(key, "costs") ||
            !strcmp(key, "calibration"))
            continue; /* calibration: the calibration script's notes */
        if (!strcmp(key, "description") && v->type == JSON_STRING)
            continue;
        rc = !strcmp(key, "description")
                 ? say(err, errlen, where, v, "description wants a string")
                 : say(err, errlen, where, v, "unknown key \"%s\" (a profile "
                       "has name, description, costs and calibration)",
                       key);
        goto out;
    }
    rc = read_name(where, json_member(&root, "name"), p, err, errlen);
    if (rc == 0)
        rc = read_costs(where, json_member(&root, "costs"), p, err, errlen);
out:
    json_free(&root);
    return rc;
}

static bool is_file_argument(const char *arg)
{
    size_t n = strlen(arg);
    return strchr(arg, '/') || (n > 5 && strcmp(arg + n - 5, ".json") == 0);
}

int cost_profile_load(const char *arg, struct cost_profile *p, char **text,
                      char *err, size_t errlen)
{
    char *owned = NULL;
    const char *json = NULL;
    size_t len = 0;
    if (is_file_argument(arg)) {
        char why[128];
        owned = (char *)read_file(arg, PROFILE_MAX_BYTES, &len, why,
                                  sizeof why);
        if (!owned)
            return say(err, errlen, arg, NULL, "%s", why);
        json = owned;
    } else {
        for (size_t i = 0; i < cost_builtin_count; i++)
            if (strcmp(cost_builtins[i].name, arg) == 0)
                json = cost_builtins[i].json;
        if (!json) {
            int n = snprintf(err, errlen, "unknown cost profile '%s': the "
                             "built-in ones (experiments/profiles/) are",
                             arg);
            for (size_t i = 0; i < cost_builtin_count && n >= 0 &&
                               (size_t)n < errlen; i++)
                n += snprintf(err + n, errlen - (size_t)n, "%s %s",
                              i ? "," : "", cost_builtins[i].name);
            if (n >= 0 && (size_t)n < errlen)
                snprintf(err + n, errlen - (size_t)n, "; give a file as a "
                         "path with a '/' or ending in .json");
            return -1;
        }
        len = strlen(json);
    }
    int rc = cost_profile_parse(json, len, arg, p, err, errlen);
    if (rc == 0 && !owned && strcmp(p->name, arg) != 0)
        rc = say(err, errlen, arg, NULL, "the built-in profile calls itself "
                 "'%s': its name must be its file's", p->name);
    if (rc == 0 && text && !(*text = owned ? owned : strdup(json)))
        rc = say(err, errlen, arg, NULL, "out of memory");
    if (rc != 0 || !text || *text != owned)
        free(owned);
    return rc;
}
