#include "cmdline.h"

#include "format.h"

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

/* The length of the word at s (up to a space or the end). */
static size_t word_len(const char *s)
{
    size_t n = 0;
    while (s[n] && !is_space(s[n]))
        n++;
    return n;
}

/* Is [s, s + n) one of the space-separated words of `list`? */
static int in_list(const char *list, const char *s, size_t n)
{
    while (*list) {
        while (is_space(*list))
            list++;
        size_t w = word_len(list);
        if (w && w == n) {
            size_t k = 0;
            while (k < n && list[k] == s[k])
                k++;
            if (k == n)
                return 1;
        }
        list += w;
    }
    return 0;
}

/* The key whose name is [s, s + n), or NULL. */
static const struct rt_arg *find_arg(const struct rt_arg *args, size_t count,
                                     const char *s, size_t n)
{
    for (size_t i = 0; i < count; i++)
        if (in_list(args[i].key, s, n))
            return &args[i];
    return 0;
}

static int bad(char *err, size_t err_size, const char *fmt, const char *word,
               size_t len, const char *detail)
{
    rt_snprintf(err, err_size, fmt, (int)len, word, detail);
    return 0;
}

int rt_args_check(const char *cmdline, const struct rt_arg *args,
                  size_t count, char *err, size_t err_size)
{
    char known[160] = "none: no arguments", value[32];
    size_t used = 0;
    for (size_t i = 0; i < count; i++)
        used += (size_t)rt_snprintf(known + used,
                                    used < sizeof known ? sizeof known - used : 0,
                                    "%s%s", i ? ", " : "", args[i].key);
    const char *s = cmdline ? cmdline : "";
    int first = 1;
    while (*s) {
        while (is_space(*s))
            s++;
        size_t n = word_len(s);
        if (!n)
            break;
        const char *eq = s;
        while (eq < s + n && *eq != '=')
            eq++;
        /* GRUB, QEMU and our loaders put the image's path first. */
        if (first && eq == s + n) {
            first = 0;
            s += n;
            continue;
        }
        first = 0;
        if (eq == s + n || eq == s)
            return bad(err, err_size, "'%.*s' is not KEY=VALUE (keys: %s)",
                       s, n, known);
        const struct rt_arg *a = find_arg(args, count, s, (size_t)(eq - s));
        if (!a)
            return bad(err, err_size, "unknown argument '%.*s' (keys: %s)",
                       s, n, known);
        if (find_value(s + n, a->key))
            return bad(err, err_size, "'%.*s' is given twice%s", s,
                       (size_t)(eq - s), "");
        const char *v = eq + 1;
        size_t vn = n - (size_t)(v - s);
        uint64_t number;
        if (a->words && !in_list(a->words, v, vn))
            return bad(err, err_size, "'%.*s': the value must be one of: %s",
                       s, n, a->words);
        if (!a->words) {
            int fits = vn < sizeof value;
            for (size_t k = 0; fits && k <= vn; k++)
                value[k] = k < vn ? v[k] : '\0';
            if (!fits || !rt_parse_u64(value, &number) || number < a->min ||
                number > a->max) {
                char range[64];
                rt_snprintf(range, sizeof range, "a number from %lu to %lu",
                            (unsigned long)a->min, (unsigned long)a->max);
                return bad(err, err_size, "'%.*s': the value must be %s", s,
                           n, range);
            }
        }
        s += n;
    }
    return 1;
}
