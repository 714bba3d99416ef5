/* EPT for the MMU: walks the EPT of the current VMCS for every
 * guest-physical address in VMX non-root operation and turns a failure
 * into the VM exit the architecture prescribes (SDM Vol. 3C 29.3.3). */
#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "machine.h"
#include "vmx/eptmmu.h"
#include "vmx/exit_cond.h"
#include "vmx/vmx.h"

/* Structures VMX reads by physical address (EPT tables, bitmaps, VMCS
 * link targets) live in the machine's RAM, or in memory only L0 has
 * (above RAM). Anything else fails: the caller treats it as all ones. */
bool vmx_read_host(void *ctx, uint64_t hpa, void *dst, unsigned len)
{
    struct cpu *c = ctx;
    if (hpa < c->m->ram_size && len <= c->m->ram_size - hpa) {
        phys_read(c, hpa, len, dst);
        return true;
    }
    return c->vmx.l0_read && c->vmx.l0_read(c->vmx.l0_ctx, hpa, dst, len);
}

static bool ept_write(void *ctx, uint64_t hpa, const void *src, unsigned len)
{
    struct cpu *c = ctx;
    if (hpa >= c->m->ram_size || len > c->m->ram_size - hpa)
        return false;
    phys_write(c, hpa, len, src);
    return true;
}

void vmx_ept_tables_changed(struct cpu *c)
{
    ept_cache_invalidate(&c->vmx.ept_cache);
    vmx_tlb_forget(c); /* its translations went through those tables */
}

/* The walk's reader, noting whether any entry came from the machine's
 * RAM (which makes the walk one the cache may not keep). */
struct walk_reader {
    struct cpu *c;
    bool read_ram;
};

static bool walk_read(void *ctx, uint64_t hpa, void *dst, unsigned len)
{
    struct walk_reader *w = ctx;
    w->read_ram |= hpa < w->c->m->ram_size;
    return vmx_read_host(w->c, hpa, dst, len);
}

static bool walk_write(void *ctx, uint64_t hpa, const void *src, unsigned len)
{
    struct walk_reader *w = ctx;
    return ept_write(w->c, hpa, src, len);
}

/* A cached walk of this EPTP and page that allows the access: the
 * translation and the counters as the walk would give them. */
static const struct ept_cache_entry *cache_hit(struct cpu *c, uint64_t gpa,
                                               unsigned access, uint64_t *hpa,
                                               unsigned *perms)
{
    const struct ept_cache_entry *e =
        ept_cache_find(&c->vmx.ept_cache, c->vmx.ept_cfg.eptp, gpa, hpa);
    return ept_cache_use(c, e, access, perms) ? e : NULL;
}

/* A walk to a large page goes in for its 2 MiB piece (ept_cache.h). */
static const struct ept_cache_entry *cache_fill(struct cpu *c, uint64_t gpa,
                                                const struct ept_result *r)
{
    struct ept_cache *k = &c->vmx.ept_cache;
    if (k->generation == 0) /* never invalidated yet: 0 marks empty */
        k->generation = 1;
    bool large = r->page_size > 4096;
    uint64_t piece = large ? EPT_CACHE_PIECE_PAGES - 1 : 0;
    uint64_t eptp = c->vmx.ept_cfg.eptp;
    struct ept_cache_entry *e = large ? ept_cache_large_slot(k, eptp, gpa)
                                      : ept_cache_slot(k, eptp, gpa);
    *e = (struct ept_cache_entry){
            .eptp = eptp, .gpa_page = (gpa >> 12) & ~piece,
            .hpa_page = (r->hpa >> 12) & ~piece, .generation = k->generation,
            .perms = (uint8_t)r->perms, .refs = (uint8_t)r->refs,
            .page_shift = (uint8_t)__builtin_ctzll(r->page_size)};
    return e;
}

/* A walk for a paging-structure entry, hit or kept, goes in for its
 * 4 KiB page too (ept_cache.h's `tables`). */
static void table_fill(struct cpu *c, uint64_t gpa, uint64_t hpa,
                       const struct ept_cache_entry *e)
{
    struct ept_cache_entry *t =
        ept_cache_table_slot(&c->vmx.ept_cache, e->eptp, gpa);
    *t = *e;
    t->gpa_page = gpa >> 12;
    t->hpa_page = hpa >> 12;
}

bool vmx_ept_cached_shape(struct cpu *c, uint64_t gpa, unsigned *refs,
                          uint64_t *hpa, uint64_t *page_size)
{
    if (c->vmx.ept_cfg.eptp & EPTP_AD_ENABLE)
        return false;
    const struct ept_cache_entry *e =
        ept_cache_find(&c->vmx.ept_cache, c->vmx.ept_cfg.eptp, gpa, hpa);
    if (!e)
        return false;
    *refs = e->refs;
    *page_size = 1ull << e->page_shift;
    return true;
}

bool vmx_translate_gpa(struct cpu *c, uint64_t gpa, unsigned access,
                       enum ept_origin origin, uint64_t linear,
                       uint64_t *hpa, unsigned *perms)
{
    bool ad = c->vmx.ept_cfg.eptp & EPTP_AD_ENABLE;
    bool table = origin == EPT_ORIGIN_GUEST_PAGING;
    const struct ept_cache_entry *e =
        ad ? NULL : cache_hit(c, gpa, access, hpa, perms);
    if (e) {
        if (table)
            table_fill(c, gpa, *hpa, e);
        return true;
    }
    struct walk_reader reader = {c, false};
    struct ept_config cfg = c->vmx.ept_cfg;
    cfg.read = walk_read;
    cfg.write = walk_write;
    cfg.ctx = &reader;
    struct ept_result r;
    ept_walk(&cfg, gpa, (enum ept_access)access, origin, &r);
    c->vmx.ept_cache.walks++;
    c->vmx.ept_walk_refs += r.refs;
    c->walk_refs += r.refs;
    if (r.status == EPT_OK) {
        if (!ad && !reader.read_ram) {
            e = cache_fill(c, gpa, &r);
            if (table)
                table_fill(c, gpa, r.hpa, e);
        }
        *hpa = r.hpa;
        *perms = r.perms;
        c->vmx.gpa_page_size = r.page_size;
        return true;
    }
    bool violation = r.status == EPT_VIOLATION;
    vmx_request_exit(c, violation ? VMX_EXIT_EPT_VIOLATION
                                  : VMX_EXIT_EPT_MISCONFIG,
                     violation ? r.qualification : 0);
    c->vmx.request.guest_physical = gpa;
    /* Bit 7 of the qualification says the linear address is valid. */
    if (violation && (r.qualification & (1u << 7)))
        c->vmx.request.guest_linear = linear;
    return false;
}
