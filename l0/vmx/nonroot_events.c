/* Events in VMX non-root operation that end in a VM exit instead of
 * being delivered to the guest (SDM Vol. 3C 26.2): exceptions in the
 * exception bitmap, NMIs with "NMI exiting", external interrupts with
 * "external-interrupt exiting", NMI and interrupt windows, the VMX-
 * preemption timer, triple faults; and the NMI blocking rules, which
 * VMX controls change (Vol. 3C 25.3). */
#include "cpu/cpu.h"
#include "dev/lapic.h"
#include "machine.h"
#include "vmx/controls.h"
#include "vmx/exit_cond.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

enum {
    INTR_VALID = 1u << 31,
    INTR_HAS_ERROR = 1u << 11,
    INTR_NMI_UNBLOCKED_BY_IRET = 1u << 12,
    INTR_TYPE_NMI = 2u << 8,
};

bool vmx_intercept_exception(struct cpu *c, unsigned vector, bool has_error,
                             uint32_t error, unsigned type)
{
    const struct vmcs *v = c->vmx.vmcs;
    if (!vmx_exception_exits((uint32_t)vmcs_get(v, VMCS_IDX_EXCEPTION_BITMAP),
                             vector, error,
                             (uint32_t)vmcs_get(v, VMCS_IDX_PF_ERROR_MASK),
                             (uint32_t)vmcs_get(v, VMCS_IDX_PF_ERROR_MATCH)))
        return false;
    /* #PF: the qualification is the linear address, and CR2 is not
     * written; #DB: the DR6 bits, and DR6 is not written (SDM Vol. 3C
     * 28.1, 28.2.1). */
    uint64_t qual = vector == VEC_PF   ? c->fault_address
                    : vector == VEC_DB ? c->dbg.bits
                                       : 0;
    vmx_request_exit(c, VMX_EXIT_EXCEPTION_NMI, qual);
    c->vmx.request.intr_info = INTR_VALID | type << 8 | vector |
                               (has_error ? INTR_HAS_ERROR : 0);
    /* A fault of an IRET that removed NMI blocking (28.2.2; not for
     * #DF, whose bit 12 is undefined). */
    if (c->vmx.iret_unblocked && vector != VEC_DF)
        c->vmx.request.intr_info |= INTR_NMI_UNBLOCKED_BY_IRET;
    c->vmx.request.intr_error = has_error ? error : 0;
    return true;
}

bool vmx_check_events(struct cpu *c, int pending_vector, bool nmi)
{
    struct vmx_cpu *x = &c->vmx;
    if (c->cycles >= x->preemption_deadline) {
        /* The deadline stays: the exit saves the timer as 0 (SDM Vol.
         * 3C 28.3.4), and it follows at once. */
        vmx_request_exit(c, VMX_EXIT_PREEMPTION_TIMER, 0);
        return true;
    }
    /* A STI or MOV SS shadow holds off NMIs and the NMI window too, which
     * the SDM requires for MOV SS and allows for STI (Vol. 3C Table
     * 25-3); this CPU keeps one shadow for both. */
    if (c->interrupt_shadow)
        return false;
    /* "NMI exiting": an NMI exits (reason 0, type NMI, vector 2) unless
     * blocked by NMI (26.2, 28.2.2). The exit, not the guest, takes it. */
    if (nmi && (x->pin & PIN_NMI_EXITING) && !c->nmi_blocked) {
        lapic_nmi_accept(c->m->lapic);
        vmx_request_exit(c, VMX_EXIT_EXCEPTION_NMI, 0);
        x->request.intr_info = INTR_VALID | INTR_TYPE_NMI | VEC_NMI;
        return true;
    }
    /* NMI-window exiting: no virtual-NMI blocking (26.7.6; the control
     * requires "virtual NMIs"). After a pending NMI's own exit. */
    if ((x->proc & PROC_NMI_WINDOW_EXITING) && !x->vnmi_blocked) {
        vmx_request_exit(c, VMX_EXIT_NMI_WINDOW, 0);
        return true;
    }
    if (pending_vector >= 0 && (x->pin & PIN_EXT_INTR_EXITING)) {
        vmx_request_exit(c, VMX_EXIT_EXTERNAL_INTERRUPT, 0);
        /* Acknowledge interrupt on exit: the vector moves to ISR and is
         * reported in the exit interruption information (28.2.2). */
        if (x->exit_ctls & EXIT_ACK_INTR_ON_EXIT) {
            lapic_accept(c->m->lapic, pending_vector);
            x->request.intr_info = INTR_VALID | (unsigned)pending_vector;
        }
        return true;
    }
    if ((x->proc & PROC_INTR_WINDOW_EXITING) &&
        (cpu_rflags(c) & FL_IF)) {
        vmx_request_exit(c, VMX_EXIT_INTERRUPT_WINDOW, 0);
        return true;
    }
    return false;
}

void vmx_triple_fault(struct cpu *c)
{
    vmx_request_exit(c, VMX_EXIT_TRIPLE_FAULT, 0);
    /* Not an exit during event delivery, although a #DF was being
     * delivered: no IDT-vectoring information (SDM Vol. 3C 28.2.4). */
    c->vmx.delivering = 0;
}

bool vmx_nmi_deliverable(const struct cpu *c)
{
    if (c->interrupt_shadow || c->nmi_blocked)
        return false;
    return !(c->vmx.nonroot && (c->vmx.pin & PIN_NMI_EXITING));
}

void vmx_nmi_delivered(struct cpu *c)
{
    if (c->vmx.nonroot && (c->vmx.pin & PIN_VIRTUAL_NMIS))
        c->vmx.vnmi_blocked = true;
    else
        c->nmi_blocked = true;
}

bool vmx_iret_unblocks_nmi(struct cpu *c)
{
    bool *blocking = &c->nmi_blocked;
    if (c->vmx.nonroot && (c->vmx.pin & PIN_NMI_EXITING)) {
        if (!(c->vmx.pin & PIN_VIRTUAL_NMIS))
            return false;
        blocking = &c->vmx.vnmi_blocked;
    }
    if (!*blocking)
        return false;
    *blocking = false;
    c->next_event_check = 0; /* a waiting NMI may be taken now */
    return true;
}
