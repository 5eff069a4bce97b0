// SPDX-License-Identifier: MIT
/*
 * A bump allocator over the RAM that follows the image, and the device-memory window. Both run
 * at CPL3: the heap is plain identity-mapped RAM, and the window is filled in by writing page
 * directory entries that were absent, which needs no TLB flush (an absent entry is never
 * cached), so no system call either.
 */
#include "kernel/layout.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "runtime/bootinfo.h"
#include "runtime/mem.h"

#define PAGE_2M 0x200000ull
#define PTE_P	0x001
#define PTE_RW	0x002
#define PTE_US	0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS	0x080
/* PWT|PCD selects PAT entry 3, uncached since reset: device registers must not be cached. */
#define PTE_2M_UC    (PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_PS)
#define UC_MAP_START 0xc0000000ull /* tables.S maps 3-4 GiB uncached */
#define UC_MAP_END   0x100000000ull

extern char g_image_end[];	/* linker.ld */
extern uint64_t g_pd_mmio[512]; /* kernel/tables.S */

static struct g_spinlock lock;
static uint64_t heap_next, heap_end; /* heap_end 0: not set up yet */
static unsigned int window_next;     /* next free 2 MiB slot of G_MMIO_WINDOW */

/* The heap is the rest of the RAM entry that holds the end of the image, below 4 GiB (the
 * identity map). */
static void heap_init(void)
{
	uint64_t start = ((uint64_t)(uintptr_t)g_image_end + 4095) & ~4095ull;

	heap_next = heap_end = start;
	for (unsigned int i = 0; i < g_boot.nmemmap; i++) {
		const struct hvm_memmap_table_entry *e = &g_boot.memmap[i];
		uint64_t end = e->addr + e->size;

		if (e->type != HVM_MEMMAP_TYPE_RAM || start < e->addr || start >= end)
			continue;
		heap_end = end < UC_MAP_START ? end : UC_MAP_START;
	}
}

void *g_mem_alloc(size_t size, size_t align)
{
	uint64_t p;

	if (!align || (align & (align - 1)))
		return NULL;
	g_spin_lock(&lock);
	if (!heap_end)
		heap_init();
	p = (heap_next + align - 1) & ~(uint64_t)(align - 1);
	if (p < heap_next || p > heap_end || size > heap_end - p) {
		g_spin_unlock(&lock);
		return NULL;
	}
	heap_next = p + size;
	g_spin_unlock(&lock);
	/* Firmware may have used this RAM before us. */
	memset((void *)(uintptr_t)p, 0, size);
	return (void *)(uintptr_t)p;
}

void *g_mmio_map(uint64_t paddr, uint64_t size)
{
	uint64_t first = paddr & ~(PAGE_2M - 1), pages;
	uintptr_t va;

	if (!size || paddr + size < paddr)
		return NULL;
	if (paddr >= UC_MAP_START && paddr + size <= UC_MAP_END)
		return (void *)(uintptr_t)paddr;
	pages = (paddr + size - first + PAGE_2M - 1) / PAGE_2M;
	g_spin_lock(&lock);
	if (pages > G_MMIO_WINDOW_SIZE / PAGE_2M - window_next) {
		g_spin_unlock(&lock);
		return NULL;
	}
	va = G_MMIO_WINDOW + window_next * PAGE_2M + (paddr - first);
	for (uint64_t i = 0; i < pages; i++)
		G_WRITE_ONCE(g_pd_mmio[window_next + i], (first + i * PAGE_2M) | PTE_2M_UC);
	window_next += (unsigned int)pages;
	g_spin_unlock(&lock);
	return (void *)va;
}
