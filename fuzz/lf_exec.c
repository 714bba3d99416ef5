/* libFuzzer harness: the decoder and the executor (l0/cpu/). The input
 * becomes the code region of a guest-code fuzzer image (fuzz/image.S):
 * byte 0 picks 32-bit protected or 64-bit mode, the rest are the
 * instructions, run on a machine with 2 MiB of RAM for at most 2,000
 * instructions after the image's prologue (a few dozen). Exceptions go
 * to the image's handlers, which resume at the next 16-byte slot. */
#include <string.h>

#include "boot/multiboot_load.h"
#include "cpu/cpu.h"
#include "gen.h"
#include "machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { PROLOGUE_INSNS = 100, CODE_INSNS = 2000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct prog p;
    static uint8_t image[IMAGE_SIZE];
    if (size < 1)
        return 0;
    memset(&p, 0, sizeof p);
    p.mode = data[0] % PROG_MODES;
    p.fault_limit = 32;
    for (unsigned i = 0; i < 16; i++)
        p.regs[i] = IMG_DATA + 0x100 * i;
    p.regs[1] = 8;                  /* RCX: a count for REP and LOOP */
    p.regs[4] = IMG_STACK_TOP - 64; /* RSP */
    memset(p.code, 0x90, sizeof p.code);
    size_t n = size - 1 < sizeof p.code ? size - 1 : sizeof p.code;
    memcpy(p.code, data + 1, n);
    prog_image(&p, image);

    struct machine *m = machine_create(2, NULL);
    if (!m)
        return 0;
    struct boot_entry entry;
    char err[256];
    if (multiboot_load_image(m, image, IMAGE_SIZE, "image", "", &entry, err,
                             sizeof err) == 0) {
        cpu_reset_multiboot(m->cpu, entry.entry, entry.info_pa);
        cpu_run(m->cpu, PROLOGUE_INSNS + CODE_INSNS);
    }
    machine_destroy(m);
    return 0;
}
