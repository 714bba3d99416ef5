/* The 8042's reset line without the 8042 (see i8042.h). Other commands
 * and data bytes are ignored, as a bus without the chip would. */
#include "dev/i8042.h"

#include "machine.h"

enum {
    DATA_PORT = 0x60,
    COMMAND_PORT = 0x64,
    CMD_PULSE_RESET = 0xFE, /* pulse output port bit 0, the CPU's RESET */
};

static void command_write(void *dev, uint64_t offset, unsigned size,
                          uint64_t value)
{
    (void)offset, (void)size;
    if ((uint8_t)value == CMD_PULSE_RESET)
        machine_stop(dev, STOP_RESET, 0,
                     "the guest reset the machine (command 0xFE to the "
                     "keyboard controller, port 0x64)");
}

int i8042_register(struct machine *m)
{
    /* Reads (NULL read callbacks) float: 0xFF, an absent controller. */
    if (bus_register(&m->ports, DATA_PORT, 1, m, NULL, NULL, "i8042-data") ||
        bus_register(&m->ports, COMMAND_PORT, 1, m, NULL, command_write,
                     "i8042-command"))
        return -1;
    return 0;
}
