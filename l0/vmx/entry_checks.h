/* The checks a VM entry makes before it loads anything (SDM Vol. 3C
 * 27.2 "Checks on VMX Controls and Host-State Area" and 27.3.1 "Checks
 * on the Guest State Area"; 26.2 and 26.3.1 in editions before 2023).
 *
 * One small function per rule, each listed in one of three tables with
 * the name of the rule it checks and its SDM subsection: controls
 * (27.2.1, VMfailValid with VM-instruction error 7), host state (27.2.2
 * - 27.2.4, error 8) and guest state (27.3.1, a VM-entry failure with
 * basic exit reason 33). vmx_check_entry() runs the tables in the SDM's
 * order and reports the first rule that fails. The SDM lets a processor
 * make the checks within one class in any order; this one makes them in
 * the order the SDM lists them.
 *
 * Pure: the VMCS comes in as a struct vmcs, what is not in the VMCS
 * (MAXPHYADDR, the capability MSRs, whether the processor is in IA-32e
 * mode, physical memory for the link pointer and the PDPTEs) comes in
 * as a struct vmx_check_env.
 *
 * Left to the caller, which makes these before or after the tables:
 * the checks of 27.1 (CPL, a current VMCS, launch state: VM-instruction
 * errors 4 and 5), VM entry with events blocked by MOV SS (error 26),
 * and loading the VM-entry MSR-load list (27.4: exit reason 34; a count
 * above IA32_VMX_MISC's recommended maximum of VMX_MISC_MAX_MSR_LIST is
 * best failed there, as KVM does, since the SDM leaves it undefined).
 *
 * Not checked, and why:
 * - Controls this CPU does not offer (caps.h): TPR shadow and the APIC
 *   virtualization beyond "virtualize APIC accesses" (virtual-APIC
 *   address, TPR threshold), posted interrupts, PML, VM functions and the EPTP list,
 *   EPT-violation #VE, mode-based execute control, sub-page write
 *   permissions, ENCLS/ENCLV exiting, tertiary and secondary VM-exit
 *   controls, entry to SMM and dual-monitor treatment, and the
 *   load/clear controls of IA32_PERF_GLOBAL_CTRL, IA32_BNDCFGS,
 *   IA32_RTIT_CTL (PT), CET state, PKRS and IA32_LBR_CTL. The capability
 *   checks reject every control that would make those rules apply, so
 *   the rules could never fail. An env with caps that allow one of
 *   those controls gets no check of its dependent fields.
 * - SMM: the processor is never in SMM, so "blocking by SMI" must be 0
 *   (checked) and the SMM-only rules (executive-VMCS pointer, SMBASE,
 *   wait-for-SIPI with entry to SMM) never apply.
 * - The "may" rule of 27.3.1.5 (a processor may refuse STI blocking
 *   while injecting an NMI): this one does not, like most.
 * - Pending debug exceptions bit 16 (RTM) and interruptibility bit 4
 *   (enclave interruption) need RTM and SGX, which CPUID does not
 *   report: both bits must be 0 here.
 * - IA32_DEBUGCTL: this CPU has no such MSR; the field may hold the bits
 *   the architecture defines for a processor without RTM (0, 1, 6-14).
 *
 * Linear addresses are 48 bits wide (no 5-level paging): "canonical"
 * means bits 63:47 all equal. */
#ifndef L0_VMX_ENTRY_CHECKS_H
#define L0_VMX_ENTRY_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmx/entry_memo.h"
#include "vmx/exit_cond.h" /* vmx_read_phys_fn, VMX_EXIT_ENTRY_FAIL_* */
#include "vmx/vmcs.h"

/* VM-instruction errors of a failed VM entry (SDM Vol. 3C 31.4). */
enum {
    VMX_ERR_ENTRY_INVALID_CONTROLS = 7,
    VMX_ERR_ENTRY_INVALID_HOST_STATE = 8,
    VMX_ERR_ENTRY_MOV_SS_BLOCKING = 26, /* the caller's check */
};

/* Exit qualifications of a VM-entry failure (SDM Vol. 3C 28.8 "VM-Entry
 * Failures During or After Loading Guest State", Table "Exit
 * Qualification for VM-Entry Failure"). */
enum {
    VMX_ENTRY_QUAL_DEFAULT = 0,
    VMX_ENTRY_QUAL_PDPTE = 2,     /* loading the PDPTEs failed (27.3.1.6) */
    VMX_ENTRY_QUAL_LINK_PTR = 4,  /* invalid VMCS link pointer (27.3.1.5) */
};

/* This CPU's capabilities (caps.h). */
void vmx_check_caps_default(struct vmx_check_caps *caps);

/* What a VM entry needs to know beyond the VMCS. */
struct vmx_check_env {
    unsigned maxphyaddr; /* 39 on this machine */
    /* IA32_EFER.LMA of the processor executing VMLAUNCH/VMRESUME: the
     * "host address-space size" exit control must equal it (27.2.4). */
    bool ia32e_host;
    /* The current-VMCS pointer, which the VMCS link pointer must not
     * equal (27.3.1.5); ~0 if none is to be compared. */
    uint64_t current_vmcs;
    const struct vmx_check_caps *caps; /* NULL: this CPU's */
    /* Physical memory, for the first 4 bytes of the VMCS the link
     * pointer names and, with EPT off, the PDPTEs CR3 names. A read that
     * fails (or a NULL read_phys) gives all ones, like an open bus: the
     * link pointer's revision check fails and so do the PDPTEs. */
    vmx_read_phys_fn read_phys;
    void *ctx;
};

/* maxphyaddr 39, in IA-32e mode, no current-VMCS comparison, this CPU's
 * caps, no memory. */
void vmx_check_env_init(struct vmx_check_env *env);

/* The result of the checks. */
struct vmx_entry_check {
    enum { ENTRY_OK, ENTRY_VMFAIL, ENTRY_FAIL_EXIT } outcome;
    uint32_t vm_instruction_error; /* ENTRY_VMFAIL: 7 or 8 */
    /* ENTRY_FAIL_EXIT: the basic exit reason (33); the caller sets bit
     * 31 (VMX_EXIT_REASON_ENTRY_FAILURE) in the exit-reason field. */
    uint32_t exit_reason;
    uint64_t qualification;        /* VMX_ENTRY_QUAL_* */
    const char *rule;              /* "guest CR0: PG set without PE" */
    const char *sdm;               /* "27.3.1.1" */
};

/* Checks v for VMLAUNCH/VMRESUME: fills out with ENTRY_OK, or with the
 * first failing rule and what the architecture reports for it. */
void vmx_check_entry(const struct vmcs *v, const struct vmx_check_env *env,
                     struct vmx_entry_check *out);

/* The same answer as vmx_check_entry, running only the rules that can
 * decide differently since the last check of `memo` that passed: those
 * that read a field whose value changed or read memory (the link
 * pointer's VMCS, the PDPTEs). A change of a control field, guest CR0,
 * CR4, RFLAGS or the interruption information, or of anything in env,
 * runs every rule. On ENTRY_OK the memo remembers v and env, and v's
 * `written` starts again from nothing (vmcs.h): when v still carries
 * the memo's stamp at the next check, only the fields written since
 * are compared with the memo, else all of them. */
void vmx_check_entry_incremental(struct vmcs *v,
                                 const struct vmx_check_env *env,
                                 struct vmx_check_memo *memo,
                                 struct vmx_entry_check *out);

/* The rules, in the order they are checked: rule i as vmx_check_entry
 * would report it if it were the one that failed (for listings and for
 * tests that every rule can fail). */
size_t vmx_entry_rule_count(void);
void vmx_entry_rule_describe(size_t i, struct vmx_entry_check *out);

#endif
