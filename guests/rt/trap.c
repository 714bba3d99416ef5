/* Exception and interrupt dispatch: a registered handler, or a report of
 * the unexpected exception and exit. */
#include "cpu.h"
#include "rt.h"

static rt_handler handlers[256];

static const char *const exception_names[32] = {
    [0] = "#DE divide error",       [1] = "#DB debug",
    [2] = "NMI",                    [3] = "#BP breakpoint",
    [4] = "#OF overflow",           [5] = "#BR bound range",
    [6] = "#UD invalid opcode",     [7] = "#NM device not available",
    [8] = "#DF double fault",       [10] = "#TS invalid TSS",
    [11] = "#NP segment not present", [12] = "#SS stack fault",
    [13] = "#GP general protection", [14] = "#PF page fault",
    [16] = "#MF x87 error",         [17] = "#AC alignment check",
    [18] = "#MC machine check",     [19] = "#XM SIMD exception",
    [20] = "#VE virtualization",    [21] = "#CP control protection",
};

const char *rt_exception_name(unsigned vector)
{
    if (vector < 32)
        return exception_names[vector] ? exception_names[vector] : "reserved";
    return "interrupt";
}

void rt_set_handler(unsigned vector, rt_handler handler)
{
    if (vector < 256)
        handlers[vector] = handler;
}

/* One machine-readable line first (tests match it), then the registers. */
void rt_report_exception(const struct rt_frame *f)
{
    rt_printf("EXCEPTION vector=%lu error=%#lx rip=%#lx cr2=%#lx (%s)\n",
              f->vector, f->error, f->rip, read_cr2(),
              rt_exception_name((unsigned)f->vector));
    rt_printf("  cs=%#lx rflags=%#lx rsp=%#lx ss=%#lx cr0=%#lx cr3=%#lx "
              "cr4=%#lx\n",
              f->cs, f->rflags, f->rsp, f->ss, read_cr0(), read_cr3(),
              read_cr4());
    rt_printf("  rax=%#lx rbx=%#lx rcx=%#lx rdx=%#lx rsi=%#lx rdi=%#lx "
              "rbp=%#lx\n",
              f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp);
    rt_printf("  r8=%#lx r9=%#lx r10=%#lx r11=%#lx r12=%#lx r13=%#lx "
              "r14=%#lx r15=%#lx\n",
              f->r8, f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15);
}

void rt_trap(struct rt_frame *f)
{
    rt_handler h = handlers[f->vector & 0xFF];
    if (h) {
        h(f);
        return;
    }
    rt_report_exception(f);
    rt_exit(RT_EXIT_EXCEPTION);
}
