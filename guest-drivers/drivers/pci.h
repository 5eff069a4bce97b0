/* SPDX-License-Identifier: MIT */
/*
 * PCI through configuration mechanism #1 (ports 0xcf8/0xcfc), from CPL3. The guest finds what
 * the firmware (SeaBIOS under QEMU) or the VMM (vmmon) assigned and never moves a BAR. Register
 * names are Linux's <linux/pci_regs.h>.
 */
#ifndef G_DRIVERS_PCI_H
#define G_DRIVERS_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define G_PCI_BARS	6
#define G_PCI_MAX_BUSES 32

struct g_pci_bar {
	uint64_t addr; /* as assigned; 0 = not assigned or not implemented */
	uint64_t size;
	bool io;
	bool mem64; /* the upper half is the next BAR, which has no entry of its own */
	bool prefetch;
};

/* One function. Filled in by g_pci_scan_next; the driver that takes it keeps it. */
struct g_pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint32_t class_code; /* class, subclass, programming interface */
	uint8_t header_type; /* PCI_HEADER_TYPE_*, without the multi-function bit */
	uint8_t irq_pin;     /* 0: none; 1 = INTA# */
	uint8_t irq_line;    /* as the firmware set it; 0xff: none */
	struct g_pci_bar bar[G_PCI_BARS];
};

/* Bus 0, then the secondary buses of the PCI-to-PCI bridges found on the way (as numbered by
 * the firmware), in order. */
struct g_pci_scan {
	uint8_t bus[G_PCI_MAX_BUSES];
	unsigned int nbus, cur; /* buses known, index of the one being scanned */
	unsigned int dev, fn;	/* next slot to look at */
	bool multi;		/* function 0 of this device says it has more */
};

void g_pci_scan_start(struct g_pci_scan *s);
/* The next function present, with its BARs decoded: 0, or -ENOENT when all buses are done. */
int g_pci_scan_next(struct g_pci_scan *s, struct g_pci_dev *d);

uint8_t g_pci_read8(const struct g_pci_dev *d, unsigned int off);
uint16_t g_pci_read16(const struct g_pci_dev *d, unsigned int off);
uint32_t g_pci_read32(const struct g_pci_dev *d, unsigned int off);
void g_pci_write16(const struct g_pci_dev *d, unsigned int off, uint16_t v);
void g_pci_write32(const struct g_pci_dev *d, unsigned int off, uint32_t v);

/* Offset of the first capability with this ID after offset after (0: from the start), or 0. The
 * walk is bounded, so a looping list ends. */
unsigned int g_pci_find_cap(const struct g_pci_dev *d, uint8_t id, unsigned int after);

/* Sets (on) or clears bits of the command register (PCI_COMMAND_*). */
void g_pci_command(const struct g_pci_dev *d, uint16_t bits, bool on);

/* An uncached mapping of [off, off + len) of memory BAR bar, or NULL if the BAR is an I/O BAR,
 * unassigned, or too small. */
void *g_pci_bar_map(const struct g_pci_dev *d, unsigned int bar, uint64_t off, uint64_t len);

#endif
