/* l0/cpu/mmu.c's page walk in each paging mode (SDM Vol. 3A 4.3 32-bit
 * paging, 4.4 PAE paging, 4.5 4-level paging): the physical address of
 * small and large pages, one paging-structure reference per level read,
 * the accessed flag set on every level but PAE's PDPTEs, and the
 * reserved-bit faults of each mode's entries. The walk is compiled once
 * per mode (walk_mode): each copy is checked here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_32bit_paging),
        cmocka_unit_test(test_pae_paging),
        cmocka_unit_test(test_4level_paging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
