/* The cost model: modeled cycles for what real hardware and a real L0
 * would spend where the emulator does something else (runs C code, or
 * executes an instruction in one step). A profile is data: a JSON file
 * of experiments/profiles/ (hv/cost_profile.c reads it; the format and
 * the default's sources are in docs/cost-model.md). */
#ifndef L0_HV_COST_H
#define L0_HV_COST_H

#include <stdint.h>

#include "vmx/exit_cond.h"

enum { COST_NAME_MAX = 64 };

struct cost_profile {
    char name[COST_NAME_MAX];
    uint32_t instruction;   /* per guest instruction (the CPU's unit) */
    uint32_t vmexit;        /* hardware VM exit */
    uint32_t vmentry;       /* hardware VM entry */
    uint32_t handler[VMX_EXIT_REASON_LIMIT]; /* L0's handling, by reason
                                                (handler_default where the
                                                profile names none) */
    uint32_t handler_default;
    uint32_t merge_field;   /* nested: one vmcs12 field merged into vmcs02 */
    uint32_t sync_field;    /* nested: one field synced with the shadow VMCS */
    uint32_t msr_list_entry; /* nested: one entry of L1's MSR lists */
    /* The MMU (cpu/tlb_model.h): a first-level TLB miss that hits the
     * STLB, and one paging-structure reference of a page walk (1-D, or
     * each reference of a 2-D walk through EPT). */
    uint32_t stlb_hit;
    uint32_t walk_ref;
    uint32_t nested_exit;   /* nested: L0 reflecting an L2 exit to L1 */
    uint32_t l1_refill;     /* nested: L1's cache and TLB misses on each
                               L2 exit reflected to it (cache pollution) */
    uint32_t l1_pollution;  /* nested: L1's misses caused by L0's work in
                               an episode, per mille of L0's cycles */
    uint32_t l1_merge_field; /* nested: L1's misses per field L0's merge
                                copies from vmcs12 into vmcs02 */
};

/* Gives the CPU's modeled TLB the profile's MMU costs. */
struct tlb_model;
void cost_apply_mmu(const struct cost_profile *p, struct tlb_model *t);

/* The default profile (experiments/profiles/turtles-2010.json, built
 * into the program). */
const struct cost_profile *cost_default(void);

/* The cost of L0 handling an exit with this basic reason. */
uint32_t cost_handler(const struct cost_profile *p, uint32_t reason);

#endif
