/* l1vmm: a VMX hypervisor that boots as a multiboot kernel and runs the
 * first multiboot module as its one guest, L2 (docs/l1vmm.md).
 *
 *   l1vmm [paging=ept|shadow] [ram=MIB] [exit-path=lean|kvm]
 *         [interrupts=direct|exit] [exception-bitmap=MASK]
 *                                            (module: the L2 image ARGS)
 *
 * It checks for VMX, derives its controls, loads L2 into a region of its
 * own memory, runs it until it ends, prints the L1STATS block and exits
 * with L2's status. Its own failures exit with status 1, mistakes on its
 * command line (an unknown key, a bad value) with 4 (RT_EXIT_BAD_ARGS). */
#include "cpu.h"
#include "l1vmm.h"

struct l2 l2;

#define MIB ((uint64_t)1 << 20)
#define SIZE_2M (2 * MIB)
enum { DEFAULT_RAM_MIB = 64 };

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* VMX is there and the firmware lets us use it (SDM Vol. 3C 24.6, 24.7):
 * IA32_FEATURE_CONTROL is locked by firmware or, if unlocked, by us. */
static void check_vmx(void)
{
    if (!(cpuid(1, 0).ecx & CPUID1_ECX_VMX))
        rt_panic("l1vmm: VMX not available on this CPU (CPUID.1:ECX.VMX=0)");
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_FEATURE_CONTROL,
              fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    else if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
        rt_panic("l1vmm: VMX is disabled by firmware (IA32_FEATURE_CONTROL "
                 "is locked with VMXON outside SMX off)");
}

struct range {
    uint64_t start, end;
};

/* Memory L2's RAM must not overlap: l1vmm itself and what the loader
 * handed over (modules, their strings, the information structures). */
static unsigned reserved_ranges(const struct rt_boot *boot, struct range *r,
                                unsigned max)
{
    extern char __bss_end[];
    unsigned n = 0;
    r[n++] = (struct range){0, (uint64_t)(uintptr_t)__bss_end};
    r[n++] = (struct range){(uintptr_t)boot->info,
                            (uintptr_t)boot->info + sizeof *boot->info};
    r[n++] = (struct range){boot->info->mmap_addr,
                            boot->info->mmap_addr + boot->info->mmap_length};
    for (uint32_t i = 0; i < boot->mods_count && n + 2 <= max; i++) {
        const struct mb_module *m = &boot->mods[i];
        r[n++] = (struct range){m->mod_start, m->mod_end};
        r[n++] = (struct range){(uintptr_t)&boot->mods[i],
                                (uintptr_t)(&boot->mods[i] + 1)};
    }
    return n;
}

/* The first 2 MiB-aligned stretch of available RAM below 4 GiB (l1vmm's
 * identity map) that is large enough and overlaps nothing reserved. */
static int place_l2_ram(const struct rt_boot *boot, uint64_t bytes)
{
    struct range reserved[40];
    unsigned nres = reserved_ranges(boot, reserved, 40);
    const struct mb_info *info = boot->info;
    if (!(info->flags & MB_INFO_MMAP)) {
        rt_printf("l1vmm: the loader gave no memory map\n");
        return -1;
    }
    for (uintptr_t p = info->mmap_addr;
         p + sizeof(struct mb_mmap_entry) <= info->mmap_addr + info->mmap_length;
         p += ((const struct mb_mmap_entry *)p)->size + 4) {
        const struct mb_mmap_entry *e = (const struct mb_mmap_entry *)p;
        uint64_t end = e->addr + e->len < (4ull << 30) ? e->addr + e->len
                                                        : 4ull << 30;
        if (e->type != MB_MMAP_AVAILABLE)
            continue;
        uint64_t base = align_up(e->addr, SIZE_2M);
        for (unsigned i = 0; i < nres && base + bytes <= end; i++) {
            if (reserved[i].start < base + bytes && base < reserved[i].end) {
                base = align_up(reserved[i].end, SIZE_2M);
                i = (unsigned)-1; /* recheck every range */
            }
        }
        if (base + bytes <= end) {
            l2.ram = (uint8_t *)(uintptr_t)base;
            l2.ram_bytes = bytes;
            return 0;
        }
    }
    rt_printf("l1vmm: no free %lu MiB of RAM below 4 GiB for L2 (the "
              "machine has %lu MiB)\n",
              bytes / MIB, rt_ram_bytes(boot) / MIB);
    return -1;
}


/* The exceptions `exception-bitmap=` may name: those l1vmm gives back to
 * L2 exactly as the CPU would have delivered them. Not #DB (pending debug
 * state), NMI, #PF (CR2 and shadow paging's own use), #MC, nor the
 * reserved vectors. */
#define REFLECTABLE 0x000B3DF9u /* 0, 3-8, 10-13, 16, 17, 19 */

static void set_exception_bitmap(uint64_t mask)
{
    if (mask & ~(uint64_t)REFLECTABLE) {
        rt_printf("PANIC: l1vmm: exception-bitmap=%#lx: l1vmm can intercept "
                  "only vectors 0, 3-8, 10-13, 16, 17 and 19 (mask %#x)\n",
                  mask, REFLECTABLE);
        rt_exit(RT_EXIT_BAD_ARGS);
    }
    vmcs_exception_bitmap = (uint32_t)mask;
}

static int run_l2(void)
{
    while (!l2.done) {
        enum vmx_result r = vmx_enter(&l2.regs, l2.launched);
        if (r != VMX_OK) {
            io_flush();
            diag_vmfail(l2.launched ? "VMRESUME" : "VMLAUNCH", r);
            return -1;
        }
        uint64_t start = rdtsc();
        l2.launched = 1;
        uint32_t reason = exitpath_begin();
        exits_dispatch(reason);
        exitpath_end();
        stats_cycles(reason & 0xFFFF, rdtsc() - start);
    }
    return 0;
}

int main(const struct rt_boot *boot)
{
    static const struct rt_arg args[] = {{"paging", 0, 0, "ept shadow"},
                                         {"ram", 4, 1024, 0},
                                         {"exit-path", 0, 0, "lean kvm"},
                                         {"interrupts", 0, 0, "direct exit"},
                                         {"exception-bitmap", 0, 0xFFFFFFFF, 0}};
    RT_ARGS_REQUIRE(boot, "l1vmm", args);
    char paging[8] = "ept";
    rt_cmdline_get(boot->cmdline, "paging", paging, sizeof paging);
    l2.paging = strcmp(paging, "shadow") ? PAGING_EPT : PAGING_SHADOW;
    char path[8] = "lean", interrupts[8] = "direct";
    rt_cmdline_get(boot->cmdline, "exit-path", path, sizeof path);
    rt_cmdline_get(boot->cmdline, "interrupts", interrupts, sizeof interrupts);
    uint64_t ram_mib = rt_cmdline_u64(boot->cmdline, "ram", DEFAULT_RAM_MIB);
    if (ram_mib % 2) {
        rt_printf("PANIC: l1vmm: ram=%lu: give an even number of MiB\n",
                  ram_mib);
        rt_exit(RT_EXIT_BAD_ARGS);
    }

    set_exception_bitmap(rt_cmdline_u64(boot->cmdline, "exception-bitmap", 0));

    check_vmx();
    if (boot->mods_count == 0)
        rt_panic("l1vmm: no L2 guest: give its image as the first multiboot "
                 "module (GRUB: module /boot/guest.elf ARGS; QEMU: -initrd "
                 "'guest.elf ARGS')");
    if (caps_init(l2.paging) || place_l2_ram(boot, ram_mib * MIB) ||
        irq_init(!strcmp(interrupts, "exit")))
        return RT_EXIT_FAIL;
    exitpath_init(strcmp(path, "kvm") ? EXIT_PATH_LEAN : EXIT_PATH_KVM);
    cpuid_table_init();

    struct l2_image image;
    if (load_l2(boot, &image) || vmcs_init(&image) ||
        (l2.paging == PAGING_EPT ? ept_init() : shadow_init()))
        return RT_EXIT_FAIL;

    rt_printf("l1vmm: paging=%s, exit-path=%s, L2 RAM %lu MiB at %#lx, "
              "L2 entry %#lx\n",
              l2.paging == PAGING_EPT ? "ept" : "shadow", path, ram_mib,
              (uint64_t)(uintptr_t)l2.ram, image.entry);
    io_direct(image.direct_io);
    if (run_l2())
        return RT_EXIT_FAIL;
    io_flush();
    rt_printf("l1vmm: L2 ended with status %d\n", l2.status);
    stats_print();
    return l2.status;
}
