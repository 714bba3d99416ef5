/* libFuzzer harness: the vmcs02 merge (vmcs-shadow/merge.c). vmcs12 is a
 * valid VMCS mutated by the input; when it passes the entry checks with
 * the capabilities L0 gives L1, L0 must be able to enter the vmcs02 it
 * merges from it (or "L0 could not enter its guest" stops nested mode):
 * vmcs02 must pass the entry checks with the hardware's capabilities.
 * The merge parameters are the ones nested_vmentry (l0/hv/nested.c)
 * passes. Half of the inputs merge a second time with a dirty set, as
 * --merge dirty does, after more mutations marked dirty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "lf_vmcs.h"
#include "vmcs-shadow/merge.h"
#include "vmcs-shadow/vmcs12.h"
#include "vmx/controls.h"
#include "vmx/entry_checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EPT02_POINTER (0x4000000000ull | 6 | 3 << 3) /* in L0 memory, WB */

/* As l1_caps() in l0/hv/nested.c: no VMCS shadowing for L1. */
static const struct vmx_check_caps *l1_caps(void)
{
    static struct vmx_check_caps caps;
    static int ready;
    if (!ready) {
        vmx_check_caps_default(&caps);
        caps.controls[VMX_CTL_PROC2] &= ~((uint64_t)PROC2_VMCS_SHADOWING << 32);
        ready = 1;
    }
    return &caps;
}

static bool passes(const struct vmcs *v, const struct vmx_check_caps *caps,
                   struct vmx_entry_check *c)
{
    struct vmx_check_env env;
    vmx_check_env_init(&env);
    env.caps = caps;
    env.current_vmcs = 0x5000;
    vmx_check_entry(v, &env, c);
    return c->outcome == ENTRY_OK;
}

static void merge(struct vmcs *v02, const struct vmcs *v01,
                  const struct vmcs *v12, const uint64_t *dirty)
{
    uint64_t proc = vmcs_get(v12, VMCS_IDX_PROC_CONTROLS);
    uint64_t proc2 = proc & PROC_SECONDARY_CONTROLS
                         ? vmcs_get(v12, VMCS_IDX_PROC_CONTROLS2) : 0;
    struct merge_params p = {
        .ept02_pointer = proc2 & PROC2_EPT
                             ? EPT02_POINTER
                             : vmcs_get(v01, VMCS_IDX_EPT_POINTER),
        .vpid02 = 2,
        .l0_cr0_mask = CR0_NE,
        .l0_cr4_mask = CR4_VMXE,
        .l0_exit_controls = (uint32_t)vmcs_get(v01, VMCS_IDX_EXIT_CONTROLS),
        .use_io_bitmaps = proc & PROC_USE_IO_BITMAPS,
        .io_bitmap_a = vmcs_get(v12, VMCS_IDX_IO_BITMAP_A),
        .io_bitmap_b = vmcs_get(v12, VMCS_IDX_IO_BITMAP_B),
        .use_msr_bitmap = proc & PROC_USE_MSR_BITMAPS,
        .msr_bitmap = vmcs_get(v12, VMCS_IDX_MSR_BITMAP),
    };
    vmcs02_merge(v02, v01, v12, &p, dirty);
}

static void check02(const struct vmcs *v02, const struct vmcs *v12)
{
    struct vmx_entry_check c;
    if (!passes(v02, NULL, &c)) {
        fprintf(stderr, "vmcs12 passes the entry checks, the vmcs02 merged "
                        "from it fails: %s (SDM %s)\n", c.rule, c.sdm);
        for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
            if (vmcs_get(v02, (enum vmcs_index)i) !=
                vmcs_get(v12, (enum vmcs_index)i))
                fprintf(stderr, "  field %zu: vmcs12 %#llx vmcs02 %#llx\n", i,
                        (unsigned long long)vmcs_get(v12, (enum vmcs_index)i),
                        (unsigned long long)vmcs_get(v02, (enum vmcs_index)i));
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vmcs v01, v12, v02, before;
    v01 = *lf_valid_vmcs01();
    v12 = v01;
    /* vmcs01 is nested mode's: VMCS shadowing, which L1 may not use. */
    vmcs_set(&v12, VMCS_IDX_PROC_CONTROLS2,
             vmcs_get(&v12, VMCS_IDX_PROC_CONTROLS2) & ~(uint64_t)PROC2_VMCS_SHADOWING);
    size_t first = size / 2;
    bool dirty_too = size && data[0] & 1;
    lf_mutate_vmcs(&v12, data, dirty_too ? first : size);
    struct vmx_entry_check c;
    if (!passes(&v12, l1_caps(), &c))
        return 0;
    vmcs_init(&v02, v01.revision);
    merge(&v02, &v01, &v12, NULL);
    check02(&v02, &v12);
    if (!dirty_too)
        return 0;
    /* More changes, each field marked dirty, as L1's VMWRITEs would. */
    before = v12;
    lf_mutate_vmcs(&v12, data + first, size - first);
    uint64_t dirty[VMCS12_DIRTY_WORDS];
    vmcs12_dirty_clear(dirty);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        if (vmcs_get(&v12, (enum vmcs_index)i) !=
            vmcs_get(&before, (enum vmcs_index)i))
            vmcs12_dirty_mark(dirty, (enum vmcs_index)i);
    if (!passes(&v12, l1_caps(), &c))
        return 0;
    merge(&v02, &v01, &v12, dirty);
    check02(&v02, &v12);
    return 0;
}
