/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC (82093AA register set): an index/data register pair in MMIO and one 64-bit
 * redirection entry per input pin.
 */
#ifndef G_DRIVERS_IOAPIC_H
#define G_DRIVERS_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/spinlock.h"

#define G_IOAPIC_REGSEL		  0x00
#define G_IOAPIC_WINDOW		  0x10

#define G_IOAPIC_REG_ID		  0x00
#define G_IOAPIC_REG_VER	  0x01
#define G_IOAPIC_REG_REDTBL	  0x10 /* pin n: low word 0x10 + 2n, high word 0x11 + 2n */

#define G_IOAPIC_RTE_POLARITY_LOW 0x2000
#define G_IOAPIC_RTE_LEVEL	  0x8000
#define G_IOAPIC_RTE_MASKED	  0x10000
#define G_IOAPIC_RTE_DEST_SHIFT	  56

struct g_ioapic {
	struct g_spinlock lock; /* REGSEL then WINDOW must not interleave between CPUs */
	uintptr_t base;
	uint8_t id;
	unsigned int pins;
};

/* Reads the pin count and masks every pin. */
int g_ioapic_init(struct g_ioapic *io, uintptr_t base, uint8_t id);

/* Fixed delivery of vector to one LAPIC (physical destination). */
int g_ioapic_route(struct g_ioapic *io, unsigned int pin, uint8_t vector, uint8_t dest_apic_id,
		   bool level, bool active_low);
int g_ioapic_mask(struct g_ioapic *io, unsigned int pin);

#endif
