/* One probe (probe.h) per faulting instruction of the exceptions test.
 * Those that take an argument get it in EDI/RDI (the C calling
 * convention); each returns 0 if its instruction completed. */
    .section rt_probes, "ax"
    .code64
#define PROBE(name, insns...) \
    .global probe_##name; probe_##name: xorl %eax, %eax; insns; ret

/* Segment loads with the selector in DI; DS is restored by the caller. */
PROBE(load_ds, movw %di, %ds)
PROBE(load_ss, movw %ss, %cx; movw %di, %ss; movw %cx, %ss)
/* A far JMP (m16:32) to selector DI, offset far_done: never taken here. */
PROBE(ljmp_sel, movw %di, far_ptr+4(%rip); ljmp *far_ptr(%rip))
far_done:
    ret
/* Memory at a non-canonical address in RDI: through DS, through SS. */
PROBE(read_ds, movb (%rdi), %cl)
PROBE(read_ss, movb (%rsp, %rdi), %cl)
PROBE(ud2, ud2)
PROBE(push_es, .byte 0x06)        /* invalid in 64-bit mode */
PROBE(into, .byte 0xCE)           /* invalid in 64-bit mode */
PROBE(lock_nop, .byte 0xF0, 0x90) /* LOCK on a non-memory instruction */
PROBE(mov_cs, movw %di, %cx; .byte 0x8E, 0xC9) /* MOV CS, CX */
PROBE(syscall, syscall)           /* with EFER.SCE = 0 */
PROBE(div0, xorl %ecx, %ecx; movl $1, %eax; xorl %edx, %edx; divl %ecx)
PROBE(idiv_overflow, movabsq $0x8000000000000000, %rax; cqto; movq $-1, %rcx; idivq %rcx)
PROBE(div8_overflow, movw $0x1000, %ax; movb $0x10, %cl; divb %cl)
PROBE(wrmsr_fs, movl $0xC0000100, %ecx; xorl %eax, %eax; movl $0x8000, %edx; wrmsr)
PROBE(int_n, int $0x90)
PROBE(int_a0, int $0xA0)
/* A counter index beyond any PMU's general and fixed counters. */
PROBE(rdpmc, movl $0x7FFF, %ecx; rdpmc)
    .global probe_int3, after_int3, after_int_3
probe_int3:
    xorl %eax, %eax
    int3
after_int3:
    ret
    .global probe_int_3
probe_int_3:
    xorl %eax, %eax
    .byte 0xCD, 0x03 /* INT 3 in its two-byte form */
after_int_3:
    ret

/* INT 0x90, whose gate the caller made not present, with RSP at the
 * not-present address in RDI: #NP, whose frame cannot be pushed: #PF.
 * The handler resumes at rt_probe_fail on the stack saved here. */
    .global probe_int_bad_stack, probe_good_rsp
probe_int_bad_stack:
    xorl %eax, %eax
    movq %rsp, probe_good_rsp(%rip)
    movq %rdi, %rsp
    int $0x90
    movq probe_good_rsp(%rip), %rsp
    ret

    .data
probe_good_rsp:
    .quad 0
far_ptr:
    .long far_done
    .word 0
