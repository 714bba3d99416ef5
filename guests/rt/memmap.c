/* The multiboot memory map (Multiboot 0.6.96 section 3.3, mmap_*). */
#include "rt.h"

uint64_t rt_ram_bytes(const struct rt_boot *boot)
{
    const struct mb_info *info = boot->info;
    if (!(info->flags & MB_INFO_MMAP))
        return info->flags & MB_INFO_MEMORY
                   ? ((uint64_t)info->mem_lower + info->mem_upper) * 1024
                   : 0;
    uint64_t total = 0;
    uintptr_t p = info->mmap_addr, end = p + info->mmap_length;
    while (p + sizeof(struct mb_mmap_entry) <= end) {
        const struct mb_mmap_entry *e = (const struct mb_mmap_entry *)p;
        if (e->type == MB_MMAP_AVAILABLE)
            total += e->len;
        p += e->size + 4;
    }
    return total;
}
