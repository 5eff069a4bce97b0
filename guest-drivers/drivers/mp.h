/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables (include/mptable.h): the CPUs, the I/O APICs
 * and where each ISA interrupt enters an I/O APIC. The parsers are pure functions of the bytes
 * they are given.
 */
#ifndef G_DRIVERS_MP_H
#define G_DRIVERS_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/layout.h"
#include "mptable.h"

#define G_MP_MAX_IOAPICS 8
#define G_MP_ISA_IRQS	 16
#define G_MP_PCI_IRQS	 64

struct g_mp_cpu {
	uint8_t apic_id;
	bool bsp;
};

struct g_mp_ioapic {
	uint8_t id;
	uint32_t addr;
};

struct g_mp_isa_irq {
	bool present;
	uint8_t ioapic_id; /* MP table's destination I/O APIC; 0xff = all */
	uint8_t pin;
	uint16_t flags; /* MP_IRQPOL_* | MP_IRQTRIG_* */
};

/* A PCI interrupt source (MP spec 4.3.4): INTx pin of a device on a PCI bus. */
struct g_mp_pci_irq {
	uint8_t bus;
	uint8_t dev;
	uint8_t pin; /* 0 = INTA# ... 3 = INTD# */
	uint8_t ioapic_id;
	uint8_t ioapic_pin;
	uint16_t flags; /* MP_IRQPOL_* | MP_IRQTRIG_*; "conforms" means level, active low */
};

struct g_mp_info {
	uint32_t lapic_addr;
	bool imcr;	    /* PIC mode with an IMCR present (MP spec 3.6.2.1) */
	unsigned int ncpus; /* enabled processors in the table (all of them, even past cpu[]) */
	struct g_mp_cpu cpu[G_MAX_CPUS];
	unsigned int nioapics;
	struct g_mp_ioapic ioapic[G_MP_MAX_IOAPICS];
	struct g_mp_isa_irq isa[G_MP_ISA_IRQS];
	unsigned int npci; /* PCI interrupt sources kept (the first G_MP_PCI_IRQS) */
	struct g_mp_pci_irq pci[G_MP_PCI_IRQS];
};

/* Validates a floating pointer structure (signature, length, checksum, revision) and that it
 * names a configuration table rather than a default configuration. */
int g_mp_check_floating(const struct mpf_intel *mpf);

/* Parses a configuration table; len bounds every read. Fills mp (zeroed first). */
int g_mp_parse_table(const void *table, size_t len, struct g_mp_info *mp);

/*
 * Finds the floating pointer where MP spec 4 says to look: the first KiB of the EBDA, the last
 * KiB of base memory (both located from the BIOS data area when it has them), then
 * 0xF0000-0xFFFFF; and parses the table it points to.
 */
int g_mp_find(struct g_mp_info *mp);

/* The MP table's entry for INTx pin (0 = INTA#) of device dev on PCI bus bus, or NULL. */
const struct g_mp_pci_irq *g_mp_pci_irq(const struct g_mp_info *mp, unsigned int bus,
					unsigned int dev, unsigned int pin);

/* Puts the CPU with this APIC ID first (our CPU 0 is the one running). -ENOENT if absent. */
int g_mp_set_boot_cpu(struct g_mp_info *mp, unsigned int apic_id);

#endif
