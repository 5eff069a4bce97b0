/* SPDX-License-Identifier: MIT */
/*
 * One io_uring as vmmon's I/O thread and ioproxy's queue threads use it: a completion target
 * per operation (a CQE's user_data points at a struct host_op), an SQE that is always there
 * (a full submission queue is handed to the kernel first), registered files and registered
 * buffers where the kernel allows them, and a reap that runs every completion's callback.
 *
 * The ring belongs to one thread. It is made with SINGLE_ISSUER (and DEFER_TASKRUN where the
 * owner asks: completions then run only when that thread waits), falling back to what an older
 * kernel accepts. A ring made on another thread than its owner is created disabled and enabled
 * by the owner (host_uring_enable), so SINGLE_ISSUER binds it to the right thread.
 *
 * Registered buffers: a sparse table of n slots. Pinning memory into it (host_uring_buffers_set)
 * holds the ring's lock for as long as the kernel takes to fault in and pin every page, which
 * stalls the ring's owner; a ring can instead take another ring's whole table
 * (host_uring_buffers_clone: references, no pinning), so the pinning can happen on a ring of
 * its own on another thread. Which slots the owner may use, and for which addresses, it records
 * itself (host_uring_buffers_track): a slot in the kernel's table without a record is never
 * named in a request.
 */
#ifndef HOST_URING_H
#define HOST_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct host_uring;

/* A completion target: a CQE's user_data points at one of these (NULL: nothing to run). */
struct host_op {
	void (*fn)(struct host_uring *u, struct host_op *op, int res);
};

/* The kernel's limit on a buffer table (IORING_MAX_REG_BUFFERS). */
#define HOST_URING_BUFS_LIMIT (1u << 14)

/* host_uring_init flags. */
enum {
	HOST_URING_DEFER = 1u << 0,    /* DEFER_TASKRUN: completions run when the owner waits */
	HOST_URING_DISABLED = 1u << 1, /* made here, enabled by the owning thread */
	HOST_URING_SHARED = 1u << 2,   /* no SINGLE_ISSUER: another ring may take its buffers */
	HOST_URING_COOP = 1u << 3,     /* COOP_TASKRUN: no IPI to a running owner (it polls) */
};

struct host_uring {
	struct io_uring ring;
	bool ready;
	unsigned setup_flags; /* IORING_SETUP_* the kernel accepted */
	bool fixed_files;     /* host_uring_register_files succeeded */
	bool fixed_bufs;      /* a sparse buffer table is registered */
	struct host_uring_buf {
		uint8_t *base;
		uint64_t len; /* 0: not to be used */
	} * buf;
	unsigned nbufs;
	uint64_t submits, cqes;
	unsigned cqe_flags; /* IORING_CQE_F_* of the completion whose callback runs */
};

/* Makes the ring (flags: HOST_URING_*). Returns 0 or -errno with a message in err. */
int host_uring_init(struct host_uring *u, unsigned entries, unsigned flags, struct host_err *err);
/* On the owning thread, for a ring made with HOST_URING_DISABLED. */
int host_uring_enable(struct host_uring *u);
/* Closes the ring and frees its buffer records. */
void host_uring_exit(struct host_uring *u);

/* An SQE tagged with op (NULL: its CQE runs nothing), submitting first if the SQ is full. */
struct io_uring_sqe *host_uring_sqe(struct host_uring *u, struct host_op *op);
/* Runs the callback of every completion that is there (u->cqe_flags holds each one's flags
 * meanwhile: IORING_CQE_F_MORE says a multishot operation stays armed). Returns how many there
 * were. A HOST_URING_COOP ring whose kernel side has completions waiting for the owner to enter
 * (IORING_SQ_TASKRUN) enters first, without waiting. */
unsigned host_uring_reap(struct host_uring *u);

/* Registers files[0..n) (-1: an empty slot); a failure leaves plain descriptors in use. */
void host_uring_register_files(struct host_uring *u, const int *files, unsigned n);
/* Points sqe at a file: its registered slot when files are registered, else fd. */
void host_uring_sqe_file(const struct host_uring *u, struct io_uring_sqe *sqe, int fd, int slot);

/* A sparse buffer table of n slots (at most HOST_URING_BUFS_LIMIT). Returns 0 or -errno (no
 * table then: plain I/O). */
int host_uring_buffers_init(struct host_uring *u, unsigned n);
/* Registers (pins) iov[0..n) in slots [first, first + n) (iov_len 0: an empty slot) and records
 * them for use. Returns 0 or -errno; on failure the slots are left empty. */
int host_uring_buffers_set(struct host_uring *u, unsigned first, const struct iovec *iov,
			   unsigned n);
/* Replaces the whole table with the one of the ring src_fd (same size), taking references to
 * its buffers: no pinning. The records are kept. Returns 0 or -errno (-EINVAL: a kernel before
 * 6.13, which cannot replace a table). */
int host_uring_buffers_clone(struct host_uring *u, int src_fd);
/* Records which memory slots [first, first + n) hold (iov_len 0: unused) without asking the
 * kernel anything. */
void host_uring_buffers_track(struct host_uring *u, unsigned first, const struct iovec *iov,
			      unsigned n);
/* Empties the whole table (unpinning what only it held). */
void host_uring_buffers_drop(struct host_uring *u);
/* The registered buffer of slots [first, first + n) holding [p, p + len), or -1. */
int host_uring_buf_index(const struct host_uring *u, unsigned first, unsigned n, const void *p,
			 uint64_t len);

#endif
