/* System-level services shared by the instruction families: segment
 * loading (seg.c), control registers and moves to special registers
 * (exec_system.c), and event delivery (events.c). */
#ifndef L0_CPU_SYSTEM_H
#define L0_CPU_SYSTEM_H

#include "cpu/cpu.h"
#include "cpu/decode.h"

/* ---- seg.c ---- */

/* Reads the 8-byte descriptor for `sel` from the GDT or LDT. Raises
 * #GP(sel) when the index is beyond the table's limit. */
bool seg_read_descriptor(struct cpu *c, uint16_t sel, uint64_t *desc);
/* The upper half of a 16-byte system descriptor (64-bit mode). */
bool seg_read_descriptor_high(struct cpu *c, uint16_t sel, uint64_t *high);
/* Fills a segment register's hidden part from a descriptor. */
void seg_from_descriptor(struct segment *s, uint16_t sel, uint64_t desc);
/* Sets the descriptor's accessed bit (type bit 0) in memory. */
bool seg_set_accessed(struct cpu *c, uint16_t sel, uint64_t desc);

/* Loads DS, ES, FS, GS or SS with the checks of MOV/POP (SDM Vol. 2B
 * "MOV", Vol. 3A 5.10). */
bool seg_load_data(struct cpu *c, unsigned seg, uint16_t sel);
/* Loads CS for a far transfer to privilege level `cpl`; checks type,
 * presence and privilege as JMP/RET/IRET require. `is_return`: RET/IRET
 * rules (DPL vs RPL), else JMP rules. */
bool seg_load_code(struct cpu *c, uint16_t sel, unsigned new_cpl,
                   bool is_return);
/* Hidden parts for SYSCALL/SYSRET's fixed flat segments. */
void seg_set_flat(struct segment *s, uint16_t sel, bool code, unsigned dpl,
                  bool long_code);

/* ---- exec_system.c ---- */

bool sys_mov_to_seg(struct cpu *c, const struct insn *i);
bool sys_mov_from_seg(struct cpu *c, const struct insn *i);
bool sys_mov_to_crdr(struct cpu *c, const struct insn *i);
bool sys_mov_from_crdr(struct cpu *c, const struct insn *i);
bool sys_pop_seg(struct cpu *c, unsigned seg, uint64_t value, unsigned size);
/* IN/OUT permission: CPL <= IOPL or the TSS I/O bitmap; #GP(0) if not. */
bool sys_io_allowed(struct cpu *c, uint16_t port, unsigned size);
/* MOV to CR0/CR3/CR4/CR8 with the architectural checks and flushes. */
bool sys_write_cr(struct cpu *c, unsigned n, uint64_t value);
/* What the #GP(0) checks of MOV to CR0/CR3/CR4/CR8 look at besides the
 * value: pure, so that L0 applies the CPU's rules to a guest's write it
 * emulates (l0/hv/handlers.c). */
struct cr_state {
    uint64_t cr0, cr4, efer;
    bool cs_long;      /* CS.L */
    bool code64;       /* EFER.LMA and CS.L */
    bool vmxe_allowed; /* CR4.VMXE is not reserved (VMX in CPUID) */
};
bool sys_cr_write_ok(unsigned n, uint64_t value, const struct cr_state *s);

/* ---- events.c ---- */

enum event_kind {
    EV_EXCEPTION,    /* a fault or trap raised by the processor */
    EV_SOFTWARE_INT, /* INT n: DPL of the gate checked against CPL */
    EV_SOFTWARE_EXC, /* INT3, INTO: like INT n, but an exception */
    EV_EXTERNAL,     /* an interrupt from a device */
    EV_NMI,          /* a non-maskable interrupt (vector 2) */
    EV_PRIV_SW_EXC,  /* INT1 (ICEBP): #DB as a trap, no DPL check */
};

/* Delivers an event through the IDT (SDM Vol. 3A 7.12, 7.14) with
 * `return_rip` as the saved RIP. Exceptions during delivery escalate to
 * #DF and then to a triple fault (7.15, interrupt 8). */
void cpu_deliver(struct cpu *c, unsigned vector, enum event_kind kind,
                 bool has_error, uint32_t error, uint64_t return_rip);

#endif
