/* The modeled TLB on the emulated CPU (cpu/tlb_model.h): every
 * instruction fetch and data access is looked up in it, a miss is walked
 * again only to count the walk's paging-structure references, and the
 * modeled cycles go onto the CPU's clock. Nothing here translates or
 * touches the host-side TLB (cpu/tlb.h). */
#ifndef L0_CPU_TLB_CHARGE_H
#define L0_CPU_TLB_CHARGE_H

#include <stdint.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/tlb_model.h"
#include "vmx/vmx.h"

/* The EP4TA of an EPTP: its bits 51:12 (SDM Vol. 3C 29.4.1). */
static inline uint64_t tlb_charge_ep4ta(uint64_t eptp)
{
    return eptp & ((1ull << PHYS_ADDR_BITS) - 1) & ~0xFFFull;
}

static inline bool tlb_charge_ept(const struct cpu *c)
{
    return c->vmx.nonroot && c->vmx.ept;
}

/* The context of the CPU's translations now: VPID (0 in root operation
 * and without "enable VPID"), PCID (CR3 bits 11:0 when CR4.PCIDE = 1)
 * and EP4TA (the EPTP's address bits when EPT is in use); with EPT and
 * guest paging off, the EP4TA of a guest-physical mapping alone. */
static inline struct tlbm_tag tlb_charge_tag(const struct cpu *c)
{
    struct tlbm_tag t = {0, 0, 0, false};
    if (tlb_charge_ept(c)) {
        t.ep4ta = tlb_charge_ep4ta(c->vmx.ept_cfg.eptp);
        if (!(c->cr0 & CR0_PG)) {
            t.guest_phys = true;
            return t;
        }
    }
    if (c->vmx.nonroot)
        t.vpid = c->vmx.vpid; /* 0 without "enable VPID" */
    if ((c->cr4 & CR4_PCIDE) && c->long_mode)
        t.pcid = (uint16_t)(c->cr3 & 0xFFF);
    return t;
}

/* A lookup that needs the whole model (tlb_charge.c): of a page that
 * tlbm_same_page() has just said is not the side's last. */
void tlb_charge_access(struct cpu *c, uint64_t linear, bool fetch,
                       struct tlbm_tag tag);

/* A data access to the page of `linear` (already translated), or the
 * fetch of an instruction of `len` bytes at `linear`. The common case,
 * the same page as the side's last hit, is decided here; without paging
 * and EPT there is no translation to cache. */
static inline void tlb_charge_page(struct cpu *c, uint64_t linear,
                                   bool fetch)
{
    if (!(c->cr0 & CR0_PG) && !tlb_charge_ept(c))
        return;
    struct tlbm_tag tag = tlb_charge_tag(c);
    if (!fetch && c->mtlb->one_access) {
        if (c->mtlb->access_charged &&
            tlbm_is_last_page(c->mtlb, linear, false, tag))
            return; /* this access looked the page up already */
        c->mtlb->access_charged = true;
    }
    if (tlbm_same_page(c->mtlb, linear, fetch, tag))
        return;
    tlb_charge_access(c, linear, fetch, tag);
}

/* An access the emulator makes in pieces (an x87 or SSE operand on its
 * slow path, which also checks every piece for writing before it
 * writes) looks each page up once, as the same access does in one piece
 * on the fast path: between these two calls, a data lookup of the page
 * the previous one found is not made again. Without this the count of
 * hits would depend on which path the emulator's own TLB chose. */
static inline void tlb_charge_one_access(struct cpu *c, bool on)
{
    c->mtlb->one_access = on;
    c->mtlb->access_charged = false;
}

static inline void tlb_charge_data(struct cpu *c, uint64_t linear)
{
    tlb_charge_page(c, linear, false);
}

static inline void tlb_charge_fetch(struct cpu *c, uint64_t linear,
                                    unsigned len)
{
    tlb_charge_page(c, linear, true);
    uint64_t last = linear + len - 1;
    if ((last ^ linear) >> 12)
        tlb_charge_page(c, last, true);
}

/* The paging-structure references a walk of `linear` makes now (guest
 * tables and, with EPT, every EPT walk of a 2-D walk), the page size of
 * the translation it makes and whether it is global; false if the walk
 * ends in a fault (the references until then are still counted). */
bool tlb_charge_walk(struct cpu *c, uint64_t linear, unsigned *refs,
                     enum tlbm_page *size, bool *global);

#endif
