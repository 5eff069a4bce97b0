/* SPDX-License-Identifier: MIT */
/*
 * Test-and-test-and-set spinlock for CPL3 code. Interrupt handlers never take locks (they only
 * count), so holding one with interrupts enabled is fine.
 */
#ifndef G_LIB_SPINLOCK_H
#define G_LIB_SPINLOCK_H

#include <stdint.h>

#include "lib/atomic.h"
#include "lib/io.h"

struct g_spinlock {
	uint32_t locked;
};

static inline void g_spin_lock(struct g_spinlock *l)
{
	/* Acquire: the critical section's accesses stay after the exchange; pairs with the
	 * release in g_spin_unlock. */
	while (g_xchg_acquire(&l->locked, 1)) {
		while (G_READ_ONCE(l->locked))
			g_cpu_relax();
	}
}

static inline void g_spin_unlock(struct g_spinlock *l)
{
	/* Release: the critical section's accesses are visible before the lock looks free. */
	g_store_release(&l->locked, 0);
}

#endif
