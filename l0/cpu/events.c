/* Interrupt and exception delivery through the IDT: 64-bit gates (SDM
 * Vol. 3A 7.14) and 32-bit protected-mode gates (7.12), with the double-
 * fault rules of 7.15 (interrupt 8, Table 7-5). Task gates and 16-bit
 * gates are not emulated and raise #GP as a malformed gate would. */
#include <stdio.h>

#include "cpu/double_fault.h"
#include "cpu/mmu.h"
#include "cpu/ops.h"
#include "cpu/system.h"
#include "machine.h"

/* Faults push RF = 1 (SDM Vol. 3B 18.3.1.1); traps and interrupts push
 * RF as it is. A #DB is a fault only for general detect: an instruction
 * breakpoint, though a fault, pushes RF as it is (0). */
static bool is_fault(const struct cpu *c, unsigned vector)
{
    if (vector == VEC_DB)
        return c->dbg.bits & DR6_BD;
    return vector != VEC_NMI && vector != VEC_BP && vector != VEC_OF &&
           vector != VEC_MC;
}

/* The IDT's error code for a problem with the gate of `vector`. */
static uint32_t idt_error(unsigned vector, bool external)
{
    return vector * 8 + 2 + (external ? 1 : 0);
}

static bool read_tss(struct cpu *c, uint32_t offset, unsigned size,
                     uint64_t *v, bool external)
{
    const struct segment *tr = &c->seg[SEG_TR];
    *v = 0;
    if ((tr->attr & SEG_ATTR_UNUSABLE) || offset + size - 1 > tr->limit)
        return cpu_fault(c, VEC_TS, (tr->sel & 0xFFFC) | (external ? 1 : 0));
    return lin_read(c, tr->base + offset, size, v, ACC_READ, false);
}

static bool push_sys(struct cpu *c, uint64_t *sp, unsigned size,
                     uint64_t value, uint64_t mask)
{
    *sp = (*sp - size) & mask;
    uint64_t lin;
    if (!seg_linear(c, SEG_SS, *sp, size, ACC_WRITE, &lin))
        return false;
    return lin_write(c, lin, size, &value, false);
}

/* Reads the gate and its target code segment; checks common to both
 * modes. Returns the code segment descriptor in *cs_desc. */
static bool read_gate(struct cpu *c, unsigned vector, enum event_kind kind,
                      bool external, uint64_t gate[2], uint64_t *cs_desc)
{
    unsigned entry = c->long_mode ? 16 : 8;
    if (vector * entry + entry - 1 > c->idtr.limit)
        return cpu_fault(c, VEC_GP, idt_error(vector, external));
    gate[1] = 0;
    if (!lin_read(c, c->idtr.base + vector * entry, entry, gate, ACC_READ,
                  false))
        return false;
    unsigned type = (gate[0] >> 40) & 0xF, dpl = (gate[0] >> 45) & 3;
    /* 0xE: interrupt gate, 0xF: trap gate (32- or 64-bit by mode). */
    if ((type != 0xE && type != 0xF) || (gate[0] & (1ull << 44)))
        return cpu_fault(c, VEC_GP, idt_error(vector, external));
    if ((kind == EV_SOFTWARE_INT || kind == EV_SOFTWARE_EXC) && dpl < c->cpl)
        return cpu_fault(c, VEC_GP, idt_error(vector, false));
    if (!(gate[0] & (1ull << 47)))
        return cpu_fault(c, VEC_NP, idt_error(vector, external));
    uint16_t sel = (uint16_t)(gate[0] >> 16);
    if ((sel & 0xFFFC) == 0)
        return cpu_fault(c, VEC_GP, external ? 1 : 0);
    if (!seg_read_descriptor(c, sel, cs_desc))
        return false;
    unsigned cs_type = (*cs_desc >> 40) & 0x1F; /* S and type */
    unsigned cs_dpl = (*cs_desc >> 45) & 3;
    if ((cs_type & 0x18) != 0x18 || cs_dpl > c->cpl)
        return cpu_fault(c, VEC_GP, (sel & 0xFFFC) | (external ? 1 : 0));
    if (!(*cs_desc & (1ull << 47)))
        return cpu_fault(c, VEC_NP, (sel & 0xFFFC) | (external ? 1 : 0));
    if (c->long_mode && !((*cs_desc >> 53) & 1))
        return cpu_fault(c, VEC_GP, (sel & 0xFFFC) | (external ? 1 : 0));
    return true;
}

static bool deliver_once(struct cpu *c, unsigned vector, enum event_kind kind,
                         bool has_error, uint32_t error, uint64_t return_rip)
{
    bool external = kind == EV_EXTERNAL || kind == EV_NMI;
    uint64_t gate[2], cs_desc;
    if (!read_gate(c, vector, kind, external, gate, &cs_desc))
        return false;
    uint16_t cs_sel = (uint16_t)(gate[0] >> 16);
    bool conforming = (cs_desc >> 42) & 1;
    unsigned new_cpl = conforming ? c->cpl : (cs_desc >> 45) & 3;
    uint64_t target = (gate[0] & 0xFFFF) | ((gate[0] >> 32) & 0xFFFF0000);
    uint64_t rflags = cpu_rflags(c);
    if (kind == EV_EXCEPTION && is_fault(c, vector))
        rflags |= FL_RF;
    uint64_t old_ss = c->seg[SEG_SS].sel, old_rsp = c->gpr[RSP];
    uint64_t old_cs = c->seg[SEG_CS].sel;
    struct segment saved_ss = c->seg[SEG_SS];
    unsigned saved_cpl = c->cpl;

    if (c->long_mode) {
        target |= gate[1] << 32;
        unsigned ist = (gate[0] >> 32) & 7;
        uint64_t sp = old_rsp;
        if (ist || new_cpl != c->cpl) {
            uint32_t off = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * new_cpl;
            if (!read_tss(c, off, 8, &sp, external))
                return false;
        }
        /* A gate whose offset is not canonical: #GP(EXT), before any
         * push (SDM Vol. 2A INT n, IA-32e-mode delivery). */
        if (!cpu_canonical(target))
            return cpu_fault(c, VEC_GP, external ? 1 : 0);
        if (new_cpl != c->cpl)
            c->seg[SEG_SS] = (struct segment){.sel = (uint16_t)new_cpl,
                                              .attr = SEG_ATTR_UNUSABLE};
        sp &= ~0xFull;
        /* The pushes are supervisor accesses in a flat 64-bit stack. */
        bool saved_code64 = c->code64;
        c->code64 = true;
        bool ok = push_sys(c, &sp, 8, old_ss, ~0ull) &&
                  push_sys(c, &sp, 8, old_rsp, ~0ull) &&
                  push_sys(c, &sp, 8, rflags, ~0ull) &&
                  push_sys(c, &sp, 8, old_cs, ~0ull) &&
                  push_sys(c, &sp, 8, return_rip, ~0ull) &&
                  (!has_error || push_sys(c, &sp, 8, error, ~0ull));
        c->code64 = saved_code64;
        if (!ok) {
            c->seg[SEG_SS] = saved_ss;
            return false;
        }
        c->gpr[RSP] = sp;
    } else {
        uint64_t sp = old_rsp & 0xFFFFFFFF;
        if (new_cpl != c->cpl) {
            uint64_t esp, ss;
            if (!read_tss(c, 4 + 8 * new_cpl, 4, &esp, external) ||
                !read_tss(c, 8 + 8 * new_cpl, 2, &ss, external))
                return false;
            c->cpl = new_cpl; /* the SS checks use the new CPL */
            if (!seg_load_data(c, SEG_SS, (uint16_t)ss)) {
                c->cpl = saved_cpl;
                c->seg[SEG_SS] = saved_ss;
                if (c->exc.raised)
                    c->exc.vector = VEC_TS; /* SDM 7.12.1: a bad SS is #TS */
                return false;
            }
            sp = esp;
        }
        uint64_t mask = (c->seg[SEG_SS].attr & SEG_ATTR_DB) ? 0xFFFFFFFF : 0xFFFF;
        bool ok = (new_cpl == saved_cpl ||
                   (push_sys(c, &sp, 4, old_ss, mask) &&
                    push_sys(c, &sp, 4, old_rsp, mask))) &&
                  push_sys(c, &sp, 4, rflags, mask) &&
                  push_sys(c, &sp, 4, old_cs, mask) &&
                  push_sys(c, &sp, 4, return_rip, mask) &&
                  (!has_error || push_sys(c, &sp, 4, error, mask));
        if (!ok) {
            c->cpl = saved_cpl;
            c->seg[SEG_SS] = saved_ss;
            return false;
        }
        gpr_set(c, RSP, 4, false, sp);
    }

    struct segment cs;
    seg_from_descriptor(&cs, cs_sel, cs_desc);
    cs.sel = (uint16_t)((cs_sel & ~3u) | new_cpl);
    cs.attr |= 1;
    c->seg[SEG_CS] = cs;
    c->cpl = new_cpl;
    cpu_update_mode(c);
    uint64_t clear = FL_TF | FL_NT | FL_RF | FL_VM;
    if (((gate[0] >> 40) & 0xF) == 0xE)
        clear |= FL_IF; /* interrupt gate, not trap gate */
    cpu_set_rflags(c, rflags & ~clear & ~FL_RF);
    c->rip = c->long_mode ? target : (target & 0xFFFFFFFF);
    c->next_rip = c->rip;
    return true;
}

/* IDT-vectoring information for a VM exit during delivery (SDM Vol. 3C
 * 28.2.4): valid, type, vector, error-code flag. */
static uint32_t vectoring_info(unsigned vector, enum event_kind kind,
                               bool has_error)
{
    static const uint32_t type[] = {
        [EV_EXCEPTION] = 3, [EV_SOFTWARE_INT] = 4, [EV_SOFTWARE_EXC] = 6,
        [EV_EXTERNAL] = 0, [EV_NMI] = 2, [EV_PRIV_SW_EXC] = 5};
    uint32_t t = vector == VEC_NMI && kind == EV_EXCEPTION ? 2 : type[kind];
    return 1u << 31 | t << 8 | vector | (has_error ? 1u << 11 : 0);
}

/* In VMX non-root operation an exception may exit instead of being
 * delivered (the exception bitmap); events not injected by VM entry
 * note what is being delivered in case an exit interrupts it. */
static bool nonroot_intercepts(struct cpu *c, unsigned vector,
                               enum event_kind kind, bool has_error,
                               uint32_t error, uint64_t return_rip)
{
    if (!c->vmx.nonroot)
        return false;
    /* An exit while delivering a software interrupt or exception (INT n,
     * INT3, INTO; injected or not) reports the instruction's length
     * (SDM Vol. 3C 28.2.5): the distance to the return address. */
    if (kind == EV_SOFTWARE_INT || kind == EV_SOFTWARE_EXC ||
        kind == EV_PRIV_SW_EXC)
        c->vmx.insn_len = (uint8_t)(return_rip - c->rip);
    if (!c->vmx.injecting && kind != EV_SOFTWARE_INT &&
        kind != EV_EXTERNAL && kind != EV_NMI &&
        vmx_intercept_exception(c, vector, has_error, error,
                                vectoring_info(vector, kind, false) >> 8 &
                                    7)) {
        /* The event exits directly, not during the delivery of another:
         * also a #DF that delivering an event resulted in (SDM Vol. 3C
         * 28.2.4), whose original event leaves no IDT-vectoring info. */
        c->vmx.delivering = 0;
        return true;
    }
    c->vmx.delivering = c->vmx.injecting ? c->vmx.injecting
                                         : vectoring_info(vector, kind,
                                                          has_error);
    c->vmx.delivering_error = error;
    return false;
}

/* A hardware page fault loads CR2 as it is delivered (SDM Vol. 3A
 * 7.15, interrupt 14). */
static void load_cr2(struct cpu *c, unsigned vector, enum event_kind kind)
{
    if (vector == VEC_PF && kind == EV_EXCEPTION && !c->vmx.injecting)
        c->cr2 = c->fault_address;
}

/* One delivery attempt, with the VMX checks around it. */
static bool try_deliver(struct cpu *c, unsigned vector, enum event_kind kind,
                        bool has_error, uint32_t error, uint64_t return_rip)
{
    bool exits = nonroot_intercepts(c, vector, kind, has_error, error,
                                    return_rip);
    c->vmx.iret_unblocked = false; /* reported, if at all, by that exit */
    if (exits) {
        c->dbg.bits = 0; /* the exit's qualification has them */
        return true; /* a VM exit is pending instead */
    }
    load_cr2(c, vector, kind);
    c->dbg.hits = 0; /* only a delivery that completes reports its hits */
    if (!deliver_once(c, vector, kind, has_error, error, return_rip))
        return c->vmx.request.pending; /* a VM exit interrupted it */
    c->vmx.delivering = 0;
    if (vector == VEC_DB && kind == EV_EXCEPTION && !c->vmx.injecting)
        debug_deliver_db(c);
    if (kind == EV_NMI)
        vmx_nmi_delivered(c); /* blocked until the handler's IRET */
    return true;
}

static bool nested_exception_exits(struct cpu *c,
                                   const struct pending_exception *e)
{
    if (!c->vmx.nonroot ||
        !vmx_intercept_exception(c, e->vector, e->has_error, e->error,
                                 vectoring_info(e->vector, EV_EXCEPTION,
                                                false) >> 8 & 7))
        return false;
    c->dbg.bits = 0;
    return true;
}

/* Shutdown: in VMX non-root operation a triple fault exits (reason 2). */
static void triple_fault(struct cpu *c, const char *fmt, unsigned a,
                         unsigned b, uint64_t rip)
{
    if (c->vmx.nonroot) {
        vmx_triple_fault(c);
        return;
    }
    machine_stop(c->m, STOP_TRIPLE_FAULT, 0, fmt, a, b,
                 (unsigned long long)rip);
}

void cpu_deliver(struct cpu *c, unsigned vector, enum event_kind kind,
                 bool has_error, uint32_t error, uint64_t return_rip)
{
    /* An exception raised while delivering belongs to the instruction
     * being executed (for INT n, the INT itself), or for an interrupt to
     * the instruction about to run: both are at c->rip. */
    uint64_t fault_rip = c->rip;
    c->halted = false;
    c->exc.raised = false;
    /* Each exception raised while delivering is handled serially or
     * becomes a double fault (SDM Vol. 3A Table 7-5, double_fault.c).
     * Delivery raises only contributory exceptions and page faults, so
     * the chain climbs benign -> contributory -> page fault -> double
     * fault -> shutdown and ends within five attempts. */
    unsigned df_cause = vector;
    while (!try_deliver(c, vector, kind, has_error, error, return_rip)) {
        struct pending_exception next = c->exc;
        c->exc.raised = false;
        /* In non-root operation the exception met while delivering is
         * checked against the exception bitmap before the double-fault
         * rule, and exits with the event being delivered as its IDT-
         * vectoring information (SDM Vol. 3C 26.2, 28.2.4). Only the
         * injected event itself escapes the bitmap, not what its
         * delivery meets (27.6.1.2). */
        c->vmx.injecting = 0;
        if (nested_exception_exits(c, &next))
            return;
        switch (double_fault_rule(vector, kind == EV_EXCEPTION,
                                  next.vector)) {
        case DELIVER_SHUTDOWN:
            triple_fault(c, "triple fault: vector %u while delivering a "
                            "double fault (raised delivering vector %u, "
                            "rip %#llx)",
                         next.vector, df_cause, fault_rip);
            return;
        case DELIVER_DOUBLE:
            df_cause = vector;
            vector = VEC_DF;
            has_error = true;
            error = 0;
            break;
        default:
            vector = next.vector;
            has_error = next.has_error;
            error = next.error;
            break;
        }
        kind = EV_EXCEPTION;
        return_rip = fault_rip;
        /* Only the first event is the one VM entry injected: an
         * exception raised while delivering it is the guest's own, so
         * the exception bitmap applies to it and a #PF loads CR2 (SDM
         * Vol. 3C 26.6.1.1, 27.2.3). */
        c->vmx.injecting = 0;
    }
    /* Data breakpoints the delivery hit: a #DB trap before the handler's
     * first instruction (cpu/debug.c). INT n, INT3 and INT1 report them
     * as the instruction (or the injection) that delivered them. */
    if (__builtin_expect(c->dbg.hits, 0) && !c->vmx.request.pending &&
        kind != EV_SOFTWARE_INT && kind != EV_SOFTWARE_EXC &&
        kind != EV_PRIV_SW_EXC)
        debug_after_delivery(c);
}
