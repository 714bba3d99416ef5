/* l0/boot: the multiboot v1 loader and its ELF reader. Real images
 * (build/images/hello.elf and .elf64, from `make images`) are checked
 * against their own program headers read with the system's <elf.h>; bad
 * input is crafted here, one defect per case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/multiboot_load.h"
#include "machine.h"

#define MiB (1ull << 20)
#define IMAGES "build/images/"
#define INFO_AREA_START 0x8000u
#define INFO_AREA_END 0x9fc00u

/* --- a machine with poisoned RAM, so zeroing is visible --- */

static struct machine *new_machine(uint64_t ram_size)
{
    struct machine *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->ram_size = ram_size;
    m->ram = malloc(ram_size); /* exactly: ASan sees any stray write */
    assert_non_null(m->ram);
    memset(m->ram, 0xaa, ram_size);
    return m;
}

static void free_machine(struct machine *m)
{
    free(m->ram);
    free(m);
}

static uint32_t ram32(const struct machine *m, uint64_t pa)
{
    uint32_t v;
    memcpy(&v, m->ram + pa, 4);
    return v;
}

static uint64_t ram64(const struct machine *m, uint64_t pa)
{
    uint64_t v;
    memcpy(&v, m->ram + pa, 8);
    return v;
}

static const char *ram_str(const struct machine *m, uint32_t pa)
{
    assert_in_range(pa, INFO_AREA_START, INFO_AREA_END - 1);
    return (const char *)m->ram + pa;
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void put(uint8_t *p, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* --- crafted images: one PT_LOAD holding the multiboot header --- */

enum {
    IMG_SIZE = 0x2100,  /* a little past the 8 KiB search window */
    SEG_OFF = 0x1000,
    SEG_FILESZ = 0x100,
    SEG_MEMSZ = 0x200,
    LOAD_PA = 0x100000,
    ENTRY = 0x100010,
    MB_FLAGS = 0x3,
};

struct img {
    uint8_t b[IMG_SIZE];
    size_t size;
    int bits;
};

/* Field offsets per class: [0] for ELF32, [1] for ELF64. */
static const struct {
    unsigned ehsize, entry, phoff, phentsize, phnum, word;
    unsigned phsize, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz;
} F[2] = {
    {52, 24, 28, 42, 44, 4, 32, 4, 8, 12, 16, 20},
    {64, 24, 32, 54, 56, 8, 56, 8, 16, 24, 32, 40},
};
#define L(im) F[(im)->bits == 64]

static void set_eh(struct img *im, unsigned off, uint64_t v, unsigned w)
{
    put(im->b + off, v, w);
}

static void set_ph(struct img *im, unsigned field, uint64_t v)
{
    put(im->b + L(im).ehsize + field, v, L(im).word);
}

static void set_mb(struct img *im, unsigned at, uint32_t flags)
{
    put(im->b + at, 0x1BADB002u, 4);
    put(im->b + at + 4, flags, 4);
    put(im->b + at + 8, (uint32_t)-(0x1BADB002u + flags), 4);
}

static void make_elf(struct img *im, int bits)
{
    memset(im, 0, sizeof *im);
    im->size = IMG_SIZE;
    im->bits = bits;
    memcpy(im->b, "\x7f" "ELF", 4);
    im->b[4] = bits == 64 ? 2 : 1;
    im->b[5] = 1; /* little-endian */
    im->b[6] = 1;
    set_eh(im, 16, 2, 2); /* ET_EXEC */
    set_eh(im, 18, bits == 64 ? 62 : 3, 2);
    set_eh(im, 20, 1, 4);
    set_eh(im, L(im).entry, ENTRY, L(im).word);
    set_eh(im, L(im).phoff, L(im).ehsize, L(im).word);
    set_eh(im, L(im).phentsize, L(im).phsize, 2);
    set_eh(im, L(im).phnum, 1, 2);
    put(im->b + L(im).ehsize, 1, 4); /* PT_LOAD */
    set_ph(im, L(im).p_offset, SEG_OFF);
    set_ph(im, L(im).p_vaddr, LOAD_PA);
    set_ph(im, L(im).p_paddr, LOAD_PA);
    set_ph(im, L(im).p_filesz, SEG_FILESZ);
    set_ph(im, L(im).p_memsz, SEG_MEMSZ);
    for (unsigned i = 0; i < SEG_FILESZ; i++)
        im->b[SEG_OFF + i] = (uint8_t)(i * 7 + 1);
    set_mb(im, SEG_OFF, MB_FLAGS);
}

/* One load of a crafted image into a fresh 4 MiB machine. */
struct run {
    struct machine *m;
    struct img im;
    struct boot_entry e;
    char err[256];
};

static int setup(void **state)
{
    struct run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->m = new_machine(4 * MiB);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct run *r = *state;
    free_machine(r->m);
    free(r);
    return 0;
}

static int load(struct run *r, const char *cmdline)
{
    r->err[0] = '\0';
    return multiboot_load_image(r->m, r->im.b, r->im.size, "bad.elf", cmdline,
                                &r->e, r->err, sizeof r->err);
}

static void test_crafted_elf32_and_elf64_load(void **state)
{
    struct run *r = *state;
    struct machine *m = r->m;
    for (int bits = 32; bits <= 64; bits += 32) {
        memset(m->ram, 0xaa, m->ram_size);
        make_elf(&r->im, bits);
        assert_int_equal(load(r, NULL), 0);
        assert_int_equal(r->e.entry, ENTRY);
        assert_memory_equal(m->ram + LOAD_PA, r->im.b + SEG_OFF, SEG_FILESZ);
        /* memsz > filesz: the rest is zeroed, and not a byte more. */
        assert_true(all_bytes(m->ram + LOAD_PA + SEG_FILESZ,
                              SEG_MEMSZ - SEG_FILESZ, 0));
        assert_int_equal(m->ram[LOAD_PA + SEG_MEMSZ], 0xaa);
        assert_int_equal(m->ram[LOAD_PA - 1], 0xaa);
        /* No command line given: just the image name. */
        assert_string_equal(ram_str(m, ram32(m, r->e.info_pa + 16)),
                            "bad.elf");
        assert_int_equal(ram32(m, r->e.info_pa + 20), 0); /* mods_count */
    }
}

/* A BSS of several pages: machine_ram_zero gives its whole host pages
 * back to the kernel (they read as zero) and writes the partial ones. */
static void test_bss_over_whole_pages_is_zeroed(void **state)
{
    struct run *r = *state;
    struct machine *m = r->m;
    enum { BSS_END = 0x3321 }; /* past LOAD_PA, off any page boundary */
    for (int bits = 32; bits <= 64; bits += 32) {
        memset(m->ram, 0xaa, m->ram_size);
        make_elf(&r->im, bits);
        set_ph(&r->im, L(&r->im).p_memsz, BSS_END);
        assert_int_equal(load(r, NULL), 0);
        assert_memory_equal(m->ram + LOAD_PA, r->im.b + SEG_OFF, SEG_FILESZ);
        assert_true(all_bytes(m->ram + LOAD_PA + SEG_FILESZ,
                              BSS_END - SEG_FILESZ, 0));
        assert_int_equal(m->ram[LOAD_PA + BSS_END], 0xaa);
        assert_true(all_bytes(m->ram + LOAD_PA + BSS_END, 0x1000, 0xaa));
    }
}

/* A higher-half kernel: the entry is virtual, and runs at the physical
 * address of the segment holding it. */
static void test_entry_is_translated_through_its_segment(void **state)
{
    struct run *r = *state;
    make_elf(&r->im, 64);
    uint64_t base = 0xffffffff80000000ull + LOAD_PA;
    set_ph(&r->im, F[1].p_vaddr, base);
    set_eh(&r->im, F[1].entry, base + 0x10, 8);
    assert_int_equal(load(r, "a=b"), 0);
    assert_int_equal(r->e.entry, LOAD_PA + 0x10);
    assert_string_equal(ram_str(r->m, ram32(r->m, r->e.info_pa + 16)),
                        "bad.elf a=b");
}

/* Section 3.1.1: the whole header within the first 8192 bytes. */
static void test_header_search_window(void **state)
{
    struct run *r = *state;
    make_elf(&r->im, 32);
    memset(r->im.b + SEG_OFF, 0, 12);
    set_mb(&r->im, 8192 - 12, MB_FLAGS);
    assert_int_equal(load(r, NULL), 0);
    memset(r->im.b + 8192 - 12, 0, 12);
    set_mb(&r->im, 8192 - 8, MB_FLAGS); /* straddles the limit */
    assert_int_equal(load(r, NULL), -1);
    assert_non_null(strstr(r->err, "no multiboot header"));
}

/* --- bad input, one defect per case --- */

static void not_elf(struct img *im) { memcpy(im->b, "MZ\x90\0", 4); }
static void big_endian(struct img *im) { im->b[5] = 2; }
static void truncated_header(struct img *im)
{
    im->size = 40;
    set_mb(im, 20, MB_FLAGS);
}
static void not_exec(struct img *im) { set_eh(im, 16, 3, 2); }
static void other_machine(struct img *im) { set_eh(im, 18, 40, 2); }
static void phdrs_past_end(struct img *im)
{
    set_eh(im, L(im).phoff, IMG_SIZE - 16, L(im).word);
}
static void phoff_wraps(struct img *im)
{
    set_eh(im, L(im).phoff, UINT64_MAX - 15, L(im).word);
}
static void phentsize_small(struct img *im) { set_eh(im, L(im).phentsize, 16, 2); }
static void no_load(struct img *im) { put(im->b + L(im).ehsize, 4, 4); }
static void seg_past_file(struct img *im)
{
    set_ph(im, L(im).p_offset, IMG_SIZE - 0x80);
}
static void seg_offset_wraps(struct img *im)
{
    set_ph(im, L(im).p_offset, UINT64_MAX - 0x10);
}
static void filesz_over_memsz(struct img *im)
{
    set_ph(im, L(im).p_filesz, SEG_MEMSZ + 1);
}
static void seg_past_ram(struct img *im)
{
    set_ph(im, L(im).p_paddr, 4 * MiB - 0x100);
}
static void seg_wraps(struct img *im)
{
    set_ph(im, L(im).p_paddr, UINT64_MAX - 0xff);
}
static void seg_on_info(struct img *im) { set_ph(im, L(im).p_paddr, 0x9000); }
static void entry_outside(struct img *im)
{
    set_eh(im, L(im).entry, LOAD_PA + SEG_MEMSZ, L(im).word);
}
/* A second PT_LOAD, a copy of the first moved up by `shift` bytes. */
static void second_segment(struct img *im, uint64_t shift)
{
    set_eh(im, L(im).phnum, 2, 2);
    uint8_t *ph2 = im->b + L(im).ehsize + L(im).phsize;
    memcpy(ph2, im->b + L(im).ehsize, L(im).phsize);
    put(ph2 + L(im).p_vaddr, LOAD_PA + shift, L(im).word);
    put(ph2 + L(im).p_paddr, LOAD_PA + shift, L(im).word);
}
static void segs_overlap(struct img *im) { second_segment(im, SEG_MEMSZ - 1); }
static void no_magic(struct img *im) { memset(im->b + SEG_OFF, 0, 4); }
static void bad_checksum(struct img *im) { im->b[SEG_OFF + 8] ^= 1; }
static void video_mode(struct img *im) { set_mb(im, SEG_OFF, MB_FLAGS | 4); }
static void unknown_flag(struct img *im) { set_mb(im, SEG_OFF, MB_FLAGS | 0x20); }

static const struct bad_case {
    const char *what;
    void (*mutate)(struct img *);
    const char *expect; /* in the message */
    int only_bits;      /* 0: both classes */
} bad_cases[] = {
    {"not an ELF", not_elf, "not an ELF file", 0},
    {"big-endian", big_endian, "little-endian", 0},
    {"truncated ELF header", truncated_header, "truncated ELF header", 0},
    {"not an executable", not_exec, "not an executable", 0},
    {"another machine", other_machine, "another machine", 0},
    {"program headers past the end", phdrs_past_end,
     "truncated program headers", 0},
    {"program header offset wraps", phoff_wraps, "truncated program headers",
     64},
    {"program header entries too small", phentsize_small, "smaller than", 0},
    {"no PT_LOAD", no_load, "no loadable", 0},
    {"segment outside the file", seg_past_file, "outside the file", 0},
    {"segment offset wraps", seg_offset_wraps, "outside the file", 64},
    {"filesz > memsz", filesz_over_memsz, "exceeds p_memsz", 0},
    {"segment outside RAM", seg_past_ram, "outside RAM", 0},
    {"segment address wraps", seg_wraps, "outside RAM", 64},
    {"segment on the info area", seg_on_info,
     "overlaps the multiboot information area", 0},
    {"entry outside the segments", entry_outside,
     "outside every loaded segment", 0},
    {"overlapping segments", segs_overlap,
     "segments 0 (0x100000-0x100200) and 1 (0x1001ff-0x1003ff) overlap", 0},
    {"no multiboot header", no_magic, "no multiboot header", 0},
    {"bad checksum", bad_checksum, "bad checksum", 0},
    {"video mode requested", video_mode, "video mode", 0},
    {"unknown required flag", unknown_flag, "flags 0x20", 0},
};

static void test_bad_images_are_refused_with_the_reason(void **state)
{
    struct run *r = *state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        for (int bits = 32; bits <= 64; bits += 32) {
            if (c->only_bits && c->only_bits != bits)
                continue;
            make_elf(&r->im, bits);
            c->mutate(&r->im);
            int rc = load(r, NULL);
            if (rc != -1 || strncmp(r->err, "bad.elf: ", 9) != 0 ||
                strstr(r->err, c->expect) == NULL || strchr(r->err, '\n'))
                fail_msg("%s (ELF%d): rc %d, message \"%s\", expected \"%s\"",
                         c->what, bits, rc, r->err, c->expect);
        }
    }
}

/* Segments that touch without sharing a byte are fine. */
static void test_adjacent_segments_load(void **state)
{
    struct run *r = *state;
    for (int bits = 32; bits <= 64; bits += 32) {
        make_elf(&r->im, bits);
        second_segment(&r->im, SEG_MEMSZ);
        assert_int_equal(load(r, NULL), 0);
        assert_memory_equal(r->m->ram + LOAD_PA + SEG_MEMSZ,
                            r->im.b + SEG_OFF, SEG_FILESZ);
    }
}

static void test_ram_below_high_memory_is_refused(void **state)
{
    struct run *r = *state;
    r->m->ram_size = MiB;
    make_elf(&r->im, 32);
    assert_int_equal(load(r, NULL), -1);
    assert_non_null(strstr(r->err, "too small"));
}

static void test_command_line_too_long_for_the_info_area(void **state)
{
    struct run *r = *state;
    make_elf(&r->im, 32);
    size_t n = INFO_AREA_END - INFO_AREA_START;
    char *line = malloc(n + 1);
    memset(line, 'x', n);
    line[n] = '\0';
    assert_int_equal(load(r, line), -1);
    assert_non_null(strstr(r->err, "do not fit"));
    /* One that fits still loads. */
    line[1000] = '\0';
    assert_int_equal(load(r, line), 0);
    assert_int_equal(strlen(ram_str(r->m, ram32(r->m, r->e.info_pa + 16))),
                     strlen("bad.elf ") + 1000);
    free(line);
}

/* --- the a.out kludge (header flag 16, section 3.1.3) --- */

enum { AOUT_SIZE = 0x300, AOUT_HDR = 0x40, AOUT_PA = 0x200000 };

static void make_aout(struct img *im, uint32_t load_end, uint32_t bss_end,
                      uint32_t entry)
{
    memset(im, 0, sizeof *im);
    im->size = AOUT_SIZE;
    for (unsigned i = 0; i < AOUT_SIZE; i++)
        im->b[i] = (uint8_t)(i * 13 + 5);
    set_mb(im, AOUT_HDR, MB_FLAGS | 1u << 16);
    put(im->b + AOUT_HDR + 12, AOUT_PA + AOUT_HDR, 4); /* header_addr */
    put(im->b + AOUT_HDR + 16, AOUT_PA, 4);            /* load_addr */
    put(im->b + AOUT_HDR + 20, load_end, 4);
    put(im->b + AOUT_HDR + 24, bss_end, 4);
    put(im->b + AOUT_HDR + 28, entry, 4);
}

static void test_aout_kludge_loads_by_addresses(void **state)
{
    struct run *r = *state;
    struct machine *m = r->m;
    /* load_end_addr 0: the whole file; bss after it. */
    make_aout(&r->im, 0, AOUT_PA + AOUT_SIZE + 0x100, AOUT_PA + 0x80);
    assert_int_equal(load(r, NULL), 0);
    assert_int_equal(r->e.entry, AOUT_PA + 0x80);
    assert_memory_equal(m->ram + AOUT_PA, r->im.b, AOUT_SIZE);
    assert_true(all_bytes(m->ram + AOUT_PA + AOUT_SIZE, 0x100, 0));
    assert_int_equal(m->ram[AOUT_PA + AOUT_SIZE + 0x100], 0xaa);

    /* Only the first 0x100 bytes, the rest up to bss_end zeroed. */
    memset(m->ram, 0xaa, m->ram_size);
    make_aout(&r->im, AOUT_PA + 0x100, AOUT_PA + 0x180, AOUT_PA + 0x80);
    assert_int_equal(load(r, NULL), 0);
    assert_memory_equal(m->ram + AOUT_PA, r->im.b, 0x100);
    assert_true(all_bytes(m->ram + AOUT_PA + 0x100, 0x80, 0));
    assert_int_equal(m->ram[AOUT_PA + 0x180], 0xaa);
}

static void test_aout_kludge_bad_addresses(void **state)
{
    static const struct {
        uint32_t header_addr, load_end, bss_end, entry;
        size_t size;
        const char *expect;
    } cases[] = {
        {AOUT_PA - 4, 0, 0, AOUT_PA, AOUT_SIZE, "is above header_addr"},
        {AOUT_PA + AOUT_HDR + 0x100, 0, 0, AOUT_PA, AOUT_SIZE,
         "before the file"},
        {AOUT_PA + AOUT_HDR, AOUT_PA + AOUT_SIZE + 1, 0, AOUT_PA, AOUT_SIZE,
         "past the end of the file"},
        {AOUT_PA + AOUT_HDR, AOUT_PA - 1, 0, AOUT_PA, AOUT_SIZE,
         "below load_addr"},
        {AOUT_PA + AOUT_HDR, AOUT_PA + 0x100, AOUT_PA + 0xff, AOUT_PA,
         AOUT_SIZE, "bss_end_addr"},
        {AOUT_PA + AOUT_HDR, 0, 0, AOUT_PA + AOUT_SIZE, AOUT_SIZE,
         "entry point"},
        {AOUT_PA + AOUT_HDR, 0, 5 * MiB, AOUT_PA, AOUT_SIZE, "outside RAM"},
        {AOUT_PA + AOUT_HDR, 0, 0, AOUT_PA, AOUT_HDR + 20, "truncated"},
    };
    struct run *r = *state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_aout(&r->im, cases[i].load_end, cases[i].bss_end,
                  cases[i].entry);
        put(r->im.b + AOUT_HDR + 12, cases[i].header_addr, 4);
        r->im.size = cases[i].size;
        int rc = load(r, NULL);
        if (rc != -1 || strstr(r->err, cases[i].expect) == NULL)
            fail_msg("a.out case %zu: rc %d, message \"%s\", expected \"%s\"",
                     i, rc, r->err, cases[i].expect);
    }
}

/* --- files: real images, modules, unreadable paths --- */

static char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/turtles-mb-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* The image's PT_LOAD segments, as the system's <elf.h> reads them. */
struct seg { uint64_t off, paddr, filesz, memsz; };

/* The same walk over either class's structures. */
#define READ_SEGMENTS(Ehdr, Phdr)                                            \
    do {                                                                    \
        const Ehdr *eh = (const void *)b;                                    \
        *entry = eh->e_entry;                                                \
        for (int i = 0; i < eh->e_phnum; i++) {                              \
            const Phdr *ph = (const void *)(b + eh->e_phoff +                \
                                            i * eh->e_phentsize);            \
            if (ph->p_type == PT_LOAD && n < max)                            \
                segs[n++] = (struct seg){ph->p_offset, ph->p_paddr,          \
                                         ph->p_filesz, ph->p_memsz};         \
        }                                                                    \
    } while (0)

static int read_segments(const uint8_t *b, struct seg *segs, int max,
                         uint64_t *entry)
{
    int n = 0;
    if (b[EI_CLASS] == ELFCLASS64)
        READ_SEGMENTS(Elf64_Ehdr, Elf64_Phdr);
    else
        READ_SEGMENTS(Elf32_Ehdr, Elf32_Phdr);
    return n;
}

struct loaded {
    struct machine *m;
    struct boot_entry e;
    uint64_t image_end;
};

enum { MOD0_LEN = 5000, MOD1_LEN = 10 };

/* Loads a real image with two modules and checks everything the
 * multiboot information says. */
static void load_real(const char *path, struct loaded *out)
{
    size_t len;
    uint8_t *file = read_all(path, &len);
    if (file == NULL)
        skip(); /* `make images` builds it */
    uint8_t mod0[MOD0_LEN], mod1[MOD1_LEN];
    for (size_t i = 0; i < sizeof mod0; i++)
        mod0[i] = (uint8_t)(i ^ (i >> 8));
    memcpy(mod1, "module-one", MOD1_LEN);
    char *p0 = write_temp(mod0, sizeof mod0), *p1 = write_temp(mod1, sizeof mod1);
    const struct boot_module mods[] = {{p0, "role=first n=1"}, {p1, NULL}};
    const struct boot_config cfg = {path, "a=1 b=2", mods, 2};

    struct machine *m = new_machine(64 * MiB);
    char err[256] = "";
    struct boot_entry e;
    if (multiboot_load(m, &cfg, &e, err, sizeof err) != 0)
        fail_msg("%s", err);

    /* Segments: the file's bytes at p_paddr, zeros up to p_memsz. */
    struct seg segs[8];
    uint64_t entry, low = UINT64_MAX, end = 0;
    int n = read_segments(file, segs, 8, &entry);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        assert_memory_equal(m->ram + segs[i].paddr, file + segs[i].off,
                            segs[i].filesz);
        assert_true(all_bytes(m->ram + segs[i].paddr + segs[i].filesz,
                              segs[i].memsz - segs[i].filesz, 0));
        if (segs[i].paddr < low)
            low = segs[i].paddr;
        if (segs[i].paddr + segs[i].memsz > end)
            end = segs[i].paddr + segs[i].memsz;
    }
    assert_int_equal(low, MiB);
    assert_int_equal(e.entry, entry);

    /* The information structure (section 3.3). */
    uint32_t info = e.info_pa;
    assert_in_range(info, INFO_AREA_START, INFO_AREA_END - 116);
    assert_int_equal(ram32(m, info), 1u << 0 | 1u << 2 | 1u << 3 | 1u << 6 |
                                         1u << 9);
    assert_int_equal(ram32(m, info + 4), 639);
    assert_int_equal(ram32(m, info + 8), (64 * MiB - MiB) / 1024);
    char want[512];
    snprintf(want, sizeof want, "%s a=1 b=2", path);
    assert_string_equal(ram_str(m, ram32(m, info + 16)), want);
    assert_string_equal(ram_str(m, ram32(m, info + 64)), "turtles");

    /* The memory map, as QEMU's BIOS reports it. */
    static const struct { uint64_t addr, len; uint32_t type; } map[] = {
        {0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2},
        {0x100000, 63 * MiB, 1},
    };
    uint32_t mmap = ram32(m, info + 48);
    assert_int_equal(ram32(m, info + 44), 4 * 24);
    assert_in_range(mmap, INFO_AREA_START, INFO_AREA_END - 4 * 24);
    for (int i = 0; i < 4; i++) {
        uint32_t at = mmap + 24 * (uint32_t)i;
        assert_int_equal(ram32(m, at), 20);
        assert_int_equal(ram64(m, at + 4), map[i].addr);
        assert_int_equal(ram64(m, at + 12), map[i].len);
        assert_int_equal(ram32(m, at + 20), map[i].type);
    }

    /* Modules: page-aligned, after the image, in order, with strings. */
    assert_int_equal(ram32(m, info + 20), 2);
    uint32_t list = ram32(m, info + 24);
    assert_in_range(list, INFO_AREA_START, INFO_AREA_END - 32);
    uint32_t s0 = ram32(m, list), e0 = ram32(m, list + 4);
    uint32_t s1 = ram32(m, list + 16), e1 = ram32(m, list + 20);
    assert_int_equal(s0 % 4096, 0);
    assert_int_equal(s0, (end + 4095) & ~4095ull);
    assert_int_equal(e0 - s0, MOD0_LEN);
    assert_int_equal(s1, (e0 + 4095) & ~4095u);
    assert_int_equal(e1 - s1, MOD1_LEN);
    assert_memory_equal(m->ram + s0, mod0, MOD0_LEN);
    assert_memory_equal(m->ram + s1, mod1, MOD1_LEN);
    snprintf(want, sizeof want, "%s role=first n=1", p0);
    assert_string_equal(ram_str(m, ram32(m, list + 8)), want);
    assert_string_equal(ram_str(m, ram32(m, list + 24)), p1);

    unlink(p0);
    unlink(p1);
    free(p0);
    free(p1);
    free(file);
    *out = (struct loaded){m, e, end};
}

static void test_real_elf32_image(void **state)
{
    (void)state;
    struct loaded l;
    load_real(IMAGES "hello.elf", &l);
    free_machine(l.m);
}

static void test_real_elf64_image_loads_the_same_bytes(void **state)
{
    (void)state;
    struct loaded a, b;
    load_real(IMAGES "hello.elf", &a);
    load_real(IMAGES "hello.elf64", &b);
    assert_int_equal(a.e.entry, b.e.entry);
    assert_int_equal(a.image_end, b.image_end);
    assert_memory_equal(a.m->ram + MiB, b.m->ram + MiB, a.image_end - MiB);
    free_machine(a.m);
    free_machine(b.m);
}

static void test_unreadable_files(void **state)
{
    (void)state;
    struct machine *m = new_machine(2 * MiB);
    struct boot_entry e;
    char err[256] = "";
    struct boot_config cfg = {"/nonexistent/kernel.elf", NULL, NULL, 0};
    assert_int_equal(multiboot_load(m, &cfg, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/kernel.elf: cannot open"));
    cfg.image_path = "/tmp";
    assert_int_equal(multiboot_load(m, &cfg, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "/tmp: not a regular file"));

    /* A module that is missing, and one too large for RAM. */
    struct img im;
    make_elf(&im, 32);
    char *kernel = write_temp(im.b, im.size);
    uint8_t *big = calloc(1, MiB + 1);
    char *huge = write_temp(big, MiB + 1);
    struct boot_module missing = {"/nonexistent/mod", NULL};
    struct boot_config with = {kernel, NULL, &missing, 1};
    assert_int_equal(multiboot_load(m, &with, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/mod: cannot open"));
    struct boot_module too_big = {huge, NULL};
    with.modules = &too_big;
    assert_int_equal(multiboot_load(m, &with, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not fit in RAM"));
    assert_non_null(strstr(err, huge));
    /* Without the module the same kernel loads from its file. */
    with.module_count = 0;
    assert_int_equal(multiboot_load(m, &with, &e, err, sizeof err), 0);
    assert_int_equal(e.entry, ENTRY);
    unlink(kernel);
    unlink(huge);
    free(kernel);
    free(huge);
    free(big);
    free_machine(m);
}

/* A path too long for the message loses its middle, never the reason. */
static void test_long_paths_keep_the_reason(void **state)
{
    (void)state;
    struct machine *m = new_machine(2 * MiB);
    struct boot_entry e;
    char path[700], err[512] = "";
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    struct boot_config cfg = {path, NULL, NULL, 0};
    assert_int_equal(multiboot_load(m, &cfg, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "...aaa"));
    assert_non_null(strstr(err, ": cannot open: File name too long"));
    assert_true(strlen(err) < 200);
    free_machine(m);
}

/* Checking an image needs no machine, and finds what loading finds. */
static void test_check_file_without_a_machine(void **state)
{
    (void)state;
    struct img im;
    char err[256] = "";
    make_elf(&im, 64);
    char *good = write_temp(im.b, im.size);
    assert_int_equal(multiboot_check_file(good, err, sizeof err), 0);
    segs_overlap(&im);
    char *bad = write_temp(im.b, im.size);
    assert_int_equal(multiboot_check_file(bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "overlap in memory"));
    assert_int_equal(multiboot_check_file("/nonexistent/l2.elf", err,
                                          sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/l2.elf: cannot open"));
    unlink(good);
    unlink(bad);
    free(good);
    free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_crafted_elf32_and_elf64_load),
        T(test_bss_over_whole_pages_is_zeroed),
        T(test_entry_is_translated_through_its_segment),
        T(test_header_search_window),
        T(test_bad_images_are_refused_with_the_reason),
        T(test_adjacent_segments_load),
        T(test_ram_below_high_memory_is_refused),
        T(test_command_line_too_long_for_the_info_area),
        T(test_aout_kludge_loads_by_addresses),
        T(test_aout_kludge_bad_addresses),
        cmocka_unit_test(test_real_elf32_image),
        cmocka_unit_test(test_real_elf64_image_loads_the_same_bytes),
        cmocka_unit_test(test_unreadable_files),
        cmocka_unit_test(test_long_paths_keep_the_reason),
        cmocka_unit_test(test_check_file_without_a_machine),
    };
    return cmocka_run_group_tests_name("multiboot_load", tests, NULL, NULL);
}
