/* cr3switch: changes the page tables of one address space while running
 * on another, then switches back with MOV to CR3 and checks that the
 * change is seen. A MOV to CR3 without PCIDs invalidates every non-global
 * translation and the paging-structure caches (SDM Vol. 3A 4.10.4.1), so
 * the architecture guarantees this; a hypervisor that caches shadow page
 * tables per address space (l1vmm paging=shadow, docs/l1vmm.md) must not
 * keep a stale one. Stale entries before a flush are never tested
 * (4.10.4.3 leaves them open).
 *
 * Address spaces: the runtime's identity map at PML4[0], and at PML4[1] a
 * region of 4 KiB pages (PT) and one 2 MiB slot (PD[1]), each space with
 * its own PML4, PDPT, PD and PT. Space A is checked after each change made
 * on space B; then SPACES address spaces, more than l1vmm caches (16), map
 * the same address to their own frame and are visited in turn.
 *
 * RESULT: "name=value" per check, where a value is the byte read ("-"
 * never: a check that reads expects a mapping), or a #PF error code, or
 * "-" when an access that may fault completed. */
#include "cpu.h"
#include "probe.h"
#include "rt.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define REGION 0x0000008000000000ull /* PML4 index 1 */
#define VA(page) (REGION + (uint64_t)(page) * 4096)
#define LARGE_VA (REGION + 0x200000) /* PD[1] */
#define LARGE_PA 0xC00000ull         /* 12 MiB: RAM the image does not use */
#define PAGE 4096
enum { TABLE = 512, FRAMES = 8, SPACES = 24 };

extern uint64_t rt_pml4[TABLE];

struct space {
    uint64_t pml4[TABLE], pdpt[TABLE], pd[TABLE], pt[TABLE], pt2[TABLE];
};
static struct space spaces[SPACES] __attribute__((aligned(PAGE)));
static uint8_t frames[FRAMES][PAGE] __attribute__((aligned(PAGE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

static void build(struct space *s, unsigned frame)
{
    uint64_t table = PTE_P | PTE_W;
    s->pml4[0] = rt_pml4[0];
    s->pml4[1] = pa(s->pdpt) | table;
    s->pdpt[0] = pa(s->pd) | table;
    s->pd[0] = pa(s->pt) | table;
    s->pt[0] = pa(frames[frame]) | PTE_P | PTE_W;
}

static void enter(const struct space *s) { write_cr3(pa(s->pml4)); }

static uint8_t read_va(uint64_t va) { return *(volatile uint8_t *)(uintptr_t)va; }

/* The #PF error code of a write to `va`, or -1 if it completed. */
static int64_t write_error(uint64_t va)
{
    unsigned before = rt_caught.count;
    if (!rt_probe_write8((volatile void *)(uintptr_t)va, 0x99))
        return -1;
    if (rt_caught.count != before + 1 || rt_caught.vector != 14 ||
        rt_caught.cr2 != va)
        rt_panic("cr3switch: expected a #PF with CR2 %#lx", va);
    return (int64_t)rt_caught.error;
}

static int64_t read_error(uint64_t va)
{
    unsigned before = rt_caught.count;
    if (!rt_probe_read8((const volatile void *)(uintptr_t)va))
        return -1;
    if (rt_caught.count != before + 1 || rt_caught.vector != 14 ||
        rt_caught.cr2 != va)
        rt_panic("cr3switch: expected a #PF with CR2 %#lx", va);
    return (int64_t)rt_caught.error;
}

/* The CPU writes A and D behind the compiler's back. */
static uint64_t entry(const uint64_t *table, unsigned i)
{
    return ((const volatile uint64_t *)table)[i];
}

static void print_error(const char *name, int64_t error)
{
    if (error < 0)
        rt_printf(" %s=-", name);
    else
        rt_printf(" %s=%#lx", name, (uint64_t)error);
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "cr3switch", 0, 0); /* it takes no arguments */
    rt_catch(14);
    for (unsigned f = 0; f < FRAMES; f++)
        frames[f][0] = (uint8_t)(0xA0 + f);
    *(volatile uint8_t *)(uintptr_t)(LARGE_PA + 0x1000) = 0x6B;
    struct space *a = &spaces[0], *b = &spaces[1];
    build(a, 0);
    build(b, 1);

    /* Every check uses A, switches to B, changes A there, returns. */
    enter(a);
    uint8_t before = read_va(VA(0));
    enter(b);
    uint8_t on_b = read_va(VA(0));
    a->pt[0] = pa(frames[2]) | PTE_P | PTE_W; /* a new frame */
    enter(a);
    uint8_t remapped = read_va(VA(0));

    a->pt[1] = pa(frames[3]) | PTE_P | PTE_W;
    (void)read_va(VA(1));
    enter(b);
    a->pt[1] = 0; /* not present */
    enter(a);
    int64_t absent = read_error(VA(1));

    *(volatile uint8_t *)(uintptr_t)VA(0) = 0x11; /* writable and dirty */
    enter(b);
    a->pt[0] &= ~PTE_W; /* read-only */
    enter(a);
    int64_t read_only = write_error(VA(0));

    /* An upper level: PD[0] now points to another page table. */
    a->pt2[0] = pa(frames[4]) | PTE_P | PTE_W;
    enter(b);
    a->pd[0] = pa(a->pt2) | PTE_P | PTE_W;
    enter(a);
    uint8_t new_table = read_va(VA(0));

    /* 4 KiB pages become one 2 MiB page, and back. */
    enter(b);
    a->pd[0] = LARGE_PA | PTE_P | PTE_W | PTE_PS;
    enter(a);
    uint8_t large = read_va(VA(1));
    enter(b);
    a->pd[0] = pa(a->pt) | PTE_P | PTE_W;
    a->pt[1] = pa(frames[5]) | PTE_P | PTE_W;
    enter(a);
    uint8_t small = read_va(VA(1));

    /* Accessed and dirty (4.8): cleared on B, set again by A's next
     * read and write. */
    *(volatile uint8_t *)(uintptr_t)VA(1) = 0xA5;
    enter(b);
    a->pt[1] &= ~(PTE_A | PTE_D);
    a->pd[0] &= ~PTE_A;
    enter(a);
    (void)read_va(VA(1));
    uint64_t after_read = entry(a->pt, 1) & (PTE_A | PTE_D);
    uint64_t pd_a = entry(a->pd, 0) & PTE_A;
    *(volatile uint8_t *)(uintptr_t)VA(1) = 0x5A;
    uint64_t after_write = entry(a->pt, 1) & (PTE_A | PTE_D);

    /* The same CR3 again flushes as well: a change made on A itself. */
    a->pt[1] = pa(frames[6]) | PTE_P | PTE_W;
    write_cr3(read_cr3());
    uint8_t reload = read_va(VA(1));

    /* More address spaces than l1vmm caches, each its own frame, twice
     * round; each space's frame changes between the rounds. */
    unsigned wrong = 0;
    for (unsigned s = 0; s < SPACES; s++)
        build(&spaces[s], s % FRAMES);
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned s = 0; s < SPACES; s++) {
            enter(&spaces[s]);
            if (read_va(VA(0)) != frames[(s + round) % FRAMES][0])
                wrong++;
        }
        for (unsigned s = 0; s < SPACES; s++)
            spaces[s].pt[0] = pa(frames[(s + 1) % FRAMES]) | PTE_P | PTE_W;
    }
    enter(a);
    write_cr3(pa(rt_pml4));

    rt_printf("RESULT cr3switch before=%#x on_b=%#x remapped=%#x", before,
              on_b, remapped);
    print_error("absent", absent);
    print_error("read_only", read_only);
    rt_printf(" new_table=%#x large=%#x small=%#x a_d=%#lx,%#lx pd_a=%#lx "
              "reload=%#x spaces_wrong=%u\n",
              new_table, large, small, after_read, after_write, pd_a, reload,
              wrong);
    return RT_EXIT_OK;
}
