/* KVM as L1 (docs/kvm-l1.md): Debian's kernel with an initramfs that
 * loads kvm-intel and runs kvmrun, booted by L0 through the Linux boot
 * protocol, with the L2 image and its command line added to the initrd
 * as /l2/image and /l2/cmdline. */
#ifndef L0_BOOT_KVM_L1_LOAD_H
#define L0_BOOT_KVM_L1_LOAD_H

#include <stddef.h>

struct machine;
struct cpu_boot_state;

struct kvm_l1_config {
    const char *kernel_path; /* L1's bzImage */
    const char *initrd_path; /* L1's initramfs (guests/kvm-l1) */
    const char *extra_cmdline; /* added to L1's kernel command line */
    const char *l2_path;     /* the multiboot image kvmrun runs */
    const char *l2_cmdline;  /* its command line (after its path) */
};

/* L1's kernel command line before extra_cmdline. */
#define KVM_L1_CMDLINE "console=ttyS0 quiet panic=-1"

/* 0 with *entry filled, or -1 with a one-line reason in err. */
int kvm_l1_load(struct machine *m, const struct kvm_l1_config *cfg,
                struct cpu_boot_state *entry, char *err, size_t err_size);

#endif
