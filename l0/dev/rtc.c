/* The MC146818A real-time clock with its 114 bytes of NVRAM, after the
 * Motorola MC146818A data sheet: time, alarm and date registers 0-9,
 * status registers A-D, binary or BCD data and 12- or 24-hour format
 * (register B), the update-in-progress bit, and the periodic, alarm and
 * update-ended interrupts (register C, IRQ8). Register 0x32 holds the
 * century, as on the IBM PC/AT (and as the FADT's CENTURY field says).
 *
 * Time: the clock shows RTC_START plus the whole seconds of modeled time
 * since it was last set; its second boundaries fall every MACHINE_TSC_HZ
 * cycles from then. The 32.768 kHz time base of the periodic interrupt
 * is floor(cycles * 32768 / MACHINE_TSC_HZ).
 *
 * Simplifications: UIP is set for the 244 us before each second boundary
 * and the registers change exactly at the boundary (the chip's update
 * cycle of 1984 us is not modeled); a divider setting other than 010
 * (register A bits 6-4) stops the clock as SET does; daylight saving
 * (DSE) and the square-wave output are ignored; port 0x70 reads 0xFF. */
#include "dev/rtc.h"

#include <stdlib.h>

#include "dev/bus.h"
#include "machine.h"

enum {
    RTC_PORT = 0x70,
    REG_SEC = 0, REG_SEC_ALARM = 1, REG_MIN = 2, REG_MIN_ALARM = 3,
    REG_HOUR = 4, REG_HOUR_ALARM = 5, REG_WEEKDAY = 6, REG_DAY = 7,
    REG_MONTH = 8, REG_YEAR = 9,
    REG_A = 0x0A, REG_B = 0x0B, REG_C = 0x0C, REG_D = 0x0D,
    REG_CENTURY = 0x32,
    NVRAM_SIZE = 128,
};

#define A_UIP 0x80
#define A_DV_MASK 0x70
#define A_DV_NORMAL 0x20 /* 32.768 kHz time base, running */
#define A_RS_MASK 0x0F
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80
#define HOUR_PM 0x80
#define ALARM_DONT_CARE 0xC0 /* alarm bytes 11xxxxxx match any value */

#define UIP_CYCLES (MACHINE_TSC_HZ * 244 / 1000000)

struct rtc {
    uint64_t (*now)(void *ctx);
    void (*sync)(void *ctx);
    void *ctx;
    uint8_t index;
    bool nmi_masked;
    uint8_t ram[NVRAM_SIZE]; /* alarms, A, B and NVRAM; time is computed */
    uint8_t flags;           /* register C */
    /* The clock: `base_seconds` at `base_cycle`, or `frozen_seconds`
     * while SET or a stopped divider holds it. */
    uint64_t base_seconds, base_cycle, frozen_seconds;
    uint64_t flags_cycle; /* register C is current up to here */
    unsigned irq_rises;   /* IRQF rises not yet reported */
};

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ---------- */

struct date_time {
    unsigned year, month, day, weekday; /* weekday 1 = Sunday */
    unsigned hour, min, sec;
};

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
    return days[m - 1] + (m == 2 && leap(y));
}

static struct date_time from_seconds(uint64_t s)
{
    struct date_time t;
    uint64_t days = s / 86400, rest = s % 86400;
    t.hour = (unsigned)(rest / 3600);
    t.min = (unsigned)(rest / 60 % 60);
    t.sec = (unsigned)(rest % 60);
    t.weekday = (unsigned)((days + 4) % 7) + 1; /* 1970-01-01: Thursday */
    t.year = 1970;
    while (days >= (leap(t.year) ? 366u : 365u))
        days -= leap(t.year++) ? 366 : 365;
    t.month = 1;
    while (days >= month_days(t.year, t.month))
        days -= month_days(t.year, t.month++);
    t.day = (unsigned)days + 1;
    return t;
}

/* Out-of-range fields (a guest may write anything) are clamped so the
 * result stays a valid date. */
static uint64_t to_seconds(struct date_time t)
{
    if (t.year < 1970)
        t.year = 1970;
    if (t.month < 1 || t.month > 12)
        t.month = 1;
    if (t.day < 1 || t.day > month_days(t.year, t.month))
        t.day = 1;
    uint64_t days = 0;
    for (unsigned y = 1970; y < t.year; y++)
        days += leap(y) ? 366 : 365;
    for (unsigned m = 1; m < t.month; m++)
        days += month_days(t.year, m);
    days += t.day - 1;
    return days * 86400 + (t.hour % 24) * 3600u + (t.min % 60) * 60u +
           t.sec % 60;
}

/* ---- the clock ------------------------------------------------------ */

static bool running(const struct rtc *r)
{
    return !(r->ram[REG_B] & B_SET) &&
           (r->ram[REG_A] & A_DV_MASK) == A_DV_NORMAL;
}

static uint64_t seconds_at(const struct rtc *r, uint64_t now)
{
    if (!running(r))
        return r->frozen_seconds;
    return r->base_seconds + (now - r->base_cycle) / MACHINE_TSC_HZ;
}

/* Stops or restarts the clock after a change of SET or the divider. A
 * restarted clock begins a new second at once (the data sheet's first
 * update comes 500 ms after the divider is released; not modeled). */
static void set_running(struct rtc *r, bool was_running, uint64_t now)
{
    bool is = running(r);
    if (was_running && !is)
        r->frozen_seconds = r->base_seconds +
                            (now - r->base_cycle) / MACHINE_TSC_HZ;
    else if (!was_running && is) {
        r->base_seconds = r->frozen_seconds;
        r->base_cycle = now;
    }
}

/* Moves the clock to `s`, keeping the phase of its seconds. */
static void set_seconds(struct rtc *r, uint64_t s, uint64_t now)
{
    if (!running(r)) {
        r->frozen_seconds = s;
        return;
    }
    r->base_seconds = s;
    r->base_cycle = now - (now - r->base_cycle) % MACHINE_TSC_HZ;
}

/* ---- data formats (register B) -------------------------------------- */

static uint8_t encode(const struct rtc *r, unsigned v)
{
    return (r->ram[REG_B] & B_DM_BINARY) ? (uint8_t)v
                                         : (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned decode(const struct rtc *r, uint8_t v)
{
    return (r->ram[REG_B] & B_DM_BINARY) ? v : (v >> 4) * 10u + (v & 0xF);
}

/* 24-hour 0-23, or 12-hour 1-12 with bit 7 for PM. */
static uint8_t encode_hour(const struct rtc *r, unsigned h)
{
    if (r->ram[REG_B] & B_24H)
        return encode(r, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(encode(r, h12) | (h >= 12 ? HOUR_PM : 0));
}

static unsigned decode_hour(const struct rtc *r, uint8_t v)
{
    if (r->ram[REG_B] & B_24H)
        return decode(r, v);
    unsigned h12 = decode(r, v & 0x7F) % 12;
    return h12 + ((v & HOUR_PM) ? 12 : 0);
}

static uint8_t time_register(const struct rtc *r, unsigned reg, uint64_t s)
{
    struct date_time t = from_seconds(s);
    switch (reg) {
    case REG_SEC: return encode(r, t.sec);
    case REG_MIN: return encode(r, t.min);
    case REG_HOUR: return encode_hour(r, t.hour);
    case REG_WEEKDAY: return encode(r, t.weekday);
    case REG_DAY: return encode(r, t.day);
    case REG_MONTH: return encode(r, t.month);
    case REG_YEAR: return encode(r, t.year % 100);
    default: return encode(r, t.year / 100); /* REG_CENTURY */
    }
}

static bool is_time_register(unsigned reg)
{
    return reg == REG_SEC || reg == REG_MIN || reg == REG_HOUR ||
           (reg >= REG_WEEKDAY && reg <= REG_YEAR) || reg == REG_CENTURY;
}

static void write_time_register(struct rtc *r, unsigned reg, uint8_t v,
                                uint64_t now)
{
    struct date_time t = from_seconds(seconds_at(r, now));
    unsigned d = decode(r, v);
    switch (reg) {
    case REG_SEC: t.sec = d; break;
    case REG_MIN: t.min = d; break;
    case REG_HOUR: t.hour = decode_hour(r, v); break;
    case REG_WEEKDAY: return; /* derived from the date here */
    case REG_DAY: t.day = d; break;
    case REG_MONTH: t.month = d; break;
    case REG_YEAR: t.year = t.year / 100 * 100 + d % 100; break;
    default: t.year = d * 100 + t.year % 100; break; /* REG_CENTURY */
    }
    set_seconds(r, to_seconds(t), now);
}

/* ---- interrupts ------------------------------------------------------ */

/* The periodic rate (register A, RS3-RS0) in 32.768 kHz ticks, 0 for
 * none: rates 1 and 2 repeat 3 and 4 in the data sheet's table (256 Hz,
 * 128 Hz), 3-15 are 8192 Hz down to 2 Hz. */
static uint64_t periodic_ticks(const struct rtc *r)
{
    unsigned rs = r->ram[REG_A] & A_RS_MASK;
    if (rs == 0)
        return 0;
    return rs <= 2 ? 1u << (rs + 6) : 1u << (rs - 1);
}

static uint64_t tick32_at(uint64_t cycles)
{
    return (uint64_t)((unsigned __int128)cycles * 32768 / MACHINE_TSC_HZ);
}

static uint64_t cycle_of_tick32(uint64_t tick)
{
    unsigned __int128 c = (unsigned __int128)tick * MACHINE_TSC_HZ;
    return (uint64_t)((c + 32767) / 32768);
}

static bool alarm_matches(const struct rtc *r, uint64_t s)
{
    static const unsigned pairs[3][2] = {
        {REG_SEC_ALARM, REG_SEC}, {REG_MIN_ALARM, REG_MIN},
        {REG_HOUR_ALARM, REG_HOUR}};
    for (int i = 0; i < 3; i++) {
        uint8_t alarm = r->ram[pairs[i][0]];
        if ((alarm & ALARM_DONT_CARE) != ALARM_DONT_CARE &&
            alarm != time_register(r, pairs[i][1], s))
            return false;
    }
    return true;
}

/* Sets register C's flags for what happened in (flags_cycle, now]. The
 * flags are set whether or not their interrupt is enabled; IRQF is set
 * when an enabled one is (data sheet, register C). */
static void update_flags(struct rtc *r, uint64_t now)
{
    uint64_t from = r->flags_cycle;
    if (now <= from)
        return;
    r->flags_cycle = now;
    uint64_t period = periodic_ticks(r);
    if (running(r) && period &&
        tick32_at(now) / period > tick32_at(from) / period)
        r->flags |= C_PF;
    if (running(r)) {
        uint64_t s0 = seconds_at(r, from), s1 = seconds_at(r, now);
        if (s1 > s0)
            r->flags |= C_UF;
        /* One day of seconds covers every alarm pattern. */
        uint64_t first = s1 - s0 > 86400 ? s1 - 86400 : s0 + 1;
        for (uint64_t s = first; s <= s1 && !(r->flags & C_AF); s++)
            if (alarm_matches(r, s))
                r->flags |= C_AF;
    }
    uint8_t enabled = r->ram[REG_B] & (B_PIE | B_AIE | B_UIE);
    /* PIE/AIE/UIE sit at the same bit positions as PF/AF/UF. */
    if ((r->flags & enabled) && !(r->flags & C_IRQF)) {
        r->flags |= C_IRQF;
        r->irq_rises++;
    }
}

bool rtc_irq_level(struct rtc *r, uint64_t now, bool *edge)
{
    update_flags(r, now);
    *edge = r->irq_rises > 0;
    r->irq_rises = 0;
    return r->flags & C_IRQF;
}

uint64_t rtc_next_event(const struct rtc *r, uint64_t now)
{
    if (!running(r))
        return UINT64_MAX;
    uint64_t next = UINT64_MAX;
    uint64_t period = periodic_ticks(r);
    if ((r->ram[REG_B] & B_PIE) && period)
        next = cycle_of_tick32((tick32_at(now) / period + 1) * period);
    if (r->ram[REG_B] & (B_AIE | B_UIE)) {
        uint64_t into = (now - r->base_cycle) % MACHINE_TSC_HZ;
        uint64_t second = now - into + MACHINE_TSC_HZ;
        if (second < next)
            next = second;
    }
    return next;
}

bool rtc_nmi_masked(const struct rtc *r)
{
    return r->nmi_masked;
}

/* ---- registers ------------------------------------------------------ */

static uint8_t read_register(struct rtc *r, unsigned reg, uint64_t now)
{
    if (is_time_register(reg))
        return time_register(r, reg, seconds_at(r, now));
    switch (reg) {
    case REG_A: {
        bool uip = running(r) && (now - r->base_cycle) % MACHINE_TSC_HZ >=
                                     MACHINE_TSC_HZ - UIP_CYCLES;
        return (uint8_t)(r->ram[REG_A] | (uip ? A_UIP : 0));
    }
    case REG_C: {
        uint8_t c = r->flags;
        r->flags = 0; /* reading C clears it and releases IRQ8 */
        return c;
    }
    case REG_D:
        return D_VRT; /* the battery is fine */
    default:
        return r->ram[reg];
    }
}

static void write_register(struct rtc *r, unsigned reg, uint8_t v,
                           uint64_t now)
{
    bool was_running = running(r);
    if (is_time_register(reg)) {
        write_time_register(r, reg, v, now);
        return;
    }
    switch (reg) {
    case REG_A:
        r->ram[REG_A] = v & (uint8_t)~A_UIP;
        break;
    case REG_B:
        /* Setting SET clears UIE (data sheet, register B). */
        r->ram[REG_B] = (v & B_SET) ? v & (uint8_t)~B_UIE : v;
        break;
    case REG_C:
    case REG_D:
        return; /* read-only */
    default:
        r->ram[reg] = v;
        return;
    }
    set_running(r, was_running, now);
}

static uint64_t rtc_read(void *dev, uint64_t offset, unsigned size)
{
    struct rtc *r = dev;
    (void)size;
    if (offset == 0)
        return 0xFF;
    if (r->sync)
        r->sync(r->ctx);
    uint64_t now = r->now(r->ctx);
    update_flags(r, now);
    return read_register(r, r->index, now);
}

static void rtc_write(void *dev, uint64_t offset, unsigned size,
                      uint64_t value)
{
    struct rtc *r = dev;
    (void)size;
    if (offset == 0) {
        r->index = value & 0x7F;
        r->nmi_masked = value & 0x80;
        return;
    }
    if (r->sync)
        r->sync(r->ctx);
    uint64_t now = r->now(r->ctx);
    update_flags(r, now);
    write_register(r, r->index, (uint8_t)value, now);
}

/* The memory sizes a PC BIOS leaves in NVRAM: base memory in KiB
 * (0x15-0x16), extended memory above 1 MiB in KiB up to 0xFFFF
 * (0x17-0x18 and 0x30-0x31), memory above 16 MiB in 64 KiB blocks up to
 * 0xFFFF (0x34-0x35). */
static void store_memory_sizes(struct rtc *r, uint64_t ram_bytes)
{
    uint64_t ext_kib = ram_bytes > (1u << 20) ? (ram_bytes >> 10) - 1024 : 0;
    uint64_t above16 = ram_bytes > (16u << 20)
                           ? (ram_bytes - (16u << 20)) >> 16 : 0;
    if (ext_kib > 0xFFFF)
        ext_kib = 0xFFFF;
    if (above16 > 0xFFFF)
        above16 = 0xFFFF;
    const struct {
        unsigned reg;
        uint64_t value;
    } words[] = {{0x15, 640}, {0x17, ext_kib}, {0x30, ext_kib},
                 {0x34, above16}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        r->ram[words[i].reg] = (uint8_t)words[i].value;
        r->ram[words[i].reg + 1] = (uint8_t)(words[i].value >> 8);
    }
}

struct rtc *rtc_create(struct bus *ports, uint64_t (*now)(void *ctx),
                       void (*sync)(void *ctx), void *ctx,
                       uint64_t ram_bytes)
{
    struct rtc *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->now = now;
    r->sync = sync;
    r->ctx = ctx;
    /* As a PC BIOS leaves it: 32.768 kHz divider running, 1024 Hz
     * periodic rate, BCD, 24-hour, no interrupts enabled. */
    r->ram[REG_A] = A_DV_NORMAL | 0x06;
    r->ram[REG_B] = B_24H;
    r->base_seconds = RTC_START;
    store_memory_sizes(r, ram_bytes);
    if (bus_register(ports, RTC_PORT, 2, r, rtc_read, rtc_write, "rtc") != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void rtc_destroy(struct rtc *r)
{
    free(r);
}
