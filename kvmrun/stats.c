/* KVM's own statistics of the VM, from debugfs: the kernel keeps one
 * directory per VM, /sys/kernel/debug/kvm/PID-FD/, whose files are the
 * VM's counters and its vCPUs' counters summed (Documentation/virt/kvm/
 * api.rst, "binary statistics"; debugfs shows the same counters). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvmrun/kvmrun.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void print_kvm_stats(int vm_fd)
{
    char dir[96];
    snprintf(dir, sizeof dir, "/sys/kernel/debug/kvm/%d-%d", (int)getpid(),
             vm_fd);
    DIR *d = opendir(dir);
    if (!d) {
        printf("KVMSTATS none reason=no-debugfs-dir\n");
        return;
    }
    char *names[512];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 512;)
        if (e->d_type == DT_REG)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[400];
        unsigned long long v;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%llu", &v) == 1)
            printf("KVMSTATS stat=%s value=%llu\n", names[i], v);
        if (f)
            fclose(f);
        free(names[i]);
    }
}
