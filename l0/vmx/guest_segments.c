#include "vmx/guest_segments.h"

#define SEGMENT(S)                                                            \
    {VMCS_IDX_GUEST_##S##_SELECTOR, VMCS_IDX_GUEST_##S##_BASE,                \
     VMCS_IDX_GUEST_##S##_LIMIT, VMCS_IDX_GUEST_##S##_AR}

const struct vmcs_segment_fields vmcs_guest_segment[SEG_COUNT] = {
    [SEG_ES] = SEGMENT(ES), [SEG_CS] = SEGMENT(CS), [SEG_SS] = SEGMENT(SS),
    [SEG_DS] = SEGMENT(DS), [SEG_FS] = SEGMENT(FS), [SEG_GS] = SEGMENT(GS),
    [SEG_LDTR] = SEGMENT(LDTR), [SEG_TR] = SEGMENT(TR),
};
