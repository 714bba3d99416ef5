/* l0/vmx/entry_checks.c: the VM-entry checks of SDM Vol. 3C 27.2 and
 * 27.3.1. One valid VMCS, set up as a VMM sets up a 64-bit guest under
 * a 64-bit host, with bit positions typed from the SDM (Vol. 3C 25.4-
 * 25.8, Vol. 3D Appendix A), not from controls.h; then, for every rule,
 * one case that breaks that rule alone and the outcome, error number or
 * exit reason, qualification and rule name expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmx/caps.h"
#include "vmx/entry_checks.h"

#define N(a) (sizeof(a) / sizeof *(a))
#define BIT(n) (1ull << (n))
#define F(name) VMCS_IDX_##name
#define NONCANON 0x0000800000000000ull /* bit 47 set, 63:48 clear */

/* ---- physical memory for the link pointer and the PDPTEs ---- */

enum { MEM_BASE = 0, MEM_SIZE = 0x40000 };
#include "fake_phys.h"

static void poke32(uint64_t pa, uint32_t v) { memcpy(&mem[pa], &v, 4); }
static void poke64(uint64_t pa, uint64_t v) { memcpy(&mem[pa], &v, 8); }

static uint32_t revision(void)
{
    uint64_t basic = 0;
    assert_true(vmx_cap_read(0x480, &basic));
    return (uint32_t)basic & 0x7FFFFFFF;
}

/* Where the fixture puts things (all within MAXPHYADDR 39). */
enum {
    GUEST_CR3 = 0x2000,
    IO_A = 0x10000,
    IO_B = 0x11000,
    MSR_BITMAP = 0x12000,
    VMREAD_BITMAP = 0x13000,
    VMWRITE_BITMAP = 0x14000,
    EPT_PML4 = 0x15000,
    MSR_AREA = 0x16000,
    SHADOW_VMCS = 0x17000,
    CURRENT_VMCS = 0x18000,
    OTHER_VMCS = 0x19000,
};

/* The six segment registers' fields: selector, base, limit, access
 * rights; CS first. */
enum { SEL, BASE, LIMIT, AR };
static const enum vmcs_index segs[6][4] = {
#define SEGROW(s)                                                             \
    {F(GUEST_##s##_SELECTOR), F(GUEST_##s##_BASE), F(GUEST_##s##_LIMIT),      \
     F(GUEST_##s##_AR)}
    SEGROW(CS), SEGROW(SS), SEGROW(DS), SEGROW(ES), SEGROW(FS), SEGROW(GS),
#undef SEGROW
};

/* Sets all six segment registers alike, CS with its own access rights. */
static void set_segments(struct vmcs *v, uint16_t sel, uint64_t base,
                         uint32_t limit, uint32_t cs_ar, uint32_t data_ar)
{
    for (size_t k = 0; k < N(segs); k++) {
        vmcs_set(v, segs[k][SEL], sel);
        vmcs_set(v, segs[k][BASE], base);
        vmcs_set(v, segs[k][LIMIT], limit);
        vmcs_set(v, segs[k][AR], k == 0 ? cs_ar : data_ar);
    }
}

/* ---- the valid VMCS ---- */

static struct vmcs vmcs;
static struct vmx_check_env env;
static struct vmx_check_caps caps; /* for cases that need other caps */

#define SET(f, x) vmcs_set(v, F(f), (x))

static void fixture(struct vmcs *v, struct vmx_check_env *e)
{
    memset(mem, 0, sizeof mem);
    /* The shadow VMCS the link pointer names: revision + bit 31. */
    poke32(SHADOW_VMCS, revision() | 1u << 31);
    vmcs_init(v, revision());
    vmx_check_caps_default(&caps);
    *e = (struct vmx_check_env){.maxphyaddr = 39, .ia32e_host = true,
                                .current_vmcs = CURRENT_VMCS,
                                .read_phys = fake_read};

    /* Pin-based (25.6.1): default1 bits 1, 2, 4; external-interrupt
     * exiting 0, NMI exiting 3, virtual NMIs 5, preemption timer 6. */
    SET(PIN_CONTROLS, 0x16 | BIT(0) | BIT(3) | BIT(5) | BIT(6));
    /* Primary (25.6.2): default1 bits 1, 4-6, 8, 13, 14, 26 (CR3-load
     * and CR3-store exiting 15, 16 cleared, which the TRUE MSR allows);
     * HLT exiting 7, use I/O bitmaps 25, use MSR bitmaps 28, secondary
     * controls 31. */
    SET(PROC_CONTROLS, BIT(1) | BIT(4) | BIT(5) | BIT(6) | BIT(8) | BIT(13) |
                           BIT(14) | BIT(26) | BIT(7) | BIT(25) | BIT(28) |
                           BIT(31));
    /* Secondary: enable EPT 1, enable VPID 5, VMCS shadowing 14. */
    SET(PROC_CONTROLS2, BIT(1) | BIT(5) | BIT(14));
    /* Exit (25.7.1): default1 bits 0-8, 10, 11, 13, 14, 16, 17; host
     * address-space size 9, acknowledge interrupt 15, save/load PAT 18,
     * 19, save/load EFER 20, 21, save preemption timer 22. */
    SET(EXIT_CONTROLS, 0x36DFF | BIT(9) | BIT(15) | BIT(18) | BIT(19) |
                           BIT(20) | BIT(21) | BIT(22));
    /* Entry (25.8.1): default1 bits 0-8, 12; IA-32e mode guest 9, load
     * PAT 14, load EFER 15. */
    SET(ENTRY_CONTROLS, 0x11FF | BIT(9) | BIT(14) | BIT(15));
    SET(EXCEPTION_BITMAP, BIT(14));
    SET(CR3_TARGET_COUNT, 1);
    SET(CR3_TARGET0, GUEST_CR3);
    SET(IO_BITMAP_A, IO_A);
    SET(IO_BITMAP_B, IO_B);
    SET(MSR_BITMAP, MSR_BITMAP);
    SET(VMREAD_BITMAP_ADDR, VMREAD_BITMAP);
    SET(VMWRITE_BITMAP_ADDR, VMWRITE_BITMAP);
    /* EPTP (25.6.11): WB (6), walk length 4 - 1 in bits 5:3, A/D 6. */
    SET(EPT_POINTER, EPT_PML4 | 6 | 3 << 3 | BIT(6));
    SET(VPID, 1);
    SET(PREEMPTION_TIMER, 100000);
    SET(EXIT_MSR_STORE_COUNT, 2);
    SET(EXIT_MSR_STORE_ADDR, MSR_AREA);
    SET(EXIT_MSR_LOAD_COUNT, 1);
    SET(EXIT_MSR_LOAD_ADDR, MSR_AREA + 0x100);
    SET(ENTRY_MSR_LOAD_COUNT, 1);
    SET(ENTRY_MSR_LOAD_ADDR, MSR_AREA + 0x200);

    /* Host: a 64-bit kernel with paging (PE, MP, ET, NE, WP, PG; PAE,
     * PGE, VMXE), flat GDT selectors 0x08 code, 0x10 data, 0x18 TSS. */
    SET(HOST_CR0, 0x80010033);
    SET(HOST_CR3, 0x1000);
    SET(HOST_CR4, BIT(5) | BIT(7) | BIT(13));
    SET(HOST_CS_SELECTOR, 0x08);
    SET(HOST_SS_SELECTOR, 0x10);
    SET(HOST_DS_SELECTOR, 0x10);
    SET(HOST_ES_SELECTOR, 0x10);
    SET(HOST_FS_SELECTOR, 0);
    SET(HOST_GS_SELECTOR, 0);
    SET(HOST_TR_SELECTOR, 0x18);
    SET(HOST_FS_BASE, 0);
    SET(HOST_GS_BASE, 0xFFFF888000000000);
    SET(HOST_TR_BASE, 0xFFFFFFFF81002000);
    SET(HOST_GDTR_BASE, 0xFFFFFFFF81001000);
    SET(HOST_IDTR_BASE, 0xFFFFFFFF81003000);
    SET(HOST_RSP, 0xFFFFFFFF81010000);
    SET(HOST_RIP, 0xFFFFFFFF81000000);
    SET(HOST_PAT, 0x0007040600070406); /* the power-on PAT */
    SET(HOST_EFER, BIT(0) | BIT(8) | BIT(10) | BIT(11)); /* SCE LME LMA NXE */

    /* Guest: the same kind of 64-bit kernel, about to run at RIP. */
    SET(GUEST_CR0, 0x80010033);
    SET(GUEST_CR3, GUEST_CR3);
    SET(GUEST_CR4, BIT(5) | BIT(13));
    SET(GUEST_DR7, 0x400);
    SET(GUEST_RSP, 0x80000);
    SET(GUEST_RIP, 0xFFFFFFFF80100000);
    SET(GUEST_RFLAGS, 0x2);
    /* Access rights (25.4.1): type 3:0, S 4, DPL 6:5, P 7, L 13, D/B 14,
     * G 15, unusable 16. CS: 64-bit code, type 11 (execute/read,
     * accessed). Data: type 3 (read/write, accessed), D/B, G. */
    set_segments(v, 0x10, 0, 0xFFFFFFFF, 0xA09B, 0xC093);
    SET(GUEST_CS_SELECTOR, 0x08);
    SET(GUEST_GS_BASE, 0xFFFF888000001000);
    SET(GUEST_LDTR_AR, BIT(16)); /* no LDT: unusable */
    SET(GUEST_TR_SELECTOR, 0x18);
    SET(GUEST_TR_BASE, 0xFFFFFFFF80002000);
    SET(GUEST_TR_LIMIT, 0x67);
    SET(GUEST_TR_AR, 0x8B); /* busy 64-bit TSS, P */
    SET(GUEST_GDTR_BASE, 0xFFFFFFFF80001000);
    SET(GUEST_GDTR_LIMIT, 0x37);
    SET(GUEST_IDTR_BASE, 0xFFFFFFFF80003000);
    SET(GUEST_IDTR_LIMIT, 0xFFF);
    SET(GUEST_PAT, 0x0007040600070406);
    SET(GUEST_EFER, BIT(0) | BIT(8) | BIT(10) | BIT(11));
    SET(LINK_POINTER, SHADOW_VMCS);
}

/* ---- situations some cases start from ---- */

static void unrestricted(struct vmcs *v, struct vmx_check_env *e)
{
    (void)e;
    vmcs_set(v, F(PROC_CONTROLS2), vmcs_get(v, F(PROC_CONTROLS2)) | BIT(7));
}

/* A real-mode guest under unrestricted guest: CR0 ET|NE, no IA-32e
 * mode, 64 KiB segments. */
static void real_mode(struct vmcs *v, struct vmx_check_env *e)
{
    unrestricted(v, e);
    vmcs_set(v, F(ENTRY_CONTROLS), vmcs_get(v, F(ENTRY_CONTROLS)) & ~BIT(9));
    SET(GUEST_CR0, 0x30);
    SET(GUEST_CR4, BIT(13));
    SET(GUEST_EFER, 0);
    SET(GUEST_RIP, 0x7C00);
    set_segments(v, 0, 0, 0xFFFF, 0x9B, 0x93);
}

/* A 32-bit protected-mode guest with PAE paging. */
static void guest32(struct vmcs *v, struct vmx_check_env *e)
{
    (void)e;
    vmcs_set(v, F(ENTRY_CONTROLS), vmcs_get(v, F(ENTRY_CONTROLS)) & ~BIT(9));
    SET(GUEST_EFER, BIT(0) | BIT(11));
    SET(GUEST_CS_AR, 0xC09B);
    SET(GUEST_RIP, 0x100000);
}

/* A 32-bit host, entered from outside IA-32e mode. */
static void host32(struct vmcs *v, struct vmx_check_env *e)
{
    vmcs_set(v, F(EXIT_CONTROLS), vmcs_get(v, F(EXIT_CONTROLS)) & ~BIT(9));
    vmcs_set(v, F(ENTRY_CONTROLS), vmcs_get(v, F(ENTRY_CONTROLS)) & ~BIT(9));
    SET(HOST_EFER, BIT(0) | BIT(11));
    SET(HOST_RIP, 0x100000);
    e->ia32e_host = false;
}

static void host32_guest32(struct vmcs *v, struct vmx_check_env *e)
{
    host32(v, e);
    guest32(v, e);
}

static void caps_pcide(struct vmcs *v, struct vmx_check_env *e)
{
    (void)v;
    caps.cr4_fixed1 |= BIT(17);
    e->caps = &caps;
}

static void host32_pcide(struct vmcs *v, struct vmx_check_env *e)
{
    host32(v, e);
    caps_pcide(v, e);
}

static void guest32_pcide(struct vmcs *v, struct vmx_check_env *e)
{
    guest32(v, e);
    caps_pcide(v, e);
}

/* Virtual-8086 segments: selector 0x1000, base 0x10000, 64 KiB, 0xF3. */
static void v86(struct vmcs *v, struct vmx_check_env *e)
{
    (void)e;
    SET(GUEST_RFLAGS, 0x20002);
    SET(GUEST_RIP, 0x100);
    set_segments(v, 0x1000, 0x10000, 0xFFFF, 0xF3, 0xF3);
}

static void v86_guest32(struct vmcs *v, struct vmx_check_env *e)
{
    guest32(v, e);
    v86(v, e);
}

/* A usable LDT at selector 0x28. */
static void ldt(struct vmcs *v, struct vmx_check_env *e)
{
    (void)e;
    SET(GUEST_LDTR_SELECTOR, 0x28);
    SET(GUEST_LDTR_BASE, 0xFFFFFFFF80004000);
    SET(GUEST_LDTR_LIMIT, 0x67);
    SET(GUEST_LDTR_AR, 0x82);
}

/* CPL 3: CS and SS DPL and RPL 3. */
static void ring3(struct vmcs *v, struct vmx_check_env *e)
{
    (void)e;
    SET(GUEST_CS_SELECTOR, 0x0B);
    SET(GUEST_CS_AR, 0xA0FB);
    SET(GUEST_SS_SELECTOR, 0x13);
    SET(GUEST_SS_AR, 0xC0F3);
}

static void caps_mtf(struct vmcs *v, struct vmx_check_env *e)
{
    (void)v;
    caps.controls[VMX_CTL_PROC] |= BIT(27 + 32);
    e->caps = &caps;
}

/* A CPU offering the TPR shadow and the x2APIC-mode control, which this
 * one does not (caps.c), for the rules that relate them to the
 * APIC-access page (27.2.1.1). */
static void caps_apic_virt(struct vmcs *v, struct vmx_check_env *e)
{
    (void)v;
    caps.controls[VMX_CTL_PROC] |= BIT(21 + 32);
    caps.controls[VMX_CTL_PROC2] |= BIT(4 + 32);
    e->caps = &caps;
}

static void caps_no_ept_ad(struct vmcs *v, struct vmx_check_env *e)
{
    (void)v;
    caps.ept_vpid &= ~BIT(21);
    e->caps = &caps;
}

static void caps_zero_length_injection(struct vmcs *v,
                                       struct vmx_check_env *e)
{
    (void)v;
    caps.misc |= BIT(30);
    e->caps = &caps;
}

static void outside_ia32e(struct vmcs *v, struct vmx_check_env *e)
{
    (void)v;
    e->ia32e_host = false;
}

static void link_is_current(struct vmcs *v, struct vmx_check_env *e)
{
    (void)v;
    e->current_vmcs = SHADOW_VMCS;
}

static void other_vmcs_ordinary(struct vmcs *v, struct vmx_check_env *e)
{
    (void)e;
    poke32(OTHER_VMCS, revision());
    SET(LINK_POINTER, OTHER_VMCS);
}

static void other_vmcs_bad_revision(struct vmcs *v, struct vmx_check_env *e)
{
    (void)e;
    poke32(OTHER_VMCS, (revision() ^ 0x100) | 1u << 31);
    SET(LINK_POINTER, OTHER_VMCS);
}

static void no_memory(struct vmcs *v, struct vmx_check_env *e)
{
    (void)v;
    e->read_phys = NULL;
}

/* PAE paging without EPT: the PDPTEs come from memory at CR3. */
static void pae_no_ept(struct vmcs *v, struct vmx_check_env *e)
{
    guest32(v, e);
    vmcs_set(v, F(PROC_CONTROLS2), vmcs_get(v, F(PROC_CONTROLS2)) & ~BIT(1));
    for (int i = 0; i < 4; i++)
        poke64(GUEST_CR3 + 8 * i, 0x100001 + 0x1000 * i); /* present */
}

static void pae_no_ept_bad_pdpte2(struct vmcs *v, struct vmx_check_env *e)
{
    pae_no_ept(v, e);
    poke64(GUEST_CR3 + 16, 0x102001 | BIT(5));
}

/* ---- the cases ---- */

enum op { END, PUT, OR, CLR };
struct put {
    enum op op;
    enum vmcs_index f;
    uint64_t x;
};

struct ecase {
    const char *what;
    void (*prep)(struct vmcs *v, struct vmx_check_env *e);
    struct put put[4];
    int outcome;
    uint32_t code; /* VM-instruction error or basic exit reason */
    uint64_t qual;
    const char *rule; /* NULL: the entry passes */
};

#define PASSES ENTRY_OK, 0, 0, NULL
#define CTL(r) ENTRY_VMFAIL, 7, 0, r
#define HOST(r) ENTRY_VMFAIL, 8, 0, r
#define GUEST(r) ENTRY_FAIL_EXIT, 33, 0, r
#define LINK(r) ENTRY_FAIL_EXIT, 33, 4, r
#define PDPTE(r) ENTRY_FAIL_EXIT, 33, 2, r

/* Event injection (25.8.3): valid 31, deliver error code 11, type 10:8. */
#define INJECT(type, vector) (BIT(31) | (type) << 8 | (vector))
#define INJ_ERR BIT(11)
#define INJECTS(x) {PUT, F(ENTRY_INTR_INFO), (x)}

/* One case per segment register for the same mutation of its `part`. */
#define SEGC(s, prep, op, part, x, r)                                         \
    {#s ": " r, prep, {{op, F(GUEST_##s##_##part), (x)}},                     \
     GUEST("guest " #s " " r)}
#define SEG6C(prep, op, part, x, r)                                           \
    SEGC(CS, prep, op, part, x, r), SEGC(SS, prep, op, part, x, r),           \
    SEGC(DS, prep, op, part, x, r), SEGC(ES, prep, op, part, x, r),           \
    SEGC(FS, prep, op, part, x, r), SEGC(GS, prep, op, part, x, r)
#define SEG5C(prep, op, part, x, r)                                           \
    SEGC(SS, prep, op, part, x, r), SEGC(DS, prep, op, part, x, r),           \
    SEGC(ES, prep, op, part, x, r), SEGC(FS, prep, op, part, x, r),           \
    SEGC(GS, prep, op, part, x, r)
#define SEG4C(prep, op, part, x, r)                                           \
    SEGC(DS, prep, op, part, x, r), SEGC(ES, prep, op, part, x, r),           \
    SEGC(FS, prep, op, part, x, r), SEGC(GS, prep, op, part, x, r)

static const struct ecase cases[] = {
    {"the fixture", NULL, {{END}}, PASSES},

    /* ==== 27.2.1.1 VM-execution controls ==== */
    {"posted interrupts (not offered)", NULL,
     {{OR, F(PIN_CONTROLS), BIT(7)}},
     CTL("pin-based controls: a bit not allowed by "
         "IA32_VMX_TRUE_PINBASED_CTLS")},
    {"pin default1 bit 1 clear", NULL, {{CLR, F(PIN_CONTROLS), BIT(1)}},
     CTL("pin-based controls: a bit not allowed by "
         "IA32_VMX_TRUE_PINBASED_CTLS")},
    {"use TPR shadow (not offered)", NULL,
     {{OR, F(PROC_CONTROLS), BIT(21)}},
     CTL("primary processor-based controls: a bit not allowed by "
         "IA32_VMX_TRUE_PROCBASED_CTLS")},
    {"monitor trap flag (not offered)", NULL,
     {{OR, F(PROC_CONTROLS), BIT(27)}},
     CTL("primary processor-based controls: a bit not allowed by "
         "IA32_VMX_TRUE_PROCBASED_CTLS")},
    {"APIC-register virtualization (not offered)", NULL,
     {{OR, F(PROC_CONTROLS2), BIT(8)}},
     CTL("secondary processor-based controls: a bit not allowed by "
         "IA32_VMX_PROCBASED_CTLS2")},
    {"secondary controls ignored when not activated", NULL,
     {{OR, F(PROC_CONTROLS2), 0xFFFFFFFF},
      {CLR, F(PROC_CONTROLS), BIT(31)},
      {PUT, F(LINK_POINTER), ~0ull}},
     PASSES},
    {"CR3-target count 5", NULL, {{PUT, F(CR3_TARGET_COUNT), 5}},
     CTL("CR3-target count above IA32_VMX_MISC's")},
    {"CR3-target count 4", NULL, {{PUT, F(CR3_TARGET_COUNT), 4}}, PASSES},
    {"I/O bitmap A unaligned", NULL, {{PUT, F(IO_BITMAP_A), IO_A + 0x800}},
     CTL("I/O bitmap A address: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"I/O bitmap A beyond MAXPHYADDR", NULL,
     {{PUT, F(IO_BITMAP_A), BIT(39)}},
     CTL("I/O bitmap A address: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"I/O bitmap B beyond MAXPHYADDR", NULL,
     {{PUT, F(IO_BITMAP_B), BIT(50) | IO_B}},
     CTL("I/O bitmap B address: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"I/O bitmaps unchecked when not used", NULL,
     {{PUT, F(IO_BITMAP_A), 1}, {PUT, F(IO_BITMAP_B), BIT(63)},
      {CLR, F(PROC_CONTROLS), BIT(25)}},
     PASSES},
    {"MSR bitmap unaligned", NULL, {{PUT, F(MSR_BITMAP), MSR_BITMAP + 4}},
     CTL("MSR bitmap address: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"virtual NMIs without NMI exiting", NULL,
     {{CLR, F(PIN_CONTROLS), BIT(3)}},
     CTL("virtual NMIs without NMI exiting")},
    {"NMI-window exiting without virtual NMIs", NULL,
     {{CLR, F(PIN_CONTROLS), BIT(5)}, {OR, F(PROC_CONTROLS), BIT(22)}},
     CTL("NMI-window exiting without virtual NMIs")},
    {"NMI-window exiting with virtual NMIs", NULL,
     {{OR, F(PROC_CONTROLS), BIT(22)}}, PASSES},
    /* "Virtualize APIC accesses" (bit 0): the APIC-access address. */
    {"APIC-access address unaligned", NULL,
     {{OR, F(PROC_CONTROLS2), BIT(0)},
      {PUT, F(APIC_ACCESS_ADDR), 0xFEE00000 | 0x80}},
     CTL("APIC-access address: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"APIC-access address beyond MAXPHYADDR", NULL,
     {{OR, F(PROC_CONTROLS2), BIT(0)}, {PUT, F(APIC_ACCESS_ADDR), BIT(45)}},
     CTL("APIC-access address: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"APIC-access address at the xAPIC's page", NULL,
     {{OR, F(PROC_CONTROLS2), BIT(0)},
      {PUT, F(APIC_ACCESS_ADDR), 0xFEE00000}},
     PASSES},
    {"APIC-access address unchecked without the control", NULL,
     {{PUT, F(APIC_ACCESS_ADDR), ~0ull}}, PASSES},
    {"virtualize x2APIC mode (not offered)", NULL,
     {{OR, F(PROC_CONTROLS2), BIT(4)}},
     CTL("secondary processor-based controls: a bit not allowed by "
         "IA32_VMX_PROCBASED_CTLS2")},
    {"virtualize x2APIC mode without use TPR shadow", caps_apic_virt,
     {{OR, F(PROC_CONTROLS2), BIT(4)}},
     CTL("virtualize x2APIC mode, APIC-register virtualization or "
         "virtual-interrupt delivery without use TPR shadow")},
    {"virtualize x2APIC mode with use TPR shadow", caps_apic_virt,
     {{OR, F(PROC_CONTROLS2), BIT(4)}, {OR, F(PROC_CONTROLS), BIT(21)}},
     PASSES},
    {"virtualize x2APIC mode and APIC accesses", caps_apic_virt,
     {{OR, F(PROC_CONTROLS2), BIT(4) | BIT(0)},
      {OR, F(PROC_CONTROLS), BIT(21)},
      {PUT, F(APIC_ACCESS_ADDR), 0xFEE00000}},
     CTL("virtualize x2APIC mode with virtualize APIC accesses")},
    {"VPID 0", NULL, {{PUT, F(VPID), 0}}, CTL("VPID 0 with enable VPID")},
    {"VPID 0 without enable VPID", NULL,
     {{PUT, F(VPID), 0}, {CLR, F(PROC_CONTROLS2), BIT(5)}}, PASSES},
    {"EPTP memory type WC", NULL,
     {{PUT, F(EPT_POINTER), EPT_PML4 | 1 | 3 << 3}},
     CTL("EPTP: memory type not offered by IA32_VMX_EPT_VPID_CAP")},
    {"EPTP memory type UC", NULL,
     {{PUT, F(EPT_POINTER), EPT_PML4 | 0 | 3 << 3}}, PASSES},
    {"EPTP 5-level walk", NULL,
     {{PUT, F(EPT_POINTER), EPT_PML4 | 6 | 4 << 3}},
     CTL("EPTP: page-walk length not 4")},
    {"EPTP A/D without the capability", caps_no_ept_ad, {{END}},
     CTL("EPTP: accessed and dirty flags not offered")},
    {"EPTP bit 7", NULL, {{OR, F(EPT_POINTER), BIT(7)}},
     CTL("EPTP: reserved bits 11:7 or bits beyond MAXPHYADDR set")},
    {"EPTP beyond MAXPHYADDR", NULL, {{OR, F(EPT_POINTER), BIT(39)}},
     CTL("EPTP: reserved bits 11:7 or bits beyond MAXPHYADDR set")},
    {"EPTP unchecked without EPT", NULL,
     {{PUT, F(EPT_POINTER), ~0ull}, {CLR, F(PROC_CONTROLS2), BIT(1)}},
     PASSES},
    {"unrestricted guest without EPT", NULL,
     {{PUT, F(PROC_CONTROLS2), BIT(5) | BIT(7) | BIT(14)}},
     CTL("unrestricted guest without enable EPT")},
    {"VMREAD bitmap unaligned", NULL,
     {{PUT, F(VMREAD_BITMAP_ADDR), VMREAD_BITMAP | 0x10}},
     CTL("VMREAD bitmap address: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"VMWRITE bitmap beyond MAXPHYADDR", NULL,
     {{OR, F(VMWRITE_BITMAP_ADDR), BIT(45)}},
     CTL("VMWRITE bitmap address: not 4 KiB aligned or beyond MAXPHYADDR")},

    /* ==== 27.2.1.2 VM-exit controls ==== */
    {"load IA32_PERF_GLOBAL_CTRL (not offered)", NULL,
     {{OR, F(EXIT_CONTROLS), BIT(12)}},
     CTL("VM-exit controls: a bit not allowed by IA32_VMX_TRUE_EXIT_CTLS")},
    {"exit default1 bit 0 clear", NULL, {{CLR, F(EXIT_CONTROLS), BIT(0)}},
     CTL("VM-exit controls: a bit not allowed by IA32_VMX_TRUE_EXIT_CTLS")},
    {"save preemption timer without the timer", NULL,
     {{CLR, F(PIN_CONTROLS), BIT(6)}},
     CTL("save VMX-preemption timer value without activate "
         "VMX-preemption timer")},
    {"exit MSR-store address unaligned", NULL,
     {{PUT, F(EXIT_MSR_STORE_ADDR), MSR_AREA + 8}},
     CTL("VM-exit MSR-store address: not 16-byte aligned")},
    {"exit MSR-store address unaligned, count 0", NULL,
     {{PUT, F(EXIT_MSR_STORE_ADDR), MSR_AREA + 8},
      {PUT, F(EXIT_MSR_STORE_COUNT), 0}},
     PASSES},
    {"exit MSR-store area ends beyond MAXPHYADDR", NULL,
     {{PUT, F(EXIT_MSR_STORE_ADDR), BIT(39) - 16}},
     CTL("VM-exit MSR-store area: beyond MAXPHYADDR")},
    {"exit MSR-store area ends at MAXPHYADDR", NULL,
     {{PUT, F(EXIT_MSR_STORE_ADDR), BIT(39) - 32}}, PASSES},
    {"exit MSR-load address unaligned", NULL,
     {{PUT, F(EXIT_MSR_LOAD_ADDR), MSR_AREA + 1}},
     CTL("VM-exit MSR-load address: not 16-byte aligned")},
    {"exit MSR-load address beyond MAXPHYADDR", NULL,
     {{PUT, F(EXIT_MSR_LOAD_ADDR), ~0ull << 4}},
     CTL("VM-exit MSR-load area: beyond MAXPHYADDR")},

    /* ==== 27.2.1.3 VM-entry controls ==== */
    {"entry to SMM (not offered)", NULL,
     {{OR, F(ENTRY_CONTROLS), BIT(10)}},
     CTL("VM-entry controls: a bit not allowed by "
         "IA32_VMX_TRUE_ENTRY_CTLS")},
    {"inject type 1", NULL, {INJECTS(INJECT(1, 0x20))},
     CTL("event injection: reserved interruption type")},
    {"inject type 7 without MTF", NULL, {INJECTS(INJECT(7, 0))},
     CTL("event injection: reserved interruption type")},
    {"inject type 7 with MTF offered", caps_mtf, {INJECTS(INJECT(7, 0))},
     PASSES},
    {"inject NMI vector 3", NULL, {INJECTS(INJECT(2, 3))},
     CTL("event injection: NMI with a vector other than 2")},
    {"inject NMI", NULL, {INJECTS(INJECT(2, 2))}, PASSES},
    {"inject hardware exception 32", NULL, {INJECTS(INJECT(3, 32))},
     CTL("event injection: hardware exception with a vector above 31")},
    {"inject other event vector 1", caps_mtf, {INJECTS(INJECT(7, 1))},
     CTL("event injection: other event with a vector other than 0")},
    {"inject #UD with an error code", NULL,
     {INJECTS(INJECT(3, 6) | INJ_ERR)},
     CTL("event injection: error code for an event that delivers none")},
    {"inject software interrupt with an error code", NULL,
     {INJECTS(INJECT(4, 13) | INJ_ERR), {PUT, F(ENTRY_INSN_LEN), 2}},
     CTL("event injection: error code for an event that delivers none")},
    {"inject #GP without its error code", NULL, {INJECTS(INJECT(3, 13))},
     CTL("event injection: no error code for an exception that delivers "
         "one")},
    {"inject #PF with its error code", NULL,
     {INJECTS(INJECT(3, 14) | INJ_ERR), {PUT, F(ENTRY_EXCEPTION_ERROR), 2}},
     PASSES},
    {"inject #GP without error code in real mode", real_mode,
     {INJECTS(INJECT(3, 13))}, PASSES},
    {"inject with bit 12 set", NULL,
     {INJECTS(INJECT(0, 0x20) | BIT(12)), {PUT, F(GUEST_RFLAGS), 0x202}},
     CTL("event injection: reserved bits 30:12 set")},
    {"inject #GP error code 0x10000", NULL,
     {INJECTS(INJECT(3, 13) | INJ_ERR),
      {PUT, F(ENTRY_EXCEPTION_ERROR), 0x10000}},
     CTL("event injection: error code bits 31:16 set")},
    {"inject #GP error code 0xFFFF", NULL,
     {INJECTS(INJECT(3, 13) | INJ_ERR),
      {PUT, F(ENTRY_EXCEPTION_ERROR), 0xFFFF}},
     PASSES},
    {"inject INT 0x80, length 0", NULL, {INJECTS(INJECT(4, 0x80))},
     CTL("event injection: software event with an instruction length "
         "outside 1-15")},
    {"inject INT3, length 16", NULL,
     {INJECTS(INJECT(6, 3)), {PUT, F(ENTRY_INSN_LEN), 16}},
     CTL("event injection: software event with an instruction length "
         "outside 1-15")},
    {"inject ICEBP, length 1", NULL,
     {INJECTS(INJECT(5, 1)), {PUT, F(ENTRY_INSN_LEN), 1}}, PASSES},
    {"inject INT 0x80, length 0, zero length offered",
     caps_zero_length_injection, {INJECTS(INJECT(4, 0x80))}, PASSES},
    {"entry MSR-load address unaligned", NULL,
     {{PUT, F(ENTRY_MSR_LOAD_ADDR), MSR_AREA + 0x204}},
     CTL("VM-entry MSR-load address: not 16-byte aligned")},
    {"entry MSR-load area beyond MAXPHYADDR", NULL,
     {{PUT, F(ENTRY_MSR_LOAD_COUNT), 0x1000},
      {PUT, F(ENTRY_MSR_LOAD_ADDR), BIT(39) - 0x8000}},
     CTL("VM-entry MSR-load area: beyond MAXPHYADDR")},

    /* ==== 27.2.2 host control registers and MSRs ==== */
    {"host CR0.NE clear", NULL, {{CLR, F(HOST_CR0), BIT(5)}},
     HOST("host CR0: a bit fixed by IA32_VMX_CR0_FIXED0/1 is wrong")},
    {"host CR0 bit 32", NULL, {{OR, F(HOST_CR0), BIT(32)}},
     HOST("host CR0: a bit fixed by IA32_VMX_CR0_FIXED0/1 is wrong")},
    {"host CR4.VMXE clear", NULL, {{CLR, F(HOST_CR4), BIT(13)}},
     HOST("host CR4: a bit fixed by IA32_VMX_CR4_FIXED0/1 is wrong")},
    {"host CR4.SMEP (not offered)", NULL, {{OR, F(HOST_CR4), BIT(20)}},
     HOST("host CR4: a bit fixed by IA32_VMX_CR4_FIXED0/1 is wrong")},
    {"host CR3 bit 39", NULL, {{OR, F(HOST_CR3), BIT(39)}},
     HOST("host CR3: bits beyond MAXPHYADDR set")},
    {"host SYSENTER_ESP", NULL, {{PUT, F(HOST_SYSENTER_ESP), NONCANON}},
     HOST("host IA32_SYSENTER_ESP: not canonical")},
    {"host SYSENTER_EIP", NULL,
     {{PUT, F(HOST_SYSENTER_EIP), 0xFFFF7FFFFFFFFFFF}},
     HOST("host IA32_SYSENTER_EIP: not canonical")},
    {"host PAT type 2", NULL, {{PUT, F(HOST_PAT), 0x0007040600070402}},
     HOST("host IA32_PAT: an invalid memory type")},
    {"host PAT type 8", NULL, {{PUT, F(HOST_PAT), 0x0807040600070406}},
     HOST("host IA32_PAT: an invalid memory type")},
    {"host PAT invalid but not loaded", NULL,
     {{PUT, F(HOST_PAT), 0x0202020202020202},
      {CLR, F(EXIT_CONTROLS), BIT(19)}},
     PASSES},
    {"host EFER bit 1", NULL, {{OR, F(HOST_EFER), BIT(1)}},
     HOST("host IA32_EFER: reserved bits set")},
    {"host EFER.LMA clear", NULL, {{CLR, F(HOST_EFER), BIT(10)}},
     HOST("host IA32_EFER: LMA differs from host address-space size")},
    {"host EFER.LME clear", NULL, {{CLR, F(HOST_EFER), BIT(8)}},
     HOST("host IA32_EFER: LME differs from host address-space size")},
    {"host EFER unchecked when not loaded", NULL,
     {{PUT, F(HOST_EFER), ~0ull}, {CLR, F(EXIT_CONTROLS), BIT(21)}},
     PASSES},

    /* ==== 27.2.3 host segment and descriptor-table registers ==== */
    {"host ES RPL", NULL, {{PUT, F(HOST_ES_SELECTOR), 0x13}},
     HOST("host ES selector: RPL or TI set")},
    {"host CS TI", NULL, {{PUT, F(HOST_CS_SELECTOR), 0x0C}},
     HOST("host CS selector: RPL or TI set")},
    {"host SS RPL", NULL, {{PUT, F(HOST_SS_SELECTOR), 0x11}},
     HOST("host SS selector: RPL or TI set")},
    {"host DS RPL", NULL, {{PUT, F(HOST_DS_SELECTOR), 0x12}},
     HOST("host DS selector: RPL or TI set")},
    {"host FS TI", NULL, {{PUT, F(HOST_FS_SELECTOR), 0x04}},
     HOST("host FS selector: RPL or TI set")},
    {"host GS RPL", NULL, {{PUT, F(HOST_GS_SELECTOR), 0x03}},
     HOST("host GS selector: RPL or TI set")},
    {"host TR RPL", NULL, {{PUT, F(HOST_TR_SELECTOR), 0x1B}},
     HOST("host TR selector: RPL or TI set")},
    {"host CS 0", NULL, {{PUT, F(HOST_CS_SELECTOR), 0}},
     HOST("host CS selector: 0")},
    {"host TR 0", NULL, {{PUT, F(HOST_TR_SELECTOR), 0}},
     HOST("host TR selector: 0")},
    {"host SS 0 in a 64-bit host", NULL, {{PUT, F(HOST_SS_SELECTOR), 0}},
     PASSES},
    {"host SS 0 in a 32-bit host", host32_guest32,
     {{PUT, F(HOST_SS_SELECTOR), 0}},
     HOST("host SS selector: 0 with host address-space size 0")},
    {"host FS base", NULL, {{PUT, F(HOST_FS_BASE), NONCANON}},
     HOST("host FS base: not canonical")},
    {"host GS base", NULL, {{PUT, F(HOST_GS_BASE), NONCANON}},
     HOST("host GS base: not canonical")},
    {"host GDTR base", NULL, {{PUT, F(HOST_GDTR_BASE), NONCANON}},
     HOST("host GDTR base: not canonical")},
    {"host IDTR base", NULL, {{PUT, F(HOST_IDTR_BASE), NONCANON}},
     HOST("host IDTR base: not canonical")},
    {"host TR base", NULL, {{PUT, F(HOST_TR_BASE), NONCANON}},
     HOST("host TR base: not canonical")},

    /* ==== 27.2.4 address-space size ==== */
    {"32-bit host and guest outside IA-32e mode", host32_guest32, {{END}},
     PASSES},
    {"host address-space size 0 in IA-32e mode", NULL,
     {{CLR, F(EXIT_CONTROLS), BIT(9)},
      {PUT, F(HOST_EFER), BIT(0) | BIT(11)}},
     HOST("host address-space size 0 in IA-32e mode")},
    {"host address-space size 1 outside IA-32e mode", outside_ia32e,
     {{END}}, HOST("host address-space size 1 outside IA-32e mode")},
    {"IA-32e mode guest under a 32-bit host", host32,
     {{OR, F(ENTRY_CONTROLS), BIT(9)}},
     HOST("IA-32e mode guest without a 64-bit host")},
    {"host CR4.PCIDE in a 32-bit host", host32_pcide,
     {{OR, F(HOST_CR4), BIT(17)}},
     HOST("host CR4: PCIDE set with host address-space size 0")},
    {"host RIP above 4 GiB in a 32-bit host", host32,
     {{PUT, F(HOST_RIP), BIT(32)}},
     HOST("host RIP: bits 63:32 set with host address-space size 0")},
    {"host CR4.PAE clear", NULL, {{CLR, F(HOST_CR4), BIT(5)}},
     HOST("host CR4: PAE clear with host address-space size 1")},
    {"host RIP", NULL, {{PUT, F(HOST_RIP), NONCANON}},
     HOST("host RIP: not canonical")},

    /* ==== 27.3.1.1 guest control registers, debug registers, MSRs ==== */
    {"guest CR0.NE clear", NULL, {{CLR, F(GUEST_CR0), BIT(5)}},
     GUEST("guest CR0: a bit fixed by IA32_VMX_CR0_FIXED0/1 is wrong")},
    {"guest CR0.PE clear without unrestricted guest", NULL,
     {{CLR, F(GUEST_CR0), BIT(0)}},
     GUEST("guest CR0: a bit fixed by IA32_VMX_CR0_FIXED0/1 is wrong")},
    {"guest CR0 CD and NW are not checked", NULL,
     {{OR, F(GUEST_CR0), BIT(29) | BIT(30)}}, PASSES},
    {"real mode under unrestricted guest", real_mode, {{END}}, PASSES},
    {"guest CR0.PG without PE", unrestricted,
     {{CLR, F(GUEST_CR0), BIT(0)}},
     GUEST("guest CR0: PG set without PE")},
    {"guest CR4.VMXE clear", NULL, {{CLR, F(GUEST_CR4), BIT(13)}},
     GUEST("guest CR4: a bit fixed by IA32_VMX_CR4_FIXED0/1 is wrong")},
    {"guest DEBUGCTL bit 2", NULL, {{OR, F(GUEST_DEBUGCTL), BIT(2)}},
     GUEST("guest IA32_DEBUGCTL: reserved bits set")},
    {"guest DEBUGCTL bit 15 (RTM)", NULL,
     {{OR, F(GUEST_DEBUGCTL), BIT(15)}},
     GUEST("guest IA32_DEBUGCTL: reserved bits set")},
    {"guest DEBUGCTL LBR|BTF", NULL,
     {{PUT, F(GUEST_DEBUGCTL), BIT(0) | BIT(1)}}, PASSES},
    {"IA-32e mode guest with CR0.PG clear", unrestricted,
     {{CLR, F(GUEST_CR0), BIT(31)}},
     GUEST("IA-32e mode guest with CR0.PG clear")},
    {"IA-32e mode guest with CR4.PAE clear", NULL,
     {{CLR, F(GUEST_CR4), BIT(5)}},
     GUEST("IA-32e mode guest with CR4.PAE clear")},
    {"guest CR4.PCIDE outside IA-32e mode", guest32_pcide,
     {{OR, F(GUEST_CR4), BIT(17)}},
     GUEST("guest CR4: PCIDE set without IA-32e mode guest")},
    {"guest CR4.PCIDE in IA-32e mode", caps_pcide,
     {{OR, F(GUEST_CR4), BIT(17)}}, PASSES},
    {"guest CR3 bit 40", NULL, {{OR, F(GUEST_CR3), BIT(40)}},
     GUEST("guest CR3: bits beyond MAXPHYADDR set")},
    {"guest DR7 bit 32", NULL, {{OR, F(GUEST_DR7), BIT(32)}},
     GUEST("guest DR7: bits 63:32 set")},
    {"guest DR7 not loaded", NULL,
     {{OR, F(GUEST_DR7), BIT(32)}, {OR, F(GUEST_DEBUGCTL), BIT(3)},
      {CLR, F(ENTRY_CONTROLS), BIT(2)}},
     PASSES},
    {"guest SYSENTER_ESP", NULL, {{PUT, F(GUEST_SYSENTER_ESP), NONCANON}},
     GUEST("guest IA32_SYSENTER_ESP: not canonical")},
    {"guest SYSENTER_EIP", NULL, {{PUT, F(GUEST_SYSENTER_EIP), BIT(63)}},
     GUEST("guest IA32_SYSENTER_EIP: not canonical")},
    {"guest PAT type 3", NULL, {{PUT, F(GUEST_PAT), 0x0307040600070406}},
     GUEST("guest IA32_PAT: an invalid memory type")},
    {"guest EFER bit 9", NULL, {{OR, F(GUEST_EFER), BIT(9)}},
     GUEST("guest IA32_EFER: reserved bits set")},
    {"guest EFER.LMA clear", NULL, {{CLR, F(GUEST_EFER), BIT(10)}},
     GUEST("guest IA32_EFER: LMA differs from IA-32e mode guest")},
    {"guest EFER.LME clear", NULL, {{CLR, F(GUEST_EFER), BIT(8)}},
     GUEST("guest IA32_EFER: LME differs from IA-32e mode guest with "
           "CR0.PG set")},

    /* ==== 27.3.1.2 guest segment registers ==== */
    {"guest TR TI", NULL, {{PUT, F(GUEST_TR_SELECTOR), 0x1C}},
     GUEST("guest TR selector: TI set")},
    {"guest LDTR TI", ldt, {{PUT, F(GUEST_LDTR_SELECTOR), 0x2C}},
     GUEST("guest LDTR selector: TI set")},
    {"guest unusable LDTR with TI", NULL,
     {{PUT, F(GUEST_LDTR_SELECTOR), 0x2C}}, PASSES},
    {"guest usable LDT", ldt, {{END}}, PASSES},
    {"guest SS RPL 3, CS RPL 0", NULL, {{PUT, F(GUEST_SS_SELECTOR), 0x13}},
     GUEST("guest SS selector: RPL differs from CS RPL")},
    {"guest user mode", ring3, {{END}}, PASSES},
    {"virtual-8086 guest", v86_guest32, {{END}}, PASSES},
    SEG6C(v86, PUT, BASE, 0x10010,
          "base: not selector * 16 in virtual-8086 mode"),
    {"guest TR base", NULL, {{PUT, F(GUEST_TR_BASE), NONCANON}},
     GUEST("guest TR base: not canonical")},
    {"guest FS base", NULL, {{PUT, F(GUEST_FS_BASE), NONCANON}},
     GUEST("guest FS base: not canonical")},
    {"guest GS base", NULL, {{PUT, F(GUEST_GS_BASE), NONCANON}},
     GUEST("guest GS base: not canonical")},
    {"guest LDTR base", ldt, {{PUT, F(GUEST_LDTR_BASE), NONCANON}},
     GUEST("guest LDTR base: not canonical")},
    {"guest unusable LDTR base", NULL,
     {{PUT, F(GUEST_LDTR_BASE), NONCANON}}, PASSES},
    {"guest CS base", NULL, {{PUT, F(GUEST_CS_BASE), BIT(32)}},
     GUEST("guest CS base: bits 63:32 set")},
    {"guest SS base", NULL, {{PUT, F(GUEST_SS_BASE), BIT(40)}},
     GUEST("guest SS base: bits 63:32 set")},
    {"guest DS base", NULL, {{PUT, F(GUEST_DS_BASE), BIT(63)}},
     GUEST("guest DS base: bits 63:32 set")},
    {"guest ES base", NULL, {{PUT, F(GUEST_ES_BASE), BIT(32)}},
     GUEST("guest ES base: bits 63:32 set")},
    {"guest unusable DS, base above 4 GiB", NULL,
     {{PUT, F(GUEST_DS_BASE), BIT(32)}, {PUT, F(GUEST_DS_AR), BIT(16)},
      {PUT, F(GUEST_DS_SELECTOR), 0}},
     PASSES},
    {"guest unusable SS (64-bit kernel)", NULL,
     {{PUT, F(GUEST_SS_AR), BIT(16)}, {PUT, F(GUEST_SS_SELECTOR), 0}},
     PASSES},
    SEG6C(v86, PUT, LIMIT, 0x1FFFF,
          "limit: not 0xFFFF in virtual-8086 mode"),
    SEG6C(v86, PUT, AR, 0xF1,
          "access rights: not 0xF3 in virtual-8086 mode"),
    {"guest CS type 3", NULL, {{PUT, F(GUEST_CS_AR), 0xA093}},
     GUEST("guest CS type: not an accessed code segment")},
    {"guest CS type 10 (not accessed)", NULL,
     {{PUT, F(GUEST_CS_AR), 0xA09A}},
     GUEST("guest CS type: not an accessed code segment")},
    {"guest CS type 3 under unrestricted guest", unrestricted,
     {{PUT, F(GUEST_CS_AR), 0xC093}, {PUT, F(GUEST_RIP), 0x100000}},
     PASSES},
    {"guest SS type 11", NULL, {{PUT, F(GUEST_SS_AR), 0xC09B}},
     GUEST("guest SS type: not 3 or 7")},
    {"guest SS type 7", NULL, {{PUT, F(GUEST_SS_AR), 0xC097}}, PASSES},
    SEG4C(NULL, PUT, AR, 0xC092, "type: accessed bit clear"),
    SEG4C(NULL, PUT, AR, 0xC099, "type: code segment not readable"),
    {"guest DS readable code", NULL, {{PUT, F(GUEST_DS_AR), 0xC09B}},
     PASSES},
    SEGC(CS, NULL, PUT, AR, 0xA08B, "access rights: S clear"),
    SEG5C(NULL, PUT, AR, 0xC083, "access rights: S clear"),
    {"guest CS type 3 with DPL 3", unrestricted,
     {{PUT, F(GUEST_CS_AR), 0xC0F3}},
     GUEST("guest CS DPL: not 0 with type 3")},
    {"guest CS DPL 3, SS DPL 0", NULL, {{PUT, F(GUEST_CS_AR), 0xA0FB}},
     GUEST("guest CS DPL: differs from SS DPL (non-conforming code)")},
    {"guest conforming CS DPL 3, SS DPL 0", NULL,
     {{PUT, F(GUEST_CS_AR), 0xA0FF}},
     GUEST("guest CS DPL: above SS DPL (conforming code)")},
    {"guest conforming CS DPL 0, SS DPL 3", ring3,
     {{PUT, F(GUEST_CS_AR), 0xA09F}}, PASSES},
    {"guest SS DPL 3 with RPL 0", NULL,
     {{PUT, F(GUEST_CS_AR), 0xA0FB}, {PUT, F(GUEST_SS_AR), 0xC0F3}},
     GUEST("guest SS DPL: differs from SS RPL")},
    {"guest SS DPL 3 with CS type 3", unrestricted,
     {{PUT, F(GUEST_CS_AR), 0xC093}, {PUT, F(GUEST_SS_AR), 0xC0F3}},
     GUEST("guest SS DPL: not 0 with CS type 3 or CR0.PE clear")},
    {"guest SS DPL 3 in real mode", real_mode,
     {{PUT, F(GUEST_CS_AR), 0xFB}, {PUT, F(GUEST_SS_AR), 0xF3}},
     GUEST("guest SS DPL: not 0 with CS type 3 or CR0.PE clear")},
    SEGC(DS, NULL, PUT, SELECTOR, 0x13, "DPL: below RPL"),
    SEGC(ES, NULL, PUT, SELECTOR, 0x11, "DPL: below RPL"),
    SEGC(FS, NULL, PUT, SELECTOR, 0x12, "DPL: below RPL"),
    SEGC(GS, NULL, PUT, SELECTOR, 0x13, "DPL: below RPL"),
    {"guest DS RPL 3 under unrestricted guest", unrestricted,
     {{PUT, F(GUEST_DS_SELECTOR), 0x13}}, PASSES},
    {"guest DS conforming code, RPL 3", NULL,
     {{PUT, F(GUEST_DS_SELECTOR), 0x13}, {PUT, F(GUEST_DS_AR), 0xC09F}},
     PASSES},
    SEG6C(NULL, CLR, AR, BIT(7), "access rights: P clear"),
    SEG6C(NULL, OR, AR, BIT(8), "access rights: reserved bits 11:8 set"),
    {"guest CS L and D/B", NULL, {{PUT, F(GUEST_CS_AR), 0xE09B}},
     GUEST("guest CS access rights: D/B set with L in IA-32e mode")},
    SEG6C(NULL, CLR, AR, BIT(15),
          "access rights: G inconsistent with the limit"),
    {"guest CS G with limit 0xFFFFF000", NULL,
     {{PUT, F(GUEST_CS_LIMIT), 0xFFFFF000}},
     GUEST("guest CS access rights: G inconsistent with the limit")},
    {"guest DS byte-granular 1 MiB", NULL,
     {{PUT, F(GUEST_DS_LIMIT), 0xFFFFF}, {PUT, F(GUEST_DS_AR), 0x4093}},
     PASSES},
    SEG6C(NULL, OR, AR, BIT(17),
          "access rights: reserved bits 31:17 set"),
    {"guest TR available TSS", NULL, {{PUT, F(GUEST_TR_AR), 0x89}},
     GUEST("guest TR type: not a busy TSS (11, or 3 outside IA-32e mode)")},
    {"guest TR 16-bit busy TSS in IA-32e mode", NULL,
     {{PUT, F(GUEST_TR_AR), 0x83}},
     GUEST("guest TR type: not a busy TSS (11, or 3 outside IA-32e mode)")},
    {"guest TR 16-bit busy TSS outside IA-32e mode", guest32,
     {{PUT, F(GUEST_TR_AR), 0x83}}, PASSES},
    {"guest TR S", NULL, {{PUT, F(GUEST_TR_AR), 0x9B}},
     GUEST("guest TR access rights: S set")},
    {"guest TR not present", NULL, {{PUT, F(GUEST_TR_AR), 0x0B}},
     GUEST("guest TR access rights: P clear")},
    {"guest TR bit 8", NULL, {{PUT, F(GUEST_TR_AR), 0x18B}},
     GUEST("guest TR access rights: reserved bits 11:8 set")},
    {"guest TR G with limit 0x67", NULL, {{PUT, F(GUEST_TR_AR), 0x808B}},
     GUEST("guest TR access rights: G inconsistent with the limit")},
    {"guest TR unusable", NULL, {{PUT, F(GUEST_TR_AR), 0x1008B}},
     GUEST("guest TR access rights: unusable")},
    {"guest TR bit 17", NULL, {{PUT, F(GUEST_TR_AR), 0x2008B}},
     GUEST("guest TR access rights: reserved bits 31:17 set")},
    {"guest LDTR type 3", ldt, {{PUT, F(GUEST_LDTR_AR), 0x83}},
     GUEST("guest LDTR type: not 2 (LDT)")},
    {"guest LDTR S", ldt, {{PUT, F(GUEST_LDTR_AR), 0x92}},
     GUEST("guest LDTR access rights: S set")},
    {"guest LDTR not present", ldt, {{PUT, F(GUEST_LDTR_AR), 0x02}},
     GUEST("guest LDTR access rights: P clear")},
    {"guest LDTR bit 11", ldt, {{PUT, F(GUEST_LDTR_AR), 0x882}},
     GUEST("guest LDTR access rights: reserved bits 11:8 set")},
    {"guest LDTR G with limit 0x67", ldt, {{PUT, F(GUEST_LDTR_AR), 0x8082}},
     GUEST("guest LDTR access rights: G inconsistent with the limit")},
    {"guest LDTR bit 31", ldt, {{OR, F(GUEST_LDTR_AR), BIT(31)}},
     GUEST("guest LDTR access rights: reserved bits 31:17 set")},

    /* ==== 27.3.1.3 GDTR and IDTR ==== */
    {"guest GDTR base", NULL, {{PUT, F(GUEST_GDTR_BASE), NONCANON}},
     GUEST("guest GDTR base: not canonical")},
    {"guest IDTR base", NULL, {{PUT, F(GUEST_IDTR_BASE), NONCANON}},
     GUEST("guest IDTR base: not canonical")},
    {"guest GDTR limit", NULL, {{PUT, F(GUEST_GDTR_LIMIT), 0x10000}},
     GUEST("guest GDTR limit: bits 31:16 set")},
    {"guest IDTR limit", NULL, {{PUT, F(GUEST_IDTR_LIMIT), 0x1FFFF}},
     GUEST("guest IDTR limit: bits 31:16 set")},

    /* ==== 27.3.1.4 RIP and RFLAGS ==== */
    {"guest RIP above 4 GiB in compatibility mode", NULL,
     {{PUT, F(GUEST_CS_AR), 0xC09B}},
     GUEST("guest RIP: bits 63:32 set outside 64-bit mode")},
    {"guest RIP", NULL, {{PUT, F(GUEST_RIP), NONCANON}},
     GUEST("guest RIP: not canonical in 64-bit mode")},
    {"guest RFLAGS bit 1 clear", NULL, {{PUT, F(GUEST_RFLAGS), 0}},
     GUEST("guest RFLAGS: reserved bits wrong (63:22, 15, 5, 3 clear; 1 "
           "set)")},
    {"guest RFLAGS bit 15", NULL, {{OR, F(GUEST_RFLAGS), BIT(15)}},
     GUEST("guest RFLAGS: reserved bits wrong (63:22, 15, 5, 3 clear; 1 "
           "set)")},
    {"guest RFLAGS bit 22", NULL, {{OR, F(GUEST_RFLAGS), BIT(22)}},
     GUEST("guest RFLAGS: reserved bits wrong (63:22, 15, 5, 3 clear; 1 "
           "set)")},
    {"guest RFLAGS ID AC VIF VIP", NULL,
     {{OR, F(GUEST_RFLAGS), 0x3C0000 & ~BIT(17)}}, PASSES},
    {"guest RFLAGS.VM in IA-32e mode", v86, {{END}},
     GUEST("guest RFLAGS: VM set in IA-32e mode or with CR0.PE clear")},
    {"external interrupt with IF clear", NULL, {INJECTS(INJECT(0, 0x20))},
     GUEST("guest RFLAGS: IF clear with an injected external interrupt")},
    {"external interrupt with IF set", NULL,
     {INJECTS(INJECT(0, 0x20)), {PUT, F(GUEST_RFLAGS), 0x202}}, PASSES},

    /* ==== 27.3.1.5 activity and interruptibility state ==== */
    {"guest shutdown state (not offered)", NULL,
     {{PUT, F(GUEST_ACTIVITY_STATE), 2}},
     GUEST("guest activity state: not offered by IA32_VMX_MISC")},
    {"guest activity state 4", NULL, {{PUT, F(GUEST_ACTIVITY_STATE), 4}},
     GUEST("guest activity state: not offered by IA32_VMX_MISC")},
    {"guest HLT", NULL, {{PUT, F(GUEST_ACTIVITY_STATE), 1}}, PASSES},
    {"guest HLT at CPL 3", ring3, {{PUT, F(GUEST_ACTIVITY_STATE), 1}},
     GUEST("guest activity state: HLT with SS DPL not 0")},
    {"guest HLT with MOV SS blocking", NULL,
     {{PUT, F(GUEST_ACTIVITY_STATE), 1},
      {PUT, F(GUEST_INTERRUPTIBILITY), BIT(1)}},
     GUEST("guest activity state: not active with STI or MOV SS "
           "blocking")},
    {"guest HLT with #GP injected", NULL,
     {{PUT, F(GUEST_ACTIVITY_STATE), 1},
      INJECTS(INJECT(3, 13) | INJ_ERR)},
     GUEST("guest activity state: blocks the injected event")},
    {"guest HLT with #MC injected", NULL,
     {{PUT, F(GUEST_ACTIVITY_STATE), 1}, INJECTS(INJECT(3, 18))}, PASSES},
    {"guest HLT with an external interrupt", NULL,
     {{PUT, F(GUEST_ACTIVITY_STATE), 1}, INJECTS(INJECT(0, 0x30)),
      {PUT, F(GUEST_RFLAGS), 0x202}},
     PASSES},
    {"guest interruptibility bit 5", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), BIT(5)}},
     GUEST("guest interruptibility: reserved bits 31:5 set")},
    {"guest STI and MOV SS blocking", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 3}, {PUT, F(GUEST_RFLAGS), 0x202}},
     GUEST("guest interruptibility: both STI and MOV SS blocking")},
    {"guest STI blocking with IF clear", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 1}},
     GUEST("guest interruptibility: STI blocking with RFLAGS.IF clear")},
    {"guest STI blocking with IF set", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 1}, {PUT, F(GUEST_RFLAGS), 0x202}},
     PASSES},
    {"external interrupt under STI blocking", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 1}, {PUT, F(GUEST_RFLAGS), 0x202},
      INJECTS(INJECT(0, 0x20))},
     GUEST("guest interruptibility: STI or MOV SS blocking with an "
           "injected external interrupt")},
    {"external interrupt under MOV SS blocking", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 2}, {PUT, F(GUEST_RFLAGS), 0x202},
      INJECTS(INJECT(0, 0x20))},
     GUEST("guest interruptibility: STI or MOV SS blocking with an "
           "injected external interrupt")},
    {"NMI under MOV SS blocking", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 2}, INJECTS(INJECT(2, 2))},
     GUEST("guest interruptibility: MOV SS blocking with an injected NMI")},
    {"NMI under STI blocking (allowed here)", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 1}, {PUT, F(GUEST_RFLAGS), 0x202},
      INJECTS(INJECT(2, 2))},
     PASSES},
    {"guest SMI blocking", NULL, {{PUT, F(GUEST_INTERRUPTIBILITY), 4}},
     GUEST("guest interruptibility: SMI blocking outside SMM")},
    {"NMI under NMI blocking with virtual NMIs", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 8}, INJECTS(INJECT(2, 2))},
     GUEST("guest interruptibility: NMI blocking with an injected NMI "
           "under virtual NMIs")},
    {"NMI under NMI blocking without virtual NMIs", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 8}, INJECTS(INJECT(2, 2)),
      {CLR, F(PIN_CONTROLS), BIT(5)}},
     PASSES},
    {"guest enclave interruption", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), BIT(4)}},
     GUEST("guest interruptibility: enclave interruption without SGX")},
    {"guest pending debug bit 4", NULL,
     {{PUT, F(GUEST_PENDING_DBG), BIT(4)}},
     GUEST("guest pending debug exceptions: reserved bits set")},
    {"guest pending debug bit 16 (RTM)", NULL,
     {{PUT, F(GUEST_PENDING_DBG), BIT(16)}},
     GUEST("guest pending debug exceptions: reserved bits set")},
    {"guest pending B0-B3, enabled breakpoint", NULL,
     {{PUT, F(GUEST_PENDING_DBG), 0xF | BIT(12)}}, PASSES},
    {"TF under STI blocking without BS", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 1}, {PUT, F(GUEST_RFLAGS), 0x302}},
     GUEST("guest pending debug exceptions: BS clear with a pending single "
           "step (TF set, BTF clear)")},
    {"TF under STI blocking with BS", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 1}, {PUT, F(GUEST_RFLAGS), 0x302},
      {PUT, F(GUEST_PENDING_DBG), BIT(14)}},
     PASSES},
    {"TF and BTF under STI blocking without BS", NULL,
     {{PUT, F(GUEST_INTERRUPTIBILITY), 1}, {PUT, F(GUEST_RFLAGS), 0x302},
      {PUT, F(GUEST_DEBUGCTL), BIT(1)}},
     PASSES},
    {"BS in HLT without TF", NULL,
     {{PUT, F(GUEST_ACTIVITY_STATE), 1},
      {PUT, F(GUEST_PENDING_DBG), BIT(14)}},
     GUEST("guest pending debug exceptions: BS set without a pending "
           "single step (TF clear or BTF set)")},
    {"BS without blocking or HLT", NULL,
     {{PUT, F(GUEST_PENDING_DBG), BIT(14)}}, PASSES},
    {"link pointer unaligned", NULL,
     {{PUT, F(LINK_POINTER), SHADOW_VMCS + 8}},
     LINK("VMCS link pointer: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"link pointer beyond MAXPHYADDR", NULL,
     {{OR, F(LINK_POINTER), BIT(39)}},
     LINK("VMCS link pointer: not 4 KiB aligned or beyond MAXPHYADDR")},
    {"link pointer to another revision", other_vmcs_bad_revision, {{END}},
     LINK("VMCS link pointer: revision identifier not this CPU's")},
    {"link pointer to no memory", NULL,
     {{PUT, F(LINK_POINTER), 0x7000000000 - 0x1000}},
     LINK("VMCS link pointer: revision identifier not this CPU's")},
    {"link pointer without a memory reader", no_memory, {{END}},
     LINK("VMCS link pointer: revision identifier not this CPU's")},
    {"link pointer to an ordinary VMCS under shadowing",
     other_vmcs_ordinary, {{END}},
     LINK("VMCS link pointer: shadow-VMCS indicator differs from VMCS "
          "shadowing")},
    {"link pointer to a shadow VMCS without shadowing", NULL,
     {{CLR, F(PROC_CONTROLS2), BIT(14)}},
     LINK("VMCS link pointer: shadow-VMCS indicator differs from VMCS "
          "shadowing")},
    {"link pointer to an ordinary VMCS without shadowing",
     other_vmcs_ordinary, {{CLR, F(PROC_CONTROLS2), BIT(14)}}, PASSES},
    {"link pointer all ones under shadowing", NULL,
     {{PUT, F(LINK_POINTER), ~0ull}}, PASSES},
    {"link pointer to the current VMCS", link_is_current, {{END}},
     LINK("VMCS link pointer: the current VMCS")},

    /* ==== 27.3.1.6 PDPTEs ==== */
    {"PAE paging with EPT, PDPTEs not present", guest32,
     {{PUT, F(GUEST_PDPTE0), ~0ull & ~1ull}}, PASSES},
    {"PAE paging with EPT, PDPTE0 bit 1", guest32,
     {{PUT, F(GUEST_PDPTE0), 0x100001 | BIT(1)}},
     PDPTE("guest PDPTE0: reserved bits set")},
    {"PAE paging with EPT, PDPTE1 bit 8", guest32,
     {{PUT, F(GUEST_PDPTE1), 0x100001 | BIT(8)}},
     PDPTE("guest PDPTE1: reserved bits set")},
    {"PAE paging with EPT, PDPTE2 bit 39", guest32,
     {{PUT, F(GUEST_PDPTE2), 0x100001 | BIT(39)}},
     PDPTE("guest PDPTE2: reserved bits set")},
    {"PAE paging with EPT, PDPTE3 bit 63", guest32,
     {{PUT, F(GUEST_PDPTE3), 0x100001 | BIT(63)}},
     PDPTE("guest PDPTE3: reserved bits set")},
    {"IA-32e paging ignores the PDPTE fields", NULL,
     {{PUT, F(GUEST_PDPTE0), ~0ull}}, PASSES},
    {"PAE paging without EPT, PDPTEs in memory", pae_no_ept, {{END}},
     PASSES},
    {"PAE paging without EPT, PDPTE2 bit 5 in memory",
     pae_no_ept_bad_pdpte2, {{END}},
     PDPTE("guest PDPTE2: reserved bits set")},
    {"PAE paging without EPT, PDPT outside memory", pae_no_ept,
     {{PUT, F(GUEST_CR3), 0x7FFFFFE0}},
     PDPTE("guest PDPTE0: reserved bits set")},
};

static void apply(const struct ecase *k, struct vmcs *v,
                  struct vmx_check_env *e)
{
    fixture(v, e);
    if (k->prep)
        k->prep(v, e);
    for (size_t i = 0; i < N(k->put) && k->put[i].op != END; i++) {
        uint64_t old = vmcs_get(v, k->put[i].f);
        uint64_t x = k->put[i].x;
        vmcs_set(v, k->put[i].f, k->put[i].op == PUT  ? x
                                 : k->put[i].op == OR ? old | x
                                                      : old & ~x);
    }
}

/* Runs every case and reports each mismatch before failing. */
static void test_each_rule_fails_alone(void **state)
{
    (void)state;
    unsigned bad = 0;
    for (size_t n = 0; n < N(cases); n++) {
        const struct ecase *k = &cases[n];
        struct vmx_entry_check r;
        apply(k, &vmcs, &env);
        memset(&r, 0xA5, sizeof r);
        vmx_check_entry(&vmcs, &env, &r);
        const char *got = r.outcome == ENTRY_OK ? "passes" : r.rule;
        const char *want = k->rule ? k->rule : "passes";
        uint32_t code = r.outcome == ENTRY_VMFAIL ? r.vm_instruction_error
                        : r.outcome == ENTRY_FAIL_EXIT ? r.exit_reason
                                                       : 0;
        uint32_t other = r.outcome == ENTRY_VMFAIL ? r.exit_reason
                                                   : r.vm_instruction_error;
        bool ok = strcmp(got, want) == 0 && (int)r.outcome == k->outcome &&
                  code == k->code && r.qualification == k->qual &&
                  other == 0 &&
                  (r.outcome == ENTRY_OK ? r.rule == NULL && r.sdm == NULL
                                         : strncmp(r.sdm, "27.", 3) == 0);
        if (!ok) {
            print_error("%s: expected \"%s\" (%d, %u, %llu), got \"%s\" "
                        "(%d, %u, %llu)\n", k->what, want, k->outcome,
                        k->code, (unsigned long long)k->qual, got,
                        (int)r.outcome, code,
                        (unsigned long long)r.qualification);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* Every rule of the tables is broken alone by some case above, and is
 * described as the check reports it. */
static void test_every_rule_has_a_case(void **state)
{
    (void)state;
    size_t count = vmx_entry_rule_count();
    assert_true(count > 150);
    for (size_t i = 0; i < count; i++) {
        struct vmx_entry_check d;
        vmx_entry_rule_describe(i, &d);
        assert_non_null(d.rule);
        bool found = false;
        for (size_t n = 0; n < N(cases) && !found; n++) {
            const struct ecase *k = &cases[n];
            if (!k->rule || strcmp(k->rule, d.rule) != 0)
                continue;
            found = true;
            assert_int_equal(d.outcome, k->outcome);
            assert_int_equal(d.outcome == ENTRY_VMFAIL ? d.vm_instruction_error
                                                       : d.exit_reason,
                             k->code);
            assert_int_equal(d.qualification, k->qual);
        }
        if (!found)
            fail_msg("rule %zu \"%s\" has no test case", i, d.rule);
        for (size_t j = 0; j < i; j++) {
            struct vmx_entry_check o;
            vmx_entry_rule_describe(j, &o);
            if (strcmp(o.rule, d.rule) == 0)
                fail_msg("rule name \"%s\" used twice", d.rule);
        }
    }
    struct vmx_entry_check past;
    vmx_entry_rule_describe(count, &past);
    assert_int_equal(past.outcome, ENTRY_OK);
}

/* Controls before host state before guest state (27.2 before 27.3),
 * and the SDM's order within a class. */
static void test_order(void **state)
{
    (void)state;
    struct vmx_entry_check r;

    fixture(&vmcs, &env);
    vmcs_set(&vmcs, F(GUEST_RFLAGS), 0);     /* guest */
    vmcs_set(&vmcs, F(HOST_TR_SELECTOR), 0); /* host */
    vmcs_set(&vmcs, F(VPID), 0);             /* controls */
    vmx_check_entry(&vmcs, &env, &r);
    assert_int_equal(r.outcome, ENTRY_VMFAIL);
    assert_int_equal(r.vm_instruction_error, 7);
    assert_string_equal(r.rule, "VPID 0 with enable VPID");

    vmcs_set(&vmcs, F(VPID), 1);
    vmx_check_entry(&vmcs, &env, &r);
    assert_int_equal(r.outcome, ENTRY_VMFAIL);
    assert_int_equal(r.vm_instruction_error, 8);
    assert_string_equal(r.rule, "host TR selector: 0");

    vmcs_set(&vmcs, F(HOST_TR_SELECTOR), 0x18);
    vmx_check_entry(&vmcs, &env, &r);
    assert_int_equal(r.outcome, ENTRY_FAIL_EXIT);
    assert_int_equal(r.exit_reason, 33);
    assert_string_equal(r.sdm, "27.3.1.4");

    /* A link-pointer failure (qualification 4) after an earlier guest
     * rule reports the earlier rule with qualification 0. */
    vmcs_set(&vmcs, F(LINK_POINTER), 8);
    vmcs_set(&vmcs, F(GUEST_CR3), BIT(45));
    vmx_check_entry(&vmcs, &env, &r);
    assert_string_equal(r.rule, "guest CR3: bits beyond MAXPHYADDR set");
    assert_int_equal(r.qualification, 0);

    /* The event-injection control checks come before the guest state
     * they relate to. */
    fixture(&vmcs, &env);
    vmcs_set(&vmcs, F(ENTRY_INTR_INFO), INJECT(1, 0x20));
    vmcs_set(&vmcs, F(GUEST_ACTIVITY_STATE), 1);
    vmx_check_entry(&vmcs, &env, &r);
    assert_int_equal(r.vm_instruction_error, 7);
    assert_string_equal(r.rule, "event injection: reserved interruption type");
}

/* The checker reads the VMCS and memory only, and the default env
 * describes this machine. */
static void test_env_defaults(void **state)
{
    (void)state;
    struct vmx_check_env e;
    vmx_check_env_init(&e);
    assert_int_equal(e.maxphyaddr, 39);
    assert_true(e.ia32e_host);
    assert_null(e.caps);
    assert_true(e.current_vmcs == ~0ull);

    fixture(&vmcs, &env);
    vmcs_set(&vmcs, F(LINK_POINTER), ~0ull);
    struct vmcs before = vmcs;
    struct vmx_entry_check r;
    vmx_check_entry(&vmcs, &e, &r);
    assert_int_equal(r.outcome, ENTRY_OK);
    assert_memory_equal(&before, &vmcs, sizeof vmcs);

    struct vmx_check_caps c;
    vmx_check_caps_default(&c);
    assert_int_equal(c.revision, revision());
    assert_true(c.controls[VMX_CTL_ENTRY] == vmx_cap_controls(VMX_CTL_ENTRY));
}

/* ---- the incremental checks: the same answer as the full ones ---- */

static void expect_same(const struct vmx_entry_check *full,
                        const struct vmx_entry_check *inc, const char *what)
{
    if (full->outcome == inc->outcome && full->rule == inc->rule &&
        full->vm_instruction_error == inc->vm_instruction_error &&
        full->exit_reason == inc->exit_reason &&
        full->qualification == inc->qualification)
        return;
    print_error("%s: full check says \"%s\", incremental \"%s\"\n", what,
                full->rule ? full->rule : "passes",
                inc->rule ? inc->rule : "passes");
    fail();
}

/* From every passing case as the last entry, every case as the next:
 * each change of fields, memory or env the cases make. */
static void test_incremental_after_each_case(void **state)
{
    (void)state;
    for (size_t b = 0; b < N(cases); b++) {
        if (cases[b].rule)
            continue;
        struct vmx_check_memo base = {.valid = false};
        struct vmx_entry_check r;
        apply(&cases[b], &vmcs, &env);
        vmx_check_entry_incremental(&vmcs, &env, &base, &r);
        assert_int_equal(r.outcome, ENTRY_OK);
        assert_true(base.valid);
        for (size_t n = 0; n < N(cases); n++) {
            struct vmx_check_memo memo = base;
            struct vmx_entry_check full, inc;
            apply(&cases[n], &vmcs, &env);
            vmx_check_entry(&vmcs, &env, &full);
            vmx_check_entry_incremental(&vmcs, &env, &memo, &inc);
            expect_same(&full, &inc, cases[n].what);
        }
    }
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A random walk of field writes (a bit flipped, a field restored, the
 * whole VMCS restored to the start or to a copy saved on the way, which
 * carries the `written` bookkeeping of when it was saved) and flips of
 * the memory the link pointer and the PDPTEs name, checking after each
 * step, mostly with one memo throughout as across a VMCS's entries,
 * sometimes with a second one (as when a VMCS loses its memo slot and
 * gets it back). After each passing check the memo holds every value of
 * the VMCS. The walk must pass often enough, and skip rules often
 * enough, to test something. */
static void test_incremental_random_writes(void **state)
{
    (void)state;
    static const uint64_t memory_words[] = {SHADOW_VMCS, GUEST_CR3,
                                            GUEST_CR3 + 8, OTHER_VMCS};
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    struct vmx_check_memo memos[2] = {{.valid = false}, {.valid = false}};
    fixture(&vmcs, &env);
    struct vmcs base = vmcs, saved = vmcs;
    static uint8_t base_mem[MEM_SIZE];
    memcpy(base_mem, mem, sizeof mem);
    unsigned passes = 0, partial = 0;
    for (unsigned step = 0; step < 40000; step++) {
        uint64_t x = xorshift(&rng);
        unsigned changed[VMCS_FIELD_COUNT], n = 0;
        for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
            if (vmcs.value[i] != base.value[i])
                changed[n++] = i;
        unsigned op = x % 16;
        if (op == 0) { /* back to the start */
            vmcs = base;
            memcpy(mem, base_mem, sizeof mem);
        } else if (op == 1) {
            mem[memory_words[(x >> 32) % N(memory_words)] + (x >> 40) % 8] ^=
                (uint8_t)(1u << ((x >> 48) % 8));
        } else if (op == 2) {
            if (x >> 63)
                saved = vmcs;
            else
                vmcs = saved;
        } else if (op < 8 && n) { /* one changed field restored */
            unsigned f = changed[(x >> 8) % n];
            vmcs_set(&vmcs, (enum vmcs_index)f,
                     vmcs_get(&base, (enum vmcs_index)f));
        } else { /* one bit of any field flipped */
            unsigned f = (unsigned)(x >> 8) % VMCS_FIELD_COUNT;
            vmcs_set(&vmcs, (enum vmcs_index)f,
                     vmcs_get(&vmcs, (enum vmcs_index)f) ^
                         1ull << ((x >> 32) % 64));
        }
        struct vmx_check_memo *memo = &memos[(x >> 56) % 8 == 0];
        struct vmx_entry_check full, inc;
        uint64_t full_runs = memo->full;
        vmx_check_entry(&vmcs, &env, &full);
        vmx_check_entry_incremental(&vmcs, &env, memo, &inc);
        expect_same(&full, &inc, "random walk");
        if (full.outcome == ENTRY_OK) {
            passes++;
            partial += memo->full == full_runs;
            assert_memory_equal(memo->value, vmcs.value, sizeof vmcs.value);
            for (unsigned w = 0; w < VMCS_WRITTEN_WORDS; w++)
                assert_true(vmcs.written[w] == 0);
            assert_true(vmcs.written_since == memo->stamp);
        }
    }
    assert_true(passes > 2000);
    assert_true(partial > 1000);
}

/* vmcs_set and vmcs_write note the field they give a new value, and
 * nothing else; writing the value a field has notes nothing. */
static void test_written_fields(void **state)
{
    (void)state;
    struct vmcs v;
    vmcs_init(&v, revision());
    assert_true(v.written_since == 0);
    for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++) {
        memset(v.written, 0, sizeof v.written);
        if (i % 2)
            vmcs_set(&v, (enum vmcs_index)i, 1);
        else
            assert_int_equal(vmcs_write(&v, vmcs_field_at(i)->encoding, 1,
                                        true),
                             VMCS_OK);
        for (unsigned w = 0; w < VMCS_WRITTEN_WORDS; w++)
            assert_true(v.written[w] == (w == i / 64 ? 1ull << (i % 64) : 0));
        memset(v.written, 0, sizeof v.written);
        vmcs_set(&v, (enum vmcs_index)i, 1);
        for (unsigned w = 0; w < VMCS_WRITTEN_WORDS; w++)
            assert_true(v.written[w] == 0);
    }
    /* A value wider than its field is the field's value once truncated:
     * the same value, nothing noted. */
    vmcs_set(&v, VMCS_IDX_VPID, 0xFFFF);
    memset(v.written, 0, sizeof v.written);
    vmcs_set(&v, VMCS_IDX_VPID, 0x1FFFF);
    assert_true(vmcs_get(&v, VMCS_IDX_VPID) == 0xFFFF);
    for (unsigned w = 0; w < VMCS_WRITTEN_WORDS; w++)
        assert_true(v.written[w] == 0);
    vmcs_set(&v, VMCS_IDX_VPID, 0x10001);
    assert_true(vmcs_get(&v, VMCS_IDX_VPID) == 1);
    assert_true(v.written[VMCS_IDX_VPID / 64] ==
                1ull << (VMCS_IDX_VPID % 64));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_rule_fails_alone),
        cmocka_unit_test(test_every_rule_has_a_case),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_env_defaults),
        cmocka_unit_test(test_incremental_after_each_case),
        cmocka_unit_test(test_incremental_random_writes),
        cmocka_unit_test(test_written_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
