/* The VMX engine end to end (l0/vmx/vmx.h): a machine with 4 MiB of RAM,
 * a 64-bit guest written into it as hand-encoded instructions, a VMCS
 * built here, vmx_vmentry(), then cpu_run()/cpu_step() until a VM exit,
 * and the exit checked against SDM Vol. 3C: exit reasons (Appendix C),
 * qualifications (28.2.1), instruction information (28.2.5), interruption
 * and IDT-vectoring information (28.2.2-28.2.4), what non-root operation
 * does instead of exiting (26.3), event injection (27.6), the EPT (29.3)
 * and VMCS shadowing (25.10, VMREAD/VMWRITE in Vol. 2C).
 *
 * Numbers the SDM defines (exit reasons, control bits, qualification and
 * information layouts) are written here from the SDM, not taken from the
 * engine's headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "dev/bus.h"
#include "dev/lapic.h"
#include "machine.h"
#include "vmx/caps.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

#define N(a) (sizeof(a) / sizeof *(a))
#define BIT(n) (1ull << (n))
#define F(name) VMCS_IDX_##name

/* ---- numbers from the SDM ---- */

/* Basic exit reasons (SDM Vol. 3D Appendix C). */
enum {
    R_EXCEPTION = 0, R_EXTERNAL_INTR = 1, R_TRIPLE_FAULT = 2, R_INTR_WINDOW = 7, R_CPUID = 10,
    R_HLT = 12, R_INVD = 13, R_INVLPG = 14, R_RDPMC = 15, R_RDTSC = 16, R_VMCALL = 18,
    R_VMREAD = 23, R_VMWRITE = 25, R_CR = 28, R_DR = 29, R_IO = 30,
    R_RDMSR = 31, R_WRMSR = 32, R_BAD_GUEST = 33, R_PAUSE = 40,
    R_APIC_ACCESS = 44, R_GDTR_IDTR = 46, R_EPT_VIOLATION = 48, R_EPT_MISCONFIG = 49,
    R_RDTSCP = 51, R_PREEMPTION = 52, R_WBINVD = 54,
};

/* VM-execution controls (SDM Vol. 3C 25.6.1, 25.6.2). */
#define PIN_EXT_INTR BIT(0)
#define PIN_PREEMPTION BIT(6)
#define P_INTR_WINDOW BIT(2)
#define P_HLT BIT(7)
#define P_INVLPG BIT(9)
#define P_RDPMC BIT(11)
#define P_RDTSC BIT(12)
#define P_CR3_LOAD BIT(15)
#define P_CR3_STORE BIT(16)
#define P_CR8_LOAD BIT(19)
#define P_CR8_STORE BIT(20)
#define P_MOV_DR BIT(23)
#define P_UNCOND_IO BIT(24)
#define P_IO_BITMAPS BIT(25)
#define P_MSR_BITMAPS BIT(28)
#define P_PAUSE BIT(30)
#define P_SECONDARY BIT(31)
#define P2_EPT BIT(1)
#define P2_DESC_TABLE BIT(2)
#define P2_RDTSCP BIT(3)
#define P2_WBINVD BIT(6)
#define P2_SHADOWING BIT(14)
#define P2_VPID BIT(5)
/* VM-exit controls (25.7.1) and VM-entry controls (25.8.1). */
#define X_HOST64 BIT(9)
#define X_ACK_INTR BIT(15)
#define X_SAVE_EFER BIT(20)
#define X_LOAD_EFER BIT(21)
#define X_SAVE_PREEMPTION BIT(22)
#define E_IA32E_GUEST BIT(9)
#define E_LOAD_EFER BIT(15)

/* Interruption information (25.8.3, 28.2.2): vector 7:0, type 10:8,
 * error code valid 11, valid 31. */
#define INFO(type, vector) (BIT(31) | (type) << 8 | (vector))
#define INFO_ERR(type, vector) (INFO(type, vector) | BIT(11))
enum { T_EXTERNAL = 0, T_HW_EXCEPTION = 3, T_SW_INT = 4, T_SW_EXCEPTION = 6 };
#define UD_EXIT INFO(T_HW_EXCEPTION, 6)
#define GP_EXIT INFO_ERR(T_HW_EXCEPTION, 13)
#define PF_EXIT INFO_ERR(T_HW_EXCEPTION, 14)

/* Control-register qualification (Table 28-3): CR 3:0, access type 5:4
 * (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW), GPR 11:8 (MOV CR only),
 * LMSW operand in memory 6, LMSW source data 31:16. */
#define CRQ(cr, type, gpr) ((cr) | (type) << 4 | (gpr) << 8)
#define LMSWQ(memory, data) (3u << 4 | (memory) << 6 | (uint64_t)(data) << 16)
/* MOV DR qualification (Table 28-4): DR 2:0, MOV from DR 4, GPR 11:8. */
#define DRQ(dr, from, gpr) ((dr) | (from) << 4 | (gpr) << 8)
/* I/O qualification (Table 28-5): size - 1 in 2:0, IN 3, string 4,
 * REP 5, immediate operand 6, port 31:16. */
#define IOQ(size, in, imm, port)                                              \
    ((uint64_t)((size) - 1) | (in) << 3 | (imm) << 6 | (uint64_t)(port) << 16)
#define IOQ_STRING BIT(4)
#define IOQ_REP BIT(5)
/* Instruction information for INS/OUTS (Table 28-8): address size 9:7
 * (0 16-bit, 1 32-bit, 2 64-bit); segment 17:15 (ES 0, CS 1, SS 2,
 * DS 3, FS 4, GS 5), defined for OUTS only. */
#define SIO_INFO(asz, seg) ((uint32_t)(asz) << 7 | (uint32_t)(seg) << 15)
#define SIO_MASK_OUTS 0x38380u
#define SIO_MASK_INS 0x380u
/* EPT-violation qualification (Table 28-7): access R 0, W 1, X 2; the
 * page's permissions R 3, W 4, X 5; linear address valid 7; the access
 * was to the translation of that linear address (not to a paging
 * structure) 8; NMI unblocking 12. Other bits depend on features this
 * CPU does not report. */
#define EPTQ_DEFINED 0x11FFull
enum {
    Q_READ = 1, Q_WRITE = 2, Q_FETCH = 4, Q_PERM_R = 8, Q_PERM_W = 0x10,
    Q_LINEAR = 0x80, Q_FINAL = 0x100,
};

/* Arithmetic flags (VMsucceed clears them, SDM Vol. 3C 31.2). */
#define FL_ARITH6 (BIT(0) | BIT(2) | BIT(4) | BIT(6) | BIT(7) | BIT(11))
#define RF_IF BIT(9)
#define RF_RF BIT(16)

/* VMCS field encodings (Appendix B) for VMREAD/VMWRITE in the guest. */
enum {
    ENC_GUEST_RSP = 0x681C,
    ENC_GUEST_RIP = 0x681E,
    ENC_EXIT_QUALIFICATION = 0x6400,
};

/* CR0/CR4 bits (SDM Vol. 3A 2.5). */
#define C0_PE BIT(0)
#define C0_MP BIT(1)
#define C0_TS BIT(3)
#define C0_ET BIT(4)
#define C0_NE BIT(5)
#define C0_WP BIT(16)
#define C0_PG BIT(31)
#define C4_TSD BIT(2)
#define C4_PAE BIT(5)
#define C4_VMXE BIT(13)

/* ---- the guest's memory ---- */

enum {
    PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x4000,
    GDT = 0x5000, IDT = 0x6000, TSS = 0x7000,
    HANDLERS = 0x8000,      /* 16 bytes per vector: CPUID; HLT */
    CODE = 0x10000,
    STACK0 = 0x1E000,       /* TSS.RSP0, for events at CPL 3 */
    STACK = 0x1F000,
    USER_STACK = 0x30000,
    IO_A = 0x40000, IO_B = 0x41000, MSR_BITMAP = 0x42000,
    VMREAD_BITMAP = 0x43000, VMWRITE_BITMAP = 0x44000,
    SHADOW_REGION = 0x45000,
    DATA = 0x50000,
    UNMAPPED_LIN = 0x1FE000, /* guest PTE not present */
    ALIAS_LIN = 0x1FF000,    /* guest PTE -> DATA */
    EPT_PML4 = 0x100000, EPT_PDPT = 0x101000, EPT_PD = 0x102000,
    EPT_PT = 0x103000,       /* 4 KiB EPT pages for 0-2 MiB */
};
#define HANDLER(v) (HANDLERS + 16ull * (v))
#define AT(off) (CODE + (uint64_t)(off))
#define HOST_RIP 0xFFFFFFFF80001000ull
#define HOST_RSP 0xFFFFFFFF80002000ull
#define HOST_CR3 0x9000ull

/* Guest paging entries: P, W, U, A (and D and a page address for
 * leaves), set so that no walk writes accessed or dirty flags. */
#define PTE_TABLE(pa) ((pa) | 0x27ull)
#define PTE_PAGE(pa) ((pa) | 0x67ull)
#define PTE_2M(pa) ((pa) | 0xE7ull)
/* EPT entries (SDM Vol. 3C 29.3.2): R 0, W 1, X 2, memory type 5:3
 * (WB = 6) in leaves, large page 7. */
#define EPT_RWX 7ull
#define EPT_LEAF(pa, perms) ((pa) | (perms) | 6ull << 3)

static struct machine *m;
static struct cpu *c;
static struct vmcs vmcs, shadow;

static void poke64(uint64_t pa, uint64_t v) { memcpy(m->ram + pa, &v, 8); }
static uint64_t peek64(uint64_t pa)
{
    uint64_t v;
    memcpy(&v, m->ram + pa, 8);
    return v;
}
static void set_bit(uint64_t pa, unsigned bit)
{
    m->ram[pa + bit / 8] |= (uint8_t)(1u << (bit % 8));
}
static uint64_t get(enum vmcs_index i) { return vmcs_get(&vmcs, i); }
static void set(enum vmcs_index i, uint64_t v) { vmcs_set(&vmcs, i, v); }
static void set_bits(enum vmcs_index i, uint64_t v) { set(i, get(i) | v); }

static void expect_eq(const char *who, const char *what, uint64_t got,
                      uint64_t want)
{
    if (got != want)
        fail_msg("%s: %s is %#llx, expected %#llx", who, what,
                 (unsigned long long)got, (unsigned long long)want);
}

/* A control field: the bits asked for plus those the CPU insists on
 * (allowed-0 settings, SDM Vol. 3D A.3). */
static uint64_t control(enum vmx_controls which, uint64_t wanted)
{
    return wanted | (uint32_t)vmx_cap_controls(which);
}

static void write_tables(void)
{
    /* 4-level paging: identity for 0-4 MiB, 4 KiB pages below 2 MiB. */
    poke64(PML4, PTE_TABLE(PDPT));
    poke64(PDPT, PTE_TABLE(PD));
    poke64(PD, PTE_TABLE(PT));
    poke64(PD + 8, PTE_2M(0x200000));
    for (uint64_t p = 0; p < 512; p++)
        poke64(PT + 8 * p, PTE_PAGE(p << 12));
    poke64(PT + 8 * (UNMAPPED_LIN >> 12), 0);
    poke64(PT + 8 * (ALIAS_LIN >> 12), PTE_PAGE(DATA));

    /* GDT: null, code64 (0x08), data (0x10), code64 DPL 3 (0x18), data
     * DPL 3 (0x20), 64-bit busy TSS (0x28, 16 bytes). */
    static const uint64_t gdt[] = {
        0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull,
        0x00AFFB000000FFFFull, 0x00CFF3000000FFFFull,
        0x67 | (uint64_t)TSS << 16 | 0x8Bull << 40, 0};
    for (size_t k = 0; k < N(gdt); k++)
        poke64(GDT + 8 * k, gdt[k]);
    poke64(TSS + 4, STACK0); /* RSP0 */
    /* I/O map base beyond the limit: no I/O permission bitmap. */
    m->ram[TSS + 0x66] = 0x68;

    /* IDT: 64-bit interrupt gates (type 0xE, P) to CS 0x08. Each
     * handler is CPUID, which exits: the exit shows where delivery went. */
    for (uint64_t v = 0; v < 256; v++) {
        uint64_t h = HANDLER(v);
        poke64(IDT + 16 * v, (h & 0xFFFF) | 0x08ull << 16 | 0x8Eull << 40 |
                                 (h >> 16 & 0xFFFF) << 48);
        poke64(IDT + 16 * v + 8, h >> 32);
        memcpy(m->ram + h, "\x0f\xa2\xf4", 3);
    }

    /* EPT: identity for 0-4 MiB, 4 KiB pages below 2 MiB. */
    poke64(EPT_PML4, EPT_PDPT | EPT_RWX);
    poke64(EPT_PDPT, EPT_PD | EPT_RWX);
    poke64(EPT_PD, EPT_PT | EPT_RWX);
    poke64(EPT_PD + 8, EPT_LEAF(0x200000ull, EPT_RWX) | BIT(7));
    for (uint64_t p = 0; p < 512; p++)
        poke64(EPT_PT + 8 * p, EPT_LEAF(p << 12, EPT_RWX));
}

/* A 64-bit guest at CPL 0 under a 64-bit host, with EPT, that exits
 * only where the architecture says it always does. */
static void write_vmcs(void)
{
    vmcs_init(&vmcs, VMCS_REVISION_ID);
    set(F(PIN_CONTROLS), control(VMX_CTL_PIN, 0));
    set(F(PROC_CONTROLS), control(VMX_CTL_PROC, P_SECONDARY));
    set(F(PROC_CONTROLS2), control(VMX_CTL_PROC2, P2_EPT));
    set(F(EXIT_CONTROLS),
        control(VMX_CTL_EXIT, X_HOST64 | X_SAVE_EFER | X_LOAD_EFER));
    set(F(ENTRY_CONTROLS), control(VMX_CTL_ENTRY, E_IA32E_GUEST | E_LOAD_EFER));
    /* EPTP (25.6.11): WB, 4-level walk (3 in bits 5:3). */
    set(F(EPT_POINTER), EPT_PML4 | 6 | 3 << 3);
    set(F(LINK_POINTER), ~0ull);
    set(F(IO_BITMAP_A), IO_A);
    set(F(IO_BITMAP_B), IO_B);
    set(F(MSR_BITMAP), MSR_BITMAP);
    set(F(VMREAD_BITMAP_ADDR), VMREAD_BITMAP);
    set(F(VMWRITE_BITMAP_ADDR), VMWRITE_BITMAP);

    static const struct { enum vmcs_index sel, limit, ar; } data[] = {
        {F(GUEST_SS_SELECTOR), F(GUEST_SS_LIMIT), F(GUEST_SS_AR)},
        {F(GUEST_DS_SELECTOR), F(GUEST_DS_LIMIT), F(GUEST_DS_AR)},
        {F(GUEST_ES_SELECTOR), F(GUEST_ES_LIMIT), F(GUEST_ES_AR)},
        {F(GUEST_FS_SELECTOR), F(GUEST_FS_LIMIT), F(GUEST_FS_AR)},
        {F(GUEST_GS_SELECTOR), F(GUEST_GS_LIMIT), F(GUEST_GS_AR)},
    };
    for (size_t k = 0; k < N(data); k++) {
        set(data[k].sel, 0x10);
        set(data[k].limit, 0xFFFFFFFF);
        set(data[k].ar, 0xC093); /* data, accessed, S, P, D/B, G */
    }
    set(F(GUEST_CS_SELECTOR), 0x08);
    set(F(GUEST_CS_LIMIT), 0xFFFFFFFF);
    set(F(GUEST_CS_AR), 0xA09B); /* code, accessed, S, P, L, G */
    set(F(GUEST_LDTR_AR), 0x10000); /* unusable */
    set(F(GUEST_TR_SELECTOR), 0x28);
    set(F(GUEST_TR_BASE), TSS);
    set(F(GUEST_TR_LIMIT), 0x67);
    set(F(GUEST_TR_AR), 0x8B); /* busy 64-bit TSS, P */
    set(F(GUEST_GDTR_BASE), GDT);
    set(F(GUEST_GDTR_LIMIT), 7 * 8 - 1);
    set(F(GUEST_IDTR_BASE), IDT);
    set(F(GUEST_IDTR_LIMIT), 256 * 16 - 1);
    set(F(GUEST_CR0), C0_PE | C0_ET | C0_NE | C0_WP | C0_PG);
    set(F(GUEST_CR3), PML4);
    set(F(GUEST_CR4), C4_PAE | C4_VMXE);
    set(F(GUEST_EFER), BIT(8) | BIT(10)); /* LME, LMA */
    set(F(GUEST_DR7), 0x400);
    set(F(GUEST_RFLAGS), 2);
    set(F(GUEST_RSP), STACK);
    set(F(GUEST_RIP), CODE);

    set(F(HOST_CR0), C0_PE | C0_ET | C0_NE | C0_WP | C0_PG);
    set(F(HOST_CR3), HOST_CR3);
    set(F(HOST_CR4), C4_PAE | C4_VMXE);
    set(F(HOST_EFER), BIT(8) | BIT(10));
    set(F(HOST_CS_SELECTOR), 0x08);
    set(F(HOST_SS_SELECTOR), 0x10);
    set(F(HOST_DS_SELECTOR), 0x10);
    set(F(HOST_ES_SELECTOR), 0x10);
    set(F(HOST_TR_SELECTOR), 0x28);
    set(F(HOST_RSP), HOST_RSP);
    set(F(HOST_RIP), HOST_RIP);
}

/* The guest at CPL 3: SS.DPL is the CPL (SDM Vol. 3C 27.3.2.2). */
static void make_user(void)
{
    static const enum vmcs_index sel[] = {
        F(GUEST_SS_SELECTOR), F(GUEST_DS_SELECTOR), F(GUEST_ES_SELECTOR),
        F(GUEST_FS_SELECTOR), F(GUEST_GS_SELECTOR)};
    static const enum vmcs_index ar[] = {
        F(GUEST_SS_AR), F(GUEST_DS_AR), F(GUEST_ES_AR), F(GUEST_FS_AR),
        F(GUEST_GS_AR)};
    for (size_t k = 0; k < N(sel); k++) {
        set(sel[k], 0x23);
        set(ar[k], 0xC0F3);
    }
    set(F(GUEST_CS_SELECTOR), 0x1B);
    set(F(GUEST_CS_AR), 0xA0FB);
    set(F(GUEST_RSP), USER_STACK);
}

static struct vmcs *lookup_shadow(void *ctx, uint64_t pa)
{
    (void)ctx;
    return pa == SHADOW_REGION ? &shadow : NULL;
}

static void machine_up(void)
{
    m = machine_create(4, NULL);
    assert_non_null(m);
    c = m->cpu;
    write_tables();
    write_vmcs();
}

static void machine_down(void)
{
    machine_destroy(m);
    m = NULL;
    c = NULL;
}

static int setup(void **state)
{
    (void)state;
    machine_up();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    machine_down();
    return 0;
}

static void load_code(const char *bytes, size_t len)
{
    memcpy(m->ram + CODE, bytes, len);
}
#define CODE_OF(s) s, sizeof(s) - 1

static void enter(const char *who)
{
    struct vmx_entry_result r;
    vmx_vmentry(c, &vmcs, vmcs.launch == VMCS_STATE_CLEAR, &r);
    if (r.status != VMX_ENTERED)
        fail_msg("%s: VM entry failed (%s, %u)", who, r.rule ? r.rule : "?",
                 r.error);
}

/* Runs the guest to its next VM exit; the basic exit reason. */
static uint32_t run_to_exit(const char *who)
{
    cpu_run(c, c->insns + 100000);
    if (m->stop != STOP_NONE)
        fail_msg("%s: the machine stopped instead of exiting: %s", who,
                 m->stop_message);
    if (!c->vmx.exited)
        fail_msg("%s: no VM exit", who);
    c->vmx.exited = false;
    return (uint32_t)get(F(EXIT_REASON)) & 0xFFFF;
}

/* ---- CPUID: exits unconditionally, and what a VM exit does ---- */

static void test_cpuid_exit_loads_host_state(void **state)
{
    (void)state;
    load_code(CODE_OF("\x90\x0f\xa2")); /* nop; cpuid */
    set(F(GUEST_RFLAGS), 2 | BIT(0) | BIT(6)); /* CF, ZF: saved as is */
    enter("cpuid");
    c->gpr[RAX] = 0x12345678;
    expect_eq("cpuid", "exit reason", run_to_exit("cpuid"), R_CPUID);
    expect_eq("cpuid", "full exit reason", get(F(EXIT_REASON)), R_CPUID);
    expect_eq("cpuid", "instruction length", get(F(EXIT_INSN_LEN)), 2);
    expect_eq("cpuid", "guest RIP", get(F(GUEST_RIP)), AT(1));
    expect_eq("cpuid", "guest RSP", get(F(GUEST_RSP)), STACK);
    expect_eq("cpuid", "guest RFLAGS", get(F(GUEST_RFLAGS)),
              2 | BIT(0) | BIT(6));
    /* The CPUID did not execute: RAX keeps the guest's value. */
    expect_eq("cpuid", "RAX", c->gpr[RAX], 0x12345678);
    /* SDM 28.5: host state. RFLAGS is cleared but for bit 1 (28.5.3). */
    expect_eq("cpuid", "RIP", c->rip, HOST_RIP);
    expect_eq("cpuid", "RSP", c->gpr[RSP], HOST_RSP);
    expect_eq("cpuid", "RFLAGS", cpu_rflags(c), 2);
    expect_eq("cpuid", "CPL", c->cpl, 0);
    expect_eq("cpuid", "CR3", c->cr3, HOST_CR3);
    expect_eq("cpuid", "CS", c->seg[SEG_CS].sel, 0x08);
    expect_eq("cpuid", "non-root", c->vmx.nonroot, 0);
}

/* A VM exit saves the segment registers the guest changed and leaves the
 * others' fields as they are, which must read as if all were saved: an
 * unusable segment's access rights lose the bits outside 0x1F0FF at the
 * first exit and keep their value after that (SDM Vol. 3C 28.3.1). */
static void test_exit_saves_segments_as_written(void **state)
{
    (void)state;
    /* cpuid; xor eax, eax; mov es, ax; cpuid */
    load_code(CODE_OF("\x0f\xa2\x31\xc0\x8e\xc0\x0f\xa2"));
    set(F(GUEST_LDTR_AR), 0x10F00); /* unusable; 11:8 are not checked */
    enter("segments");
    expect_eq("segments", "exit", run_to_exit("segments"), R_CPUID);
    expect_eq("segments", "LDTR AR", get(F(GUEST_LDTR_AR)), 0x10000);
    expect_eq("segments", "ES selector", get(F(GUEST_ES_SELECTOR)), 0x10);
    set(F(GUEST_RIP), AT(2));
    enter("segments, again");
    expect_eq("segments", "second exit", run_to_exit("segments"), R_CPUID);
    expect_eq("segments", "guest RIP", get(F(GUEST_RIP)), AT(6));
    expect_eq("segments", "ES selector, changed", get(F(GUEST_ES_SELECTOR)),
              0);
    expect_eq("segments", "ES unusable, changed",
              get(F(GUEST_ES_AR)) & 0x10000, 0x10000);
    expect_eq("segments", "LDTR AR, kept", get(F(GUEST_LDTR_AR)), 0x10000);
    expect_eq("segments", "DS selector, kept", get(F(GUEST_DS_SELECTOR)),
              0x10);
    expect_eq("segments", "TR base, kept", get(F(GUEST_TR_BASE)), TSS);
}

/* ---- instructions that exit, or do something else instead ---- */

/* I/O and MSR bitmaps, set per case. */
static void io_a_0x60(void) { set_bit(IO_A, 0x60); }
static void io_b_0x8001(void) { set_bit(IO_B, 0x0001); }
static void io_b_0x8000(void) { set_bit(IO_B, 0x0000); }
static void io_a_all(void) { memset(m->ram + IO_A, 0xFF, 4096); }
/* Read-low at 0, read-high at 1024, write-low at 2048, write-high at
 * 3072 (SDM Vol. 3C 25.6.9). */
static void msr_read_low_0x10(void) { set_bit(MSR_BITMAP, 0x10); }
static void msr_write_low_0x10(void) { set_bit(MSR_BITMAP + 2048, 0x10); }
static void msr_read_high_0x100(void) { set_bit(MSR_BITMAP + 1024, 0x100); }
static void msr_read_low_0x100(void) { set_bit(MSR_BITMAP, 0x100); }
static void msr_write_high_0x100(void)
{
    set_bit(MSR_BITMAP + 3072, 0x100);
}
static void cr0_ts_owned(void) /* the host owns CR0.TS; shadow TS = 1 */
{
    set(F(CR0_MASK), C0_TS);
    set(F(CR0_READ_SHADOW), C0_TS);
}
static void cr3_target_pml4(void)
{
    set(F(CR3_TARGET_COUNT), 1);
    set(F(CR3_TARGET0), PML4);
}
static void guest_tsd(void) { set_bits(F(GUEST_CR4), C4_TSD); }
static void fs_base_data(void) { set(F(GUEST_FS_BASE), DATA); }

struct insn_case {
    const char *name;
    const char *code;
    size_t code_len;
    uint64_t proc, proc2;
    uint32_t exceptions; /* exception bitmap */
    bool user;           /* run at CPL 3 */
    void (*setup)(void);
    uint64_t rax, rbx, rcx, rdx;
    /* The exit expected: reason, guest RIP, qualification (cleared by
     * exits that do not define one, SDM 28.2.1), and where the SDM
     * defines them the instruction length (0: not checked), the exit
     * interruption information (reason 0), the guest-linear address
     * (0: not checked) and the instruction information (its defined
     * bits: info_mask, 0 when not checked). */
    uint32_t reason;
    uint64_t rip;
    unsigned len;
    uint64_t qual;
    uint32_t intr_info;
    uint64_t linear;
    uint32_t info, info_mask;
};

static const struct insn_case insn_cases[] = {
    /* CPUID at CPL 3 exits too: it is not privileged. */
    {"cpuid at CPL 3", CODE_OF("\x0f\xa2"), .user = true,
     .reason = R_CPUID, .rip = AT(0), .len = 2},
    /* HLT (26.1.3): exits only with "HLT exiting". Without it the guest
     * halts (with IF = 1 and no event, the next CPUID never comes; see
     * test_hlt_without_exiting). */
    {"hlt with HLT exiting", CODE_OF("\xf4"), .proc = P_HLT,
     .reason = R_HLT, .rip = AT(0), .len = 1},
    /* RDTSC: exits only with "RDTSC exiting". */
    {"rdtsc with RDTSC exiting", CODE_OF("\x0f\x31"), .proc = P_RDTSC,
     .reason = R_RDTSC, .rip = AT(0), .len = 2},
    {"rdtsc without RDTSC exiting", CODE_OF("\x0f\x31\x0f\xa2"),
     .reason = R_CPUID, .rip = AT(2)},
    /* RDTSCP without "enable RDTSCP" is #UD (26.3); with it, it exits
     * with "RDTSC exiting" (reason 51) or executes. */
    {"rdtscp without enable RDTSCP", CODE_OF("\x0f\x01\xf9"),
     .proc = P_RDTSC, .exceptions = 1u << 6, .reason = R_EXCEPTION,
     .rip = AT(0), .intr_info = UD_EXIT},
    {"rdtscp with RDTSC exiting", CODE_OF("\x0f\x01\xf9"), .proc = P_RDTSC,
     .proc2 = P2_RDTSCP, .reason = R_RDTSCP, .rip = AT(0), .len = 3},
    {"rdtscp enabled, no exiting", CODE_OF("\x0f\x01\xf9\x0f\xa2"),
     .proc2 = P2_RDTSCP, .reason = R_CPUID, .rip = AT(3)},
    /* Priority (26.1.1): the #GP of a privileged instruction at CPL > 0
     * comes before the VM exit. */
    {"hlt at CPL 3", CODE_OF("\xf4"), .proc = P_HLT, .user = true,
     .exceptions = 1u << 13, .reason = R_EXCEPTION, .rip = AT(0),
     .intr_info = GP_EXIT},
    {"rdmsr at CPL 3", CODE_OF("\x0f\x32"), .user = true, .rcx = 0x10,
     .exceptions = 1u << 13, .reason = R_EXCEPTION, .rip = AT(0),
     .intr_info = GP_EXIT},
    {"mov cr0 at CPL 3", CODE_OF("\x0f\x22\xc1"), .user = true,
     .setup = cr0_ts_owned, .exceptions = 1u << 13, .reason = R_EXCEPTION,
     .rip = AT(0), .intr_info = GP_EXIT},
    {"invlpg at CPL 3", CODE_OF("\x0f\x01\x38"), .proc = P_INVLPG,
     .user = true, .exceptions = 1u << 13, .reason = R_EXCEPTION,
     .rip = AT(0), .intr_info = GP_EXIT},
    {"rdtsc at CPL 3 with CR4.TSD", CODE_OF("\x0f\x31"), .proc = P_RDTSC,
     .user = true, .setup = guest_tsd, .exceptions = 1u << 13,
     .reason = R_EXCEPTION, .rip = AT(0), .intr_info = GP_EXIT},
    /* RDPMC (Vol. 2B "RDPMC"): at CPL 3 with CR4.PCE clear #GP(0)
     * before the exit; otherwise it exits with "RDPMC exiting", and
     * without it is #GP(0): this CPU has no counters (CPUID.0AH version
     * 0), so no index is valid. */
    {"rdpmc with RDPMC exiting", CODE_OF("\x0f\x33"), .proc = P_RDPMC,
     .reason = R_RDPMC, .rip = AT(0), .len = 2},
    {"rdpmc at CPL 3, CR4.PCE clear", CODE_OF("\x0f\x33"), .proc = P_RDPMC,
     .user = true, .exceptions = 1u << 13, .reason = R_EXCEPTION,
     .rip = AT(0), .intr_info = GP_EXIT},
    {"rdpmc of counter 0 without exiting", CODE_OF("\x0f\x33"),
     .exceptions = 1u << 13, .reason = R_EXCEPTION, .rip = AT(0),
     .intr_info = GP_EXIT},
    /* I/O at CPL 3 with IOPL 0 and no I/O permission bitmap: #GP. */
    {"in at CPL 3", CODE_OF("\xe4\x60"), .proc = P_UNCOND_IO, .user = true,
     .exceptions = 1u << 13, .reason = R_EXCEPTION, .rip = AT(0),
     .intr_info = GP_EXIT},

    /* I/O (26.1.3, qualification Table 28-5). */
    {"out imm, unconditional I/O exiting", CODE_OF("\xe6\x80"),
     .proc = P_UNCOND_IO, .reason = R_IO, .rip = AT(0), .len = 2,
     .qual = IOQ(1, 0, 1, 0x80)},
    {"in imm, bitmap bit clear", CODE_OF("\xe4\x60\x0f\xa2"),
     .proc = P_IO_BITMAPS, .reason = R_CPUID, .rip = AT(2)},
    {"in imm, bitmap A bit set", CODE_OF("\xe4\x60"), .proc = P_IO_BITMAPS,
     .setup = io_a_0x60, .reason = R_IO, .rip = AT(0), .len = 2,
     .qual = IOQ(1, 1, 1, 0x60)},
    /* With "use I/O bitmaps", "unconditional I/O exiting" is ignored. */
    {"bitmaps win over unconditional", CODE_OF("\xe4\x61\x0f\xa2"),
     .proc = P_IO_BITMAPS | P_UNCOND_IO, .setup = io_a_0x60,
     .reason = R_CPUID, .rip = AT(2)},
    {"out dx, ax: bitmap B bit set", CODE_OF("\x66\xef"),
     .proc = P_IO_BITMAPS, .setup = io_b_0x8001, .rdx = 0x8001,
     .reason = R_IO, .rip = AT(0), .len = 2, .qual = IOQ(2, 0, 0, 0x8001)},
    {"in eax, dx spanning A and B", CODE_OF("\xed"), .proc = P_IO_BITMAPS,
     .setup = io_b_0x8000, .rdx = 0x7FFE, .reason = R_IO, .rip = AT(0),
     .len = 1, .qual = IOQ(4, 1, 0, 0x7FFE)},
    {"in eax, dx below a set bit", CODE_OF("\xed\x0f\xa2"),
     .proc = P_IO_BITMAPS, .setup = io_b_0x8000, .rdx = 0x7FFC,
     .reason = R_CPUID, .rip = AT(1)},
    /* An access that wraps around to port 0 exits (26.1.3). */
    {"in eax, dx wrapping around", CODE_OF("\xed"), .proc = P_IO_BITMAPS,
     .rdx = 0xFFFE, .reason = R_IO, .rip = AT(0), .len = 1,
     .qual = IOQ(4, 1, 0, 0xFFFE)},
    {"bitmap A full, B empty", CODE_OF("\xe6\x80\x0f\xa2"),
     .proc = P_IO_BITMAPS, .setup = io_a_all, .reason = R_IO, .rip = AT(0),
     .len = 2, .qual = IOQ(1, 0, 1, 0x80)},

    /* INS/OUTS (26.1.3): the I/O exit with the string bit, the REP bit
     * and the port in DX, also with a count of 0; the linear address of
     * the memory operand (28.2.1) and the instruction information
     * (28.2.5). mov rsi, rbx (48 89 de) or mov rdi, rbx (48 89 df)
     * first. */
    {"rep outsb", CODE_OF("\x48\x89\xde\xf3\x6e"), .proc = P_UNCOND_IO,
     .rbx = DATA, .rcx = 5, .rdx = 0x3F8, .reason = R_IO, .rip = AT(3),
     .len = 2, .qual = IOQ(1, 0, 0, 0x3F8) | IOQ_STRING | IOQ_REP,
     .linear = DATA, .info = SIO_INFO(2, 3), .info_mask = SIO_MASK_OUTS},
    {"rep outsb, count 0", CODE_OF("\x48\x89\xde\xf3\x6e"),
     .proc = P_UNCOND_IO, .rbx = DATA, .rdx = 0x3F8, .reason = R_IO,
     .rip = AT(3), .len = 2,
     .qual = IOQ(1, 0, 0, 0x3F8) | IOQ_STRING | IOQ_REP, .linear = DATA},
    {"insd", CODE_OF("\x48\x89\xdf\x6d"), .proc = P_UNCOND_IO,
     .rbx = DATA + 8, .rdx = 0x60, .reason = R_IO, .rip = AT(3), .len = 1,
     .qual = IOQ(4, 1, 0, 0x60) | IOQ_STRING, .linear = DATA + 8,
     .info = SIO_INFO(2, 0), .info_mask = SIO_MASK_INS},
    /* 66 64 67 6F: OUTSW from FS:[ESI], 32-bit addresses. */
    {"outsw fs:[esi]", CODE_OF("\x48\x89\xde\x66\x64\x67\x6f"),
     .proc = P_UNCOND_IO, .setup = fs_base_data, .rbx = 0x10,
     .rdx = 0x80, .reason = R_IO, .rip = AT(3), .len = 4,
     .qual = IOQ(2, 0, 0, 0x80) | IOQ_STRING, .linear = DATA + 0x10,
     .info = SIO_INFO(1, 4), .info_mask = SIO_MASK_OUTS},
    {"rep insb, bitmap clear: no exit", CODE_OF("\x48\x89\xdf\xf3\x6c\x0f\xa2"),
     .proc = P_IO_BITMAPS, .rbx = DATA, .rcx = 3, .rdx = 0x3FD,
     .reason = R_CPUID, .rip = AT(5)},
    {"rep insb, bitmap bit set", CODE_OF("\x48\x89\xdf\xf3\x6c"),
     .proc = P_IO_BITMAPS, .setup = io_a_0x60, .rbx = DATA, .rcx = 3,
     .rdx = 0x60, .reason = R_IO, .rip = AT(3), .len = 2,
     .qual = IOQ(1, 1, 0, 0x60) | IOQ_STRING | IOQ_REP, .linear = DATA},
    /* The I/O permission #GP at CPL 3 comes before the exit. */
    {"rep outsb at CPL 3", CODE_OF("\xf3\x6e"), .proc = P_UNCOND_IO,
     .user = true, .exceptions = 1u << 13, .reason = R_EXCEPTION,
     .rip = AT(0), .intr_info = GP_EXIT},

    /* MSR bitmaps (26.1.3): mov ecx, imm32; rdmsr / wrmsr. */
    {"rdmsr without MSR bitmaps", CODE_OF("\xb9\x10\0\0\0\x0f\x32"),
     .reason = R_RDMSR, .rip = AT(5), .len = 2},
    {"rdmsr low, read bit clear", CODE_OF("\xb9\x10\0\0\0\x0f\x32\x0f\xa2"),
     .proc = P_MSR_BITMAPS, .setup = msr_write_low_0x10, .reason = R_CPUID,
     .rip = AT(7)},
    {"rdmsr low, read bit set", CODE_OF("\xb9\x10\0\0\0\x0f\x32"),
     .proc = P_MSR_BITMAPS, .setup = msr_read_low_0x10, .reason = R_RDMSR,
     .rip = AT(5), .len = 2},
    {"wrmsr low, write bit set", CODE_OF("\xb9\x10\0\0\0\x0f\x30"),
     .proc = P_MSR_BITMAPS, .setup = msr_write_low_0x10, .reason = R_WRMSR,
     .rip = AT(5), .len = 2},
    {"rdmsr high, read-high bit set",
     CODE_OF("\xb9\x00\x01\x00\xc0\x0f\x32"), .proc = P_MSR_BITMAPS,
     .setup = msr_read_high_0x100, .reason = R_RDMSR, .rip = AT(5),
     .len = 2},
    {"rdmsr high, only the low bit set",
     CODE_OF("\xb9\x00\x01\x00\xc0\x0f\x32\x0f\xa2"), .proc = P_MSR_BITMAPS,
     .setup = msr_read_low_0x100, .reason = R_CPUID, .rip = AT(7)},
    {"wrmsr high, write-high bit set",
     CODE_OF("\xb9\x00\x01\x00\xc0\x0f\x30"), .proc = P_MSR_BITMAPS,
     .setup = msr_write_high_0x100, .reason = R_WRMSR, .rip = AT(5),
     .len = 2},
    {"rdmsr outside both ranges", CODE_OF("\xb9\x00\x00\x00\x40\x0f\x32"),
     .proc = P_MSR_BITMAPS, .reason = R_RDMSR, .rip = AT(5), .len = 2},

    /* Control registers (26.1.3, Table 28-3). mov cr0, rcx with TS set
     * while the shadow has TS clear: the owned bit changes, exit. */
    {"mov cr0 changing an owned bit", CODE_OF("\x0f\x22\xc1"),
     .setup = cr0_ts_owned, .rcx = C0_PE | C0_ET | C0_NE | C0_WP | C0_PG,
     .reason = R_CR, .rip = AT(0), .len = 3, .qual = CRQ(0, 0, 1)},
    /* CR3-target list: a value in the list loads without an exit. */
    {"mov cr3 to a target", CODE_OF("\x0f\x22\xda\x0f\xa2"),
     .proc = P_CR3_LOAD, .setup = cr3_target_pml4, .rdx = PML4,
     .reason = R_CPUID, .rip = AT(3)},
    {"mov cr3 to a non-target", CODE_OF("\x0f\x22\xda"), .proc = P_CR3_LOAD,
     .setup = cr3_target_pml4, .rdx = 0x9000, .reason = R_CR, .rip = AT(0),
     .len = 3, .qual = CRQ(3, 0, 2)},
    {"mov from cr3 with CR3-store exiting", CODE_OF("\x0f\x20\xd8"),
     .proc = P_CR3_STORE, .reason = R_CR, .rip = AT(0), .len = 3,
     .qual = CRQ(3, 1, 0)},
    {"mov cr8 with CR8-load exiting", CODE_OF("\x44\x0f\x22\xc0"),
     .proc = P_CR8_LOAD, .reason = R_CR, .rip = AT(0), .len = 4,
     .qual = CRQ(8, 0, 0)},
    {"mov from cr8 with CR8-store exiting", CODE_OF("\x44\x0f\x20\xc1"),
     .proc = P_CR8_STORE, .reason = R_CR, .rip = AT(0), .len = 4,
     .qual = CRQ(8, 1, 1)},
    {"mov cr8 without exiting", CODE_OF("\x44\x0f\x22\xc0\x0f\xa2"),
     .proc = P_CR8_STORE, .reason = R_CPUID, .rip = AT(4)},
    /* CLTS exits when TS is host-owned and set in the shadow. */
    {"clts, TS owned, shadow TS 1", CODE_OF("\x0f\x06"),
     .setup = cr0_ts_owned, .reason = R_CR, .rip = AT(0), .len = 2,
     .qual = CRQ(0, 2, 0)},
    /* LMSW exits when it would make an owned bit differ from the shadow
     * (TS here: shadow 1, source 0); the GPR field stays 0. */
    {"lmsw cx", CODE_OF("\x0f\x01\xf1"), .setup = cr0_ts_owned,
     .rcx = 0x11, .reason = R_CR, .rip = AT(0), .len = 3,
     .qual = LMSWQ(0, 0x11)},
    {"lmsw [rbx]", CODE_OF("\x0f\x01\x33"), .setup = cr0_ts_owned,
     .rbx = DATA, .reason = R_CR, .rip = AT(0), .len = 3,
     .qual = LMSWQ(1, 0), .linear = DATA},
    {"mov dr0, rax", CODE_OF("\x0f\x23\xc0"), .proc = P_MOV_DR,
     .reason = R_DR, .rip = AT(0), .len = 3, .qual = DRQ(0, 0, 0)},
    {"mov rcx, dr7", CODE_OF("\x0f\x21\xf9"), .proc = P_MOV_DR,
     .reason = R_DR, .rip = AT(0), .len = 3, .qual = DRQ(7, 1, 1)},

    /* The rest of 26.1.2-26.1.3: the qualification of INVLPG is the
     * linear address; that of SGDT the displacement, with the
     * instruction information of Table 28-10 (scaling 1:0, address size
     * 9:7, segment 17:15, index 21:18 and invalid 22, base 26:23 and
     * invalid 27, identity 29:28: 0 SGDT). */
    {"invd", CODE_OF("\x0f\x08"), .reason = R_INVD, .rip = AT(0),
     .len = 2},
    {"vmcall", CODE_OF("\x0f\x01\xc1"), .reason = R_VMCALL, .rip = AT(0),
     .len = 3},
    {"invlpg [rax]", CODE_OF("\x0f\x01\x38"), .proc = P_INVLPG,
     .rax = 0x123456, .reason = R_INVLPG, .rip = AT(0), .len = 3,
     .qual = 0x123456},
    {"pause", CODE_OF("\xf3\x90"), .proc = P_PAUSE, .reason = R_PAUSE,
     .rip = AT(0), .len = 2},
    {"wbinvd", CODE_OF("\x0f\x09"), .proc2 = P2_WBINVD, .reason = R_WBINVD,
     .rip = AT(0), .len = 2},
    {"sgdt [rbx + 8]", CODE_OF("\x0f\x01\x43\x08"),
     .proc2 = P2_DESC_TABLE, .rbx = DATA, .reason = R_GDTR_IDTR,
     .rip = AT(0), .len = 4, .qual = 8,
     .info = 2u << 7 | 3u << 15 | 1u << 22 | 3u << 23,
     .info_mask = 0x3FFF8783u},
    /* RIP-relative: the qualification is the address, displacement plus
     * the next RIP (28.2.1, Table 28-1), and neither base nor index is
     * valid. */
    {"sgdt [rip + 0x10]", CODE_OF("\x0f\x01\x05\x10\x00\x00\x00"),
     .proc2 = P2_DESC_TABLE, .reason = R_GDTR_IDTR, .rip = AT(0), .len = 7,
     .qual = AT(7) + 0x10, .info = 2u << 7 | 3u << 15 | 1u << 22 | 1u << 27,
     .info_mask = 0x3FFF8783u},
    /* VMFUNC without "enable VM functions" is #UD, not an exit (Vol. 2C
     * "VMFUNC", 25.5.6). */
    {"vmfunc delivered as #UD", CODE_OF("\x0f\x01\xd4"),
     .exceptions = ~(1u << 6), .reason = R_CPUID, .rip = HANDLER(6)},

    /* Exception bitmap (26.2): #UD exits with its interruption
     * information; without the bit it is delivered through the IDT. */
    {"ud2 with #UD in the bitmap", CODE_OF("\x0f\x0b"),
     .exceptions = 1u << 6, .reason = R_EXCEPTION, .rip = AT(0),
     .intr_info = UD_EXIT},
    {"ud2 delivered", CODE_OF("\x0f\x0b"), .exceptions = ~(1u << 6),
     .reason = R_CPUID, .rip = HANDLER(6)},
    /* INT3 is a software exception (type 6); the saved RIP is the INT3's
     * and the instruction length is reported (28.2.4). */
    {"int3 with #BP in the bitmap", CODE_OF("\xcc"), .exceptions = 1u << 3,
     .reason = R_EXCEPTION, .rip = AT(0), .len = 1,
     .intr_info = INFO(T_SW_EXCEPTION, 3)},
    /* INT n is not an exception: the bitmap does not apply. */
    {"int 0x80 delivered", CODE_OF("\xcd\x80"), .exceptions = ~0u,
     .reason = R_CPUID, .rip = HANDLER(0x80)},
};

static void run_insn_case(const struct insn_case *k)
{
    machine_up();
    load_code(k->code, k->code_len);
    set_bits(F(PROC_CONTROLS), k->proc);
    set_bits(F(PROC_CONTROLS2), k->proc2);
    set(F(EXCEPTION_BITMAP), k->exceptions);
    if (k->user)
        make_user();
    if (k->setup)
        k->setup();
    enter(k->name);
    c->gpr[RAX] = k->rax;
    c->gpr[RBX] = k->rbx;
    c->gpr[RCX] = k->rcx;
    c->gpr[RDX] = k->rdx;
    expect_eq(k->name, "exit reason", run_to_exit(k->name), k->reason);
    expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), k->rip);
    if (k->len)
        expect_eq(k->name, "instruction length", get(F(EXIT_INSN_LEN)),
                  k->len);
    expect_eq(k->name, "qualification", get(F(EXIT_QUALIFICATION)), k->qual);
    if (k->linear)
        expect_eq(k->name, "guest-linear address",
                  get(F(GUEST_LINEAR_ADDR)), k->linear);
    if (k->info_mask)
        expect_eq(k->name, "instruction information",
                  get(F(EXIT_INSN_INFO)) & k->info_mask, k->info);
    /* No event was being delivered (28.2.4). */
    expect_eq(k->name, "IDT-vectoring valid",
              get(F(IDT_VECTORING_INFO)) >> 31, 0);
    if (k->reason == R_EXCEPTION) {
        expect_eq(k->name, "interruption info", get(F(EXIT_INTR_INFO)),
                  k->intr_info);
        if (k->intr_info & BIT(11))
            expect_eq(k->name, "error code", get(F(EXIT_INTR_ERROR)), 0);
    }
    machine_down();
}

static void test_instruction_exits(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(insn_cases); k++)
        run_insn_case(&insn_cases[k]);
}

/* Without "HLT exiting" HLT halts the guest and does not exit. */
static void test_hlt_without_exiting(void **state)
{
    (void)state;
    load_code(CODE_OF("\xf4"));
    enter("hlt");
    cpu_step(c);
    expect_eq("hlt", "exited", c->vmx.exited, 0);
    expect_eq("hlt", "halted", c->halted, 1);
    expect_eq("hlt", "RIP", c->rip, AT(1));
}

/* ---- CR0 guest/host mask and read shadow (SDM Vol. 3C 26.3) ---- */

static void test_cr0_mask_and_shadow(void **state)
{
    (void)state;
    /* mov cr0, rcx; mov rdx, cr0; cpuid */
    load_code(CODE_OF("\x0f\x22\xc1\x0f\x20\xc2\x0f\xa2"));
    cr0_ts_owned();
    uint64_t cr0 = get(F(GUEST_CR0)); /* TS clear */
    enter("cr0");
    /* TS as in the shadow (no exit), MP a guest-owned change. */
    c->gpr[RCX] = cr0 | C0_TS | C0_MP;
    expect_eq("cr0", "exit reason", run_to_exit("cr0"), R_CPUID);
    expect_eq("cr0", "guest RIP", get(F(GUEST_RIP)), AT(6));
    /* MOV to CR0 leaves the owned bit with the host's value. */
    expect_eq("cr0", "guest CR0", get(F(GUEST_CR0)), cr0 | C0_MP);
    /* MOV from CR0 reads owned bits from the shadow. */
    expect_eq("cr0", "RDX", c->gpr[RDX], cr0 | C0_MP | C0_TS);
}

/* ---- #PF and the exception bitmap's error-code mask/match ---- */

struct pf_case {
    const char *name;
    bool bit14;
    uint32_t mask, match;
    bool write;
    bool exits;
};

/* SDM Vol. 3C 26.2: with bit 14 set, a #PF exits iff (PFEC & mask) ==
 * match; with it clear, iff they differ. PFEC: 0 for a read of a
 * not-present page at CPL 0, 2 for a write. */
static const struct pf_case pf_cases[] = {
    {"bit set, mask 0", true, 0, 0, false, true},
    {"bit set, W matches", true, 2, 2, true, true},
    {"bit set, R does not match", true, 2, 2, false, false},
    {"bit clear, mismatch", false, 2, 2, false, true},
    {"bit clear, W matches", false, 2, 2, true, false},
    {"bit clear, mask 0", false, 0, 0, false, false},
};

static void run_pf_case(const struct pf_case *k)
{
    machine_up();
    /* mov [rbx], eax or mov eax, [rbx]; the page is not present. */
    load_code(k->write ? "\x89\x03" : "\x8b\x03", 2);
    set(F(EXCEPTION_BITMAP), k->bit14 ? 1u << 14 : 0);
    set(F(PF_ERROR_MASK), k->mask);
    set(F(PF_ERROR_MATCH), k->match);
    enter(k->name);
    c->gpr[RBX] = UNMAPPED_LIN + 8;
    c->cr2 = 0xC2C2;
    uint32_t pfec = k->write ? 2 : 0;
    uint32_t reason = run_to_exit(k->name);
    if (k->exits) {
        expect_eq(k->name, "exit reason", reason, R_EXCEPTION);
        expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), AT(0));
        expect_eq(k->name, "interruption info", get(F(EXIT_INTR_INFO)),
                  PF_EXIT);
        expect_eq(k->name, "error code", get(F(EXIT_INTR_ERROR)), pfec);
        /* The qualification has the linear address; CR2 is not
         * written (SDM Vol. 3C 28.1, 28.2.1). */
        expect_eq(k->name, "qualification", get(F(EXIT_QUALIFICATION)),
                  UNMAPPED_LIN + 8);
        expect_eq(k->name, "CR2", c->cr2, 0xC2C2);
    } else {
        expect_eq(k->name, "exit reason", reason, R_CPUID);
        expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), HANDLER(14));
        expect_eq(k->name, "CR2", c->cr2, UNMAPPED_LIN + 8);
        uint64_t sp = get(F(GUEST_RSP));
        expect_eq(k->name, "pushed error code", peek64(sp), pfec);
        expect_eq(k->name, "pushed RIP", peek64(sp + 8), AT(0));
    }
    machine_down();
}

static void test_page_fault_mask_match(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(pf_cases); k++)
        run_pf_case(&pf_cases[k]);
}

/* ---- event injection (SDM Vol. 3C 27.6) ---- */

struct inject_case {
    const char *name;
    uint32_t info;
    uint32_t error;
    unsigned insn_len;
    unsigned vector;
    uint64_t pushed_rip;
};

static const struct inject_case inject_cases[] = {
    {"external interrupt 0x40", INFO(T_EXTERNAL, 0x40), 0, 0, 0x40, AT(0)},
    {"#GP with error code", INFO_ERR(T_HW_EXCEPTION, 13), 0x5A, 0, 13,
     AT(0)},
    /* A software interrupt returns past the instruction: RIP + length. */
    {"int 0x80, length 2", INFO(T_SW_INT, 0x80), 0, 2, 0x80, AT(2)},
};

static void run_inject_case(const struct inject_case *k)
{
    machine_up();
    load_code(CODE_OF("\x0f\x0b"));
    /* Injected events are not subject to the exception bitmap. */
    set(F(EXCEPTION_BITMAP), ~0u);
    set(F(GUEST_RFLAGS), 2 | RF_IF);
    set(F(ENTRY_INTR_INFO), k->info);
    set(F(ENTRY_EXCEPTION_ERROR), k->error);
    set(F(ENTRY_INSN_LEN), k->insn_len);
    enter(k->name);
    expect_eq(k->name, "RIP after entry", c->rip, HANDLER(k->vector));
    expect_eq(k->name, "exit reason", run_to_exit(k->name), R_CPUID);
    expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), HANDLER(k->vector));
    /* The 64-bit frame (SDM Vol. 3A 7.14.2): [error], RIP, CS, RFLAGS,
     * RSP, SS. */
    bool err = k->info & BIT(11);
    uint64_t sp = get(F(GUEST_RSP));
    expect_eq(k->name, "RSP", sp, STACK - (err ? 48 : 40));
    if (err)
        expect_eq(k->name, "pushed error code", peek64(sp), k->error);
    sp += err ? 8 : 0;
    expect_eq(k->name, "pushed RIP", peek64(sp), k->pushed_rip);
    expect_eq(k->name, "pushed CS", peek64(sp + 8), 0x08);
    expect_eq(k->name, "pushed RFLAGS", peek64(sp + 16) & ~RF_RF, 2 | RF_IF);
    expect_eq(k->name, "pushed RSP", peek64(sp + 24), STACK);
    expect_eq(k->name, "pushed SS", peek64(sp + 32), 0x10);
    /* Through an interrupt gate: IF cleared. */
    expect_eq(k->name, "guest RFLAGS.IF", get(F(GUEST_RFLAGS)) & RF_IF, 0);
    /* Every VM exit clears the valid bit of the VM-entry interruption-
     * information field (SDM Vol. 3C 28.3 end). */
    expect_eq(k->name, "entry info valid", get(F(ENTRY_INTR_INFO)) >> 31, 0);
    machine_down();
}

static void test_event_injection(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(inject_cases); k++)
        run_inject_case(&inject_cases[k]);
}

/* ---- IDT-vectoring information (SDM Vol. 3C 28.2.4) ---- */

/* The EPT does not map the guest's IDT page: delivering any event reads
 * the gate and meets an EPT violation, which records the event. */
static void unmap_idt_in_ept(void) { poke64(EPT_PT + 8 * (IDT >> 12), 0); }

struct vectoring_case {
    const char *name;
    const char *code;
    size_t code_len;
    uint64_t rax;
    uint32_t inject; /* VM-entry interruption information, or 0 */
    unsigned vector;
    uint32_t vectoring, vectoring_error;
    unsigned len; /* VM-exit instruction length, for software events */
};

static const struct vectoring_case vectoring_cases[] = {
    {"#UD", CODE_OF("\x0f\x0b"), 0, 0, 6, INFO(T_HW_EXCEPTION, 6), 0, 0},
    /* mov ds, ax with a selector beyond the GDT limit: #GP(0x38). */
    {"#GP(0x38)", CODE_OF("\x8e\xd8"), 0x38, 0, 13,
     INFO_ERR(T_HW_EXCEPTION, 13), 0x38, 0},
    /* An injected event: the exit happens at VM entry, before the first
     * guest instruction (inc rax) runs, and records the injected event
     * (27.6.1.2). */
    {"injected interrupt", CODE_OF("\x48\xff\xc0"), 0x41,
     INFO(T_EXTERNAL, 0x41),
     0x41, INFO(T_EXTERNAL, 0x41), 0, 0},
    /* Software interrupts and exceptions also report the instruction
     * length (28.2.5). */
    {"int 0x30", CODE_OF("\xcd\x30"), 0, 0, 0x30, INFO(T_SW_INT, 0x30), 0,
     2},
    {"int3", CODE_OF("\xcc"), 0, 0, 3, INFO(T_SW_EXCEPTION, 3), 0, 1},
};

static void run_vectoring_case(const struct vectoring_case *k)
{
    machine_up();
    load_code(k->code, k->code_len);
    unmap_idt_in_ept();
    set(F(GUEST_RFLAGS), 2 | RF_IF);
    set(F(ENTRY_INTR_INFO), k->inject);
    enter(k->name);
    c->gpr[RAX] = k->rax;
    uint64_t insns = c->insns;
    expect_eq(k->name, "exit reason", run_to_exit(k->name), R_EPT_VIOLATION);
    expect_eq(k->name, "instructions retired", c->insns, insns);
    expect_eq(k->name, "RAX", c->gpr[RAX], k->rax);
    expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), AT(0));
    expect_eq(k->name, "IDT-vectoring info", get(F(IDT_VECTORING_INFO)),
              k->vectoring);
    if (k->vectoring & BIT(11))
        expect_eq(k->name, "IDT-vectoring error",
                  get(F(IDT_VECTORING_ERROR)), k->vectoring_error);
    if (k->len)
        expect_eq(k->name, "instruction length", get(F(EXIT_INSN_LEN)),
                  k->len);
    expect_eq(k->name, "guest-physical address",
              get(F(GUEST_PHYSICAL_ADDR)), IDT + 16ull * k->vector);
    expect_eq(k->name, "guest-linear address", get(F(GUEST_LINEAR_ADDR)),
              IDT + 16ull * k->vector);
    expect_eq(k->name, "qualification",
              get(F(EXIT_QUALIFICATION)) & EPTQ_DEFINED,
              Q_READ | Q_LINEAR | Q_FINAL);
    machine_down();
}

static void test_idt_vectoring(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(vectoring_cases); k++)
        run_vectoring_case(&vectoring_cases[k]);
}

/* ---- nested exceptions that exit (SDM Vol. 3C 26.2, 27.6.1.2) ---- */

/* The guest's stack page is not present in its own tables: delivering
 * any event pushes the frame and meets a #PF (error 2: a supervisor
 * write to a not-present page). With #PF writes intercepted (bit 14,
 * mask = match = 2, 26.2), that nested #PF exits before the double-fault
 * rule can turn it into a #DF, and the exit records the event being
 * delivered. This holds for events injected by VM entry too: the
 * injected event itself is not subject to the exception bitmap, the
 * exceptions met while delivering it are (27.6.1.2). This is what shadow
 * paging relies on when the guest's stack is not yet shadowed. */
struct nested_pf_case {
    const char *name;
    const char *code;
    size_t code_len;
    uint32_t inject, inject_error;
    uint32_t vectoring, vectoring_error;
};

static const struct nested_pf_case nested_pf_cases[] = {
    {"injected interrupt", CODE_OF("\x48\xff\xc0"), INFO(T_EXTERNAL, 0x41),
     0, INFO(T_EXTERNAL, 0x41), 0},
    {"injected #PF", CODE_OF("\x48\xff\xc0"), INFO_ERR(T_HW_EXCEPTION, 14),
     0x5, INFO_ERR(T_HW_EXCEPTION, 14), 0x5},
    /* mov ecx, [rbx] on a not-present page: a read #PF (error 0), not
     * intercepted, whose delivery meets the write #PF. */
    {"#PF during #PF", CODE_OF("\x8b\x0b"), 0, 0,
     INFO_ERR(T_HW_EXCEPTION, 14), 0},
};

static void run_nested_pf_case(const struct nested_pf_case *k)
{
    machine_up();
    load_code(k->code, k->code_len);
    poke64(PT + 8 * ((STACK - 1) >> 12), 0);
    set(F(EXCEPTION_BITMAP), 1u << 14);
    set(F(PF_ERROR_MASK), 2);
    set(F(PF_ERROR_MATCH), 2);
    set(F(GUEST_RFLAGS), 2 | RF_IF);
    set(F(ENTRY_INTR_INFO), k->inject);
    set(F(ENTRY_EXCEPTION_ERROR), k->inject_error);
    enter(k->name);
    c->gpr[RBX] = UNMAPPED_LIN;
    c->cr2 = 0xC2C2;
    expect_eq(k->name, "exit reason", run_to_exit(k->name), R_EXCEPTION);
    expect_eq(k->name, "interruption info", get(F(EXIT_INTR_INFO)), PF_EXIT);
    expect_eq(k->name, "error code", get(F(EXIT_INTR_ERROR)), 2);
    expect_eq(k->name, "faulting page", get(F(EXIT_QUALIFICATION)) >> 12,
              (STACK - 1) >> 12);
    expect_eq(k->name, "IDT-vectoring info", get(F(IDT_VECTORING_INFO)),
              k->vectoring);
    expect_eq(k->name, "IDT-vectoring error", get(F(IDT_VECTORING_ERROR)),
              k->vectoring_error);
    /* Nothing of the delivery is left behind: the event is redelivered
     * from the same state after the exit's handler maps the page. */
    expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), AT(0));
    expect_eq(k->name, "guest RSP", get(F(GUEST_RSP)), STACK);
    expect_eq(k->name, "guest RFLAGS.IF", get(F(GUEST_RFLAGS)) & RF_IF,
              RF_IF);
    machine_down();
}

static void test_nested_page_fault_exits(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(nested_pf_cases); k++)
        run_nested_pf_case(&nested_pf_cases[k]);
}

/* ---- EPT (SDM Vol. 3C 29.3.3) ---- */

struct ept_case {
    const char *name;
    uint64_t page;     /* guest-physical page whose EPT entry changes */
    uint64_t entry;    /* its new EPT entry */
    const char *code;
    size_t code_len;
    uint64_t rbx;
    uint32_t reason;
    uint64_t rip, qual, gpa, gla;
};

/* EPT violations (qualification Table 28-7) and misconfigurations
 * (29.3.3.1). Guest code: mov ecx, [rbx]; mov [rbx], eax. RBX is the
 * guest's alias of DATA, so linear and guest-physical differ. */
static const struct ept_case ept_cases[] = {
    /* The read is allowed, the write is not. */
    {"write to a read-only page", DATA, EPT_LEAF((uint64_t)DATA, 1),
     CODE_OF("\x8b\x0b\x89\x03"), ALIAS_LIN + 0x10, R_EPT_VIOLATION,
     AT(2), Q_WRITE | Q_PERM_R | Q_LINEAR | Q_FINAL, DATA + 0x10,
     ALIAS_LIN + 0x10},
    {"read of a page not present", DATA, 0, CODE_OF("\x8b\x0b"),
     ALIAS_LIN + 0x18, R_EPT_VIOLATION, AT(0), Q_READ | Q_LINEAR | Q_FINAL,
     DATA + 0x18, ALIAS_LIN + 0x18},
    {"fetch from a page without X", CODE, EPT_LEAF((uint64_t)CODE, 3),
     CODE_OF("\x8b\x0b"), ALIAS_LIN, R_EPT_VIOLATION, AT(0),
     Q_FETCH | Q_PERM_R | Q_PERM_W | Q_LINEAR | Q_FINAL, CODE, CODE},
    /* A guest paging-structure entry (the PT, read to fetch the first
     * instruction): bit 8 clear. */
    {"guest page table not present", PT, 0, CODE_OF("\x8b\x0b"), ALIAS_LIN,
     R_EPT_VIOLATION, AT(0), Q_READ | Q_LINEAR, PT + 8 * (CODE >> 12), CODE},
    /* Write without read is a misconfiguration. */
    {"write-only entry", DATA, EPT_LEAF((uint64_t)DATA, 2),
     CODE_OF("\x8b\x0b"), ALIAS_LIN + 0x20, R_EPT_MISCONFIG, AT(0), 0,
     DATA + 0x20, 0},
};

static void test_ept_exits(void **state)
{
    (void)state;
    for (size_t n = 0; n < N(ept_cases); n++) {
        const struct ept_case *k = &ept_cases[n];
        machine_up();
        poke64(EPT_PT + 8 * (k->page >> 12), k->entry);
        load_code(k->code, k->code_len);
        enter(k->name);
        c->gpr[RBX] = k->rbx;
        expect_eq(k->name, "exit reason", run_to_exit(k->name), k->reason);
        expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), k->rip);
        expect_eq(k->name, "guest-physical address",
                  get(F(GUEST_PHYSICAL_ADDR)), k->gpa);
        if (k->reason == R_EPT_VIOLATION) {
            expect_eq(k->name, "qualification",
                      get(F(EXIT_QUALIFICATION)) & EPTQ_DEFINED, k->qual);
            expect_eq(k->name, "guest-linear address",
                      get(F(GUEST_LINEAR_ADDR)), k->gla);
        }
        expect_eq(k->name, "IDT-vectoring valid",
                  get(F(IDT_VECTORING_INFO)) >> 31, 0);
        machine_down();
    }
}

/* ---- "Virtualize APIC accesses" (SDM Vol. 3C 29.4) ---- */

/* APIC-access qualification (Table 28-6): page offset 11:0 for linear
 * accesses, access type 15:12. */
#define APICQ(type, offset) ((uint64_t)(type) << 12 | (offset))
enum { A_READ = 0, A_WRITE = 1, A_EVENT = 3, A_PHYS_INSN = 15 };
#define P2_APIC_ACCESSES BIT(0)
#define APIC_PAGE 0x60000ull /* a host page the EPT can map DATA to */

struct apic_case {
    const char *name;
    uint64_t apic_page;   /* the APIC-access address */
    uint64_t data_to;     /* the host page EPT maps DATA to */
    const char *code;
    size_t code_len;
    uint64_t rsp;
    uint32_t reason;
    uint64_t qual, gpa;
    uint32_t vectoring;
};

/* Guest code reads or writes RBX = ALIAS_LIN + 0x30 (guest paging ->
 * DATA, EPT -> data_to). The APIC-access address is compared with the
 * address after EPT (29.4): the page DATA maps to, not DATA. Without a
 * TPR shadow every access exits (29.4.2, 29.4.3), fault-like. */
static const struct apic_case apic_cases[] = {
    {"read", DATA, DATA, CODE_OF("\x8b\x0b"), STACK, R_APIC_ACCESS,
     APICQ(A_READ, 0x30), 0, 0},
    {"write", DATA, DATA, CODE_OF("\x89\x03"), STACK, R_APIC_ACCESS,
     APICQ(A_WRITE, 0x30), 0, 0},
    {"read-modify-write", DATA, DATA, CODE_OF("\x01\x03"), STACK,
     R_APIC_ACCESS, APICQ(A_WRITE, 0x30), 0, 0},
    {"host page after EPT", APIC_PAGE, APIC_PAGE, CODE_OF("\x8b\x0b"), STACK,
     R_APIC_ACCESS, APICQ(A_READ, 0x30), 0, 0},
    {"guest-physical page alone does not exit", DATA, APIC_PAGE,
     CODE_OF("\x8b\x0b\x0f\xa2"), STACK, R_CPUID, 0, 0, 0},
    /* A guest paging-structure entry on the page (the PT read to fetch
     * the first instruction): a guest-physical access, 29.4.6. */
    {"paging-structure walk", PT, DATA, CODE_OF("\x8b\x0b"), STACK,
     R_APIC_ACCESS, APICQ(A_PHYS_INSN, 0), PT + 8 * (CODE >> 12), 0},
    /* INT3 pushes its frame onto a stack in the page: event delivery. */
    {"event delivery", DATA, DATA, CODE_OF("\xcc"), DATA + 0x100,
     R_APIC_ACCESS, APICQ(A_EVENT, 0x100 - 8), 0, INFO(T_SW_EXCEPTION, 3)},
};

static void apic_setup(const struct apic_case *k)
{
    machine_up();
    poke64(EPT_PT + 8 * (DATA >> 12), EPT_LEAF(k->data_to, EPT_RWX));
    set_bits(F(PROC_CONTROLS2), P2_APIC_ACCESSES);
    set(F(APIC_ACCESS_ADDR), k->apic_page);
    set(F(GUEST_RSP), k->rsp);
    load_code(k->code, k->code_len);
    enter(k->name);
    c->gpr[RBX] = ALIAS_LIN + 0x30;
    c->gpr[RCX] = 0x1111;
}

static void test_apic_access_exits(void **state)
{
    (void)state;
    for (size_t n = 0; n < N(apic_cases); n++) {
        const struct apic_case *k = &apic_cases[n];
        apic_setup(k);
        uint64_t insns = c->insns;
        expect_eq(k->name, "exit reason", run_to_exit(k->name), k->reason);
        if (k->reason == R_APIC_ACCESS) {
            expect_eq(k->name, "qualification", get(F(EXIT_QUALIFICATION)),
                      k->qual);
            expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), AT(0));
            expect_eq(k->name, "instructions retired", c->insns, insns);
            expect_eq(k->name, "RCX", c->gpr[RCX], 0x1111);
            expect_eq(k->name, "IDT-vectoring info",
                      get(F(IDT_VECTORING_INFO)), k->vectoring);
            if (k->gpa)
                expect_eq(k->name, "guest-physical address",
                          get(F(GUEST_PHYSICAL_ADDR)), k->gpa);
        }
        machine_down();
    }
}

/* L0's pass (vmx_apic_access_pass) lets the instruction it resumes at
 * access the page once: the read completes from memory, and the same
 * read met next exits again. */
static void test_apic_access_pass_covers_one_instruction(void **state)
{
    (void)state;
    const struct apic_case k = {"pass", DATA, DATA,
                                CODE_OF("\x8b\x0b\x8b\x0b"), STACK, 0, 0,
                                0, 0};
    apic_setup(&k);
    poke64(DATA + 0x30, 0xABCD);
    expect_eq("pass", "exit reason", run_to_exit("pass"), R_APIC_ACCESS);
    vmx_apic_access_pass(c, get(F(GUEST_RIP)));
    enter("pass");
    expect_eq("pass", "exit reason", run_to_exit("pass"), R_APIC_ACCESS);
    expect_eq("pass", "guest RIP", get(F(GUEST_RIP)), AT(2));
    expect_eq("pass", "RCX", c->gpr[RCX], 0xABCD);
    machine_down();
}

/* The 2D walk: the first fetch after VM entry (the TLB is empty) walks
 * four guest levels, each entry's guest-physical address and then the
 * page's through a four-level EPT walk: 5 x 4 EPT entries. */
static void test_ept_walk_references(void **state)
{
    (void)state;
    load_code(CODE_OF("\x0f\xa2"));
    c->vmx.ept_walk_refs = 0;
    enter("ept refs");
    expect_eq("ept refs", "exit reason", run_to_exit("ept refs"), R_CPUID);
    expect_eq("ept refs", "EPT references", c->vmx.ept_walk_refs, 20);
}

/* The modeled TLB (cpu/tlb_model.h) charges that 2D walk: its 24
 * references (4 guest entries, 5 EPT walks of 4) at the profile's price,
 * once. The VM exit without "enable VPID" invalidates VPID 0's mappings
 * (SDM Vol. 3C 29.4.3.1), so the CPUID fetched again after the next
 * entry walks again; with VPID 1 the mapping survives the round trip. */
static void modeled_round_trips(const char *who, bool vpid,
                                uint64_t walks_expected)
{
    if (vpid) {
        set_bits(F(PROC_CONTROLS2), P2_VPID);
        set(F(VPID), 1);
    }
    load_code(CODE_OF("\x0f\xa2"));
    c->mtlb->walk_ref_cycles = 10;
    struct tlbm_stats before = c->mtlb->stats;
    for (int k = 0; k < 2; k++) {
        enter(who);
        expect_eq(who, "exit reason", run_to_exit(who), R_CPUID);
    }
    const struct tlbm_stats *now = &c->mtlb->stats;
    expect_eq(who, "modeled misses", now->misses - before.misses,
              walks_expected);
    expect_eq(who, "modeled walk references",
              now->walk_refs - before.walk_refs, 24 * walks_expected);
    expect_eq(who, "modeled MMU cycles", now->cycles - before.cycles,
              240 * walks_expected);
}

static void test_modeled_tlb_2d_walk_without_vpid(void **state)
{
    (void)state;
    modeled_round_trips("modeled, no VPID", false, 2);
}

static void test_modeled_tlb_2d_walk_with_vpid(void **state)
{
    (void)state;
    modeled_round_trips("modeled, VPID 1", true, 1);
}

/* A read-modify-write of memory is one read and one write: two lookups
 * of the modeled TLB, whether the emulator's own TLB holds the page (its
 * fast path) or not. Two ADD [RBX], RAX and a CPUID: fetches miss once
 * and hit twice; the data page misses at the first read and hits at the
 * first write and both accesses of the second ADD (which runs on the
 * fast path). Until 2026-12-02 the fast path looked the page up twice
 * for the read, and this counted 6 hits. */
static void test_modeled_tlb_rmw_counts_once(void **state)
{
    (void)state;
    load_code(CODE_OF("\x48\x01\x03\x48\x01\x03\x0f\xa2"));
    struct tlbm_stats before = c->mtlb->stats;
    enter("rmw");
    c->gpr[RBX] = DATA;
    c->gpr[RAX] = 1;
    expect_eq("rmw", "exit reason", run_to_exit("rmw"), R_CPUID);
    expect_eq("rmw", "memory", m->ram[DATA], 2);
    const struct tlbm_stats *now = &c->mtlb->stats;
    expect_eq("rmw", "modeled misses", now->misses - before.misses, 2);
    expect_eq("rmw", "modeled hits", now->hits - before.hits, 5);
}

/* The same for an operand the emulator reads in pieces on its slow path
 * (MOVDQU: two of 8 bytes when its TLB misses, one of 16 when it hits):
 * one lookup per access. Two loads and a CPUID: 1 + 2 fetch lookups, the
 * data page misses once and hits once (it counted 2 hits before). */
static void test_modeled_tlb_pieces_count_once(void **state)
{
    (void)state;
    load_code(CODE_OF("\xf3\x0f\x6f\x03\xf3\x0f\x6f\x03\x0f\xa2"));
    set(F(GUEST_CR4), get(F(GUEST_CR4)) | BIT(9)); /* OSFXSR */
    struct tlbm_stats before = c->mtlb->stats;
    enter("movdqu");
    c->gpr[RBX] = DATA;
    expect_eq("movdqu", "exit reason", run_to_exit("movdqu"), R_CPUID);
    const struct tlbm_stats *now = &c->mtlb->stats;
    expect_eq("movdqu", "modeled misses", now->misses - before.misses, 2);
    expect_eq("movdqu", "modeled hits", now->hits - before.hits, 3);
}

/* The emulator's own TLB keeps the translations of the guest of the VMCS
 * L0 names (vmx.tlb_keep) across a VM exit and the next entry when that
 * guest has a VPID: the CPUID fetched again after the second entry needs
 * no fill. Without a VPID, without being named, or after L0 forgot the
 * translations (vmx_tlb_forget), the entry empties it as before. */
static uint64_t fills_of_round_trip(const char *who)
{
    uint64_t before = c->tlb.fills;
    enter(who);
    expect_eq(who, "exit reason", run_to_exit(who), R_CPUID);
    return c->tlb.fills - before;
}

static void test_host_tlb_kept_across_transitions(void **state)
{
    (void)state;
    load_code(CODE_OF("\x0f\xa2"));
    c->vmx.tlb_keep = &vmcs;
    expect_eq("no VPID", "fills", fills_of_round_trip("no VPID"), 1);
    expect_eq("no VPID", "fills", fills_of_round_trip("no VPID"), 1);
    set_bits(F(PROC_CONTROLS2), P2_VPID);
    set(F(VPID), 1);
    expect_eq("VPID 1", "fills", fills_of_round_trip("VPID 1"), 1);
    expect_eq("VPID 1 again", "fills", fills_of_round_trip("VPID 1 again"), 0);
    vmx_tlb_forget(c);
    expect_eq("forgotten", "fills", fills_of_round_trip("forgotten"), 1);
    expect_eq("kept", "fills", fills_of_round_trip("kept"), 0);
    /* Another context at the entry (CR4.PGE set by L0): refilled. */
    set(F(GUEST_CR4), get(F(GUEST_CR4)) | BIT(7));
    expect_eq("CR4 changed", "fills", fills_of_round_trip("CR4 changed"), 1);
    c->vmx.tlb_keep = NULL;
    expect_eq("not named", "fills", fills_of_round_trip("not named"), 1);
}

/* ---- the host state loaded late (transition.c) ---- */

#define E_LOAD_DEBUG BIT(2)
#define E_LOAD_PAT BIT(14)
#define X_SAVE_DEBUG BIT(2)
#define X_SAVE_PAT BIT(18)
#define X_LOAD_PAT BIT(19)

/* What software or the next exit can see of the CPU, in a fixed order. */
enum { VIEW_MAX = 128 };
static size_t cpu_view(uint64_t *out)
{
    size_t n = 0;
    for (unsigned r = 0; r < 16; r++)
        out[n++] = c->gpr[r];
    uint64_t scalars[] = {
        c->rip, c->next_rip, cpu_rflags(c), c->cr0, c->cr2, c->cr3, c->cr4,
        c->efer, c->pat, c->dr[7], c->dbg.debugctl, c->dbg.active,
        c->dbg.data_armed, c->gdtr.base, c->gdtr.limit, c->idtr.base,
        c->idtr.limit, c->cpl, c->long_mode, c->code64, c->code_size,
        c->halted, c->interrupt_shadow, c->nmi_blocked, c->sysenter_cs,
        c->sysenter_esp, c->sysenter_eip, c->vmx.nonroot,
        c->vmx.vnmi_blocked, c->vmx.preemption_deadline, c->cycles, c->insns,
        c->tlb.fills, c->vmx.host_deferred};
    for (size_t k = 0; k < N(scalars); k++)
        out[n++] = scalars[k];
    for (unsigned g = 0; g < SEG_COUNT; g++) {
        out[n++] = c->seg[g].sel;
        out[n++] = c->seg[g].base;
        out[n++] = c->seg[g].limit;
        out[n++] = c->seg[g].attr;
    }
    assert_true(n <= VIEW_MAX);
    return n;
}

/* A CPUID exit, what L0's handler does (the next RIP, CF, RBX), the
 * entry after it, and the next exit: the CPU after that entry, after the
 * second exit, and the VMCS then. */
struct late_run {
    uint64_t entered[VIEW_MAX], exited[VIEW_MAX];
    size_t n;
    struct vmcs vmcs;
    bool deferred; /* the first exit left the host state for later */
};

struct late_case {
    const char *name;
    uint64_t clear_entry; /* entry controls L0 clears before re-entering */
};

static void late_run(const struct late_case *k, bool defer,
                     struct late_run *out)
{
    machine_up();
    load_code(CODE_OF("\x0f\xa2\x0f\xa2")); /* cpuid; cpuid */
    set_bits(F(EXIT_CONTROLS), control(VMX_CTL_EXIT, X_SAVE_DEBUG |
                                                         X_SAVE_PAT |
                                                         X_LOAD_PAT));
    set_bits(F(ENTRY_CONTROLS),
             control(VMX_CTL_ENTRY, E_LOAD_DEBUG | E_LOAD_PAT));
    set(F(GUEST_DR7), 0x600); /* GE: arms no breakpoint */
    set(F(GUEST_PAT), 0x0007040600070406ull);
    set(F(HOST_PAT), 0x0606060606060606ull);
    if (defer) {
        c->vmx.defer_vmcs = &vmcs;
        c->vmx.defer_reasons = BIT(R_CPUID);
    }
    enter(k->name);
    expect_eq(k->name, "exit", run_to_exit(k->name), R_CPUID);
    out->deferred = c->vmx.host_deferred;
    set(F(GUEST_RIP), get(F(GUEST_RIP)) + get(F(EXIT_INSN_LEN)));
    set(F(GUEST_RFLAGS), get(F(GUEST_RFLAGS)) | BIT(0));
    c->gpr[RBX] = 0x1234;
    set(F(ENTRY_CONTROLS), get(F(ENTRY_CONTROLS)) & ~k->clear_entry);
    enter(k->name);
    out->n = cpu_view(out->entered);
    expect_eq(k->name, "second exit", run_to_exit(k->name), R_CPUID);
    vmx_exit_complete(c);
    cpu_view(out->exited);
    out->vmcs = vmcs;
    machine_down();
}

/* Host state loaded late or at once: the same CPU after the entry and the
 * next exit, the same VMCS, whether the entry loads over all the host
 * state set (skipped) or not (loaded first: DR7, IA32_PAT stay the
 * host's). */
static void test_host_state_loaded_late(void **state)
{
    (void)state;
    static const struct late_case cases[] = {
        {"all reloaded", 0},
        {"DR7 not reloaded", E_LOAD_DEBUG},
        {"PAT not reloaded", E_LOAD_PAT},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const struct late_case *k = &cases[i];
        static struct late_run now, late;
        late_run(k, false, &now);
        late_run(k, true, &late);
        expect_eq(k->name, "deferred without defer_reasons", now.deferred, 0);
        expect_eq(k->name, "deferred", late.deferred, 1);
        for (size_t j = 0; j < now.n; j++) {
            expect_eq(k->name, "CPU after the entry", late.entered[j],
                      now.entered[j]);
            expect_eq(k->name, "CPU after the second exit", late.exited[j],
                      now.exited[j]);
        }
        for (size_t j = 0; j < VMCS_FIELD_COUNT; j++)
            expect_eq(k->name, "VMCS field", late.vmcs.value[j],
                      now.vmcs.value[j]);
        expect_eq(k->name, "DR7 at the second entry", now.entered[16 + 9],
                  k->clear_entry == E_LOAD_DEBUG ? 0x400 : 0x600);
    }
}

/* ---- the EPT translation cache (l0/vmx/ept_cache.h) ---- */

/* Memory only "L0" has, above the 4 MiB of RAM: a copy of the EPT. */
#define L0_BASE (1ull << 38)
/* Room for a second EPT of four pages (test_ept_cache_two_roots uses
 * the fifth page alone, as another root). */
static uint8_t l0_mem[8 * 4096];

static bool l0_mem_read(void *ctx, uint64_t hpa, void *dst, unsigned len)
{
    (void)ctx;
    if (hpa < L0_BASE || hpa - L0_BASE + len > sizeof l0_mem)
        return false;
    memcpy(dst, l0_mem + (hpa - L0_BASE), len);
    return true;
}

static void l0_poke64(uint64_t off, uint64_t v) { memcpy(l0_mem + off, &v, 8); }

/* The EPT of write_tables() moved to L0's memory (PML4, PDPT, PD, PT at
 * L0_BASE + 0, 1, 2, 3 pages). */
static void ept_in_l0_memory(void)
{
    memcpy(l0_mem, m->ram + EPT_PML4, 4 * 4096);
    l0_poke64(0, (L0_BASE + 0x1000) | EPT_RWX);
    l0_poke64(0x1000, (L0_BASE + 0x2000) | EPT_RWX);
    l0_poke64(0x2000, (L0_BASE + 0x3000) | EPT_RWX);
    c->vmx.l0_read = l0_mem_read;
    set(F(EPT_POINTER), L0_BASE | 6 | 3 << 3);
}

/* mov ecx, [rbx] (rbx: ALIAS_LIN -> DATA); cpuid, from CODE each time. */
static uint32_t run_data_read(const char *who)
{
    load_code(CODE_OF("\x8b\x0b\x0f\xa2"));
    set(F(GUEST_RIP), CODE);
    enter(who);
    c->gpr[RBX] = ALIAS_LIN;
    return run_to_exit(who);
}

/* L0 unmaps the page at `gpa` (its entry in the EPT's page table at
 * L0's 0x3000) and says its tables changed: the guest's read exits with
 * an EPT violation at `gpa`, whatever the cache held. */
static void expect_violation_once_unmapped(uint64_t gpa)
{
    l0_poke64(0x3000 + 8 * (gpa >> 12), 0);
    vmx_ept_tables_changed(c);
    expect_eq("unmapped", "exit reason", run_data_read("unmapped"),
              R_EPT_VIOLATION);
    expect_eq("unmapped", "guest-physical address",
              get(F(GUEST_PHYSICAL_ADDR)), gpa);
}

/* A walk of L0's tables is kept: the next entry's refill hits, counting
 * the EPT references the walks would have read; after L0 says it changed
 * its tables, a removed mapping is seen at once. The refill: the fetch
 * (four guest entries and the page) and the read (its leaf PTE, on
 * another guest page table, and the page), each an EPT walk of 4. */
static void test_ept_cache_hits_and_forgets(void **state)
{
    (void)state;
    ept_in_l0_memory();
    c->vmx.ept_walk_refs = 0;
    expect_eq("first", "exit reason", run_data_read("first"), R_CPUID);
    uint64_t refs = c->vmx.ept_walk_refs, hits = c->vmx.ept_cache.hits;
    c->vmx.ept_walk_refs = 0;
    expect_eq("again", "exit reason", run_data_read("again"), R_CPUID);
    expect_eq("again", "EPT references", c->vmx.ept_walk_refs, refs);
    expect_eq("again", "some walks hit", c->vmx.ept_cache.hits > hits, 1);

    expect_violation_once_unmapped(DATA);
}

/* The modeled TLB's walks read the cache's shape of a cached walk
 * (vmx_ept_cached_shape): DATA's walk read 4 EPT entries (4 KiB EPT
 * pages below 2 MiB, identity) and maps it to itself; nothing once L0
 * announced a change, and nothing for a page not walked. */
static void test_ept_cache_shape_for_the_model(void **state)
{
    (void)state;
    ept_in_l0_memory();
    expect_eq("read", "exit reason", run_data_read("read"), R_CPUID);
    unsigned refs = 0;
    uint64_t hpa = 0, size = 0;
    expect_eq("cached", "found",
              vmx_ept_cached_shape(c, DATA + 0x18, &refs, &hpa, &size), 1);
    expect_eq("cached", "references", refs, 4);
    expect_eq("cached", "host address", hpa, DATA + 0x18);
    expect_eq("cached", "page size", size, 4096);
    expect_eq("never walked", "found",
              vmx_ept_cached_shape(c, 0x1F0000, &refs, &hpa, &size), 0);
    vmx_ept_tables_changed(c);
    expect_eq("changed", "found",
              vmx_ept_cached_shape(c, DATA, &refs, &hpa, &size), 0);
}

/* A walk that ends in a 2 MiB EPT page is kept for the whole piece: any
 * page of it, walked or not, has the walk's shape (3 entries read, a
 * 2 MiB page) and its own offset in the piece. L0's PD maps guest 2-4
 * MiB to host 0-2 MiB here, so the address found is not the identity. */
static void test_ept_cache_large_page_piece(void **state)
{
    (void)state;
    ept_in_l0_memory();
    l0_poke64(0x2000 + 8, EPT_LEAF(0, EPT_RWX) | BIT(7));
    poke64(PT + 8 * (ALIAS_LIN >> 12), PTE_PAGE(0x203000));
    expect_eq("read", "exit reason", run_data_read("read"), R_CPUID);
    unsigned refs = 0;
    uint64_t hpa = 0, size = 0;
    expect_eq("other page", "found",
              vmx_ept_cached_shape(c, 0x3A5018, &refs, &hpa, &size), 1);
    expect_eq("other page", "references", refs, 3);
    expect_eq("other page", "host address", hpa, 0x1A5018);
    expect_eq("other page", "page size", size, 2ull << 20);
    expect_eq("below the piece", "found",
              vmx_ept_cached_shape(c, 0x1F0000, &refs, &hpa, &size), 0);
    c->vmx.ept_walk_refs = 0;
    uint64_t hits = c->vmx.ept_cache.hits;
    expect_eq("again", "exit reason", run_data_read("again"), R_CPUID);
    expect_eq("again", "some walks hit", c->vmx.ept_cache.hits > hits, 1);
    l0_poke64(0x2000 + 8, 0);
    vmx_ept_tables_changed(c);
    expect_eq("changed", "found",
              vmx_ept_cached_shape(c, 0x3A5018, &refs, &hpa, &size), 0);
    expect_eq("unmapped", "exit reason", run_data_read("unmapped"),
              R_EPT_VIOLATION);
    expect_eq("unmapped", "guest-physical address",
              get(F(GUEST_PHYSICAL_ADDR)), 0x203000);
}

/* Two EPTPs translating the same guest-physical pages (L1's and L2's,
 * both loaded at 1 MiB) keep their walks side by side: after a round
 * under the second root, a round under the first walks nothing again.
 * Here the second root is a copy of the first's PML4. */
static void test_ept_cache_two_roots(void **state)
{
    (void)state;
    ept_in_l0_memory();
    memcpy(l0_mem + 0x4000, l0_mem, 4096);
    expect_eq("first root", "exit reason", run_data_read("first root"),
              R_CPUID);
    set(F(EPT_POINTER), (L0_BASE + 0x4000) | 6 | 3 << 3);
    expect_eq("second root", "exit reason", run_data_read("second root"),
              R_CPUID);
    set(F(EPT_POINTER), L0_BASE | 6 | 3 << 3);
    uint64_t walks = c->vmx.ept_cache.walks;
    expect_eq("first again", "exit reason", run_data_read("first again"),
              R_CPUID);
    expect_eq("first again", "EPT walks", c->vmx.ept_cache.walks, walks);
}

/* The walk of a guest paging-structure entry through the cache's
 * `tables` (the pages recent walks went through): once L0 says it
 * changed its tables, the guest's PD page unmapped is seen at the
 * fetch's walk, whose PD entry is the first on that page. */
static void test_ept_cache_tables_forget(void **state)
{
    (void)state;
    ept_in_l0_memory();
    expect_eq("first", "exit reason", run_data_read("first"), R_CPUID);
    uint64_t hits = c->vmx.ept_cache.hits;
    expect_eq("again", "exit reason", run_data_read("again"), R_CPUID);
    expect_eq("again", "some walks hit", c->vmx.ept_cache.hits > hits, 1);
    expect_violation_once_unmapped(PD);
    expect_eq("unmapped", "qualification",
              get(F(EXIT_QUALIFICATION)) & EPTQ_DEFINED, Q_READ | Q_LINEAR);
}

/* The walk cache (cpu/tlb.h) under EPT: the refills after each VM
 * entry's flush find the guest's walks kept, counting the references
 * (the guest's and the EPT's) the walks would; once L0 says it changed
 * its tables, the guest's PD page unmapped is seen at the next walk. */
static void test_walk_cache_under_ept(void **state)
{
    (void)state;
    ept_in_l0_memory();
    uint64_t refs[3], ept_refs[3], hits = 0;
    for (unsigned k = 0; k < 3; k++) {
        uint64_t r = c->walk_refs, e = c->vmx.ept_walk_refs;
        hits = c->walks.hits;
        expect_eq("round", "exit reason", run_data_read("round"), R_CPUID);
        refs[k] = c->walk_refs - r;
        ept_refs[k] = c->vmx.ept_walk_refs - e;
    }
    expect_eq("third", "walks found kept", c->walks.hits > hits, 1);
    expect_eq("third", "references", refs[2], refs[1]);
    expect_eq("third", "EPT references", ept_refs[2], ept_refs[1]);
    expect_violation_once_unmapped(PD);
}

/* The cache is per EPTP: a second EPT in L0's memory (4 pages on) that
 * does not map the guest's PD page is walked, not answered from what
 * the first one's walks left, though L0 announced no change. */
static void test_ept_cache_tables_per_eptp(void **state)
{
    (void)state;
    ept_in_l0_memory();
    expect_eq("first", "exit reason", run_data_read("first"), R_CPUID);
    memcpy(l0_mem + 0x4000, l0_mem, 0x4000);
    l0_poke64(0x4000, (L0_BASE + 0x5000) | EPT_RWX);
    l0_poke64(0x5000, (L0_BASE + 0x6000) | EPT_RWX);
    l0_poke64(0x6000, (L0_BASE + 0x7000) | EPT_RWX);
    l0_poke64(0x7000 + 8 * (PD >> 12), 0);
    set(F(EPT_POINTER), (L0_BASE + 0x4000) | 6 | 3 << 3);
    expect_eq("other EPT", "exit reason", run_data_read("other EPT"),
              R_EPT_VIOLATION);
    expect_eq("other EPT", "guest-physical address",
              get(F(GUEST_PHYSICAL_ADDR)), PD);
}

/* Tables in the machine's RAM are the guest's to write: never cached. */
static void test_ept_cache_ignores_ram_tables(void **state)
{
    (void)state;
    expect_eq("first", "exit reason", run_data_read("first"), R_CPUID);
    uint64_t hits = c->vmx.ept_cache.hits;
    expect_eq("again", "exit reason", run_data_read("again"), R_CPUID);
    poke64(EPT_PT + 8 * (DATA >> 12), 0);
    expect_eq("unmapped", "exit reason", run_data_read("unmapped"),
              R_EPT_VIOLATION);
    expect_eq("unmapped", "cache hits", c->vmx.ept_cache.hits, hits);
}

/* ---- VMCS shadowing (SDM Vol. 3C 25.10; Vol. 2C VMREAD, VMWRITE) ---- */

static void shadowing_on(void)
{
    set_bits(F(PROC_CONTROLS2), P2_SHADOWING);
    set(F(LINK_POINTER), SHADOW_REGION);
    /* The region the link pointer names: revision, shadow indicator. */
    uint32_t rev = VMCS_REVISION_ID | BIT(31);
    memcpy(m->ram + SHADOW_REGION, &rev, 4);
    vmcs_init(&shadow, VMCS_REVISION_ID | BIT(31));
    vmcs_set(&shadow, F(GUEST_RIP), 0xABCDEF0123ull);
    vmcs_set(&shadow, F(GUEST_RSP), 0x5555);
    c->vmx.lookup_vmcs = lookup_shadow;
    /* Every field exits but GUEST_RIP (reads) and EXIT_QUALIFICATION
     * (writes): bit n of a bitmap is field encoding n. */
    memset(m->ram + VMREAD_BITMAP, 0xFF, 4096);
    memset(m->ram + VMWRITE_BITMAP, 0xFF, 4096);
    m->ram[VMREAD_BITMAP + ENC_GUEST_RIP / 8] &= ~(1u << ENC_GUEST_RIP % 8);
    m->ram[VMWRITE_BITMAP + ENC_EXIT_QUALIFICATION / 8] &=
        ~(1u << ENC_EXIT_QUALIFICATION % 8);
}

/* VMfail/VMsucceed start from all six arithmetic flags set. */
#define ALL_FLAGS (2 | FL_ARITH6)

/* vmread rcx, rdx: 0F 78 D1 (ModRM: reg = RDX the field, rm = RCX). */
#define VMREAD_RCX_RDX "\x0f\x78\xd1"
/* vmwrite rdx, rcx: 0F 79 D1 (reg = RDX the field, rm = RCX the value). */
#define VMWRITE_RDX_RCX "\x0f\x79\xd1"

static void test_shadow_vmread_without_exit(void **state)
{
    (void)state;
    shadowing_on();
    set(F(GUEST_RFLAGS), ALL_FLAGS);
    load_code(CODE_OF(VMREAD_RCX_RDX "\x0f\xa2"));
    enter("vmread");
    c->gpr[RDX] = ENC_GUEST_RIP;
    expect_eq("vmread", "exit reason", run_to_exit("vmread"), R_CPUID);
    expect_eq("vmread", "guest RIP", get(F(GUEST_RIP)), AT(3));
    expect_eq("vmread", "RCX", c->gpr[RCX], 0xABCDEF0123ull);
    /* VMsucceed: CF, PF, AF, ZF, SF, OF cleared. */
    expect_eq("vmread", "guest RFLAGS", get(F(GUEST_RFLAGS)), 2);
}

/* The same into memory: vmread [rsi + rdi*4 + 0x10], rdx. */
static void test_shadow_vmread_to_memory(void **state)
{
    (void)state;
    shadowing_on();
    load_code(CODE_OF("\x0f\x78\x54\xbe\x10\x0f\xa2"));
    enter("vmread [mem]");
    c->gpr[RDX] = ENC_GUEST_RIP;
    c->gpr[RSI] = ALIAS_LIN;
    c->gpr[RDI] = 2;
    expect_eq("vmread [mem]", "exit reason", run_to_exit("vmread [mem]"),
              R_CPUID);
    expect_eq("vmread [mem]", "guest RIP", get(F(GUEST_RIP)), AT(5));
    expect_eq("vmread [mem]", "memory", peek64(DATA + 0x18),
              0xABCDEF0123ull);
}

static void test_shadow_vmwrite_read_only_field(void **state)
{
    (void)state;
    uint64_t misc = 0;
    assert_true(vmx_cap_read(0x485, &misc));
    /* IA32_VMX_MISC bit 29: VMWRITE may write exit-information fields
     * (SDM Vol. 3D A.6); this CPU reports it. */
    expect_eq("vmwrite", "VMX_MISC bit 29", misc >> 29 & 1, 1);
    shadowing_on();
    set(F(GUEST_RFLAGS), ALL_FLAGS);
    load_code(CODE_OF(VMWRITE_RDX_RCX "\x0f\xa2"));
    enter("vmwrite");
    c->gpr[RDX] = ENC_EXIT_QUALIFICATION;
    c->gpr[RCX] = 0x77;
    expect_eq("vmwrite", "exit reason", run_to_exit("vmwrite"), R_CPUID);
    expect_eq("vmwrite", "guest RIP", get(F(GUEST_RIP)), AT(3));
    expect_eq("vmwrite", "shadow field", vmcs_get(&shadow,
              F(EXIT_QUALIFICATION)), 0x77);
    expect_eq("vmwrite", "guest RFLAGS", get(F(GUEST_RFLAGS)), 2);
    /* The VMCS controlling the guest is not the one written. */
    expect_eq("vmwrite", "own exit qualification",
              get(F(EXIT_QUALIFICATION)), 0);
}

/* A field whose bit is set exits, with the instruction information of
 * Table 28-13: scaling 1:0, reg1 6:3, address size 9:7, register
 * operand 10, segment 17:15, index 21:18 (invalid 22), base 26:23
 * (invalid 27), reg2 31:28. Bits a register or memory form leaves
 * undefined are not compared. */
struct vmread_exit_case {
    const char *name;
    const char *code;
    size_t code_len;
    uint32_t info, defined;
    uint64_t qual;
};

static const struct vmread_exit_case vmread_exit_cases[] = {
    /* reg1 = RCX (1), register, reg2 = RDX (2). */
    {"register", CODE_OF(VMREAD_RCX_RDX), 1u << 3 | 1u << 10 | 2u << 28,
     0xF0000478u, 0},
    /* vmread [rsi + rdi*4 + 0x10], rdx: scale 2, 64-bit, DS (3), index
     * RDI (7), base RSI (6), reg2 RDX; the qualification is the
     * displacement (28.2.1). */
    {"memory", CODE_OF("\x0f\x78\x54\xbe\x10"), 2u | 2u << 7 | 3u << 15 |
     7u << 18 | 6u << 23 | 2u << 28, 0xFFFF8787u, 0x10},
};

static void test_shadow_vmread_exit(void **state)
{
    (void)state;
    for (size_t n = 0; n < N(vmread_exit_cases); n++) {
        const struct vmread_exit_case *k = &vmread_exit_cases[n];
        machine_up();
        shadowing_on();
        load_code(k->code, k->code_len);
        enter(k->name);
        c->gpr[RDX] = ENC_GUEST_RSP;
        c->gpr[RSI] = DATA;
        expect_eq(k->name, "exit reason", run_to_exit(k->name), R_VMREAD);
        expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), AT(0));
        expect_eq(k->name, "instruction length", get(F(EXIT_INSN_LEN)),
                  k->code_len);
        expect_eq(k->name, "instruction information",
                  get(F(EXIT_INSN_INFO)) & k->defined, k->info);
        expect_eq(k->name, "qualification", get(F(EXIT_QUALIFICATION)),
                  k->qual);
        machine_down();
    }
}

/* Link pointer ~0: VMfailInvalid, CF = 1 and the other five cleared. */
static void test_shadow_vmread_fail_invalid(void **state)
{
    (void)state;
    shadowing_on();
    set(F(LINK_POINTER), ~0ull);
    set(F(GUEST_RFLAGS), ALL_FLAGS);
    load_code(CODE_OF(VMREAD_RCX_RDX "\x0f\xa2"));
    enter("fail invalid");
    c->gpr[RDX] = ENC_GUEST_RIP;
    c->gpr[RCX] = 0x99;
    expect_eq("fail invalid", "exit reason", run_to_exit("fail invalid"),
              R_CPUID);
    expect_eq("fail invalid", "guest RFLAGS", get(F(GUEST_RFLAGS)),
              2 | BIT(0));
    expect_eq("fail invalid", "RCX", c->gpr[RCX], 0x99);
}

/* CPL 3: the VM exit comes first (bit set), then #GP(0) (bit clear). */
static void test_shadow_vmread_cpl3(void **state)
{
    (void)state;
    static const struct { const char *name; uint64_t field; uint32_t reason; }
        cases[] = {{"CPL 3, bit clear", ENC_GUEST_RIP, R_EXCEPTION},
                   {"CPL 3, bit set", ENC_GUEST_RSP, R_VMREAD}};
    for (size_t n = 0; n < N(cases); n++) {
        machine_up();
        shadowing_on();
        make_user();
        set(F(EXCEPTION_BITMAP), 1u << 13);
        load_code(CODE_OF(VMREAD_RCX_RDX));
        enter(cases[n].name);
        c->gpr[RDX] = cases[n].field;
        expect_eq(cases[n].name, "exit reason", run_to_exit(cases[n].name),
                  cases[n].reason);
        expect_eq(cases[n].name, "guest RIP", get(F(GUEST_RIP)), AT(0));
        if (cases[n].reason == R_EXCEPTION) {
            expect_eq(cases[n].name, "interruption info",
                      get(F(EXIT_INTR_INFO)), GP_EXIT);
            expect_eq(cases[n].name, "error code", get(F(EXIT_INTR_ERROR)),
                      0);
        }
        machine_down();
    }
}

/* ---- interrupt window, preemption timer, triple fault ---- */

/* SDM Vol. 3C 26.7.5: exits before any instruction at which IF = 1 and
 * nothing blocks interrupts: at once with IF = 1; after STI only past
 * the next instruction (blocking by STI). */
static void test_interrupt_window(void **state)
{
    (void)state;
    static const struct { const char *name; uint64_t rflags; uint64_t rip; }
        cases[] = {{"IF = 1", 2 | RF_IF, AT(0)}, {"sti; nop", 2, AT(2)}};
    for (size_t n = 0; n < N(cases); n++) {
        machine_up();
        load_code(CODE_OF("\xfb\x90\x0f\xa2")); /* sti; nop; cpuid */
        set_bits(F(PROC_CONTROLS), P_INTR_WINDOW);
        set(F(GUEST_RFLAGS), cases[n].rflags);
        enter(cases[n].name);
        expect_eq(cases[n].name, "exit reason", run_to_exit(cases[n].name),
                  R_INTR_WINDOW);
        expect_eq(cases[n].name, "guest RIP", get(F(GUEST_RIP)),
                  cases[n].rip);
        machine_down();
    }
}

/* A VM exit in the shadow of MOV SS saves "blocking by MOV SS" (bit 1
 * of the interruptibility state, SDM Vol. 3C 25.4.2, 28.3.4); the
 * next VM entry accepts it, which it would not for "blocking by STI"
 * with RFLAGS.IF = 0 (27.3.1.5). STI (IF = 1 after it) saves bit 0. */
static void test_interrupt_shadow_saved(void **state)
{
    (void)state;
    static const struct {
        const char *name, *code;
        size_t code_len;
        uint64_t blocking;
    } cases[] = {
        {"mov ss, ax; cpuid", CODE_OF("\x8e\xd0\x0f\xa2"), 2},
        {"sti; cpuid", CODE_OF("\xfb\x0f\xa2"), 1},
    };
    for (size_t n = 0; n < N(cases); n++) {
        machine_up();
        load_code(cases[n].code, cases[n].code_len);
        enter(cases[n].name);
        c->gpr[RAX] = 0x10;
        expect_eq(cases[n].name, "exit reason", run_to_exit(cases[n].name),
                  R_CPUID);
        expect_eq(cases[n].name, "guest RIP", get(F(GUEST_RIP)),
                  AT(cases[n].code_len - 2));
        expect_eq(cases[n].name, "interruptibility",
                  get(F(GUEST_INTERRUPTIBILITY)), cases[n].blocking);
        enter(cases[n].name); /* VMRESUME */
        machine_down();
    }
}

/* SDM Vol. 3C 26.5.1: the timer counts down by 1 each time bit X of the
 * TSC changes, X = IA32_VMX_MISC bits 4:0; the exit comes when it
 * reaches 0, and at once if it is 0 at VM entry (27.7.4). */
static void test_preemption_timer(void **state)
{
    (void)state;
    uint64_t misc = 0;
    assert_true(vmx_cap_read(0x485, &misc));
    unsigned rate = misc & 0x1F;
    static const uint64_t values[] = {0, 1, 10, 1000};
    for (size_t n = 0; n < N(values); n++) {
        machine_up();
        load_code(CODE_OF("\xeb\xfe")); /* jmp $ */
        set_bits(F(PIN_CONTROLS), PIN_PREEMPTION);
        set_bits(F(EXIT_CONTROLS), X_SAVE_PREEMPTION);
        set(F(PREEMPTION_TIMER), values[n]);
        enter("preemption");
        uint64_t t0 = c->cycles, insns = c->insns;
        expect_eq("preemption", "exit reason", run_to_exit("preemption"),
                  R_PREEMPTION);
        uint64_t elapsed = c->cycles - t0;
        if (values[n] == 0) {
            expect_eq("preemption 0", "instructions", c->insns, insns);
        } else if (elapsed <= (values[n] - 1) << rate ||
                   elapsed > values[n] << rate) {
            fail_msg("preemption timer %llu: exit after %llu cycles",
                     (unsigned long long)values[n],
                     (unsigned long long)elapsed);
        }
        expect_eq("preemption", "saved timer", get(F(PREEMPTION_TIMER)), 0);
        expect_eq("preemption", "guest RIP", get(F(GUEST_RIP)), AT(0));
        machine_down();
    }
}

/* A REP string is interruptible between iterations (SDM Vol. 1 7.3.9.1):
 * the preemption-timer exit comes in the middle of a long REP LODSB with
 * RCX and RSI advanced and RIP still at the instruction, and VM entry
 * resumes it where it stopped. */
static void test_preemption_timer_in_rep_string(void **state)
{
    (void)state;
    enum { COUNT = 50000 }; /* within run_to_exit's limit */
    machine_up();
    load_code(CODE_OF("\xf3\xac\x0f\xa2")); /* rep lodsb; cpuid */
    set_bits(F(PIN_CONTROLS), PIN_PREEMPTION);
    set_bits(F(EXIT_CONTROLS), X_SAVE_PREEMPTION);
    set(F(PREEMPTION_TIMER), 10);
    enter("rep lodsb");
    c->gpr[RCX] = COUNT;
    c->gpr[RSI] = DATA;
    uint64_t insns = c->insns;
    expect_eq("rep lodsb", "exit reason", run_to_exit("rep lodsb"),
              R_PREEMPTION);
    expect_eq("rep lodsb", "guest RIP", get(F(GUEST_RIP)), AT(0));
    uint64_t done = COUNT - c->gpr[RCX];
    if (done == 0 || done >= COUNT)
        fail_msg("rep lodsb: %llu of %u iterations before the exit",
                 (unsigned long long)done, COUNT);
    expect_eq("rep lodsb", "RSI", c->gpr[RSI], DATA + done);
    expect_eq("rep lodsb", "instructions retired", c->insns, insns);

    /* Resumed with the timer far away: it finishes, then CPUID exits. */
    set(F(PREEMPTION_TIMER), 0xFFFFFFFF);
    enter("rep lodsb resumed");
    expect_eq("rep lodsb resumed", "exit reason",
              run_to_exit("rep lodsb resumed"), R_CPUID);
    expect_eq("rep lodsb resumed", "guest RIP", get(F(GUEST_RIP)), AT(2));
    expect_eq("rep lodsb resumed", "RCX", c->gpr[RCX], 0);
    expect_eq("rep lodsb resumed", "RSI", c->gpr[RSI], DATA + COUNT);
    expect_eq("rep lodsb resumed", "instructions retired", c->insns,
              insns + 1);
    machine_down();
}

/* The timer counts in the HLT state too, and its exit saves the
 * activity state HLT (SDM Vol. 3C 26.5.1, 28.3.4). */
static void test_preemption_timer_in_hlt(void **state)
{
    (void)state;
    static const struct { const char *name; uint64_t rflags; } cases[] = {
        {"hlt, IF = 1", 2 | RF_IF}};
    for (size_t n = 0; n < N(cases); n++) {
        machine_up();
        load_code(CODE_OF("\xf4"));
        set_bits(F(PIN_CONTROLS), PIN_PREEMPTION);
        set(F(PREEMPTION_TIMER), 10);
        set(F(GUEST_RFLAGS), cases[n].rflags);
        enter(cases[n].name);
        expect_eq(cases[n].name, "exit reason", run_to_exit(cases[n].name),
                  R_PREEMPTION);
        expect_eq(cases[n].name, "guest RIP", get(F(GUEST_RIP)), AT(1));
        expect_eq(cases[n].name, "activity state",
                  get(F(GUEST_ACTIVITY_STATE)), 1);
        machine_down();
    }
}

/* External interrupts (SDM Vol. 3C 26.2, 28.2.2): with "external-
 * interrupt exiting" one exits whatever RFLAGS.IF says; "acknowledge
 * interrupt on exit" takes it from the APIC and reports its vector,
 * otherwise it stays requested and the information is invalid. Without
 * exiting it is delivered through the guest's IDT. The LAPIC timer
 * raises vector 0x50 after 10 cycles. */
static void test_external_interrupts(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t pin, exit, rflags;
        uint32_t reason;
        uint64_t rip, info;
        int pending_after;
    } cases[] = {
        {"exiting, acknowledged", PIN_EXT_INTR, X_ACK_INTR, 2,
         R_EXTERNAL_INTR, AT(0), INFO(T_EXTERNAL, 0x50), -1},
        {"exiting, not acknowledged", PIN_EXT_INTR, 0, 2, R_EXTERNAL_INTR,
         AT(0), 0, 0x50},
        {"delivered to the guest", 0, 0, 2 | RF_IF, R_CPUID, HANDLER(0x50),
         0, -1},
    };
    for (size_t n = 0; n < N(cases); n++) {
        machine_up();
        load_code(CODE_OF("\xeb\xfe")); /* jmp $ */
        set_bits(F(PIN_CONTROLS), cases[n].pin);
        set_bits(F(EXIT_CONTROLS), cases[n].exit);
        set(F(GUEST_RFLAGS), cases[n].rflags);
        /* SVR: enabled; LVT timer: vector 0x50, one-shot; divide by 1. */
        bus_write(&m->mmio, LAPIC_DEFAULT_BASE + 0xF0, 4, 0x1FF);
        bus_write(&m->mmio, LAPIC_DEFAULT_BASE + 0x320, 4, 0x50);
        bus_write(&m->mmio, LAPIC_DEFAULT_BASE + 0x3E0, 4, 0xB);
        bus_write(&m->mmio, LAPIC_DEFAULT_BASE + 0x380, 4, 10);
        enter(cases[n].name);
        expect_eq(cases[n].name, "exit reason", run_to_exit(cases[n].name),
                  cases[n].reason);
        expect_eq(cases[n].name, "guest RIP", get(F(GUEST_RIP)),
                  cases[n].rip);
        if (cases[n].reason == R_EXTERNAL_INTR)
            expect_eq(cases[n].name, "interruption info",
                      get(F(EXIT_INTR_INFO)), cases[n].info);
        expect_eq(cases[n].name, "requested vector",
                  (uint64_t)lapic_pending_vector(m->lapic, c->cycles),
                  (uint64_t)cases[n].pending_after);
        machine_down();
    }
}

/* IDT limit 0: #UD cannot be delivered (#GP), nor the #GP, nor the #DF:
 * shutdown, which in non-root operation is a VM exit (SDM Vol. 3C
 * 26.2) and does not stop the machine. A triple-fault exit does not
 * occur during event delivery (28.2.4): no IDT-vectoring information,
 * although the #DF was being delivered. */
static void test_triple_fault_exits(void **state)
{
    (void)state;
    load_code(CODE_OF("\x0f\x0b"));
    set(F(GUEST_IDTR_LIMIT), 0);
    enter("triple fault");
    expect_eq("triple fault", "exit reason", run_to_exit("triple fault"),
              R_TRIPLE_FAULT);
    expect_eq("triple fault", "machine stop", m->stop, STOP_NONE);
    expect_eq("triple fault", "non-root", c->vmx.nonroot, 0);
    expect_eq("triple fault", "RIP", c->rip, HOST_RIP);
    expect_eq("triple fault", "IDT-vectoring valid",
              get(F(IDT_VECTORING_INFO)) >> 31, 0);
}

/* The same guest with #DF in the exception bitmap: the #GP met while
 * delivering the #GP of the #UD is a double fault, which exits (reason
 * 0, vector 8, error code 0). The original event "results in a double-
 * fault exception that causes the VM exit directly": not an exit during
 * event delivery, so the IDT-vectoring information is not valid (SDM
 * Vol. 3C 28.2.4). */
static void test_double_fault_exit_vectoring(void **state)
{
    (void)state;
    load_code(CODE_OF("\x0f\x0b"));
    set(F(GUEST_IDTR_LIMIT), 0);
    set(F(EXCEPTION_BITMAP), 1u << 8);
    enter("#DF exit");
    expect_eq("#DF exit", "exit reason", run_to_exit("#DF exit"),
              R_EXCEPTION);
    expect_eq("#DF exit", "interruption info", get(F(EXIT_INTR_INFO)),
              INFO_ERR(T_HW_EXCEPTION, 8));
    expect_eq("#DF exit", "error code", get(F(EXIT_INTR_ERROR)), 0);
    expect_eq("#DF exit", "IDT-vectoring valid",
              get(F(IDT_VECTORING_INFO)) >> 31, 0);
    expect_eq("#DF exit", "guest RIP", get(F(GUEST_RIP)), AT(0));
}

/* ---- VM-entry failures (SDM Vol. 3C 27.1, 27.3.1, 28.8) ---- */

static void test_vmlaunch_of_launched_vmcs(void **state)
{
    (void)state;
    load_code(CODE_OF("\x0f\xa2"));
    enter("launch");
    expect_eq("launch", "exit reason", run_to_exit("launch"), R_CPUID);
    struct vmx_entry_result r;
    vmx_vmentry(c, &vmcs, true, &r);
    expect_eq("VMLAUNCH", "status", r.status, VMX_FAIL_VALID);
    expect_eq("VMLAUNCH", "error", r.error, 4);
    expect_eq("VMLAUNCH", "VM-instruction error", get(F(INSN_ERROR)), 4);
    expect_eq("VMLAUNCH", "non-root", c->vmx.nonroot, 0);
    /* VMRESUME of the same VMCS enters. */
    vmx_vmentry(c, &vmcs, false, &r);
    expect_eq("VMRESUME", "status", r.status, VMX_ENTERED);
}

static void test_vmresume_of_clear_vmcs(void **state)
{
    (void)state;
    struct vmx_entry_result r;
    vmx_vmentry(c, &vmcs, false, &r);
    expect_eq("VMRESUME", "status", r.status, VMX_FAIL_VALID);
    expect_eq("VMRESUME", "VM-instruction error", get(F(INSN_ERROR)), 5);
}

/* RFLAGS bit 1 clear: a VM-entry failure, basic reason 33 with bit 31
 * of the exit reason set (28.8), the rule named. */
static void test_entry_failure_bad_guest_state(void **state)
{
    (void)state;
    set(F(GUEST_RFLAGS), 0);
    struct vmx_entry_result r;
    vmx_vmentry(c, &vmcs, true, &r);
    expect_eq("bad guest", "status", r.status, VMX_ENTRY_FAILURE);
    expect_eq("bad guest", "basic reason", r.error, R_BAD_GUEST);
    expect_eq("bad guest", "exit reason", get(F(EXIT_REASON)),
              BIT(31) | R_BAD_GUEST);
    assert_non_null(r.rule);
    assert_non_null(strstr(r.rule, "RFLAGS"));
    expect_eq("bad guest", "non-root", c->vmx.nonroot, 0);
    expect_eq("bad guest", "launch state", vmcs.launch, VMCS_STATE_CLEAR);
}

/* ---- TSC offsetting (SDM Vol. 3C 26.3) ---- */

#define P_TSC_OFFSETTING BIT(3)
#define TSC_OFF (1ull << 40)

/* rdtsc; mov %eax,%ebx; mov %edx,%esi; mov $0x10,%ecx; rdmsr; cpuid */
#define READ_TSC_TWICE "\x0f\x31\x89\xc3\x89\xd6\xb9\x10\x00\x00\x00\x0f\x32\x0f\xa2"

static void test_tsc_offsetting(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t proc, offset_seen;
    } cases[] = {
        {"no offsetting", P_MSR_BITMAPS, 0},
        {"offsetting", P_MSR_BITMAPS | P_TSC_OFFSETTING, TSC_OFF},
    };
    for (size_t k = 0; k < N(cases); k++) {
        machine_up();
        load_code(CODE_OF(READ_TSC_TWICE));
        set_bits(F(PROC_CONTROLS), cases[k].proc);
        set(F(TSC_OFFSET), TSC_OFF); /* ignored without the control */
        uint64_t t0 = c->cycles;
        enter(cases[k].name);
        expect_eq(cases[k].name, "exit", run_to_exit(cases[k].name), R_CPUID);
        uint64_t t1 = c->cycles, off = cases[k].offset_seen;
        uint64_t rdtsc = c->gpr[RSI] << 32 | (uint32_t)c->gpr[RBX];
        uint64_t rdmsr = c->gpr[RDX] << 32 | (uint32_t)c->gpr[RAX];
        if (rdtsc < t0 + off || rdtsc > rdmsr || rdmsr > t1 + off)
            fail_msg("%s: RDTSC %#llx, RDMSR %#llx outside [%#llx, %#llx]",
                     cases[k].name, (unsigned long long)rdtsc,
                     (unsigned long long)rdmsr,
                     (unsigned long long)(t0 + off),
                     (unsigned long long)(t1 + off));
        /* Root operation reads the TSC itself. */
        expect_eq(cases[k].name, "TSC in root", cpu_tsc(c), c->cycles);
        machine_down();
    }
}

/* WRMSR of IA32_TSC in non-root operation writes the TSC itself: the
 * guest reads the value plus its offset, the host the value. */
static void test_tsc_write_in_guest(void **state)
{
    (void)state;
    /* mov $0x10,%ecx; xor %edx,%edx; mov $0x1000,%eax; wrmsr; rdtsc; cpuid */
    load_code(CODE_OF("\xb9\x10\x00\x00\x00\x31\xd2\xb8\x00\x10\x00\x00"
                      "\x0f\x30\x0f\x31\x0f\xa2"));
    set_bits(F(PROC_CONTROLS), P_MSR_BITMAPS | P_TSC_OFFSETTING);
    set(F(TSC_OFFSET), TSC_OFF);
    enter("wrmsr tsc");
    expect_eq("wrmsr tsc", "exit", run_to_exit("wrmsr tsc"), R_CPUID);
    uint64_t seen = c->gpr[RDX] << 32 | (uint32_t)c->gpr[RAX];
    uint64_t host = cpu_tsc(c);
    if (seen < TSC_OFF + 0x1000 || seen > TSC_OFF + 0x1000 + 100 ||
        host < seen - TSC_OFF || host > 0x1000 + 100)
        fail_msg("guest read %#llx, host reads %#llx",
                 (unsigned long long)seen, (unsigned long long)host);
}

/* The engine processes no MSR lists (L0 processes L1's itself): a VMCS
 * with one fails to enter instead of running without it. */
static void test_msr_lists_refused(void **state)
{
    (void)state;
    static const enum vmcs_index counts[] = {
        F(ENTRY_MSR_LOAD_COUNT), F(EXIT_MSR_STORE_COUNT),
        F(EXIT_MSR_LOAD_COUNT)};
    for (size_t k = 0; k < N(counts); k++) {
        machine_up();
        set(counts[k], 1);
        struct vmx_entry_result r;
        vmx_vmentry(c, &vmcs, true, &r);
        expect_eq("msr list", "status", r.status, VMX_ENTRY_FAILURE);
        expect_eq("msr list", "exit reason", get(F(EXIT_REASON)),
                  34 | BIT(31));
        expect_eq("msr list", "non-root", c->vmx.nonroot, 0);
        machine_down();
    }
}

/* ---- NMIs (SDM Vol. 3A 7.7; Vol. 3C 25.3, 26.2, 26.7.6, 27.6, 28.2) ---- */

#define PIN_NMI_EXITING BIT(3)
#define PIN_VIRTUAL_NMIS BIT(5)
#define P_NMI_WINDOW BIT(22)
enum { T_NMI = 2, R_NMI_WINDOW = 8 };
#define BLOCK_BY_NMI 8u           /* interruptibility bit 3 (Table 25-3) */
#define NMI_UNBLOCKED_BY_IRET BIT(12) /* 28.2.2, Table 28-7 */

/* A self-NMI through the ICR (11.6.1): delivery mode NMI (100b), the
 * "all including self" shorthand, as the guest's own write would be. */
static void send_nmi(void)
{
    assert_int_equal(bus_write(&m->mmio, LAPIC_DEFAULT_BASE + 0x300, 4,
                               4u << 8 | 2u << 18),
                     1);
    assert_true(lapic_nmi_pending(m->lapic));
}

/* IRETQ at AT(0) to AT(2), where the guest runs CPUID (the 64-bit frame
 * of Vol. 3A 7.14.2 on the stack). With bad_cs the frame's CS selector
 * lies beyond the GDT limit: #GP(0x38). */
static const char iret_code[] = "\x48\xcf\x0f\xa2";
static void iret_frame(bool bad_cs)
{
    uint64_t sp = STACK - 40;
    poke64(sp, AT(2));
    poke64(sp + 8, bad_cs ? 0x38 : 0x08);
    poke64(sp + 16, 2);
    poke64(sp + 24, STACK);
    poke64(sp + 32, 0x10);
    set(F(GUEST_RSP), sp);
}

struct nmi_case {
    const char *name;
    uint64_t pin, proc;
    uint32_t blocking;  /* interruptibility at entry */
    uint32_t inject;    /* VM-entry interruption information */
    uint32_t exceptions;
    bool iret, bad_cs, stack_not_in_ept, nmi, code_nop;
    uint32_t reason;
    uint64_t rip;
    uint64_t intr_info;      /* checked for exception/NMI exits */
    uint64_t qual_bit12;     /* checked for EPT violations */
    uint32_t saved_blocking; /* bit 3 of the saved interruptibility */
    bool still_pending;      /* the NMI waits in the LAPIC */
    uint64_t pushed_rip;     /* checked if set: the NMI frame's RIP */
};

static const struct nmi_case nmi_cases[] = {
    /* "NMI exiting": the NMI exits before the first instruction, as
     * interruption type NMI, vector 2; the guest stays unblocked. */
    {"NMI exiting", .pin = PIN_NMI_EXITING, .nmi = true,
     .reason = R_EXCEPTION, .rip = AT(0), .intr_info = INFO(T_NMI, 2)},
    /* Blocking by NMI (no virtual NMIs) holds the NMI exit off. */
    {"NMI exiting, blocked by NMI", .pin = PIN_NMI_EXITING,
     .blocking = BLOCK_BY_NMI, .iret = true, .nmi = true, .reason = R_CPUID,
     .rip = AT(2), .saved_blocking = BLOCK_BY_NMI, .still_pending = true},
    /* Without "NMI exiting" the guest's IDT takes it (vector 2), and it
     * blocks further NMIs until IRET. */
    {"NMI through the guest IDT", .nmi = true, .reason = R_CPUID,
     .rip = HANDLER(2), .saved_blocking = BLOCK_BY_NMI},
    /* MOV SS blocking at entry holds the NMI for one instruction (Table
     * 25-3): it arrives after the NOP. */
    {"MOV SS blocking holds an NMI", .blocking = 2, .nmi = true,
     .code_nop = true, .reason = R_CPUID, .rip = HANDLER(2),
     .saved_blocking = BLOCK_BY_NMI, .pushed_rip = AT(1)},
    /* Blocked at entry: IRET unblocks, and the NMI follows at once. */
    {"IRET unblocks, then the NMI", .blocking = BLOCK_BY_NMI, .iret = true,
     .nmi = true, .reason = R_CPUID, .rip = HANDLER(2),
     .saved_blocking = BLOCK_BY_NMI},
    /* "NMI exiting" alone: IRET leaves blocking by NMI alone (25.3). */
    {"NMI exiting: IRET keeps blocking", .pin = PIN_NMI_EXITING,
     .blocking = BLOCK_BY_NMI, .iret = true, .reason = R_CPUID,
     .rip = AT(2), .saved_blocking = BLOCK_BY_NMI},
    /* "Virtual NMIs": bit 3 is virtual-NMI blocking, which IRET clears. */
    {"virtual NMIs: IRET clears virtual blocking",
     .pin = PIN_NMI_EXITING | PIN_VIRTUAL_NMIS, .blocking = BLOCK_BY_NMI,
     .iret = true, .reason = R_CPUID, .rip = AT(2)},
    /* NMI-window exiting opens right after that IRET (26.7.6). */
    {"NMI window after IRET", .pin = PIN_NMI_EXITING | PIN_VIRTUAL_NMIS,
     .proc = P_NMI_WINDOW, .blocking = BLOCK_BY_NMI, .iret = true,
     .reason = R_NMI_WINDOW, .rip = AT(2)},
    /* Without virtual-NMI blocking the window is open at entry. */
    {"NMI window at entry", .pin = PIN_NMI_EXITING | PIN_VIRTUAL_NMIS,
     .proc = P_NMI_WINDOW, .iret = true, .reason = R_NMI_WINDOW,
     .rip = AT(0)},
    /* An injected NMI under "virtual NMIs" sets virtual-NMI blocking
     * (27.6.1.2)... */
    {"injected NMI, virtual NMIs", .pin = PIN_NMI_EXITING | PIN_VIRTUAL_NMIS,
     .inject = INFO(T_NMI, 2), .reason = R_CPUID, .rip = HANDLER(2),
     .saved_blocking = BLOCK_BY_NMI},
    /* ...and without them, blocking by NMI: a real NMI waits. */
    {"injected NMI, blocking by NMI", .inject = INFO(T_NMI, 2), .nmi = true,
     .reason = R_CPUID, .rip = HANDLER(2), .saved_blocking = BLOCK_BY_NMI,
     .still_pending = true},
    /* A fault of an IRET that removed blocking: the exit says "NMI
     * unblocking due to IRET", and the saved state is unblocked. */
    {"#GP of an unblocking IRET", .blocking = BLOCK_BY_NMI, .iret = true,
     .bad_cs = true, .exceptions = 1u << 13, .reason = R_EXCEPTION,
     .rip = AT(0), .intr_info = GP_EXIT | NMI_UNBLOCKED_BY_IRET},
    {"#GP of an IRET that unblocked nothing", .iret = true, .bad_cs = true,
     .exceptions = 1u << 13, .reason = R_EXCEPTION, .rip = AT(0),
     .intr_info = GP_EXIT},
    {"EPT violation of an unblocking IRET", .blocking = BLOCK_BY_NMI,
     .iret = true, .stack_not_in_ept = true, .reason = R_EPT_VIOLATION,
     .rip = AT(0), .qual_bit12 = NMI_UNBLOCKED_BY_IRET},
};

static void run_nmi_case(const struct nmi_case *k)
{
    machine_up();
    if (k->iret) {
        load_code(iret_code, sizeof iret_code - 1);
        iret_frame(k->bad_cs);
    } else if (k->code_nop) {
        load_code(CODE_OF("\x90\x0f\xa2"));
    } else {
        load_code(CODE_OF("\x0f\xa2"));
    }
    if (k->stack_not_in_ept)
        poke64(EPT_PT + 8 * ((STACK - 40) >> 12), 0);
    set_bits(F(PIN_CONTROLS), k->pin);
    set_bits(F(PROC_CONTROLS), k->proc);
    set(F(GUEST_INTERRUPTIBILITY), k->blocking);
    set(F(ENTRY_INTR_INFO), k->inject);
    set(F(EXCEPTION_BITMAP), k->exceptions);
    enter(k->name);
    if (k->nmi)
        send_nmi();
    expect_eq(k->name, "exit reason", run_to_exit(k->name), k->reason);
    expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), k->rip);
    if (k->reason == R_EXCEPTION)
        expect_eq(k->name, "exit interruption info", get(F(EXIT_INTR_INFO)),
                  k->intr_info);
    if (k->reason == R_EPT_VIOLATION)
        expect_eq(k->name, "qualification bit 12",
                  get(F(EXIT_QUALIFICATION)) & BIT(12), k->qual_bit12);
    expect_eq(k->name, "saved blocking by NMI",
              get(F(GUEST_INTERRUPTIBILITY)) & BLOCK_BY_NMI,
              k->saved_blocking);
    expect_eq(k->name, "NMI still pending", lapic_nmi_pending(m->lapic),
              k->still_pending);
    if (k->pushed_rip)
        expect_eq(k->name, "pushed RIP", peek64(get(F(GUEST_RSP))),
                  k->pushed_rip);
    machine_down();
}

static void test_nmis(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(nmi_cases); k++)
        run_nmi_case(&nmi_cases[k]);
}

/* ---- debug exceptions (SDM Vol. 3B 18; Vol. 3C 25.4.2, 27.7.3, 28.2.1,
 * 28.3.4) ---- */

#define RF_TF BIT(8)
#define DR6_BS_BIT BIT(14)
#define PENDING_BS BIT(14)
#define PENDING_ENABLED_BP BIT(12)
#define MOV_SS_BLOCKING 2u
enum { T_PRIV_SW_EXCEPTION = 5 };

struct debug_case {
    const char *name;
    const char *code;
    size_t code_len;
    uint64_t rflags, dr7, dr1, pending;
    uint32_t blocking, exceptions, inject;
    uint32_t reason;
    uint64_t rip, intr_info, qual, len;
    uint64_t saved_pending, saved_blocking, dr6;
};

static const struct debug_case debug_cases[] = {
    /* A single-step trap after NOP exits by the exception bitmap: the
     * qualification carries BS and DR6 stays as it was (28.2.1). */
    {"single-step #DB exits", CODE_OF("\x90\x0f\xa2"), .rflags = RF_TF,
     .exceptions = 1u << 1, .reason = R_EXCEPTION, .rip = AT(1),
     .intr_info = INFO(T_HW_EXCEPTION, 1), .qual = DR6_BS_BIT,
     .dr6 = 0xFFFF0FF0},
    /* INT1 exits as a privileged software exception with its length. */
    {"INT1 exits", CODE_OF("\xf1\x0f\xa2"), .exceptions = 1u << 1,
     .reason = R_EXCEPTION, .rip = AT(0),
     .intr_info = INFO(T_PRIV_SW_EXCEPTION, 1), .len = 1, .dr6 = 0xFFFF0FF0},
    /* A write breakpoint (DR1, 4 bytes) from the guest's DR7, loaded by
     * "load debug controls": B1 in the qualification, after the MOV. */
    {"data breakpoint exits", CODE_OF("\x89\x03\x0f\xa2"),
     .dr7 = 0x400 | BIT(2) | 1ull << 20 | 3ull << 22, .dr1 = DATA,
     .exceptions = 1u << 1, .reason = R_EXCEPTION, .rip = AT(2),
     .intr_info = INFO(T_HW_EXCEPTION, 1), .qual = 2, .dr6 = 0xFFFF0FF0},
    /* Without the bitmap the guest's handler runs, and DR6 reports it. */
    {"data breakpoint delivered", CODE_OF("\x89\x03\x0f\xa2"),
     .dr7 = 0x400 | BIT(2) | 1ull << 20 | 3ull << 22, .dr1 = DATA,
     .reason = R_CPUID, .rip = HANDLER(1), .dr6 = 0xFFFF0FF2},
    /* MOV SS under TF holds its trap; CPUID in its shadow exits, and the
     * trap is saved as a pending debug exception (28.3.4). */
    {"MOV SS trap saved as pending", CODE_OF("\x8e\xd0\x0f\xa2"),
     .rflags = RF_TF, .reason = R_CPUID, .rip = AT(2),
     .saved_pending = PENDING_BS, .saved_blocking = MOV_SS_BLOCKING,
     .dr6 = 0xFFFF0FF0},
    /* Pending debug exceptions at entry: a #DB before the first
     * instruction (27.7.3), here exiting by the bitmap... */
    {"pending #DB at entry exits", CODE_OF("\x0f\xa2"),
     .pending = PENDING_BS, .exceptions = 1u << 1, .reason = R_EXCEPTION,
     .rip = AT(0), .intr_info = INFO(T_HW_EXCEPTION, 1),
     .qual = DR6_BS_BIT, .dr6 = 0xFFFF0FF0},
    /* ...or delivered, ... */
    {"pending #DB at entry delivered", CODE_OF("\x0f\xa2"),
     .pending = PENDING_BS, .reason = R_CPUID, .rip = HANDLER(1),
     .dr6 = 0xFFFF0FF0 | DR6_BS_BIT},
    /* ...and under MOV SS blocking after the first instruction (BS then
     * needs TF, 27.3.1.5), as one #DB with that instruction's trap. */
    {"pending #DB under MOV SS blocking", CODE_OF("\x90\x0f\xa2"),
     .rflags = RF_TF, .pending = PENDING_BS, .blocking = MOV_SS_BLOCKING,
     .exceptions = 1u << 1, .reason = R_EXCEPTION, .rip = AT(1),
     .intr_info = INFO(T_HW_EXCEPTION, 1), .qual = DR6_BS_BIT,
     .dr6 = 0xFFFF0FF0},
    /* B0 without "enabled breakpoint" (bit 12) or BS: nothing valid is
     * pending (27.7.3), so no #DB; the CPUID exits. */
    {"pending B0 alone is no #DB", CODE_OF("\x0f\xa2"), .pending = 1,
     .reason = R_CPUID, .rip = AT(0), .dr6 = 0xFFFF0FF0},
    /* An injected #UD whose delivery pushes SS where DR1 (write, 8
     * bytes) watches: a #DB trap follows it, before the handler's first
     * instruction (cpu/debug.c), exiting by the bitmap with B1... */
    {"injected #UD's push hits a breakpoint, #DB exits", CODE_OF("\x0f\xa2"),
     .inject = INFO(T_HW_EXCEPTION, 6),
     .dr7 = 0x400 | BIT(2) | 1ull << 20 | 2ull << 22, .dr1 = STACK - 8,
     .exceptions = 1u << 1, .reason = R_EXCEPTION, .rip = HANDLER(6),
     .intr_info = INFO(T_HW_EXCEPTION, 1), .qual = 2, .dr6 = 0xFFFF0FF0},
    /* ...or delivered to the #DB handler, whose CPUID exits. */
    {"injected #UD's push hits a breakpoint, #DB delivered",
     CODE_OF("\x0f\xa2"), .inject = INFO(T_HW_EXCEPTION, 6),
     .dr7 = 0x400 | BIT(2) | 1ull << 20 | 2ull << 22, .dr1 = STACK - 8,
     .reason = R_CPUID, .rip = HANDLER(1), .dr6 = 0xFFFF0FF2},
};

static void run_debug_case(const struct debug_case *k)
{
    machine_up();
    load_code(k->code, k->code_len);
    set(F(GUEST_RFLAGS), 2 | k->rflags);
    if (k->dr7)
        set(F(GUEST_DR7), k->dr7);
    /* "Load debug controls", "save debug controls" (25.8.1, 25.7.1). */
    set_bits(F(ENTRY_CONTROLS), BIT(2));
    set_bits(F(EXIT_CONTROLS), BIT(2));
    set(F(GUEST_PENDING_DBG), k->pending);
    set(F(GUEST_INTERRUPTIBILITY), k->blocking);
    set(F(EXCEPTION_BITMAP), k->exceptions);
    set(F(ENTRY_INTR_INFO), k->inject);
    c->dr[1] = k->dr1;
    c->dr[6] = 0xFFFF0FF0; /* its power-up value (SDM Vol. 3A 10.1.1) */
    enter(k->name);
    c->gpr[RBX] = DATA;
    expect_eq(k->name, "exit reason", run_to_exit(k->name), k->reason);
    expect_eq(k->name, "guest RIP", get(F(GUEST_RIP)), k->rip);
    if (k->reason == R_EXCEPTION) {
        expect_eq(k->name, "exit interruption info", get(F(EXIT_INTR_INFO)),
                  k->intr_info);
        expect_eq(k->name, "qualification", get(F(EXIT_QUALIFICATION)),
                  k->qual);
    }
    if (k->len)
        expect_eq(k->name, "instruction length", get(F(EXIT_INSN_LEN)),
                  k->len);
    expect_eq(k->name, "saved pending debug exceptions",
              get(F(GUEST_PENDING_DBG)), k->saved_pending);
    expect_eq(k->name, "saved STI/MOV SS blocking",
              get(F(GUEST_INTERRUPTIBILITY)) & 3, k->saved_blocking);
    expect_eq(k->name, "DR6", c->dr[6], k->dr6);
    if (k->dr7)
        expect_eq(k->name, "saved DR7", get(F(GUEST_DR7)), k->dr7);
    machine_down();
}

static void test_debug_exceptions(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(debug_cases); k++)
        run_debug_case(&debug_cases[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TABLE(f) cmocka_unit_test(f)
        T(test_cpuid_exit_loads_host_state),
        T(test_exit_saves_segments_as_written),
        TABLE(test_instruction_exits),
        T(test_hlt_without_exiting),
        T(test_cr0_mask_and_shadow),
        TABLE(test_page_fault_mask_match),
        TABLE(test_event_injection),
        TABLE(test_idt_vectoring),
        TABLE(test_nested_page_fault_exits),
        TABLE(test_ept_exits),
        TABLE(test_apic_access_exits),
        TABLE(test_apic_access_pass_covers_one_instruction),
        T(test_ept_walk_references),
        T(test_modeled_tlb_2d_walk_without_vpid),
        T(test_modeled_tlb_2d_walk_with_vpid),
        T(test_modeled_tlb_rmw_counts_once),
        T(test_modeled_tlb_pieces_count_once),
        T(test_host_tlb_kept_across_transitions),
        TABLE(test_host_state_loaded_late),
        T(test_ept_cache_hits_and_forgets),
        T(test_ept_cache_shape_for_the_model),
        T(test_ept_cache_large_page_piece),
        T(test_ept_cache_two_roots),
        T(test_ept_cache_tables_forget),
        T(test_walk_cache_under_ept),
        T(test_ept_cache_tables_per_eptp),
        T(test_ept_cache_ignores_ram_tables),
        T(test_shadow_vmread_without_exit),
        T(test_shadow_vmread_to_memory),
        T(test_shadow_vmwrite_read_only_field),
        TABLE(test_shadow_vmread_exit),
        T(test_shadow_vmread_fail_invalid),
        TABLE(test_shadow_vmread_cpl3),
        TABLE(test_interrupt_window),
        TABLE(test_interrupt_shadow_saved),
        TABLE(test_preemption_timer),
        TABLE(test_preemption_timer_in_rep_string),
        TABLE(test_preemption_timer_in_hlt),
        TABLE(test_external_interrupts),
        T(test_triple_fault_exits),
        T(test_double_fault_exit_vectoring),
        T(test_vmlaunch_of_launched_vmcs),
        T(test_vmresume_of_clear_vmcs),
        T(test_entry_failure_bad_guest_state),
        TABLE(test_tsc_offsetting),
        T(test_tsc_write_in_guest),
        TABLE(test_nmis),
        TABLE(test_debug_exceptions),
        TABLE(test_msr_lists_refused),
#undef T
#undef TABLE
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
