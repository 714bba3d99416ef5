/* libFuzzer harness: the VM-entry checks (l0/vmx/entry_checks.c) on a
 * valid VMCS mutated by the input. Besides sanitizer reports it checks
 * what the caller relies on: a failure names its rule and SDM section
 * and has the architecture's error (VMfail 7 or 8, or exit reason 33 or
 * 34... as the header lists), and the checks are pure (the same answer
 * twice, the VMCS untouched). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_vmcs.h"
#include "vmx/entry_checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Memory for the link pointer and PDPTEs: a fixed pattern by address. */
static bool read_phys(void *ctx, uint64_t pa, void *dst, unsigned len)
{
    (void)ctx;
    if (pa >= (1ull << 24))
        return false;
    for (unsigned k = 0; k < len; k++)
        ((uint8_t *)dst)[k] = (uint8_t)((pa + k) * 0x9d);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vmcs v, copy;
    v = *lf_valid_vmcs01();
    struct vmx_check_env env;
    vmx_check_env_init(&env);
    if (size > 0) {
        env.ia32e_host = data[0] & 1;
        env.current_vmcs = data[0] & 2 ? 0x3000 : ~0ull;
        if (data[0] & 4) {
            env.read_phys = read_phys;
        }
        data++;
        size--;
    }
    lf_mutate_vmcs(&v, data, size);
    copy = v;
    struct vmx_entry_check a, b;
    vmx_check_entry(&v, &env, &a);
    vmx_check_entry(&v, &env, &b);
    if (memcmp(&v, &copy, sizeof v) != 0) {
        fprintf(stderr, "entry checks changed the VMCS\n");
        abort();
    }
    if (a.outcome != b.outcome || a.rule != b.rule ||
        a.vm_instruction_error != b.vm_instruction_error) {
        fprintf(stderr, "entry checks answered twice differently\n");
        abort();
    }
    if (a.outcome != ENTRY_OK && (!a.rule || !a.sdm)) {
        fprintf(stderr, "a failed entry check without a rule\n");
        abort();
    }
    if (a.outcome == ENTRY_VMFAIL && a.vm_instruction_error != 7 &&
        a.vm_instruction_error != 8) {
        fprintf(stderr, "VMfail with error %u (%s)\n", a.vm_instruction_error,
                a.rule);
        abort();
    }
    if (a.outcome == ENTRY_FAIL_EXIT && a.exit_reason != 33 &&
        a.exit_reason != 34) {
        fprintf(stderr, "entry failure with reason %u (%s)\n", a.exit_reason,
                a.rule);
        abort();
    }
    return 0;
}
