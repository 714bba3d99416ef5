/* The freestanding runtime shared by l1vmm and every guest: boot to long
 * mode, exception reports, serial output, multiboot information, exit.
 * A program links the runtime and defines main(); see guests/README.md. */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cmdline.h"
#include "format.h"
#include "multiboot.h"

/* Exit statuses shared by every image. Under QEMU, isa-debug-exit turns
 * status s into the process exit code (s << 1) | 1. */
enum {
    RT_EXIT_OK = 0,
    RT_EXIT_FAIL = 1,      /* the program reported a failure */
    RT_EXIT_EXCEPTION = 2, /* an unexpected CPU exception */
    RT_EXIT_BAD_BOOT = 3,  /* not started by a multiboot loader */
    RT_EXIT_BAD_ARGS = 4,  /* an unknown key or a bad value on the command
                              line (rt_args_require) */
};

/* What the loader told us, already checked. */
struct rt_boot {
    const struct mb_info *info;
    const char *cmdline;          /* never NULL; "" when absent */
    uint32_t mods_count;          /* 0 when the loader gave none */
    const struct mb_module *mods;
};

/* Checks the command line against the keys the program accepts
 * (rt_args_check); on a mistake prints "PANIC: PROGRAM: reason" and exits
 * with RT_EXIT_BAD_ARGS. */
void rt_args_require(const struct rt_boot *boot, const char *program,
                     const struct rt_arg *args, size_t count);
#define RT_ARGS_REQUIRE(boot, program, args) \
    rt_args_require(boot, program, args, sizeof(args) / sizeof((args)[0]))

/* Marsaglia's xorshift64 (shifts 13, 7, 17): the next state, which is
 * also the value; the state must not be 0. The guests' deterministic
 * pseudo-random numbers, recomputed by tests/e2e/expected.py. */
static inline uint64_t rt_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* Bytes of available RAM in the loader's memory map. */
uint64_t rt_ram_bytes(const struct rt_boot *boot);

/* Defined by the program; its return value is the exit status. */
int main(const struct rt_boot *boot);

/* Serial console: 16550 at 0x3f8, polled. */
void rt_uart_init(void);
void rt_uart_putc(char c);

int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);

/* Ends the run: prints "EXIT status=N", then isa-debug-exit (port 0xf4)
 * for QEMU and our emulator, then the Bochs shutdown port 0x8900. */
__attribute__((noreturn)) void rt_exit(int status);

/* Prints a message prefixed with "PANIC: " and exits with RT_EXIT_FAIL. */
__attribute__((noreturn, format(printf, 1, 2))) void rt_panic(const char *fmt,
                                                              ...);

/* Interrupts and exceptions. A handler may change the frame (for example
 * step rip over a faulting instruction) and return to resume. */
struct rt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
typedef void (*rt_handler)(struct rt_frame *frame);
void rt_set_handler(unsigned vector, rt_handler handler);
void rt_set_gate_dpl(unsigned vector, unsigned dpl);
const char *rt_exception_name(unsigned vector);
/* Prints the EXCEPTION report of an unexpected exception (no exit). */
void rt_report_exception(const struct rt_frame *frame);
void rt_set_kernel_stack(uint64_t rsp0);
/* Masks both 8259 PICs (done at start; see start.c for why). */
void rt_mask_pic(void);

/* Segment selectors of the runtime's GDT (SYSCALL/SYSRET compatible:
 * STAR[47:32] = RT_SEL_KCODE, STAR[63:48] = RT_SEL_UCODE32). */
enum {
    RT_SEL_KCODE = 0x08,
    RT_SEL_KDATA = 0x10,
    RT_SEL_UCODE32 = 0x18,
    RT_SEL_UDATA = 0x20,
    RT_SEL_UCODE = 0x28,
    RT_SEL_TSS = 0x30,
};

/* Freestanding string functions (gcc may emit calls to these). */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
