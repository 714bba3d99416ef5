/* VMX capability MSRs (SDM Vol. 3D Appendix A) of a Haswell-like CPU that
 * offers exactly what this emulator implements: EPT (4-level, 2M and 1G
 * pages, A/D flags, execute-only), VPID, unrestricted guest, VMCS
 * shadowing, the VMX-preemption timer, "virtualize APIC accesses". No
 * posted interrupts, no other APIC virtualization (not even the TPR
 * shadow), no PML, no VM functions, no monitor trap flag. caps.c says for each allowed-1 control why it is
 * there. */
#ifndef L0_VMX_CAPS_H
#define L0_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

enum {
    MSR_IA32_VMX_BASIC = 0x480,
    MSR_IA32_VMX_PINBASED_CTLS = 0x481,
    MSR_IA32_VMX_PROCBASED_CTLS = 0x482,
    MSR_IA32_VMX_EXIT_CTLS = 0x483,
    MSR_IA32_VMX_ENTRY_CTLS = 0x484,
    MSR_IA32_VMX_MISC = 0x485,
    MSR_IA32_VMX_CR0_FIXED0 = 0x486,
    MSR_IA32_VMX_CR0_FIXED1 = 0x487,
    MSR_IA32_VMX_CR4_FIXED0 = 0x488,
    MSR_IA32_VMX_CR4_FIXED1 = 0x489,
    MSR_IA32_VMX_VMCS_ENUM = 0x48A,
    MSR_IA32_VMX_PROCBASED_CTLS2 = 0x48B,
    MSR_IA32_VMX_EPT_VPID_CAP = 0x48C,
    MSR_IA32_VMX_TRUE_PINBASED_CTLS = 0x48D,
    MSR_IA32_VMX_TRUE_PROCBASED_CTLS = 0x48E,
    MSR_IA32_VMX_TRUE_EXIT_CTLS = 0x48F,
    MSR_IA32_VMX_TRUE_ENTRY_CTLS = 0x490,
};

/* IA32_VMX_BASIC (SDM Vol. 3D A.1). */
#define VMX_BASIC_REGION_SIZE_SHIFT 32 /* bits 44:32 */
#define VMX_BASIC_MEMTYPE_SHIFT 50     /* bits 53:50 */
#define VMX_BASIC_MEMTYPE_WB 6ull
#define VMX_BASIC_INS_OUTS_INFO (1ull << 54)
#define VMX_BASIC_TRUE_CONTROLS (1ull << 55)

/* IA32_VMX_MISC (SDM Vol. 3D A.6). */
#define VMX_MISC_PREEMPTION_RATE 5 /* the timer ticks when TSC bit 5 flips */
#define VMX_MISC_STORE_LMA (1ull << 5)
#define VMX_MISC_ACTIVITY_HLT (1ull << 6)
#define VMX_MISC_CR3_TARGETS 4
#define VMX_MISC_MAX_MSR_LIST 512 /* recommended maximum, entries */
#define VMX_MISC_VMWRITE_ANY_FIELD (1ull << 29)

/* IA32_VMX_EPT_VPID_CAP (SDM Vol. 3D A.10). */
#define EPT_CAP_EXEC_ONLY (1ull << 0)
#define EPT_CAP_WALK_LENGTH_4 (1ull << 6)
#define EPT_CAP_MEMTYPE_UC (1ull << 8)
#define EPT_CAP_MEMTYPE_WB (1ull << 14)
#define EPT_CAP_2M_PAGES (1ull << 16)
#define EPT_CAP_1G_PAGES (1ull << 17)
#define EPT_CAP_INVEPT (1ull << 20)
#define EPT_CAP_AD_FLAGS (1ull << 21)
#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define EPT_CAP_INVEPT_ALL (1ull << 26)
#define VPID_CAP_INVVPID (1ull << 32)
#define VPID_CAP_INVVPID_ADDRESS (1ull << 40)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)
#define VPID_CAP_INVVPID_ALL (1ull << 42)
#define VPID_CAP_INVVPID_SINGLE_KEEP_GLOBALS (1ull << 43)

/* The value RDMSR returns for a VMX capability MSR; false for any other
 * index, including capability MSRs of features not offered (VMFUNC 0x491,
 * tertiary controls 0x492, secondary exit controls 0x493): RDMSR of those
 * raises #GP as on a CPU without them. */
bool vmx_cap_read(uint32_t msr, uint64_t *value);

/* IA32_VMX_EPT_VPID_CAP, as vmx_cap_read gives it (without the search:
 * read at every VM entry). */
uint64_t vmx_cap_ept_vpid(void);

/* The control fields a VM entry checks against a capability MSR. */
enum vmx_controls {
    VMX_CTL_PIN,
    VMX_CTL_PROC,
    VMX_CTL_PROC2,
    VMX_CTL_EXIT,
    VMX_CTL_ENTRY,
};

/* The capability that bounds a control field at VM entry: the TRUE MSR
 * where there is one, since IA32_VMX_BASIC bit 55 is 1 (SDM Vol. 3C
 * 27.2.1.1, Vol. 3D A.2). */
uint64_t vmx_cap_controls(enum vmx_controls which);

/* SDM Vol. 3D A.3-A.5: bits 31:0 of a control MSR are the allowed-0
 * settings (a 1 there: the control must be 1), bits 63:32 the allowed-1
 * settings (a 0 there: the control must be 0). */
bool vmx_controls_valid(uint32_t value, uint64_t cap);

/* The bits of value that break the rule above, for messages. */
uint32_t vmx_controls_bad_bits(uint32_t value, uint64_t cap);

/* SDM Vol. 3D A.7-A.8: a bit set in FIXED0 must be 1, a bit clear in
 * FIXED1 must be 0. */
bool vmx_fixed_bits_valid(uint64_t value, uint64_t fixed0, uint64_t fixed1);

/* IA32_VMX_MISC bit 29: VMWRITE may write VM-exit information fields
 * (pass to vmcs_write). */
bool vmx_cap_vmwrite_any_field(void);

#endif
