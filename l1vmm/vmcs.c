/* VMXON and the one VMCS: controls from caps.c, host state from the
 * running l1vmm, and L2's first guest state, which is the machine state a
 * multiboot loader hands over (Multiboot 0.6.96 section 3.2): 32-bit
 * protected mode, flat segments, paging off, EAX = magic, EBX = info. */
#include "cpu.h"
#include "l1vmm.h"

#define PAT_POWER_ON 0x0007040600070406ull /* SDM Vol. 3A 13.12.4 */

uint32_t vmcs_exception_bitmap;

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_region[4096] __attribute__((aligned(4096)));

extern char vmx_exit_point[]; /* entry.S */

/* The first failing write names its field: a CPU without a field l1vmm
 * uses is reported instead of running on with a half-built VMCS. */
static int write_failed;
static void put(uint32_t field, uint64_t value)
{
    if (vmwrite(field, value) != VMX_OK && !write_failed) {
        write_failed = 1;
        rt_printf("l1vmm: VMWRITE of VMCS field %#x failed (VM-instruction "
                  "error %lu)\n",
                  field, vmread(VM_INSTRUCTION_ERROR));
    }
}

/* CR0/CR4 bits the CPU fixes in VMX operation (SDM Vol. 3D A.7, A.8).
 * Unrestricted guest lifts the rule for CR0.PE and CR0.PG (Vol. 3C
 * 27.3.1.1); shadow paging keeps CR4.PAE on under L2 in every mode. */
static uint64_t cr0_forced_on(void)
{
    return l2.paging == PAGING_EPT ? caps.cr0_fixed0 & ~(CR0_PE | CR0_PG)
                                   : caps.cr0_fixed0;
}

static uint64_t cr4_forced_on(void)
{
    return caps.cr4_fixed0 | (l2.paging == PAGING_SHADOW ? CR4_PAE : 0);
}

uint64_t vmcs_cr0_real(uint64_t visible)
{
    return (visible | cr0_forced_on()) & caps.cr0_fixed1;
}

uint64_t vmcs_cr4_real(uint64_t visible)
{
    return (visible | cr4_forced_on()) & caps.cr4_fixed1;
}

/* Masked bits are owned by l1vmm: L2 reads them from the read shadow and
 * a write that changes one exits (SDM Vol. 3C 25.6.6). Shadow paging also
 * owns the bits that select L2's paging mode or whose change flushes the
 * TLB (CR4.PGE, SDM Vol. 3A 4.10.4.1), since its tables are that TLB. */
static void init_masks(void)
{
    uint64_t low = 0xFFFFFFFFull;
    l2.cr0_mask = (cr0_forced_on() | ~caps.cr0_fixed1) & low;
    l2.cr4_mask = (cr4_forced_on() | ~caps.cr4_fixed1) & low;
    if (l2.paging == PAGING_SHADOW) {
        l2.cr0_mask |= CR0_PE | CR0_PG;
        l2.cr4_mask |= CR4_PAE | CR4_PSE | CR4_PGE | CR4_PCIDE;
    }
    /* KVM 2.6.35 switched the FPU lazily: while its guest's FPU state
     * was not loaded it owned CR0.TS, so the guest's CLTS and MOV to CR0
     * changing TS exited (Turtles' Figure 6 "CR access"). l1vmm keeps no
     * FPU state of its own: the kvm path owns TS always, and the real
     * TS is L2's (vmcs_cr0_real), so #NM stays L2's own. */
    if (exit_path == EXIT_PATH_KVM)
        l2.cr0_mask |= CR0_TS;
}

void vmcs_set_cr0(uint64_t visible)
{
    l2.cr0 = visible;
    put(CR0_READ_SHADOW, visible);
    put(GUEST_CR0, vmcs_cr0_real(visible));
}

void vmcs_set_cr4(uint64_t visible)
{
    l2.cr4 = visible;
    put(CR4_READ_SHADOW, visible);
    put(GUEST_CR4, vmcs_cr4_real(visible));
}

/* "IA-32e mode guest" must equal the guest's EFER.LMA at VM entry (SDM
 * Vol. 3C 27.3.1.1). */
void vmcs_set_long_mode(int on)
{
    if (on)
        caps.entry |= ENTRY_IA32E_GUEST;
    else
        caps.entry &= ~ENTRY_IA32E_GUEST;
    put(ENTRY_CONTROLS, caps.entry);
}

struct __attribute__((packed)) desc_ptr {
    uint16_t limit;
    uint64_t base;
};

/* Base of the system descriptor `sel` in the GDT (16 bytes in 64-bit
 * mode, SDM Vol. 3A 8.2.3). */
static uint64_t gdt_system_base(const struct desc_ptr *gdt, uint16_t sel)
{
    const uint64_t *d = (const uint64_t *)(uintptr_t)(gdt->base + (sel & ~7u));
    return (d[0] >> 16 & 0xFFFFFF) | (d[0] >> 56 & 0xFF) << 24 | d[1] << 32;
}

#define READ_SEG(reg)                                                         \
    ({                                                                        \
        uint16_t s;                                                           \
        __asm__ volatile("mov %%" #reg ", %0" : "=r"(s));                     \
        s;                                                                    \
    })

/* The state the CPU loads on every VM exit (SDM Vol. 3C 28.5): l1vmm's
 * own, read from the registers. HOST_RSP is written by entry.S. */
static void init_host_state(void)
{
    struct desc_ptr gdt, idt;
    uint16_t tr;
    __asm__ volatile("sgdt %0" : "=m"(gdt));
    __asm__ volatile("sidt %0" : "=m"(idt));
    __asm__ volatile("str %0" : "=r"(tr));

    put(HOST_CR0, read_cr0());
    put(HOST_CR3, read_cr3());
    put(HOST_CR4, read_cr4());
    /* Host selectors must have RPL = TI = 0 (27.2.3). */
    put(HOST_CS_SELECTOR, READ_SEG(cs) & ~7u);
    put(HOST_SS_SELECTOR, READ_SEG(ss) & ~7u);
    put(HOST_DS_SELECTOR, READ_SEG(ds) & ~7u);
    put(HOST_ES_SELECTOR, READ_SEG(es) & ~7u);
    put(HOST_FS_SELECTOR, READ_SEG(fs) & ~7u);
    put(HOST_GS_SELECTOR, READ_SEG(gs) & ~7u);
    put(HOST_TR_SELECTOR, tr & ~7u);
    put(HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    put(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    put(HOST_TR_BASE, gdt_system_base(&gdt, tr));
    put(HOST_GDTR_BASE, gdt.base);
    put(HOST_IDTR_BASE, idt.base);
    put(HOST_SYSENTER_CS, rdmsr(0x174));
    put(HOST_SYSENTER_ESP, rdmsr(0x175));
    put(HOST_SYSENTER_EIP, rdmsr(0x176));
    put(HOST_IA32_EFER, rdmsr(MSR_EFER));
    if (caps.exit & EXIT_LOAD_PAT)
        put(HOST_IA32_PAT, rdmsr(0x277));
    put(HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_point);
}

static void init_controls(void)
{
    put(PIN_BASED_CONTROLS, caps.pin);
    put(PROC_BASED_CONTROLS, caps.proc);
    if (caps.proc & PROC_SECONDARY)
        put(PROC_BASED_CONTROLS2, caps.proc2);
    put(EXIT_CONTROLS, caps.exit);
    put(ENTRY_CONTROLS, caps.entry);
    /* Shadow paging intercepts every #PF: with mask = match = 0 the
     * exception bitmap bit alone decides (SDM Vol. 3C 25.6.3). The
     * exceptions of `exception-bitmap=` exit too and go back to L2. */
    put(EXCEPTION_BITMAP, (l2.paging == PAGING_SHADOW ? 1u << VEC_PF : 0) |
                              vmcs_exception_bitmap);
    put(PAGE_FAULT_ERROR_MASK, 0);
    put(PAGE_FAULT_ERROR_MATCH, 0);
    put(CR3_TARGET_COUNT, 0);
    put(EXIT_MSR_STORE_COUNT, 0);
    put(EXIT_MSR_LOAD_COUNT, 0);
    put(ENTRY_MSR_LOAD_COUNT, 0);
    put(ENTRY_INTERRUPTION_INFO, 0);
    init_masks();
    put(CR0_GUEST_HOST_MASK, l2.cr0_mask);
    put(CR4_GUEST_HOST_MASK, l2.cr4_mask);
}

/* Flat 4 GiB segments as a multiboot loader leaves them (access rights:
 * SDM Vol. 3C 25.4.1; type 0xB code, 0x3 data, S, P, D/B, G). TR must be
 * a usable busy TSS even though L2 never uses it (27.3.1.2). */
static const struct {
    enum seg seg;
    uint16_t selector;
    uint32_t limit, access;
} boot_segments[] = {
    {SEG_CS, 0x08, 0xFFFFFFFF, 0xC09B},
    {SEG_SS, 0x10, 0xFFFFFFFF, 0xC093},
    {SEG_DS, 0x10, 0xFFFFFFFF, 0xC093},
    {SEG_ES, 0x10, 0xFFFFFFFF, 0xC093},
    {SEG_FS, 0x10, 0xFFFFFFFF, 0xC093},
    {SEG_GS, 0x10, 0xFFFFFFFF, 0xC093},
    {SEG_LDTR, 0, 0, SEG_ACCESS_UNUSABLE},
    {SEG_TR, 0, 0x67, 0x8B},
};

/* The descriptors those selectors come from, placed in a GDT in L2 RAM
 * so that a reload of a segment register before L2's own LGDT finds the
 * same: flat 4 GiB execute/read code and read/write data. */
#define BOOT_GDT_CODE 0x00CF9A000000FFFFull
#define BOOT_GDT_DATA 0x00CF92000000FFFFull

static void init_guest_state(const struct l2_image *image)
{
    for (unsigned i = 0; i < sizeof boot_segments / sizeof boot_segments[0];
         i++) {
        enum seg s = boot_segments[i].seg;
        uint16_t sel = s == SEG_CS ? image->code_sel
                       : boot_segments[i].selector ? image->data_sel : 0;
        put(GUEST_SEG_SELECTOR(s), sel);
        put(GUEST_SEG_BASE(s), 0);
        put(GUEST_SEG_LIMIT(s), boot_segments[i].limit);
        put(GUEST_SEG_ACCESS(s), boot_segments[i].access);
    }
    /* The boot GDT has the protocol's code and data descriptors at its
     * selectors (multiboot: 0x08/0x10 by our choice; Linux: __BOOT_CS
     * 0x10 and __BOOT_DS 0x18). */
    uint64_t *gdt = l2_ptr(L2_BOOT_GDT, 4 * sizeof *gdt);
    memset(gdt, 0, 4 * sizeof *gdt);
    gdt[image->code_sel / 8] = BOOT_GDT_CODE;
    gdt[image->data_sel / 8] = BOOT_GDT_DATA;
    put(GUEST_GDTR_BASE, L2_BOOT_GDT);
    put(GUEST_GDTR_LIMIT, 4 * sizeof *gdt - 1);
    put(GUEST_IDTR_BASE, 0);
    put(GUEST_IDTR_LIMIT, 0);

    vmcs_set_cr0(CR0_PE | CR0_ET);
    vmcs_set_cr4(0);
    put(GUEST_CR3, 0);
    l2.cr3 = 0;
    l2.efer = 0;
    put(GUEST_IA32_EFER, 0);
    if (caps.entry & ENTRY_LOAD_PAT)
        put(GUEST_IA32_PAT, PAT_POWER_ON);
    put(GUEST_DR7, 0x400);
    put(GUEST_IA32_DEBUGCTL, 0);
    put(GUEST_RSP, L2_BOOT_STACK);
    put(GUEST_RIP, image->entry);
    put(GUEST_RFLAGS, 0x2); /* IF = 0, VM = 0; bit 1 is reserved as 1 */
    put(GUEST_INTERRUPTIBILITY, 0);
    put(GUEST_ACTIVITY_STATE, 0);
    put(GUEST_PENDING_DEBUG, 0);
    put(GUEST_SYSENTER_CS, 0);
    put(GUEST_SYSENTER_ESP, 0);
    put(GUEST_SYSENTER_EIP, 0);
    put(VMCS_LINK_POINTER, ~0ull); /* no shadow VMCS (27.3.1.5) */

    memset(&l2.regs, 0, sizeof l2.regs);
    l2.regs.gpr[GPR_RAX] = image->rax;
    l2.regs.gpr[GPR_RBX] = image->rbx;
    l2.regs.gpr[GPR_RSI] = image->rsi;
}

/* VMX operation needs CR0 and CR4 within the fixed bits (SDM Vol. 3C
 * 24.8): notably CR0.NE, which our boot path leaves as the firmware set
 * it, and CR4.VMXE. */
static int enter_vmx_operation(void)
{
    write_cr4((read_cr4() | caps.cr4_fixed0) & caps.cr4_fixed1);
    uint64_t cr0 = (read_cr0() | caps.cr0_fixed0) & caps.cr0_fixed1;
    write_cr0(cr0);

    uint32_t revision = (uint32_t)caps.basic & 0x7FFFFFFF; /* A.1 */
    *(uint32_t *)vmxon_region = revision;
    *(uint32_t *)vmcs_region = revision;
    enum vmx_result r = vmxon((uint64_t)(uintptr_t)vmxon_region);
    if (r != VMX_OK) {
        diag_vmfail("VMXON", r);
        return -1;
    }
    r = vmclear((uint64_t)(uintptr_t)vmcs_region);
    if (r == VMX_OK)
        r = vmptrld((uint64_t)(uintptr_t)vmcs_region);
    if (r != VMX_OK) {
        diag_vmfail("VMCLEAR/VMPTRLD", r);
        return -1;
    }
    return 0;
}

int vmcs_init(const struct l2_image *image)
{
    if (enter_vmx_operation())
        return -1;
    init_controls();
    init_host_state();
    init_guest_state(image);
    return write_failed ? -1 : 0;
}
