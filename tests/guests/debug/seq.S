/* Instruction sequences of the debug test with labels where a #DB is
 * expected. Each is a leaf function (System V: argument in RDI). */
    .text
    .code64

/* The target of an instruction breakpoint. */
    .global dbg_bp_target
dbg_bp_target:
    movl $0x1234, %eax
    ret

/* Reads, then writes the 4-byte word at RDI; the write trap is taken
 * with RIP at dbg_after_write. */
    .global dbg_read_then_write
dbg_read_then_write:
    movl (%rdi), %eax
    movl %eax, (%rdi)
    .global dbg_after_write
dbg_after_write:
    ret

/* Reads the byte at RDI; the trap is taken at dbg_after_read. */
    .global dbg_read_byte
dbg_read_byte:
    movb (%rdi), %al
    .global dbg_after_read
dbg_after_read:
    ret

/* Writes one byte at RDI. */
    .global dbg_write_byte
dbg_write_byte:
    movb $1, (%rdi)
    ret

/* Single-step over a known sequence: POPF sets TF (no trap after it, TF
 * was clear before), then three NOPs, PUSHF, AND, and the POPF that
 * clears TF (a trap after it too, TF was set before it): 6 traps. */
    .global dbg_single_step
dbg_single_step:
    pushfq
    orq $0x100, (%rsp)
    popfq
    nop
    nop
    nop
    pushfq
    andq $~0x100, (%rsp)
    popfq
    ret

/* MOV SS under TF: its trap waits for the next instruction and the two
 * are reported as one (SDM Vol. 3A 7.8.3): traps after the first MOV,
 * after the NOP that follows MOV SS, then after PUSHF, AND, POPF: 5. */
    .global dbg_mov_ss_step
dbg_mov_ss_step:
    pushfq
    orq $0x100, (%rsp)
    popfq
    movw %ss, %ax
    movw %ax, %ss
    nop
    .global dbg_after_mov_ss_nop
dbg_after_mov_ss_nop:
    pushfq
    andq $~0x100, (%rsp)
    popfq
    ret

/* REP STOSB of RSI bytes of 0xAA at RDI: a data breakpoint on one of
 * them traps after its iteration, with RIP still at dbg_rep_insn. */
    .global dbg_rep_stos
dbg_rep_stos:
    movq %rsi, %rcx
    movb $0xAA, %al
    .global dbg_rep_insn
dbg_rep_insn:
    rep stosb
    ret

/* INT1 (ICEBP): a #DB trap with RIP at dbg_after_int1. A probe
 * (probe.h): returns 1 if it raised a caught exception instead. */
    .section rt_probes, "ax"
    .global dbg_int1
dbg_int1:
    xorl %eax, %eax
    .byte 0xF1
    .global dbg_after_int1
dbg_after_int1:
    ret
    .text

/* MOV from DR0 with DR7.GD set: a #DB fault at dbg_gd_insn. */
    .global dbg_gd
dbg_gd:
    .global dbg_gd_insn
dbg_gd_insn:
    movq %dr0, %rax
    .global dbg_after_gd
dbg_after_gd:
    ret

/* REP STOSB of RSI bytes of 0x55 at RDI under TF: a single-step trap
 * after each iteration, RIP at dbg_rep_step_insn until the last, which
 * traps at dbg_after_rep_step; then PUSHF, AND and the POPF that clears
 * TF trap too. */
    .global dbg_rep_step
dbg_rep_step:
    movq %rsi, %rcx
    movb $0x55, %al
    pushfq
    orq $0x100, (%rsp)
    popfq
    .global dbg_rep_step_insn
dbg_rep_step_insn:
    rep stosb
    .global dbg_after_rep_step
dbg_after_rep_step:
    pushfq
    andq $~0x100, (%rsp)
    popfq
    ret

/* RAX := the quadword where the CPU pushes SS for an event taken at
 * the caller's RSP: in 64-bit mode RSP aligned down to 16, less 8 (SDM
 * Vol. 3A 7.14.2). */
frame_slot:
    leaq 8(%rsp), %rax
    andq $~15, %rax
    subq $8, %rax
    ret

/* UD2 with DR0 on the slot of its #UD frame's SS (frame_slot); DR7
 * comes in RDI. The #UD handler resumes at dbg_after_ud. */
    .global dbg_ud_frame
dbg_ud_frame:
    call frame_slot
    movq %rax, %dr0
    movq %rdi, %dr7
    .global dbg_ud_insn
dbg_ud_insn:
    ud2
    .global dbg_after_ud
dbg_after_ud:
    ret

/* A write to the dword at RSI that DR0 watches, with DR1 on the slot of
 * the SS of the #DB trap's frame that follows it. DR7 comes in RDI. */
    .global dbg_db_frame
dbg_db_frame:
    call frame_slot
    movq %rax, %dr1
    movq %rsi, %dr0
    movq %rdi, %dr7
    movl $1, (%rsi)
    .global dbg_after_db_write
dbg_after_db_write:
    ret

/* The ICR write at RSI (value in EDX) sends this CPU an NMI, taken at
 * the next boundary, with DR0 on the slot of its frame's SS; the loop
 * keeps RSP there should the NMI come later. DR7 comes in RDI. */
    .global dbg_nmi_frame
dbg_nmi_frame:
    call frame_slot
    movq %rax, %dr0
    movq %rdi, %dr7
    movl %edx, (%rsi)
    .global dbg_after_icr_write
dbg_after_icr_write:
    movl $64, %ecx
1:  decl %ecx
    jnz 1b
    ret
