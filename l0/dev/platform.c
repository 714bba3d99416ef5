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
#include "dev/acpi.h"
#include "dev/acpi_pm.h"
#include "dev/fw_cfg.h"
#include "dev/i8042.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/pci.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "dev/rtc.h"
#include "dev/uart.h"
#include "machine.h"

enum { IRQ_PIT = 0, IRQ_COM1 = 4, IRQ_RTC = 8 };

struct platform {
    struct machine *m;
    struct pic *pic;
    struct pit *pit;
    struct ioapic *ioapic;
    struct rtc *rtc;
    struct acpi_pm *acpi_pm;
    struct fw_cfg *fw_cfg;
    struct pci *pci;
    struct lapic_platform hooks;
};

uint64_t platform_now(const struct platform *p)
{
    return p->m->cpu ? p->m->cpu->cycles : 0;
}

/* Something may now interrupt the CPU: make it look before its next
 * instruction. The 8259's INTR is the LAPIC's LINT0 (virtual wire, as on
 * a PC: MP spec 3.6.2.2): in ExtINT mode the LAPIC polls it for the
 * vector (lapic_pending_vector), in fixed or NMI mode a rising edge
 * delivers the LVT entry (SDM Vol. 3A 11.5.1). */
static void kick(void *ctx, bool rose)
{
    struct platform *p = ctx;
    if (rose)
        lapic_lint(p->m->lapic, 0);
    if (p->m->cpu)
        p->m->cpu->next_event_check = 0;
}

/* ISA IRQ0 is IOAPIC pin 2 (the MADT's override); the others are their
 * own pin. Pin 0 (the 8259's INTR on some boards) is not connected. */
void platform_set_irq(struct platform *p, unsigned irq, bool level)
{
    pic_set_irq(p->pic, irq, level);
    ioapic_set_pin(p->ioapic, irq == IRQ_PIT ? 2 : irq, level);
}

/* A rising edge on `irq` (the line may have been high already), after
 * which it rests at `level`. */
static void pulse(struct platform *p, unsigned irq, bool level)
{
    platform_set_irq(p, irq, false);
    platform_set_irq(p, irq, true);
    platform_set_irq(p, irq, level);
}

/* Each rising edge of a timer's output since the last sync is a pulse
 * on its line (an edge-triggered input latches it); the line then rests
 * at the output's present level. */
static void sync_to(void *ctx, uint64_t now)
{
    struct platform *p = ctx;
    bool level, edge;
    if (pit_out0_edges(p->pit, now, &level))
        pulse(p, IRQ_PIT, level);
    else
        platform_set_irq(p, IRQ_PIT, level);
    level = rtc_irq_level(p->rtc, now, &edge);
    if (edge)
        pulse(p, IRQ_RTC, level);
    else
        platform_set_irq(p, IRQ_RTC, level);
}

static void sync_now(void *ctx)
{
    sync_to(ctx, platform_now(ctx));
}

static uint64_t next_event(void *ctx, uint64_t now)
{
    struct platform *p = ctx;
    uint64_t pit = pit_next_out0_edge(p->pit, now);
    uint64_t rtc = rtc_next_event(p->rtc, now);
    return pit < rtc ? pit : rtc;
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
    ioapic_eoi(((struct platform *)ctx)->ioapic, vector);
}

static uint64_t now_cb(void *ctx)
{
    return platform_now(ctx);
}

static void com1_irq(void *ctx, bool level)
{
    platform_set_irq(ctx, IRQ_COM1, level);
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
        !(p->pit = pit_create(&m->ports, now_cb, sync_now, p)) ||
        !(p->ioapic = ioapic_create(&m->mmio, m->lapic, sync_now, p)) ||
        !(p->rtc = rtc_create(&m->ports, now_cb, sync_now, p, m->ram_size)) ||
        !(p->acpi_pm = acpi_pm_create(m, now_cb, p)) ||
        !(p->fw_cfg = fw_cfg_create(m)) || !(p->pci = pci_create(m)) ||
        i8042_register(m) != 0) {
        platform_destroy(p);
        return NULL;
    }
    lapic_connect_platform(m->lapic, &p->hooks);
    if (m->uart)
        uart_connect_irq(m->uart, com1_irq, p);
    /* Tables only where RAM reaches the BIOS area (--mem is at least 1). */
    acpi_build_tables(m);
    return p;
}

void platform_destroy(struct platform *p)
{
    if (p == NULL)
        return;
    pci_destroy(p->pci);
    fw_cfg_destroy(p->fw_cfg);
    acpi_pm_destroy(p->acpi_pm);
    rtc_destroy(p->rtc);
    ioapic_destroy(p->ioapic);
    pit_destroy(p->pit);
    pic_destroy(p->pic);
    free(p);
}
