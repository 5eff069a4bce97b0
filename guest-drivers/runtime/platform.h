/* SPDX-License-Identifier: MIT */
/*
 * The machine as the runtime set it up: console UART, MP table, LAPIC, I/O APICs, with the
 * legacy PIC masked. Programs use it to route and wait for interrupts.
 */
#ifndef G_RUNTIME_PLATFORM_H
#define G_RUNTIME_PLATFORM_H

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

/* Interrupt counters of the calling CPU (written by ring 0). */
uint64_t g_irq_seq(void);
uint64_t g_irq_count(unsigned int vector);

/* Waits until vector's count differs from seen, or timeout_us passes (-ETIMEDOUT). Sleeps in
 * SYS_WAIT; the LAPIC timer bounds each sleep, so vector must not be G_VEC_TIMER. */
int g_irq_wait(unsigned int vector, uint64_t seen, uint64_t timeout_us);

#endif
