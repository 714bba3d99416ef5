#include "vmx/vmcs_fields.h"

#include <stdio.h>

/* Every row must be a full access encoding with the reserved bits clear
 * (SDM Vol. 3C 25.11.2) and an index that IA32_VMX_VMCS_ENUM covers. */
#define CHECK_ROW_(name, enc)                                                 \
    _Static_assert(((enc) & ~0x6FFEu) == 0, #name ": bad encoding bits");     \
    _Static_assert((((enc) >> 1) & 0x1FF) <= VMCS_MAX_FIELD_INDEX,            \
                   #name ": index above VMCS_MAX_FIELD_INDEX");
VMCS_FIELDS(CHECK_ROW_)
#undef CHECK_ROW_

static const struct vmcs_field fields[VMCS_FIELD_COUNT] = {
#define ROW_(name, enc) {(enc), #name},
    VMCS_FIELDS(ROW_)
#undef ROW_
};

#define SLOT_INDEX_LIMIT 64
_Static_assert(VMCS_MAX_FIELD_INDEX < SLOT_INDEX_LIMIT, "map too small");

/* Direct map from (width, type, index) to dense index + 1 (0: no field).
 * Built by designated initializers, so a duplicate encoding in the table
 * is an initializer override, which -Wextra -Werror rejects. */
#define SLOT(enc)                                                             \
    ((((enc) >> 13 & 3) << 2 | ((enc) >> 10 & 3)) * SLOT_INDEX_LIMIT +        \
     ((enc) >> 1 & 0x1FF))

_Static_assert(VMCS_FIELD_COUNT < 256, "slot entries are bytes");

static const uint8_t slot_map[16 * SLOT_INDEX_LIMIT] = {
#define MAP_(name, enc) [SLOT(enc)] = VMCS_IDX_##name + 1,
    VMCS_FIELDS(MAP_)
#undef MAP_
};

int vmcs_field_index(uint64_t encoding)
{
    /* Bits 12 and 15 up are reserved; in 64-bit mode, a register operand
     * with any of bits 63:32 set names no field either (SDM Vol. 2C
     * VMREAD/VMWRITE). */
    if (encoding & ~0x6FFFull)
        return -1;
    if (((encoding >> 1) & 0x1FF) >= SLOT_INDEX_LIMIT)
        return -1;
    unsigned entry = slot_map[SLOT(encoding)];
    if (entry == 0)
        return -1;
    if (vmcs_encoding_is_high(encoding) &&
        vmcs_encoding_width(encoding) != VMCS_WIDTH_64)
        return -1;
    return (int)entry - 1;
}

const struct vmcs_field *vmcs_field_at(size_t index)
{
    return index < VMCS_FIELD_COUNT ? &fields[index] : NULL;
}

const char *vmcs_field_describe(uint64_t encoding, char *buf, size_t size)
{
    int k = vmcs_field_index(encoding);
    if (k < 0)
        snprintf(buf, size, "unsupported field %#llx",
                 (unsigned long long)encoding);
    else
        snprintf(buf, size, "%s%s (%#llx)", fields[k].name,
                 vmcs_encoding_is_high(encoding) ? " high" : "",
                 (unsigned long long)encoding);
    return buf;
}
