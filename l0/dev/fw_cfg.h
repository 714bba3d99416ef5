/* QEMU's firmware configuration device, legacy I/O interface: a 16-bit
 * selector written to port 0x510 chooses an item, and byte reads of port
 * 0x511 return its bytes in order (then zeros). No DMA interface: the ID
 * item says so (bit 1 clear), and writes to the data port are ignored.
 *
 * Item numbers are QEMU's (hw/nvram/fw_cfg.h in QEMU; the same list is
 * Linux's include/uapi/linux/qemu_fw_cfg.h). Numbers are little-endian,
 * except the file directory's fields, which are big-endian. */
#ifndef L0_DEV_FW_CFG_H
#define L0_DEV_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

struct machine;
struct fw_cfg;

enum fw_cfg_key {
    FW_CFG_SIGNATURE = 0x00,     /* "QEMU" */
    FW_CFG_ID = 0x01,            /* u32 1: traditional interface only */
    FW_CFG_RAM_SIZE = 0x03,      /* u64 bytes */
    FW_CFG_NB_CPUS = 0x05,       /* u16 */
    FW_CFG_KERNEL_ADDR = 0x07,   /* u32 */
    FW_CFG_KERNEL_SIZE = 0x08,   /* u32: the protected-mode part */
    FW_CFG_KERNEL_CMDLINE = 0x09, /* u32: command line address */
    FW_CFG_INITRD_ADDR = 0x0a,   /* u32 */
    FW_CFG_INITRD_SIZE = 0x0b,   /* u32 */
    FW_CFG_MAX_CPUS = 0x0f,      /* u16 */
    FW_CFG_KERNEL_ENTRY = 0x10,  /* u32 */
    FW_CFG_KERNEL_DATA = 0x11,   /* blob */
    FW_CFG_INITRD_DATA = 0x12,   /* blob */
    FW_CFG_CMDLINE_ADDR = 0x13,  /* u32 */
    FW_CFG_CMDLINE_SIZE = 0x14,  /* u32, including the final NUL */
    FW_CFG_CMDLINE_DATA = 0x15,  /* blob, NUL-terminated */
    FW_CFG_SETUP_ADDR = 0x16,    /* u32 */
    FW_CFG_SETUP_SIZE = 0x17,    /* u32: the real-mode setup part */
    FW_CFG_SETUP_DATA = 0x18,    /* blob */
    FW_CFG_FILE_DIR = 0x19,      /* u32 BE count, then entries: none here */
};

/* Registers ports 0x510-0x511 on m->ports with the signature, ID, RAM
 * size, CPU count (1) and an empty file directory. NULL on failure. */
struct fw_cfg *fw_cfg_create(struct machine *m);
void fw_cfg_destroy(struct fw_cfg *f);

/* For the loader (l0/boot): publishes `size` bytes at `data` (copied) as
 * item `key` of m's fw_cfg device, replacing what was there. For the
 * Linux boot protocol as QEMU publishes it: FW_CFG_KERNEL_SIZE/DATA,
 * FW_CFG_SETUP_SIZE/DATA, FW_CFG_INITRD_SIZE/DATA, FW_CFG_CMDLINE_SIZE/
 * DATA. Returns 0, or -1 (no device, or out of memory). */
int fw_cfg_set_blob(struct machine *m, uint16_t key, const void *data,
                    size_t size);
/* A little-endian 16-, 32- or 64-bit number as item `key`. */
int fw_cfg_set_u16(struct machine *m, uint16_t key, uint16_t value);
int fw_cfg_set_u32(struct machine *m, uint16_t key, uint32_t value);
int fw_cfg_set_u64(struct machine *m, uint16_t key, uint64_t value);

#endif
