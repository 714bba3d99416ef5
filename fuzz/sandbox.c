/* One fuzz case in a forked child. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* LeakSanitizer's on-demand check; absent without sanitizers. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static void child(int fd, const struct run_config *cfg,
                  const struct sandbox_case *cases, int n, const char *err_path)
{
    int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e >= 0) {
        dup2(e, 2);
        close(e);
    }
    static struct run_result r;
    bool leak_check = false;
    for (int c = 0; c < n; c++) {
        const struct case_plan *plan = cases[c].plan;
        leak_check |= plan->leak_check;
        for (int i = 0; i < plan->runs; i++) {
            run_image(cfg, plan->modes[i], plan->engines[i],
                      plan->first_entry[i], cases[c].image, cases[c].size, &r);
            if (write_all(fd, &r, sizeof r))
                _exit(2);
        }
    }
    int leaks = leak_check && __lsan_do_recoverable_leak_check
                    ? __lsan_do_recoverable_leak_check()
                    : 0;
    write_all(fd, &leaks, sizeof leaks);
    _exit(0);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds the child has used so far (utime and stime, fields 14
 * and 15 of /proc/PID/stat, after the command name in parentheses);
 * -1 if they cannot be read. */
static double child_cpu(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *after = strrchr(buf, ')');
    unsigned long utime, stime;
    if (!after || sscanf(after + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                    "%*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* A hang is a run that used `limit` seconds of CPU time without a
 * result, or SANDBOX_WALL_FACTOR times that in wall-clock time (a child
 * that blocks uses no CPU). CPU time, not wall-clock time, so that a
 * fuzzer that gets a small share of a loaded machine (nice -n 19 among
 * other engineers' tests) does not report runs that merely waited for
 * a processor. Where /proc cannot be read, `limit` of wall-clock time.
 *
 * The child's CPU time is first read when a run has given no result
 * for SANDBOX_POLL_S of wall-clock time: nearly every run ends well
 * before, and reading /proc at the start of each run was 2% of the
 * fuzzer's CPU. The run may have used up to SANDBOX_POLL_S of CPU
 * before that first reading, so it is a hang from limit - SANDBOX_POLL_S
 * more seconds on: between 4 and 5 s of CPU for a bare run's 5. */
enum { SANDBOX_WALL_FACTOR = 30, SANDBOX_POLL_S = 1 };

/* Reads exactly n bytes from the child `pid` within `limit` (above): 1
 * done, 0 end of file or error, -1 timed out. */
static int read_until(int fd, void *p, size_t n, pid_t pid, double limit)
{
    char *c = p;
    double start = now();
    double wall_end = start + limit * SANDBOX_WALL_FACTOR;
    double cpu_first = -2; /* -2: not read yet; -1: /proc unreadable */
    while (n) {
        double left = wall_end - now();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {fd, POLLIN, 0};
        int rc = poll(&pfd, 1,
                      (int)((left < SANDBOX_POLL_S ? left : SANDBOX_POLL_S) *
                            1000) + 1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0) {
            double cpu = child_cpu(pid);
            if (cpu_first == -2) {
                cpu_first = cpu;
                if (cpu < 0) /* wall-clock time only, `limit` of it */
                    wall_end = start + limit;
            } else if (cpu_first >= 0 && cpu >= 0 &&
                       cpu - cpu_first >= limit - SANDBOX_POLL_S) {
                return -1;
            }
            continue;
        }
        ssize_t k = read(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 0;
        c += k;
        n -= (size_t)k;
    }
    return 1;
}

static void read_err(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    long from = len > (long)size - 1 ? len - ((long)size - 1) : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
}

int sandbox_run(const struct run_config *cfg, const struct sandbox_limits *lim,
                struct sandbox_case *cases, int n, const char *err_path)
{
    for (int c = 0; c < n; c++) {
        struct case_outcome *out = cases[c].out;
        memset(out, 0, offsetof(struct case_outcome, res));
        out->err[0] = '\0';
    }
    struct case_outcome *first = cases[0].out;
    int fds[2];
    if (pipe(fds) != 0) {
        first->died = true;
        snprintf(first->err, sizeof first->err, "pipe: %s", strerror(errno));
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], cfg, cases, n, err_path);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        first->died = true;
        snprintf(first->err, sizeof first->err, "fork: %s", strerror(errno));
        return 1;
    }
    int got = 1, c = 0;
    for (; c < n && got == 1; c++) {
        struct case_outcome *out = cases[c].out;
        const struct case_plan *plan = cases[c].plan;
        while (out->done < plan->runs) {
            double limit = lim->seconds[plan->modes[out->done]];
            got = read_until(fds[0], &out->res[out->done], sizeof out->res[0],
                             pid, limit);
            if (got != 1)
                break;
            out->done++;
        }
    }
    /* c is one past the last case with an outcome. */
    struct case_outcome *last = cases[c - 1].out;
    int leaks = 0;
    if (got == 1)
        got = read_until(fds[0], &leaks, sizeof leaks, pid, 60);
    if (got == -1) {
        last->hang = true;
        kill(pid, SIGKILL);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!last->hang && (got != 1 || !WIFEXITED(status) ||
                        WEXITSTATUS(status) != 0)) {
        last->died = true;
        last->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        last->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    last->leak = leaks != 0;
    if (last->died || last->leak)
        read_err(err_path, last->err, sizeof last->err);
    return c;
}
