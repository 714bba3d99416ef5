/* vmxfuzz: a hostile L1 for `turtles run --mode nested --l1`. It misuses
 * the VMX instructions on purpose and checks the architectural answers
 * (SDM Vol. 3C 31.4, VM-instruction error numbers), then writes random
 * values to random VMCS fields and launches, many times, with operands
 * that point outside its memory. Whatever it does, L0 must answer as the
 * architecture says and never crash (the test runs it under ASan).
 *
 * RESULT vmxfuzz <check>=<error number or outcome> ...
 * METRIC vmxfuzz launches, by outcome (depends on nothing but the PRNG). */
#include <stdbool.h>

#include "cpu.h"
#include "rt.h"

#include "../../../l1vmm/vmx.h"

enum {
    FIELD_INSN_ERROR = 0x4400,
    FIELD_EXIT_REASON = 0x4402,
    FIELD_HOST_RSP = 0x6C14,
    FIELD_HOST_RIP = 0x6C16,
};

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_a[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_b[4096] __attribute__((aligned(4096)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

/* VMREAD with its status (l1vmm's helper assumes success). */
static enum vmx_result vmread_status(uint64_t field, uint64_t *value)
{
    uint8_t be, b;
    __asm__ volatile("vmread %3, %2\n\t" VMX_RESULT_ASM
                     : "=q"(be), "=q"(b), "=r"(*value)
                     : "r"(field)
                     : "cc");
    return vmx_result(be, b);
}

/* VMLAUNCH (or VMRESUME) that comes back: on VMfail the next
 * instruction, on a VM-entry failure (or an exit of an L2 that somehow
 * ran) the host RIP, which is set to the label after it. */
enum launch_outcome { LAUNCH_FAIL_VALID, LAUNCH_FAIL_INVALID, LAUNCH_HOST };

static enum launch_outcome launch(bool resume)
{
    uint8_t be = 0, b = 0, host = 0;
    __asm__ volatile(
        "lea 1f(%%rip), %%rax\n\t"
        "vmwrite %%rax, %[rip]\n\t"
        "vmwrite %%rsp, %[rsp]\n\t"
        "test %[resume], %[resume]\n\t"
        "jnz 2f\n\t"
        "vmlaunch\n\t"
        "jmp 3f\n"
        "2:\tvmresume\n"
        "3:\tsetbe %[be]\n\t"
        "setb %[b]\n\t"
        "jmp 4f\n"
        "1:\tmovb $1, %[host]\n"
        "4:"
        : [be] "+q"(be), [b] "+q"(b), [host] "+q"(host)
        : [rip] "r"((uint64_t)FIELD_HOST_RIP),
          [rsp] "r"((uint64_t)FIELD_HOST_RSP), [resume] "r"((uint64_t)resume)
        : "rax", "cc", "memory");
    if (host)
        return LAUNCH_HOST;
    return b ? LAUNCH_FAIL_INVALID : LAUNCH_FAIL_VALID;
}

/* The VM-instruction error after a VMfailValid, or -1 for VMfailInvalid
 * and -2 for success. */
static int error_of(enum vmx_result r)
{
    if (r == VMX_OK)
        return -2;
    if (r == VMX_FAIL_INVALID)
        return -1;
    uint64_t e = 0;
    vmread_status(FIELD_INSN_ERROR, &e);
    return (int)e;
}

/* VMPTRST and VMPTRLD of [RAX] are 3 bytes long (0F C7 /7 and /6 with a
 * ModRM naming [RAX]): the handler skips the faulting one. */
static volatile int page_faults;

static void skip_faulting_vmx_insn(struct rt_frame *f)
{
    page_faults++;
    f->rip += 3;
}

static unsigned entry_failures;

/* The descriptor-table registers as the runtime set them. */
static struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
} saved_gdtr, saved_idtr;

static void reload_tables(void)
{
    __asm__ volatile("lgdt %0; lidt %1" ::"m"(saved_gdtr), "m"(saved_idtr));
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Encodings to write: guest-state fields of every width (most of the
 * VM-entry checks are theirs), some controls, and random encodings that
 * may not exist. */
static const uint32_t fields[] = {
    0x0800, 0x0802, 0x0804, 0x080E, 0x2800, 0x2806, 0x280A, 0x4800,
    0x4802, 0x4814, 0x4816, 0x4822, 0x4824, 0x4826, 0x6800, 0x6802,
    0x6804, 0x6806, 0x6808, 0x681A, 0x681C, 0x681E, 0x6820, 0x6822,
    0x4000, 0x4002, 0x4012, 0x4016, 0x201A, 0x0000, 0x4402, 0x6400,
};

/* Controls every CPU accepts: the allowed-0 settings of the TRUE MSRs,
 * with a 64-bit host (exit control bit 9). */
static void valid_controls(void)
{
    vmwrite(0x4000, (uint32_t)rdmsr(0x48D));
    vmwrite(0x4002, (uint32_t)rdmsr(0x48E));
    vmwrite(0x400C, (uint32_t)rdmsr(0x48F) | 1u << 9);
    vmwrite(0x4012, (uint32_t)rdmsr(0x490));
}

/* The host state of this program as it runs, so that a VM-entry failure
 * returns here intact (SDM Vol. 3C 28.5: selectors, bases, CRs). */
static void valid_host(void)
{
    extern uint64_t rt_gdt[];
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdt, idt;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdt), "=m"(idt));
    uint64_t lo = rt_gdt[RT_SEL_TSS / 8], hi = rt_gdt[RT_SEL_TSS / 8 + 1];
    uint64_t tss = ((lo >> 16) & 0xFFFFFF) | ((lo >> 32) & 0xFF000000) |
                   hi << 32;
    static const struct { uint32_t field; uint64_t value; } host[] = {
        {0x0C00, RT_SEL_KDATA}, {0x0C02, RT_SEL_KCODE},
        {0x0C04, RT_SEL_KDATA}, {0x0C06, RT_SEL_KDATA},
        {0x0C08, RT_SEL_KDATA}, {0x0C0A, RT_SEL_KDATA},
        {0x0C0C, RT_SEL_TSS}, {0x6C06, 0}, {0x6C08, 0}, {0x6C10, 0},
        {0x6C12, 0},
    };
    for (unsigned k = 0; k < sizeof host / sizeof *host; k++)
        vmwrite(host[k].field, host[k].value);
    /* With the bits VMX fixes to 1 (IA32_VMX_CR0/CR4_FIXED0). */
    vmwrite(0x6C00, read_cr0() | rdmsr(0x486));
    vmwrite(0x6C02, read_cr3());
    vmwrite(0x6C04, read_cr4() | rdmsr(0x488));
    vmwrite(0x6C0A, tss);
    vmwrite(0x6C0C, gdt.base);
    vmwrite(0x6C0E, idt.base);
}

int main(const struct rt_boot *boot)
{
    uint64_t rounds = rt_cmdline_u64(boot->cmdline, "rounds", 300);
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(saved_gdtr), "=m"(saved_idtr));
    if (!(cpuid(1, 0).ecx & (1u << 5)))
        rt_panic("vmxfuzz: no VMX (run it as L1 of turtles --mode nested)");
    uint32_t revision = (uint32_t)rdmsr(0x480) & 0x7FFFFFFF;
    *(uint32_t *)vmxon_region = revision;
    *(uint32_t *)vmcs_a = revision;
    *(uint32_t *)vmcs_b = revision;
    write_cr4(read_cr4() | (1u << 13));
    int on = error_of(vmxon(pa(vmxon_region)));
    int twice = error_of(vmxon(pa(vmxon_region)));         /* 15 */
    int clear_a = error_of(vmclear(pa(vmcs_a)));
    int ptrld_a = error_of(vmptrld(pa(vmcs_a)));
    int ptrld_vmxon = error_of(vmptrld(pa(vmxon_region)));  /* 10 */
    int clear_odd = error_of(vmclear(pa(vmcs_a) + 8));      /* 2 */
    int clear_vmxon = error_of(vmclear(pa(vmxon_region)));  /* 3 */
    *(uint32_t *)vmcs_b = revision ^ 1;
    int ptrld_rev = error_of(vmptrld(pa(vmcs_b)));          /* 11 */
    uint64_t v;
    int read_bad = error_of(vmread_status(0xFFFF, &v));     /* 12 */
    int write_ro = error_of(vmwrite(FIELD_EXIT_REASON, 7)); /* ok: MISC[29] */
    int resume_clear = launch(true) == LAUNCH_FAIL_VALID
                           ? error_of(VMX_FAIL_VALID) : -3;   /* 5 */
    int invept_bad = error_of(invept(0, 0));                  /* 28 */

    /* Operands outside memory: #PF (above the 4 GiB map), as for any
     * memory access of L1. */
    rt_set_handler(14, skip_faulting_vmx_insn);
    uint64_t far = 0x123456789000ull;
    __asm__ volatile("vmptrst (%0)" ::"a"(far) : "memory");
    __asm__ volatile("vmptrld (%0)" ::"a"(far) : "memory");
    int faults = page_faults;

    /* Random VMCS contents, then launch. */
    unsigned outcome[3] = {0, 0, 0}, errors[64] = {0};
    for (uint64_t r = 0; r < rounds; r++) {
        vmclear(pa(vmcs_a));
        vmptrld(pa(vmcs_a));
        valid_controls();
        unsigned writes = 1 + next_random() % 24;
        for (unsigned k = 0; k < writes; k++) {
            uint64_t x = next_random();
            uint64_t field = (x & 3) ? fields[x % (sizeof fields / 4)]
                                     : (x >> 8) & 0x7FFF;
            vmwrite(field, next_random() >> (next_random() % 64));
        }
        valid_host();
        enum launch_outcome o = launch(false);
        outcome[o]++;
        if (o == LAUNCH_FAIL_VALID) {
            uint64_t e = 0;
            vmread_status(FIELD_INSN_ERROR, &e);
            errors[e < 64 ? e : 63]++;
        } else if (o == LAUNCH_HOST) {
            /* A VM-entry failure cleared IF and the GDTR/IDTR limits
             * (SDM 28.5.2); this program needs its own tables back. */
            uint64_t reason = 0;
            vmread_status(FIELD_EXIT_REASON, &reason);
            entry_failures += reason >> 31;
            reload_tables();
        }
    }
    rt_printf("RESULT vmxfuzz vmxon=%d twice=%d clear=%d ptrld=%d "
              "ptrld_vmxon=%d clear_odd=%d clear_vmxon=%d ptrld_rev=%d "
              "read_bad=%d write_ro=%d resume_clear=%d invept_bad=%d "
              "operand_faults=%d\n",
              on, twice, clear_a, ptrld_a, ptrld_vmxon, clear_odd,
              clear_vmxon, ptrld_rev, read_bad, write_ro, resume_clear,
              invept_bad, faults);
    rt_printf("METRIC vmxfuzz rounds=%lu fail_valid=%u fail_invalid=%u "
              "host=%u entry_failures=%u error7=%u error8=%u\n",
              rounds, outcome[0], outcome[1], outcome[2], entry_failures,
              errors[7], errors[8]);
    return RT_EXIT_OK;
}
