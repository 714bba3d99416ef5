/* l1fuzz: a hostile L1 whose L2s really run (`make fuzz`, docs/fuzzing.md).
 *
 *   turtles run --mode nested --l1 l1fuzz.elf --l1-args "seed=N rounds=R" X
 *
 * Each round builds a VMCS that passes the entry checks, like l1vmm's,
 * then changes it within the legal ranges the capability MSRs give: any
 * allowed-1 control bit (with what it depends on set up: I/O and MSR
 * bitmaps, EPT12, a VPID), the exception bitmap and #PF mask/match, CR0
 * and CR4 guest/host masks and read shadows, the preemption timer, an
 * event to inject of every type, RFLAGS.IF, EPT12 permissions and memory
 * types. Then it launches an L2 that runs generated code and resumes it
 * after each exit, up to 8 times, so that L2 exits in every way. Rarely
 * it breaks one field on purpose (entry failure or VMfail).
 *
 * L2 is fenced in: its own page tables map only its 2 MiB area (code,
 * stack, data; its IDT, GDT and TSS copies, page tables, bitmaps and
 * EPT12 read-only), it cannot leave them (CR3 loads and CR0.WP changes
 * always exit), I/O to the exit ports and the UART always exits, and its
 * IDT sends every vector to VMCALL; HLT always exits. So L2 can corrupt
 * nothing of L1: every 8 rounds and at the end L1 checks that its own
 * code and read-only data are unchanged. (Without the CR3 fence L2 reached all of
 * L1's memory by loading CR3 with the EPT12 PML4 it found in a register:
 * EPT entries read as present, writable 2 MiB pages; docs/fuzzing.md.)
 *
 * It prints the outcome of every launch and every exit by reason:
 *   METRIC l1fuzz launches=.. l2_reached=.. vmfail_valid=..
 *          vmfail_invalid=.. entry_failures=.. resumes=.. exits=..
 *   EXITS l1fuzz <reason>=<count> ...
 * and depends on nothing but the seed. */
#include "../l1test.h"

/* Encodings l1vmm/vmx.h does not name (SDM Vol. 3C Appendix B). */
enum {
    VPID_FIELD = 0x0000, IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002,
    GUEST_PREEMPTION_TIMER = 0x482E,
};

enum { PAGE = 4096, AREA = 2u << 20, MAX_RESUMES = 8 };

/* L2's world, one 2 MiB-aligned area; page numbers inside it. */
static uint8_t area[AREA] __attribute__((aligned(2u << 20)));
enum {
    P_CODE = 0, P_STUB = 1, P_IDT = 2, P_GDT = 3, P_PML4 = 4, P_PDPT = 5,
    P_PD = 6, P_PT = 7, P_STACK = 8 /* 4 pages */, P_DATA = 12,
    P_IO_A = 13, P_IO_B = 14, P_MSR = 15, P_EPT_PML4 = 16, P_EPT_PDPT = 17,
    P_EPT_PD = 18 /* 4 pages */, P_PAGES = 22,
};

static uint8_t vmxon_region[PAGE] __attribute__((aligned(PAGE)));
static uint8_t vmcs[PAGE] __attribute__((aligned(PAGE)));

static uint64_t pa(const void *p) { return l1test_pa(p); }
static uint8_t *page(unsigned n) { return area + (uint64_t)n * PAGE; }
static uint64_t *table(unsigned n) { return (uint64_t *)(void *)page(n); }

/* ---- randomness (xorshift64*, from the seed only) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t below(uint32_t n) { return (uint32_t)(rnd() % n); }
static bool chance(uint32_t one_in) { return below(one_in) == 0; }

/* ---- L2's tables ---- */

/* L2's page tables: the area in 4 KiB pages, nothing else. The tables,
 * IDT and GDT pages, the bitmaps and EPT12 are read-only (writing EPT12
 * or the I/O bitmap would open L1's memory or the UART to L2); A and D are preset so that walks
 * never write them (SDM Vol. 3A 5.8). */
static void build_l2_paging(void)
{
    uint64_t base = pa(area);
    table(P_PML4)[(base >> 39) & 511] = pa(page(P_PDPT)) | 0x67;
    table(P_PDPT)[(base >> 30) & 511] = pa(page(P_PD)) | 0x67;
    table(P_PD)[(base >> 21) & 511] = pa(page(P_PT)) | 0x67;
    for (unsigned i = 0; i < P_PAGES; i++) {
        bool read_only = i == P_IDT || i == P_GDT ||
                         (i >= P_PML4 && i <= P_PT) || i >= P_IO_A;
        table(P_PT)[i] = pa(page(i)) | 0x61 | (read_only ? 0 : 2) | 0x4;
    }
}

/* L2's GDT: L1's, copied, so that L2 cannot write L1's; TSS descriptor
 * pointing at a TSS copy in the same page. Its IDT: every vector to the
 * stub, which makes L1 see a VMCALL. */
static void build_l2_tables(void)
{
    extern uint64_t rt_gdt[];
    uint64_t *gdt = table(P_GDT);
    for (unsigned i = 0; i < 8; i++)
        gdt[i] = rt_gdt[i];
    uint64_t tss = pa(page(P_GDT)) + 2048;
    gdt[RT_SEL_TSS / 8] = 0x67 | (tss & 0xFFFFFF) << 16 | 0x8Bull << 40 |
                          ((tss >> 24) & 0xFF) << 56;
    gdt[RT_SEL_TSS / 8 + 1] = tss >> 32;
    *(uint64_t *)(page(P_GDT) + 2048 + 4) = pa(page(P_STACK + 4)); /* rsp0 */
    uint8_t *stub = page(P_STUB);
    static const uint8_t vmcall_hlt[] = {0x0f, 0x01, 0xc1, 0xf4, 0xeb, 0xfa};
    for (unsigned i = 0; i < sizeof vmcall_hlt; i++)
        stub[i] = vmcall_hlt[i];
    uint64_t s = pa(stub);
    for (unsigned v = 0; v < 256; v++) {
        uint64_t *gate = table(P_IDT) + 2 * v;
        gate[0] = (s & 0xFFFF) | (uint64_t)RT_SEL_KCODE << 16 |
                  0xEE00ull << 32 | ((s >> 16) & 0xFFFF) << 48;
        gate[1] = s >> 32;
    }
}

/* EPT12: identity over 4 GiB in 2 MiB pages, write-back, with some
 * entries damaged: fewer permissions, another memory type, or a
 * misconfiguration (write without read, SDM Vol. 3C 29.3.3.1). */
static void build_ept12(void)
{
    table(P_EPT_PML4)[0] = pa(page(P_EPT_PDPT)) | 7;
    for (unsigned g = 0; g < 4; g++) {
        table(P_EPT_PDPT)[g] = pa(page(P_EPT_PD + g)) | 7;
        for (unsigned i = 0; i < 512; i++)
            table(P_EPT_PD + g)[i] = ((uint64_t)g << 30 | (uint64_t)i << 21) |
                                     0x80 | 6 << 3 | 7;
    }
    unsigned damage = chance(2) ? 0 : below(4);
    uint64_t area_slot = pa(area) >> 21;
    for (unsigned k = 0; k < damage; k++) {
        uint64_t slot = chance(2) ? area_slot : below(2048);
        uint64_t *e = &table(P_EPT_PD + (unsigned)(slot / 512))[slot % 512];
        switch (below(3)) {
        case 0: *e &= ~(uint64_t)(1u << below(3)); break;
        case 1: *e = (*e & ~(7ull << 3)) | (uint64_t)(chance(2) ? 0 : 6) << 3; break;
        default: *e = (*e & ~7ull) | 2; break; /* write-only: misconfig */
        }
    }
}

/* ---- L2's code ---- */

/* Instructions L2 runs: exits of every kind, faults, port I/O. */
static const uint8_t snippets[][8] = {
    {2, 0x0f, 0xa2},                 /* CPUID */
    {1, 0xf4},                       /* HLT */
    {2, 0x0f, 0x31},                 /* RDTSC */
    {3, 0x0f, 0x01, 0xf9},           /* RDTSCP */
    {2, 0x0f, 0x32},                 /* RDMSR */
    {2, 0x0f, 0x30},                 /* WRMSR */
    {3, 0x0f, 0x01, 0xc1},           /* VMCALL */
    {2, 0xe4, 0x61},                 /* IN AL, 0x61 */
    {2, 0xe6, 0x80},                 /* OUT 0x80, AL */
    {1, 0xec},                       /* IN AL, DX */
    {2, 0x0f, 0x20},                 /* MOV r, CR (ModRM follows) */
    {2, 0x0f, 0x22},                 /* MOV CR, r */
    {2, 0x0f, 0x21},                 /* MOV r, DR */
    {2, 0x0f, 0x23},                 /* MOV DR, r */
    {3, 0x0f, 0x01, 0x38},           /* INVLPG [rax] */
    {2, 0xf3, 0x90},                 /* PAUSE */
    {2, 0x0f, 0x0b},                 /* UD2 */
    {1, 0xcc},                       /* INT3 */
    {2, 0xcd, 0x0e},                 /* INT 14 */
    {2, 0x0f, 0x09},                 /* WBINVD */
    {3, 0x0f, 0x01, 0xd0},           /* XGETBV */
    {2, 0x0f, 0x33},                 /* RDPMC */
    {1, 0xfb},                       /* STI */
    {1, 0xfa},                       /* CLI */
    {3, 0x0f, 0x01, 0xc8},           /* MONITOR */
    {3, 0x0f, 0x01, 0xc9},           /* MWAIT */
    {3, 0x0f, 0x00, 0xc8},           /* STR eax */
    {3, 0x0f, 0x01, 0x08},           /* SGDT [rax] */
    {2, 0x8b, 0x00},                 /* MOV eax, [rax] */
    {2, 0x89, 0x03},                 /* MOV [rbx], eax */
    {2, 0xf7, 0xf1},                 /* DIV ecx */
    {1, 0x9d},                       /* POPF */
};

static void put_mov_imm(uint8_t **p, unsigned reg, uint32_t v)
{
    *(*p)++ = (uint8_t)(0xb8 + reg);
    for (int i = 0; i < 4; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

/* Generated instructions over [p, end); the last may run past `end` by
 * up to 10 bytes. */
static void write_l2_code(uint8_t *p, const uint8_t *end)
{
    static const uint32_t values[] = {0, 1, 0x10, 0x1b, 0x3a, 0x174, 0x277,
                                      0x480, 0xc0000080, 0xc0000100,
                                      0x40000000, 0x80000000, 0xffffffff};
    while (p < end) {
        if (chance(3)) /* a register operand: MSR index, port, address */
            put_mov_imm(&p, below(4), chance(3)
                                          ? (uint32_t)pa(page(P_DATA))
                                          : values[below(sizeof values / 4)]);
        if (chance(8)) {
            *p++ = (uint8_t)rnd(); /* raw bytes */
            continue;
        }
        const uint8_t *s = snippets[below(sizeof snippets / sizeof *snippets)];
        for (unsigned i = 1; i <= s[0]; i++)
            *p++ = s[i];
        if (s[1] == 0x0f && (s[2] >= 0x20 && s[2] <= 0x23))
            *p++ = (uint8_t)(0xc0 | below(64)); /* CR/DR and register */
    }
}

/* L2's code page: generated code in windows of CODE_WINDOW bytes, then
 * (at CODE_END, after the overrun of the last window) VMCALL, HLT and a
 * loop. L2 exits within its first instructions: of 6,413 exits in the
 * code page over 2,000 rounds (four seeds), all but one were in its
 * first 64 bytes, the other in its first 192 (faults and the exits that
 * follow them are in the stub page). So the whole page is written in
 * the first round, and each round after writes the first window, where
 * L2 starts, and one other in turn, so that every byte L2 may jump to
 * is new every 31 rounds: a sixteenth of the page's emulated work
 * (docs/fuzzing.md, "What a launch costs"). */
enum { CODE_WINDOW = 128, CODE_END = PAGE - 16,
       CODE_WINDOWS = (CODE_END + CODE_WINDOW - 1) / CODE_WINDOW };

static void write_code_window(unsigned w)
{
    uint8_t *start = page(P_CODE) + w * CODE_WINDOW;
    uint8_t *last = page(P_CODE) + CODE_END - 10; /* room for the overrun */
    write_l2_code(start, start + CODE_WINDOW < last ? start + CODE_WINDOW : last);
}

static void build_l2_code(uint64_t round)
{
    if (round == 0) {
        for (unsigned w = 0; w < CODE_WINDOWS; w++)
            write_code_window(w);
        static const uint8_t tail[] = {0x0f, 0x01, 0xc1, 0xf4, 0xeb, 0xfa};
        for (unsigned i = 0; i < sizeof tail; i++)
            page(P_CODE)[CODE_END + i] = tail[i];
        return;
    }
    write_code_window(0);
    write_code_window(1 + (unsigned)(round % (CODE_WINDOWS - 1)));
}

/* ---- the VMCS ---- */

/* A control with random allowed-1 bits on top of the allowed-0 ones
 * (TRUE capability MSRs, SDM Vol. 3D A.3), minus `never`. */
static uint32_t random_control(uint32_t msr, uint32_t never)
{
    uint64_t cap = rdmsr(msr);
    uint32_t must = (uint32_t)cap, may = (uint32_t)(cap >> 32);
    uint32_t extra = (uint32_t)rnd() & (uint32_t)rnd() & may & ~never;
    return must | extra;
}

#define PIN_VIRTUAL_NMIS (1u << 5)
#define PROC_TPR_SHADOW (1u << 21)
#define PROC_NMI_WINDOW (1u << 22)
#define PROC_MTF (1u << 27)
#define PROC2_APIC_ACCESS (1u << 0)
#define PROC2_X2APIC (1u << 4)
#define PROC2_APIC_REG (1u << 8)
#define PROC2_VINTR (1u << 9)
#define PROC2_VMFUNC (1u << 13)
#define PROC2_SHADOWING (1u << 14)

/* Bits this program cannot give what they need (an APIC page, VMCS
 * shadowing, VM functions); everything else may be chosen. */
#define PROC_NEVER PROC_TPR_SHADOW
#define PROC2_NEVER (PROC2_APIC_ACCESS | PROC2_X2APIC | PROC2_APIC_REG | \
                     PROC2_VINTR | PROC2_VMFUNC | PROC2_SHADOWING)

/* An I/O or MSR bitmap page: a quarter of its 64-bit words random (a
 * quarter of their bits set), the rest 0. The first round writes the
 * whole page, each other round one word in BITMAP_STRIDE, in turn: L2's
 * ports and MSRs come from a short list (write_l2_code), whose words are
 * spread over the strides, so a few of them change every round, and
 * every word is rewritten every BITMAP_STRIDE rounds at a
 * BITMAP_STRIDE-th of the emulated cost (docs/fuzzing.md). */
enum { BITMAP_STRIDE = 8 };

static void fill_bitmap(unsigned n, uint64_t round)
{
    uint64_t *b = table(n);
    unsigned step = round == 0 ? 1 : BITMAP_STRIDE;
    for (unsigned i = (unsigned)(round % step); i < 512; i += step)
        b[i] = chance(4) ? rnd() & rnd() : 0;
}

/* Ports L2 must never reach: those that end the run (isa-debug-exit,
 * the keyboard controller's reset command, the PIIX reset register,
 * ACPI PM1 control in the PM block, Bochs' shutdown port) and the UART,
 * L1's console. Ranges of [first, last]. */
static void fence_ports(void)
{
    static const uint16_t ranges[][2] = {
        {0xf4, 0xf7}, {0x64, 0x64}, {0xcf9, 0xcf9}, {0x3f8, 0x3ff},
        {0x600, 0x60b}, {0x8900, 0x8900},
    };
    for (unsigned r = 0; r < sizeof ranges / sizeof *ranges; r++)
        for (unsigned port = ranges[r][0]; port <= ranges[r][1]; port++) {
            uint8_t *bitmap = page(port < 0x8000 ? P_IO_A : P_IO_B);
            bitmap[port % 0x8000 / 8] |= (uint8_t)(1u << (port % 8));
        }
}

static const uint32_t error_code_vectors = 0x00027D00; /* 8, 10-14, 17 */

/* An event to inject, of a type and vector the entry checks accept
 * (SDM Vol. 3C 27.2.1.3). */
static void random_injection(void)
{
    uint32_t type, vector;
    switch (below(6)) {
    case 0: type = 0; vector = 32 + below(224); break; /* external */
    case 1: type = 2; vector = 2; break;                /* NMI */
    case 2: type = 3; vector = below(32);                /* exception */
        if (vector == 2 || vector == 15 || (vector > 21 && vector < 32))
            vector = 13;
        break;
    case 3: type = 4; vector = below(256); break;       /* software INT */
    case 4: type = 5; vector = 1; break;                /* privileged */
    default: type = 6; vector = chance(2) ? 3 : 4; break; /* INT3/INTO */
    }
    bool error = type == 3 && (error_code_vectors >> vector & 1);
    vmwrite(ENTRY_INTERRUPTION_INFO,
            vector | type << 8 | (error ? INTR_HAS_ERROR : 0) | INTR_VALID);
    vmwrite(ENTRY_EXCEPTION_ERROR, rnd() & 0x7fff);
    vmwrite(ENTRY_INSTRUCTION_LENGTH, 1 + below(15));
    if (type == 0) /* needs RFLAGS.IF and no blocking */
        vmwrite(GUEST_RFLAGS, 0x202);
}

static bool ept_on;
static bool broke_a_field; /* in the last round, on purpose */

static void setup_vmcs(uint64_t round)
{
    vmclear(pa(vmcs));
    vmptrld(pa(vmcs));
    /* The VMCS keeps its fields from round to round (VMCLEAR writes them
     * to the region, VMPTRLD reads them back) and no VM exit writes the
     * host-state area (SDM Vol. 3C 28.3, 28.5), so the host state is
     * written in the first round and after one that broke a field, and
     * the controls once, below (valid_controls wrote them twice): with
     * VMCS shadowing on these were 18 of the 110 VMWRITEs of a round that
     * exit to L0. */
    if (round == 0 || broke_a_field)
        valid_host();
    broke_a_field = false;
    uint64_t stack_top = pa(page(P_STACK + 4)) - 16 * below(8);
    guest_like_l1(pa(page(P_CODE)), stack_top);
    vmwrite(GUEST_CR3, pa(page(P_PML4)));
    vmwrite(GUEST_GDTR_BASE, pa(page(P_GDT)));
    vmwrite(GUEST_GDTR_LIMIT, 8 * 8 - 1);
    vmwrite(GUEST_IDTR_BASE, pa(page(P_IDT)));
    vmwrite(GUEST_IDTR_LIMIT, 256 * 16 - 1);
    vmwrite(GUEST_SEG_BASE(SEG_TR), pa(page(P_GDT)) + 2048);
    vmwrite(GUEST_RFLAGS, chance(2) ? 0x202 : 0x2);

    uint32_t pin = random_control(0x48D, 0) | PIN_PREEMPTION_TIMER;
    if (!(pin & PIN_NMI))
        pin &= ~PIN_VIRTUAL_NMIS; /* virtual NMIs need NMI exiting */
    /* CR3-load exiting with no CR3-target values: every MOV to CR3 exits
     * (SDM Vol. 3C 26.1.3), so L2 keeps the page tables above. */
    uint32_t proc = random_control(0x48E, PROC_NEVER) | PROC_HLT | PROC_CR3_LOAD;
    if (!(pin & PIN_VIRTUAL_NMIS))
        proc &= ~PROC_NMI_WINDOW; /* NMI-window exiting needs them */
    if (!(proc & PROC_UNCOND_IO))
        proc |= PROC_IO_BITMAPS; /* the exit ports must exit */
    uint32_t proc2 = 0;
    if (proc & PROC_SECONDARY)
        proc2 = random_control(0x48B, PROC2_NEVER);
    if (!(proc2 & PROC2_EPT))
        proc2 &= ~PROC2_UNRESTRICTED; /* needs EPT */
    vmwrite(PIN_BASED_CONTROLS, pin & (uint32_t)(rdmsr(0x48D) >> 32));
    vmwrite(PROC_BASED_CONTROLS, proc);
    vmwrite(PROC_BASED_CONTROLS2, proc2);
    vmwrite(EXIT_CONTROLS, random_control(0x48F, 0) | EXIT_HOST_64);
    /* Not "entry to SMM" or "deactivate dual-monitor treatment" (bits 10
     * and 11): outside SMM both must be 0 (27.2.1.3). */
    vmwrite(ENTRY_CONTROLS, random_control(0x490, 3u << 10) | ENTRY_IA32E_GUEST);
    vmwrite(GUEST_IA32_EFER, rdmsr(0xC0000080));
    vmwrite(HOST_IA32_EFER, rdmsr(0xC0000080));
    vmwrite(GUEST_IA32_PAT, 0x0007040600070406ull);
    vmwrite(HOST_IA32_PAT, 0x0007040600070406ull);
    vmwrite(GUEST_PREEMPTION_TIMER, 1 + below(chance(2) ? 64 : 4096));

    fill_bitmap(P_IO_A, round);
    fill_bitmap(P_IO_B, round);
    fence_ports();
    fill_bitmap(P_MSR, round);
    vmwrite(IO_BITMAP_A, pa(page(P_IO_A)));
    vmwrite(IO_BITMAP_B, pa(page(P_IO_B)));
    vmwrite(MSR_BITMAP, pa(page(P_MSR)));
    vmwrite(EXCEPTION_BITMAP, chance(2) ? (uint32_t)rnd() : 0);
    vmwrite(PAGE_FAULT_ERROR_MASK, chance(2) ? 0 : rnd() & 0x1f);
    vmwrite(PAGE_FAULT_ERROR_MATCH, chance(2) ? 0 : rnd() & 0x1f);
    /* Masks on bits L2 owns; the shadows are what L2 reads there. */
    vmwrite(CR3_TARGET_COUNT, 0);
    /* CR0.WP is always L1's (a MOV to CR0 that changes it exits): with WP
     * clear L2 could write its read-only page tables. */
    vmwrite(CR0_GUEST_HOST_MASK, (chance(2) ? 0 : rnd() & 0xE005003F) | CR0_WP);
    vmwrite(CR4_GUEST_HOST_MASK, chance(2) ? 0 : rnd() & 0x3727FF);
    vmwrite(CR0_READ_SHADOW, read_cr0() ^ (rnd() & 0x60000000));
    vmwrite(CR4_READ_SHADOW, read_cr4() ^ (rnd() & 0x80));
    vmwrite(VPID_FIELD, 1 + below(0xFFFE));
    ept_on = proc2 & PROC2_EPT;
    if (ept_on) {
        build_ept12();
        bool ad = (rdmsr(0x48C) >> 21 & 1) && chance(4); /* A/D flags */
        vmwrite(EPT_POINTER, pa(page(P_EPT_PML4)) | 6 | 3 << 3 |
                                 (ad ? 1u << 6 : 0));
    }
    if (chance(4))
        random_injection();
    if (chance(32)) { /* break one field: an entry failure or a VMfail */
        broke_a_field = true;
        static const uint32_t victims[] = {GUEST_CR0, GUEST_RFLAGS,
                                           GUEST_SEG_ACCESS(SEG_CS),
                                           VMCS_LINK_POINTER, HOST_CR3,
                                           ENTRY_INTERRUPTION_INFO,
                                           GUEST_ACTIVITY_STATE};
        vmwrite(victims[below(sizeof victims / 4)], rnd());
    }
}

/* ---- the rounds ---- */

/* Exits that come with an instruction length: resume after it. */
static bool instruction_exit(unsigned reason)
{
    static const uint64_t with_length = 1ull << 10 | 1ull << 12 |
        1ull << 13 | 1ull << 14 | 1ull << 15 | 1ull << 16 | 1ull << 18 |
        1ull << 19 | 1ull << 20 | 1ull << 21 | 1ull << 22 | 1ull << 23 |
        1ull << 24 | 1ull << 25 | 1ull << 26 | 1ull << 27 | 1ull << 28 |
        1ull << 29 | 1ull << 30 | 1ull << 31 | 1ull << 32 | 1ull << 36 |
        1ull << 39 | 1ull << 40 | 1ull << 46 | 1ull << 47 | 1ull << 50 |
        1ull << 51 | 1ull << 53 | 1ull << 54 | 1ull << 55;
    return reason < 64 && (with_length >> reason & 1);
}

/* A hash of L1's code and read-only data, which nothing may write: FNV-1a
 * over 64-bit words in four interleaved lanes (they share the loop's
 * add, compare and branch: 2.75 emulated instructions a word where one
 * lane took 5), folded at the end. L1 hashes its 25 KB every HASH_EVERY
 * rounds and after the last: after every round it took a quarter of the
 * emulator's time (docs/fuzzing.md, "What a launch costs"). */
enum { HASH_EVERY = 8 };

static uint64_t l1_image_hash(void)
{
    extern const uint64_t __image_start[], __rodata_end[]; /* rt.ld */
    const uint64_t prime = 0x100000001b3ull;
    uint64_t h0 = 0xcbf29ce484222325ull, h1 = h0, h2 = h0, h3 = h0;
    const uint64_t *w = __image_start;
    for (; w + 4 <= __rodata_end; w += 4) {
        h0 = (h0 ^ w[0]) * prime;
        h1 = (h1 ^ w[1]) * prime;
        h2 = (h2 ^ w[2]) * prime;
        h3 = (h3 ^ w[3]) * prime;
    }
    for (; w < __rodata_end; w++)
        h0 = (h0 ^ *w) * prime;
    return (((h0 * prime ^ h1) * prime ^ h2) * prime) ^ h3;
}

struct tally {
    uint64_t launches, reached, fail_valid, fail_invalid, entry_failures;
    uint64_t resumes, exits, by_reason[66], errors[32];
};

static void one_round(struct tally *t, uint64_t round)
{
    build_l2_code(round);
    setup_vmcs(round);
    t->launches++;
    bool resume = false;
    for (int k = 0; k <= MAX_RESUMES; k++) {
        enum launch_outcome o = launch(resume);
        if (o != LAUNCH_HOST) {
            if (o == LAUNCH_FAIL_VALID) {
                t->fail_valid++;
                uint64_t e = 0;
                vmread_status(VM_INSTRUCTION_ERROR, &e);
                t->errors[e < 32 ? e : 31]++;
            } else {
                t->fail_invalid++;
            }
            return;
        }
        /* A VM exit, or a VM-entry failure (SDM 28.5.2: tables back). */
        l1test_reload_tables();
        uint64_t reason = vmread(EXIT_REASON);
        if (reason & EXIT_REASON_ENTRY_FAILED) {
            t->entry_failures++;
            t->by_reason[65]++;
            return;
        }
        if (k == 0)
            t->reached++;
        else
            t->resumes++;
        t->exits++;
        unsigned basic = (unsigned)(reason & 0xFFFF);
        t->by_reason[basic < 65 ? basic : 64]++;
        if (instruction_exit(basic))
            vmwrite(GUEST_RIP, vmread(GUEST_RIP) +
                                   vmread(EXIT_INSTRUCTION_LENGTH));
        vmwrite(ENTRY_INTERRUPTION_INFO, 0);
        vmwrite(GUEST_PREEMPTION_TIMER, 1 + below(4096));
        resume = true;
    }
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {
        {"seed", 0, UINT64_MAX, 0},
        {"rounds", 0, 1u << 30, 0},
    };
    RT_ARGS_REQUIRE(boot, "l1fuzz", args);
    rng_state = rt_cmdline_u64(boot->cmdline, "seed", 1) * 2654435761u + 1;
    uint64_t rounds = rt_cmdline_u64(boot->cmdline, "rounds", 100);
    l1test_save_tables();
    uint32_t revision = l1test_prepare_vmx("l1fuzz");
    *(uint32_t *)vmxon_region = revision;
    *(uint32_t *)vmcs = revision;
    if (vmxon(pa(vmxon_region)) != VMX_OK)
        rt_panic("l1fuzz: VMXON failed");
    build_l2_paging();
    build_l2_tables();
    static struct tally t;
    uint64_t image = l1_image_hash();
    for (uint64_t r = 0; r < rounds; r++) {
        one_round(&t, r);
        bool check = (r + 1) % HASH_EVERY == 0 || r + 1 == rounds;
        if (check && l1_image_hash() != image)
            rt_panic("l1fuzz: rounds %lu-%lu: L2 wrote L1's code or "
                     "read-only data (its fences failed)",
                     r - r % HASH_EVERY + 1, r + 1);
    }
    rt_printf("METRIC l1fuzz launches=%lu l2_reached=%lu vmfail_valid=%lu "
              "vmfail_invalid=%lu entry_failures=%lu resumes=%lu exits=%lu\n",
              t.launches, t.reached, t.fail_valid, t.fail_invalid,
              t.entry_failures, t.resumes, t.exits);
    rt_printf("EXITS l1fuzz");
    for (unsigned i = 0; i < 66; i++)
        if (t.by_reason[i])
            rt_printf(" %u=%lu", i, t.by_reason[i]);
    for (unsigned i = 0; i < 32; i++)
        if (t.errors[i])
            rt_printf(" error%u=%lu", i, t.errors[i]);
    rt_printf("\n");
    return RT_EXIT_OK;
}
