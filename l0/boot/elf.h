/* A reader of ELF executables (System V gABI, "ELF header" and "Program
 * header"), 32- and 64-bit, little-endian x86: just what a loader needs,
 * with every offset checked against the file's size. */
#ifndef L0_BOOT_ELF_H
#define L0_BOOT_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_PT_LOAD 1u

struct elf_file {
    const uint8_t *data;
    size_t size;
    int bits; /* 32 or 64 */
    uint16_t machine;
    uint64_t entry;
    uint64_t phoff;
    uint16_t phentsize, phnum;
};

/* One program header, widened to 64 bits whatever the class. */
struct elf_segment {
    uint32_t type;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

/* Checks the ELF header and that the program header table lies inside
 * the file. Returns 0, or -1 with what is wrong in err (no file name). */
int elf_open(struct elf_file *f, const uint8_t *data, size_t size,
             char *err, size_t err_size);

/* Program header i (< f->phnum) of a file elf_open accepted. */
struct elf_segment elf_segment(const struct elf_file *f, unsigned i);

#endif
