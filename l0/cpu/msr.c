#include "cpu/msr.h"

#include <stddef.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "dev/lapic.h"
#include "machine.h"

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
    {MSR_TSC, "IA32_TIME_STAMP_COUNTER", 0, MSR_SPECIAL},
    {MSR_APIC_BASE, "IA32_APIC_BASE", CPU_FIELD(apic_base), MSR_SPECIAL},
    {0x3A, "IA32_FEATURE_CONTROL", CPU_FIELD(feature_control), MSR_SPECIAL},
    /* SDM Vol. 4 Table 2-2: software writes 0, executes CPUID and reads
     * the microcode revision in bits 63:32. There is no microcode here,
     * so CPUID leaves the value written (0 after that sequence). */
    {0x8B, "IA32_BIOS_SIGN_ID", CPU_FIELD(bios_sign_id), MSR_PLAIN},
    {0x174, "IA32_SYSENTER_CS", CPU_FIELD(sysenter_cs), MSR_PLAIN},
    {0x175, "IA32_SYSENTER_ESP", CPU_FIELD(sysenter_esp), MSR_CANONICAL},
    {0x176, "IA32_SYSENTER_EIP", CPU_FIELD(sysenter_eip), MSR_CANONICAL},
    {0x1D9, "IA32_DEBUGCTL", CPU_FIELD(dbg.debugctl), MSR_SPECIAL},
    {0x1A0, "IA32_MISC_ENABLE", CPU_FIELD(misc_enable), MSR_PLAIN},
    {0x277, "IA32_PAT", CPU_FIELD(pat), MSR_SPECIAL},
    {MSR_EFER, "IA32_EFER", CPU_FIELD(efer), MSR_SPECIAL},
    {0xC0000081, "IA32_STAR", CPU_FIELD(star), MSR_PLAIN},
    {0xC0000082, "IA32_LSTAR", CPU_FIELD(lstar), MSR_CANONICAL},
    {0xC0000083, "IA32_CSTAR", CPU_FIELD(cstar), MSR_CANONICAL},
    {0xC0000084, "IA32_FMASK", CPU_FIELD(fmask), MSR_PLAIN},
    {MSR_FS_BASE, "IA32_FS_BASE", 0, MSR_CANONICAL},
    {MSR_GS_BASE, "IA32_GS_BASE", 0, MSR_CANONICAL},
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

bool msr_get(struct cpu *c, uint32_t index, uint64_t *value)
{
    const struct msr_def *d = find(index);
    if (!d)
        return false;
    switch (index) {
    case MSR_TSC: *value = cpu_tsc(c); break;
    case MSR_FS_BASE: *value = c->seg[SEG_FS].base; break;
    case MSR_GS_BASE: *value = c->seg[SEG_GS].base; break;
    default: *value = *field(c, d); break;
    }
    return true;
}

bool msr_read(struct cpu *c, uint32_t index, uint64_t *value)
{
    return msr_get(c, index, value) || cpu_fault(c, VEC_GP, 0);
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

bool msr_check_write(uint32_t index, uint64_t old, uint64_t cr0,
                     uint64_t *value)
{
    const struct msr_def *d = find(index);
    uint64_t v = *value;
    if (!d || d->kind == MSR_READONLY)
        return false;
    if (d->kind == MSR_CANONICAL)
        return cpu_canonical(v);
    switch (index) {
    case MSR_APIC_BASE:
        /* APIC base (SDM Vol. 3A 11.4.4, Figure 11-5): bits 7:0, 9 and
         * those above MAXPHYADDR are reserved; BSP (bit 8) is read-only;
         * EXTD (bit 10) is reserved as CPUID reports no x2APIC, which
         * also rules out the invalid state EN = 0, EXTD = 1 (11.12.5).
         * Relocating the page (bits 38:12) is stored but not modeled:
         * the registers stay at 0xFEE00000 (docs/emulator.md). */
        if ((v & ~(((1ull << PHYS_ADDR_BITS) - 1) & ~0x6FFull)))
            return false;
        *value = (v & ~0x100ull) | (old & 0x100);
        return true;
    case 0x3A: /* IA32_FEATURE_CONTROL: writes #GP once locked (bit 0) */
        return !(old & 1) && !(v & ~0x7ull);
    case 0x1D9: /* IA32_DEBUGCTL: no LBR, BTF or other feature offered */
        return v == 0;
    case 0x277:
        return valid_pat(v);
    case MSR_EFER: {
        /* SCE, LME, NXE are writable; LMA is read-only; LME cannot change
         * while paging is on (SDM Vol. 3A 10.8.5). */
        uint64_t writable = EFER_SCE | EFER_LME | EFER_NXE;
        if ((v & ~(writable | EFER_LMA)) ||
            ((cr0 & CR0_PG) && ((v ^ old) & EFER_LME)))
            return false;
        *value = (v & writable) | (old & EFER_LMA);
        return true;
    }
    case 0xC0000103:
        return !(v >> 32);
    default:
        return true;
    }
}

bool msr_set(struct cpu *c, uint32_t index, uint64_t v)
{
    uint64_t old = 0;
    if (!msr_get(c, index, &old) || !msr_check_write(index, old, c->cr0, &v))
        return false;
    switch (index) {
    /* Writing the TSC moves its offset (SDM Vol. 3B 18.17); in VMX
     * non-root operation WRMSR writes the TSC itself, without the VMCS's
     * offset (SDM Vol. 3C 26.3 changes only the reads). */
    case MSR_TSC:
        c->tsc_offset = v - c->cycles;
        return true;
    case MSR_EFER:
        c->efer = v;
        if ((old ^ v) & EFER_NXE)
            mmu_flush_all(c);
        cpu_update_mode(c);
        return true;
    case MSR_FS_BASE:
    case MSR_GS_BASE:
        c->seg[index == MSR_FS_BASE ? SEG_FS : SEG_GS].base = v;
        return true;
    case MSR_APIC_BASE:
        c->apic_base = v;
        if (c->m && c->m->lapic)
            lapic_set_global_enable(c->m->lapic, v & APIC_BASE_EN);
        return true;
    default:
        *field(c, find(index)) = v;
        return true;
    }
}

bool msr_write(struct cpu *c, uint32_t index, uint64_t v)
{
    return msr_set(c, index, v) || cpu_fault(c, VEC_GP, 0);
}
