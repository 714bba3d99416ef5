/* The first C code: set up the console and the descriptor tables, check
 * what the loader handed over, run main, exit with its status. */
#include "cpu.h"
#include "rt.h"

void rt_desc_init(void);
void rt_start(uint32_t magic, uint32_t info_pa);

/* The firmware before us (SeaBIOS under QEMU, the Bochs BIOS) leaves the
 * two 8259 PICs programmed in the real-mode way: IRQ 0, the PIT's 18.2 Hz
 * tick, unmasked at vector 8, with the local APIC's LINT0 in ExtINT
 * (virtual wire) mode. A program that sets IF would then take a vector 8
 * without an error code, which its stub reads as a double fault with a
 * shifted frame, whenever a tick happens to fall while IF is set. So every
 * program starts with both PICs masked (OCW1, all 8 bits) and gets
 * interrupts from the local APIC only. (On our emulator the PICs start
 * uninitialized and masked already: docs/platform.md.) */
void rt_mask_pic(void)
{
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
}

void rt_args_require(const struct rt_boot *boot, const char *program,
                     const struct rt_arg *args, size_t count)
{
    char why[200];
    if (rt_args_check(boot->cmdline, args, count, why, sizeof why))
        return;
    rt_printf("PANIC: %s: %s\n", program, why);
    rt_exit(RT_EXIT_BAD_ARGS);
}

void rt_start(uint32_t magic, uint32_t info_pa)
{
    static struct rt_boot boot;

    rt_mask_pic();
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
