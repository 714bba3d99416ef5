/* timer: the local APIC timer delivering interrupts through the IDT (SDM
 * Vol. 3A 11.5.4, 11.8). Only facts that do not depend on how fast time
 * runs are printed: how many interrupts arrived, what the registers say
 * once the timer has expired, which interrupts were held back and why.
 *
 *   oneshot   one interrupt, HLT returns, ISR set in the handler and
 *             clear after EOI, the current count stays 0; the count is
 *             long (150 ms on QEMU's 1 GHz timer, several ticks of the
 *             PIT) so that any interrupt from elsewhere, such as a
 *             legacy PIC the runtime failed to mask, arrives meanwhile
 *             and fails the run
 *   periodic  five interrupts through HLT, then a write of 0 to the
 *             initial count stops the timer; one more may already be
 *             requested at that moment (a slow host lets a period pass
 *             inside the handler) and is taken, never a later one
 *   masked    a masked LVT entry: the count runs out, nothing is
 *             requested (IRR clear), nothing arrives
 *   if0       with IF = 0 the interrupt waits in IRR and is taken right
 *             after the instruction that follows STI (7.8.3)
 *   tpr       a vector whose priority class is not above TPR's waits in
 *             IRR until TPR is lowered (11.8.3.1)
 *   cr8       in 64-bit mode CR8 is TPR[7:4] (11.8.6.1): writes of one are
 *             read back from the other, and CR8 holds an interrupt back
 *             like TPR
 *   reprf     (DETAIL) an interrupt that arrives during a long REP LODSB
 *             is taken between two iterations (SDM Vol. 1 7.3.9.1): the
 *             frame's RIP is the instruction's, RCX is not yet 0, and the
 *             RFLAGS image has RF = 1 (Vol. 3B 18.3.1.1: "for any
 *             interrupt arriving after any iteration of a repeated string
 *             instruction but the last") */
#include "cpu.h"
#include "rt.h"

#define APIC_BASE 0xFEE00000ull
enum {
    APIC_TPR = 0x080,
    APIC_EOI = 0x0B0,
    APIC_SVR = 0x0F0,
    APIC_ISR = 0x100,
    APIC_IRR = 0x200,
    APIC_LVT_TIMER = 0x320,
    APIC_INITIAL = 0x380,
    APIC_CURRENT = 0x390,
    APIC_DIVIDE = 0x3E0,
};
#define SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define DIVIDE_BY_1 0xB

#define VEC_ONESHOT 0x40
#define VEC_PERIODIC 0x41
#define VEC_MASKED 0x42
#define VEC_IF0 0x43
#define VEC_TPR 0x44
#define VEC_CR8 0x45
#define VEC_REP 0x46
#define VEC_SPURIOUS 0xFF

/* Long enough that a handler always ends before the next period. */
#define PERIOD 200000u
#define SHORT 2000u
#define LONG 150000000u
#define REP_COUNT 2000000u
#define POLL_LIMIT 100000000u

static uint32_t apic_read(unsigned reg)
{
    return *(volatile uint32_t *)(uintptr_t)(APIC_BASE + reg);
}

static void apic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(APIC_BASE + reg) = v;
}

/* The IRR or ISR bit of `vector` (8 registers of 32 bits, 16 bytes apart). */
static int apic_bit(unsigned base, unsigned vector)
{
    return apic_read(base + 0x10 * (vector / 32)) >> (vector % 32) & 1;
}

static void arm(unsigned vector, uint32_t lvt_flags, uint32_t count)
{
    apic_write(APIC_DIVIDE, DIVIDE_BY_1);
    apic_write(APIC_LVT_TIMER, vector | lvt_flags);
    apic_write(APIC_INITIAL, count);
}

static volatile unsigned hits[256];
static volatile int isr_in_handler;
static volatile int periodic_pending; /* requested when it was stopped */

static void on_timer(struct rt_frame *f)
{
    unsigned v = (unsigned)f->vector;
    hits[v]++;
    isr_in_handler = apic_bit(APIC_ISR, v);
    if (v == VEC_PERIODIC && hits[v] == 5) {
        apic_write(APIC_INITIAL, 0); /* stops the timer (11.5.4) */
        /* A period that ended since this interrupt was accepted is in
         * IRR and will still be delivered; none can follow. */
        periodic_pending = apic_bit(APIC_IRR, v);
    }
    apic_write(APIC_EOI, 0);
}

/* REP LODSB of RSI bytes from RDI; an interrupt meanwhile is taken with
 * RIP at timer_rep_insn. */
void timer_rep_lods(const void *src, uint64_t n);
extern const char timer_rep_insn[];
__asm__(".text\n"
        ".global timer_rep_lods\n"
        "timer_rep_lods:\n"
        "    movq %rsi, %rcx\n"
        "    movq %rdi, %rsi\n"
        "    cld\n"
        ".global timer_rep_insn\n"
        "timer_rep_insn:\n"
        "    rep lodsb\n"
        "    ret\n");

static volatile uint64_t rep_rip, rep_rflags, rep_rcx;

static void on_rep_timer(struct rt_frame *f)
{
    hits[VEC_REP]++;
    rep_rip = f->rip;
    rep_rflags = f->rflags;
    rep_rcx = f->rcx;
    apic_write(APIC_EOI, 0);
}

/* Waits with HLT until `vector` has arrived `n` times. */
static void wait_for(unsigned vector, unsigned n)
{
    while (hits[vector] < n)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* Spins until the timer's count has run out, or `vector` is requested. */
static int poll_expired(void)
{
    for (unsigned k = 0; k < POLL_LIMIT; k++)
        if (apic_read(APIC_CURRENT) == 0)
            return 1;
    return 0;
}

static int poll_requested(unsigned vector)
{
    for (unsigned k = 0; k < POLL_LIMIT; k++)
        if (apic_bit(APIC_IRR, vector))
            return 1;
    return 0;
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "timer", 0, 0); /* it takes no arguments */
    static const unsigned vectors[] = {VEC_ONESHOT, VEC_PERIODIC, VEC_MASKED,
                                       VEC_IF0, VEC_TPR, VEC_CR8};
    for (unsigned k = 0; k < sizeof vectors / sizeof *vectors; k++)
        rt_set_handler(vectors[k], on_timer);
    apic_write(APIC_TPR, 0);
    apic_write(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);

    arm(VEC_ONESHOT, 0, LONG);
    wait_for(VEC_ONESHOT, 1);
    int oneshot_isr = isr_in_handler;
    int oneshot_isr_after = apic_bit(APIC_ISR, VEC_ONESHOT);
    uint32_t oneshot_current = apic_read(APIC_CURRENT);

    arm(VEC_PERIODIC, LVT_PERIODIC, PERIOD);
    wait_for(VEC_PERIODIC, 5);
    wait_for(VEC_PERIODIC, 5 + periodic_pending);
    uint32_t periodic_current = apic_read(APIC_CURRENT);
    unsigned periodic = hits[VEC_PERIODIC] - periodic_pending;

    arm(VEC_MASKED, LVT_MASKED, SHORT);
    sti();
    int masked_expired = poll_expired();
    cli();
    int masked_irr = apic_bit(APIC_IRR, VEC_MASKED);

    arm(VEC_IF0, 0, SHORT);
    int if0_requested = poll_requested(VEC_IF0);
    unsigned if0_before = hits[VEC_IF0];
    /* STI; NOP; CLI: the interrupt comes between NOP and CLI. */
    __asm__ volatile("sti; nop; cli" ::: "memory");
    unsigned if0_after = hits[VEC_IF0];

    apic_write(APIC_TPR, VEC_TPR & 0xF0); /* class 4 blocks vector 0x44 */
    arm(VEC_TPR, 0, SHORT);
    sti();
    int tpr_requested = poll_requested(VEC_TPR);
    unsigned tpr_before = hits[VEC_TPR];
    apic_write(APIC_TPR, 0);
    for (unsigned k = 0; k < POLL_LIMIT && !hits[VEC_TPR]; k++)
        ;
    cli();
    unsigned tpr_after = hits[VEC_TPR];

    write_cr8(3);
    uint32_t tpr_from_cr8 = apic_read(APIC_TPR);
    apic_write(APIC_TPR, 0x70);
    uint64_t cr8_from_tpr = read_cr8();
    write_cr8(VEC_CR8 >> 4); /* class 4 blocks vector 0x45 */
    arm(VEC_CR8, 0, SHORT);
    sti();
    int cr8_requested = poll_requested(VEC_CR8);
    unsigned cr8_before = hits[VEC_CR8];
    write_cr8(0);
    for (unsigned k = 0; k < POLL_LIMIT && !hits[VEC_CR8]; k++)
        ;
    cli();
    unsigned cr8_after = hits[VEC_CR8];

    /* reprf: the count (2 ms on QEMU's 1 GHz timer) outlasts the call on
     * every backend, and 16 Mi reads from 1 MiB up outlast the count. */
    rt_set_handler(VEC_REP, on_rep_timer);
    arm(VEC_REP, 0, REP_COUNT);
    sti();
    timer_rep_lods((const void *)0x100000, 16u << 20);
    cli();
    int rep_mid = hits[VEC_REP] == 1 &&
                  rep_rip == (uint64_t)timer_rep_insn && rep_rcx != 0;
    uint64_t rep_rf = rep_rflags >> 16 & 1;

    rt_printf("RESULT timer oneshot=%u isr=%d,%d current=%u "
              "periodic=%u current=%u masked=%d,%d,%u "
              "if0=%d,%u,%u tpr=%d,%u,%u cr8=%#x,%lu,%d,%u,%u "
              "spurious=%u\n",
              hits[VEC_ONESHOT], oneshot_isr, oneshot_isr_after,
              oneshot_current, periodic, periodic_current,
              masked_expired, masked_irr, hits[VEC_MASKED], if0_requested,
              if0_before, if0_after, tpr_requested, tpr_before, tpr_after,
              tpr_from_cr8, cr8_from_tpr, cr8_requested, cr8_before,
              cr8_after, hits[VEC_SPURIOUS]);
    /* QEMU 7.2 TCG and Bochs 2.7 push RF = 0 (the SDM: 1). */
    rt_printf("DETAIL timer reprf=%d,%lu\n", rep_mid, rep_rf);
    return RT_EXIT_OK;
}
