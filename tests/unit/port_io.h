/* Byte-wide port I/O on a bus for the device unit tests: each access
 * must reach a device (bus_read/bus_write return 1). */
#ifndef TESTS_UNIT_PORT_IO_H
#define TESTS_UNIT_PORT_IO_H

#include <stdint.h>

#include "dev/bus.h"

static inline void port_out(struct bus *ports, uint16_t port, uint8_t v)
{
    assert_int_equal(bus_write(ports, port, 1, v), 1);
}

static inline uint8_t port_in(struct bus *ports, uint16_t port)
{
    uint64_t v;
    assert_int_equal(bus_read(ports, port, 1, &v), 1);
    return (uint8_t)v;
}

#endif
