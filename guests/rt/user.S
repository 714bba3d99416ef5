/* Entry to CPL 3 and the way back; see user.h and user.c. */
#define SEL_KDATA 0x10
#define SEL_UDATA 0x20
#define SEL_UCODE 0x28
#define VEC_USER_RETURN 0xF0

    .text
    .code64

/* uint64_t rt_user_enter(fn, arg, stack_top, rflags): saves the callee-
 * saved registers, points TSS.RSP0 just below them and IRETQs to
 * fn(arg) at CPL 3 with the return address rt_user_exit on its stack. */
    .global rt_user_enter
rt_user_enter:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rdi, %rbx
    movq %rsi, %r12
    movq %rdx, %r13
    movq %rcx, %r14
    movq %rsp, rt_user_kernel_rsp(%rip)
    movq %rsp, %rdi
    andq $-16, %rdi
    subq $8, %rsp /* the ABI's alignment at a call */
    call rt_set_kernel_stack
    leaq rt_user_exit(%rip), %rax
    movq %rax, -8(%r13)
    leaq -8(%r13), %rax
    pushq $(SEL_UDATA | 3)
    pushq %rax
    pushq %r14
    pushq $(SEL_UCODE | 3)
    pushq %rbx
    movq %r12, %rdi
    iretq

/* Where fn returns to, at CPL 3: hand its value to the gate. */
rt_user_exit:
    movq %rax, %rdi
    int $VEC_USER_RETURN
    ud2 /* not reached: the gate's handler resumes at rt_user_resume */

/* Back at CPL 0 with RSP = rt_user_kernel_rsp and RAX = fn's value. */
    .global rt_user_resume
rt_user_resume:
    movw $SEL_KDATA, %cx
    movw %cx, %ds
    movw %cx, %es
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

    .bss
    .balign 8
    .global rt_user_kernel_rsp
rt_user_kernel_rsp:
    .quad 0
