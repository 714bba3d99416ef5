/* CPUID (SDM Vol. 2A "CPUID"). Every feature bit set here is implemented;
 * everything else is clear, so software that checks CPUID never uses
 * what the emulator lacks (no SSE3 or later, no AVX, no XSAVEOPT/XSAVES,
 * no BMI, no SMEP/SMAP, no PCID, no SYSENTER). */
#include "cpu/cpuid.h"

#include <string.h>

#include "cpu/cpu.h"

enum {
    MAX_BASIC = 0xD,
    MAX_EXTENDED = 0x80000008,
    /* Family 6, model 0x3C (Haswell), stepping 3. */
    SIGNATURE = 0x000306C3,
};

#define BIT(n) (1u << (n))

static const char brand[48] = "turtles emulated x86-64 CPU";

static struct cpuid_result basic(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_result r = {0, 0, 0, 0};
    switch (leaf) {
    case 0:
        r.eax = MAX_BASIC;
        memcpy(&r.ebx, "Genu", 4);
        memcpy(&r.edx, "ineI", 4);
        memcpy(&r.ecx, "ntel", 4);
        break;
    case 1:
        r.eax = SIGNATURE;
        r.ebx = 8u << 8 | 1u << 16; /* CLFLUSH 64 bytes, 1 logical CPU */
        r.ecx = BIT(13) /* CMPXCHG16B */ | BIT(26) /* XSAVE */;
        r.edx = BIT(0) /* FPU */ | BIT(3) /* PSE */ | BIT(4) /* TSC */ |
                BIT(5) /* MSR */ | BIT(6) /* PAE */ | BIT(8) /* CX8 */ |
                BIT(9) /* APIC */ |
                BIT(13) /* PGE */ | BIT(15) /* CMOV */ | BIT(16) /* PAT */ |
                BIT(19) /* CLFSH */ | BIT(23) /* MMX */ | BIT(24) /* FXSR */ |
                BIT(25) /* SSE */ | BIT(26) /* SSE2 */;
        break;
    case 7:
        break; /* no structured extended features */
    case 0xD:
        /* XSAVE: the x87 and SSE components, 576 bytes in the standard
         * form whatever XCR0 enables (both live in the legacy region);
         * sub-leaf 1: no XSAVEOPT, XSAVEC, XGETBV with ECX = 1 or XSAVES. */
        if (subleaf == 0) {
            r.eax = (uint32_t)XCR0_SUPPORTED;
            r.ebx = XSAVE_AREA_SIZE;
            r.ecx = XSAVE_AREA_SIZE;
        }
        break;
    default:
        break;
    }
    return r;
}

static struct cpuid_result extended(uint32_t leaf)
{
    struct cpuid_result r = {0, 0, 0, 0};
    switch (leaf) {
    case 0x80000000:
        r.eax = MAX_EXTENDED;
        break;
    case 0x80000001:
        r.ecx = BIT(0) /* LAHF/SAHF in 64-bit mode */ | BIT(8) /* PREFETCHW */;
        r.edx = BIT(11) /* SYSCALL */ | BIT(20) /* NX */ |
                BIT(26) /* 1 GiB pages */ | BIT(27) /* RDTSCP */ |
                BIT(29) /* long mode */;
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004:
        memcpy(&r, brand + 16 * (leaf - 0x80000002), 16);
        break;
    case 0x80000008:
        r.eax = 39 | 48 << 8; /* physical, linear address bits */
        break;
    default:
        break;
    }
    return r;
}

void cpuid_reflect_cr4(struct cpuid_result *r, uint32_t leaf, uint64_t cr4)
{
    if (leaf == 1 && (cr4 & CR4_OSXSAVE))
        r->ecx |= BIT(27); /* OSXSAVE */
}

struct cpuid_result cpuid_query(uint32_t leaf, uint32_t subleaf)
{
    /* Intel returns the highest basic leaf's data for any leaf beyond
     * the supported ranges (SDM Vol. 2A "CPUID", INPUT EAX = 0). */
    if (leaf <= MAX_BASIC)
        return basic(leaf, subleaf);
    if (leaf >= 0x80000000 && leaf <= MAX_EXTENDED)
        return extended(leaf);
    return basic(MAX_BASIC, subleaf);
}

void cpuid_apply_state(struct cpuid_result *r, uint32_t leaf,
                       uint64_t apic_base)
{
    if (leaf == 1 && !(apic_base & (1u << 11)))
        r->edx &= ~BIT(9);
}
