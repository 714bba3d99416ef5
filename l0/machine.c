#include "machine.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

struct machine *machine_create(uint64_t ram_mib, FILE *serial)
{
    struct machine *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ram_size = ram_mib << 20;
    m->ram = calloc(1, m->ram_size);
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
    free(m->ram);
    free(m);
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
