#include "cpu/mmu.h"

#include <string.h>

#include "cpu/decode.h"
#include "cpu/tlb_charge.h"
#include "machine.h"
#include "vmx/eptmmu.h"
#include "vmx/vmx.h"

#define PHYS_MASK ((1ull << PHYS_ADDR_BITS) - 1)
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_XD (1ull << 63)

/* ---- physical memory ---------------------------------------------- */

/* Writes guest RAM at `dst` (physical `pa`), dropping the decoded code
 * of the pages it changes. A write of the bytes already there changes
 * no instruction and drops nothing: a guest that runs away through
 * zeroed memory executes `add [eax], al` with AL = 0 over its own code
 * page, and dropping the page at every such write made each of its
 * instructions decode, and its page allocate, anew. */
static void ram_write(struct cpu *c, uint64_t pa, uint8_t *dst,
                      const void *src, unsigned size)
{
    for (uint64_t page = pa >> 12; page <= (pa + size - 1) >> 12; page++) {
        uint8_t kind = c->code_map[page];
        if (!kind || memcmp(dst, src, size) == 0)
            continue;
        if (kind & CODE_MAP_CODE)
            dcache_invalidate_page(c->dcache, page);
        if (kind & CODE_MAP_TABLE)
            c->walks.generation++; /* a kept walk may have read it */
    }
    memcpy(dst, src, size);
}

void phys_read(struct cpu *c, uint64_t pa, unsigned size, void *dst)
{
    struct machine *m = c->m;
    if (pa < m->ram_size && size <= m->ram_size - pa) {
        memcpy(dst, m->ram + pa, size);
        return;
    }
    /* MMIO, or nothing: device registers are read in naturally sized
     * pieces; an unclaimed address reads as all ones. */
    uint8_t *out = dst;
    while (size) {
        unsigned n = size >= 8 && !(pa & 7) ? 8 : size >= 4 && !(pa & 3) ? 4
                     : size >= 2 && !(pa & 1) ? 2 : 1;
        uint64_t v = ~0ull;
        if (pa < m->ram_size)
            v = m->ram[pa];
        else
            bus_read(&m->mmio, pa, n, &v);
        memcpy(out, &v, n);
        out += n;
        pa += n;
        size -= n;
    }
}

void phys_write(struct cpu *c, uint64_t pa, unsigned size, const void *src)
{
    struct machine *m = c->m;
    if (pa < m->ram_size && size <= m->ram_size - pa) {
        ram_write(c, pa, m->ram + pa, src, size);
        return;
    }
    const uint8_t *in = src;
    while (size) {
        unsigned n = size >= 8 && !(pa & 7) ? 8 : size >= 4 && !(pa & 3) ? 4
                     : size >= 2 && !(pa & 1) ? 2 : 1;
        uint64_t v = 0;
        memcpy(&v, in, n);
        if (pa < m->ram_size) {
            ram_write(c, pa, m->ram + pa, &v, 1);
        } else {
            bus_write(&m->mmio, pa, n, v);
            c->next_event_check = 0; /* a device may now interrupt */
        }
        in += n;
        pa += n;
        size -= n;
    }
}

uint64_t phys_read_u64(struct cpu *c, uint64_t pa)
{
    uint64_t v;
    phys_read(c, pa, 8, &v);
    return v;
}

static uint32_t phys_read_u32(struct cpu *c, uint64_t pa)
{
    uint32_t v;
    phys_read(c, pa, 4, &v);
    return v;
}

/* A paging-structure entry of `size` bytes at `pa`: straight from RAM
 * where it lies there (every walk reads four), else as phys_read()
 * answers (MMIO, or all ones). *all_ram is cleared if it is not RAM. */
static inline uint64_t read_entry(struct cpu *c, uint64_t pa, unsigned size,
                                  bool *all_ram)
{
    const struct machine *m = c->m;
    if (__builtin_expect(pa < m->ram_size && 8 <= m->ram_size - pa, 1)) {
        uint64_t v;
        memcpy(&v, m->ram + pa, 8);
        return size == 8 ? v : (uint32_t)v;
    }
    *all_ram &= pa < m->ram_size && size <= m->ram_size - pa;
    return size == 8 ? phys_read_u64(c, pa) : phys_read_u32(c, pa);
}

/* ---- the page walk (SDM Vol. 3A 4.3 to 4.5) ------------------------ */

struct walk {
    uint64_t entry_gpa[4]; /* where each level's entry lives, as the guest
                            * sees it (before the EPT) */
    uint64_t entry_pa[4];  /* and where it was read (after the EPT) */
    uint64_t entry[4];
    unsigned entry_size;  /* 4 or 8 bytes */
    int levels;
    uint64_t phys;        /* translated address */
    uint64_t page_mask;
    uint32_t perm;
    /* Some level's accessed flag is clear, PAE PDPTEs aside (they have
     * none): set_accessed_dirty() has work then. */
    bool a_clear;
    bool all_ram; /* every entry was read from RAM (walk_memo_keep) */
};

/* Reserved bits of a paging-structure entry of 4-level or PAE paging
 * (8 bytes, not a PAE PDPTE), from MAXPHYADDR, NXE and the page size
 * (SDM Vol. 3A 4.5.4, Table 4-19 and the figures): `any` those of every
 * level, from reserved_any(). */
static inline uint64_t reserved_bits(uint64_t any, int level, bool large)
{
    if (level == 4)
        return any | PTE_PS;
    if (level == 3 && large)
        return any | 0x3FFFE000ull; /* 1 GiB page: bits 29:13 */
    if (level == 2 && large)
        return any | 0x1FE000ull;   /* 2 MiB page: bits 20:13 */
    return any;
}

static inline uint64_t reserved_any(const struct cpu *c)
{
    uint64_t rsvd = ~PHYS_MASK & ((1ull << 52) - 1); /* bits 51:MAXPHYADDR */
    return c->efer & EFER_NXE ? rsvd : rsvd | PTE_XD;
}

/* CR2 is written when the #PF is delivered, not here: a page fault that
 * a VMM intercepts leaves CR2 alone (SDM Vol. 3C 28.1). */
static bool page_fault(struct cpu *c, uint64_t lin, uint32_t error)
{
    if (!c->exc.raised)
        c->fault_address = lin;
    return cpu_fault(c, VEC_PF, error);
}

static uint32_t fault_bits(const struct cpu *c, enum access acc, bool user)
{
    uint32_t e = 0;
    if (acc == ACC_WRITE)
        e |= PFEC_W;
    if (user)
        e |= PFEC_U;
    /* I/D reports fetches only when NX is enabled (SDM Vol. 3A 4.7). */
    if (acc == ACC_EXEC && (c->efer & EFER_NXE))
        e |= PFEC_I;
    return e;
}

static bool access_allowed(const struct cpu *c, uint32_t perm,
                           enum access acc, bool user)
{
    if (user && !(perm & TLB_USER))
        return false;
    if (acc == ACC_WRITE && !(perm & TLB_WRITE) &&
        (user || (c->cr0 & CR0_WP)))
        return false;
    if (acc == ACC_EXEC && (perm & TLB_NX))
        return false;
    return true;
}

/* Guest-physical to host-physical: the identity, except in VMX non-root
 * operation with EPT, where every guest-physical address of the walk and
 * the final one go through the EPT (the "2D walk", SDM Vol. 3C 29.3).
 * *ept_perms gets the EPT's R/W/X for the page (all without EPT). */
static inline __attribute__((always_inline)) bool
guest_phys(struct cpu *c, uint64_t gpa, unsigned ept_access,
           enum ept_origin origin, uint64_t lin, uint64_t *hpa,
           unsigned *ept_perms)
{
    if (!(c->vmx.nonroot && c->vmx.ept)) {
        *hpa = gpa;
        *ept_perms = EPT_R | EPT_W | EPT_X;
    } else if (!vmx_translate_cached(c, gpa, ept_access, origin, hpa,
                                     ept_perms) &&
               !vmx_translate_gpa(c, gpa, ept_access, origin, lin, hpa,
                                  ept_perms)) {
        return false;
    }
    /* "Virtualize APIC accesses": the physical address decides, after
     * the EPT (SDM Vol. 3C 29.4, 29.4.6 for paging-structure walks). */
    if (__builtin_expect(vmx_on_apic_access_page(&c->vmx, *hpa), 0))
        return vmx_apic_access(c, origin == EPT_ORIGIN_LINEAR, lin, gpa,
                               ept_access);
    return true;
}

/* The paging modes (SDM Vol. 3A 4.1.1). 4-level and PAE paging share the
 * 8-byte entry format; 32-bit paging has 4-byte entries and no XD. */
enum paging_mode { PAGING_32BIT, PAGING_PAE, PAGING_4LEVEL };

/* The walk in one paging mode. walk_tables() inlines it once per mode,
 * so that the levels, index widths and entry size are constants to the
 * compiler, and 4-level paging once more for VMX root operation
 * (`root`: no EPT and no APIC-access page, every table's address is its
 * own; host speed only: the same walk). PAE's PDPTEs carry no access
 * rights. */
static inline __attribute__((always_inline)) bool
walk_mode(struct cpu *c, uint64_t lin, enum access acc, bool user,
          struct walk *w, enum paging_mode mode, bool root)
{
    uint32_t err = fault_bits(c, acc, user);
    const unsigned entry_size = mode == PAGING_32BIT ? 4 : 8;
    const int top = mode == PAGING_4LEVEL ? 4 : mode == PAGING_PAE ? 3 : 2;
    int shift = mode == PAGING_4LEVEL ? 39 : mode == PAGING_PAE ? 30 : 22;
    uint64_t table = mode == PAGING_4LEVEL ? c->cr3 & PHYS_MASK & ~0xFFFull
                     : mode == PAGING_PAE  ? c->cr3 & 0xFFFFFFE0ull
                                           : c->cr3 & 0xFFFFF000ull;
    uint64_t rsvd_any = entry_size == 8 ? reserved_any(c) : 0;
    /* The AND of the entries' U/S, R/W and A flags and the OR of their
     * XD flags, over every level with access rights (not PAE PDPTEs). */
    uint64_t all = ~0ull, any = 0;

    w->entry_size = entry_size;
    w->levels = 0;
    /* Unrolled: each level's index width, shift and checks constants. */
#pragma GCC unroll 4
    for (int level = top; level >= 1; level--) {
        bool pae_pdpte = mode == PAGING_PAE && level == 3;
        unsigned index_bits = pae_pdpte ? 2 : entry_size == 8 ? 9 : 10;
        uint64_t index = (lin >> shift) & ((1ull << index_bits) - 1);
        uint64_t gpa = table + index * entry_size, pa = gpa;
        unsigned ept_perms;
        if (!root && !guest_phys(c, gpa, EPT_ACCESS_READ,
                                 EPT_ORIGIN_GUEST_PAGING, lin, &pa,
                                 &ept_perms))
            return false; /* a VM exit is pending */
        uint64_t e = read_entry(c, pa, entry_size, &w->all_ram);
        c->walk_refs++;
        w->entry_gpa[w->levels] = gpa;
        w->entry_pa[w->levels] = pa;
        w->entry[w->levels++] = e;

        if (!(e & PTE_P))
            return page_fault(c, lin, err);
        bool large = level > 1 && !pae_pdpte && (e & PTE_PS) &&
                     (entry_size == 8 || (c->cr4 & CR4_PSE));
        uint64_t rsvd;
        if (entry_size == 4)
            rsvd = large ? 0x3FE000ull : 0; /* no PSE-36: bits 21:13 */
        else if (pae_pdpte)
            rsvd = (~PHYS_MASK & ((1ull << 52) - 1)) | 0x1E6ull | PTE_XD;
        else
            rsvd = reserved_bits(rsvd_any, level, large);
        if (e & rsvd)
            return page_fault(c, lin, err | PFEC_P | PFEC_RSVD);
        if (!pae_pdpte) {
            all &= e;
            any |= e;
        }
        if (large || level == 1) {
            uint64_t size = 1ull << shift;
            uint64_t base = e & PHYS_MASK & ~(size - 1);
            if (entry_size == 4)
                base = e & 0xFFFFFFFFull & ~(size - 1);
            w->phys = base | (lin & (size - 1));
            w->page_mask = ~(size - 1);
            uint32_t perm = (all & PTE_U ? TLB_USER : 0) |
                            (all & PTE_W ? TLB_WRITE : 0);
            if (entry_size == 8 && (any & PTE_XD))
                perm |= TLB_NX;
            if (e & PTE_D)
                perm |= TLB_DIRTY;
            if ((e & PTE_G) && (c->cr4 & CR4_PGE))
                perm |= TLB_GLOBAL;
            w->perm = perm;
            w->a_clear = !(all & PTE_A);
            return true;
        }
        table = e & PHYS_MASK & ~0xFFFull;
        if (entry_size == 4)
            table = e & 0xFFFFF000ull;
        shift -= pae_pdpte ? 9 : (int)index_bits;
    }
    return false; /* not reached: level 1 always ends the walk */
}

static bool walk_tables(struct cpu *c, uint64_t lin, enum access acc,
                        bool user, struct walk *w)
{
    if (c->long_mode)
        return c->vmx.nonroot
                   ? walk_mode(c, lin, acc, user, w, PAGING_4LEVEL, false)
                   : walk_mode(c, lin, acc, user, w, PAGING_4LEVEL, true);
    if (c->cr4 & CR4_PAE)
        return walk_mode(c, lin, acc, user, w, PAGING_PAE, false);
    return walk_mode(c, lin, acc, user, w, PAGING_32BIT, false);
}

/* Sets accessed flags on every level and dirty on the leaf for writes
 * (SDM Vol. 3A 4.8). PAE PDPTEs have no accessed flag. */
static bool set_accessed_dirty(struct cpu *c, struct walk *w, bool write,
                               uint64_t lin, bool *wrote)
{
    bool leaf_dirty = w->entry[w->levels - 1] & PTE_D;
    if (!w->a_clear && (!write || leaf_dirty))
        return true; /* every flag is set already: nothing to write */
    bool pae = !c->long_mode && (c->cr4 & CR4_PAE);
    for (int i = pae ? 1 : 0; i < w->levels; i++) {
        uint64_t e = w->entry[i] | PTE_A;
        if (write && i == w->levels - 1) {
            e |= PTE_D;
            w->perm |= TLB_DIRTY;
        }
        if (e == w->entry[i])
            continue;
        /* Under EPT the update is a write to the guest's table. */
        uint64_t pa;
        unsigned perms;
        if (!guest_phys(c, w->entry_gpa[i], EPT_ACCESS_WRITE,
                        EPT_ORIGIN_GUEST_PAGING, lin, &pa, &perms))
            return false;
        phys_write(c, pa, w->entry_size, &e);
        *wrote = true;
    }
    return true;
}

/* Keeps what a successful walk found in the modeled TLB's terms
 * (cpu.h, walk_memo), when tlb_charge_walk() would read the same
 * entries now and so count the same: it reads only RAM (a device's
 * register may answer differently twice), nothing was written since
 * the walk (no A/D flag of the guest's tables, and no EPT walk with
 * accessed and dirty flags, whose writes could land in a table), and
 * it is not PAE paging, whose PDPTE the model does not count. `refs`
 * are the walk's references without those of the A/D updates. */
static void walk_memo_keep(struct cpu *c, const struct walk *w,
                           uint64_t lin, unsigned refs, bool wrote)
{
    bool paging = c->cr0 & CR0_PG, ept = c->vmx.nonroot && c->vmx.ept;
    if (wrote || (paging && !c->long_mode && (c->cr4 & CR4_PAE)) ||
        (ept && (c->vmx.ept_cfg.eptp & EPTP_AD_ENABLE)))
        return;
    if (!w->all_ram)
        return;
    /* Without paging the model sees one 1 GiB guest page (its walk). */
    uint64_t guest_size = paging ? ~w->page_mask + 1 : 1ull << 30;
    uint64_t ept_size = ept ? c->vmx.gpa_page_size : 1ull << 30;
    c->walk_memo = (struct walk_memo){
        .valid = true, .global = w->perm & TLB_GLOBAL, .refs = refs,
        .page = lin >> 12,
        .page_size = guest_size < ept_size ? guest_size : ept_size};
}

/* ---- the walk cache (cpu/tlb.h) ----------------------------------- */

/* What a walk's result depends on besides CR3, the EPTP and the
 * APIC-access page: the paging mode, NXE (reserved bits), PGE (global
 * translations), VMX non-root operation and EPT (how each table's
 * address is translated). Bit 0 is set: an empty entry (0) never
 * matches. CR0.WP, the CPL and the access are checked on the result. */
static inline uint64_t walk_mode_key(const struct cpu *c)
{
    return 1 | (c->long_mode ? 2 : 0) | (c->efer & EFER_NXE ? 4 : 0) |
           (c->cr4 & (CR4_PSE | CR4_PAE | CR4_PGE)) |
           (c->vmx.nonroot ? 1u << 8 : 0) | (c->vmx.ept ? 1u << 9 : 0);
}

static inline struct walk_cache_entry *walk_cache_slot(struct cpu *c,
                                                       uint64_t lin)
{
    uint64_t page = lin >> 12;
    return &c->walks.e[(page ^ (page >> WALK_CACHE_BITS) ^ (c->cr3 >> 12)) &
                       (WALK_CACHE_SIZE - 1)];
}

/* The kept walk for `lin` made in this context, if its result allows
 * this access and the walk would write nothing for it; else NULL, and
 * the walk decides (a fault, or the dirty flag to set). */
static const struct walk_cache_entry *
walk_cache_find(struct cpu *c, uint64_t lin, enum access acc, bool user)
{
    const struct walk_cache_entry *e = walk_cache_slot(c, lin);
    if (e->page != lin >> 12 || e->generation != c->walks.generation ||
        e->mode != walk_mode_key(c) || e->cr3 != c->cr3 ||
        e->eptp != c->vmx.ept_cfg.eptp ||
        e->ept_generation != c->vmx.ept_cache.generation ||
        e->apic_page != c->vmx.apic_access_page)
        return NULL;
    if (!access_allowed(c, e->perm, acc, user) ||
        (acc == ACC_WRITE && !(e->perm & TLB_DIRTY)))
        return NULL;
    return e;
}

/* The walk for `lin` from the cache (walk_cache_find): w gets its
 * result and the counters what the walk would have added (its own and
 * the EPT cache hits of its tables' translations). Otherwise false, and
 * the caller walks. */
static bool walk_cached(struct cpu *c, uint64_t lin, enum access acc,
                        bool user, struct walk *w)
{
    const struct walk_cache_entry *e = walk_cache_find(c, lin, acc, user);
    if (!e)
        return false;
    c->walk_refs += e->refs;
    c->vmx.ept_walk_refs += e->ept_refs;
    c->vmx.ept_cache.hits += e->ept_hits;
    c->walks.hits++;
    w->phys = e->gpa | (lin & 0xFFF);
    w->page_mask = e->page_mask;
    w->perm = e->perm;
    return true;
}

/* Keeps a successful walk that allowed its access, `refs` entries read
 * (`ept_refs` of them the EPT's), when the next walk for the same page
 * in the same context is sure to read and find the same until a page
 * it read from is written: it wrote nothing (no accessed or dirty flag
 * of the guest's, no EPT with accessed and dirty flags), read only RAM,
 * and under EPT every table's translation is one the EPT cache holds
 * (its generation, in the key, changes with the EPT tables: ept_cache.h);
 * no table lies on the APIC-access page (an access there may exit). The
 * pages read from are marked, so that a write to one is heard of. */
static void walk_cache_keep(struct cpu *c, uint64_t lin, const struct walk *w,
                            unsigned refs, unsigned ept_refs, bool wrote)
{
    bool ept = c->vmx.nonroot && c->vmx.ept;
    uint64_t eptp = c->vmx.ept_cfg.eptp;
    if (wrote || !w->all_ram || (ept && (eptp & EPTP_AD_ENABLE)) ||
        refs > UINT8_MAX)
        return;
    /* Kept at the second walk of a page in a context: the first leaves
     * only a mark that matches no lookup (mode 0). Walks that come back
     * are those after flushes (an L1 without VPID: every transition);
     * a walk over more pages than the host TLB holds (memwalk) seldom
     * comes back to its slot, and keeping each cost it a sixth more. */
    struct walk_cache_entry *slot = walk_cache_slot(c, lin);
    if (!c->walks.keep_first &&
        (slot->page != lin >> 12 || slot->cr3 != c->cr3)) {
        slot->page = lin >> 12; /* the rest is stale, and mode 0 */
        slot->cr3 = c->cr3;
        slot->mode = 0;
        return;
    }
    for (int i = 0; i < w->levels; i++) {
        if (vmx_on_apic_access_page(&c->vmx, w->entry_pa[i]))
            return;
        const struct ept_cache_entry *t =
            ept ? ept_cache_find_table(&c->vmx.ept_cache, eptp,
                                       w->entry_gpa[i])
                : NULL;
        if (ept && (!t || !(t->perms & EPT_ACCESS_READ) ||
                    t->hpa_page != w->entry_pa[i] >> 12))
            return;
    }
    for (int i = 0; i < w->levels; i++)
        dcache_mark_table(c->dcache, w->entry_pa[i] >> 12);
    *slot = (struct walk_cache_entry){
        .page = lin >> 12, .cr3 = c->cr3, .eptp = eptp,
        .apic_page = c->vmx.apic_access_page, .mode = walk_mode_key(c),
        .generation = c->walks.generation,
        .ept_generation = c->vmx.ept_cache.generation,
        .gpa = w->phys & ~0xFFFull, .page_mask = w->page_mask,
        .perm = w->perm, .refs = (uint8_t)refs, .ept_refs = (uint8_t)ept_refs,
        .ept_hits = (uint8_t)(ept ? w->levels : 0)};
}

void mmu_forget_walks(struct cpu *c) { c->walks.generation++; }

/* `memo`: keep the walk for the modeled TLB (walk_memo_keep). */
static struct tlb_entry *translate(struct cpu *c, uint64_t lin,
                                   enum access acc, bool user, bool memo)
{
    struct tlb_entry *t = tlb_slot(&c->tlb, lin);
    if (t->tag == tlb_tag(&c->tlb, lin) &&
        access_allowed(c, t->perm, acc, user) &&
        (acc != ACC_WRITE || (t->perm & TLB_DIRTY)))
        return t;

    /* Only what every path reads; the walk writes the rest. */
    struct walk w;
    w.a_clear = false;
    w.all_ram = true;
    w.perm = 0;
    w.page_mask = 0;
    w.phys = 0;
    uint64_t refs_before = c->walk_refs;
    bool wrote = false;
    if (!(c->cr0 & CR0_PG)) {
        w.phys = lin & 0xFFFFFFFFull;
        w.page_mask = ~0xFFFull;
        w.perm = TLB_USER | TLB_WRITE | TLB_DIRTY;
    } else if (!walk_cached(c, lin, acc, user, &w)) {
        uint64_t ept_refs_before = c->vmx.ept_walk_refs;
        if (!walk_tables(c, lin, acc, user, &w))
            return NULL;
        if (!access_allowed(c, w.perm, acc, user)) {
            page_fault(c, lin, fault_bits(c, acc, user) | PFEC_P);
            return NULL;
        }
        uint64_t walked = c->walk_refs;
        if (!set_accessed_dirty(c, &w, acc == ACC_WRITE, lin, &wrote))
            return NULL;
        walk_cache_keep(c, lin, &w, (unsigned)(walked - refs_before),
                        (unsigned)(c->vmx.ept_walk_refs - ept_refs_before),
                        wrote);
        refs_before += c->walk_refs - walked; /* not the A/D updates' */
    }
    static const unsigned ept_access[] = {
        [ACC_READ] = EPT_ACCESS_READ, [ACC_WRITE] = EPT_ACCESS_WRITE,
        [ACC_EXEC] = EPT_ACCESS_FETCH};
    uint64_t hpa;
    unsigned ept_perms;
    if (!guest_phys(c, w.phys, ept_access[acc], EPT_ORIGIN_LINEAR, lin, &hpa,
                    &ept_perms))
        return NULL;
    /* The TLB holds the combined translation (SDM Vol. 3C 29.4.1): EPT
     * permissions restrict it. A page the EPT makes unwritable never
     * counts as dirty, so a write walks again and meets the violation;
     * one it makes unreadable is not cached at all. */
    if (!(ept_perms & EPT_W))
        w.perm &= ~TLB_DIRTY;
    if (!(ept_perms & EPT_X))
        w.perm |= TLB_NX;
    /* Nor is the APIC-access page: each access must exit again. */
    if (!(ept_perms & EPT_R) || vmx_on_apic_access_page(&c->vmx, hpa))
        t = &c->tlb_uncached;
    uint64_t page = hpa & ~0xFFFull;
    tlb_fill(&c->tlb, t, lin, w.perm, w.page_mask);
    t->phys = page;
    /* A page a data breakpoint watches keeps no host pointer: its
     * accesses take page_access(), which looks for the breakpoint. */
    t->host = page < c->m->ram_size &&
                      !(c->dbg.data_armed && debug_watches_page(c, lin))
                  ? c->m->ram + page
                  : NULL;
    c->tlb.fills++;
    if (memo)
        walk_memo_keep(c, &w, lin, (unsigned)(c->walk_refs - refs_before),
                       wrote);
    return t;
}

bool mmu_fetch_fill(struct cpu *c, uint64_t lin)
{
    bool user = c->cpl == 3;
    const struct walk_cache_entry *e =
        c->cr0 & CR0_PG ? walk_cache_find(c, lin, ACC_EXEC, user) : NULL;
    if (!e)
        return false;
    uint64_t hpa = e->gpa | (lin & 0xFFF);
    if (c->vmx.nonroot && c->vmx.ept) {
        const struct ept_cache_entry *x = ept_cache_find(
            &c->vmx.ept_cache, c->vmx.ept_cfg.eptp, hpa, &hpa);
        if (!x || (x->perms & (EPT_R | EPT_X)) != (EPT_R | EPT_X))
            return false;
    }
    if (vmx_on_apic_access_page(&c->vmx, hpa))
        return false;
    return translate(c, lin, ACC_EXEC, user, false) != NULL;
}

bool lin_translate(struct cpu *c, uint64_t lin, enum access acc, bool user,
                   uint64_t *pa)
{
    struct tlb_entry *t = translate(c, lin, acc, user, false);
    if (!t)
        return false;
    *pa = t->phys | (lin & 0xFFF);
    return true;
}

/* An access within one page. Inlined into lin_read() and lin_write():
 * every access that misses the TLB's fast path in ops.h comes here. */
static inline __attribute__((always_inline)) bool
page_access(struct cpu *c, uint64_t lin, unsigned size, void *buf,
            enum access acc, bool user)
{
    struct tlb_entry *t = translate(c, lin, acc, user, true);
    if (!t)
        return false;
    uint64_t off = lin & 0xFFF;
    /* Host speed only: the data's cache line is on its way while the
     * modeled TLB is charged (after a walk, a random page is often far
     * from the host's caches). */
    if (t->host)
        __builtin_prefetch(t->host + off);
    /* Instruction fetches meet the modeled TLB once per instruction
     * executed (cpu.c), not per byte decoded. */
    if (acc != ACC_EXEC)
        tlb_charge_data(c, lin);
    c->walk_memo.valid = false; /* only this access may use it */
    if (c->dbg.data_armed && acc != ACC_EXEC)
        debug_data_access(c, lin, size, acc == ACC_WRITE);
    if (acc == ACC_WRITE) {
        if (t->host) {
            ram_write(c, t->phys + off, t->host + off, buf, size);
        } else {
            phys_write(c, t->phys + off, size, buf);
        }
    } else if (t->host && size == 8) {
        memcpy(buf, t->host + off, 8); /* inline, not a call of memcpy */
    } else if (t->host) {
        memcpy(buf, t->host + off, size);
    } else {
        phys_read(c, t->phys + off, size, buf);
    }
    return true;
}

bool lin_read(struct cpu *c, uint64_t lin, unsigned size, void *dst,
              enum access acc, bool user)
{
    unsigned first = 4096 - (unsigned)(lin & 0xFFF);
    if (size <= first)
        return page_access(c, lin, size, dst, acc, user);
    uint8_t *d = dst;
    return page_access(c, lin, first, d, acc, user) &&
           page_access(c, lin + first, size - first, d + first, acc, user);
}

bool lin_write(struct cpu *c, uint64_t lin, unsigned size, const void *src,
               bool user)
{
    unsigned first = 4096 - (unsigned)(lin & 0xFFF);
    if (size <= first)
        return page_access(c, lin, size, (void *)src, ACC_WRITE, user);
    /* Both pages must be writable before either is written. */
    if (!translate(c, lin, ACC_WRITE, user, false) ||
        !translate(c, lin + first, ACC_WRITE, user, false))
        return false;
    const uint8_t *s = src;
    return page_access(c, lin, first, (void *)s, ACC_WRITE, user) &&
           page_access(c, lin + first, size - first, (void *)(s + first),
                       ACC_WRITE, user);
}

void mmu_flush_all(struct cpu *c) { tlb_flush_all(&c->tlb); }

/* ---- segmentation (SDM Vol. 3A 3.4, 5.3; 64-bit: 3.2.4, 5.3.1) ----- */

bool seg_linear(struct cpu *c, unsigned seg, uint64_t offset, unsigned size,
                enum access acc, uint64_t *lin)
{
    unsigned vector = seg == SEG_SS ? VEC_SS : VEC_GP;
    const struct segment *s = &c->seg[seg];
    if (c->code64) {
        uint64_t a = offset;
        if (seg == SEG_FS || seg == SEG_GS)
            a += s->base;
        if (!cpu_canonical(a) || !cpu_canonical(a + size - 1))
            return cpu_fault(c, vector, 0);
        *lin = a;
        return true;
    }
    /* Protected mode and compatibility mode: type and limit checks. */
    if (s->attr & SEG_ATTR_UNUSABLE)
        return cpu_fault(c, vector, 0);
    unsigned type = s->attr & 0xF;
    bool code = type & 8;
    if (acc == ACC_WRITE && (code || !(type & 2)))
        return cpu_fault(c, vector, 0);
    if (acc == ACC_READ && code && !(type & 2))
        return cpu_fault(c, vector, 0);
    uint64_t last = offset + size - 1;
    if (!code && (type & 4)) { /* expand-down: valid above the limit */
        uint64_t top = (s->attr & SEG_ATTR_DB) ? 0xFFFFFFFFull : 0xFFFFull;
        if (offset <= s->limit || last > top)
            return cpu_fault(c, vector, 0);
    } else if (last > s->limit) {
        return cpu_fault(c, vector, 0);
    }
    *lin = (s->base + offset) & 0xFFFFFFFFull;
    return true;
}

/* seg_linear(), with 64-bit mode's usual case (no FS or GS base, a
 * canonical address) decided inline: the same result. */
static inline bool seg_linear_inline(struct cpu *c, unsigned seg,
                                     uint64_t offset, unsigned size,
                                     enum access acc, uint64_t *lin)
{
    if (c->code64 && seg != SEG_FS && seg != SEG_GS &&
        cpu_canonical(offset) && cpu_canonical(offset + size - 1)) {
        *lin = offset;
        return true;
    }
    return seg_linear(c, seg, offset, size, acc, lin);
}

bool mem_read(struct cpu *c, unsigned seg, uint64_t offset, unsigned size,
              uint64_t *value)
{
    uint64_t lin;
    *value = 0;
    return seg_linear_inline(c, seg, offset, size, ACC_READ, &lin) &&
           lin_read(c, lin, size, value, ACC_READ, c->cpl == 3);
}

bool mem_write(struct cpu *c, unsigned seg, uint64_t offset, unsigned size,
               uint64_t value)
{
    uint64_t lin;
    return seg_linear_inline(c, seg, offset, size, ACC_WRITE, &lin) &&
           lin_write(c, lin, size, &value, c->cpl == 3);
}

bool mem_read_rmw(struct cpu *c, unsigned seg, uint64_t offset,
                  unsigned size, uint64_t *value)
{
    uint64_t lin;
    *value = 0;
    if (!seg_linear(c, seg, offset, size, ACC_WRITE, &lin))
        return false;
    bool user = c->cpl == 3;
    unsigned first = 4096 - (unsigned)(lin & 0xFFF);
    if (!translate(c, lin, ACC_WRITE, user, false) ||
        (size > first && !translate(c, lin + first, ACC_WRITE, user, false)))
        return false;
    return lin_read(c, lin, size, value, ACC_READ, user);
}
