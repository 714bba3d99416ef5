/* The frame of every exit: what l1vmm reads from the VMCS when L2 exits
 * and writes before it enters L2 again. On a nested L0 without VMCS
 * shadowing each VMREAD and VMWRITE is an exit of L1 (Turtles sec. 4.3),
 * so which fields are touched is the cost of an exit. Two frames
 * (l1vmm's `exit-path=` argument, docs/l1vmm.md "Exit path"):
 *
 * lean  touches only what the exit needs: the exit reason; the
 *       IDT-vectoring information for the reasons that can interrupt
 *       event delivery (SDM Vol. 3C 27.2.3); and, when it skips an
 *       instruction, RIP, the instruction length and the
 *       interruptibility state. A CPUID exit: 4 VMREADs, 1 VMWRITE.
 *
 * kvm   touches what KVM 2.6.35 (Turtles' L1) touched on every exit
 *       (vmx_vcpu_run, vmx_complete_interrupts, vmx_handle_exit and
 *       skip_emulated_instruction; Turtles sec. 4.3):
 *         at the exit   VMREAD IDT_VECTORING_INFO  (re-injection)
 *                       VMREAD VM_EXIT_INTR_INFO   (NMI unblocking)
 *                       VMREAD VM_EXIT_REASON
 *                       VMREAD GUEST_CR3           (with EPT: CR3 loads
 *                                                   do not exit)
 *         on a skip     VMREAD GUEST_RIP, VM_EXIT_INSTRUCTION_LEN,
 *                       GUEST_INTERRUPTIBILITY_INFO
 *                       VMWRITE GUEST_INTERRUPTIBILITY_INFO, only if
 *                       blocking by STI or MOV SS is to be cleared
 *                       (the conditional write)
 *         at the entry  VMWRITE GUEST_RIP         (if it changed)
 *                       VMWRITE HOST_CR0          (KVM's host CR0.TS
 *                                                  changes with lazy FPU
 *                                                  switching)
 *                       VMWRITE TPR_THRESHOLD     (update_cr8_intercept)
 *       A CPUID exit: 7 VMREADs, 3 VMWRITEs, 4 if L2's CPUID followed
 *       STI or MOV SS.
 *
 * Both frames are exact; `kvm` only adds accesses whose values change
 * nothing here. */
#include "cpu.h"
#include "l1vmm.h"

/* Not in vmx.h: only the kvm frame uses them (SDM Vol. 3C 24.6.8,
 * Table 24-6; Vol. 3D Appendix B.3.1). */
#define PROC_TPR_SHADOW (1u << 21)
#define TPR_THRESHOLD 0x401Cu

/* Blocking by STI and by MOV SS (SDM Vol. 3C Table 24-3). */
#define BLOCKING_STI_MOVSS 3u

enum exit_path exit_path;

/* What this exit has read so far: each field at most once. */
enum { HAVE_RIP = 1, HAVE_LENGTH = 2, HAVE_INTERRUPTIBILITY = 4,
       HAVE_INTR_INFO = 8 };
static struct {
    unsigned have;
    int rip_dirty;
    uint64_t rip, length, interruptibility, intr_info;
} now;

static int has_tpr_threshold; /* the field exists (use TPR shadow allowed) */

void exitpath_init(enum exit_path p)
{
    exit_path = p;
    /* TPR_THRESHOLD exists where "use TPR shadow" may be 1 (SDM Vol. 3D
     * A.3.2); l1vmm leaves that control 0, so the threshold is never
     * consulted: KVM's value with no interrupt held back by the TPR, 0,
     * is written (27.3.1.1 checks it only with the TPR shadow on). */
    has_tpr_threshold = !!(rdmsr(MSR_VMX_PROCBASED) >> 32 & PROC_TPR_SHADOW);
}

/* The reasons whose exit can happen while an event is being delivered,
 * leaving IDT-vectoring information (SDM Vol. 3C 27.2.3): a fault in
 * delivery (exception bitmap), a task gate, an APIC access, an EPT
 * violation or misconfiguration, a full page-modification log. */
static int can_interrupt_delivery(unsigned reason)
{
    switch (reason) {
    case EXIT_EXCEPTION_NMI:
    case 9:  /* task switch */
    case 44: /* APIC access */
    case EXIT_EPT_VIOLATION:
    case EXIT_EPT_MISCONFIG:
    case 62: /* page-modification log full */
        return 1;
    default:
        return 0;
    }
}

static void read_vectoring(void)
{
    l2.vectoring_info = (uint32_t)vmread(IDT_VECTORING_INFO);
    if (!(l2.vectoring_info & INTR_VALID))
        return;
    if (l2.vectoring_info & INTR_HAS_ERROR)
        l2.vectoring_error = (uint32_t)vmread(IDT_VECTORING_ERROR);
    /* The length of a software interrupt or exception being delivered
     * (27.2.4), needed to inject it again. */
    if (INTR_TYPE(l2.vectoring_info) >= INTR_SW_INTERRUPT)
        l2.vectoring_length = exit_instruction_length();
}

uint32_t exitpath_begin(void)
{
    now.have = 0;
    now.rip_dirty = 0;
    l2.injected = 0;
    l2.vectoring_info = l2.vectoring_error = l2.vectoring_length = 0;
    uint32_t reason;
    if (exit_path == EXIT_PATH_KVM) {
        read_vectoring();
        (void)exit_interruption_info();
        reason = (uint32_t)vmread(EXIT_REASON);
        if (l2.paging == PAGING_EPT)
            (void)vmread(GUEST_CR3);
    } else {
        reason = (uint32_t)vmread(EXIT_REASON);
        if (can_interrupt_delivery(reason & 0xFFFF))
            read_vectoring();
    }
    return reason;
}

void exitpath_end(void)
{
    if (now.rip_dirty)
        vmwrite(GUEST_RIP, now.rip);
    if (exit_path == EXIT_PATH_KVM) {
        vmwrite(HOST_CR0, read_cr0());
        if (has_tpr_threshold)
            vmwrite(TPR_THRESHOLD, 0);
    }
}

/* A field of this exit, read from the VMCS the first time it is asked
 * for. */
static uint64_t field_once(unsigned bit, uint64_t *slot, uint32_t field)
{
    if (!(now.have & bit)) {
        *slot = vmread(field);
        now.have |= bit;
    }
    return *slot;
}

uint64_t exit_rip(void)
{
    return field_once(HAVE_RIP, &now.rip, GUEST_RIP);
}

uint32_t exit_instruction_length(void)
{
    return (uint32_t)field_once(HAVE_LENGTH, &now.length,
                                EXIT_INSTRUCTION_LENGTH);
}

uint32_t exit_interruption_info(void)
{
    return (uint32_t)field_once(HAVE_INTR_INFO, &now.intr_info,
                                EXIT_INTERRUPTION_INFO);
}

uint32_t exit_interruptibility(void)
{
    return (uint32_t)field_once(HAVE_INTERRUPTIBILITY, &now.interruptibility,
                                GUEST_INTERRUPTIBILITY);
}

void exit_set_interruptibility(uint32_t v)
{
    now.interruptibility = v;
    now.have |= HAVE_INTERRUPTIBILITY;
    vmwrite(GUEST_INTERRUPTIBILITY, v);
}

/* The instruction that exited is done: RIP moves past it (written at the
 * entry), and blocking by STI or MOV SS, which lasts only until the end
 * of the next instruction, ends with it (SDM Vol. 3A 6.8.3; Vol. 3C
 * 25.4.2; a CPU executing it would have cleared it too). */
void skip_instruction(void)
{
    now.rip = exit_rip() + exit_instruction_length();
    now.rip_dirty = 1;
    uint32_t blocking = exit_interruptibility();
    if (blocking & BLOCKING_STI_MOVSS)
        exit_set_interruptibility(blocking & ~BLOCKING_STI_MOVSS);
}
