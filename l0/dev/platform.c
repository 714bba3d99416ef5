/* The PC platform: device creation and interrupt routing.
 *
 * Timers raise their IRQ lines lazily: whenever the LAPIC is asked for a
 * pending interrupt, or a guest touches an interrupt controller, the
 * platform first turns the timers' output edges up to now into line
 * changes (platform_sync). The CPU looks for interrupts again at the
 * cycle of the next edge (platform_next_event) or at once when a
 * controller's output may have changed (kick). */
#include "dev/platform.h"

#include <stdlib.h>

#include "cpu/cpu.h"
#include "dev/lapic.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "machine.h"

enum { IRQ_PIT = 0 };

struct platform {
    struct machine *m;
    struct pic *pic;
    struct pit *pit;
    struct lapic_platform hooks;
};

uint64_t platform_now(const struct platform *p)
{
    return p->m->cpu ? p->m->cpu->cycles : 0;
}

/* Something may now interrupt the CPU: make it look before its next
 * instruction. */
static void kick(void *ctx)
{
    struct platform *p = ctx;
    if (p->m->cpu)
        p->m->cpu->next_event_check = 0;
}

void platform_set_irq(struct platform *p, unsigned irq, bool level)
{
    pic_set_irq(p->pic, irq, level);
}

/* Each rising edge of a timer's output since the last sync is a pulse
 * on its line (an edge-triggered input latches it); the line then rests
 * at the output's present level. */
static void sync_to(void *ctx, uint64_t now)
{
    struct platform *p = ctx;
    bool level;
    if (pit_out0_edges(p->pit, now, &level)) {
        platform_set_irq(p, IRQ_PIT, false);
        platform_set_irq(p, IRQ_PIT, true);
    }
    platform_set_irq(p, IRQ_PIT, level);
}

static void sync_now(void *ctx)
{
    sync_to(ctx, platform_now(ctx));
}

static uint64_t next_event(void *ctx, uint64_t now)
{
    struct platform *p = ctx;
    return pit_next_out0_edge(p->pit, now);
}

static int extint_vector(void *ctx)
{
    return pic_pending_vector(((struct platform *)ctx)->pic);
}

static void inta(void *ctx)
{
    pic_acknowledge(((struct platform *)ctx)->pic);
}

static void level_eoi(void *ctx, int vector)
{
    (void)ctx, (void)vector;
}

static uint64_t now_cb(void *ctx)
{
    return platform_now(ctx);
}

struct platform *platform_create(struct machine *m)
{
    struct platform *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->m = m;
    p->hooks = (struct lapic_platform){
        .ctx = p,
        .sync = sync_to,
        .next_event = next_event,
        .extint_vector = extint_vector,
        .inta = inta,
        .eoi = level_eoi,
    };
    if (!(p->pic = pic_create(&m->ports, sync_now, kick, p)) ||
        !(p->pit = pit_create(&m->ports, now_cb, sync_now, p))) {
        platform_destroy(p);
        return NULL;
    }
    lapic_connect_platform(m->lapic, &p->hooks);
    return p;
}

void platform_destroy(struct platform *p)
{
    if (p == NULL)
        return;
    pit_destroy(p->pit);
    pic_destroy(p->pic);
    free(p);
}
