/* latency: system-call round trip and context switch, in TSC cycles.
 * Prints METRIC lines only: the numbers differ between backends (and on
 * turtles between modes, which is the point of measuring them).
 *
 *   latency [ROUNDS]
 *
 * The syscall figure is getppid(2) in a loop (a real entry and exit, no
 * work); the context-switch figure is half of one pipe ping-pong round
 * trip between two processes, each write waking the other. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

static uint64_t syscall_cycles(long rounds)
{
    uint64_t start = __rdtsc();
    for (long i = 0; i < rounds; i++)
        syscall(SYS_getppid);
    return (__rdtsc() - start) / (uint64_t)rounds;
}

static int pingpong(long rounds, uint64_t *per_switch)
{
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    char byte = 0;
    if (pid == 0) {
        for (long i = 0; i < rounds; i++)
            if (read(to_child[0], &byte, 1) != 1 ||
                write(to_parent[1], &byte, 1) != 1)
                _exit(1);
        _exit(0);
    }
    uint64_t start = __rdtsc();
    for (long i = 0; i < rounds; i++)
        if (write(to_child[1], &byte, 1) != 1 ||
            read(to_parent[0], &byte, 1) != 1)
            return -1;
    uint64_t cycles = __rdtsc() - start;
    int status;
    if (waitpid(pid, &status, 0) != pid || status != 0)
        return -1;
    *per_switch = cycles / (2 * (uint64_t)rounds);
    return 0;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (rounds <= 0) {
        fprintf(stderr, "usage: latency [ROUNDS > 0]\n");
        return 2;
    }
    uint64_t sys = syscall_cycles(rounds), ctx = 0;
    if (pingpong(rounds, &ctx) != 0) {
        perror("latency: pipe ping-pong");
        return 1;
    }
    printf("METRIC linux-latency rounds=%ld syscall_cycles=%llu "
           "switch_cycles=%llu\n", rounds, (unsigned long long)sys,
           (unsigned long long)ctx);
    return 0;
}
