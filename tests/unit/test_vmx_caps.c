/* l0/vmx/caps.c: the VMX capability MSRs against the rules of SDM Vol. 3D
 * Appendix A. Bit positions and default1 classes are typed from the SDM,
 * not taken from controls.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hv/nested.h"
#include "vmx/caps.h"
#include "vmx/vmcs.h"

#define N(a) (sizeof(a) / sizeof *(a))
#define BIT(n) (1ull << (n))

static uint64_t rd(uint32_t msr)
{
    uint64_t v = 0;
    if (!vmx_cap_read(msr, &v))
        fail_msg("MSR %#x not readable", msr);
    return v;
}

static uint32_t allowed0(uint64_t v) { return (uint32_t)v; }
static uint32_t allowed1(uint64_t v) { return (uint32_t)(v >> 32); }

/* A.2: the default1 class of each control field with a TRUE MSR. */
static const struct {
    uint32_t msr, true_msr, default1;
} pairs[] = {
    {0x481, 0x48D, 0x00000016}, /* pin: bits 1, 2, 4 */
    {0x482, 0x48E, 0x0401E172}, /* proc: 1, 4-6, 8, 13-16, 26 */
    {0x483, 0x48F, 0x00036DFF}, /* exit: 0-8, 10, 11, 13, 14, 16, 17 */
    {0x484, 0x490, 0x000011FF}, /* entry: 0-8, 12 */
};

static void test_every_capability_msr_reads_and_others_do_not(void **state)
{
    (void)state;
    uint64_t v;
    for (uint32_t msr = 0x480; msr <= 0x490; msr++)
        assert_true(vmx_cap_read(msr, &v));
    /* VMFUNC, tertiary and secondary-exit capabilities are absent, as
     * their controls are. */
    static const uint32_t absent[] = {0x491, 0x492, 0x493, 0x47F, 0, 0x3A,
                                      0xC0000080};
    for (size_t k = 0; k < N(absent); k++)
        assert_false(vmx_cap_read(absent[k], &v));
}

static void test_basic(void **state)
{
    (void)state;
    uint64_t b = rd(0x480);
    assert_int_equal(b & 0x7FFFFFFF, VMCS_REVISION_ID);
    assert_int_equal(b & BIT(31), 0);
    assert_int_equal((b >> 32) & 0x1FFF, 4096);  /* region size */
    assert_int_equal(b & BIT(48), 0);            /* full address width */
    assert_int_equal(b & BIT(49), 0);            /* no dual-monitor SMM */
    assert_int_equal((b >> 50) & 0xF, 6);        /* write-back */
    assert_true(b & BIT(54));                    /* INS/OUTS information */
    assert_true(b & BIT(55));                    /* TRUE controls */
}

static void test_allowed0_within_allowed1(void **state)
{
    (void)state;
    static const uint32_t ctls[] = {0x481, 0x482, 0x483, 0x484, 0x48B,
                                    0x48D, 0x48E, 0x48F, 0x490};
    for (size_t k = 0; k < N(ctls); k++) {
        uint64_t v = rd(ctls[k]);
        if (allowed0(v) & ~allowed1(v))
            fail_msg("MSR %#x: a control must be 1 but may not be", ctls[k]);
    }
    assert_int_equal(allowed0(rd(0x48B)), 0); /* no default1 in proc2 */
}

static void test_true_msrs_follow_the_default1_rules(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(pairs); k++) {
        uint64_t plain = rd(pairs[k].msr), tru = rd(pairs[k].true_msr);
        /* A.3-A.5: the allowed-1 halves are the same. */
        assert_int_equal(allowed1(plain), allowed1(tru));
        /* The plain MSR reports every default1 bit as must-be-1 ... */
        assert_int_equal(allowed0(plain) & pairs[k].default1,
                         pairs[k].default1);
        /* ... and differs from the TRUE one only in default1 bits. */
        assert_int_equal(allowed0(tru) & ~allowed0(plain), 0);
        assert_int_equal((allowed0(plain) ^ allowed0(tru)) &
                             ~pairs[k].default1, 0);
        /* Every default1 bit can be 1. */
        assert_int_equal(allowed1(plain) & pairs[k].default1,
                         pairs[k].default1);
    }
    /* Those that this CPU lets software clear (as Haswell does): CR3-load
     * and CR3-store exiting, save/load debug controls. */
    assert_int_equal(allowed0(rd(0x48E)) & (BIT(15) | BIT(16)), 0);
    assert_int_equal(allowed0(rd(0x48F)) & BIT(2), 0);
    assert_int_equal(allowed0(rd(0x490)) & BIT(2), 0);
}

static void test_offered_features(void **state)
{
    (void)state;
    uint32_t pin = allowed1(rd(0x48D)), proc = allowed1(rd(0x48E));
    uint32_t proc2 = allowed1(rd(0x48B)), ex = allowed1(rd(0x48F));
    uint32_t en = allowed1(rd(0x490));
    /* Issue 4: EPT, VPID, unrestricted guest, VMCS shadowing, the
     * preemption timer. */
    assert_true(proc & BIT(31));
    assert_true(proc2 & BIT(1));
    assert_true(proc2 & BIT(5));
    assert_true(proc2 & BIT(7));
    assert_true(proc2 & BIT(14));
    /* Issue 12: virtualize APIC accesses, every access exiting. */
    assert_true(proc2 & BIT(0));
    assert_true(pin & BIT(6));
    assert_true(ex & BIT(22)); /* save preemption-timer value */
    /* NMI-window exiting needs virtual NMIs (SDM Vol. 3C 27.2.1.1). */
    assert_true(proc & BIT(22));
    assert_true(pin & BIT(5));
    /* A 64-bit host and guest, interrupt acknowledge on exit. */
    assert_true(ex & BIT(9));
    assert_true(ex & BIT(15));
    assert_true(en & BIT(9));
    /* Not offered: posted interrupts, TPR shadow, monitor trap flag,
     * tertiary controls, the APIC virtualization that needs the TPR
     * shadow, VMFUNC, PML, #VE, SMM. */
    assert_int_equal(pin & BIT(7), 0);
    assert_int_equal(proc & (BIT(17) | BIT(21) | BIT(27)), 0);
    assert_int_equal(proc2 & (BIT(4) | BIT(8) | BIT(9) | BIT(13) |
                              BIT(17) | BIT(18)), 0);
    assert_int_equal(en & BIT(10), 0);
    assert_int_equal(ex & BIT(31), 0);
}

static void test_misc(void **state)
{
    (void)state;
    uint64_t m = rd(0x485);
    assert_int_equal(m & 0x1F, 5);              /* preemption-timer rate */
    assert_true(m & BIT(5));                    /* with unrestricted guest */
    assert_true(m & BIT(6));                    /* HLT activity state */
    assert_int_equal((m >> 16) & 0x1FF, 4);     /* CR3-target count */
    assert_true(m & BIT(29));                   /* VMWRITE to any field */
    assert_true(vmx_cap_vmwrite_any_field());
    assert_int_equal(m >> 32, 0);               /* MSEG revision */
}

static void test_cr_fixed_bits(void **state)
{
    (void)state;
    uint64_t cr0f0 = rd(0x486), cr0f1 = rd(0x487);
    uint64_t cr4f0 = rd(0x488), cr4f1 = rd(0x489);
    assert_int_equal(cr0f0 & ~cr0f1, 0);
    assert_int_equal(cr4f0 & ~cr4f1, 0);
    /* A.7: PE, NE, PG fixed to 1 (unrestricted guest relaxes PE and PG
     * for guests at VM entry, not in these MSRs). */
    assert_int_equal(cr0f0 & (BIT(0) | BIT(5) | BIT(31)),
                     BIT(0) | BIT(5) | BIT(31));
    /* A.8: CR4.VMXE fixed to 1. */
    assert_true(cr4f0 & BIT(13));
    assert_true(vmx_fixed_bits_valid(0x80000031, cr0f0, cr0f1));
    assert_false(vmx_fixed_bits_valid(0x80000011, cr0f0, cr0f1));
    assert_true(vmx_fixed_bits_valid(0x2020, cr4f0, cr4f1)); /* PAE, VMXE */
    assert_false(vmx_fixed_bits_valid(0x0020, cr4f0, cr4f1)); /* no VMXE */
    /* FIXED1 is what this CPU's MOV to CR4 accepts: no PCIDE, SMEP. */
    assert_false(vmx_fixed_bits_valid(0x2020 | BIT(17), cr4f0, cr4f1));
    assert_false(vmx_fixed_bits_valid(0x2020 | BIT(20), cr4f0, cr4f1));
}

static void test_vmcs_enum_covers_every_field(void **state)
{
    (void)state;
    uint64_t e = rd(0x48A);
    unsigned highest = (e >> 1) & 0x1FF;
    assert_int_equal(e & ~0x3FEull, 0);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        assert_true(((vmcs_field_at(i)->encoding >> 1) & 0x1FF) <= highest);
    /* The highest index of Appendix B in scope: 0x204C, index 0x26. */
    assert_int_equal(highest, 0x26);
}

static void test_ept_vpid_capabilities(void **state)
{
    (void)state;
    uint64_t c = rd(0x48C);
    static const unsigned set[] = {0,  6,  8,  14, 16, 17, 20, 21,
                                   25, 26, 32, 40, 41, 42, 43};
    for (size_t k = 0; k < N(set); k++)
        if (!(c & BIT(set[k])))
            fail_msg("EPT/VPID capability bit %u missing", set[k]);
    assert_int_equal(c & BIT(7), 0); /* no 5-level walk */
    assert_int_equal(vmx_cap_ept_vpid(), c); /* VM entry's copy */
}

static void test_controls_valid(void **state)
{
    (void)state;
    uint64_t cap = rd(0x48E);
    uint32_t must = allowed0(cap);
    assert_true(vmx_controls_valid(must, cap));
    assert_true(vmx_controls_valid(allowed1(cap), cap));
    /* A must-be-1 bit clear. */
    assert_false(vmx_controls_valid(must & ~BIT(1), cap));
    assert_int_equal(vmx_controls_bad_bits(must & ~BIT(1), cap), BIT(1));
    /* A bit outside allowed-1 (monitor trap flag). */
    assert_false(vmx_controls_valid(must | BIT(27), cap));
    assert_int_equal(vmx_controls_bad_bits(must | BIT(27) | BIT(21), cap),
                     BIT(27) | BIT(21));
    /* Entry checks use the TRUE MSRs (BASIC bit 55). */
    assert_int_equal(vmx_cap_controls(VMX_CTL_PIN), rd(0x48D));
    assert_int_equal(vmx_cap_controls(VMX_CTL_PROC), rd(0x48E));
    assert_int_equal(vmx_cap_controls(VMX_CTL_PROC2), rd(0x48B));
    assert_int_equal(vmx_cap_controls(VMX_CTL_EXIT), rd(0x48F));
    assert_int_equal(vmx_cap_controls(VMX_CTL_ENTRY), rd(0x490));
}

/* What L1 reads (hv/nested.c): the hardware's secondary controls without
 * VMCS shadowing and "virtualize APIC accesses", which L0 does not
 * virtualize for L1 (docs/nested.md "What L1 sees"); the rest as is. */
static void test_l1_sees_no_apic_access_control(void **state)
{
    (void)state;
    uint64_t l1 = 0, hw = rd(0x48B);
    assert_true(nested_read_msr(NULL, 0x48B, &l1));
    assert_true(allowed1(hw) & BIT(0));
    assert_int_equal(allowed1(l1) & (BIT(0) | BIT(14)), 0);
    assert_int_equal(allowed1(l1) | BIT(0) | BIT(14), allowed1(hw));
    assert_int_equal(allowed0(l1), allowed0(hw));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_capability_msr_reads_and_others_do_not),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_allowed0_within_allowed1),
        cmocka_unit_test(test_true_msrs_follow_the_default1_rules),
        cmocka_unit_test(test_offered_features),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_cr_fixed_bits),
        cmocka_unit_test(test_vmcs_enum_covers_every_field),
        cmocka_unit_test(test_ept_vpid_capabilities),
        cmocka_unit_test(test_controls_valid),
        cmocka_unit_test(test_l1_sees_no_apic_access_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
