/* The assembled fixed part of the fuzzer's images (fuzz/image.S, as a
 * flat binary), linked into guestfuzz. */
    .section .rodata
    .global fuzz_template, fuzz_template_end
fuzz_template:
    .incbin FUZZ_TEMPLATE
fuzz_template_end:
    .section .note.GNU-stack, "", @progbits
