/* fault: a test guest that misbehaves on purpose, chosen by kind= on the
 * command line, so that tests can check the runtime's exception report
 * and exit status (and, later, the emulator's exception delivery).
 *   pf  write to an unmapped page      #PF, error 0x2, CR2 = the address
 *   gp  load from a non-canonical one  #GP, error 0
 *   ud  UD2                            #UD
 *   de  divide by zero                 #DE
 *   bp  INT3 with a handler installed  no report; prints RESULT, exits 0
 *   tf  an empty IDT, then INT3        triple fault (no report possible)
 *   hang  an endless loop              never exits (for run limits) */
#include "rt.h"

#define UNMAPPED_ADDRESS 0x123456789000ull /* canonical, above the 4 GiB map */
#define NONCANONICAL_ADDRESS 0x8000000000000000ull

static volatile int breakpoints;

static void on_breakpoint(struct rt_frame *f)
{
    (void)f; /* INT3 is a trap: RIP already points past it */
    breakpoints++;
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {
        {"kind", 0, 0, "pf gp ud de bp tf hang"}};
    RT_ARGS_REQUIRE(boot, "fault", args);
    char kind[8];
    if (rt_cmdline_get(boot->cmdline, "kind", kind, sizeof kind) != 1)
        rt_panic("fault: give kind=pf|gp|ud|de|bp|tf|hang on the command line");

    rt_printf("fault: provoking %s\n", kind);
    if (!strcmp(kind, "pf")) {
        *(volatile uint64_t *)UNMAPPED_ADDRESS = 1;
    } else if (!strcmp(kind, "gp")) {
        (void)*(volatile uint64_t *)NONCANONICAL_ADDRESS;
    } else if (!strcmp(kind, "ud")) {
        __asm__ volatile("ud2");
    } else if (!strcmp(kind, "de")) {
        /* DIV itself: gcc turns 1 / x into a comparison. */
        __asm__ volatile("divl %2" ::"a"(1), "d"(0), "r"(0));
    } else if (!strcmp(kind, "bp")) {
        rt_set_handler(3, on_breakpoint);
        __asm__ volatile("int3");
        __asm__ volatile("int3");
        rt_printf("RESULT fault kind=bp handled=%d\n", breakpoints);
        return breakpoints == 2 ? RT_EXIT_OK : RT_EXIT_FAIL;
    } else if (!strcmp(kind, "tf")) {
        /* Every delivery fails the IDT limit check: #GP, then #DF, then
         * shutdown (SDM Vol. 3A 7.15, interrupt 8). */
        struct __attribute__((packed)) { uint16_t limit; uint64_t base; }
            empty = {0, 0};
        __asm__ volatile("lidt %0; int3" ::"m"(empty));
    } else if (!strcmp(kind, "hang")) {
        for (;;)
            __asm__ volatile("pause");
    } else {
        rt_panic("fault: unknown kind '%s'", kind);
    }
    rt_printf("fault: %s did not fault\n", kind);
    return RT_EXIT_FAIL;
}
