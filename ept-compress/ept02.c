/* EPT02's life: creation, the EPT12 it caches, its EPT pointer, and the
 * invalidations (INVEPT, a different EPT12). The fill is in compose.c. */
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
    x->root = ept02_tables_take(x);
    return x->root ? 0 : -1;
}

void ept02_destroy(struct ept02 *x)
{
    if (x->root) {
        ept02_tables_clear(x, x->root, 4);
        ept02_tables_keep(x, x->root);
    }
    for (unsigned i = 0; i < x->n_spare; i++)
        if (x->cfg.free)
            x->cfg.free(x->cfg.mem_ctx, x->spare[i]);
    free(x->spare);
    memset(x, 0, sizeof *x);
}

/* A different EPT12 means a different L2 address space: EPT02 holds only
 * one, so it is emptied. Dropping cached translations is always allowed
 * (SDM 29.4.3.2: a processor may invalidate them at any time), so L1
 * cannot tell. ACRN keeps a few shadow EPTs keyed by EPTP instead; l1vmm
 * runs one L2 per EPT12, where that buys nothing. */
enum eptp_check ept02_switch(struct ept02 *x, uint64_t ept12)
{
    enum eptp_check check = ept_check_eptp(ept12, x->cfg.ept12_cap,
                                           x->cfg.ept01.maxphyaddr);
    if (check != EPTP_OK)
        return check;
    if (x->have_ept12 && x->ept12 == ept12)
        return EPTP_OK;
    if (x->have_ept12) {
        ept02_tables_clear(x, x->root, 4);
        x->count.switches++;
    }
    x->ept12 = ept12;
    x->have_ept12 = true;
    return EPTP_OK;
}

uint64_t ept02_root(const struct ept02 *x)
{
    uint64_t low = x->have_ept12 ? x->ept12 & EPTP_LOW_BITS : EPTP_WB_WALK_4;
    return x->root | low | (x->cfg.ad_flags ? EPTP_AD_ENABLE : 0);
}

void ept02_invalidate_all(struct ept02 *x)
{
    ept02_tables_clear(x, x->root, 4);
    x->count.invalidations++;
}

/* SDM 29.4.3.1: single-context INVEPT invalidates the mappings of one
 * EP4TA (EPTP bits 51:12); global invalidates all. EPT02 holds only the
 * current EPT12's, so another EP4TA has nothing here to invalidate. */
void ept02_invept(struct ept02 *x, unsigned type, uint64_t eptp)
{
    switch (type) {
    case EPT02_INVEPT_SINGLE:
        if (x->have_ept12 && !((eptp ^ x->ept12) & EPT02_ADDR_MASK))
            ept02_invalidate_all(x);
        break;
    case EPT02_INVEPT_GLOBAL:
        ept02_invalidate_all(x);
        break;
    default:
        break;
    }
}
