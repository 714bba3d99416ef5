/* The one growth rule of the recorder's buffers (trace, metric rows, JSON
 * text): double from a first size, never past a cap, so that a long run
 * cannot take host memory without bound. */
#ifndef L0_RECORD_GROW_H
#define L0_RECORD_GROW_H

#include <stdlib.h>

/* Returns `items` reallocated to hold at least `need` (> 0) elements of
 * `size` bytes, with *capacity updated; or NULL, with items and *capacity
 * unchanged (still the caller's), if need > max or memory ran out. */
static inline void *grow_to(void *items, size_t *capacity, size_t need,
                            size_t size, size_t first, size_t max)
{
    if (need <= *capacity)
        return items;
    if (need > max)
        return NULL;
    size_t want = *capacity ? *capacity : first;
    while (want < need)
        want *= 2;
    if (want > max)
        want = max;
    void *p = realloc(items, want * size);
    if (p)
        *capacity = want;
    return p;
}

#endif
