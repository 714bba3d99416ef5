/* sensitive: the instructions that read privileged state without
 * trapping at CPL 3 (the reason x86 was not classically virtualizable,
 * Robin and Irvine 2000), checked against what the runtime set up.
 *
 *   SGDT, SIDT   limit and base of the runtime's tables (SDM Vol. 2B)
 *   SLDT, STR    selectors: no LDT, the TSS at RT_SEL_TSS
 *   SMSW         CR0: all of it to a 32/64-bit register in 64-bit mode,
 *                bits 15:0 to memory (SDM Vol. 2B "SMSW")
 *   PUSHF/POPF   POPF at CPL 3 drops IF and IOPL changes without a fault
 *   LAR, LSL,    for selectors of each kind, at CPL 3 and at CPL 0: ZF and
 *   VERR, VERW   the access rights (masked with 00F0FF00H, the limit
 *                bits 19:16 being undefined), the byte-granular limit,
 *                readability, writability (SDM Vol. 2A "LAR", "LSL",
 *                Vol. 2B "VERR/VERW") */
#include "cpu.h"
#include "rt.h"
#include "user.h"

extern uint64_t rt_gdt[8];

struct __attribute__((packed)) table_image {
    uint16_t limit;
    uint64_t base;
    uint16_t after; /* must stay untouched: the stores are 10 bytes */
};

struct readings {
    struct table_image gdt, idt;
    uint64_t sldt, str, smsw64, smsw32;
    uint16_t sldt_m, str_m, smsw_m[2]; /* smsw_m[1]: untouched */
    uint64_t pushf, popf;
};

/* A selector of each kind: null, the runtime's descriptors, the upper
 * half of the 16-byte TSS descriptor, beyond the GDT limit, RPL above
 * and below DPL, and one in the (absent) LDT. */
static const uint16_t selectors[] = {
    0x00, RT_SEL_KCODE, RT_SEL_KDATA, RT_SEL_UCODE32 | 3, RT_SEL_UDATA | 3,
    RT_SEL_UCODE | 3, RT_SEL_TSS, RT_SEL_TSS + 8, 0x40, RT_SEL_KDATA | 3,
    RT_SEL_UDATA, 0x0C,
};
#define NSEL (sizeof selectors / sizeof *selectors)

struct examined {
    int lar_ok, lsl_ok, readable, writable;
    uint32_t lar, lsl;
};

static void examine(uint16_t sel, struct examined *e)
{
    uint32_t ar = 0, limit = 0;
    __asm__ volatile("lar %w[s], %[r]" : [r] "+r"(ar), "=@ccz"(e->lar_ok)
                     : [s] "r"(sel));
    __asm__ volatile("lsl %w[s], %[r]" : [r] "+r"(limit), "=@ccz"(e->lsl_ok)
                     : [s] "r"(sel));
    __asm__ volatile("verr %w[s]" : "=@ccz"(e->readable) : [s] "r"(sel));
    __asm__ volatile("verw %w[s]" : "=@ccz"(e->writable) : [s] "r"(sel));
    e->lar = ar & 0x00F0FF00;
    e->lsl = limit;
}

static struct examined at_cpl3[NSEL], at_cpl0[NSEL];
static struct readings user_view;

static void read_state(struct readings *r)
{
    r->gdt.after = r->idt.after = 0xA5A5;
    r->smsw_m[1] = 0xA5A5;
    r->sldt = r->str = r->smsw64 = r->smsw32 = ~0ull;
    __asm__ volatile("sgdt %0" : "=m"(r->gdt));
    __asm__ volatile("sidt %0" : "=m"(r->idt));
    __asm__ volatile("sldt %q0" : "+r"(r->sldt));
    __asm__ volatile("str %q0" : "+r"(r->str));
    __asm__ volatile("smsw %q0" : "+r"(r->smsw64));
    __asm__ volatile("smsw %k0" : "+r"(r->smsw32));
    __asm__ volatile("sldt %0" : "=m"(r->sldt_m));
    __asm__ volatile("str %0" : "=m"(r->str_m));
    __asm__ volatile("smsw %0" : "=m"(r->smsw_m[0]));
}

/* POPF of 0x3002 (IOPL 3, IF 0) with IF = 1 and IOPL = 0: at CPL 3 both
 * are silently kept (SDM Vol. 2B "POPF", Table 4-16). XOR sets ZF and
 * PF, so PUSHF's value is known exactly. */
static void flags_test(struct readings *r)
{
    __asm__ volatile("xorl %%eax, %%eax\n\tpushfq\n\tpopq %0"
                     : "=r"(r->pushf) : : "rax", "cc");
    __asm__ volatile("pushq $0x3002\n\tpopfq\n\tpushfq\n\tpopq %0"
                     : "=r"(r->popf) : : "cc");
}

static uint64_t user_main(uint64_t unused)
{
    (void)unused;
    read_state(&user_view);
    flags_test(&user_view);
    for (unsigned k = 0; k < NSEL; k++)
        examine(selectors[k], &at_cpl3[k]);
    return 0;
}

static void print_examined(unsigned cpl, const struct examined *e)
{
    rt_printf("RESULT sensitive cpl=%u", cpl);
    for (unsigned k = 0; k < NSEL; k++) {
        rt_printf(" %#x:", selectors[k]);
        if (e[k].lar_ok)
            rt_printf("%#x", e[k].lar);
        else
            rt_printf("-");
        if (e[k].lsl_ok)
            rt_printf(",%#x,", e[k].lsl);
        else
            rt_printf(",-,");
        rt_printf("%c%c", e[k].readable ? 'r' : '-',
                  e[k].writable ? 'w' : '-');
    }
    rt_printf("\n");
}

static uint8_t user_stack[8192] __attribute__((aligned(16)));

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "sensitive", 0, 0); /* it takes no arguments */
    /* The accessed bits of code and data descriptors depend on what was
     * loaded so far; set them all so that LAR reads known values. */
    for (unsigned k = RT_SEL_KCODE / 8; k <= RT_SEL_UCODE / 8; k++)
        rt_gdt[k] |= 1ull << 40;
    /* The loader leaves LDTR as it was (the power-up state is a usable
     * LDT at base 0, SDM Vol. 3A Table 10-1); a null LDTR makes every
     * TI = 1 selector invalid. */
    __asm__ volatile("lldt %w0" ::"r"(0));

    struct readings kernel_view;
    read_state(&kernel_view);
    uint64_t cr0 = read_cr0();
    rt_user_call(user_main, 0, user_stack + sizeof user_stack,
                 0x202 /* IF, IOPL 0 */);
    for (unsigned k = 0; k < NSEL; k++)
        examine(selectors[k], &at_cpl0[k]);

    const struct readings *u = &user_view;
    rt_printf("RESULT sensitive sgdt=%#x,%d sidt=%#x,%d sldt=%#lx,%#x "
              "str=%#lx,%#x smsw=%d,%d,%d pushf=%#lx popf=%#lx\n",
              u->gdt.limit,
              u->gdt.base == (uint64_t)(uintptr_t)rt_gdt &&
                  u->gdt.after == 0xA5A5,
              u->idt.limit,
              u->idt.base == kernel_view.idt.base && u->idt.after == 0xA5A5,
              u->sldt, u->sldt_m, u->str, u->str_m, u->smsw64 == cr0,
              u->smsw32 == (uint32_t)cr0,
              u->smsw_m[0] == (uint16_t)cr0 && u->smsw_m[1] == 0xA5A5,
              u->pushf, u->popf);
    print_examined(3, at_cpl3);
    print_examined(0, at_cpl0);
    return RT_EXIT_OK;
}
