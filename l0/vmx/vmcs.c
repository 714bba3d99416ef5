#include "vmx/vmcs.h"

#include <string.h>

/* The region layout of vmcs.h, frozen. */
_Static_assert(VMCS_REGION_ABORT == VMCS_REGION_REVISION + 4,
               "SDM Vol. 3C 25.2: abort indicator at byte 4");
_Static_assert(VMCS_REGION_LAUNCH == 8 && VMCS_REGION_FIELD_COUNT == 12 &&
                   VMCS_REGION_VALUES == 16,
               "region header offsets are part of layout version 1");
_Static_assert(VMCS_REGION_VALUES + 8 * VMCS_FIELD_COUNT <= VMCS_REGION_SIZE,
               "the values fit in the 4 KiB region");
_Static_assert((VMCS_REVISION_ID & VMCS_SHADOW_INDICATOR) == 0,
               "revision identifier is 31 bits");

/* Layout version 1 holds exactly these fields in this order: any change to
 * the table changes the count or the fingerprint (sum of encoding times
 * position), and must come with a new VMCS_LAYOUT_VERSION. */
#define FINGERPRINT_(name, enc) +(unsigned long long)(enc) * (VMCS_IDX_##name + 1)
_Static_assert(VMCS_LAYOUT_VERSION == 1 && VMCS_FIELD_COUNT == 181 &&
                   (0 VMCS_FIELDS(FINGERPRINT_)) == 335319876ull,
               "VMCS field table changed: bump VMCS_LAYOUT_VERSION");
#undef FINGERPRINT_

/* Each field's value mask by dense index, from its encoding's width
 * (bits 14:13, SDM Vol. 3C 25.11.2), as vmcs_width_mask() gives it:
 * stores happen at every VM entry and exit, so the table is built by the
 * compiler instead of looked up per store, and vmcs_set (vmcs.h) is
 * inline. */
#define WIDTH_MASK_(enc)                                                      \
    ((enc) >> 13 & 3) == VMCS_WIDTH_16   ? 0xFFFFull                           \
    : ((enc) >> 13 & 3) == VMCS_WIDTH_32 ? 0xFFFFFFFFull                       \
                                         : ~0ull
#define MASK_(name, enc) [VMCS_IDX_##name] = WIDTH_MASK_(enc),
const uint64_t vmcs_field_masks[VMCS_FIELD_COUNT] = {VMCS_FIELDS(MASK_)};
#undef MASK_
#undef WIDTH_MASK_

void vmcs_init(struct vmcs *v, uint32_t revision)
{
    memset(v, 0, sizeof *v);
    v->revision = revision;
    v->launch = VMCS_STATE_CLEAR;
}

enum vmcs_status vmcs_read(const struct vmcs *v, uint64_t encoding,
                           uint64_t *value)
{
    int i = vmcs_field_index(encoding);
    if (i < 0)
        return VMCS_UNSUPPORTED_FIELD;
    *value = vmcs_encoding_is_high(encoding) ? v->value[i] >> 32
                                             : v->value[i];
    return VMCS_OK;
}

enum vmcs_status vmcs_write(struct vmcs *v, uint64_t encoding,
                            uint64_t value, bool exit_info_writable)
{
    int i = vmcs_field_index(encoding);
    if (i < 0)
        return VMCS_UNSUPPORTED_FIELD;
    /* SDM Vol. 2C VMWRITE; Vol. 3D A.6 (IA32_VMX_MISC bit 29). */
    if (vmcs_encoding_type(encoding) == VMCS_TYPE_EXIT_INFO &&
        !exit_info_writable)
        return VMCS_READ_ONLY_FIELD;
    if (vmcs_encoding_is_high(encoding))
        value = (v->value[i] & 0xFFFFFFFFull) | (value << 32);
    vmcs_set(v, (enum vmcs_index)i, value);
    return VMCS_OK;
}

static void put32(uint8_t *p, uint32_t x)
{
    for (unsigned k = 0; k < 4; k++)
        p[k] = (uint8_t)(x >> (8 * k));
}

static void put64(uint8_t *p, uint64_t x)
{
    for (unsigned k = 0; k < 8; k++)
        p[k] = (uint8_t)(x >> (8 * k));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t x = 0;
    for (unsigned k = 0; k < 4; k++)
        x |= (uint32_t)p[k] << (8 * k);
    return x;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t x = 0;
    for (unsigned k = 0; k < 8; k++)
        x |= (uint64_t)p[k] << (8 * k);
    return x;
}

void vmcs_store(const struct vmcs *v, uint8_t *region)
{
    memset(region, 0, VMCS_REGION_SIZE);
    put32(region + VMCS_REGION_REVISION, v->revision);
    put32(region + VMCS_REGION_ABORT, v->abort);
    put32(region + VMCS_REGION_LAUNCH, v->launch == VMCS_STATE_LAUNCHED);
    put32(region + VMCS_REGION_FIELD_COUNT, VMCS_FIELD_COUNT);
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        put64(region + VMCS_REGION_VALUES + 8 * i, v->value[i]);
}

bool vmcs_load(struct vmcs *v, const uint8_t *region)
{
    vmcs_init(v, get32(region + VMCS_REGION_REVISION));
    v->abort = get32(region + VMCS_REGION_ABORT);
    if ((v->revision & ~VMCS_SHADOW_INDICATOR) != VMCS_REVISION_ID ||
        get32(region + VMCS_REGION_FIELD_COUNT) != VMCS_FIELD_COUNT)
        return false;
    if (get32(region + VMCS_REGION_LAUNCH) == VMCS_STATE_LAUNCHED)
        v->launch = VMCS_STATE_LAUNCHED;
    for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
        vmcs_set(v, (enum vmcs_index)i,
                 get64(region + VMCS_REGION_VALUES + 8 * i));
    return true;
}
