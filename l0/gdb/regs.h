/* The CPU's registers in the order and sizes of gdb's default amd64
 * description (gdb's features/i386/64bit-core.xml and 64bit-sse.xml,
 * the layout QEMU's stub sends too): rax rbx rcx rdx rsi rdi rbp rsp
 * r8-r15 rip (8 bytes), eflags cs ss ds es fs gs (4), st0-st7 (10),
 * fctrl fstat ftag fiseg fioff foseg fooff fop (4), xmm0-15 (16),
 * mxcsr (4). Values are little-endian, as gdb expects from x86. */
#ifndef L0_GDB_REGS_H
#define L0_GDB_REGS_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;

enum { GDB_REG_COUNT = 57, GDB_REG_MAX_SIZE = 16 };

/* Register n's bytes into out; returns its size, 0 if there is no
 * register n. */
unsigned gdb_reg_get(const struct cpu *c, unsigned n, uint8_t *out);

/* Writes register n from its bytes. The general registers, RIP,
 * RFLAGS, the XMM registers and MXCSR can be written; segment
 * selectors (which would need descriptor loads) and the x87 registers
 * cannot: false, as for a bad MXCSR or an unknown n. */
bool gdb_reg_set(struct cpu *c, unsigned n, const uint8_t *in);

/* The size of register n, 0 if there is none. */
unsigned gdb_reg_size(unsigned n);

#endif
