/* Instruction-level differential tests (issue 3): each user-level
 * instruction form the interpreter implements runs on the host CPU (this
 * machine is x86-64) and on the emulated CPU from the same registers,
 * flags and memory; afterwards all 16 GPRs, the flags the SDM defines for
 * that form, DF and the memory buffer must match.
 *
 * Both sides see the same addresses: the buffer is mapped on the host at
 * WINDOW with MAP_FIXED_NOREPLACE, and the guest's page tables map the
 * same linear addresses, so registers that hold addresses (base, index,
 * RSI, RDI, RSP) have the same values on both sides. The host runner (a
 * prologue, the instruction, an epilogue) lives in the window too, at the
 * linear address where the guest executes the instruction, so that
 * RIP-relative operands work on both sides.
 *
 * Instructions are encoded at test time from the form table below
 * (opcode, ModRM kind, sizes, immediate), with random registers, random
 * addressing modes (base, base+index*scale, disp8/disp32, absolute,
 * RIP-relative, 0x67 32-bit addressing), edge and random operand values,
 * and random incoming flags, from a fixed-seed PRNG per form.
 *
 * Vector forms (SSE, SSE2, MMX, CMPXCHG8B/16B) also carry the x87/SSE
 * state: both sides start from the same FXSAVE image (random XMM lanes
 * rich in NaNs, infinities, denormals and integer-conversion edges; a
 * random MXCSR with every rounding mode, DAZ, FZ and some unmasked
 * exceptions; random MMX registers), and FCW, FSW, the abridged tag
 * word, MXCSR, the eight x87/MMX registers and XMM0-15 must match after
 * the instruction. The host loads and saves that image with FXRSTOR64 and
 * FXSAVE64 around the instruction.
 *
 * Every group runs twice: through the step engine and through the block
 * engine (cpu/block.h), where the instruction is the first record of a
 * block that also holds the epilogue after it (only the first runs).
 *
 * INSN_DIFF_ONLY=TEXT in the environment runs only the forms whose name
 * contains TEXT (for debugging one form). */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "cpu/block.h"
#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec.h"
#include "cpu/mmu.h"
#include "machine.h"

/* ---- address layout (identical on the host and in the guest) -------- */

#define WINDOW 0x10000000ull            /* 2 MiB aligned: one large page */
#define DATA WINDOW                     /* the compared buffer */
#define DATA_SIZE 0x4000u
#define TARGET_OFF 0x2000u              /* memory operands: around here */
#define STRING_SRC_OFF 0x1000u
#define STRING_DST_OFF 0x2800u
#define STACK_OFF 0x3400u
#define STATE (WINDOW + 0x10000)        /* the host runner's register block */
#define CODE (WINDOW + 0x20000)         /* the host runner */
#define WINDOW_MAP 0x20000u             /* data + state */

/* Guest physical layout (RAM of 4 MiB). */
#define MACHINE_MIB 4
#define PML4_PA 0x1000u
#define PDPT_PA 0x2000u
#define PD_PA 0x3000u
#define GDT_PA 0x4000u
#define IDT_PA 0x5000u
#define VECTORS 0x6000u /* gate v points at VECTORS + v (never executed) */
#define WINDOW_PA 0x200000u

struct regs {
    uint8_t fx[512] __attribute__((aligned(16))); /* FXSAVE64 image */
    uint64_t gpr[16];
    uint64_t rflags;
};

struct host_block {
    struct regs in, out;
    uint8_t saved_fx[512] __attribute__((aligned(16))); /* the host's own */
    uint64_t saved_rsp;
};

/* FXSAVE image offsets (SDM Vol. 1 Table 10-2). */
enum { FX_FCW = 0, FX_FSW = 2, FX_FTW = 4, FX_MXCSR = 24, FX_ST = 32,
       FX_XMM = 160 };

#define HB ((struct host_block *)(uintptr_t)STATE)
#define HB_ADDR(field) ((uint32_t)(STATE + offsetof(struct host_block, field)))

static const char *const reg_names[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

/* ---- the form table ------------------------------------------------- */

enum enc {
    ENC_RM,    /* opcode /r: ModRM.reg is a register operand */
    ENC_EXT,   /* opcode /digit */
    ENC_OPREG, /* opcode + register (low 3 bits) */
    ENC_NONE,  /* no ModRM */
};
enum rm_kind { RM_REG = 1, RM_MEM = 2, RM_ANY = 3 };
enum imm_kind {
    IMM_NONE,
    IMM_B,     /* imm8 */
    IMM_Z,     /* imm16 with 0x66, else imm32 */
    IMM_V,     /* operand-size immediate (MOV r, imm) */
    IMM_MOFFS, /* an address of the address size (MOV AL, moffs) */
};
/* Inputs a form needs beyond random registers and memory. */
enum fix {
    FIX_NONE,
    FIX_COUNT_1,   /* shift by 1 */
    FIX_COUNT_CL,  /* shift count in CL: 0..70 in turn */
    FIX_COUNT_IMM, /* shift count in imm8: 0..70 in turn */
    FIX_DIV,       /* dividend mostly small enough not to fault */
    FIX_BT,        /* bit offset register: within +-4 KiB of a memory operand */
    FIX_CMPXCHG,   /* accumulator equal to the destination half the time */
    FIX_ZERO_SRC,  /* source zero a quarter of the time */
    FIX_STRING,    /* RSI, RDI, RCX for string instructions */
    FIX_LEAVE,     /* RBP: a frame pointer near RSP */
    FIX_VEC_COUNT, /* vector shift: a count of 0..70 in the source */
    FIX_CX8,       /* CMPXCHG8B/16B: EDX:EAX equal to memory half the time */
};
/* Which arithmetic flags the SDM defines after the form (the others are
 * masked); flags an instruction does not affect are defined (preserved). */
enum rule {
    R_ALL,   /* all six: ADD..CMP, INC, DEC, NEG, XADD, CMPXCHG, CMPS, SCAS,
                and every form that affects no flag */
    R_LOGIC, /* AND, OR, XOR, TEST: AF undefined (SDM Vol. 2A "AND") */
    R_SHIFT, /* SAL/SHL/SHR/SAR (SDM Vol. 2B "SAL/SAR/SHL/SHR"): count 0
                changes nothing; otherwise AF undefined, OF undefined unless
                the count is 1, CF undefined for SHL/SHR with count >= size */
    R_ROT,   /* ROL/ROR/RCL/RCR (SDM Vol. 2B "RCL/RCR/ROL/ROR"): OF undefined
                unless the masked count is 1 */
    R_SHXD,  /* SHLD/SHRD (SDM Vol. 2B "SHLD"): count 0 changes nothing; AF
                undefined, OF undefined unless the count is 1; a count above
                the operand size leaves result and flags undefined */
    R_MUL,   /* MUL/IMUL (SDM Vol. 2A "MUL", "IMUL"): only CF and OF */
    R_NONE,  /* DIV/IDIV (SDM Vol. 2A "DIV", "IDIV"): all six undefined */
    R_BT,    /* BT/BTS/BTR/BTC (SDM Vol. 2A "BT"): CF, and ZF unaffected */
    R_BS,    /* BSF/BSR (SDM Vol. 2A "BSF"): only ZF */
};
enum opt {
    OPT_CC = 1,       /* condition code added to the last opcode byte */
    OPT_DEF64 = 2,    /* 64-bit default operand size (PUSH/POP): no REX.W */
    OPT_REP = 4,      /* REP/REPE/REPNE prefixes in turn */
    OPT_DF = 8,       /* random incoming DF */
    OPT_NOACCESS = 16, /* LEA: the address is computed, not accessed */
    OPT_LOCK = 32,    /* LOCK allowed with a memory destination (SDM Vol.
                         2A "LOCK"); added to a third of those cases */
    OPT_VEC = 64,     /* x87/SSE state compared; SIGFPE is #XM */
    OPT_ALIGN = 128,  /* a 16-byte-aligned operand three times in four;
                         SIGSEGV is the #GP of a misaligned one */
    OPT_MMX = 256,    /* MMX registers: numbers 0..7, no REX.R/B */
    OPT_X87 = 512,    /* x87: random control word and stack; SIGFPE is
                         #MF */
};
#define L OPT_LOCK

#define B 1
#define W 2
#define D 4
#define Q 8
#define WDQ (W | D | Q)
#define DQ (D | Q)
#define WQ (W | Q)

struct form {
    const char *name;
    uint16_t opcode; /* one byte, or 0x0Fxx */
    uint8_t enc, ext, sizes, rm, imm, fix, rule;
    uint16_t opts;
    uint8_t pfx; /* vector forms: the mandatory prefix (66, F2, F3) or 0 */
};

/* Most forms come in pairs: a byte form at `op` and its 16/32/64-bit
 * sibling at op + 1 (SDM Vol. 2 2.1.2, the w bit), with an imm8 or an
 * imm16/32 immediate. */
#define PAIR(n8, n, op, enc, ext, rm, imm8, imm, fix, rule, opts)             \
    {n8, op, enc, ext, B, rm, imm8, fix, rule, opts, 0},                      \
    {n, (op) + 1, enc, ext, WDQ, rm, imm, fix, rule, opts, 0}

/* A read-modify-write r/m form with the operation in ModRM.reg. */
#define UNARY(n8, n, op, ext, fix, rule, opts)                                \
    PAIR(n8, n, op, ENC_EXT, ext, RM_ANY, IMM_NONE, IMM_NONE, fix, rule, opts)

/* lk: OPT_LOCK where a memory destination may take LOCK (not CMP). */
#define ALU(n, o, rule, lk)                                                   \
    PAIR(n " r/m8, r8", n " r/m, r", 8 * (o), ENC_RM, 0, RM_ANY, IMM_NONE,    \
         IMM_NONE, FIX_NONE, rule, lk),                                       \
    PAIR(n " r8, r/m8", n " r, r/m", 8 * (o) + 2, ENC_RM, 0, RM_ANY,          \
         IMM_NONE, IMM_NONE, FIX_NONE, rule, 0),                              \
    PAIR(n " al, imm8", n " eax, imm", 8 * (o) + 4, ENC_NONE, 0, 0, IMM_B,    \
         IMM_Z, FIX_NONE, rule, 0),                                           \
    PAIR(n " r/m8, imm8", n " r/m, imm", 0x80, ENC_EXT, o, RM_ANY, IMM_B,     \
         IMM_Z, FIX_NONE, rule, lk),                                          \
    {n " r/m, simm8", 0x83, ENC_EXT, o, WDQ, RM_ANY, IMM_B, FIX_NONE, rule, lk, 0}

static const struct form alu_forms[] = {
    ALU("add", 0, R_ALL, L), ALU("or", 1, R_LOGIC, L), ALU("adc", 2, R_ALL, L),
    ALU("sbb", 3, R_ALL, L), ALU("and", 4, R_LOGIC, L), ALU("sub", 5, R_ALL, L),
    ALU("xor", 6, R_LOGIC, L), ALU("cmp", 7, R_ALL, 0),
    PAIR("test r/m8, r8", "test r/m, r", 0x84, ENC_RM, 0, RM_ANY, IMM_NONE,
         IMM_NONE, FIX_NONE, R_LOGIC, 0),
    PAIR("test al, imm8", "test eax, imm", 0xA8, ENC_NONE, 0, 0, IMM_B, IMM_Z,
         FIX_NONE, R_LOGIC, 0),
    PAIR("test r/m8, imm8", "test r/m, imm", 0xF6, ENC_EXT, 0, RM_ANY, IMM_B,
         IMM_Z, FIX_NONE, R_LOGIC, 0),
    UNARY("inc r/m8", "inc r/m", 0xFE, 0, FIX_NONE, R_ALL, L),
    UNARY("dec r/m8", "dec r/m", 0xFE, 1, FIX_NONE, R_ALL, L),
    UNARY("not r/m8", "not r/m", 0xF6, 2, FIX_NONE, R_ALL, L),
    UNARY("neg r/m8", "neg r/m", 0xF6, 3, FIX_NONE, R_ALL, L),
};

#define SHIFT(n, e, rule)                                                     \
    UNARY(n " r/m8, 1", n " r/m, 1", 0xD0, e, FIX_COUNT_1, rule, 0),         \
    UNARY(n " r/m8, cl", n " r/m, cl", 0xD2, e, FIX_COUNT_CL, rule, 0),      \
    PAIR(n " r/m8, imm8", n " r/m, imm8", 0xC0, ENC_EXT, e, RM_ANY, IMM_B,    \
         IMM_B, FIX_COUNT_IMM, rule, 0)

static const struct form shift_forms[] = {
    SHIFT("rol", 0, R_ROT), SHIFT("ror", 1, R_ROT), SHIFT("rcl", 2, R_ROT),
    SHIFT("rcr", 3, R_ROT), SHIFT("shl", 4, R_SHIFT), SHIFT("shr", 5, R_SHIFT),
    SHIFT("sal", 6, R_SHIFT), SHIFT("sar", 7, R_SHIFT),
    {"shld r/m, r, imm8", 0x0FA4, ENC_RM, 0, WDQ, RM_ANY, IMM_B, FIX_COUNT_IMM, R_SHXD, 0, 0},
    {"shld r/m, r, cl", 0x0FA5, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_COUNT_CL, R_SHXD, 0, 0},
    {"shrd r/m, r, imm8", 0x0FAC, ENC_RM, 0, WDQ, RM_ANY, IMM_B, FIX_COUNT_IMM, R_SHXD, 0, 0},
    {"shrd r/m, r, cl", 0x0FAD, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_COUNT_CL, R_SHXD, 0, 0},
};

static const struct form muldiv_forms[] = {
    UNARY("mul r/m8", "mul r/m", 0xF6, 4, FIX_NONE, R_MUL, 0),
    UNARY("imul r/m8", "imul r/m", 0xF6, 5, FIX_NONE, R_MUL, 0),
    UNARY("div r/m8", "div r/m", 0xF6, 6, FIX_DIV, R_NONE, 0),
    UNARY("idiv r/m8", "idiv r/m", 0xF6, 7, FIX_DIV, R_NONE, 0),
    {"imul r, r/m", 0x0FAF, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_NONE, R_MUL, 0, 0},
    {"imul r, r/m, simm8", 0x6B, ENC_RM, 0, WDQ, RM_ANY, IMM_B, FIX_NONE, R_MUL, 0, 0},
    {"imul r, r/m, imm", 0x69, ENC_RM, 0, WDQ, RM_ANY, IMM_Z, FIX_NONE, R_MUL, 0, 0},
};

#define BITOP(n, op, e, lk)                                                   \
    {n " r/m, r", op, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_BT, R_BT, lk, 0},    \
    {n " r/m, imm8", 0x0FBA, ENC_EXT, e, WDQ, RM_ANY, IMM_B, FIX_NONE, R_BT, lk, 0}

static const struct form bit_forms[] = {
    BITOP("bt", 0x0FA3, 4, 0), BITOP("bts", 0x0FAB, 5, L),
    BITOP("btr", 0x0FB3, 6, L), BITOP("btc", 0x0FBB, 7, L),
    {"bsf r, r/m", 0x0FBC, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_ZERO_SRC, R_BS, 0, 0},
    {"bsr r, r/m", 0x0FBD, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_ZERO_SRC, R_BS, 0, 0},
    {"bswap r", 0x0FC8, ENC_OPREG, 0, DQ, 0, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    {"setcc r/m8", 0x0F90, ENC_EXT, 0, B, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, OPT_CC, 0},
    {"cmovcc r, r/m", 0x0F40, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, OPT_CC, 0},
};

#define RMW(n8, n, op, fix)                                                   \
    PAIR(n8, n, op, ENC_RM, 0, RM_ANY, IMM_NONE, IMM_NONE, fix, R_ALL, L)

static const struct form xchg_forms[] = {
    RMW("xadd r/m8, r8", "xadd r/m, r", 0x0FC0, FIX_NONE),
    RMW("cmpxchg r/m8, r8", "cmpxchg r/m, r", 0x0FB0, FIX_CMPXCHG),
    RMW("xchg r/m8, r8", "xchg r/m, r", 0x86, FIX_NONE),
    {"xchg eax, r", 0x90, ENC_OPREG, 0, WDQ, 0, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
};

#define MOVE(n8, n, op, enc, ext, rm, imm8, imm)                              \
    PAIR(n8, n, op, enc, ext, rm, imm8, imm, FIX_NONE, R_ALL, 0)

static const struct form move_forms[] = {
    {"cbw/cwde/cdqe", 0x98, ENC_NONE, 0, WDQ, 0, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    {"cwd/cdq/cqo", 0x99, ENC_NONE, 0, WDQ, 0, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    {"movzx r, r/m8", 0x0FB6, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    {"movzx r, r/m16", 0x0FB7, ENC_RM, 0, DQ, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    {"movsx r, r/m8", 0x0FBE, ENC_RM, 0, WDQ, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    {"movsx r, r/m16", 0x0FBF, ENC_RM, 0, DQ, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    {"movsxd r64, r/m32", 0x63, ENC_RM, 0, Q, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, 0, 0},
    MOVE("mov r/m8, r8", "mov r/m, r", 0x88, ENC_RM, 0, RM_ANY, IMM_NONE, IMM_NONE),
    MOVE("mov r8, r/m8", "mov r, r/m", 0x8A, ENC_RM, 0, RM_ANY, IMM_NONE, IMM_NONE),
    MOVE("mov r/m8, imm8", "mov r/m, imm", 0xC6, ENC_EXT, 0, RM_ANY, IMM_B, IMM_Z),
    MOVE("mov al, moffs", "mov eax, moffs", 0xA0, ENC_NONE, 0, 0, IMM_MOFFS, IMM_MOFFS),
    MOVE("mov moffs, al", "mov moffs, eax", 0xA2, ENC_NONE, 0, 0, IMM_MOFFS, IMM_MOFFS),
    {"mov r8, imm8", 0xB0, ENC_OPREG, 0, B, 0, IMM_V, FIX_NONE, R_ALL, 0, 0},
    {"mov r, imm", 0xB8, ENC_OPREG, 0, WDQ, 0, IMM_V, FIX_NONE, R_ALL, 0, 0},
    {"lea r, m", 0x8D, ENC_RM, 0, WDQ, RM_MEM, IMM_NONE, FIX_NONE, R_ALL, OPT_NOACCESS, 0},
};

static const struct form stack_forms[] = {
    {"push r", 0x50, ENC_OPREG, 0, WQ, 0, IMM_NONE, FIX_NONE, R_ALL, OPT_DEF64, 0},
    {"push r/m", 0xFF, ENC_EXT, 6, WQ, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, OPT_DEF64, 0},
    {"push simm8", 0x6A, ENC_NONE, 0, WQ, 0, IMM_B, FIX_NONE, R_ALL, OPT_DEF64, 0},
    {"push imm", 0x68, ENC_NONE, 0, WQ, 0, IMM_Z, FIX_NONE, R_ALL, OPT_DEF64, 0},
    {"pop r", 0x58, ENC_OPREG, 0, WQ, 0, IMM_NONE, FIX_NONE, R_ALL, OPT_DEF64, 0},
    {"pop r/m", 0x8F, ENC_EXT, 0, WQ, RM_ANY, IMM_NONE, FIX_NONE, R_ALL, OPT_DEF64, 0},
    {"leave", 0xC9, ENC_NONE, 0, WQ, 0, IMM_NONE, FIX_LEAVE, R_ALL, OPT_DEF64, 0},
};

/* No operands (size 0: no operand-size prefix); DF comes in random. */
#define FLAGOP(n, op) {n, op, ENC_NONE, 0, 0, 0, IMM_NONE, FIX_NONE, R_ALL, OPT_DF, 0}

static const struct form flag_forms[] = {
    FLAGOP("lahf", 0x9F), FLAGOP("sahf", 0x9E), FLAGOP("clc", 0xF8),
    FLAGOP("stc", 0xF9), FLAGOP("cmc", 0xF5), FLAGOP("cld", 0xFC),
    FLAGOP("std", 0xFD),
};

#define STRING(n, op)                                                         \
    PAIR(n "b", n "w/d/q", op, ENC_NONE, 0, 0, IMM_NONE, IMM_NONE,            \
         FIX_STRING, R_ALL, OPT_REP | OPT_DF)

static const struct form string_forms[] = {
    STRING("movs", 0xA4), STRING("cmps", 0xA6), STRING("stos", 0xAA),
    STRING("lods", 0xAC), STRING("scas", 0xAE),
};

/* Vector forms: opcode 0x0Fxx after the mandatory prefix. */
#define V(n, pfx, op, rm, imm, fix, opts)                                     \
    {n, 0x0F00 | (op), ENC_RM, 0, 0, rm, imm, fix, R_ALL, OPT_VEC | (opts), pfx}
#define VS(n, pfx, op, sizes, rm, opts)                                       \
    {n, 0x0F00 | (op), ENC_RM, 0, sizes, rm, IMM_NONE, FIX_NONE, R_ALL,       \
     OPT_VEC | (opts), pfx}
#define VA OPT_ALIGN
/* The four floating-point shapes of one opcode: PS, SS, PD, SD. */
#define VF(n, op)                                                             \
    V(n "ps", 0, op, RM_ANY, IMM_NONE, FIX_NONE, VA),                        \
    V(n "ss", 0xF3, op, RM_ANY, IMM_NONE, FIX_NONE, 0),                      \
    V(n "pd", 0x66, op, RM_ANY, IMM_NONE, FIX_NONE, VA),                     \
    V(n "sd", 0xF2, op, RM_ANY, IMM_NONE, FIX_NONE, 0)
/* An integer operation on XMM (66) and on MMX registers. */
#define VI(n, op, fix)                                                        \
    V(n " xmm", 0x66, op, RM_ANY, IMM_NONE, fix, VA),                        \
    V(n " mm", 0, op, RM_ANY, IMM_NONE, fix, OPT_MMX)
/* A shift by imm8 (group 12-14: ModRM.reg selects it). */
#define VSH(n, op, e)                                                         \
    {n " xmm, imm8", 0x0F00 | (op), ENC_EXT, e, 0, RM_REG, IMM_B,             \
     FIX_COUNT_IMM, R_ALL, OPT_VEC, 0x66},                                    \
    {n " mm, imm8", 0x0F00 | (op), ENC_EXT, e, 0, RM_REG, IMM_B,              \
     FIX_COUNT_IMM, R_ALL, OPT_VEC | OPT_MMX, 0}

static const struct form sse_move_forms[] = {
    V("movaps x, x/m", 0, 0x28, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("movaps x/m, x", 0, 0x29, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("movups x, x/m", 0, 0x10, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movups x/m, x", 0, 0x11, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movapd x, x/m", 0x66, 0x28, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("movupd x/m, x", 0x66, 0x11, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movdqa x, x/m", 0x66, 0x6F, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("movdqa x/m, x", 0x66, 0x7F, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("movdqu x, x/m", 0xF3, 0x6F, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movdqu x/m, x", 0xF3, 0x7F, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movss x, x/m32", 0xF3, 0x10, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movss x/m32, x", 0xF3, 0x11, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movsd x, x/m64", 0xF2, 0x10, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movsd x/m64, x", 0xF2, 0x11, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movlps x, m64", 0, 0x12, RM_MEM, IMM_NONE, FIX_NONE, 0),
    V("movlps m64, x", 0, 0x13, RM_MEM, IMM_NONE, FIX_NONE, 0),
    V("movhps x, m64", 0, 0x16, RM_MEM, IMM_NONE, FIX_NONE, 0),
    V("movhps m64, x", 0, 0x17, RM_MEM, IMM_NONE, FIX_NONE, 0),
    V("movhlps x, x", 0, 0x12, RM_REG, IMM_NONE, FIX_NONE, 0),
    V("movlhps x, x", 0, 0x16, RM_REG, IMM_NONE, FIX_NONE, 0),
    V("movlpd x, m64", 0x66, 0x12, RM_MEM, IMM_NONE, FIX_NONE, 0),
    V("movhpd m64, x", 0x66, 0x17, RM_MEM, IMM_NONE, FIX_NONE, 0),
    VS("movd/movq x, r/m", 0x66, 0x6E, DQ, RM_ANY, 0),
    VS("movd/movq r/m, x", 0x66, 0x7E, DQ, RM_ANY, 0),
    V("movq x, x/m64", 0xF3, 0x7E, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movq x/m64, x", 0x66, 0xD6, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("movntps m, x", 0, 0x2B, RM_MEM, IMM_NONE, FIX_NONE, VA),
    V("movntdq m, x", 0x66, 0xE7, RM_MEM, IMM_NONE, FIX_NONE, VA),
    VS("movnti m, r", 0, 0xC3, DQ, RM_MEM, 0),
    V("movq mm, mm/m64", 0, 0x6F, RM_ANY, IMM_NONE, FIX_NONE, OPT_MMX),
    V("movq mm/m64, mm", 0, 0x7F, RM_ANY, IMM_NONE, FIX_NONE, OPT_MMX),
    VS("movd/movq mm, r/m", 0, 0x6E, DQ, RM_ANY, OPT_MMX),
    VS("movd/movq r/m, mm", 0, 0x7E, DQ, RM_ANY, OPT_MMX),
    V("movntq m64, mm", 0, 0xE7, RM_MEM, IMM_NONE, FIX_NONE, OPT_MMX),
    V("movq2dq x, mm", 0xF3, 0xD6, RM_REG, IMM_NONE, FIX_NONE, OPT_MMX),
    V("movdq2q mm, x", 0xF2, 0xD6, RM_REG, IMM_NONE, FIX_NONE, OPT_MMX),
    V("pshufd x, x/m, imm8", 0x66, 0x70, RM_ANY, IMM_B, FIX_NONE, VA),
    V("pshuflw x, x/m, imm8", 0xF2, 0x70, RM_ANY, IMM_B, FIX_NONE, VA),
    V("pshufhw x, x/m, imm8", 0xF3, 0x70, RM_ANY, IMM_B, FIX_NONE, VA),
    V("pshufw mm, mm/m, imm8", 0, 0x70, RM_ANY, IMM_B, FIX_NONE, OPT_MMX),
    V("shufps x, x/m, imm8", 0, 0xC6, RM_ANY, IMM_B, FIX_NONE, VA),
    V("shufpd x, x/m, imm8", 0x66, 0xC6, RM_ANY, IMM_B, FIX_NONE, VA),
    V("unpcklps x, x/m", 0, 0x14, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("unpckhps x, x/m", 0, 0x15, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("unpcklpd x, x/m", 0x66, 0x14, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("unpckhpd x, x/m", 0x66, 0x15, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("pinsrw x, r/m16, imm8", 0x66, 0xC4, RM_ANY, IMM_B, FIX_NONE, 0),
    V("pinsrw mm, r/m16, imm8", 0, 0xC4, RM_ANY, IMM_B, FIX_NONE, OPT_MMX),
    V("pextrw r, x, imm8", 0x66, 0xC5, RM_REG, IMM_B, FIX_NONE, 0),
    V("pextrw r, mm, imm8", 0, 0xC5, RM_REG, IMM_B, FIX_NONE, OPT_MMX),
    V("pmovmskb r, x", 0x66, 0xD7, RM_REG, IMM_NONE, FIX_NONE, 0),
    V("pmovmskb r, mm", 0, 0xD7, RM_REG, IMM_NONE, FIX_NONE, OPT_MMX),
    V("movmskps r, x", 0, 0x50, RM_REG, IMM_NONE, FIX_NONE, 0),
    V("movmskpd r, x", 0x66, 0x50, RM_REG, IMM_NONE, FIX_NONE, 0),
    {"emms", 0x0F77, ENC_NONE, 0, 0, 0, IMM_NONE, FIX_NONE, R_ALL, OPT_VEC, 0},
    {"stmxcsr m32", 0x0FAE, ENC_EXT, 3, 0, RM_MEM, IMM_NONE, FIX_NONE, R_ALL, OPT_VEC, 0},
    {"cmpxchg8b m64", 0x0FC7, ENC_EXT, 1, D, RM_MEM, IMM_NONE, FIX_CX8, R_ALL, OPT_VEC | OPT_LOCK, 0},
    {"cmpxchg16b m128", 0x0FC7, ENC_EXT, 1, Q, RM_MEM, IMM_NONE, FIX_CX8, R_ALL, OPT_VEC | OPT_LOCK | VA, 0},
};

static const struct form sse_int_forms[] = {
    VI("paddb", 0xFC, FIX_NONE), VI("paddw", 0xFD, FIX_NONE),
    VI("paddd", 0xFE, FIX_NONE), VI("paddq", 0xD4, FIX_NONE),
    VI("paddsb", 0xEC, FIX_NONE), VI("paddsw", 0xED, FIX_NONE),
    VI("paddusb", 0xDC, FIX_NONE), VI("paddusw", 0xDD, FIX_NONE),
    VI("psubb", 0xF8, FIX_NONE), VI("psubw", 0xF9, FIX_NONE),
    VI("psubd", 0xFA, FIX_NONE), VI("psubq", 0xFB, FIX_NONE),
    VI("psubsb", 0xE8, FIX_NONE), VI("psubsw", 0xE9, FIX_NONE),
    VI("psubusb", 0xD8, FIX_NONE), VI("psubusw", 0xD9, FIX_NONE),
    VI("pmullw", 0xD5, FIX_NONE), VI("pmulhw", 0xE5, FIX_NONE),
    VI("pmulhuw", 0xE4, FIX_NONE), VI("pmuludq", 0xF4, FIX_NONE),
    VI("pmaddwd", 0xF5, FIX_NONE), VI("psadbw", 0xF6, FIX_NONE),
    VI("pavgb", 0xE0, FIX_NONE), VI("pavgw", 0xE3, FIX_NONE),
    VI("pminub", 0xDA, FIX_NONE), VI("pmaxub", 0xDE, FIX_NONE),
    VI("pminsw", 0xEA, FIX_NONE), VI("pmaxsw", 0xEE, FIX_NONE),
    VI("pcmpeqb", 0x74, FIX_NONE), VI("pcmpeqw", 0x75, FIX_NONE),
    VI("pcmpeqd", 0x76, FIX_NONE), VI("pcmpgtb", 0x64, FIX_NONE),
    VI("pcmpgtw", 0x65, FIX_NONE), VI("pcmpgtd", 0x66, FIX_NONE),
    VI("pand", 0xDB, FIX_NONE), VI("pandn", 0xDF, FIX_NONE),
    VI("por", 0xEB, FIX_NONE), VI("pxor", 0xEF, FIX_NONE),
    VI("packsswb", 0x63, FIX_NONE), VI("packssdw", 0x6B, FIX_NONE),
    VI("packuswb", 0x67, FIX_NONE), VI("punpcklbw", 0x60, FIX_NONE),
    VI("punpcklwd", 0x61, FIX_NONE), VI("punpckldq", 0x62, FIX_NONE),
    VI("punpckhbw", 0x68, FIX_NONE), VI("punpckhwd", 0x69, FIX_NONE),
    VI("punpckhdq", 0x6A, FIX_NONE),
    V("punpcklqdq", 0x66, 0x6C, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("punpckhqdq", 0x66, 0x6D, RM_ANY, IMM_NONE, FIX_NONE, VA),
    VI("psllw", 0xF1, FIX_VEC_COUNT), VI("pslld", 0xF2, FIX_VEC_COUNT),
    VI("psllq", 0xF3, FIX_VEC_COUNT), VI("psrlw", 0xD1, FIX_VEC_COUNT),
    VI("psrld", 0xD2, FIX_VEC_COUNT), VI("psrlq", 0xD3, FIX_VEC_COUNT),
    VI("psraw", 0xE1, FIX_VEC_COUNT), VI("psrad", 0xE2, FIX_VEC_COUNT),
    VSH("psrlw", 0x71, 2), VSH("psraw", 0x71, 4), VSH("psllw", 0x71, 6),
    VSH("psrld", 0x72, 2), VSH("psrad", 0x72, 4), VSH("pslld", 0x72, 6),
    VSH("psrlq", 0x73, 2), VSH("psllq", 0x73, 6),
    {"psrldq x, imm8", 0x0F73, ENC_EXT, 3, 0, RM_REG, IMM_B, FIX_COUNT_IMM, R_ALL, OPT_VEC, 0x66},
    {"pslldq x, imm8", 0x0F73, ENC_EXT, 7, 0, RM_REG, IMM_B, FIX_COUNT_IMM, R_ALL, OPT_VEC, 0x66},
};

static const struct form sse_float_forms[] = {
    VF("add", 0x58), VF("mul", 0x59), VF("sub", 0x5C), VF("min", 0x5D),
    VF("div", 0x5E), VF("max", 0x5F), VF("sqrt", 0x51),
    V("rcpps", 0, 0x53, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("rcpss", 0xF3, 0x53, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("rsqrtps", 0, 0x52, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("rsqrtss", 0xF3, 0x52, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("cmpps", 0, 0xC2, RM_ANY, IMM_B, FIX_NONE, VA),
    V("cmpss", 0xF3, 0xC2, RM_ANY, IMM_B, FIX_NONE, 0),
    V("cmppd", 0x66, 0xC2, RM_ANY, IMM_B, FIX_NONE, VA),
    V("cmpsd", 0xF2, 0xC2, RM_ANY, IMM_B, FIX_NONE, 0),
    V("andps", 0, 0x54, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("andnps", 0, 0x55, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("orps", 0, 0x56, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("xorps", 0, 0x57, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("andpd", 0x66, 0x54, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("andnpd", 0x66, 0x55, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("orpd", 0x66, 0x56, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("xorpd", 0x66, 0x57, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("comiss", 0, 0x2F, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("ucomiss", 0, 0x2E, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("comisd", 0x66, 0x2F, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("ucomisd", 0x66, 0x2E, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("cvtps2pd", 0, 0x5A, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("cvtpd2ps", 0x66, 0x5A, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("cvtss2sd", 0xF3, 0x5A, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("cvtsd2ss", 0xF2, 0x5A, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("cvtdq2ps", 0, 0x5B, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("cvtps2dq", 0x66, 0x5B, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("cvttps2dq", 0xF3, 0x5B, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("cvtdq2pd", 0xF3, 0xE6, RM_ANY, IMM_NONE, FIX_NONE, 0),
    V("cvtpd2dq", 0xF2, 0xE6, RM_ANY, IMM_NONE, FIX_NONE, VA),
    V("cvttpd2dq", 0x66, 0xE6, RM_ANY, IMM_NONE, FIX_NONE, VA),
    VS("cvtsi2ss x, r/m", 0xF3, 0x2A, DQ, RM_ANY, 0),
    VS("cvtsi2sd x, r/m", 0xF2, 0x2A, DQ, RM_ANY, 0),
    VS("cvtss2si r, x/m32", 0xF3, 0x2D, DQ, RM_ANY, 0),
    VS("cvttss2si r, x/m32", 0xF3, 0x2C, DQ, RM_ANY, 0),
    VS("cvtsd2si r, x/m64", 0xF2, 0x2D, DQ, RM_ANY, 0),
    VS("cvttsd2si r, x/m64", 0xF2, 0x2C, DQ, RM_ANY, 0),
};

/* x87 forms: a memory operand, ST(i) (ModRM.rm 0..7), or two fixed
 * bytes. */
#define XF (OPT_VEC | OPT_X87)
#define XM(n, op, e) {n, op, ENC_EXT, e, 0, RM_MEM, IMM_NONE, FIX_NONE, R_ALL, XF, 0}
#define XR(n, op, e) {n, op, ENC_EXT, e, 0, RM_REG, IMM_NONE, FIX_NONE, R_ALL, XF | OPT_MMX, 0}
#define XN(n, op) {n, op, ENC_NONE, 0, 0, 0, IMM_NONE, FIX_NONE, R_ALL, XF, 0}
/* The eight arithmetic operations of one opcode in ModRM.reg order. */
#define XARITH(X, t, op)                                                      \
    X("fadd " t, op, 0), X("fmul " t, op, 1), X("fsub " t, op, 4),            \
    X("fsubr " t, op, 5), X("fdiv " t, op, 6), X("fdivr " t, op, 7)

static const struct form x87_forms[] = {
    XARITH(XM, "m32fp", 0xD8), XM("fcom m32fp", 0xD8, 2), XM("fcomp m32fp", 0xD8, 3),
    XARITH(XM, "m64fp", 0xDC), XM("fcom m64fp", 0xDC, 2), XM("fcomp m64fp", 0xDC, 3),
    XARITH(XM, "m32int", 0xDA), XM("ficom m32int", 0xDA, 2), XM("ficomp m32int", 0xDA, 3),
    XARITH(XM, "m16int", 0xDE), XM("ficom m16int", 0xDE, 2), XM("ficomp m16int", 0xDE, 3),
    XARITH(XR, "st0, st(i)", 0xD8), XR("fcom st(i)", 0xD8, 2), XR("fcomp st(i)", 0xD8, 3),
    XARITH(XR, "st(i), st0", 0xDC), XARITH(XR, "p st(i), st0", 0xDE),
    XN("fcompp", 0xDED9), XN("fucompp", 0xDAE9),
    XR("fcmovb", 0xDA, 0), XR("fcmove", 0xDA, 1), XR("fcmovbe", 0xDA, 2),
    XR("fcmovu", 0xDA, 3), XR("fcmovnb", 0xDB, 0), XR("fcmovne", 0xDB, 1),
    XR("fcmovnbe", 0xDB, 2), XR("fcmovnu", 0xDB, 3),
    XR("fucomi", 0xDB, 5), XR("fcomi", 0xDB, 6), XR("fucomip", 0xDF, 5),
    XR("fcomip", 0xDF, 6), XR("fucom", 0xDD, 4), XR("fucomp", 0xDD, 5),
    XR("fld st(i)", 0xD9, 0), XR("fxch", 0xD9, 1), XR("ffree", 0xDD, 0),
    XR("fst st(i)", 0xDD, 2), XR("fstp st(i)", 0xDD, 3),
    XM("fld m32", 0xD9, 0), XM("fst m32", 0xD9, 2), XM("fstp m32", 0xD9, 3),
    XM("fld m64", 0xDD, 0), XM("fst m64", 0xDD, 2), XM("fstp m64", 0xDD, 3),
    XM("fld m80", 0xDB, 5), XM("fstp m80", 0xDB, 7),
    XM("fild m16", 0xDF, 0), XM("fist m16", 0xDF, 2), XM("fistp m16", 0xDF, 3),
    XM("fild m32", 0xDB, 0), XM("fist m32", 0xDB, 2), XM("fistp m32", 0xDB, 3),
    XM("fild m64", 0xDF, 5), XM("fistp m64", 0xDF, 7),
    XM("fldcw", 0xD9, 5), XM("fnstcw", 0xD9, 7), XM("fnstsw m16", 0xDD, 7),
    XN("fnstsw ax", 0xDFE0), XN("fnclex", 0xDBE2), XN("fninit", 0xDBE3),
    XN("fwait", 0x9B), XN("fnop", 0xD9D0),
    XN("fchs", 0xD9E0), XN("fabs", 0xD9E1), XN("ftst", 0xD9E4), XN("fxam", 0xD9E5),
    XN("fld1", 0xD9E8), XN("fldl2t", 0xD9E9), XN("fldl2e", 0xD9EA),
    XN("fldpi", 0xD9EB), XN("fldlg2", 0xD9EC), XN("fldln2", 0xD9ED),
    XN("fldz", 0xD9EE), XN("f2xm1", 0xD9F0), XN("fyl2x", 0xD9F1),
    XN("fptan", 0xD9F2), XN("fpatan", 0xD9F3), XN("fxtract", 0xD9F4),
    XN("fprem1", 0xD9F5), XN("fdecstp", 0xD9F6), XN("fincstp", 0xD9F7),
    XN("fprem", 0xD9F8), XN("fyl2xp1", 0xD9F9), XN("fsqrt", 0xD9FA),
    XN("fsincos", 0xD9FB), XN("frndint", 0xD9FC), XN("fscale", 0xD9FD),
    XN("fsin", 0xD9FE), XN("fcos", 0xD9FF),
};

/* ---- random values ---------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
    return (unsigned)(rng_next(s) % n);
}

/* A register or memory value: often an edge value at one of the four
 * widths (0, 1, -1, the sign bit, the largest positive value and their
 * neighbours) with zero, all-ones or random bits above; otherwise small
 * or fully random. */
static uint64_t gen_value(uint64_t *s)
{
    unsigned width = 8u << rng_below(s, 4);
    uint64_t mask = width == 64 ? ~0ull : (1ull << width) - 1;
    uint64_t msb = 1ull << (width - 1);
    const uint64_t edges[] = {0, 1, 2, 0x0F, 0x10, 0x7F, 0x80, msb - 1, msb,
                              msb + 1, mask, mask - 1, 0x5555555555555555ull,
                              0xAAAAAAAAAAAAAAAAull};
    uint64_t e = edges[rng_below(s, sizeof edges / sizeof *edges)];
    uint64_t high;
    switch (rng_below(s, 3)) {
    case 0: high = 0; break;
    case 1: high = ~0ull; break;
    default: high = rng_next(s); break;
    }
    switch (rng_below(s, 8)) {
    case 0: case 1: case 2: return (high & ~mask) | (e & mask);
    case 3: return rng_below(s, 70);
    case 4: return (uint64_t)-(int64_t)rng_below(s, 5);
    default: return rng_next(s);
    }
}

/* A 32- or 64-bit floating-point lane: often a special value (zeros,
 * infinities, quiet and signaling NaNs, denormals, the extremes, values
 * at the integer-conversion limits), often a number of moderate
 * exponent, sometimes random bits. */
static uint64_t gen_fp(uint64_t *s, bool dbl)
{
    static const uint32_t f32[] = {
        0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
        0xFFC00000, 0x7FA00001, 0xFF800001, 0x00000001, 0x807FFFFF,
        0x00800000, 0x7F7FFFFF, 0x3F800000, 0xBF800000, 0x4F000000,
        0xCF000000, 0x5F000000, 0xDF000000, 0x3F000000, 0x4B000000};
    static const uint64_t f64[] = {
        0, 1ull << 63, 0x7FF0000000000000ull, 0xFFF0000000000000ull,
        0x7FF8000000000000ull, 0xFFF8000000000000ull, 0x7FF4000000000001ull,
        0xFFF0000000000001ull, 1, 0x800FFFFFFFFFFFFFull, 0x0010000000000000ull,
        0x7FEFFFFFFFFFFFFFull, 0x3FF0000000000000ull, 0xBFF0000000000000ull,
        0x41E0000000000000ull, 0xC1E0000000000000ull, 0x43E0000000000000ull,
        0xC3E0000000000000ull, 0x3FE0000000000000ull, 0x41DFFFFFFFC00000ull};
    switch (rng_below(s, 4)) {
    case 0:
        return dbl ? f64[rng_below(s, 20)] : f32[rng_below(s, 20)];
    case 1:
        return rng_next(s) & (dbl ? ~0ull : 0xFFFFFFFFull);
    default: { /* sign, exponent near the bias, random mantissa */
        uint64_t r = rng_next(s);
        int e = (int)rng_below(s, 64) - 32;
        if (dbl)
            return (r & ((1ull << 52) - 1)) | (uint64_t)(1023 + e) << 52 |
                   (r >> 63) << 63;
        return (r & ((1u << 23) - 1)) | (uint64_t)(127 + e) << 23 |
               ((r >> 40) & 1) << 31;
    }
    }
}

/* An x87 register: often a number of moderate exponent, often a special
 * (zeros, infinities, NaNs, the indefinite, denormals, unnormals),
 * sometimes random bits. */
static void gen_x87(uint64_t *s, uint8_t *out)
{
    static const struct { uint16_t sexp; uint64_t mant; } specials[] = {
        {0, 0}, {0x8000, 0}, {0x7FFF, 1ull << 63}, {0xFFFF, 1ull << 63},
        {0x7FFF, 0xC000000000000000ull}, {0xFFFF, 0xC000000000000000ull},
        {0x7FFF, 0xA000000000000000ull}, {0, 1}, {0x8000, 0x7FFFFFFFFFFFFFFFull},
        {0x3FFF, 0x4000000000000000ull}, {0x3FFF, 1ull << 63},
        {0x403E, 1ull << 63}, {0x401D, 0xFFFFFFFE00000000ull},
        {0x7FFE, ~0ull}, {0x0001, 1ull << 63}};
    uint16_t sexp;
    uint64_t mant;
    switch (rng_below(s, 4)) {
    case 0: {
        unsigned k = rng_below(s, sizeof specials / sizeof *specials);
        sexp = specials[k].sexp;
        mant = specials[k].mant;
        break;
    }
    case 1:
        sexp = (uint16_t)rng_next(s);
        mant = rng_next(s);
        break;
    default:
        sexp = (uint16_t)(0x3FFF + (int)rng_below(s, 140) - 70) |
               (uint16_t)(rng_below(s, 2) << 15);
        mant = rng_next(s) | 1ull << 63;
        break;
    }
    memcpy(out, &mant, 8);
    memcpy(out + 8, &sexp, 2);
}

/* 16 bytes of lanes of one random width. */
static void gen_vec(uint64_t *s, uint8_t *out)
{
    bool dbl = rng_below(s, 2);
    for (unsigned b = 0; b < 16; b += dbl ? 8 : 4) {
        uint64_t v = rng_below(s, 8) == 0 ? gen_value(s) : gen_fp(s, dbl);
        memcpy(out + b, &v, dbl ? 8 : 4);
    }
}

/* The x87/SSE state a vector case starts from: FCW and FSW as FNINIT
 * leaves them, random tags and MMX registers, random XMM lanes, and a
 * random MXCSR: any rounding mode, DAZ and FZ, old flags, and all
 * exceptions masked three times in four. */
static void gen_fx(uint64_t *s, uint8_t *fx, bool x87)
{
    memset(fx, 0, 512);
    uint16_t fcw = 0x37F;
    memcpy(fx + FX_FCW, &fcw, 2);
    fx[FX_FTW] = (uint8_t)rng_next(s);
    uint32_t mxcsr = (uint32_t)rng_next(s) & 0xFFFF;
    if (rng_below(s, 4))
        mxcsr |= 0x1F80;
    memcpy(fx + FX_MXCSR, &mxcsr, 4);
    for (unsigned k = 0; k < 8; k++) {
        uint64_t m = gen_value(s);
        uint16_t e = (uint16_t)rng_next(s);
        memcpy(fx + FX_ST + 16 * k, &m, 8);
        memcpy(fx + FX_ST + 16 * k + 8, &e, 2);
    }
    for (unsigned k = 0; k < 16; k++)
        gen_vec(s, fx + FX_XMM + 16 * k);
    if (!x87)
        return;
    /* x87: any rounding and precision control, exceptions masked three
     * times in four; a random TOP, registers mostly in use, and now and
     * then an unmasked exception already pending (#MF). */
    uint16_t masks = rng_below(s, 4) ? 0x3F : (uint16_t)(rng_next(s) & 0x3F);
    fcw = (uint16_t)(0x40 | masks | rng_below(s, 4) << 8 | rng_below(s, 4) << 10);
    memcpy(fx + FX_FCW, &fcw, 2);
    uint16_t fsw = (uint16_t)(rng_below(s, 8) << 11);
    if (rng_below(s, 8) == 0)
        fsw |= (uint16_t)(rng_next(s) & 0x3F);
    if (fsw & ~fcw & 0x3F)
        fsw |= 0x8080; /* ES and B */
    memcpy(fx + FX_FSW, &fsw, 2);
    fx[FX_FTW] = 0;
    for (unsigned k = 0; k < 8; k++) {
        if (rng_below(s, 8))
            fx[FX_FTW] |= (uint8_t)(1u << k);
        gen_x87(s, fx + FX_ST + 16 * k);
    }
}

/* ---- the host runner ------------------------------------------------ */

static uint8_t *window_map, *code_map_host;
static uint8_t pattern[DATA_SIZE];
static unsigned prologue_len;

static sigjmp_buf host_jmp;
static volatile sig_atomic_t host_signal;
static uint8_t alt_stack[1 << 16];
static const int caught[] = {SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP};
static struct sigaction old_actions[sizeof caught / sizeof *caught];

static void on_signal(int sig)
{
    host_signal = sig;
    siglongjmp(host_jmp, 1);
}

static void put_le(uint8_t **p, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        *(*p)++ = (uint8_t)(v >> (8 * k));
}

/* MOV r64, [abs32] (load) or MOV [abs32], r64 (store): ModRM rm=100
 * with SIB base=101, index=100 and mod=00 is a bare disp32. */
static void emit_abs_mov(uint8_t **p, bool store, unsigned reg, uint32_t addr)
{
    *(*p)++ = (uint8_t)(0x48 | ((reg >> 3) << 2));
    *(*p)++ = store ? 0x89 : 0x8B;
    *(*p)++ = (uint8_t)(((reg & 7) << 3) | 4);
    *(*p)++ = 0x25;
    put_le(p, addr, 4);
}

/* FXSAVE64 [abs32] or FXRSTOR64 [abs32]. */
static void emit_abs_fx(uint8_t **p, bool restore, uint32_t addr)
{
    static const uint8_t op[] = {0x48, 0x0F, 0xAE};
    memcpy(*p, op, sizeof op);
    *p += sizeof op;
    *(*p)++ = restore ? 0x0C : 0x04;
    *(*p)++ = 0x25;
    put_le(p, addr, 4);
}

/* Saves the callee-saved registers, RSP and the host's x87/SSE state,
 * loads the case's x87/SSE state, RFLAGS and the 16 GPRs from HB->in.
 * Everything uses absolute addresses: no register is free. */
static void write_prologue(void)
{
    uint8_t *p = code_map_host;
    static const uint8_t saves[] = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55,
                                    0x41, 0x56, 0x41, 0x57};
    memcpy(p, saves, sizeof saves);
    p += sizeof saves;
    emit_abs_mov(&p, true, RSP, HB_ADDR(saved_rsp));
    emit_abs_fx(&p, false, HB_ADDR(saved_fx));
    emit_abs_fx(&p, true, HB_ADDR(in.fx));
    *p++ = 0xFF; /* PUSH qword [abs32]; POPFQ */
    *p++ = 0x34;
    *p++ = 0x25;
    put_le(&p, HB_ADDR(in.rflags), 4);
    *p++ = 0x9D;
    for (unsigned r = 0; r < 16; r++)
        emit_abs_mov(&p, false, r, HB_ADDR(in.gpr) + 8 * r);
    prologue_len = (unsigned)(p - code_map_host);
}

/* The instruction, then: store the GPRs and the x87/SSE state, restore
 * the host's, restore RSP, store RFLAGS, CLD (the ABI wants DF clear),
 * restore the callee-saved registers. */
static void write_insn_and_epilogue(const uint8_t *insn, unsigned len)
{
    uint8_t *p = code_map_host + prologue_len;
    memcpy(p, insn, len);
    p += len;
    for (unsigned r = 0; r < 16; r++)
        emit_abs_mov(&p, true, r, HB_ADDR(out.gpr) + 8 * r);
    emit_abs_fx(&p, false, HB_ADDR(out.fx));
    emit_abs_fx(&p, true, HB_ADDR(saved_fx));
    emit_abs_mov(&p, false, RSP, HB_ADDR(saved_rsp));
    *p++ = 0x9C; /* PUSHFQ; POP qword [abs32] */
    *p++ = 0x8F;
    *p++ = 0x04;
    *p++ = 0x25;
    put_le(&p, HB_ADDR(out.rflags), 4);
    static const uint8_t restores[] = {0xFC, 0x41, 0x5F, 0x41, 0x5E, 0x41,
                                       0x5D, 0x41, 0x5C, 0x5D, 0x5B, 0xC3};
    memcpy(p, restores, sizeof restores);
}

static bool host_init(void)
{
    void *w = mmap((void *)(uintptr_t)WINDOW, WINDOW_MAP,
                   PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *c = mmap((void *)(uintptr_t)CODE, 4096,
                   PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (w != (void *)(uintptr_t)WINDOW || c != (void *)(uintptr_t)CODE) {
        print_error("cannot map the test window at %#llx/%#llx on the host\n",
                    (unsigned long long)WINDOW, (unsigned long long)CODE);
        return false;
    }
    window_map = w;
    code_map_host = c;
    write_prologue();
    return true;
}

static void host_fini(void)
{
    munmap(code_map_host, 4096);
    munmap(window_map, WINDOW_MAP);
}

/* The instruction's own faults (#DE as SIGFPE) and any crash of a case
 * come back to host_run. Installed per test: cmocka installs its own
 * handlers around each test. The handler runs on its own stack, since
 * the instruction may have loaded anything into RSP. */
static void host_signals_on(void)
{
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    sigaltstack(&ss, NULL);
    /* SA_NODEFER: the handler leaves by siglongjmp without restoring the
     * signal mask, so the signal must not stay blocked. */
    struct sigaction sa = {.sa_handler = on_signal,
                           .sa_flags = SA_ONSTACK | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    for (unsigned k = 0; k < sizeof caught / sizeof *caught; k++)
        sigaction(caught[k], &sa, &old_actions[k]);
}

static void host_signals_off(void)
{
    for (unsigned k = 0; k < sizeof caught / sizeof *caught; k++)
        sigaction(caught[k], &old_actions[k], NULL);
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
}

/* Runs the instruction on the host. Returns 0, or the signal it raised. */
static int host_run(const uint8_t *insn, unsigned len, const struct regs *in,
                    const uint8_t *data, struct regs *out)
{
    write_insn_and_epilogue(insn, len);
    memcpy(window_map, data, DATA_SIZE);
    HB->in = *in;
    memset(&HB->out, 0, sizeof HB->out);
    host_signal = 0;
    if (sigsetjmp(host_jmp, 0) == 0)
        ((void (*)(void))(uintptr_t)CODE)();
    else /* the epilogue did not run: the host's own x87/SSE state back */
        __asm__ volatile("fxrstor64 %0" : : "m"(HB->saved_fx) : "memory");
    *out = HB->out;
    return host_signal;
}

/* ---- the emulator runner ------------------------------------------- */

static struct machine *m;
static enum cpu_engine engine; /* of the group running */

static void put64(uint64_t pa, uint64_t v)
{
    memcpy(m->ram + pa, &v, 8);
}

/* 64-bit mode set up directly: identity paging for the first 2 MiB
 * (tables, GDT, IDT), WINDOW mapped to WINDOW_PA with a 2 MiB page; a
 * flat 64-bit code segment; an IDT whose gate v points at VECTORS + v,
 * so that the RIP after a step names the exception delivered. */
static bool guest_init(void)
{
    m = machine_create(MACHINE_MIB, stderr);
    if (!m)
        return false;
    block_cache_build_after(m->cpu->bcache, 1); /* a block at each case */
    put64(PML4_PA, PDPT_PA | 3);
    put64(PDPT_PA, PD_PA | 3);
    put64(PD_PA, 0x83); /* P, RW, PS */
    put64(PD_PA + 8 * (WINDOW >> 21), WINDOW_PA | 0x83);
    put64(GDT_PA + 8, 0x00209A0000000000ull);  /* 64-bit code, DPL 0 */
    put64(GDT_PA + 16, 0x00CF92000000FFFFull); /* flat data */
    for (uint64_t v = 0; v < 32; v++) {
        uint64_t target = VECTORS + v;
        put64(IDT_PA + 16 * v, (target & 0xFFFF) | (8ull << 16) |
                                   (0x8Eull << 40) |
                                   ((target >> 16) & 0xFFFF) << 48);
        put64(IDT_PA + 16 * v + 8, target >> 32);
    }
    struct cpu *c = m->cpu;
    cpu_reset_multiboot(c, 0, 0);
    c->cr0 |= CR0_PG | CR0_NE;
    c->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    c->cr3 = PML4_PA;
    c->efer = EFER_LME | EFER_LMA | EFER_NXE;
    c->gdtr = (struct table_reg){GDT_PA, 23};
    c->idtr = (struct table_reg){IDT_PA, 32 * 16 - 1};
    c->seg[SEG_CS] = (struct segment){
        .sel = 8, .base = 0, .limit = 0xFFFFFFFF,
        .attr = 0xB | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_L | SEG_ATTR_G};
    cpu_update_mode(c);
    mmu_flush_all(c);
    return c->code64;
}

/* The emulated CPU's x87/SSE state from and to an FXSAVE64 image (the
 * fields the test compares; ST(i) is R((TOP + i) mod 8)). */
static void fx_to_cpu(struct cpu *c, const uint8_t *fx)
{
    struct fpu *f = &c->fpu;
    memcpy(&f->fcw, fx + FX_FCW, 2);
    memcpy(&f->fsw, fx + FX_FSW, 2);
    f->ftw = fx[FX_FTW];
    memcpy(&f->mxcsr, fx + FX_MXCSR, 4);
    unsigned top = (f->fsw >> 11) & 7;
    for (unsigned k = 0; k < 8; k++) {
        memcpy(&f->st[(top + k) & 7].mant, fx + FX_ST + 16 * k, 8);
        memcpy(&f->st[(top + k) & 7].sexp, fx + FX_ST + 16 * k + 8, 2);
    }
    memcpy(f->xmm, fx + FX_XMM, 256);
}

static void cpu_to_fx(const struct cpu *c, uint8_t *fx)
{
    const struct fpu *f = &c->fpu;
    memset(fx, 0, 512);
    memcpy(fx + FX_FCW, &f->fcw, 2);
    memcpy(fx + FX_FSW, &f->fsw, 2);
    fx[FX_FTW] = f->ftw;
    memcpy(fx + FX_MXCSR, &f->mxcsr, 4);
    unsigned top = (f->fsw >> 11) & 7;
    for (unsigned k = 0; k < 8; k++) {
        memcpy(fx + FX_ST + 16 * k, &f->st[(top + k) & 7].mant, 8);
        memcpy(fx + FX_ST + 16 * k + 8, &f->st[(top + k) & 7].sexp, 2);
    }
    memcpy(fx + FX_XMM, f->xmm, 256);
}

/* Runs the instruction on the emulated CPU. Returns the vector of the
 * exception delivered, -1 for none, -2 if the machine stopped. */
/* Cases whose instruction differed from the bytes already in the code
 * page (a write of the same bytes keeps the decoded code, cpu/mmu.c). */
static unsigned rewrites;

static int guest_run(const uint8_t *insn, unsigned len, const struct regs *in,
                     const uint8_t *data, struct regs *out, uint64_t *rip)
{
    struct cpu *c = m->cpu;
    uint64_t at = CODE + prologue_len;
    uint64_t pa = WINDOW_PA + (at - WINDOW);
    rewrites += memcmp(m->ram + pa, insn, len) != 0;
    phys_write(c, pa, len, insn);
    memcpy(m->ram + WINDOW_PA, data, DATA_SIZE);
    memcpy(c->gpr, in->gpr, sizeof c->gpr);
    fx_to_cpu(c, in->fx);
    cpu_set_rflags(c, in->rflags);
    c->rip = at;
    c->exc.raised = false;
    c->halted = false;
    c->engine = engine;
    cpu_step(c);
    memcpy(out->gpr, c->gpr, sizeof out->gpr);
    cpu_to_fx(c, out->fx);
    out->rflags = cpu_rflags(c);
    *rip = c->rip;
    if (m->stop != STOP_NONE)
        return -2;
    return c->rip >= VECTORS && c->rip < VECTORS + 32 ? (int)(c->rip - VECTORS)
                                                      : -1;
}

/* ---- building a case ------------------------------------------------- */

struct tcase {
    const struct form *f;
    unsigned size;  /* operand size in bytes, 0 for none */
    unsigned count; /* shift count as encoded (before masking) */
    bool rep, addr32;
    uint8_t bytes[15];
    unsigned len;
    struct regs in;
    uint8_t data[DATA_SIZE];
};

/* Where an operand lives: memory, or bits [shift, shift+size) of a GPR. */
struct loc {
    bool mem;
    uint64_t addr;
    unsigned reg, shift;
};

static uint64_t loc_get(const struct tcase *t, const struct loc *l)
{
    uint64_t mask = size_mask(t->size), v = 0;
    if (l->mem) {
        memcpy(&v, t->data + (l->addr - DATA), t->size);
        return v;
    }
    return (t->in.gpr[l->reg] >> l->shift) & mask;
}

static void loc_set(struct tcase *t, const struct loc *l, uint64_t v)
{
    uint64_t mask = size_mask(t->size);
    if (l->mem) {
        memcpy(t->data + (l->addr - DATA), &v, t->size);
        return;
    }
    uint64_t *r = &t->in.gpr[l->reg];
    *r = (*r & ~(mask << l->shift)) | ((v & mask) << l->shift);
}

/* A register location; byte registers 4..7 are AH..BH without REX. */
static struct loc reg_loc(unsigned reg, unsigned size, bool rex)
{
    if (size == 1 && !rex && reg >= 4 && reg < 8)
        return (struct loc){false, 0, reg - 4, 8};
    return (struct loc){false, 0, reg, 0};
}

/* A register for base or index: never RSP, none of `avoid`. */
static unsigned pick_addr_reg(uint64_t *s, unsigned avoid)
{
    avoid |= 1u << RSP;
    for (;;) {
        unsigned r = rng_below(s, 16);
        if (!(avoid & (1u << r)))
            return r;
    }
}

/* Registers a fix-up writes: never base or index. */
static unsigned fix_writes(enum fix f)
{
    switch (f) {
    case FIX_COUNT_CL: return 1u << RCX;
    case FIX_DIV: case FIX_CX8: return 1u << RAX | 1u << RDX;
    case FIX_CMPXCHG: return 1u << RAX;
    default: return 0;
    }
}

enum { NO_REG = 16 };

struct mem_enc {
    unsigned base, index, scale_log; /* NO_REG when absent */
    uint64_t target;
    bool addr32, rip_rel;
    uint8_t *disp_at; /* RIP-relative: patched once the length is known */
};

/* Encodes the ModRM (and SIB, displacement) of a memory operand that
 * addresses `me->target`, and sets the base and index registers so that
 * base + index * scale + disp wraps to it (modulo 2^32 with 0x67, the
 * upper halves then random). LEA (no access) keeps random registers. */
static uint8_t *encode_mem(uint8_t *p, struct tcase *t, unsigned regfield,
                           struct mem_enc *me, uint64_t *s)
{
    bool no_access = t->f->opts & OPT_NOACCESS;
    uint64_t amask = me->addr32 ? 0xFFFFFFFFull : ~0ull;
    unsigned mode = rng_below(s, 7);
    int64_t disp = 0;
    unsigned disp_bytes = 0, mod = 0;
    me->rip_rel = false;
    if (mode == 5) { /* [disp32] */
        *p++ = (uint8_t)((regfield << 3) | 4);
        *p++ = 0x25;
        disp = no_access ? (int32_t)rng_next(s) : (int64_t)me->target;
        put_le(&p, (uint64_t)disp, 4);
        me->base = me->index = NO_REG;
        return p;
    }
    if (mode == 6) { /* [rip + disp32] */
        *p++ = (uint8_t)((regfield << 3) | 5);
        me->disp_at = p;
        me->rip_rel = true;
        put_le(&p, 0, 4);
        me->base = me->index = NO_REG;
        return p;
    }
    if (mode == 4 || mode == 3) {
        if (mode == 4) { /* no base: [index * scale + disp32] */
            me->base = NO_REG;
            mod = 0;
            disp_bytes = 4;
        } else if (rng_below(s, 3) == 0 && (me->base & 7) != 5) {
            mod = 0;
        } else {
            mod = rng_below(s, 2) ? 1 : 2;
            disp_bytes = mod == 1 ? 1 : 4;
        }
        *p++ = (uint8_t)((mod << 6) | (regfield << 3) | 4);
        *p++ = (uint8_t)((me->scale_log << 6) | ((me->index & 7) << 3) |
                         (me->base == NO_REG ? 5 : me->base & 7));
    } else {
        me->index = NO_REG;
        if (mode == 0 && (me->base & 7) != 5)
            mod = 0;
        else
            mod = mode == 2 ? 2 : 1;
        disp_bytes = mod == 0 ? 0 : mod == 1 ? 1 : 4;
        *p++ = (uint8_t)((mod << 6) | (regfield << 3) | (me->base & 7));
        if ((me->base & 7) == 4)
            *p++ = 0x24; /* SIB: no index, base R12 */
    }
    uint64_t idx = 0;
    if (me->index != NO_REG) {
        idx = gen_value(s);
        if (me->base == NO_REG && !no_access)
            idx = ((me->target >> me->scale_log) - rng_below(s, 256)) |
                  (me->addr32 ? rng_next(s) << 32 : 0);
        t->in.gpr[me->index] = idx;
    }
    if (disp_bytes == 1)
        disp = (int8_t)rng_next(s);
    else if (disp_bytes == 4)
        disp = (int32_t)rng_next(s);
    uint64_t scaled = (idx << me->scale_log) & amask;
    if (me->base == NO_REG && !no_access)
        disp = (int64_t)((me->target - scaled) & amask);
    put_le(&p, (uint64_t)disp, disp_bytes);
    if (me->base != NO_REG && !no_access) {
        uint64_t b = (me->target - scaled - (uint64_t)disp) & amask;
        if (me->addr32)
            b |= rng_next(s) << 32;
        t->in.gpr[me->base] = b;
    }
    return p;
}

/* The value of an immediate operand. */
static uint64_t imm_value(const struct tcase *t, uint64_t *s)
{
    return t->f->fix == FIX_COUNT_IMM ? t->count : gen_value(s);
}

/* Encodes case `k` of form `f` at `size`; sets registers, flags and
 * memory. Prefix order: 66, 67, F2/F3, REX, opcode. */
static void build_case(struct tcase *t, const struct form *f, unsigned size,
                       unsigned k, uint64_t *s)
{
    t->f = f;
    t->size = size;
    for (unsigned r = 0; r < 16; r++)
        t->in.gpr[r] = gen_value(s);
    t->in.gpr[RSP] = DATA + STACK_OFF + rng_below(s, 64) - 32;
    t->in.rflags = (rng_next(s) & FL_ARITH) | FL_FIXED1;
    if ((f->opts & OPT_DF) && rng_below(s, 2))
        t->in.rflags |= FL_DF;
    memcpy(t->data, pattern, DATA_SIZE);
    uint64_t target = DATA + TARGET_OFF + rng_below(s, 512) - 256;
    if ((f->opts & OPT_ALIGN) && rng_below(s, 4))
        target &= ~15ull;
    for (unsigned b = 0; b < 16; b += 8) {
        uint64_t v = gen_value(s);
        memcpy(t->data + (target - DATA) + b, &v, 8);
    }
    if (f->opts & OPT_VEC) {
        gen_vec(s, t->data + (target - DATA));
        gen_fx(s, t->in.fx, f->opts & OPT_X87);
    } else { /* FNINIT's x87 state, MXCSR's reset value */
        memset(t->in.fx, 0, sizeof t->in.fx);
        uint16_t fcw = 0x37F;
        uint32_t mxcsr = 0x1F80;
        memcpy(t->in.fx + FX_FCW, &fcw, 2);
        memcpy(t->in.fx + FX_MXCSR, &mxcsr, 4);
    }
    t->count = f->fix == FIX_COUNT_1 ? 1 : k % 71;

    bool modrm = f->enc == ENC_RM || f->enc == ENC_EXT;
    bool mem = modrm && (f->rm == RM_MEM || (f->rm == RM_ANY && rng_below(s, 2)));
    bool addr32 = (mem || f->imm == IMM_MOFFS || f->fix == FIX_STRING) &&
                  rng_below(s, 4) == 0;
    unsigned reg = rng_below(s, 16), rm = rng_below(s, 16);
    if (f->opts & OPT_MMX) /* MMX registers ignore REX.R and REX.B */
        reg &= 7, rm &= 7;
    struct mem_enc me = {.base = NO_REG, .index = NO_REG, .target = target,
                         .addr32 = addr32};
    if (mem) {
        /* The register operand is not an address register; a byte
         * register 4..7 may be AH..BH, part of register 0..3. */
        unsigned avoid = fix_writes(f->fix);
        if (f->enc == ENC_RM)
            avoid |= 1u << reg | (reg >= 4 && reg < 8 ? 1u << (reg - 4) : 0);
        me.base = pick_addr_reg(s, avoid);
        me.index = pick_addr_reg(s, avoid | 1u << me.base);
        me.scale_log = rng_below(s, 4);
    }

    /* Legacy prefixes in a random order. F3 (REP/REPE) on every string
     * instruction; F2 (REPNE) only on CMPS and SCAS, where the SDM
     * defines it. */
    uint8_t *p = t->bytes;
    bool compares = (f->opcode & ~1) == 0xA6 || (f->opcode & ~1) == 0xAE;
    t->rep = (f->opts & OPT_REP) && k % 3;
    t->addr32 = addr32;
    if (size == 2)
        *p++ = 0x66;
    if (addr32)
        *p++ = 0x67;
    if (t->rep)
        *p++ = k % 3 == 2 && compares ? 0xF2 : 0xF3;
    if ((f->opts & OPT_LOCK) && mem && rng_below(s, 3) == 0)
        *p++ = 0xF0;
    for (uint8_t *q = p - 1; q > t->bytes; q--) {
        uint8_t *other = t->bytes + rng_below(s, (unsigned)(q - t->bytes) + 1);
        uint8_t x = *q;
        *q = *other;
        *other = x;
    }
    if (f->pfx) /* mandatory prefix: right before REX and the opcode */
        *p++ = f->pfx;
    unsigned rex = 0x40;
    if (size == 8 && !(f->opts & OPT_DEF64))
        rex |= 8;
    if (f->enc == ENC_RM)
        rex |= (reg >> 3) << 2;
    if (f->enc == ENC_OPREG)
        rex |= reg >> 3;
    if (modrm && !mem)
        rex |= rm >> 3;
    /* With a memory operand the addressing mode (decided by encode_mem)
     * says whether base and index need REX.B and REX.X: a REX is placed
     * here and dropped below if it ends up empty. */
    uint8_t *rex_at = NULL;
    bool want_plain = rng_below(s, 4) == 0;
    if (rex != 0x40 || want_plain || mem) {
        rex_at = p;
        *p++ = (uint8_t)rex;
    }
    uint16_t op = f->opcode;
    if (f->opts & OPT_CC)
        op = (uint16_t)(op + k % 16);
    if (f->enc == ENC_OPREG)
        op = (uint16_t)(op + (reg & 7));
    if (op > 0xFF)
        *p++ = (uint8_t)(op >> 8);
    *p++ = (uint8_t)op;
    if (modrm) {
        unsigned regfield = f->enc == ENC_EXT ? f->ext : reg & 7;
        if (mem)
            p = encode_mem(p, t, regfield, &me, s);
        else
            *p++ = (uint8_t)(0xC0 | (regfield << 3) | (rm & 7));
    }
    if (rex_at && mem) {
        if (me.index != NO_REG)
            *rex_at |= (uint8_t)((me.index >> 3) << 1);
        if (me.base != NO_REG)
            *rex_at |= (uint8_t)(me.base >> 3);
        if (*rex_at == 0x40 && !want_plain) { /* drop an empty REX */
            memmove(rex_at, rex_at + 1, (size_t)(p - rex_at - 1));
            p--;
            if (me.rip_rel)
                me.disp_at--;
            rex_at = NULL;
        }
    }
    bool has_rex = rex_at != NULL;

    switch (f->imm) {
    case IMM_B: put_le(&p, imm_value(t, s), 1); break;
    case IMM_Z: put_le(&p, imm_value(t, s), size == 2 ? 2 : 4); break;
    case IMM_V: put_le(&p, imm_value(t, s), size); break;
    case IMM_MOFFS: put_le(&p, target, addr32 ? 4 : 8); break;
    default: break;
    }
    t->len = (unsigned)(p - t->bytes);
    if (me.rip_rel) {
        uint64_t next = CODE + prologue_len + t->len;
        uint8_t *d = me.disp_at;
        put_le(&d, target - next, 4);
    }

    /* Fix-ups: inputs that make the form's interesting cases likely. */
    struct loc rm_loc = mem ? (struct loc){true, target, 0, 0}
                            : reg_loc(rm, size, has_rex);
    struct loc reg_l = reg_loc(reg, size, has_rex);
    switch (f->fix) {
    case FIX_COUNT_CL:
        t->in.gpr[RCX] = (t->in.gpr[RCX] & ~0xFFull) | t->count;
        break;
    case FIX_DIV: {
        uint64_t d = loc_get(t, &rm_loc);
        struct loc hi = size == 1 ? (struct loc){false, 0, RAX, 8}
                                  : (struct loc){false, 0, RDX, 0};
        struct loc lo = {false, 0, RAX, 0};
        unsigned choice = rng_below(s, 4);
        if (choice == 0)
            break; /* random: mostly #DE */
        if (f->ext == 6) /* DIV: high half below the divisor */
            loc_set(t, &hi, d ? rng_next(s) % d : 0);
        else /* IDIV: the dividend is the sign-extended low half */
            loc_set(t, &hi, (loc_get(t, &lo) & sign_bit(size)) ? ~0ull : 0);
        break;
    }
    case FIX_BT:
        if (mem) /* a bit offset reaching +-4 KiB around the operand */
            loc_set(t, &reg_l, (uint64_t)(int64_t)(int16_t)rng_next(s));
        break;
    case FIX_CMPXCHG:
        if (rng_below(s, 2)) {
            struct loc acc = {false, 0, RAX, 0};
            loc_set(t, &acc, loc_get(t, &rm_loc));
        }
        break;
    case FIX_ZERO_SRC:
        if (rng_below(s, 4) == 0)
            loc_set(t, &rm_loc, 0);
        break;
    case FIX_STRING: {
        unsigned n = rng_below(s, 18);
        uint64_t si = DATA + STRING_SRC_OFF + rng_below(s, 0x400);
        uint64_t di = DATA + STRING_DST_OFF + rng_below(s, 0x400);
        uint64_t high = addr32 ? rng_next(s) << 32 : 0;
        t->in.gpr[RSI] = si | high;
        t->in.gpr[RDI] = di | (addr32 ? rng_next(s) << 32 : 0);
        t->in.gpr[RCX] = n | (addr32 ? rng_next(s) << 32 : 0);
        /* CMPS and SCAS: equal runs of some length, so that REPE and
         * REPNE stop at different places. */
        uint8_t *dst = t->data + (di - DATA) - 0x100;
        if ((f->opcode & ~1) == 0xA6)
            memcpy(dst, t->data + (si - DATA) - 0x100, 0x200);
        else if ((f->opcode & ~1) == 0xAE)
            for (unsigned b = 0; b < 0x200; b += size)
                memcpy(dst + b, &t->in.gpr[RAX], size);
        if (rng_below(s, 2))
            dst[0x100 + (int)rng_below(s, 64) - 32] ^= (uint8_t)(1 + rng_below(s, 255));
        break;
    }
    case FIX_LEAVE:
        t->in.gpr[RBP] = DATA + STACK_OFF + rng_below(s, 256) - 128;
        break;
    case FIX_VEC_COUNT: {
        uint64_t count = t->count;
        uint8_t *src = mem ? t->data + (target - DATA)
                     : t->in.fx + ((f->opts & OPT_MMX) ? FX_ST : FX_XMM) + 16 * rm;
        if (rng_below(s, 4))
            memcpy(src, &count, 8);
        break;
    }
    case FIX_CX8:
        if (rng_below(s, 2)) {
            unsigned half = size == 8 ? 8 : 4;
            struct loc ax = {false, 0, RAX, 0}, dx = {false, 0, RDX, 0};
            uint64_t lo = 0, hi = 0;
            memcpy(&lo, t->data + (target - DATA), half);
            memcpy(&hi, t->data + (target - DATA) + half, half);
            t->size = half;
            loc_set(t, &ax, lo);
            loc_set(t, &dx, hi);
            t->size = size;
        }
        break;
    default:
        break;
    }
}

/* ---- comparing ------------------------------------------------------- */

static uint64_t defined_flags(const struct tcase *t)
{
    unsigned bits = t->size * 8;
    unsigned c = t->count & (t->size == 8 ? 63 : 31);
    uint64_t all = FL_ARITH;
    switch (t->f->rule) {
    case R_LOGIC: return all & ~FL_AF;
    case R_SHIFT:
        if (c == 0)
            return all;
        all &= ~FL_AF;
        if (c != 1)
            all &= ~FL_OF;
        if (c >= bits && t->f->ext != 7) /* SHL/SHR, not SAR */
            all &= ~FL_CF;
        return all;
    case R_ROT: return c <= 1 ? all : all & ~FL_OF;
    case R_SHXD:
        if (c == 0)
            return all;
        if (c > bits)
            return 0;
        return c == 1 ? all & ~FL_AF : all & ~(FL_AF | FL_OF);
    case R_MUL: return FL_CF | FL_OF;
    case R_NONE: return 0;
    case R_BT: return FL_CF | FL_ZF;
    case R_BS: return FL_ZF;
    default: return all;
    }
}

/* SHLD/SHRD with a count above the operand size: the destination is
 * undefined (SDM Vol. 2B "SHLD"); such cases are not generated. */
static bool result_undefined(const struct tcase *t)
{
    unsigned c = t->count & (t->size == 8 ? 63 : 31);
    return t->f->rule == R_SHXD && c > t->size * 8;
}

struct outcome {
    struct regs r;
    const uint8_t *data;
    int vector; /* -1 none; host: the signal as 100 + signo, #DE as 0 */
    uint64_t rip;
};

static unsigned failures, faults, unchecked;
enum { MAX_REPORTS = 12 };

static void print_flags(const char *label, uint64_t f)
{
    print_error("%s%#06" PRIx64 " [%s%s%s%s%s%s%s]", label, f,
                f & FL_OF ? " OF" : "", f & FL_DF ? " DF" : "",
                f & FL_SF ? " SF" : "", f & FL_ZF ? " ZF" : "",
                f & FL_AF ? " AF" : "", f & FL_PF ? " PF" : "",
                f & FL_CF ? " CF" : "");
}

static void report(const struct tcase *t, const struct outcome *h,
                   const struct outcome *e, const char *why)
{
    if (++failures > MAX_REPORTS)
        return;
    char text[96], hex[3 * 15 + 1] = "";
    dcache_disassemble(m->cpu->dcache, t->bytes, t->len, CODE + prologue_len,
                       true, text, sizeof text);
    for (unsigned k = 0; k < t->len; k++)
        snprintf(hex + 3 * k, 4, "%02x ", t->bytes[k]);
    bool counted = t->f->fix == FIX_COUNT_1 || t->f->fix == FIX_COUNT_CL ||
                   t->f->fix == FIX_COUNT_IMM;
    print_error("\nMISMATCH (%s): %s  [%s] (form \"%s\", size %u",
                why, text, hex, t->f->name, t->size);
    if (counted)
        print_error(", count %u", t->count);
    print_error(")\n");
    for (unsigned r = 0; r < 16; r++) {
        bool differ = h->r.gpr[r] != e->r.gpr[r];
        print_error("  %-3s in %016" PRIx64 "  host %016" PRIx64
                    "  emu %016" PRIx64 "%s\n",
                    reg_names[r], t->in.gpr[r], h->r.gpr[r], e->r.gpr[r],
                    differ ? "  <--" : "");
    }
    print_flags("  rflags in ", t->in.rflags);
    print_flags("  host ", h->r.rflags);
    print_flags("  emu ", e->r.rflags);
    print_error("  defined %#06" PRIx64 "\n", (uint64_t)(defined_flags(t) | FL_DF));
    print_error("  exception: host %d emu %d; emu rip %#" PRIx64
                " (expected %#" PRIx64 ")\n",
                h->vector, e->vector, e->rip, (uint64_t)(CODE + prologue_len + t->len));
    unsigned shown = 0;
    for (unsigned b = 0; b < DATA_SIZE && shown < 8; b++)
        if (h->data[b] != e->data[b]) {
            print_error("  memory %#" PRIx64 ": in %02x host %02x emu %02x\n",
                        (uint64_t)(DATA + b), t->data[b], h->data[b], e->data[b]);
            shown++;
        }
    if (m->stop != STOP_NONE)
        print_error("  emulator stopped: %s\n", m->stop_message);
}

/* The x87/SSE state after a vector form: FCW, FSW, the abridged tag
 * word, MXCSR, ST0-7 (80 bits each) and XMM0-15. */
static void compare_fx(const struct tcase *t, const struct outcome *h,
                       const struct outcome *e)
{
    static const struct { const char *name; unsigned at, n; } fields[] = {
        {"fcw", FX_FCW, 2}, {"fsw", FX_FSW, 2}, {"ftw", FX_FTW, 1},
        {"mxcsr", FX_MXCSR, 4}};
    const uint8_t *a = h->r.fx, *b = e->r.fx;
    bool differ = false;
    for (unsigned k = 0; k < 4; k++)
        differ |= memcmp(a + fields[k].at, b + fields[k].at, fields[k].n) != 0;
    for (unsigned k = 0; k < 8; k++)
        differ |= memcmp(a + FX_ST + 16 * k, b + FX_ST + 16 * k, 10) != 0;
    differ |= memcmp(a + FX_XMM, b + FX_XMM, 256) != 0;
    if (!differ)
        return;
    report(t, h, e, "x87/SSE state");
    if (failures > MAX_REPORTS)
        return;
    for (unsigned k = 0; k < 4; k++) {
        uint32_t x = 0, y = 0, in = 0;
        memcpy(&x, a + fields[k].at, fields[k].n);
        memcpy(&y, b + fields[k].at, fields[k].n);
        memcpy(&in, t->in.fx + fields[k].at, fields[k].n);
        print_error("  %-5s in %08x host %08x emu %08x%s\n", fields[k].name,
                    in, x, y, x != y ? "  <--" : "");
    }
    for (unsigned k = 0; k < 16; k++) {
        const uint8_t *x = a + FX_XMM + 16 * k, *y = b + FX_XMM + 16 * k;
        const uint8_t *in = t->in.fx + FX_XMM + 16 * k;
        if (!memcmp(x, y, 16) && k >= 2)
            continue;
        uint64_t q[6];
        memcpy(q, in, 16);
        memcpy(q + 2, x, 16);
        memcpy(q + 4, y, 16);
        print_error("  xmm%-2u in %016" PRIx64 "%016" PRIx64 " host %016" PRIx64
                    "%016" PRIx64 " emu %016" PRIx64 "%016" PRIx64 "%s\n",
                    k, q[1], q[0], q[3], q[2], q[5], q[4],
                    memcmp(x, y, 16) ? "  <--" : "");
    }
    for (unsigned k = 0; k < 8; k++) {
        const uint8_t *x = a + FX_ST + 16 * k, *y = b + FX_ST + 16 * k;
        if (!memcmp(x, y, 10))
            continue;
        uint64_t mx, my;
        uint16_t ex, ey;
        memcpy(&mx, x, 8);
        memcpy(&my, y, 8);
        memcpy(&ex, x + 8, 2);
        memcpy(&ey, y + 8, 2);
        print_error("  st%u host %04x:%016" PRIx64 " emu %04x:%016" PRIx64
                    "  <--\n", k, ex, mx, ey, my);
    }
}

/* An unmasked overflow or underflow newly raised by an x87 instruction:
 * hardware then stores a bias-adjusted result (or nothing, to memory);
 * the emulator stores the masked result, a documented simplification. */
static bool x87_unmasked_over_under(const struct tcase *t,
                                    const struct outcome *h)
{
    uint16_t fcw, before, after;
    memcpy(&fcw, t->in.fx + FX_FCW, 2);
    memcpy(&before, t->in.fx + FX_FSW, 2);
    memcpy(&after, h->r.fx + FX_FSW, 2);
    return (after & ~before & ~fcw & 0x18) != 0;
}

/* Runs one case on both sides and compares. */
static void run_case(const struct tcase *t)
{
    struct outcome h = {.data = window_map}, e = {.data = NULL};
    int sig = host_run(t->bytes, t->len, &t->in, t->data, &h.r);
    bool vec = t->f->opts & OPT_VEC;
    bool x87 = t->f->opts & OPT_X87;
    h.vector = sig == 0 ? -1
             : sig == SIGFPE ? (x87 ? VEC_MF : vec ? VEC_XM : VEC_DE)
             : sig == SIGILL ? VEC_UD
             : sig == SIGSEGV && (t->f->opts & OPT_ALIGN) ? VEC_GP
                                                         : 100 + sig;
    e.vector = guest_run(t->bytes, t->len, &t->in, t->data, &e.r, &e.rip);
    e.data = m->ram + WINDOW_PA;
    if (e.vector == -2) {
        report(t, &h, &e, "the emulator stopped");
        m->stop = STOP_NONE;
        return;
    }
    if (h.vector != e.vector) {
        report(t, &h, &e, "exception");
        return;
    }
    if (e.vector == VEC_DE) {
        faults++;
        /* A fault leaves the registers as they were (the exception frame
         * went to the stack, so RSP and memory differ). */
        for (unsigned r = 0; r < 16; r++)
            if (r != RSP && e.r.gpr[r] != t->in.gpr[r]) {
                h.r = t->in;
                report(t, &h, &e, "registers changed by a faulting insn");
                return;
            }
        return;
    }
    if (e.vector != -1) {
        faults++;
        return; /* both sides faulted alike: nothing more to compare */
    }
    if (e.rip != CODE + prologue_len + t->len) {
        report(t, &h, &e, "rip");
        return;
    }
    if (x87 && x87_unmasked_over_under(t, &h)) {
        unchecked++; /* the destination is simplified: docs/emulator.md */
        return;
    }
    /* A REP string instruction with 0x67 and ECX = 0 does nothing by the
     * SDM ("REP" pseudocode: the loop runs while the count register is
     * not 0), but this machine's Intel CPU clears the upper halves of RCX
     * (and of RSI/RDI for MOVS and STOS). Only the low halves, which the
     * SDM defines, are compared then. */
    uint64_t upper_ignored[16] = {0};
    if (t->rep && t->addr32 && (uint32_t)t->in.gpr[RCX] == 0)
        upper_ignored[RCX] = upper_ignored[RSI] = upper_ignored[RDI] =
            0xFFFFFFFF00000000ull;
    for (unsigned r = 0; r < 16; r++)
        if ((h.r.gpr[r] ^ e.r.gpr[r]) & ~upper_ignored[r]) {
            report(t, &h, &e, "registers");
            return;
        }
    uint64_t mask = defined_flags(t) | FL_DF;
    if ((h.r.rflags ^ e.r.rflags) & mask) {
        report(t, &h, &e, "flags");
        return;
    }
    if (memcmp(h.data, e.data, DATA_SIZE) != 0) {
        report(t, &h, &e, "memory");
        return;
    }
    if (vec)
        compare_fx(t, &h, &e);
}

/* ---- the tests -------------------------------------------------------- */

struct group {
    const char *name;
    const struct form *forms;
    size_t n;
    enum cpu_engine engine;
};

static struct tcase the_case; /* 16 KiB: not on the stack */

/* Cases per form and size: shift counts run 0..70 eight times, condition
 * codes 0..15 forty times, the others 640 random cases. */
static unsigned cases_for(const struct form *f)
{
    if (f->fix == FIX_COUNT_CL || f->fix == FIX_COUNT_IMM)
        return 71 * 8;
    if (f->opts & OPT_CC)
        return 16 * 40;
    return 640;
}

static void run_group(void **state)
{
    const struct group *g = *state;
    unsigned cases = 0, skipped = 0;
    failures = faults = unchecked = rewrites = 0;
    engine = g->engine;
    unsigned long long blocks = block_built(m->cpu->bcache);
    host_signals_on();
    for (size_t fi = 0; fi < g->n; fi++) {
        const struct form *f = &g->forms[fi];
        const char *only = getenv("INSN_DIFF_ONLY"); /* for debugging */
        if (only && !strstr(f->name, only))
            continue;
        uint64_t seed = 0x7475727446ull * (fi + 1) + f->opcode * 131u + f->ext;
        for (unsigned size = f->sizes ? 1 : 0; size <= 8; size = size ? size * 2 : 9) {
            if (size && !(f->sizes & size))
                continue;
            unsigned before = failures;
            for (unsigned k = 0; k < cases_for(f); k++) {
                build_case(&the_case, f, size, k, &seed);
                if (result_undefined(&the_case)) {
                    skipped++;
                    continue;
                }
                run_case(&the_case);
                cases++;
            }
            if (failures != before)
                print_error("[ insn-diff] %s, size %u: %u of %u cases differ\n",
                            f->name, size, failures - before, cases_for(f));
        }
    }
    host_signals_off();
    skipped += unchecked;
    print_message("[ insn-diff] %s (%s engine): %zu forms, %u cases (%u raised the same "
                  "exception on both sides; %u with an undefined result skipped), "
                  "%u mismatches\n",
                  g->name, g->engine == ENGINE_BLOCK ? "block" : "step",
                  g->n, cases, faults, skipped, failures);
    /* Every case that changed the instruction in the code page: the
     * block engine built a block for each. */
    if (engine == ENGINE_BLOCK)
        assert_true(rewrites > 0 &&
                    block_built(m->cpu->bcache) - blocks >= rewrites);
    if (failures)
        fail_msg("%u of %u cases differ between the host CPU and the "
                 "emulator (first %d shown above)", failures, cases,
                 MAX_REPORTS);
}

static int setup(void **state)
{
    (void)state;
    for (unsigned b = 0; b < DATA_SIZE; b++)
        pattern[b] = (uint8_t)(b * 151u + 17u);
    if (!host_init())
        return -1;
    return guest_init() ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    machine_destroy(m);
    host_fini();
    return 0;
}

/* ---- the rules of SDM Vol. 3A 2.5 and 13.x, Vol. 1 11.5 and 13 -------- */

/* Runs `bytes` on the emulated CPU from `the_case`'s registers, state and
 * data (RDI pointing at the data buffer + `rdi_off`); returns the
 * vector delivered (-1 for none). */
static int rule_run(const uint8_t *bytes, unsigned len, uint64_t rdi_off)
{
    struct regs out;
    uint64_t rip;
    the_case.in.gpr[RDI] = DATA + rdi_off;
    the_case.in.gpr[RSP] = DATA + STACK_OFF;
    the_case.in.rflags = FL_FIXED1;
    return guest_run(bytes, len, &the_case.in, the_case.data, &out, &rip);
}

static void rule_state(uint32_t mxcsr)
{
    memset(&the_case.in, 0, sizeof the_case.in);
    memset(the_case.data, 0, DATA_SIZE);
    uint16_t fcw = 0x37F;
    memcpy(the_case.in.fx + FX_FCW, &fcw, 2);
    memcpy(the_case.in.fx + FX_MXCSR, &mxcsr, 4);
    float one = 1.0f;
    memcpy(the_case.in.fx + FX_XMM, &one, 4); /* xmm0 = 1.0, xmm1 = 0 */
}

static void sse_exception_rules(void **state)
{
    (void)state;
    struct cpu *c = m->cpu;
    static const uint8_t movaps[] = {0x0F, 0x28, 0xC1};       /* xmm0, xmm1 */
    static const uint8_t movaps_m[] = {0x0F, 0x28, 0x07};     /* xmm0, [rdi] */
    static const uint8_t movups_m[] = {0x0F, 0x10, 0x07};     /* xmm0, [rdi] */
    static const uint8_t paddb_mm[] = {0x0F, 0xFC, 0xC1};     /* mm0, mm1 */
    static const uint8_t divss[] = {0xF3, 0x0F, 0x5E, 0xC1};  /* xmm0, xmm1 */
    static const uint8_t fxsave[] = {0x48, 0x0F, 0xAE, 0x07}; /* [rdi] */
    static const uint8_t fxrstor[] = {0x48, 0x0F, 0xAE, 0x0F};
    static const uint8_t emms[] = {0x0F, 0x77};
    uint64_t cr0 = c->cr0, cr4 = c->cr4;

    /* CR0.TS: #NM for SSE, MMX, FXSAVE (Vol. 3A 2.5). */
    rule_state(0x1F80);
    c->cr0 = cr0 | CR0_TS;
    assert_int_equal(rule_run(movaps, sizeof movaps, 0), VEC_NM);
    assert_int_equal(rule_run(paddb_mm, sizeof paddb_mm, 0), VEC_NM);
    assert_int_equal(rule_run(emms, sizeof emms, 0), VEC_NM);
    assert_int_equal(rule_run(fxsave, sizeof fxsave, 0), VEC_NM);
    /* CR0.EM: #UD for SSE and MMX, #NM for FXSAVE. */
    c->cr0 = cr0 | CR0_EM;
    assert_int_equal(rule_run(movaps, sizeof movaps, 0), VEC_UD);
    assert_int_equal(rule_run(paddb_mm, sizeof paddb_mm, 0), VEC_UD);
    assert_int_equal(rule_run(fxsave, sizeof fxsave, 0), VEC_NM);
    c->cr0 = cr0;
    /* CR4.OSFXSR clear: SSE is #UD, MMX is not affected. */
    c->cr4 = cr4 & ~CR4_OSFXSR;
    assert_int_equal(rule_run(movaps, sizeof movaps, 0), VEC_UD);
    assert_int_equal(rule_run(paddb_mm, sizeof paddb_mm, 0), -1);
    c->cr4 = cr4;

    /* Alignment: a misaligned m128 is #GP(0) for MOVAPS, fine for MOVUPS
     * (Vol. 1 11.4.1.1); FXSAVE needs 16 bytes too. */
    rule_state(0x1F80);
    assert_int_equal(rule_run(movaps_m, sizeof movaps_m, 0x1008), VEC_GP);
    assert_int_equal(rule_run(movups_m, sizeof movups_m, 0x1008), -1);
    assert_int_equal(rule_run(movaps_m, sizeof movaps_m, 0x1010), -1);
    assert_int_equal(rule_run(fxsave, sizeof fxsave, 0x1008), VEC_GP);

    /* An unmasked divide-by-zero: #XM with CR4.OSXMMEXCPT, else #UD; the
     * flag is set and the destination unchanged (Vol. 1 11.5.1). */
    rule_state(0x1F80 & ~(1u << 9));
    assert_int_equal(rule_run(divss, sizeof divss, 0), VEC_XM);
    assert_true(c->fpu.mxcsr & MXCSR_ZE);
    assert_int_equal(c->fpu.xmm[0].d[0], 0x3F800000);
    c->cr4 = cr4 & ~CR4_OSXMMEXCPT;
    assert_int_equal(rule_run(divss, sizeof divss, 0), VEC_UD);
    c->cr4 = cr4;
    rule_state(0x1F80); /* masked: the infinity, and ZE */
    assert_int_equal(rule_run(divss, sizeof divss, 0), -1);
    assert_int_equal(c->fpu.xmm[0].d[0], 0x7F800000);
    assert_int_equal(c->fpu.mxcsr, 0x1F80 | MXCSR_ZE);

    /* FXSAVE's layout (Vol. 1 Table 10-2) and FXRSTOR's MXCSR check. */
    rule_state(0x1F80 | MXCSR_PE);
    assert_int_equal(rule_run(fxsave, sizeof fxsave, 0x1000), -1);
    const uint8_t *img = m->ram + WINDOW_PA + 0x1000;
    uint32_t v32;
    uint16_t v16;
    memcpy(&v16, img + FX_FCW, 2);
    assert_int_equal(v16, 0x37F);
    memcpy(&v32, img + FX_MXCSR, 4);
    assert_int_equal(v32, 0x1F80 | MXCSR_PE);
    memcpy(&v32, img + FX_MXCSR + 4, 4);
    assert_int_equal(v32, 0xFFFF); /* MXCSR_MASK: DAZ supported */
    memcpy(&v32, img + FX_XMM, 4);
    assert_int_equal(v32, 0x3F800000);
    memcpy(the_case.data + 0x1000, img, 512);
    v32 = 0x1F80 | MXCSR_FZ | 3u << 13;
    memcpy(the_case.data + 0x1000 + FX_MXCSR, &v32, 4);
    memset(the_case.in.fx + FX_XMM, 0, 16);
    assert_int_equal(rule_run(fxrstor, sizeof fxrstor, 0x1000), -1);
    assert_int_equal(c->fpu.mxcsr, v32);
    assert_int_equal(c->fpu.xmm[0].d[0], 0x3F800000);
    v32 = 1u << 16; /* reserved */
    memcpy(the_case.data + 0x1000 + FX_MXCSR, &v32, 4);
    assert_int_equal(rule_run(fxrstor, sizeof fxrstor, 0x1000), VEC_GP);
}

static void xsave_rules(void **state)
{
    (void)state;
    struct cpu *c = m->cpu;
    static const uint8_t xgetbv[] = {0x0F, 0x01, 0xD0};
    static const uint8_t xsetbv[] = {0x0F, 0x01, 0xD1};
    static const uint8_t xsave[] = {0x48, 0x0F, 0xAE, 0x27};  /* [rdi] */
    static const uint8_t xrstor[] = {0x48, 0x0F, 0xAE, 0x2F};
    uint64_t cr4 = c->cr4;

    rule_state(0x1F80);
    c->fpu.xcr0 = 1;
    /* Without CR4.OSXSAVE every one of them is #UD (Vol. 2C). */
    c->cr4 = cr4 & ~CR4_OSXSAVE;
    assert_int_equal(rule_run(xgetbv, sizeof xgetbv, 0), VEC_UD);
    assert_int_equal(rule_run(xsetbv, sizeof xsetbv, 0), VEC_UD);
    assert_int_equal(rule_run(xsave, sizeof xsave, 0x1000), VEC_UD);
    c->cr4 = cr4 | CR4_OSXSAVE;
    /* XSETBV: XCR0 = x87|SSE accepted; AVX, no x87, ECX = 1: #GP(0). */
    static const struct { uint32_t ecx; uint64_t value; int vector; } sets[] = {
        {0, 3, -1}, {0, 2, VEC_GP}, {0, 7, VEC_GP}, {0, 5, VEC_GP},
        {1, 3, VEC_GP}, {0, 1ull << 32 | 3, VEC_GP}, {0, 1, -1}, {0, 3, -1}};
    for (unsigned k = 0; k < sizeof sets / sizeof *sets; k++) {
        the_case.in.gpr[RCX] = sets[k].ecx;
        the_case.in.gpr[RAX] = (uint32_t)sets[k].value;
        the_case.in.gpr[RDX] = sets[k].value >> 32;
        uint64_t before = c->fpu.xcr0;
        assert_int_equal(rule_run(xsetbv, sizeof xsetbv, 0), sets[k].vector);
        assert_int_equal(c->fpu.xcr0, sets[k].vector < 0 ? sets[k].value : before);
    }
    the_case.in.gpr[RCX] = 0;
    assert_int_equal(rule_run(xgetbv, sizeof xgetbv, 0), -1);
    assert_int_equal(c->gpr[RAX], 3);
    assert_int_equal(c->gpr[RDX], 0);
    the_case.in.gpr[RCX] = 1; /* XGETBV with ECX = 1 is not supported */
    assert_int_equal(rule_run(xgetbv, sizeof xgetbv, 0), VEC_GP);

    /* XSAVE: 64-byte alignment; XSTATE_BV gets RFBM's bits; MXCSR and
     * XMM0 where the legacy region keeps them. */
    the_case.in.gpr[RAX] = ~0u;
    the_case.in.gpr[RDX] = ~0u;
    assert_int_equal(rule_run(xsave, sizeof xsave, 0x1020), VEC_GP);
    assert_int_equal(rule_run(xsave, sizeof xsave, 0x1000), -1);
    const uint8_t *img = m->ram + WINDOW_PA + 0x1000;
    uint64_t bv;
    uint32_t v32;
    memcpy(&bv, img + 512, 8);
    assert_int_equal(bv, 3);
    memcpy(&v32, img + FX_XMM, 4);
    assert_int_equal(v32, 0x3F800000);
    /* XRSTOR with XSTATE_BV = 1: SSE to its initial state (XMM0 = 0), MXCSR
     * still loaded from the area (standard form, Vol. 1 13.8.1). */
    memcpy(the_case.data + 0x1000, img, XSAVE_AREA_SIZE);
    bv = 1;
    memcpy(the_case.data + 0x1000 + 512, &bv, 8);
    v32 = 0x1F80 | 1u << 13;
    memcpy(the_case.data + 0x1000 + FX_MXCSR, &v32, 4);
    assert_int_equal(rule_run(xrstor, sizeof xrstor, 0x1000), -1);
    assert_int_equal(c->fpu.xmm[0].d[0], 0);
    assert_int_equal(c->fpu.mxcsr, v32);
    /* A bit outside XCR0 in XSTATE_BV, or a nonzero XCOMP_BV: #GP(0). */
    bv = 4;
    memcpy(the_case.data + 0x1000 + 512, &bv, 8);
    assert_int_equal(rule_run(xrstor, sizeof xrstor, 0x1000), VEC_GP);
    bv = 3;
    memcpy(the_case.data + 0x1000 + 512, &bv, 8);
    memcpy(the_case.data + 0x1000 + 520, &bv, 8);
    assert_int_equal(rule_run(xrstor, sizeof xrstor, 0x1000), VEC_GP);
    c->cr4 = cr4;
    c->fpu.xcr0 = 1;
}

/* Runs `n` instructions from `bytes` on the emulated CPU as it is (no
 * state loaded); returns the first vector delivered, or -1. */
static int emu_steps(const uint8_t *bytes, unsigned len, unsigned n)
{
    struct cpu *c = m->cpu;
    uint64_t at = CODE + prologue_len;
    phys_write(c, WINDOW_PA + (at - WINDOW), len, bytes);
    c->rip = at;
    c->gpr[RSP] = DATA + STACK_OFF;
    for (unsigned k = 0; k < n; k++) {
        cpu_step(c);
        if (c->rip >= VECTORS && c->rip < VECTORS + 32)
            return (int)(c->rip - VECTORS);
    }
    return -1;
}

static void x87_rules(void **state)
{
    (void)state;
    struct cpu *c = m->cpu;
    uint64_t cr0 = c->cr0;
    static const uint8_t fld1[] = {0xD9, 0xE8};
    static const uint8_t fwait[] = {0x9B};

    /* CR0.EM or CR0.TS: #NM for x87 instructions; WAIT only with TS and
     * MP both set (Vol. 3A 2.5, Vol. 2B "WAIT"). */
    rule_state(0x1F80);
    c->cr0 = cr0 | CR0_EM;
    assert_int_equal(rule_run(fld1, sizeof fld1, 0), VEC_NM);
    assert_int_equal(rule_run(fwait, sizeof fwait, 0), -1);
    c->cr0 = cr0 | CR0_TS;
    assert_int_equal(rule_run(fld1, sizeof fld1, 0), VEC_NM);
    assert_int_equal(rule_run(fwait, sizeof fwait, 0), -1);
    c->cr0 = cr0 | CR0_TS | CR0_MP;
    assert_int_equal(rule_run(fwait, sizeof fwait, 0), VEC_NM);
    c->cr0 = cr0;

    /* An unmasked divide-by-zero sets ZE, ES and B without a fault, and
     * the next waiting instruction raises #MF; FNSTSW does not wait,
     * FNCLEX clears (Vol. 1 8.6). */
    static const uint8_t div0[] = {
        0xDB, 0xE3,             /* fninit */
        0xD9, 0x2F,             /* fldcw [rdi]: ZE unmasked */
        0xD9, 0xE8, 0xD9, 0xEE, /* fld1; fldz */
        0xDE, 0xF9,             /* fdivp: 1 / 0 */
        0xDF, 0xE0,             /* fnstsw ax */
        0xD9, 0xE8};            /* fld1: #MF */
    rule_state(0x1F80);
    uint16_t cw = 0x37B;
    memcpy(the_case.data, &cw, 2);
    assert_int_equal(rule_run(div0, 2, 0), -1); /* loads the data too */
    assert_int_equal(emu_steps(div0 + 2, sizeof div0 - 2, 5), -1);
    /* The aborted FDIVP did not pop: TOP stays 6 (as the host CPU does
     * in the differential cases above). */
    assert_int_equal(c->gpr[RAX] & 0xFFFF, 0x8000 | 6u << 11 | 0x80 | 0x04);
    assert_int_equal(emu_steps(div0 + 12, 2, 1), VEC_MF);
    static const uint8_t clear[] = {0xDB, 0xE2, 0xD9, 0xE8}; /* fnclex; fld1 */
    assert_int_equal(emu_steps(clear, sizeof clear, 2), -1);

    /* Stack overflow with IE masked: IE, SF, C1 = 1 and the indefinite
     * pushed (Vol. 1 8.5.1.1). FNSTENV: the full tag word and every
     * exception masked afterwards (Vol. 1 8.1.10, Vol. 2A "FSTENV"). */
    static const uint8_t nine[] = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9,
                                   0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8,
                                   0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8};
    assert_int_equal(emu_steps(nine, sizeof nine, 10), -1);
    assert_int_equal(c->fpu.fsw & 0x3FFF, 0x0200 | 0x41 | 7u << 11);
    assert_int_equal(c->fpu.st[7].sexp, 0xFFFF);
    assert_int_equal(c->fpu.st[7].mant, 0xC000000000000000ull);
    static const uint8_t env[] = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEE,
                                  0xD9, 0x37}; /* fninit fld1 fldz fnstenv */
    c->gpr[RDI] = DATA + 0x100;
    assert_int_equal(emu_steps(env, sizeof env, 4), -1);
    uint32_t words[7];
    memcpy(words, m->ram + WINDOW_PA + 0x100, sizeof words);
    assert_int_equal(words[0] & 0xFFFF, 0x37F);
    assert_int_equal(words[1] & 0xFFFF, 6u << 11);
    assert_int_equal(words[2] & 0xFFFF, 0x1FFF); /* R7 valid, R6 zero */
    assert_int_equal(c->fpu.fcw, 0x37F);
}

/* Memory operands that fault, on both engines. The differential cases
 * above reach only mapped memory (the host would take SIGSEGV), so the
 * faults of the specialized handlers (cpu/exec_fast.c: ALU with a memory
 * operand, MOV to and from memory; each addressing kind) are checked
 * here against the SDM: the vector, the error code and CR2 (Vol. 3A
 * 4.7, 6.15), and that the instruction had no effect: registers,
 * memory (a write crossing into a page that faults writes neither
 * page: Vol. 3A 6.5 "faults") and the arithmetic flags, as the
 * exception frame holds them. Accesses that cross a 4 KiB boundary
 * without faulting are among the differential cases (operands around
 * DATA + TARGET_OFF, a page boundary). */
static const struct {
    const char *name;
    uint8_t bytes[5];
    unsigned len, size;
    bool write;    /* checked for writing: a store or read-modify-write */
    uint8_t disp;  /* what the address adds to RDI (RCX is 0) */
    bool addr32;   /* 0x67: EDI */
} fault_forms[] = {
    {"cmp byte [rdi], 0x7f", {0x80, 0x3F, 0x7F}, 3, 1, false, 0, false},
    {"add [rdi], rax", {0x48, 0x01, 0x07}, 3, 8, true, 0, false},
    {"add eax, [rdi]", {0x03, 0x07}, 2, 4, false, 0, false},
    {"test [rdi], ecx", {0x85, 0x0F}, 2, 4, false, 0, false},
    {"sub qword [rdi], -2", {0x48, 0x83, 0x2F, 0xFE}, 4, 8, true, 0, false},
    {"or dword [rdi+rcx*2+8], 1", {0x83, 0x4C, 0x4F, 0x08, 0x01}, 5, 4,
     true, 8, false},
    {"mov [rdi], eax", {0x89, 0x07}, 2, 4, true, 0, false},
    {"mov rax, [rdi]", {0x48, 0x8B, 0x07}, 3, 8, false, 0, false},
    {"mov byte [rdi], 0x55", {0xC6, 0x07, 0x55}, 3, 1, true, 0, false},
    {"mov [edi], eax", {0x67, 0x89, 0x07}, 3, 4, true, 0, true},
};

#define RO_WINDOW (WINDOW + 0x400000) /* WINDOW_PA again, read-only */

/* Runs fault_forms[k] on its operand at `target`; returns the vector
 * delivered (-1 for none) after checking that a fault changed nothing
 * but the stack and CR2, and that CR2 and the error code are `cr2` and
 * `error`. */
static int fault_case(unsigned k, uint64_t target, uint64_t cr2,
                      uint32_t error)
{
    struct cpu *c = m->cpu;
    struct regs out;
    uint64_t rip, at = CODE + prologue_len;
    rule_state(0x1F80);
    for (unsigned r = 0; r < 16; r++)
        the_case.in.gpr[r] = 0x0101010101010101ull * (r + 1);
    the_case.in.gpr[RCX] = 0;
    the_case.in.gpr[RDI] = target - fault_forms[k].disp;
    the_case.in.gpr[RSP] = DATA + STACK_OFF;
    the_case.in.rflags = FL_FIXED1 | FL_ARITH; /* no result sets them all */
    memcpy(the_case.data, pattern, DATA_SIZE);
    uint8_t *edge = m->ram + WINDOW_PA + 0x1FFFF8; /* before WINDOW + 2 MiB */
    memset(edge, 0xA5, 8);
    c->cr2 = 0;
    int vector = guest_run(fault_forms[k].bytes, fault_forms[k].len,
                           &the_case.in, the_case.data, &out, &rip);
    /* The specialized handler ran, not the general one. */
    const struct insn *rec =
        dcache_lookup(c->dcache, WINDOW_PA + (at - WINDOW), true);
    assert_non_null(rec);
    assert_true(rec->exec != exec_alu && rec->exec != exec_mov_data);
    if (vector < 0)
        return vector;
    for (unsigned r = 0; r < 16; r++)
        if (r != RSP)
            assert_int_equal(out.gpr[r], the_case.in.gpr[r]);
    const uint8_t *frame = m->ram + WINDOW_PA + (out.gpr[RSP] - DATA);
    uint64_t f[4];
    memcpy(f, frame, sizeof f); /* error code, RIP, CS, RFLAGS */
    assert_int_equal(f[0], error);
    assert_int_equal(f[1], at);
    assert_int_equal(f[3] & FL_ARITH, FL_ARITH);
    if (vector == VEC_PF)
        assert_int_equal(c->cr2, cr2);
    /* Memory: as it was, but for the frame below STACK_OFF. */
    const uint8_t *data = m->ram + WINDOW_PA;
    assert_memory_equal(data, the_case.data, STACK_OFF - 64);
    assert_memory_equal(data + STACK_OFF, the_case.data + STACK_OFF,
                        DATA_SIZE - STACK_OFF);
    for (unsigned b = 0; b < 8; b++)
        assert_int_equal(edge[b], 0xA5);
    return vector;
}

static void memory_fault_rules(void **state)
{
    (void)state;
    struct cpu *c = m->cpu;
    enum cpu_engine saved = engine;
    uint64_t cr0 = c->cr0;
    uint64_t ro_pde = PD_PA + 8 * (RO_WINDOW >> 21);
    /* No flush: nothing was mapped there, and CR0.WP is read at each
     * access. A flush would also drop the code page's translation,
     * which the block groups' count of blocks built relies on. */
    put64(ro_pde, WINDOW_PA | 0x81); /* P, PS; not writable */
    c->cr0 = cr0 | CR0_WP;          /* which binds CPL 0 too */
    const uint64_t absent = 0x40000000ull, page_end = WINDOW + 0x200000;
    for (unsigned e = 0; e < 2; e++) {
        engine = e ? ENGINE_BLOCK : ENGINE_STEP;
        for (unsigned k = 0; k < sizeof fault_forms / sizeof *fault_forms;
             k++) {
            bool w = fault_forms[k].write;
            print_message("[ insn-diff] faults of %s (%s engine)\n",
                          fault_forms[k].name, e ? "block" : "step");
            /* Not present (P = 0), W as checked (Vol. 3A 4.7). */
            assert_int_equal(fault_case(k, absent, absent, w ? 2 : 0),
                             VEC_PF);
            /* The second page of the access not present: CR2 is its
             * first byte. */
            if (fault_forms[k].size > 2)
                assert_int_equal(fault_case(k, page_end - 2, page_end,
                                            w ? 2 : 0),
                                 VEC_PF);
            /* A read-only page: a write faults (P = 1, W = 1). */
            assert_int_equal(fault_case(k, RO_WINDOW + 0x100,
                                        RO_WINDOW + 0x100, 3),
                             w ? VEC_PF : -1);
            /* A non-canonical address: #GP(0) (Vol. 3A 3.3.7.1). */
            if (!fault_forms[k].addr32)
                assert_int_equal(fault_case(k, 0x0000800000000000ull, 0, 0),
                                 VEC_GP);
        }
    }
    put64(ro_pde, 0);
    c->cr0 = cr0;
    tlb_flush_page(&c->tlb, RO_WINDOW);
    engine = saved;
}

#define GROUP(n, t) {n, t, sizeof t / sizeof *t, ENGINE_STEP}, \
                    {n, t, sizeof t / sizeof *t, ENGINE_BLOCK}
/* Each group twice: [2k] through the step engine, [2k + 1] the block's. */
static struct group groups[] = {
    GROUP("alu", alu_forms),       GROUP("shift", shift_forms),
    GROUP("muldiv", muldiv_forms), GROUP("bit", bit_forms),
    GROUP("xchg", xchg_forms),     GROUP("move", move_forms),
    GROUP("stack", stack_forms),   GROUP("flags", flag_forms),
    GROUP("string", string_forms),
    GROUP("sse-move", sse_move_forms), GROUP("sse-int", sse_int_forms),
    GROUP("sse-float", sse_float_forms), GROUP("x87", x87_forms),
};
enum { GROUP_PAIRS = sizeof groups / sizeof *groups / 2 };

int main(void)
{
    /* The step engine's groups, the rules (on the step engine, the last
     * one a group used; memory_fault_rules on both), then the block
     * engine's groups. */
    struct CMUnitTest tests[2 * GROUP_PAIRS + 4];
    unsigned n = 0;
    for (unsigned k = 0; k < GROUP_PAIRS; k++)
        tests[n++] = (struct CMUnitTest)cmocka_unit_test_prestate(
            run_group, &groups[2 * k]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(sse_exception_rules);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(xsave_rules);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(x87_rules);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(memory_fault_rules);
    for (unsigned k = 0; k < GROUP_PAIRS; k++)
        tests[n++] = (struct CMUnitTest)cmocka_unit_test_prestate(
            run_group, &groups[2 * k + 1]);
    return _cmocka_run_group_tests("test_insn_diff", tests, n, setup,
                                   teardown);
}
