/* What the VM-entry checks need to remember between entries
 * (entry_checks.h): the capability MSRs they read, and the memo of one
 * VMCS's last passing check. Apart from entry_checks.h so that the CPU's
 * state (vmx.h) can hold memos without the checks' other declarations. */
#ifndef L0_VMX_ENTRY_MEMO_H
#define L0_VMX_ENTRY_MEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/vmcs_fields.h"

/* The capability MSRs the checks read (SDM Vol. 3D Appendix A). */
struct vmx_check_caps {
    uint64_t controls[5]; /* by enum vmx_controls: the TRUE MSR values */
    uint64_t misc;        /* IA32_VMX_MISC */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint64_t ept_vpid;    /* IA32_VMX_EPT_VPID_CAP */
    uint32_t revision;    /* IA32_VMX_BASIC bits 30:0 */
};

/* What vmx_check_entry_incremental remembers of one VMCS: its fields
 * and circumstances at the last check that passed. Zero-initialized:
 * nothing remembered. */
struct vmx_check_memo {
    bool valid;
    uint64_t value[VMCS_FIELD_COUNT];
    unsigned maxphyaddr;
    bool ia32e_host;
    uint64_t current_vmcs;
    bool (*read_phys)(void *ctx, uint64_t pa, void *dst, unsigned len);
    void *ctx;
    struct vmx_check_caps caps;
    uint64_t checked, full; /* checks made; those that ran every rule */
    /* The last passing check's stamp, unique in the process: a VMCS
     * whose written_since holds it has changed, since then, at most the
     * fields its `written` names. */
    uint64_t stamp;
};

#endif
