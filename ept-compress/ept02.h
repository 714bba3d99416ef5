/* EPT compression: EPT02 = EPT12 o EPT01 (Turtles section 3.3,
 * "multi-dimensional paging"). L1 translates L2-physical addresses with
 * EPT12, which lives in L1 memory; L0 translates L1-physical addresses
 * with EPT01. The hardware walks one EPT, so L0 gives vmcs02 a third one,
 * EPT02, that maps L2-physical straight to host-physical. EPT02 is a cache
 * built lazily: it starts empty, each EPT violation of L2 fills one entry
 * from a walk of EPT12 and a walk of EPT01, and INVEPT empties it.
 *
 * Pure C over callbacks: L1 memory is read through a reader that
 * translates through EPT01, EPT01 is walked with l0/vmx's ept_walk, and
 * EPT02's tables are pages L0 hands out. See README.md in this folder
 * for the rules (permissions, memory type, page size, invalidation).
 * Section numbers are the SDM Vol. 3C's, as in vmx/ept.h. */
#ifndef EPT_COMPRESS_EPT02_H
#define EPT_COMPRESS_EPT02_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/ept.h"

/* A zeroed 4 KiB page of L0 memory for an EPT02 table: its host-physical
 * address (4 KiB aligned), or 0 when L0 has no page left. */
typedef uint64_t (*ept02_alloc_fn)(void *ctx);
/* The page at hpa (one that alloc returned) as 512 entries L0 can write. */
typedef uint64_t *(*ept02_page_fn)(void *ctx, uint64_t hpa);
/* Gives a page back to L0 (ept02_destroy only); may be NULL. */
typedef void (*ept02_free_fn)(void *ctx, uint64_t hpa);

struct ept02_config {
    /* EPT01, L0's EPT for L1: its EPTP, the hardware's
     * IA32_VMX_EPT_VPID_CAP (which EPT02 also runs on), MAXPHYADDR, and a
     * reader of host-physical memory for its tables. */
    struct ept_config ept01;

    /* L1-physical memory, for the entries of EPT12: the reader translates
     * an L1-physical address through EPT01 and reads (false when the
     * address is not L1 RAM); the writer is for EPT12's accessed/dirty
     * flags when L1 turned them on (may be NULL: flags are then not set). */
    ept_read_fn read_l1;
    ept_write_fn write_l1;
    void *l1_ctx;
    /* IA32_VMX_EPT_VPID_CAP as L0 advertises it to L1: the rules EPT12 is
     * checked against. Must not offer execute-only or large pages the
     * hardware lacks (ept02_init refuses). */
    uint64_t ept12_cap;

    /* EPT02's pages. */
    ept02_alloc_fn alloc;
    ept02_page_fn page;
    ept02_free_fn free;
    void *mem_ctx;

    /* Accessed/dirty flags in EPT02 (EPTP bit 6): L0's choice, usually
     * off; the flags of EPT02 mean nothing to L1. */
    bool ad_flags;
};

struct ept02_counters {
    uint64_t fills;                /* EPT02 entries installed */
    uint64_t reflected_violations; /* EPT violations reflected to L1 */
    uint64_t reflected_misconfigs; /* EPT misconfigurations reflected */
    uint64_t l0_faults;            /* faults in EPT01, left to L0 */
    uint64_t invalidations;        /* INVEPTs that emptied EPT02 roots */
    uint64_t switches;             /* EPT12 changes that evicted a root */
    uint64_t root_hits;            /* EPT12 changes to a root still kept */
    uint64_t ept12_refs;           /* EPT12 entries read (L1-physical) */
    uint64_t ept01_refs;           /* EPT01 entries read (host-physical) */
    uint64_t pages;                /* EPT02 table pages now in use */
};

/* EPT02 roots kept at once, one per EPT12 pointer (KVM keeps a few
 * roots the same way): an L1 that switches between EPT12s finds their
 * translations again. The least recently used root is emptied for a new
 * EPT12. */
#define EPT02_ROOTS 4

struct ept02_root_slot {
    uint64_t ept12;     /* the EPT12 pointer it composes, when used */
    uint64_t root;      /* host-physical PML4, 0 until first needed */
    uint64_t last_used; /* ept02.clock at the last switch to it */
    bool used;
};

struct ept02 {
    struct ept02_config cfg;
    /* The current EPT12 and its root (copies of slot[current]). */
    uint64_t ept12;   /* vmcs12's EPT pointer, valid once have_ept12 */
    bool have_ept12;
    uint64_t root;    /* host-physical: EPT02's PML4 */
    struct ept02_root_slot slot[EPT02_ROOTS];
    unsigned current;
    uint64_t clock;
    /* Pages L0 gave, reused after an invalidation instead of returned:
     * L0's allocator is a bump allocator. */
    uint64_t *spare;
    unsigned n_spare, cap_spare;
    struct ept02_counters count;
};

/* Checks the configuration and allocates the root. 0, or -1 if the
 * config is inconsistent or no page is left. */
int ept02_init(struct ept02 *x, const struct ept02_config *cfg);
/* Gives every page back (through cfg.free, when there is one). */
void ept02_destroy(struct ept02 *x);

/* Makes EPT12 the one L2 runs under (vmcs12's EPT pointer at a nested VM
 * entry). A root kept for the same EPT12 (the whole pointer) is used
 * again with its translations; another EPT12 gets a free root, or the
 * least recently used one, emptied. Returns the SDM 27.2.1.1 check of the
 * pointer against ept12_cap: anything but EPTP_OK is a VM-entry failure
 * for L1 and leaves the context unchanged. */
enum eptp_check ept02_switch(struct ept02 *x, uint64_t ept12);

/* The EPT pointer for vmcs02: EPT02's root, EPT12's memory type (bits 2:0)
 * and walk length (bits 5:3), A/D flags only if cfg.ad_flags. */
uint64_t ept02_root(const struct ept02 *x);

enum ept02_outcome {
    /* EPT02 now maps the address: resume L2, the access is retried. */
    EPT02_FILLED,
    /* EPT12 denies the access (not present, or missing permission): a
     * nested VM exit to L1 with reason EPT violation, qualification and
     * guest-physical address from the result. */
    EPT02_REFLECT_VIOLATION,
    /* EPT12 is misconfigured (SDM 29.3.3.1), including entries in memory
     * that is not L1 RAM: a nested VM exit with reason EPT
     * misconfiguration and the guest-physical address. */
    EPT02_REFLECT_MISCONFIG,
    /* EPT12 allows the access but EPT01 does not map its L1-physical
     * address as needed: L0's own business (MMIO, a page not mapped yet,
     * or a bug); the EPT01 walk is in the result. */
    EPT02_L0_FAULT,
    /* No page left for an EPT02 table, even after emptying EPT02. */
    EPT02_NO_MEMORY,
};

struct ept02_result {
    enum ept02_outcome outcome;
    /* REFLECT_*: the guest-physical address for vmcs12 (the L2-physical
     * address of the access). */
    uint64_t gpa;
    /* REFLECT_VIOLATION: the exit qualification L1 sees (SDM 28.2.1
     * Table 28-7): bits 2:0 the access, 5:3 EPT12's permissions, 7 and 8
     * from the origin. Bit 12 (NMI unblocking) and the guest-linear
     * address are the caller's, from vmcs02's exit. */
    uint64_t qualification;
    /* FILLED and L0_FAULT: EPT12's translation (an L1-physical address). */
    uint64_t l1_gpa;
    /* FILLED: the composed translation of the access. */
    uint64_t hpa;
    uint64_t page_size;  /* the EPT02 entry installed: 4 KiB or 2 MiB */
    unsigned perms;      /* its R/W/X */
    unsigned memory_type;
    /* This call's walk memory references. */
    unsigned ept12_refs, ept01_refs;
    /* The walks, for messages and for L0_FAULT. */
    struct ept_result ept12, ept01;
};

/* Handles an EPT violation of EPT02 that L2 caused at l2_gpa (from
 * vmcs02's exit: the guest-physical address, the access of qualification
 * bits 2:0, the origin of bits 7 and 8). Never reads memory but through
 * the callbacks. */
void ept02_fault(struct ept02 *x, uint64_t l2_gpa, enum ept_access access,
                 enum ept_origin origin, struct ept02_result *out);

/* Empties every EPT02 root (the roots stay, and their pages are kept for
 * reuse). */
void ept02_invalidate_all(struct ept02 *x);

/* INVEPT executed by L1 (SDM 29.4.3.1 and the INVEPT page of the VMX
 * instruction reference, chapter 31), once L0 has checked the
 * instruction: type 1 (single-context) empties the roots of every EPT12
 * with the descriptor's EP4TA (EPTP bits 51:12), current or not; type 2
 * (global) empties them all. Other types do nothing. */
enum { EPT02_INVEPT_SINGLE = 1, EPT02_INVEPT_GLOBAL = 2 };
void ept02_invept(struct ept02 *x, unsigned type, uint64_t eptp);

#endif
