/* EPT02's tables in L0 memory (see tables.h). Pages come from L0's
 * allocator once and are then reused: L0's allocator never takes a page
 * back, and an INVEPT-heavy L1 would otherwise exhaust it. */
#include "ept-compress/tables.h"

#include <stdlib.h>
#include <string.h>

enum {
    ENTRIES = 512,
    PRESENT = 7, /* R, W or X: an entry is used (SDM 29.3.2) */
    TABLE_RWX = 7, /* a table entry allows all; the leaf decides */
};

static unsigned index_at(uint64_t gpa, unsigned level)
{
    return (gpa >> (12 + 9 * (level - 1))) & (ENTRIES - 1);
}

static bool is_table(uint64_t e, unsigned level)
{
    return (e & PRESENT) && level > 1 && !(e & EPT02_ENTRY_PS);
}

uint64_t ept02_tables_take(struct ept02 *x)
{
    uint64_t hpa;
    if (x->n_spare) {
        hpa = x->spare[--x->n_spare];
        memset(x->cfg.page(x->cfg.mem_ctx, hpa), 0, 4096);
    } else {
        hpa = x->cfg.alloc(x->cfg.mem_ctx);
        if (!hpa)
            return 0;
    }
    x->count.pages++;
    return hpa;
}

void ept02_tables_keep(struct ept02 *x, uint64_t hpa)
{
    x->count.pages--;
    if (x->n_spare == x->cap_spare) {
        unsigned cap = x->cap_spare ? 2 * x->cap_spare : 64;
        uint64_t *s = realloc(x->spare, cap * sizeof *s);
        if (!s) {
            /* Lose the page to L0 rather than fail an invalidation. */
            if (x->cfg.free)
                x->cfg.free(x->cfg.mem_ctx, hpa);
            return;
        }
        x->spare = s;
        x->cap_spare = cap;
    }
    x->spare[x->n_spare++] = hpa;
}

void ept02_tables_clear(struct ept02 *x, uint64_t hpa, unsigned level)
{
    uint64_t *t = x->cfg.page(x->cfg.mem_ctx, hpa);
    for (unsigned i = 0; i < ENTRIES; i++) {
        if (is_table(t[i], level)) {
            uint64_t child = t[i] & EPT02_ADDR_MASK;
            ept02_tables_clear(x, child, level - 1);
            ept02_tables_keep(x, child);
        }
        t[i] = 0;
    }
}

int ept02_tables_install(struct ept02 *x, uint64_t gpa, unsigned level,
                         uint64_t leaf)
{
    uint64_t table = x->root;
    for (unsigned l = 4; l > level; l--) {
        uint64_t *e = x->cfg.page(x->cfg.mem_ctx, table) + index_at(gpa, l);
        if (!is_table(*e, l)) {
            /* Empty, or a larger page: a new table. */
            uint64_t t = ept02_tables_take(x);
            if (!t)
                return -1;
            *e = t | TABLE_RWX;
        }
        table = *e & EPT02_ADDR_MASK;
    }
    uint64_t *e = x->cfg.page(x->cfg.mem_ctx, table) + index_at(gpa, level);
    if (is_table(*e, level)) {
        uint64_t child = *e & EPT02_ADDR_MASK;
        ept02_tables_clear(x, child, level - 1);
        ept02_tables_keep(x, child);
    }
    *e = leaf;
    return 0;
}
