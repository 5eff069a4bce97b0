/* SPDX-License-Identifier: MIT */
/*
 * The block engine: a disk (a regular file or a raw block device) and the I/O on it, run on an
 * io_uring its caller owns. vmmon's virtio-blk, ioproxy's virtio-blk and the ATA model are
 * front ends over it: they turn ring entries or register writes into struct blk_req (the one
 * parser is rings/blk_req.c) and get completions back; nothing else opens or touches the disk.
 *
 * Two levels:
 *   host_blk_start     one request (struct host_blk_io): read, write, flush, discard,
 *                      write-zeroes (a hole punch where FALLOC_FL_ZERO_RANGE is refused),
 *                      get-id. O_DIRECT disks take unaligned buffers through a page-cache
 *                      descriptor; a buffer inside a registered region uses the fixed-buffer
 *                      opcodes. Requests that need no I/O complete at once, and so do
 *                      buffered writes where the caller asks for them on its own thread
 *                      (sync_write_max).
 *   host_blk_queue     a virtio queue's requests: a slot per ring entry, chains taken while
 *                      slots last, parsed and started; each completion handed to the caller,
 *                      who pushes the used entry. A chain that fails validation or parsing is
 *                      completed like any other (length 0 when it has no status byte).
 *
 * Durability: a request completes after its io_uring completion (a write once the kernel has
 * it, a flush once fsync returned); the caller acknowledges it to the driver only then.
 */
#ifndef HOST_BLK_H
#define HOST_BLK_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>

#include "blk_req.h"
#include "err.h"
#include "opts.h"
#include "uring.h"
#include "virtq.h"

#define HOST_BLK_SEG_MAX    126 /* data pieces per request a driver may use (seg_max) */
#define HOST_BLK_SERIAL_MAX 20	/* VIRTIO_BLK_ID_BYTES */
#define HOST_BLK_MAX_QUEUES 16

/* What the command line says about a disk (vmmon --disk, ioproxy --blk). */
struct host_blk_opts {
	const char *path;
	bool readonly, direct;
	unsigned queues;
	char serial[HOST_BLK_SERIAL_MAX + 1];
};

/* The keys of struct host_blk_opts, for a host_opt_key table over struct T whose member m
 * holds them. */
#define HOST_BLK_OPT_KEYS(T, m)                                                                    \
	{"path", host_opt_str, offsetof(T, m.path), 0, 0, NULL},                                   \
		{"readonly", host_opt_bool, offsetof(T, m.readonly), 0, 0, NULL},                  \
		{"direct", host_opt_bool, offsetof(T, m.direct), 0, 0, NULL},                      \
		{"queues", host_opt_uint, offsetof(T, m.queues), 1, HOST_BLK_MAX_QUEUES, NULL},    \
	{                                                                                          \
		"serial", host_opt_strbuf, offsetof(T, m.serial), 0, HOST_BLK_SERIAL_MAX, NULL     \
	}

struct host_blk {
	struct host_blk_opts opts;
	const char *opt_name;  /* "--disk", "--blk": for messages */
	int fd;		       /* O_DIRECT when direct=on */
	int fd_cached;	       /* the same file through the page cache, for unaligned buffers */
	int slot, slot_cached; /* their registered-file slots on the caller's ring, or -1 */
	bool is_blockdev;
	uint32_t logical_block; /* O_DIRECT alignment */
	struct blk_limits lim;
	/* Registered buffers holding the guest memory of this disk's requests. */
	unsigned buf_first, buf_n;
	/* Writes through the page cache of up to this many bytes are made at once on the
	 * caller's thread (pwritev) instead of on the ring, where a file system without
	 * asynchronous buffered writes (ext4) has io_uring hand each one to an io-wq worker
	 * thread: a caller that polls owns its CPU, and the worker would have to take it from
	 * the poller (or wait for its time slice) before the write can complete; a caller woken
	 * on its driver's CPU would let the driver run on meanwhile. The price: a write the
	 * kernel throttles or makes wait for the journal blocks the caller's thread. 0 (the
	 * default): none. */
	uint32_t sync_write_max;
};

/* Opens the disk and sizes it; the fds are -1 on failure. opt_name prefixes messages. */
int host_blk_open(struct host_blk *b, const char *opt_name, const struct host_blk_opts *o,
		  struct host_err *err);
void host_blk_close(struct host_blk *b);
/* The virtio-blk features (VIRTIO_BLK_F_*) and config space of this disk with `queues`
 * queues. */
uint64_t host_blk_features(const struct host_blk *b, unsigned queues);
void host_blk_config(const struct host_blk *b, unsigned queues, struct virtio_blk_config *c);

/* ---- one request ---- */

struct host_blk_io {
	struct host_op op;
	struct host_blk *blk;
	struct blk_req req;
	bool fallback;	   /* write-zeroes retried as a hole punch */
	bool fixed;	   /* the data moves through a registered buffer */
	bool sync;	   /* a write made at once (host_blk.sync_write_max) */
	uint8_t status;	   /* VIRTIO_BLK_S_*, once complete */
	uint32_t used_len; /* bytes written to the driver's buffer, status byte included */
	/* Called on the ring's thread when I/O completes (not for a request completed at once). */
	void (*done)(struct host_blk_io *io);
};

/* Starts io->req, parsed from a valid chain (err is blk_req_parse's result). Returns true when
 * the request completed at once (an error, GET_ID, a write made at once): io->status and
 * io->used_len are set and done() will not be called. Otherwise its I/O is on the ring and done()
 * follows. */
bool host_blk_start(struct host_blk *b, struct host_uring *u, struct host_blk_io *io,
		    enum blk_req_err err);

/* ---- a virtio queue's requests ---- */

struct host_blk_queue;
struct host_blk_slot;

struct host_blk_queue_ops {
	/* Takes up to n chains (vq_pop_batch's contract): how many, or -EIO (ring broken). */
	int (*pop)(struct host_blk_queue *q, struct vq_chain *c, unsigned n);
	/* The request on chain c finished: push its used entry of io->used_len bytes. from_ring:
	 * called from a completion on the ring (else from within host_blk_queue_run, whose
	 * caller's locks are held). Its slot is already free, so the queue may be torn down as
	 * soon as the caller's own in-flight count says so; c and io stay valid until this returns
	 * as long as it does not run the queue itself (run it after the batch instead). */
	void (*complete)(struct host_blk_queue *q, const struct vq_chain *c,
			 const struct host_blk_io *io, bool from_ring);
};

struct host_blk_queue {
	struct host_blk *blk;
	struct host_uring *u;
	const struct host_blk_queue_ops *ops;
	void *priv; /* the caller's */
	struct host_blk_slot *slots;
	unsigned *free;
	unsigned nfree, num;
	uint64_t requests, errors, bad_chains, fixed, vectored, synced;
};

/* num request slots (the ring's size); 0 or -ENOMEM. */
int host_blk_queue_init(struct host_blk_queue *q, struct host_blk *b, unsigned num,
			const struct host_blk_queue_ops *ops, void *priv);
void host_blk_queue_destroy(struct host_blk_queue *q);
/* Takes chains while slots last and starts them on ring u. Returns 1 when the ring ran empty,
 * 0 when the slots ran out first (run again after a completion), -EIO when the ring broke. */
int host_blk_queue_run(struct host_blk_queue *q, struct host_uring *u);
/* Requests in flight. */
unsigned host_blk_queue_busy(const struct host_blk_queue *q);

#endif
