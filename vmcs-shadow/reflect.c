/* The two tables of the reflection policy. Rules follow SDM Vol. 3C
 * 26.1-26.2 (what makes an instruction or event exit in non-root
 * operation), read against vmcs12: L1 wants an exit exactly when L2 would
 * have exited to L1 on a CPU running L1 directly. */
#include "vmcs-shadow/reflect.h"

#include <stddef.h>

#include "vmx/controls.h"

enum {
    INTR_TYPE_NMI = 2, /* interruption-information bits 10:8 (25.9.2) */
    EXIT_QUAL_IO_PORT_SHIFT = 16,
};

static uint32_t basic(const struct exit_info *e)
{
    return e->reason & 0xFFFF;
}

/* ---- L0 ---- */

/* An NMI only if L0 asked for NMI exits itself: the machine's NMIs come
 * from the LAPIC, which L0 passes through to its guest, so an NMI exit
 * of L2 is L1's, by L1's "NMI exiting". An exception only if L0 put its
 * vector in vmcs02's bitmap for itself. */
static bool l0_exception(const struct l0_exit_wants *l0,
                         const struct exit_info *e)
{
    if (((e->intr_info >> 8) & 7) == INTR_TYPE_NMI)
        return l0->nmis;
    unsigned vector = e->intr_info & 0xFF;
    return vector < 32 && ((l0->exception_bitmap >> vector) & 1);
}

/* An EPT02 miss is L0's to fill (Turtles sec. 3.3) unless the guest-
 * physical address has no valid translation in EPT12 itself. */
static bool l0_ept(const struct l0_exit_wants *l0, const struct exit_info *e)
{
    (void)l0;
    return !e->ept12_fault;
}

enum l0_kind {
    L0_NO = 0, /* every reason not listed: not L0's own */
    L0_ALWAYS,
    L0_FLAG, /* a bool of struct l0_exit_wants, at offset `flag` */
    L0_FN,
};

struct l0_rule {
    enum l0_kind kind;
    size_t flag;
    bool (*fn)(const struct l0_exit_wants *, const struct exit_info *);
};

#define ALWAYS {L0_ALWAYS, 0, 0}
#define FLAG(member) {L0_FLAG, offsetof(struct l0_exit_wants, member), 0}
#define FN(f) {L0_FN, 0, f}

static const struct l0_rule l0_rules[VMX_EXIT_REASON_LIMIT] = {
    [VMX_EXIT_EXCEPTION_NMI] = FN(l0_exception),
    [VMX_EXIT_EXTERNAL_INTERRUPT] = FLAG(external_interrupts),
    [VMX_EXIT_INIT] = ALWAYS, /* platform events (SDM 26.2) */
    [VMX_EXIT_SIPI] = ALWAYS,
    [VMX_EXIT_IO_SMI] = ALWAYS,
    [VMX_EXIT_OTHER_SMI] = ALWAYS,
    [VMX_EXIT_INTERRUPT_WINDOW] = FLAG(interrupt_window),
    [VMX_EXIT_NMI_WINDOW] = FLAG(nmi_window),
    [VMX_EXIT_ENTRY_FAIL_MACHINE_CHECK] = ALWAYS,
    [VMX_EXIT_EPT_VIOLATION] = FN(l0_ept),
    [VMX_EXIT_EPT_MISCONFIG] = FN(l0_ept),
    [VMX_EXIT_PREEMPTION_TIMER] = FLAG(preemption_timer),
    [VMX_EXIT_VMFUNC] = ALWAYS, /* never in vmcs02 (merge.c) */
    [VMX_EXIT_PML_FULL] = ALWAYS,
};

#undef ALWAYS
#undef FLAG
#undef FN

bool l0_wants_exit(const struct l0_exit_wants *l0, const struct exit_info *e)
{
    uint32_t r = basic(e);
    if (r >= VMX_EXIT_REASON_LIMIT)
        return false;
    const struct l0_rule *rule = &l0_rules[r];
    switch (rule->kind) {
    case L0_NO: return false;
    case L0_ALWAYS: return true;
    case L0_FLAG: return *(const bool *)((const char *)l0 + rule->flag);
    case L0_FN: return rule->fn(l0, e);
    }
    return false;
}

/* ---- L1 ---- */

struct l1_ctx {
    const struct vmcs *v12;
    const struct exit_info *e;
    vmx_read_phys_fn read;
    void *rctx;
};

static uint64_t get12(const struct l1_ctx *c, enum vmcs_index i)
{
    return vmcs_get(c->v12, i);
}

static uint32_t proc12(const struct l1_ctx *c)
{
    return (uint32_t)get12(c, VMCS_IDX_PROC_CONTROLS);
}

/* Secondary controls act only with "activate secondary controls"
 * (25.6.2). */
static uint32_t proc2_12(const struct l1_ctx *c)
{
    return proc12(c) & PROC_SECONDARY_CONTROLS
               ? (uint32_t)get12(c, VMCS_IDX_PROC_CONTROLS2)
               : 0;
}

/* Exceptions by the exception bitmap and #PF error-code mask/match
 * (26.2, 25.6.3); NMIs by "NMI exiting" (25.6.1). */
static bool l1_exception(const struct l1_ctx *c)
{
    uint32_t info = c->e->intr_info;
    if (((info >> 8) & 7) == INTR_TYPE_NMI)
        return get12(c, VMCS_IDX_PIN_CONTROLS) & PIN_NMI_EXITING;
    return vmx_exception_exits((uint32_t)get12(c, VMCS_IDX_EXCEPTION_BITMAP),
                               info & 0xFF, c->e->intr_error,
                               (uint32_t)get12(c, VMCS_IDX_PF_ERROR_MASK),
                               (uint32_t)get12(c, VMCS_IDX_PF_ERROR_MATCH));
}

/* The access, from the qualification (28.2.1, Table 28-3), against L1's
 * masks, shadows and CR3-target list. */
static bool l1_cr_access(const struct l1_ctx *c)
{
    struct vmx_cr_controls ctl = {
        .proc_ctls = proc12(c),
        .cr0_mask = get12(c, VMCS_IDX_CR0_MASK),
        .cr0_shadow = get12(c, VMCS_IDX_CR0_READ_SHADOW),
        .cr4_mask = get12(c, VMCS_IDX_CR4_MASK),
        .cr4_shadow = get12(c, VMCS_IDX_CR4_READ_SHADOW),
    };
    /* L1's count is data: more than four never reaches L2 (VM entry
     * refuses it, 27.2.1.1), and reading past the list must not happen. */
    uint64_t n = get12(c, VMCS_IDX_CR3_TARGET_COUNT);
    ctl.cr3_target_count = n > VMX_CR3_TARGETS_MAX ? VMX_CR3_TARGETS_MAX
                                                   : (unsigned)n;
    for (unsigned k = 0; k < VMX_CR3_TARGETS_MAX; k++)
        ctl.cr3_target[k] =
            get12(c, (enum vmcs_index)(VMCS_IDX_CR3_TARGET0 + k));
    uint64_t q = c->e->qualification;
    struct vmx_cr_access a = {
        .type = (enum vmx_cr_access_type)((q >> 4) & 3),
        .cr = q & 15,
        .gpr = (q >> 8) & 15,
        .lmsw_memory = (q >> 6) & 1,
    };
    a.value = a.type == VMX_CR_LMSW ? (q >> 16) & 0xFFFF : c->e->cr_source;
    return vmx_cr_access_exits(&ctl, &a);
}

/* Port and size from the qualification (Table 28-5), against L1's I/O
 * bitmaps in L1 memory. */
static bool l1_io(const struct l1_ctx *c)
{
    uint64_t q = c->e->qualification;
    return vmx_io_exits(proc12(c), get12(c, VMCS_IDX_IO_BITMAP_A),
                        get12(c, VMCS_IDX_IO_BITMAP_B),
                        (uint16_t)(q >> EXIT_QUAL_IO_PORT_SHIFT),
                        (unsigned)(q & 7) + 1, c->read, c->rctx);
}

static bool l1_msr(const struct l1_ctx *c)
{
    return vmx_msr_exits(proc12(c), get12(c, VMCS_IDX_MSR_BITMAP), c->e->msr,
                         basic(c->e) == VMX_EXIT_WRMSR, c->read, c->rctx);
}

/* L2's VMREAD/VMWRITE: with VMCS shadowing in vmcs12 the bit of L1's
 * VMREAD/VMWRITE bitmap decides (25.6.15, 26.1.3); a clear bit means the
 * access goes to L1's shadow VMCS, which L0 then emulates. */
static bool l1_vmcs_access(const struct l1_ctx *c)
{
    if (!(proc2_12(c) & PROC2_VMCS_SHADOWING))
        return true;
    uint64_t field = c->e->vmcs_field;
    if (field >> 15)
        return true;
    enum vmcs_index bitmap = basic(c->e) == VMX_EXIT_VMWRITE
                                 ? VMCS_IDX_VMWRITE_BITMAP_ADDR
                                 : VMCS_IDX_VMREAD_BITMAP_ADDR;
    uint8_t byte = 0xFF;
    if (!c->read(c->rctx, get12(c, bitmap) + (field >> 3), &byte, 1))
        byte = 0xFF;
    return (byte >> (field & 7)) & 1;
}

/* A fault of EPT12 is L1's, if L1 uses EPT at all; otherwise EPT02 maps
 * L1's own memory and every fault is L0's. */
static bool l1_ept(const struct l1_ctx *c)
{
    return c->e->ept12_fault && (proc2_12(c) & PROC2_EPT);
}

/* "PAUSE exiting", or PAUSE-loop exiting (the window state is the CPU's,
 * so any PLE exit goes to an L1 that asked for PLE; KVM does the same). */
static bool l1_pause(const struct l1_ctx *c)
{
    return (proc12(c) & PROC_PAUSE_EXITING) ||
           (proc2_12(c) & PROC2_PAUSE_LOOP_EXITING);
}

/* INVPCID exits if "enable INVPCID" and "INVLPG exiting" (26.1.3). */
static bool l1_invpcid(const struct l1_ctx *c)
{
    return (proc2_12(c) & PROC2_INVPCID) && (proc12(c) & PROC_INVLPG_EXITING);
}

enum l1_kind {
    L1_ALWAYS = 0, /* also every reason not listed (KVM's default) */
    L1_NEVER,
    L1_PIN,   /* by a pin-based control of vmcs12 */
    L1_PROC,  /* by a primary processor-based control */
    L1_PROC2, /* by a secondary one (if activated) */
    L1_FN,
};

struct l1_rule {
    enum l1_kind kind;
    uint32_t bit;
    bool (*fn)(const struct l1_ctx *);
};

#define PIN(b) {L1_PIN, b, 0}
#define PROC(b) {L1_PROC, b, 0}
#define PROC2(b) {L1_PROC2, b, 0}
#define FN(f) {L1_FN, 0, f}
#define NEVER {L1_NEVER, 0, 0}

static const struct l1_rule l1_rules[VMX_EXIT_REASON_LIMIT] = {
    [VMX_EXIT_EXCEPTION_NMI] = FN(l1_exception),
    [VMX_EXIT_EXTERNAL_INTERRUPT] = PIN(PIN_EXT_INTR_EXITING),
    /* TRIPLE_FAULT: always (28.1: L2's shutdown is L1's to handle). */
    [VMX_EXIT_INIT] = NEVER, /* platform events are L0's */
    [VMX_EXIT_SIPI] = NEVER,
    [VMX_EXIT_IO_SMI] = NEVER,
    [VMX_EXIT_OTHER_SMI] = NEVER,
    [VMX_EXIT_INTERRUPT_WINDOW] = PROC(PROC_INTR_WINDOW_EXITING),
    [VMX_EXIT_NMI_WINDOW] = PROC(PROC_NMI_WINDOW_EXITING),
    /* TASK_SWITCH, CPUID, GETSEC, INVD, VMCALL, the VMX instructions but
     * VMREAD/VMWRITE, XSETBV: always (26.1.2). */
    [VMX_EXIT_HLT] = PROC(PROC_HLT_EXITING),
    [VMX_EXIT_INVLPG] = PROC(PROC_INVLPG_EXITING),
    [VMX_EXIT_RDPMC] = PROC(PROC_RDPMC_EXITING),
    [VMX_EXIT_RDTSC] = PROC(PROC_RDTSC_EXITING),
    [VMX_EXIT_VMREAD] = FN(l1_vmcs_access),
    [VMX_EXIT_VMWRITE] = FN(l1_vmcs_access),
    [VMX_EXIT_CR_ACCESS] = FN(l1_cr_access),
    [VMX_EXIT_MOV_DR] = PROC(PROC_MOV_DR_EXITING),
    [VMX_EXIT_IO] = FN(l1_io),
    [VMX_EXIT_RDMSR] = FN(l1_msr),
    [VMX_EXIT_WRMSR] = FN(l1_msr),
    /* ENTRY_FAIL_GUEST_STATE, ENTRY_FAIL_MSR_LOAD: always, vmcs12's
     * state failed; a machine check during entry is L0's. */
    [VMX_EXIT_ENTRY_FAIL_MACHINE_CHECK] = NEVER,
    [VMX_EXIT_MWAIT] = PROC(PROC_MWAIT_EXITING),
    [VMX_EXIT_MONITOR_TRAP_FLAG] = PROC(PROC_MONITOR_TRAP_FLAG),
    [VMX_EXIT_MONITOR] = PROC(PROC_MONITOR_EXITING),
    [VMX_EXIT_PAUSE] = FN(l1_pause),
    [VMX_EXIT_TPR_BELOW_THRESHOLD] = PROC(PROC_TPR_SHADOW),
    [VMX_EXIT_APIC_ACCESS] = PROC2(PROC2_VIRT_APIC_ACCESSES),
    [VMX_EXIT_VIRTUALIZED_EOI] = PROC2(PROC2_VIRT_INTR_DELIVERY),
    [VMX_EXIT_GDTR_IDTR] = PROC2(PROC2_DESC_TABLE_EXITING),
    [VMX_EXIT_LDTR_TR] = PROC2(PROC2_DESC_TABLE_EXITING),
    [VMX_EXIT_EPT_VIOLATION] = FN(l1_ept),
    [VMX_EXIT_EPT_MISCONFIG] = FN(l1_ept),
    /* RDTSCP exits by "RDTSC exiting" (it #UDs unless enabled). */
    [VMX_EXIT_RDTSCP] = PROC(PROC_RDTSC_EXITING),
    [VMX_EXIT_PREEMPTION_TIMER] = PIN(PIN_PREEMPTION_TIMER),
    [VMX_EXIT_WBINVD] = PROC2(PROC2_WBINVD_EXITING),
    [VMX_EXIT_APIC_WRITE] = PROC2(PROC2_APIC_REGISTER_VIRT),
    [VMX_EXIT_RDRAND] = PROC2(PROC2_RDRAND_EXITING),
    [VMX_EXIT_INVPCID] = FN(l1_invpcid),
    [VMX_EXIT_VMFUNC] = NEVER, /* L0's (l0_rules) */
    [VMX_EXIT_ENCLS] = PROC2(PROC2_ENCLS_EXITING),
    [VMX_EXIT_RDSEED] = PROC2(PROC2_RDSEED_EXITING),
    [VMX_EXIT_PML_FULL] = NEVER,
    [VMX_EXIT_XSAVES] = PROC2(PROC2_XSAVES),
    [VMX_EXIT_XRSTORS] = PROC2(PROC2_XSAVES),
};

#undef PIN
#undef PROC
#undef PROC2
#undef FN
#undef NEVER

bool l1_wants_exit(const struct vmcs *v12, const struct exit_info *e,
                   vmx_read_phys_fn read_l1, void *ctx)
{
    uint32_t r = basic(e);
    if (r >= VMX_EXIT_REASON_LIMIT)
        return true;
    const struct l1_ctx c = {v12, e, read_l1, ctx};
    const struct l1_rule *rule = &l1_rules[r];
    switch (rule->kind) {
    case L1_ALWAYS: return true;
    case L1_NEVER: return false;
    case L1_PIN: return get12(&c, VMCS_IDX_PIN_CONTROLS) & rule->bit;
    case L1_PROC: return proc12(&c) & rule->bit;
    case L1_PROC2: return proc2_12(&c) & rule->bit;
    case L1_FN: return rule->fn(&c);
    }
    return true;
}

enum reflect_target reflect_exit(const struct l0_exit_wants *l0,
                                 const struct vmcs *v12,
                                 const struct exit_info *e,
                                 vmx_read_phys_fn read_l1, void *ctx)
{
    if (l0_wants_exit(l0, e))
        return REFLECT_TO_L0;
    return l1_wants_exit(v12, e, read_l1, ctx) ? REFLECT_TO_L1
                                               : REFLECT_TO_L0;
}
