/* ept-compress/: EPT02 = EPT12 o EPT01, filled lazily. The fixture
 * (ept02_host.h, shared with fuzz/lf_ept02.c) is a small host: L1's RAM (4 MiB of L1-physical space at host-physical
 * L1_HOST), EPT01's tables and a pool of pages for EPT02, each a fake
 * memory that refuses addresses outside it. L1's reader translates
 * through EPT01 with vmx/ept.c, as L0's would. Expected values come from
 * the SDM (Vol. 3C 29.3 for the walks, 28.2.1 Table 28-7 for the
 * qualification, 29.4.3.1 for INVEPT) and Turtles section 3.3, worked
 * out by hand in each test, never from the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ept02_host.h"

enum {
    R = EPT_R, W = EPT_W, X = EPT_X, RWX = 7,
    PS = 1 << 7,
    ACCESSED = 1 << 8,
    DIRTY = 1 << 9,
    MT_UC = 0 << 3,
    MT_WB = 6 << 3,
};

static unsigned pool_freed;

static void pool_free(void *ctx, uint64_t hpa)
{
    (void)ctx;
    (void)hpa;
    pool_freed++;
}

/* ---- EPT12, in L1 RAM ---- */

/* L1-physical addresses of EPT12's tables. */
enum {
    PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000, PT = 0x13000,
    PD_1G = 0x14000, /* L2 [1 GiB, 2 GiB) */
};
#define EPT12_EPTP (PML4 | 6 | 3 << 3) /* WB, 4 levels */

static void l1_set(uint64_t l1pa, uint64_t v)
{
    memcpy(&l1_ram[l1pa], &v, 8);
}

static uint64_t l1_get(uint64_t l1pa)
{
    uint64_t v;
    memcpy(&v, &l1_ram[l1pa], 8);
    return v;
}

/* EPT12 entries of an L2-physical address, by level. */
#define pte12(l2) (PT + (((l2) >> 12) & 511) * 8)
#define pde12(l2) (PD + (((l2) >> 21) & 511) * 8)

/* The L2-physical pages the tests use. */
#define L2_4K 0x403000ull      /* PT[3]: 4 KiB, to L1 0x155000 (EPT01 2M) */
#define L1_OF_4K 0x155000ull
#define L2_2M 0x40000000ull    /* PD_1G[0]: 2 MiB, to L1 2 MiB (EPT01 4K) */
#define L1_OF_2M 0x200000ull
#define L2_2M2M 0x600000ull    /* PD[3]: 2 MiB, to L1 0 (EPT01 2 MiB) */

static struct ept02 x;

static struct ept02_config config(void)
{
    return (struct ept02_config){
        .ept01 = ept01, .read_l1 = read_l1, .write_l1 = write_l1,
        .ept12_cap = CAP_ALL, .alloc = pool_alloc, .page = pool_page,
        .free = pool_free,
    };
}

static int setup(void **state)
{
    (void)state;
    ept02_host_reset();
    pool_freed = 0;

    l1_set(PML4, PDPT | RWX);
    l1_set(PDPT + 0 * 8, PD | RWX);
    l1_set(PDPT + 1 * 8, PD_1G | RWX);
    l1_set(pde12(L2_4K), PT | RWX);
    l1_set(pte12(L2_4K), L1_OF_4K | MT_WB | RWX);
    l1_set(PD_1G + 0 * 8, L1_OF_2M | PS | MT_WB | RWX);
    l1_set(pde12(L2_2M2M), 0 | PS | MT_WB | RWX);

    struct ept02_config cfg = config();
    assert_int_equal(ept02_init(&x, &cfg), 0);
    assert_int_equal(ept02_switch(&x, EPT12_EPTP), EPTP_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ept02_destroy(&x);
    assert_int_equal(stray_host_reads, 0);
    return 0;
}

/* What the hardware would do with EPT02: walk it in host memory. */
static struct ept_result ept02_hw(uint64_t l2, enum ept_access a)
{
    struct ept_config cfg = {.eptp = ept02_root(&x), .cap = CAP_ALL,
                             .maxphyaddr = MAXPHY, .read = host_read};
    struct ept_result r;
    ept_walk(&cfg, l2, a, EPT_ORIGIN_LINEAR, &r);
    return r;
}

static struct ept02_result fault(uint64_t l2, enum ept_access a)
{
    struct ept02_result r;
    memset(&r, 0xa5, sizeof r); /* every field must be written */
    ept02_fault(&x, l2, a, EPT_ORIGIN_LINEAR, &r);
    return r;
}

/* ---- Composition ---- */

/* Turtles 3.3: EPT02 maps L2 straight to host: 4 KiB EPT12 page
 * L2 0x403000 -> L1 0x155000, inside EPT01's 2 MiB page L1 0 ->
 * L1_HOST: host L1_HOST + 0x155000. The smaller page wins: 4 KiB. */
static void test_4k_ept12_over_2m_ept01(void **state)
{
    (void)state;
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    struct ept02_result r = fault(L2_4K + 0x9ab, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.l1_gpa, L1_OF_4K + 0x9ab);
    assert_int_equal(r.hpa, L1_HOST + L1_OF_4K + 0x9ab);
    assert_int_equal(r.page_size, PAGE);
    assert_int_equal(r.perms, RWX);
    assert_int_equal(r.memory_type, 6);
    static const uint64_t offsets[] = {0, 8, 0x9ab, 0xff8, 0xfff};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        struct ept_result h = ept02_hw(L2_4K + offsets[i], EPT_ACCESS_WRITE);
        assert_int_equal(h.status, EPT_OK);
        assert_int_equal(h.hpa, L1_HOST + L1_OF_4K + offsets[i]);
        assert_int_equal(h.page_size, PAGE);
        assert_int_equal(h.memory_type, 6);
    }
    /* Only that page: its neighbours still fault. */
    assert_int_equal(ept02_hw(L2_4K + PAGE, EPT_ACCESS_READ).status,
                     EPT_VIOLATION);
    assert_int_equal(ept02_hw(L2_4K - 1, EPT_ACCESS_READ).status,
                     EPT_VIOLATION);
}

/* The reverse: 2 MiB EPT12 page L2 1 GiB -> L1 2 MiB, over EPT01's 4 KiB
 * pages L1 2 MiB + i * 4 KiB -> L1_HOST + 2 MiB + i * 4 KiB. Each 4 KiB
 * of the L2 page is its own EPT02 entry. */
static void test_2m_ept12_over_4k_ept01(void **state)
{
    (void)state;
    static const uint64_t offsets[] = {0, 0x12345, 0x1fffff};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        uint64_t off = offsets[i];
        struct ept02_result r = fault(L2_2M + off, EPT_ACCESS_FETCH);
        assert_int_equal(r.outcome, EPT02_FILLED);
        assert_int_equal(r.l1_gpa, L1_OF_2M + off);
        assert_int_equal(r.hpa, L1_HOST + L1_OF_2M + off);
        assert_int_equal(r.page_size, PAGE);
        struct ept_result h = ept02_hw(L2_2M + off, EPT_ACCESS_FETCH);
        assert_int_equal(h.status, EPT_OK);
        assert_int_equal(h.hpa, L1_HOST + L1_OF_2M + off);
        assert_int_equal(h.page_size, PAGE);
        h = ept02_hw((L2_2M + off) ^ 0x1000, EPT_ACCESS_READ);
        assert_int_equal(h.status, EPT_VIOLATION); /* the neighbour */
    }
    assert_int_equal(x.count.fills, 3);
}

/* Both levels map 2 MiB pages: EPT02 maps one 2 MiB page too. L2
 * 0x600000 -> L1 0 -> L1_HOST. */
static void test_2m_over_2m_maps_2m(void **state)
{
    (void)state;
    struct ept02_result r = fault(L2_2M2M + 0x1234, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.page_size, 2 * MIB);
    static const uint64_t offsets[] = {0, 0x1234, 0x100000, 0x1fffff};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        struct ept_result h = ept02_hw(L2_2M2M + offsets[i], EPT_ACCESS_READ);
        assert_int_equal(h.status, EPT_OK);
        assert_int_equal(h.hpa, L1_HOST + offsets[i]);
        assert_int_equal(h.page_size, 2 * MIB);
    }
    assert_int_equal(x.count.fills, 1);
}

/* A 1 GiB EPT12 page (L2 2 GiB -> L1 0) over EPT01's 2 MiB page: the
 * smaller, 2 MiB, at the matching offset. */
static void test_1g_ept12_over_2m_ept01_maps_2m(void **state)
{
    (void)state;
    uint64_t l2 = 2ull << 30;
    l1_set(PDPT + 2 * 8, 0 | PS | MT_WB | RWX);
    struct ept02_result r = fault(l2 + 0x123456, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.page_size, 2 * MIB);
    assert_int_equal(r.hpa, L1_HOST + 0x123456);
    assert_int_equal(r.ept12_refs, 2);
    struct ept_result h = ept02_hw(l2 + 0x1fffff, EPT_ACCESS_READ);
    assert_int_equal(h.status, EPT_OK);
    assert_int_equal(h.hpa, L1_HOST + 0x1fffff);
    /* The next 2 MiB of the 1 GiB page is L1 [2 MiB, 4 MiB), EPT01's
     * 4 KiB pages: 4 KiB there. */
    r = fault(l2 + 2 * MIB + 0x5000, EPT_ACCESS_READ);
    assert_int_equal(r.page_size, PAGE);
    assert_int_equal(r.hpa, L1_HOST + 2 * MIB + 0x5000);
}

/* ---- Permissions: R/W/X ANDed (Turtles 3.3, SDM 29.3.3.2) ---- */

/* EPT12 read-only over EPT01 RWX: EPT02 read-only. A write is then
 * EPT12's violation: reflected to L1 with bits 2:0 = write (2), bits 5:3
 * = EPT12's permissions (R = 1), bits 7 and 8 set for the final
 * translation of a linear address: 0x2 | 0x8 | 0x80 | 0x100 = 0x18a. */
static void test_r_in_ept12_and_rwx_in_ept01_gives_r(void **state)
{
    (void)state;
    l1_set(pte12(L2_4K), L1_OF_4K | MT_WB | R);
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.perms, R);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_OK);
    struct ept_result h = ept02_hw(L2_4K, EPT_ACCESS_WRITE);
    assert_int_equal(h.status, EPT_VIOLATION);
    assert_int_equal(h.perms, R);
    r = fault(L2_4K + 0x10, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_REFLECT_VIOLATION);
    assert_int_equal(r.qualification, 0x18a);
    assert_int_equal(r.gpa, L2_4K + 0x10);
}

/* EPT12 RWX over EPT01 read-only (L0 write-protects L1's page): EPT02
 * read-only, and a write is L0's fault, not L1's. */
static void test_rwx_in_ept12_and_r_in_ept01_gives_r(void **state)
{
    (void)state;
    uint64_t l2 = L2_4K + PAGE;
    l1_set(pte12(l2), (2 * MIB + 7 * PAGE) | MT_WB | RWX);
    ept01_set(EPT01_PT + 7 * 8, (L1_HOST + 2 * MIB + 7 * PAGE) | MT_WB | R);
    struct ept02_result r = fault(l2, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.perms, R);
    assert_int_equal(ept02_hw(l2, EPT_ACCESS_WRITE).status, EPT_VIOLATION);
    r = fault(l2, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_L0_FAULT);
    assert_int_equal(r.l1_gpa, 2 * MIB + 7 * PAGE);
    assert_int_equal(r.ept01.status, EPT_VIOLATION);
    assert_int_equal(x.count.l0_faults, 1);
    assert_int_equal(x.count.reflected_violations, 0);
}

/* The AND covers every level of both EPTs: X cleared in an EPT12 PDE and
 * W in the EPT01 PTE leave R. */
static void test_permissions_anded_over_all_levels(void **state)
{
    (void)state;
    uint64_t l2 = L2_4K + 2 * PAGE;
    l1_set(pte12(l2), (2 * MIB + 9 * PAGE) | MT_WB | RWX);
    l1_set(pde12(l2), PT | R | W);
    ept01_set(EPT01_PT + 9 * 8, (L1_HOST + 2 * MIB + 9 * PAGE) | MT_WB | R | X);
    struct ept02_result r = fault(l2, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.perms, R);
}

/* Execute-only in EPT12 (offered by the cap) composes to execute-only. */
static void test_execute_only(void **state)
{
    (void)state;
    l1_set(pte12(L2_4K), L1_OF_4K | MT_WB | X);
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_FETCH);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.perms, X);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_FETCH).status, EPT_OK);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
}

/* ---- Memory type ---- */

/* EPT12's leaf type and ignore-PAT bit are L1's choice for L2 and are
 * kept (WT = 4, IPAT = bit 6); EPT01's UC (MMIO) overrides. */
static void test_memory_type_from_ept12_uc_from_ept01_wins(void **state)
{
    (void)state;
    l1_set(pte12(L2_4K), L1_OF_4K | 4 << 3 | 1 << 6 | RWX);
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(r.memory_type, 4);
    struct ept_result h = ept02_hw(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(h.memory_type, 4);
    assert_true(h.ignore_pat);

    uint64_t l2 = L2_4K + PAGE;
    l1_set(pte12(l2), (2 * MIB + 3 * PAGE) | MT_WB | RWX);
    ept01_set(EPT01_PT + 3 * 8, (L1_HOST + 2 * MIB + 3 * PAGE) | MT_UC | RWX);
    r = fault(l2, EPT_ACCESS_READ);
    assert_int_equal(r.memory_type, 0);
    assert_int_equal(ept02_hw(l2, EPT_ACCESS_READ).memory_type, 0);
}

/* ---- Faults in EPT12: reflected as L1 would see them ---- */

/* A not-present EPT12 entry: permissions 5:3 are 0 (SDM 28.2.1: the AND
 * includes the not-present entry). Bits 2:0 are the access; bit 7 is set
 * when a linear address exists, bit 8 when it is the final translation
 * (not a guest paging-structure access). */
static void test_ept12_not_present_reflects_violation(void **state)
{
    (void)state;
    uint64_t l2 = L2_4K + 4 * PAGE + 0x321;
    static const struct {
        enum ept_access access;
        enum ept_origin origin;
        uint64_t qual;
    } cases[] = {
        {EPT_ACCESS_READ, EPT_ORIGIN_LINEAR, 0x181},
        {EPT_ACCESS_WRITE, EPT_ORIGIN_LINEAR, 0x182},
        {EPT_ACCESS_FETCH, EPT_ORIGIN_LINEAR, 0x184},
        {EPT_ACCESS_READ, EPT_ORIGIN_GUEST_PAGING, 0x081},
        {EPT_ACCESS_READ, EPT_ORIGIN_NO_LINEAR, 0x001},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct ept02_result r;
        ept02_fault(&x, l2, cases[i].access, cases[i].origin, &r);
        assert_int_equal(r.outcome, EPT02_REFLECT_VIOLATION);
        assert_int_equal(r.qualification, cases[i].qual);
        assert_int_equal(r.gpa, l2);
        assert_int_equal(r.ept12_refs, 4);
        assert_int_equal(r.ept01_refs, 0);
    }
    assert_int_equal(x.count.reflected_violations, 5);
    assert_int_equal(x.count.fills, 0);
    /* A missing PML4 entry: one reference, same bits. */
    struct ept02_result r = fault(1ull << 39, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_REFLECT_VIOLATION);
    assert_int_equal(r.qualification, 0x182);
    assert_int_equal(r.gpa, 1ull << 39);
    assert_int_equal(r.ept12_refs, 1);
}

/* Permission bits 5:3 of a reflected violation are EPT12's AND over its
 * levels (R|X here, from a PDE without W), never EPT01's or EPT02's:
 * 0x2 | (R|X) << 3 | 0x180 = 0x1aa. */
static void test_reflected_permissions_are_ept12s(void **state)
{
    (void)state;
    l1_set(pde12(L2_4K), PT | R | X);
    ept01_set(EPT01_PD, L1_HOST | PS | MT_WB | R); /* irrelevant to L1 */
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_REFLECT_VIOLATION);
    assert_int_equal(r.qualification, 0x1aa);
}

/* SDM 29.3.3.1: write-only permissions, a reserved memory type (2) and a
 * reserved bit (a PDE's bit 3 when it references a table) are
 * misconfigurations of EPT12: L1 gets an EPT misconfiguration. */
static void test_ept12_misconfig_reflects_misconfig(void **state)
{
    static const struct {
        uint64_t at, value;
    } bad[] = {
        {pte12(L2_4K), L1_OF_4K | MT_WB | W},
        {pte12(L2_4K), L1_OF_4K | 2 << 3 | RWX},
        {pde12(L2_4K), PT | 1 << 3 | RWX},
        {pte12(L2_4K), L1_OF_4K | MT_WB | RWX | 1ull << 40}, /* > MAXPHY */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (i > 0) {
            teardown(state);
            setup(state);
        }
        l1_set(bad[i].at, bad[i].value);
        struct ept02_result r = fault(L2_4K + 8, EPT_ACCESS_READ);
        assert_int_equal(r.outcome, EPT02_REFLECT_MISCONFIG);
        assert_int_equal(r.gpa, L2_4K + 8);
        assert_int_equal(x.count.reflected_misconfigs, 1);
        assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status,
                         EPT_VIOLATION);
    }
}

/* ---- Faults in EPT01: L0's ---- */

/* EPT12 maps L2's page to L1-physical 8 MiB, outside L1's 4 MiB of RAM:
 * EPT01 has no entry, L0 decides (MMIO, or L1's bug). */
static void test_ept01_miss_is_l0_fault(void **state)
{
    (void)state;
    uint64_t l2 = L2_4K + 5 * PAGE;
    l1_set(pte12(l2), 8 * MIB | MT_WB | RWX);
    struct ept02_result r = fault(l2 + 0x44, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_L0_FAULT);
    assert_int_equal(r.l1_gpa, 8 * MIB + 0x44);
    assert_int_equal(r.ept01.status, EPT_VIOLATION);
    assert_int_equal(r.ept12_refs, 4);
    assert_int_equal(r.ept01_refs, 3); /* PML4E, PDPTE, not-present PDE */
    assert_int_equal(x.count.l0_faults, 1);
    assert_int_equal(ept02_hw(l2, EPT_ACCESS_READ).status, EPT_VIOLATION);
}

/* ---- Bounds: bad EPT12 pointers never reach memory outside L1 RAM ---- */

/* An EPT12 whose PML4 is outside L1 RAM: EPT01 refuses the read, which
 * gives an all-ones entry, a misconfiguration (reserved bits). */
static void test_ept12_pointer_outside_l1_ram(void **state)
{
    (void)state;
    assert_int_equal(ept02_switch(&x, 0x7000000ull | 6 | 3 << 3), EPTP_OK);
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_REFLECT_MISCONFIG);
    assert_int_equal(r.ept12_refs, 1);
    assert_int_equal(failed_l1_reads, 1);
    assert_int_equal(stray_host_reads, 0);
}

/* A table pointer in EPT12 outside L1 RAM, at each level: likewise.
 * One points just below 2^39 (MAXPHYADDR), far above any fake. */
static void test_ept12_entry_outside_l1_ram(void **state)
{
    static const struct {
        uint64_t at, table;
    } bad[] = {
        {PML4, L1_RAM_SIZE},
        {PDPT, 0x7ffffff000ull},
        {pde12(L2_4K), 1ull << 32},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (i > 0) {
            teardown(state);
            setup(state);
        }
        l1_set(bad[i].at, bad[i].table | RWX);
        struct ept02_result r = fault(L2_4K, EPT_ACCESS_READ);
        assert_int_equal(r.outcome, EPT02_REFLECT_MISCONFIG);
        assert_int_equal(failed_l1_reads, 1);
        assert_int_equal(r.ept12_refs, i + 2);
    }
}

/* A pointer EPTP validation refuses (walk length 5, reserved bits 63:39)
 * leaves the context as it was (SDM 27.2.1.1: VM entry fails instead). */
static void test_switch_refuses_invalid_ept12(void **state)
{
    (void)state;
    assert_int_equal(fault(L2_4K, EPT_ACCESS_READ).outcome, EPT02_FILLED);
    assert_int_equal(ept02_switch(&x, PML4 | 6 | 4 << 3),
                     EPTP_BAD_WALK_LENGTH);
    assert_int_equal(ept02_switch(&x, (1ull << 39) | PML4 | 6 | 3 << 3),
                     EPTP_RESERVED_BITS);
    assert_int_equal(ept02_switch(&x, PML4 | 1 | 3 << 3),
                     EPTP_BAD_MEMORY_TYPE);
    assert_int_equal(x.ept12, EPT12_EPTP);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_OK);
}

/* ---- Invalidation ---- */

/* EPT02 is a cache of EPT12: L1 remapping a page without INVEPT keeps
 * the old translation (allowed: SDM 29.4.3); after INVEPT the next
 * access faults again and refills from the new EPT12. */
static void test_invept_invalidates_and_refills(void **state)
{
    (void)state;
    assert_int_equal(fault(L2_4K, EPT_ACCESS_READ).outcome, EPT02_FILLED);
    l1_set(pte12(L2_4K), 0x156000 | MT_WB | RWX);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).hpa,
                     L1_HOST + L1_OF_4K);

    ept02_invalidate_all(&x);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(x.count.invalidations, 1);
    assert_int_equal(x.count.pages, 1); /* the root alone */
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).hpa, L1_HOST + 0x156000);
    assert_int_equal(x.count.fills, 2);
    /* The tables of the refill are the spare pages: L0 gave no more. */
    assert_int_equal(pool_used, 4);
}

/* Single-context INVEPT for the current EPT12 (same bits 51:12, other
 * low bits) invalidates; for another EPTP it does nothing here; global
 * always invalidates. */
static void test_invept_types(void **state)
{
    (void)state;
    fault(L2_4K, EPT_ACCESS_READ);
    ept02_invept(&x, EPT02_INVEPT_SINGLE, 0x20000 | 6 | 3 << 3);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_OK);
    assert_int_equal(x.count.invalidations, 0);
    ept02_invept(&x, EPT02_INVEPT_SINGLE, PML4 | 0 | 3 << 3 | EPTP_AD_ENABLE);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(x.count.invalidations, 1);
    fault(L2_4K, EPT_ACCESS_READ);
    ept02_invept(&x, EPT02_INVEPT_GLOBAL, 0);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(x.count.invalidations, 2);
}

/* A second EPT12 (here sharing the tables below its PML4) at L1's EPTP
 * 0x20000. */
#define EPT12_B (0x20000ull | 6 | 3 << 3)

/* The same EPT12 at the next nested entry keeps its root; another gets a
 * root of its own, and switching back finds the first one's translations
 * again, without a new fill. */
static void test_switch_keeps_a_root_per_ept12(void **state)
{
    (void)state;
    fault(L2_4K, EPT_ACCESS_READ);
    uint64_t root_a = ept02_root(&x);
    assert_int_equal(ept02_switch(&x, EPT12_EPTP), EPTP_OK);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_OK);
    assert_int_equal(x.count.root_hits, 0);
    l1_set(0x20000, PDPT | RWX);
    assert_int_equal(ept02_switch(&x, EPT12_B), EPTP_OK);
    assert_true(ept02_root(&x) != root_a);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(fault(L2_4K, EPT_ACCESS_READ).outcome, EPT02_FILLED);
    assert_int_equal(ept02_switch(&x, EPT12_EPTP), EPTP_OK);
    assert_int_equal(ept02_root(&x), root_a);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_OK);
    assert_int_equal(x.count.fills, 2);
    assert_int_equal(x.count.switches, 0);
    assert_int_equal(x.count.root_hits, 1);
}

/* EPT02_ROOTS roots at most: a new EPT12 then empties the least recently
 * used one, and the others keep their translations. */
static void test_switch_replaces_the_least_recently_used_root(void **state)
{
    (void)state;
    uint64_t eptp[EPT02_ROOTS + 1] = {EPT12_EPTP}; /* setup's, then new */
    for (unsigned k = 1; k <= EPT02_ROOTS; k++) {
        eptp[k] = (0x20000ull + k * PAGE) | 6 | 3 << 3;
        l1_set(0x20000 + k * PAGE, PDPT | RWX);
    }
    for (unsigned k = 0; k < EPT02_ROOTS; k++) {
        assert_int_equal(ept02_switch(&x, eptp[k]), EPTP_OK);
        assert_int_equal(fault(L2_4K, EPT_ACCESS_READ).outcome, EPT02_FILLED);
    }
    /* The first is used again: the second is now the least recent. */
    assert_int_equal(ept02_switch(&x, eptp[0]), EPTP_OK);
    assert_int_equal(ept02_switch(&x, eptp[EPT02_ROOTS]), EPTP_OK);
    assert_int_equal(x.count.switches, 1);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(ept02_switch(&x, eptp[1]), EPTP_OK); /* evicted */
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(x.count.switches, 2);
    assert_int_equal(ept02_switch(&x, eptp[0]), EPTP_OK); /* kept */
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_OK);
}

/* INVEPT reaches every root: single-context those of its EP4TA (even
 * when not current, and whatever the EPTP's low bits), global all. */
static void test_invept_reaches_roots_not_current(void **state)
{
    (void)state;
    l1_set(0x20000, PDPT | RWX);
    fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(ept02_switch(&x, EPT12_B), EPTP_OK);
    fault(L2_4K, EPT_ACCESS_READ);
    ept02_invept(&x, EPT02_INVEPT_SINGLE, PML4 | 0 | 3 << 3);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_OK);
    assert_int_equal(ept02_switch(&x, EPT12_EPTP), EPTP_OK);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    fault(L2_4K, EPT_ACCESS_READ);
    ept02_invept(&x, EPT02_INVEPT_GLOBAL, 0);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(ept02_switch(&x, EPT12_B), EPTP_OK);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(x.count.invalidations, 2);
}

/* ---- vmcs02's EPT pointer ---- */

static void test_root_eptp(void **state)
{
    (void)state;
    uint64_t eptp = ept02_root(&x);
    assert_int_equal(eptp & ~0xfffull, EPT02_HOST); /* the first page */
    assert_int_equal(eptp & 7, 6);                  /* EPT12's WB */
    assert_int_equal((eptp >> 3) & 7, 3);           /* 4 levels */
    assert_int_equal(eptp & EPTP_AD_ENABLE, 0);
    assert_int_equal(ept_check_eptp(eptp, CAP_ALL, MAXPHY), EPTP_OK);
    /* L1's A/D flags are L1's: EPT02's stay off. */
    assert_int_equal(ept02_switch(&x, EPT12_EPTP | EPTP_AD_ENABLE), EPTP_OK);
    assert_int_equal(ept02_root(&x) & EPTP_AD_ENABLE, 0);
    assert_int_equal(ept02_switch(&x, PML4 | 0 | 3 << 3), EPTP_OK);
    assert_int_equal(ept02_root(&x) & 7, 0); /* EPT12's UC */

    ept02_destroy(&x);
    struct ept02_config cfg = config();
    cfg.ad_flags = true;
    assert_int_equal(ept02_init(&x, &cfg), 0);
    assert_int_equal(ept02_switch(&x, EPT12_EPTP), EPTP_OK);
    assert_int_equal(ept02_root(&x) & EPTP_AD_ENABLE, EPTP_AD_ENABLE);
}

/* ---- EPT12's accessed and dirty flags (SDM 29.3.4) ---- */

/* With EPT12's bit 6 set, a read sets A in each EPT12 entry used and
 * leaves D clear; EPT02 must then refuse writes so that the first write
 * walks EPT12 again and sets D there. */
static void test_ept12_ad_flags(void **state)
{
    (void)state;
    assert_int_equal(ept02_switch(&x, EPT12_EPTP | EPTP_AD_ENABLE), EPTP_OK);
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.perms, R | X);
    assert_true(l1_get(PML4) & ACCESSED);
    assert_true(l1_get(pte12(L2_4K)) & ACCESSED);
    assert_false(l1_get(pte12(L2_4K)) & DIRTY);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_WRITE).status, EPT_VIOLATION);
    r = fault(L2_4K, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.perms, RWX);
    assert_true(l1_get(pte12(L2_4K)) & DIRTY);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_WRITE).status, EPT_OK);
    /* A page already dirty is writable from its first fill. */
    ept02_invalidate_all(&x);
    assert_int_equal(fault(L2_4K, EPT_ACCESS_READ).perms, RWX);
}

/* ---- Counters and memory references ---- */

/* References: 4 KiB EPT12 page = 4 EPT12 entries, over EPT01's 2 MiB
 * page = 3 EPT01 entries; 2 MiB EPT12 page = 3, over EPT01's 4 KiB = 4. */
static void test_counters_and_references(void **state)
{
    (void)state;
    struct ept02_result r = fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(r.ept12_refs, 4);
    assert_int_equal(r.ept01_refs, 3);
    r = fault(L2_2M, EPT_ACCESS_READ);
    assert_int_equal(r.ept12_refs, 3);
    assert_int_equal(r.ept01_refs, 4);
    r = fault(L2_4K + 4 * PAGE, EPT_ACCESS_READ); /* not present */
    assert_int_equal(r.outcome, EPT02_REFLECT_VIOLATION);
    l1_set(pte12(L2_4K + 6 * PAGE), L1_OF_4K | 2); /* write-only */
    r = fault(L2_4K + 6 * PAGE, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_REFLECT_MISCONFIG);
    ept02_invalidate_all(&x);

    assert_int_equal(x.count.fills, 2);
    assert_int_equal(x.count.reflected_violations, 1);
    assert_int_equal(x.count.reflected_misconfigs, 1);
    assert_int_equal(x.count.l0_faults, 0);
    assert_int_equal(x.count.invalidations, 1);
    assert_int_equal(x.count.ept12_refs, 4 + 3 + 4 + 4);
    assert_int_equal(x.count.ept01_refs, 3 + 4);
}

/* ---- EPT02's tables ---- */

/* A 2 MiB EPT02 page, then (EPT12 changed without INVEPT) a 4 KiB fill
 * inside it: the large page becomes a table. Then the 2 MiB mapping back:
 * the table goes, its page is kept for reuse. */
static void test_large_and_small_pages_replace_each_other(void **state)
{
    (void)state;
    l1_set(pde12(L2_2M2M), 0 | PS | MT_WB | R);
    assert_int_equal(fault(L2_2M2M, EPT_ACCESS_READ).page_size, 2 * MIB);
    unsigned pages = x.count.pages; /* root, PDPT, PD */
    assert_int_equal(pages, 3);

    l1_set(pde12(L2_2M2M), 0x30000 | RWX); /* a PT in L1 RAM */
    l1_set(0x30000 + 1 * 8, 0x170000 | MT_WB | RWX);
    struct ept02_result r = fault(L2_2M2M + PAGE, EPT_ACCESS_WRITE);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(r.page_size, PAGE);
    assert_int_equal(x.count.pages, 4);
    assert_int_equal(ept02_hw(L2_2M2M + PAGE, EPT_ACCESS_WRITE).hpa,
                     L1_HOST + 0x170000);
    assert_int_equal(ept02_hw(L2_2M2M, EPT_ACCESS_READ).status,
                     EPT_VIOLATION);

    l1_set(pde12(L2_2M2M), 0 | PS | MT_WB | RWX);
    r = fault(L2_2M2M + 9 * PAGE, EPT_ACCESS_READ);
    assert_int_equal(r.page_size, 2 * MIB);
    assert_int_equal(x.count.pages, 3);
    assert_int_equal(ept02_hw(L2_2M2M + PAGE, EPT_ACCESS_READ).hpa,
                     L1_HOST + PAGE);
}

/* With L0's memory full, a fill empties EPT02 and tries again; with not
 * even the pages of one path, it reports so and changes no mapping. */
static void test_out_of_memory(void **state)
{
    (void)state;
    pool_limit = 4; /* root + PDPT + PD + PT: one 4 KiB path */
    assert_int_equal(fault(L2_4K, EPT_ACCESS_READ).outcome, EPT02_FILLED);
    /* L2 1 GiB needs another PD: none left, EPT02 starts over. */
    struct ept02_result r = fault(L2_2M, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_FILLED);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
    assert_int_equal(ept02_hw(L2_2M, EPT_ACCESS_READ).status, EPT_OK);

    ept02_destroy(&x);
    pool_used = 0;
    pool_limit = 2;
    struct ept02_config cfg = config();
    assert_int_equal(ept02_init(&x, &cfg), 0);
    assert_int_equal(ept02_switch(&x, EPT12_EPTP), EPTP_OK);
    r = fault(L2_4K, EPT_ACCESS_READ);
    assert_int_equal(r.outcome, EPT02_NO_MEMORY);
    assert_int_equal(ept02_hw(L2_4K, EPT_ACCESS_READ).status, EPT_VIOLATION);
}

/* Destroy gives L0 back every page it gave. */
static void test_destroy_frees_every_page(void **state)
{
    (void)state;
    fault(L2_4K, EPT_ACCESS_READ);
    fault(L2_2M, EPT_ACCESS_READ);
    ept02_invalidate_all(&x);
    fault(L2_2M2M, EPT_ACCESS_READ);
    l1_set(0x20000, PDPT | RWX);
    assert_int_equal(ept02_switch(&x, EPT12_B), EPTP_OK); /* a second root */
    fault(L2_4K, EPT_ACCESS_READ);
    unsigned used = pool_used;
    ept02_destroy(&x);
    assert_int_equal(pool_freed, used);
    struct ept02_config cfg = config();
    assert_int_equal(ept02_init(&x, &cfg), 0); /* for teardown */
}

/* A configuration that would need execute-only EPT02 entries the
 * hardware refuses is refused. */
static void test_init_refuses_exec_only_beyond_hardware(void **state)
{
    (void)state;
    ept02_destroy(&x);
    struct ept02_config cfg = config();
    cfg.ept01.cap &= ~EPT_CAP_EXEC_ONLY;
    assert_int_equal(ept02_init(&x, &cfg), -1);
    cfg = config();
    assert_int_equal(ept02_init(&x, &cfg), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_4k_ept12_over_2m_ept01),
        T(test_2m_ept12_over_4k_ept01),
        T(test_2m_over_2m_maps_2m),
        T(test_1g_ept12_over_2m_ept01_maps_2m),
        T(test_r_in_ept12_and_rwx_in_ept01_gives_r),
        T(test_rwx_in_ept12_and_r_in_ept01_gives_r),
        T(test_permissions_anded_over_all_levels),
        T(test_execute_only),
        T(test_memory_type_from_ept12_uc_from_ept01_wins),
        T(test_ept12_not_present_reflects_violation),
        T(test_reflected_permissions_are_ept12s),
        T(test_ept12_misconfig_reflects_misconfig),
        T(test_ept01_miss_is_l0_fault),
        T(test_ept12_pointer_outside_l1_ram),
        T(test_ept12_entry_outside_l1_ram),
        T(test_switch_refuses_invalid_ept12),
        T(test_invept_invalidates_and_refills),
        T(test_invept_types),
        T(test_switch_keeps_a_root_per_ept12),
        T(test_switch_replaces_the_least_recently_used_root),
        T(test_invept_reaches_roots_not_current),
        T(test_root_eptp),
        T(test_ept12_ad_flags),
        T(test_counters_and_references),
        T(test_large_and_small_pages_replace_each_other),
        T(test_out_of_memory),
        T(test_destroy_frees_every_page),
        T(test_init_refuses_exec_only_beyond_hardware),
    };
    return cmocka_run_group_tests_name("ept02", tests, NULL, NULL);
}
