/* The EPT translation cache's hits (ept_cache.h), inline: for eptmmu.c
 * and for the MMU (cpu/mmu.c), whose 2-D walks find their translations,
 * the paging-structure entries' in the cache's `tables`, without a
 * call. */
#ifndef L0_VMX_EPTMMU_H
#define L0_VMX_EPTMMU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "vmx/ept.h"
#include "vmx/ept_cache.h"

/* A cached walk `e` (or NULL) used for an access: if its permissions
 * allow the access, the counters and results as the walk would give
 * them, and true. */
static inline bool ept_cache_use(struct cpu *c,
                                 const struct ept_cache_entry *e,
                                 unsigned access, unsigned *perms)
{
    if (!e || (e->perms & access) != access)
        return false;
    c->vmx.ept_cache.hits++;
    c->vmx.ept_walk_refs += e->refs;
    c->walk_refs += e->refs;
    *perms = e->perms;
    c->vmx.gpa_page_size = 1ull << e->page_shift;
    return true;
}

/* vmx_translate_gpa() where the cache holds the walk, or false (then
 * that call decides): an entry of the guest's paging structures is
 * looked up in `tables` only. No walk is kept for an EPTP with accessed
 * and dirty flags. */
static inline bool vmx_translate_cached(struct cpu *c, uint64_t gpa,
                                        unsigned access,
                                        enum ept_origin origin, uint64_t *hpa,
                                        unsigned *perms)
{
    struct ept_cache *k = &c->vmx.ept_cache;
    uint64_t eptp = c->vmx.ept_cfg.eptp;
    if (origin != EPT_ORIGIN_GUEST_PAGING)
        return ept_cache_use(c, ept_cache_find(k, eptp, gpa, hpa), access,
                             perms);
    const struct ept_cache_entry *e = ept_cache_find_table(k, eptp, gpa);
    if (!ept_cache_use(c, e, access, perms))
        return false;
    *hpa = e->hpa_page << 12 | (gpa & 0xFFF);
    return true;
}

#endif
