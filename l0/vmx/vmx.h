/* The VMX engine of the emulated CPU: VM entry and VM exit (SDM Vol. 3C
 * chapters 27 and 28), the conditions under which VMX non-root operation
 * exits (chapter 26), EPT translation and hardware VMCS shadowing.
 *
 * The "host" of every VM exit is L0, the C hypervisor in l0/hv: a VM
 * exit saves guest state and exit information into the VMCS, loads the
 * host-state area into the CPU as the architecture says, and then makes
 * cpu_run() return so that L0 can look at the exit. L0 resumes the guest
 * with vmx_vmentry(). The guest's general registers other than RSP stay
 * in the CPU across the exit, as on hardware. */
#ifndef L0_VMX_VMX_H
#define L0_VMX_VMX_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/tlb.h"
#include "vmx/entry_memo.h"
#include "vmx/ept.h"
#include "vmx/ept_cache.h"

struct cpu;
struct insn;
struct vmcs;

/* A VM exit raised in the middle of an instruction (an EPT violation
 * while translating an operand, say): like a fault, the instruction is
 * abandoned and the exit happens at its boundary. */
struct vmx_exit_request {
    bool pending;
    uint32_t reason;
    uint64_t qualification;
    uint64_t guest_linear, guest_physical;
    uint32_t intr_info, intr_error; /* exits caused by events */
    uint32_t insn_info;
    bool trap_like; /* the saved RIP is that of the next instruction */
};

struct vmx_cpu {
    bool nonroot;
    bool exited;        /* set by a VM exit; L0 clears it */
    struct vmcs *vmcs;  /* the VMCS controlling non-root operation */
    /* The VMCS a link pointer names (VMCS shadowing), from L0. */
    struct vmcs *(*lookup_vmcs)(void *ctx, uint64_t pa);
    void *lookup_ctx;
    /* Host-physical memory beyond the machine's RAM that only L0 uses
     * (its EPT tables); NULL when there is none. */
    bool (*l0_read)(void *ctx, uint64_t hpa, void *dst, unsigned len);
    void *l0_ctx;

    /* Controls of the current VMCS, cached at VM entry. */
    uint32_t pin, proc, proc2, exit_ctls, entry_ctls;
    bool ept;
    struct ept_config ept_cfg;
    uint16_t vpid;
    uint64_t preemption_deadline; /* in cycles; UINT64_MAX when off */
    uint64_t tsc_offset; /* the TSC offset, 0 without "use TSC offsetting" */
    /* Virtual-NMI blocking (SDM Vol. 3C 25.3, 26.7.6): interruptibility
     * bit 3 while "virtual NMIs" is 1. */
    bool vnmi_blocked;
    /* The instruction being executed is an IRET that removed (virtual-)
     * NMI blocking: an exit it causes reports "NMI unblocking due to
     * IRET" (SDM Vol. 3C 28.2.2, 28.2.3). */
    bool iret_unblocked;

    struct vmx_exit_request request;
    uint8_t insn_len;           /* of the instruction being executed */
    uint32_t injecting;         /* the event VM entry is injecting */
    uint32_t delivering;        /* IDT-vectoring information (28.2.4) */
    uint32_t delivering_error;
    uint64_t ept_walk_refs;     /* EPT entries read, for the cost model */
    /* The page size of the EPT mapping the last successful
     * vmx_translate_gpa used (cpu/mmu.c's walk memo). */
    uint64_t gpa_page_size;
    /* L0's handler of a string I/O exit lets the instruction at this
     * guest RIP run once without its I/O exit (l0/hv/handlers.c);
     * cleared when used and at every VM exit. */
    bool string_io_pass;
    uint64_t string_io_pass_rip;
    /* "Virtualize APIC accesses" (SDM Vol. 3C 29.4): the APIC-access
     * page's physical address, cached at VM entry (~0 with the control
     * 0). L0's handler of an APIC-access exit lets the instruction at
     * apic_pass_rip access the page once it resumes, as the first
     * instruction it completes (apic_pass_insns is c->insns then):
     * apic_access.c; cleared at every VM exit. */
    uint64_t apic_access_page;
    bool apic_pass;
    uint64_t apic_pass_rip, apic_pass_insns;
    /* The entry checks remembered per VMCS (vmcs01 and vmcs02 under
     * nesting): transition.c, vmx_check_entry_incremental. */
    struct vmx_entry_memo {
        const struct vmcs *vmcs;
        struct vmx_check_memo memo;
    } entry_memo[2];
    unsigned entry_memo_next; /* the slot a new VMCS takes */
    struct ept_cache ept_cache; /* ept_cache.h, eptmmu.c */
    /* The emulator's own TLB keeps the translations of this VMCS's guest
     * across a VM exit and the next entry (L0 names vmcs01; NULL: none),
     * transition.c, "Host-side TLB across transitions". */
    const struct vmcs *tlb_keep;
    struct tlb_aside tlb_kept;
    /* The guest's segment registers as the last VM entry loaded them
     * (by enum seg_reg), and those whose four VMCS fields then held
     * exactly what a VM exit saves for them (transition.c). */
    struct vmx_entered_segment {
        uint16_t sel;
        uint64_t base;
        uint32_t limit, attr;
    } seg_entered[8];
    uint8_t seg_unchanged;
    struct vmx_tlb_context {
        uint64_t cr0, cr3, cr4, efer, eptp;
        uint32_t proc2;
        uint64_t apic_access_page;
        uint16_t vpid;
        bool ept;
        bool data_breakpoints; /* armed: watched pages have no host pointer */
    } tlb_kept_context;
    /* The exits of defer_vmcs whose basic reason (below 64) has its bit
     * in defer_reasons leave the CPU's registers as the guest had them
     * until the next VM entry or vmx_exit_complete (transition.c, "Host
     * state loaded late"); host_deferred: the last exit did. From L0. */
    const struct vmcs *defer_vmcs;
    uint64_t defer_reasons;
    bool host_deferred;
};

/* ---- transition.c ---- */

enum vmx_entry_status {
    VMX_ENTERED,        /* guest state loaded, the CPU is in non-root */
    VMX_FAIL_VALID,     /* VMfailValid: error in the VMCS INSN_ERROR */
    VMX_ENTRY_FAILURE,  /* a VM-entry failure exit (reason bit 31 set) */
};

struct vmx_entry_result {
    enum vmx_entry_status status;
    uint32_t error;   /* VM-instruction error or basic exit reason */
    const char *rule; /* the check that failed, for the debug log */
};

/* VMLAUNCH (launch) or VMRESUME of `v` from root operation: the launch
 * state and the checks of SDM 27.2-27.3, then loading guest state and
 * event injection (27.3.2, 27.6). */
void vmx_vmentry(struct cpu *c, struct vmcs *v, bool launch,
                 struct vmx_entry_result *out);

/* Asks for a VM exit at the current instruction's boundary. Returns
 * false so that instruction handlers can `return vmx_request_exit(...)`. */
bool vmx_request_exit(struct cpu *c, uint32_t reason, uint64_t qualification);

/* Performs the pending VM exit (SDM 28.2-28.5). */
void vmx_vmexit(struct cpu *c);

/* Loads the host state of the last VM exit if it has not been yet
 * (vmx.defer_reasons): before L0 reads the CPU's registers other than
 * the general ones, or stops. */
void vmx_exit_complete(struct cpu *c);

/* ---- intercept.c ---- */

/* Before an instruction executes in non-root operation: true if it
 * causes a VM exit instead (the exit is then pending), or if VMCS
 * shadowing executed it (VMREAD/VMWRITE) without one. */
bool vmx_intercept(struct cpu *c, const struct insn *i);

/* An exception about to be delivered in non-root operation, of
 * interruption type `type` (3 hardware, 5 INT1, 6 INT3/INTO): true if
 * the exception bitmap turns it into a VM exit (then pending). */
bool vmx_intercept_exception(struct cpu *c, unsigned vector, bool has_error,
                             uint32_t error, unsigned type);

/* Between instructions in non-root operation: the preemption timer,
 * NMIs (`nmi`: one is pending), external interrupts, NMI and interrupt
 * windows. True if a VM exit is pending. */
bool vmx_check_events(struct cpu *c, int pending_vector, bool nmi);

/* NMI blocking, for the CPU in and out of VMX operation (bare mode is
 * root operation without a VMCS):
 * - vmx_nmi_deliverable: an NMI may go through the IDT now: no blocking
 *   by NMI, no STI/MOV SS shadow, no "NMI exiting" making it an exit;
 * - vmx_nmi_delivered: an NMI went through the IDT: blocking by NMI, or
 *   virtual-NMI blocking under "virtual NMIs" (SDM Vol. 3C 27.6.1.2);
 * - vmx_iret_unblocks_nmi: IRET removes blocking by NMI (SDM Vol. 3A
 *   7.7), the virtual kind under "virtual NMIs", and none under "NMI
 *   exiting" alone (Vol. 3C 25.3); true if it removed any. */
bool vmx_nmi_deliverable(const struct cpu *c);
void vmx_nmi_delivered(struct cpu *c);
bool vmx_iret_unblocks_nmi(struct cpu *c);

/* A triple fault in non-root operation exits (reason 2). */
void vmx_triple_fault(struct cpu *c);

/* ---- apic_access.c ---- */

/* Whether physical address pa is on the APIC-access page of the current
 * VMCS ("virtualize APIC accesses" 1). */
static inline bool vmx_on_apic_access_page(const struct vmx_cpu *x,
                                           uint64_t pa)
{
    return x->nonroot && (pa & ~0xFFFull) == x->apic_access_page;
}

/* An access that translated (through EPT, if on) to the APIC-access
 * page: the linear access to `linear` (linear true) or the guest-
 * physical access to gpa of a paging-structure walk; ept_access is the
 * EPT access kind (ept.h). True if it may go on: L0 let this instruction
 * through (vmx_apic_access_pass). Otherwise the APIC-access VM exit is
 * pending (SDM Vol. 3C 29.4.2, 29.4.3: without "use TPR shadow" every
 * access exits) and false comes back. */
bool vmx_apic_access(struct cpu *c, bool linear, uint64_t linear_addr,
                     uint64_t gpa, unsigned ept_access);

/* L0, handling an APIC-access exit, lets the instruction at the guest's
 * RIP make its accesses to the page when it runs next, once. */
void vmx_apic_access_pass(struct cpu *c, uint64_t rip);

/* ---- shadow_access.c ---- */

/* VMREAD/VMWRITE of a field the bitmaps let through to the shadow VMCS:
 * true if carried out (or faulted) without a VM exit. */
bool vmx_shadow_access(struct cpu *c, const struct insn *i);

/* ---- eptmmu.c ---- */

/* Reads host-physical memory the VMX structures live in: the machine's
 * RAM or L0's own memory. False (read as all ones) elsewhere. ctx is the
 * struct cpu. */
bool vmx_read_host(void *ctx, uint64_t hpa, void *dst, unsigned len);

/* Guest-physical to host-physical for the MMU when EPT is on, with the
 * EPT permissions of the page. False with a VM exit pending (violation
 * or misconfiguration). */
/* L0 may have changed its EPT tables: the EPT translation cache
 * (ept_cache.h) forgets everything. */
void vmx_ept_tables_changed(struct cpu *c);
/* L0 invalidated translations of a guest (INVVPID, INVEPT, a VM entry or
 * exit of an L1 without VPIDs, its EPT tables written): the host-side
 * TLB must not bring back what it set aside at the last VM exit. */
void vmx_tlb_forget(struct cpu *c);

bool vmx_translate_gpa(struct cpu *c, uint64_t gpa, unsigned access,
                       enum ept_origin origin, uint64_t linear,
                       uint64_t *hpa, unsigned *perms);
/* What a successful EPT walk of `gpa` under the current EPTP reads and
 * finds (its references, host address, page size), if the EPT
 * translation cache holds it; no counter moves. The modeled TLB's walks
 * (cpu/tlb_charge.c) take it instead of walking again: a cached walk is
 * one whose tables nothing changed since (ept_cache.h), so walking again
 * would read the same entries whatever the access. */
bool vmx_ept_cached_shape(struct cpu *c, uint64_t gpa, unsigned *refs,
                          uint64_t *hpa, uint64_t *page_size);

#endif
