/* Nested VMX: what L1 sees of VMX, and running L2 for it. */
#include "hv/nested.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "cpu/tlb_charge.h"
#include "ept-compress/ept02.h"
#include "hv/guest_mem.h"
#include "vmcs-shadow/merge.h"
#include "vmcs-shadow/reflect.h"
#include "vmcs-shadow/shadow_fields.h"
#include "vmcs-shadow/vmcs12.h"
#include "vmx/caps.h"
#include "vmx/entry_checks.h"
#include "vmx/vmx.h"
#include "vmx/controls.h"
#include "vmx/exit_cond.h"
#include "vmx/vmcs.h"

/* The secondary controls L1 does not get: VMCS shadowing (L0 does not
 * shadow L1's own VMCS accesses for L2; Turtles does not either) and
 * "virtualize APIC accesses" (L0 would have to merge vmcs12's
 * APIC-access address through EPT01 and reflect reason 44: not done,
 * so L1 sees the control as one the CPU lacks). */
#define L1_HIDDEN_PROC2                                                       \
    ((uint64_t)(PROC2_VMCS_SHADOWING | PROC2_VIRT_APIC_ACCESSES) << 32)

/* The capability MSRs L1 reads: the hardware's, without L1_HIDDEN_PROC2,
 * and IA32_FEATURE_CONTROL locked with VMX on outside SMX. */
bool nested_read_msr(struct hv *h, uint32_t msr, uint64_t *value)
{
    (void)h;
    if (msr == 0x3A) {
        *value = 0x5; /* lock, VMX outside SMX (SDM Vol. 3C 24.7) */
        return true;
    }
    if (!vmx_cap_read(msr, value))
        return false;
    if (msr == MSR_IA32_VMX_PROCBASED_CTLS2)
        *value &= ~L1_HIDDEN_PROC2;
    return true;
}

/* ---- VMCS shadowing for L1 (Turtles sec. 3.5.2) ------------------------ */

/* L0's VMREADs/VMWRITEs of the shadow VMCS while syncing it. */
static void charge_sync(struct hv *h, enum trace_step_kind direction,
                        unsigned fields)
{
    *hv_counter(h, &h->counters.shadow_sync_fields, "shadow_sync_fields") +=
        fields;
    uint64_t cycles = (uint64_t)fields * h->cost->sync_field;
    hv_charge(h, NESTED_L0, cycles);
    hv_step(h, (struct trace_step){.kind = (uint8_t)direction,
                                   .has_value = 1, .value = fields,
                                   .cycles = cycles});
}

/* vmcs12 -> shadow VMCS, so that L1's shadowed VMREADs see vmcs12. */
static void show_in_shadow(struct hv *h)
{
    if (h->nested.shadowing && h->l1.current != NO_VMCS)
        charge_sync(h, STEP_SYNC_TO_SHADOW,
                    shadow_sync_to_shadow(&h->nested.shadow,
                                             &h->l1.vmcs12));
}

void nested_set_current(struct hv *h, uint64_t vmcs12_pa)
{
    h->l1.current = vmcs12_pa;
    vmcs12_dirty_all(h->nested.dirty); /* all of it is new to vmcs02 */
    if (!h->nested.shadowing)
        return;
    /* Hardware VMREADs of a VMCS that is not there fail (VMfailInvalid):
     * the link pointer is all ones while L1 has no current VMCS. */
    vmcs_set(&h->vmcs01, VMCS_IDX_LINK_POINTER,
             vmcs12_pa == NO_VMCS ? ~0ull : h->nested.shadow_pa);
    show_in_shadow(h);
}

void nested_sync_from_shadow(struct hv *h)
{
    if (h->nested.shadowing && h->l1.current != NO_VMCS)
        charge_sync(h, STEP_SYNC_FROM_SHADOW,
                    shadow_sync_from_shadow(&h->l1.vmcs12, h->nested.dirty,
                                               &h->nested.shadow,
                                               vmx_cap_vmwrite_any_field()));
}

static struct vmcs *lookup_shadow(void *ctx, uint64_t pa)
{
    struct hv *h = ctx;
    return pa == h->nested.shadow_pa ? &h->nested.shadow : NULL;
}

int nested_init(struct hv *h, bool shadowing, bool merge_dirty)
{
    h->nested.merge_dirty = merge_dirty;
    h->nested.shadowing = shadowing;
    h->nested.debug = getenv("TURTLES_DEBUG") != NULL;
    if (!shadowing)
        return 0;
    /* The shadow VMCS: a region whose header carries the revision with
     * the shadow-VMCS indicator (SDM Vol. 3C 25.10), for the VM-entry
     * check of the link pointer; its contents live in a struct vmcs. */
    uint64_t region = hv_alloc_page(h);
    uint64_t rd = hv_alloc_page(h), wr = hv_alloc_page(h);
    if (!region || !rd || !wr)
        return -1;
    uint32_t rev = VMCS_REVISION_ID | VMCS_SHADOW_INDICATOR;
    memcpy(h->mem + (region - L0_MEM_BASE), &rev, 4);
    vmcs_init(&h->nested.shadow, rev);
    h->nested.shadow_pa = region;
    shadow_bitmaps_build(h->mem + (rd - L0_MEM_BASE),
                         h->mem + (wr - L0_MEM_BASE),
                         vmx_cap_vmwrite_any_field());
    struct vmcs *v = &h->vmcs01;
    vmcs_set(v, VMCS_IDX_PROC_CONTROLS2,
             vmcs_get(v, VMCS_IDX_PROC_CONTROLS2) | PROC2_VMCS_SHADOWING);
    vmcs_set(v, VMCS_IDX_VMREAD_BITMAP_ADDR, rd);
    vmcs_set(v, VMCS_IDX_VMWRITE_BITMAP_ADDR, wr);
    vmcs_set(v, VMCS_IDX_LINK_POINTER, ~0ull);
    h->c->vmx.lookup_vmcs = lookup_shadow;
    h->c->vmx.lookup_ctx = h;
    return 0;
}

void nested_field_written(struct hv *h, uint64_t encoding)
{
    int i = vmcs_field_index(encoding);
    if (i < 0)
        return;
    vmcs12_dirty_mark(h->nested.dirty, (enum vmcs_index)i);
    /* A field whose VMWRITE exits but whose VMREAD is shadowed: the
     * shadow must show the new value. */
    if (h->nested.shadowing && shadow_field_shadowed((enum vmcs_index)i,
                                                     false, false))
        vmcs_set(&h->nested.shadow, (enum vmcs_index)i,
                 vmcs_get(&h->l1.vmcs12, (enum vmcs_index)i));
}

/* ---- nested VM exit: L2 -> L1 --------------------------------------------- */

static uint64_t get12(struct hv *h, enum vmcs_index i)
{
    return vmcs_get(&h->l1.vmcs12, i);
}

static void set01(struct hv *h, enum vmcs_index i, uint64_t v)
{
    vmcs_set(&h->vmcs01, i, v);
}

/* L1's state after the exit, from vmcs12's host-state area, as a VM
 * exit loads it (SDM Vol. 3C 28.5), into vmcs01's guest-state area. */
static void load_l1_host_state(struct hv *h)
{
    enum { AR_CODE64 = 0xA09B, AR_CODE32 = 0xC09B, AR_DATA = 0xC093,
           AR_TSS_BUSY = 0x008B, AR_UNUSABLE = 0x10000 };
    static const struct {
        enum vmcs_index host_sel, sel, ar, limit, base;
    } data_segs[] = {
        {VMCS_IDX_HOST_ES_SELECTOR, VMCS_IDX_GUEST_ES_SELECTOR,
         VMCS_IDX_GUEST_ES_AR, VMCS_IDX_GUEST_ES_LIMIT, VMCS_IDX_GUEST_ES_BASE},
        {VMCS_IDX_HOST_SS_SELECTOR, VMCS_IDX_GUEST_SS_SELECTOR,
         VMCS_IDX_GUEST_SS_AR, VMCS_IDX_GUEST_SS_LIMIT, VMCS_IDX_GUEST_SS_BASE},
        {VMCS_IDX_HOST_DS_SELECTOR, VMCS_IDX_GUEST_DS_SELECTOR,
         VMCS_IDX_GUEST_DS_AR, VMCS_IDX_GUEST_DS_LIMIT, VMCS_IDX_GUEST_DS_BASE},
        {VMCS_IDX_HOST_FS_SELECTOR, VMCS_IDX_GUEST_FS_SELECTOR,
         VMCS_IDX_GUEST_FS_AR, VMCS_IDX_GUEST_FS_LIMIT, VMCS_IDX_GUEST_FS_BASE},
        {VMCS_IDX_HOST_GS_SELECTOR, VMCS_IDX_GUEST_GS_SELECTOR,
         VMCS_IDX_GUEST_GS_AR, VMCS_IDX_GUEST_GS_LIMIT, VMCS_IDX_GUEST_GS_BASE},
    };
    uint32_t exit_ctls = (uint32_t)get12(h, VMCS_IDX_EXIT_CONTROLS);
    bool host64 = exit_ctls & EXIT_HOST_ADDR_SPACE_SIZE;
    uint64_t cr0 = get12(h, VMCS_IDX_HOST_CR0), cr4 = get12(h, VMCS_IDX_HOST_CR4);
    /* L0 keeps CR0.NE and CR4.VMXE set; L1 reads its own values. */
    set01(h, VMCS_IDX_CR0_READ_SHADOW, cr0 & vmcs_get(&h->vmcs01, VMCS_IDX_CR0_MASK));
    set01(h, VMCS_IDX_CR4_READ_SHADOW, cr4 & vmcs_get(&h->vmcs01, VMCS_IDX_CR4_MASK));
    set01(h, VMCS_IDX_GUEST_CR0, cr0 | CR0_NE);
    set01(h, VMCS_IDX_GUEST_CR3, get12(h, VMCS_IDX_HOST_CR3));
    set01(h, VMCS_IDX_GUEST_CR4, cr4 | CR4_VMXE);
    set01(h, VMCS_IDX_GUEST_DR7, 0x400);
    set01(h, VMCS_IDX_GUEST_DEBUGCTL, 0); /* as DR7 (SDM Vol. 3C 28.5.1) */
    set01(h, VMCS_IDX_GUEST_RSP, get12(h, VMCS_IDX_HOST_RSP));
    set01(h, VMCS_IDX_GUEST_RIP, get12(h, VMCS_IDX_HOST_RIP));
    set01(h, VMCS_IDX_GUEST_RFLAGS, 0x2);
    set01(h, VMCS_IDX_GUEST_SYSENTER_CS, get12(h, VMCS_IDX_HOST_SYSENTER_CS));
    set01(h, VMCS_IDX_GUEST_SYSENTER_ESP, get12(h, VMCS_IDX_HOST_SYSENTER_ESP));
    set01(h, VMCS_IDX_GUEST_SYSENTER_EIP, get12(h, VMCS_IDX_HOST_SYSENTER_EIP));
    uint64_t efer = vmcs_get(&h->vmcs01, VMCS_IDX_GUEST_EFER);
    if (exit_ctls & EXIT_LOAD_EFER)
        efer = get12(h, VMCS_IDX_HOST_EFER);
    else
        efer = (efer & ~(EFER_LMA | EFER_LME)) |
               (host64 ? EFER_LMA | EFER_LME : 0);
    set01(h, VMCS_IDX_GUEST_EFER, efer);
    if (exit_ctls & EXIT_LOAD_PAT)
        set01(h, VMCS_IDX_GUEST_PAT, get12(h, VMCS_IDX_HOST_PAT));
    set01(h, VMCS_IDX_GUEST_CS_SELECTOR, get12(h, VMCS_IDX_HOST_CS_SELECTOR));
    set01(h, VMCS_IDX_GUEST_CS_BASE, 0);
    set01(h, VMCS_IDX_GUEST_CS_LIMIT, 0xFFFFFFFF);
    set01(h, VMCS_IDX_GUEST_CS_AR, host64 ? AR_CODE64 : AR_CODE32);
    for (size_t k = 0; k < sizeof data_segs / sizeof *data_segs; k++) {
        uint64_t sel = get12(h, data_segs[k].host_sel);
        set01(h, data_segs[k].sel, sel);
        set01(h, data_segs[k].ar, (sel & 0xFFFC) ? AR_DATA : AR_UNUSABLE);
        set01(h, data_segs[k].limit, 0xFFFFFFFF);
        set01(h, data_segs[k].base, 0);
    }
    set01(h, VMCS_IDX_GUEST_FS_BASE, get12(h, VMCS_IDX_HOST_FS_BASE));
    set01(h, VMCS_IDX_GUEST_GS_BASE, get12(h, VMCS_IDX_HOST_GS_BASE));
    set01(h, VMCS_IDX_GUEST_TR_SELECTOR, get12(h, VMCS_IDX_HOST_TR_SELECTOR));
    set01(h, VMCS_IDX_GUEST_TR_BASE, get12(h, VMCS_IDX_HOST_TR_BASE));
    set01(h, VMCS_IDX_GUEST_TR_LIMIT, 0x67);
    set01(h, VMCS_IDX_GUEST_TR_AR, AR_TSS_BUSY);
    set01(h, VMCS_IDX_GUEST_LDTR_SELECTOR, 0);
    set01(h, VMCS_IDX_GUEST_LDTR_AR, AR_UNUSABLE);
    set01(h, VMCS_IDX_GUEST_GDTR_BASE, get12(h, VMCS_IDX_HOST_GDTR_BASE));
    set01(h, VMCS_IDX_GUEST_GDTR_LIMIT, 0xFFFF);
    set01(h, VMCS_IDX_GUEST_IDTR_BASE, get12(h, VMCS_IDX_HOST_IDTR_BASE));
    set01(h, VMCS_IDX_GUEST_IDTR_LIMIT, 0xFFFF);
    /* No STI/MOV SS blocking after an exit; blocking by NMI stays as L1
     * had it, and an exit caused by an NMI adds it (SDM Vol. 3C 28.5,
     * "updating non-register state"). */
    enum { BLOCK_BY_NMI = 8, INTR_TYPE_NMI = 2 };
    bool nmi_exit = get12(h, VMCS_IDX_EXIT_REASON) == 0 &&
                    ((get12(h, VMCS_IDX_EXIT_INTR_INFO) >> 8) & 7) ==
                        INTR_TYPE_NMI;
    uint64_t l1_blocking = vmcs_get(&h->vmcs01,
                                    VMCS_IDX_GUEST_INTERRUPTIBILITY);
    set01(h, VMCS_IDX_GUEST_INTERRUPTIBILITY,
          (l1_blocking & BLOCK_BY_NMI) | (nmi_exit ? BLOCK_BY_NMI : 0));
    set01(h, VMCS_IDX_GUEST_ACTIVITY_STATE, 0);
    set01(h, VMCS_IDX_GUEST_PENDING_DBG, 0);
}

/* L1 resumes at its host RIP, after a VM exit or a VM-entry failure:
 * its host state, its VM-exit MSR lists, and the shadow VMCS it reads
 * the exit from. */
static void resume_l1(struct hv *h, bool entry_failure)
{
    h->cur = &h->vmcs01;
    load_l1_host_state(h);
    if (nested_msr_exit(h, entry_failure))
        show_in_shadow(h);
}

/* L2 runs under this VPID in vmcs02, whatever L1 asked for. */
enum { VPID02 = 2 };

/* L1 without "enable VPID" in vmcs12 expects each VM entry and exit
 * between it and L2 to invalidate the mappings of VPID 0 (SDM Vol. 3C
 * 29.4.3.1), which in its view are its own and L2's. L0 runs those
 * under vmcs01's VPID and VPID02, so the modeled TLB drops both (what
 * KVM does with INVVPID for an L1 without VPIDs). */
static void l1_vpid_transition(struct hv *h)
{
    uint32_t proc2 = (get12(h, VMCS_IDX_PROC_CONTROLS) & PROC_SECONDARY_CONTROLS)
                         ? (uint32_t)get12(h, VMCS_IDX_PROC_CONTROLS2)
                         : 0;
    if (proc2 & PROC2_VPID)
        return;
    struct tlb_model *t = h->m->cpu->mtlb;
    tlbm_flush_vpid(t, (uint16_t)vmcs_get(&h->vmcs01, VMCS_IDX_VPID));
    tlbm_flush_vpid(t, VPID02);
    vmx_tlb_forget(h->c); /* and the emulator's TLB, L1's translations */
}

/* The fields a nested VM exit copies from vmcs02 to vmcs12: guest state
 * and exit information, by the type bits 11:10 of their encodings. */
#define TO_VMCS12_(name, enc)                                                 \
    [VMCS_IDX_##name] = ((enc) >> 10 & 3) == VMCS_TYPE_GUEST ||               \
                        ((enc) >> 10 & 3) == VMCS_TYPE_EXIT_INFO,
static const bool copied_at_exit[VMCS_FIELD_COUNT] = {VMCS_FIELDS(TO_VMCS12_)};
#undef TO_VMCS12_

/* Those fields as a list of indexes, made once: an exit then walks only
 * them, not a flag for each of the VMCS's fields. */
struct exit_copy {
    uint16_t index[VMCS_FIELD_COUNT];
    unsigned count;
};

static const struct exit_copy *exit_copy(void)
{
    static struct exit_copy list;
    static bool ready;
    if (!ready) {
        for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
            if (copied_at_exit[i])
                list.index[list.count++] = (uint16_t)i;
        ready = true;
    }
    return &list;
}

void nested_vmexit(struct hv *h, const struct nested_exit *e)
{
    struct vmcs *v12 = &h->l1.vmcs12, *v02 = &h->vmcs02;
    /* L2's state and the hardware's exit information, field by field.
     * Most of them keep their values from one exit to the next: a field
     * equal in both is left alone (every value is within its field's
     * width, vmcs.h, so vmcs_set would neither change nor mark it). */
    const struct exit_copy *list = exit_copy();
    unsigned copied = list->count;
    for (unsigned k = 0; k < copied; k++) {
        enum vmcs_index i = (enum vmcs_index)list->index[k];
        uint64_t value = vmcs_get(v02, i);
        if (value != vmcs_get(v12, i))
            vmcs_set(v12, i, value);
    }
    hv_step(h, (struct trace_step){.kind = STEP_NESTED_EXIT, .has_value = 1,
                                   .value = copied});
    /* What L0 decided L1 sees, where it differs from the hardware exit
     * (an EPT violation of EPT12 found while filling EPT02). */
    if (e) {
        vmcs_set(v12, VMCS_IDX_EXIT_REASON, e->reason);
        vmcs_set(v12, VMCS_IDX_EXIT_QUALIFICATION, e->qualification);
        vmcs_set(v12, VMCS_IDX_GUEST_PHYSICAL_ADDR, e->guest_physical);
    }
    vmcs_set(v12, VMCS_IDX_ENTRY_INTR_INFO,
             get12(h, VMCS_IDX_ENTRY_INTR_INFO) & ~(1ull << 31));
    /* Saved with the guest state: "IA-32e mode guest" = L2's EFER.LMA. */
    uint64_t ia32e = vmcs_get(v02, VMCS_IDX_ENTRY_CONTROLS) &
                     ENTRY_IA32E_MODE_GUEST;
    vmcs_set(v12, VMCS_IDX_ENTRY_CONTROLS,
             (get12(h, VMCS_IDX_ENTRY_CONTROLS) & ~(uint64_t)ENTRY_IA32E_MODE_GUEST) |
                 ia32e);
    l1_vpid_transition(h);
    resume_l1(h, false);
}


bool nested_l1_wants_exception(struct hv *h, unsigned vector, uint32_t error)
{
    return vmx_exception_exits((uint32_t)get12(h, VMCS_IDX_EXCEPTION_BITMAP),
                               vector, error,
                               (uint32_t)get12(h, VMCS_IDX_PF_ERROR_MASK),
                               (uint32_t)get12(h, VMCS_IDX_PF_ERROR_MATCH));
}

void nested_invalidate(struct hv *h, bool vpid, uint64_t type, uint64_t eptp)
{
    /* INVVPID: the software TLB is flushed on every transition anyway.
     * INVEPT: EPT02 caches EPT12 (ept-compress/README.md).
     * The modeled TLB: every VPID of L1's is VPID02 here, and every
     * EPTP of L1's an EPT02 root, so L0 invalidates all of VPID02 (all
     * but its global entries for type 3) or the combined mappings of
     * every EP4TA but EPT01's: more than asked for at times, which the
     * architecture allows (29.4.3.1), never less. */
    struct tlb_model *t = h->m->cpu->mtlb;
    vmx_tlb_forget(h->c); /* more than asked for, as below */
    if (vpid) {
        tlbm_invvpid(t, type == 3 ? 3 : 1, VPID02, 0);
        return;
    }
    tlbm_invept_except(t, tlb_charge_ep4ta(vmcs_get(&h->vmcs01,
                                                    VMCS_IDX_EPT_POINTER)));
    if (h->nested.ept02_ready)
        ept02_invept(&h->nested.ept02, (unsigned)type, eptp);
}

/* ---- nested VM entry: L1's VMLAUNCH / VMRESUME ------------------------- */

static bool read_l1(void *ctx, uint64_t pa, void *dst, unsigned len)
{
    return gmem_read_phys(ctx, pa, dst, len);
}

static bool write_l1(void *ctx, uint64_t pa, const void *src, unsigned len)
{
    return gmem_write_phys(ctx, pa, src, len);
}

/* EPT02's pages come from L0's memory. */
static uint64_t ept02_alloc(void *ctx) { return hv_alloc_page(ctx); }

/* EPT02 may be written through the pointer: the CPU's EPT translation
 * cache forgets what it holds (vmx/ept_cache.h). */
static uint64_t *ept02_page(void *ctx, uint64_t hpa)
{
    struct hv *h = ctx;
    vmx_ept_tables_changed(h->c);
    return (uint64_t *)(h->mem + (hpa - L0_MEM_BASE));
}

static void ept02_free(void *ctx, uint64_t hpa)
{
    (void)ctx;
    (void)hpa; /* L0's bump allocator keeps them for the next fill */
}

static bool l0_ept_read(void *ctx, uint64_t hpa, void *dst, unsigned len)
{
    struct hv *h = ctx;
    return vmx_read_host(h->c, hpa, dst, len);
}

static int ept02_setup(struct hv *h)
{
    uint64_t cap = 0;
    vmx_cap_read(MSR_IA32_VMX_EPT_VPID_CAP, &cap);
    struct ept02_config cfg = {
        .ept01 = {.eptp = vmcs_get(&h->vmcs01, VMCS_IDX_EPT_POINTER),
                  .cap = cap, .maxphyaddr = PHYS_ADDR_BITS,
                  .read = l0_ept_read, .ctx = h},
        .read_l1 = read_l1, .write_l1 = write_l1, .l1_ctx = h,
        .ept12_cap = cap,
        .alloc = ept02_alloc, .page = ept02_page, .free = ept02_free,
        .mem_ctx = h,
    };
    if (ept02_init(&h->nested.ept02, &cfg) != 0)
        return -1;
    h->nested.ept02_ready = true;
    return 0;
}

/* The capabilities L1 is held to: what nested_read_msr reports. */
static const struct vmx_check_caps *l1_caps(void)
{
    static struct vmx_check_caps caps;
    static bool ready;
    if (!ready) {
        vmx_check_caps_default(&caps);
        caps.controls[VMX_CTL_PROC2] &= ~L1_HIDDEN_PROC2;
        ready = true;
    }
    return &caps;
}

/* A VM-entry failure after the checks of the controls and host state
 * (SDM Vol. 3C 27.8): the exit reason and qualification, L1's host
 * state, and the VM-exit MSR-load list; the launch state stays. */
static enum nested_entry entry_failure(struct hv *h, uint32_t reason,
                                       uint64_t qualification)
{
    vmcs_set(&h->l1.vmcs12, VMCS_IDX_EXIT_REASON,
             reason | VMX_EXIT_REASON_ENTRY_FAILURE);
    vmcs_set(&h->l1.vmcs12, VMCS_IDX_EXIT_QUALIFICATION, qualification);
    resume_l1(h, true);
    return NESTED_ENTRY_FAILED;
}

enum nested_entry nested_vmentry(struct hv *h, bool launch, uint32_t *error)
{
    struct l1_vmx *x = &h->l1;
    struct vmcs *v12 = &x->vmcs12;
    if (x->current == NO_VMCS)
        return NESTED_FAIL_INVALID;
    nested_sync_from_shadow(h);
    bool debug = h->nested.debug;
    /* SDM Vol. 2C "VMLAUNCH/VMRESUME": errors 4 and 5. */
    if (launch != (v12->launch == VMCS_STATE_CLEAR)) {
        *error = launch ? 4 : 5;
        if (debug)
            fprintf(stderr, "turtles: L1's %s fails (VM-instruction error "
                    "%u): the VMCS is %s (SDM Vol. 2C VMLAUNCH/VMRESUME)\n",
                    launch ? "VMLAUNCH" : "VMRESUME", *error,
                    launch ? "launched" : "clear");
        return NESTED_FAIL_VALID;
    }
    struct vmx_check_env env;
    vmx_check_env_init(&env);
    env.caps = l1_caps();
    env.current_vmcs = x->current;
    env.read_phys = read_l1;
    env.ctx = h;
    struct vmx_entry_check check;
    vmx_check_entry_incremental(v12, &env, &h->l1.entry_memo, &check);
    if (check.outcome != ENTRY_OK && debug)
        fprintf(stderr, "turtles: L1's %s fails (%s %u): %s (SDM %s)\n",
                launch ? "VMLAUNCH" : "VMRESUME",
                check.outcome == ENTRY_VMFAIL ? "VM-instruction error"
                                              : "VM-entry failure, exit reason",
                check.outcome == ENTRY_VMFAIL ? check.vm_instruction_error
                                              : check.exit_reason,
                check.rule, check.sdm);
    hv_step(h, (struct trace_step){.kind = STEP_ENTRY_CHECKS, .has_value = 1,
                                   .value = check.outcome == ENTRY_OK,
                                   .detail = check.outcome == ENTRY_OK
                                                 ? NULL : check.rule});
    if (check.outcome == ENTRY_VMFAIL) {
        *error = check.vm_instruction_error;
        return NESTED_FAIL_VALID;
    }
    if (check.outcome == ENTRY_FAIL_EXIT)
        return entry_failure(h, check.exit_reason, check.qualification);

    uint32_t proc2 = (get12(h, VMCS_IDX_PROC_CONTROLS) & PROC_SECONDARY_CONTROLS)
                         ? (uint32_t)get12(h, VMCS_IDX_PROC_CONTROLS2)
                         : 0;
    bool ept12 = proc2 & PROC2_EPT;
    if (ept12) {
        if (!h->nested.ept02_ready && ept02_setup(h) != 0) {
            machine_stop(h->m, STOP_INTERNAL, 0, "L0 memory full: no EPT02");
            return NESTED_FAIL_INVALID;
        }
        ept02_switch(&h->nested.ept02, get12(h, VMCS_IDX_EPT_POINTER));
    }
    /* vmcs02: L2's state and L1's controls, L0's host state, and what L0
     * needs: CR0.NE and CR4.VMXE stay set; EPT02 when L1 uses EPT, else
     * EPT01 (L2's physical addresses are then L1's, as L1's shadow page
     * tables say). */
    struct merge_params p = {
        .ept02_pointer = ept12 ? ept02_root(&h->nested.ept02)
                               : vmcs_get(&h->vmcs01, VMCS_IDX_EPT_POINTER),
        .vpid02 = VPID02,
        .l0_cr0_mask = CR0_NE,
        .l0_cr4_mask = CR4_VMXE,
        .l0_exit_controls = (uint32_t)vmcs_get(&h->vmcs01,
                                               VMCS_IDX_EXIT_CONTROLS),
        .use_io_bitmaps = get12(h, VMCS_IDX_PROC_CONTROLS) & PROC_USE_IO_BITMAPS,
        .io_bitmap_a = get12(h, VMCS_IDX_IO_BITMAP_A),
        .io_bitmap_b = get12(h, VMCS_IDX_IO_BITMAP_B),
        .use_msr_bitmap = get12(h, VMCS_IDX_PROC_CONTROLS) & PROC_USE_MSR_BITMAPS,
        .msr_bitmap = get12(h, VMCS_IDX_MSR_BITMAP),
    };
    bool full = !h->nested.merge_dirty || h->vmcs02.launch == VMCS_STATE_CLEAR;
    struct merge_count n = vmcs02_merge(&h->vmcs02, &h->vmcs01, v12, &p,
                                        full ? NULL : h->nested.dirty);
    *hv_counter(h, &h->counters.vmcs02_fields_copied,
                "vmcs02_fields_copied") += n.copied;
    hv_charge(h, NESTED_L0, (uint64_t)n.copied * h->cost->merge_field);
    /* The merge's footprint: each field read from vmcs12 (in L1's memory)
     * and written to vmcs02 takes cache lines L1's handler then misses
     * (docs/cost-model.md, Charging). */
    hv_charge(h, NESTED_L1, (uint64_t)n.copied * h->cost->l1_merge_field);
    hv_step(h, (struct trace_step){
                   .kind = STEP_MERGE, .has_value = 1, .value = n.copied,
                   .cycles = (uint64_t)n.copied * h->cost->merge_field,
                   .detail = full ? "full" : "dirty"});
    vmcs12_dirty_clear(h->nested.dirty);
    /* MSRs load after the guest state, which vmcs02 now holds (27.4). */
    uint32_t bad = nested_msr_entry_load(h);
    if (bad) {
        /* vmcs02 holds what the failed entry loaded: merge it all anew. */
        vmcs12_dirty_all(h->nested.dirty);
        return entry_failure(h, VMX_EXIT_ENTRY_FAIL_MSR_LOAD, bad);
    }
    v12->launch = VMCS_STATE_LAUNCHED;
    h->cur = &h->vmcs02;
    l1_vpid_transition(h);
    return NESTED_ENTERED;
}


/* ---- L2's exits ----------------------------------------------------------- */

/* For the trace: what L0 made of an EPT02 miss. */
static const char *ept02_outcome_text(enum ept02_outcome o)
{
    switch (o) {
    case EPT02_FILLED: return "filled from EPT12 and EPT01";
    case EPT02_REFLECT_VIOLATION: return "EPT12 does not map it: an EPT "
                                         "violation for L1";
    case EPT02_REFLECT_MISCONFIG: return "EPT12 is misconfigured: an EPT "
                                         "misconfiguration for L1";
    case EPT02_L0_FAULT: return "outside L1's RAM: mapped through EPT01";
    default: return "L0's memory is full";
    }
}

/* An EPT violation of EPT02 (L1 uses EPT): fill EPT02 from EPT12 and
 * EPT01, or give L1 the fault its EPT12 has (Turtles sec. 3.3). */
static enum hv_action l2_ept_violation(struct hv *h)
{
    uint64_t q = vmcs_get(&h->vmcs02, VMCS_IDX_EXIT_QUALIFICATION);
    uint64_t gpa = vmcs_get(&h->vmcs02, VMCS_IDX_GUEST_PHYSICAL_ADDR);
    enum ept_access access = (enum ept_access)(q & 7);
    enum ept_origin origin = !(q & (1u << 7)) ? EPT_ORIGIN_NO_LINEAR
                             : (q & (1u << 8)) ? EPT_ORIGIN_LINEAR
                                               : EPT_ORIGIN_GUEST_PAGING;
    struct ept02_result r;
    ept02_fault(&h->nested.ept02, gpa, access, origin, &r);
    hv_step(h, (struct trace_step){.kind = STEP_EPT02_FILL, .has_value = 1,
                                   .value = gpa,
                                   .detail = ept02_outcome_text(r.outcome)});
    switch (r.outcome) {
    case EPT02_FILLED:
        return HV_RESUME;
    case EPT02_REFLECT_VIOLATION: {
        struct nested_exit e = {VMX_EXIT_EPT_VIOLATION, r.qualification, gpa};
        nested_vmexit(h, &e);
        return HV_RESUME;
    }
    case EPT02_REFLECT_MISCONFIG: {
        struct nested_exit e = {VMX_EXIT_EPT_MISCONFIG, 0, gpa};
        nested_vmexit(h, &e);
        return HV_RESUME;
    }
    case EPT02_L0_FAULT:
        /* Outside L1's RAM: MMIO, mapped through EPT01 like L1's own. */
        if (hv_ept_map_unbacked(h, r.l1_gpa) != 0)
            break;
        return HV_RESUME;
    default: /* EPT02_NO_MEMORY */
        break;
    }
    machine_stop(h->m, STOP_INTERNAL, 0,
                 "L0 memory is full: cannot map L2's guest-physical %#llx",
                 (unsigned long long)gpa);
    return HV_STOP;
}

/* An L2 register as the exit left it: RSP is in vmcs02. */
static uint64_t l2_gpr(struct hv *h, unsigned reg)
{
    return reg == RSP ? vmcs_get(&h->vmcs02, VMCS_IDX_GUEST_RSP)
                      : h->c->gpr[reg];
}

enum hv_action nested_l2_exit(struct hv *h, uint32_t reason)
{
    const struct vmcs *v02 = &h->vmcs02;
    bool ept12 = h->nested.ept02_ready &&
                 vmcs_get(v02, VMCS_IDX_EPT_POINTER) ==
                     ept02_root(&h->nested.ept02);
    if ((reason == VMX_EXIT_EPT_VIOLATION ||
         reason == VMX_EXIT_EPT_MISCONFIG) && ept12)
        return l2_ept_violation(h);
    /* Who handles it: vmcs-shadow/reflect.c. */
    uint64_t q = vmcs_get(v02, VMCS_IDX_EXIT_QUALIFICATION);
    uint32_t info = (uint32_t)vmcs_get(v02, VMCS_IDX_EXIT_INSN_INFO);
    struct exit_info e = {
        .reason = reason,
        .qualification = q,
        .intr_info = (uint32_t)vmcs_get(v02, VMCS_IDX_EXIT_INTR_INFO),
        .intr_error = (uint32_t)vmcs_get(v02, VMCS_IDX_EXIT_INTR_ERROR),
        .cr_source = l2_gpr(h, (q >> 8) & 0xF),
        .msr = (uint32_t)h->c->gpr[RCX],
        .vmcs_field = l2_gpr(h, (info >> 28) & 0xF),
    };
    /* L0 keeps nothing for itself while L2 runs: the APIC is passed
     * through and L0 arms no timer. */
    static const struct l0_exit_wants l0;
    if (reflect_exit(&l0, &h->l1.vmcs12, &e, read_l1, h) == REFLECT_TO_L1) {
        hv_step(h, (struct trace_step){
                       .kind = STEP_REFLECT,
                       .detail = "L1 asked for it in vmcs12, or it always "
                                 "exits"});
        nested_vmexit(h, NULL);
        return HV_RESUME;
    }
    hv_step(h, (struct trace_step){
                   .kind = STEP_L0_HANDLES,
                   .detail = "only L0's additions to vmcs02 made it exit"});
    /* An exit only L0's additions to vmcs02 caused (CR0.NE, CR4.VMXE):
     * L0 handles it for L2 as for any guest. */
    return hv_handler_for(h, reason)(h);
}
