/* The template JIT: see cpu/jit.h. The code of a run, for the System V
 * x86-64 ABI:
 *
 *     push rbx; push r12; sub rsp, 8      rbx = c, r12 = the run's RIP
 *     per record: a template, or
 *         c->next_rip = r12 + end of the record; handler(c, record)
 *     rax = r12 + end of the run; c->next_rip = rax if the last record
 *     was a template; restore; ret
 *
 * A template keeps the guest registers in struct cpu (rax, rcx, rdx as
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

#if defined(__x86_64__)

#include <sys/mman.h>

enum {
    CODE_BYTES = 4 << 20,
    /* The most one record's code takes (a template with flags is 73
     * bytes, a call 43), and the prologue and epilogue together. */
    RECORD_MAX = 96,
    FRAME_MAX = 48,
};

struct jit {
    uint8_t *code;
    size_t used;
};

/* Code being written: p runs from the buffer's free space on. */
struct emit {
    uint8_t *p;
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

/* rax = a (the destination), rcx = b (the source), rdx = the result;
 * the flags as flags_record(); the destination unless CMP or TEST. */
static void emit_alu(struct emit *e, const struct insn *i,
                     struct fast_template t)
{
    bool w = t.size == 8;
    unsigned d = i->op[0].reg;
    load_gpr(e, RAX_, d, t.size);
    if (t.imm)
        load_imm(e, RCX_, t.size, (uint64_t)i->op[1].value);
    else
        load_gpr(e, RCX_, i->op[1].reg, t.size);
    if (w)
        byte(e, 0x48);
    bytes(e, (const uint8_t[]){0x89, 0xC2}, 2); /* mov edx, eax */
    if (w)
        byte(e, 0x48);
    byte(e, alu_host[t.op].opcode);
    byte(e, 0xC0 | RCX_ << 3 | RDX_);
    if (t.flags) {
        size_t f = offsetof(struct cpu, flags);
        store64(e, RDX_, f + offsetof(struct lazy_flags, res));
        store64(e, RAX_, f + offsetof(struct lazy_flags, a));
        store64(e, RCX_, f + offsetof(struct lazy_flags, b));
        bytes(e, (const uint8_t[]){0x66, 0xC7, 0x83}, 3); /* mov word */
        u32(e, (uint32_t)(f + offsetof(struct lazy_flags, op)));
        bytes(e, (const uint8_t[]){alu_host[t.op].fop, t.size}, 2);
        bytes(e, (const uint8_t[]){0xC6, 0x83}, 2); /* mov byte */
        u32(e, (uint32_t)(f + offsetof(struct lazy_flags, carry)));
        byte(e, 0);
    }
    if (alu_host[t.op].writes)
        store64(e, RDX_, gpr_at(d));
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

/* rax = r12 + offset (the RIP `offset` bytes into the run). */
static void rip_at(struct emit *e, unsigned offset)
{
    bytes(e, (const uint8_t[]){0x49, 0x8D, 0x84, 0x24}, 4);
    u32(e, offset);
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

bool jit_supported(void)
{
    return true;
}

struct jit *jit_create(void)
{
    struct jit *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    void *code = mmap(NULL, CODE_BYTES, PROT_READ | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        free(j);
        return NULL;
    }
    j->code = code;
    return j;
}

void jit_destroy(struct jit *j)
{
    if (!j)
        return;
    munmap(j->code, CODE_BYTES);
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
                   const exec_fn *exec, unsigned n)
{
    if (!j || j->used + FRAME_MAX + (size_t)n * RECORD_MAX > CODE_BYTES)
        return NULL;
    /* Writable only while written (no page is writable and executable
     * at once). */
    if (mprotect(j->code, CODE_BYTES, PROT_READ | PROT_WRITE))
        return NULL;
    uint8_t *start = j->code + j->used;
    struct emit e = {start};
    static const uint8_t prologue[] = {
        0x53, 0x41, 0x54, 0x48, 0x83, 0xEC, 0x08, /* push rbx, r12; sub */
        0x48, 0x89, 0xFB, 0x49, 0x89, 0xF4,       /* rbx = rdi, r12 = rsi */
    };
    bytes(&e, prologue, sizeof prologue);
    unsigned end = 0;
    bool last_inline = false;
    for (unsigned k = 0; k < n; k++) {
        end += recs[k].len;
        struct fast_template t = exec_fast_template(exec[k]);
        last_inline = t.form != FORM_NONE;
        if (t.form == FORM_ALU)
            emit_alu(&e, &recs[k], t);
        else if (t.form == FORM_MOV)
            emit_mov(&e, &recs[k], t);
        else
            emit_call(&e, &recs[k], exec[k], end);
    }
    rip_at(&e, end);
    if (last_inline)
        store64(&e, RAX_, offsetof(struct cpu, next_rip));
    static const uint8_t epilogue[] = {
        0x48, 0x83, 0xC4, 0x08, 0x41, 0x5C, 0x5B, 0xC3, /* add, pop, ret */
    };
    bytes(&e, epilogue, sizeof epilogue);
    j->used += (size_t)(e.p - start);
    j->used = (j->used + 15) & ~(size_t)15;
    if (mprotect(j->code, CODE_BYTES, PROT_READ | PROT_EXEC))
        abort(); /* the code cannot run and the buffer stays writable */
    __builtin___clear_cache((char *)start, (char *)e.p);
    jit_fn fn;
    void *p = start;
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
                   const exec_fn *exec, unsigned n)
{
    (void)j, (void)recs, (void)exec, (void)n;
    return NULL;
}

#endif
