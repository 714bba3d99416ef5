/* Linux as L2: a bzImage and its initrd through the kernel's 32-bit boot
 * protocol, with the header reading and the zero page shared with L0's
 * loader (guests/rt/bzimage.c). L2's layout is the one L0 gives a Linux
 * guest (l0/boot/linux_load.c): the kernel at its preferred address, the
 * initrd at the top of L2 RAM, the zero page at 0x7000, the command line
 * at 0x20000, the boot GDT at L2_BOOT_GDT.
 *
 * Devices: Turtles' "direct access". L2's port I/O still exits to l1vmm,
 * which performs it on the machine's own ports (io.c); the IOAPIC and
 * local APIC pages are mapped through (ept.c); the firmware's ACPI tables
 * are copied into L2's BIOS area unchanged, since they describe those
 * same devices. Interrupts reach L2 through the local APIC directly. */
#include "bzimage.h"
#include "cpu.h"
#include "l1vmm.h"

enum {
    LINUX_ZERO_PAGE = 0x7000,
    LINUX_CMDLINE = 0x20000,
    BIOS_AREA = 0xE0000,
    BIOS_AREA_END = 0x100000,
    PAGE = 4096,
};

static int fail(const char *what)
{
    rt_printf("l1vmm: bad L2 kernel: %s\n", what);
    return -1;
}

static const uint8_t *module_bytes(const struct mb_module *m, uint64_t *size)
{
    *size = m->mod_end > m->mod_start ? m->mod_end - m->mod_start : 0;
    return (const uint8_t *)(uintptr_t)m->mod_start;
}

/* The module string is "PATH ARGS": the kernel's command line is ARGS. */
static const char *module_args(const struct mb_module *m)
{
    const char *s = m->string ? (const char *)(uintptr_t)m->string : "";
    while (*s && *s != ' ')
        s++;
    while (*s == ' ')
        s++;
    return s;
}

int load_linux(const struct rt_boot *boot, struct l2_image *out)
{
    uint64_t size, initrd_size = 0;
    const uint8_t *kernel = module_bytes(&boot->mods[0], &size);
    struct bzimage bz;
    const char *why;
    if (size < 0x202 + 4 || kernel[0x202] != 'H' || kernel[0x203] != 'd' ||
        kernel[0x204] != 'r' || kernel[0x205] != 'S')
        return 1; /* not a bzImage: a multiboot image, load.c's */
    if (bzimage_parse(kernel, size, &bz, &why) != 0)
        return fail(why);
    if (!l2_ptr(bz.load_address, bz.init_size))
        return fail("its load address + init_size lies outside L2 RAM "
                    "(give l1vmm a larger ram=)");

    const uint8_t *initrd = 0;
    struct bz_boot b = {.cmdline_pa = LINUX_CMDLINE};
    if (boot->mods_count > 1) {
        initrd = module_bytes(&boot->mods[1], &initrd_size);
        uint64_t top = l2.ram_bytes < (uint64_t)bz.initrd_addr_max + 1
                           ? l2.ram_bytes : (uint64_t)bz.initrd_addr_max + 1;
        uint64_t at = (top - initrd_size) & ~(uint64_t)(PAGE - 1);
        if (initrd_size > top || at < bz.load_address + bz.init_size)
            return fail("the initrd does not fit above the kernel in L2 RAM");
        memcpy(l2_ptr(at, initrd_size), initrd, initrd_size);
        b.initrd_pa = (uint32_t)at;
        b.initrd_size = (uint32_t)initrd_size;
    }
    const char *args = module_args(&boot->mods[0]);
    uint64_t len = strlen(args);
    if (len > bz.cmdline_size)
        return fail("the command line is longer than the kernel's "
                    "cmdline_size");
    memcpy(l2_ptr(LINUX_CMDLINE, len + 1), args, len + 1);
    memcpy(l2_ptr(bz.load_address, bz.kernel_size), kernel + bz.kernel_offset,
           bz.kernel_size);
    /* The firmware's tables, where the kernel scans for the RSDP. */
    memcpy(l2_ptr(BIOS_AREA, BIOS_AREA_END - BIOS_AREA),
           (const void *)(uintptr_t)BIOS_AREA, BIOS_AREA_END - BIOS_AREA);

    const struct bz_e820 map[] = {
        {0, 0x9FC00, BZ_E820_RAM},
        {0x9FC00, 0x400, BZ_E820_RESERVED},
        {BIOS_AREA, BIOS_AREA_END - BIOS_AREA, BZ_E820_RESERVED},
        {BIOS_AREA_END, l2.ram_bytes - BIOS_AREA_END, BZ_E820_RAM},
    };
    b.e820 = map;
    b.e820_count = sizeof map / sizeof map[0];
    bzimage_fill_zero_page(l2_ptr(LINUX_ZERO_PAGE, BZ_ZERO_PAGE_SIZE), kernel,
                           &bz, &b);
    /* L2 shares the machine's APIC: leave it in virtual wire mode, as
     * L0's loader does for a Linux guest, since no firmware ran for L2
     * (an acpi=off kernel takes the 8259s' interrupts through LINT0). */
    uint64_t apic = rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK;
    for (unsigned k = 0; k < BZ_APIC_VIRTUAL_WIRE_WRITES; k++)
        *(volatile uint32_t *)(uintptr_t)(apic +
                                          bz_apic_virtual_wire[k].offset) =
            bz_apic_virtual_wire[k].value;
    *out = (struct l2_image){.entry = bz.load_address, .rsi = LINUX_ZERO_PAGE,
                             .code_sel = BZ_BOOT_CS, .data_sel = BZ_BOOT_DS,
                             .direct_io = 1};
    return 0;
}
