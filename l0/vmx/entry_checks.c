#include "vmx/entry_checks.h"
#include "vmx/guest_segments.h"

#include <string.h>

#include "cpu/cpu.h"
#include "vmx/caps.h"
#include "vmx/controls.h"
#include "vmx/ept.h"

/* Everything the rules look at more than once, read once per entry. */
struct ectx {
    const struct vmcs *v;
    const struct vmx_check_env *env;
    const struct vmx_check_caps *caps;
    uint32_t pin, proc, proc2, exit, entry; /* proc2: 0 unless activated */
    bool ia32e_guest, host64, ug, v86;
    uint64_t cr0, cr4;
    /* VM-entry interruption information, when its valid bit is set. */
    bool inject;
    unsigned type, vector;
    /* What the rule being run has read: fields by dense index, and
     * whether it read physical memory (vmx_check_entry_incremental). */
    struct rule_reads *reads;
};

enum { FIELD_WORDS = (VMCS_FIELD_COUNT + 63) / 64 };

struct rule_reads {
    uint64_t fields[FIELD_WORDS];
    bool memory;
};

/* A rule: ok() says whether it holds; arg selects a field where one
 * function serves several (a segment register, a bitmap, a PDPTE). */
struct rule {
    bool (*ok)(const struct ectx *c, int arg);
    int arg;
    const char *name;
    const char *sdm;
    uint64_t qualification; /* guest-state rules */
};

static uint64_t get(const struct ectx *c, enum vmcs_index i)
{
    c->reads->fields[i / 64] |= 1ull << (i % 64);
    return vmcs_get(c->v, i);
}

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static bool within_maxphyaddr(const struct ectx *c, uint64_t pa)
{
    return (pa >> c->env->maxphyaddr) == 0;
}

static bool page_address_ok(const struct ectx *c, uint64_t pa)
{
    return (pa & 0xFFF) == 0 && within_maxphyaddr(c, pa);
}

/* IA32_PAT and the guest/host PAT fields: every byte a memory type that
 * exists (UC 0, WC 1, WT 4, WP 5, WB 6, UC- 7). */
static bool pat_valid(uint64_t pat)
{
    for (int i = 0; i < 8; i++) {
        unsigned t = (pat >> (8 * i)) & 0xFF;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

#define EFER_VALID (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

static uint32_t read32(const struct ectx *c, uint64_t pa)
{
    uint32_t v = 0xFFFFFFFFu;
    c->reads->memory = true;
    if (!c->env->read_phys || !c->env->read_phys(c->env->ctx, pa, &v, 4))
        v = 0xFFFFFFFFu;
    return v;
}

/* ==== 27.2.1 Checks on VMX controls ==== */

/* Interruption types (SDM 25.8.3, Table 25-17). */
enum {
    INTR_EXTERNAL = 0,
    INTR_RESERVED = 1,
    INTR_NMI = 2,
    INTR_HW_EXCEPTION = 3,
    INTR_SW_INTERRUPT = 4,
    INTR_PRIV_SW_EXCEPTION = 5,
    INTR_SW_EXCEPTION = 6,
    INTR_OTHER = 7,
};
#define INTR_INFO_VALID (1u << 31)
#define INTR_INFO_DELIVER_ERROR (1u << 11)
#define INTR_INFO_RESERVED 0x7FFFF000u /* bits 30:12 */

static bool controls_allowed(const struct ectx *c, int arg)
{
    static const enum vmcs_index field[] = {
        [VMX_CTL_PIN] = VMCS_IDX_PIN_CONTROLS,
        [VMX_CTL_PROC] = VMCS_IDX_PROC_CONTROLS,
        [VMX_CTL_PROC2] = VMCS_IDX_PROC_CONTROLS2,
        [VMX_CTL_EXIT] = VMCS_IDX_EXIT_CONTROLS,
        [VMX_CTL_ENTRY] = VMCS_IDX_ENTRY_CONTROLS,
    };
    enum vmx_controls w = (enum vmx_controls)arg;
    /* 27.2.1.1: without "activate secondary controls" the secondary
     * controls are taken as 0 and not checked. */
    if (w == VMX_CTL_PROC2 && !(c->proc & PROC_SECONDARY_CONTROLS))
        return true;
    return vmx_controls_valid((uint32_t)get(c, field[w]), c->caps->controls[w]);
}

static bool cr3_target_count_supported(const struct ectx *c, int arg)
{
    (void)arg;
    return get(c, VMCS_IDX_CR3_TARGET_COUNT) <= ((c->caps->misc >> 16) & 0x1FF);
}

/* A 4 KiB bitmap or page the processor reads when `control` is set in
 * the field arg says: primary (0) or secondary (1) controls. */
static const struct {
    enum vmcs_index addr;
    int secondary;
    uint32_t control;
} page_fields[] = {
    {VMCS_IDX_IO_BITMAP_A, 0, PROC_USE_IO_BITMAPS},
    {VMCS_IDX_IO_BITMAP_B, 0, PROC_USE_IO_BITMAPS},
    {VMCS_IDX_MSR_BITMAP, 0, PROC_USE_MSR_BITMAPS},
    {VMCS_IDX_VMREAD_BITMAP_ADDR, 1, PROC2_VMCS_SHADOWING},
    {VMCS_IDX_VMWRITE_BITMAP_ADDR, 1, PROC2_VMCS_SHADOWING},
    {VMCS_IDX_APIC_ACCESS_ADDR, 1, PROC2_VIRT_APIC_ACCESSES},
};
enum { PAGE_IO_A, PAGE_IO_B, PAGE_MSR, PAGE_VMREAD, PAGE_VMWRITE,
       PAGE_APIC_ACCESS };

static bool control_page_address_ok(const struct ectx *c, int arg)
{
    uint32_t ctls = page_fields[arg].secondary ? c->proc2 : c->proc;
    return !(ctls & page_fields[arg].control) ||
           page_address_ok(c, get(c, page_fields[arg].addr));
}

static bool virtual_nmis_need_nmi_exiting(const struct ectx *c, int arg)
{
    (void)arg;
    return (c->pin & PIN_NMI_EXITING) || !(c->pin & PIN_VIRTUAL_NMIS);
}

static bool nmi_window_needs_virtual_nmis(const struct ectx *c, int arg)
{
    (void)arg;
    return (c->pin & PIN_VIRTUAL_NMIS) || !(c->proc & PROC_NMI_WINDOW_EXITING);
}

/* The APIC-virtualization controls that act on the virtual-APIC page
 * need "use TPR shadow"; x2APIC virtualization excludes the APIC-access
 * page, which virtualizes the xAPIC's MMIO (27.2.1.1). */
static bool apic_virtualization_needs_tpr_shadow(const struct ectx *c, int arg)
{
    (void)arg;
    return (c->proc & PROC_TPR_SHADOW) ||
           !(c->proc2 & (PROC2_VIRT_X2APIC | PROC2_APIC_REGISTER_VIRT |
                         PROC2_VIRT_INTR_DELIVERY));
}

static bool x2apic_excludes_apic_accesses(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->proc2 & PROC2_VIRT_X2APIC) ||
           !(c->proc2 & PROC2_VIRT_APIC_ACCESSES);
}

static bool vpid_nonzero(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->proc2 & PROC2_VPID) || get(c, VMCS_IDX_VPID) != 0;
}

/* One rule per way an EPTP can be wrong, in ept_check_eptp's order, so
 * that the first failing rule is the problem ept_check_eptp reports. */
static bool eptp_valid(const struct ectx *c, int arg)
{
    if (!(c->proc2 & PROC2_EPT))
        return true;
    return ept_check_eptp(get(c, VMCS_IDX_EPT_POINTER), c->caps->ept_vpid,
                          c->env->maxphyaddr) != (enum eptp_check)arg;
}

static bool unrestricted_guest_needs_ept(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->proc2 & PROC2_UNRESTRICTED_GUEST) || (c->proc2 & PROC2_EPT);
}

static bool preemption_timer_save_needs_timer(const struct ectx *c, int arg)
{
    (void)arg;
    return (c->pin & PIN_PREEMPTION_TIMER) ||
           !(c->exit & EXIT_SAVE_PREEMPTION_TIMER);
}

/* The three MSR lists: count and address fields. */
static const struct {
    enum vmcs_index count, addr;
} msr_lists[] = {
    {VMCS_IDX_EXIT_MSR_STORE_COUNT, VMCS_IDX_EXIT_MSR_STORE_ADDR},
    {VMCS_IDX_EXIT_MSR_LOAD_COUNT, VMCS_IDX_EXIT_MSR_LOAD_ADDR},
    {VMCS_IDX_ENTRY_MSR_LOAD_COUNT, VMCS_IDX_ENTRY_MSR_LOAD_ADDR},
};
enum { LIST_EXIT_STORE, LIST_EXIT_LOAD, LIST_ENTRY_LOAD };

/* Checked only when the count is non-zero (27.2.1.2, 27.2.1.3). */
static bool msr_list_aligned(const struct ectx *c, int arg)
{
    return get(c, msr_lists[arg].count) == 0 ||
           (get(c, msr_lists[arg].addr) & 0xF) == 0;
}

/* The first and the last byte (address + count * 16 - 1) within
 * MAXPHYADDR; the sum cannot overflow once the address is within it. */
static bool msr_list_within_maxphyaddr(const struct ectx *c, int arg)
{
    uint64_t count = get(c, msr_lists[arg].count);
    uint64_t addr = get(c, msr_lists[arg].addr);
    if (count == 0)
        return true;
    return within_maxphyaddr(c, addr) &&
           within_maxphyaddr(c, addr + count * 16 - 1);
}

static bool mtf_supported(const struct ectx *c)
{
    return (c->caps->controls[VMX_CTL_PROC] >> 32) & PROC_MONITOR_TRAP_FLAG;
}

static bool injection_type_not_reserved(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || (c->type != INTR_RESERVED &&
                          (c->type != INTR_OTHER || mtf_supported(c)));
}

static bool injected_nmi_vector_2(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || c->type != INTR_NMI || c->vector == 2;
}

static bool injected_exception_vector_below_32(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || c->type != INTR_HW_EXCEPTION || c->vector <= 31;
}

static bool injected_other_event_vector_0(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || c->type != INTR_OTHER || c->vector == 0;
}

/* Whether delivering the injected event pushes an error code: a
 * hardware exception among #DF, #TS, #NP, #SS, #GP, #PF, #AC (#CP needs
 * CET), in protected mode (with unrestricted guest, CR0.PE may be 0). */
static bool injection_needs_error_code(const struct ectx *c)
{
    static const uint32_t with_error = 1u << 8 | 1u << 10 | 1u << 11 |
                                       1u << 12 | 1u << 13 | 1u << 14 |
                                       1u << 17;
    bool protected_mode = !c->ug || (c->cr0 & CR0_PE);
    return c->type == INTR_HW_EXCEPTION && protected_mode &&
           c->vector < 32 && (with_error >> c->vector & 1);
}

static uint32_t intr_info(const struct ectx *c)
{
    return (uint32_t)get(c, VMCS_IDX_ENTRY_INTR_INFO);
}

static bool injection_error_code_only_when_delivered(const struct ectx *c,
                                                     int arg)
{
    (void)arg;
    return !c->inject || !(intr_info(c) & INTR_INFO_DELIVER_ERROR) ||
           injection_needs_error_code(c);
}

static bool injection_error_code_when_delivered(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || (intr_info(c) & INTR_INFO_DELIVER_ERROR) ||
           !injection_needs_error_code(c);
}

static bool injection_reserved_bits_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || !(intr_info(c) & INTR_INFO_RESERVED);
}

/* Bits 31:16: error codes are 16 bits (the SDM said 31:15 until 2019;
 * bit 15 is the SGX bit of #PF). */
static bool injection_error_code_16_bits(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || !(intr_info(c) & INTR_INFO_DELIVER_ERROR) ||
           (get(c, VMCS_IDX_ENTRY_EXCEPTION_ERROR) & 0xFFFF0000u) == 0;
}

/* Software interrupts and exceptions push the RIP after the instruction:
 * its length must be 1-15, or 0 where IA32_VMX_MISC bit 30 allows. */
static bool injection_instruction_length_valid(const struct ectx *c, int arg)
{
    (void)arg;
    if (!c->inject || (c->type != INTR_SW_INTERRUPT &&
                       c->type != INTR_PRIV_SW_EXCEPTION &&
                       c->type != INTR_SW_EXCEPTION))
        return true;
    uint64_t len = get(c, VMCS_IDX_ENTRY_INSN_LEN);
    bool zero_ok = c->caps->misc & (1ull << 30);
    return len <= 15 && (len != 0 || zero_ok);
}

#define C(fn, arg, name, sdm) {fn, arg, name, sdm, 0}

static const struct rule control_rules[] = {
    C(controls_allowed, VMX_CTL_PIN, "pin-based controls: a bit not allowed by "
      "IA32_VMX_TRUE_PINBASED_CTLS", "27.2.1.1"),
    C(controls_allowed, VMX_CTL_PROC, "primary processor-based controls: a bit not "
      "allowed by IA32_VMX_TRUE_PROCBASED_CTLS", "27.2.1.1"),
    C(controls_allowed, VMX_CTL_PROC2, "secondary processor-based controls: a bit not "
      "allowed by IA32_VMX_PROCBASED_CTLS2", "27.2.1.1"),
    C(cr3_target_count_supported, 0,
      "CR3-target count above IA32_VMX_MISC's", "27.2.1.1"),
    C(control_page_address_ok, PAGE_IO_A, "I/O bitmap A address: not "
      "4 KiB aligned or beyond MAXPHYADDR", "27.2.1.1"),
    C(control_page_address_ok, PAGE_IO_B, "I/O bitmap B address: not "
      "4 KiB aligned or beyond MAXPHYADDR", "27.2.1.1"),
    C(control_page_address_ok, PAGE_MSR, "MSR bitmap address: not 4 KiB "
      "aligned or beyond MAXPHYADDR", "27.2.1.1"),
    C(virtual_nmis_need_nmi_exiting, 0,
      "virtual NMIs without NMI exiting", "27.2.1.1"),
    C(nmi_window_needs_virtual_nmis, 0,
      "NMI-window exiting without virtual NMIs", "27.2.1.1"),
    C(apic_virtualization_needs_tpr_shadow, 0, "virtualize x2APIC mode, "
      "APIC-register virtualization or virtual-interrupt delivery without "
      "use TPR shadow", "27.2.1.1"),
    C(x2apic_excludes_apic_accesses, 0, "virtualize x2APIC mode with "
      "virtualize APIC accesses", "27.2.1.1"),
    C(control_page_address_ok, PAGE_APIC_ACCESS, "APIC-access address: not "
      "4 KiB aligned or beyond MAXPHYADDR", "27.2.1.1"),
    C(vpid_nonzero, 0, "VPID 0 with enable VPID", "27.2.1.1"),
    C(eptp_valid, EPTP_BAD_MEMORY_TYPE,
      "EPTP: memory type not offered by IA32_VMX_EPT_VPID_CAP", "27.2.1.1"),
    C(eptp_valid, EPTP_BAD_WALK_LENGTH, "EPTP: page-walk length not 4",
      "27.2.1.1"),
    C(eptp_valid, EPTP_AD_UNSUPPORTED,
      "EPTP: accessed and dirty flags not offered", "27.2.1.1"),
    C(eptp_valid, EPTP_RESERVED_BITS,
      "EPTP: reserved bits 11:7 or bits beyond MAXPHYADDR set", "27.2.1.1"),
    C(unrestricted_guest_needs_ept, 0, "unrestricted guest without enable EPT",
      "27.2.1.1"),
    C(control_page_address_ok, PAGE_VMREAD, "VMREAD bitmap address: not "
      "4 KiB aligned or beyond MAXPHYADDR", "27.2.1.1"),
    C(control_page_address_ok, PAGE_VMWRITE, "VMWRITE bitmap address: not "
      "4 KiB aligned or beyond MAXPHYADDR", "27.2.1.1"),

    C(controls_allowed, VMX_CTL_EXIT, "VM-exit controls: a bit not allowed by "
      "IA32_VMX_TRUE_EXIT_CTLS", "27.2.1.2"),
    C(preemption_timer_save_needs_timer, 0, "save VMX-preemption timer value "
      "without activate VMX-preemption timer", "27.2.1.2"),
    C(msr_list_aligned, LIST_EXIT_STORE,
      "VM-exit MSR-store address: not 16-byte aligned", "27.2.1.2"),
    C(msr_list_within_maxphyaddr, LIST_EXIT_STORE,
      "VM-exit MSR-store area: beyond MAXPHYADDR", "27.2.1.2"),
    C(msr_list_aligned, LIST_EXIT_LOAD,
      "VM-exit MSR-load address: not 16-byte aligned", "27.2.1.2"),
    C(msr_list_within_maxphyaddr, LIST_EXIT_LOAD,
      "VM-exit MSR-load area: beyond MAXPHYADDR", "27.2.1.2"),

    C(controls_allowed, VMX_CTL_ENTRY, "VM-entry controls: a bit not allowed by "
      "IA32_VMX_TRUE_ENTRY_CTLS", "27.2.1.3"),
    C(injection_type_not_reserved, 0,
      "event injection: reserved interruption type", "27.2.1.3"),
    C(injected_nmi_vector_2, 0, "event injection: NMI with a vector other "
      "than 2", "27.2.1.3"),
    C(injected_exception_vector_below_32, 0,
      "event injection: hardware exception with a vector above 31",
      "27.2.1.3"),
    C(injected_other_event_vector_0, 0,
      "event injection: other event with a vector other than 0", "27.2.1.3"),
    C(injection_error_code_only_when_delivered, 0, "event injection: error "
      "code for an event that delivers none", "27.2.1.3"),
    C(injection_error_code_when_delivered, 0, "event injection: no error "
      "code for an exception that delivers one", "27.2.1.3"),
    C(injection_reserved_bits_clear, 0,
      "event injection: reserved bits 30:12 set", "27.2.1.3"),
    C(injection_error_code_16_bits, 0,
      "event injection: error code bits 31:16 set", "27.2.1.3"),
    C(injection_instruction_length_valid, 0, "event injection: software "
      "event with an instruction length outside 1-15", "27.2.1.3"),
    C(msr_list_aligned, LIST_ENTRY_LOAD,
      "VM-entry MSR-load address: not 16-byte aligned", "27.2.1.3"),
    C(msr_list_within_maxphyaddr, LIST_ENTRY_LOAD,
      "VM-entry MSR-load area: beyond MAXPHYADDR", "27.2.1.3"),
};

/* ==== 27.2.2 - 27.2.4 Checks on the host-state area ==== */

static bool host_cr0_fixed_bits(const struct ectx *c, int arg)
{
    (void)arg;
    return vmx_fixed_bits_valid(get(c, VMCS_IDX_HOST_CR0),
                                c->caps->cr0_fixed0, c->caps->cr0_fixed1);
}

static bool host_cr4_fixed_bits(const struct ectx *c, int arg)
{
    (void)arg;
    return vmx_fixed_bits_valid(get(c, VMCS_IDX_HOST_CR4),
                                c->caps->cr4_fixed0, c->caps->cr4_fixed1);
}

/* A CR3 field: bits 63:MAXPHYADDR clear (arg: the field). */
static bool cr3_within_maxphyaddr(const struct ectx *c, int arg)
{
    return within_maxphyaddr(c, get(c, (enum vmcs_index)arg));
}

/* A natural-width address field that must be canonical (arg: the
 * field), for the host bases and the SYSENTER addresses. */
static bool field_canonical(const struct ectx *c, int arg)
{
    return canonical(get(c, (enum vmcs_index)arg));
}

static bool host_pat_valid(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->exit & EXIT_LOAD_PAT) || pat_valid(get(c, VMCS_IDX_HOST_PAT));
}

static bool host_efer_reserved_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->exit & EXIT_LOAD_EFER) ||
           !(get(c, VMCS_IDX_HOST_EFER) & ~EFER_VALID);
}

/* arg: EFER_LMA or EFER_LME, each of which must equal the host
 * address-space size. */
static bool host_efer_matches_address_size(const struct ectx *c, int arg)
{
    if (!(c->exit & EXIT_LOAD_EFER))
        return true;
    bool set = get(c, VMCS_IDX_HOST_EFER) & (uint64_t)arg;
    return set == c->host64;
}

/* The host selector fields, RPL and TI clear (27.2.3). */
static bool host_selector_rpl_ti_clear(const struct ectx *c, int arg)
{
    return (get(c, (enum vmcs_index)arg) & 7) == 0;
}

static bool host_selector_nonzero(const struct ectx *c, int arg)
{
    return get(c, (enum vmcs_index)arg) != 0;
}

static bool host_ss_nonzero_for_32bit_host(const struct ectx *c, int arg)
{
    (void)arg;
    return c->host64 || get(c, VMCS_IDX_HOST_SS_SELECTOR) != 0;
}

static bool host_address_size_matches_ia32e(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->env->ia32e_host || c->host64;
}

static bool host_address_size_needs_ia32e(const struct ectx *c, int arg)
{
    (void)arg;
    return c->env->ia32e_host || !c->host64;
}

/* SDM 27.2.4 asks this twice: outside IA-32e mode, and with host
 * address-space size 0; since the host address-space size must match
 * the processor's mode (the rules above), one rule covers both. */
static bool ia32e_guest_needs_64bit_host(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->ia32e_guest || (c->env->ia32e_host && c->host64);
}

static bool host32_pcide_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return c->host64 || !(get(c, VMCS_IDX_HOST_CR4) & CR4_PCIDE);
}

static bool host32_rip_upper_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return c->host64 || (get(c, VMCS_IDX_HOST_RIP) >> 32) == 0;
}

static bool host64_pae_set(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->host64 || (get(c, VMCS_IDX_HOST_CR4) & CR4_PAE);
}

static bool host64_rip_canonical(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->host64 || canonical(get(c, VMCS_IDX_HOST_RIP));
}

#define H(fn, arg, name, sdm) {fn, arg, name, sdm, 0}

static const struct rule host_rules[] = {
    H(host_cr0_fixed_bits, 0,
      "host CR0: a bit fixed by IA32_VMX_CR0_FIXED0/1 is wrong", "27.2.2"),
    H(host_cr4_fixed_bits, 0,
      "host CR4: a bit fixed by IA32_VMX_CR4_FIXED0/1 is wrong", "27.2.2"),
    H(cr3_within_maxphyaddr, VMCS_IDX_HOST_CR3,
      "host CR3: bits beyond MAXPHYADDR set", "27.2.2"),
    H(field_canonical, VMCS_IDX_HOST_SYSENTER_ESP,
      "host IA32_SYSENTER_ESP: not canonical", "27.2.2"),
    H(field_canonical, VMCS_IDX_HOST_SYSENTER_EIP,
      "host IA32_SYSENTER_EIP: not canonical", "27.2.2"),
    H(host_pat_valid, 0, "host IA32_PAT: an invalid memory type", "27.2.2"),
    H(host_efer_reserved_clear, 0, "host IA32_EFER: reserved bits set",
      "27.2.2"),
    H(host_efer_matches_address_size, (int)EFER_LMA, "host IA32_EFER: LMA "
      "differs from host address-space size", "27.2.2"),
    H(host_efer_matches_address_size, (int)EFER_LME, "host IA32_EFER: LME "
      "differs from host address-space size", "27.2.2"),

    H(host_selector_rpl_ti_clear, VMCS_IDX_HOST_ES_SELECTOR,
      "host ES selector: RPL or TI set", "27.2.3"),
    H(host_selector_rpl_ti_clear, VMCS_IDX_HOST_CS_SELECTOR,
      "host CS selector: RPL or TI set", "27.2.3"),
    H(host_selector_rpl_ti_clear, VMCS_IDX_HOST_SS_SELECTOR,
      "host SS selector: RPL or TI set", "27.2.3"),
    H(host_selector_rpl_ti_clear, VMCS_IDX_HOST_DS_SELECTOR,
      "host DS selector: RPL or TI set", "27.2.3"),
    H(host_selector_rpl_ti_clear, VMCS_IDX_HOST_FS_SELECTOR,
      "host FS selector: RPL or TI set", "27.2.3"),
    H(host_selector_rpl_ti_clear, VMCS_IDX_HOST_GS_SELECTOR,
      "host GS selector: RPL or TI set", "27.2.3"),
    H(host_selector_rpl_ti_clear, VMCS_IDX_HOST_TR_SELECTOR,
      "host TR selector: RPL or TI set", "27.2.3"),
    H(host_selector_nonzero, VMCS_IDX_HOST_CS_SELECTOR,
      "host CS selector: 0", "27.2.3"),
    H(host_selector_nonzero, VMCS_IDX_HOST_TR_SELECTOR,
      "host TR selector: 0", "27.2.3"),
    H(host_ss_nonzero_for_32bit_host, 0,
      "host SS selector: 0 with host address-space size 0", "27.2.3"),
    H(field_canonical, VMCS_IDX_HOST_FS_BASE, "host FS base: not canonical",
      "27.2.3"),
    H(field_canonical, VMCS_IDX_HOST_GS_BASE, "host GS base: not canonical",
      "27.2.3"),
    H(field_canonical, VMCS_IDX_HOST_GDTR_BASE,
      "host GDTR base: not canonical", "27.2.3"),
    H(field_canonical, VMCS_IDX_HOST_IDTR_BASE,
      "host IDTR base: not canonical", "27.2.3"),
    H(field_canonical, VMCS_IDX_HOST_TR_BASE, "host TR base: not canonical",
      "27.2.3"),

    H(host_address_size_matches_ia32e, 0,
      "host address-space size 0 in IA-32e mode", "27.2.4"),
    H(host_address_size_needs_ia32e, 0,
      "host address-space size 1 outside IA-32e mode", "27.2.4"),
    H(ia32e_guest_needs_64bit_host, 0,
      "IA-32e mode guest without a 64-bit host", "27.2.4"),
    H(host32_pcide_clear, 0,
      "host CR4: PCIDE set with host address-space size 0", "27.2.4"),
    H(host32_rip_upper_clear, 0,
      "host RIP: bits 63:32 set with host address-space size 0", "27.2.4"),
    H(host64_pae_set, 0,
      "host CR4: PAE clear with host address-space size 1", "27.2.4"),
    H(host64_rip_canonical, 0, "host RIP: not canonical", "27.2.4"),
};

/* ==== 27.3.1 Checks on the guest-state area ==== */

/* 27.3.1.1: control registers, debug registers, MSRs. */

/* Unrestricted guest lets CR0.PE and CR0.PG be 0; NW and CD are never
 * checked, since VM entry does not change them (27.3.2.1). */
static bool guest_cr0_fixed_bits(const struct ectx *c, int arg)
{
    (void)arg;
    uint64_t skip = CR0_NW | CR0_CD | (c->ug ? CR0_PE | CR0_PG : 0);
    return vmx_fixed_bits_valid(c->cr0 & ~skip, c->caps->cr0_fixed0 & ~skip,
                                c->caps->cr0_fixed1 | skip);
}

static bool guest_pg_needs_pe(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->cr0 & CR0_PG) || (c->cr0 & CR0_PE);
}

static bool guest_cr4_fixed_bits(const struct ectx *c, int arg)
{
    (void)arg;
    return vmx_fixed_bits_valid(c->cr4, c->caps->cr4_fixed0,
                                c->caps->cr4_fixed1);
}

/* LBR 0, BTF 1, TR 6 .. FREEZE_WHILE_SMM 14; RTM_DEBUG (15) needs RTM. */
#define DEBUGCTL_VALID (0x3ull | 0x7FC0ull)
#define DEBUGCTL_BTF (1ull << 1)

static bool guest_debugctl_reserved_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->entry & ENTRY_LOAD_DEBUG_CONTROLS) ||
           !(get(c, VMCS_IDX_GUEST_DEBUGCTL) & ~DEBUGCTL_VALID);
}

static bool ia32e_guest_needs_pg(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->ia32e_guest || (c->cr0 & CR0_PG);
}

static bool ia32e_guest_needs_pae(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->ia32e_guest || (c->cr4 & CR4_PAE);
}

static bool guest_pcide_needs_ia32e(const struct ectx *c, int arg)
{
    (void)arg;
    return c->ia32e_guest || !(c->cr4 & CR4_PCIDE);
}

static bool guest_dr7_upper_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->entry & ENTRY_LOAD_DEBUG_CONTROLS) ||
           (get(c, VMCS_IDX_GUEST_DR7) >> 32) == 0;
}

static bool guest_pat_valid(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->entry & ENTRY_LOAD_PAT) ||
           pat_valid(get(c, VMCS_IDX_GUEST_PAT));
}

static bool guest_efer_reserved_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->entry & ENTRY_LOAD_EFER) ||
           !(get(c, VMCS_IDX_GUEST_EFER) & ~EFER_VALID);
}

static bool guest_efer_lma_matches(const struct ectx *c, int arg)
{
    (void)arg;
    if (!(c->entry & ENTRY_LOAD_EFER))
        return true;
    return !!(get(c, VMCS_IDX_GUEST_EFER) & EFER_LMA) == c->ia32e_guest;
}

static bool guest_efer_lme_matches(const struct ectx *c, int arg)
{
    (void)arg;
    if (!(c->entry & ENTRY_LOAD_EFER) || !(c->cr0 & CR0_PG))
        return true;
    return !!(get(c, VMCS_IDX_GUEST_EFER) & EFER_LME) == c->ia32e_guest;
}

/* 27.3.1.2: segment registers. arg is the enum seg of cpu.h. */


#define AR_TYPE(ar) ((ar) & 0xF)
#define AR_RESERVED_LOW 0xF00u         /* bits 11:8 */
#define AR_RESERVED_HIGH 0xFFFE0000u   /* bits 31:17 */
#define RPL(sel) ((sel) & 3)
#define SEL_TI 4u

static uint32_t ar(const struct ectx *c, int s)
{
    return (uint32_t)get(c, vmcs_guest_segment[s].ar);
}

static unsigned sel(const struct ectx *c, int s)
{
    return (unsigned)get(c, vmcs_guest_segment[s].sel);
}

static bool usable(const struct ectx *c, int s)
{
    return !(ar(c, s) & SEG_ATTR_UNUSABLE);
}

/* CS is checked whether or not it is marked unusable (27.3.1.2). */
static bool cs_or_usable(const struct ectx *c, int s)
{
    return s == SEG_CS || usable(c, s);
}

static bool tr_selector_ti_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !(sel(c, SEG_TR) & SEL_TI);
}

static bool ldtr_selector_ti_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !usable(c, SEG_LDTR) || !(sel(c, SEG_LDTR) & SEL_TI);
}

static bool ss_rpl_matches_cs_rpl(const struct ectx *c, int arg)
{
    (void)arg;
    return c->v86 || c->ug || RPL(sel(c, SEG_SS)) == RPL(sel(c, SEG_CS));
}

static bool v86_base_is_selector_times_16(const struct ectx *c, int s)
{
    return !c->v86 || get(c, vmcs_guest_segment[s].base) == (uint64_t)sel(c, s) << 4;
}

static bool base_canonical(const struct ectx *c, int s)
{
    return (s == SEG_LDTR && !usable(c, s)) ||
           canonical(get(c, vmcs_guest_segment[s].base));
}

static bool base_upper_clear(const struct ectx *c, int s)
{
    return !cs_or_usable(c, s) || (get(c, vmcs_guest_segment[s].base) >> 32) == 0;
}

static bool v86_limit_64k(const struct ectx *c, int s)
{
    return !c->v86 || get(c, vmcs_guest_segment[s].limit) == 0xFFFF;
}

static bool v86_access_rights_f3(const struct ectx *c, int s)
{
    return !c->v86 || ar(c, s) == 0xF3;
}

/* The access-rights checks of CS, SS, DS, ES, FS and GS apply outside
 * virtual-8086 mode; those of SS, DS, ES, FS, GS only when usable. */
static bool ar_checked(const struct ectx *c, int s)
{
    return !c->v86 && cs_or_usable(c, s);
}

static bool cs_type_accessed_code(const struct ectx *c, int arg)
{
    (void)arg;
    unsigned t = AR_TYPE(ar(c, SEG_CS));
    return c->v86 || t == 9 || t == 11 || t == 13 || t == 15 ||
           (c->ug && t == 3);
}

static bool ss_type_writable_data(const struct ectx *c, int arg)
{
    (void)arg;
    unsigned t = AR_TYPE(ar(c, SEG_SS));
    return !ar_checked(c, SEG_SS) || t == 3 || t == 7;
}

static bool data_type_accessed(const struct ectx *c, int s)
{
    return !ar_checked(c, s) || (ar(c, s) & 1);
}

static bool data_code_readable(const struct ectx *c, int s)
{
    uint32_t t = AR_TYPE(ar(c, s));
    return !ar_checked(c, s) || !(t & 8) || (t & 2);
}

static bool s_set(const struct ectx *c, int s)
{
    return !ar_checked(c, s) || (ar(c, s) & SEG_ATTR_S);
}

static bool cs_dpl_0_for_data_type(const struct ectx *c, int arg)
{
    (void)arg;
    uint32_t a = ar(c, SEG_CS);
    return c->v86 || AR_TYPE(a) != 3 || SEG_ATTR_DPL(a) == 0;
}

static bool cs_dpl_equals_ss_dpl_nonconforming(const struct ectx *c, int arg)
{
    (void)arg;
    uint32_t a = ar(c, SEG_CS);
    return c->v86 || (AR_TYPE(a) != 9 && AR_TYPE(a) != 11) ||
           SEG_ATTR_DPL(a) == SEG_ATTR_DPL(ar(c, SEG_SS));
}

static bool cs_dpl_at_most_ss_dpl_conforming(const struct ectx *c, int arg)
{
    (void)arg;
    uint32_t a = ar(c, SEG_CS);
    return c->v86 || (AR_TYPE(a) != 13 && AR_TYPE(a) != 15) ||
           SEG_ATTR_DPL(a) <= SEG_ATTR_DPL(ar(c, SEG_SS));
}

/* SS DPL is the CPL, so the DPL rules hold even for an unusable SS. */
static bool ss_dpl_equals_rpl(const struct ectx *c, int arg)
{
    (void)arg;
    return c->v86 || c->ug ||
           SEG_ATTR_DPL(ar(c, SEG_SS)) == RPL(sel(c, SEG_SS));
}

/* CPL 0 in real mode and with a data-type CS (unrestricted guest). */
static bool ss_dpl_0_in_real_mode(const struct ectx *c, int arg)
{
    (void)arg;
    bool need0 = AR_TYPE(ar(c, SEG_CS)) == 3 || !(c->cr0 & CR0_PE);
    return c->v86 || !need0 ||
           SEG_ATTR_DPL(ar(c, SEG_SS)) == 0;
}

/* For data and non-conforming code segments (types 0-11). */
static bool data_dpl_at_least_rpl(const struct ectx *c, int s)
{
    uint32_t a = ar(c, s);
    return !ar_checked(c, s) || c->ug || AR_TYPE(a) > 11 ||
           SEG_ATTR_DPL(a) >= RPL(sel(c, s));
}

static bool present(const struct ectx *c, int s)
{
    return !ar_checked(c, s) || (ar(c, s) & SEG_ATTR_P);
}

/* TR and LDTR are checked in virtual-8086 mode as well. */
static bool system_ar_checked(const struct ectx *c, int s)
{
    return s == SEG_TR ? true : s == SEG_LDTR ? usable(c, s)
                                              : ar_checked(c, s);
}

static bool ar_reserved_low_clear(const struct ectx *c, int s)
{
    return !system_ar_checked(c, s) || !(ar(c, s) & AR_RESERVED_LOW);
}

static bool cs_db_clear_with_l(const struct ectx *c, int arg)
{
    (void)arg;
    uint32_t a = ar(c, SEG_CS);
    return c->v86 || !c->ia32e_guest || !(a & SEG_ATTR_L) ||
           !(a & SEG_ATTR_DB);
}

/* G = 1 scales the limit by 4 KiB: bits 11:0 all ones; G = 0 allows
 * limits up to 1 MiB - 1. */
static bool granularity_matches_limit(const struct ectx *c, int s)
{
    if (!system_ar_checked(c, s))
        return true;
    uint64_t limit = get(c, vmcs_guest_segment[s].limit);
    bool g = ar(c, s) & SEG_ATTR_G;
    if ((limit & 0xFFF) != 0xFFF && g)
        return false;
    return (limit >> 20) == 0 || g;
}

static bool ar_reserved_high_clear(const struct ectx *c, int s)
{
    return !system_ar_checked(c, s) || !(ar(c, s) & AR_RESERVED_HIGH);
}

static bool tr_type_busy_tss(const struct ectx *c, int arg)
{
    (void)arg;
    unsigned t = AR_TYPE(ar(c, SEG_TR));
    return t == 11 || (t == 3 && !c->ia32e_guest);
}

static bool ldtr_type_ldt(const struct ectx *c, int arg)
{
    (void)arg;
    return !usable(c, SEG_LDTR) || AR_TYPE(ar(c, SEG_LDTR)) == 2;
}

static bool system_s_clear(const struct ectx *c, int s)
{
    return !system_ar_checked(c, s) || !(ar(c, s) & SEG_ATTR_S);
}

static bool system_present(const struct ectx *c, int s)
{
    return !system_ar_checked(c, s) || (ar(c, s) & SEG_ATTR_P);
}

static bool tr_usable(const struct ectx *c, int arg)
{
    (void)arg;
    return usable(c, SEG_TR);
}

/* 27.3.1.3: GDTR and IDTR (arg: the limit field; the base follows). */
static bool table_limit_16_bits(const struct ectx *c, int arg)
{
    return (get(c, (enum vmcs_index)arg) >> 16) == 0;
}

/* 27.3.1.4: RIP and RFLAGS. */

static bool cs_l(const struct ectx *c)
{
    return c->ia32e_guest && (ar(c, SEG_CS) & SEG_ATTR_L);
}

static bool rip_upper_clear_outside_64bit(const struct ectx *c, int arg)
{
    (void)arg;
    return cs_l(c) || (get(c, VMCS_IDX_GUEST_RIP) >> 32) == 0;
}

static bool rip_canonical_in_64bit(const struct ectx *c, int arg)
{
    (void)arg;
    return !cs_l(c) || canonical(get(c, VMCS_IDX_GUEST_RIP));
}

#define RFLAGS_FIXED1 (1ull << 1)
#define RFLAGS_RESERVED (~0x3FFFFFull | 1ull << 15 | 1ull << 5 | 1ull << 3)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_VM (1ull << 17)

/* Read as a field (not through struct ectx): RFLAGS changes at almost
 * every entry, and only the rules that read it need to run again. */
static uint64_t rflags(const struct ectx *c)
{
    return get(c, VMCS_IDX_GUEST_RFLAGS);
}

static bool rflags_reserved_bits(const struct ectx *c, int arg)
{
    (void)arg;
    return (rflags(c) & (RFLAGS_RESERVED | RFLAGS_FIXED1)) == RFLAGS_FIXED1;
}

static bool rflags_vm_only_in_protected_legacy(const struct ectx *c, int arg)
{
    (void)arg;
    return !(rflags(c) & RFLAGS_VM) ||
           (!c->ia32e_guest && (c->cr0 & CR0_PE));
}

static bool rflags_if_for_external_interrupt(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || c->type != INTR_EXTERNAL || (rflags(c) & RFLAGS_IF);
}

/* 27.3.1.5: non-register state. */

enum { ACT_ACTIVE, ACT_HLT, ACT_SHUTDOWN, ACT_WAIT_SIPI };
#define BLOCK_STI (1u << 0)
#define BLOCK_MOV_SS (1u << 1)
#define BLOCK_SMI (1u << 2)
#define BLOCK_NMI (1u << 3)
#define BLOCK_ENCLAVE (1u << 4)
#define BLOCK_RESERVED 0xFFFFFFE0u /* bits 31:5 */

static unsigned activity(const struct ectx *c)
{
    return (unsigned)get(c, VMCS_IDX_GUEST_ACTIVITY_STATE);
}

static uint32_t blocking(const struct ectx *c)
{
    return (uint32_t)get(c, VMCS_IDX_GUEST_INTERRUPTIBILITY);
}

/* IA32_VMX_MISC bits 8:6 list HLT, shutdown and wait-for-SIPI. */
static bool activity_state_supported(const struct ectx *c, int arg)
{
    (void)arg;
    unsigned a = activity(c);
    return a == ACT_ACTIVE ||
           (a <= ACT_WAIT_SIPI && (c->caps->misc >> (5 + a) & 1));
}

static bool hlt_needs_ss_dpl_0(const struct ectx *c, int arg)
{
    (void)arg;
    return activity(c) != ACT_HLT || SEG_ATTR_DPL(ar(c, SEG_SS)) == 0;
}

static bool inactive_without_sti_mov_ss_blocking(const struct ectx *c,
                                                 int arg)
{
    (void)arg;
    return activity(c) == ACT_ACTIVE ||
           !(blocking(c) & (BLOCK_STI | BLOCK_MOV_SS));
}

/* An injected event must be one the activity state does not block: in
 * HLT external interrupts, NMIs, #DB, #MC and a pending MTF exit; in
 * shutdown NMIs and #MC; in wait-for-SIPI nothing. */
static bool injection_allowed_in_activity_state(const struct ectx *c, int arg)
{
    (void)arg;
    if (!c->inject)
        return true;
    bool mc = c->type == INTR_HW_EXCEPTION && c->vector == 18;
    switch (activity(c)) {
    case ACT_ACTIVE:
        return true;
    case ACT_HLT:
        return c->type == INTR_EXTERNAL || c->type == INTR_NMI || mc ||
               (c->type == INTR_HW_EXCEPTION && c->vector == 1) ||
               (c->type == INTR_OTHER && c->vector == 0);
    case ACT_SHUTDOWN:
        return c->type == INTR_NMI || mc;
    default:
        return false;
    }
}

static bool interruptibility_reserved_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !(blocking(c) & BLOCK_RESERVED);
}

static bool not_both_sti_and_mov_ss(const struct ectx *c, int arg)
{
    (void)arg;
    return (blocking(c) & (BLOCK_STI | BLOCK_MOV_SS)) !=
           (BLOCK_STI | BLOCK_MOV_SS);
}

static bool sti_blocking_needs_if(const struct ectx *c, int arg)
{
    (void)arg;
    return !(blocking(c) & BLOCK_STI) || (rflags(c) & RFLAGS_IF);
}

static bool no_blocking_for_external_interrupt(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || c->type != INTR_EXTERNAL ||
           !(blocking(c) & (BLOCK_STI | BLOCK_MOV_SS));
}

static bool no_mov_ss_blocking_for_nmi(const struct ectx *c, int arg)
{
    (void)arg;
    return !c->inject || c->type != INTR_NMI ||
           !(blocking(c) & BLOCK_MOV_SS);
}

/* The processor is never in SMM. */
static bool no_smi_blocking_outside_smm(const struct ectx *c, int arg)
{
    (void)arg;
    return !(blocking(c) & BLOCK_SMI);
}

static bool no_nmi_blocking_for_virtual_nmi(const struct ectx *c, int arg)
{
    (void)arg;
    return !(c->pin & PIN_VIRTUAL_NMIS) || !c->inject ||
           c->type != INTR_NMI || !(blocking(c) & BLOCK_NMI);
}

/* Enclave interruption needs SGX, which this CPU does not have. */
static bool no_enclave_interruption(const struct ectx *c, int arg)
{
    (void)arg;
    return !(blocking(c) & BLOCK_ENCLAVE);
}

/* Pending debug exceptions: B3-B0 (3:0), enabled breakpoint (12) and BS
 * (14) are defined; RTM (16) needs RTM. */
#define PENDING_DBG_VALID                                                     \
    (PENDING_DBG_B0_B3 | PENDING_DBG_ENABLED_BP | PENDING_DBG_BS)

static bool pending_debug_reserved_clear(const struct ectx *c, int arg)
{
    (void)arg;
    return !(get(c, VMCS_IDX_GUEST_PENDING_DBG) & ~PENDING_DBG_VALID);
}

/* With STI or MOV SS blocking, or in HLT, a pending single-step trap
 * must be recorded in BS exactly when RFLAGS.TF is set and not turned
 * into branch tracing by IA32_DEBUGCTL.BTF (arg: the BS value whose
 * absence the rule rejects). */
static bool pending_debug_bs_consistent(const struct ectx *c, int arg)
{
    if (!(blocking(c) & (BLOCK_STI | BLOCK_MOV_SS)) && activity(c) != ACT_HLT)
        return true;
    bool single_step = (rflags(c) & RFLAGS_TF) &&
                       !(get(c, VMCS_IDX_GUEST_DEBUGCTL) & DEBUGCTL_BTF);
    bool bs = get(c, VMCS_IDX_GUEST_PENDING_DBG) & PENDING_DBG_BS;
    return arg ? !single_step || bs : single_step || !bs;
}

static uint64_t link_pointer(const struct ectx *c)
{
    return get(c, VMCS_IDX_LINK_POINTER);
}

static bool link_pointer_address_ok(const struct ectx *c, int arg)
{
    (void)arg;
    return link_pointer(c) == ~0ull || page_address_ok(c, link_pointer(c));
}

static bool link_pointer_revision_matches(const struct ectx *c, int arg)
{
    (void)arg;
    return link_pointer(c) == ~0ull ||
           (read32(c, link_pointer(c)) & 0x7FFFFFFF) == c->caps->revision;
}

/* A VMCS named by the link pointer is a shadow VMCS exactly when VMCS
 * shadowing is on. */
static bool link_pointer_shadow_indicator_matches(const struct ectx *c,
                                                  int arg)
{
    (void)arg;
    if (link_pointer(c) == ~0ull)
        return true;
    bool shadow = read32(c, link_pointer(c)) >> 31;
    return shadow == !!(c->proc2 & PROC2_VMCS_SHADOWING);
}

static bool link_pointer_not_current_vmcs(const struct ectx *c, int arg)
{
    (void)arg;
    return link_pointer(c) == ~0ull || link_pointer(c) != c->env->current_vmcs;
}

/* 27.3.1.6: PAE paging (CR0.PG, CR4.PAE, not IA-32e mode) loads the four
 * PDPTEs: from the guest-state fields with EPT, else from the 32-byte
 * table CR3 bits 31:5 point to. A present PDPTE has bits 2:1, 8:5 and
 * 63:MAXPHYADDR reserved, as MOV to CR3 checks (SDM Vol. 3A 4.4.1). */
static bool pdpte_reserved_clear(const struct ectx *c, int arg)
{
    if (!(c->cr0 & CR0_PG) || !(c->cr4 & CR4_PAE) || c->ia32e_guest)
        return true;
    uint64_t e;
    if (c->proc2 & PROC2_EPT) {
        e = get(c, (enum vmcs_index)(VMCS_IDX_GUEST_PDPTE0 + arg));
    } else {
        uint64_t pa = (get(c, VMCS_IDX_GUEST_CR3) & 0xFFFFFFE0u) + 8 * arg;
        e = (uint64_t)read32(c, pa + 4) << 32 | read32(c, pa);
    }
    uint64_t reserved = 0x6ull | 0x1E0ull | ~0ull << c->env->maxphyaddr;
    return !(e & 1) || !(e & reserved);
}

#define G(fn, arg, name, sdm) {fn, arg, name, sdm, VMX_ENTRY_QUAL_DEFAULT}
#define GQ(fn, arg, name, sdm, q) {fn, arg, name, sdm, q}

/* Per-segment rows, in the SDM's order: CS, SS, DS, ES, FS, GS. */
#define SEG6(fn, what, sdm)                                                   \
    G(fn, SEG_CS, "guest CS " what, sdm),                                     \
    G(fn, SEG_SS, "guest SS " what, sdm),                                     \
    G(fn, SEG_DS, "guest DS " what, sdm),                                     \
    G(fn, SEG_ES, "guest ES " what, sdm),                                     \
    G(fn, SEG_FS, "guest FS " what, sdm),                                     \
    G(fn, SEG_GS, "guest GS " what, sdm)
#define SEG5(fn, what, sdm)                                                   \
    G(fn, SEG_SS, "guest SS " what, sdm),                                     \
    G(fn, SEG_DS, "guest DS " what, sdm),                                     \
    G(fn, SEG_ES, "guest ES " what, sdm),                                     \
    G(fn, SEG_FS, "guest FS " what, sdm),                                     \
    G(fn, SEG_GS, "guest GS " what, sdm)
#define SEG4(fn, what, sdm)                                                   \
    G(fn, SEG_DS, "guest DS " what, sdm),                                     \
    G(fn, SEG_ES, "guest ES " what, sdm),                                     \
    G(fn, SEG_FS, "guest FS " what, sdm),                                     \
    G(fn, SEG_GS, "guest GS " what, sdm)

static const struct rule guest_rules[] = {
    G(guest_cr0_fixed_bits, 0,
      "guest CR0: a bit fixed by IA32_VMX_CR0_FIXED0/1 is wrong", "27.3.1.1"),
    G(guest_pg_needs_pe, 0, "guest CR0: PG set without PE", "27.3.1.1"),
    G(guest_cr4_fixed_bits, 0,
      "guest CR4: a bit fixed by IA32_VMX_CR4_FIXED0/1 is wrong", "27.3.1.1"),
    G(guest_debugctl_reserved_clear, 0,
      "guest IA32_DEBUGCTL: reserved bits set", "27.3.1.1"),
    G(ia32e_guest_needs_pg, 0, "IA-32e mode guest with CR0.PG clear",
      "27.3.1.1"),
    G(ia32e_guest_needs_pae, 0, "IA-32e mode guest with CR4.PAE clear",
      "27.3.1.1"),
    G(guest_pcide_needs_ia32e, 0,
      "guest CR4: PCIDE set without IA-32e mode guest", "27.3.1.1"),
    G(cr3_within_maxphyaddr, VMCS_IDX_GUEST_CR3,
      "guest CR3: bits beyond MAXPHYADDR set", "27.3.1.1"),
    G(guest_dr7_upper_clear, 0, "guest DR7: bits 63:32 set", "27.3.1.1"),
    G(field_canonical, VMCS_IDX_GUEST_SYSENTER_ESP,
      "guest IA32_SYSENTER_ESP: not canonical", "27.3.1.1"),
    G(field_canonical, VMCS_IDX_GUEST_SYSENTER_EIP,
      "guest IA32_SYSENTER_EIP: not canonical", "27.3.1.1"),
    G(guest_pat_valid, 0, "guest IA32_PAT: an invalid memory type",
      "27.3.1.1"),
    G(guest_efer_reserved_clear, 0, "guest IA32_EFER: reserved bits set",
      "27.3.1.1"),
    G(guest_efer_lma_matches, 0,
      "guest IA32_EFER: LMA differs from IA-32e mode guest", "27.3.1.1"),
    G(guest_efer_lme_matches, 0, "guest IA32_EFER: LME differs from IA-32e "
      "mode guest with CR0.PG set", "27.3.1.1"),

    G(tr_selector_ti_clear, 0, "guest TR selector: TI set", "27.3.1.2"),
    G(ldtr_selector_ti_clear, 0, "guest LDTR selector: TI set", "27.3.1.2"),
    G(ss_rpl_matches_cs_rpl, 0, "guest SS selector: RPL differs from CS RPL",
      "27.3.1.2"),
    SEG6(v86_base_is_selector_times_16,
         "base: not selector * 16 in virtual-8086 mode", "27.3.1.2"),
    G(base_canonical, SEG_TR, "guest TR base: not canonical", "27.3.1.2"),
    G(base_canonical, SEG_FS, "guest FS base: not canonical", "27.3.1.2"),
    G(base_canonical, SEG_GS, "guest GS base: not canonical", "27.3.1.2"),
    G(base_canonical, SEG_LDTR, "guest LDTR base: not canonical", "27.3.1.2"),
    G(base_upper_clear, SEG_CS, "guest CS base: bits 63:32 set", "27.3.1.2"),
    G(base_upper_clear, SEG_SS, "guest SS base: bits 63:32 set", "27.3.1.2"),
    G(base_upper_clear, SEG_DS, "guest DS base: bits 63:32 set", "27.3.1.2"),
    G(base_upper_clear, SEG_ES, "guest ES base: bits 63:32 set", "27.3.1.2"),
    SEG6(v86_limit_64k, "limit: not 0xFFFF in virtual-8086 mode",
         "27.3.1.2"),
    SEG6(v86_access_rights_f3,
         "access rights: not 0xF3 in virtual-8086 mode", "27.3.1.2"),
    G(cs_type_accessed_code, 0, "guest CS type: not an accessed code segment",
      "27.3.1.2"),
    G(ss_type_writable_data, 0, "guest SS type: not 3 or 7", "27.3.1.2"),
    SEG4(data_type_accessed, "type: accessed bit clear", "27.3.1.2"),
    SEG4(data_code_readable, "type: code segment not readable", "27.3.1.2"),
    SEG6(s_set, "access rights: S clear", "27.3.1.2"),
    G(cs_dpl_0_for_data_type, 0, "guest CS DPL: not 0 with type 3",
      "27.3.1.2"),
    G(cs_dpl_equals_ss_dpl_nonconforming, 0,
      "guest CS DPL: differs from SS DPL (non-conforming code)", "27.3.1.2"),
    G(cs_dpl_at_most_ss_dpl_conforming, 0,
      "guest CS DPL: above SS DPL (conforming code)", "27.3.1.2"),
    G(ss_dpl_equals_rpl, 0, "guest SS DPL: differs from SS RPL", "27.3.1.2"),
    G(ss_dpl_0_in_real_mode, 0,
      "guest SS DPL: not 0 with CS type 3 or CR0.PE clear", "27.3.1.2"),
    SEG4(data_dpl_at_least_rpl, "DPL: below RPL", "27.3.1.2"),
    SEG6(present, "access rights: P clear", "27.3.1.2"),
    SEG6(ar_reserved_low_clear, "access rights: reserved bits 11:8 set",
         "27.3.1.2"),
    G(cs_db_clear_with_l, 0, "guest CS access rights: D/B set with L in "
      "IA-32e mode", "27.3.1.2"),
    SEG6(granularity_matches_limit, "access rights: G inconsistent with "
         "the limit", "27.3.1.2"),
    SEG6(ar_reserved_high_clear, "access rights: reserved bits 31:17 set",
         "27.3.1.2"),
    G(tr_type_busy_tss, 0, "guest TR type: not a busy TSS (11, or 3 outside "
      "IA-32e mode)", "27.3.1.2"),
    G(system_s_clear, SEG_TR, "guest TR access rights: S set", "27.3.1.2"),
    G(system_present, SEG_TR, "guest TR access rights: P clear", "27.3.1.2"),
    G(ar_reserved_low_clear, SEG_TR,
      "guest TR access rights: reserved bits 11:8 set", "27.3.1.2"),
    G(granularity_matches_limit, SEG_TR,
      "guest TR access rights: G inconsistent with the limit", "27.3.1.2"),
    G(tr_usable, 0, "guest TR access rights: unusable", "27.3.1.2"),
    G(ar_reserved_high_clear, SEG_TR,
      "guest TR access rights: reserved bits 31:17 set", "27.3.1.2"),
    G(ldtr_type_ldt, 0, "guest LDTR type: not 2 (LDT)", "27.3.1.2"),
    G(system_s_clear, SEG_LDTR, "guest LDTR access rights: S set",
      "27.3.1.2"),
    G(system_present, SEG_LDTR, "guest LDTR access rights: P clear",
      "27.3.1.2"),
    G(ar_reserved_low_clear, SEG_LDTR,
      "guest LDTR access rights: reserved bits 11:8 set", "27.3.1.2"),
    G(granularity_matches_limit, SEG_LDTR,
      "guest LDTR access rights: G inconsistent with the limit", "27.3.1.2"),
    G(ar_reserved_high_clear, SEG_LDTR,
      "guest LDTR access rights: reserved bits 31:17 set", "27.3.1.2"),

    G(field_canonical, VMCS_IDX_GUEST_GDTR_BASE,
      "guest GDTR base: not canonical", "27.3.1.3"),
    G(field_canonical, VMCS_IDX_GUEST_IDTR_BASE,
      "guest IDTR base: not canonical", "27.3.1.3"),
    G(table_limit_16_bits, VMCS_IDX_GUEST_GDTR_LIMIT,
      "guest GDTR limit: bits 31:16 set", "27.3.1.3"),
    G(table_limit_16_bits, VMCS_IDX_GUEST_IDTR_LIMIT,
      "guest IDTR limit: bits 31:16 set", "27.3.1.3"),

    G(rip_upper_clear_outside_64bit, 0,
      "guest RIP: bits 63:32 set outside 64-bit mode", "27.3.1.4"),
    G(rip_canonical_in_64bit, 0, "guest RIP: not canonical in 64-bit mode",
      "27.3.1.4"),
    G(rflags_reserved_bits, 0,
      "guest RFLAGS: reserved bits wrong (63:22, 15, 5, 3 clear; 1 set)",
      "27.3.1.4"),
    G(rflags_vm_only_in_protected_legacy, 0,
      "guest RFLAGS: VM set in IA-32e mode or with CR0.PE clear", "27.3.1.4"),
    G(rflags_if_for_external_interrupt, 0,
      "guest RFLAGS: IF clear with an injected external interrupt",
      "27.3.1.4"),

    G(activity_state_supported, 0,
      "guest activity state: not offered by IA32_VMX_MISC", "27.3.1.5"),
    G(hlt_needs_ss_dpl_0, 0, "guest activity state: HLT with SS DPL not 0",
      "27.3.1.5"),
    G(inactive_without_sti_mov_ss_blocking, 0, "guest activity state: not "
      "active with STI or MOV SS blocking", "27.3.1.5"),
    G(injection_allowed_in_activity_state, 0,
      "guest activity state: blocks the injected event", "27.3.1.5"),
    G(interruptibility_reserved_clear, 0,
      "guest interruptibility: reserved bits 31:5 set", "27.3.1.5"),
    G(not_both_sti_and_mov_ss, 0,
      "guest interruptibility: both STI and MOV SS blocking", "27.3.1.5"),
    G(sti_blocking_needs_if, 0,
      "guest interruptibility: STI blocking with RFLAGS.IF clear",
      "27.3.1.5"),
    G(no_blocking_for_external_interrupt, 0, "guest interruptibility: STI or "
      "MOV SS blocking with an injected external interrupt", "27.3.1.5"),
    G(no_mov_ss_blocking_for_nmi, 0, "guest interruptibility: MOV SS "
      "blocking with an injected NMI", "27.3.1.5"),
    G(no_smi_blocking_outside_smm, 0,
      "guest interruptibility: SMI blocking outside SMM", "27.3.1.5"),
    G(no_nmi_blocking_for_virtual_nmi, 0, "guest interruptibility: NMI "
      "blocking with an injected NMI under virtual NMIs", "27.3.1.5"),
    G(no_enclave_interruption, 0,
      "guest interruptibility: enclave interruption without SGX", "27.3.1.5"),
    G(pending_debug_reserved_clear, 0,
      "guest pending debug exceptions: reserved bits set", "27.3.1.5"),
    G(pending_debug_bs_consistent, 1, "guest pending debug exceptions: BS "
      "clear with a pending single step (TF set, BTF clear)", "27.3.1.5"),
    G(pending_debug_bs_consistent, 0, "guest pending debug exceptions: BS "
      "set without a pending single step (TF clear or BTF set)", "27.3.1.5"),
    GQ(link_pointer_address_ok, 0, "VMCS link pointer: not 4 KiB aligned "
       "or beyond MAXPHYADDR", "27.3.1.5", VMX_ENTRY_QUAL_LINK_PTR),
    GQ(link_pointer_revision_matches, 0,
       "VMCS link pointer: revision identifier not this CPU's", "27.3.1.5",
       VMX_ENTRY_QUAL_LINK_PTR),
    GQ(link_pointer_shadow_indicator_matches, 0, "VMCS link pointer: "
       "shadow-VMCS indicator differs from VMCS shadowing", "27.3.1.5",
       VMX_ENTRY_QUAL_LINK_PTR),
    GQ(link_pointer_not_current_vmcs, 0,
       "VMCS link pointer: the current VMCS", "27.3.1.5",
       VMX_ENTRY_QUAL_LINK_PTR),

    GQ(pdpte_reserved_clear, 0, "guest PDPTE0: reserved bits set",
       "27.3.1.6", VMX_ENTRY_QUAL_PDPTE),
    GQ(pdpte_reserved_clear, 1, "guest PDPTE1: reserved bits set",
       "27.3.1.6", VMX_ENTRY_QUAL_PDPTE),
    GQ(pdpte_reserved_clear, 2, "guest PDPTE2: reserved bits set",
       "27.3.1.6", VMX_ENTRY_QUAL_PDPTE),
    GQ(pdpte_reserved_clear, 3, "guest PDPTE3: reserved bits set",
       "27.3.1.6", VMX_ENTRY_QUAL_PDPTE),
};

/* ==== Running the tables ==== */

#define N(a) (sizeof(a) / sizeof *(a))

static const struct {
    const struct rule *rules;
    size_t count;
    int outcome;
    uint32_t error; /* VM-instruction error or basic exit reason */
} tables[] = {
    {control_rules, N(control_rules), ENTRY_VMFAIL,
     VMX_ERR_ENTRY_INVALID_CONTROLS},
    {host_rules, N(host_rules), ENTRY_VMFAIL,
     VMX_ERR_ENTRY_INVALID_HOST_STATE},
    {guest_rules, N(guest_rules), ENTRY_FAIL_EXIT,
     VMX_EXIT_ENTRY_FAIL_GUEST_STATE},
};

void vmx_check_caps_default(struct vmx_check_caps *caps)
{
    for (int w = VMX_CTL_PIN; w <= VMX_CTL_ENTRY; w++)
        caps->controls[w] = vmx_cap_controls((enum vmx_controls)w);
    uint64_t basic = 0;
    vmx_cap_read(MSR_IA32_VMX_BASIC, &basic);
    caps->revision = (uint32_t)basic & 0x7FFFFFFF;
    vmx_cap_read(MSR_IA32_VMX_MISC, &caps->misc);
    vmx_cap_read(MSR_IA32_VMX_CR0_FIXED0, &caps->cr0_fixed0);
    vmx_cap_read(MSR_IA32_VMX_CR0_FIXED1, &caps->cr0_fixed1);
    vmx_cap_read(MSR_IA32_VMX_CR4_FIXED0, &caps->cr4_fixed0);
    vmx_cap_read(MSR_IA32_VMX_CR4_FIXED1, &caps->cr4_fixed1);
    vmx_cap_read(MSR_IA32_VMX_EPT_VPID_CAP, &caps->ept_vpid);
}

void vmx_check_env_init(struct vmx_check_env *env)
{
    *env = (struct vmx_check_env){
        .maxphyaddr = 39,
        .ia32e_host = true,
        .current_vmcs = ~0ull,
    };
}

static void fill(struct vmx_entry_check *out, size_t t, const struct rule *r)
{
    *out = (struct vmx_entry_check){.outcome = tables[t].outcome,
                                    .rule = r->name, .sdm = r->sdm};
    if (tables[t].outcome == ENTRY_VMFAIL) {
        out->vm_instruction_error = tables[t].error;
    } else {
        out->exit_reason = tables[t].error;
        out->qualification = r->qualification;
    }
}

/* The fields every rule may depend on through struct ectx; of RFLAGS,
 * only VM is (as v86). */
static const enum vmcs_index context_fields[] = {
    VMCS_IDX_PIN_CONTROLS, VMCS_IDX_PROC_CONTROLS, VMCS_IDX_PROC_CONTROLS2,
    VMCS_IDX_EXIT_CONTROLS, VMCS_IDX_ENTRY_CONTROLS, VMCS_IDX_GUEST_CR0,
    VMCS_IDX_GUEST_CR4, VMCS_IDX_ENTRY_INTR_INFO,
};

/* context_fields as a bit mask by dense index, made once. */
static const uint64_t *context_mask(void)
{
    static uint64_t mask[FIELD_WORDS];
    static bool ready;
    if (!ready) {
        for (size_t k = 0; k < N(context_fields); k++)
            mask[context_fields[k] / 64] |= 1ull << (context_fields[k] % 64);
        ready = true;
    }
    return mask;
}

static void context_init(struct ectx *c, const struct vmcs *v,
                         const struct vmx_check_env *env,
                         const struct vmx_check_caps *caps)
{
    *c = (struct ectx){.v = v, .env = env, .caps = caps};
    c->pin = (uint32_t)vmcs_get(v, VMCS_IDX_PIN_CONTROLS);
    c->proc = (uint32_t)vmcs_get(v, VMCS_IDX_PROC_CONTROLS);
    if (c->proc & PROC_SECONDARY_CONTROLS)
        c->proc2 = (uint32_t)vmcs_get(v, VMCS_IDX_PROC_CONTROLS2);
    c->exit = (uint32_t)vmcs_get(v, VMCS_IDX_EXIT_CONTROLS);
    c->entry = (uint32_t)vmcs_get(v, VMCS_IDX_ENTRY_CONTROLS);
    c->ia32e_guest = c->entry & ENTRY_IA32E_MODE_GUEST;
    c->host64 = c->exit & EXIT_HOST_ADDR_SPACE_SIZE;
    c->ug = c->proc2 & PROC2_UNRESTRICTED_GUEST;
    c->cr0 = vmcs_get(v, VMCS_IDX_GUEST_CR0);
    c->cr4 = vmcs_get(v, VMCS_IDX_GUEST_CR4);
    c->v86 = vmcs_get(v, VMCS_IDX_GUEST_RFLAGS) & RFLAGS_VM;
    uint32_t info = (uint32_t)vmcs_get(v, VMCS_IDX_ENTRY_INTR_INFO);
    c->inject = info & INTR_INFO_VALID;
    c->type = (info >> 8) & 7;
    c->vector = info & 0xFF;
}

enum {
    RULE_COUNT = N(control_rules) + N(host_rules) + N(guest_rules),
    RULE_WORDS = (RULE_COUNT + 63) / 64,
};

/* What each rule was ever seen to read, over all entries checked in this
 * process (the union of its read sets), and the same inverted: the rules
 * that ever read each field. A rule is a pure function of what it reads:
 * if none of that changed, it decides as before, so a change of fields
 * can only affect the rules that read them. Emulator-wide state, but
 * only ever grown: it makes no answer differ. */
static uint64_t seen_reads[RULE_COUNT][FIELD_WORDS];
static uint64_t readers[VMCS_FIELD_COUNT][RULE_WORDS];
static uint64_t read_by_some[FIELD_WORDS]; /* fields with a reader */
static uint64_t ran[RULE_WORDS];         /* rules run at least once */
static uint64_t read_memory[RULE_WORDS]; /* rules that ever read memory */

static void learn(size_t id, const struct rule_reads *r)
{
    uint64_t bit = 1ull << (id % 64);
    ran[id / 64] |= bit;
    if (r->memory)
        read_memory[id / 64] |= bit;
    for (unsigned w = 0; w < FIELD_WORDS; w++) {
        uint64_t fresh = r->fields[w] & ~seen_reads[id][w];
        seen_reads[id][w] |= fresh;
        read_by_some[w] |= fresh;
        for (; fresh; fresh &= fresh - 1)
            readers[w * 64 + (unsigned)__builtin_ctzll(fresh)][id / 64] |= bit;
    }
}

/* Rule `id` of the three tables in order, and its table. */
static const struct rule *rule_at(size_t id, size_t *table)
{
    for (*table = 0; id >= tables[*table].count; ++*table)
        id -= tables[*table].count;
    return &tables[*table].rules[id];
}

/* Runs the rules in the SDM's order; with `changed`, only those that
 * read a changed field, read memory, or were never run (the others hold
 * as they did at the last check that passed). */
static void run_rules(const struct ectx *proto, const uint64_t *changed,
                      struct vmx_entry_check *out)
{
    uint64_t todo[RULE_WORDS];
    for (unsigned w = 0; w < RULE_WORDS; w++)
        todo[w] = changed ? read_memory[w] | ~ran[w] : ~0ull;
    /* Most changed fields (the exit information) are read by no rule. */
    for (unsigned w = 0; changed && w < FIELD_WORDS; w++)
        for (uint64_t f = changed[w] & read_by_some[w]; f; f &= f - 1)
            for (unsigned k = 0; k < RULE_WORDS; k++)
                todo[k] |= readers[w * 64 + (unsigned)__builtin_ctzll(f)][k];
    struct ectx c = *proto;
    struct rule_reads reads;
    c.reads = &reads;
    for (unsigned w = 0; w < RULE_WORDS; w++)
        for (uint64_t bits = todo[w]; bits; bits &= bits - 1) {
            size_t id = w * 64 + (unsigned)__builtin_ctzll(bits), t;
            if (id >= RULE_COUNT)
                break;
            const struct rule *r = rule_at(id, &t);
            reads = (struct rule_reads){.memory = false};
            bool ok = r->ok(&c, r->arg);
            learn(id, &reads);
            if (!ok) {
                fill(out, t, r);
                return;
            }
        }
    *out = (struct vmx_entry_check){.outcome = ENTRY_OK};
}

/* env's capabilities, or this CPU's (constant tables, read once). */
static const struct vmx_check_caps *caps_of(const struct vmx_check_env *env)
{
    static struct vmx_check_caps own;
    static bool ready;
    if (env->caps)
        return env->caps;
    if (!ready) {
        vmx_check_caps_default(&own);
        ready = true;
    }
    return &own;
}

void vmx_check_entry(const struct vmcs *v, const struct vmx_check_env *env,
                     struct vmx_entry_check *out)
{
    struct ectx c;
    context_init(&c, v, env, caps_of(env));
    run_rules(&c, NULL, out);
}

static bool caps_equal(const struct vmx_check_caps *a,
                       const struct vmx_check_caps *b)
{
    return memcmp(a->controls, b->controls, sizeof a->controls) == 0 &&
           a->misc == b->misc && a->cr0_fixed0 == b->cr0_fixed0 &&
           a->cr0_fixed1 == b->cr0_fixed1 && a->cr4_fixed0 == b->cr4_fixed0 &&
           a->cr4_fixed1 == b->cr4_fixed1 && a->ept_vpid == b->ept_vpid &&
           a->revision == b->revision;
}

/* Whether the memo's last passing check was made in the same
 * circumstances: same machine facts, same capabilities. */
static bool same_env(const struct vmx_check_memo *m,
                     const struct vmx_check_env *env,
                     const struct vmx_check_caps *caps)
{
    return m->valid && m->maxphyaddr == env->maxphyaddr &&
           m->ia32e_host == env->ia32e_host &&
           m->current_vmcs == env->current_vmcs &&
           m->read_phys == env->read_phys && m->ctx == env->ctx &&
           caps_equal(&m->caps, caps);
}

/* Sets in `changed` the fields of v whose values differ from the memo's,
 * comparing only the fields whose bit is set in `candidates`. */
static void compare_fields(const struct vmcs *v,
                           const struct vmx_check_memo *memo,
                           const uint64_t *candidates, uint64_t *changed)
{
    for (unsigned w = 0; w < FIELD_WORDS; w++)
        for (uint64_t f = candidates[w]; f; f &= f - 1) {
            unsigned i = w * 64 + (unsigned)__builtin_ctzll(f);
            changed[w] |= (uint64_t)(v->value[i] != memo->value[i]) << (i % 64);
        }
}

/* Sets in `changed` every field of v whose value differs from the memo's.
 * Most fields keep their values: compare eight at a time first, by XOR
 * over a group of constant size (a memcmp call per group cost more than
 * the rest of a nested entry's checks). */
static void compare_all_fields(const struct vmcs *v,
                               const struct vmx_check_memo *memo,
                               uint64_t *changed)
{
    for (unsigned i = 0; i < VMCS_FIELD_COUNT; i += 8) {
        unsigned n = VMCS_FIELD_COUNT - i < 8 ? VMCS_FIELD_COUNT - i : 8;
        uint64_t differ = 0;
        if (n == 8)
            for (unsigned j = 0; j < 8; j++)
                differ |= v->value[i + j] ^ memo->value[i + j];
        else
            for (unsigned j = i; j < i + n; j++)
                differ |= v->value[j] ^ memo->value[j];
        if (!differ)
            continue;
        for (unsigned j = i; j < i + n; j++)
            changed[j / 64] |= (uint64_t)(v->value[j] != memo->value[j])
                               << (j % 64);
    }
}

void vmx_check_entry_incremental(struct vmcs *v,
                                 const struct vmx_check_env *env,
                                 struct vmx_check_memo *memo,
                                 struct vmx_entry_check *out)
{
    /* Stamps of passing checks, never 0 (a fresh VMCS's written_since). */
    static uint64_t last_stamp;
    _Static_assert(FIELD_WORDS == VMCS_WRITTEN_WORDS, "one bit per field");
    const struct vmx_check_caps *caps = caps_of(env);
    struct ectx c;
    context_init(&c, v, env, caps);
    uint64_t changed[FIELD_WORDS] = {0};
    bool full = !same_env(memo, env, caps);
    /* Every write goes through vmcs_set, which notes it in `written`:
     * a field not written since the memo's check still has the value the
     * memo holds. A VMCS that does not carry the memo's stamp (another
     * memo checked it since, or it was copied or loaded) compares all. */
    if (!full && v->written_since == memo->stamp)
        compare_fields(v, memo, v->written, changed);
    else if (!full)
        compare_all_fields(v, memo, changed);
    for (unsigned w = 0; w < FIELD_WORDS && !full; w++)
        full = (changed[w] & context_mask()[w]) != 0;
    full |= ((v->value[VMCS_IDX_GUEST_RFLAGS] ^
              memo->value[VMCS_IDX_GUEST_RFLAGS]) & RFLAGS_VM) != 0;
    run_rules(&c, full ? NULL : changed, out);
    memo->checked++;
    memo->full += full;
    if (out->outcome != ENTRY_OK)
        return;
    if (full)
        memcpy(memo->value, v->value, sizeof memo->value);
    for (unsigned w = 0; w < FIELD_WORDS && !full; w++)
        for (uint64_t f = changed[w]; f; f &= f - 1) {
            unsigned i = w * 64 + (unsigned)__builtin_ctzll(f);
            memo->value[i] = v->value[i];
        }
    memo->valid = true;
    memo->maxphyaddr = env->maxphyaddr;
    memo->ia32e_host = env->ia32e_host;
    memo->current_vmcs = env->current_vmcs;
    memo->read_phys = env->read_phys;
    memo->ctx = env->ctx;
    memo->caps = *caps;
    memo->stamp = ++last_stamp;
    v->written_since = memo->stamp;
    memset(v->written, 0, sizeof v->written);
}

size_t vmx_entry_rule_count(void)
{
    size_t n = 0;
    for (size_t t = 0; t < N(tables); t++)
        n += tables[t].count;
    return n;
}

void vmx_entry_rule_describe(size_t i, struct vmx_entry_check *out)
{
    for (size_t t = 0; t < N(tables); t++) {
        if (i < tables[t].count) {
            fill(out, t, &tables[t].rules[i]);
            return;
        }
        i -= tables[t].count;
    }
    *out = (struct vmx_entry_check){.outcome = ENTRY_OK};
}
