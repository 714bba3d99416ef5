/* The L2 guests of vmxguests: code of this image that L2 runs in L1's
 * address space, each ending with VMCALL (reason 18) unless its first
 * instruction already exits for good. */
    .text
    .code64
    .global l2_cpuid, l2_io, l2_rdmsr, l2_read_hole, l2_ud2, l2_int3
    .global l2_vmcall, l2_read_cr0, l2_seen, l2_clear_vmxe
l2_cpuid:
    xorl %eax, %eax
    cpuid
    vmcall
    jmp .
l2_io:
    movb $0x5a, %al
    outb %al, $0x80
    vmcall
    jmp .
l2_rdmsr:
    movl $0x174, %ecx           /* IA32_SYSENTER_CS */
    rdmsr
    movq %rax, l2_seen(%rip)
    vmcall
    jmp .
l2_read_hole:
    movabsq $0x40000000, %rbx   /* 1 GiB: beyond what EPT12 maps */
    movb (%rbx), %al
    vmcall
    jmp .
l2_ud2:
    ud2
    vmcall
    jmp .
l2_int3:
    int3
    vmcall
    jmp .
l2_vmcall:
    vmcall
    jmp .
l2_clear_vmxe:
    movq %cr4, %rax
    andq $~0x2000, %rax         /* CR4.VMXE */
    movq %rax, %cr4             /* 0f 22 e0: 3 bytes */
    vmcall
    jmp .
l2_read_cr0:
    movq %cr0, %rax
    movq %rax, l2_seen(%rip)
    vmcall
    jmp .

    .data
    .balign 8
l2_seen:
    .quad 0
