/* The fixed part of every guest-code fuzzer image (fuzz/layout.h has the
 * addresses): a multiboot v1 header with the a.out kludge (Multiboot
 * 0.6.96 section 3.1.3), a prologue that puts the CPU into a known state
 * (32-bit protected mode, or 64-bit mode with identity paging; GDT, IDT,
 * TSS, the GPRs from the parameter block) and jumps to the generated
 * code, exception handlers that print the vector and resume at the next
 * slot, and a register dump that ends the run through isa-debug-exit.
 * Everything here is written so that it behaves the same whatever the
 * generated code did to the machine: it either works or ends the run in
 * a fixed way, so that bare and single mode must agree on it. */
#include "layout.h"

#define MB_FLAGS 0x00010003 /* page-aligned, memory info, a.out kludge */
/* An available TSS descriptor (SDM Vol. 3A 9.2.2), limit 0x67, base
 * below 16 MiB. */
#define TSS_DESC(base) (0x67 | ((base) & 0xffffff) << 16 | 0x89 << 40)
#define UART 0x3f8
#define DEBUG_EXIT 0xf4

    .text
    .code32
    .global _start
image_start:
    .long 0x1BADB002
    .long MB_FLAGS
    .long -(0x1BADB002 + MB_FLAGS)
    .long IMG_LOAD          /* header_addr */
    .long IMG_LOAD          /* load_addr */
    .long IMG_FILE_END      /* load_end_addr */
    .long IMG_BSS_END       /* bss_end_addr */
    .long _start            /* entry_addr */

    .org IMG_PARAMS - IMG_LOAD
    .fill IMG_P_END - IMG_PARAMS, 1, 0

    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF /* 0x08 code32 */
    .quad 0x00CF92000000FFFF /* 0x10 data */
    .quad 0x00AF9A000000FFFF /* 0x18 code64 */
    .quad 0x00009A000000FFFF /* 0x20 code16 */
    .quad 0x000092000000FFFF /* 0x28 data16 */
    .quad TSS_DESC(IMG_TSS64) /* 0x30 TSS64 (two entries) */
    .quad 0
    .quad 0x00CFFA000000FFFF /* 0x40 user code32 */
    .quad 0x00CFF2000000FFFF /* 0x48 user data */
    .quad 0x00AFFA000000FFFF /* 0x50 user code64 */
    .quad TSS_DESC(IMG_TSS32) /* 0x58 TSS32 */
gdt_ptr:
    .word GDT_ENTRIES * 8 - 1
    .long gdt

/* ---- entry: 32-bit protected mode, flat segments, paging off ---- */
_start:
    cli
    lgdt gdt_ptr
    ljmp $SEL_CODE32, $1f
1:  movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $IMG_STACK_TOP, %esp
    cmpl $PROG_MODE_LONG64, IMG_P_MODE
    je to_long

    lidt idt32_ptr
    movw $SEL_TSS32, %ax
    ltr %ax
    pushl $2
    popfl
    movl IMG_P_REGS + 0, %eax
    movl IMG_P_REGS + 8, %ecx
    movl IMG_P_REGS + 16, %edx
    movl IMG_P_REGS + 24, %ebx
    movl IMG_P_REGS + 32, %esp
    movl IMG_P_REGS + 40, %ebp
    movl IMG_P_REGS + 48, %esi
    movl IMG_P_REGS + 56, %edi
    jmp IMG_CODE

idt32_ptr:
    .word 256 * 8 - 1
    .long IMG_IDT32
idt64_ptr:
    .word 256 * 16 - 1
    .quad IMG_IDT64

/* SDM Vol. 3A 10.8.5: PAE tables, EFER.LME, then CR0.PG. */
to_long:
    movl %cr4, %eax
    orl $(1 << 5), %eax
    orl IMG_P_CR4_EXTRA, %eax
    movl %eax, %cr4
    movl $IMG_PML4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 0) | (1 << 11)), %eax /* LME, SCE, NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax /* PG, WP, PE */
    movl %eax, %cr0
    ljmp $SEL_CODE64, $long64

    .code64
long64:
    lidt idt64_ptr
    movw $SEL_TSS64, %ax
    ltr %ax
    pushq $2
    popfq
    movq IMG_P_REGS + 0, %rax
    movq IMG_P_REGS + 8, %rcx
    movq IMG_P_REGS + 16, %rdx
    movq IMG_P_REGS + 24, %rbx
    movq IMG_P_REGS + 32, %rsp
    movq IMG_P_REGS + 40, %rbp
    movq IMG_P_REGS + 48, %rsi
    movq IMG_P_REGS + 56, %rdi
    movq IMG_P_REGS + 64, %r8
    movq IMG_P_REGS + 72, %r9
    movq IMG_P_REGS + 80, %r10
    movq IMG_P_REGS + 88, %r11
    movq IMG_P_REGS + 96, %r12
    movq IMG_P_REGS + 104, %r13
    movq IMG_P_REGS + 112, %r14
    movq IMG_P_REGS + 120, %r15
    jmp IMG_CODE

/* ---- exception handlers ----
 * Each prints IMG_MARK_FAULT and the vector. Below the fault limit, a
 * fault inside the generated code resumes at the next slot (a trap's
 * saved RIP is inside the slot too: an instruction is at most 15 bytes);
 * anything else dumps the registers and ends the run. */

    .code32
common32:
    pushl %eax
    pushl %ecx
    pushl %edx
    pushl %ds
    movw $SEL_DATA, %ax
    movw %ax, %ds
    movw $UART, %dx
    movb $IMG_MARK_FAULT, %al
    outb %al, %dx
    movl 16(%esp), %ecx /* vector */
    movb %cl, %al
    outb %al, %dx
    incl IMG_FAULTS
    movl IMG_FAULTS, %eax
    cmpl IMG_P_FAULT_LIMIT, %eax
    jae limit_exit32
    cmpl $32, %ecx
    jae 6f
    movl $ERROR_CODE_VECTORS, %eax
    btl %ecx, %eax
    jc 7f
6:  leal 20(%esp), %edx
    call resume32
    popl %ds
    popl %edx
    popl %ecx
    popl %eax
    addl $4, %esp
    iretl
7:  leal 24(%esp), %edx
    call resume32
    popl %ds
    popl %edx
    popl %ecx
    popl %eax
    addl $8, %esp
    iretl

/* EDX points at the saved EIP: moves it to the next slot, or dumps. */
resume32:
    movl (%edx), %eax
    subl $IMG_CODE, %eax
    cmpl $(IMG_CODE_END - IMG_CODE), %eax
    jae outside32
    andl $~(IMG_SLOT - 1), %eax
    addl $(IMG_CODE + IMG_SLOT), %eax
    movl %eax, (%edx)
    ret
outside32:
    cmpl $0, IMG_IN_DONE
    jne done_faulted
    jmp done32

limit_exit32:
    movb $IMG_EXIT_FAULT_LIMIT, %al
    outb %al, $DEBUG_EXIT
    hlt

done_faulted:
    movb $IMG_EXIT_DONE_FAULTED, %al
    outb %al, $DEBUG_EXIT
    hlt

/* Registers to the serial port without touching the stack. */
done32:
    movl $1, IMG_IN_DONE
    movl %eax, IMG_SAVE + 0
    movl %ecx, IMG_SAVE + 8
    movl %edx, IMG_SAVE + 16
    movl %ebx, IMG_SAVE + 24
    movl %esp, IMG_SAVE + 32
    movl %ebp, IMG_SAVE + 40
    movl %esi, IMG_SAVE + 48
    movl %edi, IMG_SAVE + 56
    lahf
    seto %al
    movw %ax, IMG_SAVE + 128
    movl $IMG_SAVE, %esi
    movl $64, %ecx
    jmp dump32
    .code32
dump32:
    movw $UART, %dx
    movb $IMG_MARK_DONE, %al
    outb %al, %dx
8:  movb (%esi), %al
    outb %al, %dx
    incl %esi
    decl %ecx
    jnz 8b
    movb IMG_SAVE + 128, %al
    outb %al, %dx
    movb IMG_SAVE + 129, %al
    outb %al, %dx
    movb $IMG_EXIT_DONE, %al
    outb %al, $DEBUG_EXIT
    hlt

    .code64
common64:
    pushq %rax
    pushq %rcx
    pushq %rdx
    movw $UART, %dx
    movb $IMG_MARK_FAULT, %al
    outb %al, %dx
    movq 24(%rsp), %rcx /* vector */
    movb %cl, %al
    outb %al, %dx
    incl IMG_FAULTS
    movl IMG_FAULTS, %eax
    cmpl IMG_P_FAULT_LIMIT, %eax
    jae limit_exit64
    cmpl $32, %ecx
    jae 6f
    movl $ERROR_CODE_VECTORS, %eax
    btl %ecx, %eax
    jc 7f
6:  leaq 32(%rsp), %rdx
    call resume64
    popq %rdx
    popq %rcx
    popq %rax
    addq $8, %rsp
    iretq
7:  leaq 40(%rsp), %rdx
    call resume64
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp
    iretq

resume64:
    movq (%rdx), %rax
    subq $IMG_CODE, %rax
    cmpq $(IMG_CODE_END - IMG_CODE), %rax
    jae outside64
    andq $~(IMG_SLOT - 1), %rax
    addq $(IMG_CODE + IMG_SLOT), %rax
    movq %rax, (%rdx)
    ret
outside64:
    cmpl $0, IMG_IN_DONE
    jne 9f
    jmp done64
9:  movb $IMG_EXIT_DONE_FAULTED, %al
    outb %al, $DEBUG_EXIT
    hlt

limit_exit64:
    movb $IMG_EXIT_FAULT_LIMIT, %al
    outb %al, $DEBUG_EXIT
    hlt

done64:
    movl $1, IMG_IN_DONE
    movq %rax, IMG_SAVE + 0
    movq %rcx, IMG_SAVE + 8
    movq %rdx, IMG_SAVE + 16
    movq %rbx, IMG_SAVE + 24
    movq %rsp, IMG_SAVE + 32
    movq %rbp, IMG_SAVE + 40
    movq %rsi, IMG_SAVE + 48
    movq %rdi, IMG_SAVE + 56
    movq %r8, IMG_SAVE + 64
    movq %r9, IMG_SAVE + 72
    movq %r10, IMG_SAVE + 80
    movq %r11, IMG_SAVE + 88
    movq %r12, IMG_SAVE + 96
    movq %r13, IMG_SAVE + 104
    movq %r14, IMG_SAVE + 112
    movq %r15, IMG_SAVE + 120
    lahf
    seto %al
    movw %ax, IMG_SAVE + 128
    movl $IMG_SAVE, %esi
    movl $128, %ecx
    movw $UART, %dx
    movb $IMG_MARK_DONE, %al
    outb %al, %dx
8:  movb (%rsi), %al
    outb %al, %dx
    incq %rsi
    decl %ecx
    jnz 8b
    movb IMG_SAVE + 128, %al
    outb %al, %dx
    movb IMG_SAVE + 129, %al
    outb %al, %dx
    movb $IMG_EXIT_DONE, %al
    outb %al, $DEBUG_EXIT
    hlt

/* 16 bytes per vector: push the vector, go to the common handler. */
    .code32
    .org IMG_STUBS32 - IMG_LOAD
    .set vec, 0
    .rept 256
    .balign 16
    .byte 0x68
    .long vec
    jmp common32
    .set vec, vec + 1
    .endr

    .code64
    .org IMG_STUBS64 - IMG_LOAD
    .set vec, 0
    .rept 256
    .balign 16
    .byte 0x68
    .long vec
    jmp common64
    .set vec, vec + 1
    .endr

/* Interrupt gates, DPL 3 so that INT n works from ring 3 (SDM Vol. 3A
 * 7.14.1). In 64-bit mode #DF uses IST1: it survives a broken stack. */
    .org IMG_IDT32 - IMG_LOAD
    .set vec, 0
    .rept 256
    .long SEL_CODE32 << 16 | ((IMG_STUBS32 + 16 * vec) & 0xffff)
    .long ((IMG_STUBS32 + 16 * vec) & 0xffff0000) | 0xEE00
    .set vec, vec + 1
    .endr

    .org IMG_TSS32 - IMG_LOAD
    .long 0, IMG_STACK_TOP, SEL_DATA /* link, esp0, ss0 */
    .org IMG_TSS32 + 102 - IMG_LOAD
    .word 104 /* no I/O bitmap */

    .org IMG_TSS64 - IMG_LOAD
    .long 0
    .quad IMG_STACK_TOP /* rsp0 */
    .org IMG_TSS64 + 36 - IMG_LOAD
    .quad IMG_STACK_TOP - 0x1000 /* IST1 */
    .org IMG_TSS64 + 102 - IMG_LOAD
    .word 104

    .org IMG_IDT64 - IMG_LOAD
    .set vec, 0
    .rept 256
    .long SEL_CODE64 << 16 | ((IMG_STUBS64 + 16 * vec) & 0xffff)
    .if vec == 8
    .long ((IMG_STUBS64 + 16 * vec) & 0xffff0000) | 0xEE01
    .else
    .long ((IMG_STUBS64 + 16 * vec) & 0xffff0000) | 0xEE00
    .endif
    .quad 0
    .set vec, vec + 1
    .endr

/* 2 MiB pages over the first GiB, user-accessible, so that ring-3 code
 * runs. */
    .org IMG_PML4 - IMG_LOAD
    .quad IMG_PDPT | 0x27
    .org IMG_PDPT - IMG_LOAD
    .quad IMG_PD | 0x27
    .org IMG_PD - IMG_LOAD
    .set page, 0
    .rept 512
    .quad page << 21 | 0xe7
    .set page, page + 1
    .endr

/* The generated code goes here (the generator overwrites every slot). */
    .org IMG_CODE - IMG_LOAD
    .fill IMG_CODE_END - IMG_CODE, 1, 0x90

/* After the last slot, in either mode: EAX = 1 in 32-bit code (0x40 is
 * INC EAX) and 0 in 64-bit code (0x40 is a REX prefix of NOP). */
    .org IMG_CODE_END - IMG_LOAD
    .code32
    pushl %eax
    .byte 0x31, 0xC0, 0x40, 0x90 /* xor eax,eax; inc eax | rex nop */
    testl %eax, %eax
    popl %eax
    jnz done32
    jmp done64
    .org IMG_FILE_END - IMG_LOAD
