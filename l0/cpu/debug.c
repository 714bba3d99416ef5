/* Debug exceptions: breakpoints, single-step, general detect (SDM Vol.
 * 3B 18.2-18.3). See debug.h for how the step loop uses them.
 *
 * Simplifications, each visible as the SDM allows: I/O breakpoints (R/W
 * = 10 with CR4.DE) never match, as on a processor that ignores them
 * (CPUID reports DE, but nothing here watches ports); LEN = 10 (8
 * bytes) is taken outside 64-bit mode too, where the SDM leaves it
 * undefined; implicit accesses of event delivery (the IDT, the stack
 * frame) are watched like the instruction's own, but only the delivery
 * of INT n, INT1 and INT3, which completes an instruction, is followed by
 * the #DB of the data breakpoints it hit: those hit by delivering an
 * exception, an interrupt, an NMI or a #DB are dropped, where a processor
 * reports them after the delivery; IA32_DEBUGCTL offers no feature (LBR,
 * BTF: writes of a set bit are #GP). */
#include "cpu/debug.h"

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/system.h"

/* R/W field of DR7 (SDM 18.2.4). */
enum { RW_EXEC = 0, RW_WRITE = 1, RW_IO = 2, RW_READ_WRITE = 3 };

static bool bp_enabled(uint64_t dr7, unsigned n)
{
    return (dr7 >> (2 * n)) & 3; /* Ln or Gn */
}

static unsigned bp_rw(uint64_t dr7, unsigned n)
{
    return (dr7 >> (16 + 4 * n)) & 3;
}

/* LEN (18.2.5): 00 one byte, 01 two, 11 four, 10 eight. */
static uint64_t bp_len(uint64_t dr7, unsigned n)
{
    static const uint64_t bytes[4] = {1, 2, 8, 4};
    return bytes[(dr7 >> (18 + 4 * n)) & 3];
}

static bool bp_watches_data(uint64_t dr7, unsigned n)
{
    unsigned rw = bp_rw(dr7, n);
    return bp_enabled(dr7, n) && (rw == RW_WRITE || rw == RW_READ_WRITE);
}

/* The bytes a data breakpoint covers: the address with its low bits
 * cleared to the length's alignment (18.2.5). */
static bool bp_overlaps(const struct cpu *c, unsigned n, uint64_t lin,
                        uint64_t size)
{
    uint64_t len = bp_len(c->dr[7], n);
    uint64_t start = c->dr[n] & ~(len - 1);
    return lin < start + len && start < lin + size;
}

static bool exec_armed(const struct cpu *c)
{
    for (unsigned n = 0; n < 4; n++)
        if (bp_enabled(c->dr[7], n) && bp_rw(c->dr[7], n) == RW_EXEC)
            return true;
    return false;
}

static void refresh_active(struct cpu *c)
{
    c->dbg.active = c->dbg.data_armed || c->dbg.pending || exec_armed(c);
}

void debug_update(struct cpu *c)
{
    bool data = false;
    for (unsigned n = 0; n < 4; n++)
        data = data || bp_watches_data(c->dr[7], n);
    /* TLB entries decide which pages take the slow, watched path. */
    if (data || c->dbg.data_armed)
        mmu_flush_all(c);
    c->dbg.data_armed = data;
    refresh_active(c);
}

uint64_t debug_dr6_value(uint64_t written)
{
    return (written & DR6_WRITABLE) | DR6_FIXED1;
}

uint64_t debug_dr7_value(uint64_t written)
{
    return (written & DR7_WRITABLE) | DR7_FIXED1;
}

bool debug_general_detect(struct cpu *c)
{
    c->dbg.bits = DR6_BD;
    return cpu_fault(c, VEC_DB, 0);
}

void debug_mov_ss(struct cpu *c)
{
    c->dbg.mov_ss_insn = c->insns + 1; /* the count once it retires */
}

bool debug_before(struct cpu *c)
{
    c->dbg.hits = 0;
    /* RF is cleared at the start of each instruction, after the check
     * for instruction breakpoints that it suppresses (18.3.1.1). */
    if (c->flags.bits & FL_RF) {
        flags_update(&c->flags, FL_RF, 0);
        return true;
    }
    if (!c->dbg.active)
        return true;
    uint64_t lin = c->code64 ? c->rip
                             : (c->seg[SEG_CS].base + c->rip) & 0xFFFFFFFF;
    uint32_t hit = 0;
    for (unsigned n = 0; n < 4; n++)
        if (bp_enabled(c->dr[7], n) && bp_rw(c->dr[7], n) == RW_EXEC &&
            c->dr[n] == lin)
            hit |= 1u << n;
    if (!hit)
        return true;
    c->dbg.bits = hit; /* a fault, before the instruction (18.3.1.1) */
    return cpu_fault(c, VEC_DB, 0);
}

void debug_after(struct cpu *c, bool tf, bool no_step)
{
    uint32_t bits = c->dbg.hits;
    c->dbg.hits = 0;
    /* A single-step trap follows an instruction that began with TF set
     * (18.3.1.4); INT n, INT3 and INT1 clear TF as they deliver. */
    if (tf && !no_step)
        bits |= DR6_BS;
    c->dbg.pending |= bits;
    if (!c->dbg.pending)
        return;
    /* MOV SS/POP SS hold debug traps for one more instruction (SDM Vol.
     * 3A 7.8.3); the traps of both are reported together. */
    if (c->dbg.mov_ss_insn == c->insns) {
        c->dbg.active = true;
        return;
    }
    c->dbg.bits = c->dbg.pending;
    c->dbg.pending = 0;
    refresh_active(c);
    /* The instruction completed: a shadow it was in is over. */
    c->interrupt_shadow = false;
    cpu_deliver(c, VEC_DB, EV_EXCEPTION, false, 0, c->rip);
}

void debug_after_iteration(struct cpu *c, bool tf)
{
    /* Single-step traps after each iteration as after an instruction
     * (SDM Vol. 3B 18.3.1.4). RF is already 1 (exec_string): the
     * handler returns to the rest of the iterations without an
     * instruction breakpoint on the REP breaking again (18.3.1.1). */
    uint32_t bits = c->dbg.hits | (tf ? DR6_BS : 0);
    if (!bits)
        return;
    c->dbg.bits = bits | c->dbg.pending;
    c->dbg.hits = 0;
    c->dbg.pending = 0;
    refresh_active(c);
    c->interrupt_shadow = false;
    c->string_paused = false; /* the event is taken: cpu_step() stops */
    cpu_deliver(c, VEC_DB, EV_EXCEPTION, false, 0, c->rip);
}

void debug_data_access(struct cpu *c, uint64_t lin, unsigned size,
                       bool write)
{
    uint64_t dr7 = c->dr[7];
    for (unsigned n = 0; n < 4; n++)
        if (bp_watches_data(dr7, n) &&
            (write || bp_rw(dr7, n) == RW_READ_WRITE) &&
            bp_overlaps(c, n, lin, size))
            c->dbg.hits |= 1u << n;
}

bool debug_watches_page(const struct cpu *c, uint64_t lin)
{
    for (unsigned n = 0; n < 4; n++)
        if (bp_watches_data(c->dr[7], n) &&
            bp_overlaps(c, n, lin & ~0xFFFull, 4096))
            return true;
    return false;
}

void debug_deliver_db(struct cpu *c)
{
    uint64_t bits = c->dbg.bits;
    c->dbg.bits = 0;
    /* B0-B3 report this exception's breakpoints; BD and BS add to what
     * DR6 holds (18.2.3: the processor never clears the others). */
    if (bits & DR6_B0_B3)
        c->dr[6] = (c->dr[6] & ~DR6_B0_B3) | (bits & DR6_B0_B3);
    c->dr[6] |= bits & (DR6_BD | DR6_BS);
    /* GD clears as the handler is entered, so that it may use the
     * debug registers (18.2.4). */
    c->dr[7] &= ~DR7_GD;
}

/* Pending debug exceptions field (SDM Vol. 3C 25.4.2, Table 25-4):
 * B0-B3 3:0, enabled breakpoint 12, BS 14. */
enum { PENDING_ENABLED_BP = 1u << 12 };

uint64_t debug_save_pending(struct cpu *c)
{
    uint64_t p = c->dbg.pending & (DR6_B0_B3 | DR6_BS);
    c->dbg.pending = 0;
    c->dbg.hits = 0;
    refresh_active(c);
    /* Every breakpoint condition here comes from an enabled one. */
    return p | ((p & DR6_B0_B3) ? PENDING_ENABLED_BP : 0);
}

void debug_load_pending(struct cpu *c, uint64_t field, bool mov_ss_blocking)
{
    uint32_t bits = (uint32_t)field & (DR6_B0_B3 | DR6_BS);
    if (!bits)
        return;
    if (mov_ss_blocking) {
        c->dbg.pending |= bits; /* after the first instruction */
        c->dbg.active = true;
        return;
    }
    c->dbg.bits = bits;
    cpu_deliver(c, VEC_DB, EV_EXCEPTION, false, 0, c->rip);
}

void debug_after_injection(struct cpu *c)
{
    /* VM entry delivers an injected event as if it had happened in the
     * guest (SDM Vol. 3C 27.6.1): a data breakpoint the pushes of an
     * injected INT n, INT1 or INT3 hit gives the #DB trap that the
     * guest's own INT n gives (debug_after), before the handler's first
     * instruction. Otherwise the next instruction's debug_before() drops
     * the hits: an INT n whose delivery met an EPT violation and was
     * injected again by L0 lost its #DB (guestfuzz, single mode). The
     * caller leaves out the other types, whose hits are dropped in the
     * guest too (the simplification at the top). */
    if (!c->dbg.hits)
        return;
    c->dbg.bits = c->dbg.hits | c->dbg.pending;
    c->dbg.hits = 0;
    c->dbg.pending = 0;
    refresh_active(c);
    c->interrupt_shadow = false;
    cpu_deliver(c, VEC_DB, EV_EXCEPTION, false, 0, c->rip);
}
