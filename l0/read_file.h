/* Reading a whole host file (an image, a kernel, an initrd, a cost
 * profile): one place that says what is wrong with a path. */
#ifndef TURTLES_READ_FILE_H
#define TURTLES_READ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Opens a regular file for reading and gives its size, or returns NULL
 * with the reason, without the path, in why ("cannot open: ...", "not a
 * regular file"). */
FILE *open_regular_file(const char *path, uint64_t *size, char *why,
                        size_t why_size);

/* The whole of a regular file of at most max_size bytes, followed by a
 * NUL byte that *size does not count (a text file is then a C string);
 * or NULL with the reason, without the path, in why. The caller frees. */
uint8_t *read_file(const char *path, size_t max_size, size_t *size,
                   char *why, size_t why_size);

#endif
