/* kvmrun [--ram MIB] IMAGE [ARGS]: runs the multiboot image IMAGE under
 * KVM (/dev/kvm) as the one guest of one VM with one vCPU, and exits with
 * the status the guest writes to isa-debug-exit (docs/kvm-l1.md).
 *
 * The ioctl sequence is the KVM API's (Documentation/virt/kvm/api.rst):
 * create the VM, its in-kernel interrupt controllers, one memory slot,
 * the vCPU with the CPUID KVM supports, the registers a multiboot loader
 * leaves, then KVM_RUN until the guest ends. The guest's UART and exit
 * ports are serviced here, as l1vmm services them (l1vmm/io.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guests/rt/multiboot.h"
#include "kvmrun/kvmrun.h"

enum { STATUS_FAIL = 1, STATUS_USAGE = 4 };

static int die(const char *what)
{
    fprintf(stderr, "kvmrun: %s: %s\n", what, strerror(errno));
    exit(STATUS_FAIL);
}

/* ---- the guest's ports ---------------------------------------------- */

struct ports {
    char line[2048]; /* the guest's UART output, forwarded per line */
    unsigned line_len;
    uint8_t uart_lcr;
    unsigned shutdown_matched;
    int done, status;
};

static void flush_line(struct ports *p)
{
    printf("[L2] %.*s\n", (int)p->line_len, p->line);
    fflush(stdout);
    p->line_len = 0;
}

static void uart_putc(struct ports *p, char c)
{
    if (c == '\r')
        return;
    if (c == '\n') {
        flush_line(p);
        return;
    }
    p->line[p->line_len++] = c;
    if (p->line_len == sizeof p->line)
        flush_line(p);
}

/* A 16550 at 0x3F8 that is always ready to send (LSR bits 5 and 6). */
static uint32_t port_in(struct ports *p, uint16_t port)
{
    switch (port) {
    case 0x3FD: return 0x60;
    case 0x3FA: return 0x01; /* IIR: no interrupt pending */
    case 0x3FB: return p->uart_lcr;
    }
    if (port >= 0x3F8 && port <= 0x3FF)
        return 0;
    if (port >= 0xF4 && port <= 0xF7)
        return 0; /* isa-debug-exit reads 0, as QEMU's */
    return 0xFFFFFFFF; /* an empty ISA bus */
}

static void port_out(struct ports *p, uint16_t port, uint32_t v)
{
    static const char word[] = "Shutdown";
    if (port == 0x3FB)
        p->uart_lcr = (uint8_t)v;
    else if (port == 0x3F8 && !(p->uart_lcr & 0x80)) /* not the divisor */
        uart_putc(p, (char)v);
    else if (port >= 0xF4 && port <= 0xF7) {
        p->done = 1;
        p->status = (int)v;
    } else if (port == 0x8900) {
        unsigned *m = &p->shutdown_matched;
        *m = (char)v == word[*m] ? *m + 1 : (char)v == word[0];
        if (*m == sizeof word - 1) {
            p->done = 1;
            p->status = 0;
        }
    }
}

/* KVM_EXIT_IO: `count` elements of `size` bytes at data_offset in the
 * run structure (a REP INS/OUTS gives several). */
static void io_exit(struct ports *p, struct kvm_run *run)
{
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    for (uint32_t k = 0; k < run->io.count && !p->done; k++) {
        uint8_t *el = data + (size_t)k * run->io.size;
        uint32_t v = 0;
        if (run->io.direction == KVM_EXIT_IO_IN) {
            v = port_in(p, run->io.port);
            memcpy(el, &v, run->io.size);
        } else {
            memcpy(&v, el, run->io.size);
            port_out(p, run->io.port, v);
        }
    }
}

/* ---- the VM ---------------------------------------------------------- */

struct vm {
    int kvm, fd, vcpu;
    struct kvm_run *run;
    struct guest g;
};

static void create_vm(struct vm *vm, uint64_t ram_size)
{
    if ((vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
        die("open /dev/kvm");
    if (ioctl(vm->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        fprintf(stderr, "kvmrun: KVM API version is not %d\n",
                KVM_API_VERSION);
        exit(STATUS_FAIL);
    }
    if ((vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0)) < 0)
        die("KVM_CREATE_VM");
    /* Three pages below 4 GiB for the real-mode TSS KVM may need (Intel,
     * without unrestricted guest), out of the guest's RAM. */
    if (ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xFFFBD000ul) < 0)
        die("KVM_SET_TSS_ADDR");
    /* PIC, IOAPIC and local APICs in the kernel: the guests use the
     * local APIC (timer, NMIs, self-IPIs). */
    if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
        die("KVM_CREATE_IRQCHIP");
    vm->g.ram_size = ram_size;
    vm->g.ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->g.ram == MAP_FAILED)
        die("mmap guest RAM");
    struct kvm_userspace_memory_region slot = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = ram_size,
        .userspace_addr = (uint64_t)(uintptr_t)vm->g.ram};
    if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    if ((vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0)) < 0)
        die("KVM_CREATE_VCPU");
    int run_size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof *vm->run)
        die("KVM_GET_VCPU_MMAP_SIZE");
    vm->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
                   MAP_SHARED, vm->vcpu, 0);
    if (vm->run == MAP_FAILED)
        die("mmap kvm_run");
}

/* The guest sees what KVM supports of this CPU. */
static void set_cpuid(struct vm *vm)
{
    enum { MAX_ENTRIES = 128 };
    struct kvm_cpuid2 *c = calloc(1, sizeof *c + MAX_ENTRIES *
                                              sizeof(struct kvm_cpuid_entry2));
    if (!c)
        die("calloc");
    c->nent = MAX_ENTRIES;
    if (ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, c) < 0)
        die("KVM_GET_SUPPORTED_CPUID");
    if (ioctl(vm->vcpu, KVM_SET_CPUID2, c) < 0)
        die("KVM_SET_CPUID2");
    free(c);
}

/* The state a multiboot loader leaves (Multiboot 0.6.96 section 3.2):
 * 32-bit protected mode, paging off, flat segments, interrupts off,
 * EAX the magic, EBX the information structure. */
static void set_boot_state(struct vm *vm, uint32_t entry)
{
    struct kvm_sregs s;
    if (ioctl(vm->vcpu, KVM_GET_SREGS, &s) < 0)
        die("KVM_GET_SREGS");
    struct kvm_segment code = {
        .base = 0, .limit = 0xFFFFFFFF, .selector = GUEST_CODE_SEL,
        .type = 0xB, .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0,
        .g = 1};
    struct kvm_segment data = code;
    data.selector = GUEST_DATA_SEL;
    data.type = 0x3;
    s.cs = code;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.gdt.base = GUEST_GDT;
    s.gdt.limit = 3 * 8 - 1;
    s.cr0 = 0x11; /* PE, ET */
    s.cr4 = 0;
    s.efer = 0;
    if (ioctl(vm->vcpu, KVM_SET_SREGS, &s) < 0)
        die("KVM_SET_SREGS");
    struct kvm_regs r = {.rip = entry, .rax = MB_BOOT_MAGIC,
                         .rbx = GUEST_MB_INFO, .rsp = GUEST_STACK_TOP,
                         .rflags = 0x2};
    if (ioctl(vm->vcpu, KVM_SET_REGS, &r) < 0)
        die("KVM_SET_REGS");
}

/* ---- the run --------------------------------------------------------- */

/* KVM's exit reasons to userspace (linux/kvm.h), for the statistics. */
static const char *const exit_names[] = {
    [KVM_EXIT_UNKNOWN] = "UNKNOWN", [KVM_EXIT_EXCEPTION] = "EXCEPTION",
    [KVM_EXIT_IO] = "IO", [KVM_EXIT_HYPERCALL] = "HYPERCALL",
    [KVM_EXIT_DEBUG] = "DEBUG", [KVM_EXIT_HLT] = "HLT",
    [KVM_EXIT_MMIO] = "MMIO", [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
    [KVM_EXIT_SHUTDOWN] = "SHUTDOWN", [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
    [KVM_EXIT_INTR] = "INTR", [KVM_EXIT_SET_TPR] = "SET_TPR",
    [KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
    [KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
};
enum { EXIT_NAMES = sizeof exit_names / sizeof *exit_names };

/* KVM_RUN until the guest ends; its status, or STATUS_FAIL with a
 * message when KVM cannot go on. */
static int run_guest(struct vm *vm, struct ports *p, uint64_t *counts)
{
    struct kvm_run *run = vm->run;
    while (!p->done) {
        if (ioctl(vm->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die("KVM_RUN");
        }
        counts[run->exit_reason < EXIT_NAMES ? run->exit_reason : 0]++;
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            io_exit(p, run);
            break;
        case KVM_EXIT_MMIO: /* nothing but RAM: reads all ones */
            if (!run->mmio.is_write)
                memset(run->mmio.data, 0xFF, sizeof run->mmio.data);
            break;
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_SHUTDOWN:
            fprintf(stderr, "kvmrun: the guest shut down (triple fault)\n");
            return STATUS_FAIL;
        case KVM_EXIT_FAIL_ENTRY:
            fprintf(stderr, "kvmrun: VM entry failed, hardware reason %#llx\n",
                    (unsigned long long)
                        run->fail_entry.hardware_entry_failure_reason);
            return STATUS_FAIL;
        case KVM_EXIT_INTERNAL_ERROR:
            fprintf(stderr, "kvmrun: KVM internal error, suberror %u\n",
                    run->internal.suberror);
            return STATUS_FAIL;
        default:
            fprintf(stderr, "kvmrun: unexpected exit %u (%s)\n",
                    run->exit_reason,
                    run->exit_reason < EXIT_NAMES &&
                            exit_names[run->exit_reason]
                        ? exit_names[run->exit_reason] : "?");
            return STATUS_FAIL;
        }
    }
    if (p->line_len)
        flush_line(p);
    return p->status;
}

static uint8_t *read_image(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        die(path);
    uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!b || read(fd, b, (size_t)st.st_size) != st.st_size)
        die(path);
    close(fd);
    *size = (size_t)st.st_size;
    return b;
}

static int usage(void)
{
    fprintf(stderr, "usage: kvmrun [--ram MIB] IMAGE [ARGS]\n"
                    "  --ram MIB  guest RAM, 4 to 1024 MiB (default 64)\n");
    return STATUS_USAGE;
}

int main(int argc, char **argv)
{
    unsigned long ram_mib = 64;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--ram") == 0) {
        char *end;
        ram_mib = strtoul(argv[a + 1], &end, 10);
        if (*end || ram_mib < 4 || ram_mib > 1024)
            return usage();
        a += 2;
    }
    if (a >= argc || argc - a > 2)
        return usage();
    const char *image = argv[a], *args = a + 1 < argc ? argv[a + 1] : "";
    /* The guest's command line is "PATH ARGS", as GRUB and l1vmm give it. */
    char cmdline[GUEST_MB_CMDLINE_MAX + 1];
    snprintf(cmdline, sizeof cmdline, "%s%s%s", image, *args ? " " : "",
             args);

    struct vm vm;
    create_vm(&vm, (uint64_t)ram_mib << 20);
    size_t size;
    uint8_t *bytes = read_image(image, &size);
    struct loaded l;
    if (load_multiboot(&vm.g, bytes, size, cmdline, &l) != 0)
        return STATUS_FAIL;
    free(bytes);
    set_cpuid(&vm);
    set_boot_state(&vm, l.entry);
    printf("kvmrun: running %s (%lu MiB) under KVM\n", image, ram_mib);
    fflush(stdout);

    struct ports ports = {0};
    uint64_t counts[EXIT_NAMES] = {0};
    int status = run_guest(&vm, &ports, counts);
    printf("KVMSTATS begin l2_status=%d\n", status);
    for (unsigned k = 0; k < EXIT_NAMES; k++)
        if (counts[k])
            printf("KVMSTATS userspace_exit=%s count=%llu\n", exit_names[k],
                   (unsigned long long)counts[k]);
    print_kvm_stats(vm.fd);
    printf("KVMSTATS end\n");
    return status;
}
