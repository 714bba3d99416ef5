/* The template JIT: see cpu/jit.h. The code of a run, for the System V
 * x86-64 ABI:
 *
 *     push rbx; push r12; push r13     rbx = c, r12 = the run's RIP,
 *                                      r13 = the struct jit_loop
 *  top:
 *     per record: a template, or
 *         c->next_rip = r12 + end of the record; handler(c, record)
 *     rax = r12 + end of the run; c->next_rip = rax if the last record
 *     was a template; edx = the run's length; restore; ret
 *
 * A run that loops (jit_compile's `loops`) has, where its Jcc branches
 * to r12, the checks of struct jit_loop and, where they pass, the
 * round's bookkeeping and a jump to `top` (emit_loop).
 *
 * A memory record (jit.h, side exits) is a call of a helper that does
 * what its handler does where the access takes the fast path, or
 * written out around a call of one that gives the host address
 * (emit_mem_native); where the fast path fails, a call of
 * step_record(), and on to the next record or, where it answers false,
 * rax = r12 + the record's end, edx = its index + 1 with JIT_STEPPED;
 * restore; ret. A DIV that would raise #DE: rax = r12 + the record's
 * start, edx = its index; restore; ret (a side exit).
 *
 * A Jcc right after a template that recorded the flags tests the host's
 * flags (emit_jcc). A template keeps the guest registers in struct cpu (rax, rcx, rdx as
 * scratch) and leaves c->flags exactly as flags_record() does when the
 * handler records the flags: op, size, res, a and b masked to the
 * operand size, carry 0 (cpu/flags.h). */
#include "cpu/jit.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/exec.h"
#include "cpu/exec_fast.h"
#include "cpu/ops.h"
#include "cpu/step.h"

/* The records that the JIT runs with a side exit (jit.h): one data
 * access, to their one memory operand, the other operand a general
 * register or an immediate, not through FS or GS; by what they do with
 * it (the handler they stand for, as jit.c's helpers repeat it). */
enum mem_kind {
    MEM_NONE,
    MEM_MOV_LOAD,  /* MOV reg, [m] (exec_mov_data, specialized or not) */
    MEM_MOV_STORE, /* MOV [m], reg or imm */
    MEM_MOVZX,     /* MOVZX reg, [m] (exec_movzx) */
    MEM_MOVSX,     /* MOVSX, MOVSXD reg, [m] (exec_movsx) */
    MEM_ALU_LOAD,  /* ALU reg, [m] (exec_alu) */
    MEM_ALU_STORE, /* ALU [m], reg or imm; CMP and TEST only read */
    MEM_PUSH,      /* PUSH reg64, 64-bit code: [RSP - 8] through SS */
    MEM_POP,       /* POP reg64: [RSP] */
};

static enum mem_kind mem_kind(const struct insn *i)
{
    uint8_t form = exec_fast_template(i->exec).form;
    if (form == FORM_PUSH || form == FORM_POP)
        return form == FORM_PUSH ? MEM_PUSH : MEM_POP;
    bool mov = form == FORM_LOAD || form == FORM_STORE ||
               i->exec == exec_mov_data;
    if (i->lock || i->nops != 2)
        return MEM_NONE;
    int m = i->op[0].kind == OPK_MEM ? 0 : i->op[1].kind == OPK_MEM ? 1 : -1;
    if (m < 0)
        return MEM_NONE;
    const struct operand *o = &i->op[1 - m];
    if (i->op[m].seg == SEG_FS || i->op[m].seg == SEG_GS ||
        !(o->kind == OPK_IMM || (o->kind == OPK_REG && o->rclass == RC_GPR)))
        return MEM_NONE;
    if (mov)
        return m ? MEM_MOV_LOAD : MEM_MOV_STORE;
    if (exec_fast_general(i->exec) == exec_alu)
        return m ? MEM_ALU_LOAD : MEM_ALU_STORE;
    if (m == 1 && i->exec == exec_movzx)
        return MEM_MOVZX;
    if (m == 1 && i->exec == exec_movsx)
        return MEM_MOVSX;
    return MEM_NONE;
}

/* DIV of a 32- or 64-bit general register (emit_div): the host's DIV
 * of the same size, after the check for #DE. */
static bool div_native(const struct insn *i)
{
    const struct operand *d = &i->op[0];
    return i->exec == exec_div && i->nops == 1 && d->kind == OPK_REG &&
           d->rclass == RC_GPR && !d->hi8 && (d->size == 4 || d->size == 8);
}

bool jit_side_exits(const struct insn *i)
{
    return mem_kind(i) != MEM_NONE || div_native(i);
}

#if defined(__x86_64__)

#include <sys/mman.h>
#include <unistd.h>

enum {
    CODE_BYTES = 4 << 20,
    /* The most one record's code takes (a Jcc after a template with
     * flags is about 110 bytes, a call 41), and the prologue and
     * epilogue together (49). */
    RECORD_MAX = 320, /* a Jcc before the end, with a loop: about 230;
                       * an ALU store written out with its call of
                       * step_record(): about 230 */
    FRAME_MAX = 64 + 128, /* and a loop's checks and bookkeeping: 115 */
};

/* The buffer is mapped twice (W^X without a system call per run): code
 * is written through `write` and run through `code`, the same pages.
 * The CPU notices a write to code it may have fetched by its physical
 * address (SDM Vol. 3A 11.6), so the alias needs no flush; valgrind
 * notices it only with --smc-check=all. */
struct jit {
    uint8_t *code, *write;
    size_t used;
};

/* Code being written: p runs from the buffer's free space on; `top`
 * is where a round of the run starts (after the prologue); `go_on`:
 * the last call of step_record()'s `go_on` operand (emit_step). */
struct emit {
    uint8_t *p, *top, *go_on;
};

static void byte(struct emit *e, uint8_t b)
{
    *e->p++ = b;
}

static void bytes(struct emit *e, const uint8_t *b, size_t n)
{
    memcpy(e->p, b, n);
    e->p += n;
}

static void u32(struct emit *e, uint32_t v)
{
    memcpy(e->p, &v, 4);
    e->p += 4;
}

static void u64(struct emit *e, uint64_t v)
{
    memcpy(e->p, &v, 8);
    e->p += 8;
}

/* Host registers (their encoding numbers). */
enum { RAX_ = 0, RCX_ = 1, RDX_ = 2 };

/* `opcode` with ModRM operands host register `reg` and [rbx + disp32]
 * (mod 10, r/m 011), REX.W if `wide`. */
static void at_rbx(struct emit *e, bool wide, uint8_t opcode, unsigned reg,
                   size_t disp)
{
    if (wide)
        byte(e, 0x48);
    byte(e, opcode);
    byte(e, (uint8_t)(0x80 | reg << 3 | 3));
    u32(e, (uint32_t)disp);
}

static size_t gpr_at(unsigned guest_reg)
{
    return offsetof(struct cpu, gpr) + 8 * (guest_reg & 15);
}

/* reg = the guest register, 32 bits zero-extended or 64. */
static void load_gpr(struct emit *e, unsigned reg, unsigned guest_reg,
                     unsigned size)
{
    at_rbx(e, size == 8, 0x8B, reg, gpr_at(guest_reg));
}

/* The whole host register into a field of struct cpu. */
static void store64(struct emit *e, unsigned reg, size_t disp)
{
    at_rbx(e, true, 0x89, reg, disp);
}

/* reg = an immediate as gpr_set() of `size` bytes would keep it: the
 * low 32 bits zero-extended, or all 64 (sign-extended from 32 bits
 * where that gives the same value). */
static void load_imm(struct emit *e, unsigned reg, unsigned size,
                     uint64_t v)
{
    if (size == 4) {
        byte(e, (uint8_t)(0xB8 + reg));
        u32(e, (uint32_t)v);
    } else if ((uint64_t)(int64_t)(int32_t)v == v) {
        bytes(e, (const uint8_t[]){0x48, 0xC7, (uint8_t)(0xC0 | reg)}, 3);
        u32(e, (uint32_t)v);
    } else {
        bytes(e, (const uint8_t[]){0x48, (uint8_t)(0xB8 + reg)}, 2);
        u64(e, v);
    }
}

/* The host instruction for each ALU template (op r/m, reg) and what the
 * interpreter records for its flags (exec_fast.c alu_reg). */
static const struct {
    uint8_t opcode;
    uint8_t fop;
    bool writes;
} alu_host[] = {
    [ALU_ADD] = {0x01, FOP_ADD, true},   [ALU_OR] = {0x09, FOP_LOGIC, true},
    [ALU_AND] = {0x21, FOP_LOGIC, true}, [ALU_SUB] = {0x29, FOP_SUB, true},
    [ALU_XOR] = {0x31, FOP_LOGIC, true}, [ALU_CMP] = {0x29, FOP_SUB, false},
    [ALU_TEST] = {0x21, FOP_LOGIC, false},
};

_Static_assert(offsetof(struct lazy_flags, size) ==
                   offsetof(struct lazy_flags, op) + 1,
               "op and size are written as one 16-bit store");

/* `size` bytes of host register `reg` (rax, rcx or rdx) into [rbx +
 * disp]. */
static void store_sized(struct emit *e, unsigned reg, unsigned size,
                        size_t disp)
{
    if (size == 2)
        byte(e, 0x66);
    at_rbx(e, size == 8, size == 1 ? 0x88 : 0x89, reg, disp);
}

/* Guest register d = rdx as gpr_set() of `size` (not AH..BH) sets it,
 * where rdx holds a value of that size zero-extended. */
static void set_gpr(struct emit *e, unsigned d, unsigned size)
{
    if (size >= 4)
        store64(e, RDX_, gpr_at(d));
    else
        store_sized(e, RDX_, size, gpr_at(d));
}

/* With rax = a and rcx = b (of t.size, 1, 2, 4 or 8 bytes,
 * zero-extended): rdx = the result of ALU operation `op`, zero-extended
 * from t.size (an 8- or 16-bit operation leaves the rest of edx, a's
 * zeros), and the flags as flags_record() records them if t.flags; the
 * host's flags are the guest's for that operation and size. */
static void alu_op(struct emit *e, struct fast_template t, enum alu_op op)
{
    bool w = t.size == 8;
    if (w)
        byte(e, 0x48);
    bytes(e, (const uint8_t[]){0x89, 0xC2}, 2); /* mov edx, eax */
    if (w)
        byte(e, 0x48);
    if (t.size == 2)
        byte(e, 0x66);
    /* The r/m8, r8 form is the opcode before the r/m32 one. */
    byte(e, (uint8_t)(alu_host[op].opcode - (t.size == 1)));
    byte(e, 0xC0 | RCX_ << 3 | RDX_);
    if (t.flags) {
        size_t f = offsetof(struct cpu, flags);
        store64(e, RDX_, f + offsetof(struct lazy_flags, res));
        store64(e, RAX_, f + offsetof(struct lazy_flags, a));
        store64(e, RCX_, f + offsetof(struct lazy_flags, b));
        bytes(e, (const uint8_t[]){0x66, 0xC7, 0x83}, 3); /* mov word */
        u32(e, (uint32_t)(f + offsetof(struct lazy_flags, op)));
        bytes(e, (const uint8_t[]){alu_host[op].fop, t.size}, 2);
        bytes(e, (const uint8_t[]){0xC6, 0x83}, 2); /* mov byte */
        u32(e, (uint32_t)(f + offsetof(struct lazy_flags, carry)));
        byte(e, 0);
    }
}

/* alu_op(), then guest register d = rdx unless CMP or TEST. */
static void alu_result(struct emit *e, struct fast_template t,
                       enum alu_op op, unsigned d)
{
    alu_op(e, t, op);
    if (alu_host[op].writes)
        set_gpr(e, d, t.size);
}

static void emit_alu(struct emit *e, const struct insn *i,
                     struct fast_template t)
{
    load_gpr(e, RAX_, i->op[0].reg, t.size);
    if (t.imm)
        load_imm(e, RCX_, t.size, (uint64_t)i->op[1].value);
    else
        load_gpr(e, RCX_, i->op[1].reg, t.size);
    alu_result(e, t, (enum alu_op)t.op, i->op[0].reg);
}

/* NEG as exec_fast.c neg_reg: 0 - a, recorded as that SUB. */
static void emit_neg(struct emit *e, const struct insn *i,
                     struct fast_template t)
{
    bytes(e, (const uint8_t[]){0x31, 0xC0}, 2); /* xor eax, eax */
    load_gpr(e, RCX_, i->op[0].reg, t.size);
    alu_result(e, t, ALU_SUB, i->op[0].reg);
}

/* NOT: the host's NOT changes no flag either. */
static void emit_not(struct emit *e, const struct insn *i,
                     struct fast_template t)
{
    load_gpr(e, RAX_, i->op[0].reg, t.size);
    if (t.size == 8)
        byte(e, 0x48);
    bytes(e, (const uint8_t[]){0xF7, 0xD0}, 2); /* not eax */
    store64(e, RAX_, gpr_at(i->op[0].reg));
}

static void emit_mov(struct emit *e, const struct insn *i,
                     struct fast_template t)
{
    if (t.imm)
        load_imm(e, RAX_, t.size, (uint64_t)i->op[1].value);
    else
        load_gpr(e, RAX_, i->op[1].reg, t.size);
    store64(e, RAX_, gpr_at(i->op[0].reg));
}

static void emit_call(struct emit *e, const struct insn *i, exec_fn fn,
                      unsigned end);

/* reg = r12 + offset (the RIP `offset` bytes into the run). */
static void rip_in(struct emit *e, unsigned reg, unsigned offset)
{
    bytes(e, (const uint8_t[]){0x49, 0x8D, (uint8_t)(0x84 | reg << 3), 0x24},
          4);
    u32(e, offset);
}

static void rip_at(struct emit *e, unsigned offset)
{
    rip_in(e, RAX_, offset);
}

/* A jump with a 32-bit displacement (E9, or 0F 8x for a Jcc), its
 * target set later by land(). */
static uint8_t *jump32(struct emit *e, const uint8_t *opcode, size_t n)
{
    bytes(e, opcode, n);
    uint8_t *at = e->p;
    u32(e, 0);
    return at;
}

static void land(struct emit *e, uint8_t *at)
{
    uint32_t rel = (uint32_t)(e->p - (at + 4));
    memcpy(at, &rel, 4);
}

static const uint8_t epilogue[] = {
    0x41, 0x5D, 0x41, 0x5C, 0x5B, 0xC3, /* pop r13, r12, rbx; ret */
};

/* rax = r12 + offset, edx = ran; return (struct jit_stop). */
static void emit_return(struct emit *e, unsigned offset, unsigned ran)
{
    rip_at(e, offset);
    byte(e, 0xBA); /* mov edx, imm32 */
    u32(e, ran);
    bytes(e, epilogue, sizeof epilogue);
}

/* After record ran - 1, `end` bytes into the run: rax = r12 + end,
 * rdx = ran and `how` (enum jit_how); return. */
static void emit_stop(struct emit *e, unsigned end, unsigned ran,
                      enum jit_how how)
{
    rip_at(e, end);
    bytes(e, (const uint8_t[]){0x48, 0xBA}, 2); /* mov rdx, imm64 */
    u64(e, ran | (uint64_t)how << 32);
    bytes(e, epilogue, sizeof epilogue);
}

/* A Jcc of the run, `end` bytes into it and record ran - 1, branched
 * or faulted. */
static void emit_branch_exit(struct emit *e, unsigned end, unsigned ran)
{
    emit_stop(e, end, ran, JIT_BRANCHED);
}

/* At record round - 1, a Jcc that branched to the start of a run of
 * `len` records (c->next_rip = r12), in a run that loops: where the
 * whole run fits again in l->room after this round and ends before the
 * next event check, the round's bookkeeping as run_records() does it
 * for a run ending at that Jcc, and the next round; otherwise on, to
 * the return (run_records() and block_run() then find the same
 * conditions fail for entering the run again). Both are checked as
 * they check them, after adding this round's steps and cycles: looped
 * + round + len <= room and cycles + round + len < next_event_check, in
 * the same 64-bit arithmetic. (block_run's other conditions for going
 * on hold: the limit and the budget by the first, the event check by
 * the second, and a run sets no interrupt shadow and does not halt; it
 * enters the same block again, its first run with it.) */
_Static_assert(offsetof(struct jit_loop, looped) == 0 &&
                   offsetof(struct jit_loop, room) == 8,
               "emit_loop reads [r13] and [r13 + 8]");

static void emit_loop(struct emit *e, unsigned round, unsigned len)
{
    uint32_t twice = round + len;
    bytes(e, (const uint8_t[]){0x49, 0x8B, 0x45, 0x00}, 4); /* rax = looped */
    bytes(e, (const uint8_t[]){0x48, 0x05}, 2);             /* add rax, */
    u32(e, twice);
    bytes(e, (const uint8_t[]){0x49, 0x3B, 0x45, 0x08}, 4); /* cmp rax, room */
    uint8_t *over_room = jump32(e, (const uint8_t[]){0x0F, 0x87}, 2); /* ja */
    at_rbx(e, true, 0x8B, RAX_, offsetof(struct cpu, cycles));
    bytes(e, (const uint8_t[]){0x48, 0x05}, 2);
    u32(e, twice);
    at_rbx(e, true, 0x3B, RAX_, offsetof(struct cpu, next_event_check));
    uint8_t *event = jump32(e, (const uint8_t[]){0x0F, 0x83}, 2); /* jae */
    static const size_t counters[] = {offsetof(struct cpu, cycles),
                                      offsetof(struct cpu, insns)};
    for (unsigned k = 0; k < 2; k++) {
        at_rbx(e, true, 0x81, 0, counters[k]); /* add qword [rbx+d], */
        u32(e, round);
    }
    at_rbx(e, true, 0x8B, RAX_, offsetof(struct cpu, mtlb));
    bytes(e, (const uint8_t[]){0x48, 0x81, 0x80}, 3); /* add [rax+d], */
    u32(e, (uint32_t)offsetof(struct tlb_model, stats.hits));
    u32(e, round);
    bytes(e, (const uint8_t[]){0x49, 0x81, 0x45, 0x00}, 4); /* looped += */
    u32(e, round);
    byte(e, 0xE9); /* jmp top */
    u32(e, (uint32_t)(e->top - (e->p + 4)));
    land(e, over_room);
    land(e, event);
}

/* INC or DEC whose flags are dead: the register +1 or -1 (a 32-bit one
 * zero-extended, as gpr_set does). */
static void emit_incdec(struct emit *e, const struct insn *i,
                        struct fast_template t)
{
    load_gpr(e, RAX_, i->op[0].reg, t.size);
    if (t.size == 8)
        byte(e, 0x48);
    bytes(e, (const uint8_t[]){0x83, t.op == FOP_INC ? 0xC0 : 0xE8, 1}, 3);
    store64(e, RAX_, gpr_at(i->op[0].reg));
}

/* SHL, SHR or SAR whose flags are dead, by the count exec_fast.c
 * shift_reg() uses (masked to 5 or 6 bits: the host masks the same
 * way); a count of 0 still writes the register. The 32-bit load
 * zero-extends, so the stored 64 bits are gpr_set()'s. */
static void emit_shift(struct emit *e, const struct insn *i,
                       struct fast_template t)
{
    uint64_t n = i->nops > 1 ? (uint64_t)i->op[1].value : 1;
    uint8_t count = (uint8_t)(n & (t.size == 8 ? 0x3F : 0x1F));
    static const uint8_t ext[] = {[SH_SHL] = 4, [SH_SHR] = 5, [SH_SAR] = 7};
    load_gpr(e, RAX_, i->op[0].reg, t.size);
    if (count) {
        if (t.size == 8)
            byte(e, 0x48);
        bytes(e, (const uint8_t[]){0xC1, (uint8_t)(0xC0 | ext[t.op] << 3),
                                   count}, 3);
    }
    store64(e, RAX_, gpr_at(i->op[0].reg));
}

/* Whether the effective address of memory operand `m` is of a form
 * ea_to_rax() writes out (else the handler or helper is called). */
static bool ea_writable(const struct insn *i, const struct operand *m)
{
    return (i->addrsize == 4 || i->addrsize == 8) &&
           (m->index == BASE_NONE || (m->index < 16 &&
            (m->scale == 1 || m->scale == 2 || m->scale == 4 ||
             m->scale == 8))) &&
           (m->base == BASE_NONE || m->base == BASE_RIP || m->base < 16);
}

/* rax = op_ea() (ops.h) of `m`, masked to the address size; a RIP base
 * is the RIP after the record (`end` bytes into the run), which is
 * c->next_rip there. Uses rcx. */
static void ea_to_rax(struct emit *e, const struct insn *i,
                      const struct operand *m, unsigned end)
{
    load_imm(e, RAX_, 8, (uint64_t)m->value);
    if (m->base == BASE_RIP) {
        rip_in(e, RCX_, end);
        bytes(e, (const uint8_t[]){0x48, 0x01, 0xC8}, 3); /* add rax, rcx */
    } else if (m->base != BASE_NONE) {
        at_rbx(e, true, 0x03, RAX_, gpr_at(m->base)); /* add rax, [gpr] */
    }
    if (m->index != BASE_NONE) {
        load_gpr(e, RCX_, m->index, 8);
        uint8_t shift = (uint8_t)__builtin_ctz(m->scale);
        if (shift)
            bytes(e, (const uint8_t[]){0x48, 0xC1, 0xE1, shift}, 4);
        bytes(e, (const uint8_t[]){0x48, 0x01, 0xC8}, 3); /* add rax, rcx */
    }
    if (i->addrsize == 4)
        bytes(e, (const uint8_t[]){0x89, 0xC0}, 2); /* mov eax, eax */
}

/* LEA: the effective address, then gpr_set() of the operand size. */
static void emit_lea(struct emit *e, const struct insn *i,
                     struct fast_template t, unsigned end)
{
    ea_to_rax(e, i, &i->op[1], end);
    if (t.size == 4)
        bytes(e, (const uint8_t[]){0x89, 0xC0}, 2); /* mov eax, eax */
    store64(e, RAX_, gpr_at(i->op[0].reg));
}

/* After a Jcc called through its handler, record round - 1 of a run of
 * `len` records that loops: emit_loop where the handler branched to
 * r12. */
static void emit_loop_after_call(struct emit *e, unsigned round,
                                 unsigned len)
{
    at_rbx(e, true, 0x8B, RAX_, offsetof(struct cpu, next_rip));
    bytes(e, (const uint8_t[]){0x4C, 0x39, 0xE0}, 3); /* cmp rax, r12 */
    uint8_t *other = jump32(e, (const uint8_t[]){0x0F, 0x85}, 2);
    emit_loop(e, round, len);
    land(e, other);
}

/* A Jcc right after an ALU template that recorded its flags: the host's
 * arithmetic flags are then the guest's (the same operation on the same
 * operand size, and only MOVs since), so the condition is the host's
 * Jcc of the same tttn. Taken, the target must be canonical (exec_fast.c
 * jcc64); where it is not, the handler is called and raises #GP.
 * `loop_len`: the run's length where it loops (emit_loop), else 0. */
static void emit_jcc(struct emit *e, const struct insn *i, exec_fn fn,
                     unsigned end, unsigned index, unsigned loop_len,
                     bool last)
{
    unsigned cc = i->opcode & 0xF;
    rip_at(e, end);
    store64(e, RAX_, offsetof(struct cpu, next_rip));
    uint8_t *not_taken = jump32(
        e, (const uint8_t[]){0x0F, (uint8_t)(0x80 | (cc ^ 1))}, 2);
    load_imm(e, RAX_, 8, end + (uint64_t)i->op[0].value);
    bytes(e, (const uint8_t[]){0x4C, 0x01, 0xE0}, 3); /* add rax, r12 */
    static const uint8_t canonical[] = {
        0x48, 0x89, 0xC1, 0x48, 0xC1, 0xE1, 0x10, /* rcx = rax << 16 */
        0x48, 0xC1, 0xF9, 0x10, 0x48, 0x39, 0xC1, /* >> 16 (signed) == rax? */
    };
    bytes(e, canonical, sizeof canonical);
    uint8_t *fault = jump32(e, (const uint8_t[]){0x0F, 0x85}, 2);
    store64(e, RAX_, offsetof(struct cpu, next_rip));
    if (loop_len && end + (uint64_t)i->op[0].value == 0)
        emit_loop(e, index + 1, loop_len); /* the target is r12 */
    uint8_t *done = jump32(e, (const uint8_t[]){0xE9}, 1);
    land(e, fault);
    emit_call(e, i, fn, end);
    land(e, done);
    if (!last)
        emit_branch_exit(e, end, index + 1);
    land(e, not_taken);
}

/* After a Jcc called through its handler, record ran - 1 of the run,
 * not its last: the run ends there where the handler branched
 * (c->next_rip is not r12 + end) or raised #GP; `loop_len`: as
 * emit_jcc's. */
static void emit_exit_after_call(struct emit *e, const struct insn *i,
                                 unsigned end, unsigned ran,
                                 unsigned loop_len)
{
    at_rbx(e, true, 0x8B, RAX_, offsetof(struct cpu, next_rip));
    rip_in(e, RCX_, end);
    bytes(e, (const uint8_t[]){0x48, 0x39, 0xC8}, 3); /* cmp rax, rcx */
    uint8_t *branched = jump32(e, (const uint8_t[]){0x0F, 0x85}, 2);
    bytes(e, (const uint8_t[]){0x80, 0xBB}, 2); /* cmp byte [rbx+d], 0 */
    u32(e, (uint32_t)(offsetof(struct cpu, exc) +
                      offsetof(struct pending_exception, raised)));
    byte(e, 0);
    uint8_t *on = jump32(e, (const uint8_t[]){0x0F, 0x84}, 2);
    land(e, branched);
    if (loop_len && end + (uint64_t)i->op[0].value == 0)
        emit_loop_after_call(e, ran, loop_len);
    emit_branch_exit(e, end, ran);
    land(e, on);
}

/* c->next_rip = the RIP after the record; fn(c, i). */
static void emit_call(struct emit *e, const struct insn *i, exec_fn fn,
                      unsigned end)
{
    rip_at(e, end);
    store64(e, RAX_, offsetof(struct cpu, next_rip));
    bytes(e, (const uint8_t[]){0x48, 0x89, 0xDF, 0x48, 0xBE}, 5);
    u64(e, (uint64_t)(uintptr_t)i);    /* mov rdi, rbx; mov rsi, i */
    bytes(e, (const uint8_t[]){0x48, 0xB8}, 2);
    u64(e, (uint64_t)(uintptr_t)fn);   /* mov rax, fn */
    bytes(e, (const uint8_t[]){0xFF, 0xD0}, 2); /* call rax */
}

/* The host address of a data access of `size` bytes at `lin` that
 * ops.h's fast path makes with nothing more to do: within one page, a
 * host TLB hit with the rights (tlb_peek) and the modeled TLB's hit
 * known from the data hint (charge_data's first branch), counted as
 * charge_data counts it. NULL, with nothing changed, where either
 * misses. The code is 64-bit (a run is entered only on the block
 * engine's fast path) and the segment not FS or GS (mem_kind). */
static inline __attribute__((always_inline)) uint8_t *
fast_data(struct cpu *c, uint64_t lin, unsigned size, bool write)
{
    struct tlb_model *mt = c->mtlb;
    const struct tlbm_entry *h = c->data_hint;
    if (!h || mt->last[0] != h || c->data_hint_gen != c->tlb.generation ||
        h->vpn != lin >> tlbm_page_shift(h->size))
        return NULL;
    struct tlb_entry *t = tlb_peek(c, lin, size, write);
    if (!t)
        return NULL;
    mt->stats.hits++;
    return t->host + (lin & 0xFFF);
}

/* `size` bytes of guest RAM, zero-extended, as ops.h copies them. */
static inline uint64_t host_load(const uint8_t *p, unsigned size)
{
    uint8_t b;
    uint16_t w;
    uint32_t d;
    uint64_t q;
    switch (size) {
    case 1: memcpy(&b, p, 1); return b;
    case 2: memcpy(&w, p, 2); return w;
    case 4: memcpy(&d, p, 4); return d;
    default: memcpy(&q, p, 8); return q;
    }
}

static inline void host_store(uint8_t *p, unsigned size, uint64_t v)
{
    uint8_t b = (uint8_t)v;
    uint16_t w = (uint16_t)v;
    uint32_t d = (uint32_t)v;
    switch (size) {
    case 1: memcpy(p, &b, 1); break;
    case 2: memcpy(p, &w, 2); break;
    case 4: memcpy(p, &d, 4); break;
    default: memcpy(p, &v, 8); break;
    }
}

/* A register or immediate operand as op_read() reads it. */
static inline uint64_t reg_or_imm(const struct cpu *c,
                                  const struct operand *o)
{
    return o->kind == OPK_IMM ? (uint64_t)o->value & size_mask(o->size)
                              : gpr_get(c, o->reg, o->size, o->hi8);
}

/* The helpers of the memory records (enum mem_kind): each does what the
 * record's handler does when its access takes the fast path (op_read,
 * op_read_rmw and op_write of ops.h, with fast_data's hit), or returns
 * false, having changed nothing, for a side exit. */

static bool fast_mov_load(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0], *m = &i->op[1];
    uint8_t *p = fast_data(c, op_ea(c, i, m), m->size, false);
    if (!p)
        return false;
    gpr_set(c, d->reg, d->size, d->hi8, host_load(p, m->size));
    return true;
}

static bool fast_mov_store(struct cpu *c, const struct insn *i)
{
    const struct operand *m = &i->op[0];
    uint8_t *p = fast_data(c, op_ea(c, i, m), m->size, true);
    if (!p)
        return false;
    host_store(p, m->size, reg_or_imm(c, &i->op[1]));
    return true;
}

/* exec_movzx and exec_movsx. */
static inline __attribute__((always_inline)) bool
movx(struct cpu *c, const struct insn *i, bool sign)
{
    const struct operand *d = &i->op[0], *m = &i->op[1];
    uint8_t *p = fast_data(c, op_ea(c, i, m), m->size, false);
    if (!p)
        return false;
    uint64_t v = host_load(p, m->size);
    if (sign) {
        unsigned shift = 64 - m->size * 8;
        v = (uint64_t)((int64_t)(v << shift) >> shift);
    }
    gpr_set(c, d->reg, d->size, d->hi8, v);
    return true;
}

static bool fast_movzx(struct cpu *c, const struct insn *i)
{
    return movx(c, i, false);
}

static bool fast_movsx(struct cpu *c, const struct insn *i)
{
    return movx(c, i, true);
}

static bool fast_alu_load(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0], *m = &i->op[1];
    uint8_t *p = fast_data(c, op_ea(c, i, m), m->size, false);
    if (!p)
        return false;
    unsigned size = d->size;
    uint64_t a = gpr_get(c, d->reg, size, d->hi8);
    uint64_t b = host_load(p, m->size) & size_mask(size);
    uint64_t r = exec_alu_apply(c, i->sub, size, a, b);
    if (i->sub != ALU_CMP && i->sub != ALU_TEST)
        gpr_set(c, d->reg, size, d->hi8, r);
    return true;
}

/* A read-modify-write meets the fast path twice (op_read_rmw, then
 * op_write), on the same page with the same rights, so the second
 * hits as the first did and is counted again. */
static bool fast_alu_store(struct cpu *c, const struct insn *i)
{
    const struct operand *m = &i->op[0];
    bool writes = i->sub != ALU_CMP && i->sub != ALU_TEST;
    uint8_t *p = fast_data(c, op_ea(c, i, m), m->size, writes);
    if (!p)
        return false;
    unsigned size = m->size;
    uint64_t a = host_load(p, size);
    uint64_t b = reg_or_imm(c, &i->op[1]) & size_mask(size);
    uint64_t r = exec_alu_apply(c, i->sub, size, a, b);
    if (writes) {
        c->mtlb->stats.hits++;
        host_store(p, size, r);
    }
    return true;
}

/* exec_fast.c's push_reg64 and pop_reg64: RSP moves only once the
 * access is made; PUSH RSP stores the value before the push, POP RSP
 * leaves the value popped (SDM Vol. 2B "PUSH", "POP"). */
static bool fast_push(struct cpu *c, const struct insn *i)
{
    uint64_t sp = c->gpr[RSP] - 8;
    uint8_t *p = fast_data(c, sp, 8, true);
    if (!p)
        return false;
    host_store(p, 8, c->gpr[i->op[0].reg]);
    c->gpr[RSP] = sp;
    return true;
}

static bool fast_pop(struct cpu *c, const struct insn *i)
{
    uint8_t *p = fast_data(c, c->gpr[RSP], 8, false);
    if (!p)
        return false;
    c->gpr[RSP] += 8;
    c->gpr[i->op[0].reg] = host_load(p, 8);
    return true;
}

static const exec_fn mem_helpers[] = {
    [MEM_MOV_LOAD] = fast_mov_load, [MEM_MOV_STORE] = fast_mov_store,
    [MEM_MOVZX] = fast_movzx,       [MEM_MOVSX] = fast_movsx,
    [MEM_ALU_LOAD] = fast_alu_load, [MEM_ALU_STORE] = fast_alu_store,
    [MEM_PUSH] = fast_push,         [MEM_POP] = fast_pop,
};

/* The host address of a data access as fast_data() makes it, for each
 * size and kind: native code computes the linear address (the record's
 * effective address) and makes the access itself. */
typedef uint8_t *(*data_fn)(struct cpu *c, uint64_t lin);

#define DATA_AT(size)                                                         \
    static uint8_t *read_at_##size(struct cpu *c, uint64_t lin)               \
    {                                                                         \
        return fast_data(c, lin, size, false);                                \
    }                                                                         \
    static uint8_t *write_at_##size(struct cpu *c, uint64_t lin)              \
    {                                                                         \
        return fast_data(c, lin, size, true);                                 \
    }
DATA_AT(1) DATA_AT(2) DATA_AT(4) DATA_AT(8)

static data_fn data_at(unsigned size, bool write)
{
    switch (size) {
    case 1: return write ? write_at_1 : read_at_1;
    case 2: return write ? write_at_2 : read_at_2;
    case 4: return write ? write_at_4 : read_at_4;
    default: return write ? write_at_8 : read_at_8;
    }
}

/* The memory operand of a record of kind `kind` and its other one. */
static unsigned mem_operand(enum mem_kind kind)
{
    return kind == MEM_MOV_STORE || kind == MEM_ALU_STORE ? 0 : 1;
}

/* Whether a memory record is written out (emit_mem_native) rather than
 * a call of its helper: an address ea_to_rax() computes, the ALU
 * operation one of alu_host's, and a register operand of the memory
 * operand's size, not AH..BH, where the helper would mask or shift
 * it. */
static bool mem_writable(const struct insn *i, enum mem_kind kind)
{
    if (kind == MEM_PUSH || kind == MEM_POP)
        return false; /* a call of fast_push or fast_pop */
    const struct operand *m = &i->op[mem_operand(kind)];
    const struct operand *o = &i->op[1 - mem_operand(kind)];
    bool same_reg = o->kind == OPK_REG && !o->hi8 && o->size == m->size;
    if (!ea_writable(i, m))
        return false;
    switch (kind) {
    case MEM_MOV_STORE:
        return o->kind == OPK_IMM || o->size == m->size;
    case MEM_ALU_LOAD:
        return i->sub < sizeof alu_host / sizeof *alu_host &&
               alu_host[i->sub].opcode && same_reg;
    case MEM_ALU_STORE:
        return i->sub < sizeof alu_host / sizeof *alu_host &&
               alu_host[i->sub].opcode &&
               (o->kind == OPK_IMM || same_reg);
    default:
        return true; /* loads into any general register */
    }
}

/* An instruction whose ModRM names host register `reg` and [rsi]. */
static void at_rsi(struct emit *e, const uint8_t *opcode, size_t n,
                   unsigned reg)
{
    bytes(e, opcode, n);
    byte(e, (uint8_t)(reg << 3 | 6));
}

/* reg = `size` bytes at [rsi], zero-extended, or sign-extended to 64
 * bits. */
static void load_rsi(struct emit *e, unsigned reg, unsigned size, bool sign)
{
    switch (size) {
    case 1: at_rsi(e, sign ? (const uint8_t[]){0x48, 0x0F, 0xBE} + 0
                           : (const uint8_t[]){0x0F, 0xB6}, 3 - !sign, reg);
        break;
    case 2: at_rsi(e, sign ? (const uint8_t[]){0x48, 0x0F, 0xBF} + 0
                           : (const uint8_t[]){0x0F, 0xB7}, 3 - !sign, reg);
        break;
    case 4: at_rsi(e, sign ? (const uint8_t[]){0x48, 0x63}
                           : (const uint8_t[]){0x8B}, 1 + sign, reg);
        break;
    default: at_rsi(e, (const uint8_t[]){0x48, 0x8B}, 2, reg);
    }
}

/* `size` bytes of reg to [rsi]. */
static void store_rsi(struct emit *e, unsigned reg, unsigned size)
{
    if (size == 2)
        byte(e, 0x66);
    if (size == 8)
        byte(e, 0x48);
    at_rsi(e, (const uint8_t[]){size == 1 ? 0x88 : 0x89}, 1, reg);
}

/* reg = guest register `guest` as gpr_get() of `size` (and hi8) reads
 * it, zero-extended. */
static void load_gpr_sized(struct emit *e, unsigned reg, unsigned guest,
                           unsigned size, bool hi8)
{
    if (size >= 4 && !hi8) {
        load_gpr(e, reg, guest, size);
        return;
    }
    bytes(e, (const uint8_t[]){0x0F, size == 2 ? 0xB7 : 0xB6}, 2);
    byte(e, (uint8_t)(0x80 | reg << 3 | 3));
    u32(e, (uint32_t)(gpr_at(guest) + hi8));
}

/* A memory record whose access does not take the fast path (jit.h),
 * record `before` of its run's round, at `rip`, with `after` records
 * after it in the run: run as run_records() runs the record a side
 * exit stops before, once the `before` records are retired as it
 * retires them (steps, cycles and known fetch hits), and so with the
 * counts a device or an exception delivered in it reads. Then true,
 * with those counts taken back (the native code keeps them until the
 * run ends) where run_records() would go on into the rest of the run:
 * block_continues() holds after the record, the fetch side's last hit
 * is the one the run was entered with (so every fetch after it is
 * still a known hit), and the rest of the run ends before the next
 * event check (as entering it as a run needs); `go_on` false says the
 * native code cannot go on (a Jcc after it reads the host's flags).
 * Otherwise false, with everything counted: the native code stops
 * after the record (JIT_STEPPED). */
static bool step_record(struct cpu *c, const struct insn *i, uint64_t rip,
                        uint32_t before, uint32_t after, uint32_t go_on)
{
    struct tlb_model *mt = c->mtlb;
    uint64_t tlb_gen = c->tlb.generation, dc_gen = c->fetch_generation;
    const struct tlbm_entry *fetch = mt->last[1];
    c->cycles += before;
    c->insns += before;
    mt->stats.hits += before + 1; /* and this record's known fetch */
    c->rip = rip;
    step_execute_charged(c, i, true, false);
    if (!go_on || c->rip != rip + i->len || c->tlb.generation != tlb_gen ||
        c->fetch_generation != dc_gen || c->interrupt_shadow || c->halted ||
        mt->last[1] != fetch || c->cycles + after >= c->next_event_check)
        return false;
    c->cycles -= before + 1;
    c->insns -= before + 1;
    mt->stats.hits -= before + 1;
    return true;
}

/* Where the fast path of record `index` (from `start` to `end` bytes
 * into the run, `after` records after it) failed: step_record(), and
 * where it says no, the stop after the record. Returns the jump to
 * land after the record's code, where the run goes on. Its `go_on` is
 * 1, at e->go_on (jit_compile clears it where the host's flags after
 * the record are read). */
static uint8_t *emit_step(struct emit *e, const struct insn *i,
                          unsigned start, unsigned end, unsigned index,
                          unsigned after)
{
    bytes(e, (const uint8_t[]){0x48, 0x89, 0xDF, 0x48, 0xBE}, 5);
    u64(e, (uint64_t)(uintptr_t)i); /* mov rdi, rbx; mov rsi, i */
    rip_in(e, RDX_, start);
    byte(e, 0xB9); /* mov ecx, imm32 */
    u32(e, index);
    bytes(e, (const uint8_t[]){0x41, 0xB8}, 2); /* mov r8d, imm32 */
    u32(e, after);
    bytes(e, (const uint8_t[]){0x41, 0xB9}, 2); /* mov r9d, imm32 */
    e->go_on = e->p;
    u32(e, 1);
    bytes(e, (const uint8_t[]){0x48, 0xB8}, 2);
    u64(e, (uint64_t)(uintptr_t)step_record); /* mov rax, */
    bytes(e, (const uint8_t[]){0xFF, 0xD0, 0x84, 0xC0}, 4); /* call; test */
    uint8_t *on = jump32(e, (const uint8_t[]){0x0F, 0x85}, 2); /* jnz */
    emit_stop(e, end, index + 1, JIT_STEPPED);
    return on;
}

/* Record `index` of the run, from `start` to `end` bytes into it, of
 * memory kind `kind`: its helper, and step_record() where the helper
 * says no. */
static void emit_mem(struct emit *e, const struct insn *i,
                     enum mem_kind kind, unsigned start, unsigned end,
                     unsigned index, unsigned after)
{
    emit_call(e, i, mem_helpers[kind], end);
    bytes(e, (const uint8_t[]){0x84, 0xC0, 0x75, 0}, 4); /* test al; jnz */
    uint8_t *skip = e->p;
    uint8_t *on = emit_step(e, i, start, end, index, after);
    skip[-1] = (uint8_t)(e->p - skip);
    land(e, on);
}

/* A memory record written out: rax = its linear address, rax = the
 * host address from its data_at() helper or, where that is NULL,
 * step_record() (as emit_mem); then what the
 * record's helper does with the host address in rsi. The ALU forms
 * leave the host's flags the guest's, as alu_op() does; a
 * read-modify-write counts its second modeled TLB hit as
 * fast_alu_store() does (without changing the host's flags). */
static void emit_mem_native(struct emit *e, const struct insn *i,
                            enum mem_kind kind, unsigned start,
                            unsigned end, unsigned index, unsigned after)
{
    const struct operand *m = &i->op[mem_operand(kind)];
    const struct operand *o = &i->op[1 - mem_operand(kind)];
    bool writes = kind == MEM_MOV_STORE ||
                  (kind == MEM_ALU_STORE && alu_host[i->sub].writes);
    ea_to_rax(e, i, m, end);
    bytes(e, (const uint8_t[]){0x48, 0x89, 0xC6, 0x48, 0x89, 0xDF, 0x48, 0xB8},
          8); /* mov rsi, rax; mov rdi, rbx; mov rax, */
    u64(e, (uint64_t)(uintptr_t)data_at(m->size, writes));
    bytes(e, (const uint8_t[]){0xFF, 0xD0, 0x48, 0x85, 0xC0, 0x75, 0}, 7);
    uint8_t *skip = e->p; /* call rax; test rax, rax; jnz */
    uint8_t *on = emit_step(e, i, start, end, index, after);
    skip[-1] = (uint8_t)(e->p - skip);
    bytes(e, (const uint8_t[]){0x48, 0x89, 0xC6}, 3); /* mov rsi, rax */
    struct fast_template t = {FORM_NONE, 0, m->size, false, true};
    switch (kind) {
    case MEM_MOV_LOAD:
    case MEM_MOVZX:
    case MEM_MOVSX:
        load_rsi(e, RDX_, m->size, kind == MEM_MOVSX);
        if (o->hi8)
            store_sized(e, RDX_, 1, gpr_at(o->reg) + 1);
        else if (o->size == 4)
            bytes(e, (const uint8_t[]){0x89, 0xD2}, 2); /* mov edx, edx */
        if (!o->hi8)
            set_gpr(e, o->reg, o->size);
        break;
    case MEM_MOV_STORE:
        if (o->kind == OPK_IMM)
            load_imm(e, RDX_, 8, (uint64_t)o->value & size_mask(o->size));
        else
            load_gpr_sized(e, RDX_, o->reg, 8, o->hi8);
        store_rsi(e, RDX_, m->size);
        break;
    case MEM_ALU_LOAD:
        load_gpr_sized(e, RAX_, o->reg, o->size, false);
        load_rsi(e, RCX_, m->size, false);
        alu_result(e, t, (enum alu_op)i->sub, o->reg);
        break;
    default: /* MEM_ALU_STORE */
        load_rsi(e, RAX_, m->size, false);
        if (o->kind == OPK_IMM)
            load_imm(e, RCX_, 8, (uint64_t)o->value & size_mask(o->size) &
                                     size_mask(m->size));
        else
            load_gpr_sized(e, RCX_, o->reg, o->size, false);
        alu_op(e, t, (enum alu_op)i->sub);
        if (writes) {
            store_rsi(e, RDX_, m->size);
            at_rbx(e, true, 0x8B, RAX_, offsetof(struct cpu, mtlb));
            bytes(e, (const uint8_t[]){0x48, 0x8B, 0x88}, 3); /* mov rcx, */
            u32(e, (uint32_t)offsetof(struct tlb_model, stats.hits));
            bytes(e, (const uint8_t[]){0x48, 0x8D, 0x49, 0x01}, 4); /* lea */
            bytes(e, (const uint8_t[]){0x48, 0x89, 0x88}, 3); /* mov [rax+] */
            u32(e, (uint32_t)offsetof(struct tlb_model, stats.hits));
        }
    }
    land(e, on);
}

/* DIV of a 32- or 64-bit register (div_native): RDX:RAX or EDX:EAX by
 * it, as exec_div. The quotient fits exactly where the high half is
 * below the divisor (unsigned), which also leaves out a zero divisor:
 * elsewhere a side exit before record `index`, `start` bytes into the
 * run, and the handler raises #DE (SDM Vol. 2A "DIV"). The flags stay
 * as they are (undefined: exec_div leaves them); the results are
 * zero-extended from 32 bits as gpr_set() does it. */
static void emit_div(struct emit *e, const struct insn *i, unsigned start,
                     unsigned index)
{
    unsigned size = i->op[0].size;
    bool w = size == 8;
    load_gpr(e, RCX_, i->op[0].reg, size);
    load_gpr(e, RDX_, RDX, size);
    if (w)
        byte(e, 0x48);
    bytes(e, (const uint8_t[]){0x39, 0xCA, 0x72, 0}, 4); /* cmp edx, ecx; jb */
    uint8_t *fits = e->p;
    emit_return(e, start, index);
    fits[-1] = (uint8_t)(e->p - fits);
    load_gpr(e, RAX_, RAX, size);
    if (w)
        byte(e, 0x48);
    bytes(e, (const uint8_t[]){0xF7, 0xF1}, 2); /* div ecx */
    store64(e, RAX_, gpr_at(RAX));
    store64(e, RDX_, gpr_at(RDX));
}

bool jit_supported(void)
{
    return true;
}

struct jit *jit_create(void)
{
    struct jit *j = calloc(1, sizeof *j);
    int fd = memfd_create("turtles-jit", MFD_CLOEXEC);
    if (!j || fd < 0 || ftruncate(fd, CODE_BYTES) != 0) {
        free(j);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    void *code = mmap(NULL, CODE_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED,
                      fd, 0);
    void *write = mmap(NULL, CODE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
                       fd, 0);
    close(fd); /* the mappings keep the memory */
    if (code == MAP_FAILED || write == MAP_FAILED) {
        if (code != MAP_FAILED)
            munmap(code, CODE_BYTES);
        if (write != MAP_FAILED)
            munmap(write, CODE_BYTES);
        free(j);
        return NULL;
    }
    j->code = code;
    j->write = write;
    return j;
}

void jit_destroy(struct jit *j)
{
    if (!j)
        return;
    munmap(j->code, CODE_BYTES);
    munmap(j->write, CODE_BYTES);
    free(j);
}

void jit_reset(struct jit *j)
{
    if (j)
        j->used = 0;
}

uint64_t jit_code_bytes(const struct jit *j)
{
    return j ? j->used : 0;
}

jit_fn jit_compile(struct jit *j, const struct insn *recs,
                   const exec_fn *exec, unsigned n, bool loops)
{
    if (!j || j->used + FRAME_MAX + (size_t)n * RECORD_MAX > CODE_BYTES)
        return NULL;
    uint8_t *start = j->write + j->used;
    struct emit e = {start, NULL, NULL};
    static const uint8_t prologue[] = {
        0x53, 0x41, 0x54, 0x41, 0x55, /* push rbx, r12, r13 */
        0x48, 0x89, 0xFB, 0x49, 0x89, 0xF4, 0x49, 0x89, 0xD5,
        /* rbx = rdi, r12 = rsi, r13 = rdx */
    };
    bytes(&e, prologue, sizeof prologue);
    e.top = e.p;
    unsigned end = 0;
    bool last_inline = false, host_flags = false;
    uint8_t *flags_step = NULL; /* e.go_on of the record that set them */
    for (unsigned k = 0; k < n; k++) {
        const struct insn *i = &recs[k];
        unsigned start = end;
        end += i->len;
        struct fast_template t = exec_fast_template(exec[k]);
        bool jcc = exec_fast_traits(exec[k]).jcc, last = k == n - 1;
        if (t.form == FORM_LEA && !ea_writable(i, &i->op[1]))
            t.form = FORM_NONE;
        enum mem_kind mem = mem_kind(i);
        bool mem_native = mem != MEM_NONE && mem_writable(i, mem);
        bool div = div_native(i);
        if (mem != MEM_NONE || div)
            t.form = FORM_NONE; /* written out or a call of its helper */
        last_inline = t.form != FORM_NONE || mem_native || div;
        switch (t.form) {
        case FORM_ALU: emit_alu(&e, i, t); break;
        case FORM_MOV: emit_mov(&e, i, t); break;
        case FORM_NEG: emit_neg(&e, i, t); break;
        case FORM_NOT: emit_not(&e, i, t); break;
        case FORM_INCDEC: emit_incdec(&e, i, t); break;
        case FORM_SHIFT: emit_shift(&e, i, t); break;
        case FORM_LEA: emit_lea(&e, i, t, end); break;
        default:
            if (mem_native)
                emit_mem_native(&e, i, mem, start, end, k, n - k - 1);
            else if (mem != MEM_NONE)
                emit_mem(&e, i, mem, start, end, k, n - k - 1);
            else if (div)
                emit_div(&e, i, start, k);
            else if (host_flags && jcc) {
                /* The host's flags are the guest's only where the
                 * record that set them ran natively: where
                 * step_record() ran it, the run stops after it. */
                if (flags_step)
                    memset(flags_step, 0, 4);
                emit_jcc(&e, i, exec[k], end, k, loops ? n : 0, last);
            } else {
                emit_call(&e, i, exec[k], end);
            }
            if (!host_flags && jcc && !last)
                emit_exit_after_call(&e, i, end, k + 1, loops ? n : 0);
            else if (!host_flags && jcc && loops)
                emit_loop_after_call(&e, n, n);
        }
        /* Only MOV and NOT leave the host's flags alone. */
        if (t.form == FORM_ALU || t.form == FORM_NEG) {
            host_flags = t.flags;
            flags_step = NULL;
        } else if (mem_native) {
            host_flags = mem == MEM_ALU_LOAD || mem == MEM_ALU_STORE;
            flags_step = e.go_on;
        } else if (t.form != FORM_MOV && t.form != FORM_NOT)
            host_flags = false;
    }
    if (last_inline) {
        rip_at(&e, end);
        store64(&e, RAX_, offsetof(struct cpu, next_rip));
    }
    emit_return(&e, end, n);
    /* Relative jumps were computed within the written view: the offsets
     * are the same in the executed one. */
    void *p = j->code + j->used;
    j->used += (size_t)(e.p - start);
    j->used = (j->used + 15) & ~(size_t)15;
    __builtin___clear_cache((char *)p, (char *)p + (e.p - start));
    jit_fn fn;
    memcpy(&fn, &p, sizeof fn); /* object to function pointer */
    return fn;
}

#else /* not an x86-64 host: --engine jit is refused (main.c) */

bool jit_supported(void)
{
    return false;
}

struct jit *jit_create(void)
{
    return NULL;
}

void jit_destroy(struct jit *j)
{
    (void)j;
}

void jit_reset(struct jit *j)
{
    (void)j;
}

uint64_t jit_code_bytes(const struct jit *j)
{
    (void)j;
    return 0;
}

jit_fn jit_compile(struct jit *j, const struct insn *recs,
                   const exec_fn *exec, unsigned n, bool loops)
{
    (void)j, (void)recs, (void)exec, (void)n, (void)loops;
    return NULL;
}

#endif
