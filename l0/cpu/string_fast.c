/* REP MOVS, STOS and LODS over RAM, a run of iterations at a time.
 *
 * A run stays on one 4 KiB page of the destination (and of the source)
 * that the host-side TLB already maps with the rights the element path
 * would need (ops.h tlb_peek): RAM, not a page of decoded code, written
 * before (dirty), and on offsets the segment admits. On such a
 * page the element path's translation finds that entry too, so it
 * walks nothing, sets no A/D flag and cannot fault: its only effects
 * per element are the modeled TLB lookups, the memory access, the
 * registers and one modeled cycle and one step. Everything else
 * (faults, MMIO, the APIC-access page, code pages, offsets beyond a
 * segment's limit or wrapping at the address size, expand-down
 * segments, elements across a page boundary) is left to the element
 * path, one iteration at a time. */
#include "cpu/string_fast.h"

#include <string.h>

#include "cpu/exec.h"
#include "cpu/ops.h"
#include "cpu/tlb_charge.h"

/* Elements of `size` bytes from linear `a` on, moving by `step`, that
 * lie whole in a's page. */
static uint64_t elements_in_page(uint64_t a, unsigned size, int64_t step)
{
    unsigned off = (unsigned)(a & 0xFFF);
    if (off > 4096u - size)
        return 0;
    return step > 0 ? (4096u - off) / size : off / size + 1;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Whether the rest of the run may be charged to the modeled TLB in one
 * sum: the element path's lookups of these pages would each find the
 * data side's last hit (tlbm_same_page: a hit counted, nothing else), or
 * there is no translation to cache at all (tlb_charge_page). */
static bool charges_are_hits(struct cpu *c, bool writes, uint64_t dst,
                             bool reads, uint64_t src)
{
    if (!(c->cr0 & CR0_PG) && !tlb_charge_ept(c))
        return true;
    struct tlbm_tag tag = tlb_charge_tag(c);
    return !c->mtlb->one_access &&
           (!writes || tlbm_is_last_page(c->mtlb, dst, false, tag)) &&
           (!reads || tlbm_is_last_page(c->mtlb, src, false, tag));
}

/* `count` copies of the low `size` bytes of `value` (a constant size
 * where it is inlined, so that each copy is one store). */
static inline __attribute__((always_inline)) void
fill_elements(uint8_t *d, uint64_t value, unsigned size, uint64_t count)
{
    for (uint64_t k = 0; k < count; k++)
        memcpy(d + k * size, &value, size);
}

/* Iterations `from` .. `from + count - 1` of the run's memory work. */
static void move_elements(uint8_t *dst, const uint8_t *src, uint64_t value,
                          unsigned size, int64_t step, uint64_t from,
                          uint64_t count)
{
    /* The lowest element of the range: the first one going up, the
     * last one going down (DF = 1). */
    int64_t low = step > 0 ? (int64_t)from * step
                           : (int64_t)(from + count - 1) * step;
    uint8_t *d = dst + low;
    if (src) {
        /* The run's bounds keep the ranges apart where the element path
         * would read what it wrote (string_fast): memmove is then the
         * same as element after element. */
        memmove(d, src + low, count * size);
    } else if ((value & size_mask(size)) ==
               ((value & 0xFF) * 0x0101010101010101ull & size_mask(size))) {
        memset(d, (uint8_t)value, count * size); /* one byte repeated */
    } else {
        switch (size) {
        case 2: fill_elements(d, value, 2, count); break;
        case 4: fill_elements(d, value, 4, count); break;
        default: fill_elements(d, value, 8, count); break;
        }
    }
}

/* One side of a run (the destination or the source), from offset `off`
 * of segment `seg` on, at most `n` elements: how many of them the run
 * may take (0: none), with the first one's linear address and TLB
 * entry. Each element taken passes the checks of seg_linear (mmu.c)
 * without wrapping at the address size, and lies in one page the
 * host-side TLB maps with the rights needed. */
static uint64_t run_side(struct cpu *c, unsigned seg, uint64_t off,
                         uint64_t am, unsigned size, int64_t step,
                         bool write, uint64_t n, uint64_t *lin,
                         struct tlb_entry **t)
{
    const struct segment *sg = &c->seg[seg];
    if (off + size - 1 > am || off + size - 1 < off)
        return 0;
    n = min_u64(n, step > 0 ? (am - off - (size - 1)) / size + 1
                            : off / size + 1);
    if (c->code64) {
        *lin = off + (seg == SEG_FS || seg == SEG_GS ? sg->base : 0);
        if (!cpu_canonical(*lin) || !cpu_canonical(*lin + size - 1))
            return 0;
        n = min_u64(n, elements_in_page(*lin, size, step));
    } else {
        /* Protected and compatibility mode (SDM Vol. 3A 5.3): a usable
         * data segment, writable for the destination, readable for the
         * source, expand-up, and every element within the limit. */
        unsigned type = sg->attr & 0xF;
        bool code = type & 8;
        if ((sg->attr & SEG_ATTR_UNUSABLE) ||
            (write && (code || !(type & 2))) ||
            (!write && code && !(type & 2)) || (!code && (type & 4)))
            return 0;
        *lin = (sg->base + off) & 0xFFFFFFFFull;
        n = min_u64(n, elements_in_page(*lin, size, step));
        uint64_t last = step > 0 ? off + (n - 1) * size : off;
        if (n && last + size - 1 > sg->limit)
            return 0;
    }
    if (n)
        *t = tlb_peek(c, *lin, size, write);
    return n && *t ? n : 0;
}

bool string_fast(struct cpu *c, const struct insn *i, unsigned size,
                 unsigned src_seg, int64_t step)
{
    /* MOVS reads and writes, STOS writes, LODS reads (into RAX). */
    bool movs = i->sub == STR_MOVS, lods = i->sub == STR_LODS;
    if (c->string_fast_off || (!movs && !lods && i->sub != STR_STOS))
        return false;
    bool reads = movs || lods, writes = !lods;
    uint64_t am = addr_mask(i);
    uint64_t di = c->gpr[RDI] & am, si = c->gpr[RSI] & am, dl = 0, sl = 0;
    struct tlb_entry *d = NULL, *s = NULL;
    uint64_t n = c->gpr[RCX] & am;
    if (writes)
        n = run_side(c, SEG_ES, di, am, size, step, true, n, &dl, &d);
    if (reads && n)
        n = run_side(c, src_seg, si, am, size, step, false, n, &sl, &s);
    if (!n)
        return false;
    uint8_t *dst = writes ? d->host + (dl & 0xFFF) : NULL;
    const uint8_t *src = reads ? s->host + (sl & 0xFFF) : NULL;
    if (movs) {
        /* Where the destination lies ahead of the source in the
         * direction of the copy by less than the run, an element would
         * read bytes an earlier one wrote (physical addresses: two
         * linear pages may share a frame): the run stops short of that. */
        uint64_t pd = d->phys + (dl & 0xFFF), ps = s->phys + (sl & 0xFFF);
        uint64_t ahead = step > 0 ? pd - ps : ps - pd;
        if (ahead && ahead < n * size)
            n = ahead / size;
        if (!n)
            return false;
    }
    /* Iteration by iteration as exec_string makes them, until the
     * modeled TLB's lookups are known to be plain hits. */
    uint64_t done = 0, value = c->gpr[RAX];
    for (;;) {
        uint64_t at = done * (uint64_t)step;
        if (reads)
            charge_data(c, sl + at);
        if (writes) {
            charge_data(c, dl + at);
            move_elements(dst, src, value, size, step, done, 1);
        }
        done++;
        c->cycles++;
        c->rep_iterations++;
        if (done == n || string_must_pause(c))
            break;
        if (charges_are_hits(c, writes, dl + at, reads, sl + at)) {
            /* Each further iteration adds one modeled cycle and one
             * step, and nothing else exec_string's pause looks at
             * changes: it would pause after the iteration that reaches
             * the next event check or the step limit, and no earlier. */
            uint64_t more = min_u64(n - done,
                                    min_u64(c->next_event_check - c->cycles,
                                            c->step_limit - cpu_steps(c)));
            if (writes)
                move_elements(dst, src, value, size, step, done, more);
            if ((c->cr0 & CR0_PG) || tlb_charge_ept(c))
                c->mtlb->stats.hits += more * (movs ? 2 : 1);
            done += more;
            c->cycles += more;
            c->rep_iterations += more;
            break;
        }
    }
    /* As the element path leaves them (gpr_set at the address size). */
    uint64_t moved = done * (uint64_t)step;
    unsigned as = i->addrsize;
    gpr_set(c, RCX, as, false, (c->gpr[RCX] & am) - done);
    if (writes)
        gpr_set(c, RDI, as, false, di + moved);
    if (reads)
        gpr_set(c, RSI, as, false, si + moved);
    if (lods) { /* RAX holds the last element loaded */
        uint64_t last = 0;
        /* A signed offset: DF = 1 goes below src (an unsigned one
         * would wrap the pointer, undefined in C). */
        memcpy(&last, src + (int64_t)(done - 1) * step, size);
        gpr_set(c, RAX, size, false, last);
    }
    return true;
}
