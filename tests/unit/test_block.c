/* The block engine against the step engine on the cases where a block
 * must stop early (cpu/block.h): code written inside the running block,
 * an instruction across a page boundary, a page whose mapping changes
 * under code that falls through into it, an interrupt due in the middle
 * of a block, the instruction limit in the middle of a block, and more
 * blocks than the first arena holds, a REP string paused by an
 * interrupt whose handler meets an instruction breakpoint, and REP
 * strings (cpu/string_fast.c) stopped at many iterations, and memory
 * records in the JIT's native runs (a store into the running block, a
 * fault, the limit and the timer in a loop of them). Each
 * program runs on a fresh machine with --engine step and with --engine
 * block; the values it leaves in registers are worked out by hand below
 * and must come out the same on both engines, with the same instruction
 * and cycle counts. The group runs twice: the block engine, then the
 * JIT (--engine jit) against the step engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/block.h"
#include "cpu/cpu.h"
#include "cpu/debug.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"
#include "dev/lapic.h"
#include "machine.h"
#include "paging_rig.h"

/* The engine compared with the step engine: the whole group runs with
 * --engine block, then with --engine jit (x86-64 hosts). */
static enum cpu_engine tested = ENGINE_BLOCK;

static int with_block(void **state)
{
    (void)state;
    tested = ENGINE_BLOCK;
    return 0;
}

static int with_jit(void **state)
{
    (void)state;
    tested = ENGINE_JIT;
    return 0;
}

/* Physical = linear below 2 MiB, with 4 KiB pages (one page table). */
enum {
    PML4 = RIG_PML4, GDT = 0x4000, IDT = 0x5000,
    PT = 0x6000, HANDLERS = 0x9000, STACK = 0x80000,
    TIMER_VECTOR = 0x40,
};

static void put(struct machine *m, uint64_t pa, const uint8_t *bytes,
                size_t len)
{
    memcpy(m->ram + pa, bytes, len);
}

/* 64-bit mode at `entry`, interrupts off; IDT gate v leads to HANDLERS +
 * 16 v, which halts (the timer's handler first copies RAX to RBX). */
static struct machine *machine_at(enum cpu_engine engine, uint64_t entry)
{
    struct machine *m = machine_create(4, NULL);
    assert_non_null(m);
    rig_tables(m, PT, true);
    put64(m, GDT + 8, 0x00209A0000000000ull);  /* 64-bit code, DPL 0 */
    put64(m, GDT + 16, 0x00CF92000000FFFFull); /* flat data */
    for (uint64_t v = 0; v < 256; v++) {
        uint64_t h = HANDLERS + 16 * v;
        put64(m, IDT + 16 * v, (h & 0xFFFF) | 8ull << 16 | 0x8Eull << 40 |
                                   ((h >> 16) & 0xFFFF) << 48);
        m->ram[h] = 0xF4; /* hlt */
    }
    static const uint8_t timer[] = {0x48, 0x89, 0xC3, 0xF4}; /* mov rbx,rax; hlt */
    put(m, HANDLERS + 16 * TIMER_VECTOR, timer, sizeof timer);
    struct cpu *c = m->cpu;
    rig_long_mode(c);
    c->engine = engine;
    /* Blocks built at the first arrival at their start, and native code
     * from a block's first entry on: the cases below run most blocks
     * only a few times (the tier itself: test_built_at_nth_arrival). */
    block_cache_build_after(c->bcache, 1);
    block_cache_jit_after(c->bcache, 1);
    c->gdtr = (struct table_reg){GDT, 23};
    c->idtr = (struct table_reg){IDT, 256 * 16 - 1};
    memset(c->gpr, 0, sizeof c->gpr);
    c->rip = entry;
    c->gpr[RSP] = STACK;
    return m;
}

/* The LAPIC enabled, its timer one-shot at TIMER_VECTOR after `count`
 * cycles (divide by 1). */
static void arm_timer(struct machine *m, uint32_t count)
{
    uint32_t svr = 0x1FF, lvt = TIMER_VECTOR, divide = 0xB;
    phys_write(m->cpu, LAPIC_DEFAULT_BASE + 0xF0, 4, &svr);
    phys_write(m->cpu, LAPIC_DEFAULT_BASE + 0x320, 4, &lvt);
    phys_write(m->cpu, LAPIC_DEFAULT_BASE + 0x3E0, 4, &divide);
    phys_write(m->cpu, LAPIC_DEFAULT_BASE + 0x380, 4, &count);
}

/* What a run leaves: the registers the programs use and the counters. */
struct outcome {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rflags, rip, insns, cycles;
    int stop;
    struct tlbm_stats tlb; /* the modeled TLB's counts */
};

static struct outcome run_keep(struct machine *m, uint64_t max_insns)
{
    cpu_run(m->cpu, max_insns);
    struct cpu *c = m->cpu;
    return (struct outcome){c->gpr[RAX], c->gpr[RBX], c->gpr[RCX],
                            c->gpr[RDX], c->gpr[RSI], c->gpr[RDI],
                            cpu_rflags(c), c->rip, c->insns, c->cycles,
                            (int)m->stop, c->mtlb->stats};
}

static struct outcome run(struct machine *m, uint64_t max_insns)
{
    struct outcome o = run_keep(m, max_insns);
    machine_destroy(m);
    return o;
}

static void assert_same(const struct outcome *s, const struct outcome *b)
{
    assert_int_equal(s->rax, b->rax);
    assert_int_equal(s->rbx, b->rbx);
    assert_int_equal(s->rcx, b->rcx);
    assert_int_equal(s->rdx, b->rdx);
    assert_int_equal(s->rsi, b->rsi);
    assert_int_equal(s->rdi, b->rdi);
    assert_int_equal(s->rflags, b->rflags);
    assert_int_equal(s->rip, b->rip);
    assert_int_equal(s->insns, b->insns);
    assert_int_equal(s->cycles, b->cycles);
    assert_int_equal(s->stop, b->stop);
    assert_int_equal(s->tlb.hits, b->tlb.hits);
    assert_int_equal(s->tlb.stlb_hits, b->tlb.stlb_hits);
    assert_int_equal(s->tlb.misses, b->tlb.misses);
    assert_int_equal(s->tlb.walk_refs, b->tlb.walk_refs);
    assert_int_equal(s->tlb.cycles, b->tlb.cycles);
}

/* A store patches the immediate of an instruction further down the same
 * block: the patched instruction must run, not the block's old copy
 * (SDM Vol. 3A 11.6, self-modifying code). */
static struct machine *smc_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x14000);
    static const uint8_t code[] = {
        0x90, /* nop: its fetch fills the TLB, the block starts after it */
        0xC6, 0x05, 0x02, 0x00, 0x00, 0x00, 0x05, /* mov byte [rip+2], 5 */
        0x90,                                     /* nop */
        0xB8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 (imm at +10) */
        0x89, 0xC2,                               /* mov edx, eax */
        0xF4,                                     /* hlt */
    };
    put(m, 0x14000, code, sizeof code);
    return m;
}

static void test_smc_in_current_block(void **state)
{
    (void)state;
    struct outcome s = run(smc_program(ENGINE_STEP), 0);
    struct outcome b = run(smc_program(tested), 0);
    assert_int_equal(s.rdx, 5);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* A store of the byte already there changes no instruction (L0 keeps the
 * decoded code then, cpu/mmu.c); a store of another byte after it, into
 * the same block, must still run the patched instruction. */
static struct machine *same_byte_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x15000);
    static const uint8_t code[] = {
        0x90,                                     /* nop */
        0xC6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x01, /* mov byte [rip+1], 1 */
        0xB8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 */
        0x89, 0xC2,                               /* mov edx, eax */
        0xC6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x05, /* mov byte [rip+1], 5 */
        0xB8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 (now 5) */
        0x01, 0xC2,                               /* add edx, eax */
        0xF4,                                     /* hlt */
    };
    put(m, 0x15000, code, sizeof code);
    return m;
}

static void test_same_byte_store_then_smc(void **state)
{
    (void)state;
    struct outcome s = run(same_byte_program(ENGINE_STEP), 0);
    struct outcome b = run(same_byte_program(tested), 0);
    assert_int_equal(s.rdx, 1 + 5);
    assert_int_equal(s.rax, 5);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* A subroutine at 0x11FF0 whose MOV EAX, imm32 starts 2 bytes before
 * the end of its page (0x11FFE), so that three bytes of the immediate
 * and the RET come from linear page 0x12000. The caller runs it, maps
 * that page to other bytes (PTE write, INVLPG, SDM Vol. 3A 4.10.4.1) and
 * runs it again: the crossing instruction and the code the block falls
 * through into must come from the new mapping. */
static struct machine *remap_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x10000);
    static const uint8_t caller[] = {
        0xE8, 0xEB, 0x1F, 0x00, 0x00,       /* call 0x11FF0 */
        0x89, 0xC3,                         /* mov ebx, eax */
        0x48, 0xC7, 0xC0, 0x03, 0x30, 0x01, 0x00, /* mov rax, 0x13003 */
        0x48, 0x89, 0x04, 0x25, 0x90, 0x60, 0x00, 0x00, /* mov [0x6090], rax */
        0x0F, 0x01, 0x3C, 0x25, 0x00, 0x20, 0x01, 0x00, /* invlpg [0x12000] */
        0xE8, 0xCD, 0x1F, 0x00, 0x00,       /* call 0x11FF0 */
        0x89, 0xC1,                         /* mov ecx, eax */
        0xF4,                               /* hlt */
    };
    put(m, 0x10000, caller, sizeof caller);
    memset(m->ram + 0x11FF0, 0x90, 14); /* nops to 0x11FFD */
    static const uint8_t head[] = {0xB8, 0x77};      /* mov eax, 0x..77 */
    static const uint8_t tail_a[] = {0x11, 0x22, 0x33, 0xC3}; /* ..., ret */
    static const uint8_t tail_b[] = {0x44, 0x55, 0x66, 0xC3};
    put(m, 0x11FFE, head, sizeof head);
    put(m, 0x12000, tail_a, sizeof tail_a);
    put(m, 0x13000, tail_b, sizeof tail_b);
    return m;
}

static void test_page_crossing_and_remapped_page(void **state)
{
    (void)state;
    struct outcome s = run(remap_program(ENGINE_STEP), 0);
    struct outcome b = run(remap_program(tested), 0);
    assert_int_equal(s.rbx, 0x33221177);
    assert_int_equal(s.rcx, 0x66554477);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* Code that maps its own page elsewhere: after the INVLPG (a serializing
 * instruction, SDM Vol. 3A 10.3), the rest of the straight line comes
 * from the new physical page, which holds MOV EAX, 2 where the old one
 * holds MOV EAX, 1. */
static struct machine *own_page_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x17000);
    static const uint8_t code[] = {
        0x48, 0xC7, 0xC0, 0x03, 0x80, 0x01, 0x00, /* mov rax, 0x18003 */
        0x48, 0x89, 0x04, 0x25, 0xB8, 0x60, 0x00, 0x00, /* mov [0x60B8], rax */
        0x0F, 0x01, 0x3C, 0x25, 0x00, 0x70, 0x01, 0x00, /* invlpg [0x17000] */
        0xB8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 */
        0x89, 0xC2,                               /* mov edx, eax */
        0xF4,                                     /* hlt */
    };
    put(m, 0x17000, code, sizeof code);
    put(m, 0x18000, code, sizeof code);
    m->ram[0x18000 + 24] = 2; /* there: mov eax, 2 */
    return m;
}

static void test_block_on_remapped_page(void **state)
{
    (void)state;
    struct outcome s = run(own_page_program(ENGINE_STEP), 0);
    struct outcome b = run(own_page_program(tested), 0);
    assert_int_equal(s.rdx, 2);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* 30 x INC RAX in one block after STI; NOP; the LAPIC timer (one-shot,
 * divide by 1, SDM Vol. 3A 11.5.4) fires 12 cycles after the start, in
 * the middle of the block: the handler sees how many INCs ran before
 * the interrupt was taken, which must be the step engine's count. */
enum { INCS = 30 };

static struct machine *timer_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x16000);
    uint8_t code[2 + 3 * INCS + 1];
    code[0] = 0xFB; /* sti */
    code[1] = 0x90; /* nop, in STI's shadow */
    for (unsigned k = 0; k < INCS; k++)
        memcpy(code + 2 + 3 * k, "\x48\xFF\xC0", 3); /* inc rax */
    code[2 + 3 * INCS] = 0xF4;
    put(m, 0x16000, code, sizeof code);
    arm_timer(m, 12);
    return m;
}

static void test_interrupt_in_middle_of_block(void **state)
{
    (void)state;
    struct outcome s = run(timer_program(ENGINE_STEP), 0);
    struct outcome b = run(timer_program(tested), 0);
    /* The handler ran (RBX set, halted there) before the INCs ended. */
    assert_true(s.rbx > 1 && s.rbx < INCS - 1);
    assert_int_equal(s.rip, HANDLERS + 16 * TIMER_VECTOR + 4);
    assert_same(&s, &b);
}

/* --max-insns N stops after exactly N steps, here the 7th INC of a block
 * of 20, run twice so that the second run finds the block built. */
static struct machine *limit_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x15000);
    uint8_t code[3 * 20 + 1];
    for (unsigned k = 0; k < 20; k++)
        memcpy(code + 3 * k, "\x48\xFF\xC0", 3); /* inc rax */
    code[60] = 0xF4;
    put(m, 0x15000, code, sizeof code);
    return m;
}

static void test_limit_in_middle_of_block(void **state)
{
    (void)state;
    for (enum cpu_engine e = ENGINE_STEP; e <= ENGINE_JIT; e++) {
        if (e == ENGINE_JIT && !jit_supported())
            break;
        struct machine *m = limit_program(e);
        cpu_run(m->cpu, 7);
        assert_int_equal(m->stop, STOP_INSN_LIMIT);
        assert_int_equal(m->cpu->gpr[RAX], 7);
        assert_int_equal(m->cpu->rip, 0x15000 + 3 * 7);
        m->stop = STOP_NONE;
        m->cpu->rip = 0x15000;
        cpu_run(m->cpu, 7 + 5);
        assert_int_equal(m->cpu->gpr[RAX], 12);
        assert_int_equal(m->cpu->rip, 0x15000 + 3 * 5);
        assert_int_equal(m->cpu->insns, 12);
        assert_int_equal(m->cpu->cycles, 12);
        machine_destroy(m);
    }
}

/* More blocks than the block cache's first arena holds (64 KiB, about
 * 300 blocks of two records): 2000 blocks of `add rax, 1; jmp +2`, run
 * three times, so that the arena fills, starts over larger (block.c)
 * and serves its blocks again. RAX counts every block that ran. */
enum { MANY_BLOCKS = 2000, MANY_CODE = 0x20000, MANY_ROUNDS = 3 };

static struct machine *many_blocks_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, MANY_CODE);
    static const uint8_t block[8] = {0x48, 0x83, 0xC0, 0x01, /* add rax, 1 */
                                     0xEB, 0x02,             /* jmp +2 */
                                     0x90, 0x90};
    for (unsigned k = 0; k < MANY_BLOCKS; k++)
        put(m, MANY_CODE + 8 * k, block, sizeof block);
    uint64_t end = MANY_CODE + 8 * MANY_BLOCKS;
    int32_t back = (int32_t)(MANY_CODE - (end + 8)); /* from after the jnz */
    uint8_t tail[9] = {0xFF, 0xC9, /* dec ecx */
                       0x0F, 0x85, 0, 0, 0, 0, /* jnz MANY_CODE */
                       0xF4}; /* hlt */
    memcpy(tail + 4, &back, 4);
    put(m, end, tail, sizeof tail);
    m->cpu->gpr[RCX] = MANY_ROUNDS;
    return m;
}

static void test_many_blocks_grow_the_arena(void **state)
{
    (void)state;
    struct outcome s = run(many_blocks_program(ENGINE_STEP), 0);
    struct outcome b = run(many_blocks_program(tested), 0);
    assert_int_equal(s.rax, MANY_BLOCKS * MANY_ROUNDS);
    assert_int_equal(s.rcx, 0);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* Direct chaining (cpu/block.c): a block that jumps to a block linked
 * to it before. Five rounds of A -> B; in the last, A patches the
 * immediate of B's MOV EAX before jumping there, so B must run the new
 * bytes, not the linked block: EDX = 4 x 1 + 7. */
static struct machine *smc_chain_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x17000);
    static const uint8_t a[] = {
        0xB9, 0x05, 0x00, 0x00, 0x00, /* mov ecx, 5 */
        0x31, 0xD2,                   /* xor edx, edx */
        0x83, 0xF9, 0x01,             /* A: cmp ecx, 1 */
        0x75, 0x08,                   /* jne skip */
        0xC6, 0x04, 0x25, 0x01, 0x80, 0x01, 0x00, 0x07, /* mov byte [0x18001], 7 */
        0xE9, 0xE7, 0x0F, 0x00, 0x00, /* skip: jmp 0x18000 */
    };
    static const uint8_t b[] = {
        0xB8, 0x01, 0x00, 0x00, 0x00,       /* mov eax, 1 */
        0x01, 0xC2,                         /* add edx, eax */
        0xFF, 0xC9,                         /* dec ecx */
        0x0F, 0x85, 0xF8, 0xEF, 0xFF, 0xFF, /* jnz A (0x17007) */
        0xF4,                               /* hlt */
    };
    put(m, 0x17000, a, sizeof a);
    put(m, 0x18000, b, sizeof b);
    return m;
}

static void test_smc_in_chained_block(void **state)
{
    (void)state;
    struct outcome s = run(smc_chain_program(ENGINE_STEP), 0);
    struct outcome b = run(smc_chain_program(tested), 0);
    assert_int_equal(s.rdx, 4 + 7);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* MOV ECX, 10, then a loop of INC RAX; DEC ECX; JNZ (one block chained
 * to itself) and HLT: 32 steps. Every limit from 1 to 31 stops at the
 * same instruction on both engines, with (L + 1) / 3 INCs done. */
static struct machine *loop_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x19000);
    static const uint8_t code[] = {
        0xB9, 0x0A, 0x00, 0x00, 0x00, /* mov ecx, 10 */
        0x48, 0xFF, 0xC0,             /* loop: inc rax */
        0xFF, 0xC9,                   /* dec ecx */
        0x75, 0xF9,                   /* jnz loop */
        0xF4,                         /* hlt */
    };
    put(m, 0x19000, code, sizeof code);
    return m;
}

static void test_limit_in_chain(void **state)
{
    (void)state;
    for (uint64_t limit = 1; limit < 32; limit++) {
        struct outcome s = run(loop_program(ENGINE_STEP), limit);
        struct outcome b = run(loop_program(tested), limit);
        assert_int_equal(s.stop, STOP_INSN_LIMIT);
        assert_int_equal(s.rax, (limit + 1) / 3);
        assert_int_equal(s.insns, limit);
        assert_same(&s, &b);
    }
    struct outcome s = run(loop_program(ENGINE_STEP), 0);
    struct outcome b = run(loop_program(tested), 0);
    assert_int_equal(s.rax, 10);
    assert_int_equal(s.insns, 32);
    assert_same(&s, &b);
}

/* The LAPIC timer fires in the middle of a chain of loop iterations
 * (STI; NOP; MOV ECX, 100; loop INC RAX, DEC ECX, JNZ; HLT): the
 * handler sees the step engine's count of INCs. */
static struct machine *timer_loop_program(enum cpu_engine e, uint32_t count)
{
    struct machine *m = machine_at(e, 0x1A000);
    static const uint8_t code[] = {
        0xFB, 0x90,                   /* sti; nop */
        0xB9, 0x64, 0x00, 0x00, 0x00, /* mov ecx, 100 */
        0x48, 0xFF, 0xC0,             /* loop: inc rax */
        0xFF, 0xC9,                   /* dec ecx */
        0x75, 0xF9,                   /* jnz loop */
        0xF4,                         /* hlt */
    };
    put(m, 0x1A000, code, sizeof code);
    arm_timer(m, count);
    return m;
}

static void test_interrupt_in_chain(void **state)
{
    (void)state;
    for (uint32_t count = 20; count < 26; count++) {
        struct outcome s = run(timer_loop_program(ENGINE_STEP, count), 0);
        struct outcome b = run(timer_loop_program(tested, count), 0);
        assert_true(s.rbx > 3 && s.rbx < 100);
        assert_int_equal(s.rip, HANDLERS + 16 * TIMER_VECTOR + 4);
        assert_same(&s, &b);
    }
}

/* A loop that is one run of templates (ADD, CMP, JNE on the host's
 * flags: the JIT runs it again without leaving run_records), 1000
 * rounds of 3 instructions: the instruction limit at counts in the
 * middle and at the end of the loop, and the LAPIC timer at cycles in
 * the middle of it (the handler copies RAX to RBX), must stop it where
 * the step engine stops. */
static struct machine *native_loop_program(enum cpu_engine e, uint32_t timer)
{
    struct machine *m = machine_at(e, 0x1E000);
    static const uint8_t code[] = {
        0xFB,                                     /* sti */
        0xB9, 0xE8, 0x03, 0x00, 0x00,             /* mov ecx, 1000 */
        0x48, 0x83, 0xC0, 0x01,                   /* loop: add rax, 1 */
        0x48, 0x39, 0xC8,                         /* cmp rax, rcx */
        0x75, 0xF7,                               /* jne loop */
        0xF4,                                     /* hlt */
    };
    put(m, 0x1E000, code, sizeof code);
    if (timer)
        arm_timer(m, timer);
    return m;
}

static void test_native_loop(void **state)
{
    (void)state;
    static const uint64_t limits[] = {3, 4, 5, 1000, 1001, 1002, 2999,
                                      3000, 3001, 3002, 3003, 0};
    for (unsigned k = 0; k < sizeof limits / sizeof *limits; k++) {
        struct outcome s = run(native_loop_program(ENGINE_STEP, 0),
                               limits[k]);
        struct outcome b = run(native_loop_program(tested, 0), limits[k]);
        if (!limits[k]) {
            assert_int_equal(s.rax, 1000);
            assert_int_equal(s.stop, STOP_HALTED);
        }
        assert_same(&s, &b);
    }
    for (uint32_t timer = 600; timer < 606; timer++) {
        struct outcome s = run(native_loop_program(ENGINE_STEP, timer), 0);
        struct outcome b = run(native_loop_program(tested, timer), 0);
        assert_true(s.rbx > 100 && s.rbx < 1000);
        assert_same(&s, &b);
    }
}

/* A link whose target page is remapped: X jumps to linear 0x1C000
 * (physical 0x1C000: MOV EAX, 1), which jumps back to R; R adds EAX to
 * EBX, goes round again while EBX < 2 (the first fetch at 0x1C000 misses
 * the TLB and is stepped; the second round links X to it), then maps
 * 0x1C000 to physical 0x1D000 (MOV EAX, 2) with a PTE write and INVLPG
 * and jumps to X: X's link, made under the old translation, must not be
 * followed. EBX = 1 + 1 + 2. */
static struct machine *remapped_link_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x1B000);
    static const uint8_t code[] = {
        0x90,                         /* nop: X starts a block */
        0xE9, 0xFA, 0x0F, 0x00, 0x00, /* X: jmp 0x1C000 (EBX is 0) */
        0x01, 0xC3,                   /* R: add ebx, eax */
        0x83, 0xFB, 0x02,             /* cmp ebx, 2 */
        0x72, 0xF4,                   /* jb X */
        0x77, 0x19,                   /* ja done */
        0x48, 0xC7, 0xC0, 0x03, 0xD0, 0x01, 0x00, /* mov rax, 0x1D003 */
        0x48, 0x89, 0x04, 0x25, 0xE0, 0x60, 0x00, 0x00, /* mov [0x60E0], rax */
        0x0F, 0x01, 0x3C, 0x25, 0x00, 0xC0, 0x01, 0x00, /* invlpg [0x1C000] */
        0xEB, 0xD9,                   /* jmp X */
        0xF4,                         /* done: hlt */
    };
    static const uint8_t one[] = {0xB8, 0x01, 0x00, 0x00, 0x00, /* mov eax, 1 */
                                  0xE9, 0xFC, 0xEF, 0xFF, 0xFF}; /* jmp R */
    static const uint8_t two[] = {0xB8, 0x02, 0x00, 0x00, 0x00, /* mov eax, 2 */
                                  0xE9, 0xFC, 0xEF, 0xFF, 0xFF}; /* jmp R */
    put(m, 0x1B000, code, sizeof code);
    put(m, 0x1C000, one, sizeof one);
    put(m, 0x1D000, two, sizeof two);
    return m;
}

static void test_link_to_remapped_page(void **state)
{
    (void)state;
    struct outcome s = run(remapped_link_program(ENGINE_STEP), 0);
    struct outcome b = run(remapped_link_program(tested), 0);
    assert_int_equal(s.rbx, 1 + 1 + 2);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* Blocks and links found again after a TLB flush (block.c code_at):
 * each round calls linear 0x25000 and adds what it returns to EBX, then
 * MOV to CR3 switches between the rig's tables (A: 0x25000 maps to
 * itself, MOV EAX, 1) and a copy at 0x20000 (B: to 0x26000, MOV EAX,
 * 2). Each flush is refilled from the walk cache, and the call's link
 * and the linear slot at 0x25000, made under the other tables, are
 * followed only where the RIP still translates to their physical page.
 * EBX = 1 + 2 + 1 + 2 + 1 + 2. */
static struct machine *cr3_switch_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x24000);
    static const uint8_t code[] = {
        0xB9, 0x06, 0x00, 0x00, 0x00,             /* mov ecx, 6 */
        0xE8, 0xF6, 0x0F, 0x00, 0x00,             /* loop: call 0x25000 */
        0x01, 0xC3,                               /* add ebx, eax */
        0x0F, 0x20, 0xD8,                         /* mov rax, cr3 */
        0x48, 0x35, 0x00, 0x10, 0x02, 0x00,       /* xor rax, 0x21000 */
        0x0F, 0x22, 0xD8,                         /* mov cr3, rax */
        0xFF, 0xC9,                               /* dec ecx */
        0x75, 0xE9,                               /* jnz loop */
        0xF4,                                     /* hlt */
    };
    static const uint8_t one[] = {0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3};
    static const uint8_t two[] = {0xB8, 0x02, 0x00, 0x00, 0x00, 0xC3};
    put(m, 0x24000, code, sizeof code);
    put(m, 0x25000, one, sizeof one);
    put(m, 0x26000, two, sizeof two);
    put64(m, 0x20000, 0x21000 | 3);
    put64(m, 0x21000, 0x22000 | 3);
    put64(m, 0x22000, 0x23000 | 3);
    memcpy(m->ram + 0x23000, m->ram + PT, 4096);
    put64(m, 0x23000 + 8 * 0x25, 0x26000 | 3);
    return m;
}

static void test_found_again_after_flush(void **state)
{
    (void)state;
    struct outcome s = run(cr3_switch_program(ENGINE_STEP), 0);
    struct machine *m = cr3_switch_program(tested);
    struct outcome b = run_keep(m, 0);
    assert_true(m->cpu->walks.hits > 0);
    machine_destroy(m);
    assert_int_equal(s.rbx, 9);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* The modeled TLB's data side in a chain (ops.h charge_data): loads
 * from two pages, INVLPG of one of them between them, six rounds. Both
 * engines must count the same hits, STLB hits and misses. */
static struct machine *data_hint_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x1E000);
    static const uint8_t code[] = {
        0xB9, 0x06, 0x00, 0x00, 0x00,             /* mov ecx, 6 */
        0x8B, 0x04, 0x25, 0x00, 0x00, 0x03, 0x00, /* loop: mov eax, [0x30000] */
        0x8B, 0x1C, 0x25, 0x00, 0x10, 0x03, 0x00, /* mov ebx, [0x31000] */
        0x0F, 0x01, 0x3C, 0x25, 0x00, 0x00, 0x03, 0x00, /* invlpg [0x30000] */
        0x8B, 0x14, 0x25, 0x08, 0x00, 0x03, 0x00, /* mov edx, [0x30008] */
        0xFF, 0xC9,                               /* dec ecx */
        0x75, 0xDF,                               /* jnz loop */
        0xF4,                                     /* hlt */
    };
    put(m, 0x1E000, code, sizeof code);
    put64(m, 0x30000, 0x1111);
    put64(m, 0x30008, 0x3333);
    put64(m, 0x31000, 0x2222);
    return m;
}

static void test_modeled_tlb_in_chain(void **state)
{
    (void)state;
    struct outcome s = run(data_hint_program(ENGINE_STEP), 0);
    struct outcome b = run(data_hint_program(tested), 0);
    assert_int_equal(s.rax, 0x1111);
    assert_int_equal(s.rbx, 0x2222);
    assert_int_equal(s.rdx, 0x3333);
    assert_int_equal(s.insns, 1 + 6 * 6 + 1);
    /* Each round's load after the INVLPG misses both levels. */
    assert_true(s.tlb.misses >= 6);
    assert_same(&s, &b);
}

/* A REP STOSB paused between iterations by the LAPIC timer; its handler
 * sets TF and runs LODSB, on which DR0 holds an instruction breakpoint.
 * The breakpoint is a #DB fault before LODSB (SDM Vol. 3B 18.3.1.1):
 * DR6.B0, no single-step (BS: LODSB never ran), one frame. The pause
 * of the other instruction must not make LODSB look like a paused REP
 * string (cpu.h string_paused), whose single-step trap would be taken
 * as well. */
enum { LODSB_AT = HANDLERS + 16 * TIMER_VECTOR + 10 };

static struct machine *paused_string_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x17000);
    static const uint8_t code[] = {
        0x48, 0xB8, LODSB_AT & 0xFF, LODSB_AT >> 8, 0, 0, 0, 0, 0, 0,
        0x0F, 0x23, 0xC0,             /* mov dr0, rax */
        0xB8, 1, 0, 0, 0,             /* mov eax, 1 */
        0x0F, 0x23, 0xF8,             /* mov dr7, rax: L0, execute */
        0xB9, 0xA0, 0x86, 0x01, 0x00, /* mov ecx, 100000 */
        0xBF, 0x00, 0x00, 0x04, 0x00, /* mov edi, 0x40000 */
        0x31, 0xC0,                   /* xor eax, eax */
        0xFB, 0x90,                   /* sti; nop */
        0xF3, 0xAA,                   /* rep stosb */
        0xF4};
    put(m, 0x17000, code, sizeof code);
    static const uint8_t handler[] = {
        0x9C,                                           /* pushfq */
        0x48, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00, /* or [rsp], TF */
        0x9D,                                           /* popfq */
        0xAC,                                           /* lodsb */
        0xF4};
    put(m, HANDLERS + 16 * TIMER_VECTOR, handler, sizeof handler);
    arm_timer(m, 200);
    return m;
}

static void test_breakpoint_after_paused_string(void **state)
{
    (void)state;
    const enum cpu_engine engines[] = {ENGINE_STEP, ENGINE_BLOCK, ENGINE_JIT};
    for (unsigned k = 0; k < (jit_supported() ? 3u : 2u); k++) {
        struct machine *m = paused_string_program(engines[k]);
        struct cpu *c = m->cpu;
        cpu_run(c, 0);
        /* Halted in the #DB handler (vector 1), the STOSB unfinished. */
        assert_int_equal(c->rip, HANDLERS + 16 + 1);
        assert_true(c->gpr[RCX] > 0 && c->gpr[RCX] < 100000);
        assert_int_equal(c->dr[6] & (DR6_B0_B3 | DR6_BS), 1);
        /* The timer's frame at 0x7FFD8 (64-bit frames are 16-aligned),
         * under it the #DB fault's, whose RIP is LODSB's. */
        assert_int_equal(c->gpr[RSP], 0x7FFD0 - 40);
        uint64_t pushed;
        memcpy(&pushed, m->ram + c->gpr[RSP], 8);
        assert_int_equal(pushed, LODSB_AT);
        machine_destroy(m);
    }
}

/* ---- flag liveness (cpu/block.c mark_runs) ------------------------------ */

/* A handler for `vector` that keeps what the CPU pushed: RSI = RFLAGS,
 * RDI = RIP of the frame (SDM Vol. 3A 7.14.2; `error` bytes of error
 * code below them), then halts. */
static void frame_handler(struct machine *m, unsigned vector, uint8_t error)
{
    const uint8_t code[] = {
        0x48, 0x8B, 0x74, 0x24, (uint8_t)(error + 16), /* mov rsi, [rsp+16+e] */
        0x48, 0x8B, 0x7C, 0x24, error,                 /* mov rdi, [rsp+e] */
        0xF4,                                          /* hlt */
    };
    put(m, HANDLERS + 16 * vector, code, sizeof code);
}

/* STI; NOP; then PAIRS x (ADD RAX, RCX; XOR RDX, RBX); HLT, with RAX = 100,
 * RCX = -1, RDX = 0, RBX = 1. Each ADD's flags are dead (the XOR after it
 * writes all six) and so are the XOR's but the last (the next ADD does):
 * in a run all but the last record leave RFLAGS alone. ADD sets CF (RAX
 * stays above 0), XOR clears it, so CF says which of the two ran last:
 * an interrupt or the instruction limit between them must see it so. */
enum { PAIRS = 12, PAIRS_CODE = 0x24000 };

static struct machine *pairs_program(enum cpu_engine e, uint32_t timer)
{
    struct machine *m = machine_at(e, PAIRS_CODE);
    uint8_t code[2 + 6 * PAIRS + 1];
    code[0] = 0xFB; /* sti */
    code[1] = 0x90; /* nop, in STI's shadow */
    for (unsigned k = 0; k < PAIRS; k++)
        memcpy(code + 2 + 6 * k, "\x48\x01\xC8\x48\x31\xDA", 6);
    code[2 + 6 * PAIRS] = 0xF4;
    put(m, PAIRS_CODE, code, sizeof code);
    frame_handler(m, TIMER_VECTOR, 0);
    struct cpu *c = m->cpu;
    c->gpr[RAX] = 100;
    c->gpr[RCX] = ~0ull;
    c->gpr[RBX] = 1;
    if (timer)
        arm_timer(m, timer);
    return m;
}

/* RFLAGS after the instruction ending at PAIRS_CODE + `end` (past the
 * STI and NOP), worked out by hand: after the k-th ADD, RAX = 100 - k,
 * CF = 1, AF = 1 unless the low nibble of RAX went from 0 to F, PF from
 * the low byte; after the k-th XOR, RDX = k & 1: ZF = PF = !(k & 1). */
static uint64_t pairs_rflags(uint64_t end, bool interrupts)
{
    uint64_t done = (end - 2) / 3; /* instructions of the pairs retired */
    uint64_t f = 0x2 | (interrupts ? FL_IF : 0);
    if (done % 2) {
        uint64_t rax = 100 - (done + 1) / 2, before = rax + 1;
        f |= FL_CF;
        f |= (before & 0xF) != 0 ? FL_AF : 0;
        f |= __builtin_parity((unsigned)(rax & 0xFF)) ? 0 : FL_PF;
    } else if (done) {
        f |= (done / 2) % 2 ? 0 : FL_ZF | FL_PF;
    }
    return f;
}

static void test_flags_at_interrupt_in_run(void **state)
{
    (void)state;
    for (uint32_t timer = 3; timer < 2 * PAIRS; timer++) {
        struct outcome s = run(pairs_program(ENGINE_STEP, timer), 0);
        struct outcome b = run(pairs_program(tested, timer), 0);
        assert_int_equal(s.rip, HANDLERS + 16 * TIMER_VECTOR + 11);
        assert_true(s.rdi >= PAIRS_CODE + 2 &&
                    s.rdi <= PAIRS_CODE + 2 + 6 * PAIRS);
        assert_int_equal(s.rsi, pairs_rflags(s.rdi - PAIRS_CODE, true));
        assert_same(&s, &b);
    }
}

static void test_flags_at_limit_in_run(void **state)
{
    (void)state;
    for (uint64_t limit = 3; limit <= 2 + 2 * PAIRS; limit++) {
        struct outcome s = run(pairs_program(ENGINE_STEP, 0), limit);
        struct outcome b = run(pairs_program(tested, 0), limit);
        assert_int_equal(s.stop, STOP_INSN_LIMIT);
        assert_int_equal(s.rip, PAIRS_CODE + 2 + 3 * (limit - 2));
        assert_int_equal(s.rflags, pairs_rflags(s.rip - PAIRS_CODE, true));
        assert_same(&s, &b);
    }
}

/* NOP; NOP; ADD RAX, RCX; MOV [RBP], RAX (RBP not mapped: #PF); XOR RDX,
 * RBX. The
 * store can fault, so the ADD's flags are live across it and the #PF
 * frame holds them: 5 + -1 = 4, CF = 1, AF = 1 (5 + F carries out of
 * bit 3), PF = 0 (4 has one bit set), ZF = SF = OF = 0; and RF = 1, as
 * in the frame of every fault (SDM Vol. 3A 18.3.1.1). */
static struct machine *fault_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x25000);
    static const uint8_t code[] = {
        0x90,                   /* nop: the block starts after it */
        0x90,                   /* nop: the ADD's fetch is known to hit */
        0x48, 0x01, 0xC8,       /* add rax, rcx */
        0x48, 0x89, 0x45, 0x00, /* mov [rbp], rax */
        0x48, 0x31, 0xDA,       /* xor rdx, rbx */
        0xF4,                   /* hlt */
    };
    put(m, 0x25000, code, sizeof code);
    frame_handler(m, VEC_PF, 8);
    struct cpu *c = m->cpu;
    c->gpr[RAX] = 5;
    c->gpr[RCX] = ~0ull;
    c->gpr[RBX] = 1;
    c->gpr[RBP] = 1ull << 30; /* no PDPT entry */
    return m;
}

static void test_flags_in_fault_frame(void **state)
{
    (void)state;
    for (unsigned round = 0; round < 2; round++) {
        struct outcome s = run(fault_program(ENGINE_STEP), 0);
        struct outcome b = run(fault_program(tested), 0);
        assert_int_equal(s.rdi, 0x25005);
        assert_int_equal(s.rsi, 0x2 | FL_CF | FL_AF | FL_RF);
        assert_int_equal(s.rdx, 0); /* the XOR did not run */
        assert_same(&s, &b);
    }
}

/* A Jcc that ends a run and faults: ADD EAX, 1; CMP EAX, 1; JE to a
 * non-canonical target (#GP(0) at the JE, SDM Vol. 2A "Jcc"), in the last
 * page below the canonical hole (PML4 255, PDPT 511, PD 511, PT 511,
 * mapped here to physical 0x26000). The frame holds the JE's RIP and the
 * CMP's flags (ZF = PF = 1) with RF = 1, as for every fault. */
enum { TOP_PAGE = 0x7FFFFFFFF000ull, TOP_PHYS = 0x26000 };

static struct machine *jcc_fault_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, TOP_PAGE + 0xFE0);
    put64(m, PML4 + 8 * 255, 0x7000 | 3);
    put64(m, 0x7000 + 8 * 511, 0x8000 | 3);
    put64(m, 0x8000 + 8 * 511, 0xA000 | 3);
    put64(m, 0xA000 + 8 * 511, TOP_PHYS | 3);
    static const uint8_t code[] = {
        0x83, 0xC0, 0x01, /* add eax, 1 */
        0x83, 0xF8, 0x01, /* cmp eax, 1 */
        0x74, 0x7F,       /* je +0x7F: past 0x7FFFFFFFFFFF */
        0xF4,             /* hlt */
    };
    put(m, TOP_PHYS + 0xFE0, code, sizeof code);
    frame_handler(m, VEC_GP, 8);
    return m;
}

static void test_faulting_jcc_in_run(void **state)
{
    (void)state;
    struct outcome s = run(jcc_fault_program(ENGINE_STEP), 0);
    struct outcome b = run(jcc_fault_program(tested), 0);
    assert_int_equal(s.rdi, TOP_PAGE + 0xFE6);
    assert_int_equal(s.rsi, 0x2 | FL_ZF | FL_PF | FL_RF);
    assert_int_equal(s.rip, HANDLERS + 16 * VEC_GP + 11);
    assert_same(&s, &b);
}

/* REP STOSQ, REP MOVSB and REP LODSD across page boundaries (STOSQ
 * unaligned, so that one element straddles two pages), stopped by the instruction
 * limit at every step of their first iterations and around the page
 * boundaries, or paused by the LAPIC timer at every count up to 40:
 * the run-at-a-time path (cpu/string_fast.c, the block engine) must
 * leave the registers, counts, modeled TLB and memory exactly as the
 * element path (string_fast_off, the step engine) does. */
enum { STR_CODE = 0x18000, STR_DST = 0x40000, STR_SRC = 0x50000 };

enum rep_kind { REP_STOSQ, REP_MOVSB, REP_LODSD, REP_KINDS };

static struct machine *rep_string_program(enum cpu_engine e,
                                          enum rep_kind kind, uint32_t timer)
{
    struct machine *m = machine_at(e, STR_CODE);
    static const uint8_t stos[] = {
        0xB9, 0xD0, 0x07, 0x00, 0x00,       /* mov ecx, 2000 */
        0xBF, 0xF3, 0x0F, 0x04, 0x00,       /* mov edi, 0x40FF3 */
        0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8, /* mov rax, imm64 */
        0xFB, 0x90,                         /* sti; nop */
        0xF3, 0x48, 0xAB,                   /* rep stosq */
        0xF4};
    static const uint8_t movsb[] = {
        0xB9, 0x30, 0x75, 0x00, 0x00, /* mov ecx, 30000 */
        0xBF, 0x10, 0x0F, 0x04, 0x00, /* mov edi, 0x40F10 */
        0xBE, 0x00, 0x08, 0x05, 0x00, /* mov esi, 0x50800 */
        0xFB, 0x90,                   /* sti; nop */
        0xF3, 0xA4,                   /* rep movsb */
        0xF4};
    static const uint8_t lodsd[] = {
        0xB9, 0x00, 0x08, 0x00, 0x00, /* mov ecx, 2048 */
        0xBE, 0x10, 0x0F, 0x05, 0x00, /* mov esi, 0x50F10 */
        0x90,                         /* nop */
        0xFB, 0x90,                   /* sti; nop */
        0xF3, 0xAD,                   /* rep lodsd */
        0xF4};
    static const struct { const uint8_t *code; size_t len; } programs[] = {
        [REP_STOSQ] = {stos, sizeof stos},
        [REP_MOVSB] = {movsb, sizeof movsb},
        [REP_LODSD] = {lodsd, sizeof lodsd}};
    put(m, STR_CODE, programs[kind].code, programs[kind].len);
    for (unsigned k = 0; k < 0x8000; k++)
        m->ram[STR_SRC + k] = (uint8_t)(k * 13 + 1);
    if (timer)
        arm_timer(m, timer);
    return m;
}

static void string_limit_or_timer(enum rep_kind kind, uint64_t limit,
                                  uint32_t timer)
{
    struct machine *ms = rep_string_program(ENGINE_STEP, kind, timer);
    struct machine *mb = rep_string_program(ENGINE_BLOCK, kind, timer);
    ms->cpu->string_fast_off = true;
    mb->cpu->string_fast_off = false;
    struct outcome s = run_keep(ms, limit), b = run_keep(mb, limit);
    assert_same(&s, &b);
    assert_memory_equal(ms->ram + STR_DST, mb->ram + STR_DST, 0x10000);
    machine_destroy(ms);
    machine_destroy(mb);
}

static void test_string_fast_at_limit(void **state)
{
    (void)state;
    /* Five instructions before the string: its iteration k is step 5+k.
     * STOSQ: 1 element before the page at 0x41000, one across it, 510
     * on it; MOVSB: 240 bytes to 0x41000, 2048 from 0x50800; LODSD:
     * 60 dwords to 0x51000. */
    static const uint64_t marks[] = {5, 6, 7, 8, 9, 10, 244, 245, 246, 247,
                                     248, 2053, 2054, 2055, 2056, 2057,
                                     2300, 0};
    for (enum rep_kind kind = 0; kind < REP_KINDS; kind++) {
        for (uint64_t k = 1; k <= 12; k++)
            string_limit_or_timer(kind, k, 0);
        for (unsigned k = 0; k < sizeof marks / sizeof *marks; k++)
            string_limit_or_timer(kind, marks[k], 0);
        for (uint64_t k = 62; k <= 68; k++)
            string_limit_or_timer(kind, k, 0);
    }
}

static void test_string_fast_at_interrupt(void **state)
{
    (void)state;
    for (enum rep_kind kind = 0; kind < REP_KINDS; kind++) {
        for (uint32_t count = 1; count <= 40; count++)
            string_limit_or_timer(kind, 0, count);
        for (uint32_t count = 240; count <= 260; count++)
            string_limit_or_timer(kind, 0, count);
    }
}

/* ---- memory records in native runs (cpu/jit.h, side exits) ------------ */

/* NOP; NOP; ADD EAX, 1; MOV BYTE [RIP+4], 7, which patches the
 * immediate of the MOV EDX further down the same block; ADD ECX, 2;
 * MOV EDX, 1; HLT. In the JIT the store is a side exit in the middle of
 * a native run (its page holds decoded code): it must run through its
 * handler, and the patched MOV must run, with EDX = 7. */
static struct machine *store_in_run_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, 0x27000);
    static const uint8_t code[] = {
        0x90,                                     /* nop */
        0x90,                                     /* nop */
        0x83, 0xC0, 0x01,                         /* add eax, 1 */
        0xC6, 0x05, 0x04, 0x00, 0x00, 0x00, 0x07, /* mov byte [rip+4], 7 */
        0x83, 0xC1, 0x02,                         /* add ecx, 2 */
        0xBA, 0x01, 0x00, 0x00, 0x00,             /* mov edx, 1 (imm at +16) */
        0xF4,                                     /* hlt */
    };
    put(m, 0x27000, code, sizeof code);
    return m;
}

static void test_store_into_running_block(void **state)
{
    (void)state;
    struct outcome s = run(store_in_run_program(ENGINE_STEP), 0);
    struct outcome b = run(store_in_run_program(tested), 0);
    assert_int_equal(s.rax, 1);
    assert_int_equal(s.rcx, 2);
    assert_int_equal(s.rdx, 7);
    assert_int_equal(s.stop, STOP_HALTED);
    assert_same(&s, &b);
}

/* NOP; NOP; then MOV [RSI], ECX (a TLB miss: a side exit) and MOV EAX,
 * [RSI] (a side exit too: the data hint is not yet that page's; its
 * handler makes it so); ADD EAX, 5 and MOV [RSI+8], EAX (native); MOV
 * EBX, [RBP] (RBP not mapped: a side exit, then #PF); XOR RDX, RBX.
 * The frame holds the load's RIP and the ADD's flags (3 + 5 = 8: AF =
 * 0, PF = 0, no other) with RF = 1; the store before it was made:
 * [RSI + 8] = 8. */
enum { MEM_FAULT_CODE = 0x28000, MEM_DATA = 0x30000 };

static struct machine *mem_fault_program(enum cpu_engine e)
{
    struct machine *m = machine_at(e, MEM_FAULT_CODE);
    static const uint8_t code[] = {
        0x90,                   /* nop */
        0x90,                   /* nop */
        0x89, 0x0E,             /* mov [rsi], ecx */
        0x8B, 0x06,             /* mov eax, [rsi] */
        0x83, 0xC0, 0x05,       /* add eax, 5 */
        0x89, 0x46, 0x08,       /* mov [rsi+8], eax */
        0x8B, 0x5D, 0x00,       /* mov ebx, [rbp] */
        0x48, 0x31, 0xDA,       /* xor rdx, rbx */
        0x8B, 0x4E, 0x08,       /* mov ecx, [rsi+8] (never reached) */
        0xF4,                   /* hlt */
    };
    put(m, MEM_FAULT_CODE, code, sizeof code);
    frame_handler(m, VEC_PF, 8);
    struct cpu *c = m->cpu;
    c->gpr[RCX] = 3;
    c->gpr[RSI] = MEM_DATA;
    c->gpr[RBP] = 1ull << 30; /* no PDPT entry */
    return m;
}

static void test_fault_in_middle_of_native_run(void **state)
{
    (void)state;
    struct machine *ms = mem_fault_program(ENGINE_STEP);
    struct machine *mb = mem_fault_program(tested);
    struct outcome s = run_keep(ms, 0), b = run_keep(mb, 0);
    assert_int_equal(s.rdi, MEM_FAULT_CODE + 12);
    assert_int_equal(s.rsi, 0x2 | FL_RF);
    assert_int_equal(s.rax, 8);
    assert_same(&s, &b);
    uint32_t vs, vb;
    memcpy(&vs, ms->ram + MEM_DATA + 8, 4);
    memcpy(&vb, mb->ram + MEM_DATA + 8, 4);
    assert_int_equal(vs, 8);
    assert_int_equal(vb, 8);
    machine_destroy(ms);
    machine_destroy(mb);
}

/* STI; MOV ECX, 0; then 40 rounds of MOV [RSI], ECX; ADD ECX, 1; MOV
 * EAX, [RSI]; ADD RDX, RAX; ADD [RSI+8], EAX; CMP ECX, 40; JNE (a
 * native run with a store, a load and a read-modify-write, which hit
 * the data hint from the second round on); MOV EDI, [RSI+8]; HLT. RDX
 * = RDI = 0 + 1 + ... + 39. The instruction limit at every count over
 * the first rounds and the LAPIC timer at every cycle over them (its
 * handler copies RAX to RBX) must stop it where the step engine
 * stops. */
static struct machine *mem_loop_program(enum cpu_engine e, uint32_t timer)
{
    struct machine *m = machine_at(e, 0x29000);
    static const uint8_t code[] = {
        0xFB,                         /* sti */
        0xB9, 0x00, 0x00, 0x00, 0x00, /* mov ecx, 0 */
        0x89, 0x0E,                   /* loop: mov [rsi], ecx */
        0x83, 0xC1, 0x01,             /* add ecx, 1 */
        0x8B, 0x06,                   /* mov eax, [rsi] */
        0x48, 0x01, 0xC2,             /* add rdx, rax */
        0x01, 0x46, 0x08,             /* add [rsi+8], eax */
        0x83, 0xF9, 0x28,             /* cmp ecx, 40 */
        0x75, 0xEE,                   /* jne loop */
        0x8B, 0x7E, 0x08,             /* mov edi, [rsi+8] */
        0xF4,                         /* hlt */
    };
    put(m, 0x29000, code, sizeof code);
    m->cpu->gpr[RSI] = MEM_DATA;
    if (timer)
        arm_timer(m, timer);
    return m;
}

/* `program` (made for an engine, with its timer armed at a count or
 * not at 0) stopped by the instruction limit at every count up to
 * `counts` and by the timer at every cycle up to it, on the tested
 * engine as on the step engine. */
typedef struct machine *(*timed_program)(enum cpu_engine e, uint32_t timer);

static void compare_stops(timed_program program, unsigned counts)
{
    for (uint64_t limit = 1; limit <= counts; limit++) {
        struct outcome s = run(program(ENGINE_STEP, 0), limit);
        struct outcome b = run(program(tested, 0), limit);
        assert_same(&s, &b);
    }
    for (uint32_t timer = 1; timer <= counts; timer++) {
        struct outcome s = run(program(ENGINE_STEP, timer), 0);
        struct outcome b = run(program(tested, timer), 0);
        assert_same(&s, &b);
    }
}

static void test_native_memory_loop(void **state)
{
    (void)state;
    struct outcome s = run(mem_loop_program(ENGINE_STEP, 0), 0);
    struct outcome b = run(mem_loop_program(tested, 0), 0);
    assert_int_equal(s.rdx, 39 * 40 / 2);
    assert_int_equal(s.rdi, 39 * 40 / 2);
    assert_int_equal(s.insns, 2 + 40 * 7 + 2);
    assert_same(&s, &b);
    s = run(mem_loop_program(ENGINE_STEP, 80), 0);
    assert_int_equal(s.rip, HANDLERS + 16 * TIMER_VECTOR + 4);
    compare_stops(mem_loop_program, 80);
}

/* STI; MOV ECX, 0; then rounds of MOV [RSI], ECX; ADD RSI, 0x400;
 * ADD ECX, 1; CMP ECX, 40; JNE, from RSI = 2 MiB - 9 * 0x400: the first
 * two stores on each page side-exit (the first misses the host TLB,
 * and its slow path leaves the data hint on the page before; the
 * second sets it), with --engine jit the third loops natively into the
 * fourth and the next page's first store side-exits inside that
 * native loop; the tenth store meets an unmapped page: #PF, whose
 * handler takes the faulting RIP into RDI and RFLAGS into RSI. The limit at every count and the
 * timer at every cycle must stop it where the step engine stops. */
enum { WALK_CODE = 0x2C000 };

static struct machine *walk_program(enum cpu_engine e, uint32_t timer)
{
    struct machine *m = machine_at(e, WALK_CODE);
    static const uint8_t code[] = {
        0xFB,                                     /* sti */
        0xB9, 0x00, 0x00, 0x00, 0x00,             /* mov ecx, 0 */
        0x89, 0x0E,                               /* loop: mov [rsi], ecx */
        0x48, 0x81, 0xC6, 0x00, 0x04, 0x00, 0x00, /* add rsi, 0x400 */
        0x83, 0xC1, 0x01,                         /* add ecx, 1 */
        0x83, 0xF9, 0x28,                         /* cmp ecx, 40 */
        0x75, 0xEF,                               /* jne loop */
        0x89, 0xCF,                               /* mov edi, ecx */
        0xF4,                                     /* hlt */
    };
    put(m, WALK_CODE, code, sizeof code);
    frame_handler(m, VEC_PF, 8);
    m->cpu->gpr[RSI] = 0x200000 - 9 * 0x400;
    if (timer)
        arm_timer(m, timer);
    return m;
}

static void test_fault_in_native_loop(void **state)
{
    (void)state;
    struct outcome s = run(walk_program(ENGINE_STEP, 0), 0);
    struct outcome b = run(walk_program(tested, 0), 0);
    assert_int_equal(s.rcx, 9);
    assert_int_equal(s.rdi, WALK_CODE + 6);
    assert_int_equal(s.rip, HANDLERS + 16 * VEC_PF + 11);
    assert_same(&s, &b);
    compare_stops(walk_program, 56);
}

/* memwalk's loop in small: STI; ECX = 0, ESI = 7, R8D = MEM_DATA; then
 * 40 rounds of EAX = ECX * 5 + 3; XOR EDX, EDX; DIV RSI (64 bits:
 * written out by the JIT); RDX = R8 + the remainder x 4 KiB; MOV RAX,
 * [RDX]; ADD RBX, RAX; ADD ECX, 1; CMP ECX, 40; JNE: every round reads
 * another of 7 pages, the first time of each a host TLB miss and a
 * walk, then a modeled TLB lookup away from the data hint, which the
 * JIT runs through step_record() and goes on natively; then EDX = X,
 * EDI = Y and DIV EDI (32 bits) after the loop's Jcc in the same
 * native run: with X = Y = 0 a zero divisor, with X = Y = 1 a quotient
 * that does not fit, #DE either way at that DIV, whose handler takes
 * its RIP into RDI and RFLAGS into RSI. The limit at every count and
 * the timer at every cycle over the first rounds against the step
 * engine. */
enum { DIV_CODE = 0x2E000, DIV_LOOP_ROUNDS = 40 };

static struct machine *div_walk_program(enum cpu_engine e, uint32_t timer,
                                        uint32_t x)
{
    struct machine *m = machine_at(e, DIV_CODE);
    const uint8_t code[] = {
        0xFB,                               /* sti */
        0xB9, 0x00, 0x00, 0x00, 0x00,       /* mov ecx, 0 */
        0xBE, 0x07, 0x00, 0x00, 0x00,       /* mov esi, 7 */
        0x41, 0xB8, 0x00, 0x00, 0x03, 0x00, /* mov r8d, MEM_DATA */
        0x89, 0xC8,                         /* loop: mov eax, ecx */
        0x6B, 0xC0, 0x05,                   /* imul eax, eax, 5 */
        0x83, 0xC0, 0x03,                   /* add eax, 3 */
        0x31, 0xD2,                         /* xor edx, edx */
        0x48, 0xF7, 0xF6,                   /* div rsi */
        0x48, 0xC1, 0xE2, 0x0C,             /* shl rdx, 12 */
        0x4C, 0x01, 0xC2,                   /* add rdx, r8 */
        0x48, 0x8B, 0x02,                   /* mov rax, [rdx] */
        0x48, 0x01, 0xC3,                   /* add rbx, rax */
        0x83, 0xC1, 0x01,                   /* add ecx, 1 */
        0x83, 0xF9, DIV_LOOP_ROUNDS,        /* cmp ecx, 40 */
        0x75, 0xDE,                         /* jne loop */
        0xBA, (uint8_t)x, 0x00, 0x00, 0x00, /* mov edx, x */
        0xBF, (uint8_t)x, 0x00, 0x00, 0x00, /* mov edi, x */
        0xF7, 0xF7,                         /* div edi (at +61) */
        0xF4,                               /* hlt */
    };
    _Static_assert(MEM_DATA == 0x30000, "the MOV R8D above");
    put(m, DIV_CODE, code, sizeof code);
    for (uint64_t p = 0; p < 7; p++)
        put64(m, MEM_DATA + 0x1000 * p, (p + 1) * 0x1111);
    frame_handler(m, VEC_DE, 0);
    if (timer)
        arm_timer(m, timer);
    return m;
}

static struct machine *div_zero_program(enum cpu_engine e, uint32_t timer)
{
    return div_walk_program(e, timer, 0);
}

static struct machine *div_overflow_program(enum cpu_engine e,
                                            uint32_t timer)
{
    return div_walk_program(e, timer, 1);
}

static void test_div_and_walks_in_native_loop(void **state)
{
    (void)state;
    uint64_t sum = 0;
    for (uint64_t k = 0; k < DIV_LOOP_ROUNDS; k++)
        sum += ((5 * k + 3) % 7 + 1) * 0x1111;
    static const timed_program programs[] = {div_zero_program,
                                             div_overflow_program};
    for (unsigned p = 0; p < 2; p++) {
        struct outcome s = run(programs[p](ENGINE_STEP, 0), 0);
        struct outcome b = run(programs[p](tested, 0), 0);
        assert_int_equal(s.rbx, sum);
        assert_int_equal(s.rcx, DIV_LOOP_ROUNDS);
        assert_int_equal(s.rdi, DIV_CODE + 61);
        assert_int_equal(s.rip, HANDLERS + 16 * VEC_DE + 11);
        assert_int_equal(s.stop, STOP_HALTED);
        assert_same(&s, &b);
        compare_stops(programs[p], 160);
    }
}

/* A loop at 0x2B040 whose store walks up by 16 from 0x2AFB8: rounds 1-5
 * store on the page below (the first a side exit, the rest in a native
 * loop with --engine jit), rounds 6-9 on the loop's own page, each a
 * write to a page holding decoded code (a side exit, then the blocks
 * are dropped), and round 10 rewrites the immediate of the ADD EDX
 * after it, in the same block: EDX = 9 x 1 + 9. */
enum { SMC_LOOP_PAGE = 0x2B000 };

static struct machine *smc_loop_program(enum cpu_engine e, uint32_t timer)
{
    struct machine *m = machine_at(e, SMC_LOOP_PAGE + 0x40);
    static const uint8_t code[] = {
        0x89, 0x0E,                         /* loop: mov [rsi], ecx */
        0x48, 0x83, 0xC6, 0x10,             /* add rsi, 16 */
        0x81, 0xC2, 0x01, 0x00, 0x00, 0x00, /* add edx, 1 (imm at +0x48) */
        0x83, 0xC1, 0x01,                   /* add ecx, 1 */
        0x83, 0xF9, 0x0A,                   /* cmp ecx, 10 */
        0x75, 0xEC,                         /* jne loop */
        0xF4,                               /* hlt */
    };
    put(m, SMC_LOOP_PAGE + 0x40, code, sizeof code);
    m->cpu->gpr[RSI] = SMC_LOOP_PAGE + 0x48 - 9 * 16;
    if (timer) {
        m->cpu->flags.bits |= FL_IF;
        arm_timer(m, timer);
    }
    return m;
}

static void test_smc_in_native_loop(void **state)
{
    (void)state;
    struct outcome s = run(smc_loop_program(ENGINE_STEP, 0), 0);
    struct outcome b = run(smc_loop_program(tested, 0), 0);
    assert_int_equal(s.rcx, 10);
    assert_int_equal(s.rdx, 9 + 9);
    assert_same(&s, &b);
    compare_stops(smc_loop_program, 62);
}

/* Two loops whose Jcc back to the block's start is in the middle of
 * the block (the straight line goes on past it, into the second loop's
 * code): with --engine jit a native run goes on past a Jcc that does
 * not branch and loops at one that branches to its start. The first
 * Jcc tests the host's flags (right after CMP), the second is called
 * (LEA between). EDX = 20 x 3 + 100, EDI = 20 x 5 + 100; the limit at
 * every count and the timer at every cycle against the step engine. */
enum { MID_LOOP_CODE = 0x2D000 };

static struct machine *mid_loop_program(enum cpu_engine e, uint32_t timer)
{
    struct machine *m = machine_at(e, MID_LOOP_CODE);
    static const uint8_t code[] = {
        0xFB,                         /* sti */
        0xB9, 0x00, 0x00, 0x00, 0x00, /* mov ecx, 0 */
        0x83, 0xC2, 0x03,             /* loop1: add edx, 3 */
        0x83, 0xC1, 0x01,             /* add ecx, 1 */
        0x83, 0xF9, 0x14,             /* cmp ecx, 20 */
        0x72, 0xF5,                   /* jb loop1 */
        0x83, 0xC2, 0x64,             /* add edx, 100 */
        0xB9, 0x00, 0x00, 0x00, 0x00, /* mov ecx, 0 */
        0x83, 0xC7, 0x05,             /* loop2: add edi, 5 */
        0x83, 0xC1, 0x01,             /* add ecx, 1 */
        0x83, 0xF9, 0x14,             /* cmp ecx, 20 */
        0x8D, 0x76, 0x01,             /* lea esi, [rsi+1] */
        0x72, 0xF2,                   /* jb loop2 */
        0x83, 0xC7, 0x64,             /* add edi, 100 */
        0x83, 0xFF, 0x00,             /* cmp edi, 0 */
        0x75, 0x01,                   /* jne done */
        0x90,                         /* nop */
        0xF4,                         /* done: hlt */
    };
    put(m, MID_LOOP_CODE, code, sizeof code);
    if (timer)
        arm_timer(m, timer);
    return m;
}

static void test_loop_at_jcc_in_middle(void **state)
{
    (void)state;
    struct outcome s = run(mid_loop_program(ENGINE_STEP, 0), 0);
    struct outcome b = run(mid_loop_program(tested, 0), 0);
    assert_int_equal(s.rdx, 20 * 3 + 100);
    assert_int_equal(s.rdi, 20 * 5 + 100);
    assert_int_equal(s.rsi, 20);
    assert_int_equal(s.insns, 2 + 20 * 4 + 2 + 20 * 5 + 4);
    assert_same(&s, &b);
    compare_stops(mid_loop_program, 190);
}

/* The tier (block_cache_build_after): an address runs as under the step
 * engine until it has been reached as a block's start TIER_AFTER times,
 * and is built then. A loop of ten rounds whose start L is reached once
 * a round: L's block is built at the fourth round, and the stops inside
 * the stepped rounds and after are the step engine's. */
enum { TIER_CODE = 0x2E000, TIER_SMC_CODE = 0x2F000, TIER_AFTER = 4 };

/* `code` at `at`, built at the TIER_AFTER-th arrival. */
static struct machine *tier_machine(enum cpu_engine e, uint64_t at,
                                    const uint8_t *code, size_t len,
                                    uint32_t timer)
{
    struct machine *m = machine_at(e, at);
    block_cache_build_after(m->cpu->bcache, TIER_AFTER);
    put(m, at, code, len);
    if (timer)
        arm_timer(m, timer);
    return m;
}

static struct machine *tier_program(enum cpu_engine e, uint32_t timer)
{
    static const uint8_t code[] = {
        0xB9, 0x0A, 0x00, 0x00, 0x00, /* mov ecx, 10 */
        0x01, 0xC8,                   /* L: add eax, ecx */
        0xFF, 0xC9,                   /* dec ecx */
        0x75, 0xFA,                   /* jnz L */
        0xF4,                         /* hlt */
    };
    return tier_machine(e, TIER_CODE, code, sizeof code, timer);
}

static void test_built_at_nth_arrival(void **state)
{
    (void)state;
    struct outcome s = run(tier_program(ENGINE_STEP, 0), 0);
    assert_int_equal(s.rax, 55);
    assert_int_equal(s.insns, 1 + 10 * 3 + 1);
    struct machine *m = tier_program(tested, 0);
    /* The mov and three rounds, L reached three times: stepped. */
    cpu_run(m->cpu, 1 + 3 * 3);
    assert_int_equal(m->stop, STOP_INSN_LIMIT);
    assert_int_equal(m->cpu->rip, TIER_CODE + 5);
    assert_int_equal(block_built(m->cpu->bcache), 0);
    /* The fourth round: L's block is built, and runs to its taken Jcc. */
    m->stop = STOP_NONE;
    cpu_run(m->cpu, 1 + 4 * 3);
    assert_int_equal(block_built(m->cpu->bcache), 1);
    /* The rest through that block (the same one each round). */
    m->stop = STOP_NONE;
    struct outcome b = run_keep(m, 0);
    assert_int_equal(block_built(m->cpu->bcache), 1);
    machine_destroy(m);
    assert_same(&s, &b);
    compare_stops(tier_program, 34);
}

/* A loop that rewrites the immediate of its own first instruction every
 * round: the write empties the arena, and with it the counts of
 * arrivals, so L is never reached a second time between two writes and
 * stays stepped (main until 3 December 2026 built it again every
 * round); the same outcome as the step engine's, at every stop. */
static struct machine *tier_smc_program(enum cpu_engine e, uint32_t timer)
{
    static const uint8_t code[] = {
        0xB9, 0x06, 0x00, 0x00, 0x00,       /* mov ecx, 6 */
        0x05, 0x01, 0x00, 0x00, 0x00,       /* L: add eax, 1 (imm at +6) */
        0xFF, 0x05, 0xF6, 0xFF, 0xFF, 0xFF, /* inc dword [rip - 10]: L's imm */
        0xFF, 0xC9,                         /* dec ecx */
        0x75, 0xF1,                         /* jnz L */
        0xF4,                               /* hlt */
    };
    return tier_machine(e, TIER_SMC_CODE, code, sizeof code, timer);
}

static void test_rewritten_loop_stays_stepped(void **state)
{
    (void)state;
    struct outcome s = run(tier_smc_program(ENGINE_STEP, 0), 0);
    assert_int_equal(s.rax, 1 + 2 + 3 + 4 + 5 + 6);
    assert_int_equal(s.insns, 1 + 6 * 4 + 1);
    struct machine *m = tier_smc_program(tested, 0);
    struct outcome b = run_keep(m, 0);
    assert_int_equal(block_built(m->cpu->bcache), 0);
    machine_destroy(m);
    assert_same(&s, &b);
    compare_stops(tier_smc_program, 28);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smc_in_current_block),
        cmocka_unit_test(test_same_byte_store_then_smc),
        cmocka_unit_test(test_page_crossing_and_remapped_page),
        cmocka_unit_test(test_block_on_remapped_page),
        cmocka_unit_test(test_interrupt_in_middle_of_block),
        cmocka_unit_test(test_limit_in_middle_of_block),
        cmocka_unit_test(test_many_blocks_grow_the_arena),
        cmocka_unit_test(test_smc_in_chained_block),
        cmocka_unit_test(test_limit_in_chain),
        cmocka_unit_test(test_interrupt_in_chain),
        cmocka_unit_test(test_native_loop),
        cmocka_unit_test(test_link_to_remapped_page),
        cmocka_unit_test(test_found_again_after_flush),
        cmocka_unit_test(test_modeled_tlb_in_chain),
        cmocka_unit_test(test_breakpoint_after_paused_string),
        cmocka_unit_test(test_flags_at_interrupt_in_run),
        cmocka_unit_test(test_flags_at_limit_in_run),
        cmocka_unit_test(test_flags_in_fault_frame),
        cmocka_unit_test(test_faulting_jcc_in_run),
        cmocka_unit_test(test_string_fast_at_limit),
        cmocka_unit_test(test_string_fast_at_interrupt),
        cmocka_unit_test(test_store_into_running_block),
        cmocka_unit_test(test_fault_in_middle_of_native_run),
        cmocka_unit_test(test_native_memory_loop),
        cmocka_unit_test(test_fault_in_native_loop),
        cmocka_unit_test(test_smc_in_native_loop),
        cmocka_unit_test(test_div_and_walks_in_native_loop),
        cmocka_unit_test(test_loop_at_jcc_in_middle),
        cmocka_unit_test(test_built_at_nth_arrival),
        cmocka_unit_test(test_rewritten_loop_stays_stepped),
    };
    int failed = _cmocka_run_group_tests("block engine", tests,
                                         sizeof tests / sizeof *tests,
                                         with_block, NULL);
    if (jit_supported())
        failed += _cmocka_run_group_tests("jit engine", tests,
                                          sizeof tests / sizeof *tests,
                                          with_jit, NULL);
    return failed;
}
