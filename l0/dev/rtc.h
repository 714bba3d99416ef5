/* The CMOS real-time clock and NVRAM (Motorola MC146818A) at ports
 * 0x70 (index; bit 7 masks NMI) and 0x71 (data). Its time starts at
 * RTC_START (2024-01-01 00:00:00, a Monday) when the machine starts and
 * advances with modeled time, so every run reads the same dates. Its
 * interrupt output is ISA IRQ8. */
#ifndef L0_DEV_RTC_H
#define L0_DEV_RTC_H

#include <stdbool.h>
#include <stdint.h>

struct bus;
struct rtc;

/* Seconds since 1970-01-01 00:00:00 of the time the RTC shows at cycle
 * 0: 2024-01-01 00:00:00. */
#define RTC_START 1704067200ull

/* Registers the ports; `now(ctx)` is the modeled cycle count and
 * `sync(ctx)` (if not NULL) runs before every register access, so that
 * IRQ8 is current. `ram_bytes` fills the NVRAM's memory-size bytes as a
 * PC BIOS does. NULL on failure. */
struct rtc *rtc_create(struct bus *ports, uint64_t (*now)(void *ctx),
                       void (*sync)(void *ctx), void *ctx,
                       uint64_t ram_bytes);
void rtc_destroy(struct rtc *r);

/* Brings the interrupt flags up to cycle `now`; returns IRQ8's level
 * (register C's IRQF) and sets `*edge` when it rose since the previous
 * call or a new event was flagged while it was high. */
bool rtc_irq_level(struct rtc *r, uint64_t now, bool *edge);

/* The first cycle after `now` at which an enabled interrupt is due, or
 * UINT64_MAX. */
uint64_t rtc_next_event(const struct rtc *r, uint64_t now);

/* Port 0x70 bit 7: NMIs are masked. */
bool rtc_nmi_masked(const struct rtc *r);

#endif
