/* Code that the smc test rewrites while it runs. The runtime's identity
 * map is writable, so .text can be patched in place. */
    .text
    .code64

/* uint32_t smc_imm(void): returns the immediate of its first
 * instruction (B8 imm32), which main.c rewrites between calls. */
    .global smc_imm, smc_imm_value
smc_imm:
    .byte 0xB8
smc_imm_value:
    .long 0
    ret

/* uint32_t smc_next(uint8_t v): stores v into the immediate of the very
 * next instruction, which must then execute with it (SDM Vol. 3A 11.6:
 * a write to an instruction already prefetched is detected). */
    .global smc_next
smc_next:
    movb %dil, 1f+1(%rip)
1:  movl $0, %eax
    ret

/* Templates copied into a buffer by REP MOVSB: each returns a constant. */
    .global tmpl_one, tmpl_two, tmpl_end
tmpl_one:
    movl $1, %eax
    ret
tmpl_two:
    movl $2, %eax
    addl $40, %eax
    ret
tmpl_end:
