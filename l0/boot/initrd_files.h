/* Files handed to a Linux L1 as a second initramfs archive: the kernel
 * unpacks every archive of the initrd in turn, compressed or not, each
 * starting 4-byte aligned (Documentation/driver-api/early-userspace/
 * buffer-format.rst). turtles gives KVM-as-L1 its L2 image this way. */
#ifndef L0_BOOT_INITRD_FILES_H
#define L0_BOOT_INITRD_FILES_H

#include <stddef.h>
#include <stdint.h>

struct initrd_file {
    const char *name;    /* path inside the archive, without leading / */
    const uint8_t *data; /* NULL: a directory */
    size_t size;
};

/* An uncompressed "newc" cpio archive of `files` with its trailer, padded
 * to 4 bytes; malloc'd, its length in *size; NULL if memory runs out. */
uint8_t *initrd_files_archive(const struct initrd_file *files, size_t count,
                              size_t *size);

#endif
