/* Helpers for test programs that run as L1 and use VMX themselves
 * (vmxfuzz, vmxmsr): VMLAUNCH/VMRESUME that come back, controls and host
 * state that any CPU accepts, and an L2 that shares L1's address space.
 * Everything is static inline: each program uses a part. */
#ifndef TESTS_GUESTS_L1TEST_H
#define TESTS_GUESTS_L1TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "rt.h"

#include "../../l1vmm/vmx.h"

static inline uint64_t l1test_pa(const void *p) { return (uint64_t)(uintptr_t)p; }

/* CR0 with the bits VMX operation fixes (SDM Vol. 3C 24.8): the boot
 * path leaves CR0.NE clear, which VMXON refuses with #GP(0). */
static inline uint64_t l1test_cr0_for_vmx(void)
{
    return (read_cr0() | rdmsr(0x486)) & rdmsr(0x487);
}

/* Everything VMXON needs but its region (SDM Vol. 3C 24.7, 24.8): VMX in
 * CPUID, IA32_FEATURE_CONTROL locked with VMX allowed (firmware leaves
 * it unlocked on Bochs; turtles' L0 shows it locked), CR4.VMXE, and CR0
 * within the fixed bits. Returns the VMCS revision identifier. */
static inline uint32_t l1test_prepare_vmx(const char *program)
{
    if (!(cpuid(1, 0).ecx & CPUID1_ECX_VMX))
        rt_panic("%s: no VMX (run it as L1 of turtles --mode nested)", program);
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_FEATURE_CONTROL,
              fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    write_cr4(read_cr4() | (1u << 13));
    write_cr0(l1test_cr0_for_vmx());
    return (uint32_t)rdmsr(0x480) & 0x7FFFFFFF;
}

/* VMREAD with its status (l1vmm's helper assumes success). */
static inline enum vmx_result vmread_status(uint64_t field, uint64_t *value)
{
    uint8_t be, b;
    __asm__ volatile("vmread %3, %2\n\t" VMX_RESULT_ASM
                     : "=q"(be), "=q"(b), "=r"(*value)
                     : "r"(field)
                     : "cc");
    return vmx_result(be, b);
}

/* The VM-instruction error after a VMfailValid, or -1 for VMfailInvalid
 * and -2 for success. */
static inline int error_of(enum vmx_result r)
{
    if (r == VMX_OK)
        return -2;
    if (r == VMX_FAIL_INVALID)
        return -1;
    uint64_t e = 0;
    vmread_status(VM_INSTRUCTION_ERROR, &e);
    return (int)e;
}

/* VMLAUNCH (or VMRESUME) that comes back: on VMfail at the next
 * instruction, on a VM exit (or VM-entry failure) at the host RIP, set
 * to a label inside. An L2 that ran may have changed every register but
 * RSP (the VM exit loads the host RSP): the callee-saved ones are kept
 * on the stack, the rest are declared clobbered. Pops leave RFLAGS. */
enum launch_outcome { LAUNCH_FAIL_VALID, LAUNCH_FAIL_INVALID, LAUNCH_HOST };

static inline enum launch_outcome launch(bool resume)
{
    uint8_t be, b, host;
    __asm__ volatile(
        "push %%rbp\n\tpush %%rbx\n\tpush %%r12\n\t"
        "push %%r13\n\tpush %%r14\n\tpush %%r15\n\t"
        "lea 1f(%%rip), %%rax\n\t"
        "vmwrite %%rax, %[rip]\n\t"
        "vmwrite %%rsp, %[rsp]\n\t"
        "test %[resume], %[resume]\n\t"
        "jnz 2f\n\t"
        "vmlaunch\n\t"
        "jmp 3f\n"
        "2:\tvmresume\n"
        "3:\tpop %%r15\n\tpop %%r14\n\tpop %%r13\n\t"
        "pop %%r12\n\tpop %%rbx\n\tpop %%rbp\n\t"
        "setbe %b[be]\n\t"
        "setb %b[b]\n\t"
        "movb $0, %b[host]\n\t"
        "jmp 4f\n"
        "1:\tpop %%r15\n\tpop %%r14\n\tpop %%r13\n\t"
        "pop %%r12\n\tpop %%rbx\n\tpop %%rbp\n\t"
        "movb $0, %b[be]\n\t"
        "movb $0, %b[b]\n\t"
        "movb $1, %b[host]\n"
        "4:"
        : [be] "=q"(be), [b] "=q"(b), [host] "=q"(host)
        : [rip] "r"((uint64_t)HOST_RIP), [rsp] "r"((uint64_t)HOST_RSP),
          [resume] "r"((uint64_t)resume)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "cc",
          "memory");
    if (host)
        return LAUNCH_HOST;
    return b ? LAUNCH_FAIL_INVALID : LAUNCH_FAIL_VALID;
}

/* Controls every CPU accepts: the allowed-0 settings of the TRUE MSRs,
 * with a 64-bit host (exit control bit 9). */
static inline void valid_controls(void)
{
    vmwrite(PIN_BASED_CONTROLS, (uint32_t)rdmsr(0x48D));
    vmwrite(PROC_BASED_CONTROLS, (uint32_t)rdmsr(0x48E));
    vmwrite(EXIT_CONTROLS, (uint32_t)rdmsr(0x48F) | EXIT_HOST_64);
    vmwrite(ENTRY_CONTROLS, (uint32_t)rdmsr(0x490));
}

struct __attribute__((packed)) l1test_table {
    uint16_t limit;
    uint64_t base;
};

/* A VM exit sets the GDTR and IDTR limits to 0xFFFF (SDM Vol. 3C
 * 28.5.2): the program saves its tables once and reloads them after. */
static struct l1test_table l1test_gdtr, l1test_idtr;

static inline void l1test_save_tables(void)
{
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(l1test_gdtr), "=m"(l1test_idtr));
}

static inline void l1test_reload_tables(void)
{
    __asm__ volatile("lgdt %0; lidt %1" ::"m"(l1test_gdtr), "m"(l1test_idtr));
}

/* The base of the runtime's 64-bit TSS, from its GDT descriptor. */
static inline uint64_t l1test_tss_base(void)
{
    extern uint64_t rt_gdt[];
    uint64_t lo = rt_gdt[RT_SEL_TSS / 8], hi = rt_gdt[RT_SEL_TSS / 8 + 1];
    return ((lo >> 16) & 0xFFFFFF) | ((lo >> 32) & 0xFF000000) | hi << 32;
}

/* The host state of this program as it runs, so that a VM exit or a
 * VM-entry failure returns here intact (SDM Vol. 3C 28.5: selectors,
 * bases, CRs). */
static inline void valid_host(void)
{
    struct l1test_table gdt, idt;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdt), "=m"(idt));
    static const struct { uint32_t field; uint64_t value; } host[] = {
        {HOST_ES_SELECTOR, RT_SEL_KDATA}, {HOST_CS_SELECTOR, RT_SEL_KCODE},
        {HOST_SS_SELECTOR, RT_SEL_KDATA}, {HOST_DS_SELECTOR, RT_SEL_KDATA},
        {HOST_FS_SELECTOR, RT_SEL_KDATA}, {HOST_GS_SELECTOR, RT_SEL_KDATA},
        {HOST_TR_SELECTOR, RT_SEL_TSS}, {HOST_FS_BASE, 0}, {HOST_GS_BASE, 0},
        {HOST_SYSENTER_ESP, 0}, {HOST_SYSENTER_EIP, 0},
    };
    for (unsigned k = 0; k < sizeof host / sizeof *host; k++)
        vmwrite(host[k].field, host[k].value);
    /* With the bits VMX fixes to 1 (IA32_VMX_CR0/CR4_FIXED0). */
    vmwrite(HOST_CR0, read_cr0() | rdmsr(0x486));
    vmwrite(HOST_CR3, read_cr3());
    vmwrite(HOST_CR4, read_cr4() | rdmsr(0x488));
    vmwrite(HOST_TR_BASE, l1test_tss_base());
    vmwrite(HOST_GDTR_BASE, gdt.base);
    vmwrite(HOST_IDTR_BASE, idt.base);
}

/* A 64-bit L2 at `rip` on the stack `rsp`, in L1's own address space
 * (no EPT): L1's code segment, data segments, TSS and tables. The entry
 * controls must ask for an IA-32e mode guest. */
static inline void guest_like_l1(uint64_t rip, uint64_t rsp)
{
    struct l1test_table gdt, idt;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdt), "=m"(idt));
    for (unsigned s = SEG_ES; s <= SEG_GS; s++) {
        vmwrite(GUEST_SEG_SELECTOR(s), s == SEG_CS ? RT_SEL_KCODE : RT_SEL_KDATA);
        vmwrite(GUEST_SEG_ACCESS(s), s == SEG_CS ? 0xA09B : 0xC093);
        vmwrite(GUEST_SEG_LIMIT(s), 0xFFFFFFFF);
        vmwrite(GUEST_SEG_BASE(s), 0);
    }
    vmwrite(GUEST_SEG_SELECTOR(SEG_LDTR), 0);
    vmwrite(GUEST_SEG_ACCESS(SEG_LDTR), SEG_ACCESS_UNUSABLE);
    vmwrite(GUEST_SEG_LIMIT(SEG_LDTR), 0);
    vmwrite(GUEST_SEG_BASE(SEG_LDTR), 0);
    vmwrite(GUEST_SEG_SELECTOR(SEG_TR), RT_SEL_TSS);
    vmwrite(GUEST_SEG_ACCESS(SEG_TR), 0x8B); /* busy 64-bit TSS */
    vmwrite(GUEST_SEG_LIMIT(SEG_TR), 0x67);
    vmwrite(GUEST_SEG_BASE(SEG_TR), l1test_tss_base());
    static const struct { uint32_t field; uint64_t value; } zero_or_fixed[] = {
        {GUEST_DR7, 0x400}, {GUEST_RFLAGS, 0x2}, {VMCS_LINK_POINTER, ~0ull},
        {GUEST_IA32_DEBUGCTL, 0}, {GUEST_INTERRUPTIBILITY, 0},
        {GUEST_ACTIVITY_STATE, 0}, {GUEST_PENDING_DEBUG, 0},
        {GUEST_SYSENTER_CS, 0}, {GUEST_SYSENTER_ESP, 0},
        {GUEST_SYSENTER_EIP, 0},
    };
    for (unsigned k = 0; k < sizeof zero_or_fixed / sizeof *zero_or_fixed; k++)
        vmwrite(zero_or_fixed[k].field, zero_or_fixed[k].value);
    vmwrite(GUEST_GDTR_BASE, gdt.base);
    vmwrite(GUEST_GDTR_LIMIT, gdt.limit);
    vmwrite(GUEST_IDTR_BASE, idt.base);
    vmwrite(GUEST_IDTR_LIMIT, idt.limit);
    vmwrite(GUEST_CR0, read_cr0() | rdmsr(0x486));
    vmwrite(GUEST_CR3, read_cr3());
    vmwrite(GUEST_CR4, read_cr4() | rdmsr(0x488));
    vmwrite(GUEST_RIP, rip);
    vmwrite(GUEST_RSP, rsp);
}

#endif
