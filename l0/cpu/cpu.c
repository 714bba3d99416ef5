/* The step loop: fetch through the decode cache, execute, deliver
 * exceptions and timer interrupts, wait in HLT. */
#include "cpu/cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/block.h"
#include "cpu/decode.h"
#include "cpu/exec.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"
#include "cpu/step.h"
#include "cpu/system.h"
#include "cpu/tlb_charge.h"
#include "dev/lapic.h"
#include "gdb/stub.h"
#include "machine.h"
#include "vmx/controls.h"

struct cpu *cpu_create(struct machine *m)
{
    struct cpu *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->m = m;
    tlb_init(&c->tlb);
    c->dcache = dcache_create(m->ram_size, &c->fetch_generation);
    if (!c->dcache) {
        free(c);
        return NULL;
    }
    c->code_map = dcache_code_map(c->dcache);
    c->mtlb = tlbm_create();
    /* The default (docs/emulator.md): the JIT where it runs. */
    c->engine = jit_supported() ? ENGINE_JIT : ENGINE_BLOCK;
    const char *fast = getenv("TURTLES_STRING_FAST");
    c->string_fast_off = fast && !strcmp(fast, "0");
    c->bcache = block_cache_create();
    if (!c->mtlb || !c->bcache) {
        cpu_destroy(c);
        return NULL;
    }
    return c;
}

void cpu_destroy(struct cpu *c)
{
    if (!c)
        return;
    dcache_destroy(c->dcache);
    tlbm_destroy(c->mtlb);
    block_cache_destroy(c->bcache);
    free(c);
}

static void flat_segment(struct segment *s, uint16_t sel, unsigned type)
{
    s->sel = sel;
    s->base = 0;
    s->limit = 0xFFFFFFFF;
    s->attr = type | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G;
}

/* The boot protocol's entry state (cpu.h); where a protocol is silent,
 * the processor's power-up state (SDM Vol. 3A 10.1.1). */
void cpu_reset_boot(struct cpu *c, const struct cpu_boot_state *s)
{
    memset(c->gpr, 0, sizeof c->gpr);
    c->gpr[RAX] = s->eax;
    c->gpr[RBX] = s->ebx;
    c->gpr[RSI] = s->esi;
    c->rip = s->eip;
    flags_set(&c->flags, FL_FIXED1);
    flat_segment(&c->seg[SEG_CS], s->code_sel, 0xB);
    for (unsigned k = 0; k < SEG_COUNT; k++)
        if (k != SEG_CS && k != SEG_LDTR && k != SEG_TR)
            flat_segment(&c->seg[k], s->data_sel, 0x3);
    c->seg[SEG_LDTR] = (struct segment){.attr = SEG_ATTR_UNUSABLE};
    c->seg[SEG_TR] = (struct segment){.limit = 0xFFFF,
                                      .attr = 0xB | SEG_ATTR_P};
    c->gdtr = s->gdtr;
    c->idtr = (struct table_reg){0, 0xFFFF};
    c->cr0 = CR0_PE | CR0_ET;
    c->cr2 = c->cr3 = c->cr4 = c->cr8 = 0;
    c->efer = 0;
    c->apic_base = 0xFEE00000 | 1u << 11 | 1u << 8; /* enabled, BSP */
    c->pat = 0x0007040600070406ull;
    c->misc_enable = 1; /* fast strings: its default (SDM Vol. 4 Table 2-2) */
    c->dr[6] = 0xFFFF0FF0;
    c->dr[7] = 0x400;
    c->cpl = 0;
    c->halted = false;
    c->exc.raised = false;
    c->next_event_check = 0;
    fpu_reset(c);
    mmu_flush_all(c);
    mmu_forget_walks(c); /* a loader may have written RAM (memcpy) */
    cpu_update_mode(c);
}

/* Multiboot 0.6.96 section 3.2: flat segments (the spec leaves the
 * selectors and GDTR to the loader: 0x08, 0x10, and no table), EAX =
 * magic, EBX = information. */
void cpu_reset_multiboot(struct cpu *c, uint32_t entry, uint32_t info_pa)
{
    struct cpu_boot_state s = {
        .eip = entry, .eax = 0x2BADB002, .ebx = info_pa,
        .code_sel = 0x08, .data_sel = 0x10, .gdtr = {0, 0xFFFF},
    };
    cpu_reset_boot(c, &s);
}

void cpu_update_mode(struct cpu *c)
{
    const struct segment *cs = &c->seg[SEG_CS];
    c->long_mode = (c->efer & EFER_LMA) != 0;
    c->code64 = c->long_mode && (cs->attr & SEG_ATTR_L);
    c->code_size = c->code64 ? 8 : (cs->attr & SEG_ATTR_DB) ? 4 : 2;
    c->tlb.generation++; /* CPL or mode may have changed: refetch */
    if (c->code_size == 2)
        machine_stop(c->m, STOP_INTERNAL, 0,
                     "16-bit code segment loaded (cs=%#x): 16-bit code is "
                     "not emulated", cs->sel);
}

bool cpu_fault(struct cpu *c, unsigned vector, uint32_t error)
{
    /* The first exception of an instruction is the one delivered. */
    if (!c->exc.raised)
        c->exc = (struct pending_exception){
            true, (uint8_t)vector, cpu_exception_has_error(vector), error};
    return false;
}

/* SDM Vol. 3A Table 7-1: #DF, #TS, #NP, #SS, #GP, #PF and #AC push one. */
bool cpu_exception_has_error(unsigned vector)
{
    return vector == VEC_DF || (vector >= VEC_TS && vector <= VEC_PF) ||
           vector == VEC_AC;
}

bool cpu_fault_noerr(struct cpu *c, unsigned vector)
{
    return cpu_fault(c, vector, 0);
}

uint64_t cpu_rflags(const struct cpu *c) { return flags_get(&c->flags); }

void cpu_set_rflags(struct cpu *c, uint64_t value)
{
    bool was_on = flags_get(&c->flags) & FL_IF;
    flags_set(&c->flags, value);
    if (!was_on && (value & FL_IF))
        c->next_event_check = 0;
}

/* ---- fetch and decode ---------------------------------------------- */

static void report_unimplemented(struct cpu *c, const uint8_t *bytes,
                                 unsigned len, uint16_t id)
{
    static const unsigned max_reports = 32;
    if (c->unimplemented_reports >= max_reports)
        return;
    for (unsigned k = 0; k < c->unimplemented_reports; k++)
        if (c->unimplemented_ids[k] == id && id != 0)
            return;
    c->unimplemented_ids[c->unimplemented_reports++] = id;
    char text[96], hex[3 * 15 + 1] = "";
    dcache_disassemble(c->dcache, bytes, len, c->rip, c->code64, text,
                       sizeof text);
    for (unsigned k = 0; k < len && k < 15; k++)
        snprintf(hex + 3 * k, 4, "%02x ", bytes[k]);
    /* Capstone decodes every valid x86-64 instruction, so bytes it
     * cannot decode are an invalid opcode (#UD is the architecture's
     * answer); a decoded one without a family is ours to implement. */
    if (id == 0)
        fprintf(stderr,
                "turtles: invalid opcode at rip %#llx (bytes %s) -> #UD\n",
                (unsigned long long)c->rip, hex);
    else
        fprintf(stderr,
                "turtles: unimplemented instruction at rip %#llx: %s "
                "(bytes %s) -> #UD\n",
                (unsigned long long)c->rip, text, hex);
}

/* Decodes the instruction at linear `lin` (physical `pa`). Instructions
 * within one RAM page are cached; others are decoded into `scratch`. */
static const struct insn *decode_at(struct cpu *c, uint64_t lin, uint64_t pa,
                                    struct insn *scratch)
{
    uint8_t bytes[15];
    unsigned avail = 4096 - (unsigned)(pa & 0xFFF);
    unsigned n = avail < 15 ? avail : 15;
    phys_read(c, pa, n, bytes);
    bool need_more;
    bool ok = dcache_decode(c->dcache, bytes, n, lin, c->code64, scratch,
                            &need_more);
    bool spans = false;
    if (!ok && need_more && n < 15) {
        if (!lin_read(c, lin + n, 15 - n, bytes + n, ACC_EXEC, c->cpl == 3))
            return NULL;
        n = 15;
        ok = dcache_decode(c->dcache, bytes, n, lin, c->code64, scratch,
                           &need_more);
        spans = true;
    }
    if (!ok) {
        report_unimplemented(c, bytes, n, 0);
        cpu_fault_noerr(c, VEC_UD);
        return NULL;
    }
    if (!scratch->exec) {
        report_unimplemented(c, bytes, scratch->len, scratch->id);
        cpu_fault_noerr(c, VEC_UD);
        return NULL;
    }
    spans = spans && scratch->len > avail;
    if (!spans && pa < c->m->ram_size) {
        const struct insn *cached = dcache_insert(c->dcache, pa, scratch);
        if (cached)
            return cached;
    }
    return scratch;
}

static __attribute__((noinline)) const struct insn *
fetch(struct cpu *c, struct insn *scratch)
{
    uint64_t lin = c->rip;
    if (!c->code64) {
        if (c->rip > c->seg[SEG_CS].limit) {
            cpu_fault(c, VEC_GP, 0);
            return NULL;
        }
        lin = (c->seg[SEG_CS].base + c->rip) & 0xFFFFFFFF;
    }
    bool user = c->cpl == 3;
    uint64_t pa;
    struct tlb_entry *t = tlb_slot(&c->tlb, lin);
    if (t->tag == tlb_tag(&c->tlb, lin) && !(t->perm & TLB_NX) &&
        (!user || (t->perm & TLB_USER))) {
        pa = t->phys | (lin & 0xFFF);
    } else if (!lin_translate(c, lin, ACC_EXEC, user, &pa)) {
        return NULL;
    }
    const struct insn *i = dcache_lookup(c->dcache, pa, c->code64);
    return i ? i : decode_at(c, lin, pa, scratch);
}

/* The end of an instruction that raised an exception or a VM exit. A
 * delivery in non-root operation may itself end in a VM exit. */
__attribute__((noinline)) void cpu_finish_event(struct cpu *c)
{
    c->faulted_steps++;
    if (!c->vmx.request.pending) {
        struct pending_exception e = c->exc;
        c->exc.raised = false;
        cpu_deliver(c, e.vector, EV_EXCEPTION, e.has_error, e.error, c->rip);
    }
    if (c->vmx.request.pending)
        vmx_vmexit(c);
}

/* The hot path: a record for this linear RIP already fetched under the
 * same translations and decode cache (64-bit code only). */
static inline const struct insn *fetch_cached(struct cpu *c)
{
    struct fetch_entry *f = &c->fetch[(c->rip ^ (c->rip >> 12)) &
                                     (FETCH_CACHE_SIZE - 1)];
    if (f->rip == c->rip && f->tlb_gen == c->tlb.generation &&
        f->dc_gen == c->fetch_generation && c->code64)
        return f->insn;
    return NULL;
}

static void remember_fetch(struct cpu *c, const struct insn *i,
                           const struct insn *scratch)
{
    if (!c->code64 || i == scratch)
        return;
    struct fetch_entry *f = &c->fetch[(c->rip ^ (c->rip >> 12)) &
                                     (FETCH_CACHE_SIZE - 1)];
    *f = (struct fetch_entry){c->rip, c->tlb.generation, c->fetch_generation,
                              i};
}

static inline __attribute__((always_inline)) void step(struct cpu *c)
{
    struct insn scratch;
    const struct insn *i = fetch_cached(c);
    if (!i) {
        i = fetch(c, &scratch);
        if (i)
            remember_fetch(c, i, &scratch);
    }
    step_execute(c, i);
}

void cpu_describe_rip(struct cpu *c, char *out, unsigned out_size)
{
    uint8_t bytes[15];
    char text[96];
    uint64_t lin = c->code64 ? c->rip
                             : (c->seg[SEG_CS].base + c->rip) & 0xFFFFFFFF;
    struct pending_exception saved = c->exc;
    unsigned n = 0;
    while (n < sizeof bytes && lin_read(c, lin + n, 1, bytes + n, ACC_EXEC,
                                        c->cpl == 3))
        n++;
    c->exc = saved; /* a fault here is not the guest's */
    if (n)
        dcache_disassemble(c->dcache, bytes, n, c->rip, c->code64, text,
                           sizeof text);
    else
        snprintf(text, sizeof text, "(not mapped)");
    snprintf(out, out_size, "rip %#llx: %s", (unsigned long long)c->rip,
             text);
}

void cpu_step(struct cpu *c)
{
    do {
        if (c->engine == ENGINE_STEP || !block_run(c, 1))
            step(c);
    } while (c->string_paused && c->m->stop == STOP_NONE);
    dcache_collect(c->dcache);
}

/* ---- interrupts and HLT --------------------------------------------- */

/* Takes a pending LAPIC interrupt if RFLAGS.IF allows and no STI/MOV SS
 * shadow blocks it (SDM Vol. 3A 7.8.3). Sets when to look again. */
/* The next cycle at which an event may need the CPU's attention. */
static uint64_t next_event(const struct cpu *c)
{
    uint64_t t = c->m->lapic ? lapic_next_event(c->m->lapic, c->cycles)
                             : UINT64_MAX;
    if (c->vmx.nonroot && c->vmx.preemption_deadline < t)
        t = c->vmx.preemption_deadline;
    return t;
}

/* External-interrupt exiting: interrupts exit whatever RFLAGS.IF says
 * (SDM Vol. 3C 26.2). */
static bool interrupts_exit(const struct cpu *c)
{
    return c->vmx.nonroot && (c->vmx.pin & PIN_EXT_INTR_EXITING);
}

/* An NMI the LAPIC holds, taken through the IDT when nothing blocks it
 * (SDM Vol. 3A 7.7): before maskable interrupts, which rank below NMIs
 * (Table 7-2). True if one was taken. */
static bool take_nmi(struct cpu *c)
{
    struct lapic *l = c->m->lapic;
    if (!l || !lapic_nmi_pending(l) || !vmx_nmi_deliverable(c))
        return false;
    lapic_nmi_accept(l);
    cpu_deliver(c, VEC_NMI, EV_NMI, false, 0, c->rip);
    if (c->vmx.request.pending)
        vmx_vmexit(c);
    c->next_event_check = 0; /* an interrupt may be pending too */
    return true;
}

static void check_events(struct cpu *c)
{
    struct lapic *l = c->m->lapic;
    /* The #DB trap of data breakpoints an event's delivery hit comes
     * first (cpu/debug.c), one step: a #DB whose own delivery hits a
     * breakpoint each time repeats until the instruction limit. */
    if (__builtin_expect(c->dbg.trap_due, 0) && debug_take_due(c)) {
        c->faulted_steps++;
        if (c->vmx.request.pending)
            vmx_vmexit(c);
        c->next_event_check = 0;
        return;
    }
    /* A timer edge due by now may reach LINT0 as an NMI: seen here, not
     * one check later (a halted CPU would sleep past it). */
    if (l)
        lapic_sync_platform(l, c->cycles);
    if (c->vmx.nonroot) {
        int v = l ? lapic_synced_vector(l, c->cycles) : -1;
        if (vmx_check_events(c, v, l && lapic_nmi_pending(l))) {
            vmx_vmexit(c);
            return;
        }
    }
    if (take_nmi(c))
        return;
    if (c->vmx.nonroot) {
        if (interrupts_exit(c)) {
            c->next_event_check = c->interrupt_shadow ? c->cycles + 1
                                                      : next_event(c);
            return;
        }
    }
    if (!l || !(flags_get(&c->flags) & FL_IF)) {
        c->next_event_check = c->vmx.nonroot ? next_event(c) : UINT64_MAX;
        return;
    }
    if (c->interrupt_shadow) {
        c->next_event_check = c->cycles + 1;
        return;
    }
    int v = lapic_synced_vector(l, c->cycles);
    if (v >= 0) {
        lapic_accept(l, v);
        cpu_deliver(c, (unsigned)v, EV_EXTERNAL, false, 0, c->rip);
        if (c->vmx.request.pending)
            vmx_vmexit(c);
        c->next_event_check = 0; /* another may be pending */
        return;
    }
    c->next_event_check = next_event(c);
}

static void check_interrupts(struct cpu *c)
{
    check_events(c);
    /* An NMI held off only by the STI/MOV SS shadow is due right after. */
    struct lapic *l = c->m->lapic;
    if (c->interrupt_shadow && l && lapic_nmi_pending(l) &&
        c->next_event_check > c->cycles + 1)
        c->next_event_check = c->cycles + 1;
}

/* Whether an NMI may still wake a halted CPU: LINT0 in NMI mode (the
 * 8259's INTR) and NMIs not blocked, or blocked only until a VM exit
 * (NMI exiting) takes them. */
static bool nmi_may_wake(const struct cpu *c)
{
    const struct lapic *l = c->m->lapic;
    if (!l || !lapic_lint_nmi_armed(l))
        return false;
    return !c->nmi_blocked ||
           (c->vmx.nonroot && (c->vmx.pin & PIN_NMI_EXITING));
}

/* HLT: time jumps to the next timer event; with interrupts off, or no
 * event ever, the machine would sleep forever, so the run ends. An NMI
 * resumes from HLT whatever IF says (SDM Vol. 2A "HLT"; Vol. 3A 7.7). */
static void wait_halted(struct cpu *c)
{
    uint64_t next = next_event(c);
    /* The VMX-preemption timer counts in HLT too (SDM Vol. 3C 26.5.1). */
    bool can_wake = (flags_get(&c->flags) & FL_IF) || interrupts_exit(c) ||
                    nmi_may_wake(c) ||
                    (c->vmx.nonroot &&
                     c->vmx.preemption_deadline != UINT64_MAX);
    if (!can_wake || next == UINT64_MAX) {
        machine_stop(c->m, STOP_HALTED, 0,
                     "HLT at rip %#llx with %s: the machine would wait "
                     "forever",
                     (unsigned long long)(c->rip - 1),
                     (flags_get(&c->flags) & FL_IF) ? "no timer armed"
                                                    : "interrupts disabled");
        return;
    }
    if (next > c->cycles)
        c->cycles = next;
    c->next_event_check = 0;
    c->halt_wakeups++;
}

/* Runs instructions until something needs the outer loop: an event is
 * due (machine_stop, MMIO writes and STI make it due at once), an
 * interrupt shadow begins, HLT, the instruction limit, or a batch of
 * 2^16 steps. */
static void run_batch(struct cpu *c)
{
    if (c->gdb && c->gdb->each_insn) {
        /* A batch of one: the stub sees every boundary (gdb/stub.h). */
        if (block_batch_continues(c))
            step(c);
        return;
    }
    if (c->engine != ENGINE_STEP) {
        for (unsigned n = 1u << 16; n && block_batch_continues(c);) {
            unsigned done = block_run(c, n);
            if (!done) {
                step(c);
                done = 1;
            }
            n -= done;
        }
        return;
    }
    for (unsigned n = 1u << 16; n && block_batch_continues(c); n--)
        step(c);
}

void cpu_run(struct cpu *c, uint64_t max_insns)
{
    struct machine *m = c->m;
    c->step_limit = max_insns ? max_insns : UINT64_MAX;
    while (m->stop == STOP_NONE && !c->vmx.exited) {
        if (machine_take_signal(m))
            break;
        if (cpu_steps(c) >= c->step_limit) {
            machine_stop(m, STOP_INSN_LIMIT, 0,
                         "instruction limit of %llu reached at rip %#llx",
                         (unsigned long long)max_insns,
                         (unsigned long long)c->rip);
            break;
        }
        if (c->cycles >= c->next_event_check)
            check_interrupts(c);
        if (c->gdb && !c->halted && !c->vmx.exited) {
            gdb_before_insn(c->gdb, c); /* may wait for gdb */
            if (m->stop != STOP_NONE)
                break;
        }
        if (c->halted) {
            wait_halted(c);
        } else if (c->interrupt_shadow) {
            /* Exactly one instruction runs in the shadow of STI or MOV
             * SS, with interrupts held off (SDM Vol. 3A 7.8.3). */
            step(c);
            c->interrupt_shadow = false;
        } else {
            run_batch(c);
        }
        if (c->collected_generation != c->fetch_generation) {
            dcache_collect(c->dcache);
            c->collected_generation = c->fetch_generation;
        }
    }
}
