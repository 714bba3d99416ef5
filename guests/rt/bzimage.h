/* The Linux x86 boot protocol (the kernel's Documentation/x86/boot.rst):
 * reading a bzImage's setup header and filling the zero page
 * (struct boot_params) for the 32-bit entry. Pure and freestanding: L0's
 * loader (l0/boot/linux_load.c) and l1vmm share it, so the protocol is
 * written once. Offsets are those of boot.rst's tables. */
#ifndef RT_BZIMAGE_H
#define RT_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Oldest protocol accepted: 2.10 brought init_size and pref_address,
 * which the loader needs to know where the kernel may decompress. */
#define BZIMAGE_MIN_PROTOCOL 0x020A

#define BZ_ZERO_PAGE_SIZE 4096u
#define BZ_E820_MAX 128u
#define BZ_E820_RAM 1u
#define BZ_E820_RESERVED 2u
#define BZ_E820_ACPI 3u

struct bzimage {
    uint16_t protocol;        /* 0x206 version, e.g. 0x020F */
    uint32_t setup_size;      /* bytes before the protected-mode code */
    uint32_t kernel_offset;   /* = setup_size: where that code starts */
    uint32_t kernel_size;     /* its length in the file */
    uint64_t load_address;    /* where it goes in memory (32-bit entry) */
    uint32_t init_size;       /* memory it needs from load_address on */
    uint32_t initrd_addr_max; /* highest address an initrd byte may use */
    uint32_t cmdline_size;    /* longest command line, without the NUL */
    uint32_t kernel_alignment;
    uint8_t relocatable;
};

struct bz_e820 {
    uint64_t addr, size;
    uint32_t type;
};

/* The local APIC as a PC BIOS leaves it before a kernel starts
 * (MultiProcessor Specification 1.4, 3.6.2.2 and Appendix A, virtual
 * wire mode): software-enabled, LINT0 passing the 8259's INTR as ExtINT,
 * LINT1 taking NMIs. A kernel that finds no interrupt routing (acpi=off
 * and no MP table) keeps the 8259s and relies on it; QEMU's APIC starts
 * with LINT0 so too. The register writes, in order, for each loader (L0's
 * and l1vmm's, whose Linux L2 shares the machine's APIC) to make as the
 * firmware would. */
struct bz_apic_write {
    uint32_t offset, value; /* in the APIC's 4 KiB page */
};
#define BZ_APIC_VIRTUAL_WIRE_WRITES 3u
extern const struct bz_apic_write
    bz_apic_virtual_wire[BZ_APIC_VIRTUAL_WIRE_WRITES];

/* Where the loader put things, for the zero page. */
struct bz_boot {
    uint32_t cmdline_pa;
    uint32_t initrd_pa, initrd_size; /* 0, 0: no initrd */
    uint64_t acpi_rsdp_pa;           /* 0: the kernel scans for it */
    const struct bz_e820 *e820;
    unsigned e820_count;             /* at most BZ_E820_MAX */
};

/* Checks that `image` is a bzImage the 32-bit boot protocol can start and
 * describes it. Returns 0, or -1 with *why set to a constant sentence. */
int bzimage_parse(const uint8_t *image, size_t size, struct bzimage *out,
                  const char **why);

/* Fills the zero page (BZ_ZERO_PAGE_SIZE bytes): zeroes it, copies the
 * image's setup header, and sets what a boot loader must: loader type,
 * command line, initrd, the memory map and the RSDP. */
void bzimage_fill_zero_page(uint8_t *zero_page, const uint8_t *image,
                            const struct bzimage *bz, const struct bz_boot *b);

/* The 32-bit entry (boot.rst, "32-bit boot protocol"): flat 4 GiB
 * segments, code selector __BOOT_CS and data selector __BOOT_DS in a GDT
 * of the loader's, interrupts off, ESI = the zero page, EBP = EDI = EBX =
 * 0, EIP = load_address. */
#define BZ_BOOT_CS 0x10u
#define BZ_BOOT_DS 0x18u

#endif
