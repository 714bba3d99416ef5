/* The EPT walk and EPTP validation. Section numbers: the current SDM
 * Vol. 3C (see ept.h). */
#include "vmx/ept.h"

#include <string.h>

/* Bits hi..lo set. */
#define BITS(hi, lo) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))

enum {
    ENTRY_PS = 1u << 7, /* bit 7: this PDPTE or PDE maps a page */
    ENTRY_A = 1u << 8,  /* accessed (EPTP bit 6) */
    ENTRY_D = 1u << 9,  /* dirty, in an entry that maps a page */
    ENTRY_INDEX_MASK = 0x1ff,
    ENTRY_SIZE = 8,
    ADDR_WIDTH_MAX = 52, /* bits 51:MAXPHYADDR are reserved everywhere */
    /* EPT memory types 2, 3 and 7 are reserved (SDM 29.3.3.1). */
    RESERVED_MEMORY_TYPES = 1u << 2 | 1u << 3 | 1u << 7,
};

/* The four levels (SDM 29.3.2), indexed by level:
 * the GPA bit where this level's index starts, the capability that lets
 * bit 7 map a page here (none in a PML4E, where bit 7 is reserved), and
 * the reserved bits below MAXPHYADDR of an entry that references a table
 * and of one that maps a page. An EPT PTE always maps a page; its bit 7
 * is ignored. */
static const struct ept_level {
    unsigned shift;
    uint64_t page_cap;
    uint64_t rsvd_table, rsvd_page;
} levels[5] = {
    [4] = {39, 0, BITS(6, 3), 0},
    [3] = {30, EPT_CAP_1G_PAGES, BITS(6, 3), BITS(29, 12)},
    [2] = {21, EPT_CAP_2M_PAGES, BITS(6, 3), BITS(20, 12)},
    [1] = {12, 0, 0, 0},
};

/* Whether a present entry is misconfigured (SDM 29.3.3.1); sets *leaf to
 * whether it maps a page. */
static bool misconfigured(const struct ept_config *cfg, uint64_t e,
                          unsigned level, bool *leaf)
{
    unsigned rwx = e & 7;
    if ((rwx & EPT_W) && !(rwx & EPT_R))
        return true; /* write-only or write/execute */
    if (rwx == EPT_X && !(cfg->cap & EPT_CAP_EXEC_ONLY))
        return true; /* execute-only, not offered */
    const struct ept_level *l = &levels[level];
    *leaf = level == 1;
    if (level > 1 && (e & ENTRY_PS)) {
        if (!(cfg->cap & l->page_cap))
            return true; /* bit 7 is reserved where no page can be mapped */
        *leaf = true;
    }
    uint64_t rsvd = BITS(ADDR_WIDTH_MAX - 1, cfg->maxphyaddr);
    rsvd |= *leaf ? l->rsvd_page : l->rsvd_table;
    if (e & rsvd)
        return true;
    return *leaf && (RESERVED_MEMORY_TYPES >> ((e >> 3) & 7) & 1);
}

static uint64_t read_entry(const struct ept_config *cfg, uint64_t pa)
{
    uint8_t b[ENTRY_SIZE];
    if (!cfg->read(cfg->ctx, pa, b, ENTRY_SIZE))
        return ~0ull; /* open bus: reserved bits set, a misconfiguration */
    uint64_t e = 0;
    for (int i = ENTRY_SIZE - 1; i >= 0; i--)
        e = e << 8 | b[i];
    return e;
}

static bool write_entry(const struct ept_config *cfg, uint64_t pa, uint64_t e)
{
    uint8_t b[ENTRY_SIZE];
    for (int i = 0; i < ENTRY_SIZE; i++)
        b[i] = (uint8_t)(e >> (8 * i));
    return cfg->write && cfg->write(cfg->ctx, pa, b, ENTRY_SIZE);
}

/* SDM 29.3.4: a successful walk sets A in every entry it used and, for a
 * write, D in the entry that maps the page. */
static void set_accessed_dirty(const struct ept_config *cfg,
                               const uint64_t *pa, const uint64_t *e,
                               unsigned n, bool write, struct ept_result *out)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t next = e[i] | ENTRY_A;
        if (write && i == n - 1)
            next |= ENTRY_D;
        if (next != e[i] && write_entry(cfg, pa[i], next))
            out->ad_writes++;
    }
}

/* SDM 28.2.1, Table 28-7. Bits 3-5 are the AND of R, W and X over the
 * entries used, including a not-present one (which makes them 0). Bit 6
 * (mode-based execute) and bits 9-11 (advanced information) are 0: this
 * machine offers neither. */
static uint64_t violation_qualification(uint64_t access_bits, unsigned perms,
                                        enum ept_origin origin)
{
    uint64_t q = access_bits | (uint64_t)perms << 3;
    if (origin != EPT_ORIGIN_NO_LINEAR)
        q |= EPT_QUAL_LINEAR_VALID;
    if (origin == EPT_ORIGIN_LINEAR)
        q |= EPT_QUAL_TRANSLATION;
    return q;
}

void ept_walk(const struct ept_config *cfg, uint64_t gpa,
              enum ept_access access, enum ept_origin origin,
              struct ept_result *out)
{
    memset(out, 0, sizeof *out);
    uint64_t addr_mask = BITS(cfg->maxphyaddr - 1, 12);
    bool ad = (cfg->eptp & EPTP_AD_ENABLE) != 0;

    /* SDM 29.3.3.2: with A/D flags on, accesses to guest paging
     * structures are writes, and a violation reports read and write. */
    unsigned need = access;
    uint64_t access_bits = access;
    if (ad && origin == EPT_ORIGIN_GUEST_PAGING) {
        need = EPT_W;
        access_bits = EPT_QUAL_READ | EPT_QUAL_WRITE;
    }

    uint64_t used_pa[4], used[4];
    unsigned n = 0, perms = EPT_R | EPT_W | EPT_X;
    uint64_t table = cfg->eptp & addr_mask;
    unsigned level = 4;
    bool leaf = false;
    for (;; level--) {
        const struct ept_level *l = &levels[level];
        uint64_t pa = table + ((gpa >> l->shift) & ENTRY_INDEX_MASK) *
                                  ENTRY_SIZE;
        uint64_t e = read_entry(cfg, pa);
        out->refs++;
        out->level = level;
        out->entry = e;
        used_pa[n] = pa;
        used[n++] = e;
        perms &= e & 7;
        if ((e & 7) == 0) {
            /* Not present: bits 63:3 are ignored (SDM 29.3.2). */
            out->perms = 0;
            out->status = EPT_VIOLATION;
            out->qualification = violation_qualification(access_bits, 0,
                                                         origin);
            return;
        }
        if (misconfigured(cfg, e, level, &leaf)) {
            out->perms = perms;
            out->status = EPT_MISCONFIG;
            return;
        }
        if (leaf)
            break;
        table = e & addr_mask;
    }

    out->perms = perms;
    if ((perms & need) != need) {
        out->status = EPT_VIOLATION;
        out->qualification = violation_qualification(access_bits, perms,
                                                     origin);
        return;
    }
    uint64_t size = 1ull << levels[level].shift;
    uint64_t leaf_entry = used[n - 1];
    out->status = EPT_OK;
    out->page_size = size;
    out->hpa = (leaf_entry & addr_mask & ~(size - 1)) | (gpa & (size - 1));
    out->memory_type = (leaf_entry >> 3) & 7;
    out->ignore_pat = (leaf_entry >> 6) & 1;
    if (ad)
        set_accessed_dirty(cfg, used_pa, used, n, (need & EPT_W) != 0, out);
}

/* The EPTP memory types (bits 2:0) and the capability that offers each
 * (SDM 25.6.11, Appendix A.10); the others are reserved. */
static const uint64_t eptp_memory_type_cap[8] = {
    [0] = EPT_CAP_MEMTYPE_UC,
    [6] = EPT_CAP_MEMTYPE_WB,
};

enum {
    EPTP_WALK_LENGTH_4 = 3, /* bits 5:3 hold the walk length minus one */
};

/* SDM 27.2.1.1 "VM-Execution Control Fields", the EPTP checks. */
enum eptp_check ept_check_eptp(uint64_t eptp, uint64_t cap,
                               unsigned maxphyaddr)
{
    if (!(cap & eptp_memory_type_cap[eptp & 7]))
        return EPTP_BAD_MEMORY_TYPE;
    if (((eptp >> 3) & 7) != EPTP_WALK_LENGTH_4 ||
        !(cap & EPT_CAP_WALK_LENGTH_4))
        return EPTP_BAD_WALK_LENGTH;
    if ((eptp & EPTP_AD_ENABLE) && !(cap & EPT_CAP_AD_FLAGS))
        return EPTP_AD_UNSUPPORTED;
    if (eptp & (BITS(11, 7) | BITS(63, maxphyaddr)))
        return EPTP_RESERVED_BITS;
    return EPTP_OK;
}

static const char *const eptp_check_names[] = {
    [EPTP_OK] = "valid",
    [EPTP_BAD_MEMORY_TYPE] =
        "EPTP bits 2:0 (memory type) are neither an offered UC (0) nor WB (6)",
    [EPTP_BAD_WALK_LENGTH] =
        "EPTP bits 5:3 (page-walk length - 1) are not 3 (4 levels)",
    [EPTP_AD_UNSUPPORTED] =
        "EPTP bit 6 (A/D flags) is set but IA32_VMX_EPT_VPID_CAP bit 21 is 0",
    [EPTP_RESERVED_BITS] =
        "EPTP reserved bits 11:7 or 63:MAXPHYADDR are set",
};

const char *ept_eptp_check_name(enum eptp_check check)
{
    if ((unsigned)check >= sizeof eptp_check_names / sizeof *eptp_check_names)
        return "unknown EPTP check";
    return eptp_check_names[check];
}
