#include "cmdline.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

/* Finds the value of "key=" at the start of a token; NULL if absent. */
static const char *find_value(const char *s, const char *key)
{
    while (*s) {
        while (is_space(*s))
            s++;
        const char *k = key, *t = s;
        while (*k && *t == *k) {
            k++;
            t++;
        }
        if (!*k && *t == '=')
            return t + 1;
        while (*s && !is_space(*s))
            s++;
    }
    return 0;
}

int rt_cmdline_get(const char *cmdline, const char *key, char *out,
                   size_t out_size)
{
    const char *v = cmdline ? find_value(cmdline, key) : 0;
    if (!v)
        return 0;
    size_t n = 0;
    while (v[n] && !is_space(v[n]) && n + 1 < out_size) {
        out[n] = v[n];
        n++;
    }
    if (out_size)
        out[n] = '\0';
    return v[n] && !is_space(v[n]) ? -1 : 1;
}

int rt_parse_u64(const char *s, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return 0;
        if (v > (UINT64_MAX - d) / base)
            return 0;
        v = v * base + d;
    }
    *out = v;
    return 1;
}

uint64_t rt_cmdline_u64(const char *cmdline, const char *key,
                        uint64_t fallback)
{
    char text[24];
    uint64_t v;
    if (rt_cmdline_get(cmdline, key, text, sizeof text) != 1)
        return fallback;
    return rt_parse_u64(text, &v) ? v : fallback;
}
