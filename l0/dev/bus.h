/* The port-I/O and MMIO buses: devices register address ranges with a
 * read and a write callback; the CPU dispatches accesses by address. */
#ifndef L0_DEV_BUS_H
#define L0_DEV_BUS_H

#include <stdint.h>

typedef uint64_t (*bus_read_fn)(void *dev, uint64_t offset, unsigned size);
typedef void (*bus_write_fn)(void *dev, uint64_t offset, unsigned size,
                             uint64_t value);

struct bus_range {
    uint64_t base, len;
    void *dev;
    bus_read_fn read;   /* NULL: reads return all ones */
    bus_write_fn write; /* NULL: writes are ignored */
    const char *name;
};

enum { BUS_MAX_RANGES = 32 };

struct bus {
    const char *name; /* "port" or "mmio", for messages */
    struct bus_range ranges[BUS_MAX_RANGES];
    int count;
};

/* Registers [base, base + len). Returns 0, or -1 if the range overlaps
 * another or the table is full. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, void *dev,
                 bus_read_fn read, bus_write_fn write, const char *name);

/* The range holding addr, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/* An access of size 1, 2, 4 or 8 bytes. Unclaimed reads return all ones
 * (an open bus), unclaimed writes are dropped; both return 0 then, 1 when
 * a device took the access. */
int bus_read(const struct bus *bus, uint64_t addr, unsigned size,
             uint64_t *value);
int bus_write(const struct bus *bus, uint64_t addr, unsigned size,
              uint64_t value);

#endif
