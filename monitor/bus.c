/* SPDX-License-Identifier: MIT */
#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coalesce.h"

int vmm_bus_init(struct vmm_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void vmm_bus_destroy(struct vmm_bus *bus)
{
	free(bus->traps);
	bus->traps = NULL;
	bus->nr = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first trap whose base is above addr (binary search over sorted bases). */
static size_t upper_bound(const struct vmm_bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bus->traps[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int vmm_bus_register(struct vmm_bus *bus, uint64_t base, uint64_t size, vmm_trap_fn fn, void *dev,
		     const char *name)
{
	return vmm_bus_register_rep(bus, base, size, fn, NULL, dev, name);
}

/* The counter of `name` (write lock held): its own, or the shared last one when all are taken. */
static unsigned counter_of(struct vmm_bus *bus, const char *name)
{
	const char *key = name ? name : "?";
	for (unsigned i = 0; i < bus->nr_counters; i++)
		if (!strcmp(bus->counter[i].name, key))
			return i;
	if (bus->nr_counters == VMM_BUS_MAX_NAMES - 1)
		bus->counter[VMM_BUS_MAX_NAMES - 1].name = "(other)";
	if (bus->nr_counters >= VMM_BUS_MAX_NAMES - 1)
		return VMM_BUS_MAX_NAMES - 1;
	bus->counter[bus->nr_counters].name = key;
	return bus->nr_counters++;
}

int vmm_bus_register_rep(struct vmm_bus *bus, uint64_t base, uint64_t size, vmm_trap_fn fn,
			 vmm_trap_rep_fn rep, void *dev, const char *name)
{
	int ret = 0;
	if (size == 0 || base + size - 1 < base || !fn)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	size_t i = upper_bound(bus, base);
	/* Neighbours: the trap before must end before base, the one at i must start after. */
	if ((i > 0 && bus->traps[i - 1].base + bus->traps[i - 1].size - 1 >= base) ||
	    (i < bus->nr && bus->traps[i].base <= base + size - 1)) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 16;
		struct vmm_trap *t = realloc(bus->traps, cap * sizeof(*t));
		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		bus->traps = t;
		bus->cap = cap;
	}
	memmove(&bus->traps[i + 1], &bus->traps[i], (bus->nr - i) * sizeof(*bus->traps));
	bus->traps[i] = (struct vmm_trap){.base = base,
					  .size = size,
					  .fn = fn,
					  .rep = rep,
					  .dev = dev,
					  .name = name,
					  .counter = counter_of(bus, name)};
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int vmm_bus_unregister(struct vmm_bus *bus, uint64_t base)
{
	int ret = -ENOENT;
	pthread_rwlock_wrlock(&bus->lock);
	size_t i = upper_bound(bus, base);
	if (i > 0 && bus->traps[i - 1].base == base) {
		memmove(&bus->traps[i - 1], &bus->traps[i], (bus->nr - i) * sizeof(*bus->traps));
		bus->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

static void tally(struct vmm_bus *bus, const struct vmm_trap *t)
{
	/* A write applied from the coalesced ring made no exit (the ring's own count has it). */
	if (!vmm_coalesce_draining())
		atomic_fetch_add_explicit(&bus->counter[t->counter].dispatches, 1,
					  memory_order_relaxed);
}

int vmm_bus_access(struct vmm_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	int ret = -ENOENT;
	pthread_rwlock_rdlock(&bus->lock);
	size_t i = upper_bound(bus, addr);
	if (i > 0) {
		const struct vmm_trap *t = &bus->traps[i - 1];
		uint64_t off = addr - t->base;
		/* The access must lie wholly inside the trap; a straddling one is refused. */
		if (off < t->size && len <= t->size - off) {
			tally(bus, t);
			ret = t->fn(t->dev, off, data, len, is_write) ? -ENOENT : 0;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	if (ret) {
		atomic_fetch_add_explicit(&bus->unhandled, 1, memory_order_relaxed);
		if (!is_write)
			memset(data, 0xff, len);
	}
	return ret;
}

int vmm_bus_access_rep(struct vmm_bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		       unsigned count, bool is_write)
{
	if (count == 1)
		return vmm_bus_access(bus, addr, data, len, is_write);
	uint64_t failed = count;
	pthread_rwlock_rdlock(&bus->lock);
	size_t i = upper_bound(bus, addr);
	const struct vmm_trap *t = i > 0 ? &bus->traps[i - 1] : NULL;
	uint64_t off = t ? addr - t->base : 0;
	if (t && off < t->size && len <= t->size - off) {
		tally(bus, t);
		if (t->rep) {
			failed = t->rep(t->dev, off, data, len, count, is_write) ? count : 0;
		} else {
			failed = 0;
			for (unsigned k = 0; k < count; k++) {
				uint8_t *p = data + (size_t)k * len;
				if (t->fn(t->dev, off, p, len, is_write)) {
					failed++;
					if (!is_write)
						memset(p, 0xff, len);
				}
			}
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!failed)
		return 0;
	atomic_fetch_add_explicit(&bus->unhandled, failed, memory_order_relaxed);
	/* Whole-burst failures (no trap, a refused burst) read as all ones throughout. */
	if (!is_write && failed == count)
		memset(data, 0xff, (size_t)len * count);
	return -ENOENT;
}
