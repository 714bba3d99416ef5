/* Model-specific registers (SDM Vol. 4): one table of the MSRs this CPU
 * has; RDMSR or WRMSR of any other raises #GP(0). */
#ifndef L0_CPU_MSR_H
#define L0_CPU_MSR_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

enum {
    MSR_TSC = 0x10,
    MSR_APIC_BASE = 0x1B,
    APIC_BASE_EN = 1u << 11, /* IA32_APIC_BASE global enable */
    MSR_EFER = 0xC0000080,
    MSR_FS_BASE = 0xC0000100,
    MSR_GS_BASE = 0xC0000101,
};

/* RDMSR and WRMSR: false after raising #GP(0) for an unknown MSR or a
 * bad value. */
bool msr_read(struct cpu *c, uint32_t index, uint64_t *value);
bool msr_write(struct cpu *c, uint32_t index, uint64_t value);

/* The same accesses without raising anything: false where RDMSR or
 * WRMSR would raise #GP(0). For a hypervisor that reads and writes MSRs
 * on behalf of its guest (VMX MSR lists). */
bool msr_get(struct cpu *c, uint32_t index, uint64_t *value);
bool msr_set(struct cpu *c, uint32_t index, uint64_t value);

/* The rule of WRMSR alone, for an MSR whose current value is `old` on a
 * CPU with this CR0: false where WRMSR would raise #GP(0), else true with
 * *value set to what the MSR would hold (read-only bits kept). For MSRs
 * whose state a hypervisor keeps outside the CPU (in a VMCS). */
bool msr_check_write(uint32_t index, uint64_t old, uint64_t cr0,
                     uint64_t *value);

#endif
