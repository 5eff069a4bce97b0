/* SPDX-License-Identifier: MIT */
/*
 * test_pcnet_guest.c's stand-in for the guest's lib/io.h: the guest PCnet driver's port I/O and
 * TSC reads become calls into the test, which serves them with vmmon's PCnet core. Only what
 * drivers/pcnet.c uses.
 */
#ifndef G_LIB_IO_H
#define G_LIB_IO_H

#include <stdint.h>

uint8_t g_inb(uint16_t port);
uint16_t g_inw(uint16_t port);
void g_outw(uint16_t port, uint16_t v);
uint64_t g_rdtsc(void);

/* One thread reads and writes the fake RAM here: only the compiler's order matters. */
static inline void g_io_barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

#endif
