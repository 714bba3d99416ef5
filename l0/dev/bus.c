/* The port-I/O and MMIO buses. A handful of ranges per bus, so a linear
 * scan is as fast as anything cleverer and keeps registration trivial. */
#include "dev/bus.h"

#include <stddef.h>

/* All ones in the low `size` bytes: what a read of an undriven bus (or
 * of an unclaimed port) returns on a PC. */
static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ull << (size * 8)) - 1;
}

static int valid_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, void *dev,
                 bus_read_fn read, bus_write_fn write, const char *name)
{
    /* An empty range or one that wraps past the top of the address space
     * could never be found by bus_find; refuse it rather than keep it. */
    if (len == 0 || base + len - 1 < base || bus->count >= BUS_MAX_RANGES)
        return -1;
    uint64_t last = base + len - 1;
    for (int i = 0; i < bus->count; i++) {
        const struct bus_range *r = &bus->ranges[i];
        if (base <= r->base + r->len - 1 && r->base <= last)
            return -1;
    }
    bus->ranges[bus->count++] = (struct bus_range){
        .base = base, .len = len, .dev = dev,
        .read = read, .write = write, .name = name,
    };
    return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
    for (int i = 0; i < bus->count; i++) {
        const struct bus_range *r = &bus->ranges[i];
        if (addr - r->base < r->len)
            return r;
    }
    return NULL;
}

/* An access is routed by its first byte: a 4-byte access at the last
 * port of a range goes to that range's device alone, which sees the
 * offset and size and decides. (Simplification: real chipsets split
 * such accesses; no guest we run makes them.) */
int bus_read(const struct bus *bus, uint64_t addr, unsigned size,
             uint64_t *value)
{
    const struct bus_range *r = bus_find(bus, addr);
    if (!valid_size(size)) { /* a CPU bug, not a guest's: float the bus */
        *value = UINT64_MAX;
        return 0;
    }
    if (r == NULL) {
        *value = size_mask(size);
        return 0;
    }
    *value = (r->read ? r->read(r->dev, addr - r->base, size) : UINT64_MAX) &
             size_mask(size);
    return 1;
}

int bus_write(const struct bus *bus, uint64_t addr, unsigned size,
              uint64_t value)
{
    const struct bus_range *r = bus_find(bus, addr);
    if (r == NULL || !valid_size(size))
        return 0;
    if (r->write)
        r->write(r->dev, addr - r->base, size, value & size_mask(size));
    return 1;
}
