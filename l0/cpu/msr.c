#include "cpu/msr.h"

#include <stddef.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"

enum msr_kind {
    MSR_PLAIN,     /* any value */
    MSR_CANONICAL, /* an address: must be canonical */
    MSR_READONLY,  /* writes raise #GP */
    MSR_SPECIAL,   /* handled in code below */
};

struct msr_def {
    uint32_t index;
    const char *name;
    size_t offset; /* into struct cpu, for table-driven kinds */
    enum msr_kind kind;
};

#define CPU_FIELD(f) offsetof(struct cpu, f)

static const struct msr_def msrs[] = {
    {0x10, "IA32_TIME_STAMP_COUNTER", 0, MSR_SPECIAL},
    {0x1B, "IA32_APIC_BASE", CPU_FIELD(apic_base), MSR_SPECIAL},
    {0x3A, "IA32_FEATURE_CONTROL", CPU_FIELD(feature_control), MSR_SPECIAL},
    {0x174, "IA32_SYSENTER_CS", CPU_FIELD(sysenter_cs), MSR_PLAIN},
    {0x175, "IA32_SYSENTER_ESP", CPU_FIELD(sysenter_esp), MSR_CANONICAL},
    {0x176, "IA32_SYSENTER_EIP", CPU_FIELD(sysenter_eip), MSR_CANONICAL},
    {0x1A0, "IA32_MISC_ENABLE", CPU_FIELD(misc_enable), MSR_PLAIN},
    {0x277, "IA32_PAT", CPU_FIELD(pat), MSR_SPECIAL},
    {0xC0000080, "IA32_EFER", CPU_FIELD(efer), MSR_SPECIAL},
    {0xC0000081, "IA32_STAR", CPU_FIELD(star), MSR_PLAIN},
    {0xC0000082, "IA32_LSTAR", CPU_FIELD(lstar), MSR_CANONICAL},
    {0xC0000083, "IA32_CSTAR", CPU_FIELD(cstar), MSR_CANONICAL},
    {0xC0000084, "IA32_FMASK", CPU_FIELD(fmask), MSR_PLAIN},
    {0xC0000100, "IA32_FS_BASE", 0, MSR_SPECIAL},
    {0xC0000101, "IA32_GS_BASE", 0, MSR_SPECIAL},
    {0xC0000102, "IA32_KERNEL_GS_BASE", CPU_FIELD(kernel_gs_base), MSR_CANONICAL},
    {0xC0000103, "IA32_TSC_AUX", CPU_FIELD(tsc_aux), MSR_SPECIAL},
};

static const struct msr_def *find(uint32_t index)
{
    for (size_t k = 0; k < sizeof msrs / sizeof *msrs; k++)
        if (msrs[k].index == index)
            return &msrs[k];
    return NULL;
}

static uint64_t *field(struct cpu *c, const struct msr_def *d)
{
    return (uint64_t *)((char *)c + d->offset);
}

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

bool msr_read(struct cpu *c, uint32_t index, uint64_t *value)
{
    const struct msr_def *d = find(index);
    if (!d)
        return cpu_fault(c, VEC_GP, 0);
    switch (index) {
    case 0x10: *value = cpu_tsc(c); break;
    case 0xC0000100: *value = c->seg[SEG_FS].base; break;
    case 0xC0000101: *value = c->seg[SEG_GS].base; break;
    default: *value = *field(c, d); break;
    }
    return true;
}

/* Each PAT entry must be a valid memory type: 0, 1, 4, 5, 6 or 7. */
static bool valid_pat(uint64_t v)
{
    for (unsigned k = 0; k < 8; k++) {
        unsigned t = (v >> (8 * k)) & 0xFF;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

bool msr_write(struct cpu *c, uint32_t index, uint64_t v)
{
    const struct msr_def *d = find(index);
    if (!d || d->kind == MSR_READONLY ||
        (d->kind == MSR_CANONICAL && !canonical(v)))
        return cpu_fault(c, VEC_GP, 0);
    switch (index) {
    case 0x10: /* writing the TSC moves the offset (SDM Vol. 3B 18.17) */
        c->tsc_offset = v - c->cycles;
        return true;
    case 0x1B: /* APIC base: BSP (bit 8) read-only; x2APIC not offered */
        if ((v & ~0xFFFFFF900ull) || (v & (1ull << 10)))
            return cpu_fault(c, VEC_GP, 0);
        c->apic_base = (v & ~0x100ull) | (c->apic_base & 0x100);
        return true;
    case 0x3A: /* IA32_FEATURE_CONTROL: writes #GP once locked (bit 0) */
        if ((c->feature_control & 1) || (v & ~0x7ull))
            return cpu_fault(c, VEC_GP, 0);
        c->feature_control = v;
        return true;
    case 0x277:
        if (!valid_pat(v))
            return cpu_fault(c, VEC_GP, 0);
        c->pat = v;
        return true;
    case 0xC0000080: {
        /* SCE, LME, NXE are writable; LMA is read-only; LME cannot change
         * while paging is on (SDM Vol. 3A 10.8.5). */
        uint64_t writable = EFER_SCE | EFER_LME | EFER_NXE;
        if (v & ~(writable | EFER_LMA))
            return cpu_fault(c, VEC_GP, 0);
        if ((c->cr0 & CR0_PG) && ((v ^ c->efer) & EFER_LME))
            return cpu_fault(c, VEC_GP, 0);
        uint64_t old = c->efer;
        c->efer = (v & writable) | (c->efer & EFER_LMA);
        if ((old ^ c->efer) & EFER_NXE)
            mmu_flush_all(c);
        cpu_update_mode(c);
        return true;
    }
    case 0xC0000100:
    case 0xC0000101:
        if (!canonical(v))
            return cpu_fault(c, VEC_GP, 0);
        c->seg[index == 0xC0000100 ? SEG_FS : SEG_GS].base = v;
        return true;
    case 0xC0000103:
        if (v >> 32)
            return cpu_fault(c, VEC_GP, 0);
        c->tsc_aux = v;
        return true;
    default:
        *field(c, d) = v;
        return true;
    }
}
