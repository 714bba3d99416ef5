/* EPT12: L2 guest-physical [0, RAM) onto L1's region for L2, read, write
 * and execute, in 2 MiB pages when the CPU has them and 4 KiB pages
 * otherwise. Built once: L2's RAM never moves. Formats: SDM Vol. 3C
 * 29.3.2 (entries) and 25.6.11 (EPTP). Besides RAM only the APIC page is
 * mapped (l1vmm.h); L2 touching anything else is an EPT violation. */
#include "cpu.h"
#include "l1vmm.h"

#define EPT_RWX 0x7ull
#define EPT_LARGE (1ull << 7)
#define EPTP_WALK4 (3ull << 3) /* page-walk length minus one */
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000ull

/* One page directory; 4 KiB pages only for the first 128 MiB. */
enum { RAM_MAX = 1 << 30, RAM_MAX_4K = 128 << 20 };
enum { PAGE = 4096, TABLE = 512 };

static uint64_t pml4[TABLE] __attribute__((aligned(PAGE)));
static uint64_t pdpt[TABLE] __attribute__((aligned(PAGE)));
static uint64_t pd[TABLE] __attribute__((aligned(PAGE)));
static uint64_t pt[RAM_MAX_4K >> 21][TABLE] __attribute__((aligned(PAGE)));
/* The APIC page: PDPT[3] -> a page directory -> a page table. */
static uint64_t apic_pd[TABLE] __attribute__((aligned(PAGE)));
static uint64_t apic_pt[TABLE] __attribute__((aligned(PAGE)));
static uint64_t apic_pt2[TABLE] __attribute__((aligned(PAGE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

int ept_init(void)
{
    uint64_t cap = caps.ept_vpid;
    if (!(cap & EPT_CAP_WALK4) || !(cap & (EPT_CAP_WB | EPT_CAP_UC))) {
        rt_printf("l1vmm: this CPU's EPT lacks 4-level walks or a usable "
                  "memory type (IA32_VMX_EPT_VPID_CAP=%#lx)\n",
                  cap);
        return -1;
    }
    if (l2.ram_bytes > (cap & EPT_CAP_2M ? RAM_MAX : RAM_MAX_4K)) {
        rt_printf("l1vmm: EPT12 maps at most %u MiB of L2 RAM on this CPU\n",
                  (cap & EPT_CAP_2M ? RAM_MAX : RAM_MAX_4K) >> 20);
        return -1;
    }
    /* Write-back unless the CPU offers only uncacheable (A.10); a leaf
     * carries the memory type in bits 5:3. */
    uint64_t type = cap & EPT_CAP_WB ? 6 : 0;
    uint64_t leaf = EPT_RWX | type << 3;

    pml4[0] = pa(pdpt) | EPT_RWX;
    pdpt[0] = pa(pd) | EPT_RWX;
    uint64_t host = pa(l2.ram);
    for (uint64_t i = 0; i < l2.ram_bytes >> 21; i++) {
        if (cap & EPT_CAP_2M) {
            pd[i] = (host + (i << 21)) | leaf | EPT_LARGE;
            continue;
        }
        for (uint64_t j = 0; j < TABLE; j++)
            pt[i][j] = (host + (i << 21) + (j << 12)) | leaf;
        pd[i] = pa(pt[i]) | EPT_RWX;
    }

    /* Read and write, uncacheable (type 0), never executed. */
    uint64_t apic = rdmsr(MSR_APIC_BASE) & PTE_ADDR_MASK;
    pdpt[L2_APIC_PAGE >> 30] = pa(apic_pd) | EPT_RWX;
    apic_pd[(L2_APIC_PAGE >> 21) & 511] = pa(apic_pt) | EPT_RWX;
    apic_pt[(L2_APIC_PAGE >> 12) & 511] = apic | 0x3;
    /* The IOAPIC's page, for a Linux L2 (direct access, linux.c): the
     * same table covers 0xFEC00000. */
    apic_pd[(L2_IOAPIC_PAGE >> 21) & 511] = pa(apic_pt2) | EPT_RWX;
    apic_pt2[(L2_IOAPIC_PAGE >> 12) & 511] = L2_IOAPIC_PAGE | 0x3;

    uint64_t eptp = pa(pml4) | EPTP_WALK4 | type;
    if (vmwrite(EPT_POINTER, eptp) != VMX_OK) {
        diag_vmfail("VMWRITE of the EPT pointer", VMX_FAIL_VALID);
        return -1;
    }
    /* No stale translations for this EPTP may survive from earlier uses
     * of these tables (SDM Vol. 3C 29.4.3.1). */
    if (cap & EPT_CAP_INVEPT) {
        uint64_t kind = cap & EPT_CAP_INVEPT_SINGLE ? 1 : 2;
        if ((kind == 1 || (cap & EPT_CAP_INVEPT_ALL)) &&
            invept(kind, eptp) != VMX_OK) {
            diag_vmfail("INVEPT", VMX_FAIL_VALID);
            return -1;
        }
    }
    return 0;
}
