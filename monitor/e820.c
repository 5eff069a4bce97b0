/* SPDX-License-Identifier: MIT */
#include "e820.h"

#include <errno.h>

#include "layout.h"

uint64_t vmm_ram_below_4g(uint64_t ram_size)
{
	return ram_size < LAYOUT_MMIO_HOLE ? ram_size : LAYOUT_MMIO_HOLE;
}

uint64_t vmm_ram_above_4g(uint64_t ram_size)
{
	return ram_size - vmm_ram_below_4g(ram_size);
}

static void add(struct vmm_e820 *map, uint64_t addr, uint64_t size, uint32_t type)
{
	map->e[map->nr++] = (struct boot_e820_entry){.addr = addr, .size = size, .type = type};
}

int vmm_e820_build(uint64_t ram_size, struct vmm_e820 *map)
{
	map->nr = 0;
	if (ram_size < LAYOUT_MIN_RAM || ram_size > LAYOUT_MAX_RAM || ram_size % 4096)
		return -EINVAL;
	add(map, 0, LAYOUT_EBDA, VMM_E820_RAM);
	add(map, LAYOUT_EBDA, 0xa0000 - LAYOUT_EBDA, VMM_E820_RESERVED);
	add(map, LAYOUT_BIOS, LAYOUT_HIGH_RAM - LAYOUT_BIOS, VMM_E820_RESERVED);
	add(map, LAYOUT_HIGH_RAM, vmm_ram_below_4g(ram_size) - LAYOUT_HIGH_RAM, VMM_E820_RAM);
	if (vmm_ram_above_4g(ram_size))
		add(map, LAYOUT_4G, vmm_ram_above_4g(ram_size), VMM_E820_RAM);
	return 0;
}

bool vmm_e820_is_ram(const struct vmm_e820 *map, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < map->nr; i++) {
		const struct boot_e820_entry *e = &map->e[i];
		if (e->type != VMM_E820_RAM || addr < e->addr)
			continue;
		uint64_t off = addr - e->addr;
		if (off <= e->size && len <= e->size - off)
			return true;
	}
	return false;
}

uint64_t vmm_e820_low_ram_end(const struct vmm_e820 *map)
{
	uint64_t end = 0;
	for (unsigned i = 0; i < map->nr; i++) {
		const struct boot_e820_entry *e = &map->e[i];
		if (e->type == VMM_E820_RAM && e->addr < LAYOUT_4G && e->addr + e->size > end)
			end = e->addr + e->size;
	}
	return end;
}
