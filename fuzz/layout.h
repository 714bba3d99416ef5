/* Guest-physical layout of a guest-code fuzzer image, shared by the fixed
 * part written in assembly (image.S) and the generator (gen.c). The image
 * is a flat multiboot v1 "a.out kludge" file loaded at IMG_LOAD; RAM above
 * IMG_FILE_END up to IMG_BSS_END is zeroed by the loader. */
#ifndef FUZZ_LAYOUT_H
#define FUZZ_LAYOUT_H

#define IMG_LOAD 0x100000

/* Parameters the generator writes into the image. */
#define IMG_PARAMS 0x100040
#define IMG_P_MODE (IMG_PARAMS + 0)        /* u32: a PROG_MODE_* below */
#define IMG_P_FAULT_LIMIT (IMG_PARAMS + 4) /* u32: exceptions before giving up */
#define IMG_P_REGS (IMG_PARAMS + 8)        /* u64[16]: GPRs at CODE */
#define IMG_P_CR4_EXTRA (IMG_PARAMS + 136) /* u32: CR4 bits added */
#define IMG_P_END (IMG_PARAMS + 140)

#define PROG_MODE_PROT32 0 /* 32-bit protected mode, paging off */
#define PROG_MODE_LONG64 1 /* 64-bit mode, 2 MiB pages over the first GiB */
#define PROG_MODES 2

/* Fixed at build time (image.S), so that the prologue is a few dozen
 * instructions: exception stubs, IDTs, TSSs and the long-mode page
 * tables (2 MiB pages over the first GiB). */
#define IMG_STUBS32 0x101000 /* 256 stubs of 16 bytes */
#define IMG_STUBS64 0x102000
#define IMG_IDT32 0x103000   /* 256 8-byte gates */
#define IMG_TSS32 0x103800
#define IMG_TSS64 0x103900
#define IMG_IDT64 0x104000   /* 256 16-byte gates */
#define IMG_PML4 0x105000
#define IMG_PDPT 0x106000
#define IMG_PD 0x107000

/* The generated code: IMG_SLOTS slots of IMG_SLOT bytes, each holding one
 * generated instruction sequence padded with NOPs. An exception handler
 * resumes at the slot after the one that faulted, so one fault does not
 * end the program. */
#define IMG_CODE 0x108000
#define IMG_SLOT 16
#define IMG_SLOTS 256
#define IMG_CODE_END (IMG_CODE + IMG_SLOT * IMG_SLOTS)
/* After the last slot: a jump to the register dump (32 bytes). */
#define IMG_FILE_END (IMG_CODE_END + 32)

/* Zeroed at load (bss). */
#define IMG_STATE 0x10a000 /* harness variables, then the register save */
#define IMG_FAULTS (IMG_STATE + 0)
#define IMG_IN_DONE (IMG_STATE + 4)
#define IMG_SAVE (IMG_STATE + 16) /* 17 u64: GPRs then the flags */
#define IMG_DATA 0x10c000         /* what memory operands point at */
#define IMG_DATA_SIZE 0x4000
#define IMG_STACK_TOP 0x114000
#define IMG_BSS_END 0x115000

/* Serial bytes the harness writes (the register dump is raw bytes). */
#define IMG_MARK_FAULT 0xEE /* then the vector */
#define IMG_MARK_DONE 0xDD  /* then the saved registers */

/* isa-debug-exit values of the harness. */
#define IMG_EXIT_DONE 0x20
#define IMG_EXIT_FAULT_LIMIT 0x21
#define IMG_EXIT_DONE_FAULTED 0x22

/* GDT selectors. */
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define SEL_CODE16 0x20
#define SEL_DATA16 0x28
#define SEL_TSS64 0x30 /* 16 bytes */
#define SEL_UCODE32 0x43
#define SEL_UDATA 0x4b
#define SEL_UCODE64 0x53
#define SEL_TSS32 0x58
#define GDT_ENTRIES 12

/* Exceptions that push an error code (SDM Vol. 3A Table 7-1). */
#define ERROR_CODE_VECTORS 0x60227D00

#endif
