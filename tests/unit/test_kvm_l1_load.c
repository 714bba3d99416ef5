/* l0/boot/initrd_files.c and kvm_l1_load.c: the archive that carries the
 * L2 image to KVM-as-L1, byte for byte against the newc format written
 * out by hand (Documentation/driver-api/early-userspace/buffer-format.rst),
 * and Debian's kernel (build/linux/vmlinuz) loaded with an initrd to
 * which that archive is appended at a 4-byte boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/initrd_files.h"
#include "boot/kvm_l1_load.h"
#include "cpu/cpu.h"
#include "machine.h"

static void test_archive_bytes(void **state)
{
    (void)state;
    const struct initrd_file files[] = {
        {"l2", NULL, 0},
        {"l2/x", (const uint8_t *)"abc", 3},
    };
    size_t size = 0;
    uint8_t *a = initrd_files_archive(files, 2, &size);
    assert_non_null(a);
    /* A directory (mode 040755, two links), its name "l2\0" and one
     * byte of padding to 4; then a file (0100644) of 3 bytes padded to
     * 4; then the trailer, its 11-byte name padded from 121 to 124. */
    static const char dir[] =
        "070701" "00000001" "000041ED" "00000000" "00000000" "00000002"
        "00000000" "00000000" "00000000" "00000000" "00000000" "00000000"
        "00000003" "00000000" "l2\0\0";
    static const char file[] =
        "070701" "00000002" "000081A4" "00000000" "00000000" "00000001"
        "00000000" "00000003" "00000000" "00000000" "00000000" "00000000"
        "00000005" "00000000" "l2/x\0\0" "abc\0";
    static const char trailer[] =
        "070701" "00000000" "00000000" "00000000" "00000000" "00000001"
        "00000000" "00000000" "00000000" "00000000" "00000000" "00000000"
        "0000000B" "00000000" "TRAILER!!!\0\0\0";
    assert_int_equal(size, 116 + 120 + 124);
    assert_memory_equal(a, dir, 116);
    assert_memory_equal(a + 116, file, 120);
    assert_memory_equal(a + 236, trailer, 124);
    free(a);
}

static const char *write_temp(char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
    return path;
}

static uint64_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void test_l2_image_appended_to_initrd(void **state)
{
    (void)state;
    FILE *k = fopen("build/linux/vmlinuz", "rb");
    FILE *img = fopen("build/images/hello.elf", "rb");
    if (!k || !img) {
        if (k) fclose(k);
        if (img) fclose(img);
        skip(); /* `make linux` and the images are not built */
    }
    fclose(k);
    static uint8_t image[4 << 20];
    size_t image_size = fread(image, 1, sizeof image, img);
    assert_true(image_size < sizeof image);
    fclose(img);
    char initrd_path[] = "/tmp/test_kvm_l1_initrdXXXXXX";
    int fd = mkstemp(initrd_path);
    assert_true(fd >= 0);
    write_temp(initrd_path, "12345", 5);
    struct machine *m = calloc(1, sizeof *m);
    m->ram_size = 256u << 20;
    m->ram = calloc(1, m->ram_size);
    struct kvm_l1_config cfg = {"build/linux/vmlinuz", initrd_path,
                                "kvm_intel.nested=0", "build/images/hello.elf",
                                "iters=3"};
    struct cpu_boot_state entry;
    char err[400] = "";
    assert_int_equal(kvm_l1_load(m, &cfg, &entry, err, sizeof err), 0);
    const uint8_t *zp = m->ram + entry.esi;
    assert_string_equal((const char *)m->ram + get32(zp + 0x228),
                        "console=ttyS0 quiet panic=-1 kvm_intel.nested=0");
    const uint8_t *rd = m->ram + get32(zp + 0x218);
    uint32_t rd_size = (uint32_t)get32(zp + 0x21C);
    /* The file, three zero bytes to the boundary, the second archive:
     * the directory (116 bytes), then l2/image's header and name. */
    assert_memory_equal(rd, "12345\0\0\0", 8);
    assert_memory_equal(rd + 8, "070701", 6);
    assert_memory_equal(rd + 8 + 110, "l2\0", 3);
    const uint8_t *f = rd + 8 + 116;
    assert_memory_equal(f + 110, "l2/image\0", 9);
    char hex[9];
    snprintf(hex, sizeof hex, "%08zX", image_size);
    assert_memory_equal(f + 54, hex, 8);      /* filesize */
    assert_memory_equal(f + 120, image, image_size); /* 110 + 9 -> 120 */
    const uint8_t *c = f + 120 + ((image_size + 3) & ~(size_t)3);
    assert_memory_equal(c + 110, "l2/cmdline\0", 11);
    assert_memory_equal(c + 124, "iters=3", 7);
    assert_true(rd_size % 4 == 0 && rd_size > 8 + 116 + 120 + image_size);

    /* A bzImage is not a multiboot L2 image: a load error that says so. */
    cfg.l2_path = "build/linux/vmlinuz";
    assert_int_equal(kvm_l1_load(m, &cfg, &entry, err, sizeof err), -1);
    assert_non_null(strstr(err, "build/linux/vmlinuz"));
    remove(initrd_path);
    free(m->ram);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive_bytes),
        cmocka_unit_test(test_l2_image_appended_to_initrd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
