#include "vmx/caps.h"

#include <stddef.h>

#include "cpu/cpu.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"

/* The controls, one row per control field (SDM Vol. 3D A.3-A.5).
 * may1: the allowed-1 settings. true_must1: the allowed-0 settings of the
 * TRUE MSR; the plain MSR reports those plus every default1 bit (A.2). */
struct control_caps {
    uint32_t msr, true_msr; /* true_msr 0: the field has no TRUE MSR */
    uint32_t default1;
    uint32_t true_must1;
    uint32_t may1;
};

static const struct control_caps controls[] = {
    [VMX_CTL_PIN] = {
        MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS,
        PIN_DEFAULT1, PIN_DEFAULT1,
        PIN_DEFAULT1
            | PIN_EXT_INTR_EXITING  /* external interrupts: issue 4 */
            | PIN_NMI_EXITING       /* NMIs: issue 4 */
            | PIN_VIRTUAL_NMIS      /* needed by NMI-window exiting
                                       (SDM Vol. 3C 27.2.1.1) */
            | PIN_PREEMPTION_TIMER, /* counts modeled cycles */
        /* not posted interrupts: no APIC virtualization */
    },
    [VMX_CTL_PROC] = {
        MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
        /* CR3-load and CR3-store exiting are default1 controls that this
         * CPU, like Haswell, lets software clear. */
        PROC_DEFAULT1,
        PROC_DEFAULT1 & ~(PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING),
        PROC_DEFAULT1
            | PROC_INTR_WINDOW_EXITING
            | PROC_TSC_OFFSETTING     /* RDTSC reads modeled cycles + offset */
            | PROC_HLT_EXITING
            | PROC_INVLPG_EXITING
            | PROC_MWAIT_EXITING
            | PROC_RDPMC_EXITING
            | PROC_RDTSC_EXITING
            | PROC_CR3_LOAD_EXITING   /* with the 4 CR3-target values */
            | PROC_CR3_STORE_EXITING
            | PROC_CR8_LOAD_EXITING
            | PROC_CR8_STORE_EXITING
            | PROC_NMI_WINDOW_EXITING
            | PROC_MOV_DR_EXITING
            | PROC_UNCOND_IO_EXITING
            | PROC_USE_IO_BITMAPS
            | PROC_USE_MSR_BITMAPS
            | PROC_MONITOR_EXITING
            | PROC_PAUSE_EXITING
            | PROC_SECONDARY_CONTROLS,
        /* not: tertiary controls (none exist here), TPR shadow (APIC
         * virtualization), monitor trap flag (not implemented) */
    },
    [VMX_CTL_PROC2] = {
        MSR_IA32_VMX_PROCBASED_CTLS2, 0, 0, 0,
        PROC2_VIRT_APIC_ACCESSES       /* every access exits: without a
                                          TPR shadow none is virtualized
                                          (apic_access.c) */
            | PROC2_EPT
            | PROC2_DESC_TABLE_EXITING /* LGDT ... STR exits: issue 4 */
            | PROC2_RDTSCP             /* the CPU has RDTSCP; without this
                                          control it raises #UD in a guest */
            | PROC2_VPID               /* software TLB tagged by VPID */
            | PROC2_WBINVD_EXITING
            | PROC2_UNRESTRICTED_GUEST /* issue 4; the CPU still cannot run
                                          real mode (docs/emulator.md) */
            | PROC2_VMCS_SHADOWING,    /* the optimization under study */
        /* not: the rest of APIC virtualization (bits 4, 8, 9: they need
         * the TPR shadow), PAUSE-loop exiting,
         * RDRAND/RDSEED exiting and INVPCID (the CPU has none of those
         * instructions), VM functions, ENCLS, PML, #VE, XSAVES (the CPU
         * has XSAVE but not XSAVES/XRSTORS), TSC scaling */
    },
    [VMX_CTL_EXIT] = {
        MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS,
        EXIT_DEFAULT1, EXIT_DEFAULT1 & ~EXIT_SAVE_DEBUG_CONTROLS,
        EXIT_DEFAULT1                    /* includes save debug controls */
            | EXIT_HOST_ADDR_SPACE_SIZE  /* a 64-bit host (L0, L1) */
            | EXIT_ACK_INTR_ON_EXIT      /* issue 4 */
            | EXIT_SAVE_PAT | EXIT_LOAD_PAT   /* the CPU has IA32_PAT */
            | EXIT_SAVE_EFER | EXIT_LOAD_EFER
            | EXIT_SAVE_PREEMPTION_TIMER,
        /* not: IA32_PERF_GLOBAL_CTRL (no performance counters), BNDCFGS,
         * PT, CET, PKRS, secondary exit controls */
    },
    [VMX_CTL_ENTRY] = {
        MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS,
        ENTRY_DEFAULT1, ENTRY_DEFAULT1 & ~ENTRY_LOAD_DEBUG_CONTROLS,
        ENTRY_DEFAULT1                /* includes load debug controls */
            | ENTRY_IA32E_MODE_GUEST
            | ENTRY_LOAD_PAT
            | ENTRY_LOAD_EFER,
        /* not: SMM (no SMM), PERF_GLOBAL_CTRL, BNDCFGS, PT, CET, PKRS */
    },
};

static uint64_t control_msr(const struct control_caps *c, bool true_msr)
{
    uint32_t must1 = true_msr ? c->true_must1 : c->true_must1 | c->default1;
    return (uint64_t)c->may1 << 32 | must1;
}

/* Bit 48 clear: VMXON, VMCS and referenced structures may be anywhere in
 * the physical-address space. Bit 49 clear: no dual-monitor SMM. */
#define BASIC                                                                 \
    ((uint64_t)VMCS_REVISION_ID |                                             \
     (uint64_t)VMCS_REGION_SIZE << VMX_BASIC_REGION_SIZE_SHIFT |              \
     VMX_BASIC_MEMTYPE_WB << VMX_BASIC_MEMTYPE_SHIFT |                        \
     VMX_BASIC_INS_OUTS_INFO | VMX_BASIC_TRUE_CONTROLS)

/* Activity states: HLT only (shutdown and wait-for-SIPI need a multi-CPU
 * platform). Bit 5 is required with unrestricted guest (A.6). MSEG
 * revision 0, no SMM. */
#define MISC                                                                  \
    (VMX_MISC_PREEMPTION_RATE | VMX_MISC_STORE_LMA | VMX_MISC_ACTIVITY_HLT |  \
     (uint64_t)VMX_MISC_CR3_TARGETS << 16 |                                   \
     (uint64_t)(VMX_MISC_MAX_MSR_LIST / 512 - 1) << 25 |                      \
     VMX_MISC_VMWRITE_ANY_FIELD)

/* A.7: PE, NE and PG must be 1 in VMX operation (unrestricted guest relaxes
 * PE and PG for the guest only, at VM entry); the CPU accepts any of
 * CR0[31:0] otherwise. */
#define CR0_FIXED0 (CR0_PE | CR0_NE | CR0_PG)
#define CR0_FIXED1 0xFFFFFFFFull

/* A.8: VMXE must be 1; FIXED1 is what MOV to CR4 accepts on this CPU
 * (CR4_SUPPORTED in l0/cpu/exec_system.c) plus VMXE. */
#define CR4_FIXED0 CR4_VMXE
#define CR4_FIXED1                                                            \
    (CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | CR4_OSFXSR | \
     CR4_OSXMMEXCPT | CR4_VMXE | CR4_OSXSAVE)

/* A.10. Execute-only EPT entries and A/D flags cost the walker nothing
 * extra; UC and WB are the memory types an EPTP may name. */
#define EPT_VPID_CAP                                                          \
    (EPT_CAP_EXEC_ONLY | EPT_CAP_WALK_LENGTH_4 | EPT_CAP_MEMTYPE_UC |         \
     EPT_CAP_MEMTYPE_WB | EPT_CAP_2M_PAGES | EPT_CAP_1G_PAGES |               \
     EPT_CAP_INVEPT | EPT_CAP_AD_FLAGS | EPT_CAP_INVEPT_SINGLE |              \
     EPT_CAP_INVEPT_ALL | VPID_CAP_INVVPID | VPID_CAP_INVVPID_ADDRESS |       \
     VPID_CAP_INVVPID_SINGLE | VPID_CAP_INVVPID_ALL |                         \
     VPID_CAP_INVVPID_SINGLE_KEEP_GLOBALS)

static const struct {
    uint32_t msr;
    uint64_t value;
} fixed_msrs[] = {
    {MSR_IA32_VMX_BASIC, BASIC},
    {MSR_IA32_VMX_MISC, MISC},
    {MSR_IA32_VMX_CR0_FIXED0, CR0_FIXED0},
    {MSR_IA32_VMX_CR0_FIXED1, CR0_FIXED1},
    {MSR_IA32_VMX_CR4_FIXED0, CR4_FIXED0},
    {MSR_IA32_VMX_CR4_FIXED1, CR4_FIXED1},
    {MSR_IA32_VMX_VMCS_ENUM, VMCS_MAX_FIELD_INDEX << 1}, /* A.9 */
    {MSR_IA32_VMX_EPT_VPID_CAP, EPT_VPID_CAP},
};

bool vmx_cap_read(uint32_t msr, uint64_t *value)
{
    for (size_t k = 0; k < sizeof fixed_msrs / sizeof *fixed_msrs; k++)
        if (fixed_msrs[k].msr == msr) {
            *value = fixed_msrs[k].value;
            return true;
        }
    for (size_t k = 0; k < sizeof controls / sizeof *controls; k++) {
        bool is_true = controls[k].true_msr && controls[k].true_msr == msr;
        if (controls[k].msr == msr || is_true) {
            *value = control_msr(&controls[k], is_true);
            return true;
        }
    }
    return false;
}

uint64_t vmx_cap_ept_vpid(void)
{
    return EPT_VPID_CAP;
}

uint64_t vmx_cap_controls(enum vmx_controls which)
{
    const struct control_caps *c = &controls[which];
    return control_msr(c, c->true_msr != 0);
}

uint32_t vmx_controls_bad_bits(uint32_t value, uint64_t cap)
{
    uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32);
    return (must1 & ~value) | (value & ~may1);
}

bool vmx_controls_valid(uint32_t value, uint64_t cap)
{
    return vmx_controls_bad_bits(value, cap) == 0;
}

bool vmx_fixed_bits_valid(uint64_t value, uint64_t fixed0, uint64_t fixed1)
{
    return (value & fixed0) == fixed0 && (value & ~fixed1) == 0;
}

bool vmx_cap_vmwrite_any_field(void)
{
    return MISC & VMX_MISC_VMWRITE_ANY_FIELD;
}
