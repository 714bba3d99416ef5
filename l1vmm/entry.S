/* The world switch: enum vmx_result vmx_enter(struct guest_regs *regs,
 * int launched).
 *
 * Saves l1vmm's callee-saved registers, points HOST_RSP at this frame,
 * loads L2's GPRs and executes VMLAUNCH or VMRESUME. A VM exit loads
 * HOST_RSP and HOST_RIP = vmx_exit_point (SDM Vol. 3C 28.5.3), where L2's
 * GPRs are stored back and the call returns VMX_OK. If the instruction
 * fails instead (VMfailValid/VMfailInvalid, SDM Vol. 3C 31.2) execution
 * falls through and the call returns the failure. The GPR order is that
 * of struct guest_regs (l1vmm.h), 8 bytes each. */

#define HOST_RSP 0x6C14
#define GPR(n) (8 * (n))

    .text
    .global vmx_enter
vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                   /* regs, found again at exit through HOST_RSP */

    /* HOST_RSP is the same on every call from the run loop, so it is
     * written once: each VMWRITE may itself be an exit under nesting. */
    cmp host_rsp(%rip), %rsp
    je 1f
    mov $HOST_RSP, %eax
    vmwrite %rsp, %rax
    mov %rsp, host_rsp(%rip)
1:
    mov %esi, %eax              /* launched? (before RSI is loaded) */
    test %eax, %eax
    mov GPR(1)(%rdi), %rcx
    mov GPR(2)(%rdi), %rdx
    mov GPR(3)(%rdi), %rbx
    mov GPR(5)(%rdi), %rbp
    mov GPR(6)(%rdi), %rsi
    mov GPR(8)(%rdi), %r8
    mov GPR(9)(%rdi), %r9
    mov GPR(10)(%rdi), %r10
    mov GPR(11)(%rdi), %r11
    mov GPR(12)(%rdi), %r12
    mov GPR(13)(%rdi), %r13
    mov GPR(14)(%rdi), %r14
    mov GPR(15)(%rdi), %r15
    mov GPR(0)(%rdi), %rax      /* MOV leaves ZF from the TEST above */
    mov GPR(7)(%rdi), %rdi
    jnz 2f
    vmlaunch
    jmp 3f
2:  vmresume
3:  /* VMfail: CF=1 invalid, ZF=1 valid */
    mov $2, %eax
    jc 4f
    mov $1, %eax
4:  pop %rdi
    jmp 5f

    .global vmx_exit_point
vmx_exit_point:
    push %rdi                   /* L2's RDI; regs pointer now at 8(%rsp) */
    mov 8(%rsp), %rdi
    mov %rax, GPR(0)(%rdi)
    mov %rcx, GPR(1)(%rdi)
    mov %rdx, GPR(2)(%rdi)
    mov %rbx, GPR(3)(%rdi)
    mov %rbp, GPR(5)(%rdi)
    mov %rsi, GPR(6)(%rdi)
    mov %r8, GPR(8)(%rdi)
    mov %r9, GPR(9)(%rdi)
    mov %r10, GPR(10)(%rdi)
    mov %r11, GPR(11)(%rdi)
    mov %r12, GPR(12)(%rdi)
    mov %r13, GPR(13)(%rdi)
    mov %r14, GPR(14)(%rdi)
    mov %r15, GPR(15)(%rdi)
    pop %rax
    mov %rax, GPR(7)(%rdi)
    add $8, %rsp                /* the saved regs pointer */
    xor %eax, %eax              /* VMX_OK */
5:  pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .data
    .balign 8
host_rsp: .quad 0
