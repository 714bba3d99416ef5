/* l0/cpu/mmu.c's page walk in each paging mode (SDM Vol. 3A 4.3 32-bit
 * paging, 4.4 PAE paging, 4.5 4-level paging): the physical address of
 * small and large pages, one paging-structure reference per level read,
 * the accessed flag set on every level but PAE's PDPTEs, and the
 * reserved-bit faults of each mode's entries. The walk is compiled once
 * per mode (walk_mode): each copy is checked here. Then the walk cache
 * (cpu/tlb.h): after a flush a kept walk gives what the walk gives,
 * counters included, and a write to its tables, a new CR3 or NXE, a
 * write access to a clean page and a user access are walked again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/mmu.h"
#include "machine.h"

enum { P = 1, RW = 2, A = 0x20, PS = 0x80 };
#define XD (1ull << 63)

static void put64(struct machine *m, uint64_t pa, uint64_t v)
{
    memcpy(m->ram + pa, &v, 8);
}

static void put32(struct machine *m, uint64_t pa, uint32_t v)
{
    memcpy(m->ram + pa, &v, 4);
}

static uint64_t get64(const struct machine *m, uint64_t pa)
{
    uint64_t v;
    memcpy(&v, m->ram + pa, 8);
    return v;
}

static uint32_t get32(const struct machine *m, uint64_t pa)
{
    uint32_t v;
    memcpy(&v, m->ram + pa, 4);
    return v;
}

/* A CPU in protected mode with paging on, in IA-32e mode if `ia32e`. */
static struct cpu *paging_on(struct machine *m, uint64_t cr3, uint64_t cr4,
                             bool ia32e)
{
    struct cpu *c = m->cpu;
    cpu_reset_multiboot(c, 0, 0);
    c->cr0 |= CR0_PG;
    c->cr4 = cr4;
    c->cr3 = cr3;
    if (ia32e)
        c->efer = EFER_LME | EFER_LMA;
    cpu_update_mode(c);
    mmu_flush_all(c);
    return c;
}

/* The physical address of a supervisor read at `lin`, and the
 * paging-structure entries its walk read. */
static uint64_t walk(struct cpu *c, uint64_t lin, unsigned refs)
{
    uint64_t before = c->walk_refs, pa = ~0ull;
    assert_true(lin_translate(c, lin, ACC_READ, false, &pa));
    assert_false(c->exc.raised);
    assert_int_equal(c->walk_refs - before, refs);
    return pa;
}

static void expect_pf(struct cpu *c, uint64_t lin, uint32_t error)
{
    uint64_t pa;
    c->exc = (struct pending_exception){0};
    assert_false(lin_translate(c, lin, ACC_READ, false, &pa));
    assert_true(c->exc.raised);
    assert_int_equal(c->exc.vector, VEC_PF);
    assert_int_equal(c->exc.error, error);
    c->exc = (struct pending_exception){0};
}

/* 32-bit paging: 4-byte entries, 10-bit indexes, 4 MiB pages with
 * CR4.PSE (whose bits 21:13 are reserved without PSE-36). */
static void test_32bit_paging(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    enum { PD = 0x1000, PT = 0x2000 };
    put32(m, PD + 0 * 4, PT | RW | P);
    put32(m, PT + 5 * 4, 0x345000 | RW | P);
    put32(m, PD + 1 * 4, 0x400000 | PS | RW | P);
    put32(m, PD + 2 * 4, 0x800000 | 0x2000 | PS | RW | P);
    struct cpu *c = paging_on(m, PD, CR4_PSE, false);

    assert_int_equal(walk(c, 0x5123, 2), 0x345123);
    assert_int_equal(get32(m, PD), PT | A | RW | P);
    assert_int_equal(get32(m, PT + 5 * 4), 0x345000 | A | RW | P);
    assert_int_equal(walk(c, 0x456789, 1), 0x456789);
    expect_pf(c, 0x800000, PFEC_P | PFEC_RSVD);

    /* Without CR4.PSE the PS flag is ignored: PDE 1 points to a page
     * table at 0x400000, whose entry 0x56 is not present. */
    c = paging_on(m, PD, 0, false);
    expect_pf(c, 0x456789, 0);
    machine_destroy(m);
}

/* PAE paging: CR3 holds a 32-byte aligned table of four PDPTEs, which
 * have no accessed flag and reserve R/W among others; 2 MiB pages. */
static void test_pae_paging(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    enum { PDPT = 0x1020, PD = 0x3000, PT = 0x4000 };
    put64(m, PDPT + 0 * 8, PD | P);
    put64(m, PDPT + 1 * 8, PD | RW | P);
    put64(m, PD + 0 * 8, PT | RW | P);
    put64(m, PT + 7 * 8, 0x567000 | RW | P);
    put64(m, PD + 1 * 8, 0x600000 | PS | RW | P);
    struct cpu *c = paging_on(m, PDPT, CR4_PAE, false);

    assert_int_equal(walk(c, 0x7ABC, 3), 0x567ABC);
    assert_int_equal(get64(m, PDPT), PD | P);
    assert_int_equal(get64(m, PD), PT | A | RW | P);
    assert_int_equal(get64(m, PT + 7 * 8), 0x567000 | A | RW | P);
    assert_int_equal(walk(c, 0x2DEF00, 2), 0x6DEF00);
    expect_pf(c, 0x40000000, PFEC_P | PFEC_RSVD);
    machine_destroy(m);
}

/* 4-level paging: 1 GiB and 2 MiB pages, PS reserved in a PML4E, XD
 * reserved while EFER.NXE = 0. */
static void test_4level_paging(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    enum { PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x4000 };
    put64(m, PML4 + 0 * 8, PDPT | RW | P);
    put64(m, PML4 + 1 * 8, PDPT | PS | RW | P);
    put64(m, PDPT + 0 * 8, PD | RW | P);
    put64(m, PDPT + 1 * 8, 0x40000000 | PS | RW | P);
    put64(m, PD + 0 * 8, PT | RW | P);
    put64(m, PD + 1 * 8, 0x200000 | PS | RW | P);
    put64(m, PD + 2 * 8, 0x400000 | 0x2000 | PS | RW | P);
    put64(m, PT + 1 * 8, 0x123000 | RW | P);
    put64(m, PT + 2 * 8, 0x124000 | XD | RW | P);
    struct cpu *c = paging_on(m, PML4, CR4_PAE, true);

    assert_int_equal(walk(c, 0x1456, 4), 0x123456);
    assert_int_equal(get64(m, PML4), PDPT | A | RW | P);
    assert_int_equal(get64(m, PDPT), PD | A | RW | P);
    assert_int_equal(get64(m, PD), PT | A | RW | P);
    assert_int_equal(get64(m, PT + 8), 0x123000 | A | RW | P);
    assert_int_equal(walk(c, 0x2ABCDE, 3), 0x2ABCDE);
    assert_int_equal(walk(c, 0x40012345, 2), 0x40012345);
    expect_pf(c, 0x400000, PFEC_P | PFEC_RSVD);
    expect_pf(c, 0x8000000000ull, PFEC_P | PFEC_RSVD);
    expect_pf(c, 0x2000, PFEC_P | PFEC_RSVD);

    c->efer |= EFER_NXE;
    mmu_flush_all(c);
    assert_int_equal(walk(c, 0x2000, 4), 0x124000);
    machine_destroy(m);
}

/* 4-level tables mapping 0x1000 -> 0x123000 (supervisor, writable, A
 * set, D clear) and 0x2000 -> 0x124000 with XD, at PML4 0x1000. */
enum { WC_PML4 = 0x1000, WC_PDPT = 0x2000, WC_PD = 0x3000, WC_PT = 0x4000 };

static struct cpu *walk_cache_rig(struct machine *m)
{
    put64(m, WC_PML4, WC_PDPT | A | RW | P);
    put64(m, WC_PDPT, WC_PD | A | RW | P);
    put64(m, WC_PD, WC_PT | A | RW | P);
    put64(m, WC_PT + 1 * 8, 0x123000 | A | RW | P);
    put64(m, WC_PT + 2 * 8, 0x124000 | XD | A | RW | P);
    struct cpu *c = paging_on(m, WC_PML4, CR4_PAE, true);
    c->efer |= EFER_NXE;
    c->walks.keep_first = true;
    return c;
}

/* A read at `lin` after a flush, its walk found in the cache (`hit`) or
 * made, with the same physical address and references either way. */
static uint64_t walk_after_flush(struct cpu *c, uint64_t lin, bool hit)
{
    mmu_flush_all(c);
    uint64_t hits = c->walks.hits;
    uint64_t pa = walk(c, lin, 4);
    assert_int_equal(c->walks.hits - hits, hit);
    return pa;
}

static void test_walk_cache_after_flush(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    struct cpu *c = walk_cache_rig(m);
    uint64_t fills = c->tlb.fills;
    assert_int_equal(walk_after_flush(c, 0x1456, false), 0x123456);
    /* Its tables are marked: the write fast paths leave them to mmu.c. */
    for (uint64_t t = WC_PML4; t <= WC_PT; t += 0x1000)
        assert_true(dcache_code_map(c->dcache)[t >> 12] & CODE_MAP_TABLE);
    assert_false(dcache_code_map(c->dcache)[0x123] & CODE_MAP_TABLE);
    assert_int_equal(walk_after_flush(c, 0x1456, true), 0x123456);
    assert_int_equal(walk_after_flush(c, 0x1FFF, true), 0x123FFF);
    /* INVLPG, as a flush of everything. */
    tlb_flush_page(&c->tlb, 0x1000);
    uint64_t hits = c->walks.hits;
    assert_int_equal(walk(c, 0x1000, 4), 0x123000);
    assert_int_equal(c->walks.hits - hits, 1);
    assert_int_equal(c->tlb.fills - fills, 4); /* every refill counts */
    machine_destroy(m);
}

/* As the emulator runs: a page's first walk in a context leaves a mark,
 * its second is kept, its third found; a walk of another page in the
 * same slot in between (a walk through more pages than the TLB holds)
 * takes the mark away. */
static void test_walk_cache_keeps_the_second_walk(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    struct cpu *c = walk_cache_rig(m);
    c->walks.keep_first = false;
    walk_after_flush(c, 0x1000, false);
    walk_after_flush(c, 0x1000, false);
    assert_int_equal(walk_after_flush(c, 0x1000, true), 0x123000);
    /* Page 0x103 has page 2's slot (mmu.c walk_cache_slot: the page
     * number folded to 8 bits, with CR3's page 1). */
    uint64_t other = 0x103000;
    put64(m, WC_PT + 8 * 0x103, 0x200000 | A | RW | P);
    walk_after_flush(c, 0x2000, false);
    walk_after_flush(c, other, false);
    walk_after_flush(c, 0x2000, false); /* marked again, not kept */
    walk_after_flush(c, 0x2000, false); /* kept */
    walk_after_flush(c, 0x2000, true);
    machine_destroy(m);
}

/* The walk it first set an accessed flag in is not kept (it wrote);
 * the next one is. */
static void test_walk_cache_not_after_ad_write(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    struct cpu *c = walk_cache_rig(m);
    put64(m, WC_PT + 1 * 8, 0x123000 | RW | P);
    walk_after_flush(c, 0x1000, false);
    assert_int_equal(get64(m, WC_PT + 8), 0x123000 | A | RW | P);
    walk_after_flush(c, 0x1000, false);
    walk_after_flush(c, 0x1000, true);
    machine_destroy(m);
}

/* A write to a table through the CPU's physical path or a linear write
 * (the guest's own) that changes an entry is seen at the next walk; one
 * that writes the same bytes changes nothing. */
static void test_walk_cache_table_writes(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    struct cpu *c = walk_cache_rig(m);
    walk_after_flush(c, 0x1000, false);
    uint64_t same = get64(m, WC_PD);
    phys_write(c, WC_PD, 8, &same);
    walk_after_flush(c, 0x1000, true);
    uint64_t pte = 0x155000 | A | RW | P;
    phys_write(c, WC_PT + 8, 8, &pte);
    assert_int_equal(walk_after_flush(c, 0x1234, false), 0x155234);
    /* Page 0x3000 maps itself (PT[3]): a linear write to the PD. */
    put64(m, WC_PT + 3 * 8, WC_PD | A | RW | P | 0x40);
    mmu_flush_all(c);
    uint64_t pa;
    assert_true(lin_translate(c, 0x3000, ACC_WRITE, false, &pa));
    uint64_t pde = (0x5000 | A | RW | P);
    put64(m, 0x5000 + 8, 0x166000 | A | RW | P);
    assert_true(lin_write(c, 0x3000, 8, &pde, false));
    assert_int_equal(walk_after_flush(c, 0x1234, false), 0x166234);
    /* A test's own memcpy into RAM is not heard of: it forgets them. */
    put64(m, 0x5000 + 8, 0x177000 | A | RW | P);
    walk_after_flush(c, 0x1234, true);
    mmu_forget_walks(c);
    assert_int_equal(walk_after_flush(c, 0x1234, false), 0x177234);
    machine_destroy(m);
}

/* Another context walks again: CR3, NXE (XD reserved without it); the
 * access is checked on the kept walk's rights: a user read of the
 * supervisor page faults, and a write to the clean page walks and sets
 * its dirty flag. */
static void test_walk_cache_context_and_access(void **state)
{
    (void)state;
    struct machine *m = machine_create(8, NULL);
    assert_non_null(m);
    struct cpu *c = walk_cache_rig(m);
    assert_int_equal(walk_after_flush(c, 0x2000, false), 0x124000);
    walk_after_flush(c, 0x2000, true);
    c->efer &= ~EFER_NXE;
    mmu_flush_all(c);
    expect_pf(c, 0x2000, PFEC_P | PFEC_RSVD);
    c->efer |= EFER_NXE;
    walk_after_flush(c, 0x2000, true);
    /* The same tables copied at 0x8000: another CR3, walked anew. */
    memcpy(m->ram + 0x8000, m->ram + WC_PML4, 8);
    c->cr3 = 0x8000;
    walk_after_flush(c, 0x2000, false);
    walk_after_flush(c, 0x2000, true);
    c->cr3 = WC_PML4;
    walk_after_flush(c, 0x1000, false);
    walk_after_flush(c, 0x1000, true);
    mmu_flush_all(c);
    uint64_t pa;
    assert_false(lin_translate(c, 0x1000, ACC_READ, true, &pa));
    assert_int_equal(c->exc.vector, VEC_PF);
    assert_int_equal(c->exc.error, PFEC_P | PFEC_U);
    c->exc = (struct pending_exception){0};
    mmu_flush_all(c);
    uint64_t hits = c->walks.hits;
    assert_true(lin_translate(c, 0x1000, ACC_WRITE, false, &pa));
    assert_int_equal(c->walks.hits, hits);
    assert_int_equal(get64(m, WC_PT + 8), 0x123000 | 0x40 | A | RW | P);
    machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_32bit_paging),
        cmocka_unit_test(test_pae_paging),
        cmocka_unit_test(test_4level_paging),
        cmocka_unit_test(test_walk_cache_after_flush),
        cmocka_unit_test(test_walk_cache_keeps_the_second_walk),
        cmocka_unit_test(test_walk_cache_not_after_ad_write),
        cmocka_unit_test(test_walk_cache_table_writes),
        cmocka_unit_test(test_walk_cache_context_and_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
