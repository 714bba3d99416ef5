/* CPL 3 for tests: the identity map made user-accessible, and the gate
 * through which user code comes back (user.h, user.S). */
#include "user.h"

#include "cpu.h"
#include "rt.h"

uint64_t rt_user_enter(uint64_t (*fn)(uint64_t), uint64_t arg,
                       void *stack_top, uint64_t rflags);
extern const char rt_user_resume[];
extern uint64_t rt_user_kernel_rsp;
extern uint64_t rt_pml4[512];

#define PTE_U 4ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000FFFFFFFFFF000ull

static uint64_t kernel_rflags;

/* Sets U/S in every present entry reachable from PML4[0] (boot.S maps
 * only the first 4 GiB). Walks the tables instead of naming them so that
 * it follows whatever boot.S built. */
static void user_map(void)
{
    uint64_t *pdpt = (uint64_t *)(uintptr_t)(rt_pml4[0] & PTE_ADDR);
    rt_pml4[0] |= PTE_U;
    for (unsigned i = 0; i < 512; i++) {
        if (!(pdpt[i] & 1))
            continue;
        pdpt[i] |= PTE_U;
        if (pdpt[i] & PTE_PS)
            continue;
        uint64_t *pd = (uint64_t *)(uintptr_t)(pdpt[i] & PTE_ADDR);
        for (unsigned j = 0; j < 512; j++)
            if (pd[j] & 1)
                pd[j] |= PTE_U;
    }
    write_cr3(read_cr3()); /* the old entries may be cached (SDM 3A 4.10.4) */
}

static void on_user_return(struct rt_frame *f)
{
    if ((f->cs & 3) != 3)
        rt_panic("rt: INT %#x from CPL %lu, expected CPL 3",
                 RT_VEC_USER_RETURN, f->cs & 3);
    f->rax = f->rdi;
    f->rip = (uint64_t)(uintptr_t)rt_user_resume;
    f->cs = RT_SEL_KCODE;
    f->ss = RT_SEL_KDATA;
    f->rsp = rt_user_kernel_rsp;
    f->rflags = kernel_rflags;
}

uint64_t rt_user_call(uint64_t (*fn)(uint64_t), uint64_t arg,
                      void *stack_top, uint64_t rflags)
{
    static int mapped;
    if (!mapped) {
        user_map();
        mapped = 1;
    }
    rt_set_handler(RT_VEC_USER_RETURN, on_user_return);
    rt_set_gate_dpl(RT_VEC_USER_RETURN, 3);
    __asm__ volatile("pushfq; popq %0" : "=r"(kernel_rflags));
    return rt_user_enter(fn, arg, stack_top, rflags);
}
