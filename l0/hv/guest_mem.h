/* L1's memory as L0 reaches it while emulating an instruction of L1. */
#ifndef L0_HV_GUEST_MEM_H
#define L0_HV_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"

/* L1-physical accesses: false outside L1's RAM. */
bool gmem_read_phys(struct hv *h, uint64_t gpa, void *dst, size_t len);
bool gmem_write_phys(struct hv *h, uint64_t gpa, const void *src, size_t len);

/* L1-linear to L1-physical through L1's paging; false with the page-fault
 * error code L1 should see. */
bool gmem_translate(struct hv *h, uint64_t lin, bool write, uint64_t *gpa,
                    uint32_t *pf_error);

/* L1-linear accesses: on a fault L1 gets the #PF (injected at the next
 * entry, CR2 set) and the result is false. */
bool gmem_read(struct hv *h, uint64_t lin, void *dst, size_t len);
bool gmem_write(struct hv *h, uint64_t lin, const void *src, size_t len);

#endif
