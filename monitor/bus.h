/* SPDX-License-Identifier: MIT */
/*
 * Trap registry for port I/O and MMIO. Both spaces use one handler shape, so a device is written
 * once whichever way the guest reaches it.
 */
#ifndef VMMON_BUS_H
#define VMMON_BUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A trap handler. `off` is relative to the registered base; `data` holds `len` bytes, filled
 * by the handler on a read. Returns 0, or -errno for an access the device does not implement
 * (bad width, unknown register): the bus then reads as all ones, drops the write, and counts it.
 */
typedef int (*vmm_trap_fn)(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);
/*
 * A string access (rep ins/outs): `count` accesses of `len` bytes each to the same offset, their
 * data back to back in `data`. Optional: a device whose data register streams a buffer moves a
 * whole burst under one lock here instead of `count` calls to its vmm_trap_fn. Same return
 * convention, for the whole burst.
 */
typedef int (*vmm_trap_rep_fn)(void *dev, uint64_t off, uint8_t *data, unsigned len, unsigned count,
			       bool is_write);

struct vmm_trap {
	uint64_t base;
	uint64_t size;
	vmm_trap_fn fn;
	vmm_trap_rep_fn rep; /* NULL: a string access is `count` calls to fn */
	void *dev;
	const char *name;
	unsigned counter; /* index in the bus's per-name counters */
};

/* Dispatches per trap name, kept by name so that a trap that moves (a PCI BAR) keeps its count:
 * what --stats reports as userspace exits by device (each dispatch from a vCPU is one exit;
 * a string access counts once; writes applied from the coalesced ring are not counted). */
#define VMM_BUS_MAX_NAMES 48
struct vmm_bus_counter {
	const char *name;
	atomic_uint_fast64_t dispatches;
};

struct vmm_bus {
	const char *name;	/* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;	/* writers: (un)registration, e.g. a PCI BAR moving */
	struct vmm_trap *traps; /* sorted by base, never overlapping */
	size_t nr, cap;
	atomic_uint_fast64_t unhandled; /* accesses that hit nothing or were refused */
	struct vmm_bus_counter counter[VMM_BUS_MAX_NAMES]; /* the last one: names beyond */
	unsigned nr_counters;
};

int vmm_bus_init(struct vmm_bus *bus, const char *name);
void vmm_bus_destroy(struct vmm_bus *bus);
/* -EEXIST if the range overlaps a registered one, -EINVAL if empty or wrapping. */
int vmm_bus_register(struct vmm_bus *bus, uint64_t base, uint64_t size, vmm_trap_fn fn, void *dev,
		     const char *name);
/* The same, with a handler for string accesses. */
int vmm_bus_register_rep(struct vmm_bus *bus, uint64_t base, uint64_t size, vmm_trap_fn fn,
			 vmm_trap_rep_fn rep, void *dev, const char *name);
int vmm_bus_unregister(struct vmm_bus *bus, uint64_t base);
/* Dispatches one access. Returns 0, or -ENOENT when no device took it (reads as all ones). */
int vmm_bus_access(struct vmm_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write);
/* Dispatches a string access (`count` accesses of `len` bytes, data back to back) with one
 * lookup: to the trap's rep handler in one call, else element by element. Each element that no
 * device took reads as all ones and is counted. Returns 0, or -ENOENT if any element failed. */
int vmm_bus_access_rep(struct vmm_bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		       unsigned count, bool is_write);

#endif
