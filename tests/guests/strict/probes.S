/* One probe (probe.h) per instruction of the strict test: each returns 0
 * if its instruction completed, 1 if it raised a caught exception. The
 * value to write comes in RDI. */
    .section rt_probes, "ax"
    .code64
#define PROBE(name, insns...) \
    .global probe_##name; probe_##name: xorl %eax, %eax; insns; ret

PROBE(vmfunc, .byte 0x0F, 0x01, 0xD4) /* VMFUNC, EAX = 0 */
PROBE(invd, invd)
PROBE(mov_cr0, movq %rdi, %cr0)
PROBE(mov_cr3, movq %rdi, %cr3)
PROBE(mov_cr4, movq %rdi, %cr4)
PROBE(mov_dr7, movq %rdi, %dr7)
PROBE(wrmsr_efer, movl $0xC0000080, %ecx; movl %edi, %eax; movq %rdi, %rdx; shrq $32, %rdx; wrmsr; xorl %eax, %eax)
