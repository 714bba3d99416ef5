/* The instructions that cause VM exits in VMX non-root operation (SDM
 * Vol. 3C 26.1), one table-like switch over the instruction, and the
 * exit information each exit carries (28.2.1 qualifications, 28.2.5
 * instruction information).
 *
 * vmx_intercept returns true when the instruction's own handler must not
 * run: a VM exit is pending, an exception is pending, or the instruction
 * was carried out here because VMX changes what it does (shadowed CR
 * reads, masked CR writes, VMREAD/VMWRITE on a shadow VMCS).
 *
 * Priority (SDM Vol. 3C 26.1.1): exceptions an instruction checks before
 * anything else (#UD, #GP for privileged instructions at CPL > 0, the
 * I/O permission check) win over the VM exit, so those instructions are
 * let through to their handler when such an exception applies. */
#include <capstone/capstone.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/exec.h"
#include "cpu/mmu.h"
#include "cpu/ops.h"
#include "cpu/system.h"
#include "machine.h"
#include "vmx/exit_cond.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

/* An instruction-caused exit: pending, taken at the instruction. */
static bool exit_with(struct cpu *c, uint32_t reason, uint64_t qual,
                      uint32_t info)
{
    vmx_request_exit(c, reason, qual);
    c->vmx.request.insn_info = info;
    return true;
}

/* The VM-exit instruction-information field for an instruction with one
 * memory or register operand `o` and an optional register `reg2` (SDM
 * Vol. 3C 28.2.5, Tables 28-9 to 28-13 share this layout). */
static uint32_t insn_info(const struct insn *i, const struct operand *o,
                          int reg1, int reg2)
{
    static const uint32_t addr_size[9] = {[2] = 0, [4] = 1, [8] = 2};
    uint32_t info = addr_size[i->addrsize] << 7;
    if (o->kind == OPK_MEM) {
        unsigned scale = o->scale == 8 ? 3 : o->scale == 4 ? 2
                         : o->scale == 2 ? 1 : 0;
        info |= scale;
        info |= (uint32_t)o->seg << 15;
        if (o->index == BASE_NONE)
            info |= 1u << 22;
        else
            info |= (uint32_t)o->index << 18;
        if (o->base == BASE_NONE || o->base == BASE_RIP)
            info |= 1u << 27;
        else
            info |= (uint32_t)o->base << 23;
    } else {
        info |= 1u << 10; /* register operand */
        info |= (uint32_t)o->reg << 3;
    }
    if (reg1 >= 0)
        info |= (uint32_t)reg1 << 3;
    if (reg2 >= 0)
        info |= (uint32_t)reg2 << 28;
    return info;
}

/* For memory operands the qualification holds the displacement; with
 * RIP-relative addressing, the displacement plus the RIP of the next
 * instruction, the address the instruction uses (SDM Vol. 3C 28.2.1,
 * Table 28-1). The instruction information then names no base and no
 * index register. */
static uint64_t displacement(const struct cpu *c, const struct operand *o)
{
    if (o->kind != OPK_MEM)
        return 0;
    return (uint64_t)o->value + (o->base == BASE_RIP ? c->next_rip : 0);
}

/* ---- control registers ---------------------------------------------- */

static struct vmx_cr_controls cr_controls(const struct cpu *c)
{
    const struct vmcs *v = c->vmx.vmcs;
    struct vmx_cr_controls k = {
        .proc_ctls = c->vmx.proc,
        .cr0_mask = vmcs_get(v, VMCS_IDX_CR0_MASK),
        .cr0_shadow = vmcs_get(v, VMCS_IDX_CR0_READ_SHADOW),
        .cr4_mask = vmcs_get(v, VMCS_IDX_CR4_MASK),
        .cr4_shadow = vmcs_get(v, VMCS_IDX_CR4_READ_SHADOW),
        .cr3_target_count =
            (unsigned)vmcs_get(v, VMCS_IDX_CR3_TARGET_COUNT),
    };
    static const enum vmcs_index targets[VMX_CR3_TARGETS_MAX] = {
        VMCS_IDX_CR3_TARGET0, VMCS_IDX_CR3_TARGET1, VMCS_IDX_CR3_TARGET2,
        VMCS_IDX_CR3_TARGET3};
    for (unsigned t = 0; t < VMX_CR3_TARGETS_MAX; t++)
        k.cr3_target[t] = vmcs_get(v, targets[t]);
    return k;
}

/* MOV to/from CR: exits, or for reads of CR0/CR4 the shadowed value
 * (SDM 26.3: bits owned by the host read from the shadow). */
static bool intercept_mov_cr(struct cpu *c, const struct insn *i)
{
    bool to_cr = i->op[0].rclass == RC_CR;
    const struct operand *cr = to_cr ? &i->op[0] : &i->op[1];
    const struct operand *gpr = to_cr ? &i->op[1] : &i->op[0];
    struct vmx_cr_controls k = cr_controls(c);
    struct vmx_cr_access a = {
        .type = to_cr ? VMX_CR_MOV_TO : VMX_CR_MOV_FROM,
        .cr = cr->reg,
        .gpr = gpr->reg,
        .value = to_cr ? c->gpr[gpr->reg] : 0,
    };
    if (vmx_cr_access_exits(&k, &a))
        return exit_with(c, VMX_EXIT_CR_ACCESS, vmx_cr_qualification(&a), 0);
    if (to_cr && (cr->reg == 0 || cr->reg == 4)) {
        /* Host-owned bits keep their value (SDM 26.3, MOV to CR0/CR4). */
        uint64_t old = cr->reg == 0 ? c->cr0 : c->cr4;
        uint64_t mask = cr->reg == 0 ? k.cr0_mask : k.cr4_mask;
        uint64_t v = (a.value & ~mask) | (old & mask);
        sys_write_cr(c, cr->reg, v);
        return true;
    }
    if (!to_cr && (cr->reg == 0 || cr->reg == 4)) {
        uint64_t v = cr->reg == 0
                         ? vmx_cr_read_shadowed(c->cr0, k.cr0_mask, k.cr0_shadow)
                         : vmx_cr_read_shadowed(c->cr4, k.cr4_mask, k.cr4_shadow);
        gpr_set(c, gpr->reg, 8, false, v);
        return true;
    }
    return false; /* CR2, CR3 and CR8 without exiting: as usual */
}

static bool intercept_clts_lmsw(struct cpu *c, const struct insn *i, bool lmsw)
{
    struct vmx_cr_controls k = cr_controls(c);
    struct vmx_cr_access a = {.type = lmsw ? VMX_CR_LMSW : VMX_CR_CLTS};
    if (lmsw) {
        uint64_t v;
        if (!op_read(c, i, 0, &v))
            return true; /* the fault is pending */
        a.value = v & 0xFFFF;
        a.lmsw_memory = i->op[0].kind == OPK_MEM;
        if (!a.lmsw_memory)
            a.gpr = i->op[0].reg;
    }
    if (vmx_cr_access_exits(&k, &a)) {
        exit_with(c, VMX_EXIT_CR_ACCESS, vmx_cr_qualification(&a), 0);
        /* LMSW with a memory operand: the linear address (28.2.1). */
        if (lmsw && a.lmsw_memory)
            c->vmx.request.guest_linear = op_ea(c, i, &i->op[0]);
        return true;
    }
    sys_write_cr(c, 0, vmx_cr_write_result(&k, &a, c->cr0));
    return true;
}

/* SMSW of a register: host-owned CR0 bits from the read shadow. */
static bool intercept_smsw(struct cpu *c, const struct insn *i)
{
    const struct vmcs *v = c->vmx.vmcs;
    uint64_t cr0 = vmx_cr_read_shadowed(c->cr0, vmcs_get(v, VMCS_IDX_CR0_MASK),
                                        vmcs_get(v, VMCS_IDX_CR0_READ_SHADOW));
    const struct operand *o = &i->op[0];
    if (o->kind == OPK_MEM)
        mem_write(c, o->seg, op_ea(c, i, o), 2, cr0 & 0xFFFF);
    else
        gpr_set(c, o->reg, o->size, false, cr0 & size_mask(o->size));
    return true;
}

/* MOV DR: qualification bits 2:0 register, 4 direction, 11:8 GPR
 * (SDM Vol. 3C Table 28-4). */
static bool intercept_mov_dr(struct cpu *c, const struct insn *i)
{
    if (!(c->vmx.proc & PROC_MOV_DR_EXITING))
        return false;
    bool to_dr = i->op[0].rclass == RC_DR;
    const struct operand *dr = to_dr ? &i->op[0] : &i->op[1];
    const struct operand *gpr = to_dr ? &i->op[1] : &i->op[0];
    uint64_t qual = (dr->reg & 7) | (to_dr ? 0 : 1u << 4) |
                    ((uint64_t)gpr->reg << 8);
    return exit_with(c, VMX_EXIT_MOV_DR, qual, 0);
}

/* ---- I/O and MSRs ------------------------------------------------------ */

/* Whether an access of `size` bytes at `port` exits: never when the I/O
 * permission check faults (that #GP comes first, 26.1.1, and the
 * instruction's handler raises it), otherwise by the I/O controls and
 * bitmaps. */
static bool io_exits(struct cpu *c, uint16_t port, unsigned size)
{
    if (!sys_io_allowed(c, port, size)) {
        c->exc.raised = false;
        return false;
    }
    const struct vmcs *v = c->vmx.vmcs;
    return vmx_io_exits(c->vmx.proc, vmcs_get(v, VMCS_IDX_IO_BITMAP_A),
                        vmcs_get(v, VMCS_IDX_IO_BITMAP_B), port, size,
                        vmx_read_host, c);
}

static bool intercept_io(struct cpu *c, const struct insn *i, bool in)
{
    const struct operand *port_op = in ? &i->op[1] : &i->op[0];
    const struct operand *data = in ? &i->op[0] : &i->op[1];
    uint16_t port = port_op->kind == OPK_IMM ? (uint16_t)port_op->value
                                             : (uint16_t)c->gpr[RDX];
    unsigned size = data->size;
    if (!io_exits(c, port, size))
        return false;
    struct vmx_io_access io = {.port = port, .size = size, .in = in,
                               .immediate = port_op->kind == OPK_IMM};
    return exit_with(c, VMX_EXIT_IO, vmx_io_qualification(&io), 0);
}

/* INS/OUTS: the exit of IN/OUT with the string bit, the REP bit and the
 * port in DX (Table 28-5), whatever the count in RCX; the instruction
 * information of Table 28-8 (address size in 9:7, the source segment in
 * 17:15 for OUTS, undefined for INS) and the linear address of the
 * memory operand, ES:rDI or seg:rSI (28.2.1). */
static bool intercept_string_io(struct cpu *c, const struct insn *i, bool in)
{
    static const uint32_t addr_size[9] = {[2] = 0, [4] = 1, [8] = 2};
    struct vmx_cpu *x = &c->vmx;
    uint16_t port = (uint16_t)c->gpr[RDX];
    unsigned size = string_element_size(i);
    if (x->string_io_pass && x->string_io_pass_rip == c->rip) {
        x->string_io_pass = false; /* L0 lets it run this once */
        return false;
    }
    if (!io_exits(c, port, size))
        return false;
    unsigned seg = in ? SEG_ES : string_source_seg(i);
    uint64_t off = c->gpr[in ? RDI : RSI] & addr_mask(i);
    struct vmx_io_access io = {.port = port, .size = size, .in = in,
                               .string = true, .rep = i->rep != REP_NONE};
    uint32_t info = addr_size[i->addrsize] << 7 | (in ? 0 : seg << 15);
    exit_with(c, VMX_EXIT_IO, vmx_io_qualification(&io), info);
    c->vmx.request.guest_linear = seg_offset_linear(c, seg, off);
    return true;
}

static bool intercept_msr(struct cpu *c, bool write)
{
    const struct vmcs *v = c->vmx.vmcs;
    if (!vmx_msr_exits(c->vmx.proc, vmcs_get(v, VMCS_IDX_MSR_BITMAP),
                       (uint32_t)c->gpr[RCX], write, vmx_read_host, c))
        return false;
    return exit_with(c, write ? VMX_EXIT_WRMSR : VMX_EXIT_RDMSR, 0, 0);
}

/* ---- VMX instructions -------------------------------------------------- */

/* Without a VMCS shadow in use, every VMX instruction in non-root
 * operation exits (SDM Vol. 3C 26.1.2), once its #UD conditions are
 * passed: CR4.VMXE set and not in compatibility mode. */
static bool vmx_insn_ud(const struct cpu *c)
{
    return !(c->cr4 & CR4_VMXE) || (c->long_mode && !c->code64);
}

static uint32_t vmx_exit_reason_of(unsigned id)
{
    switch (id) {
    case X86_INS_VMCALL: return VMX_EXIT_VMCALL;
    case X86_INS_VMCLEAR: return VMX_EXIT_VMCLEAR;
    case X86_INS_VMLAUNCH: return VMX_EXIT_VMLAUNCH;
    case X86_INS_VMPTRLD: return VMX_EXIT_VMPTRLD;
    case X86_INS_VMPTRST: return VMX_EXIT_VMPTRST;
    case X86_INS_VMREAD: return VMX_EXIT_VMREAD;
    case X86_INS_VMRESUME: return VMX_EXIT_VMRESUME;
    case X86_INS_VMWRITE: return VMX_EXIT_VMWRITE;
    case X86_INS_VMXOFF: return VMX_EXIT_VMXOFF;
    case X86_INS_VMXON: return VMX_EXIT_VMXON;
    case X86_INS_INVEPT: return VMX_EXIT_INVEPT;
    case X86_INS_INVVPID: return VMX_EXIT_INVVPID;
    default: return VMX_EXIT_VMCALL; /* not reached: the cases above */
    }
}

static bool intercept_vmx(struct cpu *c, const struct insn *i)
{
    /* VMCALL exits whatever CR4.VMXE says (SDM Vol. 2C "VMCALL"). */
    if (i->id != X86_INS_VMCALL && vmx_insn_ud(c))
        return false; /* the handler raises #UD */
    if ((i->id == X86_INS_VMREAD || i->id == X86_INS_VMWRITE) &&
        vmx_shadow_access(c, i))
        return true;
    uint32_t info = 0;
    uint64_t qual = 0;
    switch (i->id) {
    case X86_INS_VMREAD: /* reg1: the field register; op0: destination */
        info = insn_info(i, &i->op[0], -1, i->op[1].reg);
        qual = displacement(c, &i->op[0]);
        break;
    case X86_INS_VMWRITE:
        info = insn_info(i, &i->op[1], -1, i->op[0].reg);
        qual = displacement(c, &i->op[1]);
        break;
    case X86_INS_VMCLEAR:
    case X86_INS_VMPTRLD:
    case X86_INS_VMPTRST:
    case X86_INS_VMXON:
        info = insn_info(i, &i->op[0], -1, -1);
        qual = displacement(c, &i->op[0]);
        break;
    case X86_INS_INVEPT:
    case X86_INS_INVVPID: /* reg2: the type register */
        info = insn_info(i, &i->op[1], -1, i->op[0].reg);
        qual = displacement(c, &i->op[1]);
        break;
    default:
        break;
    }
    return exit_with(c, vmx_exit_reason_of(i->id), qual, info);
}

/* ---- descriptor tables ------------------------------------------------- */

/* LGDT/LIDT/SGDT/SIDT (reason 46) and LLDT/LTR/SLDT/STR (47): the
 * identity goes in bits 29:28 of the instruction information. */
static bool intercept_descriptor(struct cpu *c, const struct insn *i,
                                 uint32_t reason, unsigned identity,
                                 bool privileged)
{
    if (!(c->vmx.proc2 & PROC2_DESC_TABLE_EXITING) ||
        (privileged && c->cpl != 0))
        return false;
    uint32_t info = insn_info(i, &i->op[0], -1, -1) | identity << 28;
    if (i->op[0].kind == OPK_MEM && i->opsize == 4)
        info |= 1u << 11; /* 32-bit operand size */
    return exit_with(c, reason, displacement(c, &i->op[0]), info);
}

bool vmx_intercept(struct cpu *c, const struct insn *i)
{
    struct vmx_cpu *x = &c->vmx;
    bool cpl0 = c->cpl == 0;
    x->insn_len = i->len;
    switch (i->id) {
    case X86_INS_CPUID:
        return exit_with(c, VMX_EXIT_CPUID, 0, 0);
    case X86_INS_INVD:
        /* Always exits, after the #GP(0) of CPL > 0 (SDM Vol. 3C
         * 26.1.1, 26.1.2); the handler raises that #GP. */
        return cpl0 && exit_with(c, VMX_EXIT_INVD, 0, 0);
    case X86_INS_XSETBV:
        /* Always exits (26.1.2), after the #UD of CR4.OSXSAVE and the
         * privilege check, which come first (26.1.1). */
        return (c->cr4 & CR4_OSXSAVE) && cpl0 &&
               exit_with(c, VMX_EXIT_XSETBV, 0, 0);
    case X86_INS_HLT:
        return cpl0 && (x->proc & PROC_HLT_EXITING) &&
               exit_with(c, VMX_EXIT_HLT, 0, 0);
    case X86_INS_INVLPG:
        return cpl0 && (x->proc & PROC_INVLPG_EXITING) &&
               exit_with(c, VMX_EXIT_INVLPG, op_ea(c, i, &i->op[0]), 0);
    case X86_INS_RDTSC:
        return !((c->cr4 & CR4_TSD) && !cpl0) &&
               (x->proc & PROC_RDTSC_EXITING) &&
               exit_with(c, VMX_EXIT_RDTSC, 0, 0);
    case X86_INS_RDTSCP:
        /* Without "enable RDTSCP" the guest gets #UD (SDM 26.3). */
        if (!(x->proc2 & PROC2_RDTSCP)) {
            cpu_fault_noerr(c, VEC_UD);
            return true;
        }
        return !((c->cr4 & CR4_TSD) && !cpl0) &&
               (x->proc & PROC_RDTSC_EXITING) &&
               exit_with(c, VMX_EXIT_RDTSCP, 0, 0);
    case X86_INS_RDPMC:
        /* The CPL/CR4.PCE #GP comes first (26.1.1); the #GP of a counter
         * that does not exist comes after the exit (26.1.3). */
        return !(!(c->cr4 & CR4_PCE) && !cpl0) &&
               (x->proc & PROC_RDPMC_EXITING) &&
               exit_with(c, VMX_EXIT_RDPMC, 0, 0);
    case X86_INS_PAUSE:
        return (x->proc & PROC_PAUSE_EXITING) &&
               exit_with(c, VMX_EXIT_PAUSE, 0, 0);
    case X86_INS_WBINVD:
        return cpl0 && (x->proc2 & PROC2_WBINVD_EXITING) &&
               exit_with(c, VMX_EXIT_WBINVD, 0, 0);
    case X86_INS_MOV:
        if (!cpl0)
            return false;
        if (i->op[0].rclass == RC_CR || i->op[1].rclass == RC_CR)
            return intercept_mov_cr(c, i);
        if (i->op[0].rclass == RC_DR || i->op[1].rclass == RC_DR)
            return intercept_mov_dr(c, i);
        return false;
    case X86_INS_CLTS:
        return cpl0 && intercept_clts_lmsw(c, i, false);
    case X86_INS_LMSW:
        return cpl0 && intercept_clts_lmsw(c, i, true);
    case X86_INS_SMSW:
        return intercept_smsw(c, i);
    case X86_INS_IN:
        return intercept_io(c, i, true);
    case X86_INS_OUT:
        return intercept_io(c, i, false);
    case X86_INS_INSB:
    case X86_INS_INSW:
    case X86_INS_INSD:
        return intercept_string_io(c, i, true);
    case X86_INS_OUTSB:
    case X86_INS_OUTSW:
    case X86_INS_OUTSD:
        return intercept_string_io(c, i, false);
    case X86_INS_RDMSR:
        return cpl0 && intercept_msr(c, false);
    case X86_INS_WRMSR:
        return cpl0 && intercept_msr(c, true);
    case X86_INS_LGDT: return intercept_descriptor(c, i, 46, 2, true);
    case X86_INS_LIDT: return intercept_descriptor(c, i, 46, 3, true);
    case X86_INS_SGDT: return intercept_descriptor(c, i, 46, 0, false);
    case X86_INS_SIDT: return intercept_descriptor(c, i, 46, 1, false);
    case X86_INS_SLDT: return intercept_descriptor(c, i, 47, 0, false);
    case X86_INS_STR: return intercept_descriptor(c, i, 47, 1, false);
    case X86_INS_LLDT: return intercept_descriptor(c, i, 47, 2, true);
    case X86_INS_LTR: return intercept_descriptor(c, i, 47, 3, true);
    case X86_INS_VMCALL:
    case X86_INS_VMCLEAR:
    case X86_INS_VMLAUNCH:
    case X86_INS_VMPTRLD:
    case X86_INS_VMPTRST:
    case X86_INS_VMREAD:
    case X86_INS_VMRESUME:
    case X86_INS_VMWRITE:
    case X86_INS_VMXOFF:
    case X86_INS_VMXON:
    case X86_INS_INVEPT:
    case X86_INS_INVVPID:
        return intercept_vmx(c, i);
    case X86_INS_VMFUNC:
        /* SDM Vol. 2C "VMFUNC", Vol. 3C 25.5.6: #UD unless "enable VM
         * functions" is set (its handler raises it); then a function
         * not enabled in the VM-function controls (this CPU offers
         * none, IA32_VMX_VMFUNC is 0) exits with reason 59. */
        return (x->proc2 & PROC2_VMFUNC) &&
               exit_with(c, VMX_EXIT_VMFUNC, 0, 0);
    default:
        return false;
    }
}
