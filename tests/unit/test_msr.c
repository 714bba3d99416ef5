/* l0/cpu/msr.c: the WRMSR rule msr_check_write() that L0 applies to MSRs
 * it keeps in a VMCS (L1's MSR lists), and the non-faulting accesses.
 * Expected values are typed from the SDM (Vol. 3A 10.8.5 for EFER, Vol.
 * 3A 13.12.2 for the PAT memory types, Vol. 4 for the indices). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/msr.h"

#define PG (1ull << 31)
#define SCE (1ull << 0)
#define LME (1ull << 8)
#define LMA (1ull << 10)
#define NXE (1ull << 11)

static bool check(uint32_t index, uint64_t old, uint64_t cr0, uint64_t *v)
{
    return msr_check_write(index, old, cr0, v);
}

static void test_efer_keeps_lma_and_refuses_reserved_bits(void **state)
{
    (void)state;
    uint64_t v = SCE | LME | NXE; /* LMA not written: read-only */
    assert_true(check(0xC0000080, LME | LMA, PG, &v));
    assert_int_equal(v, SCE | LME | NXE | LMA);
    v = LME | LMA | (1ull << 2); /* bits 1-7 are reserved */
    assert_false(check(0xC0000080, LME | LMA, PG, &v));
    v = 1ull << 12;
    assert_false(check(0xC0000080, 0, 0, &v));
}

static void test_efer_lme_cannot_change_while_paging(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_false(check(0xC0000080, LME | LMA, PG, &v));
    v = LME;
    assert_false(check(0xC0000080, 0, PG, &v));
    v = LME;
    assert_true(check(0xC0000080, 0, 0, &v)); /* paging off: allowed */
}

static void test_pat_takes_only_defined_memory_types(void **state)
{
    (void)state;
    uint64_t v = 0x0007040600070406ull; /* the power-up value */
    assert_true(check(0x277, 0, 0, &v));
    for (unsigned type = 0; type < 256; type++) {
        v = (uint64_t)type << 40;
        bool defined = type <= 1 || (type >= 4 && type <= 7);
        assert_int_equal(check(0x277, 0, 0, &v), defined);
    }
}

static void test_addresses_must_be_canonical(void **state)
{
    (void)state;
    static const uint32_t address_msrs[] = {
        0x175, 0x176, 0xC0000082, 0xC0000083, 0xC0000100, 0xC0000101,
        0xC0000102};
    for (size_t k = 0; k < sizeof address_msrs / sizeof *address_msrs; k++) {
        uint64_t low = 0x00007FFFFFFFF000ull, high = 0xFFFF800000000000ull,
                 bad = 0x0000800000000000ull;
        assert_true(check(address_msrs[k], 0, 0, &low));
        assert_true(check(address_msrs[k], 0, 0, &high));
        assert_false(check(address_msrs[k], 0, 0, &bad));
    }
}

static void test_locked_feature_control_and_unknown_msrs_refuse(void **state)
{
    (void)state;
    uint64_t v = 0x5;
    assert_true(check(0x3A, 0, 0, &v));
    assert_false(check(0x3A, 0x1, 0, &v));   /* lock bit set */
    assert_false(check(0x808, 0, 0, &v));    /* x2APIC: not offered */
    assert_false(check(0x9B, 0, 0, &v));     /* IA32_SMM_MONITOR_CTL */
    v = 1ull << 32;
    assert_false(check(0xC0000103, 0, 0, &v)); /* TSC_AUX: 32 bits */
}

/* IA32_APIC_BASE (SDM Vol. 3A 11.4.4, Figure 11-5; MAXPHYADDR 39): bits
 * 7:0, 9 and 63:39 reserved, EXTD reserved without x2APIC (CPUID.1:ECX
 * bit 21 is clear), BSP read-only; EN may be cleared and set. */
static void test_apic_base_rules(void **state)
{
    (void)state;
    const uint64_t bsp = 1ull << 8, en = 1ull << 11;
    uint64_t v = 0xFEE00000ull | en;
    assert_true(check(0x1B, 0xFEE00000ull | en | bsp, 0, &v));
    assert_int_equal(v, 0xFEE00000ull | en | bsp); /* BSP kept */
    v = 0xFEE00000ull | bsp;
    assert_true(check(0x1B, 0xFEE00000ull | en, 0, &v));
    assert_int_equal(v, 0xFEE00000ull); /* BSP cannot be set */
    static const uint64_t refused[] = {1ull << 0, 1ull << 7, 1ull << 9,
                                       1ull << 10, 1ull << 39, 1ull << 63};
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        v = 0xFEE00000ull | en | refused[k];
        assert_false(check(0x1B, 0xFEE00000ull | en, 0, &v));
    }
    v = (1ull << 38) | 0xFEE00000ull | en; /* the highest address bit */
    assert_true(check(0x1B, 0xFEE00000ull | en, 0, &v));
    v = 0xFEE00000ull | (1ull << 10); /* EN = 0, EXTD = 1: invalid */
    assert_false(check(0x1B, 0xFEE00000ull | en, 0, &v));
}

/* IA32_DEBUGCTL (SDM Vol. 3B 18.4.1): this CPU offers none of its
 * features, so only 0 may be written. */
static void test_debugctl_takes_only_zero(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(check(0x1D9, 0, 0, &v));
    for (unsigned bit = 0; bit < 64; bit++) {
        v = 1ull << bit;
        assert_false(check(0x1D9, 0, 0, &v));
    }
}

/* msr_get/msr_set refuse as RDMSR/WRMSR would, without an exception. */
static void test_nonfaulting_access_raises_nothing(void **state)
{
    (void)state;
    struct cpu *c = calloc(1, sizeof *c);
    assert_non_null(c);
    uint64_t v = 0;
    assert_false(msr_get(c, 0x808, &v));
    assert_false(msr_set(c, 0xC0000102, 0x0000800000000000ull));
    assert_false(c->exc.raised);
    assert_true(msr_set(c, 0xC0000102, 0x1234000));
    assert_true(msr_get(c, 0xC0000102, &v));
    assert_int_equal(v, 0x1234000);
    c->cycles = 1000;
    assert_true(msr_set(c, 0x10, 5000));
    assert_true(msr_get(c, 0x10, &v));
    assert_int_equal(v, 5000);
    free(c);
}

/* Linux's early Intel setup: write 0 to IA32_BIOS_SIGN_ID (0x8B), run
 * CPUID, read the microcode revision back (SDM Vol. 4 Table 2-2). With no
 * microcode it reads 0, and neither access faults. */
static void test_microcode_signature_reads_back_zero(void **state)
{
    (void)state;
    struct cpu *c = calloc(1, sizeof *c);
    assert_non_null(c);
    uint64_t v = ~0ull;
    assert_true(msr_set(c, 0x8B, 0));
    assert_true(msr_get(c, 0x8B, &v));
    assert_int_equal(v, 0);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_efer_keeps_lma_and_refuses_reserved_bits),
        cmocka_unit_test(test_efer_lme_cannot_change_while_paging),
        cmocka_unit_test(test_pat_takes_only_defined_memory_types),
        cmocka_unit_test(test_addresses_must_be_canonical),
        cmocka_unit_test(test_locked_feature_control_and_unknown_msrs_refuse),
        cmocka_unit_test(test_nonfaulting_access_raises_nothing),
        cmocka_unit_test(test_microcode_signature_reads_back_zero),
        cmocka_unit_test(test_apic_base_rules),
        cmocka_unit_test(test_debugctl_takes_only_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
