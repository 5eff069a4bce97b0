/* SPDX-License-Identifier: MIT */
/*
 * test_pcnet_guest.c's stand-in for the guest's runtime/platform.h: INTx routing and the
 * per-vector interrupt counters, which the test keeps as an edge-triggered I/O APIC pin would
 * (an interrupt per rise of the line). Only what drivers/pcnet.c uses.
 */
#ifndef G_RUNTIME_PLATFORM_H
#define G_RUNTIME_PLATFORM_H

#include <stdint.h>

int g_platform_route_pci_intx(unsigned int bus, unsigned int dev, unsigned int pin,
			      unsigned int line, unsigned int *vector);
uint64_t g_irq_count(unsigned int vector);
int g_irq_wait(unsigned int vector, uint64_t seen, uint64_t timeout_us);

#endif
