#include "cpu/tlb.h"

#include <string.h>

void tlb_flush_all(struct tlb *t)
{
    memset(t->e, 0, sizeof t->e);
    t->flushes++;
    t->generation++;
}

/* MOV to CR3 keeps global translations when CR4.PGE = 1 (SDM Vol. 3A
 * 4.10.4.1); the caller decides whether that applies. */
void tlb_flush_nonglobal(struct tlb *t)
{
    for (unsigned i = 0; i < TLB_SIZE; i++)
        if (!(t->e[i].perm & TLB_GLOBAL))
            t->e[i].tag = 0;
    t->flushes++;
    t->generation++;
}

/* INVLPG: every entry of the page holding `linear`, whatever its size,
 * global or not. */
void tlb_flush_page(struct tlb *t, uint64_t linear)
{
    t->generation++;
    for (unsigned i = 0; i < TLB_SIZE; i++) {
        struct tlb_entry *e = &t->e[i];
        if (e->tag && (((e->tag - 1) << 12) & e->page_mask) ==
                          (linear & e->page_mask))
            e->tag = 0;
    }
}
