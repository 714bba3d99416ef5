/* strict: instructions whose architectural answer a hypervisor must give
 * itself when they exit, checked alike on every backend (bare, single,
 * nested, QEMU, Bochs).
 *
 *   VMFUNC   #UD outside VMX non-root operation, and inside it while
 *            "enable VM functions" is clear (SDM Vol. 2C "VMFUNC",
 *            Vol. 3C 25.5.6)
 *   INVD     completes at CPL 0 (it always exits in VMX non-root
 *            operation, 26.1.2); #GP(0) at CPL 3, before any exit
 *   MOV CR4  #GP(0) for bits 63:32 (also with CR4.VMXE, L0's bit, so
 *            that the write exits) and for clearing PAE in IA-32e mode
 *   DETAIL   (QEMU's TCG departs on these, test_guests.py DEVIATIONS)
 *            MOV CR0: #GP(0) for bits 63:32, NW without CD, clearing PG
 *            in 64-bit mode (Vol. 3A 2.5, Vol. 2B "MOV to CR"), all but
 *            the first with CR0.NE flipped, the bit a hypervisor keeps
 *            set, so that the write exits and the hypervisor, not the
 *            CPU, must refuse it; MOV CR3 with a bit above MAXPHYADDR;
 *            MOV DR7 with bits 63:32; WRMSR EFER with a reserved bit or
 *            LME changed under paging
 *
 * sweep=MIB: afterwards, write one byte to every 4 KiB page of the MIB
 * MiB above RAM and read it back: unbacked guest-physical memory reads
 * as all ones and drops writes (turtles backends only: on a PC devices
 * may sit there). RESULT strict sweep=<pages> ones=<pages read as 0xff>. */
#include <stdbool.h>

#include "cpu.h"
#include "probe.h"
#include "rt.h"
#include "user.h"

#define PROBES(X) \
    X(vmfunc) X(invd) X(mov_cr0) X(mov_cr3) X(mov_cr4) X(mov_dr7) X(wrmsr_efer)
#define DECLARE(name) int probe_##name(uint64_t arg);
PROBES(DECLARE)

/* Runs one probe; prints " name=vector/error", "-" if it completed. */
static void check(const char *name, int (*probe)(uint64_t), uint64_t arg)
{
    unsigned before = rt_caught.count;
    if (!probe(arg)) {
        rt_printf(" %s=-", name);
        return;
    }
    if (rt_caught.count != before + 1)
        rt_panic("strict: %s: the count of exceptions is off", name);
    rt_printf(" %s=%lu/%#lx", name, rt_caught.vector, rt_caught.error);
}

static uint64_t read_cr(int n)
{
    return n == 0 ? read_cr0() : n == 3 ? read_cr3() : read_cr4();
}

static uint64_t user_invd(uint64_t unused)
{
    (void)unused;
    return (uint64_t)probe_invd(0);
}

static uint8_t user_stack[4096] __attribute__((aligned(16)));

static void sweep(uint64_t ram, uint64_t mib)
{
    uint64_t pages = mib << 8, ones = 0;
    for (uint64_t k = 0; k < pages; k++) {
        volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(ram + (k << 12));
        *p = (uint8_t)k;
        ones += *p == 0xFF;
    }
    rt_printf("RESULT strict sweep=%lu ones=%lu\n", pages, ones);
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"sweep", 1, 2048, 0}};
    RT_ARGS_REQUIRE(boot, "strict", args);
    rt_catch(6);
    rt_catch(13);
    uint64_t cr0 = read_cr(0), cr3 = read_cr(3), cr4 = read_cr(4);
    uint64_t ne = cr0 ^ CR0_NE; /* CR0.NE flipped: the write exits */

    rt_printf("RESULT strict");
    check("vmfunc", probe_vmfunc, 0);
    check("invd", probe_invd, 0);
    unsigned before = rt_caught.count;
    uint64_t user = rt_user_call(user_invd, 0,
                                 user_stack + sizeof user_stack, 0x2);
    if (user)
        rt_printf(" invd_cpl3=%lu/%#lx", rt_caught.vector, rt_caught.error);
    else
        rt_printf(" invd_cpl3=-");
    if (user && rt_caught.count != before + 1)
        rt_panic("strict: invd_cpl3: the count of exceptions is off");
    rt_printf("\n");

    /* QEMU 7.2's TCG takes some of these writes and may not survive the
     * next: the first one taken is undone and the rest are skipped. */
    rt_printf("DETAIL strict");
    static const struct {
        const char *name;
        bool cr4;
        uint64_t set, clear;
    } bad[] = {
        {"cr0_bit32", false, 1ull << 32, 0},
        {"cr0_ne_bit32", false, CR0_NE | 1ull << 32, 0},
        {"cr0_ne_bit63", false, CR0_NE | 1ull << 63, 0},
        {"cr0_ne_nw", false, CR0_NE | CR0_NW, CR0_CD},
        {"cr4_bit63", true, 1ull << 63, 0},
        {"cr4_vmxe_bit32", true, CR4_VMXE | 1ull << 32, 0},
    };
    bool all_faulted = true;
    for (unsigned k = 0; k < sizeof bad / sizeof *bad; k++) {
        if (!all_faulted) {
            rt_printf(" %s=skipped", bad[k].name);
            continue;
        }
        unsigned before_k = rt_caught.count;
        /* CR0.NE is flipped (XOR), the other bits set or cleared. */
        uint64_t base = bad[k].cr4 ? cr4 : cr0;
        uint64_t v = ((base ^ (bad[k].set & CR0_NE)) |
                      (bad[k].set & ~(uint64_t)CR0_NE)) & ~bad[k].clear;
        if (bad[k].cr4)
            v = (cr4 | bad[k].set) & ~bad[k].clear;
        check(bad[k].name, bad[k].cr4 ? probe_mov_cr4 : probe_mov_cr0, v);
        if (rt_caught.count == before_k) {
            all_faulted = false;
            if (bad[k].cr4)
                probe_mov_cr4(cr4);
            else
                probe_mov_cr0(cr0);
        }
    }
    if (all_faulted) {
        check("cr0_ne_pg_off", probe_mov_cr0, ne & ~(uint64_t)CR0_PG);
        check("cr4_pae_off", probe_mov_cr4, cr4 & ~(uint64_t)CR4_PAE);
    } else {
        rt_printf(" cr0_ne_pg_off=skipped cr4_pae_off=skipped");
    }
    check("cr0_ne", probe_mov_cr0, ne);
    check("cr0_back", probe_mov_cr0, cr0);
    rt_printf(" cr0=%s cr4=%s", read_cr(0) == cr0 ? "same" : "changed",
              read_cr(4) == cr4 ? "same" : "changed");

    uint64_t efer = rdmsr(MSR_EFER);
    if (all_faulted) {
        check("cr3_bit60", probe_mov_cr3, cr3 | 1ull << 60);
        __asm__ volatile("mov %0, %%cr3" ::"r"(cr3) : "memory");
        check("dr7_bit32", probe_mov_dr7, 0x400 | 1ull << 32);
        check("efer_bit2", probe_wrmsr_efer, efer | 1u << 2);
        check("efer_lme_off", probe_wrmsr_efer, efer & ~(uint64_t)EFER_LME);
    } else {
        rt_printf(" cr3_bit60=skipped dr7_bit32=skipped efer_bit2=skipped "
                  "efer_lme_off=skipped");
    }
    rt_printf(" efer=%s\n", rdmsr(MSR_EFER) == efer ? "same" : "changed");

    uint64_t mib = rt_cmdline_u64(boot->cmdline, "sweep", 0);
    if (mib)
        /* The available RAM leaves out the 384 KiB below 1 MiB; RAM
         * itself ends at a MiB boundary (turtles --mem is in MiB). */
        sweep((rt_ram_bytes(boot) + 0xFFFFF) & ~0xFFFFFull, mib);
    return RT_EXIT_OK;
}
