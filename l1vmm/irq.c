/* Interrupts through l1vmm (`interrupts=exit`, docs/l1vmm.md
 * "Interrupts"): external-interrupt exiting with "acknowledge interrupt
 * on exit", so every interrupt of the local APIC is an exit that names
 * its vector (SDM Vol. 3C 25.6.1, 24.7.1, 27.2.2). l1vmm injects the
 * vector into L2 at the next VM entry if L2 can take it (RFLAGS.IF = 1,
 * no blocking by STI or MOV SS: SDM Vol. 3A 6.8.1, Vol. 3C 26.3.1.5),
 * and otherwise keeps it pending and asks for an interrupt-window exit
 * (25.6.2, 26.7.5), as KVM does: the exits of Turtles' Figure 6
 * "external interrupt" and "pending interrupt".
 *
 * The interrupts are still the real APIC's: acknowledging one moves it
 * from IRR to ISR at the exit, and L2's EOI ends it. Simplified: while
 * l1vmm holds an interrupt, L2 sees it in ISR rather than in IRR (on a
 * CPU without l1vmm it would stay in IRR until L2 can take it). */
#include "cpu.h"
#include "l1vmm.h"

#define RFLAGS_IF (1u << 9)
#define BLOCKING_STI_MOVSS 3u
#define ACTIVITY_ACTIVE 0
#define ACTIVITY_HLT 1

int irq_forwarding;
static uint32_t pending[8]; /* vectors acknowledged, not yet injected */

static int allowed1(uint32_t msr, uint32_t bit)
{
    return !!(rdmsr(msr) >> 32 & bit);
}

int irq_init(int forward)
{
    irq_forwarding = forward;
    if (!forward)
        return 0;
    uint32_t pin_msr = caps.basic >> 55 & 1 ? MSR_VMX_TRUE_PINBASED
                                             : MSR_VMX_PINBASED;
    uint32_t exit_msr = caps.basic >> 55 & 1 ? MSR_VMX_TRUE_EXIT
                                              : MSR_VMX_EXIT;
    if (!allowed1(pin_msr, PIN_EXTERNAL_INTERRUPT) ||
        !allowed1(exit_msr, EXIT_ACK_INTERRUPT) ||
        !allowed1(MSR_VMX_PROCBASED, PROC_INTERRUPT_WINDOW)) {
        rt_printf("l1vmm: interrupts=exit needs external-interrupt exiting, "
                  "acknowledge interrupt on exit and interrupt-window "
                  "exiting; this CPU lacks one\n");
        return -1;
    }
    caps.pin |= PIN_EXTERNAL_INTERRUPT;
    caps.exit |= EXIT_ACK_INTERRUPT;
    return 0;
}

static void set_window_exiting(int on)
{
    uint32_t proc = on ? caps.proc | PROC_INTERRUPT_WINDOW
                       : caps.proc & ~PROC_INTERRUPT_WINDOW;
    if (proc != caps.proc) {
        caps.proc = proc;
        vmwrite(PROC_BASED_CONTROLS, proc);
    }
}

/* An external interrupt, acknowledged by the exit: its vector is in the
 * exit interruption information (27.2.2). */
void irq_on_external_interrupt(void)
{
    uint32_t info = exit_interruption_info();
    if (!(info & INTR_VALID))
        return; /* not acknowledged: nothing to hold */
    unsigned v = INTR_VECTOR(info);
    pending[v / 32] |= 1u << (v % 32);
}

static int highest_pending(void)
{
    for (int w = 7; w >= 0; w--)
        if (pending[w])
            return w * 32 + 31 - __builtin_clz(pending[w]);
    return -1;
}

/* Before the entry: inject the highest pending vector if L2 can take it
 * and nothing else is being injected; otherwise wait for the window. */
void irq_prepare_entry(void)
{
    if (!irq_forwarding)
        return;
    int v = highest_pending();
    if (v < 0) {
        set_window_exiting(0);
        return;
    }
    int open = !l2.injected && (vmread(GUEST_RFLAGS) & RFLAGS_IF) &&
               !(exit_interruptibility() & BLOCKING_STI_MOVSS);
    if (!open) {
        set_window_exiting(1);
        return;
    }
    pending[v / 32] &= ~(1u << (v % 32));
    vmwrite(ENTRY_INTERRUPTION_INFO, INTR_VALID | INTR_EXTERNAL << 8 |
                                         (uint32_t)v);
    l2.injected = 1;
    /* Delivering it ends HLT (SDM Vol. 3C 26.7.1): L2 runs again. */
    if (vmread(GUEST_ACTIVITY_STATE) == ACTIVITY_HLT)
        vmwrite(GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
    set_window_exiting(highest_pending() >= 0);
}
