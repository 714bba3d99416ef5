/* System instructions: privileged state, I/O, descriptor tables, and the
 * sensitive-but-unprivileged instructions of virtualization courses
 * (SGDT, SIDT, SLDT, STR, SMSW, LAR, LSL, VERR, VERW work at CPL 3). */
#include "cpu/cpuid.h"
#include "cpu/exec.h"
#include "cpu/mmu.h"
#include "cpu/msr.h"
#include "cpu/ops.h"
#include "cpu/system.h"
#include "cpu/tlb_charge.h"
#include "machine.h"
#include "record/roi.h"

static bool require_cpl0(struct cpu *c)
{
    return c->cpl == 0 || cpu_fault(c, VEC_GP, 0);
}

bool exec_cpuid(struct cpu *c, const struct insn *i)
{
    (void)i;
    /* Executed by the CPU itself, so not under a hypervisor of ours: a
     * region-of-interest mark of a --mode bare image (record/roi.h). The
     * answer is the architectural one all the same. */
    if ((uint32_t)c->gpr[RAX] == ROI_LEAF)
        machine_roi_mark(c->m, (uint32_t)c->gpr[RCX], NULL);
    struct cpuid_result r = cpuid_query((uint32_t)c->gpr[RAX],
                                        (uint32_t)c->gpr[RCX]);
    cpuid_reflect_cr4(&r, (uint32_t)c->gpr[RAX], c->cr4);
    cpuid_apply_state(&r, (uint32_t)c->gpr[RAX], c->apic_base);
    gpr_set(c, RAX, 4, false, r.eax);
    gpr_set(c, RBX, 4, false, r.ebx);
    gpr_set(c, RCX, 4, false, r.ecx);
    gpr_set(c, RDX, 4, false, r.edx);
    return true;
}

/* RDTSC faults at CPL > 0 when CR4.TSD is set (SDM Vol. 2B "RDTSC"). */
bool exec_rdtsc(struct cpu *c, const struct insn *i)
{
    (void)i;
    if ((c->cr4 & CR4_TSD) && c->cpl != 0)
        return cpu_fault(c, VEC_GP, 0);
    uint64_t t = cpu_tsc(c);
    gpr_set(c, RAX, 4, false, t);
    gpr_set(c, RDX, 4, false, t >> 32);
    return true;
}

bool exec_rdtscp(struct cpu *c, const struct insn *i)
{
    if (!exec_rdtsc(c, i))
        return false;
    gpr_set(c, RCX, 4, false, c->tsc_aux);
    return true;
}

/* RDPMC (SDM Vol. 2B "RDPMC"). The CPU has no performance counters:
 * CPUID's maximum basic leaf is below 0xA, so software reads
 * architectural PMU version 0, and every counter index in ECX is
 * invalid, which is #GP(0); so is CPL > 0 with CR4.PCE clear. */
bool exec_rdpmc(struct cpu *c, const struct insn *i)
{
    (void)i;
    return cpu_fault(c, VEC_GP, 0);
}

bool exec_rdmsr(struct cpu *c, const struct insn *i)
{
    (void)i;
    uint64_t v;
    if (!require_cpl0(c) || !msr_read(c, (uint32_t)c->gpr[RCX], &v))
        return false;
    gpr_set(c, RAX, 4, false, v);
    gpr_set(c, RDX, 4, false, v >> 32);
    return true;
}

bool exec_wrmsr(struct cpu *c, const struct insn *i)
{
    (void)i;
    uint64_t v = (c->gpr[RDX] << 32) | (uint32_t)c->gpr[RAX];
    return require_cpl0(c) && msr_write(c, (uint32_t)c->gpr[RCX], v);
}

/* I/O permission: CPL <= IOPL, or every bit for the accessed ports clear
 * in the TSS I/O permission bitmap (SDM Vol. 1 19.5.2). */
bool sys_io_allowed(struct cpu *c, uint16_t port, unsigned size)
{
    if (c->cpl <= FL_IOPL_OF(flags_get(&c->flags)))
        return true;
    const struct segment *tr = &c->seg[SEG_TR];
    uint64_t base = 0, bits = 0;
    if ((tr->attr & SEG_ATTR_UNUSABLE) || tr->limit < 0x67 ||
        !lin_read(c, tr->base + 0x66, 2, &base, ACC_READ, false))
        return cpu_fault(c, VEC_GP, 0);
    uint64_t at = base + port / 8;
    if (at + 1 > tr->limit ||
        !lin_read(c, tr->base + at, 2, &bits, ACC_READ, false))
        return cpu_fault(c, VEC_GP, 0);
    if ((bits >> (port % 8)) & ((1u << size) - 1))
        return cpu_fault(c, VEC_GP, 0);
    return true;
}

static uint16_t port_of(const struct cpu *c, const struct operand *o)
{
    return o->kind == OPK_IMM ? (uint16_t)o->value : (uint16_t)c->gpr[RDX];
}

bool exec_in(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[0].size;
    uint16_t port = port_of(c, &i->op[1]);
    if (!sys_io_allowed(c, port, size))
        return false;
    uint64_t v = ~0ull;
    bus_read(&c->m->ports, port, size, &v);
    gpr_set(c, RAX, size, false, v);
    return true;
}

bool exec_out(struct cpu *c, const struct insn *i)
{
    unsigned size = i->op[1].size;
    uint16_t port = port_of(c, &i->op[0]);
    if (!sys_io_allowed(c, port, size))
        return false;
    bus_write(&c->m->ports, port, size, c->gpr[RAX] & size_mask(size));
    return true;
}

/* CLI/STI: CPL <= IOPL (no VME/PVI). STI blocks interrupts for one
 * instruction when it sets IF (SDM Vol. 2B "STI"). */
bool exec_cli(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (c->cpl > FL_IOPL_OF(flags_get(&c->flags)))
        return cpu_fault(c, VEC_GP, 0);
    flags_update(&c->flags, FL_IF, 0);
    return true;
}

bool exec_sti(struct cpu *c, const struct insn *i)
{
    (void)i;
    uint64_t f = flags_get(&c->flags);
    if (c->cpl > FL_IOPL_OF(f))
        return cpu_fault(c, VEC_GP, 0);
    if (!(f & FL_IF))
        c->interrupt_shadow = true;
    cpu_set_rflags(c, f | FL_IF);
    return true;
}

bool exec_hlt(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!require_cpl0(c))
        return false;
    c->halted = true;
    return true;
}

/* LGDT/LIDT: a 2-byte limit, then a 4-byte base (8 in 64-bit mode; 24
 * bits with a 16-bit operand size). */
bool exec_load_table(struct cpu *c, const struct insn *i)
{
    const struct operand *o = &i->op[0];
    if (!require_cpl0(c))
        return false;
    uint64_t ea = op_ea(c, i, o), limit, base;
    unsigned base_size = c->code64 ? 8 : 4;
    if (!mem_read(c, o->seg, ea, 2, &limit) ||
        !mem_read(c, o->seg, (ea + 2) & addr_mask(i), base_size, &base))
        return false;
    if (!c->code64 && i->opsize == 2)
        base &= 0xFFFFFF;
    if (c->code64 && !cpu_canonical(base))
        return cpu_fault(c, VEC_GP, 0);
    struct table_reg *t = i->sub == TBL_GDT ? &c->gdtr : &c->idtr;
    t->base = base;
    t->limit = (uint16_t)limit;
    return true;
}

bool exec_store_table(struct cpu *c, const struct insn *i)
{
    const struct operand *o = &i->op[0];
    const struct table_reg *t = i->sub == TBL_GDT ? &c->gdtr : &c->idtr;
    uint64_t ea = op_ea(c, i, o);
    unsigned base_size = c->code64 ? 8 : 4;
    return mem_write(c, o->seg, ea, 2, t->limit) &&
           mem_write(c, o->seg, (ea + 2) & addr_mask(i), base_size, t->base);
}

/* Reads a 16-bit selector operand. */
static bool selector_operand(struct cpu *c, const struct insn *i,
                             uint16_t *sel)
{
    uint64_t v;
    const struct operand *o = &i->op[0];
    if (o->kind == OPK_MEM) {
        if (!mem_read(c, o->seg, op_ea(c, i, o), 2, &v))
            return false;
    } else {
        v = c->gpr[o->reg];
    }
    *sel = (uint16_t)v;
    return true;
}

/* LLDT/LTR take a GDT system descriptor, 16 bytes in IA-32e mode. */
static bool load_system_segment(struct cpu *c, unsigned seg, uint16_t sel,
                                unsigned type, unsigned busy_type)
{
    if (sel & 4)
        return cpu_fault(c, VEC_GP, sel & 0xFFFC);
    uint64_t d, high = 0;
    if (!seg_read_descriptor(c, sel, &d))
        return false;
    unsigned t = (d >> 40) & 0x1F; /* S and type */
    if (t != type)
        return cpu_fault(c, VEC_GP, sel & 0xFFFC);
    if (!(d & (1ull << 47)))
        return cpu_fault(c, VEC_NP, sel & 0xFFFC);
    if (c->long_mode) {
        if (!seg_read_descriptor_high(c, sel, &high))
            return false;
        if (!cpu_canonical((high << 32) | ((d >> 16) & 0xFFFFFF) |
                          ((d >> 32) & 0xFF000000)))
            return cpu_fault(c, VEC_GP, sel & 0xFFFC);
    }
    if (busy_type) { /* LTR marks the TSS busy in the GDT */
        uint8_t access = (uint8_t)((d >> 40) | 2);
        if (!lin_write(c, c->gdtr.base + (sel & 0xFFF8) + 5, 1, &access,
                       false))
            return false;
        d |= 2ull << 40;
    }
    struct segment s;
    seg_from_descriptor(&s, sel, d);
    s.base |= (high & 0xFFFFFFFF) << 32;
    c->seg[seg] = s;
    return true;
}

bool exec_lldt(struct cpu *c, const struct insn *i)
{
    uint16_t sel;
    if (!require_cpl0(c) || !selector_operand(c, i, &sel))
        return false;
    if ((sel & 0xFFFC) == 0) {
        c->seg[SEG_LDTR] = (struct segment){.sel = sel,
                                            .attr = SEG_ATTR_UNUSABLE};
        return true;
    }
    return load_system_segment(c, SEG_LDTR, sel, 0x02, 0);
}

bool exec_ltr(struct cpu *c, const struct insn *i)
{
    uint16_t sel;
    if (!require_cpl0(c) || !selector_operand(c, i, &sel))
        return false;
    if ((sel & 0xFFFC) == 0)
        return cpu_fault(c, VEC_GP, 0);
    return load_system_segment(c, SEG_TR, sel, 0x09, 1);
}

/* SLDT, STR, SMSW: a register destination gets the value zero-extended
 * to its size, memory gets 16 bits. */
static bool store_selector(struct cpu *c, const struct insn *i, uint64_t v)
{
    const struct operand *o = &i->op[0];
    if (o->kind == OPK_MEM)
        return mem_write(c, o->seg, op_ea(c, i, o), 2, v & 0xFFFF);
    gpr_set(c, o->reg, o->size, false, v & size_mask(o->size));
    return true;
}

bool exec_sldt(struct cpu *c, const struct insn *i)
{
    return store_selector(c, i, c->seg[SEG_LDTR].sel);
}

bool exec_str(struct cpu *c, const struct insn *i)
{
    return store_selector(c, i, c->seg[SEG_TR].sel);
}

bool exec_smsw(struct cpu *c, const struct insn *i)
{
    return store_selector(c, i, c->cr0);
}

/* LMSW loads CR0 bits 3:0; it can set PE but never clear it. */
bool exec_lmsw(struct cpu *c, const struct insn *i)
{
    uint16_t v;
    if (!require_cpl0(c) || !selector_operand(c, i, &v))
        return false;
    uint64_t cr0 = (c->cr0 & ~0xEull) | (v & 0xF) | (c->cr0 & CR0_PE);
    return sys_write_cr(c, 0, cr0);
}

bool exec_clts(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!require_cpl0(c))
        return false;
    c->cr0 &= ~CR0_TS;
    return true;
}

bool exec_invlpg(struct cpu *c, const struct insn *i)
{
    const struct operand *o = &i->op[0];
    if (!require_cpl0(c))
        return false;
    /* The address is not accessed: no canonical fault, INVLPG of a
     * non-canonical address is a no-op (SDM Vol. 2A "INVLPG"). */
    uint64_t lin = seg_offset_linear(c, o->seg, op_ea(c, i, o));
    tlb_flush_page(&c->tlb, lin);
    tlbm_invlpg(c->mtlb, tlb_charge_tag(c), lin);
    return true;
}

/* WBINVD, INVD: privileged; there are no caches to write back. */
bool exec_privileged_nop(struct cpu *c, const struct insn *i)
{
    (void)i;
    return require_cpl0(c);
}

bool exec_swapgs(struct cpu *c, const struct insn *i)
{
    (void)i;
    if (!c->code64)
        return cpu_fault_noerr(c, VEC_UD);
    if (!require_cpl0(c))
        return false;
    uint64_t t = c->seg[SEG_GS].base;
    c->seg[SEG_GS].base = c->kernel_gs_base;
    c->kernel_gs_base = t;
    return true;
}

/* The descriptor LAR/LSL/VERR/VERW examine, with their visibility rules:
 * no fault for a bad selector, just ZF = 0 (SDM Vol. 2A "LAR"). */
static bool visible_descriptor(struct cpu *c, uint16_t sel, uint64_t *d)
{
    if ((sel & 0xFFFC) == 0)
        return false;
    uint64_t base = c->gdtr.base;
    uint32_t limit = c->gdtr.limit;
    if (sel & 4) {
        const struct segment *ldt = &c->seg[SEG_LDTR];
        if (ldt->attr & SEG_ATTR_UNUSABLE)
            return false;
        base = ldt->base;
        limit = ldt->limit;
    }
    if ((uint32_t)(sel & 0xFFF8) + 7 > limit)
        return false;
    if (!lin_read(c, base + (sel & 0xFFF8), 8, d, ACC_READ, false)) {
        return false; /* the fault stays raised */
    }
    unsigned type = (*d >> 40) & 0xF, dpl = (*d >> 45) & 3;
    bool conforming_code = (*d & (1ull << 44)) && (type & 0xC) == 0xC;
    return conforming_code || (dpl >= c->cpl && dpl >= (sel & 3u));
}

/* System descriptor types LAR and LSL accept (IA-32e mode: LDT, 64-bit
 * TSS available/busy, and for LAR call gates). */
static bool system_type_ok(const struct cpu *c, unsigned type, bool lar)
{
    if (c->long_mode)
        return type == 2 || type == 9 || type == 0xB || (lar && type == 0xC);
    return type == 1 || type == 2 || type == 3 || type == 9 || type == 0xB ||
           (lar && (type == 4 || type == 5 || type == 0xC));
}

static bool examine(struct cpu *c, const struct insn *i, unsigned k,
                    uint16_t *sel, uint64_t *d, bool *ok)
{
    uint64_t v;
    if (!op_read(c, i, k, &v))
        return false;
    *sel = (uint16_t)v;
    *ok = visible_descriptor(c, *sel, d);
    return !c->exc.raised;
}

/* LAR loads the descriptor's access rights, LSL its limit (in bytes when
 * G is set); ZF says whether the selector passed the checks. */
static bool load_descriptor_field(struct cpu *c, const struct insn *i,
                                  bool lar)
{
    uint16_t sel;
    uint64_t d = 0;
    bool ok;
    if (!examine(c, i, 1, &sel, &d, &ok))
        return false;
    if (ok && !(d & (1ull << 44)))
        ok = system_type_ok(c, (d >> 40) & 0xF, lar);
    if (ok) {
        struct segment s;
        seg_from_descriptor(&s, sel, d);
        gpr_set(c, i->op[0].reg, i->op[0].size, false,
                lar ? (d >> 32) & 0x00F0FF00 : s.limit);
    }
    flags_update(&c->flags, FL_ZF, ok ? FL_ZF : 0);
    return true;
}

bool exec_lar(struct cpu *c, const struct insn *i)
{
    return load_descriptor_field(c, i, true);
}

bool exec_lsl(struct cpu *c, const struct insn *i)
{
    return load_descriptor_field(c, i, false);
}

static bool verify(struct cpu *c, const struct insn *i, bool write)
{
    uint16_t sel;
    uint64_t d = 0;
    bool ok;
    if (!examine(c, i, 0, &sel, &d, &ok))
        return false;
    if (ok) {
        unsigned type = (d >> 40) & 0xF;
        bool code = type & 8;
        ok = (d & (1ull << 44)) &&
             (write ? (!code && (type & 2)) : (!code || (type & 2)));
    }
    flags_update(&c->flags, FL_ZF, ok ? FL_ZF : 0);
    return true;
}

bool exec_verr(struct cpu *c, const struct insn *i) { return verify(c, i, false); }
bool exec_verw(struct cpu *c, const struct insn *i) { return verify(c, i, true); }

/* ---- MOV to and from segment, control and debug registers ---- */

bool sys_mov_to_seg(struct cpu *c, const struct insn *i)
{
    unsigned seg = i->op[0].reg;
    uint64_t v;
    if (seg == SEG_CS)
        return cpu_fault_noerr(c, VEC_UD);
    if (!op_read(c, i, 1, &v) || !seg_load_data(c, seg, (uint16_t)v))
        return false;
    if (seg == SEG_SS) {
        c->interrupt_shadow = true; /* SDM Vol. 3A 7.8.3 */
        debug_mov_ss(c);
    }
    return true;
}

bool sys_mov_from_seg(struct cpu *c, const struct insn *i)
{
    uint16_t sel = c->seg[i->op[1].reg].sel;
    const struct operand *o = &i->op[0];
    if (o->kind == OPK_MEM)
        return mem_write(c, o->seg, op_ea(c, i, o), 2, sel);
    gpr_set(c, o->reg, o->size, false, sel);
    return true;
}

bool sys_pop_seg(struct cpu *c, unsigned seg, uint64_t value, unsigned size)
{
    if (!seg_load_data(c, seg, (uint16_t)value))
        return false;
    gpr_set(c, RSP, stack_addr_size(c), false, c->gpr[RSP] + size);
    if (seg == SEG_SS) {
        c->interrupt_shadow = true;
        debug_mov_ss(c);
    }
    return true;
}

/* CR8 is the local APIC's TPR[7:4] in 64-bit mode (SDM Vol. 3A 11.8.6.1:
 * a write of CR8 sets TPR[7:4] and clears TPR[3:0], a read returns
 * TPR[7:4]). It goes through the APIC's registers on the bus, so that the
 * APIC sees the new priority at once; with the APIC globally disabled
 * (IA32_APIC_BASE bit 11 clear) CR8 is plain storage. */
#define APIC_GLOBAL_ENABLE (1ull << 11)
#define APIC_TPR_OFFSET 0x80

static bool cr8_is_tpr(const struct cpu *c)
{
    return c->m->lapic && (c->apic_base & APIC_GLOBAL_ENABLE);
}

static uint64_t tpr_address(const struct cpu *c)
{
    return (c->apic_base & ~0xFFFull & ((1ull << PHYS_ADDR_BITS) - 1)) +
           APIC_TPR_OFFSET;
}

static uint64_t read_cr8(struct cpu *c)
{
    if (!cr8_is_tpr(c))
        return c->cr8;
    uint32_t tpr;
    phys_read(c, tpr_address(c), 4, &tpr);
    return (tpr >> 4) & 0xF;
}

static void write_cr8(struct cpu *c, uint64_t v)
{
    c->cr8 = v;
    if (cr8_is_tpr(c)) {
        uint32_t tpr = (uint32_t)(v << 4);
        phys_write(c, tpr_address(c), 4, &tpr);
    }
}

/* CR4 bits this CPU implements (and reports through CPUID). */
#define CR4_SUPPORTED (CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | \
                       CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE)
#define CR3_RESERVED_64 (~((1ull << 39) - 1))

bool sys_cr_write_ok(unsigned n, uint64_t v, const struct cr_state *s)
{
    switch (n) {
    case 0: {
        /* SDM Vol. 2B "MOV—Move to/from Control Registers", Vol. 3A 2.5. */
        if (v >> 32)
            return false;
        if (((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
            return false;
        bool paging_on = (v & CR0_PG) && !(s->cr0 & CR0_PG);
        bool paging_off = !(v & CR0_PG) && (s->cr0 & CR0_PG);
        /* Entering IA-32e mode needs CR4.PAE and a CS without L (3A
         * 10.8.5); leaving it is not allowed from 64-bit code. */
        if (paging_on && (s->efer & EFER_LME) &&
            (!(s->cr4 & CR4_PAE) || s->cs_long))
            return false;
        return !(paging_off && s->code64);
    }
    case 3:
        return !((s->efer & EFER_LMA) && (v & CR3_RESERVED_64));
    case 4:
        /* CR4.VMXE: VMX belongs to L0. Its guests run with it set (VMX
         * fixes it to 1 in non-root operation); anywhere else it is a
         * reserved bit, as CPUID reports no VMX. */
        if (v & ~(CR4_SUPPORTED | (s->vmxe_allowed ? CR4_VMXE : 0)))
            return false;
        return !((s->efer & EFER_LMA) && !(v & CR4_PAE));
    case 8:
        return !(v & ~0xFull);
    default: /* CR2 takes any value; the others are #UD (sys_write_cr) */
        return true;
    }
}

bool sys_write_cr(struct cpu *c, unsigned n, uint64_t v)
{
    struct cr_state s = {
        .cr0 = c->cr0, .cr4 = c->cr4, .efer = c->efer,
        .cs_long = c->seg[SEG_CS].attr & SEG_ATTR_L, .code64 = c->code64,
        .vmxe_allowed = c->vmx.nonroot,
    };
    if (!sys_cr_write_ok(n, v, &s))
        return cpu_fault(c, VEC_GP, 0);
    switch (n) {
    case 0: {
        if (!(v & CR0_PE)) {
            machine_stop(c->m, STOP_INTERNAL, 0,
                         "the guest cleared CR0.PE at rip %#llx: real mode "
                         "is not emulated", (unsigned long long)c->rip);
            return cpu_fault(c, VEC_GP, 0);
        }
        bool paging_on = (v & CR0_PG) && !(c->cr0 & CR0_PG);
        bool paging_off = !(v & CR0_PG) && (c->cr0 & CR0_PG);
        if (paging_on && (c->efer & EFER_LME))
            c->efer |= EFER_LMA; /* SDM Vol. 3A 10.8.5 */
        if (paging_off)
            c->efer &= ~EFER_LMA;
        uint64_t changed = (c->cr0 ^ v) & (CR0_PG | CR0_WP | CR0_PE);
        /* The modeled TLB: only PG going from 1 to 0 invalidates, every
         * entry of the VPID (SDM Vol. 3A 4.10.4.1). */
        if (paging_off)
            tlbm_flush_vpid(c->mtlb, tlb_charge_tag(c).vpid);
        c->cr0 = v | CR0_ET;
        if (changed)
            mmu_flush_all(c);
        cpu_update_mode(c);
        return true;
    }
    case 2:
        c->cr2 = v;
        return true;
    case 3:
        c->cr3 = c->long_mode ? v : (uint32_t)v;
        /* The modeled TLB: the non-global entries of the PCID loaded,
         * unless CR4.PCIDE = 1 and bit 63 is set (4.10.4.1). This CPU
         * has no PCIDs (CPUID), so that is PCID 000H. */
        if (!((c->cr4 & CR4_PCIDE) && (v >> 63)))
            tlbm_mov_cr3(c->mtlb, tlb_charge_tag(c).vpid,
                         tlb_charge_tag(c).pcid);
        if (c->cr4 & CR4_PGE)
            tlb_flush_nonglobal(&c->tlb);
        else
            mmu_flush_all(c);
        return true;
    case 4:
        if ((c->cr4 ^ v) & (CR4_PSE | CR4_PAE | CR4_PGE))
            mmu_flush_all(c);
        /* The modeled TLB (4.10.4.1): PGE changing (or PCIDE going to 0)
         * drops every entry of the VPID, PAE changing those of the PCID. */
        if ((c->cr4 ^ v) & CR4_PGE ||
            ((c->cr4 & ~v) & CR4_PCIDE))
            tlbm_flush_vpid(c->mtlb, tlb_charge_tag(c).vpid);
        else if ((c->cr4 ^ v) & CR4_PAE)
            tlbm_flush_pcid(c->mtlb, tlb_charge_tag(c).vpid,
                            tlb_charge_tag(c).pcid);
        c->cr4 = v;
        return true;
    case 8:
        write_cr8(c, v);
        return true;
    default:
        return cpu_fault_noerr(c, VEC_UD);
    }
}

static bool debug_register_index(struct cpu *c, unsigned *n)
{
    /* DR4/DR5 alias DR6/DR7 unless CR4.DE (SDM Vol. 3B 18.2.2). */
    if (*n == 4 || *n == 5) {
        if (c->cr4 & CR4_DE)
            return cpu_fault_noerr(c, VEC_UD);
        *n += 2;
    }
    return *n < 8 || cpu_fault_noerr(c, VEC_UD);
}

bool sys_mov_to_crdr(struct cpu *c, const struct insn *i)
{
    const struct operand *d = &i->op[0];
    uint64_t v = c->gpr[i->op[1].reg] & size_mask(i->op[1].size);
    if (!require_cpl0(c))
        return false;
    if (d->rclass == RC_CR)
        return sys_write_cr(c, d->reg, v);
    unsigned n = d->reg;
    if (c->dr[7] & DR7_GD)
        return debug_general_detect(c);
    if (!debug_register_index(c, &n))
        return false;
    if (n >= 6 && (v >> 32))
        return cpu_fault(c, VEC_GP, 0);
    c->dr[n] = n == 6 ? debug_dr6_value(v) : n == 7 ? debug_dr7_value(v) : v;
    if (n != 6)
        debug_update(c);
    return true;
}

bool sys_mov_from_crdr(struct cpu *c, const struct insn *i)
{
    const struct operand *s = &i->op[1];
    uint64_t v;
    if (!require_cpl0(c))
        return false;
    if (s->rclass == RC_CR) {
        switch (s->reg) {
        case 0: v = c->cr0; break;
        case 2: v = c->cr2; break;
        case 3: v = c->cr3; break;
        case 4: v = c->cr4; break;
        case 8: v = read_cr8(c); break;
        default: return cpu_fault_noerr(c, VEC_UD);
        }
    } else {
        unsigned n = s->reg;
        if (c->dr[7] & DR7_GD)
            return debug_general_detect(c);
        if (!debug_register_index(c, &n))
            return false;
        v = c->dr[n];
    }
    gpr_set(c, i->op[0].reg, i->op[0].size, false, v);
    return true;
}
