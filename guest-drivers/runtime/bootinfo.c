// SPDX-License-Identifier: MIT
#include "lib/errno.h"
#include "lib/phys.h"
#include "lib/string.h"
#include "runtime/bootinfo.h"
#include "runtime/program.h"

struct g_bootinfo g_boot;

int g_bootinfo_copy(uint64_t start_info_paddr)
{
	const struct hvm_start_info *si = g_phys_ptr(start_info_paddr, sizeof(*si));
	const void *memmap;
	const char *cmdline;
	size_t n;

	if (!si || si->magic != HVM_START_MAGIC)
		return -EINVAL;
	g_boot.version = si->version;
	if (si->version >= 1 && si->memmap_entries) {
		n = si->memmap_entries < G_MEMMAP_MAX ? si->memmap_entries : G_MEMMAP_MAX;
		memmap = g_phys_ptr(si->memmap_paddr, n * sizeof(g_boot.memmap[0]));
		if (!memmap)
			return -EINVAL;
		memcpy(g_boot.memmap, memmap, n * sizeof(g_boot.memmap[0]));
		g_boot.nmemmap = n;
		g_boot.memmap_entries = si->memmap_entries;
	}
	if (si->cmdline_paddr) {
		/* Bounded by the copy size; a shorter string ends before the bound. */
		cmdline = g_phys_ptr(si->cmdline_paddr, sizeof(g_boot.cmdline) - 1);
		if (!cmdline)
			return -EINVAL;
		n = strnlen(cmdline, sizeof(g_boot.cmdline) - 1);
		memcpy(g_boot.cmdline, cmdline, n);
		g_boot.cmdline[n] = '\0';
	}
	return g_args_parse(g_boot.cmdline, &g_boot.args);
}

int g_args_parse(const char *cmdline, struct g_args *args)
{
	char *p = args->buf;

	args->count = 0;
	g_strlcpy(args->buf, cmdline, sizeof(args->buf));
	for (;;) {
		struct g_arg *a;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = '\0';
		if (!*p)
			return 0;
		if (args->count == G_ARGS_MAX)
			return -E2BIG;
		a = &args->arg[args->count++];
		a->key = p;
		a->value = NULL;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			if (*p == '=' &&
			    !a->value) { /* the first '=' splits; later ones are value */
				*p = '\0';
				a->value = p + 1;
			}
			p++;
		}
		if (!a->value)
			a->value = p; /* a bare key: the empty string at its end */
	}
}

const char *g_args_get(const struct g_args *args, const char *key)
{
	for (unsigned int i = 0; i < args->count; i++) {
		if (!strcmp(args->arg[i].key, key))
			return args->arg[i].value;
	}
	return NULL;
}

const char *g_arg(const char *key)
{
	return g_args_get(&g_boot.args, key);
}

int g_arg_uint(const char *key, unsigned int dflt, unsigned int *out)
{
	const char *v = g_arg(key);
	uint64_t n = 0;

	*out = dflt;
	if (!v || !*v)
		return 0;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -EINVAL;
		n = n * 10 + (uint64_t)(*v - '0');
		if (n > 0xffffffffu)
			return -EINVAL;
	}
	*out = (unsigned int)n;
	return 0;
}

bool g_memmap_is_ram(const struct g_bootinfo *bi, uint64_t addr, uint64_t size)
{
	for (unsigned int i = 0; i < bi->nmemmap; i++) {
		const struct hvm_memmap_table_entry *e = &bi->memmap[i];

		if (e->type == HVM_MEMMAP_TYPE_RAM && addr >= e->addr &&
		    addr - e->addr <= e->size && size <= e->size - (addr - e->addr))
			return true;
	}
	return false;
}
