/* l1vmm: the L1 hypervisor. One L2 guest, one virtual CPU, one VMCS.
 * This header holds the state the files share and their entry points;
 * docs/l1vmm.md describes the design. */
#ifndef L1VMM_H
#define L1VMM_H

#include <stdint.h>

#include "rt.h"
#include "vmx.h"

enum paging_mode { PAGING_EPT, PAGING_SHADOW };

/* L2's general-purpose registers in the order of the GPR numbers used by
 * exit qualifications and instruction information (SDM Vol. 3C Table
 * 28-3): the handlers index this array by those numbers. The RSP slot is
 * unused; L2's RSP lives in the VMCS. */
enum gpr {
    GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
    GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
};
struct guest_regs {
    uint64_t gpr[16];
};

/* The controls derived from the capability MSRs (caps.c), and
 * MAXPHYADDR (CPUID 0x80000008), read once: a CPUID in L1 exits to L0. */
struct vmx_caps {
    uint64_t basic, misc, ept_vpid;
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint32_t pin, proc, proc2, exit, entry;
    unsigned maxphyaddr;
};

/* Everything l1vmm knows about L2. */
struct l2 {
    enum paging_mode paging;
    uint8_t *ram; /* L2 guest-physical 0 in L1's (identity-mapped) memory */
    uint64_t ram_bytes;
    struct guest_regs regs;
    int launched;

    /* Control-register state L2 believes in. CR0/CR4 bits outside the
     * guest/host masks live only in the VMCS; these copies are updated
     * on every exit that changes a masked bit. */
    uint64_t cr0, cr4, cr3, efer;
    uint64_t cr0_mask, cr4_mask;

    /* The event the current exit interrupted (IDT-vectoring information,
     * SDM Vol. 3C 28.2.4), re-injected unless a handler injects one. */
    uint32_t vectoring_info, vectoring_error, vectoring_length;
    int injected;

    int done;   /* L2 has ended */
    int status; /* its exit status */
};

extern struct l2 l2;
extern struct vmx_caps caps;

/* caps.c */
int caps_init(enum paging_mode mode);

/* vmcs.c; vmcs_exception_bitmap: the exceptions l1vmm intercepts only
 * to give them back to L2 (`exception-bitmap=`, set before vmcs_init). */
extern uint32_t vmcs_exception_bitmap;
struct l2_image;
int vmcs_init(const struct l2_image *image);
uint64_t vmcs_cr0_real(uint64_t visible);
uint64_t vmcs_cr4_real(uint64_t visible);
void vmcs_set_cr0(uint64_t visible);
void vmcs_set_cr4(uint64_t visible);
void vmcs_set_long_mode(int on);

/* entry.S: enters L2 (VMLAUNCH if !launched, else VMRESUME) and returns
 * after the next VM exit with VMX_OK, or the VMfail kind. */
enum vmx_result vmx_enter(struct guest_regs *regs, int launched);

/* L2's low memory, below its image (which load.c keeps at or above
 * 1 MiB): the boot stack (growing down from L2_BOOT_STACK), the boot GDT
 * and the multiboot information with its strings and memory map. */
enum {
    L2_BOOT_STACK = 0x6000,
    L2_BOOT_GDT = 0x6000,
    L2_MB_INFO = 0x7000,
    L2_MB_MMAP = 0x7080,
    L2_MB_LOADER_NAME = 0x70F0,
    L2_MB_CMDLINE = 0x7100,
    L2_MB_CMDLINE_MAX = 0x0F00,
    L2_LOW_END = 0x8000,
    L2_IMAGE_MIN = 0x100000,
};

/* How L2 starts: the entry state of its boot protocol (32-bit protected
 * mode, flat segments with these selectors, paging off) and the
 * registers that protocol names. */
struct l2_image {
    uint64_t entry;
    uint64_t rax, rbx, rsi;
    uint16_t code_sel, data_sel;
    int direct_io; /* L2's ports go to the machine's devices (Linux) */
};

/* load.c: a multiboot image (module 0) and its information in L2 RAM,
 * or, when module 0 is a bzImage, Linux (linux.c). */
int load_l2(const struct rt_boot *boot, struct l2_image *out);

/* linux.c: a bzImage (module 0, its string "PATH CMDLINE") and an initrd
 * (module 1, optional) through the 32-bit boot protocol (bzimage.h,
 * shared with L0's loader). 1 if module 0 is not a bzImage. */
int load_linux(const struct rt_boot *boot, struct l2_image *out);

/* ept.c */
int ept_init(void);

/* L2's paging registers as L2 sees them (exits.c), and L2-linear to a
 * byte of L2's RAM through them (shadow.c): NULL with *pf_error set to
 * the #PF error code, or to L2_NOT_RAM when the tables or the page lie
 * outside L2's RAM or use a paging mode l1vmm does not walk. `access`
 * holds the W and U bits of a #PF error code. */
struct l2_paging {
    uint64_t cr0, cr3, cr4, efer;
};
struct l2_paging l2_paging_now(void);
#define L2_NOT_RAM 0xFFFFFFFFu
uint8_t *l2_linear_byte(const struct l2_paging *pg, uint64_t linear,
                        uint32_t access, uint32_t *pf_error);

/* shadow.c */
int shadow_init(void);
void shadow_mode_changed(void);
void shadow_flush(void);
void shadow_set_cr3(void);
void shadow_page_fault(uint64_t address, uint32_t error);
void shadow_invlpg(uint64_t address);

/* exits.c */
void exits_dispatch(uint32_t reason);
void l2_end(int status, const char *why);
void inject_exception(unsigned vector, int has_error, uint32_t error);

/* io.c */
void io_exit(uint64_t qualification);
void io_console_putc(char c); /* L2's console, forwarded with "[L2] " */
void io_flush(void);
void io_direct(int on); /* forward unemulated ports to the machine */

/* stats.c */
void stats_count(unsigned reason);
void stats_cycles(unsigned reason, uint64_t cycles);
uint64_t stats_total(void);
int stats_cpuid(uint32_t leaf, uint32_t subleaf, struct guest_regs *r);
const char *exit_reason_name(unsigned reason);
void stats_print(void);

/* diag.c: VMX failures in words. */
void diag_vmfail(const char *what, enum vmx_result r);
void diag_entry_failure(uint32_t reason);

/* The one device page L2 gets directly: the local APIC's registers
 * (SDM Vol. 3A 11.4.1), at the same address for L2 as for l1vmm, so that
 * L2 programs the APIC timer and takes its interrupts itself. l1vmm
 * never uses the APIC, and leaves external-interrupt exiting off. */
#define L2_APIC_PAGE 0xFEE00000ull
#define L2_IOAPIC_PAGE 0xFEC00000ull
#define MSR_APIC_BASE 0x1Bu
#define APIC_BASE_ADDR_MASK 0x000FFFFFFFFFF000ull /* its page (SDM 11.4.4) */

/* L2's RAM as seen from L1. NULL when [gpa, gpa+len) is outside it. */
static inline void *l2_ptr(uint64_t gpa, uint64_t len)
{
    if (gpa >= l2.ram_bytes || len > l2.ram_bytes - gpa)
        return 0;
    return l2.ram + gpa;
}

/* exitpath.c: the VMCS fields read at each exit and written before each
 * entry, lean or as KVM 2.6.35 (`exit-path=`). Exit fields are read at
 * most once per exit, through these. */
enum exit_path { EXIT_PATH_LEAN, EXIT_PATH_KVM };
extern enum exit_path exit_path;
void exitpath_init(enum exit_path p);
uint32_t exitpath_begin(void); /* the exit reason field */
void exitpath_end(void);
uint64_t exit_rip(void);
uint32_t exit_instruction_length(void);
uint32_t exit_interruption_info(void);
uint32_t exit_interruptibility(void);
void exit_set_interruptibility(uint32_t v);
void skip_instruction(void); /* RIP past it, STI/MOV-SS blocking ended */

/* cpuid.c: L2's CPUID answered from a table built at start-up. */
void cpuid_table_init(void);
struct cpuid_regs cpuid_table_lookup(uint32_t leaf, uint32_t sub,
                                     uint64_t l2_cr4);
void cpuid_table_apic_enabled(int on);
void cpuid_table_xcr0_changed(void);

/* irq.c: `interrupts=exit`, L2's interrupts through l1vmm. */
extern int irq_forwarding;
int irq_init(int forward);
void irq_on_external_interrupt(void);
void irq_prepare_entry(void);

#endif
