/* Model-specific registers (SDM Vol. 4): one table of the MSRs this CPU
 * has; RDMSR or WRMSR of any other raises #GP(0). */
#ifndef L0_CPU_MSR_H
#define L0_CPU_MSR_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

/* Return false after raising #GP(0) for an unknown MSR or a bad value. */
bool msr_read(struct cpu *c, uint32_t index, uint64_t *value);
bool msr_write(struct cpu *c, uint32_t index, uint64_t value);

#endif
