/* Control transfer: near and far jumps, calls and returns, loops,
 * software interrupts, IRET, SYSCALL/SYSRET. */
#include "cpu/exec.h"
#include "cpu/ops.h"
#include "cpu/system.h"

/* A new RIP: canonical in 64-bit mode, within CS's limit otherwise, or
 * #GP(0) at the branch itself (SDM Vol. 2A "JMP"). */
static bool branch_to(struct cpu *c, uint64_t target, unsigned size)
{
    target &= size_mask(size);
    if (c->code64 ? !cpu_canonical(target) : target > c->seg[SEG_CS].limit)
        return cpu_fault(c, VEC_GP, 0);
    c->next_rip = target;
    return true;
}

/* Near branch operand size: 64 bits in 64-bit mode (SDM Vol. 1 3.6.1). */
static unsigned branch_size(const struct cpu *c, const struct insn *i)
{
    return c->code64 ? 8 : i->opsize;
}

static bool branch_target(struct cpu *c, const struct insn *i, uint64_t *t)
{
    const struct operand *o = &i->op[0];
    if (o->kind == OPK_IMM) {
        *t = c->next_rip + (uint64_t)o->value;
        return true;
    }
    if (o->kind == OPK_REG) {
        *t = c->gpr[o->reg];
        return true;
    }
    return mem_read(c, o->seg, op_ea(c, i, o), branch_size(c, i), t);
}

bool exec_jmp(struct cpu *c, const struct insn *i)
{
    uint64_t t;
    return branch_target(c, i, &t) && branch_to(c, t, branch_size(c, i));
}

bool exec_jcc(struct cpu *c, const struct insn *i)
{
    if (!flags_cond(&c->flags, i->opcode & 0xF))
        return true;
    return branch_to(c, c->next_rip + (uint64_t)i->op[0].value,
                     branch_size(c, i));
}

bool exec_call(struct cpu *c, const struct insn *i)
{
    uint64_t t;
    unsigned size = branch_size(c, i);
    if (!branch_target(c, i, &t))
        return false;
    uint64_t ret = c->next_rip;
    if (!branch_to(c, t, size))
        return false;
    if (!stack_push(c, size, ret)) {
        c->next_rip = ret;
        return false;
    }
    return true;
}

bool exec_ret(struct cpu *c, const struct insn *i)
{
    unsigned size = branch_size(c, i);
    uint64_t t;
    if (!stack_peek(c, 0, size, &t) || !branch_to(c, t, size))
        return false;
    uint64_t extra = i->nops ? (uint64_t)i->op[0].value & 0xFFFF : 0;
    unsigned as = stack_addr_size(c);
    gpr_set(c, RSP, as, false, c->gpr[RSP] + size + extra);
    return true;
}

/* LOOP, LOOPE, LOOPNE, JRCXZ: the count register is RCX, ECX or CX by
 * address size. */
bool exec_loop(struct cpu *c, const struct insn *i)
{
    uint64_t am = addr_mask(i), count = c->gpr[RCX] & am;
    bool take;
    if (i->sub == LOOP_JCXZ) {
        take = count == 0;
    } else {
        count = (count - 1) & am;
        gpr_set(c, RCX, i->addrsize, false, count);
        take = count != 0;
        if (i->sub == LOOP_E)
            take = take && flags_zf(&c->flags);
        else if (i->sub == LOOP_NE)
            take = take && !flags_zf(&c->flags);
    }
    return !take || branch_to(c, c->next_rip + (uint64_t)i->op[0].value,
                              branch_size(c, i));
}

/* Far JMP to a code segment at the same privilege (SDM Vol. 2A "JMP").
 * Forms: ptr16:32 (outside 64-bit mode) and m16:32/m16:64. */
bool exec_ljmp(struct cpu *c, const struct insn *i)
{
    uint64_t sel, off;
    unsigned size = i->opsize;
    if (i->op[0].kind == OPK_IMM) {
        sel = (uint64_t)i->op[0].value & 0xFFFF;
        off = (uint64_t)i->op[1].value;
    } else {
        const struct operand *o = &i->op[0];
        uint64_t ea = op_ea(c, i, o);
        if (!mem_read(c, o->seg, ea, size, &off) ||
            !mem_read(c, o->seg, (ea + size) & addr_mask(i), 2, &sel))
            return false;
    }
    struct segment saved = c->seg[SEG_CS];
    if (!seg_load_code(c, (uint16_t)sel, c->cpl, false))
        return false;
    if (!branch_to(c, off, c->code64 ? 8 : 4)) {
        c->seg[SEG_CS] = saved;
        cpu_update_mode(c);
        return false;
    }
    return true;
}

/* Saved state for instructions that change several segment registers:
 * all or nothing. */
struct seg_state {
    struct segment seg[SEG_COUNT];
    unsigned cpl;
    uint64_t rsp;
};

static void save_state(const struct cpu *c, struct seg_state *s)
{
    for (unsigned k = 0; k < SEG_COUNT; k++)
        s->seg[k] = c->seg[k];
    s->cpl = c->cpl;
    s->rsp = c->gpr[RSP];
}

static bool restore_state(struct cpu *c, const struct seg_state *s)
{
    for (unsigned k = 0; k < SEG_COUNT; k++)
        c->seg[k] = s->seg[k];
    c->cpl = s->cpl;
    c->gpr[RSP] = s->rsp;
    cpu_update_mode(c);
    return false;
}

/* Returning to an outer level nulls data segments the new CPL may not
 * use (SDM Vol. 2B "RET", "IRET"). */
static void null_inaccessible_data_segments(struct cpu *c)
{
    static const unsigned segs[] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
    for (unsigned k = 0; k < 4; k++) {
        struct segment *s = &c->seg[segs[k]];
        unsigned type = s->attr & 0xF;
        bool conforming_code = (type & 0xC) == 0xC;
        if (!(s->attr & SEG_ATTR_UNUSABLE) && !conforming_code &&
            SEG_ATTR_DPL(s->attr) < c->cpl) {
            s->sel = 0;
            s->attr |= SEG_ATTR_UNUSABLE;
        }
    }
}

/* Far return or IRET once CS:RIP (and RFLAGS) are known: loads CS, and
 * for an outer level SS:RSP popped at `outer_at` bytes into the stack. */
static bool far_return(struct cpu *c, uint64_t rip, uint16_t cs,
                       unsigned size, uint64_t outer_at, bool always_pop_ss,
                       uint64_t release)
{
    unsigned rpl = cs & 3;
    if (rpl < c->cpl)
        return cpu_fault(c, VEC_GP, cs & 0xFFFC);
    bool outer = rpl > c->cpl;
    uint64_t new_rsp = 0, new_ss = 0;
    if (outer || always_pop_ss) {
        if (!stack_peek(c, outer_at, size, &new_rsp) ||
            !stack_peek(c, outer_at + size, size, &new_ss))
            return false;
    }
    struct seg_state saved;
    save_state(c, &saved);
    if (!seg_load_code(c, cs, rpl, true))
        return restore_state(c, &saved);
    if (!branch_to(c, rip, c->code64 ? 8 : 4))
        return restore_state(c, &saved);
    if (outer || always_pop_ss) {
        if (!seg_load_data(c, SEG_SS, (uint16_t)new_ss))
            return restore_state(c, &saved);
        gpr_set(c, RSP, c->code64 ? 8 : 4, false, new_rsp + release);
        if (outer)
            null_inaccessible_data_segments(c);
    } else {
        unsigned as = stack_addr_size(c);
        gpr_set(c, RSP, as, false, c->gpr[RSP] + outer_at + release);
    }
    return true;
}

bool exec_lret(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize; /* default 32 bits, also in 64-bit mode */
    uint64_t rip, cs;
    if (!stack_peek(c, 0, size, &rip) || !stack_peek(c, size, size, &cs))
        return false;
    uint64_t release = i->nops ? (uint64_t)i->op[0].value & 0xFFFF : 0;
    return far_return(c, rip, (uint16_t)cs, size, 2 * size, false, release);
}

/* IRET in protected mode and IRETQ/IRETD in IA-32e mode (SDM Vol. 2A
 * "IRET"): in 64-bit mode SS:RSP are always popped. Task returns (NT = 1
 * outside IA-32e mode) are not emulated and raise #GP. */
bool exec_iret(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t rip, cs, fl;
    /* IRET unblocks NMIs even if it then faults (SDM Vol. 3A 7.7); an
     * exit caused by that fault reports it (Vol. 3C 28.2.2). */
    c->vmx.iret_unblocked = vmx_iret_unblocks_nmi(c) && c->vmx.nonroot;
    if (!c->long_mode && (flags_get(&c->flags) & FL_NT))
        return cpu_fault(c, VEC_GP, 0);
    if (!stack_peek(c, 0, size, &rip) || !stack_peek(c, size, size, &cs) ||
        !stack_peek(c, 2 * size, size, &fl))
        return false;
    uint64_t old = cpu_rflags(c);
    unsigned old_cpl = c->cpl;
    if (!far_return(c, rip, (uint16_t)cs, size, 3 * size, c->code64, 0))
        return false;
    uint64_t mask = FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_TF | FL_DF |
                    FL_OF | FL_NT | FL_RF | FL_AC | FL_ID;
    if (old_cpl <= FL_IOPL_OF(old))
        mask |= FL_IF;
    if (old_cpl == 0)
        mask |= FL_IOPL | FL_VIF | FL_VIP;
    mask &= size_mask(size);
    cpu_set_rflags(c, (old & ~mask) | (fl & mask));
    c->vmx.iret_unblocked = false;
    return true;
}

bool exec_int(struct cpu *c, const struct insn *i)
{
    cpu_deliver(c, (unsigned)i->op[0].value & 0xFF, EV_SOFTWARE_INT, false, 0,
                c->next_rip);
    return !c->exc.raised && !c->vmx.request.pending;
}

bool exec_int3(struct cpu *c, const struct insn *i)
{
    (void)i;
    cpu_deliver(c, VEC_BP, EV_SOFTWARE_EXC, false, 0, c->next_rip);
    /* An INT3 that exits leaves RIP at the INT3 (SDM Vol. 3C 28.2). */
    return !c->vmx.request.pending;
}

/* INT1 (ICEBP, F1): a #DB trap without the gate's DPL check and without
 * DR6 bits (SDM Vol. 2A "INTn/INTO/INT3/INT1"; Vol. 3B 18.3); in VMX
 * non-root operation a privileged software exception (type 5). */
bool exec_int1(struct cpu *c, const struct insn *i)
{
    (void)i;
    c->dbg.bits = 0;
    cpu_deliver(c, VEC_DB, EV_PRIV_SW_EXC, false, 0, c->next_rip);
    return !c->vmx.request.pending;
}

/* SYSCALL (SDM Vol. 2B): 64-bit mode with EFER.SCE only. Intel raises
 * #UD in compatibility mode too ("IF (CS.L != 1) or (IA32_EFER.LMA != 1)
 * or (IA32_EFER.SCE != 1) THEN #UD"); CSTAR is AMD's target for it, and
 * this CPU reports GenuineIntel. */
bool exec_syscall(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!c->code64 || !(c->efer & EFER_SCE))
        return cpu_fault_noerr(c, VEC_UD);
    uint64_t rflags = cpu_rflags(c);
    c->gpr[RCX] = c->next_rip;
    c->gpr[R11] = rflags & ~FL_RF;
    uint16_t sel = (uint16_t)(c->star >> 32) & 0xFFFC;
    seg_set_flat(&c->seg[SEG_CS], sel, true, 0, true);
    seg_set_flat(&c->seg[SEG_SS], (uint16_t)(sel + 8), false, 0, false);
    c->cpl = 0;
    cpu_update_mode(c);
    cpu_set_rflags(c, rflags & ~c->fmask & ~FL_RF);
    c->next_rip = c->lstar;
    return true;
}

/* SYSRET (SDM Vol. 2B): to 64-bit code with REX.W, else to 32-bit code. */
bool exec_sysret(struct cpu *c, const struct insn *i)
{
    if (!c->code64 || !(c->efer & EFER_SCE))
        return cpu_fault_noerr(c, VEC_UD);
    if (c->cpl != 0)
        return cpu_fault(c, VEC_GP, 0);
    bool to64 = i->opsize == 8;
    uint64_t rip = to64 ? c->gpr[RCX] : (uint32_t)c->gpr[RCX];
    if (!cpu_canonical(rip))
        return cpu_fault(c, VEC_GP, 0);
    uint16_t base = (uint16_t)(c->star >> 48);
    uint16_t cs = to64 ? (uint16_t)(base + 16) : base;
    seg_set_flat(&c->seg[SEG_CS], (uint16_t)(cs | 3), true, 3, to64);
    seg_set_flat(&c->seg[SEG_SS], (uint16_t)((base + 8) | 3), false, 3, false);
    c->cpl = 3;
    cpu_update_mode(c);
    cpu_set_rflags(c, (c->gpr[R11] & 0x3C7FD7) | FL_FIXED1);
    c->next_rip = rip;
    return true;
}

bool exec_ud(struct cpu *c, const struct insn *i)
{
    (void)i;
    return cpu_fault_noerr(c, VEC_UD);
}
