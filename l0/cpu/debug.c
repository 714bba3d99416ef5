/* Debug exceptions: breakpoints, single-step, general detect (SDM Vol.
 * 3B 18.2-18.3). See debug.h for how the step loop uses them.
 *
 * Data breakpoints are traps (18.3.1.2): reported after the access that
 * hit them completes. The implicit accesses of an event's delivery (the
 * IDT, the GDT, the stack frame) are watched like an instruction's own,
 * and the #DB trap follows the delivery, before the handler's first
 * instruction: after INT n, INT1 and INT3 as after any instruction
 * (debug_after), after an exception, interrupt or NMI at the next
 * boundary, ahead of every other event (debug_after_delivery). A
 * delivery that does not complete (it faults, or a VM exit interrupts
 * it) reports nothing: the event that is delivered in the end reports
 * its own hits. The delivery of a #DB may hit a breakpoint too, and then
 * another #DB follows it, each one a step: a breakpoint on the IDT's
 * gate 1 repeats it until the instruction limit, where a processor
 * would loop.
 *
 * Simplifications, each visible as the SDM allows: I/O breakpoints (R/W
 * = 10 with CR4.DE) never match, as on a processor that ignores them
 * (CPUID reports DE, but nothing here watches ports); LEN = 10 (8
 * bytes) is taken outside 64-bit mode too, where the SDM leaves it
 * undefined; IA32_DEBUGCTL offers no feature (LBR, BTF: writes of a set
 * bit are #GP). */
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

/* Delivers the #DB trap of `bits` and the traps waiting, with RIP at the
 * instruction to come; a shadow the last instruction was in is over. */
static void deliver_trap(struct cpu *c, uint32_t bits)
{
    c->dbg.bits = bits | c->dbg.pending;
    c->dbg.hits = 0;
    c->dbg.pending = 0;
    c->dbg.trap_due = false;
    refresh_active(c);
    c->interrupt_shadow = false;
    cpu_deliver(c, VEC_DB, EV_EXCEPTION, false, 0, c->rip);
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
    deliver_trap(c, 0);
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
    c->string_paused = false; /* the event is taken: cpu_step() stops */
    deliver_trap(c, bits);
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
    c->dbg.trap_due = false;
    c->dbg.hits = 0;
    refresh_active(c);
    /* Every breakpoint condition here comes from an enabled one. */
    return p | ((p & DR6_B0_B3) ? PENDING_ENABLED_BP : 0);
}

void debug_load_pending(struct cpu *c, uint64_t field, bool mov_ss_blocking)
{
    /* Pending debug exceptions are valid only with BS or "enabled
     * breakpoint" set (SDM Vol. 3C 27.7.3): B0-B3 alone give no #DB. */
    if (!(field & (DR6_BS | PENDING_ENABLED_BP)))
        return;
    uint32_t bits = (uint32_t)field & (DR6_B0_B3 | DR6_BS);
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
     * other types report theirs through debug_after_delivery(). */
    if (c->dbg.hits)
        deliver_trap(c, c->dbg.hits);
}

void debug_after_delivery(struct cpu *c)
{
    /* Trap conditions of the event's delivery (18.3.1.2); the next
     * boundary takes them first (cpu.c, check_events): traps of the
     * previous instruction rank above NMIs and interrupts (SDM Vol. 3A
     * Table 7-2) and above the VMX-preemption timer's exit (Vol. 3C
     * 26.5.1). Delivering it here would nest without end when the #DB's
     * own delivery hits a breakpoint each time. */
    c->dbg.pending |= c->dbg.hits;
    c->dbg.hits = 0;
    c->dbg.trap_due = true;
    c->dbg.active = true;
    c->next_event_check = 0;
}

bool debug_take_due(struct cpu *c)
{
    if (!c->dbg.pending) {
        c->dbg.trap_due = false;
        return false;
    }
    deliver_trap(c, 0);
    return true;
}
