/* turtles: the command line. `turtles run` boots a multiboot image on the
 * emulated machine. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boot/linux_load.h"
#include "boot/multiboot_load.h"
#include "cpu/cpu.h"
#include "cpu/decode.h"
#include "hv/hv.h"
#include "hv/nested.h"
#include "machine.h"
#include "record/db.h"
#include "analysis/report.h"
#include "results.h"

/* Exit codes of `turtles run` besides the guest's own status. */
enum {
    EXIT_USAGE = 64,      /* a bad option or argument */
    EXIT_BAD_IMAGE = 65,  /* the image or a module cannot be loaded */
    EXIT_NO_OUTPUT = 66,  /* --serial cannot be opened */
    EXIT_NO_DB = 73,      /* --db cannot be opened or written */
    EXIT_INTERNAL = 70,   /* the emulator could not go on */
    EXIT_TRIPLE_FAULT = 80, /* shutdown: triple fault or VMX abort */
    EXIT_HALTED = 81,     /* HLT forever */
    EXIT_INSN_LIMIT = 82, /* --max-insns reached */
};

enum { MAX_MODULES = 16 };

struct options {
    const char *mode;
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
    const char *label;  /* --label: the configuration, for the report */
    const char *kernel; /* --kernel: a Linux bzImage instead of IMAGE */
    const char *initrd; /* --initrd: its initramfs */
    const char *cmdline_text; /* --append: the kernel's command line */
    struct exit_trace *trace;
};

static void usage(FILE *out)
{
    fprintf(out,
"usage: turtles run [options] IMAGE [-- CMDLINE...]\n"
"       turtles run [options] --kernel BZIMAGE [--initrd FILE] [--append TEXT]\n"
"       turtles report --db FILE\n"
"\n"
"Boots the multiboot v1 ELF IMAGE on the emulated x86-64 machine and exits\n"
"with the status the guest writes to isa-debug-exit (port 0xf4).\n"
"\n"
"options:\n"
"  --mode MODE        bare: the image runs on the emulated CPU (default);\n"
"                     single: it runs as the guest of L0, the hypervisor,\n"
"                     in VMX non-root operation; nested: L0 runs the L1\n"
"                     hypervisor (--l1), which runs the image as L2\n"
"  --l1 FILE          the L1 hypervisor of --mode nested\n"
"                     (default build/images/l1vmm.elf)\n"
"  --l1-args TEXT     its command line, e.g. \"paging=shadow\"\n"
"  --vmcs-shadowing on|off  nested: L1's VMREAD/VMWRITE of hot fields hit\n"
"                     a hardware shadow VMCS (on, default) or all trap\n"
"                     to L0 (off, Turtles' original design)\n"
"  --merge full|dirty nested: vmcs02 gets every vmcs12 field at each\n"
"                     entry (full) or only those L1 wrote (dirty, default)\n"
"  --mem MIB          guest RAM in MiB (default 256, 2 to 4096)\n"
"  --max-insns N      stop after N instructions (exit %d); 0 = no limit\n"
"  --serial FILE      UART output to FILE instead of standard output\n"
"  --module FILE[=ARGS]  a multiboot module with its command line\n"
"                     (may be repeated, up to %d)\n"
"  --kernel FILE      boot a Linux bzImage (32-bit boot protocol) instead\n"
"                     of a multiboot IMAGE; bare and single mode\n"
"  --initrd FILE      with --kernel: the initramfs\n"
"  --append TEXT      with --kernel: the kernel command line\n"
"  --stats            print instruction and cycle counts on stderr\n"
"  --db FILE          add the run to the SQLite results database FILE\n"
"                     (created with analysis/schema.sql if absent)\n"
"  --trace            with --db, also record every VM exit\n"
"  --label NAME       with --db, the configuration's name for the report\n"
"  -h, --help         this text\n"
"\n"
"Anything after -- is the image's command line.\n"
"\n"
"exit status: the guest's isa-debug-exit value (0-255); %d bad usage;\n"
"%d the image cannot be loaded; %d --serial cannot be opened; %d --db\n"
"cannot be opened or written; %d internal limit reached; %d shutdown (triple\n"
"fault, or a VMX abort of L1 in nested mode); %d HLT with nothing to wake\n"
"it; %d instruction limit reached.\n",
            EXIT_INSN_LIMIT, MAX_MODULES, EXIT_USAGE, EXIT_BAD_IMAGE,
            EXIT_NO_OUTPUT, EXIT_NO_DB, EXIT_INTERNAL, EXIT_TRIPLE_FAULT,
            EXIT_HALTED, EXIT_INSN_LIMIT);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
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

/* With --kernel: no IMAGE and no command-line words (--append has it);
 * L0 boots the kernel itself, so nested mode (where l1vmm would load it)
 * is refused until l1vmm loads bzImages. */
static int linux_options(int argc, char **argv, struct options *o)
{
    if (optind < argc) {
        fprintf(stderr, "turtles: with --kernel, give the kernel's command "
                        "line with --append, not '%s'\n", argv[optind]);
        return -1;
    }
    if (strcmp(o->mode, "nested") == 0 || o->module_count > 0) {
        fprintf(stderr, "turtles: --kernel runs in bare and single mode, "
                        "without --module\n");
        return -1;
    }
    o->image = o->kernel;
    o->cmdline = strdup(o->cmdline_text ? o->cmdline_text : "");
    return o->cmdline ? 0 : -1;
}

static int parse_run(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"mode", required_argument, 0, 'm'},
        {"mem", required_argument, 0, 'M'},
        {"max-insns", required_argument, 0, 'n'},
        {"serial", required_argument, 0, 's'},
        {"module", required_argument, 0, 'o'},
        {"stats", no_argument, 0, 'S'},
        {"db", required_argument, 0, 'd'},
        {"l1", required_argument, 0, 'L'},
        {"l1-args", required_argument, 0, 'A'},
        {"vmcs-shadowing", required_argument, 0, 'V'},
        {"merge", required_argument, 0, 'G'},
        {"trace", no_argument, 0, 't'},
        {"label", required_argument, 0, 'l'},
        {"kernel", required_argument, 0, 'K'},
        {"initrd", required_argument, 0, 'I'},
        {"append", required_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (struct options){.mode = "bare", .mem_mib = 256,
                          .l1 = "build/images/l1vmm.elf", .l1_args = "",
                          .shadowing = 1, .merge_dirty = 1};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm':
            o->mode = optarg;
            break;
        case 'M':
            if (parse_u64(optarg, &o->mem_mib) || o->mem_mib < 2 ||
                o->mem_mib > 4096) {
                fprintf(stderr, "turtles: --mem must be 2 to 4096 MiB, not "
                                "'%s'\n", optarg);
                return -1;
            }
            break;
        case 'n':
            if (parse_u64(optarg, &o->max_insns)) {
                fprintf(stderr, "turtles: --max-insns wants a number, not "
                                "'%s'\n", optarg);
                return -1;
            }
            break;
        case 's':
            o->serial = optarg;
            break;
        case 'o': {
            if (o->module_count == MAX_MODULES) {
                fprintf(stderr, "turtles: at most %d modules\n", MAX_MODULES);
                return -1;
            }
            struct boot_module *mod = &o->modules[o->module_count++];
            char *eq = strchr(optarg, '=');
            if (eq)
                *eq = '\0';
            mod->path = optarg;
            mod->args = eq ? eq + 1 : NULL;
            break;
        }
        case 'S':
            o->stats = 1;
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'L':
            o->l1 = optarg;
            break;
        case 'A':
            o->l1_args = optarg;
            break;
        case 'V':
        case 'G': {
            const char *on = ch == 'V' ? "on" : "dirty";
            const char *off = ch == 'V' ? "off" : "full";
            if (strcmp(optarg, on) && strcmp(optarg, off)) {
                fprintf(stderr, "turtles: --%s wants %s or %s, not '%s'\n",
                        ch == 'V' ? "vmcs-shadowing" : "merge", on, off,
                        optarg);
                return -1;
            }
            *(ch == 'V' ? &o->shadowing : &o->merge_dirty) =
                strcmp(optarg, on) == 0;
            break;
        }
        case 't':
            o->want_trace = 1;
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'K':
            o->kernel = optarg;
            break;
        case 'I':
            o->initrd = optarg;
            break;
        case 'a':
            o->cmdline_text = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (strcmp(o->mode, "bare") != 0 && strcmp(o->mode, "single") != 0 &&
        strcmp(o->mode, "nested") != 0) {
        fprintf(stderr, "turtles: --mode %s is not bare, single or nested\n",
                o->mode);
        return -1;
    }
    if (o->kernel)
        return linux_options(argc, argv, o);
    if (o->initrd || o->cmdline_text) {
        fprintf(stderr, "turtles: --initrd and --append go with --kernel\n");
        return -1;
    }
    if (optind >= argc) {
        fprintf(stderr, "turtles: no IMAGE given\n");
        return -1;
    }
    o->image = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    o->cmdline = join(argc - optind, argv + optind);
    return o->cmdline ? 0 : -1;
}

static int exit_code(const struct machine *m)
{
    switch (m->stop) {
    case STOP_DEBUG_EXIT: return (int)(m->exit_status & 0xFF);
    case STOP_SHUTDOWN: return 0;
    case STOP_TRIPLE_FAULT: return EXIT_TRIPLE_FAULT;
    case STOP_HALTED: return EXIT_HALTED;
    case STOP_INSN_LIMIT: return EXIT_INSN_LIMIT;
    default: return EXIT_INTERNAL;
    }
}

/* Boots the image and runs it to the end, in the mode asked for. */
static void boot_and_run(struct machine *m, const struct options *o,
                         struct hv *hv, struct exit_stats **stats, int *status)
{
    struct boot_config cfg = {o->image, o->cmdline, o->modules,
                              o->module_count};
    /* Nested: L0 boots the L1 hypervisor, whose module is the image. */
    struct boot_module l2 = {o->image, o->cmdline};
    if (strcmp(o->mode, "nested") == 0)
        cfg = (struct boot_config){o->l1, o->l1_args, &l2, 1};
    struct boot_entry entry;
    struct cpu_boot_state linux_entry;
    struct linux_config linux_cfg = {o->kernel, o->initrd, o->cmdline};
    char err[512];
    int loaded = o->kernel
                     ? linux_load(m, &linux_cfg, &linux_entry, err, sizeof err)
                     : multiboot_load(m, &cfg, &entry, err, sizeof err);
    if (loaded != 0) {
        fprintf(stderr, "turtles: %s\n", err);
        *status = EXIT_BAD_IMAGE;
        return;
    }
    if (o->kernel)
        cpu_reset_boot(m->cpu, &linux_entry);
    else
        cpu_reset_multiboot(m->cpu, entry.entry, entry.info_pa);
    bool single = strcmp(o->mode, "bare") != 0; /* L0 runs the image */
    if (!single) {
        cpu_run(m->cpu, o->max_insns);
    } else if (hv_init(hv, m, &cost_default,
                       strcmp(o->mode, "nested") == 0, err,
                       sizeof err) == 0 &&
               (strcmp(o->mode, "nested") != 0 ||
                nested_init(hv, o->shadowing, o->merge_dirty) == 0)) {
        hv->trace = o->trace;
        *stats = &hv->stats;
        hv_run(hv, o->max_insns);
    } else {
        machine_stop(m, STOP_INTERNAL, 0, "%s", err);
    }
    fflush(NULL);
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
    if (o->stats)
        fprintf(stderr,
                "turtles: stats: instructions=%llu cycles=%llu "
                "decoded=%llu tlb_fills=%llu\n",
                (unsigned long long)m->cpu->insns,
                (unsigned long long)m->cpu->cycles,
                (unsigned long long)dcache_decoded(m->cpu->dcache),
                (unsigned long long)m->cpu->tlb.fills);
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
            return EXIT_NO_DB;
        }
    }
    FILE *serial = stdout;
    if (o.serial && !(serial = fopen(o.serial, "wb"))) {
        fprintf(stderr, "turtles: cannot open --serial %s: %s\n", o.serial,
                strerror(errno));
        db_close(db);
        free(o.cmdline);
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
    struct exit_stats bare_stats;
    stats_init(&bare_stats);
    struct exit_stats *stats = &bare_stats;

    struct machine *m = machine_create(o.mem_mib, serial);
    struct hv hv = {0};
    if (m) {
        m->serial_tap = feed_metrics;
        m->serial_tap_ctx = &metrics;
        boot_and_run(m, &o, &hv, &stats, &status);
        metrics_flush(&metrics);
        clock_gettime(CLOCK_REALTIME, &finished);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (db && m->stop != STOP_NONE) {
            struct run_facts f = {
                .mode = o.mode, .image = o.image, .cmdline = o.cmdline,
                .cost_profile = cost_default.name, .mem_mib = o.mem_mib,
                .max_insns = o.max_insns, .started = started,
                .finished = finished, .host_ns = elapsed_ns(&t0, &t1),
                .exit_code = status, .label = o.label,
                .l1_args = strcmp(o.mode, "nested") == 0 ? o.l1_args : NULL,
                .shadowing = o.shadowing, .merge_dirty = o.merge_dirty};
            if (results_write(db, &f, m, stats, &metrics, o.trace) != 0 &&
                status == 0)
                status = EXIT_NO_DB;
        }
        hv_destroy(&hv);
        machine_destroy(m);
    }
    db_close(db);
    metrics_free(&metrics);
    trace_free(&trace);
    if (serial != stdout)
        fclose(serial);
    free(o.cmdline);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run(argc - 1, argv + 1);
    if (argc == 4 && strcmp(argv[1], "report") == 0 &&
        strcmp(argv[2], "--db") == 0)
        return report_main(argv[3]);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return EXIT_USAGE;
}
