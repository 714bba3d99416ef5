/* The EPT walk: guest-physical to host-physical translation through
 * 4-level extended page tables, with R/W/X permissions, 2 MiB and 1 GiB
 * pages, EPT misconfigurations and violations with their exit
 * qualification, optional accessed/dirty flags, and EPTP validation.
 *
 * Pure: the tables are read (and, for A/D flags, written) through
 * callbacks, and the processor's EPT capabilities come in as the value of
 * IA32_VMX_EPT_VPID_CAP. Section numbers are those of the current SDM
 * Vol. 3C (25.6.11 "Extended-Page-Table Pointer", 29.3 "The Extended Page
 * Table Mechanism (EPT)", 28.2.1 "Basic VM-Exit Information" Table 28-7,
 * Vol. 3D Appendix A.10 "VPID and EPT Capabilities"). */
#ifndef L0_VMX_EPT_H
#define L0_VMX_EPT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/caps.h" /* EPT_CAP_*: the IA32_VMX_EPT_VPID_CAP bits */

/* Physical-memory access for the tables: len bytes at pa. False if the
 * memory is not there; a failed read gives an all-ones entry (open bus),
 * which is a misconfiguration (reserved bits), and a failed write of an
 * A/D flag is ignored. */
typedef bool (*ept_read_fn)(void *ctx, uint64_t pa, void *dst, unsigned len);
typedef bool (*ept_write_fn)(void *ctx, uint64_t pa, const void *src,
                             unsigned len);

/* Permissions: bits 2:0 of an entry, and of the combined result. */
enum { EPT_R = 1, EPT_W = 2, EPT_X = 4 };

/* ---- EPTP (SDM 25.6.11, checked at VM entry by 27.2.1.1) ---- */

#define EPTP_AD_ENABLE (1ull << 6)

enum eptp_check {
    EPTP_OK = 0,
    EPTP_BAD_MEMORY_TYPE,   /* bits 2:0 not UC or WB, or not offered */
    EPTP_BAD_WALK_LENGTH,   /* bits 5:3 not 3 (4 levels) */
    EPTP_AD_UNSUPPORTED,    /* bit 6 set without the A/D capability */
    EPTP_RESERVED_BITS,     /* bits 11:7 or 63:MAXPHYADDR */
};

/* Validates an EPTP against the capabilities and MAXPHYADDR. Only a
 * 4-level walk is implemented, so a 5-level EPTP fails even if cap
 * claims it. */
enum eptp_check ept_check_eptp(uint64_t eptp, uint64_t cap,
                               unsigned maxphyaddr);

/* The rule an EPTP broke, for the VM-entry debug log. */
const char *ept_eptp_check_name(enum eptp_check check);

/* ---- The walk (SDM 29.3.2 .. 29.3.4) ---- */

/* The kind of access, as bits 2:0 of the violation qualification. */
enum ept_access {
    EPT_ACCESS_READ = 1,
    EPT_ACCESS_WRITE = 2,
    EPT_ACCESS_FETCH = 4,
};

/* Where the guest-physical address came from; decides bits 7 and 8 of
 * the violation qualification. */
enum ept_origin {
    /* No guest-linear address: the guest PDPTE loads of MOV to CR3
     * under PAE paging. */
    EPT_ORIGIN_NO_LINEAR,
    /* An entry of the guest's paging structures, read or A/D-updated
     * while translating a linear address. */
    EPT_ORIGIN_GUEST_PAGING,
    /* The final translation of a linear address (also the address itself
     * when guest paging is off). */
    EPT_ORIGIN_LINEAR,
};

/* What the walker needs to know about the EPT in use. */
struct ept_config {
    uint64_t eptp;       /* already validated by ept_check_eptp */
    uint64_t cap;        /* IA32_VMX_EPT_VPID_CAP */
    unsigned maxphyaddr; /* 39 on this machine */
    ept_read_fn read;
    ept_write_fn write;  /* needed only when EPTP bit 6 is set */
    void *ctx;
};

enum ept_status {
    EPT_OK = 0,
    EPT_VIOLATION,
    EPT_MISCONFIG,
};

/* Violation qualification bits (SDM 28.2.1, Table 28-7). Bit 12 (NMI
 * unblocking due to IRET) is the caller's to add. */
#define EPT_QUAL_READ (1ull << 0)
#define EPT_QUAL_WRITE (1ull << 1)
#define EPT_QUAL_FETCH (1ull << 2)
#define EPT_QUAL_READABLE (1ull << 3)
#define EPT_QUAL_WRITABLE (1ull << 4)
#define EPT_QUAL_EXECUTABLE (1ull << 5)
#define EPT_QUAL_LINEAR_VALID (1ull << 7)
#define EPT_QUAL_TRANSLATION (1ull << 8)
#define EPT_QUAL_NMI_UNBLOCKING (1ull << 12)

struct ept_result {
    enum ept_status status;
    uint64_t hpa;          /* EPT_OK: the host-physical address */
    uint64_t page_size;    /* EPT_OK: 4 KiB, 2 MiB or 1 GiB */
    unsigned perms;        /* EPT_R|W|X ANDed over the entries used */
    unsigned memory_type;  /* EPT_OK: bits 5:3 of the leaf */
    bool ignore_pat;       /* EPT_OK: bit 6 of the leaf */
    unsigned refs;         /* entries read: the walk's memory references */
    unsigned ad_writes;    /* entries written to set A or D flags */
    unsigned level;        /* last entry read: 4 = PML4E .. 1 = PTE */
    uint64_t entry;        /* its value (for messages) */
    uint64_t qualification; /* EPT_VIOLATION: the exit qualification */
};

/* Translates gpa (bits 47:0) for one access. Reads one entry per level
 * (so up to 4 references; a guest walk through EPT costs up to
 * 4 * (4 + 1) + 4 = 24). With EPTP bit 6 set, accesses to guest paging
 * structures count as writes and a successful walk sets the accessed
 * flag of every entry used and, for a write, the dirty flag of the leaf;
 * a failed walk changes nothing. */
void ept_walk(const struct ept_config *cfg, uint64_t gpa,
              enum ept_access access, enum ept_origin origin,
              struct ept_result *out);

#endif
