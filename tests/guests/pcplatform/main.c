/* pcplatform: the PC devices Linux expects, programmed as a kernel does,
 * on every backend. RESULT lines hold what the hardware and the
 * firmware tables define; METRIC lines what legitimately differs between
 * machines (the RTC's date, the TSC frequency, the S5 sleep type).
 *
 *   pic+pit  PIT channel 0 in mode 2 (100 Hz) through the 8259 and the
 *            LAPIC's LINT0 in ExtINT mode (virtual wire): five IRQ0s, the
 *            ISR bit in the handler, none after the EOI
 *   lint0    LINT0 in NMI mode: the rising INTR of the 8259 is an NMI
 *            (SDM Vol. 3A 11.5.1), which wakes HLT with IF = 0 (Vol. 2A
 *            "HLT"); one PIT mode-0 terminal count gives exactly one,
 *            its frame's RIP right after the HLT, IF = 0 in it
 *   pit2     channel 2 gated through port 0x61 in mode 0: OUT2 low while
 *            counting, high at terminal count; the count goes down (Linux's TSC
 *            calibration); the TSC frequency it implies is a METRIC
 *   rtc      registers B and D, sane BCD fields, four periodic interrupts
 *            on IRQ8 through the cascaded slave, the seconds advancing
 *   ioapic   version register; IRQ0 through pin 2 (the ISA override)
 *   pci      the host bridge at 00:00.0, an empty slot
 *   fw_cfg   signature, traditional interface, CPU count, RAM size
 *   acpi     the RSDP found by scanning, every checksum, the FADT's PM
 *            ports and SCI, the MADT's IOAPIC and IRQ0 override, \_S5;
 *            the PM timer's rate against PIT channel 2
 *
 * Then the guest prints EXIT status=0 and powers off through ACPI S5.
 * Arguments: none. */
#include "cpu.h"
#include "rt.h"

#define APIC_BASE 0xFEE00000ull
#define IOAPIC_BASE 0xFEC00000ull
enum {
    APIC_EOI = 0x0B0, APIC_SVR = 0x0F0, APIC_LINT0 = 0x350,
    LVT_MASKED = 1 << 16, LVT_EXTINT = 7 << 8, LVT_NMI = 4 << 8,
    VEC_PIC = 0x20,       /* master IR0; the slave starts at 0x28 */
    VEC_IOAPIC_PIT = 0x31,
    PIT_HZ = 1193182,
    PIT_10MS = 11932,
};

static volatile unsigned irq0_count, irq8_count, ioapic_count;
static volatile int isr_in_handler = -1;

static void apic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(APIC_BASE + reg) = v;
}

static uint32_t ioapic_read(uint32_t reg)
{
    *(volatile uint32_t *)(uintptr_t)IOAPIC_BASE = reg;
    return *(volatile uint32_t *)(uintptr_t)(IOAPIC_BASE + 0x10);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)IOAPIC_BASE = reg;
    *(volatile uint32_t *)(uintptr_t)(IOAPIC_BASE + 0x10) = v;
}

/* ---- 8259 and 8254 ------------------------------------------------- */

static void pic_init(uint8_t master_mask, uint8_t slave_mask)
{
    static const uint8_t init[][2] = {
        {0x20, 0x11}, {0x21, VEC_PIC}, {0x21, 0x04}, {0x21, 0x01},
        {0xA0, 0x11}, {0xA1, VEC_PIC + 8}, {0xA1, 0x02}, {0xA1, 0x01},
    };
    for (unsigned i = 0; i < sizeof init / sizeof *init; i++)
        outb(init[i][0], init[i][1]);
    outb(0x21, master_mask);
    outb(0xA1, slave_mask);
}

static uint8_t pic_isr(uint16_t port)
{
    outb(port, 0x0B);
    return inb(port);
}

static void on_irq0(struct rt_frame *f)
{
    (void)f;
    if (irq0_count++ == 0)
        isr_in_handler = pic_isr(0x20);
    outb(0x20, 0x20);
}

/* Channel 0, mode 2, LSB then MSB: Linux's periodic tick. */
static void pit_periodic(unsigned count)
{
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)count);
    outb(0x40, (uint8_t)(count >> 8));
}

static void wait_count(volatile unsigned *counter, unsigned n)
{
    while (*counter < n)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
}

static void test_pic_pit(void)
{
    rt_set_handler(VEC_PIC, on_irq0);
    apic_write(APIC_SVR, 0x1FF);
    apic_write(APIC_LINT0, LVT_EXTINT);
    pic_init(0xFE, 0xFF);
    pit_periodic(PIT_10MS);
    wait_count(&irq0_count, 5);
    uint8_t isr_after = pic_isr(0x20);
    rt_printf("RESULT pic+pit irq0=%u isr=%#x,%#x\n", irq0_count >= 5 ? 5 : 0,
              isr_in_handler, isr_after);
}

static volatile unsigned nmi_count;
static volatile uint64_t nmi_rip, nmi_rflags;

static void on_nmi(struct rt_frame *f)
{
    nmi_count++;
    nmi_rip = f->rip;
    nmi_rflags = f->rflags;
}

/* HLT with IF = 0; an NMI returns to lint0_after_hlt. */
void lint0_hlt(void);
extern const char lint0_after_hlt[];
__asm__(".text\n"
        ".global lint0_hlt\n"
        "lint0_hlt:\n"
        "    hlt\n"
        ".global lint0_after_hlt\n"
        "lint0_after_hlt:\n"
        "    ret\n");

/* Leaves the PIC, the PIT and LINT0 as test_pic_pit() left them. */
static void test_lint0_nmi(void)
{
    rt_set_handler(2, on_nmi);
    cli();
    outb(0x43, 0x30); /* channel 0, mode 0: OUT0 low until terminal count */
    pic_init(0xFE, 0xFF); /* forgets the IR0 request that was waiting */
    apic_write(APIC_LINT0, LVT_NMI);
    outb(0x40, (uint8_t)PIT_10MS);
    outb(0x40, (uint8_t)(PIT_10MS >> 8));
    lint0_hlt();
    unsigned count = nmi_count;
    int at_hlt = nmi_rip == (uint64_t)lint0_after_hlt;
    rt_printf("RESULT lint0 nmi=%u at_hlt=%d if=%lu\n", count, at_hlt,
              nmi_rflags >> 9 & 1);
    apic_write(APIC_LINT0, LVT_EXTINT);
    pic_init(0xFE, 0xFF);
    pit_periodic(PIT_10MS);
}

/* Channel 2's count, latched first so that LSB and MSB belong together. */
static uint16_t pit2_read(void)
{
    outb(0x43, 0x80); /* counter latch, channel 2 */
    uint8_t lo = inb(0x42);
    return (uint16_t)(lo | inb(0x42) << 8);
}

/* Channel 2 counting down from 0xFFFF in mode 0, gate on; returns once
 * the count is loaded. */
static void pit2_start(void)
{
    outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
    outb(0x43, 0xB0);                        /* channel 2, mode 0 */
    outb(0x42, 0xFF);
    outb(0x42, 0xFF);
    for (unsigned k = 0; k < 1000000 && (pit2_read() >> 8) != 0xFF; k++)
        ;
}

static void test_pit2(void)
{
    pit2_start();
    int out_low = !(inb(0x61) & 0x20); /* mode 0: low until count 0 */
    uint64_t t0 = rdtsc();
    uint16_t first = pit2_read(), last = first;
    int down = 1;
    /* Until 5,000 clocks have passed: the count only goes down. */
    while ((uint16_t)(first - last) < 5000) {
        uint16_t now = pit2_read();
        if (now > last)
            down = 0;
        last = now;
    }
    uint64_t t1 = rdtsc();
    uint64_t clocks = (uint16_t)(first - last);
    rt_printf("METRIC tsc_mhz=%lu\n",
              (unsigned long)((t1 - t0) * PIT_HZ / clocks / 1000000));
    /* A short count: OUT2 rises at terminal count. */
    outb(0x43, 0xB0);
    outb(0x42, 100);
    outb(0x42, 0);
    int out_high = 0;
    for (unsigned k = 0; k < 10000000 && !out_high; k++)
        out_high = (inb(0x61) & 0x20) != 0;
    outb(0x61, inb(0x61) & ~0x03);
    rt_printf("RESULT pit2 out2=%d,%d countdown=%d\n", out_low, out_high,
              down);
}

/* ---- RTC ------------------------------------------------------------ */

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
    outb(0x70, reg);
    outb(0x71, v);
}

static unsigned bcd(uint8_t v)
{
    return (v >> 4) * 10u + (v & 0xF);
}

static int bcd_ok(uint8_t v, unsigned lo, unsigned hi)
{
    return (v & 0xF) < 10 && (v >> 4) < 10 && bcd(v) >= lo && bcd(v) <= hi;
}

static void on_irq8(struct rt_frame *f)
{
    (void)f;
    irq8_count++;
    cmos(0x0C); /* acknowledges the RTC's interrupt */
    outb(0xA0, 0x20);
    outb(0x20, 0x20);
}

static void test_rtc(void)
{
    while (cmos(0x0A) & 0x80) /* update in progress */
        ;
    uint8_t sec = cmos(0), min = cmos(2), hour = cmos(4), day = cmos(7),
            month = cmos(8), year = cmos(9), century = cmos(0x32);
    uint8_t b = cmos(0x0B), d = cmos(0x0D);
    int sane = bcd_ok(sec, 0, 59) && bcd_ok(min, 0, 59) &&
               bcd_ok(hour, 0, 23) && bcd_ok(day, 1, 31) &&
               bcd_ok(month, 1, 12) && bcd_ok(year, 0, 99) &&
               bcd_ok(century, 19, 21);
    rt_printf("METRIC rtc_date=%02u%02u-%02u-%02u rtc_time=%02u:%02u:%02u\n",
              bcd(century), bcd(year), bcd(month), bcd(day), bcd(hour),
              bcd(min), bcd(sec));

    /* Periodic interrupts (1024 Hz) through the slave's IR0. */
    rt_set_handler(VEC_PIC + 8, on_irq8);
    outb(0x21, 0xFA); /* IRQ0 and the cascade */
    outb(0xA1, 0xFE); /* IRQ8 */
    cmos(0x0C);
    cmos_write(0x0B, b | 0x40);
    wait_count(&irq8_count, 4);
    cmos_write(0x0B, b);
    cmos(0x0C);
    outb(0xA1, 0xFF);

    /* The seconds advance (within 2.5 s of PIT ticks). */
    unsigned start = irq0_count;
    while (cmos(0) == sec && irq0_count - start < 250)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    rt_printf("RESULT rtc b=%#x d=%#x sane=%d periodic=%u advanced=%d\n", b,
              d, sane, irq8_count >= 4 ? 4 : 0, cmos(0) != sec);
}

/* ---- IOAPIC --------------------------------------------------------- */

static void on_ioapic_pit(struct rt_frame *f)
{
    (void)f;
    ioapic_count++;
    apic_write(APIC_EOI, 0);
}

static void test_ioapic(void)
{
    uint32_t version = ioapic_read(1);
    unsigned entries = ((version >> 16) & 0xFF) + 1;
    rt_set_handler(VEC_IOAPIC_PIT, on_ioapic_pit);
    outb(0x21, 0xFF); /* the 8259s masked, as Linux does with an IOAPIC */
    outb(0xA1, 0xFF);
    apic_write(APIC_LINT0, LVT_MASKED | LVT_EXTINT);
    ioapic_write(0x10 + 2 * 2 + 1, 0);              /* destination 0 */
    ioapic_write(0x10 + 2 * 2, VEC_IOAPIC_PIT);     /* edge, high, fixed */
    wait_count(&ioapic_count, 3);
    ioapic_write(0x10 + 2 * 2, 1u << 16 | VEC_IOAPIC_PIT);
    rt_printf("RESULT ioapic version=%#x entries=%u pin2_irq0=%u\n",
              version & 0xFF, entries, ioapic_count >= 3 ? 3 : 0);
}

/* ---- PCI and fw_cfg ------------------------------------------------- */

static uint32_t pci_read(unsigned dev, unsigned fn, unsigned reg)
{
    outl(0xCF8, 1u << 31 | dev << 11 | fn << 8 | reg);
    return inl(0xCFC);
}

static void test_pci(void)
{
    uint32_t id = pci_read(0, 0, 0), class = pci_read(0, 0, 8) >> 8;
    rt_printf("RESULT pci host=%04x:%04x class=%06x empty=%#x\n", id & 0xFFFF,
              id >> 16, class, pci_read(0x1F, 0, 0));
}

static void fw_cfg_select(uint16_t key)
{
    outw(0x510, key);
}

static uint64_t fw_cfg_le(uint16_t key, unsigned n)
{
    fw_cfg_select(key);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)inb(0x511) << (8 * i);
    return v;
}

static void test_fw_cfg(void)
{
    char sig[5] = {0};
    fw_cfg_select(0);
    for (int i = 0; i < 4; i++)
        sig[i] = (char)inb(0x511);
    rt_printf("RESULT fw_cfg signature=%s traditional=%u cpus=%u ram_mib=%lu\n",
              sig, (unsigned)(fw_cfg_le(1, 4) & 1), (unsigned)fw_cfg_le(5, 2),
              (unsigned long)(fw_cfg_le(3, 8) >> 20));
}

/* ---- ACPI ----------------------------------------------------------- */

static const uint8_t *phys(uint64_t a)
{
    return (const uint8_t *)(uintptr_t)a;
}

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t sum(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

static int table_ok(const uint8_t *t)
{
    return sum(t, le32(t + 4)) == 0;
}

/* SLP_TYPa of \_S5 in the DSDT: the package after "_S5_", its first
 * element (BytePrefix n, ZeroOp or OneOp). -1 if not found. */
static int s5_type(const uint8_t *dsdt)
{
    uint32_t len = le32(dsdt + 4);
    for (uint32_t i = 36; i + 8 < len; i++) {
        if (dsdt[i] != '_' || dsdt[i + 1] != 'S' || dsdt[i + 2] != '5' ||
            dsdt[i + 3] != '_' || dsdt[i + 4] != 0x12)
            continue;
        const uint8_t *e = dsdt + i + 5;
        e += 1 + (e[0] >> 6); /* PkgLength: 1 + its follow bytes */
        e += 1;               /* NumElements */
        if (e[0] == 0x0A)
            return e[1];
        if (e[0] == 0x00 || e[0] == 0x01)
            return e[0];
    }
    return -1;
}

static const uint8_t *find_rsdp(void)
{
    for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
        if (__builtin_memcmp(phys(a), "RSD PTR ", 8) == 0 &&
            sum(phys(a), 20) == 0)
            return phys(a);
    return 0;
}

static uint16_t pm1a_cnt;
static int slp_typ_s5 = -1;

static void test_acpi(void)
{
    const uint8_t *rsdp = find_rsdp();
    if (!rsdp) {
        rt_printf("RESULT acpi rsdp=0\n");
        return;
    }
    const uint8_t *rsdt = phys(le32(rsdp + 16)), *fadt = 0, *madt = 0;
    int sums = table_ok(rsdt);
    unsigned n = (le32(rsdt + 4) - 36) / 4;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *t = phys(le32(rsdt + 36 + 4 * i));
        sums &= table_ok(t);
        if (__builtin_memcmp(t, "FACP", 4) == 0)
            fadt = t;
        if (__builtin_memcmp(t, "APIC", 4) == 0)
            madt = t;
    }
    if (!fadt || !madt) {
        rt_printf("RESULT acpi rsdp=1 fadt=%d madt=%d\n", !!fadt, !!madt);
        return;
    }
    const uint8_t *dsdt = phys(le32(fadt + 40));
    sums &= table_ok(dsdt) && __builtin_memcmp(dsdt, "DSDT", 4) == 0;
    if (rsdp[15] >= 2)
        sums &= sum(rsdp, le32(rsdp + 20)) == 0;
    pm1a_cnt = (uint16_t)le32(fadt + 64);
    slp_typ_s5 = s5_type(dsdt);
    uint32_t ioapic = 0, irq0_gsi = 0, lapics = 0;
    for (uint32_t off = 44; off + 2 <= le32(madt + 4); off += madt[off + 1]) {
        const uint8_t *e = madt + off;
        if (e[1] < 2)
            break;
        if (e[0] == 0 && (le32(e + 4) & 1))
            lapics++;
        if (e[0] == 1)
            ioapic = le32(e + 4);
        if (e[0] == 2 && e[3] == 0)
            irq0_gsi = le32(e + 4);
    }
    rt_printf("METRIC acpi_revision=%u s5_slp_typ=%d\n", rsdp[15], slp_typ_s5);
    rt_printf("RESULT acpi rsdp=1 checksums=%s sci=%u pm1a_cnt=%#x "
              "pm_tmr=%#x madt_lapic=%#x lapics=%u ioapic=%#x irq0_gsi=%u "
              "s5=%d\n",
              sums ? "ok" : "bad", fadt[46] | fadt[47] << 8, pm1a_cnt,
              le32(fadt + 76), le32(madt + 36), lapics, ioapic, irq0_gsi,
              slp_typ_s5 >= 0);

    /* The PM timer against PIT channel 2, both polled: 3 PM counts per
     * PIT clock (3.579545 / 1.193182 MHz). Within 5% over 30,000 PIT
     * clocks (25 ms): on QEMU both follow the host's clock, read a few
     * instructions apart, so a loaded host that deschedules the guest
     * between two reads can skew one measurement; up to three are made
     * and one within 5% is enough (turtles' modeled time passes the
     * first). */
    uint16_t tmr = (uint16_t)le32(fadt + 76);
    int rate_ok = 0;
    for (int attempt = 0; attempt < 3 && !rate_ok; attempt++) {
        pit2_start();
        uint32_t t0 = inl(tmr) & 0xFFFFFF;
        uint16_t c0 = pit2_read(), c1 = c0;
        while ((uint16_t)(c0 - c1) < 30000)
            c1 = pit2_read();
        uint32_t t1 = inl(tmr) & 0xFFFFFF;
        outb(0x61, inb(0x61) & ~0x03);
        uint32_t pm = (t1 - t0) & 0xFFFFFF, pit = (uint16_t)(c0 - c1);
        rt_printf("METRIC pm_timer_per_pit_clock_x1000=%u\n",
                  (unsigned)((uint64_t)pm * 1000 / pit));
        rate_ok = (uint64_t)pm * 100 > (uint64_t)pit * 285 &&
                  (uint64_t)pm * 100 < (uint64_t)pit * 315;
    }
    rt_printf("RESULT pm_timer rate=%s\n", rate_ok ? "ok" : "off");
}

/* The power-off request may take effect a little after the write (QEMU
 * handles it in its main loop): wait up to a second of PIT ticks. */
static void wait_for_power_off(void)
{
    outb(0x21, 0xFE);
    apic_write(APIC_LINT0, LVT_EXTINT);
    wait_count(&irq0_count, irq0_count + 100);
}

int main(const struct rt_boot *boot)
{
    rt_args_require(boot, "pcplatform", 0, 0); /* it takes no arguments */
    test_pic_pit();
    test_lint0_nmi();
    test_pit2();
    test_rtc();
    test_ioapic();
    test_pci();
    test_fw_cfg();
    test_acpi();
    if (pm1a_cnt == 0 || slp_typ_s5 < 0)
        rt_panic("pcplatform: no ACPI S5 to power off with");
    /* The runners take the status from this line; the power-off ends the
     * run the way Linux's poweroff does. */
    rt_printf("EXIT status=0\n");
    outw(pm1a_cnt, (uint16_t)(slp_typ_s5 << 10 | 1 << 13));
    wait_for_power_off();
    rt_panic("pcplatform: ACPI S5 did not power the machine off");
}
