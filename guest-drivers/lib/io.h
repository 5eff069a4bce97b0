/* SPDX-License-Identifier: MIT */
/*
 * Port I/O, MMIO and TSC access. All of it works at CPL3: the TSS I/O bitmap allows every port
 * and the MMIO hole is mapped user-accessible (and uncached). There is no cli/sti here: user mode
 * always runs with interrupts on (kernel/layout.h).
 */
#ifndef G_LIB_IO_H
#define G_LIB_IO_H

#include <stdint.h>

static inline uint8_t g_inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t g_inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t g_inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void g_outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void g_outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void g_outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* String port I/O: count 16-bit words between port and buf in one rep insw/outsw, which a VMM
 * can serve with one exit (an ATA DRQ block). The memory clobber keeps the compiler from
 * touching buf across it. */
static inline void g_insw(uint16_t port, void *buf, unsigned long count)
{
	asm volatile("rep insw" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}

static inline void g_outsw(uint16_t port, const void *buf, unsigned long count)
{
	asm volatile("rep outsw" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}

/* Orders memory accesses against the port I/O around it, for DMA: x86 neither moves stores
 * after a later in/out nor loads before an earlier one, so this only stops the compiler (the
 * port helpers above have no memory clobber). A driver puts it between writing a descriptor
 * and the doorbell, and between the completion read and reading what the device wrote. */
static inline void g_io_barrier(void)
{
	asm volatile("" ::: "memory");
}

/* MMIO: one access of exactly the given width, never merged or split by the compiler. Device
 * registers often insist on their width (virtio's common configuration does). */
static inline uint8_t g_mmio_read8(uintptr_t addr)
{
	return *(volatile uint8_t *)addr;
}

static inline uint16_t g_mmio_read16(uintptr_t addr)
{
	return *(volatile uint16_t *)addr;
}

static inline uint32_t g_mmio_read32(uintptr_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void g_mmio_write8(uintptr_t addr, uint8_t v)
{
	*(volatile uint8_t *)addr = v;
}

static inline void g_mmio_write16(uintptr_t addr, uint16_t v)
{
	*(volatile uint16_t *)addr = v;
}

static inline void g_mmio_write32(uintptr_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline uint64_t g_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void g_cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

static inline unsigned int g_current_cpl(void)
{
	uint16_t cs;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

#endif
