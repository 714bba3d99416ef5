/* A probe (probe.h) for the write that straddles two pages. */
    .section rt_probes, "ax"
    .code64
    .global probe_write32
probe_write32:
    xorl %eax, %eax
    movl %esi, (%rdi)
    ret
