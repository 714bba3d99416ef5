#include "hv/cost.h"

#include "cpu/tlb_model.h"

/* Calibrated to the Turtles paper's measurements (Ben-Yehuda et al.,
 * OSDI 2010, section 4): a VM exit and entry pair costs about 1,000
 * cycles, and a CPUID exit handled by a single-level hypervisor about
 * 2,600 cycles in all. How the pair splits into exit and entry, and the
 * handlers other than CPUID, are our estimates (docs/cost-model.md). */
const struct cost_profile cost_default = {
    .name = "turtles-2010",
    .instruction = 1,
    .vmexit = 550,
    .vmentry = 450,
    .handler = {
        [VMX_EXIT_CPUID] = 1600,
        [VMX_EXIT_EXTERNAL_INTERRUPT] = 900,
        [VMX_EXIT_HLT] = 700,
        [VMX_EXIT_IO] = 1800,
        [VMX_EXIT_RDMSR] = 1200,
        [VMX_EXIT_WRMSR] = 1300,
        [VMX_EXIT_EPT_VIOLATION] = 2000,
        [VMX_EXIT_INTERRUPT_WINDOW] = 600,
    },
    .handler_default = 1000,
    .merge_field = 20,
    .sync_field = 10,
    .msr_list_entry = 150,
    /* Estimates (docs/cost-model.md): no STLB latency is published for
     * Haswell; a walk's reference is priced between an L1D and an L2
     * hit (4-5 and 11-12 cycles, Optimization Reference Manual). */
    .stlb_hit = 7,
    .walk_ref = 10,
};

void cost_apply_mmu(const struct cost_profile *p, struct tlb_model *t)
{
    t->stlb_hit_cycles = p->stlb_hit;
    t->walk_ref_cycles = p->walk_ref;
}

uint32_t cost_handler(const struct cost_profile *p, uint32_t reason)
{
    uint32_t basic = reason & 0xFFFF;
    if (basic < VMX_EXIT_REASON_LIMIT && p->handler[basic])
        return p->handler[basic];
    return p->handler_default;
}
