#include "cpu/decode.h"

#include <capstone/capstone.h>
#include <sanitizer/asan_interface.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode_memo.h"
#include "cpu/isa.h"

/* Records of one 4 KiB page of RAM, indexed by the byte offset of their
 * first byte (0 = none, else index + 1 into recs). */
struct code_page {
    uint16_t slot[4096];
    uint16_t count, capacity;
    struct insn *recs;
    struct code_page *next_dead;
};

struct decode_cache {
    csh cs64, cs32;
    cs_insn *scratch64, *scratch32;
    struct code_page **pages;
    uint8_t *code_map; /* CODE_MAP_CODE where pages[] is set (decode.h) */
    uint64_t npages;
    struct code_page *dead; /* invalidated, freed at dcache_collect */
    uint64_t *generation;
    uint64_t decoded;
};

/* Capstone register -> (class, index, size, high byte). */
struct reg_info {
    uint8_t rclass, index, size, hi8, valid;
};
static struct reg_info reg_table[X86_REG_ENDING];

static void reg_set(x86_reg r, enum reg_class rc, unsigned index,
                    unsigned size, unsigned hi8)
{
    reg_table[r] = (struct reg_info){(uint8_t)rc, (uint8_t)index,
                                     (uint8_t)size, (uint8_t)hi8, 1};
}

static void reg_table_init(void)
{
    static const x86_reg q[16] = {
        X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX,
        X86_REG_RSP, X86_REG_RBP, X86_REG_RSI, X86_REG_RDI,
        X86_REG_R8, X86_REG_R9, X86_REG_R10, X86_REG_R11,
        X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15};
    static const x86_reg d[16] = {
        X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX,
        X86_REG_ESP, X86_REG_EBP, X86_REG_ESI, X86_REG_EDI,
        X86_REG_R8D, X86_REG_R9D, X86_REG_R10D, X86_REG_R11D,
        X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D};
    static const x86_reg w[16] = {
        X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX,
        X86_REG_SP, X86_REG_BP, X86_REG_SI, X86_REG_DI,
        X86_REG_R8W, X86_REG_R9W, X86_REG_R10W, X86_REG_R11W,
        X86_REG_R12W, X86_REG_R13W, X86_REG_R14W, X86_REG_R15W};
    static const x86_reg b[16] = {
        X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL,
        X86_REG_SPL, X86_REG_BPL, X86_REG_SIL, X86_REG_DIL,
        X86_REG_R8B, X86_REG_R9B, X86_REG_R10B, X86_REG_R11B,
        X86_REG_R12B, X86_REG_R13B, X86_REG_R14B, X86_REG_R15B};
    static const x86_reg hi[4] = {X86_REG_AH, X86_REG_CH, X86_REG_DH,
                                  X86_REG_BH};
    static const x86_reg segs[6] = {X86_REG_ES, X86_REG_CS, X86_REG_SS,
                                    X86_REG_DS, X86_REG_FS, X86_REG_GS};
    for (unsigned i = 0; i < 16; i++) {
        reg_set(q[i], RC_GPR, i, 8, 0);
        reg_set(d[i], RC_GPR, i, 4, 0);
        reg_set(w[i], RC_GPR, i, 2, 0);
        reg_set(b[i], RC_GPR, i, 1, 0);
    }
    for (unsigned i = 0; i < 4; i++)
        reg_set(hi[i], RC_GPR, i, 1, 1);
    for (unsigned i = 0; i < 6; i++)
        reg_set(segs[i], RC_SEG, i, 2, 0);
    for (unsigned i = 0; i < 16; i++) {
        reg_set((x86_reg)(X86_REG_CR0 + i), RC_CR, i, 8, 0);
        reg_set((x86_reg)(X86_REG_DR0 + i), RC_DR, i, 8, 0);
        reg_set((x86_reg)(X86_REG_XMM0 + i), RC_XMM, i, 16, 0);
    }
    for (unsigned i = 0; i < 8; i++) {
        reg_set((x86_reg)(X86_REG_MM0 + i), RC_MM, i, 8, 0);
        reg_set((x86_reg)(X86_REG_ST0 + i), RC_ST, i, 10, 0);
    }
}

struct decode_cache *dcache_create(uint64_t ram_size, uint64_t *generation)
{
    struct decode_cache *dc = calloc(1, sizeof *dc);
    if (!dc)
        return NULL;
    dc->generation = generation;
    dc->npages = (ram_size + 4095) / 4096;
    dc->pages = calloc(dc->npages, sizeof *dc->pages);
    uint64_t map_bytes = (dc->npages + 7) & ~(uint64_t)7; /* whole words */
    dc->code_map = calloc(map_bytes ? map_bytes : 8, 1);
    if (!dc->pages || !dc->code_map ||
        cs_open(CS_ARCH_X86, CS_MODE_64, &dc->cs64) != CS_ERR_OK ||
        cs_open(CS_ARCH_X86, CS_MODE_32, &dc->cs32) != CS_ERR_OK) {
        dcache_destroy(dc);
        return NULL;
    }
    cs_option(dc->cs64, CS_OPT_DETAIL, CS_OPT_ON);
    cs_option(dc->cs32, CS_OPT_DETAIL, CS_OPT_ON);
    dc->scratch64 = cs_malloc(dc->cs64);
    dc->scratch32 = cs_malloc(dc->cs32);
    if (!reg_table[X86_REG_RAX].valid)
        reg_table_init();
    return dc;
}

/* Freed code pages, kept for the next page this process decodes: a
 * process that creates a machine per run (the fuzzers: thousands of
 * short runs) otherwise allocates each page's 8 KiB of slots and grows
 * its records anew in every run, and under ASan each of those is fresh
 * memory to fault in. A kept page's slots and records are poisoned, so
 * that a stale pointer into them is still reported as a use after free
 * (not the page's own pointer to its records: LeakSanitizer ignores
 * pointers held in poisoned memory). Not thread-safe, like
 * decode_memo.c: L0 runs its machines on one thread. */
enum { SPARE_PAGES = 32 };
static struct code_page *spare[SPARE_PAGES];
static unsigned spare_count;

static struct code_page *new_page(void)
{
    if (spare_count == 0)
        return calloc(1, sizeof(struct code_page));
    struct code_page *p = spare[--spare_count];
    ASAN_UNPOISON_MEMORY_REGION(p->slot, sizeof p->slot);
    ASAN_UNPOISON_MEMORY_REGION(p->recs, p->capacity * sizeof *p->recs);
    memset(p->slot, 0, sizeof p->slot);
    p->count = 0;
    p->next_dead = NULL;
    return p;
}

static void free_page(struct code_page *p)
{
    if (spare_count < SPARE_PAGES) {
        ASAN_POISON_MEMORY_REGION(p->recs, p->capacity * sizeof *p->recs);
        ASAN_POISON_MEMORY_REGION(p->slot, sizeof p->slot);
        spare[spare_count++] = p;
        return;
    }
    free(p->recs);
    free(p);
}

void dcache_destroy(struct decode_cache *dc)
{
    if (!dc)
        return;
    dcache_collect(dc);
    /* The pages in use are found through code_map, eight at a word:
     * reading all of pages[] (512 KiB for 256 MiB of RAM, a page fault
     * each 4 KiB, as it is mostly never written) cost a short run more
     * than half a million host instructions. */
    for (uint64_t w = 0; dc->pages && dc->code_map && w < dc->npages; w += 8) {
        uint64_t eight;
        memcpy(&eight, dc->code_map + w, sizeof eight);
        for (uint64_t i = w; eight && i < w + 8; i++)
            if (dc->code_map[i] & CODE_MAP_CODE)
                free_page(dc->pages[i]);
    }
    if (dc->scratch64)
        cs_free(dc->scratch64, 1);
    if (dc->scratch32)
        cs_free(dc->scratch32, 1);
    if (dc->cs64)
        cs_close(&dc->cs64);
    if (dc->cs32)
        cs_close(&dc->cs32);
    free(dc->pages);
    free(dc->code_map);
    free(dc);
}

const uint8_t *dcache_code_map(const struct decode_cache *dc)
{
    return dc->code_map;
}

void dcache_mark_table(struct decode_cache *dc, uint64_t page)
{
    if (page < dc->npages)
        dc->code_map[page] |= CODE_MAP_TABLE;
}

uint64_t dcache_decoded(const struct decode_cache *dc) { return dc->decoded; }

const struct insn *dcache_lookup(struct decode_cache *dc, uint64_t pa,
                                 bool mode64)
{
    uint64_t page = pa >> 12;
    if (page >= dc->npages || !dc->pages[page])
        return NULL;
    struct code_page *p = dc->pages[page];
    uint16_t s = p->slot[pa & 0xFFF];
    if (!s || p->recs[s - 1].mode64 != mode64)
        return NULL;
    return &p->recs[s - 1];
}

const struct insn *dcache_insert(struct decode_cache *dc, uint64_t pa,
                                 const struct insn *rec)
{
    uint64_t page = pa >> 12;
    if (page >= dc->npages)
        return NULL;
    struct code_page *p = dc->pages[page];
    if (!p) {
        /* Dropped pages can go now, to be used again: as for the move of
         * records below, no record is being executed at an insert. A
         * guest that rewrites its own code page at every instruction
         * otherwise dropped thousands of pages between two collections
         * (cpu.c), too many to keep. */
        dcache_collect(dc);
        p = new_page();
        if (!p)
            return NULL;
        dc->pages[page] = p;
        dc->code_map[page] |= CODE_MAP_CODE;
    }
    uint16_t s = p->slot[pa & 0xFFF];
    if (s) { /* same bytes decoded for the other mode: replace */
        ++*dc->generation;
        p->recs[s - 1] = *rec;
        return &p->recs[s - 1];
    }
    if (p->count == p->capacity) {
        /* Records may move here: inserts happen only at fetch time,
         * when no record is being executed. */
        unsigned cap = p->capacity ? p->capacity * 2u : 64u;
        if (cap > 4096)
            cap = 4096;
        struct insn *n = realloc(p->recs, cap * sizeof *n);
        if (!n)
            return NULL;
        if (n != p->recs)
            ++*dc->generation; /* the page's records moved */
        p->recs = n;
        p->capacity = (uint16_t)cap;
    }
    p->recs[p->count] = *rec;
    p->slot[pa & 0xFFF] = ++p->count;
    return &p->recs[p->count - 1];
}

void dcache_invalidate_page(struct decode_cache *dc, uint64_t page)
{
    if (page >= dc->npages || !dc->pages[page])
        return;
    struct code_page *p = dc->pages[page];
    dc->pages[page] = NULL;
    dc->code_map[page] &= (uint8_t)~CODE_MAP_CODE;
    ++*dc->generation;
    p->next_dead = dc->dead;
    dc->dead = p;
}

void dcache_collect(struct decode_cache *dc)
{
    while (dc->dead) {
        struct code_page *p = dc->dead;
        dc->dead = p->next_dead;
        free_page(p);
    }
}

/* ---- capstone detail -> struct insn -------------------------------- */

static unsigned default_segment(const x86_op_mem *m)
{
    x86_reg b = m->base;
    if (b == X86_REG_RSP || b == X86_REG_RBP || b == X86_REG_ESP ||
        b == X86_REG_EBP || b == X86_REG_SP || b == X86_REG_BP)
        return SEG_SS;
    return SEG_DS;
}

static bool convert_operand(const cs_x86_op *src, struct operand *dst,
                            uint64_t next_address, bool branch)
{
    memset(dst, 0, sizeof *dst);
    dst->size = src->size;
    switch (src->type) {
    case X86_OP_REG: {
        if (src->reg >= X86_REG_ENDING || !reg_table[src->reg].valid)
            return false;
        const struct reg_info *r = &reg_table[src->reg];
        dst->kind = OPK_REG;
        dst->rclass = r->rclass;
        dst->reg = r->index;
        dst->hi8 = r->hi8;
        dst->size = r->size;
        return true;
    }
    case X86_OP_IMM:
        dst->kind = OPK_IMM;
        /* Branch targets become displacements from the next instruction:
         * records are shared by every linear mapping of their page. */
        dst->value = branch ? (int64_t)((uint64_t)src->imm - next_address)
                            : src->imm;
        return true;
    case X86_OP_MEM: {
        const x86_op_mem *m = &src->mem;
        dst->kind = OPK_MEM;
        dst->seg = m->segment == X86_REG_INVALID
                       ? (uint8_t)default_segment(m)
                       : reg_table[m->segment].index;
        if (m->base == X86_REG_INVALID)
            dst->base = BASE_NONE;
        else if (m->base == X86_REG_RIP || m->base == X86_REG_EIP)
            dst->base = BASE_RIP;
        else if (reg_table[m->base].valid)
            dst->base = reg_table[m->base].index;
        else
            return false;
        if (m->index == X86_REG_INVALID)
            dst->index = BASE_NONE;
        else if (reg_table[m->index].valid)
            dst->index = reg_table[m->index].index;
        else
            return false;
        dst->scale = (uint8_t)m->scale;
        dst->value = m->disp;
        return true;
    }
    default:
        return false;
    }
}

bool dcache_decode(struct decode_cache *dc, const uint8_t *bytes,
                   unsigned len, uint64_t address, bool mode64,
                   struct insn *out, bool *need_more)
{
    csh h = mode64 ? dc->cs64 : dc->cs32;
    cs_insn *ci = mode64 ? dc->scratch64 : dc->scratch32;
    const uint8_t *code = bytes;
    size_t size = len;
    uint64_t addr = address;
    *need_more = false;
    if (decode_memo_get(bytes, len, address, mode64, out)) {
        dc->decoded++;
        return true;
    }
    if (!cs_disasm_iter(h, &code, &size, &addr, ci)) {
        *need_more = len < 15;
        return false;
    }
    const cs_x86 *x = &ci->detail->x86;
    memset(out, 0, sizeof *out);
    out->id = (uint16_t)ci->id;
    out->len = (uint8_t)ci->size;
    out->mode64 = mode64;
    out->addrsize = x->addr_size ? x->addr_size : (mode64 ? 8 : 4);
    out->rep = x->prefix[0] == X86_PREFIX_REP    ? REP_E
               : x->prefix[0] == X86_PREFIX_REPNE ? REP_NE
                                                  : REP_NONE;
    out->lock = x->prefix[0] == X86_PREFIX_LOCK;
    out->opcode = x->opcode[1] ? x->opcode[1] : x->opcode[0];
    out->modrm = x->modrm;

    /* Operand size: REX.W, else 0x66, else the mode's default (4). */
    if (x->rex & 8)
        out->opsize = 8;
    else if (x->prefix[2] == X86_PREFIX_OPSIZE)
        out->opsize = 2;
    else
        out->opsize = 4;

    const struct isa_entry *e = isa_lookup(ci->id);
    if (!e) {
        out->exec = NULL; /* not implemented: #UD, reported */
        dc->decoded++;
        decode_memo_put(bytes, len, address, mode64, false, out);
        return true;
    }
    out->exec = e->exec;
    out->sub = e->sub;
    uint64_t next = address + ci->size;
    out->nops = x->op_count > 3 ? 3 : x->op_count;
    for (unsigned k = 0; k < out->nops; k++)
        if (!convert_operand(&x->operands[k], &out->op[k], next,
                             e->flags & ISA_BRANCH)) {
            out->exec = NULL;
            break;
        }
    if (out->exec) {
        out->vmx_exits = isa_vmx_exits(out, e);
        out->exec = isa_specialize(out);
    }
    dc->decoded++;
    /* Branches are kept per address: capstone wraps their targets to the
     * operand size before they become displacements (above). */
    bool anywhere = !(e->flags & ISA_BRANCH) &&
                    !cs_insn_group(h, ci, CS_GRP_JUMP) &&
                    !cs_insn_group(h, ci, CS_GRP_CALL) &&
                    !cs_insn_group(h, ci, CS_GRP_BRANCH_RELATIVE);
    decode_memo_put(bytes, len, address, mode64, anywhere, out);
    return true;
}

void dcache_disassemble(struct decode_cache *dc, const uint8_t *bytes,
                        unsigned len, uint64_t address, bool mode64,
                        char *out, unsigned out_size)
{
    csh h = mode64 ? dc->cs64 : dc->cs32;
    cs_insn *ci = mode64 ? dc->scratch64 : dc->scratch32;
    const uint8_t *code = bytes;
    size_t size = len;
    uint64_t addr = address;
    if (cs_disasm_iter(h, &code, &size, &addr, ci))
        snprintf(out, out_size, "%s %s", ci->mnemonic, ci->op_str);
    else
        snprintf(out, out_size, "(undecodable)");
}
