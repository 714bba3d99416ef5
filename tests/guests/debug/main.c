/* debug: debug exceptions (SDM Vol. 3B 18.2, 18.3).
 *
 *   exec     an instruction breakpoint (DR0, R/W 00): a #DB fault before
 *            the instruction, DR6.B0, RF pushed as 0; the handler sets
 *            RF in the frame and the instruction then runs once
 *   write    a 4-byte write breakpoint (DR1, R/W 01), armed across an
 *            OUT (an exit under a hypervisor): the read of the word does
 *            not trigger, the write traps after itself, B1
 *   rw       a 1-byte read/write breakpoint (DR2, R/W 11): a read traps
 *   len8     an 8-byte breakpoint (DR3, LEN 10) on an aligned quadword:
 *            a byte write at its offset 5 traps, one 8 bytes on does not
 *   rep      a 1-byte write breakpoint on the fourth byte REP STOSB
 *            stores: the trap comes after that iteration, RIP at the
 *            instruction, RCX 4 left, RF pushed as 1; the rest follows
 *   step     TF single-steps: 6 traps with DR6.BS over a known sequence
 *   repstep  TF over REP STOSB of 4 bytes: a trap after every iteration
 *            (SDM Vol. 3B 18.3.1.4 with 18.3.1.1), the first three with
 *            RIP at the REP and RCX 3, 2, 1 left, RF pushed as 1, the last
 *            after it with RCX 0 and RF 0; then 3 for the closing sequence
 *   movss    MOV SS holds its single-step trap to after the next
 *            instruction, reported once: 5 traps
 *   int1     INT1 (F1): no #UD, a #DB trap after it, DR6 untouched
 *   gd       DR7.GD: MOV from DR0 is a #DB fault with DR6.BD, DR7.GD is
 *            clear in the handler, RF pushed as 1 (a fault)
 *   regs     DR6 written 0 reads 0xFFFF0FF0, DR7 written 0 reads 0x400
 *
 * With deliv=1 on the command line, instead, data breakpoints that an
 * event's delivery hits (its stack pushes):
 *   ud       a write breakpoint (DR0) on the stack slot where a #UD's
 *            delivery pushes SS: a #DB trap after the delivery, before
 *            the #UD handler's first instruction (its frame's RIP is the
 *            handler's entry), B0, RF pushed as 0; then the #UD handler
 *   dbself   a write breakpoint trap (DR0) whose own #DB delivery pushes
 *            SS where DR1 watches: a second #DB at the first one's
 *            entry, B1 (which replaces B0 in DR6: 18.2.3), then the
 *            first handler, which reads B1 too
 *   nmi      as ud, for a self-NMI taken right after the ICR write */
#include "cpu.h"
#include "probe.h"
#include "rt.h"

void dbg_bp_target(void);
void dbg_read_then_write(volatile uint32_t *p);
void dbg_read_byte(volatile uint8_t *p);
void dbg_write_byte(volatile uint8_t *p);
void dbg_single_step(void);
void dbg_mov_ss_step(void);
int dbg_int1(void);
void dbg_rep_stos(volatile uint8_t *p, uint64_t n);
void dbg_rep_step(volatile uint8_t *p, uint64_t n);
void dbg_gd(void);
void dbg_ud_frame(uint64_t dr7);
void dbg_db_frame(uint64_t dr7, volatile uint32_t *p);
void dbg_nmi_frame(uint64_t dr7, volatile uint32_t *icr, uint32_t value);
extern const char dbg_after_write[], dbg_after_read[], dbg_after_int1[],
    dbg_gd_insn[], dbg_after_gd[], dbg_after_mov_ss_nop[], dbg_rep_insn[],
    dbg_rep_step_insn[], dbg_after_rep_step[], dbg_ud_insn[],
    dbg_after_ud[], dbg_after_db_write[], dbg_after_icr_write[];
extern const uint64_t rt_vector_stubs[256]; /* rt/vectors.S */

#define RF (1ull << 16)
#define DR6_BD (1ull << 13)
#define DR6_BS (1ull << 14)
#define DR7_GD (1ull << 13)
/* DR7 for breakpoint n: local enable, R/W and LEN (18.2.4). */
#define DR7_BP(n, rw, len) \
    (1ull << (2 * (n)) | (uint64_t)(rw) << (16 + 4 * (n)) | \
     (uint64_t)(len) << (18 + 4 * (n)))
enum { RW_EXEC = 0, RW_WRITE = 1, RW_RW = 3 };
enum { LEN1 = 0, LEN2 = 1, LEN8 = 2, LEN4 = 3 };
/* The local APIC's registers (SDM Vol. 3A 11.4.1) and an ICR value for
 * an NMI (delivery mode 100b, level assert, physical destination). */
#define APIC_REG(off) (*(volatile uint32_t *)(uintptr_t)(0xFEE00000ull + (off)))
enum { APIC_ID = 0x020, APIC_ICR_LO = 0x300, APIC_ICR_HI = 0x310 };
#define ICR_NMI (4u << 8 | 1u << 14)

#define DR_ACCESSORS(n)                                                    \
    static inline uint64_t get_dr##n(void)                                      \
    {                                                                      \
        uint64_t v;                                                        \
        __asm__ volatile("mov %%dr" #n ", %0" : "=r"(v));                  \
        return v;                                                          \
    }                                                                      \
    static inline void set_dr##n(uint64_t v)                                    \
    {                                                                      \
        __asm__ volatile("mov %0, %%dr" #n ::"r"(v) : "memory");           \
    }
DR_ACCESSORS(0)
DR_ACCESSORS(1)
DR_ACCESSORS(2)
DR_ACCESSORS(3)
DR_ACCESSORS(6)
DR_ACCESSORS(7)

/* What the #DB handler saw. */
static volatile unsigned traps;
static volatile uint64_t seen_dr6, seen_rip, seen_rflags, seen_dr7, seen_rcx;
static volatile int skip_gd;
/* Every trap of a run, in order (the first LOG_SIZE). */
enum { LOG_SIZE = 16 };
static volatile uint64_t log_rip[LOG_SIZE], log_rcx[LOG_SIZE],
    log_rflags[LOG_SIZE], log_dr6[LOG_SIZE];
/* The order in which handlers ran: the last #DB's turn, and the turn
 * and frame RIP of the event (#UD, NMI) whose delivery hit. */
static volatile unsigned order, db_order, event_order;
static volatile uint64_t event_rip;

static void on_db(struct rt_frame *f)
{
    if (traps < LOG_SIZE) {
        log_rip[traps] = f->rip;
        log_rcx[traps] = f->rcx;
        log_rflags[traps] = f->rflags;
        log_dr6[traps] = get_dr6();
    }
    traps++;
    db_order = ++order;
    seen_dr6 = get_dr6();
    seen_rip = f->rip;
    seen_rflags = f->rflags;
    seen_rcx = f->rcx;
    if (skip_gd) {
        seen_dr7 = get_dr7(); /* allowed: GD is clear in the handler */
        f->rip = (uint64_t)dbg_after_gd;
    }
    /* Resume past an instruction breakpoint (18.3.1.1). */
    f->rflags |= RF;
}

static void on_event(struct rt_frame *f)
{
    event_order = ++order;
    event_rip = f->rip;
}

static void on_ud(struct rt_frame *f)
{
    on_event(f);
    f->rip = (uint64_t)dbg_after_ud;
}

/* What a deliv=1 case with one #DB saw: traps, whether the #DB's frame
 * RIP is the entry of `vector`'s handler and the event's frame RIP is
 * `rip`, B0-B3, RF, and the turns of the #DB and event handlers. */
struct delivered {
    unsigned traps;
    int at_entry, event_at;
    uint64_t b, rf;
    unsigned db_turn, event_turn;
};

static struct delivered delivered(unsigned vector, const void *rip)
{
    return (struct delivered){traps, seen_rip == rt_vector_stubs[vector],
                              event_rip == (uint64_t)rip, seen_dr6 & 0xF,
                              seen_rflags >> 16 & 1, db_order, event_order};
}

static void reset(void)
{
    set_dr7(0);
    set_dr6(0);
    traps = 0;
    order = db_order = event_order = 0;
    seen_dr6 = seen_rip = seen_rflags = 0;
}

static volatile uint32_t word __attribute__((aligned(8)));
static volatile uint8_t bytes[32] __attribute__((aligned(8)));

/* The deliv=1 cases: data breakpoints hit by an event's delivery. */
static void delivery(void)
{
    reset();
    rt_set_handler(6, on_ud);
    dbg_ud_frame(DR7_BP(0, RW_WRITE, LEN8));
    set_dr7(0);
    rt_set_handler(6, 0);
    struct delivered ud = delivered(6, dbg_ud_insn);

    reset();
    dbg_db_frame(DR7_BP(0, RW_WRITE, LEN4) | DR7_BP(1, RW_WRITE, LEN8), &word);
    set_dr7(0);
    unsigned dbself_traps = traps;
    int dbself_at = log_rip[0] == rt_vector_stubs[1] &&
                    log_rip[1] == (uint64_t)dbg_after_db_write;
    uint64_t dbself_b = log_dr6[0] & 0xF, dbself_b2 = log_dr6[1] & 0xF;
    uint64_t dbself_rf = log_rflags[0] >> 16 & 1;

    /* To its own APIC ID: the "self" shorthand is not valid for NMIs
     * (SDM Vol. 3A 11.6.1). */
    reset();
    rt_set_handler(2, on_event);
    APIC_REG(APIC_ICR_HI) = APIC_REG(APIC_ID) & 0xFF000000u;
    dbg_nmi_frame(DR7_BP(0, RW_WRITE, LEN8), &APIC_REG(APIC_ICR_LO), ICR_NMI);
    set_dr7(0);
    rt_set_handler(2, 0);
    struct delivered nmi = delivered(2, dbg_after_icr_write);
    reset();

    rt_printf("RESULT debug ud=%u,%d,%d,%#lx,%lu,%u,%u "
              "dbself=%u,%d,%#lx,%#lx,%lu nmi=%u,%d,%#lx,%lu,%u,%u\n",
              ud.traps, ud.at_entry, ud.event_at, ud.b, ud.rf, ud.db_turn,
              ud.event_turn, dbself_traps, dbself_at, dbself_b, dbself_b2,
              dbself_rf, nmi.traps, nmi.event_at, nmi.b, nmi.rf, nmi.db_turn,
              nmi.event_turn);
    /* Bochs 2.7 takes the #DB of the NMI's delivery after the handler's
     * first instruction (the SDM: before it, as for the #UD): it looks
     * at pending events once per boundary, and the NMI took that look. */
    rt_printf("DETAIL debug nmi_at=%d\n", nmi.at_entry);
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"deliv", 0, 1, 0}};
    RT_ARGS_REQUIRE(boot, "debug", args);
    rt_set_handler(1, on_db);
    if (rt_cmdline_u64(boot->cmdline, "deliv", 0)) {
        delivery();
        return RT_EXIT_OK;
    }

    reset();
    set_dr6(0);
    uint64_t dr6_reset = get_dr6();
    uint64_t dr7_reset = get_dr7();

    /* exec */
    reset();
    set_dr0((uint64_t)dbg_bp_target);
    set_dr7(DR7_BP(0, RW_EXEC, LEN1));
    dbg_bp_target();
    dbg_bp_target(); /* a second call breaks again: RF lasts one insn */
    unsigned exec_traps = traps;
    int exec_at = seen_rip == (uint64_t)dbg_bp_target;
    uint64_t exec_b = seen_dr6 & 0xF, exec_rf = seen_rflags >> 16 & 1;

    /* write */
    reset();
    set_dr1((uint64_t)&word);
    set_dr7(DR7_BP(1, RW_WRITE, LEN4));
    outb(0x80, 0); /* an I/O exit under a hypervisor: DR7 must survive */
    dbg_read_then_write(&word);
    unsigned write_traps = traps;
    int write_at = seen_rip == (uint64_t)dbg_after_write;
    uint64_t write_b = seen_dr6 & 0xF, write_rf = seen_rflags >> 16 & 1;

    /* rw */
    reset();
    set_dr2((uint64_t)&bytes[1]);
    set_dr7(DR7_BP(2, RW_RW, LEN1));
    dbg_read_byte(&bytes[0]); /* the next byte: no trap */
    dbg_read_byte(&bytes[1]);
    unsigned rw_traps = traps;
    int rw_at = seen_rip == (uint64_t)dbg_after_read;
    uint64_t rw_b = seen_dr6 & 0xF;

    /* len8 */
    reset();
    set_dr3((uint64_t)&bytes[8]);
    set_dr7(DR7_BP(3, RW_WRITE, LEN8));
    dbg_write_byte(&bytes[13]);
    dbg_write_byte(&bytes[16]);
    unsigned len8_traps = traps;
    uint64_t len8_b = seen_dr6 & 0xF;

    /* rep: 8 bytes from bytes[16], a breakpoint on the fourth */
    reset();
    set_dr0((uint64_t)&bytes[19]);
    set_dr7(DR7_BP(0, RW_WRITE, LEN1));
    dbg_rep_stos(&bytes[16], 8);
    unsigned rep_traps = traps;
    int rep_at = seen_rip == (uint64_t)dbg_rep_insn;
    uint64_t rep_rcx = seen_rcx, rep_rf = seen_rflags >> 16 & 1;
    int rep_done = 1;
    for (unsigned k = 16; k < 24; k++)
        rep_done = rep_done && bytes[k] == 0xAA;

    /* step */
    reset();
    dbg_single_step();
    unsigned step_traps = traps;
    uint64_t step_bs = seen_dr6 & DR6_BS ? 1 : 0;

    /* repstep: the RCX of each trap at the REP, "." between them */
    reset();
    dbg_rep_step(&bytes[24], 4);
    unsigned repstep_traps = traps;
    char repstep_rcx[32] = "";
    unsigned at_rep = 0, len = 0;
    uint64_t repstep_rf = 1, after_rf = 1, after_rcx = ~0ull;
    for (unsigned k = 0; k < traps && k < LOG_SIZE; k++) {
        if (log_rip[k] == (uint64_t)dbg_after_rep_step) {
            after_rcx = log_rcx[k];
            after_rf = log_rflags[k] >> 16 & 1;
        }
        if (log_rip[k] != (uint64_t)dbg_rep_step_insn || len > 24)
            continue;
        repstep_rf = repstep_rf && (log_rflags[k] >> 16 & 1);
        if (at_rep++)
            repstep_rcx[len++] = '.';
        repstep_rcx[len++] = (char)('0' + (log_rcx[k] > 9 ? 9 : log_rcx[k]));
        repstep_rcx[len] = 0;
    }

    /* movss */
    reset();
    dbg_mov_ss_step();
    unsigned movss_traps = traps;

    /* int1 */
    reset();
    rt_catch(6);
    int int1_ud = dbg_int1();
    rt_set_handler(6, 0);
    unsigned int1_traps = traps;
    int int1_at = seen_rip == (uint64_t)dbg_after_int1;
    uint64_t int1_dr6 = seen_dr6;

    /* gd */
    reset();
    skip_gd = 1;
    set_dr7(DR7_GD);
    dbg_gd();
    skip_gd = 0;
    unsigned gd_traps = traps;
    int gd_at = seen_rip == (uint64_t)dbg_gd_insn;
    uint64_t gd_bd = seen_dr6 & DR6_BD ? 1 : 0;
    uint64_t gd_dr7 = seen_dr7 & DR7_GD ? 1 : 0;
    uint64_t gd_rf = seen_rflags >> 16 & 1;

    reset();

    rt_printf("RESULT debug exec=%u,%d,%#lx,%lu write=%u,%d,%#lx,%lu "
              "rw=%u,%d,%#lx len8=%u,%#lx rep=%u,%d,%lu,%d step=%u,%lu "
              "repstep=%u,%s,%lu movss=%u regs=%#lx,%#lx\n",
              exec_traps, exec_at, exec_b, exec_rf, write_traps, write_at,
              write_b, write_rf, rw_traps, rw_at, rw_b, len8_traps, len8_b,
              rep_traps, rep_at, rep_rcx, rep_done, step_traps, step_bs,
              repstep_traps, repstep_rcx, after_rcx, movss_traps, dr6_reset, dr7_reset);
    /* QEMU 7.2 TCG raises #UD for INT1 and ignores DR7.GD; Bochs 2.7
     * pushes RF = 0 for the general-detect fault (the SDM: 1, as for
     * every fault but an instruction breakpoint); both push RF = 0 for
     * the trap of a REP iteration that is not the last (the SDM: 1),
     * data breakpoint or single-step. */
    rt_printf("DETAIL debug int1=%d,%u,%d,%#lx gd=%u,%d,%lu,%lu,%lu "
              "rep_rf=%lu repstep_rf=%lu,%lu\n",
              int1_ud, int1_traps, int1_at, int1_dr6, gd_traps, gd_at, gd_bd,
              gd_dr7, gd_rf, rep_rf, repstep_rf, after_rf);
    return RT_EXIT_OK;
}
