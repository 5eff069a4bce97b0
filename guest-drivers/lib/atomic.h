/* SPDX-License-Identifier: MIT */
/*
 * The few atomics the guest needs, over the compiler's __atomic builtins (freestanding). Call
 * sites say what each barrier orders and what it pairs with.
 */
#ifndef G_LIB_ATOMIC_H
#define G_LIB_ATOMIC_H

#define G_READ_ONCE(x)	      __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define G_WRITE_ONCE(x, v)    __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define g_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define g_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define g_xchg_acquire(p, v)  __atomic_exchange_n((p), (v), __ATOMIC_ACQUIRE)

#endif
