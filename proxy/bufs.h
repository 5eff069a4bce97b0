/* SPDX-License-Identifier: MIT */
/*
 * Guest memory as io_uring fixed buffers, registered off the data path.
 *
 * Registering memory pins every page of it, which for guest RAM the guest never touched means
 * allocating and zeroing it first: 0.3-3 s per GiB here, and the kernel holds the ring's lock
 * all along. Done on a queue thread's ring, that stalls every device the thread serves (eight
 * guests of 512 MiB connecting at once timed out their first write). So a thread of its own, the
 * pinner, pins into a ring of its own (the staging ring, whose table has a slot range per device
 * as the queue threads' tables do), and each queue thread then takes the staging ring's whole
 * table by reference (IORING_REGISTER_CLONE_BUFFERS, Linux 6.13: microseconds). A device's
 * rings run with readv/writev meanwhile: a connection never waits for its pinning, and no other
 * device waits for it either.
 *
 * Which slots a queue thread may name in a request is its own record (host_uring_buffers_track),
 * written only on that thread: cleared by the control thread's synchronous command before a
 * device's mappings go (a new memory table, a disconnect), set when a clone for the device's
 * current memory table lands. A clone is for one generation of the device's memory table
 * (iop_dev.bufs_gen, bumped before the records are cleared); the queue thread checks it when the
 * clone runs, so a registration that lost the race with a newer table is never recorded. Slots
 * of other devices a clone carries along without a record are never used.
 *
 * Unpinning costs time too (milliseconds per GiB), and happens where the last reference goes. To
 * keep it off the queue threads, a device's buffers leave in this order: a third ring (the
 * graveyard) takes the staging table by reference, the staging ring drops the device's slots, the
 * queue threads take the staging table again (their references go; the graveyard's remain), and
 * then the graveyard's table is dropped, on the pinner.
 *
 * The control thread only states what it wants (iop_bufs_want: the device's current table, or
 * nothing); the pinner works through the devices whose wish changed, latest wish only.
 */
#ifndef IOPROXY_BUFS_H
#define IOPROXY_BUFS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "host/err.h"
#include "host/uring.h"
#include "iop.h"

struct iop_bufs_wish {
	struct iop_dev *d;
	unsigned gen;
	bool dirty;
	struct iovec iov[VHOST_USER_MEM_REGIONS]; /* iov_len 0: no region */
};

struct iop_bufs {
	struct iop_pool *pool;
	unsigned ndev, nslots;
	pthread_t thread;
	bool running;

	pthread_mutex_t lock; /* guards the wishes and the counters */
	pthread_cond_t cond;
	struct iop_bufs_wish *wish; /* per device id */
	unsigned dirty;
	bool exit, setup_done;
	int setup_err;
	struct host_err setup_msg;

	/* The pinner's own. */
	struct host_uring staging, graveyard;
	bool *held; /* per device id: the staging ring holds its slots */
	unsigned next;
	bool warned;

	/* Counters (under the lock: the pinner writes them, SIGUSR1 reads them). */
	uint64_t pins, pin_bytes, pin_ns, pin_max_ns, releases, failures;
};

/* Starts the pinner for ndev devices (slot ranges of VHOST_USER_MEM_REGIONS from id *
 * VHOST_USER_MEM_REGIONS) and the pool's queue threads, whose rings must have a buffer table of
 * that size. Returns 0 or -errno with a message (-EOPNOTSUPP: the kernel cannot clone a buffer
 * table). */
int iop_bufs_start(struct iop_bufs *b, struct iop_pool *pool, unsigned ndev, struct host_err *err);
/* Ends the pinner (a pinning in progress runs to its end). Before the queue threads stop. */
void iop_bufs_stop(struct iop_bufs *b);

/* Control thread, d's rings stopped. Before d's memory mappings go: its queue threads stop
 * using its buffers (synchronous) and the pinner lets them go. A no-op without fixed buffers. */
void iop_bufs_forget(struct iop_dev *d);
/* Control thread: d's current memory table is to be registered (after iop_bufs_forget and the
 * new table's mapping). Returns at once. */
void iop_bufs_want(struct iop_dev *d);

/* The largest buffer io_uring registers. */
#define IOP_BUFS_MAX (1ull << 30)

/* The slots a memory table takes (iov[VHOST_USER_MEM_REGIONS], unused ones zero): a region per
 * slot, a region over IOP_BUFS_MAX in pieces of that size, as far as the slots go (a request
 * whose data crosses from one piece to the next, or lies past the last, uses readv/writev).
 * Pure. */
void iop_bufs_slots(const struct iop_mem *m, struct iovec *iov);

/* The counters on stderr (SIGUSR1). */
void iop_bufs_dump(struct iop_bufs *b);

#endif
