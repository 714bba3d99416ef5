/* The two ways a guest ends a run.
 *
 * isa-debug-exit behaves like QEMU's device configured with iobase=0xf4,
 * iosize=4: a write of any width anywhere in the four ports ends the run
 * with the written value as the status (QEMU itself then exits with
 * (value << 1) | 1; turtles reports the value as the guest meant it).
 * Reads return 0, as QEMU's do.
 *
 * The Bochs shutdown port 0x8900 ends the run once the bytes written to
 * it spell "Shutdown". A wrong byte resets the match; if that byte is
 * 'S' it starts a new one. A write wider than a byte is compared as a
 * whole, so only its value matters and a 16-bit "Sh" is a wrong byte. */
#include "dev/exit_ports.h"

#include <stdlib.h>

#include "machine.h"

enum {
    DEBUG_EXIT_PORT = 0xf4,
    DEBUG_EXIT_PORTS = 4,
    SHUTDOWN_PORT = 0x8900,
};

static const char shutdown_word[] = "Shutdown";

struct shutdown_port {
    struct machine *m;
    unsigned matched; /* how many bytes of shutdown_word so far */
};

static uint64_t debug_exit_read(void *dev, uint64_t offset, unsigned size)
{
    (void)dev, (void)offset, (void)size;
    return 0;
}

static void debug_exit_write(void *dev, uint64_t offset, unsigned size,
                             uint64_t value)
{
    (void)offset, (void)size;
    machine_stop(dev, STOP_DEBUG_EXIT, (uint32_t)value,
                 "isa-debug-exit: the guest wrote status %u",
                 (unsigned)(uint32_t)value);
}

static void shutdown_write(void *dev, uint64_t offset, unsigned size,
                           uint64_t value)
{
    struct shutdown_port *s = dev;
    (void)offset, (void)size;
    if (value == (uint8_t)shutdown_word[s->matched])
        s->matched++;
    else
        s->matched = value == (uint8_t)shutdown_word[0];
    if (shutdown_word[s->matched] == '\0') {
        s->matched = 0;
        machine_stop(s->m, STOP_SHUTDOWN, 0,
                     "the guest wrote \"Shutdown\" to port 0x8900");
    }
}

int exit_ports_register(struct machine *m)
{
    struct shutdown_port *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -1;
    s->m = m;
    if (bus_register(&m->ports, DEBUG_EXIT_PORT, DEBUG_EXIT_PORTS, m,
                     debug_exit_read, debug_exit_write,
                     "isa-debug-exit") != 0 ||
        bus_register(&m->ports, SHUTDOWN_PORT, 1, s, NULL, shutdown_write,
                     "bochs-shutdown") != 0) {
        free(s);
        return -1;
    }
    return 0;
}

void exit_ports_destroy(struct machine *m)
{
    const struct bus_range *r = bus_find(&m->ports, SHUTDOWN_PORT);
    if (r != NULL && r->write == shutdown_write)
        free(r->dev);
}
