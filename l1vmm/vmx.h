/* VMX instructions as inline functions, VMCS field encodings, control
 * bits and exit-information layouts. Encodings: SDM Vol. 3D Appendix B;
 * controls: SDM Vol. 3C 25.6-25.8; exit information: SDM Vol. 3C 28.2. */
#ifndef L1VMM_VMX_H
#define L1VMM_VMX_H

#include <stdint.h>

/* VMX instructions report success or failure in RFLAGS (SDM Vol. 3C
 * 31.2): CF=1 VMfailInvalid (no current VMCS), ZF=1 VMfailValid (the
 * error number is in the VM-instruction error field). */
enum vmx_result { VMX_OK = 0, VMX_FAIL_VALID = 1, VMX_FAIL_INVALID = 2 };

#define VMX_RESULT_ASM "setbe %b0\n\tsetb %b1\n"
static inline enum vmx_result vmx_result(uint8_t be, uint8_t b)
{
    return b ? VMX_FAIL_INVALID : be ? VMX_FAIL_VALID : VMX_OK;
}

/* VMXON, VMCLEAR and VMPTRLD: one 64-bit memory operand, the physical
 * address of a VMXON region or a VMCS. */
#define VMX_POINTER_INSN(name)                                               \
    static inline enum vmx_result name(uint64_t pa)                          \
    {                                                                        \
        uint8_t be, b;                                                       \
        __asm__ volatile(#name " %2\n\t" VMX_RESULT_ASM                      \
                         : "=q"(be), "=q"(b)                                 \
                         : "m"(pa)                                           \
                         : "cc", "memory");                                  \
        return vmx_result(be, b);                                            \
    }
VMX_POINTER_INSN(vmxon)
VMX_POINTER_INSN(vmclear)
VMX_POINTER_INSN(vmptrld)

/* Field reads and writes do not fail once l1vmm's VMCS is current and the
 * field exists (every field used here is in the SDM's base set), so they
 * return the value directly; vmcs.c checks the first write. */
static inline uint64_t vmread(uint64_t field)
{
    uint64_t v;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
    return v;
}

static inline enum vmx_result vmwrite(uint64_t field, uint64_t value)
{
    uint8_t be, b;
    __asm__ volatile("vmwrite %3, %2\n\t" VMX_RESULT_ASM
                     : "=q"(be), "=q"(b)
                     : "r"(field), "rm"(value)
                     : "cc");
    return vmx_result(be, b);
}

/* INVEPT type 1 (single context) or 2 (all contexts), SDM Vol. 3C 31.3. */
static inline enum vmx_result invept(uint64_t type, uint64_t eptp)
{
    struct {
        uint64_t eptp, reserved;
    } desc = {eptp, 0};
    uint8_t be, b;
    __asm__ volatile("invept %2, %3\n\t" VMX_RESULT_ASM
                     : "=q"(be), "=q"(b)
                     : "m"(desc), "r"(type)
                     : "cc", "memory");
    return vmx_result(be, b);
}

/* Capability MSRs, SDM Vol. 3D Appendix A. */
enum {
    MSR_VMX_BASIC = 0x480,
    MSR_VMX_PINBASED = 0x481,
    MSR_VMX_PROCBASED = 0x482,
    MSR_VMX_EXIT = 0x483,
    MSR_VMX_ENTRY = 0x484,
    MSR_VMX_MISC = 0x485,
    MSR_VMX_CR0_FIXED0 = 0x486,
    MSR_VMX_CR0_FIXED1 = 0x487,
    MSR_VMX_CR4_FIXED0 = 0x488,
    MSR_VMX_CR4_FIXED1 = 0x489,
    MSR_VMX_PROCBASED2 = 0x48B,
    MSR_VMX_EPT_VPID_CAP = 0x48C,
    MSR_VMX_TRUE_PINBASED = 0x48D,
    MSR_VMX_TRUE_PROCBASED = 0x48E,
    MSR_VMX_TRUE_EXIT = 0x48F,
    MSR_VMX_TRUE_ENTRY = 0x490,
};

#define VMX_BASIC_TRUE_CTLS (1ull << 55)    /* A.1 */
#define VMX_MISC_SAVES_LMA (1ull << 5)      /* A.6: exits store EFER.LMA */
#define VMX_MISC_HLT_STATE (1ull << 6)      /* A.6: activity state HLT */
#define EPT_CAP_WALK4 (1ull << 6)           /* A.10 */
#define EPT_CAP_UC (1ull << 8)
#define EPT_CAP_WB (1ull << 14)
#define EPT_CAP_2M (1ull << 16)
#define EPT_CAP_INVEPT (1ull << 20)
#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define EPT_CAP_INVEPT_ALL (1ull << 26)

#define FEATURE_CONTROL_LOCK (1ull << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)
#define CPUID1_ECX_VMX (1u << 5)

/* VMCS fields (SDM Vol. 3D Appendix B). Guest segment fields follow a
 * stride of 2 in the order ES CS SS DS FS GS LDTR TR (B.1.2, B.3.3, B.4.3). */
enum vmcs_field {
    /* 16-bit */
    GUEST_ES_SELECTOR = 0x0800,
    HOST_ES_SELECTOR = 0x0C00,
    HOST_CS_SELECTOR = 0x0C02,
    HOST_SS_SELECTOR = 0x0C04,
    HOST_DS_SELECTOR = 0x0C06,
    HOST_FS_SELECTOR = 0x0C08,
    HOST_GS_SELECTOR = 0x0C0A,
    HOST_TR_SELECTOR = 0x0C0C,
    /* 64-bit */
    MSR_BITMAP = 0x2004,
    EXIT_MSR_STORE_ADDR = 0x2006,
    EXIT_MSR_LOAD_ADDR = 0x2008,
    ENTRY_MSR_LOAD_ADDR = 0x200A,
    TSC_OFFSET = 0x2010,
    EPT_POINTER = 0x201A,
    GUEST_PHYSICAL_ADDRESS = 0x2400,
    VMCS_LINK_POINTER = 0x2800,
    GUEST_IA32_DEBUGCTL = 0x2802,
    GUEST_IA32_PAT = 0x2804,
    GUEST_IA32_EFER = 0x2806,
    HOST_IA32_PAT = 0x2C00,
    HOST_IA32_EFER = 0x2C02,
    /* 32-bit */
    PIN_BASED_CONTROLS = 0x4000,
    PROC_BASED_CONTROLS = 0x4002,
    EXCEPTION_BITMAP = 0x4004,
    PAGE_FAULT_ERROR_MASK = 0x4006,
    PAGE_FAULT_ERROR_MATCH = 0x4008,
    CR3_TARGET_COUNT = 0x400A,
    EXIT_CONTROLS = 0x400C,
    EXIT_MSR_STORE_COUNT = 0x400E,
    EXIT_MSR_LOAD_COUNT = 0x4010,
    ENTRY_CONTROLS = 0x4012,
    ENTRY_MSR_LOAD_COUNT = 0x4014,
    ENTRY_INTERRUPTION_INFO = 0x4016,
    ENTRY_EXCEPTION_ERROR = 0x4018,
    ENTRY_INSTRUCTION_LENGTH = 0x401A,
    PROC_BASED_CONTROLS2 = 0x401E,
    VM_INSTRUCTION_ERROR = 0x4400,
    EXIT_REASON = 0x4402,
    EXIT_INTERRUPTION_INFO = 0x4404,
    EXIT_INTERRUPTION_ERROR = 0x4406,
    IDT_VECTORING_INFO = 0x4408,
    IDT_VECTORING_ERROR = 0x440A,
    EXIT_INSTRUCTION_LENGTH = 0x440C,
    EXIT_INSTRUCTION_INFO = 0x440E,
    GUEST_ES_LIMIT = 0x4800,
    GUEST_GDTR_LIMIT = 0x4810,
    GUEST_IDTR_LIMIT = 0x4812,
    GUEST_ES_ACCESS = 0x4814,
    GUEST_INTERRUPTIBILITY = 0x4824,
    GUEST_ACTIVITY_STATE = 0x4826,
    GUEST_SYSENTER_CS = 0x482A,
    HOST_SYSENTER_CS = 0x4C00,
    /* natural width */
    CR0_GUEST_HOST_MASK = 0x6000,
    CR4_GUEST_HOST_MASK = 0x6002,
    CR0_READ_SHADOW = 0x6004,
    CR4_READ_SHADOW = 0x6006,
    EXIT_QUALIFICATION = 0x6400,
    GUEST_LINEAR_ADDRESS = 0x640A,
    GUEST_CR0 = 0x6800,
    GUEST_CR3 = 0x6802,
    GUEST_CR4 = 0x6804,
    GUEST_ES_BASE = 0x6806,
    GUEST_GDTR_BASE = 0x6816,
    GUEST_IDTR_BASE = 0x6818,
    GUEST_DR7 = 0x681A,
    GUEST_RSP = 0x681C,
    GUEST_RIP = 0x681E,
    GUEST_RFLAGS = 0x6820,
    GUEST_PENDING_DEBUG = 0x6822,
    GUEST_SYSENTER_ESP = 0x6824,
    GUEST_SYSENTER_EIP = 0x6826,
    HOST_CR0 = 0x6C00,
    HOST_CR3 = 0x6C02,
    HOST_CR4 = 0x6C04,
    HOST_FS_BASE = 0x6C06,
    HOST_GS_BASE = 0x6C08,
    HOST_TR_BASE = 0x6C0A,
    HOST_GDTR_BASE = 0x6C0C,
    HOST_IDTR_BASE = 0x6C0E,
    HOST_SYSENTER_ESP = 0x6C10,
    HOST_SYSENTER_EIP = 0x6C12,
    HOST_RSP = 0x6C14,
    HOST_RIP = 0x6C16,
};

enum seg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };
#define GUEST_SEG_SELECTOR(s) (GUEST_ES_SELECTOR + 2 * (s))
#define GUEST_SEG_LIMIT(s) (GUEST_ES_LIMIT + 2 * (s))
#define GUEST_SEG_ACCESS(s) (GUEST_ES_ACCESS + 2 * (s))
#define GUEST_SEG_BASE(s) (GUEST_ES_BASE + 2 * (s))
#define SEG_ACCESS_UNUSABLE (1u << 16) /* SDM Vol. 3C 25.4.1 */
#define SEG_ACCESS_L (1u << 13)        /* 64-bit code segment */

/* Control bits (SDM Vol. 3C Tables 25-5 to 25-7, 25-13, 25-15). */
#define PIN_EXTERNAL_INTERRUPT (1u << 0)
#define PIN_NMI (1u << 3)
#define PIN_PREEMPTION_TIMER (1u << 6)
#define PROC_INTERRUPT_WINDOW (1u << 2)
#define PROC_TSC_OFFSETTING (1u << 3)
#define PROC_HLT (1u << 7)
#define PROC_INVLPG (1u << 9)
#define PROC_MWAIT (1u << 10)
#define PROC_RDPMC (1u << 11)
#define PROC_RDTSC (1u << 12)
#define PROC_CR3_LOAD (1u << 15)
#define PROC_CR3_STORE (1u << 16)
#define PROC_CR8_LOAD (1u << 19)
#define PROC_CR8_STORE (1u << 20)
#define PROC_MOV_DR (1u << 23)
#define PROC_UNCOND_IO (1u << 24)
#define PROC_IO_BITMAPS (1u << 25)
#define PROC_MSR_BITMAPS (1u << 28)
#define PROC_MONITOR (1u << 29)
#define PROC_PAUSE (1u << 30)
#define PROC_SECONDARY (1u << 31)
#define PROC2_EPT (1u << 1)
#define PROC2_RDTSCP (1u << 3)
#define PROC2_VPID (1u << 5)
#define PROC2_UNRESTRICTED (1u << 7)
#define PROC2_INVPCID (1u << 12)
#define EXIT_SAVE_DEBUG (1u << 2)
#define EXIT_HOST_64 (1u << 9)
#define EXIT_ACK_INTERRUPT (1u << 15)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
#define ENTRY_LOAD_DEBUG (1u << 2)
#define ENTRY_IA32E_GUEST (1u << 9)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* Exit reason field (SDM Vol. 3C 28.2.1): basic reason in bits 15:0,
 * bit 31 set when VM entry failed. */
#define EXIT_REASON_ENTRY_FAILED (1u << 31)

enum exit_reason {
    EXIT_EXCEPTION_NMI = 0,
    EXIT_EXTERNAL_INTERRUPT = 1,
    EXIT_TRIPLE_FAULT = 2,
    EXIT_INTERRUPT_WINDOW = 7,
    EXIT_CPUID = 10,
    EXIT_HLT = 12,
    EXIT_INVLPG = 14,
    EXIT_VMCALL = 18,
    EXIT_CR_ACCESS = 28,
    EXIT_IO = 30,
    EXIT_RDMSR = 31,
    EXIT_WRMSR = 32,
    EXIT_INVALID_GUEST_STATE = 33,
    EXIT_MSR_LOADING = 34,
    EXIT_MACHINE_CHECK = 41,
    EXIT_EPT_VIOLATION = 48,
    EXIT_EPT_MISCONFIG = 49,
    EXIT_PREEMPTION_TIMER = 52,
    EXIT_XSETBV = 55,
    EXIT_INVPCID = 58,
    EXIT_REASON_COUNT = 70, /* reasons 0-69, see stats.c */
};

/* Interruption information (exit, IDT-vectoring and entry fields share
 * this layout, SDM Vol. 3C 25.8.3 and 28.2.2). */
#define INTR_VECTOR(i) ((i) & 0xFFu)
#define INTR_TYPE(i) (((i) >> 8) & 7u)
#define INTR_HAS_ERROR (1u << 11)
#define INTR_VALID (1u << 31)
enum intr_type {
    INTR_EXTERNAL = 0,
    INTR_NMI = 2,
    INTR_HW_EXCEPTION = 3,
    INTR_SW_INTERRUPT = 4,
    INTR_PRIV_SW_EXCEPTION = 5,
    INTR_SW_EXCEPTION = 6,
};

/* Exception vectors l1vmm injects or intercepts. */
enum { VEC_UD = 6, VEC_DF = 8, VEC_GP = 13, VEC_PF = 14 };

#endif
