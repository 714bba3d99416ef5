#include "machine.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/cpu.h"
#include "dev/exit_ports.h"
#include "dev/lapic.h"
#include "dev/platform.h"
#include "dev/uart.h"
#include "record/progress.h"
#include "record/roi.h"

static uint64_t cpu_cycles(void *ctx)
{
    return ((const struct cpu *)ctx)->cycles;
}

/* Guest RAM: zeroed anonymous memory, 2 MiB aligned and offered to the
 * host kernel for transparent huge pages, so that a guest touching many
 * pages (guests/memwalk) does not pay a host TLB miss per page (host
 * speed only: the guest sees the same bytes). Not below RAM_HUGE: the
 * kernel zeroes a whole 2 MiB page at the first touch, and the fuzzers'
 * thousands of short runs on 2 MiB machines each touch a few dozen 4 KiB
 * pages (zeroing 2 MiB was 7% of guestfuzz's CPU). Nor the first 2 MiB,
 * for the same reason: a multiboot image loads at 1 MiB, and a short run
 * touches twenty-odd pages there and nothing else (zeroing them as one
 * huge page was about 0.4 ms of a 10 ms trivial run). An inaccessible guard page
 * follows it, so that an emulator bug reading past RAM faults at once
 * (as the heap's red zone did under ASan when RAM came from calloc). */
enum { RAM_ALIGN = 2u << 20, RAM_GUARD = 4096, RAM_HUGE = 16u << 20 };

static uint8_t *ram_alloc(uint64_t size)
{
    size_t span = size + RAM_ALIGN + RAM_GUARD;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uint8_t *ram = (uint8_t *)(((uintptr_t)p + RAM_ALIGN - 1) &
                               ~(uintptr_t)(RAM_ALIGN - 1));
    uint8_t *end = ram + size + RAM_GUARD; /* what ram_free unmaps */
    if (ram > p)
        munmap(p, (size_t)(ram - p));
    if (p + span > end)
        munmap(end, (size_t)(p + span - end));
    mprotect(ram + size, RAM_GUARD, PROT_NONE);
    if (size >= RAM_HUGE)
        madvise(ram + RAM_ALIGN, size - RAM_ALIGN, MADV_HUGEPAGE); /* a hint */
    return ram;
}

static void ram_free(uint8_t *ram, uint64_t size)
{
    if (ram)
        munmap(ram, size + RAM_GUARD);
}

struct machine *machine_create(uint64_t ram_mib, FILE *serial)
{
    struct machine *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ram_size = ram_mib << 20;
    m->ram = ram_alloc(m->ram_size);
    m->ports.name = "port";
    m->mmio.name = "mmio";
    if (!m->ram || !(m->cpu = cpu_create(m)) ||
        !(m->uart = uart_create(m, serial)) ||
        exit_ports_register(m) != 0 ||
        !(m->lapic = lapic_create(m, cpu_cycles, m->cpu)) ||
        !(m->platform = platform_create(m))) {
        fprintf(stderr, "turtles: cannot create a machine with %llu MiB\n",
                (unsigned long long)ram_mib);
        machine_destroy(m);
        return NULL;
    }
    return m;
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    platform_destroy(m->platform);
    if (m->lapic)
        lapic_destroy(m->lapic);
    if (m->uart)
        uart_destroy(m->uart);
    exit_ports_destroy(m);
    cpu_destroy(m->cpu);
    ram_free(m->ram, m->ram_size);
    free(m);
}

/* RAM is private anonymous memory (ram_alloc's mmap; the unit tests'
 * malloc), whose whole pages MADV_DONTNEED gives back to the kernel: they
 * read as zero again and cost nothing until the guest touches them.
 * Writing the zeros made a loader fault in every page of an image's BSS
 * (hello's 1.2 MiB: 300 page faults) before the guest ran. */
void machine_ram_zero(struct machine *m, uint64_t pa, uint64_t len)
{
    uint8_t *start = m->ram + pa, *end = start + len;
    uint8_t *first = (uint8_t *)(((uintptr_t)start + 4095) & ~(uintptr_t)4095);
    uint8_t *last = (uint8_t *)((uintptr_t)end & ~(uintptr_t)4095);
    if (first >= last ||
        madvise(first, (size_t)(last - first), MADV_DONTNEED) != 0) {
        memset(start, 0, len);
        return;
    }
    memset(start, 0, (size_t)(first - start));
    memset(last, 0, (size_t)(end - last));
}

void machine_stop(struct machine *m, enum machine_stop reason,
                  uint32_t status, const char *fmt, ...)
{
    if (m->stop != STOP_NONE)
        return;
    m->stop = reason;
    m->exit_status = status;
    if (m->cpu)
        m->cpu->next_event_check = 0; /* leave the batch of instructions */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->stop_message, sizeof m->stop_message, fmt, ap);
    va_end(ap);
}

static struct roi_point roi_now(const struct machine *m)
{
    return (struct roi_point){m->cpu->insns, m->cpu->cycles, roi_host_ns()};
}

void machine_roi_mark(struct machine *m, uint32_t ecx,
                      const struct exit_stats *st)
{
    if (m->roi)
        roi_mark(m->roi, ecx, roi_now(m), st);
}

void machine_roi_finish(struct machine *m, const struct exit_stats *st)
{
    if (m->roi)
        roi_finish(m->roi, roi_now(m), st);
}

void machine_progress(struct machine *m)
{
    progress_poll(m->progress, m->cpu->insns, m->cpu->cycles);
}
