/* SPDX-License-Identifier: MIT */
/*
 * Memory ordering for shared rings, over the compiler's C11 atomics so that it builds
 * freestanding (the guest) as well as hosted (vmmon, ioproxy). Device and driver code uses
 * only these; every call site says what it orders and what it pairs with.
 *
 * On x86, acquire and release are plain loads and stores with compiler ordering, and only
 * vq_mb() (store->load ordering) costs a fence; on other architectures they are the fences
 * the virtio spec (2.7.7, 2.7.13) asks for.
 */
#ifndef VMMON_RINGS_BARRIER_H
#define VMMON_RINGS_BARRIER_H

#include <stdint.h>

/* A single access the compiler may neither tear, repeat nor elide: guest-shared memory is
 * read once and the copy is what gets validated. */
#define VQ_READ_ONCE(x)	    __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define VQ_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Loads after this one are not reordered before it (pairs with vq_store_release). */
#define vq_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
/* Accesses before this store are visible before it (pairs with vq_load_acquire). */
#define vq_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Earlier loads complete before later loads. */
static inline void vq_rmb(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/* Earlier stores are visible before later stores. */
static inline void vq_wmb(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Full barrier: earlier stores are visible before later loads (event-index checks). */
static inline void vq_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#endif
