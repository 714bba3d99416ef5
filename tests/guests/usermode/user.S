/* The code of the usermode test that must be exact assembly: functions
 * entered at CPL 3 (rt_user_call), the SYSCALL entry, and one probe per
 * privileged instruction (probe.h: each returns 1 if it faulted). */
#define FL_IF 0x200

    .text
    .code64

/* uint64_t user_selectors(uint64_t): CS | SS << 16 | DS << 32 as seen at
 * CPL 3. */
    .global user_selectors
user_selectors:
    xorl %eax, %eax
    movw %ds, %ax
    shlq $16, %rax
    movw %ss, %ax
    shlq $16, %rax
    movw %cs, %ax
    ret

/* uint64_t user_syscall(uint64_t): SYSCALL with RAX = 7, then records
 * what SYSRET restored; returns the kernel's answer. RFLAGS at entry are
 * exactly those rt_user_call gave (nothing here changes them before the
 * SYSCALL). */
    .global user_syscall, user_after_syscall
user_syscall:
    movl $7, %eax
    syscall
user_after_syscall:
    movw %cs, user_cs(%rip)
    movw %ss, user_ss(%rip)
    pushfq
    popq user_rflags(%rip)
    ret

/* The SYSCALL target (LSTAR): CPL 0, but still on the user stack. */
    .global syscall_entry
syscall_entry:
    movq %rsp, kernel_user_rsp(%rip)
    leaq syscall_stack_top(%rip), %rsp
    movw %cs, kernel_cs(%rip)
    movw %ss, kernel_ss(%rip)
    pushfq
    popq kernel_rflags(%rip)
    movq %rcx, kernel_rcx(%rip)
    movq %r11, kernel_r11(%rip)
    leaq (%rax, %rax, 2), %rax /* the answer: 3 * RAX */
    movq kernel_user_rsp(%rip), %rsp
    sysretq

/* uint64_t user_int80(uint64_t arg): the handler returns arg + 1. */
    .global user_int80
user_int80:
    int $0x80
    movq %rdi, %rax
    ret

/* uint64_t user_popf(uint64_t value): POPF value, then what PUSHF sees. */
    .global user_popf
user_popf:
    pushq %rdi
    popfq
    pushfq
    popq %rax
    ret

/* Probes run at CPL 3 (see main.c's table). Those whose instruction
 * writes EAX clear it again: 0 means "completed". */
    .section rt_probes, "ax"
#define PROBE(name, insns...) \
    .global probe_##name; probe_##name: xorl %eax, %eax; insns; ret

PROBE(hlt, hlt)
PROBE(cli, cli)
PROBE(sti, sti)
PROBE(read_cr0, movq %cr0, %rcx)
PROBE(read_cr3, movq %cr3, %rcx)
PROBE(write_cr3, movq %rcx, %cr3)
PROBE(read_dr7, movq %dr7, %rcx)
PROBE(rdmsr, movl $0xC0000080, %ecx; rdmsr; xorl %eax, %eax)
PROBE(wrmsr, movl $0xC0000102, %ecx; xorl %edx, %edx; wrmsr)
PROBE(in, movw $0x3FD, %dx; inb %dx, %al; xorl %eax, %eax)
PROBE(out, movw $0x80, %dx; outb %al, %dx)
PROBE(invlpg, invlpg (%rsp))
PROBE(lgdt, lgdt (%rsp))
PROBE(lidt, lidt (%rsp))
PROBE(lldt, xorl %ecx, %ecx; lldt %cx)
PROBE(ltr, movl $0x30, %ecx; ltr %cx)
PROBE(lmsw, movl $1, %ecx; lmsw %cx)
PROBE(clts, clts)
PROBE(wbinvd, wbinvd)
PROBE(swapgs, swapgs)
PROBE(int81, int $0x81)
PROBE(int3, int3)

    .bss
    .balign 16
    .skip 4096
syscall_stack_top:
kernel_user_rsp: .quad 0
    .global kernel_cs, kernel_ss, kernel_rflags, kernel_rcx, kernel_r11
    .global user_cs, user_ss, user_rflags
kernel_cs: .quad 0
kernel_ss: .quad 0
kernel_rflags: .quad 0
kernel_rcx: .quad 0
kernel_r11: .quad 0
user_cs: .quad 0
user_ss: .quad 0
user_rflags: .quad 0
