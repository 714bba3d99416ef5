/* The vmcs02 merge: one rule per field (the rule table below), and one
 * function per field L0 computes. Sections cited are the SDM Vol. 3C's and
 * the Turtles paper's (OSDI 2010). */
#include "vmcs-shadow/merge.h"

#include "cpu/cpu.h" /* CR0_PG, EFER_*, VEC_PF: names only */
#include "vmcs-shadow/vmcs12.h"
#include "vmx/controls.h"

/* ---- control words: which bits come from whom ----
 *
 * The default is OR: an exiting control set by either level is set in
 * vmcs02, so L2 exits to L0 whenever L0 or L1 wants the exit and the
 * reflection policy (reflect.h) sends it on (Turtles sec. 3.2). The
 * default1 bits are set in both words, so the OR keeps them. The
 * exceptions: */
struct control_rule {
    enum vmcs_index index;
    /* Enabling controls: L2 sees the feature only if L1 gave it, so they
     * are L1's alone (L0 may enable them for L1 in vmcs01). */
    uint32_t l1_only;
    /* Set by L0 from its own state (functions below), never OR-ed. */
    uint32_t computed;
    /* Never in vmcs02: features this CPU does not offer (caps.h) or whose
     * structures are L1 addresses the CPU cannot use. */
    uint32_t never;
};

static const struct control_rule control_rules[] = {
    {VMCS_IDX_PIN_CONTROLS,
     /* Virtual NMIs change NMI blocking as L2 sees it; the preemption
      * timer counts down L1's value (L0 does not use it in nested mode). */
     .l1_only = PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER,
     .never = PIN_POSTED_INTR},
    {VMCS_IDX_PROC_CONTROLS,
     .computed = PROC_USE_IO_BITMAPS | PROC_UNCOND_IO_EXITING |
                 PROC_USE_MSR_BITMAPS | PROC_TSC_OFFSETTING |
                 PROC_SECONDARY_CONTROLS,
     /* The TPR shadow's virtual-APIC page is an L1 address; neither it nor
      * tertiary controls are offered. */
     .never = PROC_TPR_SHADOW | PROC_TERTIARY_CONTROLS},
    {VMCS_IDX_PROC_CONTROLS2,
     .l1_only = PROC2_UNRESTRICTED_GUEST | PROC2_RDTSCP | PROC2_INVPCID |
                PROC2_XSAVES,
     .computed = PROC2_EPT | PROC2_VPID,
     /* APIC virtualization, VM functions, PML, #VE, PT and TSC scaling are
      * not offered; L1's shadow VMCS (for an L3) is an L1 address: L2's
      * VMREAD/VMWRITE exit to L0 and reflect.c reads L1's bitmaps. */
     .never = PROC2_VIRT_APIC_ACCESSES | PROC2_VIRT_X2APIC |
              PROC2_APIC_REGISTER_VIRT | PROC2_VIRT_INTR_DELIVERY |
              PROC2_VMFUNC | PROC2_VMCS_SHADOWING | PROC2_PML |
              PROC2_EPT_VIOLATION_VE | PROC2_CONCEAL_FROM_PT |
              PROC2_MODE_BASED_EPT_EXEC | PROC2_TSC_SCALING},
};

static uint32_t combine(enum vmcs_index word, uint32_t l1, uint32_t l0)
{
    for (unsigned k = 0; k < sizeof control_rules / sizeof control_rules[0];
         k++) {
        const struct control_rule *r = &control_rules[k];
        if (r->index != word)
            continue;
        uint32_t drop = r->computed | r->never;
        return (l1 & ~drop) | (l0 & ~(drop | r->l1_only));
    }
    return l1 | l0;
}

/* ---- the fields L0 computes at every entry ---- */

struct merge_in {
    const struct vmcs *v01, *v12;
    const struct merge_params *p;
};

static uint64_t get12(const struct merge_in *in, enum vmcs_index i)
{
    return vmcs_get(in->v12, i);
}

/* Secondary controls count only with "activate secondary controls"
 * (SDM 25.6.2). */
static uint32_t proc2_of12(const struct merge_in *in)
{
    return get12(in, VMCS_IDX_PROC_CONTROLS) & PROC_SECONDARY_CONTROLS
               ? (uint32_t)get12(in, VMCS_IDX_PROC_CONTROLS2)
               : 0;
}

static uint64_t pin02(const struct merge_in *in)
{
    return combine(VMCS_IDX_PIN_CONTROLS,
                   (uint32_t)get12(in, VMCS_IDX_PIN_CONTROLS), in->p->l0_pin);
}

/* EPT always: L2's guest-physical addresses go through EPT02, whether L1
 * uses EPT12 or shadow paging (Turtles sec. 3.3). */
static uint64_t proc2_02(const struct merge_in *in)
{
    uint32_t v = combine(VMCS_IDX_PROC_CONTROLS2, proc2_of12(in),
                         in->p->l0_proc2);
    return v | PROC2_EPT | (in->p->vpid02 ? PROC2_VPID : 0);
}

static bool l1_offsets_tsc(const struct merge_in *in)
{
    return get12(in, VMCS_IDX_PROC_CONTROLS) & PROC_TSC_OFFSETTING;
}

static bool l0_offsets_tsc(const struct merge_in *in)
{
    return vmcs_get(in->v01, VMCS_IDX_PROC_CONTROLS) & PROC_TSC_OFFSETTING;
}

/* I/O: L0's combined bitmaps, or every I/O exits to L0, which asks the
 * reflection policy (KVM does the latter). MSRs likewise. */
static uint64_t proc02(const struct merge_in *in)
{
    const struct merge_params *p = in->p;
    uint32_t v = combine(VMCS_IDX_PROC_CONTROLS,
                         (uint32_t)get12(in, VMCS_IDX_PROC_CONTROLS),
                         p->l0_proc);
    v |= p->use_io_bitmaps ? PROC_USE_IO_BITMAPS : PROC_UNCOND_IO_EXITING;
    v |= p->use_msr_bitmap ? PROC_USE_MSR_BITMAPS : 0;
    v |= l1_offsets_tsc(in) || l0_offsets_tsc(in) ? PROC_TSC_OFFSETTING : 0;
    v |= proc2_02(in) ? PROC_SECONDARY_CONTROLS : 0;
    return v;
}

/* Exits from L2 go to L0: its exit controls. L1's exit controls govern
 * the nested VM exit, which L0 performs from vmcs12. vmcs02 saves the
 * timer when L1 wants the value saved (28.3.2), so L0 can give it back. */
static uint64_t exit02(const struct merge_in *in)
{
    return in->p->l0_exit_controls |
           (get12(in, VMCS_IDX_EXIT_CONTROLS) & EXIT_SAVE_PREEMPTION_TIMER);
}

/* L1's entry controls, SMM ones aside (SMM is not modeled), and vmcs02
 * always loads EFER, PAT and the debug controls: the CPU holds L0's host
 * state when L0 enters L2, so whatever L1 did not ask to load must be
 * loaded from L1's own values (guest_loaded below). */
static uint64_t entry02(const struct merge_in *in)
{
    uint32_t l1 = (uint32_t)get12(in, VMCS_IDX_ENTRY_CONTROLS);
    return (l1 & ~(ENTRY_TO_SMM | ENTRY_DEACTIVATE_DUAL_MONITOR)) |
           ENTRY_LOAD_EFER | ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG_CONTROLS;
}

/* The value L2 starts with: vmcs12's if L1's entry control loads it,
 * else L1's current one, which VM entry would have left in place. */
static uint64_t guest_loaded(const struct merge_in *in, uint32_t entry_bit,
                             enum vmcs_index i)
{
    return get12(in, VMCS_IDX_ENTRY_CONTROLS) & entry_bit
               ? get12(in, i)
               : vmcs_get(in->v01, i);
}

/* SDM 27.3.2.1: without "load IA32_EFER", LMA takes "IA-32e mode guest",
 * and so does LME if the guest's CR0.PG is 1. */
static uint64_t efer02(const struct merge_in *in)
{
    uint64_t efer = guest_loaded(in, ENTRY_LOAD_EFER, VMCS_IDX_GUEST_EFER);
    if (get12(in, VMCS_IDX_ENTRY_CONTROLS) & ENTRY_LOAD_EFER)
        return efer;
    bool ia32e = get12(in, VMCS_IDX_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST;
    uint64_t set = EFER_LMA;
    if (get12(in, VMCS_IDX_GUEST_CR0) & CR0_PG)
        set |= EFER_LME;
    return ia32e ? efer | set : efer & ~set;
}

static uint64_t pat02(const struct merge_in *in)
{
    return guest_loaded(in, ENTRY_LOAD_PAT, VMCS_IDX_GUEST_PAT);
}

static uint64_t dr7_02(const struct merge_in *in)
{
    return guest_loaded(in, ENTRY_LOAD_DEBUG_CONTROLS, VMCS_IDX_GUEST_DR7);
}

static uint64_t debugctl02(const struct merge_in *in)
{
    return guest_loaded(in, ENTRY_LOAD_DEBUG_CONTROLS,
                        VMCS_IDX_GUEST_DEBUGCTL);
}

static bool l0_wants_all_pf(const struct merge_in *in)
{
    return in->p->l0_exception_bitmap & (1u << VEC_PF);
}

static uint64_t exception_bitmap02(const struct merge_in *in)
{
    return get12(in, VMCS_IDX_EXCEPTION_BITMAP) | in->p->l0_exception_bitmap;
}

/* #PF error-code mask and match (25.6.3): if L0 wants every #PF, mask =
 * match = 0 with the #PF bit set makes every #PF exit; otherwise the #PF
 * bit is L1's and so are mask and match (KVM does the same). */
static uint64_t pf_mask02(const struct merge_in *in)
{
    return l0_wants_all_pf(in) ? 0 : get12(in, VMCS_IDX_PF_ERROR_MASK);
}

static uint64_t pf_match02(const struct merge_in *in)
{
    return l0_wants_all_pf(in) ? 0 : get12(in, VMCS_IDX_PF_ERROR_MATCH);
}

static uint64_t cr0_mask02(const struct merge_in *in)
{
    return get12(in, VMCS_IDX_CR0_MASK) | in->p->l0_cr0_mask;
}

static uint64_t cr4_mask02(const struct merge_in *in)
{
    return get12(in, VMCS_IDX_CR4_MASK) | in->p->l0_cr4_mask;
}

/* What L2 must read (26.3 "MOV from CR0"): L1's shadow where L1 owns the
 * bit, and where only L0 owns it the value L1 gave the guest CR (KVM's
 * nested_read_cr0). */
static uint64_t read_shadow(const struct merge_in *in, enum vmcs_index mask,
                            enum vmcs_index shadow, enum vmcs_index guest)
{
    uint64_t m = get12(in, mask);
    return (get12(in, shadow) & m) | (get12(in, guest) & ~m);
}

static uint64_t cr0_shadow02(const struct merge_in *in)
{
    return read_shadow(in, VMCS_IDX_CR0_MASK, VMCS_IDX_CR0_READ_SHADOW,
                       VMCS_IDX_GUEST_CR0);
}

static uint64_t cr4_shadow02(const struct merge_in *in)
{
    return read_shadow(in, VMCS_IDX_CR4_MASK, VMCS_IDX_CR4_READ_SHADOW,
                       VMCS_IDX_GUEST_CR4);
}

/* L2's TSC is L1's TSC plus L1's offset (25.6.5; Turtles sec. 3.2). */
static uint64_t tsc_offset02(const struct merge_in *in)
{
    uint64_t off = l1_offsets_tsc(in) ? get12(in, VMCS_IDX_TSC_OFFSET) : 0;
    if (l0_offsets_tsc(in))
        off += vmcs_get(in->v01, VMCS_IDX_TSC_OFFSET);
    return off;
}

static uint64_t ept_pointer02(const struct merge_in *in)
{
    return in->p->ept02_pointer;
}

static uint64_t vpid02(const struct merge_in *in)
{
    return in->p->vpid02;
}

static uint64_t io_a02(const struct merge_in *in)
{
    return in->p->use_io_bitmaps ? in->p->io_bitmap_a : 0;
}

static uint64_t io_b02(const struct merge_in *in)
{
    return in->p->use_io_bitmaps ? in->p->io_bitmap_b : 0;
}

static uint64_t msr_bitmap02(const struct merge_in *in)
{
    return in->p->use_msr_bitmap ? in->p->msr_bitmap : 0;
}

/* vmcs02 has no shadow VMCS (27.3.1.5: all ones). */
static uint64_t no_link(const struct merge_in *in)
{
    (void)in;
    return ~0ull;
}

/* L1's MSR-load/store lists live in L1 memory: L0 processes them itself
 * around the nested entry and exit (27.4, 28.4), vmcs02 has none. */
static uint64_t zero(const struct merge_in *in)
{
    (void)in;
    return 0;
}

/* Every field L0 computes, and how. */
#define L0_FIELDS(X)                                                          \
    X(PIN_CONTROLS, pin02)                                                    \
    X(PROC_CONTROLS, proc02)                                                  \
    X(PROC_CONTROLS2, proc2_02)                                               \
    X(EXIT_CONTROLS, exit02)                                                  \
    X(ENTRY_CONTROLS, entry02)                                                \
    X(EXCEPTION_BITMAP, exception_bitmap02)                                   \
    X(PF_ERROR_MASK, pf_mask02)                                               \
    X(PF_ERROR_MATCH, pf_match02)                                             \
    X(CR0_MASK, cr0_mask02)                                                   \
    X(CR4_MASK, cr4_mask02)                                                   \
    X(CR0_READ_SHADOW, cr0_shadow02)                                          \
    X(CR4_READ_SHADOW, cr4_shadow02)                                          \
    X(TSC_OFFSET, tsc_offset02)                                               \
    X(EPT_POINTER, ept_pointer02)                                             \
    X(VPID, vpid02)                                                           \
    X(IO_BITMAP_A, io_a02)                                                    \
    X(IO_BITMAP_B, io_b02)                                                    \
    X(MSR_BITMAP, msr_bitmap02)                                               \
    X(LINK_POINTER, no_link)                                                  \
    X(EXIT_MSR_STORE_COUNT, zero)                                             \
    X(EXIT_MSR_LOAD_COUNT, zero)                                              \
    X(ENTRY_MSR_LOAD_COUNT, zero)                                             \
    X(GUEST_EFER, efer02)                                                     \
    X(GUEST_PAT, pat02)                                                       \
    X(GUEST_DR7, dr7_02)                                                      \
    X(GUEST_DEBUGCTL, debugctl02)

static const struct {
    enum vmcs_index index;
    uint64_t (*compute)(const struct merge_in *);
} l0_fields[] = {
#define L0_FIELD_(name, fn) {VMCS_IDX_##name, fn},
    L0_FIELDS(L0_FIELD_)
#undef L0_FIELD_
};

/* ---- the rule of every field ---- */

enum merge_rule {
    RULE_BY_TYPE = 0, /* guest state: copy; host: vmcs01; the rest: skip */
    RULE_COPY,
    RULE_L0,
    RULE_HOST, /* vmcs01's host area: a VM exit from L2 goes to L0 */
    RULE_SKIP,
};

static const uint8_t rule_table[VMCS_FIELD_COUNT] = {
#define L0_RULE_(name, fn) [VMCS_IDX_##name] = RULE_L0,
    L0_FIELDS(L0_RULE_)
#undef L0_RULE_
    /* Controls copied as L1 wrote them: they mean the same to the CPU
     * under L0 as under L1 (CR3 targets: L0 never needs CR3 exits, since
     * vmcs02 always has EPT). */
    [VMCS_IDX_CR3_TARGET_COUNT] = RULE_COPY,
    [VMCS_IDX_CR3_TARGET0] = RULE_COPY,
    [VMCS_IDX_CR3_TARGET1] = RULE_COPY,
    [VMCS_IDX_CR3_TARGET2] = RULE_COPY,
    [VMCS_IDX_CR3_TARGET3] = RULE_COPY,
    [VMCS_IDX_ENTRY_INTR_INFO] = RULE_COPY, /* L1 injects into L2 */
    [VMCS_IDX_ENTRY_EXCEPTION_ERROR] = RULE_COPY,
    [VMCS_IDX_ENTRY_INSN_LEN] = RULE_COPY,
    [VMCS_IDX_TPR_THRESHOLD] = RULE_COPY,
    [VMCS_IDX_PLE_GAP] = RULE_COPY,
    [VMCS_IDX_PLE_WINDOW] = RULE_COPY,
};

static enum merge_rule rule_of(enum vmcs_index i)
{
    if (rule_table[i] != RULE_BY_TYPE)
        return (enum merge_rule)rule_table[i];
    switch (vmcs_encoding_type(vmcs_field_at(i)->encoding)) {
    case VMCS_TYPE_GUEST: return RULE_COPY;
    case VMCS_TYPE_HOST: return RULE_HOST;
    default: return RULE_SKIP; /* exit information, unpassed controls */
    }
}

/* The fields of RULE_COPY (one bit per dense index) and of RULE_HOST (a
 * list), worked out once: at every entry, rule_of's call of
 * vmcs_field_at and switch for each of the 181 fields cost more than
 * the copies. */
struct merge_plan {
    uint64_t copy[VMCS12_DIRTY_WORDS];
    uint8_t host[VMCS_FIELD_COUNT];
    unsigned hosts;
};

static const struct merge_plan *plan(void)
{
    _Static_assert(VMCS_FIELD_COUNT <= 256, "host indices are bytes");
    static struct merge_plan pl;
    static bool ready;
    if (!ready) {
        for (size_t k = 0; k < VMCS_FIELD_COUNT; k++) {
            enum merge_rule r = rule_of((enum vmcs_index)k);
            if (r == RULE_COPY)
                pl.copy[k / 64] |= 1ull << (k % 64);
            else if (r == RULE_HOST)
                pl.host[pl.hosts++] = (uint8_t)k;
        }
        ready = true;
    }
    return &pl;
}

struct merge_count vmcs02_merge(struct vmcs *v02, const struct vmcs *v01,
                                const struct vmcs *v12,
                                const struct merge_params *p,
                                const uint64_t *dirty)
{
    struct merge_count n = {0, 0};
    const struct merge_plan *pl = plan();
    for (unsigned w = 0; w < VMCS12_DIRTY_WORDS; w++)
        for (uint64_t f = pl->copy[w] & (dirty ? dirty[w] : ~0ull); f;
             f &= f - 1) {
            enum vmcs_index i =
                (enum vmcs_index)(w * 64 + (unsigned)__builtin_ctzll(f));
            vmcs_set(v02, i, vmcs_get(v12, i));
            n.copied++;
        }
    for (unsigned k = 0; k < pl->hosts; k++) {
        enum vmcs_index i = (enum vmcs_index)pl->host[k];
        vmcs_set(v02, i, vmcs_get(v01, i));
        n.computed++;
    }
    const struct merge_in in = {v01, v12, p};
    for (unsigned k = 0; k < sizeof l0_fields / sizeof l0_fields[0]; k++) {
        vmcs_set(v02, l0_fields[k].index, l0_fields[k].compute(&in));
        n.computed++;
    }
    return n;
}

void merge_bitmap_or(uint8_t *dst, const uint8_t *src, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        dst[k] |= src[k];
}
