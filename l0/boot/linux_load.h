/* The Linux loader: a bzImage, an initrd and a command line into guest
 * RAM through the kernel's 32-bit boot protocol (guests/rt/bzimage.h,
 * shared with l1vmm), and the CPU state its entry expects. */
#ifndef L0_BOOT_LINUX_LOAD_H
#define L0_BOOT_LINUX_LOAD_H

#include <stddef.h>
#include <stdint.h>

struct machine;
struct cpu_boot_state;

struct linux_config {
    const char *kernel_path;
    const char *initrd_path; /* may be NULL */
    const char *cmdline;     /* may be NULL */
    /* Bytes appended to the initrd after padding it to 4 bytes, such as
     * a second archive (boot/initrd_files.h); may be NULL. */
    const uint8_t *initrd_extra;
    size_t initrd_extra_size;
};

/* Guest-physical layout of what the loader writes besides the kernel
 * (all in the low 640 KiB, below the reserved EBDA). */
enum {
    LINUX_GDT_PA = 0x6000,
    LINUX_ZERO_PAGE_PA = 0x7000,
    LINUX_CMDLINE_PA = 0x20000,
};

/* Returns 0 with *entry filled, or -1 with a one-line reason in err
 * (what and which file) and guest RAM unspecified. */
int linux_load(struct machine *m, const struct linux_config *cfg,
               struct cpu_boot_state *entry, char *err, size_t err_size);

/* The same with the kernel and initrd already in memory (for tests). */
int linux_load_image(struct machine *m, const uint8_t *kernel, size_t size,
                     const uint8_t *initrd, size_t initrd_size,
                     const char *cmdline, struct cpu_boot_state *entry,
                     char *err, size_t err_size);

#endif
