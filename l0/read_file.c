/* See read_file.h. */
#include "read_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

FILE *open_regular_file(const char *path, uint64_t *size, char *why,
                        size_t why_size)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL) {
        snprintf(why, why_size, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_size, "not a regular file");
        fclose(f);
        return NULL;
    }
    *size = (uint64_t)st.st_size;
    return f;
}

uint8_t *read_file(const char *path, size_t max_size, size_t *size,
                   char *why, size_t why_size)
{
    uint64_t len;
    FILE *f = open_regular_file(path, &len, why, why_size);
    if (f == NULL)
        return NULL;
    uint8_t *data = NULL;
    if (len > max_size) {
        snprintf(why, why_size, "the file (%llu bytes) is larger than %zu "
                 "bytes", (unsigned long long)len, max_size);
    } else if (!(data = malloc((size_t)len + 1)) ||
               fread(data, 1, (size_t)len, f) != (size_t)len) {
        snprintf(why, why_size, "cannot read the file");
        free(data);
        data = NULL;
    } else {
        data[len] = '\0';
        *size = (size_t)len;
    }
    fclose(f);
    return data;
}
