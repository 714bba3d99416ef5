/* turtles: the command line. `turtles run` boots a multiboot image on the
 * emulated machine. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot/kvm_l1_load.h"
#include "boot/linux_load.h"
#include "boot/multiboot_load.h"
#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "cpu/jit.h"
#include "gdb/stub.h"
#include "hv/cost_profile.h"
#include "hv/hv.h"
#include "hv/nested.h"
#include "vmx/exit_cond.h"
#include "machine.h"
#include "record/db.h"
#include "record/progress.h"
#include "record/roi.h"
#include "analysis/report.h"
#include "guests/rt/cmdline.h"
#include "results.h"

/* Exit codes of `turtles run` besides the guest's own status. */
enum {
    EXIT_USAGE = 64,      /* a bad option or argument */
    EXIT_BAD_IMAGE = 65,  /* the image or a module cannot be loaded */
    EXIT_NO_OUTPUT = 66,  /* --serial cannot be opened */
    EXIT_NO_DB = 73,      /* --db cannot be opened or written */
    EXIT_OUTPUT_LOST = 74, /* the serial output could not be written */
    EXIT_INTERNAL = 70,   /* the emulator could not go on */
    EXIT_TRIPLE_FAULT = 80, /* shutdown: triple fault or VMX abort */
    EXIT_HALTED = 81,     /* HLT forever */
    EXIT_INSN_LIMIT = 82, /* --max-insns reached */
    EXIT_NO_L2 = 83,      /* nested: L1 ended without ever running L2 */
    EXIT_RESET = 84,      /* the guest reset the machine */
    EXIT_NO_GDB = 85,     /* --gdb: the port cannot be listened on */
    EXIT_GDB_KILL = 86,   /* gdb killed the run (its `kill`) */
    EXIT_SIGNAL = 128,    /* + the signal: SIGINT 130, SIGTERM 143 */
};

/* What each status means, for --help (docs/emulator.md has the table). */
static const struct {
    int code;
    const char *meaning;
} exit_statuses[] = {
    {EXIT_USAGE, "bad usage"},
    {EXIT_BAD_IMAGE, "the image (or, nested, the L2 image) or a module "
                     "cannot be loaded"},
    {EXIT_NO_OUTPUT, "--serial cannot be opened"},
    {EXIT_INTERNAL, "internal limit reached"},
    {EXIT_NO_DB, "--db cannot be opened or written"},
    {EXIT_OUTPUT_LOST, "the serial output could not be written"},
    {EXIT_TRIPLE_FAULT, "shutdown (triple fault, or a VMX abort of L1 in "
                        "nested mode)"},
    {EXIT_HALTED, "HLT with nothing to wake it"},
    {EXIT_INSN_LIMIT, "instruction limit reached"},
    {EXIT_NO_L2, "nested: L1 ended without running L2"},
    {EXIT_RESET, "the guest reset the machine (i8042 0xFE, port 0xCF9): "
                 "there is no reset path"},
    {EXIT_NO_GDB, "--gdb: the port cannot be listened on"},
    {EXIT_GDB_KILL, "gdb killed the run"},
    {EXIT_SIGNAL + SIGINT, "interrupted by SIGINT (Ctrl-C)"},
    {EXIT_SIGNAL + SIGTERM, "stopped by SIGTERM"},
};

enum { MAX_MODULES = 16 };
enum run_mode { MODE_BARE, MODE_SINGLE, MODE_NESTED };
static const char *const mode_names[] = {"bare", "single", "nested"};

struct options {
    int mode;           /* enum run_mode */
    uint64_t mem_mib;
    uint64_t max_insns;
    const char *serial;
    int stats;
    const char *image;
    char *cmdline;
    struct boot_module modules[MAX_MODULES];
    int module_count;
    const char *db;     /* --db: the results database, or NULL */
    const char *l1;     /* --l1: the L1 hypervisor of --mode nested */
    const char *l1_args; /* --l1-args: its command line */
    int shadowing;      /* --vmcs-shadowing on|off (nested) */
    int merge_dirty;    /* --merge full|dirty (nested) */
    int want_trace;     /* --trace */
    int quiet;          /* --quiet: no progress line */
    const char *label;  /* --label: the configuration, for the report */
    const char *kernel; /* --kernel: a Linux bzImage instead of IMAGE */
    const char *initrd; /* --initrd: its initramfs */
    const char *cmdline_text; /* --append: the kernel's command line */
    struct exit_trace *trace;
    const char *l1_kernel; /* --l1-kernel: with --l1 kvm, L1's bzImage */
    const char *l1_initrd; /* --l1-initrd: with --l1 kvm, its initramfs */
    const char *cost_arg; /* --cost-profile: a built-in NAME or a FILE */
    struct cost_profile cost; /* what it names */
    char *cost_text;      /* its JSON, for the database */
    int engine;         /* --engine step|block|jit: enum cpu_engine */
    uint64_t gdb_port;  /* --gdb PORT, or NO_GDB */
    int gdb_level;      /* --gdb-level l1|l2 (nested): 1 + this */
    struct gdb_stub *gdb; /* listening when --gdb was given */
    int l0_traps;       /* --l0-traps none|kvm (single) */
    uint64_t l0_exception_bitmap; /* --l0-exception-bitmap, or UINT64_MAX */
};
#define NO_GDB UINT64_MAX

/* The options of `turtles run`, one row each: parsing, the checks of
 * where an option applies and --help all come from this table. */
enum opt_kind {
    OPT_FLAG,   /* no argument: the int field becomes 1 */
    OPT_TEXT,   /* a string: the const char * field */
    OPT_NUMBER, /* a whole number in [min, max]: the uint64_t field */
    OPT_CHOICE, /* one of `choices`: its index into the int field */
    OPT_MODULE, /* FILE[=ARGS], appended to the module list */
};
#define ALL_MODES (1u << MODE_BARE | 1u << MODE_SINGLE | 1u << MODE_NESTED)
#define NESTED_ONLY (1u << MODE_NESTED)
#define NOT_NESTED (1u << MODE_BARE | 1u << MODE_SINGLE)

static const struct opt_row {
    const char *name, *arg, *help;
    enum opt_kind kind;
    size_t field; /* offsetof(struct options, ...) */
    uint64_t min, max;
    const char *choices[4];
    unsigned modes;    /* the modes it applies to */
    const char *needs; /* the option without which it means nothing */
} opt_rows[] = {
    {"mode", "MODE", "bare: the image runs on the emulated CPU (default);\n"
     "single: it runs as the guest of L0, the hypervisor,\nin VMX non-root "
     "operation; nested: L0 runs the L1\nhypervisor (--l1), which runs the "
     "image as L2", OPT_CHOICE, offsetof(struct options, mode), 0, 0,
     {"bare", "single", "nested"}, ALL_MODES, NULL},
    {"l1", "FILE|kvm", "the L1 hypervisor of --mode nested: a multiboot\n"
     "FILE (default build/images/l1vmm.elf), or kvm:\nDebian's Linux with "
     "kvm-intel and kvmrun, which\nruns IMAGE (docs/kvm-l1.md)", OPT_TEXT,
     offsetof(struct options, l1), 0, 0, {0}, NESTED_ONLY, NULL},
    {"l1-args", "TEXT", "its command line, e.g. \"paging=shadow\"; with\n"
     "--l1 kvm, added to L1's kernel command line",
     OPT_TEXT, offsetof(struct options, l1_args), 0, 0, {0}, NESTED_ONLY, NULL},
    {"l1-kernel", "FILE", "with --l1 kvm: L1's bzImage (default\n"
     "build/linux/vmlinuz)", OPT_TEXT, offsetof(struct options, l1_kernel),
     0, 0, {0}, NESTED_ONLY, "l1"},
    {"l1-initrd", "FILE", "with --l1 kvm: L1's initramfs (default\n"
     "build/kvm-l1/initrd.gz)", OPT_TEXT,
     offsetof(struct options, l1_initrd), 0, 0, {0}, NESTED_ONLY, "l1"},
    {"vmcs-shadowing", "on|off", "nested: L1's VMREAD/VMWRITE of hot fields "
     "hit\na hardware shadow VMCS (on, default) or all trap\nto L0 (off, "
     "Turtles' original design)", OPT_CHOICE,
     offsetof(struct options, shadowing), 0, 0, {"off", "on"}, NESTED_ONLY, NULL},
    {"merge", "full|dirty", "nested: vmcs02 gets every vmcs12 field at "
     "each\nentry (full) or only those L1 wrote (dirty, default)",
     OPT_CHOICE, offsetof(struct options, merge_dirty), 0, 0,
     {"full", "dirty"}, NESTED_ONLY, NULL},
    {"l0-traps", "none|kvm", "single: what L0 intercepts: only what it "
     "must\n(none, default) or KVM 2.6.35's CR masks, interrupts,\n"
     "exceptions and EPT on demand (kvm, docs/cost-model.md)",
     OPT_CHOICE, offsetof(struct options, l0_traps), 0, 0, {"none", "kvm"},
     1u << MODE_SINGLE, NULL},
    {"l0-exception-bitmap", "MASK", "single: the exceptions L0 intercepts "
     "and gives\nback (default 0; with --l0-traps kvm #UD, #NM, #MC)",
     OPT_NUMBER, offsetof(struct options, l0_exception_bitmap), 0,
     0xFFFFFFFF, {0}, 1u << MODE_SINGLE, NULL},
    {"mem", "MIB", "guest RAM in MiB (default 256, 2 to 4096)", OPT_NUMBER,
     offsetof(struct options, mem_mib), 2, 4096, {0}, ALL_MODES, NULL},
    {"max-insns", "N",
     "stop after N steps: instructions, REP iterations, faults, HLT "
     "wake-ups (exit 82); "
     "0 = no limit",
     OPT_NUMBER, offsetof(struct options, max_insns), 0, UINT64_MAX, {0},
     ALL_MODES, NULL},
    {"serial", "FILE", "UART output to FILE instead of standard output",
     OPT_TEXT, offsetof(struct options, serial), 0, 0, {0}, ALL_MODES,
     NULL},
    {"module", "FILE[=ARGS]", "a multiboot module with its command line\n"
     "(up to 16; not in nested mode, where the image\nis L1's module)",
     OPT_MODULE, 0, 0, 0, {0}, NOT_NESTED, NULL},
    {"kernel", "FILE", "boot a Linux bzImage (32-bit boot protocol) "
     "instead\nof a multiboot IMAGE (nested: L1 boots it as L2)", OPT_TEXT,
     offsetof(struct options, kernel), 0, 0, {0}, ALL_MODES, NULL},
    {"initrd", "FILE", "with --kernel: the initramfs", OPT_TEXT,
     offsetof(struct options, initrd), 0, 0, {0}, ALL_MODES, "kernel"},
    {"append", "TEXT", "with --kernel: the kernel command line", OPT_TEXT,
     offsetof(struct options, cmdline_text), 0, 0, {0}, ALL_MODES,
     "kernel"},
    {"stats", NULL, "print instruction and cycle counts on stderr",
     OPT_FLAG, offsetof(struct options, stats), 0, 0, {0}, ALL_MODES,
     NULL},
    {"db", "FILE", "add the run to the SQLite results database FILE\n"
     "(created with analysis/schema.sql if absent)", OPT_TEXT,
     offsetof(struct options, db), 0, 0, {0}, ALL_MODES, NULL},
    {"trace", NULL, "with --db, also record every VM exit", OPT_FLAG,
     offsetof(struct options, want_trace), 0, 0, {0}, ALL_MODES, "db"},
    {"label", "NAME", "with --db, the configuration's name for the report",
     OPT_TEXT, offsetof(struct options, label), 0, 0, {0}, ALL_MODES, "db"},
    {"cost-profile", "NAME|FILE", "the cost model's numbers: a profile built "
     "in from\nexperiments/profiles/ (default " COST_DEFAULT_PROFILE ") or a "
     "JSON\nfile (a path with a '/' or ending in .json)", OPT_TEXT,
     offsetof(struct options, cost_arg), 0, 0, {0}, ALL_MODES, NULL},
    {"engine", "step|block|jit", "how the CPU runs code: one instruction at a "
     "time\n(step, the reference), straight-line blocks of\ndecoded "
     "instructions (block, the default\nelsewhere), or blocks with runs of "
     "them as\nnative code (jit, x86-64 hosts, the default\nthere); all give "
     "the same results\n(docs/emulator.md)",
     OPT_CHOICE, offsetof(struct options, engine), 0, 0,
     {"step", "block", "jit"},
     ALL_MODES, NULL},
    {"quiet", NULL, "no progress line on stderr (shown only when\n"
     "stderr is a terminal and the guest's output is not,\n"
     "for runs longer than 3 s)", OPT_FLAG,
     offsetof(struct options, quiet), 0, 0, {0}, ALL_MODES, NULL},
    {"gdb", "PORT", "wait for gdb on localhost:PORT (0: any free port,\n"
     "printed on stderr) and let it debug the run:\n"
     "`target remote localhost:PORT` (docs/emulator.md)", OPT_NUMBER,
     offsetof(struct options, gdb_port), 0, 65535, {0}, ALL_MODES, NULL},
    {"gdb-level", "l1|l2", "nested: the level gdb debugs (default l2); the\n"
     "other level runs freely", OPT_CHOICE,
     offsetof(struct options, gdb_level), 0, 0, {"l1", "l2"}, NESTED_ONLY,
     "gdb"},
};
enum { OPT_COUNT = sizeof opt_rows / sizeof opt_rows[0] };
#define HELP_COLUMN 21

static void usage(FILE *out)
{
    fprintf(out,
"usage: turtles run [options] IMAGE [--] [CMDLINE...]\n"
"       turtles run [options] --kernel BZIMAGE [--initrd FILE] [--append TEXT]\n"
"       turtles report --db FILE\n"
"\n"
"Boots the multiboot v1 ELF IMAGE on the emulated x86-64 machine and exits\n"
"with the status the guest writes to isa-debug-exit (port 0xf4).\n"
"\n"
"options (all before IMAGE):\n");
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct opt_row *r = &opt_rows[i];
        int n = fprintf(out, "  --%s%s%s", r->name, r->arg ? " " : "",
                        r->arg ? r->arg : "");
        fprintf(out, "%*s", n < HELP_COLUMN ? HELP_COLUMN - n : 1, "");
        for (const char *h = r->help; *h; h++) {
            fputc(*h, out);
            if (*h == '\n')
                fprintf(out, "%*s", HELP_COLUMN, "");
        }
        fputc('\n', out);
    }
    fprintf(out,
"  -h, --help         this text\n"
"\n"
"The words after IMAGE are the image's command line; one that starts with\n"
"'-' must come after --.\n"
"\n"
"exit status: the guest's isa-debug-exit value (0-255), or\n");
    for (size_t i = 0; i < sizeof exit_statuses / sizeof *exit_statuses; i++)
        fprintf(out, "  %3d  %s\n", exit_statuses[i].code,
                exit_statuses[i].meaning);
}

/* Joins argv into one space-separated command line. */
static char *join(int argc, char **argv)
{
    size_t len = 1;
    for (int k = 0; k < argc; k++)
        len += strlen(argv[k]) + 1;
    char *s = calloc(1, len);
    if (!s)
        return NULL;
    for (int k = 0; k < argc; k++) {
        if (k)
            strcat(s, " ");
        strcat(s, argv[k]);
    }
    return s;
}

/* Stores one option's argument; -1 with a message if it is bad. */
static int set_option(const struct opt_row *r, const char *arg,
                      struct options *o)
{
    char *field = (char *)o + r->field;
    switch (r->kind) {
    case OPT_FLAG:
        *(int *)field = 1;
        return 0;
    case OPT_TEXT:
        *(const char **)field = arg;
        return 0;
    case OPT_NUMBER: {
        /* Digits only (or 0x and hex digits): no sign, no spaces, no
         * suffix, no overflow. */
        uint64_t v;
        if (!rt_parse_u64(arg, &v) || v < r->min || v > r->max) {
            if (r->max == UINT64_MAX)
                fprintf(stderr, "turtles: --%s wants a whole number "
                        "(decimal or 0x hex, at most 2^64-1), not '%s'\n",
                        r->name, arg);
            else
                fprintf(stderr, "turtles: --%s wants a whole number from "
                        "%llu to %llu, not '%s'\n", r->name,
                        (unsigned long long)r->min,
                        (unsigned long long)r->max, arg);
            return -1;
        }
        *(uint64_t *)field = v;
        return 0;
    }
    case OPT_CHOICE:
        for (int k = 0; r->choices[k]; k++) {
            if (strcmp(arg, r->choices[k]) == 0) {
                *(int *)field = k;
                return 0;
            }
        }
        fprintf(stderr, "turtles: --%s wants", r->name);
        for (int k = 0; r->choices[k]; k++)
            fprintf(stderr, "%s %s", k ? (r->choices[k + 1] ? "," : " or")
                                       : "", r->choices[k]);
        fprintf(stderr, ", not '%s'\n", arg);
        return -1;
    case OPT_MODULE: {
        if (o->module_count == MAX_MODULES) {
            fprintf(stderr, "turtles: at most %d modules\n", MAX_MODULES);
            return -1;
        }
        struct boot_module *mod = &o->modules[o->module_count++];
        char *eq = strchr(arg, '=');
        if (eq)
            *eq = '\0';
        mod->path = arg;
        mod->args = eq ? eq + 1 : NULL;
        return 0;
    }
    }
    return -1;
}

static const struct opt_row *find_row(const char *name)
{
    for (size_t i = 0; i < OPT_COUNT; i++)
        if (strcmp(opt_rows[i].name, name) == 0)
            return &opt_rows[i];
    return NULL;
}

/* An option given where it means nothing is a mistake, not a no-op. */
static int check_applies(const struct opt_row *r, const struct options *o,
                         const bool *given)
{
    if (!(r->modes & 1u << o->mode)) {
        if (r->kind == OPT_MODULE) {
            fprintf(stderr, "turtles: --module: in --mode nested the image "
                    "is L1's module and L1 gives L2 no modules; run the "
                    "image in bare or single mode to give it modules\n");
            return -1;
        }
        fprintf(stderr, "turtles: --%s applies to --mode", r->name);
        for (int k = 0, n = 0; k <= MODE_NESTED; k++)
            if (r->modes & 1u << k)
                fprintf(stderr, "%s %s", n++ ? " and" : "", mode_names[k]);
        fprintf(stderr, " only, not to --mode %s\n", mode_names[o->mode]);
        return -1;
    }
    const struct opt_row *needed = r->needs ? find_row(r->needs) : NULL;
    if (needed && !given[needed - opt_rows]) {
        fprintf(stderr, "turtles: --%s only means something with --%s\n",
                r->name, r->needs);
        return -1;
    }
    return 0;
}

/* With --kernel: no IMAGE and no command-line words (--append has it).
 * In nested mode L1 boots the kernel as L2: L0 hands it over as L1's
 * first module (the --append text its string), the initrd as the second. */
static int linux_options(int argc, char **argv, struct options *o)
{
    if (optind < argc) {
        fprintf(stderr, "turtles: with --kernel, give the kernel's command "
                        "line with --append, not '%s'\n", argv[optind]);
        return -1;
    }
    if (o->module_count > 0) {
        fprintf(stderr, "turtles: --kernel runs without --module\n");
        return -1;
    }
    o->image = o->kernel;
    o->cmdline = strdup(o->cmdline_text ? o->cmdline_text : "");
    return o->cmdline ? 0 : -1;
}

/* --l1 kvm: L1 is Linux with KVM (docs/kvm-l1.md); --l1-kernel and
 * --l1-initrd name its files and mean nothing with another L1. */
static bool is_kvm_l1(const struct options *o)
{
    return o->mode == MODE_NESTED && strcmp(o->l1, "kvm") == 0;
}

static int kvm_l1_options(struct options *o)
{
    if (!is_kvm_l1(o)) {
        if (o->l1_kernel || o->l1_initrd) {
            fprintf(stderr, "turtles: --l1-kernel and --l1-initrd are L1's "
                    "files with --l1 kvm, not with --l1 %s\n", o->l1);
            return -1;
        }
        return 0;
    }
    if (o->kernel) {
        fprintf(stderr, "turtles: --l1 kvm runs a multiboot IMAGE as L2; "
                "Linux (--kernel) as L2 under KVM is not supported yet\n");
        return -1;
    }
    if (!o->l1_kernel)
        o->l1_kernel = "build/linux/vmlinuz";
    if (!o->l1_initrd)
        o->l1_initrd = "build/kvm-l1/initrd.gz";
    return 0;
}

static int parse_run(int argc, char **argv, struct options *o)
{
    struct option longopts[OPT_COUNT + 2];
    for (size_t i = 0; i < OPT_COUNT; i++)
        longopts[i] = (struct option){
            opt_rows[i].name,
            opt_rows[i].kind == OPT_FLAG ? no_argument : required_argument,
            0, 256 + (int)i};
    longopts[OPT_COUNT] = (struct option){"help", no_argument, 0, 'h'};
    longopts[OPT_COUNT + 1] = (struct option){0, 0, 0, 0};
    bool given[OPT_COUNT] = {false};

    *o = (struct options){.mode = MODE_BARE, .mem_mib = 256,
                          .l1 = "build/images/l1vmm.elf", .l1_args = "",
                          .shadowing = 1, .merge_dirty = 1,
                          .cost_arg = COST_DEFAULT_PROFILE,
                          .engine = jit_supported() ? ENGINE_JIT
                                                    : ENGINE_BLOCK,
                          .gdb_port = NO_GDB,
                          .gdb_level = 1,
                          .l0_exception_bitmap = UINT64_MAX};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            exit(0);
        }
        if (ch < 256 || ch >= 256 + OPT_COUNT)
            return -1; /* getopt said what is wrong */
        given[ch - 256] = true;
        if (set_option(&opt_rows[ch - 256], optarg, o))
            return -1;
    }
    for (size_t i = 0; i < OPT_COUNT; i++)
        if (given[i] && check_applies(&opt_rows[i], o, given))
            return -1;
    if (kvm_l1_options(o) != 0)
        return -1;
    if (o->engine == ENGINE_JIT && !jit_supported()) {
        fprintf(stderr, "turtles: --engine jit needs an x86-64 host; "
                        "use --engine block here\n");
        return -1;
    }
    char err[512];
    if (cost_profile_load(o->cost_arg, &o->cost, &o->cost_text, err,
                          sizeof err) != 0) {
        fprintf(stderr, "turtles: --cost-profile %s\n", err);
        return -1;
    }
    if (o->kernel)
        return linux_options(argc, argv, o);
    if (optind >= argc) {
        fprintf(stderr, "turtles: no IMAGE given\n");
        return -1;
    }
    o->image = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0) {
        optind++;
    } else {
        for (int k = optind; k < argc; k++) {
            if (argv[k][0] == '-') {
                fprintf(stderr, "turtles: '%s' after IMAGE: options go "
                        "before IMAGE; if it is meant for the guest's "
                        "command line, put -- before it\n", argv[k]);
                return -1;
            }
        }
    }
    o->cmdline = join(argc - optind, argv + optind);
    return o->cmdline ? 0 : -1;
}

static int exit_code(const struct machine *m)
{
    switch (m->stop) {
    case STOP_INTERRUPTED: return EXIT_SIGNAL + (int)m->stop_signal;
    case STOP_DEBUG_EXIT: return (int)(m->exit_status & 0xFF);
    case STOP_SHUTDOWN: return 0;
    case STOP_TRIPLE_FAULT: return EXIT_TRIPLE_FAULT;
    case STOP_HALTED: return EXIT_HALTED;
    case STOP_INSN_LIMIT: return EXIT_INSN_LIMIT;
    case STOP_RESET: return EXIT_RESET;
    case STOP_DEBUGGER: return EXIT_GDB_KILL;
    default: return EXIT_INTERNAL;
    }
}

_Static_assert(sizeof(sig_atomic_t) == sizeof(int),
               "machine.stop_signal stands for a sig_atomic_t");

/* The machine of the run in progress, for the signal handler. */
static struct machine *running;

/* SIGINT, SIGTERM: the run loop stops at the next instruction boundary
 * (machine_take_signal), and the run ends as any other: output flushed,
 * the run recorded with status "interrupted". */
static void on_signal(int signo)
{
    if (running)
        running->stop_signal = signo;
}

static void catch_signals(struct machine *m)
{
    running = m;
    struct sigaction sa = {.sa_handler = m ? on_signal : SIG_DFL};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Nested: did L1 use VMX at all? It executed VMXON (each one exits to
 * L0), or L2 ran: some exit of L2 was counted, or the run ended in L2. */
static bool l1_used_vmx(const struct hv *hv)
{
    return stats_sum(&hv->stats, 0, 1, VMX_EXIT_VMXON).count > 0 ||
           stats_sum(&hv->stats, -1, 2, -1).count > 0 ||
           (hv->cur == &hv->vmcs02 && hv->c->vmx.nonroot);
}

/* Where the serial output goes, and whether writing it failed. */
struct output {
    FILE *f;
    const char *name;
    bool lost;
};

static int report_output_error(const struct output *out, int err)
{
    fprintf(stderr, "turtles: writing the serial output to %s failed (%s): "
            "the guest's output is incomplete\n", out->name,
            err ? strerror(err) : "a write during the run failed");
    return EXIT_OUTPUT_LOST;
}

/* Did a write of the serial output fail (a full disk, a closed or broken
 * standard output)? The UART writes byte by byte and does not stop the
 * guest for it; stdio remembers the error, and the last bytes are still
 * buffered: flush them and ask. */
static bool output_failed(struct output *out)
{
    errno = 0;
    int rc = fflush(out->f), err = errno;
    if (rc == 0 && !ferror(out->f))
        return false;
    report_output_error(out, rc ? err : 0);
    return out->lost = true;
}

/* --gdb: waits for gdb to connect, then the stub watches the CPU and
 * stops before its first instruction. False if the machine stopped
 * instead (a signal, or accept failed). */
static bool attach_gdb(struct machine *m, struct gdb_stub *g)
{
    char err[256];
    fprintf(stderr, "turtles: waiting for gdb on localhost:%u "
            "(target remote localhost:%u)\n", g->port, g->port);
    if (gdb_accept(g, err, sizeof err) != 0) {
        if (!machine_take_signal(m))
            machine_stop(m, STOP_INTERNAL, 0, "%s", err);
        return false;
    }
    m->cpu->gdb = g;
    return true;
}

/* Boots the image and runs it to the end, in the mode asked for. */
/* --l0-traps and --l0-exception-bitmap: vmcs01's intercepts beyond what
 * L0 needs (hv/vmcs01.c). */
static int l0_traps(struct hv *hv, const struct options *o, char *err,
                    size_t err_size)
{
    enum { KVM_EXCEPTIONS = 1u << VEC_UD | 1u << VEC_NM | 1u << VEC_MC };
    bool chosen = o->l0_exception_bitmap != UINT64_MAX;
    uint32_t bitmap = chosen ? (uint32_t)o->l0_exception_bitmap
                      : o->l0_traps ? KVM_EXCEPTIONS : 0;
    if (!o->l0_traps) {
        if (chosen)
            hv_set_exception_bitmap(hv, bitmap);
        return 0;
    }
    if (hv_use_kvm_traps(hv, bitmap) != 0) {
        snprintf(err, err_size, "cannot set up L0's KVM-like intercepts");
        return -1;
    }
    return 0;
}

static void boot_and_run(struct machine *m, const struct options *o,
                         struct hv *hv, struct exit_stats **stats,
                         struct output *out, int *status)
{
    struct boot_config cfg = {o->image, o->cmdline, o->modules,
                              o->module_count};
    bool nested = o->mode == MODE_NESTED;
    /* Nested: L0 boots the L1 hypervisor, whose module is the image. L0
     * checks that image first, as L1 would, so that a bad L2 image is a
     * load error, not a failure of L1. */
    struct boot_module l2[2] = {{o->image, o->cmdline}, {o->initrd, NULL}};
    if (nested)
        cfg = (struct boot_config){o->l1, o->l1_args, l2,
                                   o->kernel && o->initrd ? 2 : 1};
    struct boot_entry entry;
    struct cpu_boot_state linux_entry;
    struct linux_config linux_cfg = {o->kernel, o->initrd, o->cmdline, NULL, 0};
    char err[512];
    struct kvm_l1_config kvm_cfg = {o->l1_kernel, o->l1_initrd, o->l1_args,
                                    o->image, o->cmdline};
    bool linux_l1 = is_kvm_l1(o);
    int loaded =
        linux_l1 ? kvm_l1_load(m, &kvm_cfg, &linux_entry, err, sizeof err)
        : o->kernel && !nested
            ? linux_load(m, &linux_cfg, &linux_entry, err, sizeof err)
        : nested && !o->kernel &&
                multiboot_check_file(o->image, err, sizeof err) != 0
            ? -1
            : multiboot_load(m, &cfg, &entry, err, sizeof err);
    if (loaded != 0) {
        fprintf(stderr, "turtles: %s\n", err);
        *status = EXIT_BAD_IMAGE;
        return;
    }
    if ((o->kernel && !nested) || linux_l1)
        cpu_reset_boot(m->cpu, &linux_entry);
    else
        cpu_reset_multiboot(m->cpu, entry.entry, entry.info_pa);
    m->cpu->engine = (enum cpu_engine)o->engine;
    bool single = o->mode != MODE_BARE; /* L0 runs the image */
    cost_apply_mmu(&o->cost, m->cpu->mtlb);
    catch_signals(m);
    if (o->gdb && !attach_gdb(m, o->gdb)) {
        /* the machine stopped: a signal, or accept failed */
    } else if (!single) {
        cpu_run(m->cpu, o->max_insns);
    } else if (hv_init(hv, m, &o->cost, nested, err, sizeof err) == 0 &&
               (!nested ||
                nested_init(hv, o->shadowing, o->merge_dirty) == 0) &&
               l0_traps(hv, o, err, sizeof err) == 0) {
        if (o->gdb && nested)
            o->gdb->level_vmcs = o->gdb_level ? &hv->vmcs02 : &hv->vmcs01;
        hv->trace = o->trace;
        *stats = &hv->stats;
        if (m->progress)
            m->progress->stats = &hv->stats;
        hv_run(hv, o->max_insns);
    } else {
        machine_stop(m, STOP_INTERNAL, 0, "%s", err);
    }
    catch_signals(NULL);
    if (m->progress)
        progress_end(m->progress);
    output_failed(out); /* before stderr's messages, as it flushes */
    if (m->stop != STOP_DEBUG_EXIT && m->stop != STOP_SHUTDOWN) {
        fprintf(stderr, "turtles: %s\n", m->stop_message);
        /* Where the guest is, when the CPU still runs it. */
        if (!single || m->cpu->vmx.nonroot) {
            char where[160];
            cpu_describe_rip(m->cpu, where, sizeof where);
            fprintf(stderr, "turtles: stopped at %s\n", where);
        }
    }
    *status = exit_code(m);
    /* An L1 that reports success without having used VMX did not do the
     * run's job (one that reports a failure has said what went wrong). */
    if (nested && *status == 0 && !l1_used_vmx(hv)) {
        fprintf(stderr, "turtles: L1 (%s) ended with status 0 without ever "
                "entering VMX operation, so L2 (%s) never ran: --l1 must "
                "be a VMX hypervisor that runs its first module\n", o->l1,
                o->image);
        *status = EXIT_NO_L2;
    }
    if (out->lost)
        *status = EXIT_OUTPUT_LOST;
    if (o->gdb)
        gdb_report_exit(o->gdb, *status);
    if (o->stats) {
        /* One line; the modeled TLB's counts are named as in the
         * database's counters table (docs/cost-model.md). */
        const struct tlbm_stats *t = &m->cpu->mtlb->stats;
        fprintf(stderr,
                "turtles: stats: instructions=%llu cycles=%llu "
                "decoded=%llu tlb_fills=%llu modeled_tlb_hits=%llu "
                "modeled_tlb_stlb_hits=%llu modeled_tlb_misses=%llu "
                "modeled_walk_refs=%llu modeled_mmu_cycles=%llu\n",
                (unsigned long long)m->cpu->insns,
                (unsigned long long)m->cpu->cycles,
                (unsigned long long)dcache_decoded(m->cpu->dcache),
                (unsigned long long)m->cpu->tlb.fills,
                (unsigned long long)t->hits, (unsigned long long)t->stlb_hits,
                (unsigned long long)t->misses,
                (unsigned long long)t->walk_refs,
                (unsigned long long)t->cycles);
    }
}

static void feed_metrics(void *ctx, uint8_t byte)
{
    char c = (char)byte;
    metrics_feed(ctx, 1, &c, 1);
}

static uint64_t elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (uint64_t)(b->tv_sec - a->tv_sec) * 1000000000u +
           (uint64_t)(b->tv_nsec - a->tv_nsec);
}

static int run(int argc, char **argv)
{
    struct options o;
    if (parse_run(argc, argv, &o) != 0) {
        free(o.cost_text);
        fprintf(stderr, "turtles: try 'turtles run --help'\n");
        return EXIT_USAGE;
    }
    /* The database first: a bad --db ends here, before anything ran. */
    struct db *db = NULL;
    if (o.db) {
        char err[512];
        if (!(db = db_open(o.db, err, sizeof err))) {
            fprintf(stderr, "turtles: --db: %s\n", err);
            free(o.cmdline);
            free(o.cost_text);
            return EXIT_NO_DB;
        }
    }
    static struct gdb_stub gdb; /* its buffers: too large for the stack */
    if (o.gdb_port != NO_GDB) {
        char err[256];
        if (gdb_open(&gdb, (unsigned)o.gdb_port, err, sizeof err) != 0) {
            fprintf(stderr, "turtles: %s\n", err);
            db_close(db);
            free(o.cmdline);
            free(o.cost_text);
            return EXIT_NO_GDB;
        }
        o.gdb = &gdb;
    }
    FILE *serial = stdout;
    if (o.serial && !(serial = fopen(o.serial, "wb"))) {
        fprintf(stderr, "turtles: cannot open --serial %s: %s\n", o.serial,
                strerror(errno));
        if (o.gdb)
            gdb_close(o.gdb);
        db_close(db);
        free(o.cmdline);
        free(o.cost_text);
        return EXIT_NO_OUTPUT;
    }
    int status = EXIT_INTERNAL;
    struct timespec started, finished, t0, t1;
    clock_gettime(CLOCK_REALTIME, &started);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct guest_metrics metrics;
    metrics_init(&metrics);
    struct exit_trace trace;
    trace_init(&trace, TRACE_DEFAULT_CAP);
    o.trace = o.want_trace ? &trace : NULL;
    /* The run's large state is static, zero from the start (run() runs
     * once a process): a trivial run then touches only the pages of it
     * that it uses, where zeroing these 270 KiB on the stack (hv, the
     * stats) or again in place (roi) was 70 page faults. */
    static struct exit_stats bare_stats;
    struct exit_stats *stats = &bare_stats;

    struct output out = {serial, o.serial ? o.serial : "standard output",
                         false};
    struct machine *m = machine_create(o.mem_mib, serial);
    static struct hv hv;
    static struct roi roi; /* no region yet */
    if (m) {
        m->serial_tap = feed_metrics;
        m->serial_tap_ctx = &metrics;
        m->roi = &roi;
        /* On a terminal only, and not when the guest's output goes to
         * that terminal too: the two would be drawn over each other. */
        struct progress progress;
        bool serial_on_tty = serial == stdout && isatty(STDOUT_FILENO);
        progress_init(&progress, !o.quiet && isatty(STDERR_FILENO) &&
                                     !serial_on_tty,
                      stderr, MACHINE_TSC_HZ);
        m->progress = &progress;
        boot_and_run(m, &o, &hv, &stats, &out, &status);
        m->progress = NULL;
        machine_roi_finish(m, stats);
        metrics_flush(&metrics);
        clock_gettime(CLOCK_REALTIME, &finished);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (db && m->stop != STOP_NONE) {
            struct run_facts f = {
                .mode = mode_names[o.mode], .image = o.image, .cmdline = o.cmdline,
                .cost_profile = o.cost.name, .cost_arg = o.cost_arg,
                .cost_text = o.cost_text, .mem_mib = o.mem_mib,
                .max_insns = o.max_insns, .started = started,
                .finished = finished, .host_ns = elapsed_ns(&t0, &t1),
                .exit_code = status, .label = o.label,
                .l1_args = o.mode == MODE_NESTED ? o.l1_args : NULL,
                .shadowing = o.shadowing, .merge_dirty = o.merge_dirty,
                .engine = (const char *[]){"step", "block", "jit"}[o.engine],
                .l1 = o.mode == MODE_NESTED ? o.l1 : NULL,
                .l1_kernel = is_kvm_l1(&o) ? o.l1_kernel : NULL,
                .l1_initrd = is_kvm_l1(&o) ? o.l1_initrd : NULL,
                .l0_traps = o.l0_traps ? "kvm" : NULL,
                .l0_exception_bitmap =
                    o.l0_exception_bitmap == UINT64_MAX
                        ? -1 : (int64_t)o.l0_exception_bitmap};
            /* A run that was not recorded says so whatever the guest
             * did: the guest's own status is in the output it printed. */
            if (results_write(db, &f, m, stats, &metrics, o.trace) != 0)
                status = EXIT_NO_DB;
        }
        hv_destroy(&hv);
        machine_destroy(m);
    }
    if (o.gdb)
        gdb_close(o.gdb); /* when the run ended before gdb came */
    db_close(db);
    metrics_free(&metrics);
    trace_free(&trace);
    if (serial != stdout && fclose(serial) != 0 && !out.lost)
        status = report_output_error(&out, errno);
    free(o.cmdline);
    free(o.cost_text);
    return status;
}

/* Anything printed on standard output (the report, --help, the serial
 * output by default) must have reached it: a failed write is an error. */
static int close_stdout(int status)
{
    if (fclose(stdout) != 0 && status == 0) {
        fprintf(stderr, "turtles: writing standard output failed: %s\n",
                strerror(errno));
        return EXIT_OUTPUT_LOST;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return close_stdout(run(argc - 1, argv + 1));
    if (argc == 4 && strcmp(argv[1], "report") == 0 &&
        strcmp(argv[2], "--db") == 0)
        return report_main(argv[3]);
    if (argc == 3 && strcmp(argv[1], "report") == 0 &&
        (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        const char *rev = results_revision();
        printf("turtles %s\n", rev ? rev : "unknown");
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return EXIT_USAGE;
}
