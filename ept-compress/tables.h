/* EPT02's tables: the pages they live in and the one change the rest of
 * the module makes to them, installing a leaf. Internal to ept-compress/.
 * Entry formats: SDM Vol. 3C 29.3.2 (Tables 29-1 .. 29-6). */
#ifndef EPT_COMPRESS_TABLES_H
#define EPT_COMPRESS_TABLES_H

#include <stdint.h>

#include "ept-compress/ept02.h"

/* Bits 51:12 of an entry or an EPTP: the address it holds. */
#define EPT02_ADDR_MASK 0x000FFFFFFFFFF000ull

enum {
    EPT02_ENTRY_PS = 1 << 7, /* this PDPTE or PDE maps a page */
};

/* A zeroed page for a table: a spare one, or a new one from L0. 0 when
 * L0 has none left. */
uint64_t ept02_tables_take(struct ept02 *x);

/* Keeps a page no table uses any more for reuse. */
void ept02_tables_keep(struct ept02 *x, uint64_t hpa);

/* Empties the table at hpa, of level 4 (PML4) .. 1 (PT): every table
 * under it becomes spare. The table itself stays in use. */
void ept02_tables_clear(struct ept02 *x, uint64_t hpa, unsigned level);

/* Writes leaf, an entry mapping a page, at level 3 (1 GiB), 2 (2 MiB) or
 * 1 (4 KiB) on the path of gpa, making the tables above it as needed. A
 * larger page met on the way is replaced by a table (the rest of its
 * range faults again); a table where the leaf goes is dropped with
 * everything under it. 0, or -1 when no page is left (nothing changed
 * but tables added on the path, which are empty and harmless). */
int ept02_tables_install(struct ept02 *x, uint64_t gpa, unsigned level,
                         uint64_t leaf);

#endif
