/* Guest memory as the debugger sees it: virtual addresses translated
 * through the current paging structures of the level the CPU runs (and,
 * in VMX non-root operation with EPT, the EPT), without any effect on
 * the machine: no TLB fill, no accessed or dirty flag, no fault, no VM
 * exit, no modeled cycle. Only the machine's RAM is read or written;
 * an address that translates to MMIO or to nothing is an error. */
#ifndef L0_GDB_MEMORY_H
#define L0_GDB_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cpu;

/* The RAM address of a virtual (linear) address, or false. */
bool gdb_mem_translate(struct cpu *c, uint64_t lin, uint64_t *ram_pa);

/* Copies up to len bytes from / to the virtual address; returns how
 * many, stopping at the first byte that cannot be reached. A write
 * drops the decoded instructions of the pages it changes. */
size_t gdb_mem_read(struct cpu *c, uint64_t lin, uint8_t *buf, size_t len);
size_t gdb_mem_write(struct cpu *c, uint64_t lin, const uint8_t *buf,
                     size_t len);

#endif
