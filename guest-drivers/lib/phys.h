/* SPDX-License-Identifier: MIT */
/* Reaching physical memory from CPL3 through the kernel's static page tables (kernel/tables.S). */
#ifndef G_LIB_PHYS_H
#define G_LIB_PHYS_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/layout.h"

#define G_IDENTITY_START 0x1000ull	/* page 0 is left out */
#define G_IDENTITY_END	 0x100000000ull /* 4 GiB */

/* A pointer to physical [paddr, paddr + size), or NULL if that range is not mapped. The first
 * 2 MiB is reached through G_LOWMEM_ALIAS, so page 0 (the BIOS data area, QEMU's PVH memory
 * map) can be read too. */
static inline void *g_phys_ptr(uint64_t paddr, uint64_t size)
{
	if (paddr < G_LOWMEM_ALIAS_SIZE && size <= G_LOWMEM_ALIAS_SIZE - paddr)
		return (void *)(uintptr_t)(G_LOWMEM_ALIAS + paddr);
	if (paddr >= G_IDENTITY_START && paddr <= G_IDENTITY_END && size <= G_IDENTITY_END - paddr)
		return (void *)(uintptr_t)paddr;
	return NULL;
}

#endif
