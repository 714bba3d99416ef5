/* The floating-point and vector state: the x87 FPU with its MMX alias,
 * the SSE registers and MXCSR, and XCR0 (SDM Vol. 1 chapters 8-11, 13).
 *
 * The x87 data registers are kept by physical number (R0-R7) in their
 * 80-bit format; ST(i) is R((TOP + i) mod 8). MMX register i is the
 * mantissa of R_i (SDM Vol. 1 9.5). The tag word is kept abridged, one
 * bit per physical register (1: not empty), as FXSAVE stores it; the
 * full tag is derived from the contents when FNSTENV needs it. */
#ifndef L0_CPU_FPU_H
#define L0_CPU_FPU_H

#include <stdbool.h>
#include <stdint.h>

union xmm {
    uint8_t b[16];
    uint16_t w[8];
    uint32_t d[4];
    uint64_t q[2];
    float f[4];
    double fd[2];
};

struct x87_reg {
    uint64_t mant;
    uint16_t sexp; /* sign bit 15, exponent 14:0 */
};

struct fpu {
    union xmm xmm[16];
    struct x87_reg st[8]; /* physical registers R0-R7 */
    uint32_t mxcsr;
    uint16_t fcw, fsw; /* FSW holds TOP in bits 13:11 */
    uint8_t ftw;       /* abridged: bit i set when R_i is not empty */
    uint16_t fop, fcs, fds;
    uint64_t fip, fdp;
    uint64_t xcr0;
};

/* MXCSR (SDM Vol. 1 10.2.3). */
#define MXCSR_IE (1u << 0)
#define MXCSR_DE (1u << 1)
#define MXCSR_ZE (1u << 2)
#define MXCSR_OE (1u << 3)
#define MXCSR_UE (1u << 4)
#define MXCSR_PE (1u << 5)
#define MXCSR_FLAGS 0x3Fu
#define MXCSR_DAZ (1u << 6)
#define MXCSR_MASKS (0x3Fu << 7)
#define MXCSR_RC_SHIFT 13
#define MXCSR_FZ (1u << 15)
/* The bits MXCSR accepts: DAZ is supported (SDM Vol. 1 11.6.6). */
#define MXCSR_MASK 0xFFFFu
#define MXCSR_RESET 0x1F80u

/* x87 status word (SDM Vol. 1 8.1.3). */
#define FSW_IE (1u << 0)
#define FSW_DE (1u << 1)
#define FSW_ZE (1u << 2)
#define FSW_OE (1u << 3)
#define FSW_UE (1u << 4)
#define FSW_PE (1u << 5)
#define FSW_SF (1u << 6)
#define FSW_ES (1u << 7)
#define FSW_C0 (1u << 8)
#define FSW_C1 (1u << 9)
#define FSW_C2 (1u << 10)
#define FSW_C3 (1u << 14)
#define FSW_B (1u << 15)
#define FSW_TOP_SHIFT 11
#define FCW_INIT 0x037Fu

/* XCR0: the x87 and SSE components only (SDM Vol. 1 13.3). */
#define XCR0_X87 (1ull << 0)
#define XCR0_SSE (1ull << 1)
#define XCR0_SUPPORTED (XCR0_X87 | XCR0_SSE)
/* The XSAVE area: the legacy region and the header (13.4). */
#define XSAVE_AREA_SIZE 576u

struct cpu;

/* Power-up state (SDM Vol. 3A Table 10-1). */
void fpu_reset(struct cpu *c);
/* FNINIT's state (SDM Vol. 1 8.1.10). */
void fpu_x87_init(struct cpu *c);
/* The full x87 tag word, 2 bits per physical register, as FNSTENV
 * stores it (SDM Vol. 1 8.1.7). */
uint16_t fpu_tag_word(const struct cpu *c);

/* The checks every SSE instruction makes before anything else (SDM Vol.
 * 3A 2.5 on CR0.EM, CR0.TS and CR4.OSFXSR; Vol. 1 13.1.3): #UD when CR0.EM is
 * set or CR4.OSFXSR is clear, #NM when CR0.TS is set. */
bool fpu_sse_usable(struct cpu *c);
/* MMX (SDM Vol. 1 9.6): #UD with CR0.EM, #NM with CR0.TS, #MF with an
 * unmasked x87 exception pending. Executing one sets TOP to 0 and tags
 * every register valid. */
bool fpu_mmx_usable(struct cpu *c);
/* The same checks without the transition (EMMS). */
bool fpu_mmx_available(struct cpu *c);
/* An unmasked SIMD exception: #XM with CR4.OSXMMEXCPT, else #UD (SDM
 * Vol. 1 11.5.1). */
bool fpu_simd_exception(struct cpu *c);

#endif
