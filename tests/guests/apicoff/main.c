/* apicoff: the IA32_APIC_BASE global enable (SDM Vol. 3A 11.4.3, 11.4.4).
 *
 *   cpuid    CPUID.1:EDX.APIC before, while and after EN = 0
 *   en       EN as RDMSR reads it at each of those points
 *   page     what the APIC page reads while disabled: it no longer
 *            answers, so the version register reads as unbacked memory
 *   irq      timer interrupts arrive before the disable, none after it
 *   reset    after EN = 1 again: SVR, LVT timer, TPR, initial count and
 *            the timer's IRR bit have their power-up values (11.4.7.1)
 *   gp       from the enabled xAPIC state, WRMSR with bit 9 set, with
 *            bit 63 set, with EXTD and EN when CPUID.1:ECX.x2APIC is
 *            clear, and (last) with EN = 0 and EXTD = 1 (an invalid
 *            state, 11.12.5) raise #GP
 *
 * QEMU 7.2 TCG and Bochs 2.7 never re-enable a disabled APIC (the rule
 * of 3-wire APIC buses; the SDM lets processors with FSB delivery, as
 * this one, re-enable it), and QEMU checks no reserved bit and keeps
 * the page answering: those values are DETAIL lines. */
#include "cpu.h"
#include "probe.h"
#include "rt.h"

#define APIC_BASE_MSR 0x1B
#define APIC_PAGE 0xFEE00000ull
#define EN (1u << 11)
#define EXTD (1u << 10)
enum {
    APIC_VERSION = 0x030,
    APIC_TPR = 0x080,
    APIC_EOI = 0x0B0,
    APIC_SVR = 0x0F0,
    APIC_IRR = 0x200,
    APIC_LVT_TIMER = 0x320,
    APIC_INITIAL = 0x380,
    APIC_DIVIDE = 0x3E0,
};
#define VEC_TIMER 0x40
#define PERIOD 20000u
#define SPIN 2000000u

int probe_wrmsr_apic_base(uint32_t lo, uint32_t hi);

static uint32_t apic_read(unsigned reg)
{
    return *(volatile uint32_t *)(uintptr_t)(APIC_PAGE + reg);
}

static void apic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(APIC_PAGE + reg) = v;
}

static volatile unsigned ticks;

static void on_timer(struct rt_frame *f)
{
    (void)f;
    ticks++;
    apic_write(APIC_EOI, 0);
}

static int cpuid_apic(void)
{
    return cpuid(1, 0).edx >> 9 & 1;
}

static int en(void)
{
    return rdmsr(APIC_BASE_MSR) >> 11 & 1;
}

static void spin(void)
{
    for (volatile unsigned k = 0; k < SPIN; k++)
        ;
}

/* 1 if writing `v` to IA32_APIC_BASE raised #GP. */
static int write_faults(uint64_t v)
{
    unsigned before = rt_caught.count;
    int faulted = probe_wrmsr_apic_base((uint32_t)v, (uint32_t)(v >> 32));
    return faulted && rt_caught.count == before + 1 && rt_caught.vector == 13;
}

int main(const struct rt_boot *boot)
{
    (void)boot;
    /* Without the APIC the 8259's INTR reaches the CPU directly: the
     * runtime masked both 8259s at start. */
    rt_set_handler(VEC_TIMER, on_timer);
    uint64_t base = rdmsr(APIC_BASE_MSR);
    int cpuid_on = cpuid_apic(), en_on = en();

    /* Refused writes, from the enabled xAPIC state. */
    rt_catch(13);
    int gp_bit9 = write_faults(base | 1u << 9);
    int gp_bit63 = write_faults(base | 1ull << 63);
    int x2apic = cpuid(1, 0).ecx >> 21 & 1;
    int extd_consistent = 1;
    if (!x2apic)
        extd_consistent = write_faults(base | EXTD);
    rt_set_handler(13, 0);
    wrmsr(APIC_BASE_MSR, base); /* where a backend took a bad value */

    apic_write(APIC_SVR, 0x100 | 0xFF);
    apic_write(APIC_TPR, 0x10);
    apic_write(APIC_DIVIDE, 0xB);
    apic_write(APIC_LVT_TIMER, VEC_TIMER | 1u << 17); /* periodic */
    apic_write(APIC_INITIAL, PERIOD);
    sti();
    while (ticks < 2)
        __asm__ volatile("hlt");
    cli();

    wrmsr(APIC_BASE_MSR, base & ~(uint64_t)EN);
    int cpuid_off = cpuid_apic(), en_off = en();
    uint32_t page = apic_read(APIC_VERSION);
    unsigned ticks_before = ticks;
    sti();
    spin();
    cli();
    unsigned ticks_while_off = ticks - ticks_before;

    wrmsr(APIC_BASE_MSR, base);
    int cpuid_again = cpuid_apic(), en_again = en();
    uint32_t svr = apic_read(APIC_SVR), lvt = apic_read(APIC_LVT_TIMER);
    uint32_t tpr = apic_read(APIC_TPR), initial = apic_read(APIC_INITIAL);
    int irr = apic_read(APIC_IRR + 0x10 * (VEC_TIMER / 32)) >>
              (VEC_TIMER % 32) & 1;


    /* Last, as a backend that takes it is left disabled. */
    rt_catch(13);
    int gp_extd_only = write_faults((base & ~(uint64_t)EN) | EXTD);
    rt_set_handler(13, 0);

    rt_printf("RESULT apicoff cpuid=%d,%d en=%d,%d irq=%d,%u\n", cpuid_on,
              cpuid_off, en_on, en_off, ticks_before >= 2, ticks_while_off);
    rt_printf("DETAIL apicoff again=%d,%d page=%#x reset=%#x,%#x,%#x,%#x,%d "
              "gp=%d,%d,%d,%d\n",
              cpuid_again, en_again, page, svr, lvt, tpr, initial, irr,
              gp_bit9, gp_bit63, extd_consistent, gp_extd_only);
    return RT_EXIT_OK;
}
