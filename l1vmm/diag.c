/* VMX failures in words: the VM-instruction error numbers (SDM Vol. 3C
 * 31.4, Table 31-1) and VM-entry failures that end in a VM exit (SDM
 * Vol. 3C 27.8), with the guest state worth checking first. */
#include "l1vmm.h"

static const char *const instruction_errors[] = {
    [1] = "VMCALL executed in VMX root operation",
    [2] = "VMCLEAR with invalid physical address",
    [3] = "VMCLEAR with VMXON pointer",
    [4] = "VMLAUNCH with non-clear VMCS",
    [5] = "VMRESUME with non-launched VMCS",
    [6] = "VMRESUME after VMXOFF",
    [7] = "VM entry with invalid control field(s)",
    [8] = "VM entry with invalid host-state field(s)",
    [9] = "VMPTRLD with invalid physical address",
    [10] = "VMPTRLD with VMXON pointer",
    [11] = "VMPTRLD with incorrect VMCS revision identifier",
    [12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
    [13] = "VMWRITE to read-only VMCS component",
    [15] = "VMXON executed in VMX root operation",
    [16] = "VM entry with invalid executive-VMCS pointer",
    [17] = "VM entry with non-launched executive VMCS",
    [18] = "VM entry with executive-VMCS pointer not VMXON pointer",
    [19] = "VMCALL with non-clear VMCS",
    [20] = "VMCALL with invalid VM-exit control fields",
    [22] = "VMCALL with incorrect MSEG revision identifier",
    [23] = "VMXOFF under dual-monitor treatment of SMIs and SMM",
    [24] = "VMCALL with invalid SMM-monitor features",
    [25] = "VM entry with invalid VM-execution control fields in executive "
           "VMCS",
    [26] = "VM entry with events blocked by MOV SS",
    [28] = "invalid operand to INVEPT/INVVPID",
};

static void print_state(void)
{
    rt_printf("l1vmm:   guest cr0=%#lx cr3=%#lx cr4=%#lx efer=%#lx rip=%#lx "
              "rflags=%#lx\n",
              vmread(GUEST_CR0), vmread(GUEST_CR3), vmread(GUEST_CR4),
              vmread(GUEST_IA32_EFER), vmread(GUEST_RIP),
              vmread(GUEST_RFLAGS));
    rt_printf("l1vmm:   controls pin=%#lx proc=%#lx proc2=%#lx exit=%#lx "
              "entry=%#lx entry-event=%#lx\n",
              vmread(PIN_BASED_CONTROLS), vmread(PROC_BASED_CONTROLS),
              caps.proc & PROC_SECONDARY ? vmread(PROC_BASED_CONTROLS2) : 0,
              vmread(EXIT_CONTROLS), vmread(ENTRY_CONTROLS),
              vmread(ENTRY_INTERRUPTION_INFO));
}

void diag_vmfail(const char *what, enum vmx_result r)
{
    if (r == VMX_FAIL_INVALID) {
        rt_printf("l1vmm: %s failed: VMfailInvalid (no current VMCS, or a "
                  "bad VMXON region)\n",
                  what);
        return;
    }
    uint64_t n = vmread(VM_INSTRUCTION_ERROR);
    const char *text =
        n < sizeof instruction_errors / sizeof instruction_errors[0] &&
                instruction_errors[n]
            ? instruction_errors[n]
            : "an error number the SDM does not define";
    rt_printf("l1vmm: %s failed: VM-instruction error %lu: %s\n", what, n,
              text);
    if (n == 7 || n == 8)
        print_state();
}

/* Exit qualification of reason 33 (SDM Vol. 3C 27.8). */
static const char *const invalid_guest_state[] = {
    [0] = "a guest-state field is invalid (see the checks of SDM Vol. 3C "
          "27.3.1)",
    [2] = "loading the PDPTEs failed",
    [3] = "NMI injection was attempted while NMIs were blocked",
    [4] = "the VMCS link pointer is invalid",
};

void diag_entry_failure(uint32_t reason_field)
{
    unsigned reason = reason_field & 0xFFFF;
    uint64_t q = vmread(EXIT_QUALIFICATION);
    if (reason == EXIT_INVALID_GUEST_STATE) {
        const char *text = q < sizeof invalid_guest_state /
                                   sizeof invalid_guest_state[0] &&
                                   invalid_guest_state[q]
                               ? invalid_guest_state[q]
                               : "an undefined qualification";
        rt_printf("l1vmm: VM-entry failure, invalid guest state "
                  "(qualification %lu): %s\n",
                  q, text);
    } else if (reason == EXIT_MSR_LOADING) {
        rt_printf("l1vmm: VM-entry failure while loading MSR entry %lu of "
                  "the VM-entry MSR-load list\n",
                  q);
    } else {
        rt_printf("l1vmm: VM-entry failure, reason %u (%s)\n", reason,
                  exit_reason_name(reason));
    }
    print_state();
}
