/* Bare against single mode. In single mode the program runs in VMX
 * non-root operation under L0; the architecture lets a guest see that
 * only through a few instructions. A program that executed none of them
 * must give the same serial output (exception vectors, the final
 * registers) and stop the same way in both modes. What legitimately
 * differs, and how the fuzzer knows the program used it:
 *
 * - CPUID: the hypervisor-present bit, the hypervisor leaves and the
 *   exit-statistics leaves (guests/exitstats). Seen as a CPUID exit.
 * - RDMSR: IA32_TSC, the VMX capability MSRs and IA32_FEATURE_CONTROL
 *   answer differently in VMX non-root operation. Seen as an RDMSR exit.
 * - Port input: the PIT counts modeled cycles, and single mode spends
 *   cycles in VM exits and L0's handlers. Seen as an I/O exit for IN/INS.
 * - VMX instructions: #UD in bare mode (CR4.VMXE is clear), VM exits to
 *   L0 in single mode. Seen as their exits.
 * - RDTSC, RDTSCP, RDPMC: time and counters, which need not exit. Found
 *   by decoding the code region from every byte offset, so that a jump
 *   into the middle of an instruction is covered too.
 * - The instruction count: an instruction that causes a VM exit is
 *   completed by L0's handler, not retired by the guest, so a run stopped
 *   by the instruction limit stops at a different place; such runs, and
 *   runs of programs that rewrote their own code (the decoding above no
 *   longer holds), are not compared.
 * - Stale translations: a program that writes its page tables without
 *   invalidating may go on using the old translation or not (SDM Vol. 3A
 *   5.10.4 leaves it to the processor); in single mode every VM exit
 *   and entry flushes the TLB (no VPID), in bare mode nothing does.
 *   Programs that changed their page tables are not compared.
 *
 * Determinism has no exception: the same image in the same mode twice
 * gives the same output, stop, instruction count, cycles and memory. */
#include "check.h"

#include <capstone/capstone.h>
#include <string.h>

#include "machine.h"

static const unsigned static_visible[] = {X86_INS_RDTSC, X86_INS_RDTSCP,
                                          X86_INS_RDPMC};

/* Basic exit reasons (SDM Vol. 3C Appendix C) of the instructions above. */
static const unsigned visible_exits[] = {
    10 /* CPUID */, 31 /* RDMSR */, 16 /* RDTSC */, 51 /* RDTSCP */,
    15 /* RDPMC */, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27 /* VMCALL to
    VMXON */, 50 /* INVEPT */, 53 /* INVVPID */, 59 /* VMFUNC */};

static bool is_static_visible(unsigned id)
{
    for (size_t i = 0; i < sizeof static_visible / sizeof static_visible[0];
         i++)
        if (static_visible[i] == id)
            return true;
    return false;
}

bool check_code_comparable(const struct prog *p)
{
    static csh handles[PROG_MODES];
    static bool opened[PROG_MODES];
    unsigned mode = p->mode < PROG_MODES ? p->mode : 0;
    if (!opened[mode]) {
        if (cs_open(CS_ARCH_X86,
                    mode == PROG_MODE_LONG64 ? CS_MODE_64 : CS_MODE_32,
                    &handles[mode]) != CS_ERR_OK)
            return false;
        opened[mode] = true;
    }
    cs_insn *insn = cs_malloc(handles[mode]);
    if (!insn)
        return false;
    bool ok = true;
    for (size_t off = 0; off < sizeof p->code && ok; off++) {
        const uint8_t *code = p->code + off;
        size_t size = sizeof p->code - off;
        uint64_t addr = IMG_CODE + off;
        if (cs_disasm_iter(handles[mode], &code, &size, &addr, insn) &&
            is_static_visible(insn->id))
            ok = false;
    }
    cs_free(insn, 1);
    return ok;
}

bool check_run_comparable(const struct run_result *bare,
                          const struct run_result *single)
{
    if (bare->stop == STOP_INSN_LIMIT || single->stop == STOP_INSN_LIMIT ||
        bare->code_changed || single->code_changed || bare->paging_changed ||
        single->paging_changed || single->port_input)
        return false;
    for (size_t i = 0; i < sizeof visible_exits / sizeof visible_exits[0]; i++)
        if (single->exit_reasons & (1ull << visible_exits[i]))
            return false;
    return true;
}

const char *check_same_run(const struct run_result *a,
                           const struct run_result *b)
{
    if (a->stop != b->stop || a->exit_status != b->exit_status)
        return "stop reason or exit status";
    if (a->out_len != b->out_len || a->out_hash != b->out_hash)
        return "serial output";
    if (a->insns != b->insns)
        return "instruction count";
    if (a->cycles != b->cycles)
        return "modeled cycles";
    if (a->ram_hash != b->ram_hash)
        return "memory of the code region";
    return NULL;
}

const char *check_agree(const struct run_result *bare,
                        const struct run_result *single)
{
    if (bare->stop != single->stop ||
        (bare->stop == STOP_DEBUG_EXIT &&
         bare->exit_status != single->exit_status))
        return "stop reason or exit status";
    if (bare->out_len != single->out_len || bare->out_hash != single->out_hash)
        return "serial output (exception vectors or final registers)";
    return NULL;
}
