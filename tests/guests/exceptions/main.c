/* exceptions: vectors and error codes of faults the three backends
 * implement alike (SDM Vol. 3A 7.3, Table 7-1; 7.13 for the error-code
 * format: selector index and TI, IDT flag, EXT flag).
 *
 *   segment loads  #GP(selector) for a bad type, privilege or limit;
 *                  #NP(selector) for a not-present data segment;
 *                  #SS(selector) for a not-present stack segment
 *                  (SDM Vol. 2B "MOV", Vol. 3A 5.10.1)
 *   canonical      #GP(0) through DS, #SS(0) through SS (3.3.7.1)
 *   #UD            UD2, opcodes invalid in 64-bit mode, LOCK on a
 *                  register, MOV to CS, SYSCALL with EFER.SCE = 0
 *   #DE            divide by zero, quotient overflow (IDIV, 8-bit DIV)
 *   #BP            INT3 and INT 3: traps, saved RIP after the instruction
 *   IDT            a not-present gate: #NP(vector * 8 + 2); a vector
 *                  beyond the IDT limit: #GP(vector * 8 + 2)
 *   #DF            #GP whose gate is not present: #NP during delivery of
 *                  a contributory exception is a double fault, error 0
 *                  (7.15, Table 7-5)
 *   serial #PF     INT through a not-present gate on a not-present
 *                  stack: #NP, then #PF pushing its frame, which is
 *                  delivered (contributory then #PF is not a double
 *                  fault, Table 7-5), on its own IST stack
 *
 *   RDPMC          of a counter that does not exist: #GP(0) (Vol. 2B
 *                  "RDPMC"; QEMU's TCG gives #UD, so a DETAIL line)
 *
 * Left out: #TS (needs a task switch or a 32-bit stack switch), #AC
 * (QEMU's TCG does not check alignment), #OF (INTO is invalid in 64-bit
 * mode: it is a #UD case here). */
#include "cpu.h"
#include "probe.h"
#include "rt.h"

extern uint64_t rt_gdt[8];

/* The runtime's GDT and after it descriptors that loads must refuse
 * (access byte in bits 47:40: P, DPL, S, type). */
enum {
    SEL_DATA_ABSENT = 0x40, /* data, read/write, P = 0 */
    SEL_CODE_XONLY = 0x48,  /* code, execute-only */
    SEL_LDT = 0x50,         /* a system descriptor (LDT) */
    SEL_DATA_DPL3 = 0x58,   /* data, read/write, DPL 3 */
    SEL_DATA_RO = 0x60,     /* data, read-only */
    GDT_ENTRIES = 13,
};
static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));

static void install_gdt(void)
{
    for (unsigned k = 0; k < 8; k++)
        gdt[k] = rt_gdt[k];
    gdt[SEL_DATA_ABSENT / 8] = 0x00CF13000000FFFFull;
    gdt[SEL_CODE_XONLY / 8] = 0x00AF99000000FFFFull;
    gdt[SEL_LDT / 8] = 0x000082000000FFFFull;
    gdt[SEL_DATA_DPL3 / 8] = 0x00CFF3000000FFFFull;
    gdt[SEL_DATA_RO / 8] = 0x00CF91000000FFFFull;
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } p = {sizeof gdt - 1, (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0" ::"m"(p));
    __asm__ volatile("lldt %w0" ::"r"(0)); /* TI = 1 selectors: no LDT */
}

struct __attribute__((packed)) idt_ptr {
    uint16_t limit;
    uint64_t base;
};

static struct idt_ptr read_idtr(void)
{
    struct idt_ptr p;
    __asm__ volatile("sidt %0" : "=m"(p));
    return p;
}

/* The present bit of an IDT gate (bit 47 of its first quadword). */
static void set_gate_present(unsigned vector, int present)
{
    volatile uint64_t *gate =
        (volatile uint64_t *)(uintptr_t)(read_idtr().base + 16 * vector);
    if (present)
        gate[0] |= 1ull << 47;
    else
        gate[0] &= ~(1ull << 47);
}

#define PROBES(X)                                                            \
    X(load_ds) X(load_ss) X(ljmp_sel) X(read_ds) X(read_ss) X(ud2)          \
    X(push_es) X(into) X(lock_nop) X(mov_cs) X(syscall) X(div0)             \
    X(idiv_overflow) X(div8_overflow) X(wrmsr_fs) X(int_n) X(int_a0)        \
    X(int3) X(int_3) X(rdpmc)
#define DECLARE(name) int probe_##name(uint64_t arg);
PROBES(DECLARE)
extern const char after_int3[], after_int_3[];
int probe_int_bad_stack(uint64_t rsp);
extern uint64_t probe_good_rsp;
extern const char rt_probe_fail[];

#define NONCANONICAL 0x8000000000000000ull

static void restore_ds(void)
{
    __asm__ volatile("movw %w0, %%ds" ::"r"(RT_SEL_KDATA));
}

/* Runs one probe; prints " name=vector/error", "-" if nothing faulted. */
static void check(const char *name, int (*probe)(uint64_t), uint64_t arg)
{
    unsigned before = rt_caught.count;
    int faulted = probe(arg);
    restore_ds();
    if (!faulted) {
        rt_printf(" %s=-", name);
        return;
    }
    if (rt_caught.count != before + 1)
        rt_panic("exceptions: %s: the count of exceptions is off", name);
    rt_printf(" %s=%lu/%#lx", name, rt_caught.vector, rt_caught.error);
}

/* The IST field of an IDT gate (bits 34:32). */
static void set_gate_ist(unsigned vector, unsigned ist)
{
    volatile uint8_t *gate =
        (volatile uint8_t *)(uintptr_t)(read_idtr().base + 16 * vector);
    gate[4] = (uint8_t)ist;
}

/* Canonical, and not mapped by the runtime's tables (PML4 entry 254). */
#define ABSENT_STACK 0x00007F0000001000ul

/* The handler of the exception that ends probe_int_bad_stack, whichever
 * it is: recorded like rt_catch does, resumed on the probe's stack. */
static void on_bad_stack(struct rt_frame *f)
{
    rt_caught.vector = f->vector;
    rt_caught.error = f->error;
    rt_caught.cr2 = read_cr2();
    rt_caught.count++;
    f->rip = (uint64_t)(uintptr_t)rt_probe_fail;
    f->rsp = probe_good_rsp;
}

/* " int_bad_stack=vector/error cr2=offset": the #PF of the first push,
 * 8 bytes below the stack pointer. #PF and #DF get IST 1 (the runtime's
 * double-fault stack) for the check, so that either can be delivered. */
static void check_serial_page_fault(void)
{
    rt_set_handler(8, on_bad_stack);
    rt_set_handler(14, on_bad_stack);
    set_gate_ist(14, 1);
    set_gate_present(0x90, 0);
    unsigned before = rt_caught.count;
    int faulted = probe_int_bad_stack(ABSENT_STACK);
    set_gate_present(0x90, 1);
    set_gate_ist(14, 0);
    rt_set_handler(14, 0);
    rt_catch(8);
    if (!faulted || rt_caught.count != before + 1)
        rt_panic("exceptions: int_bad_stack: no exception");
    rt_printf(" int_bad_stack=%lu/%#lx cr2=-%#lx", rt_caught.vector,
              rt_caught.error, ABSENT_STACK - rt_caught.cr2);
}

static const unsigned caught_vectors[] = {0, 3, 6, 8, 11, 12, 13};

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "exceptions", 0, 0); /* it takes no arguments */
    install_gdt();
    for (unsigned k = 0; k < sizeof caught_vectors / sizeof *caught_vectors;
         k++)
        rt_catch(caught_vectors[k]);

    /* Segment loads. RPL 3 on a DPL 0 segment fails on privilege; the
     * error code drops the RPL bits (they are EXT and IDT there). */
    rt_printf("RESULT exceptions");
    check("ds_null", probe_load_ds, 0);
    check("ds_absent", probe_load_ds, SEL_DATA_ABSENT);
    check("ds_xonly", probe_load_ds, SEL_CODE_XONLY);
    check("ds_system", probe_load_ds, SEL_LDT);
    check("ds_rpl3", probe_load_ds, RT_SEL_KDATA | 3);
    check("ds_limit", probe_load_ds, GDT_ENTRIES * 8);
    check("ds_ldt", probe_load_ds, 0x0C);
    check("ss_dpl3", probe_load_ss, SEL_DATA_DPL3);
    check("ss_ro", probe_load_ss, SEL_DATA_RO);
    check("ss_absent", probe_load_ss, SEL_DATA_ABSENT);
    check("ss_null_rpl0", probe_load_ss, 0);
    check("ljmp_data", probe_ljmp_sel, RT_SEL_KDATA);
    rt_printf("\n");

    rt_printf("RESULT exceptions");
    check("noncanonical_ds", probe_read_ds, NONCANONICAL);
    check("ud2", probe_ud2, 0);
    check("push_es", probe_push_es, 0);
    check("into", probe_into, 0);
    check("lock_nop", probe_lock_nop, 0);
    check("mov_cs", probe_mov_cs, RT_SEL_KCODE);
    check("syscall", probe_syscall, 0);
    check("div0", probe_div0, 0);
    check("idiv_overflow", probe_idiv_overflow, 0);
    check("div8_overflow", probe_div8_overflow, 0);
    check("int3", probe_int3, 0);
    int int3_rip = rt_caught.rip == (uint64_t)(uintptr_t)after_int3;
    check("int_3", probe_int_3, 0);
    int int_3_rip = rt_caught.rip == (uint64_t)(uintptr_t)after_int_3;
    rt_printf(" trap_rip=%d,%d", int3_rip, int_3_rip);
    set_gate_present(13, 0);
    check("gp_gate_absent", probe_read_ds, NONCANONICAL);
    set_gate_present(13, 1);
    check_serial_page_fault();
    rt_printf("\n");

    /* Where QEMU 7.2 departs from the SDM, so that only Bochs and turtles
     * are held to these: a null SS with RPL != CPL (Vol. 2B "MOV",
     * 64-bit mode exceptions: #GP(0)); a non-canonical stack reference
     * (Vol. 3A 3.3.7.1: #SS(0)); a non-canonical IA32_FS_BASE (Vol. 4
     * Table 2-2: #GP(0)); the IDT error codes (7.13: the index is the
     * vector, QEMU puts vector * 16 there); RDPMC (QEMU: #UD). */
    rt_printf("DETAIL exceptions");
    check("ss_null_rpl3", probe_load_ss, 3);
    check("noncanonical_ss", probe_read_ss, NONCANONICAL);
    check("wrmsr_noncanonical", probe_wrmsr_fs, 0);
    set_gate_present(0x90, 0);
    check("int_absent", probe_int_n, 0);
    set_gate_present(0x90, 1);
    struct idt_ptr idtr = read_idtr(), shorter = idtr;
    shorter.limit = 0xA0 * 16 - 1; /* vectors 0 to 0x9F */
    __asm__ volatile("lidt %0" ::"m"(shorter));
    check("int_beyond_limit", probe_int_a0, 0);
    __asm__ volatile("lidt %0" ::"m"(idtr));
    check("rdpmc", probe_rdpmc, 0);
    rt_printf("\n");
    return RT_EXIT_OK;
}
