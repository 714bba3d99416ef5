/* The reflection policy (Turtles, OSDI 2010, sec. 3.2; KVM's
 * nested_vmx_reflect_vmexit): when L2 exits, L0 either handles the exit
 * itself and resumes L2, or performs a nested VM exit so that L1 handles
 * it. Two pure questions, each a table by basic exit reason (SDM Vol. 3D
 * Appendix C):
 *   l0_wants_exit: the exit is L0's own business (its EPT02, its
 *     interrupts, its timer, platform events), whatever L1 asked for;
 *   l1_wants_exit: L1 asked for the exit in vmcs12 (controls, bitmaps in
 *     L1 memory, exception bitmap, CR masks), or it is one that always
 *     exits (CPUID, VMX instructions, ...), so L1 would see it on hardware.
 * reflect_exit combines them: L0 if it wants the exit, else L1 if L1
 * wants it, else L0 (an exit that exists only because vmcs02 OR-ed in
 * L0's controls: L0 emulates it for L2 as L1 would have expected). */
#ifndef VMCS_SHADOW_REFLECT_H
#define VMCS_SHADOW_REFLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/exit_cond.h"
#include "vmx/vmcs.h"

/* One exit of L2, as L0 sees it in vmcs02 and the CPU. */
struct exit_info {
    uint32_t reason;        /* the exit-reason field (basic reason 15:0) */
    uint64_t qualification; /* CR access, I/O: decoded here */
    uint32_t intr_info;     /* VM-exit interruption information */
    uint32_t intr_error;    /* its error code (#PF: the PFEC) */
    uint64_t cr_source;     /* MOV to CR: the source register's value */
    uint32_t msr;           /* RDMSR/WRMSR: ECX */
    uint64_t vmcs_field;    /* VMREAD/VMWRITE: the field operand */
    bool ept12_fault;       /* EPT violation/misconfig: ept-compress found
                               the fault in L1's EPT12, not in EPT02 */
};

/* What L0 keeps for itself while L2 runs. */
struct l0_exit_wants {
    uint32_t exception_bitmap; /* vectors L0 handles (e.g. #MC) */
    bool external_interrupts;  /* L0 takes the machine's interrupts */
    bool interrupt_window;     /* L0 waits to inject into L2 */
    bool nmi_window;
    bool nmis;                 /* L0 set "NMI exiting" for itself */
    bool preemption_timer;     /* L0 armed the timer for itself */
};

bool l0_wants_exit(const struct l0_exit_wants *l0, const struct exit_info *e);

/* read_l1 reads L1's guest-physical memory (vmcs12's bitmap addresses are
 * L1's); an unreadable bitmap byte reads as all ones (the access exits),
 * as in exit_cond.h. */
bool l1_wants_exit(const struct vmcs *v12, const struct exit_info *e,
                   vmx_read_phys_fn read_l1, void *ctx);

enum reflect_target {
    REFLECT_TO_L0, /* L0 handles it and resumes L2 */
    REFLECT_TO_L1, /* nested VM exit */
};

enum reflect_target reflect_exit(const struct l0_exit_wants *l0,
                                 const struct vmcs *v12,
                                 const struct exit_info *e,
                                 vmx_read_phys_fn read_l1, void *ctx);

#endif
