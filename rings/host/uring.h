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

#define HOST_URING_MAX_BUFS 128

/* host_uring_init flags. */
enum {
	HOST_URING_DEFER = 1u << 0,    /* DEFER_TASKRUN: completions run when the owner waits */
	HOST_URING_DISABLED = 1u << 1, /* made here, enabled by the owning thread */
};

struct host_uring {
	struct io_uring ring;
	bool ready;
	unsigned setup_flags; /* IORING_SETUP_* the kernel accepted */
	bool fixed_files;     /* host_uring_register_files succeeded */
	bool fixed_bufs;      /* a sparse buffer table is registered */
	struct {
		uint8_t *base;
		uint64_t len;
	} buf[HOST_URING_MAX_BUFS];
	uint64_t submits, cqes;
};

/* Makes the ring (flags: HOST_URING_*). Returns 0 or -errno with a message in err. */
int host_uring_init(struct host_uring *u, unsigned entries, unsigned flags, struct host_err *err);
/* On the owning thread, for a ring made with HOST_URING_DISABLED. */
int host_uring_enable(struct host_uring *u);
void host_uring_exit(struct host_uring *u);

/* An SQE tagged with op (NULL: its CQE runs nothing), submitting first if the SQ is full. */
struct io_uring_sqe *host_uring_sqe(struct host_uring *u, struct host_op *op);
/* Runs the callback of every completion that is there. Returns how many there were. */
unsigned host_uring_reap(struct host_uring *u);

/* Registers files[0..n) (-1: an empty slot); a failure leaves plain descriptors in use. */
void host_uring_register_files(struct host_uring *u, const int *files, unsigned n);
/* Points sqe at a file: its registered slot when files are registered, else fd. */
void host_uring_sqe_file(const struct host_uring *u, struct io_uring_sqe *sqe, int fd, int slot);

/* A sparse buffer table of HOST_URING_MAX_BUFS slots; a failure leaves plain I/O in use. */
void host_uring_buffers_init(struct host_uring *u);
/* Registers iov[0..n) in slots [first, first + n) (iov_len 0: an empty slot). Returns 0 or
 * -errno; on failure the slots are left empty. */
int host_uring_buffers_set(struct host_uring *u, unsigned first, const struct iovec *iov,
			   unsigned n);
/* The registered buffer of slots [first, first + n) holding [p, p + len), or -1. */
int host_uring_buf_index(const struct host_uring *u, unsigned first, unsigned n, const void *p,
			 uint64_t len);

#endif
