/* kvmrun: our KVM userspace for KVM as L1 (docs/kvm-l1.md). One VM, one
 * vCPU, one multiboot image run as L2 in 32-bit protected mode, its UART
 * and exit ports serviced here. */
#ifndef KVMRUN_H
#define KVMRUN_H

#include <stddef.h>
#include <stdint.h>

/* The guest-physical layout a multiboot loader leaves (as l1vmm's,
 * docs/l1vmm.md "L2's memory and start"). */
enum {
    GUEST_GDT = 0x6000,      /* flat code 0x08, data 0x10 */
    GUEST_STACK_TOP = 0x6000, /* the boot stack grows down from here */
    GUEST_MB_INFO = 0x7000,
    GUEST_MB_MMAP = 0x7080,
    GUEST_MB_LOADER_NAME = 0x70F0,
    GUEST_MB_CMDLINE = 0x7100,
    GUEST_MB_CMDLINE_MAX = 0x0F00,
    GUEST_IMAGE_MIN = 0x100000,
    GUEST_CODE_SEL = 0x08,
    GUEST_DATA_SEL = 0x10,
};

struct guest {
    uint8_t *ram;
    uint64_t ram_size;
};

struct loaded {
    uint32_t entry;
};

/* Loads the multiboot ELF `bytes` into guest RAM with its multiboot
 * information (command line `cmdline`). 0, or -1 with a message on
 * stderr. */
int load_multiboot(struct guest *g, const uint8_t *bytes, size_t size,
                   const char *cmdline, struct loaded *out);

/* Prints KVM's statistics of the VM (debugfs, per-VM directory) as
 * KVMSTATS lines; a missing debugfs is said in one line. */
void print_kvm_stats(int vm_fd);

#endif
