/* smc: self-modifying code (SDM Vol. 3A 11.6). Each case rewrites code
 * and then runs it; the new bytes must execute, never stale ones.
 *
 *   imm        patch an instruction's immediate, call it again (x100)
 *   next       a store into the instruction right after the store (x50)
 *   alias      the patch goes through another linear address mapped to
 *              the same physical page, then CPUID (11.6 asks for a
 *              serializing instruction in that case), then the call (x20)
 *   straddle   an instruction that crosses a page boundary, patched on
 *              its second page (x20)
 *   copy       REP MOVSB of whole functions over a buffer, then a call */
#include "cpu.h"
#include "rt.h"

uint32_t smc_imm(void);
extern uint8_t smc_imm_value[4];
uint32_t smc_next(uint8_t v);
extern const uint8_t tmpl_one[], tmpl_two[], tmpl_end[];
extern uint64_t rt_pml4[512];

#define ALIAS_OFFSET 0x0000008000000000ull /* PML4[1] = PML4[0] */

static uint8_t pages[2][4096] __attribute__((aligned(4096)));

typedef uint32_t (*code_fn)(void);

static code_fn fn_at(const void *p) { return (code_fn)(uintptr_t)p; }

static void put32(volatile uint8_t *p, uint32_t v)
{
    for (unsigned k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void copy_code(void *dst, const void *src, uint64_t n)
{
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "smc", 0, 0); /* it takes no arguments */
    uint64_t imm_sum = 0;
    for (uint32_t k = 1; k <= 100; k++) {
        put32(smc_imm_value, k);
        imm_sum += smc_imm();
    }

    uint64_t next_sum = 0;
    for (unsigned k = 1; k <= 50; k++)
        next_sum += smc_next((uint8_t)k);

    /* MOV EAX, imm32; RET at the start of page 0, patched through its
     * alias in the upper half of the address space. */
    rt_pml4[1] = rt_pml4[0];
    write_cr3(read_cr3());
    volatile uint8_t *code = pages[0];
    volatile uint8_t *alias =
        (volatile uint8_t *)(uintptr_t)((uint64_t)(uintptr_t)pages[0] +
                                        ALIAS_OFFSET);
    code[0] = 0xB8;
    put32(code + 1, 0);
    code[5] = 0xC3;
    uint64_t alias_sum = 0;
    for (uint32_t k = 1; k <= 20; k++) {
        put32(alias + 1, k * 1000);
        (void)cpuid(0, 0);
        alias_sum += fn_at(pages[0])();
    }
    rt_pml4[1] = 0;
    write_cr3(read_cr3());

    /* MOV EAX, imm32 whose opcode and first immediate byte are the last
     * two bytes of page 0; the rest and the RET are on page 1. */
    volatile uint8_t *insn = pages[0] + 4094;
    insn[0] = 0xB8;
    put32(insn + 1, 0);
    insn[5] = 0xC3;
    uint64_t straddle_sum = 0;
    for (uint32_t k = 1; k <= 20; k++) {
        insn[2] = (uint8_t)k; /* on page 1: bits 15:8 of the immediate */
        straddle_sum += fn_at(pages[0] + 4094)();
    }

    copy_code(pages[1] + 64, tmpl_one, (uint64_t)(tmpl_two - tmpl_one));
    uint32_t first = fn_at(pages[1] + 64)();
    copy_code(pages[1] + 64, tmpl_two, (uint64_t)(tmpl_end - tmpl_two));
    uint32_t second = fn_at(pages[1] + 64)();

    rt_printf("RESULT smc imm=%lu next=%lu alias=%lu straddle=%lu "
              "copy=%u,%u\n",
              imm_sum, next_sum, alias_sum, straddle_sum, first, second);
    return RT_EXIT_OK;
}
