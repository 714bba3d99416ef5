/* L1's memory as L0 reaches it while emulating an instruction of L1:
 * L1-physical addresses are host-physical within L1's RAM (EPT01 maps
 * them one to one), and L1-linear addresses go through L1's own paging,
 * read from vmcs01's guest-state area (SDM Vol. 3A 4.5 for the walk). */
#include "hv/guest_mem.h"

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "machine.h"
#include "vmx/vmcs.h"

#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_U 4ull
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define ADDR_BITS 0x000FFFFFFFFFF000ull

bool gmem_read_phys(struct hv *h, uint64_t gpa, void *dst, size_t len)
{
    if (gpa >= h->m->ram_size || len > h->m->ram_size - gpa)
        return false;
    phys_read(h->c, gpa, (unsigned)len, dst);
    return true;
}

bool gmem_write_phys(struct hv *h, uint64_t gpa, const void *src, size_t len)
{
    if (gpa >= h->m->ram_size || len > h->m->ram_size - gpa)
        return false;
    phys_write(h->c, gpa, (unsigned)len, src);
    return true;
}

/* 4-level paging only (L1 runs VMX instructions in 64-bit mode, where
 * it is the only paging there is) or paging off. */
bool gmem_translate(struct hv *h, uint64_t lin, bool write, uint64_t *gpa,
                    uint32_t *pf_error)
{
    const struct vmcs *v = &h->vmcs01;
    uint64_t cr0 = vmcs_get(v, VMCS_IDX_GUEST_CR0);
    bool user = (vmcs_get(v, VMCS_IDX_GUEST_SS_AR) >> 5 & 3) == 3;
    uint32_t err = (write ? PFEC_W : 0) | (user ? PFEC_U : 0);
    if (!(cr0 & CR0_PG)) {
        *gpa = lin & 0xFFFFFFFF;
        return true;
    }
    if (!(vmcs_get(v, VMCS_IDX_GUEST_EFER) & EFER_LMA)) {
        *pf_error = err; /* not reached by a 64-bit L1 */
        return false;
    }
    uint64_t table = vmcs_get(v, VMCS_IDX_GUEST_CR3) & ADDR_BITS;
    bool writable = true, usable = true;
    for (int shift = 39; shift >= 12; shift -= 9) {
        uint64_t pa = table + ((lin >> shift) & 511) * 8, e = 0;
        if (!gmem_read_phys(h, pa, &e, 8) || !(e & PTE_P)) {
            *pf_error = err;
            return false;
        }
        writable = writable && (e & PTE_W);
        usable = usable && (e & PTE_U);
        bool leaf = shift == 12 || ((e & PTE_PS) && shift <= 30);
        uint64_t set = PTE_A | (leaf && write ? PTE_D : 0);
        if ((e & set) != set) { /* accessed and dirty, as the CPU would */
            e |= set;
            gmem_write_phys(h, pa, &e, 8);
        }
        if (leaf) {
            bool wp = cr0 & CR0_WP;
            if ((user && !usable) || (write && !writable && (user || wp))) {
                *pf_error = err | PFEC_P;
                return false;
            }
            uint64_t size = 1ull << shift;
            *gpa = (e & ADDR_BITS & ~(size - 1)) | (lin & (size - 1));
            return true;
        }
        table = e & ADDR_BITS;
    }
    return false; /* not reached */
}

static bool linear_access(struct hv *h, uint64_t lin, void *buf, size_t len,
                          bool write)
{
    uint8_t *p = buf;
    while (len) {
        size_t chunk = 4096 - (lin & 0xFFF);
        if (chunk > len)
            chunk = len;
        uint64_t gpa;
        uint32_t err;
        bool ok = gmem_translate(h, lin, write, &gpa, &err);
        if (ok)
            ok = write ? gmem_write_phys(h, gpa, p, chunk)
                       : gmem_read_phys(h, gpa, p, chunk);
        else {
            h->c->cr2 = lin; /* L1's CR2: a VM exit does not switch it */
            hv_inject_exception(h, VEC_PF, err);
            return false;
        }
        if (!ok) {
            /* L1-physical memory outside RAM: the operand is garbage. */
            hv_inject_exception(h, VEC_GP, 0);
            return false;
        }
        lin += chunk;
        p += chunk;
        len -= chunk;
    }
    return true;
}

bool gmem_read(struct hv *h, uint64_t lin, void *dst, size_t len)
{
    return linear_access(h, lin, dst, len, false);
}

bool gmem_write(struct hv *h, uint64_t lin, const void *src, size_t len)
{
    return linear_access(h, lin, (void *)src, len, true);
}
