/* The VMCS field encodings of SDM Vol. 3D Appendix B, typed from the
 * Appendix B tables (B-1 .. B-15), one array per table, with the width
 * and type each table is about. Tests compare the field table under test
 * with these; nothing here is taken from that table. */
#ifndef TESTS_UNIT_VMCS_SDM_ENCODINGS_H
#define TESTS_UNIT_VMCS_SDM_ENCODINGS_H

#include <stddef.h>
#include <stdint.h>

#include "vmx/vmcs_fields.h"

#define N(a) (sizeof(a) / sizeof *(a))

/* B.1.1 16-bit control fields */
static const uint16_t b11[] = {0x0000, 0x0002, 0x0004, 0x0006, 0x0008};
/* B.1.2 16-bit guest-state fields */
static const uint16_t b12[] = {0x0800, 0x0802, 0x0804, 0x0806,
                               0x0808, 0x080A, 0x080C, 0x080E,
                               0x0810, 0x0812, 0x0814};
/* B.1.3 16-bit host-state fields */
static const uint16_t b13[] = {0x0C00, 0x0C02, 0x0C04, 0x0C06,
                               0x0C08, 0x0C0A, 0x0C0C};
/* B.2.1 64-bit control fields (full encodings) */
static const uint16_t b21[] = {
    0x2000, 0x2002, 0x2004, 0x2006, 0x2008, 0x200A, 0x200C, 0x200E,
    0x2010, 0x2012, 0x2014, 0x2016, 0x2018, 0x201A, 0x201C, 0x201E,
    0x2020, 0x2022, 0x2024, 0x2026, 0x2028, 0x202A, 0x202C, 0x202E,
    0x2030, 0x2032, 0x2034, 0x2036, 0x2038, 0x203A, 0x203C, 0x203E,
    0x2040, 0x2042, 0x2044, 0x204A, 0x204C};
/* B.2.2 64-bit read-only data field */
static const uint16_t b22[] = {0x2400};
/* B.2.3 64-bit guest-state fields */
static const uint16_t b23[] = {0x2800, 0x2802, 0x2804, 0x2806, 0x2808,
                               0x280A, 0x280C, 0x280E, 0x2810, 0x2812,
                               0x2814, 0x2816, 0x2818};
/* B.2.4 64-bit host-state fields */
static const uint16_t b24[] = {0x2C00, 0x2C02, 0x2C04, 0x2C06};
/* B.3.1 32-bit control fields */
static const uint16_t b31[] = {0x4000, 0x4002, 0x4004, 0x4006, 0x4008,
                               0x400A, 0x400C, 0x400E, 0x4010, 0x4012,
                               0x4014, 0x4016, 0x4018, 0x401A, 0x401C,
                               0x401E, 0x4020, 0x4022, 0x4024};
/* B.3.2 32-bit read-only data fields */
static const uint16_t b32[] = {0x4400, 0x4402, 0x4404, 0x4406,
                               0x4408, 0x440A, 0x440C, 0x440E};
/* B.3.3 32-bit guest-state fields */
static const uint16_t b33[] = {
    0x4800, 0x4802, 0x4804, 0x4806, 0x4808, 0x480A, 0x480C, 0x480E,
    0x4810, 0x4812, 0x4814, 0x4816, 0x4818, 0x481A, 0x481C, 0x481E,
    0x4820, 0x4822, 0x4824, 0x4826, 0x4828, 0x482A, 0x482E};
/* B.3.4 32-bit host-state field */
static const uint16_t b34[] = {0x4C00};
/* B.4.1 natural-width control fields */
static const uint16_t b41[] = {0x6000, 0x6002, 0x6004, 0x6006,
                               0x6008, 0x600A, 0x600C, 0x600E};
/* B.4.2 natural-width read-only data fields */
static const uint16_t b42[] = {0x6400, 0x6402, 0x6404,
                               0x6406, 0x6408, 0x640A};
/* B.4.3 natural-width guest-state fields */
static const uint16_t b43[] = {
    0x6800, 0x6802, 0x6804, 0x6806, 0x6808, 0x680A, 0x680C, 0x680E,
    0x6810, 0x6812, 0x6814, 0x6816, 0x6818, 0x681A, 0x681C, 0x681E,
    0x6820, 0x6822, 0x6824, 0x6826, 0x6828, 0x682A, 0x682C};
/* B.4.4 natural-width host-state fields */
static const uint16_t b44[] = {0x6C00, 0x6C02, 0x6C04, 0x6C06, 0x6C08,
                               0x6C0A, 0x6C0C, 0x6C0E, 0x6C10, 0x6C12,
                               0x6C14, 0x6C16, 0x6C18, 0x6C1A, 0x6C1C};

struct section {
    const char *name;
    enum vmcs_width width;
    enum vmcs_type type;
    const uint16_t *enc;
    size_t n;
};

#define SECTION(a, w, t) {#a, VMCS_WIDTH_##w, VMCS_TYPE_##t, a, N(a)}
static const struct section sections[] = {
    SECTION(b11, 16, CONTROL),      SECTION(b12, 16, GUEST),
    SECTION(b13, 16, HOST),         SECTION(b21, 64, CONTROL),
    SECTION(b22, 64, EXIT_INFO),    SECTION(b23, 64, GUEST),
    SECTION(b24, 64, HOST),         SECTION(b31, 32, CONTROL),
    SECTION(b32, 32, EXIT_INFO),    SECTION(b33, 32, GUEST),
    SECTION(b34, 32, HOST),         SECTION(b41, NATURAL, CONTROL),
    SECTION(b42, NATURAL, EXIT_INFO), SECTION(b43, NATURAL, GUEST),
    SECTION(b44, NATURAL, HOST),
};

#endif
