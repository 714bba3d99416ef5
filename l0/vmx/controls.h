/* Bits of the VMX controls (SDM Vol. 3C 25.6-25.8) and their default1
 * classes (SDM Vol. 3D A.2): one place for the names the capability MSRs,
 * the entry checks and the exit conditions share. */
#ifndef L0_VMX_CONTROLS_H
#define L0_VMX_CONTROLS_H

/* Pin-based VM-execution controls (SDM Vol. 3C 25.6.1). */
#define PIN_EXT_INTR_EXITING (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PIN_VIRTUAL_NMIS (1u << 5)
#define PIN_PREEMPTION_TIMER (1u << 6)
#define PIN_POSTED_INTR (1u << 7)
#define PIN_DEFAULT1 0x00000016u /* bits 1, 2, 4 */

/* Primary processor-based VM-execution controls (SDM Vol. 3C 25.6.2). */
#define PROC_INTR_WINDOW_EXITING (1u << 2)
#define PROC_TSC_OFFSETTING (1u << 3)
#define PROC_HLT_EXITING (1u << 7)
#define PROC_INVLPG_EXITING (1u << 9)
#define PROC_MWAIT_EXITING (1u << 10)
#define PROC_RDPMC_EXITING (1u << 11)
#define PROC_RDTSC_EXITING (1u << 12)
#define PROC_CR3_LOAD_EXITING (1u << 15)
#define PROC_CR3_STORE_EXITING (1u << 16)
#define PROC_TERTIARY_CONTROLS (1u << 17)
#define PROC_CR8_LOAD_EXITING (1u << 19)
#define PROC_CR8_STORE_EXITING (1u << 20)
#define PROC_TPR_SHADOW (1u << 21)
#define PROC_NMI_WINDOW_EXITING (1u << 22)
#define PROC_MOV_DR_EXITING (1u << 23)
#define PROC_UNCOND_IO_EXITING (1u << 24)
#define PROC_USE_IO_BITMAPS (1u << 25)
#define PROC_MONITOR_TRAP_FLAG (1u << 27)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_MONITOR_EXITING (1u << 29)
#define PROC_PAUSE_EXITING (1u << 30)
#define PROC_SECONDARY_CONTROLS (1u << 31)
#define PROC_DEFAULT1 0x0401E172u /* bits 1, 4-6, 8, 13-16, 26 */

/* Secondary processor-based VM-execution controls (SDM Vol. 3C 25.6.2).
 * No default1 bits. */
#define PROC2_VIRT_APIC_ACCESSES (1u << 0)
#define PROC2_EPT (1u << 1)
#define PROC2_DESC_TABLE_EXITING (1u << 2)
#define PROC2_RDTSCP (1u << 3)
#define PROC2_VIRT_X2APIC (1u << 4)
#define PROC2_VPID (1u << 5)
#define PROC2_WBINVD_EXITING (1u << 6)
#define PROC2_UNRESTRICTED_GUEST (1u << 7)
#define PROC2_APIC_REGISTER_VIRT (1u << 8)
#define PROC2_VIRT_INTR_DELIVERY (1u << 9)
#define PROC2_PAUSE_LOOP_EXITING (1u << 10)
#define PROC2_RDRAND_EXITING (1u << 11)
#define PROC2_INVPCID (1u << 12)
#define PROC2_VMFUNC (1u << 13)
#define PROC2_VMCS_SHADOWING (1u << 14)
#define PROC2_ENCLS_EXITING (1u << 15)
#define PROC2_RDSEED_EXITING (1u << 16)
#define PROC2_PML (1u << 17)
#define PROC2_EPT_VIOLATION_VE (1u << 18)
#define PROC2_CONCEAL_FROM_PT (1u << 19)
#define PROC2_XSAVES (1u << 20)
#define PROC2_MODE_BASED_EPT_EXEC (1u << 22)
#define PROC2_TSC_SCALING (1u << 25)

/* Primary VM-exit controls (SDM Vol. 3C 25.7.1). */
#define EXIT_SAVE_DEBUG_CONTROLS (1u << 2)
#define EXIT_HOST_ADDR_SPACE_SIZE (1u << 9)
#define EXIT_LOAD_PERF_GLOBAL_CTRL (1u << 12)
#define EXIT_ACK_INTR_ON_EXIT (1u << 15)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
#define EXIT_SAVE_PREEMPTION_TIMER (1u << 22)
#define EXIT_CLEAR_BNDCFGS (1u << 23)
#define EXIT_CONCEAL_FROM_PT (1u << 24)
#define EXIT_SECONDARY_CONTROLS (1u << 31)
#define EXIT_DEFAULT1 0x00036DFFu /* bits 0-8, 10, 11, 13, 14, 16, 17 */

/* VM-entry controls (SDM Vol. 3C 25.8.1). */
#define ENTRY_LOAD_DEBUG_CONTROLS (1u << 2)
#define ENTRY_IA32E_MODE_GUEST (1u << 9)
#define ENTRY_TO_SMM (1u << 10)
#define ENTRY_DEACTIVATE_DUAL_MONITOR (1u << 11)
#define ENTRY_LOAD_PERF_GLOBAL_CTRL (1u << 13)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)
#define ENTRY_LOAD_BNDCFGS (1u << 16)
#define ENTRY_CONCEAL_FROM_PT (1u << 17)
#define ENTRY_DEFAULT1 0x000011FFu /* bits 0-8, 12 */

#endif
