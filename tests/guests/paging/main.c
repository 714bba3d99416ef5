/* paging: 4-level paging with tables built here (SDM Vol. 3A chapter 4).
 * The runtime's identity map stays at PML4[0]; PML4[1] holds a test
 * region of 4 KiB pages (PT) and one 2 MiB page, whose entries each check
 * rewrites and then invalidates with INVLPG. Only behaviour the
 * architecture guarantees is checked: after INVLPG, MOV CR3 or a CR4.PGE
 * toggle the new entry is used; whether a stale entry is still used
 * before that is left open (4.10.4.3) and never tested.
 *
 * Each fault check prints the #PF error code (4.7: P 0, W/R 1, U/S 2,
 * RSVD 3, I/D 4), or "-" when the access completed; CR2 must be the
 * faulting address every time (cr2_bad counts the others). */
#include "cpu.h"
#include "probe.h"
#include "rt.h"
#include "user.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_G 0x100ull
#define PTE_XD (1ull << 63)
#define PTE_BIT51 (1ull << 51) /* reserved: MAXPHYADDR < 52 everywhere here */

#define REGION 0x0000008000000000ull /* PML4 index 1 */
#define VA(page) (REGION + (uint64_t)(page) * 4096)
#define LARGE_VA (REGION + 0x200000) /* PD[1]: a 2 MiB page */
#define LARGE_PA 0xA00000ull         /* 10 MiB: RAM the image does not use */

extern uint64_t rt_pml4[512];

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint8_t frames[4][4096] __attribute__((aligned(4096)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));

static unsigned cr2_bad;

int probe_write32(volatile void *p, uint32_t value); /* probes.S */

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

/* The CPU writes A and D into the tables behind the compiler's back. */
static uint64_t entry(const uint64_t *table, unsigned index)
{
    return ((const volatile uint64_t *)table)[index];
}

static void map(unsigned page, uint64_t entry)
{
    pt[page] = entry;
    invlpg((void *)(uintptr_t)VA(page));
}

enum kind { READ, WRITE, FETCH };

/* The #PF error code of one access to `va`, or -1 if it completed. */
static int64_t access(uint64_t va, enum kind kind)
{
    void *p = (void *)(uintptr_t)va;
    unsigned before = rt_caught.count;
    int faulted = kind == READ    ? rt_probe_read8(p)
                  : kind == WRITE ? rt_probe_write8(p, 0x77)
                                  : rt_probe_call(p);
    if (!faulted)
        return -1;
    if (rt_caught.count != before + 1 || rt_caught.vector != 14)
        rt_panic("paging: expected a #PF at %#lx", va);
    if (rt_caught.cr2 != va)
        cr2_bad++;
    return (int64_t)rt_caught.error;
}

/* Results, printed in order as "name=error" ("-": no fault). */
static struct {
    const char *name;
    int64_t error;
} results[40];
static unsigned nresults;

static void note(const char *name, int64_t error)
{
    results[nresults].name = name;
    results[nresults++].error = error;
}

/* At CPL 3 (user.h): U/S checks. The region's upper levels are user;
 * page 6 is a supervisor page, page 7 user read-only, page 8 absent. */
static int64_t user_errors[4];
static uint64_t user_checks(uint64_t unused)
{
    (void)unused;
    user_errors[0] = access(VA(6), READ);
    user_errors[1] = access(VA(7), READ);
    user_errors[2] = access(VA(7), WRITE);
    user_errors[3] = access(VA(8), READ);
    return 0;
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "paging", 0, 0); /* it takes no arguments */
    rt_catch(14);
    uint64_t table_flags = PTE_P | PTE_W | PTE_U;
    pml4[0] = rt_pml4[0];
    pml4[1] = pa(pdpt) | table_flags;
    pdpt[0] = pa(pd) | table_flags;
    pd[0] = pa(pt) | table_flags;
    pd[1] = LARGE_PA | PTE_P | PTE_W | PTE_PS;
    write_cr3(pa(pml4));
    volatile uint8_t *f0 = frames[0], *f1 = frames[1];

    /* A mapping: a write through the region lands in the frame. */
    map(0, pa(frames[0]) | PTE_P | PTE_W);
    *(volatile uint8_t *)(uintptr_t)(VA(0) + 0x123) = 0x5A;
    int mapped = f0[0x123] == 0x5A;

    /* Accessed and dirty (4.8): a read sets A at every level, a write
     * also sets D in the PTE. */
    pml4[1] &= ~PTE_A;
    pdpt[0] &= ~PTE_A;
    pd[0] &= ~PTE_A;
    write_cr3(pa(pml4)); /* the upper levels may be cached too */
    map(1, pa(frames[1]) | PTE_P | PTE_W);
    (void)*(volatile uint8_t *)(uintptr_t)VA(1);
    uint64_t after_read = entry(pt, 1) & (PTE_A | PTE_D);
    uint64_t upper_a = entry(pml4, 1) & entry(pdpt, 0) & entry(pd, 0) & PTE_A;
    *(volatile uint8_t *)(uintptr_t)VA(1) = 1;
    uint64_t after_write = entry(pt, 1) & (PTE_A | PTE_D);

    /* Not present, read-only, CR0.WP (4.6). */
    map(2, 0);
    note("absent_read", access(VA(2) + 0x10, READ));
    note("absent_write", access(VA(2) + 0xFFF, WRITE));
    map(3, pa(frames[2]) | PTE_P);
    note("ro_read", access(VA(3), READ));
    note("ro_write", access(VA(3), WRITE));
    uint64_t cr0 = read_cr0();
    write_cr0(cr0 & ~CR0_WP);
    note("ro_write_wp0", access(VA(3), WRITE));
    write_cr0(cr0);
    note("ro_write_wp1", access(VA(3), WRITE));

    /* Reserved bits (4.5.4): RSVD and P set. XD is reserved while
     * EFER.NXE = 0; PS is reserved in a PML4E. */
    int64_t rsvd[3];
    map(4, pa(frames[2]) | PTE_P | PTE_BIT51);
    rsvd[0] = access(VA(4), READ);
    map(4, pa(frames[2]) | PTE_P | PTE_XD);
    rsvd[1] = access(VA(4), WRITE);
    pml4[2] = pa(pdpt) | PTE_P | PTE_W | PTE_PS;
    rsvd[2] = access(REGION * 2, READ);
    pml4[2] = 0;
    note("absent_pml4", access(REGION * 2, READ));

    /* Instruction fetches: I/D is reported only with EFER.NXE = 1 (4.7). */
    frames[3][0] = 0xC3; /* RET */
    map(5, 0);
    note("absent_fetch", access(VA(5), FETCH));
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    note("absent_fetch_nxe", access(VA(5), FETCH));
    map(5, pa(frames[3]) | PTE_P);
    note("fetch", access(VA(5), FETCH));
    map(5, pa(frames[3]) | PTE_P | PTE_XD);
    note("xd_fetch", access(VA(5), FETCH));
    note("xd_read", access(VA(5), READ));
    pd[0] |= PTE_XD; /* XD at any level forbids fetches (4.6) */
    map(5, pa(frames[3]) | PTE_P);
    note("xd_pde_fetch", access(VA(5), FETCH));
    pd[0] &= ~PTE_XD;
    invlpg((void *)(uintptr_t)VA(5));

    /* A new translation after INVLPG, after MOV CR3, after a CR4.PGE
     * toggle for a global page (4.10.4.1). */
    f0[0] = 0xA0;
    f1[0] = 0xA1;
    map(9, pa(frames[0]) | PTE_P);
    unsigned seen = *(volatile uint8_t *)(uintptr_t)VA(9);
    map(9, pa(frames[1]) | PTE_P);
    seen = seen << 8 | *(volatile uint8_t *)(uintptr_t)VA(9);
    pt[9] = pa(frames[0]) | PTE_P;
    write_cr3(pa(pml4));
    seen = seen << 8 | *(volatile uint8_t *)(uintptr_t)VA(9);
    write_cr4(read_cr4() | CR4_PGE);
    map(9, pa(frames[1]) | PTE_P | PTE_G);
    (void)*(volatile uint8_t *)(uintptr_t)VA(9);
    pt[9] = pa(frames[0]) | PTE_P | PTE_G;
    write_cr4(read_cr4() & ~CR4_PGE);
    seen = seen << 8 | *(volatile uint8_t *)(uintptr_t)VA(9);

    /* Unmapping: after INVLPG the page is gone. */
    map(9, 0);
    note("unmapped_read", access(VA(9), READ));

    /* A 2 MiB page (4.5, Table 4-18): offset bits 20:0 pass through. */
    *(volatile uint32_t *)(uintptr_t)(LARGE_VA + 0x1ABCDC) = 0x600DF00D;
    int large = *(volatile uint32_t *)(uintptr_t)(LARGE_PA + 0x1ABCDC) ==
                0x600DF00D;

    /* A write that straddles a mapped and an absent page faults with CR2
     * at the first byte of the absent one. */
    map(10, pa(frames[2]) | PTE_P | PTE_W);
    map(11, 0);
    unsigned before = rt_caught.count;
    int straddle = probe_write32((void *)(uintptr_t)(VA(11) - 2), 0) &&
                   rt_caught.count == before + 1 && rt_caught.vector == 14 &&
                   rt_caught.cr2 == VA(11) && rt_caught.error == 0x2;

    /* User mode (4.6): page 6 supervisor, 7 user read-only, 8 absent. */
    map(6, pa(frames[2]) | PTE_P | PTE_W);
    map(7, pa(frames[2]) | PTE_P | PTE_U);
    map(8, 0);
    pml4[0] |= PTE_U; /* rt_user_call opens the identity map below it */
    rt_user_call(user_checks, 0, user_stack + sizeof user_stack, 0x2);
    note("user_super_read", user_errors[0]);
    note("user_ro_read", user_errors[1]);
    note("user_ro_write", user_errors[2]);
    note("user_absent_read", user_errors[3]);

    unsigned rsvd_faults = 0;
    for (unsigned k = 0; k < 3; k++)
        rsvd_faults += rsvd[k] >= 0 && (rsvd[k] & 0x8);
    rt_printf("RESULT paging mapped=%d a_d=%#lx,%#lx,%#lx large=%d "
              "new_translation=%#x straddle=%d rsvd_faults=%u\n",
              mapped, upper_a, after_read, after_write, large, seen,
              straddle, rsvd_faults);
    /* The reserved-bit error codes have P = 1 ("there is a translation",
     * SDM Vol. 3A 4.7); QEMU 7.2 leaves P clear, so they are not part
     * of RESULT. */
    rt_printf("DETAIL paging rsvd_bit51=%#lx rsvd_xd=%#lx rsvd_pml4_ps=%#lx\n",
              rsvd[0], rsvd[1], rsvd[2]);
    rt_printf("RESULT paging");
    for (unsigned k = 0; k < nresults; k++) {
        if (results[k].error < 0)
            rt_printf(" %s=-", results[k].name);
        else
            rt_printf(" %s=%#lx", results[k].name, results[k].error);
    }
    rt_printf(" cr2_bad=%u\n", cr2_bad);
    return RT_EXIT_OK;
}
