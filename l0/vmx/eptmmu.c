/* EPT for the MMU: walks the EPT of the current VMCS for every
 * guest-physical address in VMX non-root operation and turns a failure
 * into the VM exit the architecture prescribes (SDM Vol. 3C 29.3.3). */
#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "machine.h"
#include "vmx/exit_cond.h"
#include "vmx/vmx.h"

/* Structures VMX reads by physical address (EPT tables, bitmaps, VMCS
 * link targets) live in the machine's RAM, or in memory only L0 has
 * (above RAM). Anything else fails: the caller treats it as all ones. */
bool vmx_read_host(void *ctx, uint64_t hpa, void *dst, unsigned len)
{
    struct cpu *c = ctx;
    if (hpa < c->m->ram_size && len <= c->m->ram_size - hpa) {
        phys_read(c, hpa, len, dst);
        return true;
    }
    return c->vmx.l0_read && c->vmx.l0_read(c->vmx.l0_ctx, hpa, dst, len);
}

static bool ept_write(void *ctx, uint64_t hpa, const void *src, unsigned len)
{
    struct cpu *c = ctx;
    if (hpa >= c->m->ram_size || len > c->m->ram_size - hpa)
        return false;
    phys_write(c, hpa, len, src);
    return true;
}

bool vmx_translate_gpa(struct cpu *c, uint64_t gpa, unsigned access,
                       enum ept_origin origin, uint64_t linear,
                       uint64_t *hpa, unsigned *perms)
{
    struct ept_config cfg = c->vmx.ept_cfg;
    cfg.read = vmx_read_host;
    cfg.write = ept_write;
    cfg.ctx = c;
    struct ept_result r;
    ept_walk(&cfg, gpa, (enum ept_access)access, origin, &r);
    c->vmx.ept_walk_refs += r.refs;
    c->walk_refs += r.refs;
    if (r.status == EPT_OK) {
        *hpa = r.hpa;
        *perms = r.perms;
        return true;
    }
    bool violation = r.status == EPT_VIOLATION;
    vmx_request_exit(c, violation ? VMX_EXIT_EPT_VIOLATION
                                  : VMX_EXIT_EPT_MISCONFIG,
                     violation ? r.qualification : 0);
    c->vmx.request.guest_physical = gpa;
    /* Bit 7 of the qualification says the linear address is valid. */
    if (violation && (r.qualification & (1u << 7)))
        c->vmx.request.guest_linear = linear;
    return false;
}
