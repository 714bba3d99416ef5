/* L0's run loop: VM entry into vmcs01, the guest runs on the CPU until a
 * VM exit, L0 handles the exit in C and charges its modeled cost, and
 * enters again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cpu/cpu.h"
#include "hv/hv.h"
#include "hv/nested.h"
#include "machine.h"
#include "record/roi.h"
#include "vmx/controls.h"
#include "vmx/exit_cond.h"
#include "vmx/vmx.h"

enum { INTR_VALID = 1u << 31, INTR_BLOCKING = 3 };

/* L0 memory: anonymous memory, zero until written, of which a run
 * touches the few pages it allocates (EPT01, bitmaps). Not from calloc:
 * under ASan a 1 MiB heap block is poisoned and unpoisoned whole at
 * every hv_init and hv_destroy, which was 5% of guestfuzz's CPU (a
 * single-mode run each case). Every access is bounded by mem_used
 * (l0_read, hv_alloc_page). */
static uint8_t *l0_mem_alloc(void)
{
    void *p = mmap(NULL, L0_MEM_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* L0 memory for the EPT walker (vmx.h: l0_read). */
static bool l0_read(void *ctx, uint64_t hpa, void *dst, unsigned len)
{
    struct hv *h = ctx;
    if (hpa < L0_MEM_BASE || hpa - L0_MEM_BASE + len > h->mem_used)
        return false;
    memcpy(dst, h->mem + (hpa - L0_MEM_BASE), len);
    return true;
}

int hv_init(struct hv *h, struct machine *m, const struct cost_profile *cost,
            bool nested, char *err, size_t err_size)
{
    memset(h, 0, sizeof *h);
    h->l1.enabled = nested;
    h->l1.current = ~0ull;
    h->m = m;
    h->c = m->cpu;
    h->cost = cost;
    h->pending_irq = -1;
    stats_init(&h->stats);
    h->mem = l0_mem_alloc();
    if (!h->mem || hv_ept_build(h) != 0 || !(h->msr_bitmap = hv_alloc_page(h))) {
        snprintf(err, err_size, "cannot set up L0's memory for EPT01");
        return -1;
    }
    /* Trap reads and writes of IA32_FEATURE_CONTROL (0x3A): the read
     * bitmap for low MSRs at offset 0, the write bitmap at 2048 (SDM Vol.
     * 3C 25.6.9). */
    uint8_t *bitmap = h->mem + (h->msr_bitmap - L0_MEM_BASE);
    bitmap[0x3A / 8] |= 1u << (0x3A % 8);
    bitmap[2048 + 0x3A / 8] |= 1u << (0x3A % 8);
    /* A nested L1 reads the VMX capability MSRs 0x480-0x491 from L0. */
    for (unsigned msr = 0x480; nested && msr <= 0x491; msr++)
        bitmap[msr / 8] |= 1u << (msr % 8);
    h->c->vmx.l0_read = l0_read;
    h->c->vmx.l0_ctx = h;
    hv_vmcs01_setup(h);
    h->cur = &h->vmcs01;
    /* vmcs01's guest has VPID 1 to itself: the emulator's TLB may keep
     * its translations across exits to L0 (vmx/transition.c). */
    h->c->vmx.tlb_keep = &h->vmcs01;
    vmx_tlb_forget(h->c);
    /* Their handlers read only vmcs01, the general registers and memory:
     * the CPU may keep the guest's registers until the entry. */
    h->c->vmx.defer_vmcs = &h->vmcs01;
    h->c->vmx.defer_reasons = 1ull << VMX_EXIT_CPUID | 1ull << VMX_EXIT_VMREAD |
                              1ull << VMX_EXIT_VMWRITE;
    return 0;
}

void hv_destroy(struct hv *h)
{
    if (h->nested.ept02_ready)
        ept02_destroy(&h->nested.ept02);
    h->nested.ept02_ready = false;
    if (h->c) {
        h->c->vmx.l0_read = NULL;
        h->c->vmx.vmcs = NULL;
        h->c->vmx.tlb_keep = NULL;
        h->c->vmx.defer_vmcs = NULL; /* hv_run loaded the host state */
        vmx_tlb_forget(h->c);
    }
    if (h->mem)
        munmap(h->mem, L0_MEM_SIZE);
    h->mem = NULL;
}

static uint64_t host_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Before each VM entry: "IA-32e mode guest" follows the guest's EFER.LMA
 * (the guest switches modes itself under unrestricted guest), and a
 * pending interrupt is injected once the guest can take it, or an
 * interrupt window is asked for (SDM Vol. 3C 27.6, 26.7.5). */
static void prepare_entry(struct hv *h)
{
    struct vmcs *v = h->cur;
    uint64_t entry = vmcs_get(v, VMCS_IDX_ENTRY_CONTROLS);
    bool lma = vmcs_get(v, VMCS_IDX_GUEST_EFER) & EFER_LMA;
    vmcs_set(v, VMCS_IDX_ENTRY_CONTROLS,
             lma ? entry | ENTRY_IA32E_MODE_GUEST
                 : entry & ~(uint64_t)ENTRY_IA32E_MODE_GUEST);
    if (h->pending_irq < 0 ||
        (vmcs_get(v, VMCS_IDX_ENTRY_INTR_INFO) & INTR_VALID))
        return;
    bool open = (vmcs_get(v, VMCS_IDX_GUEST_RFLAGS) & FL_IF) &&
                !(vmcs_get(v, VMCS_IDX_GUEST_INTERRUPTIBILITY) & INTR_BLOCKING);
    if (open) {
        vmcs_set(v, VMCS_IDX_ENTRY_INTR_INFO,
                 INTR_VALID | (uint32_t)h->pending_irq);
        h->pending_irq = -1;
        /* The guest runs again: it is not halted any more. */
        vmcs_set(v, VMCS_IDX_GUEST_ACTIVITY_STATE, 0);
    } else {
        vmcs_set(v, VMCS_IDX_PROC_CONTROLS,
                 vmcs_get(v, VMCS_IDX_PROC_CONTROLS) |
                     PROC_INTR_WINDOW_EXITING);
    }
}

void hv_charge(struct hv *h, enum nested_part part, uint64_t cycles)
{
    h->c->cycles += cycles;
    stats_nested_charge(&h->stats, part, cycles);
}

void hv_step(struct hv *h, struct trace_step s)
{
    if (!h->trace)
        return;
    s.exit_seq = s.kind == STEP_L2_RESUMES ? h->episode_seq
                                           : trace_next_seq(h->trace);
    s.cycle = h->c->cycles;
    trace_step_add(h->trace, &s);
}

/* The end of a nested episode, as L2 is entered again: L1's share is
 * what the episode took beyond L0's handlers and the transitions (the
 * instructions of L1's exit handler). */
static void end_episode(struct hv *h)
{
    if (!h->stats.nested_open)
        return;
    uint64_t charged = nested_cost_total(&h->stats.nested_now);
    uint64_t spent = h->c->cycles - h->episode_start;
    stats_nested_charge(&h->stats, NESTED_L1,
                        spent > charged ? spent - charged : 0);
    /* Cache pollution (docs/cost-model.md): L0's work inside the episode
     * evicted L1's lines, and L1 pays for the misses in proportion. */
    hv_charge(h, NESTED_L1, h->stats.nested_now.cycles[NESTED_L0] *
                                h->cost->l1_pollution / 1000);
    /* The one total of the L2 exit, in every view: charged + L1's share. */
    hv_step(h, (struct trace_step){
                   .kind = STEP_L2_RESUMES,
                   .cycles = nested_cost_total(&h->stats.nested_now)});
    stats_nested_end(&h->stats);
}

/* Records one exit: statistics, and with --trace the trace (an L1 exit
 * inside a nested episode names the L2 exit that caused it). */
static void record_exit(struct hv *h, unsigned handler, unsigned level,
                        uint32_t reason, uint64_t cost, uint64_t ns,
                        uint64_t qual, uint64_t rip, uint64_t cycle)
{
    if (!(level == 1 && handler == 0)) /* L1's were counted up front */
        stats_count(&h->stats, handler, level, reason, cost, ns);
    else if (reason < EXIT_REASON_LIMIT)
        h->stats.cell[0][0][reason].host_ns += ns;
    if (!h->trace)
        return;
    struct trace_entry e = {
        .parent_seq = level == 1 && h->stats.nested_open ? h->episode_seq
                                                         : TRACE_NO_SEQ,
        .handler_level = (uint8_t)handler, .guest_level = (uint8_t)level,
        .reason = (uint16_t)reason, .qualification = qual, .guest_rip = rip,
        .cycle = cycle, .cycles = cost, .host_ns = ns};
    uint64_t seq = trace_add(h->trace, &e);
    if (level == 2)
        h->episode_seq = seq;
}

/* A region-of-interest mark (record/roi.h) by the level that runs the
 * image (L1 in --mode single, L2 in --mode nested: L1's own CPUID of the
 * leaf, e.g. l1vmm passing L2's on, is not a mark). Taken as the exit
 * arrives, before it is counted or costed; the CPU still holds the
 * guest's registers. */
static void mark_roi(struct hv *h, unsigned level, uint32_t reason)
{
    unsigned image_level = h->l1.enabled ? 2 : 1;
    if (reason == VMX_EXIT_CPUID && level == image_level &&
        (uint32_t)h->c->gpr[RAX] == ROI_LEAF)
        machine_roi_mark(h->m, (uint32_t)h->c->gpr[RCX], &h->stats);
}

/* An exit during event delivery (an EPT violation while the CPU pushed
 * an exception frame, SDM Vol. 3C 28.2.4) leaves the event undelivered
 * in the IDT-vectoring information. When L0 handled that exit itself and
 * resumes the same guest, the event goes back in as VM-entry event
 * injection, with its error code and, for software events, the
 * instruction length (SDM Vol. 3C 27.6, 28.2.4). A handler that injects
 * an event of its own, or stops, has decided otherwise. */
static void reinject_interrupted_event(struct hv *h)
{
    uint32_t info = (uint32_t)vmcs_get(h->cur, VMCS_IDX_IDT_VECTORING_INFO);
    if (!(info & INTR_VALID) ||
        (vmcs_get(h->cur, VMCS_IDX_ENTRY_INTR_INFO) & INTR_VALID))
        return;
    hv_inject_event_info(
        h, info, (uint32_t)vmcs_get(h->cur, VMCS_IDX_IDT_VECTORING_ERROR));
    vmcs_set(h->cur, VMCS_IDX_IDT_VECTORING_INFO, 0);
}

void hv_run(struct hv *h, uint64_t max_insns)
{
    struct cpu *c = h->c;
    struct machine *m = h->m;
    const struct cost_profile *cost = h->cost;
    while (m->stop == STOP_NONE) {
        prepare_entry(h);
        struct vmx_entry_result r;
        vmx_vmentry(c, h->cur, h->cur->launch == VMCS_STATE_CLEAR, &r);
        if (r.status != VMX_ENTERED) {
            machine_stop(m, STOP_INTERNAL, 0,
                         "L0 could not enter its guest: %s (%s %u)",
                         r.rule ? r.rule : "?",
                         r.status == VMX_FAIL_VALID ? "VM-instruction error"
                                                    : "exit reason",
                         r.error);
            break;
        }
        hv_charge(h, NESTED_TRANSITIONS, cost->vmentry);
        if (h->cur == &h->vmcs02)
            end_episode(h);
        cpu_run(c, max_insns);
        if (!c->vmx.exited)
            break; /* the machine stopped inside the guest */
        c->vmx.exited = false;

        uint64_t t0 = host_ns(), cycle = c->cycles;
        uint32_t reason =
            (uint32_t)vmcs_get(h->cur, VMCS_IDX_EXIT_REASON) & 0xFFFF;
        uint64_t qual = vmcs_get(h->cur, VMCS_IDX_EXIT_QUALIFICATION);
        uint64_t rip = vmcs_get(h->cur, VMCS_IDX_GUEST_RIP);
        unsigned level = h->cur == &h->vmcs02 ? 2 : 1;
        /* L0's handling of an L2 exit is known once it has decided who
         * handles it (below). */
        uint64_t handling = level == 2 ? 0 : cost_handler(cost, reason);
        uint64_t total = cost->vmexit + handling + cost->vmentry;
        mark_roi(h, level, reason);
        if (level == 2) {
            /* An L2 exit opens a nested episode (Turtles Figs. 6, 10). */
            stats_nested_begin(&h->stats, reason);
            h->episode_start = c->cycles;
        } else {
            /* Counted before the handler runs, so that the CPUID
             * statistics leaves include the exit asking for them. */
            stats_count(&h->stats, 0, 1, reason, total, 0);
        }
        hv_charge(h, NESTED_TRANSITIONS, cost->vmexit);
        hv_charge(h, NESTED_L0, handling);
        struct vmcs *exited = h->cur;
        enum hv_action a = level == 2 ? nested_l2_exit(h, reason)
                                      : hv_handler_for(h, reason)(h);
        if (a == HV_RESUME && h->cur == exited)
            reinject_interrupted_event(h);
        else
            vmx_exit_complete(c); /* L0 goes on in other ways */
        /* Handled by L1 when L0 reflected it (L1 runs next). */
        unsigned handler = level == 2 && h->cur == &h->vmcs01 ? 1 : 0;
        if (level == 2) {
            /* Reflecting costs L0 the nested VM exit, and L1's handler
             * the misses of caches and TLBs that L2 and L0 filled
             * (docs/cost-model.md); otherwise L0 handled it as its own. */
            handling = handler ? cost->nested_exit : cost_handler(cost, reason);
            hv_charge(h, NESTED_L0, handling);
            if (handler)
                hv_charge(h, NESTED_L1, cost->l1_refill);
            total = cost->vmexit + handling + cost->vmentry;
        }
        record_exit(h, handler, level, reason, total, host_ns() - t0, qual,
                    rip, cycle);
        if (a == HV_STOP)
            break;
    }
    vmx_exit_complete(c); /* the CPU's state as the last exit left it */
}
