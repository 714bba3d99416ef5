#include "cpu/tlb_charge.h"

#include <string.h>

#include "cpu/mmu.h"
#include "machine.h"
#include "vmx/controls.h"
#include "vmx/ept.h"
#include "vmx/vmx.h"

#define ENTRY_P (1ull << 0)
#define ENTRY_PS (1ull << 7)
#define ENTRY_G (1ull << 8)
#define ADDR_MASK (((1ull << PHYS_ADDR_BITS) - 1) & ~0xFFFull)


/* Paging-structure entries in RAM, read straight from it (a walk
 * reads several; phys_read's general path cost more than the walk). */
static uint64_t ram_u64(const struct cpu *c, uint64_t pa)
{
    uint64_t v;
    memcpy(&v, c->m->ram + pa, 8);
    return v;
}

static uint32_t ram_u32(const struct cpu *c, uint64_t pa)
{
    uint32_t v;
    memcpy(&v, c->m->ram + pa, 4);
    return v;
}

/* gpa_refs() through the EPT. */
static bool gpa_refs_ept(struct cpu *c, uint64_t gpa, unsigned *refs,
                         uint64_t *hpa, uint64_t *page_size)
{
    unsigned cached_refs;
    if (vmx_ept_cached_shape(c, gpa, &cached_refs, hpa, page_size)) {
        *refs += cached_refs;
        return true;
    }
    struct ept_config cfg = c->vmx.ept_cfg;
    cfg.eptp &= ~EPTP_AD_ENABLE;
    cfg.read = vmx_read_host;
    cfg.write = NULL;
    cfg.ctx = c;
    struct ept_result r;
    /* Access 0: the walk's shape only, whatever the permissions. */
    ept_walk(&cfg, gpa, (enum ept_access)0, EPT_ORIGIN_GUEST_PAGING, &r);
    *refs += r.refs;
    *hpa = r.hpa;
    *page_size = r.page_size;
    return r.status == EPT_OK;
}

/* One guest-physical address through the EPT, counting its references
 * (none without EPT). The walk only reads: A/D flags are the real
 * walk's business (cpu/mmu.c). */
static inline bool gpa_refs(struct cpu *c, uint64_t gpa, unsigned *refs,
                            uint64_t *hpa, uint64_t *page_size)
{
    if (!tlb_charge_ept(c)) {
        *hpa = gpa;
        *page_size = 1ull << 30;
        return true;
    }
    return gpa_refs_ept(c, gpa, refs, hpa, page_size);
}

static enum tlbm_page page_class(uint64_t size)
{
    return size >= (1ull << 30) ? TLBM_1G
           : size >= (1ull << 21) ? TLBM_2M
                                  : TLBM_4K;
}

bool tlb_charge_walk(struct cpu *c, uint64_t linear, unsigned *refs,
                     enum tlbm_page *size, bool *global)
{
    *refs = 0;
    *global = false;
    uint64_t hpa, ept_size, guest_size = 1ull << 30;
    uint64_t gpa = linear & 0xFFFFFFFFull; /* paging off */
    if (c->cr0 & CR0_PG) {
        /* Levels, first index shift, index bits, entry bytes. 32-bit
         * paging has 4-byte entries; PAE's PDPTEs sit in registers
         * loaded with CR3 (SDM Vol. 3A 4.4.1), so its walk reads two. */
        int levels = 2, shift = 22, bits = 10;
        unsigned bytes = 4;
        uint64_t table = c->cr3 & 0xFFFFF000ull;
        if (c->long_mode) {
            levels = 4, shift = 39, bits = 9, bytes = 8;
            table = c->cr3 & ADDR_MASK;
        } else if (c->cr4 & CR4_PAE) {
            unsigned none = 0;
            uint64_t pdpte_gpa = (c->cr3 & 0xFFFFFFE0ull) +
                                 ((linear >> 30) & 3) * 8, pdpte;
            if (!gpa_refs(c, pdpte_gpa, &none, &hpa, &ept_size))
                return false;
            if (hpa >= c->m->ram_size || 8 > c->m->ram_size - hpa)
                return false;
            pdpte = ram_u64(c, hpa);
            if (!(pdpte & ENTRY_P))
                return false;
            levels = 2, shift = 21, bits = 9, bytes = 8;
            table = pdpte & ADDR_MASK;
        }
        for (int level = levels; level >= 1; level--) {
            uint64_t entry_gpa = table + ((linear >> shift) &
                                          ((1ull << bits) - 1)) * bytes;
            if (!gpa_refs(c, entry_gpa, refs, &hpa, &ept_size))
                return false;
            ++*refs;
            /* Only RAM: a second read of a device would not be harmless. */
            if (hpa >= c->m->ram_size || bytes > c->m->ram_size - hpa)
                return false;
            uint64_t e = bytes == 8 ? ram_u64(c, hpa) : ram_u32(c, hpa);
            if (!(e & ENTRY_P))
                return false;
            bool large = level > 1 && level < 4 && (e & ENTRY_PS) &&
                         (bytes == 8 || (c->cr4 & CR4_PSE));
            if (large || level == 1) {
                guest_size = 1ull << shift;
                *global = (e & ENTRY_G) && (c->cr4 & CR4_PGE);
                uint64_t base = e & (bytes == 4 ? 0xFFFFF000ull : ADDR_MASK);
                gpa = (base & ~(guest_size - 1)) | (linear & (guest_size - 1));
                break;
            }
            table = e & (bytes == 4 ? 0xFFFFF000ull : ADDR_MASK);
            shift -= bits;
        }
    }
    if (!gpa_refs(c, gpa, refs, &hpa, &ept_size))
        return false;
    /* A combined mapping is no larger than either of its pages. */
    *size = page_class(guest_size < ept_size ? guest_size : ept_size);
    return true;
}

void tlb_charge_access(struct cpu *c, uint64_t linear, bool fetch,
                       struct tlbm_tag tag)
{
    struct tlb_model *t = c->mtlb;
    uint64_t before = t->stats.cycles;
    const struct walk_memo *w = &c->walk_memo;
    if (!fetch && w->valid && w->page == linear >> 12) {
        /* The MMU walked this page for this access (cpu.h): a miss is
         * filled with that walk. */
        tlbm_lookup_walked(t, linear, fetch, tag, page_class(w->page_size),
                           w->global, w->refs);
    } else if (tlbm_lookup_other_page(t, linear, fetch, tag) == TLBM_MISS) {
        unsigned refs;
        enum tlbm_page size;
        bool global;
        if (tlb_charge_walk(c, linear, &refs, &size, &global))
            tlbm_fill(t, linear, fetch, tag, size, global, refs);
        else
            tlbm_fill_failed(t, refs);
    }
    c->cycles += t->stats.cycles - before;
}
