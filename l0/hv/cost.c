#include "hv/cost.h"

#include <stdio.h>
#include <stdlib.h>

#include "cpu/tlb_model.h"
#include "hv/cost_profile.h"

const struct cost_profile *cost_default(void)
{
    static struct cost_profile p;
    static int loaded;
    if (!loaded) {
        char err[512];
        /* Built in and checked by the unit tests: failing here is a
         * broken build, not a user's mistake. */
        if (cost_profile_load(COST_DEFAULT_PROFILE, &p, NULL, err,
                              sizeof err) != 0) {
            fprintf(stderr, "turtles: the built-in cost profile: %s\n", err);
            abort();
        }
        loaded = 1;
    }
    return &p;
}

void cost_apply_mmu(const struct cost_profile *p, struct tlb_model *t)
{
    t->stlb_hit_cycles = p->stlb_hit;
    t->walk_ref_cycles = p->walk_ref;
}

uint32_t cost_handler(const struct cost_profile *p, uint32_t reason)
{
    uint32_t basic = reason & 0xFFFF;
    return basic < VMX_EXIT_REASON_LIMIT ? p->handler[basic]
                                         : p->handler_default;
}
