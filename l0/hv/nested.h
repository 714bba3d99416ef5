/* Nested VMX in L0 (--mode nested): L1 runs under vmcs01 and believes it
 * has VMX; L0 emulates its VMX instructions (nested_vmx.c) and runs its
 * guest, L2, under vmcs02 (nested.c). */
#ifndef L0_HV_NESTED_H
#define L0_HV_NESTED_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hv.h"

#define NO_VMCS (~0ull)

/* nested_vmx.c: the handler of a VMX-instruction exit of L1, or NULL. */
hv_handler nested_vmx_handler(uint32_t reason);

/* nested.c */
/* L1's current VMCS changes (VMPTRLD, VMCLEAR, VMXON/VMXOFF): with VMCS
 * shadowing, vmcs01's link pointer follows it. */
void nested_set_current(struct hv *h, uint64_t vmcs12_pa);
/* Shadow VMCS -> vmcs12: what L1 wrote without exits (shadowing on). */
void nested_sync_from_shadow(struct hv *h);
void nested_field_written(struct hv *h, uint64_t encoding);
/* L1's INVEPT (type, EPTP) or INVVPID. */
void nested_invalidate(struct hv *h, bool vpid, uint64_t type, uint64_t eptp);

/* L1's VMLAUNCH/VMRESUME: the checks on vmcs12, then vmcs02 and EPT02;
 * L2 runs next. */
enum nested_entry {
    NESTED_ENTERED,
    NESTED_FAIL_INVALID, /* VMfailInvalid: no current VMCS */
    NESTED_FAIL_VALID,   /* VMfailValid with *error */
    NESTED_ENTRY_FAILED, /* a VM-entry failure: L1 resumes at its host RIP */
};
enum nested_entry nested_vmentry(struct hv *h, bool launch, uint32_t *error);

/* A VM exit of L2: L0 handles it or reflects it to L1. */
enum hv_action nested_l2_exit(struct hv *h, uint32_t reason);

/* A nested VM exit: L2's exit, handled by L1. When L0 changes what L1
 * sees (a reflected EPT12 fault), `e` says how; NULL copies the
 * hardware's exit information. */
struct nested_exit {
    uint32_t reason;
    uint64_t qualification;
    uint64_t guest_physical;
};
void nested_vmexit(struct hv *h, const struct nested_exit *e);
/* Whether an exception of L2 (vector, error code) exits to L1 by
 * vmcs12's exception bitmap and #PF error-code mask and match. */
bool nested_l1_wants_exception(struct hv *h, unsigned vector, uint32_t error);

/* nested_msr.c: L1's MSR lists, which L0 processes itself. */
/* At a nested VM entry, after vmcs02 is built: the VM-entry MSR-load
 * list. Returns 0, or the number (from 1) of the entry that failed: the
 * qualification of the VM-entry failure (exit reason 34) L1 then gets. */
uint32_t nested_msr_entry_load(struct hv *h);
/* At a nested VM exit (or VM-entry failure, which stores nothing), after
 * L1's host state is in vmcs01: the VM-exit MSR-store list, then the
 * VM-exit MSR-load list. A failing entry is a VMX abort: the run stops
 * (L1's processor shuts down) and the result is false. */
bool nested_msr_exit(struct hv *h, bool entry_failure);

/* What L1 sees of VMX: the CPUID bit, the capability MSRs (a subset of
 * the hardware's: no VMCS shadowing for L1), IA32_FEATURE_CONTROL. */
bool nested_read_msr(struct hv *h, uint32_t msr, uint64_t *value);

/* Sets up what nested mode needs beyond vmcs01: VMCS shadowing for L1
 * (a shadow VMCS and its bitmaps, --vmcs-shadowing on) and the merge
 * policy (--merge dirty). Returns 0, or -1 if L0's memory is full. */
int nested_init(struct hv *h, bool shadowing, bool merge_dirty);

#endif
