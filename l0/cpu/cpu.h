/* The emulated x86-64 CPU: architectural state and the step loop.
 *
 * Modes: 32-bit protected mode and IA-32e mode (64-bit and compatibility
 * sub-modes). Real mode and virtual-8086 mode are not emulated: the
 * machine starts in protected mode as the multiboot spec promises, and an
 * attempt to clear CR0.PE raises #GP (documented in docs/emulator.md). */
#ifndef L0_CPU_CPU_H
#define L0_CPU_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/debug.h"
#include "cpu/flags.h"
#include "cpu/fpu.h"
#include "cpu/tlb.h"
#include "cpu/tlb_model.h"
#include "vmx/vmx.h"

struct machine;
struct decode_cache;
struct insn;

enum { FETCH_CACHE_SIZE = 1024 }; /* 32 KiB: stays in the L1 cache */

enum gpr {
    RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
    R8, R9, R10, R11, R12, R13, R14, R15,
};

/* Segment registers in the encoding order of SDM Vol. 2 Table 3-? (Sreg),
 * then the system segments. */
enum seg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR,
           SEG_COUNT, SEG_NONE = 0xFF };

/* A segment register with its hidden part. `attr` uses the layout of the
 * VMCS access-rights fields (SDM Vol. 3C 25.4.1): type 3:0, S 4, DPL 6:5,
 * P 7, AVL 12, L 13, D/B 14, G 15, unusable 16. */
struct segment {
    uint16_t sel;
    uint64_t base;
    uint32_t limit; /* in bytes, already scaled by G */
    uint32_t attr;
};

#define SEG_ATTR_S (1u << 4)
#define SEG_ATTR_P (1u << 7)
#define SEG_ATTR_L (1u << 13)
#define SEG_ATTR_DB (1u << 14)
#define SEG_ATTR_G (1u << 15)
#define SEG_ATTR_UNUSABLE (1u << 16)
#define SEG_ATTR_DPL(a) (((a) >> 5) & 3)

struct table_reg {
    uint64_t base;
    uint16_t limit;
};

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

#define CR4_VME (1ull << 0)
#define CR4_PVI (1ull << 1)
#define CR4_TSD (1ull << 2)
#define CR4_DE (1ull << 3)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_MCE (1ull << 6)
#define CR4_PGE (1ull << 7)
#define CR4_PCE (1ull << 8)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_VMXE (1ull << 13)
#define CR4_FSGSBASE (1ull << 16)
#define CR4_PCIDE (1ull << 17)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Exception vectors (SDM Vol. 3A Table 7-1). */
enum {
    VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5,
    VEC_UD = 6, VEC_NM = 7, VEC_DF = 8, VEC_TS = 10, VEC_NP = 11,
    VEC_SS = 12, VEC_GP = 13, VEC_PF = 14, VEC_MF = 16, VEC_AC = 17,
    VEC_MC = 18, VEC_XM = 19,
};

/* An exception raised by the current instruction, delivered by the step
 * loop once the instruction has been abandoned. */
struct pending_exception {
    bool raised;
    uint8_t vector;
    bool has_error;
    uint32_t error;
};

struct cpu {
    uint64_t gpr[16];
    uint64_t rip;
    struct lazy_flags flags; /* RFLAGS: arithmetic bits lazily */
    struct segment seg[SEG_COUNT];
    struct table_reg gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t dr[8];
    uint64_t efer, star, lstar, cstar, fmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t apic_base, pat, tsc_aux, misc_enable, feature_control;
    uint64_t bios_sign_id; /* IA32_BIOS_SIGN_ID: no microcode, revision 0 */
    uint64_t tsc_offset; /* IA32_TSC writes: TSC = cycles + offset */
    unsigned cpl;

    /* Derived from CR0, EFER and CS; see cpu_update_mode(). */
    bool long_mode; /* EFER.LMA */
    bool code64;    /* 64-bit sub-mode: LMA and CS.L */
    unsigned code_size; /* default operand size of CS: 2, 4 or 8 bytes */

    /* Event state. */
    struct pending_exception exc;
    uint64_t fault_address; /* of the pending #PF, for CR2 */
    bool halted;
    bool interrupt_shadow; /* after STI or MOV SS: no interrupt for one insn */
    /* Blocking by NMI: from the delivery of an NMI to the next IRET (SDM
     * Vol. 3A 7.7 "Handling Multiple NMIs"); in VMX non-root operation
     * with "virtual NMIs", vmx.vnmi_blocked is the guest's instead. */
    bool nmi_blocked;

    uint64_t next_event_check; /* cycle at which to look for interrupts */

    /* Unimplemented instructions already reported (by capstone id). */
    unsigned unimplemented_reports;
    uint16_t unimplemented_ids[32];

    /* Accounting: time inside the machine is modeled, never the host's. */
    uint64_t cycles;
    uint64_t insns;

    uint64_t next_rip; /* rip of the instruction after the current one */

    struct tlb tlb;
    struct tlb_entry tlb_uncached; /* a translation the TLB may not keep */
    struct vmx_cpu vmx;            /* VMX: l0/vmx/vmx.h */
    uint64_t walk_refs;            /* paging-structure entries read */
    struct walk_cache walks;       /* host-side: cpu/tlb.h, mmu.c */
    /* The walk of the data access being made (mmu.c, page_access), in
     * the modeled TLB's terms: when the model misses on the same page it
     * takes these instead of walking again (tlb_charge.c). Host speed
     * only: kept only when the second walk would read exactly what this
     * one read, so the figures are the ones it would give. */
    struct walk_memo {
        bool valid, global;
        unsigned refs;
        uint64_t page;      /* linear address >> 12 */
        uint64_t page_size; /* of the combined mapping, in bytes */
    } walk_memo;
    /* Linear RIP -> decoded record, for 64-bit code: valid while neither
     * the TLB (tlb.generation) nor the decode cache (fetch_generation)
     * changed; CPL and mode changes flush the TLB generation too. */
    struct fetch_entry {
        uint64_t rip, tlb_gen, dc_gen;
        const struct insn *insn;
    } fetch[FETCH_CACHE_SIZE];
    uint64_t fetch_generation;
    uint64_t collected_generation; /* fetch_generation at the last collect */
    struct decode_cache *dcache;
    const uint8_t *code_map; /* per RAM page: 1 if decoded code lives there */
    struct machine *m;

    /* REP strings pause between iterations (exec_move.c): iterations run
     * so far, which count against the instruction limit with the
     * retired instructions; the limit itself (UINT64_MAX: none); and
     * whether the last step paused one. */
    uint64_t rep_iterations;
    uint64_t step_limit;
    bool string_paused;
    /* Set only by tests (TURTLES_STRING_FAST=0 in the environment): REP
     * MOVS/STOS/LODS take every iteration on the element path, the
     * reference that cpu/string_fast.c must agree with. */
    bool string_fast_off;
    /* Steps that ended in an exception or a VM exit instead of retiring
     * an instruction. They count against the limit too: a handler whose
     * first fetch faults delivers the same fault forever with nothing
     * retiring, as the processor would (found by guestfuzz). */
    uint64_t faulted_steps;
    /* Times a halted CPU woke at a timer event: they count against the
     * limit, as a wake-up that delivers nothing (an IRQ masked at the
     * 8259) leaves the CPU halted and time running with nothing
     * retiring (found by the events work). */
    uint64_t halt_wakeups;

    struct fpu fpu; /* x87, MMX, SSE and XCR0: l0/cpu/fpu.h */
    struct debug_state dbg; /* breakpoints, single-step: cpu/debug.h */
    /* The modeled TLB: it decides modeled cycles only (cpu/tlb_charge.h). */
    struct tlb_model *mtlb;

    /* How instructions are found: one fetch each (the step engine, the
     * reference) or blocks of records (cpu/block.h), their runs of
     * register-only records as native code with ENGINE_JIT (cpu/jit.h). */
    enum cpu_engine { ENGINE_STEP, ENGINE_BLOCK, ENGINE_JIT } engine;
    struct block_cache *bcache;

    /* The gdb stub attached to the run (--gdb, gdb/stub.h), or NULL. */
    struct gdb_stub *gdb;
    /* The block engine's hint for the modeled TLB's data side (ops.h
     * charge_data): the data side's last first-level hit as it was at
     * TLB generation data_hint_gen, kept only while data_hint_on (set
     * by block_run, cpu/block.c). */
    const struct tlbm_entry *data_hint;
    uint64_t data_hint_gen;
    bool data_hint_on;
};

/* What `--max-insns` counts: every retired instruction, every
 * iteration of a REP string (the same units as the modeled cycles that
 * instructions cost, docs/emulator.md), every step that faulted or
 * exited instead of retiring, and every wake-up from HLT. */
static inline uint64_t cpu_steps(const struct cpu *c)
{
    return c->insns + c->rep_iterations + c->faulted_steps + c->halt_wakeups;
}

struct cpu *cpu_create(struct machine *m);
void cpu_destroy(struct cpu *c);

/* What a boot protocol promises at its 32-bit entry: protected mode,
 * paging off, interrupts off, flat 4 GiB code and data segments with the
 * given selectors, GDTR, EIP and the registers it names (the others 0). */
struct cpu_boot_state {
    uint32_t eip, eax, ebx, esi;
    uint16_t code_sel, data_sel;
    struct table_reg gdtr;
};

/* Resets the CPU into that state; the rest is the power-up state. */
void cpu_reset_boot(struct cpu *c, const struct cpu_boot_state *s);

/* Multiboot entry state (Multiboot 0.6.96 section 3.2). */
void cpu_reset_multiboot(struct cpu *c, uint32_t entry, uint32_t info_pa);

/* Runs until the machine stops or cpu_steps() reaches `max_insns`
 * (0: no limit). */
void cpu_run(struct cpu *c, uint64_t max_insns);

/* Executes one instruction (or delivers the exception it raises); a REP
 * string runs to its end. No interrupt checks: for tests that drive the
 * CPU directly. */
void cpu_step(struct cpu *c);

/* "rip 0x...: <disassembly>" for messages; never faults. */
void cpu_describe_rip(struct cpu *c, char *out, unsigned out_size);

/* Recomputes long_mode/code64/code_size after CR0, EFER or CS change. */
void cpu_update_mode(struct cpu *c);

/* Raises an exception for the current instruction. Always returns false,
 * so that handlers can write `return cpu_fault(...)`. */
bool cpu_fault(struct cpu *c, unsigned vector, uint32_t error);
bool cpu_fault_noerr(struct cpu *c, unsigned vector);
/* Whether an exception pushes an error code. */
bool cpu_exception_has_error(unsigned vector);

/* RFLAGS as software sees it, and a write of it (all bits; the caller
 * applies privilege rules). */
uint64_t cpu_rflags(const struct cpu *c);
void cpu_set_rflags(struct cpu *c, uint64_t value);

/* The time stamp counter as software sees it: in VMX non-root operation
 * with "use TSC offsetting", RDTSC, RDTSCP and RDMSR of IA32_TSC add the
 * VMCS's TSC offset (SDM Vol. 3C 26.3; cached at VM entry). */
static inline uint64_t cpu_tsc(const struct cpu *c)
{
    return c->cycles + c->tsc_offset +
           (c->vmx.nonroot ? c->vmx.tsc_offset : 0);
}

/* A canonical address: bits 63:47 all equal (48-bit linear addresses,
 * SDM Vol. 1 3.3.7.1). */
static inline bool cpu_canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

#endif
