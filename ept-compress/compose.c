/* One EPT02 fill: an EPT violation of L2 under EPT02 is resolved by
 * walking EPT12 for the L2-physical address, then EPT01 for the
 * L1-physical address EPT12 gave, and installing the composition
 * (Turtles section 3.3; the rules are in README.md). A fault in the first
 * walk is L1's and is reflected as L1 would see it on hardware; a fault
 * in the second is L0's. */
#include "ept-compress/ept02.h"

#include <string.h>

#include "ept-compress/tables.h"

enum {
    MT_UC = 0,
    ENTRY_DIRTY = 1 << 9, /* EPT12 leaf, with EPTP bit 6 (SDM 29.3.4.2) */
};

#define SIZE_4K (1ull << 12)
#define SIZE_2M (1ull << 21)
#define SIZE_1G (1ull << 30)

/* The largest page EPT02 can map for both translations: each is a
 * naturally aligned page, so the smaller one lies in the larger, maps a
 * contiguous range and has one set of permissions and memory type. The
 * hardware running EPT02 must offer that size (SDM Appendix A.10). */
static uint64_t composed_size(uint64_t size12, uint64_t size01, uint64_t cap)
{
    uint64_t size = size12 < size01 ? size12 : size01;
    if (size == SIZE_1G && !(cap & EPT_CAP_1G_PAGES))
        size = SIZE_2M;
    if (size == SIZE_2M && !(cap & EPT_CAP_2M_PAGES))
        size = SIZE_4K;
    return size;
}

static unsigned level_of(uint64_t size)
{
    return size == SIZE_1G ? 3 : size == SIZE_2M ? 2 : 1;
}

/* With A/D flags in EPT12 (its EPTP bit 6), L1 reads the leaf's dirty
 * flag to learn that L2 wrote the page (SDM 29.3.4.2). EPT02 hides later
 * writes from EPT12, so it allows writing only once the flag is set: a
 * write through a read-only EPT02 entry faults again, and that walk of
 * EPT12 sets the flag. (KVM write-protects its shadow pages alike.) */
static bool writable_in_ept02(uint64_t ept12, const struct ept_result *w12,
                              enum ept_access access, enum ept_origin origin)
{
    if (!(ept12 & EPTP_AD_ENABLE))
        return true;
    bool walk_wrote = access == EPT_ACCESS_WRITE ||
                      origin == EPT_ORIGIN_GUEST_PAGING; /* SDM 29.3.3.2 */
    return walk_wrote || (w12->entry & ENTRY_DIRTY);
}

static void count_refs(struct ept02 *x, struct ept02_result *out)
{
    out->ept12_refs = out->ept12.refs;
    out->ept01_refs = out->ept01.refs;
    x->count.ept12_refs += out->ept12_refs;
    x->count.ept01_refs += out->ept01_refs;
}

static void finish(struct ept02 *x, struct ept02_result *out,
                   enum ept02_outcome outcome)
{
    out->outcome = outcome;
    count_refs(x, out);
    switch (outcome) {
    case EPT02_FILLED:
        x->count.fills++;
        break;
    case EPT02_REFLECT_VIOLATION:
        x->count.reflected_violations++;
        break;
    case EPT02_REFLECT_MISCONFIG:
        x->count.reflected_misconfigs++;
        break;
    case EPT02_L0_FAULT:
        x->count.l0_faults++;
        break;
    case EPT02_NO_MEMORY:
        break;
    }
}

void ept02_fault(struct ept02 *x, uint64_t l2_gpa, enum ept_access access,
                 enum ept_origin origin, struct ept02_result *out)
{
    memset(out, 0, sizeof *out);
    out->gpa = l2_gpa;
    if (!x->have_ept12) {
        finish(x, out, EPT02_L0_FAULT); /* the caller never set EPT12 */
        return;
    }

    /* EPT12: every entry is an L1-physical read through EPT01. A read
     * that fails (not L1 RAM) gives all ones, a misconfiguration
     * (vmx/ept.h), as on hardware where such memory reads as open bus. */
    const struct ept02_config *c = &x->cfg;
    struct ept_config ept12 = {
        .eptp = x->ept12, .cap = c->ept12_cap,
        .maxphyaddr = c->ept01.maxphyaddr,
        .read = c->read_l1, .write = c->write_l1, .ctx = c->l1_ctx,
    };
    ept_walk(&ept12, l2_gpa, access, origin, &out->ept12);
    if (out->ept12.status == EPT_VIOLATION) {
        /* Table 28-7 as L1 sees it: the access, EPT12's permissions and
         * the origin bits, all computed by the walk of EPT12. */
        out->qualification = out->ept12.qualification;
        finish(x, out, EPT02_REFLECT_VIOLATION);
        return;
    }
    if (out->ept12.status == EPT_MISCONFIG) {
        finish(x, out, EPT02_REFLECT_MISCONFIG);
        return;
    }
    out->l1_gpa = out->ept12.hpa;

    /* EPT01, for the same access: L0's rules for L1's memory. */
    ept_walk(&c->ept01, out->l1_gpa, access, origin, &out->ept01);
    if (out->ept01.status != EPT_OK) {
        finish(x, out, EPT02_L0_FAULT);
        return;
    }

    unsigned perms = out->ept12.perms & out->ept01.perms;
    if (!writable_in_ept02(x->ept12, &out->ept12, access, origin))
        perms &= ~(unsigned)EPT_W;
    /* L1 chose the memory type for L2's page; L0's UC (MMIO) wins,
     * since an EPT type of UC overrides the guest PAT (SDM 29.3.7). */
    unsigned mt = out->ept12.memory_type;
    bool ipat = out->ept12.ignore_pat;
    if (out->ept01.memory_type == MT_UC) {
        mt = MT_UC;
        ipat = out->ept01.ignore_pat;
    }
    uint64_t size = composed_size(out->ept12.page_size, out->ept01.page_size,
                                  c->ept01.cap);
    uint64_t leaf = (out->ept01.hpa & EPT02_ADDR_MASK & ~(size - 1)) | perms |
                    (uint64_t)mt << 3 | (uint64_t)ipat << 6 |
                    (size > SIZE_4K ? EPT02_ENTRY_PS : 0);

    unsigned level = level_of(size);
    if (ept02_tables_install(x, l2_gpa, level, leaf) < 0) {
        /* L0's memory is full: start every root over, as KVM zaps all
         * shadow pages when it runs out. */
        for (unsigned k = 0; k < EPT02_ROOTS; k++)
            if (x->slot[k].root)
                ept02_tables_clear(x, x->slot[k].root, 4);
        if (ept02_tables_install(x, l2_gpa, level, leaf) < 0) {
            finish(x, out, EPT02_NO_MEMORY);
            return;
        }
    }
    out->hpa = out->ept01.hpa;
    out->page_size = size;
    out->perms = perms;
    out->memory_type = mt;
    finish(x, out, EPT02_FILLED);
}
