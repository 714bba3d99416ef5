/* Decoding: libcapstone decodes an instruction once; the result becomes a
 * compact record of ours (struct insn, under 80 bytes), cached by the
 * physical address of its first byte. A write to a page holding cached
 * code drops that page's records (self-modifying code works). */
#ifndef L0_CPU_DECODE_H
#define L0_CPU_DECODE_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;
struct insn;

/* Executes one instruction. Returns false if it raised an exception
 * (the instruction then had no effect); on true the CPU continues at
 * c->next_rip. */
typedef bool (*exec_fn)(struct cpu *c, const struct insn *i);

enum operand_kind { OPK_NONE, OPK_REG, OPK_IMM, OPK_MEM };
enum reg_class { RC_GPR, RC_SEG, RC_CR, RC_DR, RC_OTHER, RC_XMM, RC_MM, RC_ST };

#define BASE_NONE 0xFF
#define BASE_RIP 0xFE

struct operand {
    uint8_t kind;
    uint8_t size;   /* bytes */
    uint8_t rclass; /* OPK_REG */
    uint8_t reg;    /* OPK_REG: index in its class */
    uint8_t hi8;    /* OPK_REG: AH, CH, DH or BH */
    uint8_t seg;    /* OPK_MEM: segment register */
    uint8_t base, index; /* OPK_MEM: GPR, BASE_NONE or BASE_RIP */
    uint8_t scale;
    int64_t value;  /* OPK_MEM: displacement; OPK_IMM: the immediate */
};

enum rep_prefix { REP_NONE, REP_E, REP_NE }; /* F3, F2 */

struct insn {
    exec_fn exec;
    uint16_t id;      /* capstone's X86_INS_*, for reports */
    uint8_t len;
    uint8_t opsize;   /* operand size in bytes */
    uint8_t addrsize; /* address size in bytes */
    uint8_t rep;
    uint8_t lock;
    uint8_t nops;
    uint8_t sub;      /* family sub-operation (ALU op, condition code ...) */
    uint8_t mode64;   /* decoded for 64-bit mode */
    uint8_t opcode;   /* the last opcode byte, where families need it */
    uint8_t vmx_exits; /* may cause a VM exit in VMX non-root operation */
    uint8_t modrm;    /* the ModRM byte, where families need it (x87) */
    struct operand op[3];
};

struct decode_cache;

/* `generation` is incremented whenever records are dropped, so that
 * pointers to records kept elsewhere (the CPU's fetch cache) are known
 * to be stale. */
struct decode_cache *dcache_create(uint64_t ram_size, uint64_t *generation);
void dcache_destroy(struct decode_cache *dc);
/* Per RAM page, what a write there must tell (mmu.c ram_write): the
 * page holds decoded code (CODE_MAP_CODE), or paging-structure entries
 * a kept walk read (CODE_MAP_TABLE, marked by dcache_mark_table). The
 * write fast paths (ops.h tlb_peek) leave every page with either bit to
 * ram_write. */
enum { CODE_MAP_CODE = 1, CODE_MAP_TABLE = 2 };
const uint8_t *dcache_code_map(const struct decode_cache *dc);
void dcache_mark_table(struct decode_cache *dc, uint64_t page);

/* The record for the instruction at physical address `pa`, if cached for
 * this mode. */
const struct insn *dcache_lookup(struct decode_cache *dc, uint64_t pa,
                                 bool mode64);

/* Decodes `len` bytes (up to 15). Returns false if capstone rejects them
 * or the bytes end before the instruction does (*need_more set then). */
bool dcache_decode(struct decode_cache *dc, const uint8_t *bytes,
                   unsigned len, uint64_t address, bool mode64,
                   struct insn *out, bool *need_more);

/* Stores a decoded record for `pa` (an instruction within one page). */
const struct insn *dcache_insert(struct decode_cache *dc, uint64_t pa,
                                 const struct insn *rec);

/* Drops the records of a RAM page. The memory is released at the next
 * dcache_collect() (the current instruction may be among them). */
void dcache_invalidate_page(struct decode_cache *dc, uint64_t page);
void dcache_collect(struct decode_cache *dc);

/* Text of the instruction at `bytes` ("mov eax, 1"), for reports. */
void dcache_disassemble(struct decode_cache *dc, const uint8_t *bytes,
                        unsigned len, uint64_t address, bool mode64,
                        char *out, unsigned out_size);

/* Statistics. */
uint64_t dcache_decoded(const struct decode_cache *dc);

#endif
