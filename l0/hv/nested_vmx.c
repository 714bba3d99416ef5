/* The VMX instructions L1 executes, emulated by L0 (--mode nested): L1
 * runs in VMX non-root operation, so each of them exits to L0, which
 * gives the architectural result: success, VMfailInvalid, VMfailValid
 * with the VM-instruction error (SDM Vol. 2C, the instruction pages, and
 * Vol. 3C 31.2 / 31.4), or an exception. Memory operands are decoded
 * from the exit qualification and the VM-exit instruction information,
 * as a real L0 must (SDM Vol. 3C 28.2.5). */
#include "hv/nested.h"

#include "cpu/cpu.h"
#include "cpu/ops.h"
#include "hv/guest_mem.h"
#include "machine.h"
#include "vmx/caps.h"
#include "vmx/exit_cond.h"
#include "vmx/vmcs.h"

enum {
    VMERR_VMCLEAR_BAD_ADDRESS = 2,
    VMERR_VMCLEAR_VMXON_POINTER = 3,
    VMERR_VMPTRLD_BAD_ADDRESS = 9,
    VMERR_VMPTRLD_VMXON_POINTER = 10,
    VMERR_VMPTRLD_BAD_REVISION = 11,
    VMERR_VMXON_IN_ROOT = 15,
    VMERR_INVALID_INVEPT_OPERAND = 28,
};

#define MAXPHY_MASK (~((1ull << PHYS_ADDR_BITS) - 1))

static uint64_t field(struct hv *h, enum vmcs_index i)
{
    return vmcs_get(&h->vmcs01, i);
}

/* L1's general registers: in the CPU, except RSP (in vmcs01). */
static uint64_t l1_gpr(struct hv *h, unsigned reg)
{
    return reg == RSP ? field(h, VMCS_IDX_GUEST_RSP) : h->c->gpr[reg];
}

static void set_l1_gpr(struct hv *h, unsigned reg, uint64_t value)
{
    if (reg == RSP)
        vmcs_set(&h->vmcs01, VMCS_IDX_GUEST_RSP, value);
    else
        h->c->gpr[reg] = value;
}

/* ---- results (SDM Vol. 3C 31.2) ---------------------------------------- */

static void set_flags(struct hv *h, uint64_t arith)
{
    uint64_t f = field(h, VMCS_IDX_GUEST_RFLAGS);
    vmcs_set(&h->vmcs01, VMCS_IDX_GUEST_RFLAGS, (f & ~FL_ARITH) | arith);
}

static enum hv_action succeed(struct hv *h)
{
    set_flags(h, 0);
    hv_skip_instruction(h);
    return HV_RESUME;
}

static enum hv_action fail_invalid(struct hv *h)
{
    set_flags(h, FL_CF);
    hv_skip_instruction(h);
    return HV_RESUME;
}

/* VMfailValid if there is a current VMCS (the error goes into it),
 * VMfailInvalid otherwise. */
static enum hv_action fail(struct hv *h, uint32_t error)
{
    struct l1_vmx *x = &h->l1;
    if (x->current == NO_VMCS)
        return fail_invalid(h);
    vmcs_set(&x->vmcs12, VMCS_IDX_INSN_ERROR, error);
    set_flags(h, FL_ZF);
    hv_skip_instruction(h);
    return HV_RESUME;
}

static enum hv_action raise(struct hv *h, unsigned vector)
{
    hv_inject_exception(h, vector, 0);
    return HV_RESUME;
}

/* #UD outside VMX operation or with CR4.VMXE clear as L1 sees it (the
 * read shadow), #GP(0) above CPL 0: the checks that come before any
 * VMX-specific outcome. */
static bool check_vmx_operation(struct hv *h, bool vmxon_insn,
                                enum hv_action *out)
{
    bool vmxe = field(h, VMCS_IDX_CR4_READ_SHADOW) & CR4_VMXE;
    unsigned cpl = (unsigned)(field(h, VMCS_IDX_GUEST_SS_AR) >> 5) & 3;
    if (!vmxe || (!vmxon_insn && !h->l1.vmxon)) {
        *out = raise(h, VEC_UD);
        return false;
    }
    if (cpl != 0) {
        *out = raise(h, VEC_GP);
        return false;
    }
    return true;
}

/* ---- operands (SDM Vol. 3C 28.2.5, Table 28-13) ------------------------ */

struct operand_info {
    bool is_register;
    unsigned reg1, reg2;
    uint64_t linear; /* a memory operand's linear address */
};

static struct operand_info decode_operand(struct hv *h)
{
    uint32_t info = (uint32_t)field(h, VMCS_IDX_EXIT_INSN_INFO);
    uint64_t disp = field(h, VMCS_IDX_EXIT_QUALIFICATION);
    struct operand_info o = {
        .is_register = info & (1u << 10),
        .reg1 = (info >> 3) & 0xF,
        .reg2 = (info >> 28) & 0xF,
    };
    if (o.is_register)
        return o;
    static const uint64_t addr_mask[] = {0xFFFF, 0xFFFFFFFF, ~0ull};
    static const enum vmcs_index seg_base[] = {
        VMCS_IDX_GUEST_ES_BASE, VMCS_IDX_GUEST_CS_BASE, VMCS_IDX_GUEST_SS_BASE,
        VMCS_IDX_GUEST_DS_BASE, VMCS_IDX_GUEST_FS_BASE, VMCS_IDX_GUEST_GS_BASE};
    unsigned asize = (info >> 7) & 7, seg = (info >> 15) & 7;
    uint64_t ea = disp;
    if (!(info & (1u << 22)))
        ea += l1_gpr(h, (info >> 18) & 0xF) << (info & 3);
    if (!(info & (1u << 27)))
        ea += l1_gpr(h, (info >> 23) & 0xF);
    ea &= addr_mask[asize < 3 ? asize : 2];
    /* In 64-bit mode only FS and GS have bases (SDM Vol. 3A 3.4.4). */
    bool code64 = field(h, VMCS_IDX_GUEST_CS_AR) & SEG_ATTR_L;
    if (seg < 6 && (!code64 || seg == SEG_FS || seg == SEG_GS))
        ea += field(h, seg_base[seg]);
    o.linear = ea;
    return o;
}

/* The 64-bit physical address operand of VMXON/VMCLEAR/VMPTRLD. */
static bool read_pointer(struct hv *h, uint64_t *ptr)
{
    struct operand_info o = decode_operand(h);
    *ptr = 0;
    return gmem_read(h, o.linear, ptr, 8);
}

static bool bad_pointer(uint64_t p)
{
    return (p & 0xFFF) || (p & MAXPHY_MASK);
}

static uint32_t revision_at(struct hv *h, uint64_t pa)
{
    uint32_t r = ~0u;
    gmem_read_phys(h, pa, &r, 4);
    return r;
}

/* Writes the cached vmcs12 back to L1 memory. */
static void flush_current(struct hv *h)
{
    struct l1_vmx *x = &h->l1;
    if (x->current == NO_VMCS)
        return;
    nested_sync_from_shadow(h);
    uint8_t region[VMCS_REGION_SIZE];
    vmcs_store(&x->vmcs12, region);
    gmem_write_phys(h, x->current, region, sizeof region);
}

/* ---- the instructions ---------------------------------------------------- */

/* Whether L1's CR0 and CR4 respect the bits VMX operation fixes (SDM
 * Vol. 3C 24.8, the IA32_VMX_CR0/CR4_FIXED MSRs). */
static bool l1_crs_fit_vmx(struct hv *h)
{
    static const struct {
        enum vmcs_index real, mask, shadow;
        uint32_t fixed0, fixed1;
    } crs[] = {
        {VMCS_IDX_GUEST_CR0, VMCS_IDX_CR0_MASK, VMCS_IDX_CR0_READ_SHADOW,
         MSR_IA32_VMX_CR0_FIXED0, MSR_IA32_VMX_CR0_FIXED1},
        {VMCS_IDX_GUEST_CR4, VMCS_IDX_CR4_MASK, VMCS_IDX_CR4_READ_SHADOW,
         MSR_IA32_VMX_CR4_FIXED0, MSR_IA32_VMX_CR4_FIXED1},
    };
    for (size_t k = 0; k < sizeof crs / sizeof *crs; k++) {
        /* As L1 sees it: L0's bits from the read shadow. */
        uint64_t cr = vmx_cr_read_shadowed(field(h, crs[k].real),
                                           field(h, crs[k].mask),
                                           field(h, crs[k].shadow));
        uint64_t must = 0, may = 0;
        nested_read_msr(h, crs[k].fixed0, &must);
        nested_read_msr(h, crs[k].fixed1, &may);
        if ((cr & must) != must || (cr & ~may))
            return false;
    }
    return true;
}

static enum hv_action handle_vmxon(struct hv *h)
{
    enum hv_action a;
    if (!check_vmx_operation(h, true, &a))
        return a;
    if (h->l1.vmxon)
        return fail(h, VMERR_VMXON_IN_ROOT);
    /* SDM Vol. 3C 31.3 "VMXON": CR0 and CR4 must suit VMX operation;
     * IA32_FEATURE_CONTROL, the other #GP(0) cause, is locked with VMX
     * allowed for L1. */
    if (!l1_crs_fit_vmx(h))
        return raise(h, VEC_GP);
    uint64_t p;
    if (!read_pointer(h, &p))
        return HV_RESUME;
    if (bad_pointer(p) || revision_at(h, p) != VMCS_REVISION_ID)
        return fail_invalid(h);
    h->l1.vmxon = true;
    h->l1.vmxon_ptr = p;
    nested_set_current(h, NO_VMCS);
    return succeed(h);
}

static enum hv_action handle_vmxoff(struct hv *h)
{
    enum hv_action a;
    if (!check_vmx_operation(h, false, &a))
        return a;
    flush_current(h);
    h->l1.vmxon = false;
    nested_set_current(h, NO_VMCS);
    return succeed(h);
}

/* The VMCS-pointer operand of VMCLEAR and VMPTRLD, with the checks they
 * share: false with *out set when the instruction ends here. */
static bool vmcs_pointer(struct hv *h, uint32_t bad_address,
                         uint32_t vmxon_pointer, uint64_t *p,
                         enum hv_action *out)
{
    if (!check_vmx_operation(h, false, out))
        return false;
    if (!read_pointer(h, p)) {
        *out = HV_RESUME; /* the #PF is injected */
        return false;
    }
    if (bad_pointer(*p) || *p == h->l1.vmxon_ptr) {
        *out = fail(h, bad_pointer(*p) ? bad_address : vmxon_pointer);
        return false;
    }
    return true;
}

static enum hv_action handle_vmclear(struct hv *h)
{
    enum hv_action a;
    uint64_t p;
    if (!vmcs_pointer(h, VMERR_VMCLEAR_BAD_ADDRESS,
                      VMERR_VMCLEAR_VMXON_POINTER, &p, &a))
        return a;
    if (p == h->l1.current) {
        h->l1.vmcs12.launch = VMCS_STATE_CLEAR;
        flush_current(h);
        nested_set_current(h, NO_VMCS);
    } else {
        /* Launch state clear in the region (vmcs.h layout). */
        uint32_t clear = VMCS_STATE_CLEAR;
        gmem_write_phys(h, p + VMCS_REGION_LAUNCH, &clear, 4);
    }
    return succeed(h);
}

static enum hv_action handle_vmptrld(struct hv *h)
{
    enum hv_action a;
    uint64_t p;
    if (!vmcs_pointer(h, VMERR_VMPTRLD_BAD_ADDRESS,
                      VMERR_VMPTRLD_VMXON_POINTER, &p, &a))
        return a;
    uint32_t rev = revision_at(h, p);
    if (rev != VMCS_REVISION_ID)
        return fail(h, VMERR_VMPTRLD_BAD_REVISION);
    if (p != h->l1.current) {
        flush_current(h);
        uint8_t region[VMCS_REGION_SIZE];
        gmem_read_phys(h, p, region, sizeof region);
        vmcs_load(&h->l1.vmcs12, region);
        nested_set_current(h, p);
    }
    return succeed(h);
}

static enum hv_action handle_vmptrst(struct hv *h)
{
    enum hv_action a;
    if (!check_vmx_operation(h, false, &a))
        return a;
    struct operand_info o = decode_operand(h);
    uint64_t p = h->l1.current;
    if (!gmem_write(h, o.linear, &p, 8))
        return HV_RESUME;
    return succeed(h);
}

/* For the trace: the field L1 read or wrote, by name, and the value.
 * Without a trace the field's name is not looked up. */
static void trace_field(struct hv *h, enum trace_step_kind kind,
                        uint64_t encoding, uint64_t value)
{
    if (!h->trace)
        return;
    int i = vmcs_field_index(encoding);
    hv_step(h, (struct trace_step){
                   .kind = (uint8_t)kind, .has_field = 1,
                   .field = (uint32_t)encoding, .has_value = 1,
                   .value = value,
                   .detail = i < 0 ? NULL : vmcs_field_at((size_t)i)->name});
}

/* VMREAD: reg2 holds the field; the destination is reg1 or memory. */
static enum hv_action handle_vmread(struct hv *h)
{
    enum hv_action a;
    if (!check_vmx_operation(h, false, &a))
        return a;
    if (h->l1.current == NO_VMCS)
        return fail_invalid(h);
    struct operand_info o = decode_operand(h);
    uint64_t value, enc = l1_gpr(h, o.reg2);
    enum vmcs_status st = vmcs_read(&h->l1.vmcs12, enc, &value);
    if (st != VMCS_OK)
        return fail(h, st);
    if (o.is_register)
        set_l1_gpr(h, o.reg1, value);
    else if (!gmem_write(h, o.linear, &value, 8))
        return HV_RESUME;
    trace_field(h, STEP_VMREAD, enc, value);
    return succeed(h);
}

/* VMWRITE: reg2 holds the field; the source is reg1 or memory. */
static enum hv_action handle_vmwrite(struct hv *h)
{
    enum hv_action a;
    if (!check_vmx_operation(h, false, &a))
        return a;
    if (h->l1.current == NO_VMCS)
        return fail_invalid(h);
    struct operand_info o = decode_operand(h);
    uint64_t value = 0, enc = l1_gpr(h, o.reg2);
    if (o.is_register)
        value = l1_gpr(h, o.reg1);
    else if (!gmem_read(h, o.linear, &value, 8))
        return HV_RESUME;
    enum vmcs_status st = vmcs_write(&h->l1.vmcs12, enc, value,
                                     vmx_cap_vmwrite_any_field());
    if (st != VMCS_OK)
        return fail(h, st);
    nested_field_written(h, enc);
    trace_field(h, STEP_VMWRITE, enc, value);
    return succeed(h);
}

/* INVEPT and INVVPID: reg2 holds the type; the 128-bit descriptor is in
 * memory. Types 1 (single context) and 2 (all contexts) for INVEPT,
 * 0-3 for INVVPID (SDM Vol. 2C). EPT02 is a cache of EPT12: both types
 * drop it (ept-compress/README.md). */
static enum hv_action handle_invept(struct hv *h, bool vpid)
{
    enum hv_action a;
    if (!check_vmx_operation(h, false, &a))
        return a;
    struct operand_info o = decode_operand(h);
    uint64_t type = l1_gpr(h, o.reg2), desc[2];
    bool valid = vpid ? type <= 3 : (type == 1 || type == 2);
    if (!valid)
        return fail(h, VMERR_INVALID_INVEPT_OPERAND);
    if (!gmem_read(h, o.linear, desc, sizeof desc))
        return HV_RESUME;
    nested_invalidate(h, vpid, type, desc[0]);
    return succeed(h);
}

static enum hv_action handle_invept_exit(struct hv *h) { return handle_invept(h, false); }
static enum hv_action handle_invvpid_exit(struct hv *h) { return handle_invept(h, true); }

/* VMCALL from L1: L0 offers no hypercalls, so it is #UD (SDM Vol. 2C
 * "VMCALL": what a VMM does is its choice). */
static enum hv_action handle_vmcall(struct hv *h) { return raise(h, VEC_UD); }

static enum hv_action launch_or_resume(struct hv *h, bool launch)
{
    enum hv_action a;
    if (!check_vmx_operation(h, false, &a))
        return a;
    uint32_t error = 0;
    switch (nested_vmentry(h, launch, &error)) {
    case NESTED_FAIL_INVALID: return fail_invalid(h);
    case NESTED_FAIL_VALID: return fail(h, error);
    default: return HV_RESUME; /* L2 runs, or L1 at its host RIP */
    }
}

static enum hv_action handle_vmlaunch(struct hv *h) { return launch_or_resume(h, true); }
static enum hv_action handle_vmresume(struct hv *h) { return launch_or_resume(h, false); }

hv_handler nested_vmx_handler(uint32_t reason)
{
    switch (reason) {
    case VMX_EXIT_VMCALL: return handle_vmcall;
    case VMX_EXIT_VMCLEAR: return handle_vmclear;
    case VMX_EXIT_VMLAUNCH: return handle_vmlaunch;
    case VMX_EXIT_VMPTRLD: return handle_vmptrld;
    case VMX_EXIT_VMPTRST: return handle_vmptrst;
    case VMX_EXIT_VMREAD: return handle_vmread;
    case VMX_EXIT_VMRESUME: return handle_vmresume;
    case VMX_EXIT_VMWRITE: return handle_vmwrite;
    case VMX_EXIT_VMXOFF: return handle_vmxoff;
    case VMX_EXIT_VMXON: return handle_vmxon;
    case VMX_EXIT_INVEPT: return handle_invept_exit;
    case VMX_EXIT_INVVPID: return handle_invvpid_exit;
    default: return NULL;
    }
}
