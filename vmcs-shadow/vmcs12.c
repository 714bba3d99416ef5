/* vmcs12 in L1's memory, and the set of fields L1 dirtied. */
#include "vmcs-shadow/vmcs12.h"

#include <string.h>

enum vmcs12_status vmcs12_read(struct vmcs *v12, const struct vmcs12_mem *m,
                               uint64_t gpa)
{
    uint8_t region[VMCS_REGION_SIZE];
    if (!m->read(m->ctx, gpa, region, sizeof region)) {
        vmcs_init(v12, 0);
        return VMCS12_UNREADABLE;
    }
    return vmcs_load(v12, region) ? VMCS12_OK : VMCS12_BAD_REVISION;
}

bool vmcs12_write(const struct vmcs *v12, const struct vmcs12_mem *m,
                  uint64_t gpa)
{
    uint8_t region[VMCS_REGION_SIZE];
    vmcs_store(v12, region);
    return m->write(m->ctx, gpa, region, sizeof region);
}

void vmcs12_dirty_clear(uint64_t *dirty)
{
    memset(dirty, 0, VMCS12_DIRTY_WORDS * sizeof *dirty);
}

void vmcs12_dirty_all(uint64_t *dirty)
{
    for (unsigned w = 0; w < VMCS12_DIRTY_WORDS; w++) {
        unsigned bits = VMCS_FIELD_COUNT - 64 * w;
        dirty[w] = bits >= 64 ? ~0ull : (1ull << bits) - 1;
    }
}

unsigned vmcs12_dirty_count(const uint64_t *dirty)
{
    unsigned n = 0;
    for (unsigned w = 0; w < VMCS12_DIRTY_WORDS; w++)
        n += (unsigned)__builtin_popcountll(dirty[w]);
    return n;
}

enum vmcs_status vmcs12_vmwrite(struct vmcs *v12, uint64_t *dirty,
                                uint64_t encoding, uint64_t value,
                                bool exit_info_writable)
{
    enum vmcs_status st = vmcs_write(v12, encoding, value, exit_info_writable);
    if (st == VMCS_OK)
        vmcs12_dirty_mark(dirty, (enum vmcs_index)vmcs_field_index(encoding));
    return st;
}
