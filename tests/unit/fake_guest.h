/* SPDX-License-Identifier: MIT */
/* Fake guest RAM for loader tests: a heap buffer registered in a gmem table like vmmon's RAM. */
#ifndef TESTS_FAKE_GUEST_H
#define TESTS_FAKE_GUEST_H

#include <stdlib.h>
#include <string.h>

#include "e820.h"
#include "gmem.h"

struct fake_guest {
	uint8_t *ram;
	uint64_t size;
	struct gmem mem;
	struct vmm_e820 e820;
};

/* size must be below 3 GiB here (one region). Fills RAM with 0xa5 to show what loaders wrote. */
static inline int fake_guest_init(struct fake_guest *g, uint64_t size)
{
	g->size = size;
	g->ram = malloc(size);
	if (!g->ram)
		return -1;
	memset(g->ram, 0xa5, size);
	gmem_init(&g->mem);
	if (gmem_add(&g->mem, 0, size, g->ram, -1, 0))
		return -1;
	return vmm_e820_build(size, &g->e820);
}

static inline void fake_guest_free(struct fake_guest *g)
{
	free(g->ram);
	g->ram = NULL;
}

/* True if every byte of RAM still has the fill pattern (nothing was written). */
static inline int fake_guest_untouched(const struct fake_guest *g)
{
	for (uint64_t i = 0; i < g->size; i++)
		if (g->ram[i] != 0xa5)
			return 0;
	return 1;
}

/* cmocka fixtures: a fresh fake guest of `size` bytes per test. */
static inline int fake_guest_setup(void **state, uint64_t size)
{
	struct fake_guest *g = calloc(1, sizeof(*g));
	if (!g || fake_guest_init(g, size)) {
		free(g);
		return -1;
	}
	*state = g;
	return 0;
}

static inline int fake_guest_teardown(void **state)
{
	fake_guest_free(*state);
	free(*state);
	return 0;
}

#endif
