/* Segment descriptors and segment-register loads (SDM Vol. 3A 3.4.5,
 * 5.3 to 5.10). Call gates, task gates and task switches are not
 * emulated: a far transfer through one raises #GP (docs/emulator.md). */
#include "cpu/mmu.h"
#include "cpu/system.h"

static uint32_t sel_error(uint16_t sel) { return sel & 0xFFFC; }

static bool table_for(struct cpu *c, uint16_t sel, uint64_t *base,
                      uint32_t *limit)
{
    if (sel & 4) { /* TI: the LDT */
        const struct segment *ldt = &c->seg[SEG_LDTR];
        if (ldt->attr & SEG_ATTR_UNUSABLE)
            return cpu_fault(c, VEC_GP, sel_error(sel));
        *base = ldt->base;
        *limit = ldt->limit;
    } else {
        *base = c->gdtr.base;
        *limit = c->gdtr.limit;
    }
    return true;
}

bool seg_read_descriptor(struct cpu *c, uint16_t sel, uint64_t *desc)
{
    uint64_t base = 0;
    uint32_t limit = 0;
    if (!table_for(c, sel, &base, &limit))
        return false;
    uint64_t off = sel & 0xFFF8;
    if (off + 7 > limit)
        return cpu_fault(c, VEC_GP, sel_error(sel));
    if (!c->long_mode)
        base &= 0xFFFFFFFFull;
    return lin_read(c, base + off, 8, desc, ACC_READ, false);
}

bool seg_read_descriptor_high(struct cpu *c, uint16_t sel, uint64_t *high)
{
    uint64_t base = 0;
    uint32_t limit = 0;
    if (!table_for(c, sel, &base, &limit))
        return false;
    uint64_t off = (sel & 0xFFF8) + 8;
    if (off + 7 > limit)
        return cpu_fault(c, VEC_GP, sel_error(sel));
    return lin_read(c, base + off, 8, high, ACC_READ, false);
}

void seg_from_descriptor(struct segment *s, uint16_t sel, uint64_t d)
{
    uint32_t limit = (uint32_t)((d & 0xFFFF) | ((d >> 32) & 0xF0000));
    s->sel = sel;
    s->base = ((d >> 16) & 0xFFFFFF) | ((d >> 32) & 0xFF000000);
    s->attr = (uint32_t)((d >> 40) & 0xF0FF);
    s->limit = (s->attr & SEG_ATTR_G) ? (limit << 12) | 0xFFF : limit;
}

bool seg_set_accessed(struct cpu *c, uint16_t sel, uint64_t d)
{
    if (d & (1ull << 40))
        return true;
    uint64_t base = 0;
    uint32_t limit = 0;
    if (!table_for(c, sel, &base, &limit))
        return false;
    uint8_t type = (uint8_t)((d >> 40) | 1);
    return lin_write(c, base + (sel & 0xFFF8) + 5, 1, &type, false);
}

static void set_null(struct segment *s, uint16_t sel)
{
    *s = (struct segment){.sel = sel, .attr = SEG_ATTR_UNUSABLE};
}

bool seg_load_data(struct cpu *c, unsigned seg, uint16_t sel)
{
    unsigned rpl = sel & 3;
    if ((sel & 0xFFFC) == 0) {
        /* A null SS is allowed only in 64-bit mode below CPL 3 with
         * RPL = CPL (SDM Vol. 2B "MOV", 64-bit mode). */
        if (seg == SEG_SS && !(c->code64 && c->cpl != 3 && rpl == c->cpl))
            return cpu_fault(c, VEC_GP, 0);
        set_null(&c->seg[seg], sel);
        return true;
    }
    uint64_t d;
    if (!seg_read_descriptor(c, sel, &d))
        return false;
    struct segment s;
    seg_from_descriptor(&s, sel, d);
    unsigned type = s.attr & 0xF, dpl = SEG_ATTR_DPL(s.attr);
    bool code = type & 8, readable = !code || (type & 2);
    bool conforming = code && (type & 4), writable = !code && (type & 2);
    if (!(s.attr & SEG_ATTR_S))
        return cpu_fault(c, VEC_GP, sel_error(sel));
    if (seg == SEG_SS) {
        if (!writable || rpl != c->cpl || dpl != c->cpl)
            return cpu_fault(c, VEC_GP, sel_error(sel));
        if (!(s.attr & SEG_ATTR_P))
            return cpu_fault(c, VEC_SS, sel_error(sel));
    } else {
        if (!readable || (!conforming && (rpl > dpl || c->cpl > dpl)))
            return cpu_fault(c, VEC_GP, sel_error(sel));
        if (!(s.attr & SEG_ATTR_P))
            return cpu_fault(c, VEC_NP, sel_error(sel));
    }
    if (!seg_set_accessed(c, sel, d))
        return false;
    s.attr |= 1;
    c->seg[seg] = s;
    return true;
}

bool seg_load_code(struct cpu *c, uint16_t sel, unsigned new_cpl,
                   bool is_return)
{
    if ((sel & 0xFFFC) == 0)
        return cpu_fault(c, VEC_GP, 0);
    uint64_t d;
    if (!seg_read_descriptor(c, sel, &d))
        return false;
    struct segment s;
    seg_from_descriptor(&s, sel, d);
    unsigned type = s.attr & 0xF, dpl = SEG_ATTR_DPL(s.attr), rpl = sel & 3;
    if (!(s.attr & SEG_ATTR_S) || !(type & 8))
        return cpu_fault(c, VEC_GP, sel_error(sel)); /* gates: not emulated */
    bool conforming = type & 4;
    if (is_return) {
        if (rpl != new_cpl || (conforming ? dpl > rpl : dpl != rpl))
            return cpu_fault(c, VEC_GP, sel_error(sel));
    } else if (conforming ? dpl > c->cpl : (rpl > c->cpl || dpl != c->cpl)) {
        return cpu_fault(c, VEC_GP, sel_error(sel));
    }
    if (!(s.attr & SEG_ATTR_P))
        return cpu_fault(c, VEC_NP, sel_error(sel));
    if ((s.attr & SEG_ATTR_L) && (s.attr & SEG_ATTR_DB) && c->long_mode)
        return cpu_fault(c, VEC_GP, sel_error(sel)); /* L and D both set */
    if (!seg_set_accessed(c, sel, d))
        return false;
    s.attr |= 1;
    s.sel = (uint16_t)((sel & ~3u) | new_cpl);
    c->seg[SEG_CS] = s;
    c->cpl = new_cpl;
    cpu_update_mode(c);
    return true;
}

/* SYSCALL and SYSRET load fixed descriptors, not the GDT's (SDM Vol. 2B
 * "SYSCALL", "SYSRET"). */
void seg_set_flat(struct segment *s, uint16_t sel, bool code, unsigned dpl,
                  bool long_code)
{
    s->sel = sel;
    s->base = 0;
    s->limit = 0xFFFFFFFF;
    s->attr = SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_G | (dpl << 5) |
              (code ? 0xB : 0x3);
    if (code)
        s->attr |= long_code ? SEG_ATTR_L : SEG_ATTR_DB;
    else
        s->attr |= SEG_ATTR_DB;
}
