/* The exit conditions of VMX non-root operation that depend on more than
 * one control bit: I/O bitmaps, MSR bitmaps, control-register masks,
 * shadows and the CR3-target list, the exception bitmap with the #PF
 * error-code rule; the exit qualifications of CR and I/O exits; the
 * table of basic exit reasons.
 *
 * Pure functions over plain control values: nothing here knows the CPU
 * or the VMCS layout. The caller reads the fields and passes them in;
 * bitmaps in memory are read through a reader callback.
 *
 * Section numbers are those of the current SDM Vol. 3C, as in
 * controls.h (25 "Virtual Machine Control Structures", 26 "VMX Non-Root
 * Operation", 28 "VM Exits", Appendix C "VMX Basic Exit Reasons"); each
 * citation also names its section, for editions numbered otherwise. The
 * control bits are controls.h's. */
#ifndef L0_VMX_EXIT_COND_H
#define L0_VMX_EXIT_COND_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/controls.h"

/* Reads len bytes of physical memory at pa into dst; false if some byte
 * is not backed by anything (the predicates then read that byte as all
 * ones, like an open bus, so a bitmap outside memory makes accesses exit). */
typedef bool (*vmx_read_phys_fn)(void *ctx, uint64_t pa, void *dst,
                                 unsigned len);

/* ---- I/O instructions (SDM 26.1.3 "IN, INS, OUT, OUTS", 25.6.4) ---- */

/* Whether an IN/INS/OUT/OUTS of size 1, 2 or 4 at port exits. bitmap_a
 * and bitmap_b are the physical addresses of I/O bitmaps A (ports
 * 0-0x7FFF) and B (0x8000-0xFFFF); they are read only when "use I/O
 * bitmaps" is 1. */
bool vmx_io_exits(uint32_t proc_ctls, uint64_t bitmap_a, uint64_t bitmap_b,
                  uint16_t port, unsigned size, vmx_read_phys_fn read_phys,
                  void *ctx);

/* One I/O instruction, as its exit qualification describes it. */
struct vmx_io_access {
    uint16_t port;
    unsigned size;  /* 1, 2 or 4 */
    bool in;        /* IN/INS, else OUT/OUTS */
    bool string;    /* INS/OUTS */
    bool rep;       /* REP prefix */
    bool immediate; /* port in an immediate operand, else in DX */
};

/* The exit qualification of an I/O-instruction exit (SDM 28.2.1,
 * Table 28-5). */
uint64_t vmx_io_qualification(const struct vmx_io_access *io);

/* ---- RDMSR and WRMSR (SDM 26.1.3 "RDMSR", "WRMSR", 25.6.9) ---- */

/* Whether RDMSR (write false) or WRMSR (write true) of MSR msr (ECX)
 * exits; msr_bitmap is the physical address of the 4 KiB MSR bitmaps. */
bool vmx_msr_exits(uint32_t proc_ctls, uint64_t msr_bitmap, uint32_t msr,
                   bool write, vmx_read_phys_fn read_phys, void *ctx);

/* ---- Control-register accesses (SDM 26.1.3, 25.6.6, 25.6.7) ---- */

enum { VMX_CR3_TARGETS_MAX = 4 };

/* The controls a control-register access consults. */
struct vmx_cr_controls {
    uint32_t proc_ctls;
    uint64_t cr0_mask, cr0_shadow; /* CR0 guest/host mask and read shadow */
    uint64_t cr4_mask, cr4_shadow;
    unsigned cr3_target_count;     /* 0..4; VM entry refuses more */
    uint64_t cr3_target[VMX_CR3_TARGETS_MAX];
};

/* The access types of Table 28-3, bits 5:4. */
enum vmx_cr_access_type {
    VMX_CR_MOV_TO = 0,
    VMX_CR_MOV_FROM = 1,
    VMX_CR_CLTS = 2,
    VMX_CR_LMSW = 3,
};

/* One control-register access. */
struct vmx_cr_access {
    enum vmx_cr_access_type type;
    unsigned cr;       /* MOV CR: 0, 3, 4 or 8 */
    unsigned gpr;      /* MOV CR: the register, 0 = RAX .. 15 = R15 */
    uint64_t value;    /* MOV to CR: the source; LMSW: the 16-bit source */
    bool lmsw_memory;  /* LMSW with a memory operand */
};

/* Whether the access exits. MOV from CR0/CR4 never does (reads see the
 * shadow, vmx_cr_read_shadowed). MOV to/from CR8 exits by the CR8-load
 * and CR8-store exiting controls alone: this machine does not offer "use
 * TPR shadow" (caps.h), which would redirect a CR8 access that does not
 * exit to the virtual-APIC page (SDM 30.3) and could end in a
 * TPR-below-threshold exit; the bit is ignored here. */
bool vmx_cr_access_exits(const struct vmx_cr_controls *c,
                         const struct vmx_cr_access *a);

/* What MOV from CR0/CR4 (and SMSW, for CR0) returns in non-root
 * operation: the shadow's bits where the mask is set, CR's elsewhere
 * (SDM 26.3 "MOV from CR0", "MOV from CR4", "SMSW"). */
uint64_t vmx_cr_read_shadowed(uint64_t cr, uint64_t mask, uint64_t shadow);

/* The new CR0 or CR4 after a write access that did not exit: MOV to
 * CR0/CR4, CLTS and LMSW leave the bits owned by the host (set in the
 * mask) unchanged (SDM 26.3 "CLTS", "LMSW", "MOV to CR0", "MOV to CR4").
 * cr is the current value of the register the access writes. Checks of
 * the value itself (#GP for reserved or VMX-fixed bits) are the CPU's. */
uint64_t vmx_cr_write_result(const struct vmx_cr_controls *c,
                             const struct vmx_cr_access *a, uint64_t cr);

/* The exit qualification of a control-register-access exit (SDM 28.2.1,
 * Table 28-3). */
uint64_t vmx_cr_qualification(const struct vmx_cr_access *a);

/* ---- Exceptions (SDM 26.2 "Exceptions", 25.6.3) ---- */

/* Whether a hardware or software exception (INT3, INTO, BOUND, UD2 ...)
 * with vector 0-31 exits, through the exception bitmap and, for #PF, the
 * error-code mask and match. NMIs (vector 2) follow "NMI exiting" and
 * INT n does not consult the bitmap: both give false here. */
bool vmx_exception_exits(uint32_t exception_bitmap, unsigned vector,
                         uint32_t pfec, uint32_t pfec_mask,
                         uint32_t pfec_match);

/* ---- APIC accesses (SDM 29.4 "Virtualizing Memory-Mapped APIC
 * Accesses", 28.2.1 Table 28-6) ---- */

/* The access types of Table 28-6, qualification bits 15:12. */
enum vmx_apic_access_type {
    VMX_APIC_LINEAR_READ = 0,     /* data read during instruction execution */
    VMX_APIC_LINEAR_WRITE = 1,    /* data write during instruction execution */
    VMX_APIC_LINEAR_FETCH = 2,    /* instruction fetch */
    VMX_APIC_LINEAR_EVENT = 3,    /* read or write during event delivery */
    VMX_APIC_PHYS_EVENT = 10,     /* guest-physical, during event delivery */
    VMX_APIC_PHYS_INSN = 15,      /* guest-physical, fetch or execution */
};

/* The type of one access to the APIC-access page: a linear access (its
 * read, write or fetch) or a guest-physical one (a paging-structure
 * reference, 29.4.6), during event delivery or not. */
enum vmx_apic_access_type vmx_apic_access_type(bool linear, bool write,
                                               bool fetch, bool delivering);

/* The exit qualification (Table 28-6): the page offset of a linear
 * access in bits 11:0 (0 for a guest-physical one, where the SDM leaves
 * them undefined) and the type in bits 15:12. */
uint64_t vmx_apic_access_qualification(enum vmx_apic_access_type type,
                                       unsigned offset);

/* ---- Basic exit reasons (SDM Appendix C) ---- */

enum vmx_exit_reason {
    VMX_EXIT_EXCEPTION_NMI = 0,
    VMX_EXIT_EXTERNAL_INTERRUPT = 1,
    VMX_EXIT_TRIPLE_FAULT = 2,
    VMX_EXIT_INIT = 3,
    VMX_EXIT_SIPI = 4,
    VMX_EXIT_IO_SMI = 5,
    VMX_EXIT_OTHER_SMI = 6,
    VMX_EXIT_INTERRUPT_WINDOW = 7,
    VMX_EXIT_NMI_WINDOW = 8,
    VMX_EXIT_TASK_SWITCH = 9,
    VMX_EXIT_CPUID = 10,
    VMX_EXIT_GETSEC = 11,
    VMX_EXIT_HLT = 12,
    VMX_EXIT_INVD = 13,
    VMX_EXIT_INVLPG = 14,
    VMX_EXIT_RDPMC = 15,
    VMX_EXIT_RDTSC = 16,
    VMX_EXIT_RSM = 17,
    VMX_EXIT_VMCALL = 18,
    VMX_EXIT_VMCLEAR = 19,
    VMX_EXIT_VMLAUNCH = 20,
    VMX_EXIT_VMPTRLD = 21,
    VMX_EXIT_VMPTRST = 22,
    VMX_EXIT_VMREAD = 23,
    VMX_EXIT_VMRESUME = 24,
    VMX_EXIT_VMWRITE = 25,
    VMX_EXIT_VMXOFF = 26,
    VMX_EXIT_VMXON = 27,
    VMX_EXIT_CR_ACCESS = 28,
    VMX_EXIT_MOV_DR = 29,
    VMX_EXIT_IO = 30,
    VMX_EXIT_RDMSR = 31,
    VMX_EXIT_WRMSR = 32,
    VMX_EXIT_ENTRY_FAIL_GUEST_STATE = 33,
    VMX_EXIT_ENTRY_FAIL_MSR_LOAD = 34,
    VMX_EXIT_MWAIT = 36,
    VMX_EXIT_MONITOR_TRAP_FLAG = 37,
    VMX_EXIT_MONITOR = 39,
    VMX_EXIT_PAUSE = 40,
    VMX_EXIT_ENTRY_FAIL_MACHINE_CHECK = 41,
    VMX_EXIT_TPR_BELOW_THRESHOLD = 43,
    VMX_EXIT_APIC_ACCESS = 44,
    VMX_EXIT_VIRTUALIZED_EOI = 45,
    VMX_EXIT_GDTR_IDTR = 46,
    VMX_EXIT_LDTR_TR = 47,
    VMX_EXIT_EPT_VIOLATION = 48,
    VMX_EXIT_EPT_MISCONFIG = 49,
    VMX_EXIT_INVEPT = 50,
    VMX_EXIT_RDTSCP = 51,
    VMX_EXIT_PREEMPTION_TIMER = 52,
    VMX_EXIT_INVVPID = 53,
    VMX_EXIT_WBINVD = 54,
    VMX_EXIT_XSETBV = 55,
    VMX_EXIT_APIC_WRITE = 56,
    VMX_EXIT_RDRAND = 57,
    VMX_EXIT_INVPCID = 58,
    VMX_EXIT_VMFUNC = 59,
    VMX_EXIT_ENCLS = 60,
    VMX_EXIT_RDSEED = 61,
    VMX_EXIT_PML_FULL = 62,
    VMX_EXIT_XSAVES = 63,
    VMX_EXIT_XRSTORS = 64,
    VMX_EXIT_PCONFIG = 65,
    VMX_EXIT_SPP_EVENT = 66,
    VMX_EXIT_UMWAIT = 67,
    VMX_EXIT_TPAUSE = 68,
    VMX_EXIT_LOADIWKEY = 69,
    VMX_EXIT_REASON_LIMIT = 70, /* every basic reason known is below */
};

/* Bit 31 of the exit-reason field: the VM entry failed (SDM 25.9.1). */
enum { VMX_EXIT_REASON_ENTRY_FAILURE = 1u << 31 };

/* The SDM's name of a basic exit reason (bits 15:0 of the exit-reason
 * field), or NULL for a number the SDM does not define (35, 38, 42, and
 * everything from VMX_EXIT_REASON_LIMIT on: the SDM's later reasons are
 * left out of this Haswell-era model). */
const char *vmx_exit_reason_name(uint32_t basic_reason);

static inline bool vmx_exit_reason_defined(uint32_t basic_reason)
{
    return vmx_exit_reason_name(basic_reason) != 0;
}

#endif
