/* One entry stub per IDT vector. Each pushes a zero where the CPU pushes
 * no error code (SDM Vol. 3A 7.3, Table 7-1: vectors 8, 10-14, 17, 21, 29
 * and 30 have one), then the vector, so that every trap reaches rt_trap
 * with the same frame (struct rt_frame in rt.h). */

    .text
    .code64
    .balign 16
stubs_start:
    .set vec, 0
    .rept 256
    .balign 16
    .if !((vec == 8) || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    /* In 64-bit mode the CPU aligns RSP to 16 before pushing its frame
     * (SDM Vol. 3A 7.14.2); 22 quadwords later it is still aligned, as
     * the ABI wants at a call. */
    movq %rsp, %rdi
    call rt_trap
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp /* vector and error code */
    iretq

/* The address of each stub, for the IDT. */
    .section .rodata
    .balign 8
    .global rt_vector_stubs
rt_vector_stubs:
    .set vec, 0
    .rept 256
    .quad stubs_start + vec * 16
    .set vec, vec + 1
    .endr
