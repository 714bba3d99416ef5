/* JSON encoding of run options (RFC 8259: strings escape '"', '\\' and
 * the control characters; everything else is copied as UTF-8 bytes). */
#include "record/options_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/grow.h"

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    char *p = grow_to(o->buf, &o->cap, o->len + n + 1, 1, 128, SIZE_MAX / 2);
    if (!p) {
        o->failed = 1;
        return;
    }
    o->buf = p;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void put_string(struct out *o, const char *s)
{
    put(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    put(o, "\"", 1);
}

char *options_json(const struct run_option *options, size_t count)
{
    struct out o = {0};
    put(&o, "{", 1);
    for (size_t i = 0; i < count; i++) {
        if (!options[i].name) {
            o.failed = 1;
            break;
        }
        if (i)
            put(&o, ",", 1);
        put_string(&o, options[i].name);
        put(&o, ":", 1);
        if (options[i].text) {
            put_string(&o, options[i].text);
        } else {
            char num[24];
            int n = snprintf(num, sizeof num, "%" PRId64, options[i].number);
            put(&o, num, (size_t)n);
        }
    }
    put(&o, "}", 1);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}
