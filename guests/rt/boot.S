/* Multiboot v1 header and the 32-bit entry that switches to long mode.
 *
 * The loader leaves us in 32-bit protected mode with flat segments, paging
 * off, EAX = 0x2BADB002 and EBX = the multiboot information (Multiboot
 * 0.6.96 section 3.2). We load our GDT, turn on PAE paging with an identity
 * map of the first 4 GiB in 2 MiB pages, set EFER.LME, enable paging and
 * jump to 64-bit code (SDM Vol. 3A 10.8.5, "Initializing IA-32e Mode"). */

#define MB_FLAGS 0x3 /* page-aligned modules, memory information */

    .section .multiboot, "a"
    .balign 4
    .long 0x1BADB002
    .long MB_FLAGS
    .long -(0x1BADB002 + MB_FLAGS)

    .section .data
    .balign 4
boot_magic: .long 0
boot_info:  .long 0

/* Page tables, filled at build time: PML4[0] -> PDPT, PDPT[0..3] -> four
 * page directories of 2 MiB pages (present, writable). */
    .balign 4096
    .global rt_pml4
rt_pml4:
    .quad rt_pdpt + 0x3
    .fill 511, 8, 0
rt_pdpt:
    .quad rt_pd + 0x0000 + 0x3
    .quad rt_pd + 0x1000 + 0x3
    .quad rt_pd + 0x2000 + 0x3
    .quad rt_pd + 0x3000 + 0x3
    .fill 508, 8, 0
rt_pd:
    .set page, 0
    .rept 2048
    .quad (page << 21) | 0x83 /* present, writable, 2 MiB */
    .set page, page + 1
    .endr

    .section .bss
    .balign 16
    .global rt_stack_top
rt_stack:
    .skip 16384
rt_stack_top:

    .section .text.boot, "ax"
    .code32
    .global _start
_start:
    cli
    movl %eax, boot_magic
    movl %ebx, boot_info
    lgdt rt_gdt_ptr
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $rt_stack_top, %esp

    /* Zero .bss: not every loader is trusted to. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    cld
    rep stosl

    movl %cr4, %eax
    orl $(1 << 5), %eax /* CR4.PAE */
    movl %eax, %cr4
    movl $rt_pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx /* IA32_EFER */
    rdmsr
    orl $(1 << 8), %eax /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax /* PG, WP, PE */
    movl %eax, %cr0
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    leaq rt_stack_top(%rip), %rsp
    movl boot_magic(%rip), %edi
    movl boot_info(%rip), %esi
    call rt_start
1:  hlt
    jmp 1b
