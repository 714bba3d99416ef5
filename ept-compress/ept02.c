/* EPT02's life: creation, its roots (one per EPT12 pointer, a few kept,
 * least recently used replaced), vmcs02's EPT pointer, and the
 * invalidations (INVEPT). The fill is in compose.c. */
#include "ept-compress/ept02.h"

#include <stdlib.h>
#include <string.h>

#include "ept-compress/tables.h"

enum {
    EPTP_LOW_BITS = 0x3f,  /* memory type (2:0) and walk length - 1 (5:3) */
    EPTP_WB_WALK_4 = 6 | 3 << 3,
};

int ept02_init(struct ept02 *x, const struct ept02_config *cfg)
{
    memset(x, 0, sizeof *x);
    if (!cfg->alloc || !cfg->page || !cfg->read_l1 || !cfg->ept01.read)
        return -1;
    /* An execute-only EPT12 entry composes into an execute-only EPT02
     * entry, which the hardware must accept (SDM 29.3.3.1). Large pages
     * need no such rule: a page EPT02 cannot map is split (compose.c). */
    if ((cfg->ept12_cap & EPT_CAP_EXEC_ONLY) &&
        !(cfg->ept01.cap & EPT_CAP_EXEC_ONLY))
        return -1;
    x->cfg = *cfg;
    /* The first root now, so that vmcs02 always has one; the others
     * when an EPT12 needs them. */
    x->root = x->slot[0].root = ept02_tables_take(x);
    return x->root ? 0 : -1;
}

void ept02_destroy(struct ept02 *x)
{
    for (unsigned k = 0; k < EPT02_ROOTS; k++) {
        if (x->slot[k].root) {
            ept02_tables_clear(x, x->slot[k].root, 4);
            ept02_tables_keep(x, x->slot[k].root);
        }
    }
    for (unsigned i = 0; i < x->n_spare; i++)
        if (x->cfg.free)
            x->cfg.free(x->cfg.mem_ctx, x->spare[i]);
    free(x->spare);
    memset(x, 0, sizeof *x);
}

/* The slot for an EPT12 kept nowhere: an unused one (with its root
 * already, if any has one), else the least recently used, emptied.
 * Dropping cached translations is always allowed (SDM 29.4.3.2: a
 * processor may invalidate them at any time), so L1 cannot tell. */
static unsigned slot_for_new(struct ept02 *x)
{
    unsigned unused = EPT02_ROOTS, lru = EPT02_ROOTS;
    for (unsigned k = 0; k < EPT02_ROOTS; k++) {
        const struct ept02_root_slot *s = &x->slot[k];
        if (!s->used && (unused == EPT02_ROOTS ||
                         (s->root && !x->slot[unused].root)))
            unused = k;
        if (s->used && (lru == EPT02_ROOTS ||
                        s->last_used < x->slot[lru].last_used))
            lru = k;
    }
    if (unused < EPT02_ROOTS &&
        (x->slot[unused].root ||
         (x->slot[unused].root = ept02_tables_take(x))))
        return unused;
    /* Every root in use, or no page for another: a used slot always has
     * its root (slot 0's is made by ept02_init and used first). */
    ept02_tables_clear(x, x->slot[lru].root, 4);
    x->count.switches++;
    return lru;
}

enum eptp_check ept02_switch(struct ept02 *x, uint64_t ept12)
{
    enum eptp_check check = ept_check_eptp(ept12, x->cfg.ept12_cap,
                                           x->cfg.ept01.maxphyaddr);
    if (check != EPTP_OK)
        return check;
    unsigned k = 0;
    while (k < EPT02_ROOTS && !(x->slot[k].used && x->slot[k].ept12 == ept12))
        k++;
    if (k < EPT02_ROOTS && !(x->have_ept12 && k == x->current))
        x->count.root_hits++;
    if (k == EPT02_ROOTS)
        k = slot_for_new(x);
    struct ept02_root_slot *s = &x->slot[k];
    s->used = true;
    s->ept12 = ept12;
    s->last_used = ++x->clock;
    x->current = k;
    x->ept12 = ept12;
    x->root = s->root;
    x->have_ept12 = true;
    return EPTP_OK;
}

uint64_t ept02_root(const struct ept02 *x)
{
    uint64_t low = x->have_ept12 ? x->ept12 & EPTP_LOW_BITS : EPTP_WB_WALK_4;
    return x->root | low | (x->cfg.ad_flags ? EPTP_AD_ENABLE : 0);
}

/* Empties the roots whose EPT12 has the EP4TA of eptp, or all of them. */
static void empty_roots(struct ept02 *x, bool all, uint64_t eptp)
{
    bool emptied = false;
    for (unsigned k = 0; k < EPT02_ROOTS; k++) {
        const struct ept02_root_slot *s = &x->slot[k];
        if (s->root && (all || (s->used &&
                                !((eptp ^ s->ept12) & EPT02_ADDR_MASK)))) {
            ept02_tables_clear(x, s->root, 4);
            emptied = true;
        }
    }
    if (emptied)
        x->count.invalidations++;
}

void ept02_invalidate_all(struct ept02 *x)
{
    empty_roots(x, true, 0);
}

/* SDM 29.4.3.1: single-context INVEPT invalidates the mappings of one
 * EP4TA (EPTP bits 51:12), whichever roots hold them; global invalidates
 * all. */
void ept02_invept(struct ept02 *x, unsigned type, uint64_t eptp)
{
    switch (type) {
    case EPT02_INVEPT_SINGLE:
        empty_roots(x, false, eptp);
        break;
    case EPT02_INVEPT_GLOBAL:
        empty_roots(x, true, 0);
        break;
    default:
        break;
    }
}
