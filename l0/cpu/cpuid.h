/* The CPU model CPUID reports: a Haswell-family "GenuineIntel" part
 * with exactly the features this emulator implements. */
#ifndef L0_CPU_CPUID_H
#define L0_CPU_CPUID_H

#include <stdint.h>

struct cpuid_result {
    uint32_t eax, ebx, ecx, edx;
};

struct cpuid_result cpuid_query(uint32_t leaf, uint32_t subleaf);
/* CPUID.1:ECX.OSXSAVE reflects CR4.OSXSAVE of the software asking. */
void cpuid_reflect_cr4(struct cpuid_result *r, uint32_t leaf, uint64_t cr4);

/* The bits of leaf `leaf` that follow the CPU's state: CPUID.1:EDX.APIC
 * reads 0 while IA32_APIC_BASE.EN is clear (SDM Vol. 3A 11.4.3). */
void cpuid_apply_state(struct cpuid_result *r, uint32_t leaf,
                       uint64_t apic_base);

#endif
