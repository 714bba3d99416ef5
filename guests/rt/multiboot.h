/* Multiboot v1 structures (Multiboot Specification 0.6.96, section 3).
 * Addresses in them are physical and 32 bits wide. */
#ifndef RT_MULTIBOOT_H
#define RT_MULTIBOOT_H

#include <stdint.h>

#define MB_HEADER_MAGIC 0x1BADB002u /* in the image's header */
#define MB_BOOT_MAGIC 0x2BADB002u   /* in EAX at entry */

/* Header flags we request. */
#define MB_HEADER_PAGE_ALIGN (1u << 0) /* modules on 4 KiB boundaries */
#define MB_HEADER_MEMINFO (1u << 1)    /* mem_* and mmap_* fields */

/* mb_info.flags: which fields are valid. */
#define MB_INFO_MEMORY (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)
#define MB_INFO_MMAP (1u << 6)

struct mb_info {
    uint32_t flags;
    uint32_t mem_lower; /* KiB below 1 MiB */
    uint32_t mem_upper; /* KiB above 1 MiB, up to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
};

struct mb_module {
    uint32_t mod_start;
    uint32_t mod_end; /* one past the last byte */
    uint32_t string;
    uint32_t reserved;
};

/* One memory-map entry; `size` excludes itself, so the next entry is at
 * (char *)entry + entry->size + 4. */
struct __attribute__((packed)) mb_mmap_entry {
    uint32_t size;
    uint64_t addr;
    uint64_t len;
    uint32_t type; /* 1 = available RAM */
};

#define MB_MMAP_AVAILABLE 1u

#endif
