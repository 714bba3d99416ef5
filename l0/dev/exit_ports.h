/* The two ways a guest ends a run: QEMU's isa-debug-exit (a write of
 * value V to port 0xf4, 4 bytes wide, stops with status V) and the Bochs
 * shutdown port 0x8900 (the string "Shutdown" written byte by byte). */
#ifndef L0_DEV_EXIT_PORTS_H
#define L0_DEV_EXIT_PORTS_H

struct machine;

/* Registers both on m->ports. Returns 0, or -1 on failure. */
int exit_ports_register(struct machine *m);

/* Frees what exit_ports_register allocated (the shutdown port's match
 * state); call it when the machine is torn down. */
void exit_ports_destroy(struct machine *m);

#endif
