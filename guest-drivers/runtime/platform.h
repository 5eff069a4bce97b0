/* SPDX-License-Identifier: MIT */
/*
 * The machine as the runtime set it up: console UART, MP table, LAPIC, I/O APICs, with the
 * legacy PIC masked. Programs use it to route and wait for interrupts.
 */
#ifndef G_RUNTIME_PLATFORM_H
#define G_RUNTIME_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/ioapic.h"
#include "drivers/mp.h"
#include "drivers/uart.h"

struct g_platform {
	struct g_uart uart;
	int mp_err; /* g_mp_find's result; mp is only valid when 0 */
	struct g_mp_info mp;
	unsigned int nioapics;
	struct g_ioapic ioapic[G_MP_MAX_IOAPICS];
};

extern struct g_platform g_platform;

/* BSP, once: console, PIC masked, MP table, LAPIC, I/O APICs masked. A missing MP table is
 * recorded in mp_err, not fatal: "hello" reports it. */
int g_platform_init(void);

/* AP: its LAPIC. */
void g_platform_init_ap(void);

/* Routes ISA IRQ irq to this CPU through the I/O APIC pin the MP table names; returns the
 * vector in *vector. -ENODEV without an MP table entry or a matching I/O APIC. */
int g_platform_route_isa_irq(unsigned int irq, unsigned int *vector);
int g_platform_mask_isa_irq(unsigned int irq);

/* The I/O APIC pin ISA IRQ irq uses, or -ENODEV. */
int g_platform_isa_irq_pin(unsigned int irq);

/*
 * Device interrupt lines for drivers at CPL3. They are programmed edge-triggered whatever the
 * bus says: a level-triggered pin would be re-raised by the I/O APIC right after ring 0's EOI,
 * before the CPL3 driver could quiet the device, and ring 0 does not mask pins. A device line
 * (virtio's ISR) stays asserted until the driver acknowledges it, so the driver acknowledges
 * before it looks at its rings, and the next event makes a new edge. Polarity follows the MP
 * table (QEMU's and KVM's I/O APICs take the logical level and ignore it).
 */

/* Routes GSI gsi to this CPU: I/O APIC inputs numbered across the MP table's I/O APICs in
 * table order, as PCs number them. An ISA IRQ (gsi < 16) with an MP table entry goes where the
 * entry says. Returns the vector in *vector; -ENODEV without such an input, -ERANGE if its
 * vector would leave the I/O APIC range. */
int g_platform_route_gsi(unsigned int gsi, unsigned int *vector);
int g_platform_mask_gsi(unsigned int gsi);

/* Routes INTx pin (0 = INTA#) of PCI device bus:dev to this CPU, through the MP table's PCI
 * interrupt entry or, without one, the interrupt line register the firmware set (line, taken
 * as a GSI). Returns the vector in *vector, or -ENODEV. */
int g_platform_route_pci_intx(unsigned int bus, unsigned int dev, unsigned int pin,
			      unsigned int line, unsigned int *vector);

/* A LAPIC vector for a message-signalled interrupt (G_VEC_DYN_BASE..G_VEC_DYN_LAST); vectors
 * are never given back. -ENOSPC when none is left. */
int g_platform_alloc_vector(unsigned int *vector);

/* Interrupt counters of the calling CPU (written by ring 0). */
uint64_t g_irq_seq(void);
uint64_t g_irq_count(unsigned int vector);

/* Waits until vector's count differs from seen, or timeout_us passes (-ETIMEDOUT). Sleeps in
 * SYS_WAIT; the LAPIC timer bounds each sleep, so vector must not be G_VEC_TIMER. */
int g_irq_wait(unsigned int vector, uint64_t seen, uint64_t timeout_us);

/* The same over several vectors (a device with one per queue): seen is the sum of their counts
 * (g_irq_count_sum) when the caller last looked. */
uint64_t g_irq_count_sum(const unsigned int *vectors, unsigned int n);
int g_irq_wait_any(const unsigned int *vectors, unsigned int n, uint64_t seen, uint64_t timeout_us);

/* TSC ticks this CPU has spent in the SYS_WAIT system calls of g_irq_wait and g_irq_wait_any,
 * from the instruction before each call to the one after it (the interrupt that ends the sleep
 * included): the time the CPU idled waiting for an interrupt. nettx and netrx report it as
 * their idle share. */
uint64_t g_wait_tsc(void);

#endif
