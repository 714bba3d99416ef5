/* VM entry and VM exit: loading and saving guest state, loading host
 * state, event injection and exit information (SDM Vol. 3C chapters 27
 * and 28). The checks of 27.2-27.3.1 are in entry_checks.c. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/system.h"
#include "machine.h"
#include "vmx/caps.h"
#include "vmx/controls.h"
#include "vmx/entry_checks.h"
#include "vmx/exit_cond.h"
#include "vmx/guest_segments.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

_Static_assert(SEG_COUNT == sizeof ((struct vmx_cpu *)0)->seg_entered /
                                   sizeof ((struct vmx_cpu *)0)->seg_entered[0],
               "one entered segment per segment register");

static const enum vmcs_index host_sel[SEG_COUNT] = {
    [SEG_ES] = VMCS_IDX_HOST_ES_SELECTOR, [SEG_CS] = VMCS_IDX_HOST_CS_SELECTOR,
    [SEG_SS] = VMCS_IDX_HOST_SS_SELECTOR, [SEG_DS] = VMCS_IDX_HOST_DS_SELECTOR,
    [SEG_FS] = VMCS_IDX_HOST_FS_SELECTOR, [SEG_GS] = VMCS_IDX_HOST_GS_SELECTOR,
    [SEG_TR] = VMCS_IDX_HOST_TR_SELECTOR,
};

enum {
    ACTIVITY_ACTIVE = 0,
    ACTIVITY_HLT = 1,
    INTR_BLOCK_STI = 1u << 0,
    INTR_BLOCK_MOV_SS = 1u << 1,
    INTR_BLOCK_NMI = 1u << 3,
    INTR_INFO_VALID = 1u << 31,
    INTR_INFO_HAS_ERROR = 1u << 11,
};

/* Interruption types of the VM-entry interruption-information field
 * (SDM Vol. 3C 25.8.3, Table 25-17). */
enum {
    INTR_TYPE_EXTERNAL = 0,
    INTR_TYPE_NMI = 2,
    INTR_TYPE_HW_EXCEPTION = 3,
    INTR_TYPE_SW_INTERRUPT = 4,
    INTR_TYPE_PRIV_SW_EXCEPTION = 5,
    INTR_TYPE_SW_EXCEPTION = 6,
};

static void cache_controls(struct cpu *c, const struct vmcs *v)
{
    struct vmx_cpu *x = &c->vmx;
    x->pin = (uint32_t)vmcs_get(v, VMCS_IDX_PIN_CONTROLS);
    x->proc = (uint32_t)vmcs_get(v, VMCS_IDX_PROC_CONTROLS);
    x->proc2 = (x->proc & PROC_SECONDARY_CONTROLS)
                   ? (uint32_t)vmcs_get(v, VMCS_IDX_PROC_CONTROLS2)
                   : 0;
    x->exit_ctls = (uint32_t)vmcs_get(v, VMCS_IDX_EXIT_CONTROLS);
    x->entry_ctls = (uint32_t)vmcs_get(v, VMCS_IDX_ENTRY_CONTROLS);
    x->ept = x->proc2 & PROC2_EPT;
    /* ~0 has bits 11:0 set, so it never equals a page address. */
    x->apic_access_page = (x->proc2 & PROC2_VIRT_APIC_ACCESSES)
                              ? vmcs_get(v, VMCS_IDX_APIC_ACCESS_ADDR)
                              : ~0ull;
    x->vpid = (x->proc2 & PROC2_VPID) ? (uint16_t)vmcs_get(v, VMCS_IDX_VPID)
                                      : 0;
    x->tsc_offset = (x->proc & PROC_TSC_OFFSETTING)
                        ? vmcs_get(v, VMCS_IDX_TSC_OFFSET)
                        : 0;
    x->ept_cfg.eptp = vmcs_get(v, VMCS_IDX_EPT_POINTER);
    x->ept_cfg.cap = vmx_cap_ept_vpid();
    x->ept_cfg.maxphyaddr = PHYS_ADDR_BITS;
    /* The preemption timer counts down once every 2^5 cycles (the rate
     * IA32_VMX_MISC reports, SDM Vol. 3C 26.5.1). */
    x->preemption_deadline =
        (x->pin & PIN_PREEMPTION_TIMER)
            ? c->cycles + (vmcs_get(v, VMCS_IDX_PREEMPTION_TIMER) << 5)
            : UINT64_MAX;
}

static void load_segment(struct segment *s, const struct vmcs *v,
                         const struct vmcs_segment_fields *f)
{
    s->sel = (uint16_t)vmcs_get(v, f->sel);
    s->base = vmcs_get(v, f->base);
    s->limit = (uint32_t)vmcs_get(v, f->limit);
    s->attr = (uint32_t)vmcs_get(v, f->ar) & 0x1F0FF;
}

/* The segment fields a VM exit saves (28.3.1); load_segment reads them
 * back unchanged when the access rights have no bits outside 0x1F0FF
 * (the other fields hold no more than their widths). */
static void save_segment(const struct segment *s, struct vmcs *v,
                         const struct vmcs_segment_fields *f)
{
    vmcs_set(v, f->sel, s->sel);
    vmcs_set(v, f->base, s->base);
    vmcs_set(v, f->limit, s->limit);
    vmcs_set(v, f->ar, s->attr & 0x1F0FF);
}

/* Event injection (SDM Vol. 3C 27.6): delivered through the guest IDT
 * as if it had happened right after VM entry. */
static void inject_event(struct cpu *c, struct vmcs *v)
{
    uint32_t info = (uint32_t)vmcs_get(v, VMCS_IDX_ENTRY_INTR_INFO);
    if (!(info & INTR_INFO_VALID))
        return;
    unsigned vector = info & 0xFF, type = (info >> 8) & 7;
    bool has_error = info & INTR_INFO_HAS_ERROR;
    uint32_t error = (uint32_t)vmcs_get(v, VMCS_IDX_ENTRY_EXCEPTION_ERROR);
    uint64_t next = c->rip + vmcs_get(v, VMCS_IDX_ENTRY_INSN_LEN);
    enum event_kind kind = EV_EXCEPTION;
    uint64_t ret = c->rip;
    switch (type) {
    case INTR_TYPE_EXTERNAL: kind = EV_EXTERNAL; break;
    case INTR_TYPE_SW_INTERRUPT: kind = EV_SOFTWARE_INT; ret = next; break;
    case INTR_TYPE_PRIV_SW_EXCEPTION: kind = EV_PRIV_SW_EXC; ret = next; break;
    case INTR_TYPE_SW_EXCEPTION: kind = EV_SOFTWARE_EXC; ret = next; break;
    case INTR_TYPE_NMI: kind = EV_NMI; break;
    default: break; /* hardware exception */
    }
    c->vmx.injecting = info;
    c->dbg.hits = 0;
    cpu_deliver(c, vector, kind, has_error, error, ret);
    c->vmx.injecting = 0;
    /* The delivery of INT n, INT1, INT3 (software types 4-6) is followed
     * here by the #DB of the breakpoints it hit, as when the guest's own
     * instruction delivers it; cpu_deliver() left those of the other
     * types due at the next boundary (cpu/debug.c). */
    bool software = type == INTR_TYPE_SW_INTERRUPT ||
                    type == INTR_TYPE_PRIV_SW_EXCEPTION ||
                    type == INTR_TYPE_SW_EXCEPTION;
    if (!c->vmx.request.pending && software)
        debug_after_injection(c);
}

static void load_guest_state(struct cpu *c, struct vmcs *v)
{
    c->cr0 = vmcs_get(v, VMCS_IDX_GUEST_CR0) | CR0_ET;
    c->cr3 = vmcs_get(v, VMCS_IDX_GUEST_CR3);
    c->cr4 = vmcs_get(v, VMCS_IDX_GUEST_CR4);
    /* "Load debug controls" (SDM Vol. 3C 27.3.2.1). */
    if (c->vmx.entry_ctls & ENTRY_LOAD_DEBUG_CONTROLS) {
        c->dr[7] = vmcs_get(v, VMCS_IDX_GUEST_DR7);
        c->dbg.debugctl = vmcs_get(v, VMCS_IDX_GUEST_DEBUGCTL);
    }
    debug_update(c);
    c->sysenter_cs = vmcs_get(v, VMCS_IDX_GUEST_SYSENTER_CS);
    c->sysenter_esp = vmcs_get(v, VMCS_IDX_GUEST_SYSENTER_ESP);
    c->sysenter_eip = vmcs_get(v, VMCS_IDX_GUEST_SYSENTER_EIP);
    bool ia32e = c->vmx.entry_ctls & ENTRY_IA32E_MODE_GUEST;
    if (c->vmx.entry_ctls & ENTRY_LOAD_EFER) {
        c->efer = vmcs_get(v, VMCS_IDX_GUEST_EFER);
    } else {
        /* SDM 27.3.2.1: LMA from the control, LME too while paging. */
        c->efer &= ~(EFER_LMA | EFER_LME);
        if (ia32e)
            c->efer |= EFER_LMA | ((c->cr0 & CR0_PG) ? EFER_LME : 0);
    }
    if (c->vmx.entry_ctls & ENTRY_LOAD_PAT)
        c->pat = vmcs_get(v, VMCS_IDX_GUEST_PAT);
    c->vmx.seg_unchanged = 0;
    for (unsigned s = 0; s < SEG_COUNT; s++) {
        const struct segment *g = &c->seg[s];
        load_segment(&c->seg[s], v, &vmcs_guest_segment[s]);
        c->vmx.seg_entered[s] = (struct vmx_entered_segment){
            g->sel, g->base, g->limit, g->attr};
        bool exact = (vmcs_get(v, vmcs_guest_segment[s].ar) & ~0x1F0FFull) == 0;
        c->vmx.seg_unchanged |= (uint8_t)(exact << s);
    }
    c->gdtr.base = vmcs_get(v, VMCS_IDX_GUEST_GDTR_BASE);
    c->gdtr.limit = (uint16_t)vmcs_get(v, VMCS_IDX_GUEST_GDTR_LIMIT);
    c->idtr.base = vmcs_get(v, VMCS_IDX_GUEST_IDTR_BASE);
    c->idtr.limit = (uint16_t)vmcs_get(v, VMCS_IDX_GUEST_IDTR_LIMIT);
    c->gpr[RSP] = vmcs_get(v, VMCS_IDX_GUEST_RSP);
    c->rip = vmcs_get(v, VMCS_IDX_GUEST_RIP);
    cpu_set_rflags(c, vmcs_get(v, VMCS_IDX_GUEST_RFLAGS));
    /* CPL is the DPL of SS (SDM 27.3.2.2). */
    c->cpl = SEG_ATTR_DPL(c->seg[SEG_SS].attr);
    c->halted = vmcs_get(v, VMCS_IDX_GUEST_ACTIVITY_STATE) == ACTIVITY_HLT;
    uint64_t intr = vmcs_get(v, VMCS_IDX_GUEST_INTERRUPTIBILITY);
    c->interrupt_shadow = intr & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS);
    /* Bit 3 is blocking by NMI, or virtual-NMI blocking under "virtual
     * NMIs" (SDM Vol. 3C 25.4.2, Table 25-3). Then NMIs exit ("virtual
     * NMIs" needs "NMI exiting"), so the guest has no blocking of its
     * own: simplification, the host's blocking is not kept across. */
    bool blocked = intr & INTR_BLOCK_NMI;
    bool virtual_nmis = c->vmx.pin & PIN_VIRTUAL_NMIS;
    c->nmi_blocked = blocked && !virtual_nmis;
    c->vmx.vnmi_blocked = blocked && virtual_nmis;
    c->vmx.iret_unblocked = false;
}

/* ---- Host-side TLB across transitions ----------------------------------
 * Without VPIDs every VM entry and exit invalidates the mappings of VPID
 * 0 (SDM Vol. 3C 29.4.3.1), and so does the modeled TLB; with them it
 * keeps everything. The emulator's own TLB (cpu/tlb.h) is emptied at
 * every transition, except for the guest of the VMCS L0 names in
 * vmx.tlb_keep (vmcs01: L1, or the single-level guest), which runs with
 * a VPID of its own: its translations are set aside at the VM exit
 * (O(1), an epoch) and taken back at the next entry of that VMCS if
 * nothing its translations depend on changed (the context below) and
 * L0 invalidated nothing in between (vmx_tlb_forget). The architecture
 * allows that much caching (29.4.3.1: with VPIDs, VM entries and exits
 * invalidate nothing); the modeled TLB and modeled cycles do not depend
 * on the emulator's TLB at all. */
static struct vmx_tlb_context tlb_context(const struct cpu *c)
{
    return (struct vmx_tlb_context){
        .cr0 = c->cr0, .cr3 = c->cr3, .cr4 = c->cr4, .efer = c->efer,
        .eptp = c->vmx.ept_cfg.eptp, .proc2 = c->vmx.proc2,
        .apic_access_page = c->vmx.apic_access_page,
        .vpid = c->vmx.vpid, .ept = c->vmx.ept,
        .data_breakpoints = c->dbg.data_armed};
}

static bool same_context(const struct vmx_tlb_context *a,
                         const struct vmx_tlb_context *b)
{
    return a->cr0 == b->cr0 && a->cr3 == b->cr3 && a->cr4 == b->cr4 &&
           a->efer == b->efer && a->eptp == b->eptp &&
           a->proc2 == b->proc2 &&
           a->apic_access_page == b->apic_access_page && a->vpid == b->vpid && a->ept == b->ept &&
           a->data_breakpoints == b->data_breakpoints;
}

/* The guest of `v` may keep its host-side translations: L0 asked for it
 * and the guest runs under a VPID other than 0. */
static bool keeps_tlb(const struct cpu *c, const struct vmcs *v)
{
    return v == c->vmx.tlb_keep && (c->vmx.proc2 & PROC2_VPID) &&
           c->vmx.vpid != 0;
}

void vmx_tlb_forget(struct cpu *c)
{
    c->vmx.tlb_kept.held = false;
}

static void modeled_transition_flush(struct cpu *c)
{
    if (!(c->vmx.proc2 & PROC2_VPID))
        tlbm_flush_vpid(c->mtlb, 0);
}

/* At VM exit, with the CPU still in the guest's context `guest`. */
static void exit_flush(struct cpu *c, const struct vmcs *v,
                       const struct vmx_tlb_context *guest)
{
    /* Not with data breakpoints armed: which pages they watch is decided
     * at each fill (debug_update empties the TLB when they change). */
    if (keeps_tlb(c, v) && !guest->data_breakpoints) {
        tlb_set_aside(&c->tlb, &c->vmx.tlb_kept);
        c->vmx.tlb_kept_context = *guest;
    } else {
        mmu_flush_all(c);
    }
    modeled_transition_flush(c);
}

/* At VM entry, guest state loaded. */
static void entry_flush(struct cpu *c, const struct vmcs *v)
{
    struct vmx_tlb_context now = tlb_context(c);
    if (keeps_tlb(c, v) && c->vmx.tlb_kept.held &&
        same_context(&now, &c->vmx.tlb_kept_context))
        tlb_take_back(&c->tlb, &c->vmx.tlb_kept);
    else {
        vmx_tlb_forget(c);
        mmu_flush_all(c);
    }
    modeled_transition_flush(c);
}

/* The memo of v's last passing entry checks; a VMCS not seen before
 * takes the slots in turn, starting with nothing remembered. */
static struct vmx_check_memo *entry_memo(struct cpu *c, const struct vmcs *v)
{
    struct vmx_entry_memo *slots = c->vmx.entry_memo;
    const unsigned n = sizeof c->vmx.entry_memo / sizeof *slots;
    for (unsigned k = 0; k < n; k++)
        if (slots[k].vmcs == v)
            return &slots[k].memo;
    struct vmx_entry_memo *s = &slots[c->vmx.entry_memo_next++ % n];
    s->vmcs = v;
    s->memo.valid = false;
    return &s->memo;
}

/* ---- Host state loaded late -------------------------------------------
 * L0 is C code: between a VM exit and its next VM entry nothing runs on
 * the CPU, and L0's handlers of CPUID, VMREAD and VMWRITE read only the
 * VMCS, the general registers and memory. For the exits L0 names
 * (vmx.defer_vmcs, defer_reasons), loading the host state (28.5) and the
 * mode it sets wait; everything else of the exit is done at once. A VM
 * entry of the same VMCS then loads over every register the host state
 * set, if its controls load DR7 and IA32_DEBUGCTL, IA32_EFER, and
 * IA32_PAT when the exit loaded the host's; so the host state is not
 * loaded at all, and the registers after the entry are the ones the
 * full exit and entry give. Anything else (another VMCS, other controls,
 * a failing entry, L0 stopping) loads the host state first,
 * vmx_exit_complete. Not with data breakpoints armed, whose host-state
 * load flushes the emulator's TLB. Host-side work only: about 400 host
 * instructions of each of L1's trapped VMREADs and VMWRITEs
 * (docs/emulator.md, Speed). */
static bool host_state_deferrable(const struct cpu *c, const struct vmcs *v,
                                  uint32_t reason)
{
    const struct vmx_cpu *x = &c->vmx;
    return v == x->defer_vmcs && reason < 64 &&
           (x->defer_reasons >> reason & 1) && !c->dbg.data_armed &&
           (x->exit_ctls & EXIT_HOST_ADDR_SPACE_SIZE);
}

/* Whether entering `v` overwrites every register a deferred host-state
 * load would have set (load_guest_state, load_host_state). */
static bool reloads_host_state(const struct cpu *c, const struct vmcs *v)
{
    const struct vmx_cpu *x = &c->vmx;
    uint32_t entry = (uint32_t)vmcs_get(v, VMCS_IDX_ENTRY_CONTROLS);
    return x->host_deferred && v == x->vmcs &&
           (entry & ENTRY_LOAD_DEBUG_CONTROLS) && (entry & ENTRY_LOAD_EFER) &&
           ((entry & ENTRY_LOAD_PAT) || !(x->exit_ctls & EXIT_LOAD_PAT));
}

void vmx_vmentry(struct cpu *c, struct vmcs *v, bool launch,
                 struct vmx_entry_result *out)
{
    *out = (struct vmx_entry_result){VMX_ENTERED, 0, NULL};
    if (!reloads_host_state(c, v))
        vmx_exit_complete(c);
    /* SDM Vol. 3C 27.1 / VMLAUNCH, VMRESUME: error 4 and 5. */
    if (launch != (v->launch == VMCS_STATE_CLEAR)) {
        vmx_exit_complete(c);
        out->status = VMX_FAIL_VALID;
        out->error = launch ? 4 : 5;
        out->rule = launch ? "VMLAUNCH of a launched VMCS"
                           : "VMRESUME of a VMCS that is not launched";
        vmcs_set(v, VMCS_IDX_INSN_ERROR, out->error);
        return;
    }
    struct vmx_entry_check check;
    struct vmx_check_env env;
    vmx_check_env_init(&env);
    env.read_phys = vmx_read_host;
    env.ctx = c;
    vmx_check_entry_incremental(v, &env, entry_memo(c, v), &check);
    if (check.outcome != ENTRY_OK)
        vmx_exit_complete(c);
    if (check.outcome == ENTRY_VMFAIL) {
        out->status = VMX_FAIL_VALID;
        out->error = check.vm_instruction_error;
        out->rule = check.rule;
        vmcs_set(v, VMCS_IDX_INSN_ERROR, out->error);
        return;
    }
    if (check.outcome == ENTRY_FAIL_EXIT) {
        /* A VM-entry failure: exit information, host state (28.8). */
        out->status = VMX_ENTRY_FAILURE;
        out->error = check.exit_reason;
        out->rule = check.rule;
        vmcs_set(v, VMCS_IDX_EXIT_REASON,
                 check.exit_reason | VMX_EXIT_REASON_ENTRY_FAILURE);
        vmcs_set(v, VMCS_IDX_EXIT_QUALIFICATION, check.qualification);
        return;
    }
    /* Simplification: the engine loads and stores no MSR lists. L0, its
     * only user, gives its VMCSs none and processes L1's itself; a VMCS
     * with one fails loudly here rather than run without it. */
    if (vmcs_get(v, VMCS_IDX_ENTRY_MSR_LOAD_COUNT) ||
        vmcs_get(v, VMCS_IDX_EXIT_MSR_STORE_COUNT) ||
        vmcs_get(v, VMCS_IDX_EXIT_MSR_LOAD_COUNT)) {
        vmx_exit_complete(c);
        *out = (struct vmx_entry_result){
            VMX_ENTRY_FAILURE, VMX_EXIT_ENTRY_FAIL_MSR_LOAD,
            "MSR lists are not processed by the engine"};
        vmcs_set(v, VMCS_IDX_EXIT_REASON, VMX_EXIT_ENTRY_FAIL_MSR_LOAD |
                                              VMX_EXIT_REASON_ENTRY_FAILURE);
        vmcs_set(v, VMCS_IDX_EXIT_QUALIFICATION, 1);
        return;
    }
    c->vmx.host_deferred = false; /* its registers are all loaded below */
    c->vmx.vmcs = v;
    cache_controls(c, v);
    load_guest_state(c, v);
    v->launch = VMCS_STATE_LAUNCHED;
    c->vmx.nonroot = true;
    c->vmx.exited = false;
    c->vmx.request.pending = false;
    c->exc.raised = false;
    entry_flush(c, v);
    cpu_update_mode(c);
    c->next_event_check = 0;
    inject_event(c, v);
    /* Pending debug exceptions: a #DB now, unless an event was injected
     * (simplification: they are then dropped) or MOV SS blocking holds
     * it for one instruction (SDM Vol. 3C 27.7.3). */
    if (!(vmcs_get(v, VMCS_IDX_ENTRY_INTR_INFO) & INTR_INFO_VALID) &&
        !c->vmx.request.pending)
        debug_load_pending(c, vmcs_get(v, VMCS_IDX_GUEST_PENDING_DBG),
                           vmcs_get(v, VMCS_IDX_GUEST_INTERRUPTIBILITY) &
                               INTR_BLOCK_MOV_SS);
    /* Delivering the injected event may itself cause a VM exit (an EPT
     * violation reading the IDT, a triple fault): it happens at VM entry,
     * before any guest instruction executes (SDM Vol. 3C 27.6.1.2), and
     * cpu_run() then returns at once. */
    if (c->vmx.request.pending)
        vmx_vmexit(c);
}

bool vmx_request_exit(struct cpu *c, uint32_t reason, uint64_t qualification)
{
    struct vmx_exit_request *r = &c->vmx.request;
    if (!r->pending)
        *r = (struct vmx_exit_request){.pending = true, .reason = reason,
                                       .qualification = qualification};
    return false;
}

/* The CPU keeps one interrupt shadow for STI and MOV SS/POP SS. STI
 * opens it only when it sets IF, so a shadow with IF = 0 is MOV SS's;
 * saving it as blocking by STI would fail the next VM entry (SDM Vol.
 * 3C 27.3.1.5: STI blocking needs IF = 1). With IF = 1 either kind
 * blocks interrupts for one instruction: it is saved as STI's. */
static uint64_t shadow_blocking(const struct cpu *c)
{
    if (!c->interrupt_shadow)
        return 0;
    return (cpu_rflags(c) & FL_IF) ? INTR_BLOCK_STI : INTR_BLOCK_MOV_SS;
}

/* Whether segment register `s` is as the VM entry loaded it from fields
 * that then held exactly what save_segment would write: saving it again
 * would write every field with the value it has, which changes nothing.
 * The current VMCS is written by nobody while its guest runs. */
static bool segment_as_entered(const struct cpu *c, unsigned s)
{
    const struct vmx_entered_segment *e = &c->vmx.seg_entered[s];
    const struct segment *g = &c->seg[s];
    return (c->vmx.seg_unchanged >> s & 1) && g->sel == e->sel &&
           g->base == e->base && g->limit == e->limit && g->attr == e->attr;
}

static void save_guest_state(struct cpu *c, struct vmcs *v, uint64_t rip)
{
    vmcs_set(v, VMCS_IDX_GUEST_CR0, c->cr0);
    vmcs_set(v, VMCS_IDX_GUEST_CR3, c->cr3);
    vmcs_set(v, VMCS_IDX_GUEST_CR4, c->cr4);
    /* "Save debug controls" (28.3.1), and the #DB traps still waiting
     * (28.3.4: after a MOV SS, or loaded at entry under its blocking). */
    if (c->vmx.exit_ctls & EXIT_SAVE_DEBUG_CONTROLS) {
        vmcs_set(v, VMCS_IDX_GUEST_DR7, c->dr[7]);
        vmcs_set(v, VMCS_IDX_GUEST_DEBUGCTL, c->dbg.debugctl);
    }
    vmcs_set(v, VMCS_IDX_GUEST_PENDING_DBG, debug_save_pending(c));
    vmcs_set(v, VMCS_IDX_GUEST_SYSENTER_CS, c->sysenter_cs);
    vmcs_set(v, VMCS_IDX_GUEST_SYSENTER_ESP, c->sysenter_esp);
    vmcs_set(v, VMCS_IDX_GUEST_SYSENTER_EIP, c->sysenter_eip);
    if (c->vmx.exit_ctls & EXIT_SAVE_EFER)
        vmcs_set(v, VMCS_IDX_GUEST_EFER, c->efer);
    if (c->vmx.exit_ctls & EXIT_SAVE_PAT)
        vmcs_set(v, VMCS_IDX_GUEST_PAT, c->pat);
    for (unsigned s = 0; s < SEG_COUNT; s++)
        if (!segment_as_entered(c, s))
            save_segment(&c->seg[s], v, &vmcs_guest_segment[s]);
    vmcs_set(v, VMCS_IDX_GUEST_GDTR_BASE, c->gdtr.base);
    vmcs_set(v, VMCS_IDX_GUEST_GDTR_LIMIT, c->gdtr.limit);
    vmcs_set(v, VMCS_IDX_GUEST_IDTR_BASE, c->idtr.base);
    vmcs_set(v, VMCS_IDX_GUEST_IDTR_LIMIT, c->idtr.limit);
    vmcs_set(v, VMCS_IDX_GUEST_RSP, c->gpr[RSP]);
    vmcs_set(v, VMCS_IDX_GUEST_RIP, rip);
    /* RFLAGS computed once: the CPU holds it as a value from here on
     * (flags.h; the same RFLAGS), which the loads of host or guest
     * state then read cheaply. */
    uint64_t rflags = cpu_rflags(c);
    flags_set(&c->flags, rflags);
    vmcs_set(v, VMCS_IDX_GUEST_RFLAGS, rflags);
    /* The "IA-32e mode guest" entry control is saved as EFER.LMA (SDM
     * Vol. 3C 28.3, saving control registers and MSRs). */
    uint64_t entry = vmcs_get(v, VMCS_IDX_ENTRY_CONTROLS);
    vmcs_set(v, VMCS_IDX_ENTRY_CONTROLS,
             (c->efer & EFER_LMA) ? entry | ENTRY_IA32E_MODE_GUEST
                                  : entry & ~(uint64_t)ENTRY_IA32E_MODE_GUEST);
    vmcs_set(v, VMCS_IDX_GUEST_ACTIVITY_STATE,
             c->halted ? ACTIVITY_HLT : ACTIVITY_ACTIVE);
    bool nmi_blocked = (c->vmx.pin & PIN_VIRTUAL_NMIS) ? c->vmx.vnmi_blocked
                                                      : c->nmi_blocked;
    vmcs_set(v, VMCS_IDX_GUEST_INTERRUPTIBILITY,
             shadow_blocking(c) | (nmi_blocked ? INTR_BLOCK_NMI : 0));
    if ((c->vmx.exit_ctls & EXIT_SAVE_PREEMPTION_TIMER) &&
        c->vmx.preemption_deadline != UINT64_MAX) {
        uint64_t left = c->vmx.preemption_deadline > c->cycles
                            ? (c->vmx.preemption_deadline - c->cycles) >> 5
                            : 0;
        vmcs_set(v, VMCS_IDX_PREEMPTION_TIMER, left);
    }
}

static void host_segment(struct segment *s, uint16_t sel, bool code,
                         bool long_code)
{
    if (!code && (sel & 0xFFFC) == 0) {
        *s = (struct segment){.sel = sel, .attr = SEG_ATTR_UNUSABLE};
        return;
    }
    s->sel = sel;
    s->base = 0;
    s->limit = 0xFFFFFFFF;
    s->attr = SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_G | (code ? 0xB : 0x3);
    s->attr |= code && long_code ? SEG_ATTR_L : SEG_ATTR_DB;
}

/* SDM Vol. 3C 28.5: the host-state area, loaded as the architecture
 * says (the "host" is L0, which then reads the exit in C). */
static void load_host_state(struct cpu *c, const struct vmcs *v)
{
    bool host64 = c->vmx.exit_ctls & EXIT_HOST_ADDR_SPACE_SIZE;
    c->cr0 = vmcs_get(v, VMCS_IDX_HOST_CR0) | CR0_ET;
    c->cr3 = vmcs_get(v, VMCS_IDX_HOST_CR3);
    c->cr4 = vmcs_get(v, VMCS_IDX_HOST_CR4);
    c->dr[7] = 0x400; /* and IA32_DEBUGCTL cleared (28.5.1) */
    c->dbg.debugctl = 0;
    debug_update(c);
    c->sysenter_cs = vmcs_get(v, VMCS_IDX_HOST_SYSENTER_CS);
    c->sysenter_esp = vmcs_get(v, VMCS_IDX_HOST_SYSENTER_ESP);
    c->sysenter_eip = vmcs_get(v, VMCS_IDX_HOST_SYSENTER_EIP);
    if (c->vmx.exit_ctls & EXIT_LOAD_EFER)
        c->efer = vmcs_get(v, VMCS_IDX_HOST_EFER);
    else
        c->efer = (c->efer & ~(EFER_LMA | EFER_LME)) |
                  (host64 ? EFER_LMA | EFER_LME : 0);
    if (c->vmx.exit_ctls & EXIT_LOAD_PAT)
        c->pat = vmcs_get(v, VMCS_IDX_HOST_PAT);
    for (unsigned s = 0; s < SEG_COUNT; s++)
        if (s != SEG_LDTR && s != SEG_TR)
            host_segment(&c->seg[s], (uint16_t)vmcs_get(v, host_sel[s]),
                         s == SEG_CS, host64);
    c->seg[SEG_FS].base = vmcs_get(v, VMCS_IDX_HOST_FS_BASE);
    c->seg[SEG_GS].base = vmcs_get(v, VMCS_IDX_HOST_GS_BASE);
    c->seg[SEG_TR] = (struct segment){
        .sel = (uint16_t)vmcs_get(v, VMCS_IDX_HOST_TR_SELECTOR),
        .base = vmcs_get(v, VMCS_IDX_HOST_TR_BASE),
        .limit = 0x67,
        .attr = 0xB | SEG_ATTR_P,
    };
    c->seg[SEG_LDTR] = (struct segment){.attr = SEG_ATTR_UNUSABLE};
    c->gdtr = (struct table_reg){vmcs_get(v, VMCS_IDX_HOST_GDTR_BASE), 0xFFFF};
    c->idtr = (struct table_reg){vmcs_get(v, VMCS_IDX_HOST_IDTR_BASE), 0xFFFF};
    c->gpr[RSP] = vmcs_get(v, VMCS_IDX_HOST_RSP);
    c->rip = vmcs_get(v, VMCS_IDX_HOST_RIP);
    c->next_rip = c->rip;
    cpu_set_rflags(c, FL_FIXED1);
    c->cpl = 0;
}

void vmx_exit_complete(struct cpu *c)
{
    if (!c->vmx.host_deferred)
        return;
    c->vmx.host_deferred = false;
    load_host_state(c, c->vmx.vmcs);
    cpu_update_mode(c);
}

void vmx_vmexit(struct cpu *c)
{
    struct vmx_cpu *x = &c->vmx;
    struct vmcs *v = x->vmcs;
    struct vmx_exit_request r = x->request;
    x->request.pending = false;
    x->string_io_pass = false;
    x->apic_pass = false;
    c->exc.raised = false;
    struct vmx_tlb_context guest = tlb_context(c);

    save_guest_state(c, v, r.trap_like ? c->next_rip : c->rip);
    /* An EPT violation of an IRET that removed NMI blocking says so in
     * its qualification (28.2.1, Table 28-7 bit 12). */
    if (x->iret_unblocked && r.reason == VMX_EXIT_EPT_VIOLATION)
        r.qualification |= EPT_QUAL_NMI_UNBLOCKING;
    x->iret_unblocked = false;
    /* Exit information (SDM Vol. 3C 28.2). */
    vmcs_set(v, VMCS_IDX_EXIT_REASON, r.reason);
    vmcs_set(v, VMCS_IDX_EXIT_QUALIFICATION, r.qualification);
    vmcs_set(v, VMCS_IDX_GUEST_LINEAR_ADDR, r.guest_linear);
    vmcs_set(v, VMCS_IDX_GUEST_PHYSICAL_ADDR, r.guest_physical);
    vmcs_set(v, VMCS_IDX_EXIT_INTR_INFO, r.intr_info);
    vmcs_set(v, VMCS_IDX_EXIT_INTR_ERROR, r.intr_error);
    vmcs_set(v, VMCS_IDX_EXIT_INSN_LEN, x->insn_len);
    vmcs_set(v, VMCS_IDX_EXIT_INSN_INFO, r.insn_info);
    /* An event being delivered when the exit happened (28.2.4). */
    vmcs_set(v, VMCS_IDX_IDT_VECTORING_INFO, x->delivering);
    vmcs_set(v, VMCS_IDX_IDT_VECTORING_ERROR, x->delivering_error);
    x->delivering = 0;
    /* The valid bit of the entry interruption information is cleared by
     * every VM exit (27.6.1 / 28.2.4). */
    vmcs_set(v, VMCS_IDX_ENTRY_INTR_INFO,
             vmcs_get(v, VMCS_IDX_ENTRY_INTR_INFO) & ~(uint64_t)INTR_INFO_VALID);

    /* The host state waits (above) or is loaded now. Where it waits,
     * RIP for a trap-like exit at the next entry is the host's, as a
     * full load leaves it. */
    x->host_deferred = host_state_deferrable(c, v, r.reason);
    if (x->host_deferred)
        c->next_rip = vmcs_get(v, VMCS_IDX_HOST_RIP);
    else
        load_host_state(c, v);
    /* An exit caused by an NMI blocks NMIs; no other exit changes the
     * blocking (SDM Vol. 3C 28.5, "updating non-register state"). */
    if (r.reason == VMX_EXIT_EXCEPTION_NMI &&
        ((r.intr_info >> 8) & 7) == INTR_TYPE_NMI)
        c->nmi_blocked = true;
    x->nonroot = false;
    x->exited = true;
    c->halted = false;
    c->interrupt_shadow = false;
    exit_flush(c, v, &guest);
    if (!x->host_deferred)
        cpu_update_mode(c);
    c->next_event_check = 0;
}
