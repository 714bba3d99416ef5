/* The Linux loader: see linux_load.h. What goes where:
 *
 *   0x6000             a GDT with __BOOT_CS (0x10) and __BOOT_DS (0x18)
 *   0x7000             the zero page (struct boot_params)
 *   0x20000            the command line
 *   load_address       the protected-mode kernel (pref_address: 16 MiB
 *                      for Debian's kernel), init_size bytes reserved
 *   top of RAM         the initrd, page-aligned, below initrd_addr_max
 */
#include "boot/linux_load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "guests/rt/bzimage.h"
#include "machine.h"
#include "read_file.h"

#define PAGE 4096u

/* The PC memory map QEMU's BIOS gives (as the multiboot loader's), with
 * the whole BIOS area 0xE0000-0xFFFFF reserved: the platform's ACPI
 * tables live there, where the kernel scans for the RSDP. */
static unsigned memory_map(const struct machine *m, struct bz_e820 *map)
{
    static const struct bz_e820 low[] = {
        {0, 0x9FC00, BZ_E820_RAM},
        {0x9FC00, 0x400, BZ_E820_RESERVED},
        {0xE0000, 0x20000, BZ_E820_RESERVED},
    };
    unsigned n = 0;
    for (; n < sizeof low / sizeof low[0]; n++)
        map[n] = low[n];
    map[n++] = (struct bz_e820){0x100000, m->ram_size - 0x100000,
                                BZ_E820_RAM};
    return n;
}

static int fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Flat 4 GiB descriptors (SDM Vol. 3A 3.4.5): execute/read code and
 * read/write data, both 32-bit, granular, present, DPL 0. */
static void write_gdt(struct machine *m)
{
    static const uint64_t gdt[4] = {
        0, 0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull};
    for (unsigned k = 0; k < 4; k++)
        for (unsigned b = 0; b < 8; b++)
            m->ram[LINUX_GDT_PA + 8 * k + b] = (uint8_t)(gdt[k] >> (8 * b));
}

/* The highest page-aligned place for the initrd: below the end of RAM
 * and initrd_addr_max, above the kernel's init_size. */
/* The local APIC in virtual wire mode, as a PC BIOS leaves it
 * (bz_apic_virtual_wire). The writes go through the bus, as the
 * firmware's own would. */
static void apic_virtual_wire(struct machine *m)
{
    enum { APIC = 0xFEE00000 };
    for (unsigned k = 0; k < BZ_APIC_VIRTUAL_WIRE_WRITES; k++)
        bus_write(&m->mmio, APIC + bz_apic_virtual_wire[k].offset, 4,
                  bz_apic_virtual_wire[k].value);
}

static int place_initrd(const struct machine *m, const struct bzimage *bz,
                        size_t size, uint32_t *pa)
{
    uint64_t top = m->ram_size;
    if (top > (uint64_t)bz->initrd_addr_max + 1)
        top = (uint64_t)bz->initrd_addr_max + 1;
    uint64_t kernel_end = bz->load_address + bz->init_size;
    if (size > top || ((top - size) & ~(uint64_t)(PAGE - 1)) < kernel_end)
        return -1;
    *pa = (uint32_t)((top - size) & ~(uint64_t)(PAGE - 1));
    return 0;
}

int linux_load_image(struct machine *m, const uint8_t *kernel, size_t size,
                     const uint8_t *initrd, size_t initrd_size,
                     const char *cmdline, struct cpu_boot_state *entry,
                     char *err, size_t err_size)
{
    struct bzimage bz;
    const char *why;
    if (bzimage_parse(kernel, size, &bz, &why) != 0)
        return fail(err, err_size, "%s", why);
    if (bz.load_address + bz.init_size > m->ram_size)
        return fail(err, err_size,
                    "the kernel needs RAM up to 0x%llx (load address 0x%llx "
                    "+ init_size 0x%x); the machine has %llu MiB",
                    (unsigned long long)(bz.load_address + bz.init_size),
                    (unsigned long long)bz.load_address, bz.init_size,
                    (unsigned long long)(m->ram_size >> 20));
    const char *line = cmdline ? cmdline : "";
    size_t line_len = strlen(line);
    if (line_len > bz.cmdline_size)
        return fail(err, err_size,
                    "the command line (%zu bytes) is longer than the "
                    "kernel's cmdline_size (%u)", line_len, bz.cmdline_size);
    struct bz_boot boot = {.cmdline_pa = LINUX_CMDLINE_PA};
    if (initrd_size > 0) {
        if (place_initrd(m, &bz, initrd_size, &boot.initrd_pa) != 0)
            return fail(err, err_size,
                        "the initrd (%zu bytes) does not fit between the "
                        "kernel (up to 0x%llx) and the end of RAM or "
                        "initrd_addr_max (0x%x)", initrd_size,
                        (unsigned long long)(bz.load_address + bz.init_size),
                        bz.initrd_addr_max);
        boot.initrd_size = (uint32_t)initrd_size;
        memcpy(m->ram + boot.initrd_pa, initrd, initrd_size);
    }
    struct bz_e820 map[8];
    boot.e820 = map;
    boot.e820_count = memory_map(m, map);
    memcpy(m->ram + bz.load_address, kernel + bz.kernel_offset,
           bz.kernel_size);
    memcpy(m->ram + LINUX_CMDLINE_PA, line, line_len + 1);
    bzimage_fill_zero_page(m->ram + LINUX_ZERO_PAGE_PA, kernel, &bz, &boot);
    write_gdt(m);
    apic_virtual_wire(m);
    *entry = (struct cpu_boot_state){
        .eip = (uint32_t)bz.load_address, .esi = LINUX_ZERO_PAGE_PA,
        .code_sel = BZ_BOOT_CS, .data_sel = BZ_BOOT_DS,
        .gdtr = {LINUX_GDT_PA, 4 * 8 - 1},
    };
    return 0;
}

/* The whole of a regular file of at most 4 GiB, or NULL with the reason
 * in err. */
static uint8_t *read_boot_file(const char *path, size_t *size, char *err,
                               size_t err_size)
{
    char why[128];
    uint8_t *data = read_file(path, UINT32_MAX, size, why, sizeof why);
    if (!data)
        fail(err, err_size, "%s: %s", path, why);
    return data;
}

int linux_load(struct machine *m, const struct linux_config *cfg,
               struct cpu_boot_state *entry, char *err, size_t err_size)
{
    size_t size = 0, initrd_size = 0;
    uint8_t *kernel = read_boot_file(cfg->kernel_path, &size, err, err_size);
    uint8_t *initrd = NULL;
    int rc = -1;
    if (kernel && cfg->initrd_path)
        initrd = read_boot_file(cfg->initrd_path, &initrd_size, err, err_size);
    if (initrd && cfg->initrd_extra_size) {
        /* The kernel finds an archive only at a 4-byte boundary. */
        size_t at = (initrd_size + 3) & ~(size_t)3;
        uint8_t *both = realloc(initrd, at + cfg->initrd_extra_size);
        if (!both) {
            fail(err, err_size, "%s: out of memory", cfg->initrd_path);
            free(initrd);
            initrd = NULL;
        } else {
            memset(both + initrd_size, 0, at - initrd_size);
            memcpy(both + at, cfg->initrd_extra, cfg->initrd_extra_size);
            initrd = both;
            initrd_size = at + cfg->initrd_extra_size;
        }
    }
    if (kernel && (initrd || !cfg->initrd_path)) {
        char why[400];
        rc = linux_load_image(m, kernel, size, initrd, initrd_size,
                              cfg->cmdline, entry, why, sizeof why);
        if (rc != 0)
            snprintf(err, err_size, "%s: %s", cfg->kernel_path, why);
    }
    free(kernel);
    free(initrd);
    return rc;
}
