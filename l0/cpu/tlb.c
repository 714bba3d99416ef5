#include "cpu/tlb.h"

#include <stdbool.h>
#include <string.h>

static const uint64_t epoch_one = 1ull << TLB_EPOCH_SHIFT;

void tlb_init(struct tlb *t)
{
    memset(t->e, 0, sizeof t->e);
    t->epoch = t->epoch_last = epoch_one;
    t->globals = t->large = 0;
    t->wraps++;
}

static uint64_t entry_epoch(const struct tlb_entry *e)
{
    return e->tag & ~(epoch_one - 1);
}

/* Every current entry stops matching, except the global ones when
 * `keep_globals`, which are carried into the new epoch. When the 12-bit
 * epoch would wrap to 0 (the tag of an empty entry), the array is
 * cleared instead, keeping the same globals. */
static void new_epoch(struct tlb *t, bool keep_globals)
{
    uint64_t old = t->epoch;
    t->epoch_last += epoch_one;
    bool wrapped = t->epoch_last == 0;
    if (wrapped) {
        t->epoch_last = epoch_one;
        t->wraps++; /* every epoch set aside is gone with the clearing */
    }
    t->epoch = t->epoch_last;
    if (!wrapped && !(keep_globals && t->globals))
        return;
    for (unsigned i = 0; i < TLB_SIZE; i++) {
        struct tlb_entry *e = &t->e[i];
        if (keep_globals && (e->perm & TLB_GLOBAL) && entry_epoch(e) == old)
            e->tag = (e->tag & (epoch_one - 1)) | t->epoch;
        else if (wrapped)
            e->tag = 0;
    }
}

void tlb_flush_all(struct tlb *t)
{
    new_epoch(t, false);
    t->globals = t->large = 0;
    t->flushes++;
    t->generation++;
}

void tlb_set_aside(struct tlb *t, struct tlb_aside *a)
{
    *a = (struct tlb_aside){true, t->epoch, t->globals, t->large, t->wraps};
    tlb_flush_all(t);
}

void tlb_take_back(struct tlb *t, struct tlb_aside *a)
{
    if (!a->held || a->wraps != t->wraps) {
        a->held = false;
        tlb_flush_all(t);
        return;
    }
    a->held = false;
    t->epoch = a->epoch;
    t->globals = a->globals;
    t->large = a->large;
    t->flushes++;
    t->generation++;
}

/* MOV to CR3 keeps global translations when CR4.PGE = 1 (SDM Vol. 3A
 * 4.10.4.1); the caller decides whether that applies. The global entries
 * of the old epoch are carried into the new one. */
void tlb_flush_nonglobal(struct tlb *t)
{
    new_epoch(t, true);
    t->flushes++;
    t->generation++;
}

/* INVLPG: every entry of the page holding `linear`, whatever its size,
 * global or not. With no large page filled since the last full flush,
 * only the one slot of that page can hold it. */
void tlb_flush_page(struct tlb *t, uint64_t linear)
{
    t->generation++;
    if (!t->large) {
        struct tlb_entry *e = tlb_slot(t, linear);
        if (e->tag == tlb_tag(t, linear))
            e->tag = 0;
        return;
    }
    for (unsigned i = 0; i < TLB_SIZE; i++) {
        struct tlb_entry *e = &t->e[i];
        if (entry_epoch(e) == t->epoch &&
            ((e->tag << 12) & e->page_mask) == (linear & e->page_mask))
            e->tag = 0;
    }
}
