/* Debug exceptions (SDM Vol. 3B chapter 18, "Debug, Branch Profile,
 * TSC, and Intel Resource Director Technology Features"): the breakpoint
 * registers DR0-DR3 with DR7, DR6, single-step by RFLAGS.TF, the general-
 * detect fault, and RF suppressing instruction breakpoints.
 *
 * The step loop calls debug_before()/debug_after() only while something
 * is armed (TF, RF, an enabled breakpoint or a waiting trap), so that
 * code without debugging pays one test per instruction. Data
 * breakpoints are seen on the slow memory path: TLB entries for pages a
 * data breakpoint watches keep no host pointer (debug_watches_page). */
#ifndef L0_CPU_DEBUG_H
#define L0_CPU_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;
struct insn;

/* DR6 bits (SDM 18.2.3): B0-B3, BD (general detect), BS (single step). */
#define DR6_B0_B3 0xFull
#define DR6_BD (1ull << 13)
#define DR6_BS (1ull << 14)
/* Bits that read as 1 whatever was written: 11:4, 31:16 (RTM, bit 16,
 * reads 1 as there is no RTM); bit 12 (bus-lock detect) reads 0. */
#define DR6_FIXED1 0xFFFF0FF0ull
#define DR6_WRITABLE (DR6_B0_B3 | DR6_BD | DR6_BS | (1ull << 15))
#define DR7_GD (1ull << 13)
/* DR7: bit 10 reads 1; 11 (RTM), 12, 14 and 15 read 0. */
#define DR7_FIXED1 0x400ull
#define DR7_WRITABLE 0xFFFF23FFull

struct debug_state {
    bool active;        /* a breakpoint is enabled or a trap waits */
    bool data_armed;    /* an enabled breakpoint watches data */
    uint32_t hits;      /* data breakpoints the current instruction hit */
    uint32_t pending;   /* trap conditions waiting (DR6 layout) */
    bool trap_due;      /* pending is a #DB trap due before the next
                           instruction (debug_after_delivery) */
    uint32_t bits;      /* DR6 bits of the #DB being delivered; also the
                           exit qualification if it exits (28.2.1) */
    uint64_t mov_ss_insn; /* c->insns right after the last MOV/POP SS */
    uint64_t debugctl;  /* IA32_DEBUGCTL: no feature bit is offered */
};

/* DR0-DR3 or DR7 changed (MOV DR, VM entry, VM exit): re-arm. */
void debug_update(struct cpu *c);

/* MOV to DR6/DR7: the value as it reads back. */
uint64_t debug_dr6_value(uint64_t written);
uint64_t debug_dr7_value(uint64_t written);

/* MOV DR with DR7.GD set: the general-detect #DB fault (18.2.4); false. */
bool debug_general_detect(struct cpu *c);

/* MOV SS or POP SS completed: the #DB traps it causes wait one more
 * instruction (SDM Vol. 3A 7.8.3). */
void debug_mov_ss(struct cpu *c);

/* Before an instruction while debugging is active: instruction
 * breakpoints (a #DB fault raised: false) and RF. */
bool debug_before(struct cpu *c);

/* After an instruction completed: single-step (tf: TF was set before
 * it; no_step: it delivered an event itself, INT n/INT3/INT1), data
 * breakpoints it hit, and traps waiting; delivers the #DB trap. */
void debug_after(struct cpu *c, bool tf, bool no_step);

/* A REP string instruction paused between iterations: the #DB trap of
 * data breakpoints the last iteration hit and of single-step (tf: TF was
 * set), RIP still at the instruction and RF pushed as 1 (SDM Vol. 3B
 * 18.3.1.1). */
void debug_after_iteration(struct cpu *c, bool tf);

/* A data access of the instruction (not a fetch) through the slow path. */
void debug_data_access(struct cpu *c, uint64_t lin, unsigned size,
                       bool write);

/* Whether a data breakpoint watches the 4 KiB page at `lin`. */
bool debug_watches_page(const struct cpu *c, uint64_t lin);

/* The #DB of c->dbg.bits goes through the IDT: DR6 takes its bits and
 * DR7.GD clears (18.2.3, 18.2.4); a #DB that exits changes neither. */
void debug_deliver_db(struct cpu *c);

/* An exception, external interrupt or NMI (injected or not) was
 * delivered, and its accesses (the IDT, the GDT, the stack frame) hit
 * data breakpoints: their #DB trap is due before the handler's first
 * instruction. INT n, INT1 and INT3 are left to debug_after() and
 * debug_after_injection(), as an instruction's own hits. */
void debug_after_delivery(struct cpu *c);

/* At the boundary after such a delivery, ahead of any other event: the
 * #DB trap that was due (false: none was, debug_after() took it). */
bool debug_take_due(struct cpu *c);

/* VM exit and entry (SDM Vol. 3C 28.3.4, 27.7.3): the pending debug
 * exceptions field, saved from the traps waiting, and loaded when valid
 * (BS or bit 12 set): delivered at entry, or after the first
 * instruction under MOV SS blocking. */
uint64_t debug_save_pending(struct cpu *c);
void debug_load_pending(struct cpu *c, uint64_t field, bool mov_ss_blocking);

/* An INT n, INT1 or INT3 injected by VM entry was delivered: the #DB trap
 * of the data breakpoints its stack writes hit, as after the guest's own. */
void debug_after_injection(struct cpu *c);

#endif
