/* Program generation and mutation for the guest-code fuzzer.
 *
 * A program is IMG_SLOTS slots of IMG_SLOT bytes; each slot holds one
 * short instruction sequence from an emitter below, padded with NOPs. The
 * emitters favour what breaks emulators and hypervisors: control and
 * debug registers, MSRs, string instructions, far transfers, INT n and
 * IRET (also into ring 3), stack switches, writes to the page tables,
 * GDT, IDT and TSS, privileged and VMX instructions, port I/O. Raw random
 * bytes and random ModRM forms cover the rest of the decoder. Spans of
 * several slots (gen_span) give the block engine and the JIT long runs,
 * loops and code that rewrites itself. */
#include "gen.h"

#include <string.h>

extern const uint8_t fuzz_template[], fuzz_template_end[];

uint64_t rng_next(struct rng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(rng_next(r) % n);
}

#define PICK(r, table) ((table)[rng_below((r), sizeof(table) / sizeof((table)[0]))])

/* One slot being written. */
struct slot {
    uint8_t b[IMG_SLOT];
    unsigned n;
    uint32_t addr; /* guest address of the slot */
    bool hidden;   /* nothing that tells bare from single mode */
};

static void put(struct slot *s, uint8_t byte)
{
    if (s->n < IMG_SLOT - 1) /* an instruction is at most 15 bytes */
        s->b[s->n++] = byte;
}

static void put32(struct slot *s, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        put(s, (uint8_t)(v >> (8 * i)));
}

/* ---- interesting values ---- */

static const uint32_t msrs[] = {
    0x10, 0x1b, 0x3a, 0x8b, 0xe7, 0xe8, 0xfe, 0x174, 0x175, 0x176, 0x179,
    0x1a0, 0x1d9, 0x277, 0x2ff, 0x480, 0x481, 0x482, 0x485, 0x486, 0x488,
    0x48b, 0x491, 0x6e0, 0x802, 0x808, 0x830, 0xc0000080, 0xc0000081,
    0xc0000082, 0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101,
    0xc0000102, 0xc0000103, 0x40000000, 0xdeadbeef};
static const uint16_t selectors[] = {
    0, 3, SEL_CODE32, SEL_DATA, SEL_CODE64, SEL_CODE16, SEL_DATA16,
    SEL_TSS64, SEL_UCODE32, SEL_UDATA, SEL_UCODE64, SEL_TSS32, 0x13, 0x60,
    0xfff8, 0x0b};
static const uint8_t ports[] = {0x20, 0x21, 0x40, 0x43, 0x61, 0x70, 0x71,
                                0x80, 0xa0, 0xa1, 0xf8, 0xf9, 0xfa, 0xfc};
static const uint32_t tables[] = {IMG_PML4, IMG_PDPT, IMG_PD, IMG_PD + 8,
                                  IMG_IDT32, IMG_IDT64, IMG_IDT64 + 14 * 16,
                                  IMG_TSS32, IMG_TSS64, IMG_LOAD + 0x90,
                                  IMG_DATA, IMG_CODE, IMG_STACK_TOP - 8};

static uint32_t value32(struct rng *r)
{
    static const uint32_t v[] = {
        0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
        0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, IMG_DATA,
        IMG_DATA + 0x100, IMG_STACK_TOP - 0x100, IMG_CODE, IMG_PD,
        0x80000011, 0x80010033, 0x60000010, 0x000006f0, 0x00000620,
        0xfee00000, 0x00400000};
    switch (rng_below(r, 3)) {
    case 0: return (uint32_t)rng_next(r);
    case 1: return rng_below(r, 64);
    default: return PICK(r, v);
    }
}

/* A value for a control register: the current-state bits, toggled. */
static uint32_t cr_value(struct rng *r, unsigned cr)
{
    uint32_t base = cr == 0 ? 0x80010011u : cr == 4 ? 0x20u : IMG_PML4;
    int flips = (int)rng_below(r, 3);
    for (int i = 0; i < flips; i++) {
        unsigned bit = rng_below(r, 32);
        /* Clearing CR0.PE only ends the run (real mode is not emulated). */
        if (cr != 0 || bit != 0 || rng_below(r, 16) == 0)
            base ^= 1u << bit;
    }
    return base;
}

/* ---- ModRM helpers ---- */

/* A memory operand: [base] or [base+disp8] with a register that points
 * somewhere interesting more often than not. */
static void modrm_mem(struct slot *s, struct rng *r, unsigned reg)
{
    unsigned rm = rng_below(r, 8);
    if (rm == 4 || rm == 5) /* SIB and RIP/disp32 forms: absolute */
        rm = 4;
    unsigned mod = rng_below(r, 2);
    if (rm == 4) {
        put(s, (uint8_t)(0x04 | (reg & 7) << 3));
        put(s, 0x25); /* SIB: no base, no index, disp32 */
        put32(s, PICK(r, tables) + rng_below(r, 16) * 8);
        return;
    }
    put(s, (uint8_t)(mod << 6 | (reg & 7) << 3 | rm));
    if (mod == 1)
        put(s, (uint8_t)rng_next(r));
}

static void mov_imm(struct slot *s, unsigned reg, uint32_t v)
{
    put(s, (uint8_t)(0xb8 + reg));
    put32(s, v);
}

/* ---- emitters ---- */

static void e_random(struct slot *s, struct rng *r)
{
    unsigned n = 1 + rng_below(r, 15);
    for (unsigned i = 0; i < n; i++)
        put(s, (uint8_t)rng_next(r));
}

static void e_alu(struct slot *s, struct rng *r)
{
    static const uint8_t prefixes[] = {0x66, 0x48, 0x4c, 0xf0, 0x67, 0x41};
    if (rng_below(r, 3) == 0)
        put(s, PICK(r, prefixes));
    switch (rng_below(r, 4)) {
    case 0: /* ADD..CMP r/m forms */
        put(s, (uint8_t)(rng_below(r, 8) << 3 | rng_below(r, 4)));
        break;
    case 1: /* group 1/2/3, INC/DEC, shifts */
        put(s, PICK(r, ((const uint8_t[]){0x80, 0x81, 0x83, 0xc0, 0xc1,
                                          0xd0, 0xd1, 0xd3, 0xf6, 0xf7,
                                          0xfe, 0xff})));
        break;
    case 2: /* two-byte: bit ops, CMOV, SETcc, BSF/BSR, XADD, CMPXCHG */
        put(s, 0x0f);
        put(s, PICK(r, ((const uint8_t[]){0xa3, 0xab, 0xb3, 0xbb, 0xba,
                                          0xbc, 0xbd, 0xb0, 0xb1, 0xc0,
                                          0xc1, 0xaf, 0xb6, 0xbe, 0x44,
                                          0x94, 0xa4, 0xa5, 0xac, 0xc7})));
        break;
    default: /* MOV, XCHG, LEA, TEST */
        put(s, PICK(r, ((const uint8_t[]){0x88, 0x89, 0x8a, 0x8b, 0x86,
                                          0x87, 0x8d, 0x84, 0x85, 0xc6,
                                          0xc7, 0x63})));
        break;
    }
    if (rng_below(r, 2))
        put(s, (uint8_t)(0xc0 | rng_below(r, 64)));
    else
        modrm_mem(s, r, rng_below(r, 8));
    unsigned imm = rng_below(r, 5);
    for (unsigned i = 0; i < imm; i++)
        put(s, (uint8_t)rng_next(r));
}

static void e_mov_to_cr(struct slot *s, struct rng *r)
{
    static const unsigned crs[] = {0, 0, 3, 4, 4, 8, 2, 1, 5};
    unsigned cr = PICK(r, crs);
    unsigned reg = rng_below(r, 4);
    if (rng_below(r, 4) == 0) { /* a 64-bit value: reserved high bits */
        put(s, 0x48);
        put(s, (uint8_t)(0xb8 + reg));
        put32(s, cr_value(r, cr));
        put32(s, 1u << rng_below(r, 32));
    } else {
        mov_imm(s, reg, cr_value(r, cr));
    }
    if (cr == 8)
        put(s, 0x44);
    put(s, 0x0f);
    put(s, 0x22);
    put(s, (uint8_t)(0xc0 | (cr & 7) << 3 | reg));
}

static void e_mov_from_cr_dr(struct slot *s, struct rng *r)
{
    put(s, 0x0f);
    put(s, rng_below(r, 2) ? 0x20 : 0x21);
    put(s, (uint8_t)(0xc0 | rng_below(r, 64)));
}

static void e_mov_to_dr(struct slot *s, struct rng *r)
{
    unsigned dr = rng_below(r, 8);
    uint32_t v = dr == 7 ? (uint32_t)(0x400 | rng_next(r)) : value32(r);
    mov_imm(s, 0, v);
    put(s, 0x0f);
    put(s, 0x23);
    put(s, (uint8_t)(0xc0 | dr << 3));
}

static void e_string(struct slot *s, struct rng *r)
{
    static const uint8_t ops[] = {0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab,
                                  0xac, 0xad, 0xae, 0xaf, 0x6c, 0x6d,
                                  0x6e, 0x6f};
    /* Mostly short counts; rarely a huge one, which only the instruction
     * limit ends. */
    uint32_t count = rng_below(r, 64) == 0 ? 0xffffffffu : rng_below(r, 48);
    if (rng_below(r, 3))
        mov_imm(s, 1, count);
    if (rng_below(r, 8) == 0)
        put(s, rng_below(r, 2) ? 0xfd : 0xfc); /* STD / CLD */
    if (rng_below(r, 4) == 0)
        put(s, PICK(r, ((const uint8_t[]){0x66, 0x67, 0x48})));
    if (rng_below(r, 4))
        put(s, rng_below(r, 4) ? 0xf3 : 0xf2);
    uint8_t op = PICK(r, ops);
    if (s->hidden && (op == 0x6c || op == 0x6d))
        op = 0x6e; /* OUTS, not INS */
    put(s, op);
}

/* PUSH selector; PUSH target; RETF (or IRET with a full frame): far
 * transfers to the next slot, into ring 3, another code size, or a bad
 * selector. */
static void e_far(struct slot *s, struct rng *r)
{
    uint16_t sel = PICK(r, selectors);
    uint32_t next = s->addr + IMG_SLOT;
    switch (rng_below(r, 5)) {
    case 0: /* RETF */
        put(s, 0x6a);
        put(s, (uint8_t)sel);
        put(s, 0x68);
        put32(s, next);
        if (rng_below(r, 2))
            put(s, 0x48);
        put(s, 0xcb);
        break;
    case 1: /* IRET to ring 3 (SS, RSP, RFLAGS, CS, RIP) */
        put(s, 0x6a);
        put(s, rng_below(r, 4) ? SEL_UDATA : (uint8_t)PICK(r, selectors));
        put(s, 0x54);
        put(s, 0x9c);
        put(s, 0x6a);
        put(s, rng_below(r, 2) ? SEL_UCODE64 : SEL_UCODE32);
        put(s, 0x68);
        put32(s, next);
        if (rng_below(r, 2))
            put(s, 0x48);
        put(s, 0xcf);
        break;
    case 2: /* JMP/CALL FAR ptr16:32 (#UD in 64-bit mode) */
        put(s, rng_below(r, 2) ? 0xea : 0x9a);
        put32(s, next);
        put(s, (uint8_t)sel);
        put(s, (uint8_t)(sel >> 8));
        break;
    case 3: /* JMP/CALL FAR m16:32 from memory */
        if (rng_below(r, 2))
            put(s, 0x48);
        put(s, 0xff);
        modrm_mem(s, r, rng_below(r, 2) ? 5 : 3);
        break;
    default: /* bare IRET / RETF with whatever the stack holds */
        if (rng_below(r, 2))
            put(s, rng_below(r, 2) ? 0x48 : 0x66);
        put(s, PICK(r, ((const uint8_t[]){0xcf, 0xcb, 0xca, 0xc3})));
        if (s->b[s->n - 1] == 0xca) {
            put(s, (uint8_t)rng_below(r, 16));
            put(s, 0);
        }
        break;
    }
}

static void e_int(struct slot *s, struct rng *r)
{
    switch (rng_below(r, 6)) {
    case 0: put(s, 0xcc); break;
    case 1: put(s, 0xce); break; /* INTO: #UD in 64-bit mode */
    case 2: put(s, 0xf1); break; /* INT1 */
    case 3: put(s, 0x0f); put(s, 0x0b); break;
    default:
        put(s, 0xcd);
        put(s, (uint8_t)(rng_below(r, 2) ? rng_below(r, 32)
                                          : rng_below(r, 256)));
        break;
    }
}

static void e_stack(struct slot *s, struct rng *r)
{
    switch (rng_below(r, 4)) {
    case 0: /* a new stack pointer */
        mov_imm(s, 4, rng_below(r, 4) ? IMG_STACK_TOP - 8 * rng_below(r, 64)
                                      : value32(r));
        break;
    case 1: /* MOV SS (interrupt shadow), then maybe a PUSH */
        put(s, 0x66);
        mov_imm(s, 0, PICK(r, selectors));
        s->n -= 2; /* 16-bit immediate */
        put(s, 0x8e);
        put(s, 0xd0);
        if (rng_below(r, 2))
            put(s, 0x50);
        break;
    case 2: /* POP SS (#UD in 64-bit mode), LSS */
        if (rng_below(r, 2)) {
            put(s, 0x17);
        } else {
            put(s, 0x0f);
            put(s, 0xb2);
            modrm_mem(s, r, rng_below(r, 8));
        }
        break;
    default: /* PUSHF/POPF, PUSH/POP segment registers, ENTER/LEAVE */
        put(s, PICK(r, ((const uint8_t[]){0x9c, 0x9d, 0x06, 0x07, 0x1e,
                                          0x1f, 0xc9, 0x60, 0x61})));
        if (rng_below(r, 3) == 0) {
            put(s, 0x0f);
            put(s, PICK(r, ((const uint8_t[]){0xa0, 0xa1, 0xa8, 0xa9})));
        }
        break;
    }
}

/* MOV [table + i], imm32: page-table entries, descriptors, gates, TSS
 * fields, the code itself. */
static void e_table_write(struct slot *s, struct rng *r)
{
    uint32_t addr = PICK(r, tables) + 4 * rng_below(r, 16);
    uint32_t v = rng_below(r, 2) ? (uint32_t)(rng_below(r, 8) << 21 |
                                              rng_below(r, 0x200))
                                 : value32(r);
    put(s, 0xc7);
    put(s, 0x04);
    put(s, 0x25);
    put32(s, addr);
    put32(s, v);
}

static void e_tlb(struct slot *s, struct rng *r)
{
    if (rng_below(r, 2)) { /* INVLPG [abs] */
        put(s, 0x0f);
        put(s, 0x01);
        put(s, 0x3c);
        put(s, 0x25);
        put32(s, rng_below(r, 8) << 21 | rng_below(r, 512) << 12);
    } else { /* MOV CR3, CR3 */
        put(s, 0x0f);
        put(s, 0x20);
        put(s, 0xd8);
        put(s, 0x0f);
        put(s, 0x22);
        put(s, 0xd8);
    }
}

static void e_msr(struct slot *s, struct rng *r)
{
    mov_imm(s, 1, PICK(r, msrs));
    if (s->hidden || rng_below(r, 2)) {
        mov_imm(s, 0, value32(r));
        put(s, 0x0f);
        put(s, 0x30); /* WRMSR */
    } else {
        put(s, 0x0f);
        put(s, 0x32); /* RDMSR */
    }
}

static void e_system(struct slot *s, struct rng *r)
{
    /* Opcode bytes after 0F (or alone when the first is not 0x0f). */
    static const uint8_t forms[][3] = {
        {0x0f, 0x06, 0},    /* CLTS */
        {0x0f, 0x08, 0},    /* INVD */
        {0x0f, 0x09, 0},    /* WBINVD */
        {0x0f, 0x31, 0},    /* RDTSC */
        {0x0f, 0x33, 0},    /* RDPMC */
        {0x0f, 0xa2, 0},    /* CPUID */
        {0x0f, 0x05, 0},    /* SYSCALL */
        {0x0f, 0x07, 0},    /* SYSRET */
        {0x0f, 0x34, 0},    /* SYSENTER */
        {0x0f, 0x35, 0},    /* SYSEXIT */
        {0x0f, 0x01, 0xf8}, /* SWAPGS */
        {0x0f, 0x01, 0xf9}, /* RDTSCP */
        {0x0f, 0x01, 0xd0}, /* XGETBV */
        {0x0f, 0x01, 0xd1}, /* XSETBV */
        {0x0f, 0x01, 0xc8}, /* MONITOR */
        {0x0f, 0x01, 0xc9}, /* MWAIT */
        {0x0f, 0x01, 0xc1}, /* VMCALL */
        {0x0f, 0x01, 0xc2}, /* VMLAUNCH */
        {0x0f, 0x01, 0xc3}, /* VMRESUME */
        {0x0f, 0x01, 0xc4}, /* VMXOFF */
        {0x0f, 0x01, 0xd4}, /* VMFUNC */
        {0x0f, 0x01, 0xca}, /* CLAC */
        {0x0f, 0x01, 0xcb}, /* STAC */
        {0x0f, 0xae, 0xf0}, /* MFENCE */
        {0xfa, 0, 0},       /* CLI */
        {0xfb, 0, 0},       /* STI */
        {0xf4, 0, 0},       /* HLT */
        {0xf3, 0x90, 0},    /* PAUSE */
        {0x9b, 0, 0},       /* FWAIT */
    };
    if (rng_below(r, 3) == 0) { /* a CPUID leaf, or an XCR0 value */
        mov_imm(s, 0, rng_below(r, 2) ? rng_below(r, 0x20)
                                      : 0x80000000u + rng_below(r, 10));
        mov_imm(s, 1, rng_below(r, 4));
    }
    const uint8_t *f = forms[rng_below(r, sizeof forms / sizeof forms[0])];
    /* RDTSC, RDPMC, CPUID, RDTSCP, the VMX instructions */
    if (s->hidden && f[0] == 0x0f && ((f[1] == 0x31 || f[1] == 0x33 ||
                                       f[1] == 0xa2) ||
                                      (f[1] == 0x01 && (f[2] == 0xf9 ||
                                                        (f[2] >= 0xc1 &&
                                                         f[2] <= 0xc4) ||
                                                        f[2] == 0xd4))))
        f = forms[0];
    for (int i = 0; i < 3 && (i == 0 || f[i]); i++)
        put(s, f[i]);
}

/* Descriptor-table and segment instructions with memory or register
 * operands: LGDT/LIDT/SGDT/SIDT/LMSW/SMSW/INVLPG, LLDT/LTR/VERR/VERW/
 * LAR/LSL, VMX instructions with memory operands, segment loads. */
static void e_descriptor(struct slot *s, struct rng *r)
{
    switch (rng_below(r, 4)) {
    case 0:
        put(s, 0x0f);
        put(s, 0x01);
        modrm_mem(s, r, rng_below(r, 8));
        break;
    case 1:
        mov_imm(s, 0, PICK(r, selectors));
        put(s, 0x0f);
        put(s, 0x00);
        put(s, (uint8_t)(0xc0 | rng_below(r, 6) << 3));
        break;
    case 2: /* VMPTRLD/VMCLEAR/VMXON/VMPTRST, VMREAD/VMWRITE, INVEPT */
        if (s->hidden) {
            put(s, 0x0f);
            put(s, 0x01);
            modrm_mem(s, r, 1 + rng_below(r, 3)); /* SIDT, LGDT, LIDT */
        } else if (rng_below(r, 2)) {
            put(s, PICK(r, ((const uint8_t[]){0x66, 0xf3, 0x0f})));
            if (s->b[s->n - 1] != 0x0f)
                put(s, 0x0f);
            put(s, 0xc7);
            modrm_mem(s, r, 6 + rng_below(r, 2));
        } else {
            put(s, 0x0f);
            put(s, PICK(r, ((const uint8_t[]){0x78, 0x79})));
            put(s, (uint8_t)(0xc0 | rng_below(r, 64)));
        }
        break;
    default: /* MOV Sreg, r16 */
        mov_imm(s, 0, PICK(r, selectors));
        put(s, 0x8e);
        put(s, (uint8_t)(0xc0 | rng_below(r, 6) << 3));
        break;
    }
}

static void e_port(struct slot *s, struct rng *r)
{
    uint8_t port = PICK(r, ports);
    if (rng_below(r, 2))
        mov_imm(s, 0, value32(r));
    /* Bit 1 of the opcode: 0 = IN, 1 = OUT; only OUT when hidden. */
    uint8_t in_or_out = s->hidden ? 2 : (uint8_t)(rng_below(r, 2) << 1);
    if (rng_below(r, 3) == 0) {
        mov_imm(s, 2, rng_below(r, 2) ? port : 0x3f8 + rng_below(r, 8));
        put(s, (uint8_t)(0xec | in_or_out | rng_below(r, 2)));
    } else {
        put(s, (uint8_t)(0xe4 | in_or_out | rng_below(r, 2)));
        put(s, port);
    }
}

static void e_branch(struct slot *s, struct rng *r)
{
    int32_t slots = (int32_t)rng_below(r, 9) - 3; /* mostly forward */
    if (slots == 0)
        slots = 1;
    int32_t target = (int32_t)s->addr + slots * IMG_SLOT;
    switch (rng_below(r, 4)) {
    case 0: /* Jcc rel32 */
        put(s, 0x0f);
        put(s, (uint8_t)(0x80 + rng_below(r, 16)));
        put32(s, (uint32_t)(target - (int32_t)(s->addr + s->n + 4)));
        break;
    case 1: /* CALL rel32: a return address on the stack */
        put(s, 0xe8);
        put32(s, (uint32_t)(target - (int32_t)(s->addr + s->n + 4)));
        break;
    case 2: /* LOOP/JECXZ, RET */
        put(s, PICK(r, ((const uint8_t[]){0xe2, 0xe3, 0xe0, 0xe1})));
        put(s, (uint8_t)(rng_below(r, 2) ? 14 : rng_next(r)));
        break;
    default: /* an indirect jump or call through a register */
        put(s, 0xff);
        put(s, (uint8_t)(0xc0 | (rng_below(r, 2) ? 2 : 4) << 3 |
                         rng_below(r, 8)));
        break;
    }
}

static void e_set_reg(struct slot *s, struct rng *r)
{
    unsigned reg = rng_below(r, 8);
    if (reg == 4) /* RSP belongs to e_stack */
        reg = 5;
    if (reg == 1 && rng_below(r, 4)) { /* RCX: a count for REP and LOOP */
        mov_imm(s, 1, rng_below(r, 64));
        return;
    }
    if (rng_below(r, 4) == 0) { /* a 64-bit immediate (non-canonical) */
        put(s, 0x48);
        put(s, (uint8_t)(0xb8 + reg));
        put32(s, value32(r));
        put32(s, PICK(r, ((const uint32_t[]){0, 0xffffffff, 0x8000,
                                             0xffff8000, 0x7fff})));
    } else {
        mov_imm(s, reg, value32(r));
    }
}

static void e_fpu_sse(struct slot *s, struct rng *r)
{
    if (rng_below(r, 2)) {
        put(s, (uint8_t)(0xd8 + rng_below(r, 8)));
    } else {
        if (rng_below(r, 2))
            put(s, PICK(r, ((const uint8_t[]){0x66, 0xf3, 0xf2})));
        put(s, 0x0f);
        put(s, (uint8_t)(0x10 + rng_below(r, 0x70)));
    }
    if (rng_below(r, 2))
        put(s, (uint8_t)(0xc0 | rng_below(r, 64)));
    else
        modrm_mem(s, r, rng_below(r, 8));
}

static const struct {
    void (*emit)(struct slot *, struct rng *);
    unsigned weight;
} emitters[] = {
    {e_random, 8},        {e_alu, 16},         {e_mov_to_cr, 6},
    {e_mov_from_cr_dr, 2}, {e_mov_to_dr, 3},   {e_string, 8},
    {e_far, 7},           {e_int, 5},          {e_stack, 5},
    {e_table_write, 6},   {e_tlb, 2},          {e_msr, 5},
    {e_system, 8},        {e_descriptor, 5},   {e_port, 3},
    {e_branch, 6},        {e_set_reg, 10},     {e_fpu_sse, 3},
};

enum { EMITTERS = sizeof emitters / sizeof emitters[0] };

static void gen_slot(struct prog *p, unsigned i, struct rng *r)
{
    uint32_t use = p->emitters ? p->emitters : (1u << EMITTERS) - 1;
    unsigned total = 0;
    for (size_t k = 0; k < EMITTERS; k++)
        total += use >> k & 1 ? emitters[k].weight : 0;
    unsigned w = rng_below(r, total);
    size_t k = 0;
    while (!(use >> k & 1) || w >= emitters[k].weight) {
        if (use >> k & 1)
            w -= emitters[k].weight;
        k++;
    }
    struct slot s = {.addr = IMG_CODE + i * IMG_SLOT, .hidden = p->hidden};
    emitters[k].emit(&s, r);
    /* The rest of the slot: a short JMP to the next one (one instruction
     * instead of up to 15 NOPs), or a NOP when only one byte is left. */
    uint8_t *at = p->code + i * IMG_SLOT;
    memcpy(at, s.b, s.n);
    if (IMG_SLOT - s.n >= 2) {
        at[s.n] = 0xeb;
        at[s.n + 1] = (uint8_t)(IMG_SLOT - s.n - 2);
        memset(at + s.n + 2, 0x90, IMG_SLOT - s.n - 2);
    } else {
        at[s.n] = 0x90;
    }
}

static uint64_t initial_reg(struct rng *r, unsigned reg)
{
    if (reg == 4)
        return rng_below(r, 16) ? IMG_STACK_TOP - 8 * rng_below(r, 32)
                                : value32(r);
    if (rng_below(r, 8) == 0)
        return rng_next(r);
    return reg == 1 ? rng_below(r, 64) /* RCX: counts */
                    : value32(r);
}

/* ---- straight-line code and loops for the block engine and the JIT ----
 *
 * A slot's closing JMP ends a block (docs/emulator.md "Engines"), so the
 * slots above make blocks of a few instructions. A span is code written
 * across several slots without one: a run of register-only instructions
 * (ALU, MOV, LEA, INC/DEC, NEG/NOT, shifts: what the JIT writes out as
 * native code or calls), broken here and there by ones that end a run
 * (8- and 16-bit forms, ADC, IMUL, CMOVcc, memory operands, PUSH/POP),
 * and ending at a Jcc: forward past the span, or back to a loop's start,
 * which the JIT runs as a native loop. Stores into the span itself
 * rewrite an immediate or an ALU opcode of the code being run. */

struct span {
    uint8_t *b;          /* p->code at the span's first slot */
    unsigned n, room;    /* bytes written; room for instructions */
    uint32_t addr;       /* guest address of b[0] */
    uint16_t dst_ok;     /* registers the body may write */
    unsigned cnt, base;  /* the loop counter, the data pointer */
    /* Where immediates (imm32) and ALU opcodes stand, for the stores
     * into the span, and where those stores' addresses go. */
    unsigned imm_at[16], n_imm, opc_at[16], n_opc, smc_at[4], n_smc;
};

/* One instruction being written. */
struct ins {
    uint8_t b[15];
    unsigned n;
    int imm_at, opc_at, smc_at; /* offsets in b, or -1 */
};

static void ib(struct ins *i, uint8_t v)
{
    if (i->n < sizeof i->b)
        i->b[i->n++] = v;
}

static void i32(struct ins *i, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        ib(i, (uint8_t)(v >> (8 * k)));
}

/* Appends i if it fits, noting its immediate, opcode or store address. */
static bool span_put(struct span *s, const struct ins *i)
{
    if (s->n + i->n > s->room)
        return false;
    if (i->imm_at >= 0 && s->n_imm < 16)
        s->imm_at[s->n_imm++] = s->n + (unsigned)i->imm_at;
    if (i->opc_at >= 0 && s->n_opc < 16)
        s->opc_at[s->n_opc++] = s->n + (unsigned)i->opc_at;
    if (i->smc_at >= 0 && s->n_smc < 4)
        s->smc_at[s->n_smc++] = s->n + (unsigned)i->smc_at;
    memcpy(s->b + s->n, i->b, i->n);
    s->n += i->n;
    return true;
}

static struct ins ins_new(void)
{
    return (struct ins){.imm_at = -1, .opc_at = -1, .smc_at = -1};
}

static unsigned any_reg(struct rng *r)
{
    return rng_below(r, 16);
}

static unsigned dst_reg(const struct span *s, struct rng *r)
{
    unsigned k;
    do
        k = rng_below(r, 16);
    while (!(s->dst_ok >> k & 1));
    return k;
}

/* REX (W, and the high bits of the ModRM reg and r/m fields), where
 * needed or, now and then, a bare 0x40; then the opcode. */
static void rex_op(struct ins *i, struct rng *r, bool w, unsigned reg,
                   unsigned rm, uint8_t opcode)
{
    uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | (reg >> 3 & 1) << 2 |
                            (rm >> 3 & 1));
    if (rex != 0x40 || rng_below(r, 8) == 0)
        ib(i, rex);
    ib(i, opcode);
}

/* Always a REX, so that r/m 4-7 of a byte operand are SPL..DIL and
 * not AH..BH, which are parts of the counter and the data pointer. */
static void rex_op8(struct ins *i, unsigned rm, uint8_t opcode)
{
    ib(i, (uint8_t)(0x40 | (rm >> 3 & 1)));
    ib(i, opcode);
}

static void modrm_rr(struct ins *i, unsigned reg, unsigned rm)
{
    ib(i, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* ALU opcodes with the destination in r/m and in reg (ADD OR ADC SBB AND
 * SUB XOR CMP, and TEST and MOV); the register-only fast forms are all
 * but ADC and SBB. A store into the span swaps one for another of the
 * same row, so the registers written stay the body's. */
static const uint8_t alu_to_rm[] = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29,
                                    0x31, 0x39, 0x85, 0x89};
static const uint8_t alu_to_reg[] = {0x03, 0x0b, 0x13, 0x1b, 0x23, 0x2b,
                                     0x33, 0x3b, 0x8b};

/* A LEA's memory operand: [base + index * scale + disp], [disp32] or
 * [RIP + disp32]; any registers (LEA reads no memory). */
static void lea_operand(struct ins *i, struct rng *r, unsigned reg,
                        unsigned index, unsigned base)
{
    unsigned mod = rng_below(r, 3);
    switch (rng_below(r, 3)) {
    case 0: /* [base + disp] (mod 0 with r/m 5 would be RIP + disp32) */
        if ((base & 7) == 4)
            base = 3;
        if (mod == 0 && (base & 7) == 5)
            mod = 1;
        ib(i, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
        break;
    case 1: /* SIB */
        ib(i, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
        ib(i, (uint8_t)(rng_below(r, 4) << 6 | (index & 7) << 3 | (base & 7)));
        if (mod == 0 && (base & 7) == 5)
            mod = 2; /* no base: disp32 */
        break;
    default: /* RIP + disp32 */
        ib(i, (uint8_t)((reg & 7) << 3 | 5));
        mod = 2;
        break;
    }
    if (mod == 1)
        ib(i, (uint8_t)rng_next(r));
    else if (mod == 2)
        i32(i, rng_below(r, 2) ? (uint32_t)rng_next(r) : rng_below(r, 256));
}

/* One register-only instruction of a fast form (exec_fast.c). */
static struct ins fast_op(const struct span *s, struct rng *r)
{
    struct ins i = ins_new();
    bool w = rng_below(r, 2);
    unsigned d = dst_reg(s, r), src = any_reg(r);
    switch (rng_below(r, 9)) {
    case 0:
    case 1: { /* ALU reg, reg (MOV too) */
        bool to_rm = rng_below(r, 2);
        uint8_t op = to_rm ? PICK(r, alu_to_rm) : PICK(r, alu_to_reg);
        rex_op(&i, r, w, to_rm ? src : d, to_rm ? d : src, op);
        i.opc_at = (int)i.n - 1;
        modrm_rr(&i, to_rm ? src : d, to_rm ? d : src);
        break;
    }
    case 2: { /* ALU reg, imm32 or imm8 (/2 and /3 are ADC and SBB) */
        bool byte_imm = rng_below(r, 2);
        rex_op(&i, r, w, 0, d, byte_imm ? 0x83 : 0x81);
        modrm_rr(&i, rng_below(r, 8), d);
        if (byte_imm) {
            ib(&i, (uint8_t)value32(r));
        } else {
            i.imm_at = (int)i.n;
            i32(&i, value32(r));
        }
        break;
    }
    case 3: /* TEST reg, imm32; NOT; NEG */
        rex_op(&i, r, w, 0, d, 0xf7);
        switch (rng_below(r, 3)) {
        case 0:
            modrm_rr(&i, 0, d);
            i.imm_at = (int)i.n;
            i32(&i, value32(r));
            break;
        default:
            modrm_rr(&i, 2 + rng_below(r, 2), d);
            break;
        }
        break;
    case 4: /* INC, DEC */
        rex_op(&i, r, w, 0, d, 0xff);
        modrm_rr(&i, rng_below(r, 2), d);
        break;
    case 5: { /* SHL, SHR, SAR (SAL, ROL, ROR now and then) by imm8 or 1 */
        static const unsigned kinds[] = {4, 4, 5, 5, 7, 7, 6, 0, 1};
        bool by_one = rng_below(r, 4) == 0;
        rex_op(&i, r, w, 0, d, by_one ? 0xd1 : 0xc1);
        modrm_rr(&i, PICK(r, kinds), d);
        if (!by_one)
            ib(&i, (uint8_t)(rng_below(r, 4) ? rng_below(r, 64)
                                             : rng_below(r, 256)));
        break;
    }
    case 6: /* MOV reg, imm32 / imm64 / sign-extended imm32 */
        if (rng_below(r, 3)) {
            rex_op(&i, r, w, 0, d, (uint8_t)(0xb8 + (d & 7)));
            i.imm_at = (int)i.n;
            i32(&i, value32(r));
            if (w)
                i32(&i, (uint32_t)rng_next(r));
        } else {
            rex_op(&i, r, w, 0, d, 0xc7);
            modrm_rr(&i, 0, d);
            i.imm_at = (int)i.n;
            i32(&i, value32(r));
        }
        break;
    default: /* LEA, 32-bit addresses now and then */
        if (rng_below(r, 4) == 0)
            ib(&i, 0x67);
        {
            unsigned index = any_reg(r), base = any_reg(r);
            uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | (d >> 3 & 1) << 2 |
                                    (index >> 3 & 1) << 1 | (base >> 3 & 1));
            if (rex != 0x40)
                ib(&i, rex);
            ib(&i, 0x8d);
            lea_operand(&i, r, d, index, base);
        }
        break;
    }
    return i;
}

/* Something that ends a run but not the block: other register forms,
 * memory operands, the stack, a store into the span. */
static struct ins other_op(const struct span *s, struct rng *r)
{
    struct ins i = ins_new();
    unsigned d = dst_reg(s, r), src = any_reg(r);
    bool w = rng_below(r, 2);
    uint32_t data = IMG_DATA + 8 * rng_below(r, IMG_DATA_SIZE / 8);
    switch (rng_below(r, 10)) {
    case 0: /* 16-bit ALU, 8-bit MOV */
        if (rng_below(r, 2)) {
            ib(&i, 0x66);
            rex_op(&i, r, false, src, d, PICK(r, alu_to_rm));
            modrm_rr(&i, src, d);
        } else {
            rex_op8(&i, d, (uint8_t)(0xb0 + (d & 7)));
            ib(&i, (uint8_t)rng_next(r));
        }
        break;
    case 1: /* IMUL, CMOVcc, MOVZX, BSF (0F xx reg, r/m) */
        rex_op(&i, r, w, d, src, 0x0f);
        ib(&i, PICK(r, ((const uint8_t[]){0xaf, 0x40, 0x44, 0x4c, 0x4f,
                                          0xb6, 0xb7, 0xbc})));
        modrm_rr(&i, d, src);
        break;
    case 2: /* SETcc, BSWAP */
        if (rng_below(r, 2)) {
            rex_op8(&i, d, 0x0f);
            ib(&i, (uint8_t)(0x90 + rng_below(r, 16)));
            modrm_rr(&i, 0, d);
        } else {
            rex_op(&i, r, w, 0, d, 0x0f);
            ib(&i, (uint8_t)(0xc8 + (d & 7)));
        }
        break;
    case 3: /* MOV reg, [abs] */
        rex_op(&i, r, w, d, 0, 0x8b);
        ib(&i, (uint8_t)(0x04 | (d & 7) << 3));
        ib(&i, 0x25);
        i32(&i, data);
        break;
    case 4: /* MOV or ADD [abs], reg */
        rex_op(&i, r, w, src, 0, rng_below(r, 2) ? 0x89 : 0x01);
        ib(&i, (uint8_t)(0x04 | (src & 7) << 3));
        ib(&i, 0x25);
        i32(&i, data);
        break;
    case 5: { /* MOV reg, [base + disp8] or back (the base is never
               RSP or R12, which need a SIB byte) */
        bool load = rng_below(r, 2);
        unsigned reg = load ? d : src;
        rex_op(&i, r, w, reg, s->base, load ? 0x8b : 0x89);
        ib(&i, (uint8_t)(0x40 | (reg & 7) << 3 | (s->base & 7)));
        ib(&i, (uint8_t)(8 * rng_below(r, 16)));
        break;
    }
    case 6: /* PUSH reg; POP reg */
        if (src >= 8)
            ib(&i, 0x41);
        ib(&i, (uint8_t)(0x50 + (src & 7)));
        if (d >= 8)
            ib(&i, 0x41);
        ib(&i, (uint8_t)(0x58 + (d & 7)));
        break;
    case 7: /* MOV dword [the span], imm32: an immediate or (byte) opcode */
        if (rng_below(r, 2)) {
            ib(&i, 0xc7);
            ib(&i, 0x04);
            ib(&i, 0x25);
            i.smc_at = (int)i.n;
            i32(&i, 0);
            i32(&i, value32(r));
        } else { /* the byte written is chosen with the target (span_end) */
            ib(&i, 0xc6);
            ib(&i, 0x04);
            ib(&i, 0x25);
            i.smc_at = (int)i.n;
            i32(&i, 0);
            ib(&i, 0);
        }
        break;
    case 8: /* ADC, SBB; shifts and rotates by CL */
        if (rng_below(r, 2)) {
            rex_op(&i, r, w, src, d, rng_below(r, 2) ? 0x11 : 0x19);
            modrm_rr(&i, src, d);
        } else {
            rex_op(&i, r, w, 0, d, 0xd3);
            modrm_rr(&i, rng_below(r, 8), d);
        }
        break;
    default: /* MOV byte [abs], imm8 */
        ib(&i, 0xc6);
        ib(&i, 0x04);
        ib(&i, 0x25);
        i32(&i, data);
        ib(&i, (uint8_t)rng_next(r));
        break;
    }
    return i;
}

/* The stores into the span get their targets once it is written: an
 * immediate (4 bytes) or an ALU opcode (1 byte, replaced by another of
 * its row), before or after the store, so that the code being run, even
 * the block's next instruction, changes. */
static void span_end(struct span *s, struct rng *r)
{
    for (unsigned k = 0; k < s->n_smc; k++) {
        uint8_t *at = s->b + s->smc_at[k];
        bool byte_store = at[-3] == 0xc6;
        uint32_t target;
        if (byte_store && s->n_opc) {
            unsigned o = s->opc_at[rng_below(r, s->n_opc)];
            const uint8_t *row = memchr(alu_to_rm, s->b[o], sizeof alu_to_rm)
                                     ? alu_to_rm
                                     : alu_to_reg;
            size_t len = row == alu_to_rm ? sizeof alu_to_rm
                                          : sizeof alu_to_reg;
            target = s->addr + o;
            at[4] = row[rng_below(r, (uint32_t)len)];
        } else if (!byte_store && s->n_imm) {
            target = s->addr + s->imm_at[rng_below(r, s->n_imm)];
        } else { /* nothing to rewrite: a data byte */
            target = IMG_DATA + rng_below(r, IMG_DATA_SIZE - 4);
        }
        for (int b = 0; b < 4; b++)
            at[b] = (uint8_t)(target >> (8 * b));
    }
}

/* Jcc to `target` (guest address) from the span's end: rel8 where it
 * reaches and `near` is not asked for, else rel32. */
static struct ins jcc_to(const struct span *s, unsigned cc, uint32_t target,
                         bool near)
{
    struct ins i = ins_new();
    int32_t rel8 = (int32_t)target - (int32_t)(s->addr + s->n + 2);
    if (!near && rel8 >= -128 && rel8 <= 127) {
        ib(&i, (uint8_t)(0x70 + cc));
        ib(&i, (uint8_t)rel8);
    } else {
        ib(&i, 0x0f);
        ib(&i, (uint8_t)(0x80 + cc));
        i32(&i, (uint32_t)((int32_t)target - (int32_t)(s->addr + s->n + 6)));
    }
    return i;
}

static struct ins mov_reg_imm(unsigned reg, uint32_t v)
{
    struct ins i = ins_new();
    if (reg >= 8)
        ib(&i, 0x41);
    ib(&i, (uint8_t)(0xb8 + (reg & 7)));
    i32(&i, v);
    return i;
}

/* The body of a run or loop: up to `count` instructions, mostly of the
 * fast forms, until the room (less `keep` bytes) is used. */
static void span_body(struct span *s, struct rng *r, unsigned count,
                      unsigned keep, unsigned other_per_16)
{
    unsigned room = s->room;
    s->room = room > keep ? room - keep : 0;
    for (unsigned k = 0; k < count; k++) {
        struct ins i = rng_below(r, 16) < other_per_16 ? other_op(s, r)
                                                       : fast_op(s, r);
        if (!span_put(s, &i))
            break;
    }
    s->room = room;
}

/* The end of a loop: the counter down by one and a Jcc back that stops
 * at zero (or below it), with only MOV or NOT between now and then (the
 * JIT then tests the host's flags); or, now and then, any register
 * operation and any condition, which may loop until the instruction
 * limit. */
static void loop_end(struct span *s, struct rng *r, uint32_t start)
{
    struct ins i = ins_new();
    bool w = rng_below(r, 4) == 0;
    unsigned cc;
    if (rng_below(r, 8) == 0) {
        struct ins f = fast_op(s, r);
        span_put(s, &f);
        cc = rng_below(r, 16);
    } else {
        switch (rng_below(r, 3)) {
        case 0: /* DEC cnt */
            rex_op(&i, r, w, 0, s->cnt, 0xff);
            modrm_rr(&i, 1, s->cnt);
            cc = 5; /* JNZ */
            break;
        case 1: /* SUB cnt, 1 */
            rex_op(&i, r, w, 0, s->cnt, 0x83);
            modrm_rr(&i, 5, s->cnt);
            ib(&i, 1);
            cc = PICK(r, ((const unsigned[]){5, 3, 7, 9, 15}));
            break;
        default: /* ADD cnt, -1 */
            rex_op(&i, r, w, 0, s->cnt, 0x83);
            modrm_rr(&i, 0, s->cnt);
            ib(&i, 0xff);
            cc = PICK(r, ((const unsigned[]){5, 15, 9}));
            break;
        }
        span_put(s, &i);
        if (rng_below(r, 4) == 0) { /* MOV or NOT between */
            struct ins m = ins_new();
            unsigned d = dst_reg(s, r), src = any_reg(r);
            rex_op(&m, r, rng_below(r, 2), src, d, 0x89);
            modrm_rr(&m, src, d);
            if (rng_below(r, 2)) {
                m = ins_new();
                rex_op(&m, r, rng_below(r, 2), 0, d, 0xf7);
                modrm_rr(&m, 2, d);
            }
            span_put(s, &m);
        }
    }
    struct ins j = jcc_to(s, cc, start, rng_below(r, 4) == 0);
    span_put(s, &j);
}

/* A span over `slots` slots from `first`: a straight run to a Jcc past
 * its end, or a loop; its last slot ends as gen_slot's do. */
static void gen_span(struct prog *p, unsigned first, unsigned slots,
                     struct rng *r)
{
    if (first + slots > IMG_SLOTS)
        slots = IMG_SLOTS - first;
    static const unsigned bases[] = {3, 6, 7, 9, 10, 11, 14, 15};
    struct span s = {.b = p->code + first * IMG_SLOT,
                     .room = slots * IMG_SLOT - 2,
                     .addr = IMG_CODE + first * IMG_SLOT};
    s.base = PICK(r, bases);
    do
        s.cnt = rng_below(r, 16);
    while (s.cnt == 4 || s.cnt == s.base);
    s.dst_ok = (uint16_t)~(1u << 4 | 1u << s.cnt | 1u << s.base);
    uint32_t end = s.addr + slots * IMG_SLOT;
    if (rng_below(r, 4)) {
        struct ins base = mov_reg_imm(s.base, IMG_DATA + 8 * rng_below(r, 1024));
        span_put(&s, &base);
    }
    if (rng_below(r, 3) == 0) { /* straight, to a Jcc past the span */
        span_body(&s, r, 1 + rng_below(r, 40), 21, 2);
        if (rng_below(r, 4)) {
            struct ins f = fast_op(&s, r);
            span_put(&s, &f);
        }
        struct ins j = jcc_to(&s, rng_below(r, 16), end, rng_below(r, 2));
        span_put(&s, &j);
    } else { /* a loop, entered at a block's start after a JMP or not */
        uint32_t count = rng_below(r, 8) ? 1 + rng_below(r, 40)
                                         : rng_below(r, 5000);
        struct ins c = mov_reg_imm(s.cnt, count);
        span_put(&s, &c);
        if (rng_below(r, 2)) {
            struct ins jmp = ins_new();
            ib(&jmp, 0xeb);
            ib(&jmp, 0);
            span_put(&s, &jmp);
        }
        uint32_t start = s.addr + s.n;
        span_body(&s, r, 1 + rng_below(r, 24), 21,
                  rng_below(r, 2) ? 0 : 1 + rng_below(r, 4));
        loop_end(&s, r, start);
    }
    span_end(&s, r);
    unsigned total = slots * IMG_SLOT;
    s.b[s.n] = 0xeb;
    s.b[s.n + 1] = (uint8_t)(total - s.n - 2);
    memset(s.b + s.n + 2, 0x90, total - s.n - 2);
}

/* Programs for the engines: spans here and there, or one after the
 * other through the whole program. */
static void gen_spans(struct prog *p, struct rng *r)
{
    if (rng_below(r, 2)) {
        for (unsigned n = 1 + rng_below(r, 12); n > 0; n--)
            gen_span(p, rng_below(r, IMG_SLOTS), 2 + rng_below(r, 7), r);
        return;
    }
    for (unsigned slot = rng_below(r, 4); slot < IMG_SLOTS;) {
        unsigned len = 2 + rng_below(r, 7);
        gen_span(p, slot, len, r);
        slot += len + (rng_below(r, 4) == 0 ? rng_below(r, 3) : 0);
    }
}

void prog_generate(struct prog *p, struct rng *r)
{
    static const uint32_t cr4_bits[] = {0, 0, 1u << 7, 1u << 9, 1u << 10,
                                        1u << 2, 1u << 3, 1u << 8};
    memset(p, 0, sizeof *p);
    p->hidden = rng_below(r, 2);
    /* Half the programs draw from every emitter, half from a random
     * subset (at least the ALU and register ones, so that it runs). */
    p->emitters = rng_below(r, 2) ? (1u << EMITTERS) - 1
                                  : (uint32_t)rng_next(r) | 1u << 1 | 1u << 16;
    p->emitters &= (1u << EMITTERS) - 1;
    p->mode = rng_below(r, PROG_MODES);
    p->fault_limit = 1 + rng_below(r, 64);
    p->cr4_extra = PICK(r, cr4_bits) | PICK(r, cr4_bits);
    for (unsigned i = 0; i < 16; i++)
        p->regs[i] = initial_reg(r, i);
    for (unsigned i = 0; i < IMG_SLOTS; i++)
        gen_slot(p, i, r);
    /* A quarter are for the engines: spans, in 64-bit mode mostly. */
    if (rng_below(r, 4) == 0) {
        if (rng_below(r, 8))
            p->mode = PROG_MODE_LONG64;
        gen_spans(p, r);
    }
}

void prog_mutate(struct prog *p, const struct prog *other, struct rng *r)
{
    unsigned n = 1 + rng_below(r, 8);
    for (unsigned k = 0; k < n; k++) {
        unsigned slot = rng_below(r, IMG_SLOTS);
        switch (rng_below(r, 7)) {
        case 0: /* a new slot */
            gen_slot(p, slot, r);
            break;
        case 1: /* flip a bit of the code */
            p->code[rng_below(r, sizeof p->code)] ^=
                (uint8_t)(1u << rng_below(r, 8));
            break;
        case 2: /* a run of slots from the other program */
        {
            unsigned len = 1 + rng_below(r, 16);
            if (slot + len > IMG_SLOTS)
                len = IMG_SLOTS - slot;
            memcpy(p->code + slot * IMG_SLOT, other->code + slot * IMG_SLOT,
                   len * IMG_SLOT);
            break;
        }
        case 3: /* a new initial register */
        {
            unsigned reg = rng_below(r, 16);
            p->regs[reg] = initial_reg(r, reg);
            break;
        }
        case 4: /* repeat a slot (loops of privileged instructions) */
            memcpy(p->code + rng_below(r, IMG_SLOTS) * IMG_SLOT,
                   p->code + slot * IMG_SLOT, IMG_SLOT);
            break;
        case 5: /* a new span (gen_span) */
            gen_span(p, slot, 2 + rng_below(r, 7), r);
            break;
        default: /* a random byte */
            p->code[rng_below(r, sizeof p->code)] = (uint8_t)rng_next(r);
            break;
        }
    }
    if (rng_below(r, 32) == 0)
        p->mode ^= 1;
    if (rng_below(r, 16) == 0)
        p->fault_limit = 1 + rng_below(r, 64);
}

static void store32(uint8_t *at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        at[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t load32(const uint8_t *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

void prog_image(const struct prog *p, uint8_t *image)
{
    memcpy(image, fuzz_template, IMAGE_SIZE);
    store32(image + (IMG_P_MODE - IMG_LOAD), p->mode);
    store32(image + (IMG_P_FAULT_LIMIT - IMG_LOAD), p->fault_limit);
    store32(image + (IMG_P_CR4_EXTRA - IMG_LOAD), p->cr4_extra);
    for (unsigned i = 0; i < 16; i++) {
        store32(image + (IMG_P_REGS - IMG_LOAD) + 8 * i, (uint32_t)p->regs[i]);
        store32(image + (IMG_P_REGS - IMG_LOAD) + 8 * i + 4,
                (uint32_t)(p->regs[i] >> 32));
    }
    memcpy(image + (IMG_CODE - IMG_LOAD), p->code, sizeof p->code);
}

int prog_from_image(struct prog *p, const uint8_t *image, size_t size)
{
    if (size != IMAGE_SIZE ||
        (size_t)(fuzz_template_end - fuzz_template) != IMAGE_SIZE ||
        memcmp(image, fuzz_template, IMG_PARAMS - IMG_LOAD) != 0)
        return -1;
    memset(p, 0, sizeof *p);
    p->mode = load32(image + (IMG_P_MODE - IMG_LOAD));
    p->fault_limit = load32(image + (IMG_P_FAULT_LIMIT - IMG_LOAD));
    p->cr4_extra = load32(image + (IMG_P_CR4_EXTRA - IMG_LOAD));
    for (unsigned i = 0; i < 16; i++)
        p->regs[i] = load32(image + (IMG_P_REGS - IMG_LOAD) + 8 * i) |
                     (uint64_t)load32(image + (IMG_P_REGS - IMG_LOAD) +
                                      8 * i + 4) << 32;
    memcpy(p->code, image + (IMG_CODE - IMG_LOAD), sizeof p->code);
    return 0;
}
