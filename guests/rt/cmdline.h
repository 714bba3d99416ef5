/* Multiboot command lines: space-separated "key=value" tokens. The first
 * word may be the image's path (GRUB and QEMU put it there). Pure, so it
 * is also tested on the host. */
#ifndef RT_CMDLINE_H
#define RT_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

/* Copies the value of `key` into out (NUL-terminated, truncated to fit).
 * Returns 1 if the key is present, -1 if its value was truncated, 0 if the
 * key is absent. */
int rt_cmdline_get(const char *cmdline, const char *key, char *out,
                   size_t out_size);

/* The value of `key` as a number (decimal or 0x hex), or fallback when the
 * key is absent or not a number. */
uint64_t rt_cmdline_u64(const char *cmdline, const char *key,
                        uint64_t fallback);

/* Parses a whole string as decimal or 0x-prefixed hex, without overflow.
 * Returns 1 on success, 0 otherwise. */
int rt_parse_u64(const char *s, uint64_t *out);

/* One key a program accepts on its command line: a number from min to
 * max, or, when `words` is set, one of its space-separated words. */
struct rt_arg {
    const char *key;
    uint64_t min, max;
    const char *words;
};

/* Checks a whole command line against the keys a program accepts: every
 * word after the image path must be KEY=VALUE with a known key, given
 * once, and a value the key allows. Returns 1, or 0 with a one-line
 * reason in err. Afterwards rt_cmdline_get/_u64 read the values. */
int rt_args_check(const char *cmdline, const struct rt_arg *args,
                  size_t count, char *err, size_t err_size);

#endif
