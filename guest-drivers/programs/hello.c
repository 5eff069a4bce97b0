// SPDX-License-Identifier: MIT
/*
 * hello: what the guest was given. The memory map differs between machines, so those lines
 * start with "mem:" (the transcript comparison skips them).
 */
#include "lib/printf.h"
#include "programs/programs.h"
#include "runtime/bootinfo.h"
#include "runtime/platform.h"

static const char *memmap_type(uint32_t type)
{
	switch (type) {
	case HVM_MEMMAP_TYPE_RAM:
		return "ram";
	case HVM_MEMMAP_TYPE_RESERVED:
		return "reserved";
	case HVM_MEMMAP_TYPE_ACPI:
		return "acpi";
	case HVM_MEMMAP_TYPE_NVS:
		return "nvs";
	case HVM_MEMMAP_TYPE_UNUSABLE:
		return "unusable";
	default:
		return "other";
	}
}

int g_hello_main(struct g_run *run)
{
	for (unsigned int i = 0; i < g_boot.nmemmap; i++) {
		const struct hvm_memmap_table_entry *e = &g_boot.memmap[i];

		g_printf("mem: 0x%016lx-0x%016lx %s\n", e->addr, e->addr + e->size - 1,
			 memmap_type(e->type));
	}
	if (g_boot.memmap_entries > g_boot.nmemmap)
		g_printf("mem: %u more entries not shown\n",
			 g_boot.memmap_entries - g_boot.nmemmap);
	g_printf("cmdline: %s\n", g_boot.cmdline);
	if (!g_boot.nmemmap)
		return g_run_fail(run, "no memory map in the PVH start info");
	if (g_platform.mp_err)
		return g_run_fail(run, "no usable MP table (error %d)", g_platform.mp_err);
	g_printf("cpus: %u\n", g_platform.mp.ncpus);
	return 0;
}
