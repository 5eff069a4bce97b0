/* SPDX-License-Identifier: MIT */
/*
 * What the loader handed over in struct hvm_start_info (include/pvh.h), copied out of low
 * memory first thing, before the AP trampoline or anything else can overwrite it.
 */
#ifndef G_RUNTIME_BOOTINFO_H
#define G_RUNTIME_BOOTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvh.h"

#define G_MEMMAP_MAX  64
#define G_CMDLINE_MAX 1024
#define G_ARGS_MAX    32

struct g_arg {
	const char *key;
	const char *value;
};

struct g_args {
	unsigned int count;
	struct g_arg arg[G_ARGS_MAX];
	char buf[G_CMDLINE_MAX]; /* the keys and values point in here */
};

struct g_bootinfo {
	uint32_t version;
	unsigned int nmemmap;	 /* entries copied */
	uint32_t memmap_entries; /* entries the loader reported */
	struct hvm_memmap_table_entry memmap[G_MEMMAP_MAX];
	char cmdline[G_CMDLINE_MAX];
	struct g_args args;
};

extern struct g_bootinfo g_boot;

/* Copies start_info's memory map and command line into g_boot and splits the command line.
 * Returns 0, or -EINVAL for a missing or malformed start_info. */
int g_bootinfo_copy(uint64_t start_info_paddr);

/* Pure: splits cmdline at spaces into key=value pairs (at most G_ARGS_MAX; -E2BIG beyond). */
int g_args_parse(const char *cmdline, struct g_args *args);

const char *g_args_get(const struct g_args *args, const char *key);

/* Whether [addr, addr + size) lies in one RAM entry of the memory map. */
bool g_memmap_is_ram(const struct g_bootinfo *bi, uint64_t addr, uint64_t size);

#endif
