/* Configuration mechanism #1 and the 440FX host bridge (see pci.h).
 *
 * CONFIG_ADDRESS (0xCF8) is latched only by 32-bit accesses; other sizes
 * there go to the ISA bus (the byte port 0xCF9 is the PIIX reset control
 * register). CONFIG_DATA (0xCFC-0xCFF) reads or writes 1, 2 or 4 bytes of
 * the addressed dword at the port's byte offset, when the enable bit
 * (31) is set.
 *
 * The host bridge's configuration space is plain storage except for the
 * read-only identification header. Simplified: the 440FX's chipset
 * registers (PAM, SMRAM, DRAM rows at 0x50-0x7F) are storage with no
 * effect: RAM is always RAM. */
#include "dev/pci.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

enum {
    CONFIG_ADDRESS = 0xCF8,
    RESET_CONTROL = 0xCF9,
    CONFIG_DATA = 0xCFC,
    CONFIG_ENABLE = 1u << 31,
    RESET_SYS_AND_CPU = 0x06, /* SYS_RST | RST_CPU */
};

struct pci {
    struct machine *m;
    uint32_t address;
    uint8_t host_bridge[256];
};

/* The 440FX PMC's identification (82441FX data sheet, configuration
 * registers): vendor, device, revision, class code, header type 0.
 * Command and status start at 0 (simplified: the chip's status register
 * reports its DEVSEL timing and fast back-to-back capability). */
static void host_bridge_reset(uint8_t *c)
{
    static const uint8_t header[16] = {
        0x86, 0x80, 0x37, 0x12, /* 8086:1237 */
        0x00, 0x00, 0x00, 0x00, /* command, status */
        0x02, 0x00, 0x00, 0x06, /* revision 2; host bridge 06 00 00 */
        0x00, 0x00, 0x00, 0x00, /* header type 0, single function */
    };
    memset(c, 0, 256);
    memcpy(c, header, sizeof header);
}

/* Writable bytes: the command register's low byte, the latency timer,
 * and the device-specific area 0x40-0xFF. */
static bool writable(unsigned offset)
{
    return offset == 0x04 || offset == 0x0D || offset >= 0x40;
}

static uint8_t *addressed_space(struct pci *p)
{
    if (!(p->address & CONFIG_ENABLE))
        return NULL;
    unsigned bus = (p->address >> 16) & 0xFF, dev = (p->address >> 11) & 0x1F,
             fn = (p->address >> 8) & 7;
    return bus == 0 && dev == 0 && fn == 0 ? p->host_bridge : NULL;
}

static uint64_t address_read(void *dev, uint64_t offset, unsigned size)
{
    struct pci *p = dev;
    return offset == 0 && size == 4 ? p->address : UINT64_MAX;
}

static void address_write(void *dev, uint64_t offset, unsigned size,
                          uint64_t value)
{
    struct pci *p = dev;
    if (offset == 0 && size == 4)
        p->address = (uint32_t)value & 0x80FFFFFC; /* reserved bits 0 */
    else if (offset == RESET_CONTROL - CONFIG_ADDRESS && size == 1 &&
             (value & RESET_SYS_AND_CPU) == RESET_SYS_AND_CPU)
        machine_stop(p->m, STOP_RESET, 0,
                     "the guest reset the machine (0x%02x to the PIIX reset "
                     "control register, port 0xcf9)", (unsigned)value);
}

static uint64_t data_read(void *dev, uint64_t offset, unsigned size)
{
    struct pci *p = dev;
    uint8_t *space = addressed_space(p);
    if (space == NULL)
        return UINT64_MAX;
    unsigned base = (p->address & 0xFC) + (unsigned)offset;
    uint64_t v = 0;
    for (unsigned i = 0; i < size && base + i < 256; i++)
        v |= (uint64_t)space[base + i] << (8 * i);
    return v;
}

static void data_write(void *dev, uint64_t offset, unsigned size,
                       uint64_t value)
{
    struct pci *p = dev;
    uint8_t *space = addressed_space(p);
    if (space == NULL)
        return;
    unsigned base = (p->address & 0xFC) + (unsigned)offset;
    for (unsigned i = 0; i < size && base + i < 256; i++)
        if (writable(base + i))
            space[base + i] = (uint8_t)(value >> (8 * i));
}

struct pci *pci_create(struct machine *m)
{
    struct pci *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->m = m;
    host_bridge_reset(p->host_bridge);
    if (bus_register(&m->ports, CONFIG_ADDRESS, 4, p, address_read,
                     address_write, "pci-address") != 0 ||
        bus_register(&m->ports, CONFIG_DATA, 4, p, data_read, data_write,
                     "pci-data") != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void pci_destroy(struct pci *p)
{
    free(p);
}
