/* l0/vmx/ept.c: the EPT walk and EPTP validation. Each test builds EPT
 * tables in a small physical memory and works its expected result out
 * from the SDM's rules (Vol. 3C 25.6.11, 29.3.2-29.3.4, 28.2.1 Table
 * 28-7), never from the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmx/ept.h"

enum { MEM_BASE = 0, MEM_SIZE = 0x10000, MAXPHY = 39 };
#include "fake_phys.h"

static void set(uint64_t pa, uint64_t v)
{
    memcpy(&mem[pa], &v, 8);
}

static uint64_t get(uint64_t pa)
{
    uint64_t v;
    memcpy(&v, &mem[pa], 8);
    return v;
}

/* One path: GPA 0x40603123 has index 0 in the PML4 (bits 47:39), 1 in
 * the PDPT (38:30), 3 in the PD (29:21) and 3 in the PT (20:12). */
#define GPA 0x40603123ull
#define PAGE 0x7654000ull /* the 4 KiB page it maps to */
enum {
    PML4 = 0x1000,
    PDPT = 0x2000,
    PD = 0x3000,
    PT = 0x4000,
    PML4E = PML4 + 0 * 8,
    PDPTE = PDPT + 1 * 8,
    PDE = PD + 3 * 8,
    PTE = PT + 3 * 8,
    RWX = 7,
    PS = 1 << 7,
    ACCESSED = 1 << 8,
    DIRTY = 1 << 9,
    MT_WB = 6 << 3,
};
static const uint64_t entry_at[5] = {[4] = PML4E, [3] = PDPTE, [2] = PDE,
                                     [1] = PTE};

#define EPTP_WB_4 (PML4 | 6 | 3 << 3) /* WB, walk length 4 */
#define CAP_ALL                                                               \
    (EPT_CAP_EXEC_ONLY | EPT_CAP_WALK_LENGTH_4 | EPT_CAP_MEMTYPE_UC |         \
     EPT_CAP_MEMTYPE_WB | EPT_CAP_2M_PAGES | EPT_CAP_1G_PAGES |               \
     EPT_CAP_AD_FLAGS)

static int build_path(void **state)
{
    (void)state;
    memset(mem, 0, sizeof mem);
    fake_writes = 0;
    set(PML4E, PDPT | RWX);
    set(PDPTE, PD | RWX);
    set(PDE, PT | RWX);
    set(PTE, PAGE | MT_WB | RWX);
    return 0;
}

/* Replaces bits 2:0 (R, W, X) of the entry used at one level. */
static void set_rwx(unsigned level, unsigned rwx)
{
    set(entry_at[level], (get(entry_at[level]) & ~7ull) | rwx);
}

static struct ept_result walk_with(uint64_t eptp, uint64_t cap, uint64_t gpa,
                                   enum ept_access access,
                                   enum ept_origin origin)
{
    struct ept_config cfg = {.eptp = eptp, .cap = cap, .maxphyaddr = MAXPHY,
                             .read = fake_read, .write = fake_write};
    struct ept_result r;
    memset(&r, 0xa5, sizeof r); /* the walker must fill every field */
    ept_walk(&cfg, gpa, access, origin, &r);
    return r;
}

static struct ept_result walk(enum ept_access access)
{
    return walk_with(EPTP_WB_4, CAP_ALL, GPA, access, EPT_ORIGIN_LINEAR);
}

/* Bits 3-5 of a violation qualification hold permissions R, W, X. */
static uint64_t qual_perms(uint64_t q)
{
    return (q >> 3) & 7;
}

/* ---- Translation ---- */

static void test_4k_page_translates(void **state)
{
    (void)state;
    struct ept_result r = walk(EPT_ACCESS_READ);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(r.hpa, PAGE + 0x123);
    assert_int_equal(r.page_size, 0x1000);
    assert_int_equal(r.perms, RWX);
    assert_int_equal(r.memory_type, 6);
    assert_false(r.ignore_pat);
    assert_int_equal(r.refs, 4);
    assert_int_equal(r.ad_writes, 0);
    assert_int_equal(r.level, 1);
    assert_int_equal(fake_writes, 0);
}

/* Bits 51:MAXPHYADDR of the GPA are not the walker's business, but every
 * bit below 48 selects an entry: a different index at each level finds
 * nothing. */
static void test_each_level_uses_its_index_bits(void **state)
{
    (void)state;
    static const uint64_t other[] = {
        GPA + (1ull << 39), GPA + (1ull << 30), GPA + (1ull << 21),
        GPA + (1ull << 12),
    };
    for (unsigned i = 0; i < 4; i++) {
        struct ept_result r = walk_with(EPTP_WB_4, CAP_ALL, other[i],
                                        EPT_ACCESS_READ, EPT_ORIGIN_LINEAR);
        assert_int_equal(r.status, EPT_VIOLATION);
        assert_int_equal(r.level, 4 - i);
    }
    /* The offset within the page never does. */
    struct ept_result r = walk_with(EPTP_WB_4, CAP_ALL, GPA | 0xfff,
                                    EPT_ACCESS_READ, EPT_ORIGIN_LINEAR);
    assert_int_equal(r.hpa, PAGE + 0xfff);
}

/* Each permission bit of the leaf allows exactly its access. */
static void test_each_permission(void **state)
{
    static const unsigned leaf_perms[] = {
        EPT_R, EPT_R | EPT_W, EPT_R | EPT_X, EPT_R | EPT_W | EPT_X, EPT_X,
    };
    static const enum ept_access accesses[] = {
        EPT_ACCESS_READ, EPT_ACCESS_WRITE, EPT_ACCESS_FETCH,
    };
    static const unsigned needed[] = {EPT_R, EPT_W, EPT_X};
    for (size_t p = 0; p < 5; p++) {
        for (size_t a = 0; a < 3; a++) {
            build_path(state);
            set(PTE, PAGE | MT_WB | leaf_perms[p]);
            struct ept_result r = walk(accesses[a]);
            bool allowed = (leaf_perms[p] & needed[a]) != 0;
            assert_int_equal(r.status, allowed ? EPT_OK : EPT_VIOLATION);
            assert_int_equal(r.perms, leaf_perms[p]);
            if (!allowed) {
                assert_int_equal(r.qualification & 7, needed[a]);
                assert_int_equal(qual_perms(r.qualification), leaf_perms[p]);
            }
        }
    }
}

/* The permission of a translation is the AND over all four entries. */
static void test_permissions_are_anded_across_levels(void **state)
{
    for (unsigned level = 2; level <= 4; level++) {
        build_path(state);
        set_rwx(level, EPT_R | EPT_X);
        struct ept_result r = walk(EPT_ACCESS_WRITE);
        assert_int_equal(r.status, EPT_VIOLATION);
        assert_int_equal(r.perms, EPT_R | EPT_X);
        assert_int_equal(qual_perms(r.qualification), EPT_R | EPT_X);
        assert_int_equal(r.refs, 4); /* the walk went to the leaf */
        r = walk(EPT_ACCESS_FETCH);
        assert_int_equal(r.status, EPT_OK);
        assert_int_equal(r.perms, EPT_R | EPT_X);
    }
}

static void test_2m_page(void **state)
{
    (void)state;
    set(PDE, 0x0a00000 | PS | MT_WB | RWX);
    struct ept_result r = walk(EPT_ACCESS_WRITE);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(r.page_size, 2u << 20);
    assert_int_equal(r.hpa, 0x0a00000 + (GPA & 0x1fffff));
    assert_int_equal(r.refs, 3);
    assert_int_equal(r.level, 2);
    assert_int_equal(r.memory_type, 6);
}

static void test_1g_page(void **state)
{
    (void)state;
    set(PDPTE, 0x4c0000000ull | PS | (4 << 3) | (1 << 6) | RWX);
    struct ept_result r = walk(EPT_ACCESS_FETCH);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(r.page_size, 1u << 30);
    assert_int_equal(r.hpa, 0x4c0000000ull + (GPA & 0x3fffffff));
    assert_int_equal(r.refs, 2);
    assert_int_equal(r.level, 3);
    assert_int_equal(r.memory_type, 4); /* WP */
    assert_true(r.ignore_pat);
}

/* Bit 7 maps a page only where IA32_VMX_EPT_VPID_CAP allows it; in a
 * PML4E it is always reserved. */
static void test_large_pages_need_the_capability(void **state)
{
    set(PDE, 0x0a00000 | PS | MT_WB | RWX);
    struct ept_result r = walk_with(EPTP_WB_4, CAP_ALL & ~EPT_CAP_2M_PAGES,
                                    GPA, EPT_ACCESS_READ, EPT_ORIGIN_LINEAR);
    assert_int_equal(r.status, EPT_MISCONFIG);
    assert_int_equal(r.level, 2);
    build_path(state);
    set(PDPTE, 0x40000000 | PS | MT_WB | RWX);
    r = walk_with(EPTP_WB_4, CAP_ALL & ~EPT_CAP_1G_PAGES, GPA,
                  EPT_ACCESS_READ, EPT_ORIGIN_LINEAR);
    assert_int_equal(r.status, EPT_MISCONFIG);
    assert_int_equal(r.level, 3);
    build_path(state);
    set(PML4E, PDPT | PS | RWX);
    r = walk(EPT_ACCESS_READ);
    assert_int_equal(r.status, EPT_MISCONFIG);
    assert_int_equal(r.level, 4);
}

/* A PTE's bit 7 and every entry's bits 63:52 are ignored. */
static void test_ignored_bits(void **state)
{
    (void)state;
    set(PTE, PAGE | MT_WB | RWX | PS | (1ull << 63) | (1ull << 52) |
                 (1ull << 11) | (1ull << 10));
    set(PDE, PT | RWX | (1ull << 62) | (1ull << 11));
    struct ept_result r = walk(EPT_ACCESS_READ);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(r.hpa, PAGE + 0x123);
    assert_int_equal(r.page_size, 0x1000);
}

/* ---- Misconfigurations (SDM 29.3.3.1) ---- */

/* Bits 2:0 = 010b (write-only) and 110b (write/execute), at any level. */
static void test_misconfig_write_without_read(void **state)
{
    static const unsigned bad[] = {EPT_W, EPT_W | EPT_X};
    for (unsigned level = 1; level <= 4; level++) {
        for (size_t i = 0; i < 2; i++) {
            build_path(state);
            set_rwx(level, bad[i]);
            struct ept_result r = walk(EPT_ACCESS_READ);
            assert_int_equal(r.status, EPT_MISCONFIG);
            assert_int_equal(r.level, level);
            assert_int_equal(r.refs, 5 - level);
        }
    }
}

/* 100b (execute-only) is a misconfiguration unless offered; when it is,
 * a fetch succeeds and a read is a violation. */
static void test_execute_only_depends_on_capability(void **state)
{
    for (unsigned level = 1; level <= 4; level++) {
        build_path(state);
        set_rwx(level, EPT_X);
        struct ept_result r = walk_with(
            EPTP_WB_4, CAP_ALL & ~EPT_CAP_EXEC_ONLY, GPA, EPT_ACCESS_FETCH,
            EPT_ORIGIN_LINEAR);
        assert_int_equal(r.status, EPT_MISCONFIG);
        assert_int_equal(r.level, level);
        r = walk(EPT_ACCESS_FETCH);
        assert_int_equal(r.status, EPT_OK);
        assert_int_equal(r.perms, EPT_X);
        r = walk(EPT_ACCESS_READ);
        assert_int_equal(r.status, EPT_VIOLATION);
    }
}

/* Memory types 2, 3 and 7 are reserved in an entry that maps a page; 0,
 * 1, 4, 5 and 6 are fine. */
static void test_misconfig_reserved_memory_type_in_each_leaf(void **state)
{
    static const struct {
        uint64_t pa, base;
        unsigned level;
    } leaves[] = {
        {PTE, PAGE, 1},
        {PDE, 0x0a00000 | PS, 2},
        {PDPTE, 0x40000000 | PS, 3},
    };
    for (size_t i = 0; i < 3; i++) {
        for (unsigned mt = 0; mt < 8; mt++) {
            build_path(state);
            set(leaves[i].pa, leaves[i].base | mt << 3 | RWX);
            struct ept_result r = walk(EPT_ACCESS_READ);
            bool reserved = mt == 2 || mt == 3 || mt == 7;
            assert_int_equal(r.status, reserved ? EPT_MISCONFIG : EPT_OK);
            if (reserved)
                assert_int_equal(r.level, leaves[i].level);
            else
                assert_int_equal(r.memory_type, mt);
        }
    }
}

/* Reserved bits of each entry kind (SDM 29.3.2): 51:MAXPHYADDR
 * everywhere; 6:3 (and 7 in a PML4E) in entries that reference a table;
 * 29:12 in a 1 GiB PDPTE; 20:12 in a 2 MiB PDE. */
static void test_misconfig_reserved_bits_at_each_level(void **state)
{
    static const struct {
        uint64_t pa, entry;
        unsigned level;
    } rows[] = {
        {PML4E, PDPT | RWX | 1ull << 39, 4},
        {PML4E, PDPT | RWX | 1ull << 51, 4},
        {PML4E, PDPT | RWX | 1 << 3, 4},
        {PML4E, PDPT | RWX | 1 << 6, 4},
        {PDPTE, PD | RWX | 1ull << 45, 3},
        {PDPTE, PD | RWX | 1 << 4, 3},
        {PDPTE, 0x40000000 | PS | RWX | 1 << 12, 3},
        {PDPTE, 0x40000000 | PS | RWX | 1 << 29, 3},
        {PDPTE, 0x40000000 | PS | RWX | 1ull << 39, 3},
        {PDE, PT | RWX | 1ull << 40, 2},
        {PDE, PT | RWX | 6 << 3, 2}, /* a memory type where none belongs */
        {PDE, 0x0a00000 | PS | RWX | 1 << 12, 2},
        {PDE, 0x0a00000 | PS | RWX | 1 << 20, 2},
        {PDE, 0x0a00000 | PS | RWX | 1ull << 50, 2},
        {PTE, PAGE | MT_WB | RWX | 1ull << 39, 1},
        {PTE, PAGE | MT_WB | RWX | 1ull << 51, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        build_path(state);
        set(rows[i].pa, rows[i].entry);
        struct ept_result r = walk(EPT_ACCESS_READ);
        assert_int_equal(r.status, EPT_MISCONFIG);
        assert_int_equal(r.level, rows[i].level);
        assert_int_equal(r.entry, rows[i].entry);
    }
}

/* Bit 38 is the top address bit when MAXPHYADDR is 39, not reserved. */
static void test_highest_address_bit_is_not_reserved(void **state)
{
    (void)state;
    set(PTE, (1ull << 38) | PAGE | MT_WB | RWX);
    struct ept_result r = walk(EPT_ACCESS_READ);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(r.hpa, (1ull << 38) | (PAGE + 0x123));
}

/* "An EPT violation may occur ... whose translation does not cause an
 * EPT misconfiguration": a misconfigured leaf wins over a permission an
 * upper level denies. */
static void test_misconfig_takes_precedence_over_permissions(void **state)
{
    (void)state;
    set(PML4E, PDPT | EPT_R);
    set(PTE, PAGE | 2 << 3 | RWX);
    struct ept_result r = walk(EPT_ACCESS_WRITE);
    assert_int_equal(r.status, EPT_MISCONFIG);
    assert_int_equal(r.level, 1);
}

/* A table outside memory reads as all ones: reserved bits, so a
 * misconfiguration, never a crash or a silent translation. */
static void test_table_outside_memory_is_a_misconfig(void **state)
{
    (void)state;
    set(PDE, 0x7fff000 | RWX);
    struct ept_result r = walk(EPT_ACCESS_READ);
    assert_int_equal(r.status, EPT_MISCONFIG);
    assert_int_equal(r.level, 1);
    assert_int_equal(r.refs, 4);
}

/* ---- Violations (SDM 29.3.3.2, Table 28-7) ---- */

/* A not-present entry (bits 2:0 = 0) at level L ends the walk after
 * 5 - L references; the AND of the permissions is then 0. Its other
 * bits are ignored, even reserved ones. */
static void test_not_present_at_each_level(void **state)
{
    for (unsigned level = 1; level <= 4; level++) {
        build_path(state);
        set_rwx(level, 0);
        struct ept_result r = walk(EPT_ACCESS_WRITE);
        assert_int_equal(r.status, EPT_VIOLATION);
        assert_int_equal(r.level, level);
        assert_int_equal(r.refs, 5 - level);
        assert_int_equal(r.perms, 0);
        assert_int_equal(r.qualification,
                         EPT_QUAL_WRITE | EPT_QUAL_LINEAR_VALID |
                             EPT_QUAL_TRANSLATION);
        build_path(state);
        set(entry_at[level], 0xfff0000000000ff8ull);
        r = walk(EPT_ACCESS_READ);
        assert_int_equal(r.status, EPT_VIOLATION);
    }
}

/* Bit 7: a guest-linear address exists (all but PDPTE loads); bit 8: the
 * access is to the translation, not to a guest paging-structure entry. */
static void test_violation_linear_address_bits(void **state)
{
    (void)state;
    set(PTE, PAGE | MT_WB | EPT_R);
    static const struct {
        enum ept_origin origin;
        uint64_t bits;
    } rows[] = {
        {EPT_ORIGIN_NO_LINEAR, 0},
        {EPT_ORIGIN_GUEST_PAGING, EPT_QUAL_LINEAR_VALID},
        {EPT_ORIGIN_LINEAR, EPT_QUAL_LINEAR_VALID | EPT_QUAL_TRANSLATION},
    };
    for (size_t i = 0; i < 3; i++) {
        struct ept_result r = walk_with(EPTP_WB_4, CAP_ALL, GPA,
                                        EPT_ACCESS_WRITE, rows[i].origin);
        assert_int_equal(r.status, EPT_VIOLATION);
        assert_int_equal(r.qualification,
                         EPT_QUAL_WRITE | (uint64_t)EPT_R << 3 | rows[i].bits);
    }
}

/* Exact qualification of a fetch from a read/write page: bits 2 (fetch),
 * 3 and 4 (readable, writable), 7 and 8; nothing else, bit 12 (NMI
 * unblocking) included. */
static void test_violation_qualification_exact_value(void **state)
{
    (void)state;
    set(PTE, PAGE | MT_WB | EPT_R | EPT_W);
    struct ept_result r = walk(EPT_ACCESS_FETCH);
    assert_int_equal(r.status, EPT_VIOLATION);
    assert_int_equal(r.qualification, 0x4 | 0x8 | 0x10 | 0x80 | 0x100);
}

/* ---- Accessed and dirty flags (SDM 29.3.4) ---- */

#define EPTP_AD (EPTP_WB_4 | EPTP_AD_ENABLE)

static void test_ad_disabled_writes_nothing(void **state)
{
    (void)state;
    struct ept_result r = walk(EPT_ACCESS_WRITE);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(fake_writes, 0);
    assert_int_equal(r.ad_writes, 0);
    assert_int_equal(get(PTE), PAGE | MT_WB | RWX);
}

/* A read sets A (bit 8) in every entry used and D in none. */
static void test_ad_read_sets_accessed_everywhere(void **state)
{
    (void)state;
    struct ept_result r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_READ,
                                    EPT_ORIGIN_LINEAR);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(r.ad_writes, 4);
    for (unsigned level = 1; level <= 4; level++) {
        assert_true(get(entry_at[level]) & ACCESSED);
        assert_false(get(entry_at[level]) & DIRTY);
    }
    /* Already set: nothing more to write. */
    r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_FETCH, EPT_ORIGIN_LINEAR);
    assert_int_equal(r.ad_writes, 0);
    assert_int_equal(fake_writes, 4);
}

/* A write sets D (bit 9) in the entry that maps the page only. */
static void test_ad_write_sets_dirty_in_the_leaf(void **state)
{
    (void)state;
    set(PDE, 0x0a00000 | PS | MT_WB | RWX);
    struct ept_result r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_WRITE,
                                    EPT_ORIGIN_LINEAR);
    assert_int_equal(r.status, EPT_OK);
    assert_int_equal(r.ad_writes, 3);
    assert_int_equal(get(PDE),
                     0x0a00000 | PS | MT_WB | RWX | ACCESSED | DIRTY);
    assert_int_equal(get(PDPTE), PD | RWX | ACCESSED);
    assert_int_equal(get(PML4E), PDPT | RWX | ACCESSED);
    assert_int_equal(get(PTE), PAGE | MT_WB | RWX); /* not used */
    /* A second write: D already set, nothing written. */
    r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_WRITE, EPT_ORIGIN_LINEAR);
    assert_int_equal(r.ad_writes, 0);
}

static void test_ad_failed_walk_writes_nothing(void **state)
{
    (void)state;
    set(PTE, PAGE | MT_WB | EPT_R);
    struct ept_result r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_WRITE,
                                    EPT_ORIGIN_LINEAR);
    assert_int_equal(r.status, EPT_VIOLATION);
    assert_int_equal(fake_writes, 0);
    set(PTE, 0);
    r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_READ, EPT_ORIGIN_LINEAR);
    assert_int_equal(r.status, EPT_VIOLATION);
    assert_int_equal(fake_writes, 0);
}

/* With A/D flags on, an access to a guest paging-structure entry is a
 * write: it needs W, sets D, and a violation reports bits 0 and 1. */
static void test_ad_guest_paging_accesses_are_writes(void **state)
{
    (void)state;
    set(PTE, PAGE | MT_WB | EPT_R);
    struct ept_result r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_READ,
                                    EPT_ORIGIN_GUEST_PAGING);
    assert_int_equal(r.status, EPT_VIOLATION);
    assert_int_equal(r.qualification, EPT_QUAL_READ | EPT_QUAL_WRITE |
                                          (uint64_t)EPT_R << 3 |
                                          EPT_QUAL_LINEAR_VALID);
    /* Without A/D flags the same access is a plain read. */
    r = walk_with(EPTP_WB_4, CAP_ALL, GPA, EPT_ACCESS_READ,
                  EPT_ORIGIN_GUEST_PAGING);
    assert_int_equal(r.status, EPT_OK);
    /* PDPTE loads (no linear address) stay reads. */
    r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_READ,
                  EPT_ORIGIN_NO_LINEAR);
    assert_int_equal(r.status, EPT_OK);
    assert_false(get(PTE) & DIRTY);
    /* A writable guest page table gets its D flag set by a read of it. */
    set(PTE, PAGE | MT_WB | EPT_R | EPT_W);
    r = walk_with(EPTP_AD, CAP_ALL, GPA, EPT_ACCESS_READ,
                  EPT_ORIGIN_GUEST_PAGING);
    assert_int_equal(r.status, EPT_OK);
    assert_true(get(PTE) & DIRTY);
}

/* ---- Memory references (the cost model's unit) ---- */

static void test_memory_reference_counts(void **state)
{
    (void)state;
    assert_int_equal(walk(EPT_ACCESS_READ).refs, 4);
    set(PDE, 0x0a00000 | PS | MT_WB | RWX);
    assert_int_equal(walk(EPT_ACCESS_READ).refs, 3);
    set(PDPTE, 0x40000000 | PS | MT_WB | RWX);
    assert_int_equal(walk(EPT_ACCESS_READ).refs, 2);
    set(PML4E, 0);
    assert_int_equal(walk(EPT_ACCESS_READ).refs, 1);
}

/* ---- EPTP (SDM 25.6.11, checked by 27.2.1.1) ---- */

static void test_eptp_valid_values(void **state)
{
    (void)state;
    assert_int_equal(ept_check_eptp(EPTP_WB_4, CAP_ALL, MAXPHY), EPTP_OK);
    assert_int_equal(ept_check_eptp(PML4 | 0 | 3 << 3, CAP_ALL, MAXPHY),
                     EPTP_OK);
    assert_int_equal(ept_check_eptp(EPTP_AD, CAP_ALL, MAXPHY), EPTP_OK);
    assert_int_equal(ept_check_eptp((1ull << 38) | 6 | 3 << 3, CAP_ALL,
                                    MAXPHY),
                     EPTP_OK);
}

static void test_eptp_memory_type(void **state)
{
    (void)state;
    for (unsigned mt = 0; mt < 8; mt++) {
        bool ok = mt == 0 || mt == 6;
        assert_int_equal(ept_check_eptp(PML4 | mt | 3 << 3, CAP_ALL, MAXPHY),
                         ok ? EPTP_OK : EPTP_BAD_MEMORY_TYPE);
    }
    assert_int_equal(ept_check_eptp(PML4 | 0 | 3 << 3,
                                    CAP_ALL & ~EPT_CAP_MEMTYPE_UC, MAXPHY),
                     EPTP_BAD_MEMORY_TYPE);
    assert_int_equal(ept_check_eptp(EPTP_WB_4, CAP_ALL & ~EPT_CAP_MEMTYPE_WB,
                                    MAXPHY),
                     EPTP_BAD_MEMORY_TYPE);
}

static void test_eptp_walk_length(void **state)
{
    (void)state;
    for (unsigned len = 0; len < 8; len++)
        assert_int_equal(ept_check_eptp(PML4 | 6 | len << 3, CAP_ALL, MAXPHY),
                         len == 3 ? EPTP_OK : EPTP_BAD_WALK_LENGTH);
    assert_int_equal(ept_check_eptp(EPTP_WB_4,
                                    CAP_ALL & ~EPT_CAP_WALK_LENGTH_4, MAXPHY),
                     EPTP_BAD_WALK_LENGTH);
}

static void test_eptp_ad_needs_capability(void **state)
{
    (void)state;
    assert_int_equal(ept_check_eptp(EPTP_AD, CAP_ALL & ~EPT_CAP_AD_FLAGS,
                                    MAXPHY),
                     EPTP_AD_UNSUPPORTED);
    assert_int_equal(ept_check_eptp(EPTP_WB_4, CAP_ALL & ~EPT_CAP_AD_FLAGS,
                                    MAXPHY),
                     EPTP_OK);
}

static void test_eptp_reserved_bits(void **state)
{
    (void)state;
    for (unsigned bit = 7; bit <= 11; bit++)
        assert_int_equal(ept_check_eptp(EPTP_WB_4 | 1ull << bit, CAP_ALL,
                                        MAXPHY),
                         EPTP_RESERVED_BITS);
    for (unsigned bit = MAXPHY; bit <= 63; bit++)
        assert_int_equal(ept_check_eptp(EPTP_WB_4 | 1ull << bit, CAP_ALL,
                                        MAXPHY),
                         EPTP_RESERVED_BITS);
    /* With a wider MAXPHYADDR, bit 39 is an address bit. */
    assert_int_equal(ept_check_eptp(EPTP_WB_4 | 1ull << 39, CAP_ALL, 46),
                     EPTP_OK);
}

static void test_eptp_check_names(void **state)
{
    (void)state;
    static const enum eptp_check all[] = {
        EPTP_OK, EPTP_BAD_MEMORY_TYPE, EPTP_BAD_WALK_LENGTH,
        EPTP_AD_UNSUPPORTED, EPTP_RESERVED_BITS,
    };
    for (size_t i = 0; i < 5; i++) {
        assert_non_null(ept_eptp_check_name(all[i]));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ept_eptp_check_name(all[i]),
                                    ept_eptp_check_name(all[j]));
    }
    assert_non_null(strstr(ept_eptp_check_name(EPTP_BAD_WALK_LENGTH), "5:3"));
    assert_non_null(ept_eptp_check_name((enum eptp_check)99));
}

#define T(f) cmocka_unit_test_setup(f, build_path)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_4k_page_translates),
        T(test_each_level_uses_its_index_bits),
        T(test_each_permission),
        T(test_permissions_are_anded_across_levels),
        T(test_2m_page),
        T(test_1g_page),
        T(test_large_pages_need_the_capability),
        T(test_ignored_bits),
        T(test_misconfig_write_without_read),
        T(test_execute_only_depends_on_capability),
        T(test_misconfig_reserved_memory_type_in_each_leaf),
        T(test_misconfig_reserved_bits_at_each_level),
        T(test_highest_address_bit_is_not_reserved),
        T(test_misconfig_takes_precedence_over_permissions),
        T(test_table_outside_memory_is_a_misconfig),
        T(test_not_present_at_each_level),
        T(test_violation_linear_address_bits),
        T(test_violation_qualification_exact_value),
        T(test_ad_disabled_writes_nothing),
        T(test_ad_read_sets_accessed_everywhere),
        T(test_ad_write_sets_dirty_in_the_leaf),
        T(test_ad_failed_walk_writes_nothing),
        T(test_ad_guest_paging_accesses_are_writes),
        T(test_memory_reference_counts),
        T(test_eptp_valid_values),
        T(test_eptp_memory_type),
        T(test_eptp_walk_length),
        T(test_eptp_ad_needs_capability),
        T(test_eptp_reserved_bits),
        T(test_eptp_check_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
