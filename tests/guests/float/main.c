/* float: SSE and SSE2 as compiled C uses them, checked bit for bit
 * across backends. This guest alone is built with -msse2 (tests/tests.mk);
 * the runtime and every other program keep to general registers. Each
 * RESULT line holds bit patterns, so every backend must agree exactly.
 *
 *   arith     series and recurrences in double and float (ADDSD, MULSD,
 *             DIVSD, SQRTSD, their single forms, CVT* between them and
 *             integers)
 *   vector    packed integer and float operations through gcc's vector
 *             types and builtins (PADDD, PMULUDQ, PSADBW, PACKSSWB,
 *             PCMPGTB, PMOVMSKB, PSHUFD, ADDPS, MULPD, SQRTPD, MINPS)
 *   rounding  1/3 and -1/3 and CVTSD2SI of 2.5 under the four MXCSR
 *             rounding modes, and the exception flags MXCSR collects
 *   xm        an unmasked divide-by-zero raises #XM (vector 19); the
 *             handler masks it and the division completes with +inf (a
 *             DETAIL line: QEMU's TCG never raises #XM)
 *   fxsave    FXSAVE, clobber XMM0 and MXCSR, FXRSTOR brings them back
 *   xsave     where CPUID has XSAVE: CR4.OSXSAVE shows in CPUID, XSETBV
 *             of x87|SSE, XGETBV, XSAVE's XSTATE_BV, XRSTOR of the saved
 *             and of the initial SSE state (SDM Vol. 1 13)
 *   x87       long double arithmetic (FLD, FMUL, FDIVR, FADDP ...), FLDPI
 *             and FSQRT, 1/3 under 24-bit precision control, FISTP of
 *             +-2.5 under the four rounding modes, FCOMI with a NaN, FXAM
 *             of an infinity, and the tag word FNSTENV reports */
#include "cpu.h"
#include "rt.h"

typedef int v4si __attribute__((vector_size(16)));
typedef long long v2di __attribute__((vector_size(16)));
typedef short v8hi __attribute__((vector_size(16)));
typedef char v16qi __attribute__((vector_size(16)));
typedef float v4sf __attribute__((vector_size(16)));
typedef double v2df __attribute__((vector_size(16)));

#define MXCSR_DEFAULT 0x1F80u
#define MXCSR_ZM (1u << 9)

static uint64_t bits_d(double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    return v;
}

static uint32_t bits_f(float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    return v;
}

static uint32_t stmxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static void ldmxcsr(uint32_t v)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(v) : "memory");
}

/* SSE on (SDM Vol. 3A 13.1.3): CR0.EM clear, MP set, CR4.OSFXSR and
 * OSXMMEXCPT set. */
static void sse_enable(void)
{
    uint64_t cr0 = read_cr0();
    cr0 = (cr0 & ~(CR0_EM | CR0_TS)) | CR0_MP;
    write_cr0(cr0);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    ldmxcsr(MXCSR_DEFAULT);
}

static volatile double vd_three = 3.0, vd_two_half = 2.5, vd_zero = 0.0,
                       vd_small = 1e-300;
static volatile float vf_one = 1.0f;

static void arith(void)
{
    double zeta = 0, newton = 2.0;
    float harmonic = 0;
    for (int k = 1; k <= 2000; k++) {
        zeta += 1.0 / ((double)k * k);
        harmonic += 1.0f / (float)k;
    }
    for (int k = 0; k < 6; k++)
        newton = 0.5 * (newton + 2.0 / newton); /* -> sqrt(2) */
    double root = __builtin_sqrt(vd_three);
    float rootf = __builtin_sqrtf((float)vd_three);
    long long trunc = (long long)(zeta * 1e15);
    int narrow = (int)(harmonic * 1000.0f);
    double widened = (double)harmonic;
    rt_printf("RESULT float arith zeta=%016llx harmonic=%08x newton=%016llx "
              "sqrt3=%016llx sqrt3f=%08x trunc=%lld narrow=%d widened=%016llx\n",
              (unsigned long long)bits_d(zeta), bits_f(harmonic),
              (unsigned long long)bits_d(newton),
              (unsigned long long)bits_d(root), bits_f(rootf), trunc, narrow,
              (unsigned long long)bits_d(widened));
}

static void vector(void)
{
    static const v4si a0 = {1, -2, 0x7FFFFFFF, 40000};
    static const v4si b0 = {5, 7, 1, -3};
    volatile v4si va = a0, vb = b0;
    v4si a = va, b = vb;
    v4si sum = a + b, prod = a * b, cmp = a > b;
    v2di wide = __builtin_ia32_pmuludq128(a, b);
    v2di sad = __builtin_ia32_psadbw128((v16qi)a, (v16qi)b);
    v16qi packed = __builtin_ia32_packsswb128((v8hi)a, (v8hi)b);
    int mask = __builtin_ia32_pmovmskb128((v16qi)cmp ^ packed);
    v4si shuf = __builtin_ia32_pshufd(sum, 0x1B);
    v4sf fa = {1.5f, -0.25f, 3e38f, 1e-40f}, fb = {2.0f, 8.0f, 10.0f, 1e-3f};
    volatile v4sf vfa = fa, vfb = fb;
    v4sf fsum = vfa + vfb, fprod = vfa * vfb;
    v4sf fmin = __builtin_ia32_minps(vfa, vfb);
    v2df da = {2.0, 1e300}, db = {3.0, 1e10};
    volatile v2df vda = da, vdb = db;
    v2df dprod = vda * vdb, droot = __builtin_ia32_sqrtpd(vda);
    uint32_t h = 2166136261u; /* FNV-1a over every result */
    const uint8_t *parts[] = {(const uint8_t *)&sum, (const uint8_t *)&prod,
                              (const uint8_t *)&cmp, (const uint8_t *)&wide,
                              (const uint8_t *)&sad, (const uint8_t *)&packed,
                              (const uint8_t *)&shuf, (const uint8_t *)&fsum,
                              (const uint8_t *)&fprod, (const uint8_t *)&fmin,
                              (const uint8_t *)&dprod, (const uint8_t *)&droot};
    for (unsigned p = 0; p < sizeof parts / sizeof *parts; p++)
        for (unsigned k = 0; k < 16; k++)
            h = (h ^ parts[p][k]) * 16777619u;
    rt_printf("RESULT float vector mask=%#x fprod3=%08x dprod1=%016llx "
              "fnv=%08x\n",
              mask, bits_f(fprod[2]), (unsigned long long)bits_d(dprod[1]), h);
}

static void rounding(void)
{
    static const char *const names[4] = {"nearest", "down", "up", "zero"};
    for (unsigned rc = 0; rc < 4; rc++) {
        ldmxcsr(MXCSR_DEFAULT | rc << 13);
        double third = 1.0 / vd_three, neg = -1.0 / vd_three;
        long long conv;
        __asm__ volatile("cvtsd2si %1, %0" : "=r"(conv) : "x"(vd_two_half));
        rt_printf("RESULT float round=%s third=%016llx neg=%016llx "
                  "cvt2.5=%lld\n", names[rc],
                  (unsigned long long)bits_d(third),
                  (unsigned long long)bits_d(neg), conv);
    }
    ldmxcsr(MXCSR_DEFAULT);
    volatile double inf = 1.0 / vd_zero;
    uint32_t after_div0 = stmxcsr();
    ldmxcsr(MXCSR_DEFAULT);
    volatile double nan = inf - inf;
    uint32_t after_invalid = stmxcsr();
    ldmxcsr(MXCSR_DEFAULT);
    volatile double tiny = vd_small * vd_small;
    uint32_t after_underflow = stmxcsr();
    ldmxcsr(MXCSR_DEFAULT);
    (void)nan;
    (void)tiny;
    rt_printf("RESULT float flags div0=%#x invalid=%#x underflow=%#x\n",
              after_div0, after_invalid, after_underflow);
}

static volatile unsigned xm_count;

static void on_xm(struct rt_frame *frame)
{
    (void)frame;
    xm_count++;
    ldmxcsr(stmxcsr() | MXCSR_ZM); /* the division runs again, masked */
}

static void simd_exception(void)
{
    rt_set_handler(19, on_xm);
    ldmxcsr(MXCSR_DEFAULT & ~MXCSR_ZM);
    float r;
    float one = vf_one, zero = 0.0f;
    __asm__ volatile("divss %2, %0" : "=x"(r) : "0"(one), "x"(zero));
    uint32_t m = stmxcsr();
    ldmxcsr(MXCSR_DEFAULT);
    rt_printf("DETAIL float xm count=%u result=%08x mxcsr=%#x\n", xm_count,
              bits_f(r), m);
}

static uint8_t area[4096] __attribute__((aligned(64)));

static void fxsave(void)
{
    volatile v4si marker = {0x11111111, 0x22222222, 0x33333333, 0x44444444};
    ldmxcsr(MXCSR_DEFAULT | 2u << 13);
    __asm__ volatile("movdqa %0, %%xmm0\n\tfxsave64 %1"
                     : : "m"(marker), "m"(area) : "xmm0", "memory");
    ldmxcsr(MXCSR_DEFAULT);
    v4si back;
    __asm__ volatile("pxor %%xmm0, %%xmm0\n\tfxrstor64 %1\n\tmovdqa %%xmm0, %0"
                     : "=m"(back) : "m"(area) : "xmm0", "memory");
    uint32_t m = stmxcsr(), saved;
    memcpy(&saved, area + 24, 4);
    ldmxcsr(MXCSR_DEFAULT);
    rt_printf("RESULT float fxsave saved_mxcsr=%#x restored_mxcsr=%#x "
              "xmm0=%08x%08x\n", saved, m, (unsigned)back[3],
              (unsigned)back[0]);
}

static void xsave(void)
{
    if (!(cpuid(1, 0).ecx & (1u << 26))) {
        rt_printf("RESULT float xsave absent\n");
        return;
    }
    unsigned os_before = (cpuid(1, 0).ecx >> 27) & 1;
    write_cr4(read_cr4() | CR4_OSXSAVE);
    unsigned os_after = (cpuid(1, 0).ecx >> 27) & 1;
    __asm__ volatile("xsetbv" : : "c"(0), "a"(3), "d"(0));
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    volatile v4si marker = {0x55, 0x66, 0x77, 0x88};
    memset(area, 0, sizeof area);
    __asm__ volatile("movdqa %0, %%xmm1\n\txsave64 %1"
                     : : "m"(marker), "m"(area), "a"(~0u), "d"(~0u)
                     : "xmm1", "memory");
    uint64_t bv;
    memcpy(&bv, area + 512, 8);
    v4si back, init;
    __asm__ volatile("pxor %%xmm1, %%xmm1\n\txrstor64 %1\n\tmovdqa %%xmm1, %0"
                     : "=m"(back) : "m"(area), "a"(3), "d"(0)
                     : "xmm1", "memory");
    uint64_t sse_init = 1; /* XSTATE_BV = x87 only: SSE to its init state */
    memcpy(area + 512, &sse_init, 8);
    __asm__ volatile("xrstor64 %1\n\tmovdqa %%xmm1, %0"
                     : "=m"(init) : "m"(area), "a"(3), "d"(0)
                     : "xmm1", "memory");
    rt_printf("RESULT float xsave osxsave=%u/%u xcr0=%#x:%#x sse_bv=%u "
              "xmm1=%x restored_init=%x\n", os_before, os_after, hi, lo,
              (unsigned)((bv >> 1) & 1), (unsigned)back[2],
              (unsigned)(init[0] | init[1] | init[2] | init[3]));
}

static void print80(const char *name, long double v)
{
    uint64_t mant;
    uint16_t sexp;
    memcpy(&mant, &v, 8);
    memcpy(&sexp, (const uint8_t *)&v + 8, 2);
    rt_printf(" %s=%04x:%016llx", name, sexp, (unsigned long long)mant);
}

static void fldcw(uint16_t cw)
{
    __asm__ volatile("fldcw %0" : : "m"(cw) : "memory");
}

static volatile long double vl_three = 3.0L, vl_half = 2.5L;

static void x87(void)
{
    __asm__ volatile("fninit" ::: "memory");
    long double zeta = 0;
    for (int k = 1; k <= 500; k++)
        zeta += 1.0L / ((long double)k * k);
    long double root;
    __asm__ volatile("fldpi\n\tfld1\n\tfaddp\n\tfsqrt" : "=t"(root));
    fldcw(0x037F & ~(3u << 8)); /* precision control: 24 bits */
    long double third = 1.0L / vl_three;
    fldcw(0x037F);
    long long fist[8];
    for (unsigned rc = 0; rc < 4; rc++) {
        fldcw((uint16_t)(0x037F | rc << 10));
        long double up = vl_half, down = -vl_half;
        __asm__ volatile("fistpll %0" : "=m"(fist[2 * rc]) : "t"(up) : "st");
        __asm__ volatile("fistpll %0" : "=m"(fist[2 * rc + 1]) : "t"(down) : "st");
    }
    fldcw(0x037F);
    uint64_t flags;
    long double nan = __builtin_nanl(""), one = 1.0L;
    __asm__ volatile("fcomi %%st(1), %%st\n\tpushfq\n\tpopq %0"
                     : "=r"(flags) : "t"(one), "u"(nan) : "cc");
    uint16_t sw;
    long double inf = __builtin_infl();
    __asm__ volatile("fxam\n\tfnstsw %0" : "=a"(sw) : "t"(inf));
    uint32_t env[7];
    __asm__ volatile("fninit\n\tfld1\n\tfldz\n\tfnstenv %0\n\tfninit"
                     : "=m"(env) : : "memory", "st", "st(1)");
    rt_printf("RESULT float x87");
    print80("zeta", zeta);
    print80("sqrt_pi_plus_1", root);
    print80("third24", third);
    rt_printf(" fistp=%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld",
              fist[0], fist[1], fist[2], fist[3], fist[4], fist[5], fist[6],
              fist[7]);
    rt_printf(" fcomi=%#lx fxam=%#x tags=%#x\n",
              (unsigned long)(flags & 0x45), sw & 0x4700u, env[2] & 0xFFFF);
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "float", 0, 0); /* it takes no arguments */
    sse_enable();
    arith();
    vector();
    rounding();
    simd_exception();
    fxsave();
    xsave();
    x87();
    return RT_EXIT_OK;
}
