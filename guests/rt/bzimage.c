/* The Linux x86 boot protocol: see bzimage.h. */
#include "bzimage.h"

/* SVR (0xF0) enable with spurious vector 0xFF; LINT0 (0x350) ExtINT
 * (delivery mode 7); LINT1 (0x360) NMI (mode 4): SDM Vol. 3A 11.5.1,
 * 11.9. */
const struct bz_apic_write bz_apic_virtual_wire[BZ_APIC_VIRTUAL_WIRE_WRITES] = {
    {0xF0, 0x100 | 0xFF},
    {0x350, 7u << 8},
    {0x360, 4u << 8},
};

/* Setup header fields (boot.rst, "The real-mode kernel header"), as
 * offsets into the image and into the zero page alike. */
enum {
    HDR_START = 0x1F1,     /* setup_sects: the header's first field */
    HDR_SETUP_SECTS = 0x1F1,
    HDR_BOOT_FLAG = 0x1FE, /* 0xAA55 */
    HDR_JUMP = 0x200,      /* its second byte: header length - 0x202 */
    HDR_MAGIC = 0x202,     /* "HdrS" */
    HDR_VERSION = 0x206,
    HDR_TYPE_OF_LOADER = 0x210,
    HDR_LOADFLAGS = 0x211,
    HDR_CODE32_START = 0x214,
    HDR_RAMDISK_IMAGE = 0x218,
    HDR_RAMDISK_SIZE = 0x21C,
    HDR_CMD_LINE_PTR = 0x228,
    HDR_INITRD_ADDR_MAX = 0x22C,
    HDR_KERNEL_ALIGNMENT = 0x230,
    HDR_RELOCATABLE = 0x234,
    HDR_CMDLINE_SIZE = 0x238,
    HDR_PREF_ADDRESS = 0x258,
    HDR_INIT_SIZE = 0x260,
    HDR_MIN_END = 0x264, /* the header must reach past init_size */
};

/* boot_params fields outside the header (arch/x86/include/uapi/asm/
 * bootparam.h as boot.rst's "zero page" table lists them). */
enum {
    ZP_ACPI_RSDP_ADDR = 0x070, /* protocol 2.14 */
    ZP_E820_ENTRIES = 0x1E8,
    ZP_SENTINEL = 0x1EF,
    ZP_E820_TABLE = 0x2D0, /* 20-byte entries: addr, size, type */
};

#define HDRS_MAGIC 0x53726448u /* "HdrS" */
#define LOADFLAG_LOADED_HIGH 0x01u
#define LOADER_TYPE_UNDEFINED 0xFFu /* boot.rst: "0xFF undefined" */

static uint32_t get16(const uint8_t *p, size_t off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8;
}

static uint32_t get32(const uint8_t *p, size_t off)
{
    return get16(p, off) | get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
    return get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

static void put(uint8_t *p, size_t off, uint64_t value, unsigned bytes)
{
    for (unsigned k = 0; k < bytes; k++)
        p[off + k] = (uint8_t)(value >> (8 * k));
}

int bzimage_parse(const uint8_t *image, size_t size, struct bzimage *out,
                  const char **why)
{
    if (size < HDR_MIN_END || get16(image, HDR_BOOT_FLAG) != 0xAA55 ||
        get32(image, HDR_MAGIC) != HDRS_MAGIC) {
        *why = "not a bzImage (no 0xAA55 boot flag and \"HdrS\" header)";
        return -1;
    }
    struct bzimage bz = {0};
    bz.protocol = (uint16_t)get16(image, HDR_VERSION);
    if (bz.protocol < BZIMAGE_MIN_PROTOCOL) {
        *why = "boot protocol older than 2.10 (no init_size)";
        return -1;
    }
    if (HDR_JUMP + 2 + image[HDR_JUMP + 1] < HDR_MIN_END) {
        *why = "setup header shorter than its protocol version says";
        return -1;
    }
    if (!(image[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH)) {
        *why = "a zImage (loaded low), not a bzImage";
        return -1;
    }
    unsigned sects = image[HDR_SETUP_SECTS] ? image[HDR_SETUP_SECTS] : 4;
    bz.setup_size = (sects + 1) * 512u;
    if (bz.setup_size >= size) {
        *why = "setup_sects points past the end of the file";
        return -1;
    }
    bz.kernel_offset = bz.setup_size;
    bz.kernel_size = (uint32_t)(size - bz.setup_size);
    bz.relocatable = image[HDR_RELOCATABLE];
    bz.kernel_alignment = get32(image, HDR_KERNEL_ALIGNMENT);
    /* A relocatable kernel goes where it prefers to run, so that its
     * decompressor need not move it (boot.rst, pref_address); any other
     * at code32_start. */
    bz.load_address = bz.relocatable ? get64(image, HDR_PREF_ADDRESS)
                                     : get32(image, HDR_CODE32_START);
    bz.init_size = get32(image, HDR_INIT_SIZE);
    bz.initrd_addr_max = get32(image, HDR_INITRD_ADDR_MAX);
    bz.cmdline_size = get32(image, HDR_CMDLINE_SIZE);
    if (bz.init_size < bz.kernel_size) {
        *why = "init_size is smaller than the kernel itself";
        return -1;
    }
    if (bz.load_address < 0x100000 ||
        bz.load_address + bz.init_size > 0x100000000ull) {
        *why = "the kernel's load address is not between 1 MiB and 4 GiB";
        return -1;
    }
    *out = bz;
    return 0;
}

void bzimage_fill_zero_page(uint8_t *zp, const uint8_t *image,
                            const struct bzimage *bz, const struct bz_boot *b)
{
    for (unsigned k = 0; k < BZ_ZERO_PAGE_SIZE; k++)
        zp[k] = 0;
    /* boot.rst: copy the header from setup_sects to the end the jump's
     * offset gives, then set the fields a loader owns. */
    unsigned end = HDR_JUMP + 2 + image[HDR_JUMP + 1];
    for (unsigned k = HDR_START; k < end; k++)
        zp[k] = image[k];
    zp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
    zp[ZP_SENTINEL] = 0; /* a loader that zeroes the page leaves it 0 */
    put(zp, HDR_CODE32_START, bz->load_address, 4);
    put(zp, HDR_CMD_LINE_PTR, b->cmdline_pa, 4);
    put(zp, HDR_RAMDISK_IMAGE, b->initrd_pa, 4);
    put(zp, HDR_RAMDISK_SIZE, b->initrd_size, 4);
    if (bz->protocol >= 0x020E)
        put(zp, ZP_ACPI_RSDP_ADDR, b->acpi_rsdp_pa, 8);
    unsigned n = b->e820_count < BZ_E820_MAX ? b->e820_count : BZ_E820_MAX;
    zp[ZP_E820_ENTRIES] = (uint8_t)n;
    for (unsigned k = 0; k < n; k++) {
        put(zp, ZP_E820_TABLE + 20 * k, b->e820[k].addr, 8);
        put(zp, ZP_E820_TABLE + 20 * k + 8, b->e820[k].size, 8);
        put(zp, ZP_E820_TABLE + 20 * k + 16, b->e820[k].type, 4);
    }
}
