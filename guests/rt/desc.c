/* Descriptor tables: the GDT (loaded by boot.S before long mode), the
 * 64-bit TSS and the IDT. Layouts: SDM Vol. 3A 3.4.5 (segment descriptors),
 * 8.2.3 (64-bit TSS), 7.14.1 (64-bit IDT gates). */
#include "rt.h"

struct __attribute__((packed)) desc_ptr {
    uint16_t limit;
    uint64_t base; /* the 32-bit LGDT in boot.S reads only the low half */
};

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

struct __attribute__((packed)) idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr; /* P, DPL, type 0xE = 64-bit interrupt gate */
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

/* Access byte and flags of each descriptor; the TSS slot is filled at run
 * time because it holds an address. */
uint64_t rt_gdt[8] = {
    [RT_SEL_KCODE / 8] = 0x00AF9A000000FFFFull,   /* 64-bit code, DPL 0 */
    [RT_SEL_KDATA / 8] = 0x00CF92000000FFFFull,   /* data, DPL 0 */
    [RT_SEL_UCODE32 / 8] = 0x00CFFA000000FFFFull, /* 32-bit code, DPL 3 */
    [RT_SEL_UDATA / 8] = 0x00CFF2000000FFFFull,   /* data, DPL 3 */
    [RT_SEL_UCODE / 8] = 0x00AFFA000000FFFFull,   /* 64-bit code, DPL 3 */
};

struct desc_ptr rt_gdt_ptr = {sizeof rt_gdt - 1, (uint64_t)(uintptr_t)rt_gdt};

static struct tss64 tss = {.iomap_base = sizeof(struct tss64)};
static struct idt_gate idt[256];
static uint8_t double_fault_stack[4096] __attribute__((aligned(16)));

extern const uint64_t rt_vector_stubs[256]; /* vectors.S */

enum { IST_DOUBLE_FAULT = 1 };

static void load_tss(void)
{
    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof tss - 1;
    /* A 16-byte system descriptor, type 9 = available 64-bit TSS. */
    rt_gdt[RT_SEL_TSS / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
                             (0x89ull << 40) | ((base >> 24 & 0xFF) << 56);
    rt_gdt[RT_SEL_TSS / 8 + 1] = base >> 32;
    tss.ist[IST_DOUBLE_FAULT - 1] =
        (uint64_t)(uintptr_t)(double_fault_stack + sizeof double_fault_stack);
    __asm__ volatile("ltr %w0" ::"r"(RT_SEL_TSS));
}

static void set_gate(unsigned vector, uint64_t target, unsigned ist,
                     unsigned dpl)
{
    idt[vector] = (struct idt_gate){
        .offset_low = target & 0xFFFF,
        .selector = RT_SEL_KCODE,
        .ist = ist,
        .type_attr = 0x8E | dpl << 5,
        .offset_mid = target >> 16 & 0xFFFF,
        .offset_high = target >> 32,
    };
}

void rt_set_gate_dpl(unsigned vector, unsigned dpl)
{
    if (vector < 256)
        idt[vector].type_attr = (idt[vector].type_attr & 0x9F) | (dpl & 3) << 5;
}

void rt_set_kernel_stack(uint64_t rsp0) { tss.rsp[0] = rsp0; }

void rt_desc_init(void)
{
    extern char rt_stack_top[];
    load_tss();
    rt_set_kernel_stack((uint64_t)(uintptr_t)rt_stack_top);
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, rt_vector_stubs[v], v == 8 ? IST_DOUBLE_FAULT : 0, 0);
    struct desc_ptr p = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(p));
}
