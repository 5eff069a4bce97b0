/* SPDX-License-Identifier: MIT */
/* The guest's memory map, one table used by both boot protocols and by the memory slots. */
#ifndef VMMON_E820_H
#define VMMON_E820_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stdint.h>

#define VMM_E820_MAX	  16
#define VMM_E820_RAM	  1
#define VMM_E820_RESERVED 2

struct vmm_e820 {
	unsigned nr;
	struct boot_e820_entry e[VMM_E820_MAX];
};

/* Guest RAM is split around the 32-bit MMIO hole: this much sits below it, the rest from 4 GiB. */
uint64_t vmm_ram_below_4g(uint64_t ram_size);
uint64_t vmm_ram_above_4g(uint64_t ram_size);

/* Builds the map for ram_size bytes (LAYOUT_MIN_RAM..LAYOUT_MAX_RAM, a multiple of 4 KiB):
 * low RAM up to the EBDA, the reserved EBDA and BIOS areas, RAM from 1 MiB up to the MMIO
 * hole, and RAM above 4 GiB. Returns 0 or -EINVAL. */
int vmm_e820_build(uint64_t ram_size, struct vmm_e820 *map);
/* True if [addr, addr + len) lies inside one RAM entry (len 0 counts as inside). */
bool vmm_e820_is_ram(const struct vmm_e820 *map, uint64_t addr, uint64_t len);
/* End of the RAM entry below 4 GiB that reaches highest. */
uint64_t vmm_e820_low_ram_end(const struct vmm_e820 *map);

#endif
