/* "Virtualize APIC accesses" (SDM Vol. 3C 29.4): an access whose
 * physical address (after paging and, with EPT, after EPT: 29.4,
 * 29.4.6) falls in the APIC-access page exits with reason 44 instead of
 * reaching memory.
 *
 * Every such access exits: this CPU offers neither "use TPR shadow" nor
 * "APIC-register virtualization" (caps.c), and without "use TPR shadow"
 * no read or write of the page is virtualized (29.4.2, 29.4.3). That is
 * the setting KVM 2.6.35 (flexpriority without a TPR shadow in use for
 * the xAPIC page's other registers) saw for everything but the TPR.
 *
 * The exit is fault-like, with lower priority than a page fault or an
 * EPT violation of the same access (29.4.1): the MMU checks the page
 * only once the translation succeeded, and the instruction is abandoned
 * as for a fault. */
#include "cpu/cpu.h"
#include "vmx/exit_cond.h"
#include "vmx/vmx.h"

/* L0's pass covers the one instruction it resumes at: the first to
 * complete after the VM entry (c->insns has not moved) at that RIP. An
 * event delivered first, or the same instruction met again later, does
 * not get it. */
static bool passes(const struct cpu *c)
{
    const struct vmx_cpu *x = &c->vmx;
    return x->apic_pass && x->apic_pass_rip == c->rip &&
           x->apic_pass_insns == c->insns && !x->delivering;
}

bool vmx_apic_access(struct cpu *c, bool linear, uint64_t linear_addr,
                     uint64_t gpa, unsigned ept_access)
{
    if (linear && passes(c))
        return true;
    enum vmx_apic_access_type type = vmx_apic_access_type(
        linear, ept_access & EPT_ACCESS_WRITE, ept_access & EPT_ACCESS_FETCH,
        c->vmx.delivering != 0);
    vmx_request_exit(c, VMX_EXIT_APIC_ACCESS,
                     vmx_apic_access_qualification(type,
                                                   (unsigned)linear_addr));
    /* 28.2.1: a guest-physical access (types 10 and 15) saves its
     * address when EPT is on. */
    if (!linear && c->vmx.ept)
        c->vmx.request.guest_physical = gpa;
    return false;
}

void vmx_apic_access_pass(struct cpu *c, uint64_t rip)
{
    c->vmx.apic_pass = true;
    c->vmx.apic_pass_rip = rip;
    c->vmx.apic_pass_insns = c->insns;
}
