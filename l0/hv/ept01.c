/* EPT01: L0's EPT for its guest, in L0 memory (SDM Vol. 3C 29.3 for the
 * entry formats). Guest RAM is identity-mapped with 2 MiB pages,
 * write-back; the rest of guest-physical space (MMIO, or nothing) is
 * mapped to the same host-physical addresses, uncached, when the guest
 * first touches it (an EPT violation exit), with the largest page that
 * holds no RAM (hv_ept_map_unbacked). With --l0-traps kvm, RAM too is
 * mapped on first touch, by 4 KiB pages (hv_ept_unmap_ram). */
#include <string.h>

#include "hv/hv.h"
#include "machine.h"
#include "vmx/vmx.h"

enum {
    EPT_RWX = 7,
    EPT_LARGE = 1 << 7,
    MT_UC = 0,
    MT_WB = 6,
};

#define ADDR_MASK 0x000FFFFFFFFFF000ull

/* An entry L0 may write: the CPU's EPT translation cache forgets what
 * it holds (vmx/ept_cache.h). */
static uint64_t *entry_at(struct hv *h, uint64_t table_hpa, unsigned index)
{
    vmx_ept_tables_changed(h->c);
    return (uint64_t *)(h->mem + (table_hpa - L0_MEM_BASE)) + index;
}

uint64_t hv_alloc_page(struct hv *h)
{
    if (h->mem_used + 4096 > L0_MEM_SIZE)
        return 0;
    uint64_t hpa = L0_MEM_BASE + h->mem_used;
    vmx_ept_tables_changed(h->c);
    memset(h->mem + h->mem_used, 0, 4096);
    h->mem_used += 4096;
    return hpa;
}

/* The table the entry points to, allocating it if absent. */
static uint64_t next_table(struct hv *h, uint64_t *e)
{
    if (!(*e & EPT_RWX)) {
        uint64_t t = hv_alloc_page(h);
        if (!t)
            return 0;
        *e = t | EPT_RWX;
    }
    return *e & ADDR_MASK;
}

static uint64_t *pde_for(struct hv *h, uint64_t gpa)
{
    uint64_t pdpt = next_table(h, entry_at(h, h->ept_root, (gpa >> 39) & 511));
    if (!pdpt)
        return NULL;
    uint64_t pd = next_table(h, entry_at(h, pdpt, (gpa >> 30) & 511));
    return pd ? entry_at(h, pd, (gpa >> 21) & 511) : NULL;
}

int hv_ept_map_page(struct hv *h, uint64_t gpa, bool uncached)
{
    uint64_t *pde = pde_for(h, gpa);
    if (!pde || (*pde & EPT_LARGE))
        return -1;
    uint64_t pt = next_table(h, pde);
    if (!pt)
        return -1;
    *entry_at(h, pt, (gpa >> 12) & 511) =
        (gpa & ADDR_MASK) | EPT_RWX | (uncached ? MT_UC : MT_WB) << 3;
    return 0;
}

/* 1 GiB, else 2 MiB, else 4 KiB: a page never overlaps RAM or a smaller
 * mapping made before (the local APIC's 4 KiB page). Host-physical
 * addresses outside RAM are the machine's bus, where unclaimed ones read
 * as all ones and drop writes, as without EPT; L0's own memory is not on
 * the bus, so no mapping reaches it. L0's tables thus grow with the GiB
 * regions that hold RAM or a 4 KiB mapping, not with the pages a guest
 * touches: touching every page above RAM costs a few tables. */
int hv_ept_map_unbacked(struct hv *h, uint64_t gpa)
{
    uint64_t table = h->ept_root;
    for (unsigned shift = 39;; shift -= 9) { /* PML4E, PDPTE, PDE, PTE */
        uint64_t *e = entry_at(h, table, (gpa >> shift) & 511);
        uint64_t base = gpa & ~((1ull << shift) - 1);
        if (shift <= 30 && !(*e & EPT_RWX) && base >= h->m->ram_size) {
            *e = base | EPT_RWX | (shift > 12 ? EPT_LARGE : 0) | MT_UC << 3;
            return 0;
        }
        if (shift == 12 || (*e & EPT_LARGE))
            return -1; /* mapped already: this access cannot have faulted */
        if (!(table = next_table(h, e)))
            return -1;
    }
}

int hv_ept_build(struct hv *h)
{
    if (!(h->ept_root = hv_alloc_page(h)))
        return -1;
    uint64_t ram = h->m->ram_size;
    for (uint64_t gpa = 0; gpa < ram; gpa += 1ull << 21) {
        uint64_t *pde = pde_for(h, gpa);
        if (!pde)
            return -1;
        *pde = gpa | EPT_RWX | EPT_LARGE | MT_WB << 3;
    }
    /* An odd --mem leaves the last 2 MiB page partly beyond RAM; that
     * part reaches the machine's bus, as the same addresses do without
     * EPT, so the guest sees no difference. */
    return hv_ept_map_page(h, 0xFEE00000, true);
}

/* --l0-traps kvm: RAM's 2 MiB pages dropped again (their tables stay),
 * so that each first touch of a page is an EPT violation that maps it
 * (hv_ept_map_page, from handlers.c). */
int hv_ept_unmap_ram(struct hv *h)
{
    for (uint64_t gpa = 0; gpa < h->m->ram_size; gpa += 1ull << 21) {
        uint64_t *pde = pde_for(h, gpa);
        if (!pde)
            return -1;
        *pde = 0;
    }
    return 0;
}
