/* L2's CPUID, answered from a table l1vmm builds once at start-up, as
 * KVM does (its cpuid entries): an L2 CPUID exit costs l1vmm no CPUID
 * of its own, which on a nested L0 would be one more L1 exit per L2
 * CPUID (Turtles sec. 4.3 counts none).
 *
 * The table holds the CPU's answers for the basic and extended ranges,
 * with the features L2 must not see already removed. Bits that follow
 * state L2 can change are kept current: CPUID.1:EDX.APIC follows
 * IA32_APIC_BASE's global enable (L2 writes it through l1vmm), leaf 0xD
 * follows XCR0 (set by l1vmm for L2's XSETBV), and OSXSAVE/OSPKE are
 * taken from L2's CR4 at each query. */
#include "cpu.h"
#include "l1vmm.h"

#define CPUID1_ECX_PCID (1u << 17)
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID1_EDX_APIC (1u << 9)
#define CPUID7_ECX_OSPKE (1u << 4)
#define EXTENDED 0x80000000u

/* Features L2 must not see: VMX (L2 is not given nested VMX), and what
 * l1vmm's controls leave unavailable to it. */
static const struct {
    uint32_t leaf;
    unsigned reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
    uint32_t bits;
    uint32_t proc2_needed; /* hidden unless this control is set; 0: always */
    int shadow_only;
} hidden[] = {
    {1, 2, CPUID1_ECX_VMX, 0, 0},
    {1, 2, CPUID1_ECX_PCID, 0, 1},
    {7, 1, 1u << 10, PROC2_INVPCID, 0},             /* INVPCID */
    {0x80000001, 3, 1u << 27, PROC2_RDTSCP, 0},     /* RDTSCP */
};

/* Leaves whose answer depends on ECX (SDM Vol. 2A "CPUID", Table 3-8):
 * their sub-leaves 0..count-1 are stored; other leaves ignore ECX. */
static const struct {
    uint32_t leaf;
    unsigned subleaves;
} indexed[] = {
    {4, 16},    {7, 16},    {0xB, 16},  {0xD, 64},  {0xF, 16},
    {0x10, 16}, {0x12, 16}, {0x14, 16}, {0x17, 16}, {0x18, 16},
    {0x1D, 16}, {0x1E, 16}, {0x1F, 16}, {0x20, 16}, {0x23, 16},
    {0x24, 16}, {0x8000001D, 16}, {0x80000020, 16}, {0x80000026, 16},
};

enum { MAX_LEAVES = 64, MAX_ENTRIES = 640 };

struct leaf_slot {
    uint16_t first, count; /* count 0: the leaf ignores ECX, one entry */
};

static struct cpuid_regs entries[MAX_ENTRIES];
static unsigned used;
static struct leaf_slot basic[MAX_LEAVES], extended[MAX_LEAVES];
static uint32_t basic_max, extended_max; /* the ranges as the table holds them */

static unsigned subleaves_of(uint32_t leaf)
{
    for (unsigned i = 0; i < sizeof indexed / sizeof indexed[0]; i++)
        if (indexed[i].leaf == leaf)
            return indexed[i].subleaves;
    return 0;
}

static void hide(uint32_t leaf, uint32_t sub, struct cpuid_regs *c)
{
    uint32_t *r[4] = {&c->eax, &c->ebx, &c->ecx, &c->edx};
    for (unsigned i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        int hide_it = hidden[i].proc2_needed
                          ? !(caps.proc2 & hidden[i].proc2_needed)
                          : !hidden[i].shadow_only ||
                                l2.paging == PAGING_SHADOW;
        if (hidden[i].leaf == leaf && hide_it && (leaf != 7 || sub == 0))
            *r[hidden[i].reg] &= ~hidden[i].bits;
    }
}

static struct leaf_slot *slot_of(uint32_t leaf)
{
    if (leaf <= basic_max)
        return &basic[leaf];
    if (leaf >= EXTENDED && leaf <= extended_max)
        return &extended[leaf - EXTENDED];
    return 0;
}

static void fill(uint32_t leaf)
{
    struct leaf_slot *s = slot_of(leaf);
    unsigned n = subleaves_of(leaf);
    s->first = (uint16_t)used;
    s->count = (uint16_t)n;
    for (unsigned sub = 0; sub < (n ? n : 1); sub++) {
        if (used == MAX_ENTRIES)
            rt_panic("l1vmm: CPUID table full at leaf %#x", leaf);
        entries[used] = cpuid(leaf, sub);
        hide(leaf, sub, &entries[used]);
        used++;
    }
}

void cpuid_table_init(void)
{
    basic_max = cpuid(0, 0).eax;
    extended_max = cpuid(EXTENDED, 0).eax;
    if (basic_max >= MAX_LEAVES)
        basic_max = MAX_LEAVES - 1; /* leaves above answer as out of range */
    if (extended_max < EXTENDED)
        extended_max = EXTENDED;
    if (extended_max - EXTENDED >= MAX_LEAVES)
        extended_max = EXTENDED + MAX_LEAVES - 1;
    used = 0;
    for (uint32_t leaf = 0; leaf <= basic_max; leaf++)
        fill(leaf);
    for (uint32_t leaf = EXTENDED; leaf <= extended_max; leaf++)
        fill(leaf);
    /* The table's own maxima, so that L2 never asks for a leaf the
     * table lacks within what leaf 0 announces. */
    entries[basic[0].first].eax = basic_max;
    entries[extended[0].first].eax = extended_max;
}

/* A leaf beyond both ranges gets the highest basic leaf's data (SDM Vol.
 * 2A "CPUID", the note on INPUT EAX = 0). A stored-ECX leaf asked for a
 * sub-leaf past those stored is asked of the CPU: a rare query, and the
 * one CPUID l1vmm executes for L2 (a simplification). */
struct cpuid_regs cpuid_table_lookup(uint32_t leaf, uint32_t sub,
                                     uint64_t l2_cr4)
{
    struct leaf_slot *s = slot_of(leaf);
    if (!s) {
        leaf = basic_max;
        s = &basic[leaf];
    }
    struct cpuid_regs c;
    if (s->count == 0) {
        c = entries[s->first];
    } else if (sub < s->count) {
        c = entries[s->first + sub];
    } else {
        c = cpuid(leaf, sub);
        hide(leaf, sub, &c);
    }
    /* OSXSAVE and OSPKE reflect the CR4 of the software asking: L2's. */
    if (leaf == 1)
        c.ecx = (c.ecx & ~CPUID1_ECX_OSXSAVE) |
                (l2_cr4 & CR4_OSXSAVE ? CPUID1_ECX_OSXSAVE : 0);
    if (leaf == 7 && sub == 0)
        c.ecx = (c.ecx & ~CPUID7_ECX_OSPKE) |
                (l2_cr4 & CR4_PKE ? CPUID7_ECX_OSPKE : 0);
    return c;
}

/* CPUID.1:EDX.APIC is clear while IA32_APIC_BASE[11] is (SDM Vol. 3A
 * 11.4.3). */
void cpuid_table_apic_enabled(int on)
{
    struct cpuid_regs *c = &entries[basic[1].first];
    c->edx = on ? c->edx | CPUID1_EDX_APIC : c->edx & ~CPUID1_EDX_APIC;
}

/* Leaf 0xD's sizes (EBX of sub-leaves 0 and 1) follow XCR0: asked again
 * after L2's XSETBV. */
void cpuid_table_xcr0_changed(void)
{
    if (basic_max < 0xD)
        return;
    struct leaf_slot *s = &basic[0xD];
    for (unsigned sub = 0; sub < 2 && sub < s->count; sub++) {
        entries[s->first + sub] = cpuid(0xD, sub);
        hide(0xD, sub, &entries[s->first + sub]);
    }
}
