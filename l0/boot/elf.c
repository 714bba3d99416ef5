/* ELF header and program header parsing (System V gABI). Fields are read
 * byte by byte as little-endian, so nothing depends on the host's
 * alignment or byte order. */
#include "boot/elf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    EI_CLASS = 4, EI_DATA = 5,
    ELFCLASS32 = 1, ELFCLASS64 = 2, ELFDATA2LSB = 1,
    ET_EXEC = 2,
    EM_386 = 3, EM_X86_64 = 62,
    PN_XNUM = 0xffff,
};

/* Offsets of the fields we use, per class: header size, e_type,
 * e_machine, e_entry, e_phoff, e_phentsize, e_phnum, the size of one
 * program header, and p_type, p_offset, p_vaddr, p_paddr, p_filesz,
 * p_memsz within it. The field width follows the class: 4 or 8 bytes
 * for addresses and offsets. */
struct elf_layout {
    unsigned ehsize, type, machine, entry, phoff, phentsize, phnum;
    unsigned phsize, p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz;
    unsigned word; /* width of an address or offset field */
};

static const struct elf_layout layout32 = {
    52, 16, 18, 24, 28, 42, 44,
    32, 0, 4, 8, 12, 16, 20, 4,
};
static const struct elf_layout layout64 = {
    64, 16, 18, 24, 32, 54, 56,
    56, 0, 8, 16, 24, 32, 40, 8,
};

static uint64_t get(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = width; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static int fail(char *err, size_t err_size, const char *msg, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_size, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    vsnprintf(err, err_size, msg, ap);
    va_end(ap);
    return -1;
}

static const struct elf_layout *layout_of(const struct elf_file *f)
{
    return f->bits == 64 ? &layout64 : &layout32;
}

int elf_open(struct elf_file *f, const uint8_t *data, size_t size,
             char *err, size_t err_size)
{
    if (size < 16 || memcmp(data, "\x7f" "ELF", 4) != 0)
        return fail(err, err_size,
                    "not an ELF file (it does not start with \\x7fELF)");
    if (data[EI_CLASS] != ELFCLASS32 && data[EI_CLASS] != ELFCLASS64)
        return fail(err, err_size, "unknown ELF class %u (neither 32- nor "
                    "64-bit)", data[EI_CLASS]);
    if (data[EI_DATA] != ELFDATA2LSB)
        return fail(err, err_size, "not a little-endian ELF file (x86 "
                    "images are little-endian)");
    *f = (struct elf_file){.data = data, .size = size,
                           .bits = data[EI_CLASS] == ELFCLASS64 ? 64 : 32};
    const struct elf_layout *l = layout_of(f);
    if (size < l->ehsize)
        return fail(err, err_size, "truncated ELF header (%zu bytes; a "
                    "%d-bit header has %u)", size, f->bits, l->ehsize);

    uint16_t type = (uint16_t)get(data + l->type, 2);
    f->machine = (uint16_t)get(data + l->machine, 2);
    f->entry = get(data + l->entry, l->word);
    f->phoff = get(data + l->phoff, l->word);
    f->phentsize = (uint16_t)get(data + l->phentsize, 2);
    f->phnum = (uint16_t)get(data + l->phnum, 2);

    if (type != ET_EXEC)
        return fail(err, err_size, "ELF type %u is not an executable "
                    "(ET_EXEC, 2)", type);
    /* Either machine is accepted with either class: a 64-bit kernel is
     * often rewritten as ELF32 (elf32-i386) for multiboot loaders. */
    if (f->machine != EM_386 && f->machine != EM_X86_64)
        return fail(err, err_size, "ELF for another machine (e_machine "
                    "%u; x86 is %u or %u)", f->machine, EM_386, EM_X86_64);
    if (f->phnum == 0)
        return fail(err, err_size, "no program headers");
    if (f->phnum == PN_XNUM)
        return fail(err, err_size, "extended program header numbering "
                    "(e_phnum 0xffff) is not supported");
    if (f->phentsize < l->phsize)
        return fail(err, err_size, "program headers of %u bytes are "
                    "smaller than a %d-bit program header (%u)",
                    f->phentsize, f->bits, l->phsize);
    /* phnum * phentsize < 2^32, so only phoff can overflow: compare it
     * with the size first. */
    uint64_t table = (uint64_t)f->phnum * f->phentsize;
    if (f->phoff > size || table > size - f->phoff)
        return fail(err, err_size, "truncated program headers (%u x %u bytes "
                    "at offset 0x%llx; the file has %zu bytes)",
                    f->phnum, f->phentsize, (unsigned long long)f->phoff,
                    size);
    return 0;
}

struct elf_segment elf_segment(const struct elf_file *f, unsigned i)
{
    const struct elf_layout *l = layout_of(f);
    const uint8_t *p = f->data + f->phoff + (uint64_t)i * f->phentsize;
    return (struct elf_segment){
        .type = (uint32_t)get(p + l->p_type, 4),
        .offset = get(p + l->p_offset, l->word),
        .vaddr = get(p + l->p_vaddr, l->word),
        .paddr = get(p + l->p_paddr, l->word),
        .filesz = get(p + l->p_filesz, l->word),
        .memsz = get(p + l->p_memsz, l->word),
    };
}
