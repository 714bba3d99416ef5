/* guestfuzz: the guest-code fuzzer (docs/fuzzing.md).
 *
 *   guestfuzz [--time S] [--cases N] [--seed N] [--jobs N] [--max-insns N]
 *             [--engine step|block|jit] [--engine-every N]
 *             [--nested-every N] [--findings DIR] [--l1 FILE]
 *   guestfuzz --replay IMAGE     one saved program, every check, verbose
 *   guestfuzz --minimize IMAGE   NOPs out slots while the finding stays
 *
 * Each case is a program (fuzz/gen.c), new or mutated from an earlier
 * one, run in a forked child (fuzz/sandbox.c, 64 cases per child): bare,
 * single, for one case in --repeat-every both again (determinism), for
 * one in --engine-every (if it is 64-bit code, which the block engine
 * and the JIT run) bare and single under each of the other two engines
 * (engine agreement), and for one in --nested-every also nested under
 * l1vmm. All with --engine's engine but the engine runs. Findings are
 * saved with the command that replays them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cpu/cpu.h"
#include "findings.h"
#include "gen.h"
#include "machine.h"
#include "sandbox.h"

/* Sanitizer builds: abort on the first report, so that the child dies
 * of SIGABRT and the parent sees it; leaks are checked on demand.
 * Freed memory stays poisoned in a quarantine of 16 MiB (ASan's default
 * is 256 MiB): one run frees about 4 MiB, so a use after free within a
 * run or in the next few is still caught, and machines share nothing
 * across runs that is ever freed. With 256 MiB, a child of many cases
 * never reuses memory and page-faults through fresh pages: about half
 * as many page faults and 10-40% less CPU per program (docs/fuzzing.md). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "abort_on_error=1:detect_leaks=1:leak_check_at_exit=0:"
           "quarantine_size_mb=16";
}
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "print_stacktrace=1:halt_on_error=1:abort_on_error=1";
}

struct options {
    double seconds;
    uint64_t cases; /* per job, 0: no limit; the same work for two builds */
    uint64_t seed;
    int jobs;
    unsigned nested_every;
    unsigned leak_every;
    unsigned repeat_every;
    unsigned engine_every;
    int engine; /* enum cpu_engine of every run but the engine runs */
    const char *findings;
    const char *replay, *minimize;
    const char *self;    /* argv[0], for replay commands */
    const char *turtles; /* the turtles program of the same build */
    struct run_config cfg;
};

/* How a bare run ended, for the summary. */
enum end { END_DONE, END_FAULT_LIMIT, END_EXIT_OTHER, END_TRIPLE, END_HALT,
           END_INSN_LIMIT, END_OTHER, ENDS };
static const char *const end_names[ENDS] = {
    "registers-dumped", "fault-limit", "other-exit", "triple-fault", "hlt",
    "insn-limit", "other"};

static enum end end_of(const struct run_result *r)
{
    switch (r->stop) {
    case STOP_DEBUG_EXIT:
        return r->exit_status == IMG_EXIT_DONE ? END_DONE
               : r->exit_status == IMG_EXIT_FAULT_LIMIT ? END_FAULT_LIMIT
                                                        : END_EXIT_OTHER;
    case STOP_TRIPLE_FAULT: return END_TRIPLE;
    case STOP_HALTED: return END_HALT;
    case STOP_INSN_LIMIT: return END_INSN_LIMIT;
    default: return END_OTHER;
    }
}

struct counts {
    uint64_t cases, runs[RUN_MODES], compared, skipped_visible;
    uint64_t engine_runs[RUN_ENGINES];
    uint64_t engine_compared; /* programs run under all three engines */
    uint64_t limits; /* runs ended by a documented emulator limit */
    uint64_t ends[ENDS];  /* how the bare runs ended */
    uint64_t findings[FIND_KINDS], known, saved;
};

/* ---- one case ---- */

/* CPU seconds per run (sandbox.c): 20,000 instructions take
 * milliseconds (tens under ASan); a nested boot of l1vmm about a second
 * under ASan. */
static const struct sandbox_limits limits = {{5, 5, 120}};

/* Runs 0 and 1 are bare and single; with `repeat`, 2 and 3 are the same
 * again (determinism); then, for the engine comparison, bare and single
 * under each engine but --engine's; nested comes last. Only 64-bit code
 * runs differently under the engines (the block engine steps through
 * 32-bit code, docs/emulator.md), so 32-bit programs are compared only
 * in a replay. */
static bool every(unsigned period, uint64_t n)
{
    return period && n % period == 0;
}

static void add_run(struct case_plan *plan, enum run_mode mode, int engine,
                    unsigned first_entry)
{
    plan->modes[plan->runs] = mode;
    plan->engines[plan->runs] = engine;
    plan->first_entry[plan->runs++] = engine != ENGINE_STEP ? first_entry : 0;
}

/* Of the cases compared under the engines, every other one runs the
 * block engine and the JIT with each block built at the first arrival at
 * its start and compiled at its first entry (as tests/unit/test_block.c
 * does), the others at the emulator's defaults, built at the fourth
 * arrival and compiled at the eighth entry (l0/cpu/block.c): at the
 * defaults, code that runs a few times, most of a program, is stepped,
 * a loop that rewrites its own code too, and little runs natively. A
 * replay runs both engines both ways. */
static const char FIRST_ENTRY_NOTE[] = " (blocks from the first entry)";

static void plan_for(const struct options *o, const struct prog *p,
                     uint64_t n, bool full, struct case_plan *plan)
{
    /* n + 1: not the cases of the determinism runs (n % 4 == 0) */
    bool engines = full || (p->mode == PROG_MODE_LONG64 &&
                            every(o->engine_every, n + 1));
    unsigned first_entry = engines && !full &&
                           (n + 1) / o->engine_every % 2 ? 1 : 0;
    *plan = (struct case_plan){.leak_check = full || every(o->leak_every, n)};
    int base = full || every(o->repeat_every, n) ? 4 : 2;
    for (int i = 0; i < base; i++)
        add_run(plan, i % 2 ? RUN_SINGLE : RUN_BARE, o->engine, first_entry);
    for (int e = 0; engines && e < RUN_ENGINES; e++)
        for (enum run_mode m = RUN_BARE; m <= RUN_SINGLE; m++) {
            if (e != o->engine)
                add_run(plan, m, e, first_entry);
            if (e != ENGINE_STEP && full)
                add_run(plan, m, e, 1);
        }
    if (full || (o->nested_every && n % o->nested_every == 0))
        add_run(plan, RUN_NESTED, o->engine, first_entry);
}

/* Whether run i is under the same engine as run 0 (and builds and
 * compiles at the same entry). */
static bool same_engine(const struct case_plan *plan, int i)
{
    return plan->engines[i] == plan->engines[0] &&
           plan->first_entry[i] == plan->first_entry[0];
}

/* Runs under another engine than run 0 (always --engine's); `done` of
 * them ran. */
static int engine_runs(const struct case_plan *plan, int done, int *ran)
{
    int n = 0;
    *ran = 0;
    for (int i = 0; i < plan->runs; i++)
        if (!same_engine(plan, i)) {
            n++;
            *ran += i < done;
        }
    return n;
}

/* The emulator's documented simplifications stop a run with a message
 * that says so (docs/emulator.md): not a finding. */
static bool documented_limit(const struct run_result *r)
{
    return r->stop == STOP_INTERNAL && strstr(r->stop_message, "not emulated");
}

static bool comparable(const struct prog *p, const struct case_outcome *oc)
{
    /* An internal stop is a finding of its own. */
    return oc->done >= 2 && oc->res[0].stop != STOP_INTERNAL &&
           oc->res[1].stop != STOP_INTERNAL &&
           check_run_comparable(&oc->res[0], &oc->res[1]) &&
           check_code_comparable(p);
}

/* Every finding of one case, in `found` (at most FIND_KINDS). */
static int judge(const struct prog *p, const struct case_plan *plan,
                 const struct case_outcome *oc, struct finding *found)
{
    int n = 0;
    const char *failing = oc->done < plan->runs
                              ? run_mode_names[plan->modes[oc->done]]
                              : "all";
    if (oc->hang) {
        found[n] = (struct finding){FIND_HANG, failing, "", NULL, NULL};
        snprintf(found[n].detail, sizeof found[n].detail,
                 "no result within %.0f s of CPU time",
                 limits.seconds[plan->modes[oc->done]]);
        n++;
    } else if (oc->died) {
        bool san = strstr(oc->err, "Sanitizer") ||
                   strstr(oc->err, "runtime error");
        found[n] = (struct finding){san ? FIND_SANITIZER : FIND_CRASH, failing,
                                    "", NULL, oc->err};
        const char *line = strstr(oc->err, "runtime error");
        if (!line)
            line = strstr(oc->err, "ERROR:");
        snprintf(found[n].detail, sizeof found[n].detail,
                 "child ended with signal %d, exit code %d: %.300s",
                 oc->signal, oc->exit_code, line ? line : "");
        char *nl = strchr(found[n].detail, '\n');
        if (nl)
            *nl = '\0';
        n++;
    }
    if (oc->leak) {
        found[n] = (struct finding){FIND_LEAK, "all", "LeakSanitizer reported",
                                    NULL, oc->err};
        n++;
    }
    for (int i = 0; i < oc->done; i++) {
        if ((oc->res[i].stop == STOP_INTERNAL && !documented_limit(&oc->res[i])) ||
            oc->res[i].stop == STOP_NONE) {
            found[n] = (struct finding){FIND_INTERNAL,
                                        run_mode_names[plan->modes[i]], "",
                                        NULL, NULL};
            snprintf(found[n].detail, sizeof found[n].detail, "%s",
                     oc->res[i].stop_message);
            n++;
            break;
        }
    }
    for (int i = 0; i + 2 < oc->done && i < 2 &&
                    plan->modes[i + 2] == plan->modes[i] &&
                    plan->engines[i + 2] == plan->engines[i] &&
                    plan->first_entry[i + 2] == plan->first_entry[i];
         i++) {
        const char *why = check_same_run(&oc->res[i], &oc->res[i + 2]);
        if (why) {
            found[n] = (struct finding){FIND_NONDETERMINISM,
                                        run_mode_names[plan->modes[i]], "",
                                        NULL, NULL};
            snprintf(found[n].detail, sizeof found[n].detail,
                     "the same image twice differs in %s", why);
            n++;
            break;
        }
    }
    /* Each engine run against the run of --engine's in its mode. */
    for (int i = 2; i < oc->done; i++) {
        if (same_engine(plan, i))
            continue;
        int base = plan->modes[i] == RUN_BARE ? 0 : 1;
        const char *why = check_same_run(&oc->res[base], &oc->res[i]);
        if (why) {
            found[n] = (struct finding){FIND_ENGINES,
                                        run_mode_names[plan->modes[i]], "",
                                        NULL, NULL};
            snprintf(found[n].detail, sizeof found[n].detail,
                     "--engine %s%s and --engine %s%s differ in %s",
                     run_engine_names[plan->engines[i]],
                     plan->first_entry[i] ? FIRST_ENTRY_NOTE : "",
                     run_engine_names[plan->engines[base]],
                     plan->first_entry[base] ? FIRST_ENTRY_NOTE : "",
                     why);
            n++;
            break;
        }
    }
    if (comparable(p, oc)) {
        const char *why = check_agree(&oc->res[0], &oc->res[1]);
        if (why) {
            found[n] = (struct finding){FIND_DISAGREEMENT, "single", "", NULL,
                                        NULL};
            snprintf(found[n].detail, sizeof found[n].detail,
                     "bare and single differ in %s (bare: %.200s, single: %.200s)",
                     why, oc->res[0].stop_message, oc->res[1].stop_message);
            n++;
        }
    }
    for (int i = 0; i < n; i++)
        if (!found[i].known)
            found[i].known = findings_known(&found[i]);
    return n;
}

static void run_case(const struct options *o, const struct prog *p,
                     const struct case_plan *plan, const char *err_path,
                     struct case_outcome *oc, uint8_t *image)
{
    prog_image(p, image);
    struct sandbox_case one = {plan, image, IMAGE_SIZE, oc};
    sandbox_run(&o->cfg, &limits, &one, 1, err_path);
}

static void replay_command(const struct options *o, const char *kind,
                           const char *mode, char *out, size_t size)
{
    if (strcmp(kind, "disagreement") == 0 ||
        strcmp(kind, "nondeterminism") == 0 ||
        strcmp(kind, "engine-disagreement") == 0 || strcmp(mode, "all") == 0)
        snprintf(out, size, "%s --replay %%s", o->self);
    else
        snprintf(out, size,
                 "%s run --mode %s --mem %llu --max-insns %llu %%s",
                 o->turtles, mode,
                 (unsigned long long)(strcmp(mode, "nested") == 0
                                          ? o->cfg.nested_mem_mib
                                          : o->cfg.mem_mib),
                 (unsigned long long)o->cfg.max_insns +
                     (strcmp(mode, "nested") == 0 ? 10000000 : 0));
}

/* ---- the fuzzing loop of one worker ---- */

enum { POOL = 256 };

/* A cheap feedback: programs whose (mode, stop, exit, vectors seen)
 * signature is new join the pool that mutation draws from. */
static uint64_t outcome_signature(const struct prog *p,
                                  const struct run_result *r)
{
    uint64_t vectors[4] = {0};
    size_t n = r->out_len < RUN_OUT_MAX ? r->out_len : RUN_OUT_MAX;
    for (size_t i = 0; i + 1 < n; i++)
        if (r->out[i] == IMG_MARK_FAULT) {
            vectors[r->out[i + 1] >> 6] |= 1ull << (r->out[i + 1] & 63);
            i++;
        } else if (r->out[i] == IMG_MARK_DONE) {
            break;
        }
    uint64_t h = p->mode * 31 + (uint64_t)r->stop * 7 + r->exit_status;
    for (int i = 0; i < 4; i++)
        h = (h ^ vectors[i]) * 0x100000001B3ull;
    return h;
}

/* The checks of one case that ran, with its findings saved. */
static void account(const struct options *o, struct counts *c,
                    const struct prog *p, const struct case_plan *plan,
                    const struct case_outcome *oc, const uint8_t *image)
{
    c->cases++;
    for (int i = 0; i < oc->done; i++) {
        c->runs[plan->modes[i]]++;
        c->engine_runs[plan->engines[i]]++;
        c->limits += documented_limit(&oc->res[i]);
    }
    int ran, planned = engine_runs(plan, oc->done, &ran);
    c->engine_compared += planned && ran == planned;
    if (oc->done >= 1)
        c->ends[end_of(&oc->res[0])]++;
    if (oc->done >= 2) {
        if (comparable(p, oc))
            c->compared++;
        else
            c->skipped_visible++;
    }
    struct finding found[FIND_KINDS];
    int k = judge(p, plan, oc, found);
    for (int i = 0; i < k; i++) {
        c->findings[found[i].kind]++;
        c->known += found[i].known != NULL;
        char fmt[512], path[600];
        replay_command(o, finding_names[found[i].kind], found[i].mode, fmt,
                       sizeof fmt);
        if (findings_save(o->findings, "guestfuzz", &found[i], image,
                          IMAGE_SIZE, fmt, path, sizeof path) == 1) {
            c->saved++;
            fprintf(stderr, "guestfuzz: %s in %s mode: %s%s%s\n  saved %s\n",
                    finding_names[found[i].kind], found[i].mode,
                    found[i].detail, found[i].known ? "\n  known: " : "",
                    found[i].known ? found[i].known : "", path);
        }
    }
}

enum { BATCH = 64 };

/* Runs a program of NOPs once in each processor mode and in bare and
 * single mode, and once nested, here in the worker, before any child is
 * forked: the prologue, the handlers, the register dump and l1vmm are
 * the same in every program, and the children inherit them decoded
 * (l0/cpu/decode_memo.h) instead of decoding them again, batch after
 * batch (l1vmm's boot alone took about 200 CPU-ms to decode under ASan,
 * once in every child that ran a nested case). */
static void warm_decode_memo(const struct options *o)
{
    static struct prog nops;
    static uint8_t image[IMAGE_SIZE];
    static struct run_result r;
    memset(nops.code, 0x90, sizeof nops.code);
    for (uint32_t mode = 0; mode < PROG_MODES; mode++) {
        nops.mode = mode;
        prog_image(&nops, image);
        run_image(&o->cfg, RUN_BARE, o->engine, 0, image, IMAGE_SIZE, &r);
        run_image(&o->cfg, RUN_SINGLE, o->engine, 0, image, IMAGE_SIZE, &r);
    }
    if (o->nested_every)
        run_image(&o->cfg, RUN_NESTED, o->engine, 0, image, IMAGE_SIZE, &r);
}

static void worker(const struct options *o, int id, struct counts *c)
{
    struct rng r = {o->seed * 1000003u + (uint64_t)id};
    static struct prog pool[POOL];
    static uint64_t seen[4096];
    int pool_n = 0;
    char err_path[256];
    snprintf(err_path, sizeof err_path, "%s/../work/guestfuzz.%d.err",
             o->findings, (int)getpid());
    static struct prog progs[BATCH];
    static struct case_plan plans[BATCH];
    static struct case_outcome outs[BATCH];
    static uint8_t images[BATCH][IMAGE_SIZE];
    struct sandbox_case batch[BATCH];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    warm_decode_memo(o);
    for (uint64_t n = 0;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) +
                (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= o->seconds ||
            (o->cases && n >= o->cases))
            break;
        for (int b = 0; b < BATCH; b++) {
            struct prog *p = &progs[b];
            if (pool_n == 0 || rng_below(&r, 2)) {
                prog_generate(p, &r);
            } else {
                *p = pool[rng_below(&r, (uint32_t)pool_n)];
                prog_mutate(p, &pool[rng_below(&r, (uint32_t)pool_n)], &r);
            }
            plan_for(o, p, ++n, false, &plans[b]);
            prog_image(p, images[b]);
            batch[b] = (struct sandbox_case){&plans[b], images[b], IMAGE_SIZE,
                                             &outs[b]};
        }
        int ran = sandbox_run(&o->cfg, &limits, batch, BATCH, err_path);
        bool leaked = outs[ran - 1].leak;
        outs[ran - 1].leak = false;
        for (int b = 0; b < ran; b++) {
            account(o, c, &progs[b], &plans[b], &outs[b], images[b]);
            if (outs[b].done >= 2) {
                uint64_t sig = outcome_signature(&progs[b], &outs[b].res[0]);
                uint64_t *slot = &seen[sig % 4096];
                if (*slot != sig) {
                    *slot = sig;
                    pool[pool_n < POOL ? (uint32_t)pool_n++
                                       : rng_below(&r, POOL)] = progs[b];
                }
            }
        }
        /* A leak of the batch: each case again alone, to find whose. */
        for (int b = 0; leaked && b < ran; b++) {
            static struct case_outcome alone;
            struct case_plan plan = plans[b];
            plan.leak_check = true;
            run_case(o, &progs[b], &plan, err_path, &alone, images[b]);
            if (alone.leak) {
                alone.died = alone.hang = false;
                alone.done = 0; /* only the leak is new */
                account(o, c, &progs[b], &plan, &alone, images[b]);
                c->cases--;
            }
        }
    }
    unlink(err_path);
}

static int fuzz(const struct options *o)
{
    char work[512];
    snprintf(work, sizeof work, "%s/../work", o->findings);
    mkdir(o->findings, 0755);
    mkdir(work, 0755);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int pipes[64][2];
    pid_t pids[64];
    for (int j = 0; j < o->jobs; j++) {
        if (pipe(pipes[j]) != 0)
            return 2;
        fflush(NULL);
        pids[j] = fork();
        if (pids[j] == 0) {
            close(pipes[j][0]);
            struct counts c = {0};
            worker(o, j, &c);
            ssize_t w = write(pipes[j][1], &c, sizeof c);
            _exit(w == (ssize_t)sizeof c ? 0 : 2);
        }
        close(pipes[j][1]);
    }
    struct counts sum = {0};
    int bad_workers = 0;
    for (int j = 0; j < o->jobs; j++) {
        struct counts c;
        if (read(pipes[j][0], &c, sizeof c) != (ssize_t)sizeof c) {
            bad_workers++;
        } else {
            sum.cases += c.cases;
            for (int m = 0; m < RUN_MODES; m++)
                sum.runs[m] += c.runs[m];
            for (int e = 0; e < RUN_ENGINES; e++)
                sum.engine_runs[e] += c.engine_runs[e];
            sum.engine_compared += c.engine_compared;
            sum.compared += c.compared;
            sum.limits += c.limits;
            for (int e = 0; e < ENDS; e++)
                sum.ends[e] += c.ends[e];
            sum.skipped_visible += c.skipped_visible;
            for (int k = 0; k < FIND_KINDS; k++)
                sum.findings[k] += c.findings[k];
            sum.known += c.known;
            sum.saved += c.saved;
        }
        close(pipes[j][0]);
        waitpid(pids[j], NULL, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    uint64_t total = 0;
    for (int k = 0; k < FIND_KINDS; k++)
        total += sum.findings[k];
    printf("guestfuzz: %.0f s, %d jobs: %llu programs (%.1f/s, %.2g per hour), "
           "runs bare=%llu single=%llu nested=%llu, compared bare/single=%llu "
           "(not comparable: %llu), runs ended by a documented limit=%llu\n",
           secs, o->jobs, (unsigned long long)sum.cases, sum.cases / secs,
           sum.cases / secs * 3600, (unsigned long long)sum.runs[RUN_BARE],
           (unsigned long long)sum.runs[RUN_SINGLE],
           (unsigned long long)sum.runs[RUN_NESTED],
           (unsigned long long)sum.compared,
           (unsigned long long)sum.skipped_visible,
           (unsigned long long)sum.limits);
    printf("guestfuzz: compared engines: %llu programs (64-bit, each bare "
           "and single under step, block and jit), runs step=%llu "
           "block=%llu jit=%llu\n",
           (unsigned long long)sum.engine_compared,
           (unsigned long long)sum.engine_runs[0],
           (unsigned long long)sum.engine_runs[1],
           (unsigned long long)sum.engine_runs[2]);
    printf("guestfuzz: %.1f CPU seconds: %.2f ms per program, %.3g programs "
           "per hour on 2 otherwise idle cores\n",
           cpu, sum.cases ? cpu * 1000 / (double)sum.cases : 0.0,
           cpu > 0 ? (double)sum.cases / cpu * 2 * 3600 : 0.0);
    printf("guestfuzz: bare runs ended:");
    for (int e = 0; e < ENDS; e++)
        printf(" %s=%llu", end_names[e], (unsigned long long)sum.ends[e]);
    printf("\n");
    printf("guestfuzz: findings=%llu", (unsigned long long)total);
    for (int k = 0; k < FIND_KINDS; k++)
        printf(" %s=%llu", finding_names[k],
               (unsigned long long)sum.findings[k]);
    printf(" (known bugs: %llu; reproducers saved: %llu in %s)\n",
           (unsigned long long)sum.known, (unsigned long long)sum.saved,
           o->findings);
    if (bad_workers)
        printf("guestfuzz: %d worker(s) died\n", bad_workers);
    return total || bad_workers ? 1 : 0;
}

/* ---- replay and minimize ---- */

static int load_prog(const char *path, struct prog *p)
{
    static uint8_t buf[IMAGE_SIZE + 1];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "guestfuzz: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (prog_from_image(p, buf, n) != 0) {
        fprintf(stderr, "guestfuzz: %s is not a guestfuzz image of this "
                        "build\n", path);
        return -1;
    }
    return 0;
}

/* Every run and every check on one program; its findings in `found`. */
static struct case_plan full_plan;
static struct case_outcome full_outcome;

static int check_fully(const struct options *o, const struct prog *p,
                       struct finding *found)
{
    static uint8_t image[IMAGE_SIZE];
    char err_path[600];
    snprintf(err_path, sizeof err_path, "%s/../work", o->findings);
    mkdir(o->findings, 0755);
    mkdir(err_path, 0755);
    snprintf(err_path, sizeof err_path, "%s/../work/check.%d.err",
             o->findings, (int)getpid());
    plan_for(o, p, 0, true, &full_plan);
    run_case(o, p, &full_plan, err_path, &full_outcome, image);
    int k = judge(p, &full_plan, &full_outcome, found);
    unlink(err_path);
    return k;
}

static int replay(const struct options *o)
{
    struct prog p;
    if (load_prog(o->replay, &p))
        return 2;
    struct finding found[FIND_KINDS];
    int k = check_fully(o, &p, found);
    const struct case_plan plan = full_plan;
    const struct case_outcome *oc = &full_outcome;
    for (int i = 0; i < oc->done; i++) {
        const struct run_result *r = &oc->res[i];
        printf("%-6s stop=%d exit=%#x insns=%llu cycles=%llu exits=%llu "
               "engine=%s%s serial=%llu bytes%s: %s\n       serial:",
               run_mode_names[plan.modes[i]], r->stop, r->exit_status,
               (unsigned long long)r->insns, (unsigned long long)r->cycles,
               (unsigned long long)r->exits,
               run_engine_names[plan.engines[i]],
               plan.first_entry[i] ? FIRST_ENTRY_NOTE : "",
               (unsigned long long)r->out_len,
               r->code_changed ? " (code rewritten)" : "", r->stop_message);
        for (uint64_t b = 0; b < r->out_len && b < RUN_OUT_MAX; b++)
            printf(" %02x", r->out[b]);
        printf("\n");
    }
    printf("bare/single comparable: %s\n", comparable(&p, oc) ? "yes" : "no");
    if (oc->err[0])
        printf("stderr of the emulator:\n%s\n", oc->err);
    for (int i = 0; i < k; i++)
        printf("FINDING %s in %s mode: %s%s%s\n", finding_names[found[i].kind],
               found[i].mode, found[i].detail, found[i].known ? " -- known: " : "",
               found[i].known ? found[i].known : "");
    return k ? 1 : 0;
}

static bool reproduces(const struct options *o, const struct prog *p,
                       enum finding_kind kind)
{
    struct finding found[FIND_KINDS];
    int k = check_fully(o, p, found);
    for (int i = 0; i < k; i++)
        if (found[i].kind == kind)
            return true;
    return false;
}

static int minimize(const struct options *o)
{
    struct prog p;
    if (load_prog(o->minimize, &p))
        return 2;
    struct finding found[FIND_KINDS];
    if (check_fully(o, &p, found) == 0) {
        fprintf(stderr, "guestfuzz: %s does not reproduce a finding\n",
                o->minimize);
        return 1;
    }
    enum finding_kind kind = found[0].kind;
    /* Slot by slot: a NOP slot where the finding stays. */
    int kept = 0;
    for (unsigned s = 0; s < IMG_SLOTS; s++) {
        struct prog q = p;
        memset(q.code + s * IMG_SLOT, 0x90, IMG_SLOT);
        if (memcmp(&q, &p, sizeof p) == 0)
            continue;
        if (reproduces(o, &q, kind))
            p = q;
        else
            kept++;
    }
    char out[600];
    snprintf(out, sizeof out, "%.*s.min.img", (int)(strlen(o->minimize) - 4),
             o->minimize);
    static uint8_t image[IMAGE_SIZE];
    prog_image(&p, image);
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(image, 1, IMAGE_SIZE, f) != IMAGE_SIZE) {
        fprintf(stderr, "guestfuzz: cannot write %s\n", out);
        return 2;
    }
    fclose(f);
    printf("guestfuzz: %s with %d non-NOP slot(s) left: %s\n",
           finding_names[kind], kept, out);
    for (unsigned s = 0; s < IMG_SLOTS; s++) {
        static const uint8_t nops[IMG_SLOT] = {
            0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
            0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90};
        if (memcmp(p.code + s * IMG_SLOT, nops, IMG_SLOT) == 0)
            continue;
        printf("  slot %3u (%#x):", s, IMG_CODE + s * IMG_SLOT);
        for (unsigned b = 0; b < IMG_SLOT; b++)
            printf(" %02x", p.code[s * IMG_SLOT + b]);
        printf("\n");
    }
    return 0;
}

/* The engine a machine starts with (cpu.c: the emulator's default), so
 * that guestfuzz follows `turtles run`. */
static int default_engine(void)
{
    struct machine *m = machine_create(2, NULL);
    int engine = m ? (int)m->cpu->engine : 1;
    machine_destroy(m);
    return engine;
}

/* -1 if `name` is none of run_engine_names. */
static int engine_named(const char *name)
{
    for (int e = 0; e < RUN_ENGINES; e++)
        if (strcmp(name, run_engine_names[e]) == 0)
            return e;
    return -1;
}

static void usage(FILE *out)
{
    fprintf(out,
"usage: guestfuzz [--time SECONDS] [--cases N] [--seed N] [--jobs N]\n"
"                 [--max-insns N]\n"
"                 [--engine step|block|jit] [--engine-every N]\n"
"                 [--nested-every N] [--leak-every N] [--repeat-every N]\n"
"                 [--findings DIR] [--turtles FILE]\n"
"                 [--l1 FILE]\n"
"       guestfuzz --replay IMAGE | --minimize IMAGE\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"time", required_argument, 0, 't'},
        {"cases", required_argument, 0, 'c'},
        {"seed", required_argument, 0, 's'},
        {"jobs", required_argument, 0, 'j'},
        {"max-insns", required_argument, 0, 'n'},
        {"nested-every", required_argument, 0, 'N'},
        {"leak-every", required_argument, 0, 'k'},
        {"repeat-every", required_argument, 0, 'R'},
        {"engine", required_argument, 0, 'e'},
        {"engine-every", required_argument, 0, 'E'},
        {"findings", required_argument, 0, 'f'},
        {"l1", required_argument, 0, 'L'},
        {"turtles", required_argument, 0, 'T'},
        {"replay", required_argument, 0, 'r'},
        {"minimize", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct options o = {.seconds = 60, .seed = (uint64_t)time(NULL), .jobs = 1,
                        .nested_every = 50, .leak_every = 16,
                        .repeat_every = 4, .engine_every = 4,
                        .engine = default_engine(),
                        .findings = "build/fuzz/findings", .self = argv[0],
                        .turtles = "build/turtles-san",
                        /* 2 MiB hold the image (layout.h); every MiB
                         * more costs page faults at each machine's
                         * creation under ASan. */
                        .cfg = {.max_insns = 20000, .mem_mib = 2,
                                .nested_mem_mib = 160, /* l1vmm: 64 for L2 */
                                .l1_path = "build/images/l1vmm.elf",
                                .l1_args = ""}};
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        errno = 0;
        switch (ch) {
        case 't': o.seconds = strtod(optarg, &end); break;
        case 'c': o.cases = strtoull(optarg, &end, 0); break;
        case 's': o.seed = strtoull(optarg, &end, 0); break;
        case 'j': o.jobs = (int)strtol(optarg, &end, 0); break;
        case 'n': o.cfg.max_insns = strtoull(optarg, &end, 0); break;
        case 'N': o.nested_every = (unsigned)strtoul(optarg, &end, 0); break;
        case 'R': o.repeat_every = (unsigned)strtoul(optarg, &end, 0); break;
        case 'E': o.engine_every = (unsigned)strtoul(optarg, &end, 0); break;
        case 'e':
            o.engine = engine_named(optarg);
            end = o.engine < 0 ? optarg : optarg + strlen(optarg);
            break;
        case 'k': o.leak_every = (unsigned)strtoul(optarg, &end, 0); break;
        case 'f': o.findings = optarg; end = optarg + strlen(optarg); break;
        case 'L': o.cfg.l1_path = optarg; end = optarg + strlen(optarg); break;
        case 'T': o.turtles = optarg; end = optarg + strlen(optarg); break;
        case 'r': o.replay = optarg; end = optarg + strlen(optarg); break;
        case 'm': o.minimize = optarg; end = optarg + strlen(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (errno || *end) {
            fprintf(stderr, "guestfuzz: bad value '%s'\n", optarg);
            return 2;
        }
    }
    if (optind != argc || o.jobs < 1 || o.jobs > 64 || o.cfg.max_insns == 0 ||
        o.engine < 0) {
        usage(stderr);
        return 2;
    }
    if (o.replay)
        return replay(&o);
    if (o.minimize)
        return minimize(&o);
    printf("guestfuzz: seed %llu, %d job(s), %.0f s, --max-insns %llu, "
           "--engine %s, --engine-every %u\n",
           (unsigned long long)o.seed, o.jobs, o.seconds,
           (unsigned long long)o.cfg.max_insns, run_engine_names[o.engine],
           o.engine_every);
    fflush(stdout);
    return fuzz(&o);
}
