#include "hv/json_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const char *p, *end;
    unsigned line;
    const char *line_start;
    char *err;
    size_t errlen;
    bool failed;
};

static unsigned column(const struct reader *r, const char *at)
{
    return (unsigned)(at - r->line_start) + 1;
}

static int fail(struct reader *r, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    r->failed = true;
    int n = snprintf(r->err, r->errlen, "line %u, column %u: ", r->line,
                     column(r, r->p));
    if (n >= 0 && (size_t)n < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void skip_space(struct reader *r)
{
    while (r->p < r->end) {
        char c = *r->p;
        if (c == '\n') {
            r->line++;
            r->line_start = r->p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        r->p++;
    }
}

static bool literal(struct reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static int hex4(struct reader *r, uint32_t *out)
{
    *out = 0;
    for (int k = 0; k < 4; k++, r->p++) {
        char c = r->p < r->end ? *r->p : 0;
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
        if (d == 16)
            return fail(r, "\\u wants four hexadecimal digits");
        *out = *out << 4 | d;
    }
    return 0;
}

/* A \uXXXX escape (with its low surrogate, if it is a high one) as UTF-8
 * into out; the number of bytes, or -1. */
static int unicode_escape(struct reader *r, char *out)
{
    uint32_t u;
    if (hex4(r, &u))
        return -1;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return fail(r, "a low surrogate \\u%04X without a high one", u);
    if (u >= 0xD800 && u <= 0xDBFF) {
        uint32_t lo;
        if (!literal(r, "\\u") || hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return fail(r, "a high surrogate \\u%04X without a low one", u);
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (u == 0)
        return fail(r, "\\u0000 is not allowed in a string");
    if (u < 0x80) {
        out[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (char)(0xC0 | u >> 6);
        out[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (char)(0xE0 | u >> 12);
        out[1] = (char)(0x80 | (u >> 6 & 0x3F));
        out[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | u >> 18);
    out[1] = (char)(0x80 | (u >> 12 & 0x3F));
    out[2] = (char)(0x80 | (u >> 6 & 0x3F));
    out[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

/* A string; r->p is at its opening quote. Escapes never make it longer
 * than its source text, so one buffer of that length is enough. */
static int read_string(struct reader *r, char **out)
{
    const char *start = ++r->p;
    const char *q = start;
    while (q < r->end && *q != '"')
        q += *q == '\\' && q + 1 < r->end ? 2 : 1;
    char *s = malloc((size_t)(q - start) + 1);
    if (!s)
        return fail(r, "out of memory");
    size_t n = 0;
    for (;;) {
        if (r->p >= r->end) {
            free(s);
            return fail(r, "the string has no closing quote");
        }
        unsigned char c = (unsigned char)*r->p;
        if (c == '"')
            break;
        if (c < 0x20) {
            free(s);
            return fail(r, "a control character (0x%02X) inside a string: "
                        "write it as an escape", c);
        }
        if (c != '\\') {
            s[n++] = (char)c;
            r->p++;
            continue;
        }
        r->p++;
        char e = r->p < r->end ? *r->p : 0;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = e ? strchr(from, e) : NULL;
        if (k) {
            s[n++] = to[k - from];
            r->p++;
        } else if (e == 'u') {
            r->p++;
            int len = unicode_escape(r, s + n);
            if (len < 0) {
                free(s);
                return -1;
            }
            n += (size_t)len;
        } else {
            free(s);
            return fail(r, "unknown escape \\%c in a string", e ? e : ' ');
        }
    }
    r->p++;
    s[n] = '\0';
    *out = s;
    return 0;
}

static bool digits(struct reader *r)
{
    const char *from = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > from;
}

/* The rest of a number after its integer part: [.digits][(e|E)[+-]digits]
 * (RFC 8259 section 6), as a double. */
static int read_fraction(struct reader *r, const char *start,
                         struct json_value *v)
{
    if (*r->p == '.') {
        r->p++;
        if (!digits(r))
            return fail(r, "a '.' in a number wants digits after it");
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!digits(r))
            return fail(r, "an exponent wants digits");
    }
    char buf[64];
    size_t n = (size_t)(r->p - start);
    if (n >= sizeof buf) {
        r->p = start;
        return fail(r, "a number longer than %zu characters", sizeof buf - 1);
    }
    memcpy(buf, start, n);
    buf[n] = '\0';
    v->type = JSON_NUMBER;
    v->number = strtod(buf, NULL);
    return 0;
}

static int read_number(struct reader *r, struct json_value *v)
{
    const char *start = r->p;
    bool negative = *r->p == '-';
    if (negative)
        r->p++;
    const char *int_part = r->p;
    if (!digits(r))
        return fail(r, "a number wants digits");
    if (*int_part == '0' && r->p - int_part > 1) {
        r->p = int_part;
        return fail(r, "a number may not start with 0");
    }
    if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
        return read_fraction(r, start, v);
    uint64_t mag = 0;
    for (const char *q = int_part; q < r->p; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (mag > (UINT64_MAX - d) / 10 ||
            mag * 10 + d > (uint64_t)INT64_MAX + negative) {
            r->p = start;
            return fail(r, "the number is out of range");
        }
        mag = mag * 10 + d;
    }
    v->type = JSON_INTEGER;
    v->integer = negative ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

static int read_value(struct reader *r, struct json_value *v, int depth);

/* The members of an array or object; r->p is past its opening bracket. */
static int read_members(struct reader *r, struct json_value *v, int depth,
                        bool object)
{
    char close = object ? '}' : ']';
    size_t cap = 0;
    skip_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        if (v->count == cap) {
            cap = cap ? cap * 2 : 8;
            struct json_value *items =
                realloc(v->items, cap * sizeof *items);
            char **keys = object ? realloc(v->keys, cap * sizeof *keys)
                                 : NULL;
            if (items)
                v->items = items;
            if (keys)
                v->keys = keys;
            if (!items || (object && !keys))
                return fail(r, "out of memory");
        }
        skip_space(r);
        if (object) {
            if (r->p >= r->end || *r->p != '"')
                return fail(r, "an object member wants a \"key\"");
            const char *key_at = r->p;
            char *key;
            if (read_string(r, &key))
                return -1;
            if (json_member(v, key)) {
                r->p = key_at;
                fail(r, "the key \"%s\" appears twice", key);
                free(key);
                return -1;
            }
            v->keys[v->count] = key;
            skip_space(r);
            if (r->p >= r->end || *r->p != ':') {
                free(key);
                return fail(r, "a ':' must follow the key");
            }
            r->p++;
        }
        struct json_value *item = &v->items[v->count];
        *item = (struct json_value){0};
        v->count++;
        if (read_value(r, item, depth + 1))
            return -1;
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return fail(r, "expected ',' or '%c'", close);
    }
}

static int read_value(struct reader *r, struct json_value *v, int depth)
{
    skip_space(r);
    v->line = r->line;
    v->column = column(r, r->p);
    if (depth > JSON_MAX_DEPTH)
        return fail(r, "nested deeper than %d levels", JSON_MAX_DEPTH);
    if (r->p >= r->end)
        return fail(r, "a value is missing (the text ends)");
    char c = *r->p;
    if (c == '{' || c == '[') {
        r->p++;
        v->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        return read_members(r, v, depth, c == '{');
    }
    if (c == '"') {
        v->type = JSON_STRING;
        return read_string(r, &v->string);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return read_number(r, v);
    if (literal(r, "true") || literal(r, "false")) {
        v->type = JSON_BOOL;
        v->boolean = c == 't';
        return 0;
    }
    if (literal(r, "null")) {
        v->type = JSON_NULL;
        return 0;
    }
    return fail(r, "not a JSON value (a string, number, object, array, "
                "true, false or null)");
}

int json_parse(const char *text, size_t len, struct json_value *out,
               char *err, size_t errlen)
{
    struct reader r = {text, text + len, 1, text, err, errlen, false};
    *out = (struct json_value){0};
    if (memchr(text, '\0', len)) {
        r.p = memchr(text, '\0', len);
        for (const char *q = text; q < r.p; q++)
            if (*q == '\n') {
                r.line++;
                r.line_start = q + 1;
            }
        fail(&r, "a NUL byte: this is not a text file");
    } else if (read_value(&r, out, 0) == 0) {
        skip_space(&r);
        if (r.p < r.end)
            fail(&r, "text after the end of the JSON value");
    }
    if (r.failed) {
        json_free(out);
        return -1;
    }
    return 0;
}

void json_free(struct json_value *v)
{
    for (size_t k = 0; k < v->count; k++) {
        json_free(&v->items[k]);
        if (v->keys)
            free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    *v = (struct json_value){0};
}

const struct json_value *json_member(const struct json_value *object,
                                     const char *key)
{
    if (object->type != JSON_OBJECT)
        return NULL;
    for (size_t k = 0; k < object->count; k++)
        if (object->keys[k] && strcmp(object->keys[k], key) == 0)
            return &object->items[k];
    return NULL;
}

const char *json_type_name(enum json_type t)
{
    static const char *const names[] = {
        [JSON_NULL] = "null", [JSON_BOOL] = "true or false",
        [JSON_INTEGER] = "a whole number", [JSON_NUMBER] = "a number",
        [JSON_STRING] = "a string",
        [JSON_ARRAY] = "an array", [JSON_OBJECT] = "an object"};
    return names[t];
}
