/* vmcs-shadow/reflect.c: who handles an exit of L2. Each rule of SDM Vol.
 * 3C 26.1-26.2 is checked against vmcs12 with its control off and on;
 * L0's own reasons follow KVM's nested_vmx_l0_wants_exit and Turtles
 * sec. 3.2-3.3. Qualification layouts are SDM Table 28-3 (CR access) and
 * Table 28-5 (I/O), written out here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h" /* CR0_*, VEC_*: names only */
#include "vmcs-shadow/reflect.h"
#include "vmx/controls.h"

/* L1 memory for vmcs12's bitmaps: 64 KiB at MEM_BASE. */
enum {
    MEM_BASE = 0x100000,
    MEM_SIZE = 0x10000,
    IO_A = MEM_BASE,
    IO_B = MEM_BASE + 0x1000,
    MSR_BM = MEM_BASE + 0x2000,
    VMREAD_BM = MEM_BASE + 0x3000,
    VMWRITE_BM = MEM_BASE + 0x4000,
    UNBACKED = 0x80000000,
};
#include "fake_phys.h"

static void set_bit(uint64_t base, uint32_t bit)
{
    mem[base - MEM_BASE + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static struct vmcs v12;
static struct exit_info e;
static struct l0_exit_wants l0;

static int reset(void **state)
{
    (void)state;
    memset(mem, 0, sizeof mem);
    vmcs_init(&v12, VMCS_REVISION_ID);
    vmcs_set(&v12, VMCS_IDX_IO_BITMAP_A, IO_A);
    vmcs_set(&v12, VMCS_IDX_IO_BITMAP_B, IO_B);
    vmcs_set(&v12, VMCS_IDX_MSR_BITMAP, MSR_BM);
    vmcs_set(&v12, VMCS_IDX_VMREAD_BITMAP_ADDR, VMREAD_BM);
    vmcs_set(&v12, VMCS_IDX_VMWRITE_BITMAP_ADDR, VMWRITE_BM);
    memset(&e, 0, sizeof e);
    memset(&l0, 0, sizeof l0);
    return 0;
}

static bool l1(uint32_t reason)
{
    e.reason = reason;
    return l1_wants_exit(&v12, &e, fake_read, NULL);
}

static bool l0w(uint32_t reason)
{
    e.reason = reason;
    return l0_wants_exit(&l0, &e);
}

static void set12(enum vmcs_index i, uint64_t v)
{
    vmcs_set(&v12, i, v);
}

/* Secondary controls, activated (SDM 25.6.2). */
static void set_proc2(uint32_t proc2)
{
    set12(VMCS_IDX_PROC_CONTROLS, PROC_SECONDARY_CONTROLS);
    set12(VMCS_IDX_PROC_CONTROLS2, proc2);
}

/* ---- reasons that always reach L1 ---- */

static void test_unconditional_exits_go_to_l1(void **state)
{
    (void)state;
    /* SDM 26.1.2: CPUID, GETSEC, INVD, XSETBV and the VMX instructions
     * exit unconditionally; task switches and triple faults too (26.4.1,
     * 28.1); a failed entry of vmcs12's guest state is L1's. */
    const uint32_t always[] = {2, 9, 10, 11, 13, 18, 19, 20, 21, 22, 24,
                               26, 27, 33, 34, 50, 53, 55};
    for (unsigned k = 0; k < sizeof always / sizeof always[0]; k++) {
        assert_true(l1(always[k]));
        assert_false(l0w(always[k]));
    }
}

static void test_entry_failure_bit_is_ignored_for_the_reason(void **state)
{
    (void)state;
    assert_true(l1(0x80000000u | 33));
}

static void test_unknown_reasons_go_to_l1(void **state)
{
    (void)state;
    /* KVM's default: L1 sees what it cannot have asked to ignore. */
    assert_true(l1(35));
    assert_true(l1(200));
    assert_false(l0w(200));
}

/* ---- one control bit each ---- */

enum word { PIN, PROC, PROC2 };

static const struct {
    uint32_t reason;
    enum word word;
    uint32_t bit;
} by_control[] = {
    {1, PIN, PIN_EXT_INTR_EXITING},      /* external interrupt */
    {7, PROC, PROC_INTR_WINDOW_EXITING}, /* interrupt window */
    {8, PROC, PROC_NMI_WINDOW_EXITING},
    {12, PROC, PROC_HLT_EXITING},
    {14, PROC, PROC_INVLPG_EXITING},
    {15, PROC, PROC_RDPMC_EXITING},
    {16, PROC, PROC_RDTSC_EXITING},
    {29, PROC, PROC_MOV_DR_EXITING},
    {36, PROC, PROC_MWAIT_EXITING},
    {37, PROC, PROC_MONITOR_TRAP_FLAG},
    {39, PROC, PROC_MONITOR_EXITING},
    {40, PROC, PROC_PAUSE_EXITING},
    {43, PROC, PROC_TPR_SHADOW},          /* TPR below threshold */
    {44, PROC2, PROC2_VIRT_APIC_ACCESSES},
    {46, PROC2, PROC2_DESC_TABLE_EXITING}, /* GDTR/IDTR */
    {47, PROC2, PROC2_DESC_TABLE_EXITING}, /* LDTR/TR */
    {51, PROC, PROC_RDTSC_EXITING},        /* RDTSCP */
    {52, PIN, PIN_PREEMPTION_TIMER},
    {54, PROC2, PROC2_WBINVD_EXITING},
    {57, PROC2, PROC2_RDRAND_EXITING},
    {61, PROC2, PROC2_RDSEED_EXITING},
    {63, PROC2, PROC2_XSAVES},
};

static void set_control(enum word w, uint32_t bit)
{
    set12(VMCS_IDX_PIN_CONTROLS, w == PIN ? bit : 0);
    set12(VMCS_IDX_PROC_CONTROLS,
          w == PROC ? bit : w == PROC2 ? PROC_SECONDARY_CONTROLS : 0);
    set12(VMCS_IDX_PROC_CONTROLS2, w == PROC2 ? bit : 0);
}

static void test_each_controlled_exit_off_and_on(void **state)
{
    (void)state;
    for (unsigned k = 0; k < sizeof by_control / sizeof by_control[0]; k++) {
        set_control(by_control[k].word, 0);
        assert_false(l1(by_control[k].reason));
        set_control(by_control[k].word, by_control[k].bit);
        assert_true(l1(by_control[k].reason));
    }
}

static void test_secondary_control_without_activation(void **state)
{
    (void)state;
    /* SDM 25.6.2: with bit 31 of the primary controls clear the CPU acts
     * as if every secondary control were 0. */
    set12(VMCS_IDX_PROC_CONTROLS2, PROC2_WBINVD_EXITING |
                                       PROC2_DESC_TABLE_EXITING);
    set12(VMCS_IDX_PROC_CONTROLS, 0);
    assert_false(l1(54));
    assert_false(l1(46));
    set12(VMCS_IDX_PROC_CONTROLS, PROC_SECONDARY_CONTROLS);
    assert_true(l1(54));
}

static void test_pause_loop_exiting(void **state)
{
    (void)state;
    set_proc2(PROC2_PAUSE_LOOP_EXITING);
    assert_true(l1(40));
}

static void test_invpcid_needs_enable_and_invlpg_exiting(void **state)
{
    (void)state;
    /* SDM 26.1.3: INVPCID exits if "enable INVPCID" and "INVLPG
     * exiting" are both 1. */
    set_proc2(PROC2_INVPCID);
    assert_false(l1(58));
    set12(VMCS_IDX_PROC_CONTROLS, PROC_SECONDARY_CONTROLS |
                                      PROC_INVLPG_EXITING);
    assert_true(l1(58));
    set12(VMCS_IDX_PROC_CONTROLS2, 0);
    assert_false(l1(58));
}

/* ---- exceptions and NMIs ---- */

static uint32_t hw_exception(unsigned vector)
{
    return 1u << 31 | 3u << 8 | vector; /* valid, hardware exception */
}

static void test_exception_by_vmcs12_bitmap(void **state)
{
    (void)state;
    e.intr_info = hw_exception(VEC_UD);
    assert_false(l1(0));
    set12(VMCS_IDX_EXCEPTION_BITMAP, 1u << VEC_UD);
    assert_true(l1(0));
    e.intr_info = hw_exception(VEC_GP);
    assert_false(l1(0));
}

static void test_page_fault_by_mask_and_match(void **state)
{
    (void)state;
    /* Bit 14 set, mask = match = 2: only write faults exit (25.6.3). */
    set12(VMCS_IDX_EXCEPTION_BITMAP, 1u << VEC_PF);
    set12(VMCS_IDX_PF_ERROR_MASK, 2);
    set12(VMCS_IDX_PF_ERROR_MATCH, 2);
    e.intr_info = hw_exception(VEC_PF) | 1u << 11;
    e.intr_error = 2 | 1; /* write, present */
    assert_true(l1(0));
    e.intr_error = 1; /* read */
    assert_false(l1(0));
    /* Bit clear: the match inverts: reads exit, writes do not. */
    set12(VMCS_IDX_EXCEPTION_BITMAP, 0);
    assert_true(l1(0));
    e.intr_error = 3;
    assert_false(l1(0));
}

static void test_nmi_by_nmi_exiting(void **state)
{
    (void)state;
    e.intr_info = 1u << 31 | 2u << 8 | VEC_NMI;
    set12(VMCS_IDX_EXCEPTION_BITMAP, ~0u); /* the bitmap does not count */
    assert_false(l1(0));
    set12(VMCS_IDX_PIN_CONTROLS, PIN_NMI_EXITING);
    assert_true(l1(0));
}

/* ---- control registers ---- */

static uint64_t cr_qual(unsigned cr, unsigned type, unsigned gpr)
{
    return cr | type << 4 | gpr << 8;
}

static void test_mov_to_cr0_by_mask_and_shadow(void **state)
{
    (void)state;
    /* L1 owns CR0.TS with shadow TS = 1. */
    set12(VMCS_IDX_CR0_MASK, CR0_TS);
    set12(VMCS_IDX_CR0_READ_SHADOW, CR0_TS | CR0_PE);
    e.qualification = cr_qual(0, 0, 0);
    e.cr_source = CR0_PE; /* clears an owned bit: differs from shadow */
    assert_true(l1(28));
    e.cr_source = CR0_PE | CR0_TS | CR0_MP; /* owned bits as shadowed */
    assert_false(l1(28));
}

static void test_clts_and_lmsw(void **state)
{
    (void)state;
    set12(VMCS_IDX_CR0_MASK, CR0_TS);
    set12(VMCS_IDX_CR0_READ_SHADOW, CR0_TS);
    e.qualification = cr_qual(0, 2, 0); /* CLTS: TS owned, shadow 1 */
    assert_true(l1(28));
    set12(VMCS_IDX_CR0_READ_SHADOW, 0);
    assert_false(l1(28));
    /* LMSW with source 0x0008 (TS) in bits 31:16. */
    e.qualification = cr_qual(0, 3, 0) | (uint64_t)0x0008 << 16;
    assert_true(l1(28));
    e.qualification = cr_qual(0, 3, 0);
    assert_false(l1(28));
}

static void test_cr3_load_by_control_and_target_list(void **state)
{
    (void)state;
    e.qualification = cr_qual(3, 0, 1);
    e.cr_source = 0x5000;
    assert_false(l1(28));
    set12(VMCS_IDX_PROC_CONTROLS, PROC_CR3_LOAD_EXITING);
    assert_true(l1(28));
    set12(VMCS_IDX_CR3_TARGET_COUNT, 2);
    set12(VMCS_IDX_CR3_TARGET1, 0x5000);
    assert_false(l1(28));
    /* A target beyond the count does not count. */
    set12(VMCS_IDX_CR3_TARGET_COUNT, 1);
    assert_true(l1(28));
    /* A count L1 wrote beyond 4 reads only the four targets. */
    set12(VMCS_IDX_CR3_TARGET_COUNT, 1000);
    assert_false(l1(28));
}

static void test_cr3_store_and_cr4(void **state)
{
    (void)state;
    e.qualification = cr_qual(3, 1, 2); /* MOV from CR3 */
    assert_false(l1(28));
    set12(VMCS_IDX_PROC_CONTROLS, PROC_CR3_STORE_EXITING);
    assert_true(l1(28));
    set12(VMCS_IDX_CR4_MASK, CR4_VMXE);
    set12(VMCS_IDX_CR4_READ_SHADOW, 0);
    e.qualification = cr_qual(4, 0, 0);
    e.cr_source = CR4_PAE;
    assert_false(l1(28));
    e.cr_source = CR4_PAE | CR4_VMXE;
    assert_true(l1(28));
}

/* ---- I/O and MSRs through L1's bitmaps ---- */

static uint64_t io_qual(uint16_t port, unsigned size, bool in)
{
    return (uint64_t)(size - 1) | (in ? 8u : 0) | (uint64_t)port << 16;
}

static void test_io_by_vmcs12_bitmaps(void **state)
{
    (void)state;
    e.qualification = io_qual(0x3F8, 1, false);
    assert_false(l1(30)); /* neither control */
    set12(VMCS_IDX_PROC_CONTROLS, PROC_UNCOND_IO_EXITING);
    assert_true(l1(30));
    set12(VMCS_IDX_PROC_CONTROLS, PROC_USE_IO_BITMAPS);
    assert_false(l1(30));
    set_bit(IO_A, 0x3F8);
    assert_true(l1(30));
    /* Port 0x8004 is bit 4 of bitmap B. */
    e.qualification = io_qual(0x8004, 4, true);
    assert_false(l1(30));
    set_bit(IO_B, 4);
    assert_true(l1(30));
    /* A 2-byte access at 0x3F7 touches 0x3F8 too. */
    e.qualification = io_qual(0x3F7, 2, false);
    assert_true(l1(30));
}

static void test_msr_by_vmcs12_bitmap(void **state)
{
    (void)state;
    e.msr = 0xC0000080; /* EFER: high range, bit 0x80 */
    assert_true(l1(31)); /* no bitmaps: every RDMSR exits */
    set12(VMCS_IDX_PROC_CONTROLS, PROC_USE_MSR_BITMAPS);
    assert_false(l1(31));
    assert_false(l1(32));
    set_bit(MSR_BM + 0x400, 0x80); /* read bitmap for high MSRs */
    assert_true(l1(31));
    assert_false(l1(32));
    set_bit(MSR_BM + 0xC00, 0x80); /* write bitmap for high MSRs */
    assert_true(l1(32));
    e.msr = 0x10; /* TSC: low range, write bitmap at 0x800 */
    assert_false(l1(32));
    set_bit(MSR_BM + 0x800, 0x10);
    assert_true(l1(32));
}

static void test_bitmap_outside_l1_memory_exits(void **state)
{
    (void)state;
    set12(VMCS_IDX_PROC_CONTROLS, PROC_USE_MSR_BITMAPS | PROC_USE_IO_BITMAPS);
    set12(VMCS_IDX_MSR_BITMAP, UNBACKED);
    set12(VMCS_IDX_IO_BITMAP_A, UNBACKED);
    e.msr = 0x10;
    assert_true(l1(31));
    e.qualification = io_qual(0x60, 1, true);
    assert_true(l1(30));
}

/* ---- VMREAD/VMWRITE of L2 (an L3-capable L1) ---- */

static void test_vmread_vmwrite_by_vmcs12_shadowing_bitmaps(void **state)
{
    (void)state;
    e.vmcs_field = 0x681E; /* GUEST_RIP */
    assert_true(l1(23));
    assert_true(l1(25));
    set_proc2(PROC2_VMCS_SHADOWING);
    /* Bits clear: the access would go to L1's shadow VMCS. */
    assert_false(l1(23));
    assert_false(l1(25));
    set_bit(VMREAD_BM, 0x681E);
    assert_true(l1(23));
    assert_false(l1(25));
    set_bit(VMWRITE_BM, 0x681E);
    assert_true(l1(25));
    /* A field with bits 63:15 set always exits. */
    e.vmcs_field = 0x10000 | 0x0800;
    assert_true(l1(23));
    /* An unreadable bitmap reads as all ones. */
    e.vmcs_field = 0x0800;
    set12(VMCS_IDX_VMREAD_BITMAP_ADDR, UNBACKED);
    assert_true(l1(23));
}

/* ---- EPT ---- */

static void test_ept_faults_split_by_where_they_are(void **state)
{
    (void)state;
    set_proc2(PROC2_EPT);
    for (uint32_t r = 48; r <= 49; r++) { /* violation, misconfiguration */
        e.ept12_fault = false; /* EPT02 lacks an entry EPT12 has: fill */
        assert_true(l0w(r));
        assert_false(l1(r));
        e.ept12_fault = true; /* EPT12 itself has no valid entry */
        assert_false(l0w(r));
        assert_true(l1(r));
    }
    /* L1 without EPT: nothing of EPT02 is L1's. */
    set12(VMCS_IDX_PROC_CONTROLS2, 0);
    assert_false(l1(48));
}

/* ---- L0's own ---- */

static void test_l0_wants_its_events(void **state)
{
    (void)state;
    /* Platform events and machine checks during entry. */
    const uint32_t platform[] = {3, 4, 5, 6, 41};
    for (unsigned k = 0; k < sizeof platform / sizeof platform[0]; k++) {
        assert_true(l0w(platform[k]));
        assert_false(l1(platform[k]));
    }
    /* An NMI is L0's only when L0 itself set "NMI exiting". */
    e.intr_info = 1u << 31 | 2u << 8 | VEC_NMI;
    assert_false(l0w(0));
    l0.nmis = true;
    assert_true(l0w(0));
    l0.nmis = false;
    e.intr_info = hw_exception(VEC_MC);
    assert_false(l0w(0));
    l0.exception_bitmap = 1u << VEC_MC;
    assert_true(l0w(0));
    /* Each of L0's own wishes: off, then on. */
    const struct {
        uint32_t reason;
        bool *wanted;
    } flags[] = {
        {1, &l0.external_interrupts},
        {7, &l0.interrupt_window},
        {8, &l0.nmi_window},
        {52, &l0.preemption_timer},
    };
    for (unsigned k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        assert_false(l0w(flags[k].reason));
        *flags[k].wanted = true;
        assert_true(l0w(flags[k].reason));
    }
}

static void test_reflect_exit_order(void **state)
{
    (void)state;
    /* HLT: vmcs02 has HLT exiting because L0 wants it, L1 did not ask: L0
     * emulates it for L2. */
    e.reason = 12;
    assert_int_equal(reflect_exit(&l0, &v12, &e, fake_read, NULL), REFLECT_TO_L0);
    set12(VMCS_IDX_PROC_CONTROLS, PROC_HLT_EXITING);
    assert_int_equal(reflect_exit(&l0, &v12, &e, fake_read, NULL), REFLECT_TO_L1);
    /* CPUID always goes to L1 (DESIGN.md, data flow step 2). */
    e.reason = 10;
    assert_int_equal(reflect_exit(&l0, &v12, &e, fake_read, NULL), REFLECT_TO_L1);
    /* An interrupt L0 takes is L0's first, even if L1 exits on them. */
    set12(VMCS_IDX_PIN_CONTROLS, PIN_EXT_INTR_EXITING);
    l0.external_interrupts = true;
    e.reason = 1;
    assert_int_equal(reflect_exit(&l0, &v12, &e, fake_read, NULL), REFLECT_TO_L0);
}

#define T(f) cmocka_unit_test_setup(f, reset)
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_unconditional_exits_go_to_l1),
        T(test_entry_failure_bit_is_ignored_for_the_reason),
        T(test_unknown_reasons_go_to_l1),
        T(test_each_controlled_exit_off_and_on),
        T(test_secondary_control_without_activation),
        T(test_pause_loop_exiting),
        T(test_invpcid_needs_enable_and_invlpg_exiting),
        T(test_exception_by_vmcs12_bitmap),
        T(test_page_fault_by_mask_and_match),
        T(test_nmi_by_nmi_exiting),
        T(test_mov_to_cr0_by_mask_and_shadow),
        T(test_clts_and_lmsw),
        T(test_cr3_load_by_control_and_target_list),
        T(test_cr3_store_and_cr4),
        T(test_io_by_vmcs12_bitmaps),
        T(test_msr_by_vmcs12_bitmap),
        T(test_bitmap_outside_l1_memory_exits),
        T(test_vmread_vmwrite_by_vmcs12_shadowing_bitmaps),
        T(test_ept_faults_split_by_where_they_are),
        T(test_l0_wants_its_events),
        T(test_reflect_exit_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
