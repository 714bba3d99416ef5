/* The VMCS field table: every field encoding of SDM Vol. 3D Appendix B
 * ("Field Encoding in VMCS"), one row per field, in encoding order.
 *
 * Scope: Appendix B of the 2023 SDM editions, up to and including the
 * IA32_SPEC_CTRL mask/shadow controls. Later extensions (FRED state, event
 * data, MSR lists, APIC-timer virtualization) are not in the table: VMREAD
 * and VMWRITE of them fail as unsupported components, and adding them
 * changes the VMCS region layout (see vmcs.h).
 *
 * An encoding (SDM Vol. 3C 25.11.2) is 32 bits:
 *   bit 0      access type: 0 full, 1 high (bits 63:32 of a 64-bit field)
 *   bits 9:1   index
 *   bits 11:10 type: 0 control, 1 VM-exit information, 2 guest, 3 host
 *   bit 12     reserved (0)
 *   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural
 *   bits 31:15 reserved (0)
 * Width and type are derived from those bits, never stored.
 *
 * Every field has a dense index (0 .. VMCS_FIELD_COUNT - 1, in encoding
 * order) under which struct vmcs keeps its value. Code names fields by
 * VMCS_<NAME> (the encoding) or VMCS_IDX_<NAME> (the dense index). */
#ifndef L0_VMX_VMCS_FIELDS_H
#define L0_VMX_VMCS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* B.1: 16-bit fields. */
#define VMCS_FIELDS_16(X)                                                     \
    /* B.1.1 control */                                                       \
    X(VPID, 0x0000)                                                           \
    X(POSTED_INTR_NV, 0x0002)                                                 \
    X(EPTP_INDEX, 0x0004)                                                     \
    X(HLAT_PREFIX_SIZE, 0x0006)                                               \
    X(LAST_PID_POINTER_INDEX, 0x0008)                                         \
    /* B.1.2 guest state */                                                   \
    X(GUEST_ES_SELECTOR, 0x0800)                                              \
    X(GUEST_CS_SELECTOR, 0x0802)                                              \
    X(GUEST_SS_SELECTOR, 0x0804)                                              \
    X(GUEST_DS_SELECTOR, 0x0806)                                              \
    X(GUEST_FS_SELECTOR, 0x0808)                                              \
    X(GUEST_GS_SELECTOR, 0x080A)                                              \
    X(GUEST_LDTR_SELECTOR, 0x080C)                                            \
    X(GUEST_TR_SELECTOR, 0x080E)                                              \
    X(GUEST_INTR_STATUS, 0x0810)                                              \
    X(GUEST_PML_INDEX, 0x0812)                                                \
    X(GUEST_UINV, 0x0814)                                                     \
    /* B.1.3 host state */                                                    \
    X(HOST_ES_SELECTOR, 0x0C00)                                               \
    X(HOST_CS_SELECTOR, 0x0C02)                                               \
    X(HOST_SS_SELECTOR, 0x0C04)                                               \
    X(HOST_DS_SELECTOR, 0x0C06)                                               \
    X(HOST_FS_SELECTOR, 0x0C08)                                               \
    X(HOST_GS_SELECTOR, 0x0C0A)                                               \
    X(HOST_TR_SELECTOR, 0x0C0C)

/* B.2: 64-bit fields (each also has a high encoding, full + 1). */
#define VMCS_FIELDS_64(X)                                                     \
    /* B.2.1 control */                                                       \
    X(IO_BITMAP_A, 0x2000)                                                    \
    X(IO_BITMAP_B, 0x2002)                                                    \
    X(MSR_BITMAP, 0x2004)                                                     \
    X(EXIT_MSR_STORE_ADDR, 0x2006)                                            \
    X(EXIT_MSR_LOAD_ADDR, 0x2008)                                             \
    X(ENTRY_MSR_LOAD_ADDR, 0x200A)                                            \
    X(EXECUTIVE_VMCS_POINTER, 0x200C)                                         \
    X(PML_ADDR, 0x200E)                                                       \
    X(TSC_OFFSET, 0x2010)                                                     \
    X(VIRTUAL_APIC_ADDR, 0x2012)                                              \
    X(APIC_ACCESS_ADDR, 0x2014)                                               \
    X(POSTED_INTR_DESC_ADDR, 0x2016)                                          \
    X(VMFUNC_CONTROLS, 0x2018)                                                \
    X(EPT_POINTER, 0x201A)                                                    \
    X(EOI_EXIT_BITMAP0, 0x201C)                                               \
    X(EOI_EXIT_BITMAP1, 0x201E)                                               \
    X(EOI_EXIT_BITMAP2, 0x2020)                                               \
    X(EOI_EXIT_BITMAP3, 0x2022)                                               \
    X(EPTP_LIST_ADDR, 0x2024)                                                 \
    X(VMREAD_BITMAP_ADDR, 0x2026)                                             \
    X(VMWRITE_BITMAP_ADDR, 0x2028)                                            \
    X(VE_INFO_ADDR, 0x202A)                                                   \
    X(XSS_EXITING_BITMAP, 0x202C)                                             \
    X(ENCLS_EXITING_BITMAP, 0x202E)                                           \
    X(SPP_TABLE_POINTER, 0x2030)                                              \
    X(TSC_MULTIPLIER, 0x2032)                                                 \
    X(PROC_CONTROLS3, 0x2034)                                                 \
    X(ENCLV_EXITING_BITMAP, 0x2036)                                           \
    X(PASID_DIR_LOW_ADDR, 0x2038)                                             \
    X(PASID_DIR_HIGH_ADDR, 0x203A)                                            \
    X(SHARED_EPT_POINTER, 0x203C)                                             \
    X(PCONFIG_EXITING_BITMAP, 0x203E)                                         \
    X(HLAT_POINTER, 0x2040)                                                   \
    X(PID_POINTER_TABLE_ADDR, 0x2042)                                         \
    X(EXIT_CONTROLS2, 0x2044)                                                 \
    X(SPEC_CTRL_MASK, 0x204A)                                                 \
    X(SPEC_CTRL_SHADOW, 0x204C)                                               \
    /* B.2.2 read-only data */                                                \
    X(GUEST_PHYSICAL_ADDR, 0x2400)                                            \
    /* B.2.3 guest state */                                                   \
    X(LINK_POINTER, 0x2800)                                                   \
    X(GUEST_DEBUGCTL, 0x2802)                                                 \
    X(GUEST_PAT, 0x2804)                                                      \
    X(GUEST_EFER, 0x2806)                                                     \
    X(GUEST_PERF_GLOBAL_CTRL, 0x2808)                                         \
    X(GUEST_PDPTE0, 0x280A)                                                   \
    X(GUEST_PDPTE1, 0x280C)                                                   \
    X(GUEST_PDPTE2, 0x280E)                                                   \
    X(GUEST_PDPTE3, 0x2810)                                                   \
    X(GUEST_BNDCFGS, 0x2812)                                                  \
    X(GUEST_RTIT_CTL, 0x2814)                                                 \
    X(GUEST_LBR_CTL, 0x2816)                                                  \
    X(GUEST_PKRS, 0x2818)                                                     \
    /* B.2.4 host state */                                                    \
    X(HOST_PAT, 0x2C00)                                                       \
    X(HOST_EFER, 0x2C02)                                                      \
    X(HOST_PERF_GLOBAL_CTRL, 0x2C04)                                          \
    X(HOST_PKRS, 0x2C06)

/* B.3: 32-bit fields. */
#define VMCS_FIELDS_32(X)                                                     \
    /* B.3.1 control */                                                       \
    X(PIN_CONTROLS, 0x4000)                                                   \
    X(PROC_CONTROLS, 0x4002)                                                  \
    X(EXCEPTION_BITMAP, 0x4004)                                               \
    X(PF_ERROR_MASK, 0x4006)                                                  \
    X(PF_ERROR_MATCH, 0x4008)                                                 \
    X(CR3_TARGET_COUNT, 0x400A)                                               \
    X(EXIT_CONTROLS, 0x400C)                                                  \
    X(EXIT_MSR_STORE_COUNT, 0x400E)                                           \
    X(EXIT_MSR_LOAD_COUNT, 0x4010)                                            \
    X(ENTRY_CONTROLS, 0x4012)                                                 \
    X(ENTRY_MSR_LOAD_COUNT, 0x4014)                                           \
    X(ENTRY_INTR_INFO, 0x4016)                                                \
    X(ENTRY_EXCEPTION_ERROR, 0x4018)                                          \
    X(ENTRY_INSN_LEN, 0x401A)                                                 \
    X(TPR_THRESHOLD, 0x401C)                                                  \
    X(PROC_CONTROLS2, 0x401E)                                                 \
    X(PLE_GAP, 0x4020)                                                        \
    X(PLE_WINDOW, 0x4022)                                                     \
    X(INSN_TIMEOUT_CONTROL, 0x4024)                                           \
    /* B.3.2 read-only data */                                                \
    X(INSN_ERROR, 0x4400)                                                     \
    X(EXIT_REASON, 0x4402)                                                    \
    X(EXIT_INTR_INFO, 0x4404)                                                 \
    X(EXIT_INTR_ERROR, 0x4406)                                                \
    X(IDT_VECTORING_INFO, 0x4408)                                             \
    X(IDT_VECTORING_ERROR, 0x440A)                                            \
    X(EXIT_INSN_LEN, 0x440C)                                                  \
    X(EXIT_INSN_INFO, 0x440E)                                                 \
    /* B.3.3 guest state */                                                   \
    X(GUEST_ES_LIMIT, 0x4800)                                                 \
    X(GUEST_CS_LIMIT, 0x4802)                                                 \
    X(GUEST_SS_LIMIT, 0x4804)                                                 \
    X(GUEST_DS_LIMIT, 0x4806)                                                 \
    X(GUEST_FS_LIMIT, 0x4808)                                                 \
    X(GUEST_GS_LIMIT, 0x480A)                                                 \
    X(GUEST_LDTR_LIMIT, 0x480C)                                               \
    X(GUEST_TR_LIMIT, 0x480E)                                                 \
    X(GUEST_GDTR_LIMIT, 0x4810)                                               \
    X(GUEST_IDTR_LIMIT, 0x4812)                                               \
    X(GUEST_ES_AR, 0x4814)                                                    \
    X(GUEST_CS_AR, 0x4816)                                                    \
    X(GUEST_SS_AR, 0x4818)                                                    \
    X(GUEST_DS_AR, 0x481A)                                                    \
    X(GUEST_FS_AR, 0x481C)                                                    \
    X(GUEST_GS_AR, 0x481E)                                                    \
    X(GUEST_LDTR_AR, 0x4820)                                                  \
    X(GUEST_TR_AR, 0x4822)                                                    \
    X(GUEST_INTERRUPTIBILITY, 0x4824)                                         \
    X(GUEST_ACTIVITY_STATE, 0x4826)                                           \
    X(GUEST_SMBASE, 0x4828)                                                   \
    X(GUEST_SYSENTER_CS, 0x482A)                                              \
    X(PREEMPTION_TIMER, 0x482E)                                               \
    /* B.3.4 host state */                                                    \
    X(HOST_SYSENTER_CS, 0x4C00)

/* B.4: natural-width fields (64 bits on this 64-bit CPU). */
#define VMCS_FIELDS_NATURAL(X)                                                \
    /* B.4.1 control */                                                       \
    X(CR0_MASK, 0x6000)                                                       \
    X(CR4_MASK, 0x6002)                                                       \
    X(CR0_READ_SHADOW, 0x6004)                                                \
    X(CR4_READ_SHADOW, 0x6006)                                                \
    X(CR3_TARGET0, 0x6008)                                                    \
    X(CR3_TARGET1, 0x600A)                                                    \
    X(CR3_TARGET2, 0x600C)                                                    \
    X(CR3_TARGET3, 0x600E)                                                    \
    /* B.4.2 read-only data */                                                \
    X(EXIT_QUALIFICATION, 0x6400)                                             \
    X(IO_RCX, 0x6402)                                                         \
    X(IO_RSI, 0x6404)                                                         \
    X(IO_RDI, 0x6406)                                                         \
    X(IO_RIP, 0x6408)                                                         \
    X(GUEST_LINEAR_ADDR, 0x640A)                                              \
    /* B.4.3 guest state */                                                   \
    X(GUEST_CR0, 0x6800)                                                      \
    X(GUEST_CR3, 0x6802)                                                      \
    X(GUEST_CR4, 0x6804)                                                      \
    X(GUEST_ES_BASE, 0x6806)                                                  \
    X(GUEST_CS_BASE, 0x6808)                                                  \
    X(GUEST_SS_BASE, 0x680A)                                                  \
    X(GUEST_DS_BASE, 0x680C)                                                  \
    X(GUEST_FS_BASE, 0x680E)                                                  \
    X(GUEST_GS_BASE, 0x6810)                                                  \
    X(GUEST_LDTR_BASE, 0x6812)                                                \
    X(GUEST_TR_BASE, 0x6814)                                                  \
    X(GUEST_GDTR_BASE, 0x6816)                                                \
    X(GUEST_IDTR_BASE, 0x6818)                                                \
    X(GUEST_DR7, 0x681A)                                                      \
    X(GUEST_RSP, 0x681C)                                                      \
    X(GUEST_RIP, 0x681E)                                                      \
    X(GUEST_RFLAGS, 0x6820)                                                   \
    X(GUEST_PENDING_DBG, 0x6822)                                              \
    X(GUEST_SYSENTER_ESP, 0x6824)                                             \
    X(GUEST_SYSENTER_EIP, 0x6826)                                             \
    X(GUEST_S_CET, 0x6828)                                                    \
    X(GUEST_SSP, 0x682A)                                                      \
    X(GUEST_INTR_SSP_TABLE_ADDR, 0x682C)                                      \
    /* B.4.4 host state */                                                    \
    X(HOST_CR0, 0x6C00)                                                       \
    X(HOST_CR3, 0x6C02)                                                       \
    X(HOST_CR4, 0x6C04)                                                       \
    X(HOST_FS_BASE, 0x6C06)                                                   \
    X(HOST_GS_BASE, 0x6C08)                                                   \
    X(HOST_TR_BASE, 0x6C0A)                                                   \
    X(HOST_GDTR_BASE, 0x6C0C)                                                 \
    X(HOST_IDTR_BASE, 0x6C0E)                                                 \
    X(HOST_SYSENTER_ESP, 0x6C10)                                              \
    X(HOST_SYSENTER_EIP, 0x6C12)                                              \
    X(HOST_RSP, 0x6C14)                                                       \
    X(HOST_RIP, 0x6C16)                                                       \
    X(HOST_S_CET, 0x6C18)                                                     \
    X(HOST_SSP, 0x6C1A)                                                       \
    X(HOST_INTR_SSP_TABLE_ADDR, 0x6C1C)

/* The whole table, in encoding order (the order of the dense indices). */
#define VMCS_FIELDS(X)                                                        \
    VMCS_FIELDS_16(X) VMCS_FIELDS_64(X) VMCS_FIELDS_32(X)                     \
    VMCS_FIELDS_NATURAL(X)

/* Encodings: VMCS_GUEST_RIP = 0x681E; 64-bit fields also have
 * VMCS_<NAME>_HIGH for their high access encoding. */
enum vmcs_encoding {
#define VMCS_ENCODING_(name, enc) VMCS_##name = (enc),
#define VMCS_ENCODING_HIGH_(name, enc) VMCS_##name##_HIGH = (enc) + 1,
    VMCS_FIELDS(VMCS_ENCODING_)
    VMCS_FIELDS_64(VMCS_ENCODING_HIGH_)
#undef VMCS_ENCODING_
#undef VMCS_ENCODING_HIGH_
};

/* Dense indices: VMCS_IDX_GUEST_RIP, ..., then VMCS_FIELD_COUNT. */
enum vmcs_index {
#define VMCS_INDEX_(name, enc) VMCS_IDX_##name,
    VMCS_FIELDS(VMCS_INDEX_)
#undef VMCS_INDEX_
    VMCS_FIELD_COUNT
};

/* The largest index (bits 9:1 of an encoding) of any field, which
 * IA32_VMX_VMCS_ENUM reports (SDM Vol. 3D A.9); vmcs_fields.c checks every
 * row against it. */
#define VMCS_MAX_FIELD_INDEX 0x26

/* Field widths and types, as encoded in bits 14:13 and 11:10. */
enum vmcs_width {
    VMCS_WIDTH_16 = 0,
    VMCS_WIDTH_64 = 1,
    VMCS_WIDTH_32 = 2,
    VMCS_WIDTH_NATURAL = 3,
};

enum vmcs_type {
    VMCS_TYPE_CONTROL = 0,
    VMCS_TYPE_EXIT_INFO = 1, /* "VM-exit information", read-only data */
    VMCS_TYPE_GUEST = 2,
    VMCS_TYPE_HOST = 3,
};

struct vmcs_field {
    uint16_t encoding; /* the full access encoding (bit 0 clear) */
    const char *name;  /* "GUEST_RIP": the enum name without VMCS_ */
};

static inline enum vmcs_width vmcs_encoding_width(uint64_t encoding)
{
    return (enum vmcs_width)((encoding >> 13) & 3);
}

static inline enum vmcs_type vmcs_encoding_type(uint64_t encoding)
{
    return (enum vmcs_type)((encoding >> 10) & 3);
}

/* Bit 0: the encoding accesses bits 63:32 of a 64-bit field. */
static inline bool vmcs_encoding_is_high(uint64_t encoding)
{
    return encoding & 1;
}

/* The bits a field of this width holds (natural width is 64 bits on a
 * 64-bit CPU, SDM Vol. 3C 25.11.2). */
static inline uint64_t vmcs_width_mask(enum vmcs_width w)
{
    return w == VMCS_WIDTH_16 ? 0xFFFF : w == VMCS_WIDTH_32 ? 0xFFFFFFFF
                                                             : ~0ull;
}

/* The dense index of the field that `encoding` accesses, or -1 if it names
 * no supported field: unknown, reserved bits set (including any of bits
 * 63:32 of a 64-bit register operand), or the high access type of a field
 * that is not 64-bit. A high encoding of a 64-bit field gives the field's
 * index; vmcs_encoding_is_high() tells the two apart. Constant time. */
int vmcs_field_index(uint64_t encoding);

/* Iteration: for (size_t i = 0; i < VMCS_FIELD_COUNT; i++)
 * vmcs_field_at(i)->encoding ... */
const struct vmcs_field *vmcs_field_at(size_t index);


/* For messages: "GUEST_RIP (0x681e)", "GUEST_PAT high (0x2805)" or
 * "unsupported field 0x1234". Returns buf. */
const char *vmcs_field_describe(uint64_t encoding, char *buf, size_t size);

#endif
