/* The VMCS harnesses' shared base and mutation. */
#include "lf_vmcs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/multiboot_load.h"
#include "cpu/cpu.h"
#include "gen.h"
#include "hv/hv.h"
#include "machine.h"

const struct vmcs *lf_valid_vmcs01(void)
{
    static struct vmcs v01;
    static int ready;
    if (ready)
        return &v01;
    static struct prog p;
    static uint8_t image[IMAGE_SIZE];
    prog_image(&p, image);
    struct machine *m = machine_create(4, NULL);
    struct boot_entry entry;
    char err[256];
    struct hv hv = {0};
    if (!m ||
        multiboot_load_image(m, image, IMAGE_SIZE, "image", "", &entry, err,
                             sizeof err) != 0 ||
        (cpu_reset_multiboot(m->cpu, entry.entry, entry.info_pa),
         hv_init(&hv, m, cost_default(), true, err, sizeof err) != 0)) {
        fprintf(stderr, "lf_vmcs: cannot build vmcs01\n");
        abort();
    }
    v01 = hv.vmcs01;
    hv_destroy(&hv);
    machine_destroy(m);
    ready = 1;
    return &v01;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void lf_mutate_vmcs(struct vmcs *v, const uint8_t *data, size_t size)
{
    static const uint64_t special[] = {
        0, 1, ~0ull, 0x8000000000000000ull, 0x00007fffffffffffull,
        0xffff800000000000ull, 0x0000800000000000ull, 0xfff, 0x1000,
        0xffffffffull, 0x80000000ull, 0x7fffffffffull /* 39 bits */};
    for (; size >= 10; data += 10, size -= 10) {
        enum vmcs_index i = (enum vmcs_index)(data[0] % VMCS_FIELD_COUNT);
        uint64_t x = get64(data + 2), old = vmcs_get(v, i);
        switch (data[1] % 6) {
        case 0: vmcs_set(v, i, x); break;
        case 1: vmcs_set(v, i, old ^ (1ull << (x % 64))); break;
        case 2: vmcs_set(v, i, old | x); break;
        case 3: vmcs_set(v, i, old & x); break;
        case 4: vmcs_set(v, i, special[x % (sizeof special / sizeof *special)]);
                break;
        default: vmcs_set(v, i, old + (x % 16) - 8); break;
        }
    }
}
