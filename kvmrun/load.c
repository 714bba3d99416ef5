/* The multiboot v1 image into guest RAM (Multiboot 0.6.96 sections 3.1
 * and 3.3), as l1vmm loads it: the PT_LOAD segments of an ELF32 or ELF64
 * x86 executable at their physical addresses, the multiboot information
 * (memory sizes, a two-entry map, the command line, the loader name). */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "guests/rt/multiboot.h"
#include "kvmrun/kvmrun.h"

static int bad(const char *why)
{
    fprintf(stderr, "kvmrun: bad L2 image: %s\n", why);
    return -1;
}

/* Guest RAM [pa, pa + len) as a host pointer, or NULL if outside. */
static uint8_t *guest_ptr(struct guest *g, uint64_t pa, uint64_t len)
{
    if (pa > g->ram_size || len > g->ram_size - pa)
        return NULL;
    return g->ram + pa;
}

/* The header lies 4-aligned in the first 8 KiB; of its flags only page
 * alignment and memory information (bits 0 and 1) are provided. */
static int check_header(const uint8_t *bytes, size_t size)
{
    size_t limit = size < 8192 ? size : 8192;
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        uint32_t h[3];
        memcpy(h, bytes + off, sizeof h);
        if (h[0] != MB_HEADER_MAGIC || h[0] + h[1] + h[2] != 0)
            continue;
        return (h[1] & 0xFFFCu) ? bad("its multiboot header asks for "
                                      "more than flags 0 and 1") : 0;
    }
    return bad("no multiboot header in its first 8 KiB");
}

static int put_segment(struct guest *g, const uint8_t *bytes, size_t size,
                       uint64_t offset, uint64_t paddr, uint64_t filesz,
                       uint64_t memsz)
{
    if (filesz > memsz || offset > size || filesz > size - offset)
        return bad("a segment's bytes lie outside the file");
    uint8_t *dst = guest_ptr(g, paddr, memsz);
    if (!dst || paddr < GUEST_IMAGE_MIN) {
        fprintf(stderr, "kvmrun: L2 image does not fit: segment at "
                "[%#llx, %#llx) is outside RAM [1 MiB, %llu MiB)\n",
                (unsigned long long)paddr,
                (unsigned long long)(paddr + memsz),
                (unsigned long long)(g->ram_size >> 20));
        return -1;
    }
    memcpy(dst, bytes + offset, filesz);
    memset(dst + filesz, 0, memsz - filesz);
    return 0;
}

/* Every PT_LOAD segment of an ELF32 or ELF64 x86 executable. */
static int load_elf(struct guest *g, const uint8_t *bytes, size_t size,
                    uint32_t *entry)
{
    if (size < sizeof(Elf32_Ehdr) || memcmp(bytes, ELFMAG, SELFMAG) != 0)
        return bad("not an ELF file");
    int is64 = bytes[EI_CLASS] == ELFCLASS64;
    if (!is64 && bytes[EI_CLASS] != ELFCLASS32)
        return bad("unknown ELF class");
    Elf64_Ehdr eh;
    if (is64) {
        if (size < sizeof eh)
            return bad("truncated ELF header");
        memcpy(&eh, bytes, sizeof eh);
    } else {
        Elf32_Ehdr e32;
        memcpy(&e32, bytes, sizeof e32);
        eh = (Elf64_Ehdr){.e_type = e32.e_type, .e_machine = e32.e_machine,
                          .e_entry = e32.e_entry, .e_phoff = e32.e_phoff,
                          .e_phentsize = e32.e_phentsize,
                          .e_phnum = e32.e_phnum};
    }
    if (eh.e_type != ET_EXEC ||
        (eh.e_machine != EM_386 && eh.e_machine != EM_X86_64))
        return bad("not an x86 executable");
    size_t want = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (eh.e_phnum == 0 || eh.e_phentsize < want || eh.e_phoff > size ||
        (uint64_t)eh.e_phnum * eh.e_phentsize > size - eh.e_phoff)
        return bad("its program headers lie outside the file");
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        const uint8_t *p = bytes + eh.e_phoff + (uint64_t)i * eh.e_phentsize;
        Elf64_Phdr ph;
        if (is64) {
            memcpy(&ph, p, sizeof ph);
        } else {
            Elf32_Phdr p32;
            memcpy(&p32, p, sizeof p32);
            ph = (Elf64_Phdr){.p_type = p32.p_type, .p_offset = p32.p_offset,
                              .p_paddr = p32.p_paddr,
                              .p_filesz = p32.p_filesz,
                              .p_memsz = p32.p_memsz};
        }
        if (ph.p_type == PT_LOAD && ph.p_memsz &&
            put_segment(g, bytes, size, ph.p_offset, ph.p_paddr,
                        ph.p_filesz, ph.p_memsz))
            return -1;
    }
    if (eh.e_entry < GUEST_IMAGE_MIN || !guest_ptr(g, eh.e_entry, 1))
        return bad("its entry point is outside RAM above 1 MiB");
    *entry = (uint32_t)eh.e_entry;
    return 0;
}

/* Flat 4 GiB 32-bit code and data descriptors (SDM Vol. 3A 3.4.5). */
static void write_gdt(struct guest *g)
{
    const uint64_t gdt[3] = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull};
    memcpy(g->ram + GUEST_GDT, gdt, sizeof gdt);
}

static int write_mb_info(struct guest *g, const char *cmdline)
{
    size_t n = strlen(cmdline);
    if (n >= GUEST_MB_CMDLINE_MAX) {
        fprintf(stderr, "kvmrun: L2 command line is %zu bytes, more than "
                "%d\n", n, GUEST_MB_CMDLINE_MAX - 1);
        return -1;
    }
    struct mb_mmap_entry map[2] = {
        {sizeof map[0] - 4, 0, 0x9FC00, MB_MMAP_AVAILABLE},
        {sizeof map[0] - 4, GUEST_IMAGE_MIN, g->ram_size - GUEST_IMAGE_MIN,
         MB_MMAP_AVAILABLE},
    };
    struct mb_info info = {
        .flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MMAP |
                 1u << 9, /* boot_loader_name */
        .mem_lower = 0x9FC00 / 1024,
        .mem_upper = (uint32_t)((g->ram_size - GUEST_IMAGE_MIN) / 1024),
        .cmdline = GUEST_MB_CMDLINE,
        .mmap_addr = GUEST_MB_MMAP,
        .mmap_length = sizeof map,
        .boot_loader_name = GUEST_MB_LOADER_NAME,
    };
    memcpy(g->ram + GUEST_MB_INFO, &info, sizeof info);
    memcpy(g->ram + GUEST_MB_MMAP, map, sizeof map);
    memcpy(g->ram + GUEST_MB_LOADER_NAME, "kvmrun", 7);
    memcpy(g->ram + GUEST_MB_CMDLINE, cmdline, n + 1);
    return 0;
}

int load_multiboot(struct guest *g, const uint8_t *bytes, size_t size,
                   const char *cmdline, struct loaded *out)
{
    if (check_header(bytes, size) || load_elf(g, bytes, size, &out->entry))
        return -1;
    write_gdt(g);
    return write_mb_info(g, cmdline);
}
