/* The multiboot v1 loader (Multiboot Specification 0.6.96): puts an ELF
 * image (32- or 64-bit program headers) and its modules into guest RAM,
 * builds the multiboot information, command lines and memory map, and
 * says where to start. */
#ifndef L0_BOOT_MULTIBOOT_LOAD_H
#define L0_BOOT_MULTIBOOT_LOAD_H

#include <stddef.h>
#include <stdint.h>

struct machine;

struct boot_module {
    const char *path;
    const char *args; /* its command line; may be NULL */
};

struct boot_config {
    const char *image_path;
    const char *cmdline; /* may be NULL */
    const struct boot_module *modules;
    int module_count;
};

/* The machine state the spec promises at entry (section 3.2): 32-bit
 * protected mode, flat 4 GiB code and data segments, paging off,
 * EAX = 0x2BADB002, EBX = info_pa, EIP = entry. */
#define MULTIBOOT_BOOT_MAGIC 0x2BADB002u /* EAX at entry */

struct boot_entry {
    uint32_t entry;
    uint32_t info_pa;
};

/* Returns 0, or -1 with a one-line reason in err (what and where: the
 * file, the offending header or segment) and guest RAM unspecified. */
int multiboot_load(struct machine *m, const struct boot_config *cfg,
                   struct boot_entry *out, char *err, size_t err_size);

/* Checks that the file is an image multiboot_load would load into a
 * machine of 4 GiB, without loading it (L0 checks the L2 image it hands
 * to L1 as a module). Returns 0, or -1 with the reason in err. */
int multiboot_check_file(const char *path, char *err, size_t err_size);

/* The same from an image already in memory (for tests). */
int multiboot_load_image(struct machine *m, const uint8_t *image,
                         size_t size, const char *name, const char *cmdline,
                         struct boot_entry *out, char *err, size_t err_size);

#endif
