/* The shared probes and the resume point of a caught exception; see
 * probe.h. Each probe clears EAX first: it returns 0 unless the handler
 * sends it to rt_probe_fail. */

    .section rt_probes, "ax"
    .code64

    .global rt_probe_fail
rt_probe_fail:
    movl $1, %eax
    ret

    .global rt_probe_call
rt_probe_call:
    xorl %eax, %eax
    call *%rdi
    ret

    .global rt_probe_read8
rt_probe_read8:
    xorl %eax, %eax
    movb (%rdi), %cl
    ret

    .global rt_probe_write8
rt_probe_write8:
    xorl %eax, %eax
    movb %sil, (%rdi)
    ret
