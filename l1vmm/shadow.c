/* Shadow paging (paging=shadow): without EPT, the CPU walks tables that
 * l1vmm builds, mapping L2's linear addresses straight to L1 physical
 * memory. They are filled lazily from L2's own tables on #PF exits and
 * invalidated on INVLPG, INVPCID and paging-mode changes, as KVM does
 * with ept=0.
 *
 * Shadows are cached per address space (L2's CR3): a MOV to CR3 returns
 * to the shadow built for that CR3 before, if any. The architecture lets
 * L2 change the tables of an address space while running on another and
 * expect the change once it switches back (a MOV to CR3 flushes non-global
 * translations, SDM Vol. 3A 4.10.4.1), so a cached shadow is checked when
 * it becomes current: every present shadow leaf is recomputed from L2's
 * tables as they are now, and one that differs, or whose walk would have
 * to set an A bit, is dropped (L2 refaults on it). Keeping only what the
 * walk still gives is exactly a flush followed by refaults that all
 * complete, without the exits. KVM write-protects L2's page tables
 * instead, which costs no scan but an exit per page-table write.
 * Bounded: at most ROOTS address spaces and POOL_PAGES tables; the least
 * recently used address space is evicted when either runs out.
 *
 * L2's paging modes:
 * - paging off (CR0.PG=0, the multiboot entry state): the CPU still needs
 *   paging in VMX non-root operation without unrestricted guest (SDM
 *   Vol. 3C 27.3.1.1), so CR0.PG/PE are forced on behind the read shadow
 *   and a fixed PAE identity map translates L2-physical to L1-physical.
 * - 4-level paging (EFER.LME=1, CR0.PG=1): shadow PML4 trees, with
 *   "IA-32e mode guest" and EFER.LMA set for the CPU.
 * Simplified: 32-bit and PAE paging without long mode, PCIDs, protection
 * keys and SMAP are not supported (the first stops L2 with a message;
 * CPUID hides PCID under shadow paging). A guest 1 GiB page is shadowed
 * by 2 MiB pages. CR0.WP=0 writes to clean pages do not set the D bit. */
#include "cpu.h"
#include "l1vmm.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000ull

#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define PF_U (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I (1u << 4)

enum { TABLE = 512, POOL_PAGES = 1024, ROOTS = 16 };
#define SIZE_4K (1ull << 12)
#define SIZE_2M (1ull << 21)
#define SIZE_1G (1ull << 30)

/* Paging off: PDPT (32-byte aligned, SDM Vol. 3A 4.4.1) -> one page
 * directory of 2 MiB pages over L2 RAM (at most 1 GiB). */
static uint64_t flat_pdpt[4] __attribute__((aligned(32)));
static uint64_t flat_pd[TABLE] __attribute__((aligned(4096)));

/* 4-level shadow tables; the free ones are stacked in free_pages. */
static uint64_t pool[POOL_PAGES][TABLE] __attribute__((aligned(4096)));
static uint16_t free_pages[POOL_PAGES];
static unsigned free_count;
static uint8_t from_1g[POOL_PAGES]; /* a PD shadowing a guest 1 GiB page */
/* Which entries of each table are present, so that walking a sparse
 * shadow (its checks, freeing it) costs its present entries only. Every
 * change of presence goes through set_entry. */
static uint64_t present[POOL_PAGES][TABLE / 64];

/* The cached address spaces: L2's CR3 (its table address) and the shadow
 * PML4; `used` orders them for eviction. `current` is the one in
 * GUEST_CR3 under 4-level paging. */
struct root {
    uint64_t cr3;
    uint64_t *pml4; /* 0: slot free */
    uint64_t used;
};
static struct root roots[ROOTS];
static struct root *current;
static uint64_t use_clock;

/* Bits 51:MAXPHYADDR of every paging entry are reserved (SDM Vol. 3A
 * 4.5.4, Figure 4-11); CPUID 0x80000008 gives MAXPHYADDR. */
static uint64_t reserved_high;
static int has_1g_pages;

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static uint64_t *table_at(uint64_t entry)
{
    return (uint64_t *)(uintptr_t)(entry & PTE_ADDR);
}

static unsigned pool_index(const uint64_t *t)
{
    return (unsigned)((const uint64_t(*)[TABLE])t - pool);
}

static void set_entry(uint64_t *e, uint64_t v)
{
    unsigned at = (unsigned)(e - pool[0]);
    uint64_t *word = &present[at / TABLE][at % TABLE / 64];
    uint64_t bit = 1ull << (at % 64);
    *word = v & PTE_P ? *word | bit : *word & ~bit;
    *e = v;
}

/* The index of the next present entry of table `t` from `i`, or TABLE. */
static unsigned next_present(const uint64_t *t, unsigned i)
{
    const uint64_t *words = present[pool_index(t)];
    while (i < TABLE) {
        uint64_t w = words[i / 64] >> (i % 64);
        if (w)
            return i + (unsigned)__builtin_ctzll(w);
        i = (i / 64 + 1) * 64;
    }
    return TABLE;
}

/* Returns a shadow table at `level` (4 = PML4) and everything below it to
 * the pool. Shadow PDPTEs never map pages (1 GiB pages are shadowed by
 * PDs), so a present entry above level 1 without PS is a table. */
static void free_table(uint64_t *t, int level)
{
    for (unsigned i = next_present(t, 0); level > 1 && i < TABLE;
         i = next_present(t, i + 1))
        if (!(t[i] & PTE_PS))
            free_table(table_at(t[i]), level - 1);
    free_pages[free_count++] = (uint16_t)pool_index(t);
}

static void evict(struct root *r)
{
    free_table(r->pml4, 4);
    r->pml4 = 0;
}

/* The least recently used cached address space other than the current
 * one, or NULL. */
static struct root *eviction_victim(void)
{
    struct root *victim = 0;
    for (struct root *r = roots; r < roots + ROOTS; r++)
        if (r->pml4 && r != current && (!victim || r->used < victim->used))
            victim = r;
    return victim;
}

/* A zeroed table, evicting other address spaces when the pool is empty;
 * NULL when only the current one is left to evict. */
static uint64_t *pool_alloc(void)
{
    while (!free_count) {
        struct root *victim = eviction_victim();
        if (!victim)
            return 0;
        evict(victim);
    }
    unsigned i = free_pages[--free_count];
    from_1g[i] = 0;
    memset(pool[i], 0, sizeof pool[0]);
    memset(present[i], 0, sizeof present[0]);
    return pool[i];
}

static void shadow_check(void);

/* Makes the shadow of L2's CR3 current: a fresh one for an address space
 * not cached (evicting the least recently used when all slots are taken),
 * else the cached one, made exact first (shadow_check). */
static void switch_root(void)
{
    uint64_t cr3 = l2.cr3 & PTE_ADDR;
    struct root *slot = 0;
    for (struct root *r = roots; r < roots + ROOTS; r++) {
        if (r->pml4 && r->cr3 == cr3) {
            slot = r;
            break;
        }
        if (!r->pml4 && !slot)
            slot = r;
    }
    if (slot && slot->pml4) {
        current = slot;
        shadow_check();
    } else {
        if (!slot) {
            slot = eviction_victim();
            evict(slot);
        }
        current = slot; /* before pool_alloc, which must not evict it */
        slot->pml4 = pool_alloc();
        slot->cr3 = cr3;
    }
    slot->used = ++use_clock;
    vmwrite(GUEST_CR3, pa(slot->pml4));
}

/* Drops every cached shadow (a paging-mode change, INVPCID, a full pool)
 * and starts a fresh one for the current CR3. */
void shadow_flush(void)
{
    free_count = 0;
    for (unsigned i = POOL_PAGES; i-- > 0;)
        free_pages[free_count++] = (uint16_t)i;
    for (struct root *r = roots; r < roots + ROOTS; r++)
        r->pml4 = 0;
    current = 0;
    if (l2.paging == PAGING_SHADOW && (l2.cr0 & CR0_PG))
        switch_root();
}

/* MOV to CR3: under 4-level paging, the shadow of the new address space
 * (a reload of the same CR3 checks the current one: the same flush). */
void shadow_set_cr3(void)
{
    if ((l2.cr0 & CR0_PG) && (l2.efer & EFER_LME))
        switch_root();
}

int shadow_init(void)
{
    if (l2.ram_bytes > SIZE_1G) {
        rt_printf("l1vmm: shadow paging maps at most 1 GiB of L2 RAM\n");
        return -1;
    }
    for (uint64_t i = 0; i < l2.ram_bytes / SIZE_2M; i++)
        flat_pd[i] = (pa(l2.ram) + i * SIZE_2M) | PTE_P | PTE_W | PTE_U | PTE_PS;
    flat_pdpt[0] = pa(flat_pd) | PTE_P; /* PAE PDPTEs have no R/W or U/S */
    reserved_high = ((1ull << 52) - 1) & ~((1ull << caps.maxphyaddr) - 1);
    has_1g_pages = !!(cpuid(0x80000001, 0).edx & (1u << 26));
    shadow_mode_changed();
    return 0;
}

/* L2's paging registers as L2 believes them. */
struct paging {
    uint64_t cr0, cr3, cr4, efer;
};
static struct paging paging_now(void)
{
    return (struct paging){l2.cr0, l2.cr3, l2.cr4, l2.efer};
}

/* The outcome of walking L2's tables for one access. */
struct walk {
    uint64_t gpa, page_size;
    int writable, user, nx;
    uint32_t error; /* #PF error code for L2 when the walk faults */
};

enum { WALK_OK, WALK_FAULT, WALK_BAD_TABLE };

/* Reserved bits of a present entry at `level` (4 = PML4E), SDM Vol. 3A
 * 4.5.4: PS in a PML4E (and in a PDPTE without 1 GiB pages), the address
 * bits below a large page other than PAT, XD without EFER.NXE. */
static int reserved_bits(uint64_t v, int level, int nxe)
{
    uint64_t r = reserved_high | (nxe ? 0 : PTE_XD);
    if (level == 4 || (level == 3 && !has_1g_pages))
        r |= PTE_PS;
    else if (level == 3 && (v & PTE_PS))
        r |= 0x3FFFE000ull; /* bits 29:13 */
    else if (level == 2 && (v & PTE_PS))
        r |= 0x1FE000ull; /* bits 20:13 */
    return !!(v & r);
}

/* SDM Vol. 3A 4.5 (4-level paging) and 4.6 (access rights). `access`
 * holds the W, U and I bits of a #PF error code. Sets the A bits, and the
 * D bit when the access writes, as the CPU would (4.8). */
static int walk(const struct paging *pg, uint64_t linear, uint32_t access,
                struct walk *w, uint64_t *bad_table)
{
    *w = (struct walk){.writable = 1, .user = 1};
    if (!(pg->cr0 & CR0_PG)) {
        w->gpa = linear;
        w->page_size = SIZE_4K;
        return WALK_OK;
    }
    if (!(pg->efer & EFER_LME)) {
        *bad_table = pg->cr3; /* legacy paging: not supported */
        return WALK_BAD_TABLE;
    }

    uint64_t *entries[4];
    uint64_t table = pg->cr3 & PTE_ADDR;
    int nxe = !!(pg->efer & EFER_NXE);
    int level;
    for (level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        uint64_t *e = l2_ptr(table + ((linear >> shift) & 511) * 8, 8);
        if (!e) {
            *bad_table = table;
            return WALK_BAD_TABLE;
        }
        uint64_t v = *e;
        entries[4 - level] = e;
        if (!(v & PTE_P)) {
            w->error = access;
            return WALK_FAULT;
        }
        if (reserved_bits(v, level, nxe)) {
            w->error = access | PF_P | PF_RSVD;
            return WALK_FAULT;
        }
        w->writable &= !!(v & PTE_W);
        w->user &= !!(v & PTE_U);
        w->nx |= nxe && (v & PTE_XD);
        if (level == 1 || (v & PTE_PS)) {
            w->page_size = 1ull << shift;
            w->gpa = (v & PTE_ADDR & ~(w->page_size - 1)) |
                     (linear & (w->page_size - 1));
            break;
        }
        table = v & PTE_ADDR;
    }

    int user = !!(access & PF_U), write = !!(access & PF_W);
    int fetch = !!(access & PF_I);
    int denied = (user && !w->user) ||
                 (write && !w->writable && (user || (pg->cr0 & CR0_WP))) ||
                 (fetch && w->nx) ||
                 (fetch && !user && w->user && (pg->cr4 & CR4_SMEP));
    if (denied) {
        w->error = access | PF_P;
        return WALK_FAULT;
    }
    for (int i = 0; i <= 4 - level; i++)
        *entries[i] |= PTE_A;
    if (write)
        *entries[4 - level] |= PTE_D;
    if (!(*entries[4 - level] & PTE_D))
        w->writable = 0; /* clean page: the first write must exit */
    return WALK_OK;
}

uint8_t *l2_linear_byte(const struct l2_paging *pg, uint64_t linear,
                        uint32_t access, uint32_t *pf_error)
{
    struct paging p = {pg->cr0, pg->cr3, pg->cr4, pg->efer};
    struct walk w;
    uint64_t bad;
    switch (walk(&p, linear, access, &w, &bad)) {
    case WALK_OK: {
        uint8_t *byte = l2_ptr(w.gpa, 1);
        *pf_error = L2_NOT_RAM;
        return byte;
    }
    case WALK_FAULT:
        *pf_error = w.error;
        return 0;
    default:
        *pf_error = L2_NOT_RAM;
        return 0;
    }
}

static unsigned index_at(uint64_t linear, int level)
{
    return (linear >> (12 + 9 * (level - 1))) & 511;
}

/* The shadow entry for `linear` at `level` (2 or 1), making the upper
 * levels on the way (permissive: the leaf carries L2's combined rights);
 * NULL when the pool is exhausted. */
static uint64_t *shadow_slot(uint64_t linear, int level)
{
    uint64_t *t = current->pml4;
    for (int l = 4; l > level; l--) {
        uint64_t *e = &t[index_at(linear, l)];
        if (!(*e & PTE_P) || (*e & PTE_PS)) {
            uint64_t *next = pool_alloc();
            if (!next)
                return 0;
            set_entry(e, pa(next) | PTE_P | PTE_W | PTE_U);
        }
        t = table_at(*e);
    }
    return &t[index_at(linear, level)];
}

/* The shadow leaf for the page the walk found and its level: 2 MiB
 * shadow pages for guest pages of 2 MiB or more, 4 KiB otherwise and for
 * the APIC pages, which are mapped uncached onto the real ones. */
static uint64_t shadow_leaf(const struct walk *w, int *level)
{
    uint64_t page = w->gpa & ~0xFFFull;
    int apic = page == L2_APIC_PAGE || page == L2_IOAPIC_PAGE;
    uint64_t size = w->page_size >= SIZE_2M && !apic ? SIZE_2M : SIZE_4K;
    uint64_t gpa = w->gpa & ~(size - 1);
    uint64_t host = page == L2_APIC_PAGE ? rdmsr(MSR_APIC_BASE) & PTE_ADDR
                    : apic ? L2_IOAPIC_PAGE : pa(l2.ram) + gpa;
    *level = size == SIZE_2M ? 2 : 1;
    return host | PTE_P | (w->writable ? PTE_W : 0) |
           (w->user ? PTE_U : 0) | (w->nx ? PTE_XD : 0) |
           (apic ? PTE_PCD | PTE_PWT : 0) | (size == SIZE_2M ? PTE_PS : 0);
}

/* Clears a present shadow entry above level 1, returning the table it
 * pointed to (if any) to the pool. */
static void zap(uint64_t *e, int level)
{
    if (level > 1 && (*e & PTE_P) && !(*e & PTE_PS))
        free_table(table_at(*e), level - 1);
    set_entry(e, 0);
}

/* Maps the page of `linear` as the walk found it. */
static void shadow_install(uint64_t linear, const struct walk *w)
{
    int level;
    uint64_t leaf = shadow_leaf(w, &level);
    uint64_t *slot = shadow_slot(linear, level);
    if (!slot) {
        shadow_flush(); /* pool exhausted: start over, L2 refaults */
        slot = shadow_slot(linear, level);
    }
    zap(slot, level); /* a 2 MiB leaf replaces a table of 4 KiB ones */
    set_entry(slot, leaf);
    if (w->page_size == SIZE_1G)
        from_1g[pool_index(slot - index_at(linear, 2))] = 1;
}

static uint64_t linear_at(uint64_t base, unsigned i, int level)
{
    uint64_t linear = base | (uint64_t)i << (12 + 9 * (level - 1));
    return level == 4 && i >= 256 ? linear | 0xFFFF000000000000ull
                                  : linear; /* canonical upper half */
}

/* Rights of L2's entries above a table, combined as a walk does. */
struct rights {
    int writable, user, nx;
};

/* Checks present shadow entry `e` at `level`, covering linear addresses
 * from `linear`, against L2's leaf entry `v` that maps them with a page
 * of `size` bytes (a shadow table below `e` when the shadow splits the
 * page: a 1 GiB page, the APIC page): each shadow leaf stays only if it
 * is what shadow_install would make of that page now. The CPU sets A and
 * D in the shadow itself as it uses it. */
static void check_in_page(uint64_t *e, int level, uint64_t linear,
                          uint64_t v, uint64_t size, struct rights r)
{
    if (level > 1 && !(*e & PTE_PS)) {
        uint64_t *t = table_at(*e);
        for (unsigned i = next_present(t, 0); i < TABLE;
             i = next_present(t, i + 1))
            check_in_page(&t[i], level - 1, linear_at(linear, i, level - 1),
                          v, size, r);
        return;
    }
    struct walk w = {.gpa = (v & PTE_ADDR & ~(size - 1)) | (linear & (size - 1)),
                     .page_size = size,
                     .writable = r.writable && (v & PTE_D),
                     .user = r.user,
                     .nx = r.nx};
    int leaf_level;
    if (shadow_leaf(&w, &leaf_level) != (*e & ~(PTE_A | PTE_D)) ||
        leaf_level != level)
        set_entry(e, 0);
}

/* Makes the current shadow exact after a flush of L2's non-global
 * translations (SDM Vol. 3A 4.10.4.1): a shadow leaf stays only if the
 * walk of L2's tables that made it gives it again now without setting an
 * A bit (4.8); the rest are dropped, to be refaulted. Each of L2's
 * entries is read once: shadow table `t` at `level` (from linear `base`)
 * is checked against L2's table at `table`, with the rights `r` of the
 * entries above, as walk() would (4.5.4 reserved bits, 4.6 rights). */
static void check_table(const struct paging *pg, uint64_t *t, int level,
                        uint64_t base, uint64_t table, struct rights r)
{
    int nxe = !!(pg->efer & EFER_NXE);
    for (unsigned i = next_present(t, 0); i < TABLE;
         i = next_present(t, i + 1)) {
        uint64_t linear = linear_at(base, i, level);
        const uint64_t *g = l2_ptr(table + i * 8, 8);
        uint64_t v = g ? *g : 0;
        if (!(v & PTE_P) || !(v & PTE_A) || reserved_bits(v, level, nxe)) {
            zap(&t[i], level);
            continue;
        }
        struct rights below = {r.writable && (v & PTE_W),
                               r.user && (v & PTE_U),
                               r.nx || (nxe && (v & PTE_XD))};
        if (level == 1 || (v & PTE_PS))
            check_in_page(&t[i], level, linear, v,
                          1ull << (12 + 9 * (level - 1)), below);
        else if (t[i] & PTE_PS)
            zap(&t[i], level); /* a shadow leaf where L2 has a table */
        else
            check_table(pg, table_at(t[i]), level - 1, linear,
                        v & PTE_ADDR, below);
    }
}

static void shadow_check(void)
{
    struct paging pg = paging_now();
    check_table(&pg, current->pml4, 4, 0, pg.cr3 & PTE_ADDR,
                (struct rights){1, 1, 0});
}

/* Three identical faults in a row mean the shadow does not give the CPU
 * what the walk allowed: stop rather than loop forever. */
static int repeated_fault(uint64_t address, uint32_t error)
{
    static uint64_t last_address, last_exit;
    static uint32_t last_error, repeats;
    uint64_t exits = stats_total();
    if (address == last_address && error == last_error &&
        exits == last_exit + 1)
        repeats++;
    else
        repeats = 0;
    last_address = address;
    last_error = error;
    last_exit = exits;
    return repeats >= 2;
}

void shadow_page_fault(uint64_t address, uint32_t error)
{
    struct paging pg = paging_now();
    struct walk w;
    uint64_t bad = 0;
    char why[160];

    switch (walk(&pg, address, error & (PF_W | PF_U | PF_I), &w, &bad)) {
    case WALK_FAULT:
        /* L2's own fault: deliver it with CR2. CR2 is not in the
         * guest-state area (SDM Vol. 3C 25.4.1) and a #PF that exits does
         * not write it (28.1), so L1 sets the register itself. */
        write_cr2(address);
        inject_exception(VEC_PF, 1, w.error);
        return;
    case WALK_BAD_TABLE:
        rt_snprintf(why, sizeof why,
                    "L2's page table at guest-physical %#lx (for linear "
                    "%#lx) is outside its RAM",
                    bad, address);
        l2_end(RT_EXIT_FAIL, why);
        return;
    }
    if (!l2_ptr(w.gpa, 1) && (w.gpa & ~0xFFFull) != L2_APIC_PAGE &&
        (w.gpa & ~0xFFFull) != L2_IOAPIC_PAGE) {
        rt_snprintf(why, sizeof why,
                    "L2 accessed guest-physical %#lx (linear %#lx), "
                    "outside its %lu MiB of RAM",
                    w.gpa, address, l2.ram_bytes >> 20);
        l2_end(RT_EXIT_FAIL, why);
        return;
    }
    if (!(pg.cr0 & CR0_PG) || repeated_fault(address, error)) {
        rt_snprintf(why, sizeof why,
                    "shadow paging could not resolve a #PF at linear %#lx "
                    "(error %#x)",
                    address, error);
        l2_end(RT_EXIT_FAIL, why);
        return;
    }
    shadow_install(address, &w);
}

/* INVLPG drops the shadow of one page (SDM Vol. 3A 4.10.4.1); for a page
 * shadowing part of a guest 1 GiB page, all of that page. */
void shadow_invlpg(uint64_t address)
{
    if (!(l2.cr0 & CR0_PG))
        return;
    uint64_t *t = current->pml4;
    for (int l = 4; l >= 1; l--) {
        uint64_t *e = &t[index_at(address, l)];
        if (!(*e & PTE_P))
            return;
        if (l == 1 || (*e & PTE_PS) || (l == 3 && from_1g[pool_index(table_at(*e))])) {
            zap(e, l);
            return;
        }
        t = table_at(*e);
    }
}

/* After L2 changed CR0, CR4 or EFER: pick the CPU's paging for L2 and
 * start a fresh shadow. */
void shadow_mode_changed(void)
{
    int long_mode = (l2.cr0 & CR0_PG) && (l2.efer & EFER_LME);
    if ((l2.cr0 & CR0_PG) && !long_mode) {
        l2_end(RT_EXIT_FAIL, "L2 enabled 32-bit or PAE paging without long "
                             "mode; shadow paging supports 4-level paging "
                             "only");
        return;
    }
    uint64_t efer = l2.efer & ~(EFER_LME | EFER_LMA);
    if (long_mode)
        efer |= EFER_LME | EFER_LMA;
    vmwrite(GUEST_IA32_EFER, efer);
    vmcs_set_long_mode(long_mode);
    if (long_mode)
        shadow_flush();
    else
        vmwrite(GUEST_CR3, pa(flat_pdpt));
}
