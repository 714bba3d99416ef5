/* printf-style formatting into any sink; pure, so it is also built and
 * tested on the host against the C library's snprintf. */
#ifndef RT_FORMAT_H
#define RT_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* A subset of C99 printf: flags - 0 # space +, width and precision (also
 * as *), length hh h l ll z, conversions d i u x X o c s p %. Returns the
 * number of characters produced. */
typedef void (*rt_sink)(void *ctx, char c);
int rt_vformat(rt_sink sink, void *ctx, const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
