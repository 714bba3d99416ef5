/* See initrd_files.h. The newc format: a 110-byte ASCII header (magic
 * 070701 and 13 eight-digit hex fields), the name with its NUL, padding
 * to 4, the data, padding to 4; the archive ends with "TRAILER!!!". */
#include "boot/initrd_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEADER = 110, MODE_DIR = 040755, MODE_FILE = 0100644 };

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

static size_t entry_size(const char *name, size_t data_size)
{
    return pad4(HEADER + strlen(name) + 1) + pad4(data_size);
}

/* Fields: ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
 * devminor, rdevmajor, rdevminor, namesize, check. */
static uint8_t *put_entry(uint8_t *p, unsigned ino, unsigned mode,
                          const char *name, const uint8_t *data, size_t size)
{
    size_t name_size = strlen(name) + 1;
    char header[HEADER + 1];
    snprintf(header, sizeof header,
             "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
             ino, mode, 0u, 0u, mode == MODE_DIR ? 2u : 1u, 0u,
             (unsigned)size, 0u, 0u, 0u, 0u, (unsigned)name_size, 0u);
    uint8_t *start = p;
    memcpy(p, header, HEADER);
    memcpy(p + HEADER, name, name_size);
    p = start + pad4(HEADER + name_size);
    if (size)
        memcpy(p, data, size);
    return p + pad4(size);
}

uint8_t *initrd_files_archive(const struct initrd_file *files, size_t count,
                              size_t *size)
{
    static const char trailer[] = "TRAILER!!!";
    size_t total = entry_size(trailer, 0);
    for (size_t k = 0; k < count; k++)
        total += entry_size(files[k].name, files[k].size);
    uint8_t *out = calloc(1, total), *p = out;
    if (!out)
        return NULL;
    for (size_t k = 0; k < count; k++)
        p = put_entry(p, (unsigned)k + 1,
                      files[k].data ? MODE_FILE : MODE_DIR, files[k].name,
                      files[k].data, files[k].size);
    put_entry(p, 0, 0, trailer, NULL, 0);
    *size = total;
    return out;
}
