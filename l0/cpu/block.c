/* The block engine: see cpu/block.h. Blocks live in one arena that is
 * emptied whenever the decoded code changes (fetch_generation: a write
 * to a code page, or records that moved in the decode cache), the way
 * the step engine's fetch cache is invalidated; they are found through
 * two direct-mapped tables, by linear RIP under the current translations
 * (like the fetch cache) and, after a TLB flush, by physical address. */
#include "cpu/block.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/decode.h"
#include "cpu/exec.h"
#include "cpu/exec_fast.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"
#include "cpu/step.h"
#include "machine.h"

enum {
    BLOCK_MAX_INSNS = 32,
    LIN_SLOTS = 4096,
    PHYS_SLOTS = 4096,
    /* The arena starts small and doubles each time it fills, up to
     * its largest size: a short run (the fuzzers start thousands of
     * machines) then never touches, nor under ASan poisons, 8 MiB. */
    ARENA_FIRST_BYTES = 64 << 10,
    ARENA_MAX_BYTES = 8 << 20,
    /* --engine jit: a block's runs are compiled at its 8th entry. Code
     * that runs a few times (start-up, a fuzzer's short programs, a
     * loop that rewrites itself and so is built again every round)
     * would cost more to compile than it runs. */
    JIT_ENTRIES_DEFAULT = 8,
    /* An address is built into a block when it is reached as one's
     * start for the 4th time (find), and stepped until then: building
     * (decoding ahead, copying the records) costs more than stepping
     * code that runs once or twice, which is most of a fuzzer's short
     * programs and of any start-up (guestfuzz's CPU per program, side
     * by side: docs/fuzzing.md; from the 2nd to the 16th arrival about
     * the same, the 1st 15% more). */
    BUILD_AFTER_DEFAULT = 4,
};

/* A successor found before: the block to run when the one that links
 * it ends at `rip`, valid under the same conditions as a linear slot
 * (below), so following it is exactly what find() would return. */
struct block_link {
    uint64_t rip, tlb_gen, dc_gen, pa;
    struct block *b;
};

struct block {
    uint32_t count;
    /* --engine jit: entries counted up to the block cache's jit_after,
     * at which its runs are compiled (compile_runs); jit_after from the
     * start under the other engines, which never compile. */
    uint32_t entries;
    /* Direct chaining: the fall-through or not-taken successor and the
     * taken one (any two successors, most recent replacing). */
    struct block_link next[2];
    /* --engine jit: the records after a side-exit record whose native
     * run is compiled when run_records first reaches them (bit k for
     * record k; compile_runs). */
    uint32_t late;
    /* `count` records, then for each the handler a run uses, the native
     * code of the run starting there (--engine jit) and the length of
     * that run (block_runs, mark_runs, compile_runs). */
    struct insn insn[];
};

/* A run (run_records): the records from one on that are register-only
 * (exec_fast.h), and a Jcc after them if there is one; where it has
 * native code, the native run (compile_runs), which may also hold
 * records with a side exit (jit.h). */
struct block_runs {
    exec_fn *exec; /* the record's handler, or its flag-free variant */
    jit_fn *native; /* the run's native code, NULL if none (jit.h) */
    uint8_t *len;  /* records in the run from here, 0 if none */
};

static inline struct block_runs block_runs(const struct block *b)
{
    exec_fn *exec = (exec_fn *)(b->insn + b->count);
    jit_fn *native = (jit_fn *)(exec + b->count);
    return (struct block_runs){exec, native, (uint8_t *)(native + b->count)};
}

static size_t block_size(unsigned n)
{
    size_t size = sizeof(struct block) +
                  n * (sizeof(struct insn) + sizeof(exec_fn) +
                       sizeof(jit_fn) + 1);
    return (size + 15) & ~(size_t)15;
}

_Static_assert(sizeof(struct insn) % sizeof(exec_fn) == 0 &&
                   sizeof(exec_fn) == sizeof(jit_fn),
               "the run handlers and native code follow the records aligned");
_Static_assert(BLOCK_MAX_INSNS <= UINT8_MAX, "a run's length in a byte");

/* Found by linear RIP: valid while translations and code are the same,
 * and after a TLB flush again (code_at) while the code is the same and
 * the RIP translates to the same physical address `pa`: b is then the
 * block, or a copy built from the same records, that find() would give
 * (the arena is emptied only when fetch_generation moves). */
struct lin_slot {
    uint64_t rip, tlb_gen, dc_gen, pa;
    struct block *b;
};

/* Found by physical address: valid while the arena holds it. Until the
 * block is built (b NULL), how often its start was reached since the
 * arena was last emptied (find). */
struct phys_slot {
    uint64_t pa, epoch;
    struct block *b;
    uint32_t reached;
};

struct block_cache {
    struct lin_slot lin[LIN_SLOTS];
    struct phys_slot phys[PHYS_SLOTS];
    uint64_t dc_gen; /* fetch_generation the arena's blocks were built at */
    uint64_t epoch;  /* bumped when the arena is emptied */
    size_t used, capacity;
    unsigned char *arena;
    unsigned long long built;
    struct jit *jit; /* --engine jit: made at the first block compiled */
    uint32_t jit_after; /* entries of a block before it is compiled */
    uint32_t build_after; /* arrivals at an address before it is built */
};

struct block_cache *block_cache_create(void)
{
    struct block_cache *bc = calloc(1, sizeof *bc);
    if (!bc)
        return NULL;
    bc->capacity = ARENA_FIRST_BYTES;
    bc->arena = malloc(bc->capacity);
    if (!bc->arena) {
        free(bc);
        return NULL;
    }
    bc->epoch = 1; /* phys slots start at epoch 0: empty */
    bc->jit_after = JIT_ENTRIES_DEFAULT;
    bc->build_after = BUILD_AFTER_DEFAULT;
    return bc;
}

void block_cache_destroy(struct block_cache *bc)
{
    if (!bc)
        return;
    free(bc->arena);
    jit_destroy(bc->jit);
    free(bc);
}

void block_cache_jit_after(struct block_cache *bc, unsigned entries)
{
    bc->jit_after = entries ? entries : 1;
}

void block_cache_build_after(struct block_cache *bc, unsigned arrivals)
{
    bc->build_after = arrivals ? arrivals : 1;
}

unsigned long long block_built(const struct block_cache *bc)
{
    return bc->built;
}

static void empty_arena(struct block_cache *bc, uint64_t dc_gen)
{
    bc->used = 0;
    bc->epoch++;
    bc->dc_gen = dc_gen;
    jit_reset(bc->jit); /* its code calls handlers with the arena's records */
}

/* Control transfers that always leave the straight line: a block ends
 * with them (a conditional branch does not end one; when it is taken,
 * the next RIP is not the next record's and the block stops there).
 * A REP string ends one too: its iterations count as steps, and every
 * other record of a block is exactly one step (block_run's budget). So
 * do POPF and MOV to or from a segment, control or debug register (the
 * records left to exec_mov by isa_specialize): they may start debugging
 * (TF, DR7), which a block's fast path assumes off from its start.
 * UD2 ends one; a VMX instruction, whose record has exec_ud's handler,
 * does not: in VMX non-root operation it exits (and the block stops:
 * the exit makes the next event check due) or is carried out by the VMX
 * engine (VMREAD and VMWRITE of a shadow VMCS), changing no debugging
 * state, and the block goes on after it where block_continues() holds;
 * elsewhere it raises #UD and the block stops where the delivery leaves
 * the straight line. (A block ended at every VMREAD of l1vmm's exit
 * handler until 3 December 2026.) */
static bool ends_block(const struct insn *i)
{
    if ((i->exec == exec_string && i->rep != REP_NONE) ||
        i->exec == exec_popf || i->exec == exec_mov)
        return true;
    if (i->exec == exec_ud && i->vmx_exits)
        return false; /* a VMX instruction: below */
    static const exec_fn enders[] = {
        exec_jmp, exec_call, exec_ret, exec_ljmp, exec_lret, exec_int,
        exec_int3, exec_int1, exec_iret, exec_syscall, exec_sysret,
        exec_ud, exec_hlt,
    };
    for (unsigned k = 0; k < sizeof enders / sizeof *enders; k++)
        if (i->exec == enders[k])
            return true;
    return false;
}

/* The record of the 64-bit instruction at `pa` (linear `lin`), decoded
 * into the decode cache if it is not there yet; false if it does not
 * decode within the page or is not implemented (the step engine then
 * fetches it and reports it, if it ever runs). Decoding has no effect
 * on the machine: the bytes are read physically, within RAM. */
static bool record_at(struct cpu *c, uint64_t lin, uint64_t pa,
                      struct insn *out)
{
    const struct insn *r = dcache_lookup(c->dcache, pa, true);
    if (r) {
        *out = *r;
        return true;
    }
    uint8_t bytes[15];
    unsigned avail = 4096 - (unsigned)(pa & 0xFFF);
    unsigned n = avail < 15 ? avail : 15;
    bool need_more;
    phys_read(c, pa, n, bytes);
    if (!dcache_decode(c->dcache, bytes, n, lin, true, out, &need_more) ||
        !out->exec || out->len > avail)
        return false;
    dcache_insert(c->dcache, pa, out);
    return true;
}

/* Runs and flag liveness. A run is what run_records() executes without
 * the per-record checks of step_execute_charged() and block_continues():
 * register-only records (exec_fast.h), which cannot fault, exit, branch
 * or change anything those checks look at, and which add exactly one
 * modeled cycle and one step each, and then at most one Jcc, which
 * reads the flags and may branch or fault (a non-canonical target) and
 * so ends it. A run is entered only where all of it will run: in the
 * fast path (no debugging, no VMX intercept), within the records the
 * instruction limit allows, and with no event due before its end.
 *
 * Within a run, record k's arithmetic flags are dead when record k+1 is
 * register-only and writes all six without reading any: k then runs
 * its flag-free handler. Nothing can observe RFLAGS between the two:
 *  - an exception or VM exit in k or k+1: neither can raise one (a
 *    record with a memory operand, which can fault and push RFLAGS in
 *    its frame, ends a run and is never k+1; a native run may hold
 *    one, but as it is not register-only it is never k+1 either, and
 *    its side exit comes before it, after records k whose flags were
 *    all recorded);
 *  - an interrupt, NMI, timer or the instruction limit between them:
 *    the step engine takes those only where the modeled cycles reach
 *    next_event_check or the steps reach the limit, and a run is
 *    entered only when neither happens before its last record;
 *  - a debug trap (TF) or breakpoint: a run is not entered then;
 *  - the gdb stub: it sees each boundary only in batches of one step.
 * So after k+1 RFLAGS is exactly what the step engine leaves; a record
 * run one at a time (outside a run) always records its flags. */
static void mark_runs(struct block *b)
{
    struct block_runs r = block_runs(b);
    struct fast_traits after = {0};
    for (unsigned k = b->count; k-- > 0;) {
        struct fast_traits t = exec_fast_traits(b->insn[k].exec);
        if (b->insn[k].vmx_exits) /* none is; the fast path skips intercepts */
            t = (struct fast_traits){0};
        bool dead = t.flagless && after.reg_only && after.writes_all_flags;
        r.exec[k] = dead ? t.flagless : b->insn[k].exec;
        unsigned rest = k + 1 < b->count ? r.len[k + 1] : 0;
        r.len[k] = (uint8_t)(t.reg_only ? 1 + rest : t.jcc);
        after = t;
    }
}

/* Whether a record can be in a native run: register-only, with a side
 * exit (jit.h), or a Jcc, which a native run goes on past. */
static bool joins_native_run(const struct insn *i)
{
    struct fast_traits t = exec_fast_traits(i->exec);
    return !i->vmx_exits && (t.reg_only || t.jcc || jit_side_exits(i));
}

/* --engine jit: native runs, which are runs (mark_runs, with the same
 * handlers) that may also hold records with a side exit (jit.h), and
 * their code: for every native run of two records or more, or of one
 * such record, that no earlier record's native run contains, and from
 * after each side-exit record on (run_records runs that record through
 * its handler after a side exit, and the rest natively again; those are
 * compiled when first reached, compile_late). Where there is native
 * code, len[] is its native run's length; elsewhere it stays the
 * register-only run's, which run_records' loop interprets (a run
 * entered later in its records, or the code buffer full). Side exits
 * change nothing of mark_runs' reasoning: a side-exit record adds one
 * modeled cycle and one step when it makes its access (a modeled TLB
 * hit, so no other cycle) or divides, and otherwise ends the native
 * part with the records before it retired, before it (a side exit) or
 * after it, run as a record outside a run (JIT_STEPPED); where it runs
 * so and the native part goes on, the rest of the run is what
 * run_records would enter as a run right after it (jit.c
 * step_record). A native run also goes on past a Jcc that
 * does not branch (jit.h, JIT_BRANCHED): where it
 * branches or faults, the run ends there, retired as a run ending at
 * that Jcc; the conditions on entering it (all of it within the limit,
 * the budget and before the next event check) only ask more than that
 * shorter run would. Since 3 December 2026: until then a Jcc ended a
 * native run too, and a block with a Jcc in its middle (the sieve's
 * outer loop) went through block_run every round. */
static void compile_runs(struct block_cache *bc, struct block *b)
{
    struct block_runs r = block_runs(b);
    if (!bc->jit)
        bc->jit = jit_create(); /* NULL: the runs stay interpreted */
    bool exits[BLOCK_MAX_INSNS];
    uint8_t len[BLOCK_MAX_INSNS + 1];
    len[b->count] = 0;
    for (unsigned k = b->count; k-- > 0;) {
        exits[k] = jit_side_exits(&b->insn[k]);
        len[k] = (uint8_t)(joins_native_run(&b->insn[k]) ? 1 + len[k + 1]
                                                          : 0);
    }
    for (unsigned k = 0; k < b->count; k++) {
        bool starts = k == 0 || len[k - 1] != len[k] + 1;
        bool first = starts || exits[k - 1];
        bool worth = len[k] >= 2 || (len[k] == 1 && exits[k]);
        r.native[k] = NULL;
        if (first && worth && !starts)
            b->late |= 1u << k; /* compile_late */
        else if (first && worth)
            r.native[k] = jit_compile(bc->jit, &b->insn[k], &r.exec[k],
                                      len[k], k == 0);
        if (r.native[k])
            r.len[k] = len[k];
    }
}

/* The native run from record k on, after a side-exit record, compiled
 * when a side exit first stops before record k - 1 (which then runs
 * through its handler, and k comes next), which most builds never
 * see. Only a DIV that would raise #DE stops so: a memory record whose
 * access misses the fast path runs inside the native code (jit.c
 * step_record), so the bits set after memory records are never
 * reached, and cost a bit each at the build. Kept for DIV: a loop
 * whose divisor is zero now and then would otherwise interpret the
 * rest of its block after every #DE. Checked there, not at every
 * record (hello under --engine block: 97.9 host instructions per guest
 * instruction with the check at every record, 92.2 here). Reached
 * otherwise (the run before it not entered), k's run stays interpreted.
 * A block rebuilt at every round of a loop that rewrites its code
 * compiled one from after every such record, about n^2/2 records
 * written out for n, and guestfuzz's runs under --engine jit spent most
 * of their time there. The code is what
 * compile_runs would have written at the build (the same records,
 * handlers and length), so what runs is the same. */
static __attribute__((noinline)) void
compile_late(struct block_cache *bc, struct block *b, unsigned k)
{
    struct block_runs r = block_runs(b);
    unsigned len = 0;
    while (k + len < b->count && joins_native_run(&b->insn[k + len]))
        len++;
    b->late &= ~(1u << k);
    r.native[k] = jit_compile(bc->jit, &b->insn[k], &r.exec[k], len, false);
    if (r.native[k])
        r.len[k] = (uint8_t)len;
}

/* Decodes the straight line from `pa` to the first instruction that
 * ends a block, the end of the page or BLOCK_MAX_INSNS. */
static struct block *build(struct cpu *c, uint64_t lin, uint64_t pa)
{
    struct block_cache *bc = c->bcache;
    struct insn recs[BLOCK_MAX_INSNS];
    unsigned n = 0;
    uint64_t at = pa, page_end = (pa | 0xFFF) + 1;
    if (page_end > c->m->ram_size)
        return NULL;
    while (n < BLOCK_MAX_INSNS && at < page_end &&
           record_at(c, lin + (at - pa), at, &recs[n])) {
        at += recs[n].len;
        if (ends_block(&recs[n++]))
            break;
    }
    if (n == 0)
        return NULL;
    size_t size = block_size(n);
    /* Decoding moved records at most (no guest memory was written), so
     * the blocks already built stay right. A full arena starts over, and
     * the linear slots that point into it must go: they are checked
     * against fetch_generation, which is bumped for that (the step
     * engine's fetch cache is then refilled too, at no other cost).
     * Below its largest size it starts over twice as large. */
    if (bc->used + size > bc->capacity) {
        unsigned char *larger = bc->capacity < ARENA_MAX_BYTES
                                    ? malloc(bc->capacity * 2)
                                    : NULL;
        if (larger) {
            free(bc->arena);
            bc->arena = larger;
            bc->capacity *= 2;
        }
        empty_arena(bc, ++c->fetch_generation);
    }
    bc->dc_gen = c->fetch_generation;
    struct block *b = (struct block *)(bc->arena + bc->used);
    bc->used += size;
    b->count = n;
    b->late = 0;
    memset(block_runs(b).native, 0, n * sizeof(jit_fn));
    memset(b->next, 0, sizeof b->next);
    memcpy(b->insn, recs, n * sizeof *recs);
    mark_runs(b);
    b->entries = c->engine == ENGINE_JIT ? 0 : bc->jit_after;
    bc->built++;
    return b;
}

/* The physical address of 64-bit code at `rip` as fetch() (cpu.c) finds
 * it: a TLB hit with its checks; on a miss the fill fetch() would make,
 * where the walk cache holds it (mmu_fetch_fill: after a TLB flush, the
 * same fill fetch's own translation makes, which never walks the page
 * tables, faults or exits here). False where the step engine must
 * fetch. A fetch at c->rip follows every call, the block's or the step
 * engine's, so the fill is the one the step engine would make. */
static inline bool code_at(struct cpu *c, uint64_t rip, uint64_t *pa)
{
    const struct tlb_entry *t = tlb_slot(&c->tlb, rip);
    const struct fetch_entry *f =
        &c->fetch[(rip ^ (rip >> 12)) & (FETCH_CACHE_SIZE - 1)];
    bool fetch_hits = f->rip == rip && f->tlb_gen == c->tlb.generation &&
                      f->dc_gen == c->fetch_generation;
    if (t->tag != tlb_tag(&c->tlb, rip) &&
        (fetch_hits || !mmu_fetch_fill(c, rip)))
        return false; /* the step engine's fetch hits its cache: no fill */
    if ((t->perm & TLB_NX) || (c->cpl == 3 && !(t->perm & TLB_USER)))
        return false;
    *pa = t->phys | (rip & 0xFFF);
    return true;
}

/* The block at c->rip, found or built, and in *at the physical address
 * it was found at; NULL where the step engine must fetch (code_at).
 *
 * A block is built at the build_after-th arrival at its start; before,
 * NULL, and the step engine runs the address. `count`: this arrival
 * counts (block_run's own call); successor() does not count one that
 * does not build, since block_run() is called again at the same RIP and
 * counts it then. The arrivals are counted per physical address in the
 * phys slot, and start again from 0 when the arena is emptied (code
 * written, so a loop that rewrites itself is stepped rather than built
 * at every round) or another address takes the slot. Where blocks are
 * built changes nothing the engines do but how fast (cpu/block.h). */
static struct block *find(struct cpu *c, bool count, uint64_t *at)
{
    struct block_cache *bc = c->bcache;
    uint64_t rip = c->rip;
    struct lin_slot *s = &bc->lin[(rip ^ (rip >> 12)) & (LIN_SLOTS - 1)];
    if (s->rip == rip && s->tlb_gen == c->tlb.generation &&
        s->dc_gen == c->fetch_generation && c->code64) {
        *at = s->pa;
        return s->b;
    }
    uint64_t pa;
    if (!c->code64 || !code_at(c, rip, &pa))
        return NULL;
    *at = pa;
    if (s->rip == rip && s->dc_gen == c->fetch_generation && s->pa == pa) {
        s->tlb_gen = c->tlb.generation;
        return s->b;
    }
    if (bc->dc_gen != c->fetch_generation)
        empty_arena(bc, c->fetch_generation);
    struct phys_slot *p = &bc->phys[(pa ^ (pa >> 12)) & (PHYS_SLOTS - 1)];
    if (p->pa != pa || p->epoch != bc->epoch)
        *p = (struct phys_slot){pa, bc->epoch, NULL, 0};
    struct block *b = p->b;
    if (!b) {
        if (p->reached + 1 < bc->build_after) {
            p->reached += count;
            return NULL;
        }
        b = build(c, rip, pa);
        if (!b)
            return NULL;
        /* build() may have emptied the arena: the slot takes its epoch. */
        *p = (struct phys_slot){pa, bc->epoch, b, 0};
    }
    *s = (struct lin_slot){rip, c->tlb.generation, c->fetch_generation, pa,
                           b};
    return b;
}

/* Whether the block goes on after a record: see cpu/block.h. */
static inline bool block_continues(const struct cpu *c, uint64_t next,
                                   uint64_t tlb_gen, uint64_t dc_gen)
{
    return !((c->rip ^ next) | (c->tlb.generation ^ tlb_gen) |
             (c->fetch_generation ^ dc_gen)) &&
           c->cycles < c->next_event_check &&
           !(c->interrupt_shadow | c->halted);
}

/* Whether the modeled TLB is consulted for fetches now (tlb_charge_page). */
static inline bool fetches_charged(const struct cpu *c)
{
    return (c->cr0 & CR0_PG) || tlb_charge_ept(c);
}

/* The fetch side's last hit in the modeled TLB (tlb_model.h, last[1])
 * as a block left it, at TLB generation `gen`; NULL if unknown. */
struct fetch_hint {
    const struct tlbm_entry *e;
    uint64_t gen;
};

/* Runs n records of b; `plain` (no debugging at the block's start) as
 * in step_execute_charged() for every record but one that may exit in
 * VMX non-root operation (vmx_exits), which takes the checked path
 * there. Returns how many ran.
 *
 * The modeled fetch: while tlb.generation is the same, so is the
 * translation context (any change of CR0.PG, CR3, CR4, VMX operation,
 * VPID or EPTP changes the translations and bumps it), and every entry
 * put in the model since carries it. So while the fetch side's last hit
 * is still the entry a fetch left there (an invalidation clears it), a
 * fetch on a page that entry covers is tlbm_same_page()'s hit: counted
 * here without the lookup, exactly as the lookup counts it. Within a
 * block (one page, one generation) that is the entry after the previous
 * record; at a block's start, the one the block before it left (*h).
 *
 * --engine jit: where the block starts with a run of native code whose
 * Jcc branches back to the block's start, the native code runs it
 * again while block_run() would run it again (struct jit_loop, jit.c
 * emit_loop): `room` (>= n) is the number of steps the budget and the
 * instruction limit allow from the call on, and another run must fit
 * in it and end before the next event check (the records after the
 * loop get what is left of it, as n). Nothing else can differ:
 * block_batch_continues() holds (the limit and the event check by
 * those two conditions; a run sets no interrupt shadow and does not
 * halt), the run changes no translation, decoded code, debugging state
 * or fetch hint (so its fetches stay known hits), the successor at the
 * start RIP is this block or a copy of it built from the same records,
 * and `plain` is the block's own.
 * Until 3 December 2026 this loop was here, in C, around the native
 * call; each round then paid the checks of a run's entry. */
static inline __attribute__((always_inline)) unsigned
run_records(struct cpu *c, struct block *b, unsigned n, bool plain,
            struct fetch_hint *h, uint64_t room)
{
    uint64_t looped = 0;
    uint64_t tlb_gen = c->tlb.generation, dc_gen = c->fetch_generation;
    struct tlb_model *mt = c->mtlb;
    const struct tlbm_entry *fetch_entry = NULL;
    if (h->e && h->gen == tlb_gen && mt->last[1] == h->e &&
        h->e->vpn == c->rip >> tlbm_page_shift(h->e->size))
        fetch_entry = h->e;
    h->gen = tlb_gen;
    struct block_runs runs = block_runs(b);
    unsigned exited = UINT_MAX; /* the record a side exit stopped before */
    for (unsigned k = 0; k < n;) {
        const struct insn *i = &b->insn[k];
        uint64_t next = c->rip + i->len;
        bool known = fetch_entry && mt->last[1] == fetch_entry;
        unsigned len = runs.len[k];
        if (plain && known && len && k != exited && len <= n - k &&
            c->cycles + len < c->next_event_check) {
            /* A run (mark_runs): every record retires, as the step
             * engine's would, one modeled cycle and a known fetch hit
             * each, and the block goes on after each but where the Jcc
             * ending it branches or faults. */
            uint64_t rip = c->rip;
            if (runs.native[k]) {
                struct jit_loop l = {0, room};
                struct jit_stop stop = runs.native[k](c, rip, &l);
                if (l.looped) { /* only k = 0 loops */
                    looped = l.looped;
                    if (room - looped < n)
                        n = (unsigned)(room - looped);
                }
                if (__builtin_expect(stop.how == JIT_STEPPED, 0)) {
                    /* Stopped after record k + ran - 1, which ran as
                     * the path below runs it, with the records before
                     * it retired (jit.h): on from the path's end. */
                    k += stop.ran;
                    if (!block_continues(c, stop.rip, tlb_gen, dc_gen)) {
                        h->e = fetch_entry;
                        return (unsigned)(k + looped);
                    }
                    fetch_entry = fetches_charged(c) ? mt->last[1] : NULL;
                    continue;
                }
                if (__builtin_expect(stop.ran < len && !stop.how, 0)) {
                    /* A side exit (jit.h) before record k + ran, at
                     * stop.rip: the records before it retired, and it
                     * runs next, through the path below with every
                     * check, not in a run (its fetch is still known to
                     * hit: the native code made no fetch-side change). */
                    unsigned ran = stop.ran;
                    c->cycles += ran;
                    mt->stats.hits += ran;
                    c->insns += ran;
                    c->rip = stop.rip;
                    k += ran;
                    exited = k;
                    if (k + 1 < b->count && (b->late >> (k + 1) & 1))
                        compile_late(c->bcache, b, k + 1);
                    continue;
                }
                len = stop.ran; /* less where a Jcc before its end branched */
                rip = stop.rip;
            } else {
                for (unsigned j = 0; j < len; j++) {
                    rip += i[j].len;
                    c->next_rip = rip;
                    runs.exec[k + j](c, &i[j]);
                }
            }
            c->cycles += len;
            mt->stats.hits += len;
            k += len;
            if (__builtin_expect(c->exc.raised, 0)) {
                /* The Jcc: the step engine counts no retirement for it
                 * and delivers the fault at its RIP. */
                c->insns += len - 1;
                c->rip = rip - i[len - 1].len;
                cpu_finish_event(c);
                h->e = fetch_entry;
                return (unsigned)(k + looped);
            }
            c->insns += len;
            c->rip = c->next_rip;
            if (c->rip != rip) { /* a Jcc taken */
                h->e = fetch_entry;
                return (unsigned)(k + looped);
            }
            continue;
        }
        if (known)
            mt->stats.hits++;
        if (plain && !(c->vmx.nonroot && i->vmx_exits))
            step_execute_charged(c, i, true, !known);
        else
            step_execute_charged(c, i, false, !known);
        k++;
        if (!block_continues(c, next, tlb_gen, dc_gen)) {
            h->e = fetch_entry;
            return (unsigned)(k + looped);
        }
        fetch_entry = fetches_charged(c) ? mt->last[1] : NULL;
    }
    h->e = fetch_entry;
    return (unsigned)(n + looped);
}

/* The block to run after `b` at c->rip: a link of b if one is still
 * valid (after a TLB flush, as a linear slot is: the same code at the
 * same physical address), else find()'s answer, which is then linked. */
static inline struct block *successor(struct cpu *c, struct block *b)
{
    for (unsigned k = 0; k < 2; k++) {
        struct block_link *l = &b->next[k];
        if (l->rip != c->rip || l->dc_gen != c->fetch_generation ||
            !c->code64)
            continue;
        if (l->tlb_gen == c->tlb.generation)
            return l->b;
        uint64_t pa;
        if (code_at(c, c->rip, &pa) && pa == l->pa) {
            l->tlb_gen = c->tlb.generation;
            return l->b;
        }
    }
    uint64_t epoch = c->bcache->epoch, pa;
    struct block *s = find(c, false, &pa);
    /* find() may have emptied the arena: b is gone then, and its bytes
     * may already be another block's. */
    if (s && c->bcache->epoch == epoch) {
        b->next[1] = b->next[0];
        b->next[0] = (struct block_link){c->rip, c->tlb.generation,
                                         c->fetch_generation, pa, s};
    }
    return s;
}

unsigned block_run(struct cpu *c, unsigned budget)
{
    uint64_t at;
    struct block *b = find(c, true, &at);
    unsigned done = 0;
    struct fetch_hint hint = {NULL, 0};
    c->data_hint_on = true; /* ops.h charge_data */
    while (b) {
        /* Compiling between blocks changes nothing the block engine
         * does but how fast: a run without native code is interpreted
         * by the same handlers (compile_runs). */
        if (__builtin_expect(b->entries < c->bcache->jit_after, 0) &&
            ++b->entries == c->bcache->jit_after)
            compile_runs(c->bcache, b);
        /* Each record but a block's last is one step, so the instruction
         * limit is a count here; the rest of block_batch_continues() is
         * checked after every record. */
        uint64_t to_limit = c->step_limit - cpu_steps(c);
        unsigned n = b->count < budget - done ? b->count : budget - done;
        if (to_limit < n)
            n = (unsigned)to_limit;
        uint64_t room = budget - done < to_limit ? budget - done : to_limit;
        /* Debugging and VMX intercepts stay as they are at the block's
         * start: what may change them ends a block (ends_block) or
         * leaves the straight line (an event, a VM exit or entry). In
         * non-root operation a record that may exit takes the checked
         * path, the records around it the fast one (run_records). */
        bool debugging = (c->flags.bits & (FL_TF | FL_RF)) || c->dbg.active;
        if (debugging)
            done += run_records(c, b, n, false, &hint, room);
        else
            done += run_records(c, b, n, true, &hint, room);
        /* Wherever the block left off (its end, a taken branch, an
         * exception delivered), the step engine's batch would go on
         * if this holds; so does the chain. */
        if (done >= budget || !block_batch_continues(c))
            break;
        b = successor(c, b);
    }
    c->data_hint_on = false;
    c->data_hint = NULL;
    return done;
}
