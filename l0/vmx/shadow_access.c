/* VMREAD and VMWRITE under VMCS shadowing (SDM Vol. 3C 25.10, 26.1.2;
 * Vol. 2C "VMREAD", "VMWRITE"): in non-root operation with "VMCS
 * shadowing" set, an access to a field whose bit in the VMREAD or
 * VMWRITE bitmap is clear reads or writes the shadow VMCS, the one the
 * VMCS link pointer names, with no VM exit. */
#include <capstone/capstone.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/mmu.h"
#include "cpu/ops.h"
#include "vmx/caps.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

/* The conventions of SDM Vol. 3C 31.2: success clears the six
 * arithmetic flags; VMfailInvalid sets CF; VMfailValid sets ZF and puts
 * the error number in the (here: shadow) VMCS. */
static void vm_succeed(struct cpu *c)
{
    flags_update(&c->flags, FL_ARITH, 0);
}

static void vm_fail_invalid(struct cpu *c)
{
    flags_update(&c->flags, FL_ARITH, FL_CF);
}

static void vm_fail_valid(struct cpu *c, struct vmcs *v, uint32_t error)
{
    vmcs_set(v, VMCS_IDX_INSN_ERROR, error);
    flags_update(&c->flags, FL_ARITH, FL_ZF);
}

/* True when the field's bit in the bitmap is clear: no exit. */
static bool bitmap_allows(struct cpu *c, enum vmcs_index bitmap,
                          uint64_t field)
{
    if (field >> 15) /* bits 63:15 set: always exits */
        return false;
    uint8_t byte = 0xFF; /* unreadable: every bit set, so it exits */
    vmx_read_host(c, vmcs_get(c->vmx.vmcs, bitmap) + (field >> 3), &byte, 1);
    return !((byte >> (field & 7)) & 1);
}

bool vmx_shadow_access(struct cpu *c, const struct insn *i)
{
    struct vmx_cpu *x = &c->vmx;
    if (!(x->proc2 & PROC2_VMCS_SHADOWING))
        return false;
    bool write = i->id == X86_INS_VMWRITE;
    const struct operand *field_op = write ? &i->op[0] : &i->op[1];
    const struct operand *data_op = write ? &i->op[1] : &i->op[0];
    uint64_t field = c->gpr[field_op->reg];
    if (!c->code64)
        field &= 0xFFFFFFFF;
    if (!bitmap_allows(c, write ? VMCS_IDX_VMWRITE_BITMAP_ADDR
                                : VMCS_IDX_VMREAD_BITMAP_ADDR, field))
        return false; /* the VM exit */
    /* Past the exit conditions, CPL > 0 is #GP(0). */
    if (c->cpl != 0) {
        cpu_fault(c, VEC_GP, 0);
        return true;
    }
    uint64_t link = vmcs_get(x->vmcs, VMCS_IDX_LINK_POINTER);
    struct vmcs *shadow = link != ~0ull && x->lookup_vmcs
                              ? x->lookup_vmcs(x->lookup_ctx, link)
                              : NULL;
    if (!shadow) {
        vm_fail_invalid(c);
        return true;
    }
    unsigned size = c->code64 ? 8 : 4;
    uint64_t value;
    if (write) {
        if (data_op->kind == OPK_MEM) {
            if (!mem_read(c, data_op->seg, op_ea(c, i, data_op), size, &value))
                return true; /* fault pending */
        } else {
            value = c->gpr[data_op->reg] & size_mask(size);
        }
        enum vmcs_status st = vmcs_write(shadow, field, value,
                                         vmx_cap_vmwrite_any_field());
        if (st != VMCS_OK)
            vm_fail_valid(c, shadow, st);
        else
            vm_succeed(c);
        return true;
    }
    enum vmcs_status st = vmcs_read(shadow, field, &value);
    if (st != VMCS_OK) {
        vm_fail_valid(c, shadow, st);
        return true;
    }
    value &= size_mask(size);
    if (data_op->kind == OPK_MEM) {
        if (!mem_write(c, data_op->seg, op_ea(c, i, data_op), size, value))
            return true;
    } else {
        gpr_set(c, data_op->reg, size, false, value);
    }
    vm_succeed(c);
    return true;
}
