/* vmxfuzz: a hostile L1 for `turtles run --mode nested --l1`. It misuses
 * the VMX instructions on purpose and checks the architectural answers
 * (SDM Vol. 3C 31.4, VM-instruction error numbers), then writes random
 * values to random VMCS fields and launches, many times, with operands
 * that point outside its memory. Whatever it does, L0 must answer as the
 * architecture says and never crash (the test runs it under ASan).
 *
 * RESULT vmxfuzz <check>=<error number or outcome> ...
 * METRIC vmxfuzz launches, by outcome (depends on nothing but the PRNG). */
#include "../l1test.h"

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_a[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_b[4096] __attribute__((aligned(4096)));

static uint64_t pa(const void *p) { return l1test_pa(p); }

/* VMPTRST and VMPTRLD of [RAX] are 3 bytes long (0F C7 /7 and /6 with a
 * ModRM naming [RAX]): the handler skips the faulting one. */
static volatile int page_faults;

static void skip_faulting_vmx_insn(struct rt_frame *f)
{
    page_faults++;
    f->rip += 3;
}

/* #GP(0) from an instruction of known length: the handler skips it. */
static volatile int gp_faults;
static volatile unsigned gp_skip;

static void skip_faulting_gp(struct rt_frame *f)
{
    gp_faults++;
    f->rip += gp_skip;
}


/* VMXON with CR0.NE clear: #GP(0), CR0 does not suit VMX operation (SDM
 * Vol. 3C 24.8, 31.3 "VMXON"). Returns the #GPs seen. */
static int vmxon_without_ne(uint64_t region)
{
    uint64_t cr0 = read_cr0();
    int before = gp_faults;
    gp_skip = 4; /* F3 0F C7 30: vmxon (%rax) */
    write_cr0(cr0 & ~CR0_NE);
    __asm__ volatile("vmxon (%0)" ::"a"(&region) : "cc", "memory");
    write_cr0(cr0);
    return gp_faults - before;
}

/* MOV to CR0 clearing NE in VMX operation: #GP(0) (24.8). */
static int clear_ne_in_vmx(void)
{
    int before = gp_faults;
    gp_skip = 3; /* 0F 22 C0: mov %rax, %cr0 */
    __asm__ volatile("mov %0, %%cr0" ::"a"(read_cr0() & ~CR0_NE) : "memory");
    return gp_faults - before;
}

static unsigned entry_failures;

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

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"rounds", 1, 10000000, 0}};
    RT_ARGS_REQUIRE(boot, "vmxfuzz", args);
    uint64_t rounds = rt_cmdline_u64(boot->cmdline, "rounds", 300);
    l1test_save_tables();
    uint32_t revision = l1test_prepare_vmx("vmxfuzz");
    *(uint32_t *)vmxon_region = revision;
    *(uint32_t *)vmcs_a = revision;
    *(uint32_t *)vmcs_b = revision;
    rt_set_handler(13, skip_faulting_gp);
    int vmxon_ne0 = vmxon_without_ne(pa(vmxon_region));     /* #GP */
    int on = error_of(vmxon(pa(vmxon_region)));
    int clear_ne = clear_ne_in_vmx();                       /* #GP */
    rt_set_handler(13, NULL); /* any other #GP is a failure */
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
    int write_ro = error_of(vmwrite(EXIT_REASON, 7)); /* ok: MISC[29] */
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
            vmread_status(VM_INSTRUCTION_ERROR, &e);
            errors[e < 64 ? e : 63]++;
        } else if (o == LAUNCH_HOST) {
            /* A VM-entry failure cleared IF and the GDTR/IDTR limits
             * (SDM 28.5.2); this program needs its own tables back. */
            uint64_t reason = 0;
            vmread_status(EXIT_REASON, &reason);
            entry_failures += reason >> 31;
            l1test_reload_tables();
        }
    }
    rt_printf("RESULT vmxfuzz vmxon_ne0_gp=%d vmxon=%d clear_ne_gp=%d "
              "twice=%d clear=%d ptrld=%d "
              "ptrld_vmxon=%d clear_odd=%d clear_vmxon=%d ptrld_rev=%d "
              "read_bad=%d write_ro=%d resume_clear=%d invept_bad=%d "
              "operand_faults=%d\n",
              vmxon_ne0, on, clear_ne, twice, clear_a, ptrld_a, ptrld_vmxon,
              clear_odd,
              clear_vmxon, ptrld_rev, read_bad, write_ro, resume_clear,
              invept_bad, faults);
    rt_printf("METRIC vmxfuzz rounds=%lu fail_valid=%u fail_invalid=%u "
              "host=%u entry_failures=%u error7=%u error8=%u\n",
              rounds, outcome[0], outcome[1], outcome[2], entry_failures,
              errors[7], errors[8]);
    return RT_EXIT_OK;
}
