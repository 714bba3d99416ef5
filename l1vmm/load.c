/* Loading L2: its multiboot ELF image from the module into L2 RAM at the
 * segments' physical addresses, and the multiboot information L2 expects
 * (Multiboot 0.6.96 sections 3.1 and 3.3). ELF32 and ELF64 images are
 * accepted (our images are ELF64 code in an ELF32 file). The a.out
 * kludge (header flag 16) and video modes (flag 2) are not supported. */
#include "l1vmm.h"

#define ELF_MAGIC 0x464C457Fu /* "\x7fELF" */
enum { ELFCLASS32 = 1, ELFCLASS64 = 2, ET_EXEC = 2, PT_LOAD = 1 };
enum { EM_386 = 3, EM_X86_64 = 62 };

struct __attribute__((packed)) elf32_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version, entry, phoff, shoff, flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct __attribute__((packed)) elf32_phdr {
    uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
};
struct __attribute__((packed)) elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct __attribute__((packed)) elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* One loadable segment, whatever the ELF class. */
struct segment {
    uint64_t type, offset, paddr, filesz, memsz;
};

struct image {
    const uint8_t *bytes;
    uint64_t size;
    int class64;
    uint64_t entry, phoff, phnum, phentsize;
};

static int fail(const char *what)
{
    rt_printf("l1vmm: bad L2 module: %s\n", what);
    return -1;
}

static int read_header(struct image *im)
{
    if (im->size < sizeof(struct elf32_ehdr) ||
        *(const uint32_t *)im->bytes != ELF_MAGIC)
        return fail("not an ELF file (no \\x7fELF magic at its start); give "
                    "a guest image such as build/images/hello.elf");
    uint8_t class = im->bytes[4];
    if (class == ELFCLASS32) {
        const struct elf32_ehdr *h = (const void *)im->bytes;
        if (h->type != ET_EXEC || (h->machine != EM_386 && h->machine != EM_X86_64))
            return fail("not an x86 executable ELF file");
        im->entry = h->entry;
        im->phoff = h->phoff;
        im->phnum = h->phnum;
        im->phentsize = h->phentsize;
    } else if (class == ELFCLASS64 && im->size >= sizeof(struct elf64_ehdr)) {
        const struct elf64_ehdr *h = (const void *)im->bytes;
        if (h->type != ET_EXEC || h->machine != EM_X86_64)
            return fail("not an x86-64 executable ELF file");
        im->class64 = 1;
        im->entry = h->entry;
        im->phoff = h->phoff;
        im->phnum = h->phnum;
        im->phentsize = h->phentsize;
    } else {
        return fail("unknown ELF class");
    }
    uint64_t want = im->class64 ? sizeof(struct elf64_phdr)
                                : sizeof(struct elf32_phdr);
    if (im->phnum == 0 || im->phentsize < want || im->phoff > im->size ||
        im->phnum * im->phentsize > im->size - im->phoff)
        return fail("its program headers lie outside the file");
    return 0;
}

static struct segment segment_at(const struct image *im, uint64_t i)
{
    const uint8_t *p = im->bytes + im->phoff + i * im->phentsize;
    if (im->class64) {
        const struct elf64_phdr *h = (const void *)p;
        return (struct segment){h->type, h->offset, h->paddr, h->filesz,
                                h->memsz};
    }
    const struct elf32_phdr *h = (const void *)p;
    return (struct segment){h->type, h->offset, h->paddr, h->filesz, h->memsz};
}

/* The multiboot header lies 4-aligned in the first 8 KiB (3.1.1); the
 * flags l1vmm honours are page-aligned modules (no modules are passed)
 * and memory information. */
static int check_multiboot_header(const struct image *im)
{
    uint64_t limit = im->size < 8192 ? im->size : 8192;
    for (uint64_t off = 0; off + 12 <= limit; off += 4) {
        const uint32_t *h = (const uint32_t *)(im->bytes + off);
        if (h[0] != MB_HEADER_MAGIC || h[0] + h[1] + h[2] != 0)
            continue;
        if (h[1] & 0xFFFCu) {
            rt_printf("l1vmm: bad L2 module: multiboot header flags %#x ask "
                      "for features l1vmm does not provide (it handles "
                      "bits 0 and 1)\n",
                      h[1]);
            return -1;
        }
        return 0;
    }
    return fail("no multiboot header in its first 8 KiB");
}

static int load_segments(const struct image *im)
{
    for (uint64_t i = 0; i < im->phnum; i++) {
        struct segment s = segment_at(im, i);
        if (s.type != PT_LOAD || s.memsz == 0)
            continue;
        if (s.filesz > s.memsz || s.offset > im->size ||
            s.filesz > im->size - s.offset)
            return fail("a segment's file bytes lie outside the file");
        uint8_t *dst = l2_ptr(s.paddr, s.memsz);
        if (s.paddr < L2_IMAGE_MIN || !dst) {
            rt_printf("l1vmm: L2 image does not fit: its segment at "
                      "guest-physical [%#lx, %#lx) is outside L2 RAM "
                      "[%#x, %#lx) (%lu MiB)\n",
                      s.paddr, s.paddr + s.memsz, L2_IMAGE_MIN, l2.ram_bytes,
                      l2.ram_bytes >> 20);
            return -1;
        }
        memcpy(dst, im->bytes + s.offset, s.filesz);
        memset(dst + s.filesz, 0, s.memsz - s.filesz);
    }
    return 0;
}

/* The information a multiboot loader passes in EBX: memory sizes, the
 * memory map of L2 RAM, the command line and the loader's name. */
static int build_mb_info(const struct mb_module *mod)
{
    struct mb_info *info = l2_ptr(L2_MB_INFO, sizeof *info);
    struct mb_mmap_entry *mmap = l2_ptr(L2_MB_MMAP, 2 * sizeof *mmap);
    char *name = l2_ptr(L2_MB_LOADER_NAME, 6);
    char *cmdline = l2_ptr(L2_MB_CMDLINE, L2_MB_CMDLINE_MAX);

    memset(info, 0, sizeof *info);
    mmap[0] = (struct mb_mmap_entry){sizeof *mmap - 4, 0, 0x9FC00,
                                     MB_MMAP_AVAILABLE};
    mmap[1] = (struct mb_mmap_entry){sizeof *mmap - 4, L2_IMAGE_MIN,
                                     l2.ram_bytes - L2_IMAGE_MIN,
                                     MB_MMAP_AVAILABLE};
    memcpy(name, "l1vmm", 6);

    /* The module's string is "PATH ARGS" under GRUB and QEMU alike; L2's
     * runtime skips the path as it does for its own command line. */
    const char *src = mod->string ? (const char *)(uintptr_t)mod->string : "";
    size_t n = strlen(src);
    if (n >= L2_MB_CMDLINE_MAX) {
        rt_printf("l1vmm: L2 command line is %lu bytes, more than %u\n", n,
                  L2_MB_CMDLINE_MAX - 1);
        return -1;
    }
    memcpy(cmdline, src, n + 1);

    info->flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MMAP |
                  (1u << 9); /* boot_loader_name */
    info->mem_lower = 0x9FC00 / 1024;
    info->mem_upper = (uint32_t)((l2.ram_bytes - L2_IMAGE_MIN) / 1024);
    info->cmdline = L2_MB_CMDLINE;
    info->mmap_addr = L2_MB_MMAP;
    info->mmap_length = 2 * sizeof *mmap;
    info->boot_loader_name = L2_MB_LOADER_NAME;
    return 0;
}

int load_l2(const struct rt_boot *boot, struct l2_image *out)
{
    int linux = load_linux(boot, out);
    if (linux <= 0)
        return linux;
    const struct mb_module *mod = &boot->mods[0];
    struct image im = {.bytes = (const uint8_t *)(uintptr_t)mod->mod_start,
                       .size = mod->mod_end - mod->mod_start};
    if (mod->mod_end <= mod->mod_start)
        return fail("the module is empty");
    if (read_header(&im) || check_multiboot_header(&im))
        return -1;
    memset(l2.ram, 0, L2_LOW_END);
    if (load_segments(&im) || build_mb_info(mod))
        return -1;
    if (!l2_ptr(im.entry, 1) || im.entry < L2_IMAGE_MIN)
        return fail("its entry point is outside L2 RAM above 1 MiB");
    *out = (struct l2_image){.entry = im.entry, .rax = MB_BOOT_MAGIC,
                             .rbx = L2_MB_INFO, .code_sel = 0x08,
                             .data_sel = 0x10};
    return 0;
}
