/* The multiboot v1 loader (Multiboot Specification 0.6.96).
 *
 * Guest physical memory after a load:
 *
 *   0x8000 - 0x9fbff   the information area: multiboot info, memory map,
 *                      module list, then the strings (loader name, command
 *                      lines), packed in that order
 *   image              where its ELF segments (or a.out kludge addresses)
 *                      say, never overlapping the information area
 *   modules            page-aligned, from the first page at or above both
 *                      the image's end and 1 MiB
 *
 * Every address and size taken from a file is checked against the file
 * and against RAM (at most 4 GiB: multiboot addresses are 32-bit) before
 * a byte is written. */
#include "boot/multiboot_load.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/elf.h"
#include "machine.h"
#include "read_file.h"

/* Section 3.1.1: the header lies in the first 8192 bytes, 4-aligned. */
#define MB_SEARCH_BYTES 8192u
#define MB_HEADER_MAGIC 0x1BADB002u

/* Section 3.1.2: header flags. Bits 0-15 are requirements a loader must
 * refuse if it cannot meet them; bits 16-31 are optional. */
#define MBH_PAGE_ALIGN (1u << 0) /* always met: modules are page-aligned */
#define MBH_MEMORY_INFO (1u << 1) /* always met */
#define MBH_VIDEO_MODE (1u << 2)  /* refused: there is no display */
#define MBH_ADDRESSES (1u << 16)  /* the a.out kludge fields are valid */
#define MBH_KNOWN_REQUIREMENTS (MBH_PAGE_ALIGN | MBH_MEMORY_INFO)

/* Section 3.3: the information structure, by byte offset (the layout is
 * the guest's, so it is written field by field, not as a host struct). */
enum {
    INFO_FLAGS = 0, INFO_MEM_LOWER = 4, INFO_MEM_UPPER = 8,
    INFO_CMDLINE = 16, INFO_MODS_COUNT = 20, INFO_MODS_ADDR = 24,
    INFO_MMAP_LENGTH = 44, INFO_MMAP_ADDR = 48, INFO_BOOT_LOADER_NAME = 64,
    INFO_SIZE = 116, /* through the framebuffer fields, all zero here */
    MODULE_SIZE = 16, /* mod_start, mod_end, string, reserved */
    MMAP_ENTRY_SIZE = 24, /* size (= 20, excluding itself), addr, len, type */
};
#define INFO_HAS_MEMORY (1u << 0)
#define INFO_HAS_CMDLINE (1u << 2)
#define INFO_HAS_MODS (1u << 3)
#define INFO_HAS_MMAP (1u << 6)
#define INFO_HAS_LOADER_NAME (1u << 9)

#define AREA_START 0x8000u
#define AREA_END 0x9fc00u /* where the reserved EBDA begins in the map */
#define LOW_MEMORY_END 0x9fc00u
#define HIGH_MEMORY 0x100000u
#define PAGE 4096u
#define LOADER_NAME "turtles"

/* The memory map QEMU's BIOS reports for a PC (its e820 table), with RAM
 * above 1 MiB filled in at load time. Type 1 is available, 2 reserved. */
static const struct {
    uint64_t addr, len;
    uint32_t type;
} low_map[] = {
    {0, LOW_MEMORY_END, 1},
    {LOW_MEMORY_END, 0xa0000 - LOW_MEMORY_END, 2},
    {0xf0000, 0x10000, 2},
};
enum { MMAP_ENTRIES = sizeof low_map / sizeof low_map[0] + 1 };

struct placed_module {
    uint32_t start, end;
    const char *path, *args;
};

struct loader {
    struct machine *m;  /* NULL: only check the image (multiboot_check_file) */
    const char *name;
    char *err;
    size_t err_size;
    uint64_t limit;     /* end of loadable memory: RAM, capped at 4 GiB */
    uint64_t image_end; /* one past the image's highest byte */
    uint32_t area_next; /* bump pointer in the information area */
};

static int fail(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A path as messages show it: a long one loses its middle, so that the
 * reason after it always fits in the message. */
#define PATH_SHOWN 120
struct shown_path {
    char text[PATH_SHOWN + 4];
};

static struct shown_path shown(const char *path)
{
    struct shown_path p;
    size_t len = strlen(path), half = PATH_SHOWN / 2;
    if (len <= PATH_SHOWN)
        snprintf(p.text, sizeof p.text, "%s", path);
    else
        snprintf(p.text, sizeof p.text, "%.*s...%s", (int)half, path,
                 path + len - half);
    return p;
}

static int fail(struct loader *ld, const char *fmt, ...)
{
    int n = snprintf(ld->err, ld->err_size, "%s: ", shown(ld->name).text);
    if (n >= 0 && (size_t)n < ld->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Stores into guest RAM at addresses the loader chose (inside the
 * information area), little-endian. */
static void put32(struct loader *ld, uint32_t addr, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        ld->m->ram[addr + i] = (uint8_t)(v >> (8 * i));
}

static void put64(struct loader *ld, uint32_t addr, uint64_t v)
{
    put32(ld, addr, (uint32_t)v);
    put32(ld, addr + 4, (uint32_t)(v >> 32));
}

/* Is [addr, addr + len) inside loadable RAM? */
static bool in_ram(const struct loader *ld, uint64_t addr, uint64_t len)
{
    return addr <= ld->limit && len <= ld->limit - addr;
}

static bool overlaps_area(uint64_t addr, uint64_t len)
{
    return len != 0 && addr < AREA_END && AREA_START < addr + len;
}

/* Checks where an image part goes; `what` names it for the message. */
static int check_placement(struct loader *ld, const char *what,
                           uint64_t addr, uint64_t len)
{
    if (!in_ram(ld, addr, len))
        return fail(ld, "%s (0x%llx bytes at 0x%llx) lies outside RAM "
                    "(0x0-0x%llx)", what, (unsigned long long)len,
                    (unsigned long long)addr, (unsigned long long)ld->limit);
    if (ld->m && overlaps_area(addr, len))
        return fail(ld, "%s (0x%llx bytes at 0x%llx) overlaps the multiboot "
                    "information area 0x%x-0x%x", what,
                    (unsigned long long)len, (unsigned long long)addr,
                    AREA_START, AREA_END);
    if (addr + len > ld->image_end)
        ld->image_end = addr + len;
    return 0;
}

/* --- the multiboot header (section 3.1) --- */

struct mb_header {
    uint32_t offset, flags;
    /* valid with MBH_ADDRESSES (section 3.1.3) */
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr,
        entry_addr;
};

static int find_header(struct loader *ld, const uint8_t *image, size_t size,
                       struct mb_header *h)
{
    size_t limit = size < MB_SEARCH_BYTES ? size : MB_SEARCH_BYTES;
    long bad_checksum_at = -1;
    for (size_t o = 0; o + 12 <= limit; o += 4) {
        if (get32(image + o) != MB_HEADER_MAGIC)
            continue;
        uint32_t flags = get32(image + o + 4);
        if (MB_HEADER_MAGIC + flags + get32(image + o + 8) != 0) {
            if (bad_checksum_at < 0)
                bad_checksum_at = (long)o;
            continue;
        }
        *h = (struct mb_header){.offset = (uint32_t)o, .flags = flags};
        if (!(flags & MBH_ADDRESSES))
            return 0;
        if (o + 32 > limit)
            return fail(ld, "the multiboot header at offset 0x%zx is "
                        "truncated: with flag 16 it needs 32 bytes inside "
                        "the first 8 KiB", o);
        h->header_addr = get32(image + o + 12);
        h->load_addr = get32(image + o + 16);
        h->load_end_addr = get32(image + o + 20);
        h->bss_end_addr = get32(image + o + 24);
        h->entry_addr = get32(image + o + 28);
        return 0;
    }
    if (bad_checksum_at >= 0)
        return fail(ld, "the multiboot header at offset 0x%lx has a bad "
                    "checksum (magic + flags + checksum must be 0)",
                    bad_checksum_at);
    return fail(ld, "no multiboot header (magic 0x%08x) in the first 8 KiB",
                MB_HEADER_MAGIC);
}

static int check_flags(struct loader *ld, uint32_t flags)
{
    if (flags & MBH_VIDEO_MODE)
        return fail(ld, "the multiboot header asks for a video mode (flag "
                    "2); turtles has no display, so build the image without it");
    uint32_t unknown = flags & 0xffff & ~MBH_KNOWN_REQUIREMENTS;
    if (unknown)
        return fail(ld, "the multiboot header requires features turtles "
                    "does not know (flags 0x%x); the spec says to refuse",
                    unknown);
    return 0;
}

/* --- the image: a.out kludge (section 3.1.3) or ELF --- */

static int load_by_addresses(struct loader *ld, const uint8_t *image,
                             size_t size, const struct mb_header *h,
                             uint32_t *entry)
{
    if (h->load_addr > h->header_addr)
        return fail(ld, "multiboot load_addr 0x%x is above header_addr "
                    "0x%x", h->load_addr, h->header_addr);
    /* The header's file offset corresponds to header_addr. */
    uint32_t before = h->header_addr - h->load_addr;
    if (before > h->offset)
        return fail(ld, "multiboot load_addr 0x%x would start 0x%x bytes "
                    "before the file", h->load_addr, before - h->offset);
    uint64_t file_start = h->offset - before;
    uint64_t load_len = size - file_start;
    if (h->load_end_addr != 0) {
        if (h->load_end_addr < h->load_addr)
            return fail(ld, "multiboot load_end_addr 0x%x is below "
                        "load_addr 0x%x", h->load_end_addr, h->load_addr);
        load_len = h->load_end_addr - h->load_addr;
        if (load_len > size - file_start)
            return fail(ld, "multiboot load_end_addr 0x%x reaches past the "
                        "end of the file", h->load_end_addr);
    }
    uint64_t load_end = h->load_addr + load_len;
    uint64_t end = load_end;
    if (h->bss_end_addr != 0) {
        if (h->bss_end_addr < load_end)
            return fail(ld, "multiboot bss_end_addr 0x%x is below the end "
                        "of the loaded data 0x%llx", h->bss_end_addr,
                        (unsigned long long)load_end);
        end = h->bss_end_addr;
    }
    if (check_placement(ld, "the image", h->load_addr, end - h->load_addr))
        return -1;
    if (h->entry_addr < h->load_addr || h->entry_addr >= end)
        return fail(ld, "entry point 0x%x is outside the loaded image "
                    "0x%x-0x%llx", h->entry_addr, h->load_addr,
                    (unsigned long long)end);
    *entry = h->entry_addr;
    if (!ld->m)
        return 0;
    memcpy(ld->m->ram + h->load_addr, image + file_start, load_len);
    machine_ram_zero(ld->m, load_end, end - load_end);
    return 0;
}

/* Two loadable segments that claim the same bytes of memory make a
 * malformed image (the gABI wants PT_LOAD entries sorted by address and
 * does not let them share memory): whichever was copied last would win.
 * The segments, sorted by physical address, must not overlap. */
struct span {
    uint64_t start, end;
    unsigned index;
};

static int by_start(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int check_no_overlap(struct loader *ld, const struct elf_file *f)
{
    struct span *spans = calloc(f->phnum, sizeof *spans);
    if (!spans)
        return fail(ld, "out of memory");
    unsigned n = 0;
    for (unsigned i = 0; i < f->phnum; i++) {
        struct elf_segment s = elf_segment(f, i);
        if (s.type == ELF_PT_LOAD && s.memsz != 0)
            spans[n++] = (struct span){s.paddr, s.paddr + s.memsz, i};
    }
    qsort(spans, n, sizeof *spans, by_start);
    int rc = 0;
    for (unsigned k = 1; k < n && rc == 0; k++) {
        const struct span *a = &spans[k - 1], *b = &spans[k];
        if (b->start < a->end)
            rc = fail(ld, "segments %u (0x%llx-0x%llx) and %u (0x%llx-"
                      "0x%llx) overlap in memory: a malformed image",
                      a->index, (unsigned long long)a->start,
                      (unsigned long long)a->end, b->index,
                      (unsigned long long)b->start,
                      (unsigned long long)b->end);
    }
    free(spans);
    return rc;
}

static int load_elf(struct loader *ld, const uint8_t *image, size_t size,
                    uint32_t *entry)
{
    struct elf_file f;
    char why[160];
    if (elf_open(&f, image, size, why, sizeof why) != 0)
        return fail(ld, "%s", why);

    /* First check every segment, then copy: a refused image leaves RAM
     * as it was. */
    bool any = false, entry_found = false;
    for (unsigned i = 0; i < f.phnum; i++) {
        struct elf_segment s = elf_segment(&f, i);
        if (s.type != ELF_PT_LOAD || s.memsz == 0)
            continue;
        any = true;
        char what[32];
        snprintf(what, sizeof what, "segment %u", i);
        if (s.filesz > s.memsz)
            return fail(ld, "%s: p_filesz 0x%llx exceeds p_memsz 0x%llx",
                        what, (unsigned long long)s.filesz,
                        (unsigned long long)s.memsz);
        if (s.offset > size || s.filesz > size - s.offset)
            return fail(ld, "%s (0x%llx bytes at file offset 0x%llx) lies "
                        "outside the file (%zu bytes)", what,
                        (unsigned long long)s.filesz,
                        (unsigned long long)s.offset, size);
        if (check_placement(ld, what, s.paddr, s.memsz))
            return -1;
        /* The entry is a virtual address; with paging off it runs at the
         * physical address of the segment holding it (as GRUB does). */
        if (!entry_found && f.entry - s.vaddr < s.memsz) {
            entry_found = true;
            *entry = (uint32_t)(f.entry - s.vaddr + s.paddr);
        }
    }
    if (!any)
        return fail(ld, "no loadable (PT_LOAD) segments");
    if (!entry_found)
        return fail(ld, "entry point 0x%llx is outside every loaded segment",
                    (unsigned long long)f.entry);
    if (check_no_overlap(ld, &f))
        return -1;
    for (unsigned i = 0; ld->m && i < f.phnum; i++) {
        struct elf_segment s = elf_segment(&f, i);
        if (s.type != ELF_PT_LOAD || s.memsz == 0)
            continue;
        memcpy(ld->m->ram + s.paddr, image + s.offset, s.filesz);
        machine_ram_zero(ld->m, s.paddr + s.filesz, s.memsz - s.filesz);
    }
    return 0;
}

static int load_kernel(struct loader *ld, const uint8_t *image, size_t size,
                       uint32_t *entry)
{
    struct mb_header h = {0};
    if (ld->m && ld->m->ram_size <= HIGH_MEMORY)
        return fail(ld, "RAM of %llu bytes is too small: multiboot images "
                    "need memory above 1 MiB",
                    (unsigned long long)ld->m->ram_size);
    if (find_header(ld, image, size, &h) || check_flags(ld, h.flags))
        return -1;
    /* Flag 16 takes precedence over the ELF headers, as in GRUB and
     * QEMU; without it the image must be ELF. */
    if (h.flags & MBH_ADDRESSES)
        return load_by_addresses(ld, image, size, &h, entry);
    return load_elf(ld, image, size, entry);
}

/* --- the information area (section 3.3) --- */

static int area_alloc(struct loader *ld, uint64_t len, uint32_t align,
                      uint32_t *addr)
{
    uint64_t at = (ld->area_next + (uint64_t)align - 1) & ~(uint64_t)(align - 1);
    if (at > AREA_END || len > AREA_END - at)
        return fail(ld, "the command lines and module list do not fit in "
                    "the multiboot information area (0x%x-0x%x)",
                    AREA_START, AREA_END);
    *addr = (uint32_t)at;
    ld->area_next = (uint32_t)(at + len);
    return 0;
}

/* Copies "a" or "a b" (b non-empty) into the area as a C string. */
static int area_string(struct loader *ld, const char *a, const char *b,
                       uint32_t *addr)
{
    size_t la = strlen(a), lb = b && *b ? strlen(b) : 0;
    size_t len = la + (lb ? 1 + lb : 0) + 1;
    if (area_alloc(ld, len, 1, addr))
        return -1;
    uint8_t *p = ld->m->ram + *addr;
    memcpy(p, a, la);
    if (lb) {
        p[la] = ' ';
        memcpy(p + la + 1, b, lb);
    }
    p[len - 1] = '\0';
    return 0;
}

static int write_info(struct loader *ld, const char *cmdline,
                      const struct placed_module *mods, int count,
                      uint32_t *info_pa)
{
    uint32_t info, mmap, list, name, line;
    ld->area_next = AREA_START;
    if (area_alloc(ld, INFO_SIZE, 8, &info) ||
        area_alloc(ld, MMAP_ENTRIES * MMAP_ENTRY_SIZE, 8, &mmap) ||
        area_alloc(ld, (uint64_t)count * MODULE_SIZE, 16, &list) ||
        area_string(ld, LOADER_NAME, NULL, &name) ||
        area_string(ld, ld->name, cmdline, &line))
        return -1;
    for (int i = 0; i < count; i++) {
        uint32_t s, e = list + (uint32_t)i * MODULE_SIZE;
        if (area_string(ld, mods[i].path, mods[i].args, &s))
            return -1;
        put32(ld, e, mods[i].start);
        put32(ld, e + 4, mods[i].end);
        put32(ld, e + 8, s);
        put32(ld, e + 12, 0);
    }

    uint64_t ram = ld->m->ram_size;
    for (int i = 0; i < MMAP_ENTRIES; i++) {
        uint32_t e = mmap + (uint32_t)i * MMAP_ENTRY_SIZE;
        bool high = i == MMAP_ENTRIES - 1;
        put32(ld, e, MMAP_ENTRY_SIZE - 4);
        put64(ld, e + 4, high ? HIGH_MEMORY : low_map[i].addr);
        put64(ld, e + 12, high ? ram - HIGH_MEMORY : low_map[i].len);
        put32(ld, e + 20, high ? 1 : low_map[i].type);
    }

    uint64_t upper_kib = (ram - HIGH_MEMORY) / 1024;
    memset(ld->m->ram + info, 0, INFO_SIZE);
    put32(ld, info + INFO_FLAGS, INFO_HAS_MEMORY | INFO_HAS_CMDLINE |
          INFO_HAS_MODS | INFO_HAS_MMAP | INFO_HAS_LOADER_NAME);
    put32(ld, info + INFO_MEM_LOWER, LOW_MEMORY_END / 1024);
    put32(ld, info + INFO_MEM_UPPER,
          upper_kib > UINT32_MAX ? UINT32_MAX : (uint32_t)upper_kib);
    put32(ld, info + INFO_CMDLINE, line);
    put32(ld, info + INFO_MODS_COUNT, (uint32_t)count);
    put32(ld, info + INFO_MODS_ADDR, list);
    put32(ld, info + INFO_MMAP_LENGTH, MMAP_ENTRIES * MMAP_ENTRY_SIZE);
    put32(ld, info + INFO_MMAP_ADDR, mmap);
    put32(ld, info + INFO_BOOT_LOADER_NAME, name);
    *info_pa = info;
    return 0;
}

/* --- entry points --- */

static struct loader loader_for(struct machine *m, const char *name,
                                char *err, size_t err_size)
{
    uint64_t four_gib = 1ull << 32;
    return (struct loader){
        .m = m, .name = name, .err = err, .err_size = err_size,
        .limit = m && m->ram_size < four_gib ? m->ram_size : four_gib,
    };
}

int multiboot_load_image(struct machine *m, const uint8_t *image,
                         size_t size, const char *name, const char *cmdline,
                         struct boot_entry *out, char *err, size_t err_size)
{
    struct loader ld = loader_for(m, name, err, err_size);
    if (load_kernel(&ld, image, size, &out->entry))
        return -1;
    return write_info(&ld, cmdline, NULL, 0, &out->info_pa);
}

/* Opens a regular file and returns its size; what is wrong otherwise. */
static FILE *open_file(struct loader *ld, const char *path, uint64_t *size)
{
    char why[128];
    FILE *f = open_regular_file(path, size, why, sizeof why);
    if (f == NULL) {
        const char *saved = ld->name;
        ld->name = path;
        fail(ld, "%s", why);
        ld->name = saved;
    }
    return f;
}

/* The file may be larger than what it loads (symbols, debug information),
 * but not than a 32-bit address space. */
static int read_image(struct loader *ld, uint8_t **image, size_t *size)
{
    char why[128];
    *image = read_file(ld->name, UINT32_MAX, size, why, sizeof why);
    return *image ? 0 : fail(ld, "%s", why);
}

/* Reads each module into RAM, page-aligned after the image (section
 * 3.1.2 flag 0 asks for that; it is done whether asked or not). */
static int load_modules(struct loader *ld, const struct boot_config *cfg,
                        struct placed_module *mods)
{
    uint64_t next = ld->image_end > HIGH_MEMORY ? ld->image_end : HIGH_MEMORY;
    for (int i = 0; i < cfg->module_count; i++) {
        const struct boot_module *bm = &cfg->modules[i];
        uint64_t len;
        next = (next + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        FILE *f = open_file(ld, bm->path, &len);
        if (f == NULL)
            return -1;
        bool fits = in_ram(ld, next, len);
        bool ok = fits && fread(ld->m->ram + next, 1, len, f) == len;
        fclose(f);
        if (!fits)
            return fail(ld, "module %s (%llu bytes) does not fit in RAM "
                        "at 0x%llx", shown(bm->path).text,
                        (unsigned long long)len, (unsigned long long)next);
        if (!ok)
            return fail(ld, "cannot read module %s", shown(bm->path).text);
        mods[i] = (struct placed_module){
            .start = (uint32_t)next, .end = (uint32_t)(next + len),
            .path = bm->path, .args = bm->args,
        };
        next += len;
    }
    return 0;
}

int multiboot_load(struct machine *m, const struct boot_config *cfg,
                   struct boot_entry *out, char *err, size_t err_size)
{
    struct loader ld = loader_for(m, cfg->image_path, err, err_size);
    int count = cfg->module_count > 0 ? cfg->module_count : 0;
    struct placed_module *mods = calloc((size_t)count + 1, sizeof *mods);
    uint8_t *image = NULL;
    size_t size = 0;
    int rc = -1;
    if (mods == NULL)
        fail(&ld, "out of memory");
    else if (read_image(&ld, &image, &size) == 0 &&
             load_kernel(&ld, image, size, &out->entry) == 0 &&
             load_modules(&ld, cfg, mods) == 0)
        rc = write_info(&ld, cfg->cmdline, mods, count, &out->info_pa);
    free(image);
    free(mods);
    return rc;
}

int multiboot_check_file(const char *path, char *err, size_t err_size)
{
    struct loader ld = loader_for(NULL, path, err, err_size);
    uint8_t *image = NULL;
    size_t size = 0;
    uint32_t entry;
    int rc = read_image(&ld, &image, &size) == 0 &&
                     load_kernel(&ld, image, size, &entry) == 0
                 ? 0
                 : -1;
    free(image);
    return rc;
}
