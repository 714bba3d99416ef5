/* libFuzzer harness: EPT02 composition (ept-compress/). The input is a
 * list of operations on a small host: write an EPT12 entry in L1 RAM (a
 * raw value, a link to another table, a 4 KiB or large leaf), an L2
 * access that faults in EPT02, INVEPT, a new EPT12 pointer. After every
 * fill the composition must hold: walking EPT02 (built by L0) for that
 * address gives what walking EPT12 and then EPT01 gives, with no more
 * permission than both allow (Turtles section 3.3; SDM Vol. 3C 29.3).
 * The host is tests/unit/ept02_host.h, test_ept02.c's: L1 has 4 MiB of
 * RAM, EPT01 maps its first 2 MiB with one large page and the second with
 * 4 KiB pages, EPT02's tables come from a pool of 64 pages. */
#include "tests/unit/ept02_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { EPT12_TABLES = 8 };
#define EPT12_BASE 0x10000ull /* L1-physical: EPT12's table pages */

static void put64(uint8_t *at, uint64_t v)
{
    memcpy(at, &v, 8);
}

/* EPT02's own walk: its tables are in the pool, its leaves host-physical. */
static void walk02(const struct ept02 *x, uint64_t gpa, enum ept_access a,
                   struct ept_result *r)
{
    struct ept_config c = {.eptp = ept02_root(x), .cap = CAP_ALL,
                           .maxphyaddr = MAXPHY, .read = host_read};
    ept_walk(&c, gpa, a, EPT_ORIGIN_NO_LINEAR, r);
}

static void fail(const char *what, uint64_t gpa)
{
    fprintf(stderr, "EPT02 composition: %s at L2-physical %#llx\n", what,
            (unsigned long long)gpa);
    abort();
}

static void check_fill(struct ept02 *x, uint64_t gpa, enum ept_access a,
                       const struct ept02_result *res)
{
    struct ept_config c12 = {.eptp = x->ept12, .cap = CAP_ALL,
                             .maxphyaddr = MAXPHY, .read = read_l1,
                             .write = write_l1};
    struct ept_result r12, r01, r02;
    ept_walk(&c12, gpa, a, EPT_ORIGIN_NO_LINEAR, &r12);
    if (r12.status != EPT_OK)
        fail("filled although EPT12 does not allow the access", gpa);
    ept_walk(&ept01, r12.hpa, a, EPT_ORIGIN_NO_LINEAR, &r01);
    if (r01.status != EPT_OK)
        fail("filled although EPT01 does not allow the access", gpa);
    if (res->hpa != r01.hpa)
        fail("filled with another host-physical address", gpa);
    walk02(x, gpa, a, &r02);
    if (r02.status != EPT_OK)
        fail("EPT02 still denies the access it was filled for", gpa);
    if (r02.hpa != r01.hpa)
        fail("EPT02 maps to another host-physical address", gpa);
    if (r02.perms & ~(r12.perms & r01.perms))
        fail("EPT02 allows more than EPT12 and EPT01", gpa);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ept02_host_reset();
    struct ept02_config cfg = {
        .ept01 = ept01, .read_l1 = read_l1, .write_l1 = write_l1,
        .ept12_cap = CAP_ALL, .alloc = pool_alloc, .page = pool_page,
    };
    struct ept02 x;
    if (ept02_init(&x, &cfg) != 0)
        abort();
    ept02_switch(&x, EPT12_BASE | 6 | 3 << 3);
    /* 12 bytes per operation: kind, a, b, pad, 64-bit value. */
    for (; size >= 12; data += 12, size -= 12) {
        uint64_t v;
        memcpy(&v, data + 4, 8);
        uint64_t table = EPT12_BASE + (uint64_t)(data[1] % EPT12_TABLES) * PAGE;
        uint64_t slot = table + 8 * (uint64_t)(v % 512);
        uint64_t target = EPT12_BASE + (uint64_t)(data[2] % EPT12_TABLES) * PAGE;
        enum ept_access a = (enum ept_access)(1u << (data[2] % 3));
        switch (data[0] % 8) {
        case 0: /* a raw entry */
            put64(&l1_ram[slot], v);
            break;
        case 1: /* a link to another table */
            put64(&l1_ram[slot], target | (v >> 9 & 7) | (v >> 12 & 0x100));
            break;
        case 2: /* a 4 KiB leaf into L1 RAM (or just above it) */
            put64(&l1_ram[slot], ((v >> 9) & 0x7ff000) | (v >> 40 & 0x7f) |
                                     ((v >> 50 & 1) << 63));
            break;
        case 3: /* a large leaf */
            put64(&l1_ram[slot], ((v >> 9) & 0x600000) | 0x80 |
                                     (v >> 40 & 0x7f));
            break;
        case 4:
        case 5: { /* an L2 access */
            uint64_t gpa = v & ((1ull << 48) - 1) & ~7ull;
            if (data[1] & 1) /* mostly the low GiB, where tables point */
                gpa &= (1ull << 30) - 1;
            struct ept02_result res;
            ept02_fault(&x, gpa, a,
                        data[1] & 2 ? EPT_ORIGIN_LINEAR : EPT_ORIGIN_NO_LINEAR,
                        &res);
            if (res.outcome == EPT02_FILLED)
                check_fill(&x, gpa, a, &res);
            break;
        }
        case 6:
            ept02_invept(&x, data[1] % 4, v % 2 ? x.ept12 : v);
            break;
        default: /* another EPT12 pointer: mostly a table, sometimes junk */
            ept02_switch(&x, data[1] & 1 ? v : target | (v & 0x7f));
            break;
        }
    }
    ept02_destroy(&x);
    return 0;
}
