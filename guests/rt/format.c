#include "format.h"

#include <stdint.h>

struct out {
    rt_sink sink;
    void *ctx;
    int count;
};

struct spec {
    int left, zero, alt, plus, space;
    int width;
    int prec; /* -1: none */
    int len;  /* in units of 'h' (-1, -2) or 'l' (1, 2); 3 for z */
};

static void put(struct out *o, char c)
{
    o->sink(o->ctx, c);
    o->count++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

static void put_str(struct out *o, const struct spec *sp, const char *s)
{
    int n = 0;
    if (!s)
        s = "(null)";
    while (s[n] && (sp->prec < 0 || n < sp->prec))
        n++;
    if (!sp->left)
        pad(o, ' ', sp->width - n);
    for (int i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        pad(o, ' ', sp->width - n);
}

static void put_uint(struct out *o, const struct spec *sp, uint64_t mag,
                     int negative, char conv)
{
    char digits[24];
    const char *set = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    unsigned base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X') ? 16 : 10;
    int nd = 0;

    /* C99 7.19.6.1: a zero value with precision 0 produces no digits. */
    for (uint64_t v = mag; v || (nd == 0 && sp->prec != 0); v /= base)
        digits[nd++] = set[v % base];

    char prefix[3];
    int np = 0;
    if (conv == 'd' || conv == 'i') {
        if (negative)
            prefix[np++] = '-';
        else if (sp->plus)
            prefix[np++] = '+';
        else if (sp->space)
            prefix[np++] = ' ';
    } else if (sp->alt && base == 16 && mag) {
        prefix[np++] = '0';
        prefix[np++] = conv;
    }

    int zeros = sp->prec > nd ? sp->prec - nd : 0;
    /* '#' with 'o' makes the first digit a zero. */
    if (sp->alt && base == 8 && zeros == 0 && (nd == 0 || digits[nd - 1] != '0'))
        zeros = 1;
    int body = np + zeros + nd;
    int fill = sp->width > body ? sp->width - body : 0;

    if (!sp->left && !(sp->zero && sp->prec < 0))
        pad(o, ' ', fill);
    for (int i = 0; i < np; i++)
        put(o, prefix[i]);
    if (!sp->left && sp->zero && sp->prec < 0)
        pad(o, '0', fill);
    pad(o, '0', zeros);
    while (nd)
        put(o, digits[--nd]);
    if (sp->left)
        pad(o, ' ', fill);
}

static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
    *sp = (struct spec){.prec = -1};
    for (;; f++) {
        if (*f == '-')
            sp->left = 1;
        else if (*f == '0')
            sp->zero = 1;
        else if (*f == '#')
            sp->alt = 1;
        else if (*f == '+')
            sp->plus = 1;
        else if (*f == ' ')
            sp->space = 1;
        else
            break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->left = 1;
            sp->width = -sp->width;
        }
        f++;
    }
    while (*f >= '0' && *f <= '9')
        sp->width = sp->width * 10 + (*f++ - '0');
    if (*f == '.') {
        f++;
        sp->prec = 0;
        if (*f == '*') {
            sp->prec = va_arg(*ap, int);
            f++;
        }
        while (*f >= '0' && *f <= '9')
            sp->prec = sp->prec * 10 + (*f++ - '0');
    }
    for (;; f++) {
        if (*f == 'h')
            sp->len--;
        else if (*f == 'l')
            sp->len++;
        else if (*f == 'z')
            sp->len = 3;
        else
            break;
    }
    return f;
}

static int64_t signed_arg(const struct spec *sp, va_list *ap)
{
    switch (sp->len) {
    case -2: return (signed char)va_arg(*ap, int);
    case -1: return (short)va_arg(*ap, int);
    case 0: return va_arg(*ap, int);
    case 1: return va_arg(*ap, long);
    case 3: return (int64_t)va_arg(*ap, size_t);
    default: return va_arg(*ap, long long);
    }
}

static uint64_t unsigned_arg(const struct spec *sp, va_list *ap)
{
    switch (sp->len) {
    case -2: return (unsigned char)va_arg(*ap, unsigned);
    case -1: return (unsigned short)va_arg(*ap, unsigned);
    case 0: return va_arg(*ap, unsigned);
    case 1: return va_arg(*ap, unsigned long);
    case 3: return va_arg(*ap, size_t);
    default: return va_arg(*ap, unsigned long long);
    }
}

int rt_vformat(rt_sink sink, void *ctx, const char *fmt, va_list ap_in)
{
    struct out o = {sink, ctx, 0};
    struct spec sp;
    va_list ap;
    va_copy(ap, ap_in);

    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        f = parse_spec(f + 1, &sp, &ap);
        switch (*f) {
        case 'd':
        case 'i': {
            int64_t v = signed_arg(&sp, &ap);
            uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
            put_uint(&o, &sp, mag, v < 0, *f);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            put_uint(&o, &sp, unsigned_arg(&sp, &ap), 0, *f);
            break;
        case 'p':
            sp.alt = 1;
            put_uint(&o, &sp, (uintptr_t)va_arg(ap, void *), 0, 'x');
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            if (!sp.left)
                pad(&o, ' ', sp.width - 1);
            put(&o, c);
            if (sp.left)
                pad(&o, ' ', sp.width - 1);
            break;
        }
        case 's':
            put_str(&o, &sp, va_arg(ap, const char *));
            break;
        case '%':
            put(&o, '%');
            break;
        case '\0': /* a lone '%' at the end */
            va_end(ap);
            return o.count;
        default: /* unknown conversion: print it as written */
            put(&o, '%');
            put(&o, *f);
            break;
        }
    }
    va_end(ap);
    return o.count;
}

struct buf {
    char *p;
    size_t size, used;
};

static void buf_sink(void *ctx, char c)
{
    struct buf *b = ctx;
    if (b->used + 1 < b->size)
        b->p[b->used] = c;
    b->used++;
}

int rt_snprintf(char *p, size_t size, const char *fmt, ...)
{
    struct buf b = {p, size, 0};
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vformat(buf_sink, &b, fmt, ap);
    va_end(ap);
    if (size)
        p[b.used < size ? b.used : size - 1] = '\0';
    return n;
}
