/* usermode: CPL 3 and the ways in and out of it (SDM Vol. 3A 5.8-5.9,
 * 7.12, 7.14; Vol. 2B "SYSCALL", "SYSRET", "IRET", "POPF").
 *
 *   enter       IRETQ to CPL 3: CS, SS as pushed; DS (DPL 0) nulled
 *   syscall     SYSCALL/SYSRET round trip through STAR, LSTAR, FMASK
 *   int80       INT 0x80 through a DPL 3 gate, back with IRETQ
 *   gate DPL    INT n and INT3 through DPL 0 gates: #GP(vector * 8 + 2)
 *   privileged  each privileged instruction at CPL 3: #GP(0)
 *   IOPL 3      CLI and IN allowed at CPL 3
 *   POPF        at CPL 3 leaves IOPL, and IF unless CPL <= IOPL
 *   return      back at CPL 0 with the kernel's selectors */
#include "cpu.h"
#include "probe.h"
#include "rt.h"
#include "user.h"

#define FL_FIXED 0x2ull
#define FL_CF 0x1ull
#define FL_TF 0x100ull
#define FL_IF 0x200ull
#define FL_DF 0x400ull
#define FL_IOPL3 0x3000ull
#define FL_AC 0x40000ull

uint64_t user_selectors(uint64_t);
uint64_t user_syscall(uint64_t);
uint64_t user_int80(uint64_t);
uint64_t user_popf(uint64_t);
void syscall_entry(void);
extern const char user_after_syscall[];
extern uint64_t kernel_cs, kernel_ss, kernel_rflags, kernel_rcx, kernel_r11;
extern uint64_t user_cs, user_ss, user_rflags;

static uint8_t user_stack[8192] __attribute__((aligned(16)));
#define STACK_TOP (user_stack + sizeof user_stack)

#define PROBES(X)                                                             \
    X(hlt) X(cli) X(sti) X(read_cr0) X(read_cr3) X(write_cr3) X(read_dr7)     \
    X(rdmsr) X(wrmsr) X(in) X(out) X(invlpg) X(lgdt) X(lidt) X(lldt) X(ltr)   \
    X(lmsw) X(clts) X(wbinvd) X(swapgs)
#define DECLARE(name) int probe_##name(void);
PROBES(DECLARE)
int probe_int81(void);
int probe_int3(void);

static const struct {
    const char *name;
    int (*probe)(void);
} privileged[] = {
#define ENTRY(name) {#name, probe_##name},
    PROBES(ENTRY)
};
#define NPRIV (sizeof privileged / sizeof *privileged)

/* What one probe did at CPL 3: 0 completed, else vector and error. */
struct outcome {
    int faulted;
    uint64_t vector, error, cpl;
};
static struct outcome outcomes[NPRIV];

static void record(struct outcome *o, int faulted)
{
    o->faulted = faulted;
    o->vector = faulted ? rt_caught.vector : 0;
    o->error = faulted ? rt_caught.error : 0;
    o->cpl = faulted ? rt_caught.cs & 3 : 0;
}

/* Runs at CPL 3. */
static uint64_t user_privileged(uint64_t unused)
{
    (void)unused;
    for (unsigned k = 0; k < NPRIV; k++)
        record(&outcomes[k], privileged[k].probe());
    return 0;
}

static struct outcome gate_int81, gate_int3;

static uint64_t user_gates(uint64_t unused)
{
    (void)unused;
    record(&gate_int81, probe_int81());
    record(&gate_int3, probe_int3());
    return 0;
}

/* With IOPL 3, CLI and IN are allowed at CPL 3 (SDM Vol. 1 19.5.1). */
static uint64_t user_iopl3(uint64_t unused)
{
    (void)unused;
    return (uint64_t)probe_cli() | (uint64_t)probe_in() << 1;
}

static uint64_t int80_cs, int80_ss, int80_user_if, int80_kernel_if;

static void on_int80(struct rt_frame *f)
{
    uint64_t rflags;
    __asm__ volatile("pushfq; popq %0" : "=r"(rflags));
    int80_cs = f->cs;
    int80_ss = f->ss;
    int80_user_if = (f->rflags & FL_IF) != 0;
    int80_kernel_if = (rflags & FL_IF) != 0; /* an interrupt gate clears IF */
    f->rdi += 1;
}

static uint16_t read_cs(void)
{
    uint16_t v;
    __asm__ volatile("movw %%cs, %0" : "=r"(v));
    return v;
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "usermode", 0, 0); /* it takes no arguments */
    rt_catch(13);
    uint64_t user_flags = FL_FIXED | FL_IF;

    uint64_t sel = rt_user_call(user_selectors, 0, STACK_TOP, user_flags);

    wrmsr(MSR_STAR, (uint64_t)RT_SEL_UCODE32 << 48 |
                        (uint64_t)RT_SEL_KCODE << 32);
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_FMASK, FL_TF | FL_IF | FL_DF | FL_AC);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    uint64_t answer = rt_user_call(user_syscall, 0, STACK_TOP, user_flags);
    int rcx_ok = kernel_rcx == (uint64_t)(uintptr_t)user_after_syscall;

    rt_set_handler(0x80, on_int80);
    rt_set_gate_dpl(0x80, 3);
    uint64_t int80 = rt_user_call(user_int80, 41, STACK_TOP, user_flags);

    rt_user_call(user_gates, 0, STACK_TOP, user_flags);
    rt_user_call(user_privileged, 0, STACK_TOP, user_flags);
    unsigned gp0 = 0;
    for (unsigned k = 0; k < NPRIV; k++) {
        const struct outcome *o = &outcomes[k];
        if (o->faulted && o->vector == 13 && o->error == 0 && o->cpl == 3)
            gp0++;
        else
            rt_printf("usermode: %s at CPL 3: faulted=%d vector=%lu "
                      "error=%#lx\n", privileged[k].name, o->faulted,
                      o->vector, o->error);
    }
    uint64_t iopl3 = rt_user_call(user_iopl3, 0, STACK_TOP,
                                  user_flags | FL_IOPL3);

    /* POPF of IOPL 3, IF 0 and CF: at IOPL 0 only CF changes; at IOPL 3
     * IF changes too; IOPL never changes at CPL 3. */
    uint64_t popf0 = rt_user_call(user_popf, FL_FIXED | FL_IOPL3 | FL_CF,
                                  STACK_TOP, user_flags);
    uint64_t popf3 = rt_user_call(user_popf, FL_FIXED | FL_CF, STACK_TOP,
                                  user_flags | FL_IOPL3);

    rt_printf("RESULT usermode cs=%#lx ss=%#lx ds=%#lx "
              "syscall=%#lx kcs=%#lx kss=%#lx kflags=%#lx r11=%#lx rcx_ok=%d "
              "ucs=%#lx uss=%#lx uflags=%#lx "
              "int80=%lu cs=%#lx ss=%#lx if=%lu/%lu "
              "int81=%d/%lu/%#lx int3=%d/%lu/%#lx privileged_gp0=%u/%u "
              "iopl3_faults=%lu popf=%#lx popf_iopl3=%#lx back_cs=%#x\n",
              sel & 0xFFFF, sel >> 16 & 0xFFFF, sel >> 32 & 0xFFFF, answer,
              kernel_cs & 0xFFFF, kernel_ss & 0xFFFF, kernel_rflags,
              kernel_r11, rcx_ok, user_cs & 0xFFFF, user_ss & 0xFFFF,
              user_rflags, int80, int80_cs, int80_ss, int80_user_if,
              int80_kernel_if, gate_int81.faulted, gate_int81.vector,
              gate_int81.error & 7, gate_int3.faulted, gate_int3.vector,
              gate_int3.error & 7, gp0, (unsigned)NPRIV, iopl3, popf0, popf3,
              read_cs());
    /* The whole error code of a gate fault is vector * 8 + 2 (SDM Vol. 3A
     * 7.13: the index is the vector, IDT = 1); QEMU 7.2 reports
     * vector * 16 + 2 in IA-32e mode, so it is kept out of RESULT. */
    rt_printf("DETAIL usermode int81_error=%#lx int3_error=%#lx\n",
              gate_int81.error, gate_int3.error);
    return RT_EXIT_OK;
}
