/* Bare against single mode. In single mode the program runs in VMX
 * non-root operation under L0; the architecture lets a guest see that
 * only through a few instructions. A program that executed none of them
 * must give the same serial output (exception vectors, the final
 * registers) and stop the same way in both modes. What legitimately
 * differs, and how the fuzzer knows the program used it:
 *
 * - CPUID: the hypervisor-present bit, the hypervisor leaves and the
 *   exit-statistics leaves (guests/exitstats). Seen as a CPUID exit.
 * - RDMSR: IA32_TSC (and the VMX capability MSRs and
 *   IA32_FEATURE_CONTROL) answer differently in VMX non-root operation.
 *   L0's MSR bitmap lets the guest read IA32_TSC without an exit (SDM
 *   Vol. 3C 25.6.9), so RDMSR is found as RDTSC is, by its opcode bytes
 *   (below); an RDMSR exit is a sign too.
 * - WRMSR of IA32_FEATURE_CONTROL: the bare machine comes out of reset
 *   with it unlocked (a write that sets the lock bit succeeds); L0 shows
 *   its guest the MSR locked, as firmware leaves it, so the same write
 *   is #GP(0) (SDM Vol. 4 Table 2-2: writes #GP once locked). Both are
 *   states a platform may be in. Seen as a WRMSR exit: L0's MSR bitmap
 *   intercepts only that MSR (and those beyond the bitmap's ranges,
 *   which #GP in both modes).
 * - Port input: the PIT counts modeled cycles, and single mode spends
 *   cycles in VM exits and L0's handlers. Seen as an I/O exit for IN/INS.
 * - VMX instructions: #UD in bare mode (CR4.VMXE is clear), VM exits to
 *   L0 in single mode. Seen as their exits.
 * - RDTSC, RDTSCP, RDPMC, RDMSR: time and counters, which need not exit.
 *   Found by their opcode bytes anywhere in the code region, so that a
 *   jump into the middle of an instruction is covered too.
 * - The instruction limit: --max-insns counts steps (cpu/cpu.h
 *   cpu_steps), and a VM exit is one: an exit that L0 completes or turns
 *   into a fault within that step (an OUT, a MOV to CR0, ...) stands for
 *   the one step bare mode takes for the instruction, but one that L0
 *   resumes at the same instruction (INS/OUTS, an EPT violation on MMIO)
 *   is a step more than bare mode takes. Runs stopped by the limit are
 *   therefore compared only when both were and every exit of the single
 *   run was of the first kind (run.c): both then stop at the same point
 *   of the program, and the registers and memory must agree as well.
 * - Rewritten code: the search for RDTSC and its kind below no longer
 *   holds, so programs that rewrote their own code are not compared.
 * - Stale translations: a program that writes its page tables without
 *   invalidating may go on using the old translation or not (SDM Vol. 3A
 *   5.10.4 leaves it to the processor); in single mode every VM exit
 *   and entry flushes the TLB (no VPID), in bare mode nothing does.
 *   Programs that changed their page tables are not compared.
 *
 * Determinism has no exception: the same image in the same mode twice
 * gives the same output, stop, instruction count, cycles, VM exits,
 * final registers and memory. Nor has the agreement of the engines
 * (docs/emulator.md "Engines"): --engine step, block and jit retire the
 * same instructions, take every event at the same one and model the
 * same cycles, so the same image in the same mode under two of them
 * must be the same run by every one of these measures. */
#include "check.h"

#include <string.h>

#include "machine.h"

/* RDTSC (0F 31), RDMSR (0F 32), RDPMC (0F 33) and RDTSCP (0F 01 F9):
 * decoding the code region from every byte offset finds one exactly where
 * its opcode bytes stand, whatever precedes them (prefixes, REX), in 32-
 * and 64-bit mode alike (SDM Vol. 2 Appendix A), so a search for the
 * bytes finds the same programs without decoding 4096 times. */
static const struct {
    uint8_t len, bytes[3];
} static_visible[] = {{2, {0x0f, 0x31}}, {2, {0x0f, 0x32}},
                      {2, {0x0f, 0x33}}, {3, {0x0f, 0x01, 0xf9}}};

/* Basic exit reasons (SDM Vol. 3C Appendix C) of the instructions above. */
static const unsigned visible_exits[] = {
    10 /* CPUID */, 31 /* RDMSR */, 32 /* WRMSR */, 16 /* RDTSC */, 51 /* RDTSCP */,
    15 /* RDPMC */, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27 /* VMCALL to
    VMXON */, 50 /* INVEPT */, 53 /* INVVPID */, 59 /* VMFUNC */};

bool check_code_comparable(const struct prog *p)
{
    for (size_t off = 0; off + 1 < sizeof p->code; off++) {
        if (p->code[off] != 0x0f)
            continue;
        for (size_t k = 0; k < sizeof static_visible / sizeof *static_visible;
             k++)
            if (off + static_visible[k].len <= sizeof p->code &&
                memcmp(p->code + off, static_visible[k].bytes,
                       static_visible[k].len) == 0)
                return false;
    }
    return true;
}

bool check_run_comparable(const struct run_result *bare,
                          const struct run_result *single)
{
    bool limit = bare->stop == STOP_INSN_LIMIT;
    if (limit != (single->stop == STOP_INSN_LIMIT) ||
        (limit && !single->exits_in_step) || bare->code_changed ||
        single->code_changed || bare->paging_changed ||
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
    if (a->exits != b->exits || a->exit_hash != b->exit_hash)
        return "VM exits (reasons, qualifications, RIPs, cycles)";
    if (a->state_hash != b->state_hash)
        return "final registers (GPRs, RIP, RFLAGS)";
    if (a->ram_hash != b->ram_hash)
        return "memory of the code, data and stack";
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
    /* Stopped by the limit at the same point (check_run_comparable), with
     * the final registers not yet printed. */
    if (bare->stop == STOP_INSN_LIMIT && bare->state_hash != single->state_hash)
        return "final registers at the instruction limit (GPRs, RIP, RFLAGS)";
    if (bare->stop == STOP_INSN_LIMIT && bare->ram_hash != single->ram_hash)
        return "memory of the code, data and stack at the instruction limit";
    return NULL;
}
