/* Exit conditions of VMX non-root operation that need more than one
 * control bit, and the qualifications of CR and I/O exits. Section
 * numbers: the current SDM Vol. 3C (see exit_cond.h). */
#include "vmx/exit_cond.h"

#include <stddef.h>

enum {
    CR0_PE = 1u << 0,
    CR0_TS = 1u << 3,
    LMSW_BITS = 0xf, /* LMSW loads CR0[3:0] only: PE, MP, EM, TS */
    IO_PORTS = 0x10000,
    IO_BITMAP_PORTS = 0x8000, /* ports per I/O bitmap */
};

/* Bit `bit` of a bitmap at physical address base. A byte the reader
 * cannot supply reads as all ones (open bus), so the access exits: L0
 * then sees an exit it can explain instead of a silent pass. */
static bool bitmap_bit(vmx_read_phys_fn read_phys, void *ctx, uint64_t base,
                       uint32_t bit)
{
    uint8_t byte;
    if (!read_phys(ctx, base + bit / 8, &byte, 1))
        byte = 0xff;
    return (byte >> (bit % 8)) & 1;
}

/* SDM 26.1.3 "IN, INS/INSB/INSW/INSD, OUT, OUTS/OUTSB/OUTSW/OUTSD" and
 * 25.6.4 "I/O-Bitmap Addresses": with "use I/O bitmaps" the unconditional
 * control is ignored; an access exits if the bit of any port it touches
 * is set, each port looked up in the bitmap that covers it (so 0x7FFF
 * size 2 reads A and B), and an access that wraps from 0xFFFF to 0 exits
 * whatever the bitmaps say. */
bool vmx_io_exits(uint32_t proc_ctls, uint64_t bitmap_a, uint64_t bitmap_b,
                  uint16_t port, unsigned size, vmx_read_phys_fn read_phys,
                  void *ctx)
{
    if (!(proc_ctls & PROC_USE_IO_BITMAPS))
        return (proc_ctls & PROC_UNCOND_IO_EXITING) != 0;
    if ((uint32_t)port + size > IO_PORTS)
        return true;
    for (uint32_t p = port; p < (uint32_t)port + size; p++) {
        uint64_t base = p < IO_BITMAP_PORTS ? bitmap_a : bitmap_b;
        if (bitmap_bit(read_phys, ctx, base, p % IO_BITMAP_PORTS))
            return true;
    }
    return false;
}

/* SDM 28.2.1, Table 28-5: size - 1 in bits 2:0, direction (1 = IN) in
 * bit 3, string in bit 4, REP in bit 5, immediate operand in bit 6, the
 * port in bits 31:16. */
uint64_t vmx_io_qualification(const struct vmx_io_access *io)
{
    return (uint64_t)((io->size - 1) & 7) | (uint64_t)io->in << 3 |
           (uint64_t)io->string << 4 | (uint64_t)io->rep << 5 |
           (uint64_t)io->immediate << 6 | (uint64_t)io->port << 16;
}

/* SDM 25.6.9 "MSR-Bitmap Address": the two MSR ranges the bitmaps cover
 * and where each range's read bitmap starts; each write bitmap follows
 * its read bitmap by 2048 bytes. */
static const struct {
    uint32_t first;
    uint32_t read_offset;
} msr_ranges[] = {
    {0x00000000, 0},
    {0xC0000000, 1024},
};

enum {
    MSR_RANGE_LEN = 0x2000,
    MSR_WRITE_OFFSET = 2048,
};

/* SDM 26.1.3 "RDMSR", "WRMSR": without "use MSR bitmaps" every RDMSR and
 * WRMSR exits; with it, an MSR outside both ranges exits, and one inside
 * exits iff its bit in the bitmap for the instruction is set. */
bool vmx_msr_exits(uint32_t proc_ctls, uint64_t msr_bitmap, uint32_t msr,
                   bool write, vmx_read_phys_fn read_phys, void *ctx)
{
    if (!(proc_ctls & PROC_USE_MSR_BITMAPS))
        return true;
    for (size_t i = 0; i < sizeof msr_ranges / sizeof msr_ranges[0]; i++) {
        uint32_t index = msr - msr_ranges[i].first;
        if (msr < msr_ranges[i].first || index >= MSR_RANGE_LEN)
            continue;
        uint64_t base = msr_bitmap + msr_ranges[i].read_offset +
                        (write ? MSR_WRITE_OFFSET : 0);
        return bitmap_bit(read_phys, ctx, base, index);
    }
    return true;
}

/* MOV to CR3 exits unless CR3-load exiting is 0 or the value is one of
 * the first n CR3-target values (SDM 26.1.3 "MOV to CR3", 25.6.7). A
 * count above 4 fails VM entry (27.2.1.1), so it cannot reach here; it
 * is read as 4 rather than overrun the array. */
static bool mov_to_cr3_exits(const struct vmx_cr_controls *c, uint64_t value)
{
    if (!(c->proc_ctls & PROC_CR3_LOAD_EXITING))
        return false;
    unsigned n = c->cr3_target_count;
    if (n > VMX_CR3_TARGETS_MAX)
        n = VMX_CR3_TARGETS_MAX;
    for (unsigned i = 0; i < n; i++)
        if (c->cr3_target[i] == value)
            return false;
    return true;
}

/* The mask and shadow of CR0 or CR4. The other registers have none:
 * nothing in them is owned by the host. */
static void cr_mask_shadow(const struct vmx_cr_controls *c, unsigned cr,
                           uint64_t *mask, uint64_t *shadow)
{
    *mask = cr == 0 ? c->cr0_mask : cr == 4 ? c->cr4_mask : 0;
    *shadow = cr == 0 ? c->cr0_shadow : cr == 4 ? c->cr4_shadow : 0;
}

/* SDM 26.1.3, the entries CLTS, LMSW, MOV from CR3, MOV from CR8, MOV to
 * CR0, MOV to CR3, MOV to CR4, MOV to CR8. */
bool vmx_cr_access_exits(const struct vmx_cr_controls *c,
                         const struct vmx_cr_access *a)
{
    uint64_t mask, shadow;
    switch (a->type) {
    case VMX_CR_MOV_TO:
        switch (a->cr) {
        case 0:
        case 4:
            /* Exits unless every host-owned bit written equals the
             * shadow's. */
            cr_mask_shadow(c, a->cr, &mask, &shadow);
            return ((a->value ^ shadow) & mask) != 0;
        case 3:
            return mov_to_cr3_exits(c, a->value);
        case 8:
            return (c->proc_ctls & PROC_CR8_LOAD_EXITING) != 0;
        default:
            return false;
        }
    case VMX_CR_MOV_FROM:
        if (a->cr == 3)
            return (c->proc_ctls & PROC_CR3_STORE_EXITING) != 0;
        if (a->cr == 8)
            return (c->proc_ctls & PROC_CR8_STORE_EXITING) != 0;
        return false; /* CR0 and CR4 reads are served from the shadow */
    case VMX_CR_CLTS:
        /* Exits iff TS is set in both the mask and the shadow. */
        return (c->cr0_mask & c->cr0_shadow & CR0_TS) != 0;
    case VMX_CR_LMSW:
        /* LMSW cannot clear PE, so PE exits only when it would set a
         * host-owned PE that the shadow has clear; MP, EM and TS exit
         * when a host-owned bit differs from the shadow. */
        if (c->cr0_mask & a->value & ~c->cr0_shadow & CR0_PE)
            return true;
        return (c->cr0_mask & (a->value ^ c->cr0_shadow) & LMSW_BITS &
                ~(uint64_t)CR0_PE) != 0;
    }
    return false;
}

/* SDM 26.3 "MOV from CR0", "MOV from CR4", "SMSW". */
uint64_t vmx_cr_read_shadowed(uint64_t cr, uint64_t mask, uint64_t shadow)
{
    return (cr & ~mask) | (shadow & mask);
}

/* SDM 26.3 "CLTS", "LMSW", "MOV to CR0", "MOV to CR4". */
uint64_t vmx_cr_write_result(const struct vmx_cr_controls *c,
                             const struct vmx_cr_access *a, uint64_t cr)
{
    uint64_t mask, shadow;
    switch (a->type) {
    case VMX_CR_MOV_TO:
        cr_mask_shadow(c, a->cr, &mask, &shadow);
        return (cr & mask) | (a->value & ~mask);
    case VMX_CR_CLTS:
        /* A host-owned TS stays as it is (the shadow's TS is 0, or the
         * CLTS would have exited). */
        return c->cr0_mask & CR0_TS ? cr : cr & ~(uint64_t)CR0_TS;
    case VMX_CR_LMSW: {
        uint64_t writable = ~c->cr0_mask & LMSW_BITS;
        uint64_t next = (cr & ~writable) | (a->value & writable);
        return next | (cr & CR0_PE); /* PE cannot be cleared */
    }
    case VMX_CR_MOV_FROM:
        break;
    }
    return cr;
}

/* SDM 28.2.1, Table 28-3: the register number in bits 3:0 and the
 * general-purpose register in bits 11:8 (MOV CR only), the access type
 * in bits 5:4, the LMSW operand type in bit 6 and its source data in
 * bits 31:16 (LMSW only). */
uint64_t vmx_cr_qualification(const struct vmx_cr_access *a)
{
    uint64_t q = (uint64_t)(a->type & 3) << 4;
    switch (a->type) {
    case VMX_CR_MOV_TO:
    case VMX_CR_MOV_FROM:
        q |= (uint64_t)(a->cr & 0xf) | (uint64_t)(a->gpr & 0xf) << 8;
        break;
    case VMX_CR_LMSW:
        q |= (uint64_t)a->lmsw_memory << 6 | (a->value & 0xffff) << 16;
        break;
    case VMX_CR_CLTS:
        break;
    }
    return q;
}

enum {
    VECTOR_NMI = 2,
    VECTOR_PF = 14,
    VECTOR_LAST_EXCEPTION = 31,
};

/* SDM 26.2 "Exceptions" and 25.6.3 "Exception Bitmap": the vector's bit
 * decides, except for #PF: when (PFEC & mask) == match, exit iff bit 14
 * is 1; otherwise exit iff bit 14 is 0. */
bool vmx_exception_exits(uint32_t exception_bitmap, unsigned vector,
                         uint32_t pfec, uint32_t pfec_mask,
                         uint32_t pfec_match)
{
    if (vector > VECTOR_LAST_EXCEPTION || vector == VECTOR_NMI)
        return false;
    bool bit = (exception_bitmap >> vector) & 1;
    if (vector != VECTOR_PF)
        return bit;
    return bit == ((pfec & pfec_mask) == pfec_match);
}

/* SDM Appendix C, Table C-1. Numbers left out are not defined. */
/* SDM 28.2.1 Table 28-6 and 29.4.1: a linear access during event
 * delivery is type 3 whatever its direction; a guest-physical access is
 * 10 during event delivery and 15 otherwise. */
enum vmx_apic_access_type vmx_apic_access_type(bool linear, bool write,
                                               bool fetch, bool delivering)
{
    if (!linear)
        return delivering ? VMX_APIC_PHYS_EVENT : VMX_APIC_PHYS_INSN;
    if (delivering)
        return VMX_APIC_LINEAR_EVENT;
    if (fetch)
        return VMX_APIC_LINEAR_FETCH;
    return write ? VMX_APIC_LINEAR_WRITE : VMX_APIC_LINEAR_READ;
}

uint64_t vmx_apic_access_qualification(enum vmx_apic_access_type type,
                                       unsigned offset)
{
    bool linear = type <= VMX_APIC_LINEAR_EVENT;
    return (uint64_t)(linear ? offset & 0xFFF : 0) | (uint64_t)type << 12;
}

static const char *const exit_reason_names[VMX_EXIT_REASON_LIMIT] = {
    [VMX_EXIT_EXCEPTION_NMI] = "exception or NMI",
    [VMX_EXIT_EXTERNAL_INTERRUPT] = "external interrupt",
    [VMX_EXIT_TRIPLE_FAULT] = "triple fault",
    [VMX_EXIT_INIT] = "INIT signal",
    [VMX_EXIT_SIPI] = "start-up IPI",
    [VMX_EXIT_IO_SMI] = "I/O SMI",
    [VMX_EXIT_OTHER_SMI] = "other SMI",
    [VMX_EXIT_INTERRUPT_WINDOW] = "interrupt window",
    [VMX_EXIT_NMI_WINDOW] = "NMI window",
    [VMX_EXIT_TASK_SWITCH] = "task switch",
    [VMX_EXIT_CPUID] = "CPUID",
    [VMX_EXIT_GETSEC] = "GETSEC",
    [VMX_EXIT_HLT] = "HLT",
    [VMX_EXIT_INVD] = "INVD",
    [VMX_EXIT_INVLPG] = "INVLPG",
    [VMX_EXIT_RDPMC] = "RDPMC",
    [VMX_EXIT_RDTSC] = "RDTSC",
    [VMX_EXIT_RSM] = "RSM",
    [VMX_EXIT_VMCALL] = "VMCALL",
    [VMX_EXIT_VMCLEAR] = "VMCLEAR",
    [VMX_EXIT_VMLAUNCH] = "VMLAUNCH",
    [VMX_EXIT_VMPTRLD] = "VMPTRLD",
    [VMX_EXIT_VMPTRST] = "VMPTRST",
    [VMX_EXIT_VMREAD] = "VMREAD",
    [VMX_EXIT_VMRESUME] = "VMRESUME",
    [VMX_EXIT_VMWRITE] = "VMWRITE",
    [VMX_EXIT_VMXOFF] = "VMXOFF",
    [VMX_EXIT_VMXON] = "VMXON",
    [VMX_EXIT_CR_ACCESS] = "control-register access",
    [VMX_EXIT_MOV_DR] = "MOV DR",
    [VMX_EXIT_IO] = "I/O instruction",
    [VMX_EXIT_RDMSR] = "RDMSR",
    [VMX_EXIT_WRMSR] = "WRMSR",
    [VMX_EXIT_ENTRY_FAIL_GUEST_STATE] =
        "VM-entry failure: invalid guest state",
    [VMX_EXIT_ENTRY_FAIL_MSR_LOAD] = "VM-entry failure: MSR loading",
    [VMX_EXIT_MWAIT] = "MWAIT",
    [VMX_EXIT_MONITOR_TRAP_FLAG] = "monitor trap flag",
    [VMX_EXIT_MONITOR] = "MONITOR",
    [VMX_EXIT_PAUSE] = "PAUSE",
    [VMX_EXIT_ENTRY_FAIL_MACHINE_CHECK] = "VM-entry failure: machine check",
    [VMX_EXIT_TPR_BELOW_THRESHOLD] = "TPR below threshold",
    [VMX_EXIT_APIC_ACCESS] = "APIC access",
    [VMX_EXIT_VIRTUALIZED_EOI] = "virtualized EOI",
    [VMX_EXIT_GDTR_IDTR] = "GDTR or IDTR access",
    [VMX_EXIT_LDTR_TR] = "LDTR or TR access",
    [VMX_EXIT_EPT_VIOLATION] = "EPT violation",
    [VMX_EXIT_EPT_MISCONFIG] = "EPT misconfiguration",
    [VMX_EXIT_INVEPT] = "INVEPT",
    [VMX_EXIT_RDTSCP] = "RDTSCP",
    [VMX_EXIT_PREEMPTION_TIMER] = "VMX-preemption timer expired",
    [VMX_EXIT_INVVPID] = "INVVPID",
    [VMX_EXIT_WBINVD] = "WBINVD",
    [VMX_EXIT_XSETBV] = "XSETBV",
    [VMX_EXIT_APIC_WRITE] = "APIC write",
    [VMX_EXIT_RDRAND] = "RDRAND",
    [VMX_EXIT_INVPCID] = "INVPCID",
    [VMX_EXIT_VMFUNC] = "VMFUNC",
    [VMX_EXIT_ENCLS] = "ENCLS",
    [VMX_EXIT_RDSEED] = "RDSEED",
    [VMX_EXIT_PML_FULL] = "page-modification log full",
    [VMX_EXIT_XSAVES] = "XSAVES",
    [VMX_EXIT_XRSTORS] = "XRSTORS",
    [VMX_EXIT_PCONFIG] = "PCONFIG",
    [VMX_EXIT_SPP_EVENT] = "SPP-related event",
    [VMX_EXIT_UMWAIT] = "UMWAIT",
    [VMX_EXIT_TPAUSE] = "TPAUSE",
    [VMX_EXIT_LOADIWKEY] = "LOADIWKEY",
};

const char *vmx_exit_reason_name(uint32_t basic_reason)
{
    if (basic_reason >= VMX_EXIT_REASON_LIMIT)
        return NULL;
    return exit_reason_names[basic_reason];
}
