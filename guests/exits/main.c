/* exits: one microbenchmark per VM-exit reason of Turtles' Figure 6.
 * `kind=NAME` picks the operation and `iters=N` how often it runs
 * (default 1000). Whether an operation exits, and to whom, is the
 * hypervisor's choice (its controls and bitmaps): the guest only makes
 * the operation happen, the same way on every backend. The exit counts
 * and their cycles come from the results database; the guest prints what
 * it did (RESULT, the same everywhere) and TSC cycles per iteration
 * (METRIC).
 *
 *   kind        operation                          the exit it can cause
 *   cpuid       CPUID leaf 0                       CPUID
 *   vmcall      VMCALL with RAX = 0 (no hypercall; #UD without VMX)  VMCALL
 *   pio-out     OUT to port 0x80 (POST code)       I/O instruction
 *   pio-in      IN from port 0x80                  I/O instruction
 *   rdmsr       RDMSR IA32_FEATURE_CONTROL         RDMSR
 *   wrmsr       WRMSR IA32_SYSENTER_CS (same value) WRMSR
 *   cr          MOV CR0 setting TS, then CLTS (lazy FPU switching)  CR access
 *   apic        read the local APIC's version register (xAPIC MMIO)  APIC access
 *   exception   INT3 into a handler                exception
 *   interrupt   a local APIC timer interrupt, waited for with STI;HLT
 *                                                  external interrupt, HLT
 *   pending     a one-shot timer interrupt requested while IF = 0 (seen
 *               in IRR, or in ISR once an exit acknowledged it), taken
 *               after STI;NOP                      interrupt window
 *   ept         first touch of a fresh 4 KiB page  EPT violation
 */
#include "cpu.h"
#include "rt.h"

#define APIC_BASE 0xFEE00000ull
enum { APIC_VERSION = 0x030, APIC_EOI = 0x0B0, APIC_SVR = 0x0F0,
       APIC_ISR = 0x100, APIC_IRR = 0x200, APIC_LVT_TIMER = 0x320,
       APIC_INITIAL = 0x380, APIC_DIVIDE = 0x3E0 };
#define LVT_PERIODIC (1u << 17)
#define TIMER_VECTOR 0x40
#define PENDING_COUNT 2000   /* timer ticks before the pending interrupt */
#define POLL_LIMIT 10000000u /* polls for it before giving up */
#define MSR_FEATURE_CONTROL 0x3Au
#define MSR_SYSENTER_CS 0x174u
#define TOUCH_BASE (16ull << 20) /* fresh pages from 16 MiB up */
#define PAGE 4096u

static volatile uint64_t handled; /* exceptions or interrupts taken */
static uint64_t sink;             /* values read, so reads are not dropped */

static uint32_t apic_read(unsigned reg)
{
    return *(volatile uint32_t *)(uintptr_t)(APIC_BASE + reg);
}

static void apic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(APIC_BASE + reg) = v;
}

/* VMCALL outside VMX non-root operation is #UD (SDM Vol. 2C VMCALL):
 * answer as a hypervisor without that hypercall would, RAX = ~0. */
static void on_ud(struct rt_frame *f)
{
    f->rax = ~0ull;
    f->rip += 3; /* 0F 01 C1 */
    handled++;
}

static void on_int3(struct rt_frame *f)
{
    (void)f; /* a trap: RIP is already past INT3 */
    handled++;
}

static void on_timer(struct rt_frame *f)
{
    (void)f;
    handled++;
    apic_write(APIC_EOI, 0);
}

static void op_cpuid(uint64_t i) { (void)i; sink += cpuid(0, 0).eax; }

static void op_vmcall(uint64_t i)
{
    (void)i;
    uint64_t rax = 0;
    __asm__ volatile("vmcall" : "+a"(rax) : : "memory");
    sink += rax;
}

static void op_pio_out(uint64_t i) { outb(0x80, (uint8_t)i); }
static void op_pio_in(uint64_t i) { (void)i; sink += inb(0x80); }
static void op_rdmsr(uint64_t i) { (void)i; sink += rdmsr(MSR_FEATURE_CONTROL); }

static uint64_t sysenter_cs;
static void op_wrmsr(uint64_t i) { (void)i; wrmsr(MSR_SYSENTER_CS, sysenter_cs); }

static uint64_t cr0;
static void op_cr(uint64_t i)
{
    (void)i;
    write_cr0(cr0 | CR0_TS);
    __asm__ volatile("clts" ::: "memory");
}

static void op_apic(uint64_t i) { (void)i; sink += apic_read(APIC_VERSION) & 0xFF; }
static void op_exception(uint64_t i) { (void)i; __asm__ volatile("int3" ::: "memory"); }

static void op_interrupt(uint64_t i)
{
    uint64_t before = handled;
    (void)i;
    while (handled == before) {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
}

/* The IRR or ISR bit of `vector` (8 registers of 32 bits, 16 bytes
 * apart; SDM Vol. 3A 11.8.4). */
static int apic_bit(unsigned base, unsigned vector)
{
    return apic_read(base + 0x10 * (vector / 32)) >> (vector % 32) & 1;
}

/* With IF = 0 (the runtime runs with interrupts off) the timer's
 * interrupt waits; once it is requested, STI opens the window after the
 * next instruction (SDM Vol. 3A 6.8.3). A hypervisor that takes the
 * interrupt with an exit that acknowledges it holds it itself (ISR set)
 * and delivers it when the window opens. An interrupt that never comes
 * leaves `handled` short and fails the run. */
static void op_pending(uint64_t i)
{
    (void)i;
    apic_write(APIC_INITIAL, PENDING_COUNT);
    for (unsigned k = 0; k < POLL_LIMIT; k++)
        if (apic_bit(APIC_IRR, TIMER_VECTOR) || apic_bit(APIC_ISR, TIMER_VECTOR))
            break;
    __asm__ volatile("sti; nop; cli" ::: "memory");
}

static void op_ept(uint64_t i)
{
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(TOUCH_BASE + i * PAGE);
    *p = (uint8_t)i;
}

struct kind {
    const char *name;
    void (*op)(uint64_t i);
    /* what counts as done: 0 = every iteration that returned (an
     * interrupt iteration returns once at least one interrupt came; under
     * a loaded host QEMU may deliver two in one window), 1 = the events
     * the handler took, exactly one per iteration */
    int counts_events;
};

static const struct kind kinds[] = {
    {"cpuid", op_cpuid, 0},         {"vmcall", op_vmcall, 0},
    {"pio-out", op_pio_out, 0},     {"pio-in", op_pio_in, 0},
    {"rdmsr", op_rdmsr, 0},         {"wrmsr", op_wrmsr, 0},
    {"cr", op_cr, 0},               {"apic", op_apic, 0},
    {"exception", op_exception, 1}, {"interrupt", op_interrupt, 0},
    {"pending", op_pending, 1},     {"ept", op_ept, 0},
};

static const struct kind *find_kind(const char *name)
{
    for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return &kinds[k];
    return 0;
}

static void setup(const struct kind *k, const struct rt_boot *boot,
                  uint64_t iters)
{
    rt_set_handler(6, on_ud);
    rt_set_handler(3, on_int3);
    sysenter_cs = rdmsr(MSR_SYSENTER_CS);
    cr0 = read_cr0();
    if (k->op == op_ept && TOUCH_BASE + iters * PAGE > rt_ram_bytes(boot))
        rt_panic("exits: kind=ept touches %lu pages from 16 MiB up: more "
                 "than RAM holds", iters);
    if (k->op == op_interrupt || k->op == op_pending) {
        rt_set_handler(TIMER_VECTOR, on_timer);
        apic_write(APIC_SVR, 0x1FF);  /* enabled, spurious vector 0xFF */
        apic_write(APIC_DIVIDE, 0xB); /* divide by 1 */
    }
    if (k->op == op_interrupt) {
        /* A period well above what the slowest configuration spends on
         * one interrupt (Turtles' nested external-interrupt exit: about
         * 192,000 cycles): with 20,000, L1's KVM-like exit path under
         * the calibrated profile took longer than a period, so a new
         * interrupt was always waiting and L2 never ran again. */
        apic_write(APIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
        apic_write(APIC_INITIAL, 1000000);
    }
    if (k->op == op_pending)
        apic_write(APIC_LVT_TIMER, TIMER_VECTOR); /* one-shot, armed per op */
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {
        {"kind", 0, 0, "cpuid vmcall pio-out pio-in rdmsr wrmsr cr apic "
                       "exception interrupt pending ept"},
        {"iters", 1, 1000000000, 0}};
    RT_ARGS_REQUIRE(boot, "exits", args);
    char name[16] = "cpuid";
    rt_cmdline_get(boot->cmdline, "kind", name, sizeof name);
    const struct kind *k = find_kind(name);
    if (!k)
        rt_panic("exits: kind '%s' is in the argument table but not in the "
                 "table of kinds", name);
    uint64_t iters = rt_cmdline_u64(boot->cmdline, "iters", 1000);
    setup(k, boot, iters);

    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < iters; i++)
        k->op(i);
    uint64_t cycles = rdtsc() - start;
    if (k->op == op_interrupt)
        apic_write(APIC_INITIAL, 0); /* stop the timer */

    uint64_t done = k->counts_events ? handled : iters;
    rt_printf("RESULT exits kind=%s iters=%lu done=%lu\n", k->name, iters,
              done);
    rt_printf("METRIC exits kind=%s tsc_cycles=%lu tsc_per_iter=%lu "
              "handled=%lu sink=%#lx\n", k->name, cycles, cycles / iters,
              handled, sink);
    return done == iters ? RT_EXIT_OK : RT_EXIT_FAIL;
}
