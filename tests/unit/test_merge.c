/* vmcs-shadow/merge.c: the vmcs02 merge. The expected values follow the
 * Turtles paper (sec. 3.2, 3.5.1), the SDM (Vol. 3C 25.6, 27.3.2.1) and
 * KVM's prepare_vmcs02 semantics, written out in each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h" /* CR0_*, EFER_*, VEC_*: names only */
#include "vmcs-shadow/merge.h"
#include "vmcs-shadow/vmcs12.h"
#include "vmx/controls.h"

static struct vmcs v01, v12, v02;
static struct merge_params p;
static uint64_t dirty[VMCS12_DIRTY_WORDS];

enum {
    EPT02 = 0x4000001E, /* 4-level, WB: the value only has to pass through */
    /* Field i of each VMCS holds base + i: the three bases differ in
     * their low 16 bits, so 16-bit fields tell the sources apart too. */
    B01 = 0x1100,
    B12 = 0x2200,
    OLD = 0x0D0D, /* what vmcs02 held before the merge */
};

static void fill(struct vmcs *v, uint64_t base)
{
    vmcs_init(v, VMCS_REVISION_ID);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        vmcs_set(v, (enum vmcs_index)i, base + i);
}

static uint64_t g02(enum vmcs_index i)
{
    return vmcs_get(&v02, i);
}

static void set12(enum vmcs_index i, uint64_t v)
{
    vmcs_set(&v12, i, v);
}

static int reset(void **state)
{
    (void)state;
    fill(&v01, B01);
    fill(&v12, B12);
    fill(&v02, OLD);
    /* Plain controls: nothing set unless a test sets it. */
    static const enum vmcs_index zeroed[] = {
        VMCS_IDX_PIN_CONTROLS,    VMCS_IDX_PROC_CONTROLS,
        VMCS_IDX_PROC_CONTROLS2,  VMCS_IDX_EXIT_CONTROLS,
        VMCS_IDX_ENTRY_CONTROLS,  VMCS_IDX_EXCEPTION_BITMAP,
        VMCS_IDX_PF_ERROR_MASK,   VMCS_IDX_PF_ERROR_MATCH,
        VMCS_IDX_CR0_MASK,        VMCS_IDX_CR4_MASK,
    };
    for (unsigned k = 0; k < sizeof zeroed / sizeof zeroed[0]; k++) {
        vmcs_set(&v12, zeroed[k], 0);
        vmcs_set(&v01, zeroed[k], 0);
    }
    memset(&p, 0, sizeof p);
    p.ept02_pointer = EPT02;
    p.vpid02 = 2;
    vmcs12_dirty_clear(dirty);
    return 0;
}

static struct merge_count full(void)
{
    return vmcs02_merge(&v02, &v01, &v12, &p, NULL);
}

static unsigned count_type(enum vmcs_type t)
{
    unsigned n = 0;
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        n += vmcs_encoding_type(vmcs_field_at(i)->encoding) == t;
    return n;
}

/* ---- full and dirty ---- */

static void test_full_merge_takes_guest_state_from_vmcs12(void **state)
{
    (void)state;
    full();
    const enum vmcs_index guest[] = {
        VMCS_IDX_GUEST_RIP, VMCS_IDX_GUEST_RSP, VMCS_IDX_GUEST_CR3,
        VMCS_IDX_GUEST_CS_AR, VMCS_IDX_GUEST_TR_BASE,
        VMCS_IDX_GUEST_INTERRUPTIBILITY, VMCS_IDX_GUEST_SYSENTER_CS};
    for (unsigned k = 0; k < sizeof guest / sizeof guest[0]; k++)
        assert_int_equal(g02(guest[k]), B12 + guest[k]);
    /* Event injection and CR3 targets as L1 wrote them. */
    assert_int_equal(g02(VMCS_IDX_ENTRY_INTR_INFO),
                     B12 + VMCS_IDX_ENTRY_INTR_INFO);
    assert_int_equal(g02(VMCS_IDX_CR3_TARGET2), B12 + VMCS_IDX_CR3_TARGET2);
}

static void test_full_merge_counts_every_copied_field(void **state)
{
    (void)state;
    struct merge_count n = full();
    /* Guest state but the five L0 computes (link pointer, EFER, PAT, DR7,
     * DEBUGCTL), plus CR3 count and 4 targets, 3 event-injection fields,
     * TPR threshold, PLE gap and window. */
    assert_int_equal(n.copied, count_type(VMCS_TYPE_GUEST) - 5 + 11);
    assert_true(n.computed > count_type(VMCS_TYPE_HOST));
}

static void test_host_state_is_always_l0s(void **state)
{
    (void)state;
    full();
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        if (vmcs_encoding_type(vmcs_field_at(i)->encoding) == VMCS_TYPE_HOST)
            assert_int_equal(g02((enum vmcs_index)i),
                             vmcs_get(&v01, (enum vmcs_index)i));
    /* A dirty merge with L1 having written its host RIP: still L0's. */
    fill(&v02, OLD);
    vmcs12_dirty_mark(dirty, VMCS_IDX_HOST_RIP);
    vmcs02_merge(&v02, &v01, &v12, &p, dirty);
    assert_int_equal(g02(VMCS_IDX_HOST_RIP), B01 + VMCS_IDX_HOST_RIP);
    assert_int_equal(g02(VMCS_IDX_HOST_CR3), B01 + VMCS_IDX_HOST_CR3);
}

static void test_dirty_merge_copies_only_dirty_fields(void **state)
{
    (void)state;
    vmcs12_dirty_mark(dirty, VMCS_IDX_GUEST_RIP);
    vmcs12_dirty_mark(dirty, VMCS_IDX_ENTRY_INTR_INFO);
    struct merge_count n = vmcs02_merge(&v02, &v01, &v12, &p, dirty);
    assert_int_equal(n.copied, 2);
    assert_int_equal(g02(VMCS_IDX_GUEST_RIP), B12 + VMCS_IDX_GUEST_RIP);
    assert_int_equal(g02(VMCS_IDX_ENTRY_INTR_INFO),
                     B12 + VMCS_IDX_ENTRY_INTR_INFO);
    /* Not dirty: vmcs02 keeps what it had. */
    assert_int_equal(g02(VMCS_IDX_GUEST_RSP), OLD + VMCS_IDX_GUEST_RSP);
    assert_int_equal(g02(VMCS_IDX_GUEST_CR3), OLD + VMCS_IDX_GUEST_CR3);
    assert_int_equal(g02(VMCS_IDX_CR3_TARGET0), OLD + VMCS_IDX_CR3_TARGET0);
}

static void test_dirty_merge_still_computes_l0_fields(void **state)
{
    (void)state;
    /* L1's exception bitmap and controls changed but are not marked
     * dirty: L0 recomputes them anyway. */
    set12(VMCS_IDX_EXCEPTION_BITMAP, 1u << VEC_UD);
    set12(VMCS_IDX_PROC_CONTROLS, PROC_HLT_EXITING);
    struct merge_count d = vmcs02_merge(&v02, &v01, &v12, &p, dirty);
    assert_int_equal(d.copied, 0);
    assert_true(g02(VMCS_IDX_EXCEPTION_BITMAP) & (1u << VEC_UD));
    assert_true(g02(VMCS_IDX_PROC_CONTROLS) & PROC_HLT_EXITING);
    assert_int_equal(g02(VMCS_IDX_EPT_POINTER), EPT02);
    assert_int_equal(g02(VMCS_IDX_LINK_POINTER), ~0ull);
    struct merge_count f = full();
    assert_int_equal(d.computed, f.computed);
}

/* Every bit of the dirty set, even those past the last field: the same
 * vmcs02 and counts as the full merge. */
static void test_all_dirty_is_the_full_merge(void **state)
{
    (void)state;
    struct merge_count f = full();
    struct vmcs full02 = v02;
    fill(&v02, OLD);
    memset(dirty, 0xFF, sizeof dirty);
    struct merge_count d = vmcs02_merge(&v02, &v01, &v12, &p, dirty);
    assert_int_equal(d.copied, f.copied);
    assert_int_equal(d.computed, f.computed);
    assert_memory_equal(v02.value, full02.value, sizeof v02.value);
}

static void test_exit_information_is_never_copied(void **state)
{
    (void)state;
    full();
    assert_int_equal(g02(VMCS_IDX_EXIT_REASON), OLD + VMCS_IDX_EXIT_REASON);
    assert_int_equal(g02(VMCS_IDX_EXIT_QUALIFICATION),
                     OLD + VMCS_IDX_EXIT_QUALIFICATION);
    assert_int_equal(g02(VMCS_IDX_INSN_ERROR), OLD + VMCS_IDX_INSN_ERROR);
}

/* ---- controls ---- */

static void test_l0_exiting_controls_are_always_present(void **state)
{
    (void)state;
    p.l0_pin = PIN_EXT_INTR_EXITING;
    p.l0_proc = PROC_HLT_EXITING;
    p.l0_proc2 = PROC2_WBINVD_EXITING;
    set12(VMCS_IDX_PROC_CONTROLS, PROC_RDTSC_EXITING);
    full();
    assert_true(g02(VMCS_IDX_PIN_CONTROLS) & PIN_EXT_INTR_EXITING);
    assert_true(g02(VMCS_IDX_PROC_CONTROLS) & PROC_HLT_EXITING);
    assert_true(g02(VMCS_IDX_PROC_CONTROLS2) & PROC2_WBINVD_EXITING);
    /* and L1's too (OR). */
    assert_true(g02(VMCS_IDX_PROC_CONTROLS) & PROC_RDTSC_EXITING);
    assert_false(g02(VMCS_IDX_PROC_CONTROLS) & PROC_INVLPG_EXITING);
}

static void test_l1_exiting_controls_pass_through(void **state)
{
    (void)state;
    set12(VMCS_IDX_PIN_CONTROLS, PIN_NMI_EXITING | PIN_DEFAULT1);
    set12(VMCS_IDX_PROC_CONTROLS, PROC_INVLPG_EXITING | PROC_MOV_DR_EXITING |
                                      PROC_SECONDARY_CONTROLS | PROC_DEFAULT1);
    set12(VMCS_IDX_PROC_CONTROLS2, PROC2_DESC_TABLE_EXITING);
    full();
    assert_int_equal(g02(VMCS_IDX_PIN_CONTROLS) & (PIN_NMI_EXITING |
                                                   PIN_DEFAULT1),
                     PIN_NMI_EXITING | PIN_DEFAULT1);
    uint32_t proc = (uint32_t)g02(VMCS_IDX_PROC_CONTROLS);
    assert_int_equal(proc & (PROC_INVLPG_EXITING | PROC_MOV_DR_EXITING),
                     PROC_INVLPG_EXITING | PROC_MOV_DR_EXITING);
    /* Reserved-1 bits survive (SDM Vol. 3D A.2). */
    assert_int_equal(proc & PROC_DEFAULT1, PROC_DEFAULT1);
    assert_true(g02(VMCS_IDX_PROC_CONTROLS2) & PROC2_DESC_TABLE_EXITING);
}

static void test_secondary_controls_need_activation_in_vmcs12(void **state)
{
    (void)state;
    /* SDM 25.6.2: bit 31 clear, the secondary controls act as 0. */
    set12(VMCS_IDX_PROC_CONTROLS2, PROC2_DESC_TABLE_EXITING | PROC2_RDTSCP);
    full();
    assert_false(g02(VMCS_IDX_PROC_CONTROLS2) &
                 (PROC2_DESC_TABLE_EXITING | PROC2_RDTSCP));
}

static void test_enabling_controls_are_l1s_alone(void **state)
{
    (void)state;
    /* L0 runs L1 with unrestricted guest and RDTSCP; L2 gets neither
     * unless L1 enables them. */
    p.l0_proc2 = PROC2_UNRESTRICTED_GUEST | PROC2_RDTSCP | PROC2_INVPCID;
    p.l0_pin = PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER;
    full();
    assert_false(g02(VMCS_IDX_PROC_CONTROLS2) &
                 (PROC2_UNRESTRICTED_GUEST | PROC2_RDTSCP | PROC2_INVPCID));
    assert_false(g02(VMCS_IDX_PIN_CONTROLS) &
                 (PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER));
    set12(VMCS_IDX_PROC_CONTROLS, PROC_SECONDARY_CONTROLS);
    set12(VMCS_IDX_PROC_CONTROLS2, PROC2_UNRESTRICTED_GUEST | PROC2_RDTSCP);
    set12(VMCS_IDX_PIN_CONTROLS, PIN_PREEMPTION_TIMER);
    full();
    assert_int_equal(g02(VMCS_IDX_PROC_CONTROLS2) &
                         (PROC2_UNRESTRICTED_GUEST | PROC2_RDTSCP),
                     PROC2_UNRESTRICTED_GUEST | PROC2_RDTSCP);
    assert_true(g02(VMCS_IDX_PIN_CONTROLS) & PIN_PREEMPTION_TIMER);
}

static void test_controls_l0_cannot_pass_through_are_dropped(void **state)
{
    (void)state;
    set12(VMCS_IDX_PIN_CONTROLS, PIN_POSTED_INTR);
    set12(VMCS_IDX_PROC_CONTROLS, PROC_TPR_SHADOW | PROC_SECONDARY_CONTROLS);
    set12(VMCS_IDX_PROC_CONTROLS2, PROC2_VMCS_SHADOWING | PROC2_PML |
                                       PROC2_VIRT_APIC_ACCESSES);
    full();
    assert_false(g02(VMCS_IDX_PIN_CONTROLS) & PIN_POSTED_INTR);
    assert_false(g02(VMCS_IDX_PROC_CONTROLS) & PROC_TPR_SHADOW);
    assert_false(g02(VMCS_IDX_PROC_CONTROLS2) &
                 (PROC2_VMCS_SHADOWING | PROC2_PML |
                  PROC2_VIRT_APIC_ACCESSES));
}

static void test_ept02_and_vpid02(void **state)
{
    (void)state;
    /* L1 uses shadow paging (no EPT in vmcs12): vmcs02 still has EPT. */
    full();
    assert_true(g02(VMCS_IDX_PROC_CONTROLS2) & PROC2_EPT);
    assert_true(g02(VMCS_IDX_PROC_CONTROLS) & PROC_SECONDARY_CONTROLS);
    assert_int_equal(g02(VMCS_IDX_EPT_POINTER), EPT02);
    assert_int_equal(g02(VMCS_IDX_VPID), 2);
    assert_true(g02(VMCS_IDX_PROC_CONTROLS2) & PROC2_VPID);
    /* L1's EPT12 pointer and VPID12 never reach the CPU. */
    set12(VMCS_IDX_PROC_CONTROLS, PROC_SECONDARY_CONTROLS);
    set12(VMCS_IDX_PROC_CONTROLS2, PROC2_EPT | PROC2_VPID);
    p.vpid02 = 0;
    full();
    assert_int_equal(g02(VMCS_IDX_EPT_POINTER), EPT02);
    assert_int_equal(g02(VMCS_IDX_VPID), 0);
    assert_false(g02(VMCS_IDX_PROC_CONTROLS2) & PROC2_VPID);
}

static void test_exit_controls_are_l0s(void **state)
{
    (void)state;
    p.l0_exit_controls = EXIT_HOST_ADDR_SPACE_SIZE | EXIT_SAVE_EFER |
                         EXIT_LOAD_EFER;
    set12(VMCS_IDX_EXIT_CONTROLS, EXIT_ACK_INTR_ON_EXIT | EXIT_LOAD_PAT |
                                      EXIT_SAVE_PREEMPTION_TIMER);
    full();
    /* Host side L0's; the timer is saved so L0 can hand it to L1. */
    assert_int_equal(g02(VMCS_IDX_EXIT_CONTROLS),
                     EXIT_HOST_ADDR_SPACE_SIZE | EXIT_SAVE_EFER |
                         EXIT_LOAD_EFER | EXIT_SAVE_PREEMPTION_TIMER);
}

/* ---- exception bitmap, CR masks ---- */

static void test_exception_bitmap_is_the_or(void **state)
{
    (void)state;
    set12(VMCS_IDX_EXCEPTION_BITMAP, 1u << VEC_UD);
    p.l0_exception_bitmap = 1u << VEC_MC;
    full();
    assert_int_equal(g02(VMCS_IDX_EXCEPTION_BITMAP),
                     (1u << VEC_UD) | (1u << VEC_MC));
}

static void test_pf_mask_match_are_l1s_when_l0_wants_no_pf(void **state)
{
    (void)state;
    /* L1 wants only write faults (PFEC bit 1). */
    set12(VMCS_IDX_EXCEPTION_BITMAP, 1u << VEC_PF);
    set12(VMCS_IDX_PF_ERROR_MASK, 2);
    set12(VMCS_IDX_PF_ERROR_MATCH, 2);
    full();
    assert_true(g02(VMCS_IDX_EXCEPTION_BITMAP) & (1u << VEC_PF));
    assert_int_equal(g02(VMCS_IDX_PF_ERROR_MASK), 2);
    assert_int_equal(g02(VMCS_IDX_PF_ERROR_MATCH), 2);
}

static void test_l0_wanting_every_pf_clears_mask_and_match(void **state)
{
    (void)state;
    set12(VMCS_IDX_PF_ERROR_MASK, 2);
    set12(VMCS_IDX_PF_ERROR_MATCH, 2);
    p.l0_exception_bitmap = 1u << VEC_PF;
    full();
    /* Bit set, mask = match = 0: every #PF exits (SDM 25.6.3). */
    assert_true(g02(VMCS_IDX_EXCEPTION_BITMAP) & (1u << VEC_PF));
    assert_int_equal(g02(VMCS_IDX_PF_ERROR_MASK), 0);
    assert_int_equal(g02(VMCS_IDX_PF_ERROR_MATCH), 0);
}

static void test_cr_masks_or_and_read_shadows(void **state)
{
    (void)state;
    /* L1 owns CR0.TS and tells L2 it is clear; L0 owns CR0.NE. */
    set12(VMCS_IDX_CR0_MASK, CR0_TS);
    set12(VMCS_IDX_CR0_READ_SHADOW, 0);
    set12(VMCS_IDX_GUEST_CR0, CR0_PE | CR0_NE | CR0_TS | CR0_PG);
    p.l0_cr0_mask = CR0_NE;
    /* CR4: L1 owns VMXE with shadow 0, L0 owns nothing more. */
    set12(VMCS_IDX_CR4_MASK, CR4_VMXE);
    set12(VMCS_IDX_CR4_READ_SHADOW, 0);
    set12(VMCS_IDX_GUEST_CR4, CR4_VMXE | CR4_PAE);
    full();
    assert_int_equal(g02(VMCS_IDX_CR0_MASK), CR0_TS | CR0_NE);
    /* L2 reads TS from L1's shadow (0) and NE as L1 set it (1). */
    assert_int_equal(g02(VMCS_IDX_CR0_READ_SHADOW) & (CR0_TS | CR0_NE),
                     CR0_NE);
    assert_int_equal(g02(VMCS_IDX_CR4_MASK), CR4_VMXE);
    assert_false(g02(VMCS_IDX_CR4_READ_SHADOW) & CR4_VMXE);
}

/* ---- bitmaps, TSC, MSR lists, link ---- */

static void test_io_and_msr_bitmaps_from_l0(void **state)
{
    (void)state;
    p.use_io_bitmaps = true;
    p.io_bitmap_a = 0x4000100000ull;
    p.io_bitmap_b = 0x4000101000ull;
    p.use_msr_bitmap = true;
    p.msr_bitmap = 0x4000102000ull;
    set12(VMCS_IDX_PROC_CONTROLS, PROC_UNCOND_IO_EXITING);
    full();
    uint32_t proc = (uint32_t)g02(VMCS_IDX_PROC_CONTROLS);
    assert_true(proc & PROC_USE_IO_BITMAPS);
    assert_true(proc & PROC_USE_MSR_BITMAPS);
    assert_int_equal(g02(VMCS_IDX_IO_BITMAP_A), 0x4000100000ull);
    assert_int_equal(g02(VMCS_IDX_IO_BITMAP_B), 0x4000101000ull);
    assert_int_equal(g02(VMCS_IDX_MSR_BITMAP), 0x4000102000ull);
}

static void test_without_bitmaps_every_io_and_msr_exits(void **state)
{
    (void)state;
    set12(VMCS_IDX_PROC_CONTROLS, PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS);
    full();
    uint32_t proc = (uint32_t)g02(VMCS_IDX_PROC_CONTROLS);
    assert_true(proc & PROC_UNCOND_IO_EXITING);
    assert_false(proc & PROC_USE_IO_BITMAPS);
    assert_false(proc & PROC_USE_MSR_BITMAPS);
    /* L1's bitmap addresses are L1-physical: never in vmcs02. */
    assert_int_equal(g02(VMCS_IDX_IO_BITMAP_A), 0);
    assert_int_equal(g02(VMCS_IDX_MSR_BITMAP), 0);
}

static void test_tsc_offsets_add_up(void **state)
{
    (void)state;
    set12(VMCS_IDX_TSC_OFFSET, 100);
    vmcs_set(&v01, VMCS_IDX_TSC_OFFSET, 1000);
    set12(VMCS_IDX_PROC_CONTROLS, PROC_TSC_OFFSETTING);
    vmcs_set(&v01, VMCS_IDX_PROC_CONTROLS, PROC_TSC_OFFSETTING);
    full();
    assert_true(g02(VMCS_IDX_PROC_CONTROLS) & PROC_TSC_OFFSETTING);
    assert_int_equal(g02(VMCS_IDX_TSC_OFFSET), 1100);
    set12(VMCS_IDX_PROC_CONTROLS, 0); /* L1 does not offset */
    full();
    assert_int_equal(g02(VMCS_IDX_TSC_OFFSET), 1000);
    vmcs_set(&v01, VMCS_IDX_PROC_CONTROLS, 0);
    full();
    assert_false(g02(VMCS_IDX_PROC_CONTROLS) & PROC_TSC_OFFSETTING);
    assert_int_equal(g02(VMCS_IDX_TSC_OFFSET), 0);
}

static void test_no_msr_lists_and_no_shadow_vmcs_in_vmcs02(void **state)
{
    (void)state;
    set12(VMCS_IDX_ENTRY_MSR_LOAD_COUNT, 3);
    set12(VMCS_IDX_EXIT_MSR_STORE_COUNT, 3);
    set12(VMCS_IDX_EXIT_MSR_LOAD_COUNT, 3);
    set12(VMCS_IDX_LINK_POINTER, 0x5000);
    full();
    assert_int_equal(g02(VMCS_IDX_ENTRY_MSR_LOAD_COUNT), 0);
    assert_int_equal(g02(VMCS_IDX_EXIT_MSR_STORE_COUNT), 0);
    assert_int_equal(g02(VMCS_IDX_EXIT_MSR_LOAD_COUNT), 0);
    assert_int_equal(g02(VMCS_IDX_LINK_POINTER), ~0ull);
}

/* ---- state VM entry loads or leaves (SDM 27.3.2.1) ---- */

static void test_efer_loaded_from_vmcs12(void **state)
{
    (void)state;
    set12(VMCS_IDX_ENTRY_CONTROLS, ENTRY_LOAD_EFER | ENTRY_IA32E_MODE_GUEST);
    set12(VMCS_IDX_GUEST_EFER, EFER_LMA | EFER_LME | EFER_NXE);
    full();
    assert_int_equal(g02(VMCS_IDX_GUEST_EFER), EFER_LMA | EFER_LME | EFER_NXE);
    uint32_t entry = (uint32_t)g02(VMCS_IDX_ENTRY_CONTROLS);
    assert_true(entry & ENTRY_LOAD_EFER);
    assert_true(entry & ENTRY_IA32E_MODE_GUEST);
}

static void test_efer_not_loaded_is_l1s_with_lma_from_the_control(void **state)
{
    (void)state;
    vmcs_set(&v01, VMCS_IDX_GUEST_EFER, EFER_SCE);
    set12(VMCS_IDX_GUEST_EFER, EFER_NXE); /* ignored: not loaded */
    set12(VMCS_IDX_ENTRY_CONTROLS, ENTRY_IA32E_MODE_GUEST);
    set12(VMCS_IDX_GUEST_CR0, CR0_PE | CR0_PG);
    full();
    /* LMA and, with CR0.PG = 1, LME take "IA-32e mode guest". */
    assert_int_equal(g02(VMCS_IDX_GUEST_EFER), EFER_SCE | EFER_LMA | EFER_LME);
    assert_true(g02(VMCS_IDX_ENTRY_CONTROLS) & ENTRY_LOAD_EFER);
    /* 32-bit guest: both cleared, even if L1 ran with them set. */
    vmcs_set(&v01, VMCS_IDX_GUEST_EFER, EFER_SCE | EFER_LMA | EFER_LME);
    set12(VMCS_IDX_ENTRY_CONTROLS, 0);
    full();
    assert_int_equal(g02(VMCS_IDX_GUEST_EFER), EFER_SCE);
    /* Paging off: LME is left as it was, LMA follows the control. */
    set12(VMCS_IDX_GUEST_CR0, CR0_PE);
    full();
    assert_int_equal(g02(VMCS_IDX_GUEST_EFER), EFER_SCE | EFER_LME);
}

static void test_pat_and_debug_state_not_loaded_are_l1s(void **state)
{
    (void)state;
    set12(VMCS_IDX_ENTRY_CONTROLS, 0);
    full();
    assert_int_equal(g02(VMCS_IDX_GUEST_PAT), B01 + VMCS_IDX_GUEST_PAT);
    assert_int_equal(g02(VMCS_IDX_GUEST_DR7), B01 + VMCS_IDX_GUEST_DR7);
    assert_int_equal(g02(VMCS_IDX_GUEST_DEBUGCTL),
                     B01 + VMCS_IDX_GUEST_DEBUGCTL);
    set12(VMCS_IDX_ENTRY_CONTROLS, ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG_CONTROLS);
    full();
    assert_int_equal(g02(VMCS_IDX_GUEST_PAT), B12 + VMCS_IDX_GUEST_PAT);
    assert_int_equal(g02(VMCS_IDX_GUEST_DR7), B12 + VMCS_IDX_GUEST_DR7);
    uint32_t entry = (uint32_t)g02(VMCS_IDX_ENTRY_CONTROLS);
    assert_int_equal(entry & (ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG_CONTROLS |
                              ENTRY_LOAD_EFER),
                     ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG_CONTROLS |
                         ENTRY_LOAD_EFER);
}

static void test_smm_entry_controls_are_dropped(void **state)
{
    (void)state;
    set12(VMCS_IDX_ENTRY_CONTROLS,
          ENTRY_TO_SMM | ENTRY_DEACTIVATE_DUAL_MONITOR | ENTRY_DEFAULT1);
    full();
    uint32_t entry = (uint32_t)g02(VMCS_IDX_ENTRY_CONTROLS);
    assert_false(entry & (ENTRY_TO_SMM | ENTRY_DEACTIVATE_DUAL_MONITOR));
    assert_int_equal(entry & ENTRY_DEFAULT1, ENTRY_DEFAULT1);
}

static void test_bitmap_or(void **state)
{
    (void)state;
    uint8_t a[4] = {0x01, 0x00, 0xF0, 0x00};
    const uint8_t b[4] = {0x02, 0x00, 0x0F, 0x80};
    merge_bitmap_or(a, b, 4);
    const uint8_t want[4] = {0x03, 0x00, 0xFF, 0x80};
    assert_memory_equal(a, want, 4);
}

#define T(f) cmocka_unit_test_setup(f, reset)
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_full_merge_takes_guest_state_from_vmcs12),
        T(test_full_merge_counts_every_copied_field),
        T(test_host_state_is_always_l0s),
        T(test_dirty_merge_copies_only_dirty_fields),
        T(test_dirty_merge_still_computes_l0_fields),
        T(test_all_dirty_is_the_full_merge),
        T(test_exit_information_is_never_copied),
        T(test_l0_exiting_controls_are_always_present),
        T(test_l1_exiting_controls_pass_through),
        T(test_secondary_controls_need_activation_in_vmcs12),
        T(test_enabling_controls_are_l1s_alone),
        T(test_controls_l0_cannot_pass_through_are_dropped),
        T(test_ept02_and_vpid02),
        T(test_exit_controls_are_l0s),
        T(test_exception_bitmap_is_the_or),
        T(test_pf_mask_match_are_l1s_when_l0_wants_no_pf),
        T(test_l0_wanting_every_pf_clears_mask_and_match),
        T(test_cr_masks_or_and_read_shadows),
        T(test_io_and_msr_bitmaps_from_l0),
        T(test_without_bitmaps_every_io_and_msr_exits),
        T(test_tsc_offsets_add_up),
        T(test_no_msr_lists_and_no_shadow_vmcs_in_vmcs02),
        T(test_efer_loaded_from_vmcs12),
        T(test_efer_not_loaded_is_l1s_with_lma_from_the_control),
        T(test_pat_and_debug_state_not_loaded_are_l1s),
        T(test_smm_entry_controls_are_dropped),
        T(test_bitmap_or),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
