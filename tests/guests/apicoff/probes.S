/* WRMSR of IA32_APIC_BASE with EDI:ESI as the value's low:high halves
 * (the C calling convention's first two arguments); returns 0 if it
 * completed, 1 after a caught exception (probe.h). */
    .section rt_probes, "ax"
    .code64
    .global probe_wrmsr_apic_base
probe_wrmsr_apic_base:
    xorl %eax, %eax
    movl %esi, %edx
    movl %edi, %eax
    movl $0x1B, %ecx
    wrmsr
    xorl %eax, %eax
    ret
