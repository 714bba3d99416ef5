#include "gdb/memory.h"

#include <string.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "machine.h"
#include "vmx/ept.h"
#include "vmx/vmx.h"

#define PHYS_MASK ((1ull << PHYS_ADDR_BITS) - 1)
#define PTE_P (1ull << 0)
#define PTE_PS (1ull << 7)

/* The EPT walk may set accessed flags (EPTP bit 6): a debugger's look
 * must not, so its writes go nowhere. */
static bool no_write(void *ctx, uint64_t hpa, const void *src, unsigned len)
{
    (void)ctx, (void)hpa, (void)src, (void)len;
    return false;
}

/* Guest-physical to RAM address: through the EPT in non-root operation
 * with EPT (SDM Vol. 3C 29.3), the identity otherwise. */
static bool guest_to_ram(struct cpu *c, uint64_t gpa, uint64_t *pa)
{
    uint64_t hpa = gpa;
    if (c->vmx.nonroot && c->vmx.ept) {
        struct ept_config cfg = c->vmx.ept_cfg;
        cfg.read = vmx_read_host;
        cfg.write = no_write;
        cfg.ctx = c;
        struct ept_result r;
        ept_walk(&cfg, gpa, EPT_ACCESS_READ, EPT_ORIGIN_LINEAR, &r);
        if (r.status != EPT_OK)
            return false;
        hpa = r.hpa;
    }
    if (hpa >= c->m->ram_size)
        return false;
    *pa = hpa;
    return true;
}

static bool read_entry(struct cpu *c, uint64_t gpa, unsigned size,
                       uint64_t *entry)
{
    uint64_t pa;
    if (!guest_to_ram(c, gpa, &pa) || size > c->m->ram_size - pa)
        return false;
    *entry = 0;
    memcpy(entry, c->m->ram + pa, size);
    return true;
}

/* The page walk of SDM Vol. 3A 4.3 (32-bit), 4.4 (PAE) and 4.5 (4-level)
 * for presence and page size only: a debugger reads what the tables map,
 * whatever the access rights. Reserved bits are not checked. */
bool gdb_mem_translate(struct cpu *c, uint64_t lin, uint64_t *ram_pa)
{
    if (!c->long_mode && lin > 0xFFFFFFFFull)
        return false; /* no such linear address outside IA-32e mode */
    if (!(c->cr0 & CR0_PG))
        return guest_to_ram(c, lin, ram_pa);
    int level, shift;
    unsigned entry_size = 8;
    uint64_t table;
    if (c->long_mode) {
        level = 4;
        shift = 39;
        table = c->cr3 & PHYS_MASK & ~0xFFFull;
    } else if (c->cr4 & CR4_PAE) {
        level = 3;
        shift = 30;
        table = c->cr3 & 0xFFFFFFE0ull;
    } else {
        level = 2;
        shift = 22;
        table = c->cr3 & 0xFFFFF000ull;
        entry_size = 4;
    }
    bool pae = level == 3;
    for (; level >= 1; level--) {
        unsigned index_bits = entry_size == 8 ? 9 : 10;
        if (pae && level == 3)
            index_bits = 2;
        uint64_t index = (lin >> shift) & ((1ull << index_bits) - 1);
        uint64_t e;
        if (!read_entry(c, table + index * entry_size, entry_size, &e) ||
            !(e & PTE_P))
            return false;
        bool large = level > 1 && !(pae && level == 3) && (e & PTE_PS) &&
                     (entry_size == 8 || (c->cr4 & CR4_PSE));
        uint64_t frame = entry_size == 8 ? e & PHYS_MASK : e & 0xFFFFFFFFull;
        if (large || level == 1) {
            uint64_t size = 1ull << shift;
            return guest_to_ram(c, (frame & ~(size - 1)) | (lin & (size - 1)),
                                ram_pa);
        }
        table = frame & ~0xFFFull;
        shift -= index_bits == 2 ? 9 : (int)index_bits;
    }
    return false;
}

/* The part of [lin, lin + len) within lin's 4 KiB page. */
static size_t in_page(uint64_t lin, size_t len)
{
    size_t room = 0x1000 - (lin & 0xFFF);
    return len < room ? len : room;
}

/* Page by page, up to the first page that is not RAM. */
static size_t copy(struct cpu *c, uint64_t lin, uint8_t *buf, size_t len,
                   bool write)
{
    size_t done = 0;
    while (done < len) {
        uint64_t pa;
        size_t n = in_page(lin + done, len - done);
        if (!gdb_mem_translate(c, lin + done, &pa) ||
            n > c->m->ram_size - pa)
            break;
        if (write)
            phys_write(c, pa, (unsigned)n, buf + done); /* drops code */
        else
            memcpy(buf + done, c->m->ram + pa, n);
        done += n;
    }
    return done;
}

size_t gdb_mem_read(struct cpu *c, uint64_t lin, uint8_t *buf, size_t len)
{
    return copy(c, lin, buf, len, false);
}

size_t gdb_mem_write(struct cpu *c, uint64_t lin, const uint8_t *buf,
                     size_t len)
{
    return copy(c, lin, (uint8_t *)buf, len, true);
}
