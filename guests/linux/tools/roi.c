/* roi start|end: marks the start or the end of the region of interest
 * (docs/exit-stats.md) from Linux userspace. CPUID is not privileged, so
 * no capability is needed; on a machine that does not record regions the
 * leaf is an ordinary CPUID and nothing happens. /init wraps the workload
 * in a region, so that boot and power-off are not measured. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ROI_LEAF 0x4FFFFFFBu

int main(int argc, char **argv)
{
    uint32_t sub = argc != 2 ? 0
                   : strcmp(argv[1], "start") == 0 ? 1
                   : strcmp(argv[1], "end") == 0   ? 2
                                                   : 0;
    if (!sub) {
        fprintf(stderr, "usage: roi start|end\n");
        return 2;
    }
    uint32_t a = ROI_LEAF, b, c = sub, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return 0;
}
