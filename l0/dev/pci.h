/* PCI configuration mechanism #1 (ports 0xCF8-0xCFF, PCI Local Bus
 * Specification 3.0, 3.2.2.3.2) with one device: the host bridge at
 * 00:00.0, an Intel 440FX PMC (8086:1237, revision 2, class 06 00 00),
 * the one QEMU's `-machine pc` has. Every other bus/device/function reads
 * all ones, which is how software finds a slot empty. The PIIX's reset
 * control register at 0xCF9 is decoded for byte accesses: writing
 * SYS_RST|RST_CPU (0x06) resets the machine (STOP_RESET). */
#ifndef L0_DEV_PCI_H
#define L0_DEV_PCI_H

struct machine;
struct pci;

/* Registers ports 0xCF8-0xCFF on m->ports. NULL on failure. */
struct pci *pci_create(struct machine *m);
void pci_destroy(struct pci *p);

#endif
