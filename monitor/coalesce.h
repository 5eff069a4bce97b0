/* SPDX-License-Identifier: MIT */
/*
 * Writes that cost no exit to vmmon's userspace: KVM's coalesced PIO ring and the doorbells
 * (ioeventfds) whose meaning depends on it. The seed paper's "memory semantics" for
 * side-effect-free device registers, rebuilt on KVM (see coalesce.c for the ordering design).
 *
 * A device registers a zone of ports (KVM_REGISTER_COALESCED_MMIO with the zone's pio flag)
 * whose writes only latch: KVM appends each write there to one ring per VM and lets the guest
 * run on. vmmon applies the ring, in order, through the same bus traps an exit would have
 * reached (vmm_coalesce_sync), before it handles any exit on any vCPU and before the I/O
 * thread does device work. Reads in a zone still exit: KVM has no in-kernel store to answer
 * them from.
 *
 * A doorbell is a group of eventfds KVM signals for datamatched writes it swallows (an
 * ioeventfd); when their effect depends on writes in the ring (PCnet's RDP write means
 * nothing without RAP), the device registers them here, and a sync drains the ring, reads
 * the eventfds, drains what came meanwhile, then hands the counts to the device, all under
 * the drain lock.
 */
#ifndef VMMON_COALESCE_H
#define VMMON_COALESCE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

#define VMM_DOORBELL_FDS       8 /* datamatched values per doorbell */
#define VMM_DOORBELL_RANGES    4 /* port ranges whose exits read a doorbell first */
#define VMM_COALESCE_MAX_BELLS 8
#define VMM_COALESCE_ANY_PORT  UINT32_MAX /* vmm_coalesce_sync: every doorbell */

/* One device's doorbells. fd[i] counts swallowed writes of the i-th value. */
struct vmm_doorbell {
	int fd[VMM_DOORBELL_FDS];
	unsigned nfd;
	/* Exits on ports [lo, hi) of any range must see this doorbell applied first (an empty
	 * range, lo == hi, covers nothing); armed: KVM may be swallowing writes now. Written by
	 * the device (any thread), read by every sync. */
	struct vmm_doorbell_range {
		_Atomic uint32_t lo, hi;
	} range[VMM_DOORBELL_RANGES];
	atomic_bool armed;
	/* Drain lock held. begin (optional): the ring is drained and the eventfds are about to
	 * be read; apply: the counts read (all may be 0), after the writes that came meanwhile. */
	void (*begin)(void *ctx);
	void (*apply)(void *ctx, const uint64_t count[VMM_DOORBELL_FDS]);
	void *ctx;
};

struct vmm_coalesce {
	pthread_mutex_t lock; /* the drain lock: taken before any bus, PCI or device lock */
	int vm_fd;
	struct kvm_coalesced_mmio_ring *ring; /* NULL: no ring (no capability, or not mapped) */
	unsigned max;			      /* entries in the ring */
	struct vmm_bus *pio, *mmio;
	struct vmm_doorbell *bells[VMM_COALESCE_MAX_BELLS];
	_Atomic unsigned nr_bells;
	atomic_uint_fast64_t drains, entries, bell_reads; /* for --stats */
	/* The KVM ioctls on vm_fd (zones, ioeventfds); the unit tests put a fake KVM here.
	 * NULL: ioctl(2). Returns 0 or -errno. */
	int (*kvm_ioctl)(struct vmm_coalesce *c, unsigned long req, void *arg);
	void *kvm_ctx; /* the fake's */
};

/* How one drained entry, or a run of entries to the same address, reaches a device: `count`
 * writes of `len` bytes each, back to back in data. */
typedef void vmm_coalesce_apply_fn(void *ctx, bool pio, uint64_t addr, const uint8_t *data,
				   unsigned len, unsigned count);

void vmm_coalesce_init(struct vmm_coalesce *c, int vm_fd, struct vmm_bus *pio,
		       struct vmm_bus *mmio);
void vmm_coalesce_destroy(struct vmm_coalesce *c);
/* The ring in vCPU 0's mapping (page `page` of it, of `run_size` bytes); before any drain. */
void vmm_coalesce_set_ring(struct vmm_coalesce *c, void *run, int run_size, int page);
/* KVM_(UN)REGISTER_COALESCED_MMIO of ports [port, port + size). 0 or -errno. */
int vmm_coalesce_zone(struct vmm_coalesce *c, uint32_t port, uint32_t size, bool add);
/* KVM_IOEVENTFD on port: a `len`-byte write of `val` there signals fd instead of exiting
 * (assign), or no longer does. 0 or -errno. */
int vmm_coalesce_ioeventfd(struct vmm_coalesce *c, uint32_t port, unsigned len, uint64_t val,
			   int fd, bool assign);
/* Before the guest runs. -ENOSPC when full. */
int vmm_coalesce_add_doorbell(struct vmm_coalesce *c, struct vmm_doorbell *db);
/*
 * Applies the ring. A vCPU calls it with the port of its KVM_EXIT_IO (doorbells covering that
 * port are read first) or VMM_COALESCE_ANY_PORT; the I/O thread with VMM_COALESCE_ANY_PORT
 * when a doorbell fires, or with 0 (the ring alone) before its device work. Takes the drain
 * lock: never call it holding a bus, PCI or device lock. Cheap when there is nothing to do.
 */
void vmm_coalesce_sync(struct vmm_coalesce *c, uint32_t port);
/* True on a thread that is applying ring entries now (a device's trap can count them). */
bool vmm_coalesce_draining(void);

/* The pure drain (unit-tested with a fake ring): applies entries from ring->first to
 * ring->last in order, a run of writes to one address as one call, and hands each run's slots
 * back (ring->first) once it is applied. Returns how many entries it applied. */
unsigned vmm_coalesce_ring_drain(struct kvm_coalesced_mmio_ring *ring, unsigned max,
				 vmm_coalesce_apply_fn *apply, void *ctx);

#endif
