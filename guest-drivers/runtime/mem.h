/* SPDX-License-Identifier: MIT */
/*
 * Memory for drivers: RAM that devices reach by DMA (rings, buffers), and device memory (BARs,
 * MMIO transports) mapped uncached. The guest has no free(): drivers set up once per program.
 */
#ifndef G_RUNTIME_MEM_H
#define G_RUNTIME_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed RAM from the PVH memory map above the image, aligned to align (a power of two), or
 * NULL when none is left. It is identity-mapped: its physical address is g_mem_phys(p). */
void *g_mem_alloc(size_t size, size_t align);

static inline uint64_t g_mem_phys(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* An uncached CPL3 mapping of device memory [paddr, paddr + size): the identity map for the
 * MMIO hole at 3-4 GiB, or 2 MiB pages in G_MMIO_WINDOW for anything else. NULL if the window
 * is full or the range wraps. */
void *g_mmio_map(uint64_t paddr, uint64_t size);

#endif
