/* The SSE/SSE2 (and MMX) operations carried out by the host's own
 * instruction of the same name, register to register, under the guest's
 * MXCSR (exec_sse.c). Each is X(NAME, "host mnemonic", memory operand
 * size, flags); NAME is capstone's X86_INS_ suffix. A memory operand of
 * 16 bytes must be 16-byte aligned (SDM Vol. 1 11.4.1.1), smaller ones
 * need no alignment. The host computes IEEE results exactly, so these
 * are bit-exact; RCPPS/RSQRTPS and their scalar forms are the one
 * exception: their approximation is the host CPU's (within the SDM's
 * 1.5 * 2^-12 bound), not necessarily an Intel CPU's. */
#ifndef L0_CPU_SSE_OPS_H
#define L0_CPU_SSE_OPS_H

enum {
    SSE_FP = 1 << 0,       /* floating point: MXCSR flags and #XM */
    SSE_MMX = 1 << 1,      /* also has an MMX form (mm, mm/m64) */
    SSE_MMX_M32 = 1 << 2,  /* MMX form reads m32 (PUNPCKL*) */
    SSE_MMX_PACK = 1 << 3, /* MMX form packs two 64-bit halves */
    SSE_MMX_HIGH = 1 << 4, /* MMX form interleaves the high halves */
};

#define SSE_MMX_LOW (SSE_MMX | SSE_MMX_M32)
#define SSE_MMX_HI (SSE_MMX | SSE_MMX_HIGH)
#define SSE_MMX_PK (SSE_MMX | SSE_MMX_PACK)

#define SSE_ARITH(X, N, n)                                                    \
    X(N##PS, n "ps", 16, SSE_FP) X(N##SS, n "ss", 4, SSE_FP)                  \
    X(N##PD, n "pd", 16, SSE_FP) X(N##SD, n "sd", 8, SSE_FP)

/* The eight CMPPS predicates in imm8 order (SDM Vol. 2A "CMPPS"): the
 * rows of one size are consecutive, so that imm8 & 7 indexes them. */
#define SSE_CMP(X, S, s, size)                                                \
    X(CMPEQ##S, "cmpeq" s, size, SSE_FP) X(CMPLT##S, "cmplt" s, size, SSE_FP) \
    X(CMPLE##S, "cmple" s, size, SSE_FP)                                      \
    X(CMPUNORD##S, "cmpunord" s, size, SSE_FP)                                \
    X(CMPNEQ##S, "cmpneq" s, size, SSE_FP)                                    \
    X(CMPNLT##S, "cmpnlt" s, size, SSE_FP)                                    \
    X(CMPNLE##S, "cmpnle" s, size, SSE_FP)                                    \
    X(CMPORD##S, "cmpord" s, size, SSE_FP)

#define SSE_HOST_OPS(X)                                                       \
    SSE_ARITH(X, ADD, "add") SSE_ARITH(X, SUB, "sub")                         \
    SSE_ARITH(X, MUL, "mul") SSE_ARITH(X, DIV, "div")                         \
    SSE_ARITH(X, MIN, "min") SSE_ARITH(X, MAX, "max")                         \
    SSE_ARITH(X, SQRT, "sqrt")                                                \
    X(RCPPS, "rcpps", 16, SSE_FP) X(RCPSS, "rcpss", 4, SSE_FP)                \
    X(RSQRTPS, "rsqrtps", 16, SSE_FP) X(RSQRTSS, "rsqrtss", 4, SSE_FP)        \
    SSE_CMP(X, PS, "ps", 16) SSE_CMP(X, SS, "ss", 4)                          \
    SSE_CMP(X, PD, "pd", 16) SSE_CMP(X, SD, "sd", 8)                          \
    X(CVTPS2PD, "cvtps2pd", 8, SSE_FP) X(CVTPD2PS, "cvtpd2ps", 16, SSE_FP)    \
    X(CVTSS2SD, "cvtss2sd", 4, SSE_FP) X(CVTSD2SS, "cvtsd2ss", 8, SSE_FP)     \
    X(CVTDQ2PS, "cvtdq2ps", 16, SSE_FP) X(CVTPS2DQ, "cvtps2dq", 16, SSE_FP)   \
    X(CVTTPS2DQ, "cvttps2dq", 16, SSE_FP) X(CVTDQ2PD, "cvtdq2pd", 8, SSE_FP)  \
    X(CVTPD2DQ, "cvtpd2dq", 16, SSE_FP) X(CVTTPD2DQ, "cvttpd2dq", 16, SSE_FP) \
    X(ANDPS, "andps", 16, 0) X(ANDPD, "andpd", 16, 0)                         \
    X(ANDNPS, "andnps", 16, 0) X(ANDNPD, "andnpd", 16, 0)                     \
    X(ORPS, "orps", 16, 0) X(ORPD, "orpd", 16, 0)                             \
    X(XORPS, "xorps", 16, 0) X(XORPD, "xorpd", 16, 0)                         \
    X(UNPCKLPS, "unpcklps", 16, 0) X(UNPCKHPS, "unpckhps", 16, 0)             \
    X(UNPCKLPD, "unpcklpd", 16, 0) X(UNPCKHPD, "unpckhpd", 16, 0)             \
    X(PADDB, "paddb", 16, SSE_MMX) X(PADDW, "paddw", 16, SSE_MMX)             \
    X(PADDD, "paddd", 16, SSE_MMX) X(PADDQ, "paddq", 16, SSE_MMX)             \
    X(PADDSB, "paddsb", 16, SSE_MMX) X(PADDSW, "paddsw", 16, SSE_MMX)         \
    X(PADDUSB, "paddusb", 16, SSE_MMX) X(PADDUSW, "paddusw", 16, SSE_MMX)     \
    X(PSUBB, "psubb", 16, SSE_MMX) X(PSUBW, "psubw", 16, SSE_MMX)             \
    X(PSUBD, "psubd", 16, SSE_MMX) X(PSUBQ, "psubq", 16, SSE_MMX)             \
    X(PSUBSB, "psubsb", 16, SSE_MMX) X(PSUBSW, "psubsw", 16, SSE_MMX)         \
    X(PSUBUSB, "psubusb", 16, SSE_MMX) X(PSUBUSW, "psubusw", 16, SSE_MMX)     \
    X(PMULLW, "pmullw", 16, SSE_MMX) X(PMULHW, "pmulhw", 16, SSE_MMX)         \
    X(PMULHUW, "pmulhuw", 16, SSE_MMX) X(PMULUDQ, "pmuludq", 16, SSE_MMX)     \
    X(PMADDWD, "pmaddwd", 16, SSE_MMX) X(PSADBW, "psadbw", 16, SSE_MMX)       \
    X(PAVGB, "pavgb", 16, SSE_MMX) X(PAVGW, "pavgw", 16, SSE_MMX)             \
    X(PMINUB, "pminub", 16, SSE_MMX) X(PMAXUB, "pmaxub", 16, SSE_MMX)         \
    X(PMINSW, "pminsw", 16, SSE_MMX) X(PMAXSW, "pmaxsw", 16, SSE_MMX)         \
    X(PCMPEQB, "pcmpeqb", 16, SSE_MMX) X(PCMPEQW, "pcmpeqw", 16, SSE_MMX)     \
    X(PCMPEQD, "pcmpeqd", 16, SSE_MMX) X(PCMPGTB, "pcmpgtb", 16, SSE_MMX)     \
    X(PCMPGTW, "pcmpgtw", 16, SSE_MMX) X(PCMPGTD, "pcmpgtd", 16, SSE_MMX)     \
    X(PAND, "pand", 16, SSE_MMX) X(PANDN, "pandn", 16, SSE_MMX)               \
    X(POR, "por", 16, SSE_MMX) X(PXOR, "pxor", 16, SSE_MMX)                   \
    X(PACKSSWB, "packsswb", 16, SSE_MMX_PK)                                   \
    X(PACKSSDW, "packssdw", 16, SSE_MMX_PK)                                   \
    X(PACKUSWB, "packuswb", 16, SSE_MMX_PK)                                   \
    X(PUNPCKLBW, "punpcklbw", 16, SSE_MMX_LOW)                                \
    X(PUNPCKLWD, "punpcklwd", 16, SSE_MMX_LOW)                                \
    X(PUNPCKLDQ, "punpckldq", 16, SSE_MMX_LOW)                                \
    X(PUNPCKHBW, "punpckhbw", 16, SSE_MMX_HI)                                 \
    X(PUNPCKHWD, "punpckhwd", 16, SSE_MMX_HI)                                 \
    X(PUNPCKHDQ, "punpckhdq", 16, SSE_MMX_HI)                                 \
    X(PUNPCKLQDQ, "punpcklqdq", 16, 0) X(PUNPCKHQDQ, "punpckhqdq", 16, 0)     \
    X(PSLLW, "psllw", 16, SSE_MMX) X(PSLLD, "pslld", 16, SSE_MMX)             \
    X(PSLLQ, "psllq", 16, SSE_MMX) X(PSRLW, "psrlw", 16, SSE_MMX)             \
    X(PSRLD, "psrld", 16, SSE_MMX) X(PSRLQ, "psrlq", 16, SSE_MMX)             \
    X(PSRAW, "psraw", 16, SSE_MMX) X(PSRAD, "psrad", 16, SSE_MMX)

#define SSE_ENUM(name, mn, size, flags) SSE_OP_##name,
enum sse_op_index { SSE_HOST_OPS(SSE_ENUM) SSE_OP_COUNT };
#undef SSE_ENUM

#endif
