/* See kvm_l1_load.h. */
#include "boot/kvm_l1_load.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/initrd_files.h"
#include "boot/linux_load.h"
#include "boot/multiboot_load.h"
#include "read_file.h"

int kvm_l1_load(struct machine *m, const struct kvm_l1_config *cfg,
                struct cpu_boot_state *entry, char *err, size_t err_size)
{
    /* A bad L2 image is a load error here, not a failure inside L1. */
    if (multiboot_check_file(cfg->l2_path, err, err_size) != 0)
        return -1;
    size_t image_size;
    char why[128];
    uint8_t *image = read_file(cfg->l2_path, UINT32_MAX, &image_size, why,
                               sizeof why);
    if (!image) {
        snprintf(err, err_size, "%s: %s", cfg->l2_path, why);
        return -1;
    }
    const char *l2_cmdline = cfg->l2_cmdline ? cfg->l2_cmdline : "";
    const struct initrd_file files[] = {
        {"l2", NULL, 0},
        {"l2/image", image, image_size},
        {"l2/cmdline", (const uint8_t *)l2_cmdline, strlen(l2_cmdline)},
    };
    size_t extra_size;
    uint8_t *extra = initrd_files_archive(files, 3, &extra_size);
    char *cmdline = malloc(sizeof KVM_L1_CMDLINE + 1 +
                           strlen(cfg->extra_cmdline ? cfg->extra_cmdline
                                                     : ""));
    int rc = -1;
    if (!extra || !cmdline) {
        snprintf(err, err_size, "out of memory");
    } else {
        sprintf(cmdline, "%s%s%s", KVM_L1_CMDLINE,
                cfg->extra_cmdline && *cfg->extra_cmdline ? " " : "",
                cfg->extra_cmdline ? cfg->extra_cmdline : "");
        struct linux_config lc = {cfg->kernel_path, cfg->initrd_path, cmdline,
                                  extra, extra_size};
        rc = linux_load(m, &lc, entry, err, err_size);
    }
    free(cmdline);
    free(extra);
    free(image);
    return rc;
}
