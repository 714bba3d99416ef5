/* Single x86 instructions as inline functions, for the runtime and for
 * programs that poke at the machine directly. */
#ifndef RT_CPU_H
#define RT_CPU_H

#include <stdint.h>

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

/* The region of interest (docs/exit-stats.md): what lies between the two
 * marks is measured apart from the whole run. Plain CPUIDs of an unknown
 * leaf anywhere else. */
#define ROI_LEAF 0x4FFFFFFBu
static inline void roi_start(void) { cpuid(ROI_LEAF, 1); }
static inline void roi_end(void) { cpuid(ROI_LEAF, 2); }

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)value),
                     "d"((uint32_t)(value >> 32)));
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* MOV from and to a control register (SDM Vol. 2B "MOV--Move to/from
 * Control Registers"): read_crN and write_crN. A write is a compiler
 * barrier, since it may change how memory is translated. */
#define CR_ACCESSORS(n)                                                       \
    static inline uint64_t read_cr##n(void)                                   \
    {                                                                         \
        uint64_t v;                                                           \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                     \
        return v;                                                             \
    }                                                                         \
    static inline void write_cr##n(uint64_t v)                                \
    {                                                                         \
        __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory");              \
    }
CR_ACCESSORS(0)
CR_ACCESSORS(2)
CR_ACCESSORS(3)
CR_ACCESSORS(4)
CR_ACCESSORS(8)

static inline void invlpg(const void *va)
{
    __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

/* Control-register and EFER bits (SDM Vol. 3A 2.5, 2.2.1). */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_PGE (1ull << 7)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_VMXE (1ull << 13)
#define CR4_PCIDE (1ull << 17)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define CR4_PKE (1ull << 22)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define MSR_EFER 0xC0000080u
#define MSR_STAR 0xC0000081u
#define MSR_LSTAR 0xC0000082u
#define MSR_FMASK 0xC0000084u
#define MSR_FS_BASE 0xC0000100u
#define MSR_GS_BASE 0xC0000101u
#define MSR_KERNEL_GS_BASE 0xC0000102u
#define MSR_FEATURE_CONTROL 0x3Au

#endif
