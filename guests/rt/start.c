/* The first C code: set up the console and the descriptor tables, check
 * what the loader handed over, run main, exit with its status. */
#include "rt.h"

void rt_desc_init(void);
void rt_start(uint32_t magic, uint32_t info_pa);

void rt_start(uint32_t magic, uint32_t info_pa)
{
    static struct rt_boot boot;

    rt_uart_init();
    rt_desc_init();
    if (magic != MB_BOOT_MAGIC) {
        rt_printf("rt: not started by a multiboot loader (eax=%#x)\n", magic);
        rt_exit(RT_EXIT_BAD_BOOT);
    }

    const struct mb_info *info = (const struct mb_info *)(uintptr_t)info_pa;
    boot.info = info;
    boot.cmdline = "";
    if (info->flags & MB_INFO_CMDLINE)
        boot.cmdline = (const char *)(uintptr_t)info->cmdline;
    if (info->flags & MB_INFO_MODS) {
        boot.mods_count = info->mods_count;
        boot.mods = (const struct mb_module *)(uintptr_t)info->mods_addr;
    }
    rt_exit(main(&boot));
}
