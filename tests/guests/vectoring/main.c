/* vectoring: events whose delivery is interrupted by a VM exit must still
 * arrive, once, with their error code and return address (SDM Vol. 3C
 * 27.2.3 and 26.6: the hypervisor re-injects what the IDT-vectoring
 * information describes).
 *
 * Each event is raised on a stack in a 2 MiB page of its own, right after
 * a MOV to CR3 and with the A bit of that page's PDE cleared. Under a
 * hypervisor with shadow paging (l1vmm paging=shadow) the page then has
 * no shadow (one cached across the CR3 load would need the A bit set
 * again), so the event's first push to that stack is a #PF exit in the
 * middle of delivery; the
 * hypervisor maps the page and must deliver the event again. On a bare
 * CPU, or with EPT, the same code takes each event directly: the result
 * is the same everywhere.
 *
 *   int3    software exception (type 6): the return RIP needs the
 *           instruction length the exit reports
 *   int     INT 0x81, software interrupt (type 4)
 *   ud      UD2, hardware exception without error code (type 3)
 *   gp      MOV DS with a selector past the GDT's limit: #GP with the
 *           selector as error code (type 3, error code valid)
 *   tf      the single-step trap (#DB, type 3) after the instruction that
 *           switches to the fresh stack
 *   timer   a local APIC timer interrupt taken after STI (type 0)
 *
 * A fault or software interrupt that is not delivered again is raised
 * again when its instruction runs again; the single-step trap and the
 * interrupt are lost instead, so those two fail without re-injection.
 * Each handler counts its event and records the stack pointer of the
 * interrupted code; RESULT prints the counts (1 each), the #GP error
 * code and whether every frame had the fresh stack's top as RSP. */
#include "cpu.h"
#include "rt.h"

#define FRESH_STACK_TOP (10ul << 20) /* in the 2 MiB page from 8 MiB */
#define BAD_SELECTOR 0x1230u          /* past the runtime's GDT limit */
#define VEC_INT 0x81
#define VEC_TIMER 0x40
#define RFLAGS_TF 0x100u
#define POLL_LIMIT 10000000u

#define APIC_BASE 0xFEE00000ull
enum { APIC_EOI = 0x0B0, APIC_SVR = 0x0F0, APIC_ISR = 0x100,
       APIC_IRR = 0x200, APIC_LVT_TIMER = 0x320, APIC_INITIAL = 0x380,
       APIC_DIVIDE = 0x3E0 };

static void apic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(APIC_BASE + reg) = v;
}

/* The IRR or ISR bit of `vector` (SDM Vol. 3A 11.8.4). */
static int apic_bit(unsigned base, unsigned vector)
{
    uint32_t reg = *(volatile uint32_t *)(uintptr_t)(APIC_BASE + base +
                                                     0x10 * (vector / 32));
    return reg >> (vector % 32) & 1;
}

static volatile unsigned count[256];
static volatile uint64_t gp_error;
static volatile int rsp_ok = 1;

static void record(struct rt_frame *f)
{
    count[f->vector]++;
    if (f->rsp != FRESH_STACK_TOP)
        rsp_ok = 0;
}

static void on_trap(struct rt_frame *f) { record(f); } /* INT3, INT n */

static void on_ud(struct rt_frame *f)
{
    record(f);
    f->rip += 2; /* UD2 */
}

static void on_gp(struct rt_frame *f)
{
    record(f);
    gp_error = f->error;
    f->rip += 2; /* MOV DS, AX: 8E D8 */
}

static void on_db(struct rt_frame *f)
{
    record(f);
    f->rflags &= ~RFLAGS_TF;
}

static void on_timer(struct rt_frame *f)
{
    record(f);
    apic_write(APIC_EOI, 0);
}

extern uint64_t rt_pml4[512];

/* Clears the A bit of the runtime's PDE for the fresh stack's 2 MiB page.
 * The MOV to CR3 that follows flushes the page's translation (SDM Vol. 3A
 * 4.10.4.1), so the event's first push sets the bit again (4.8); a
 * shadow of the page kept across the CR3 load cannot be used before
 * that walk. */
static void age_fresh_stack(void)
{
    const uint64_t addr = 0x000FFFFFFFFFF000ull, accessed = 0x20;
    uint64_t *pdpt = (uint64_t *)(uintptr_t)(rt_pml4[0] & addr);
    volatile uint64_t *pd = (uint64_t *)(uintptr_t)(pdpt[0] & addr);
    pd[(FRESH_STACK_TOP - 1) >> 21] &= ~accessed;
}

/* Runs `insn` on the fresh stack right after reloading CR3. RBX keeps
 * the old stack pointer; the handler preserves it (rt's frame). */
#define ON_FRESH_STACK(insn, ...)                                        \
    age_fresh_stack();                                                   \
    __asm__ volatile("mov %%rsp, %%rbx\n\t"                              \
                     "mov %[top], %%rsp\n\t"                             \
                     "mov %%cr3, %%rax\n\t"                              \
                     "mov %%rax, %%cr3\n\t" insn "\n\t"                  \
                     "mov %%rbx, %%rsp"                                  \
                     :                                                   \
                     : [top] "r"(FRESH_STACK_TOP), ##__VA_ARGS__         \
                     : "rax", "rbx", "memory")

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "vectoring", 0, 0);
    if (rt_ram_bytes(boot) < FRESH_STACK_TOP)
        rt_panic("vectoring: needs RAM up to %#lx", FRESH_STACK_TOP);
    rt_set_handler(3, on_trap);
    rt_set_handler(VEC_INT, on_trap);
    rt_set_handler(6, on_ud);
    rt_set_handler(13, on_gp);
    rt_set_handler(1, on_db);
    rt_set_handler(VEC_TIMER, on_timer);

    ON_FRESH_STACK("int3");
    ON_FRESH_STACK("int $0x81");
    ON_FRESH_STACK("ud2");
    ON_FRESH_STACK("mov %%ecx, %%ds", "c"(BAD_SELECTOR)); /* 8E D9 */

    /* TF from POPF traps after the next instruction, the switch to the
     * fresh stack (SDM Vol. 3A 18.3.1.4), after the CR3 load. */
    age_fresh_stack();
    __asm__ volatile("mov %%cr3, %%rax\n\t"
                     "mov %%rax, %%cr3\n\t"
                     "mov %%rsp, %%rbx\n\t"
                     "pushf\n\t"
                     "orl $0x100, (%%rsp)\n\t"
                     "popf\n\t"
                     "mov %[top], %%rsp\n\t"
                     "mov %%rbx, %%rsp"
                     :
                     : [top] "r"(FRESH_STACK_TOP)
                     : "rax", "rbx", "memory", "cc");

    /* The interrupt is requested while IF = 0 (seen in IRR, or in ISR
     * once a hypervisor's exit acknowledged it), so that every backend
     * takes it at the same point: after STI, on the fresh stack, in the
     * loop that waits for it (which touches no stack). */
    apic_write(APIC_SVR, 0x1FF);
    apic_write(APIC_DIVIDE, 0xB);
    apic_write(APIC_LVT_TIMER, VEC_TIMER); /* one-shot */
    apic_write(APIC_INITIAL, 1000);
    for (unsigned k = 0; k < POLL_LIMIT && !apic_bit(APIC_IRR, VEC_TIMER) &&
                         !apic_bit(APIC_ISR, VEC_TIMER);
         k++)
        ;
    uint64_t polls = POLL_LIMIT; /* a lost interrupt ends the wait */
    age_fresh_stack();
    __asm__ volatile("mov %%rsp, %%rbx\n\t"
                     "mov %[top], %%rsp\n\t"
                     "mov %%cr3, %%rax\n\t"
                     "mov %%rax, %%cr3\n\t"
                     "sti\n"
                     "1: pause\n\t"
                     "cmpl $0, %[n]\n\t"
                     "jne 2f\n\t"
                     "dec %[polls]\n\t"
                     "jnz 1b\n"
                     "2: cli\n\t"
                     "mov %%rbx, %%rsp"
                     : [polls] "+r"(polls)
                     : [top] "r"(FRESH_STACK_TOP), [n] "m"(count[VEC_TIMER])
                     : "rax", "rbx", "memory");

    rt_printf("RESULT vectoring int3=%u int=%u ud=%u gp=%u gp_error=%#lx "
              "tf=%u timer=%u rsp=%s\n",
              count[3], count[VEC_INT], count[6], count[13], gp_error,
              count[1], count[VEC_TIMER], rsp_ok ? "ok" : "wrong");
    int ok = count[3] == 1 && count[VEC_INT] == 1 && count[6] == 1 &&
             count[13] == 1 && gp_error == BAD_SELECTOR && count[1] == 1 &&
             count[VEC_TIMER] == 1 && rsp_ok;
    return ok ? RT_EXIT_OK : RT_EXIT_FAIL;
}
