/* nmi: non-maskable interrupts sent to itself through the local APIC's
 * ICR (SDM Vol. 3A 11.6.1, delivery mode NMI) and their blocking (7.7,
 * "Handling Multiple NMIs").
 *
 *   count      NMIs the handler saw: the first, then exactly one of the
 *              two sent from inside the handler (one NMI is latched while
 *              NMIs are blocked, the other is lost)
 *   in_handler what the handler counted just before its IRET: still 1,
 *              the NMIs it sent wait for the IRET
 *   at_next    the first NMI arrived at the instruction boundary right
 *              after the ICR write (its frame's RIP)
 *   if         RFLAGS.IF in that frame: 0, as NMIs ignore IF
 *   vector     the vector the handler ran for: 2 */
#include "cpu.h"
#include "rt.h"

#define APIC_PAGE 0xFEE00000ull
enum { APIC_ID = 0x020, APIC_SVR = 0x0F0, APIC_ICR_LO = 0x300,
       APIC_ICR_HI = 0x310 };
/* ICR: delivery mode NMI (100b), level assert; physical destination. */
#define ICR_NMI (4u << 8 | 1u << 14)
#define SPIN 200000u

static uint32_t apic_read(unsigned reg)
{
    return *(volatile uint32_t *)(uintptr_t)(APIC_PAGE + reg);
}

static void apic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(APIC_PAGE + reg) = v;
}

static volatile unsigned nmis, in_handler, vector;
static volatile uint64_t first_rip, first_rflags;

/* To this CPU by its own APIC ID: the "self" shorthand is not valid
 * with delivery mode NMI (11.6.1). */
static void send_nmi(void)
{
    apic_write(APIC_ICR_HI, apic_read(APIC_ID) & 0xFF000000u);
    apic_write(APIC_ICR_LO, ICR_NMI);
}

static void on_nmi(struct rt_frame *f)
{
    unsigned n = ++nmis;
    if (n != 1)
        return;
    vector = (unsigned)f->vector;
    first_rip = f->rip;
    first_rflags = f->rflags;
    send_nmi();
    send_nmi();
    for (volatile unsigned k = 0; k < SPIN; k++)
        ;
    in_handler = nmis;
}

int main(const struct rt_boot *boot)
{
    (void)boot;
    rt_set_handler(2, on_nmi);
    apic_write(APIC_SVR, 0x100 | 0xFF);
    cli();
    apic_write(APIC_ICR_HI, apic_read(APIC_ID) & 0xFF000000u);
    uint64_t next;
    volatile uint32_t *icr = (volatile uint32_t *)(uintptr_t)(APIC_PAGE +
                                                              APIC_ICR_LO);
    __asm__ volatile("movl %k[v], (%[icr])\n\t"
                     "1: lea 1b(%%rip), %[next]"
                     : [next] "=r"(next)
                     : [v] "r"(ICR_NMI), [icr] "r"(icr)
                     : "memory");
    for (volatile unsigned k = 0; k < SPIN && nmis < 2; k++)
        ;
    rt_printf("RESULT nmi count=%u in_handler=%u vector=%u if=%u\n", nmis,
              in_handler, vector, (unsigned)(first_rflags >> 9 & 1));
    rt_printf("DETAIL nmi at_next=%d\n", first_rip == next);
    return RT_EXIT_OK;
}
