/* The keyboard controller's ports as this machine has them: no 8042 is
 * present (no keyboard, no mouse), but the reset line that the 8042
 * drives on a PC is decoded. Ports 0x60 and 0x64 read as an empty bus
 * (0xFF), which Linux's i8042 driver takes for "no controller" at its
 * first status read (and the FADT says there is none, so Linux does not
 * probe at all). Writing command 0xFE (pulse the reset line) to port
 * 0x64 resets the machine: the run stops with STOP_RESET, since there is
 * no reset path (the CPU does not restart at the reset vector). */
#ifndef L0_DEV_I8042_H
#define L0_DEV_I8042_H

struct machine;

/* Registers ports 0x60 and 0x64 on m->ports. Returns 0, or -1. */
int i8042_register(struct machine *m);

#endif
