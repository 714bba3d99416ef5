/* l0/boot/linux_load.c and guests/rt/bzimage.c: the Linux 32-bit boot
 * protocol. Synthetic bzImages are built here from the offsets of the
 * kernel's Documentation/x86/boot.rst, written out as numbers (not the
 * code's names), one defect per bad case; the real Debian kernel
 * (build/linux/vmlinuz, `make linux`) is checked against its own header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/linux_load.h"
#include "cpu/cpu.h"
#include "machine.h"

#define MiB (1ull << 20)
#define SETUP_SECTS 3
#define SETUP_BYTES ((SETUP_SECTS + 1) * 512)
#define PAYLOAD 8192

static void put(uint8_t *p, size_t off, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[off + k] = (uint8_t)(v >> (8 * k));
}

static uint64_t get(const uint8_t *p, size_t off, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[off + k] << (8 * k);
    return v;
}

/* A bzImage of protocol 2.15: relocatable, preferring 16 MiB, 1 MiB of
 * init_size, a payload of PAYLOAD bytes counting 0, 1, 2... */
static uint8_t *make_bzimage(size_t *size)
{
    *size = SETUP_BYTES + PAYLOAD;
    uint8_t *img = calloc(1, *size);
    assert_non_null(img);
    img[0x1F1] = SETUP_SECTS;
    put(img, 0x1FE, 0xAA55, 2);
    img[0x200] = 0xEB;          /* jmp short */
    img[0x201] = 0x6A - 0x02;   /* header ends at 0x26C (2.15) */
    put(img, 0x202, 0x53726448, 4); /* "HdrS" */
    put(img, 0x206, 0x020F, 2);
    img[0x211] = 0x01;          /* LOADED_HIGH */
    put(img, 0x214, 0x100000, 4);
    put(img, 0x22C, 0x7FFFFFFF, 4);
    put(img, 0x230, 0x200000, 4);
    img[0x234] = 1;             /* relocatable */
    put(img, 0x238, 255, 4);    /* cmdline_size */
    put(img, 0x258, 16 * MiB, 8);
    put(img, 0x260, 1 * MiB, 4);
    for (size_t k = 0; k < PAYLOAD; k++)
        img[SETUP_BYTES + k] = (uint8_t)k;
    return img;
}

static struct machine *new_machine(uint64_t ram_size)
{
    struct machine *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->ram_size = ram_size;
    m->ram = malloc(ram_size);
    assert_non_null(m->ram);
    memset(m->ram, 0xAA, ram_size);
    return m;
}

static void free_machine(struct machine *m)
{
    free(m->ram);
    free(m);
}

static void test_loads_kernel_initrd_cmdline_and_zero_page(void **state)
{
    (void)state;
    size_t size;
    uint8_t *img = make_bzimage(&size);
    struct machine *m = new_machine(64 * MiB);
    static const uint8_t initrd[5000] = {1, 2, 3};
    struct cpu_boot_state entry;
    char err[256] = "";
    assert_int_equal(linux_load_image(m, img, size, initrd, sizeof initrd,
                                      "console=ttyS0 quiet", &entry, err,
                                      sizeof err), 0);
    /* The protected-mode code at pref_address, byte for byte. */
    assert_memory_equal(m->ram + 16 * MiB, img + SETUP_BYTES, PAYLOAD);
    /* The 32-bit entry: EIP at the code, ESI at the zero page, the boot
     * selectors 0x10/0x18 in a GDT whose descriptors are flat. */
    assert_int_equal(entry.eip, 16 * MiB);
    uint32_t zp = entry.esi;
    assert_int_equal(entry.code_sel, 0x10);
    assert_int_equal(entry.data_sel, 0x18);
    assert_true(entry.gdtr.limit >= 0x1F);
    assert_int_equal(get(m->ram, entry.gdtr.base + 0x10, 8),
                     0x00CF9A000000FFFFull);
    assert_int_equal(get(m->ram, entry.gdtr.base + 0x18, 8),
                     0x00CF92000000FFFFull);
    assert_int_equal(entry.eax, 0);
    assert_int_equal(entry.ebx, 0);
    /* The zero page: the header copied, the loader's fields set. */
    const uint8_t *p = m->ram + zp;
    assert_int_equal(get(p, 0x202, 4), 0x53726448);
    assert_int_equal(get(p, 0x206, 2), 0x020F);
    assert_int_equal(p[0x210], 0xFF);   /* type_of_loader: undefined */
    assert_int_equal(p[0x1EF], 0);      /* sentinel */
    assert_int_equal(get(p, 0x000, 8), 0); /* screen_info zeroed */
    uint32_t cmd = (uint32_t)get(p, 0x228, 4);
    assert_string_equal((const char *)m->ram + cmd, "console=ttyS0 quiet");
    uint32_t rd = (uint32_t)get(p, 0x218, 4), rd_size = (uint32_t)get(p, 0x21C, 4);
    assert_int_equal(rd_size, sizeof initrd);
    assert_int_equal(rd % 4096, 0);
    assert_true(rd >= 17 * MiB && rd + rd_size <= 64 * MiB);
    assert_memory_equal(m->ram + rd, initrd, sizeof initrd);
    /* e820: RAM below the EBDA and from 1 MiB to the end; the BIOS area
     * reserved. */
    unsigned n = p[0x1E8];
    assert_true(n >= 3);
    int saw_low = 0, saw_high = 0, saw_bios = 0;
    for (unsigned k = 0; k < n; k++) {
        uint64_t a = get(p, 0x2D0 + 20 * k, 8), l = get(p, 0x2D8 + 20 * k, 8);
        uint32_t t = (uint32_t)get(p, 0x2E0 + 20 * k, 4);
        saw_low |= a == 0 && l == 0x9FC00 && t == 1;
        saw_high |= a == MiB && l == 63 * MiB && t == 1;
        saw_bios |= a <= 0xF0000 && a + l >= 0x100000 && t == 2;
    }
    assert_true(saw_low && saw_high && saw_bios);
    free_machine(m);
    free(img);
}

/* The local APIC as a PC BIOS leaves it for the OS (MultiProcessor
 * Specification 1.4, virtual wire mode): software-enabled (SVR bit 8),
 * LINT0 unmasked in ExtINT mode (delivery mode 7 in bits 10:8), LINT1
 * unmasked NMI (mode 4). Register offsets from SDM Vol. 3A Table 11-1. */
static uint32_t apic_regs[0x1000 / 4];
static void apic_capture(void *dev, uint64_t offset, unsigned size,
                         uint64_t value)
{
    (void)dev;
    assert_int_equal(size, 4);
    apic_regs[offset / 4] = (uint32_t)value;
}

static void test_apic_left_in_virtual_wire_mode(void **state)
{
    (void)state;
    size_t size;
    uint8_t *img = make_bzimage(&size);
    struct machine *m = new_machine(64 * MiB);
    memset(apic_regs, 0, sizeof apic_regs);
    assert_int_equal(bus_register(&m->mmio, 0xFEE00000, 0x1000, NULL, NULL,
                                  apic_capture, "apic"), 0);
    struct cpu_boot_state entry;
    char err[256] = "";
    assert_int_equal(linux_load_image(m, img, size, NULL, 0, NULL, &entry,
                                      err, sizeof err), 0);
    assert_true(apic_regs[0xF0 / 4] & 0x100);
    assert_int_equal(apic_regs[0x350 / 4], 0x700);
    assert_int_equal(apic_regs[0x360 / 4], 0x400);
    free_machine(m);
    free(img);
}

/* One defect per case, each refused with a sentence that names it. */
static void test_bad_kernels_are_refused(void **state)
{
    (void)state;
    static const struct {
        size_t off;
        uint64_t value;
        unsigned bytes;
        const char *says;
    } cases[] = {
        {0x1FE, 0x0000, 2, "not a bzImage"},
        {0x202, 0x64726448, 4, "not a bzImage"},
        {0x206, 0x0209, 2, "older than 2.10"},
        {0x211, 0x00, 1, "zImage"},
        {0x1F1, 200, 1, "past the end"},
        {0x260, 100, 4, "init_size"},
        {0x258, 0x10000, 8, "load address"},
        {0x201, 0x10, 1, "shorter"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t size;
        uint8_t *img = make_bzimage(&size);
        put(img, cases[k].off, cases[k].value, cases[k].bytes);
        struct machine *m = new_machine(64 * MiB);
        struct cpu_boot_state entry;
        char err[256] = "";
        assert_int_equal(linux_load_image(m, img, size, NULL, 0, NULL,
                                          &entry, err, sizeof err), -1);
        if (!strstr(err, cases[k].says))
            fail_msg("case %zu: '%s' does not say '%s'", k, err,
                     cases[k].says);
        free_machine(m);
        free(img);
    }
}

static void test_too_little_memory(void **state)
{
    (void)state;
    size_t size;
    uint8_t *img = make_bzimage(&size);
    char err[256];
    struct cpu_boot_state entry;
    /* 16 MiB + 1 MiB of init_size does not fit in 16 MiB of RAM. */
    struct machine *m = new_machine(16 * MiB);
    assert_int_equal(linux_load_image(m, img, size, NULL, 0, NULL, &entry,
                                      err, sizeof err), -1);
    assert_non_null(strstr(err, "needs RAM"));
    free_machine(m);
    /* An initrd larger than what is left above the kernel. */
    m = new_machine(20 * MiB);
    size_t big = 4 * MiB;
    uint8_t *initrd = calloc(1, big);
    assert_int_equal(linux_load_image(m, img, size, initrd, big, NULL,
                                      &entry, err, sizeof err), -1);
    assert_non_null(strstr(err, "initrd"));
    /* A command line longer than cmdline_size (255). */
    char line[300];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    assert_int_equal(linux_load_image(m, img, size, NULL, 0, line, &entry,
                                      err, sizeof err), -1);
    assert_non_null(strstr(err, "cmdline_size"));
    free(initrd);
    free_machine(m);
    free(img);
}

/* Debian's kernel: loaded where its header says, its protocol 2.15. */
static void test_debian_kernel(void **state)
{
    (void)state;
    FILE *f = fopen("build/linux/vmlinuz", "rb");
    if (!f)
        fail_msg("build/linux/vmlinuz is missing: run `make linux`");
    fseek(f, 0, SEEK_END);
    size_t size = (size_t)ftell(f);
    rewind(f);
    uint8_t *img = malloc(size);
    assert_int_equal(fread(img, 1, size, f), size);
    fclose(f);
    struct machine *m = new_machine(256 * MiB);
    struct cpu_boot_state entry;
    char err[256] = "";
    if (linux_load_image(m, img, size, NULL, 0, "console=ttyS0", &entry, err,
                         sizeof err) != 0)
        fail_msg("%s", err);
    size_t setup = ((img[0x1F1] ? img[0x1F1] : 4) + 1) * 512u;
    assert_int_equal(entry.eip, get(img, 0x258, 8));
    assert_memory_equal(m->ram + entry.eip, img + setup, size - setup);
    assert_int_equal(get(m->ram + entry.esi, 0x206, 2), get(img, 0x206, 2));
    free_machine(m);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_kernel_initrd_cmdline_and_zero_page),
        cmocka_unit_test(test_apic_left_in_virtual_wire_mode),
        cmocka_unit_test(test_bad_kernels_are_refused),
        cmocka_unit_test(test_too_little_memory),
        cmocka_unit_test(test_debian_kernel),
    };
    return cmocka_run_group_tests_name("linux_load", tests, NULL, NULL);
}
