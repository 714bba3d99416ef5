/* Nested VMX: what L1 sees of VMX, and running L2 for it. */
#include "hv/nested.h"

#include "machine.h"

#include "vmx/caps.h"
#include "vmx/controls.h"

/* The capability MSRs L1 reads: the hardware's, without VMCS shadowing
 * (L0 does not shadow L1's own VMCS accesses for L2; Turtles does not
 * either), and IA32_FEATURE_CONTROL locked with VMX on outside SMX. */
bool nested_read_msr(struct hv *h, uint32_t msr, uint64_t *value)
{
    (void)h;
    if (msr == 0x3A) {
        *value = 0x5; /* lock, VMX outside SMX (SDM Vol. 3C 24.7) */
        return true;
    }
    if (!vmx_cap_read(msr, value))
        return false;
    if (msr == MSR_IA32_VMX_PROCBASED_CTLS2)
        *value &= ~((uint64_t)PROC2_VMCS_SHADOWING << 32);
    return true;
}

void nested_vmcs12_loaded(struct hv *h) { (void)h; }
void nested_field_written(struct hv *h, uint64_t encoding)
{
    (void)h;
    (void)encoding;
}
void nested_invalidate(struct hv *h, bool vpid)
{
    (void)h;
    (void)vpid;
}

enum hv_action nested_vmentry(struct hv *h, bool launch)
{
    (void)launch;
    machine_stop(h->m, STOP_INTERNAL, 0,
                 "L1 entered its guest: nested VM entry is not implemented yet");
    return HV_STOP;
}
