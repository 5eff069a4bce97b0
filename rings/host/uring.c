/* SPDX-License-Identifier: MIT */
#include "uring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

int host_uring_init(struct host_uring *u, unsigned entries, unsigned flags, struct host_err *err)
{
	memset(u, 0, sizeof(*u));
	/* A ring whose buffers another ring clones must not be bound to one thread: the kernel
	 * refuses a clone from a SINGLE_ISSUER ring by any other. */
	unsigned want = flags & HOST_URING_SHARED ? 0 : IORING_SETUP_SINGLE_ISSUER;
	if (flags & HOST_URING_DEFER)
		want |= IORING_SETUP_DEFER_TASKRUN;
	if (flags & HOST_URING_DISABLED)
		want |= IORING_SETUP_R_DISABLED;
	/* Task work (a kick's poll, an io-wq completion) then interrupts a running owner with an
	 * IPI no more: it sets IORING_SQ_TASKRUN and waits for the owner's next entry (reap). */
	if (flags & HOST_URING_COOP)
		want |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	/* Each step back is what an older kernel refuses with EINVAL: DEFER_TASKRUN (before
	 * 6.1) and COOP_TASKRUN (before 5.19), SINGLE_ISSUER (before 6.0); a plain ring needs no
	 * enabling. */
	static const unsigned drop[] = {0,
					IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
						IORING_SETUP_TASKRUN_FLAG,
					IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED};
	int ret = -EINVAL;
	struct io_uring_params p;
	for (unsigned i = 0; i < sizeof(drop) / sizeof(drop[0]) && ret == -EINVAL; i++) {
		want &= ~drop[i];
		p = (struct io_uring_params){.flags = want};
		ret = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	if (ret < 0)
		return host_err_set(err, -ret, "io_uring_queue_init: %s%s", strerror(-ret),
				    ret == -EPERM || ret == -ENOSYS
					    ? " (io_uring disabled here: sysctl "
					      "kernel.io_uring_disabled)"
					    : "");
	u->setup_flags = p.flags;
	u->ready = true;
	return 0;
}

int host_uring_enable(struct host_uring *u)
{
	if (!(u->setup_flags & IORING_SETUP_R_DISABLED))
		return 0;
	/* liburing 2.3 has no io_uring_enable_rings(): the register opcode does the same. */
	if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		return -errno;
	return 0;
}

void host_uring_exit(struct host_uring *u)
{
	if (u->ready)
		io_uring_queue_exit(&u->ring);
	u->ready = false;
	free(u->buf);
	u->buf = NULL;
	u->nbufs = 0;
	u->fixed_bufs = false;
}

struct io_uring_sqe *host_uring_sqe(struct host_uring *u, struct host_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	while (!sqe) {
		/* Full: hand what is prepared to the kernel and take a fresh slot. */
		io_uring_submit(&u->ring);
		u->submits++;
		sqe = io_uring_get_sqe(&u->ring);
	}
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

unsigned host_uring_reap(struct host_uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	if ((u->setup_flags & IORING_SETUP_TASKRUN_FLAG) &&
	    (IO_URING_READ_ONCE(*u->ring.sq.kflags) & IORING_SQ_TASKRUN))
		io_uring_get_events(&u->ring);
	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		struct host_op *op = io_uring_cqe_get_data(cqe);
		n++;
		u->cqe_flags = cqe->flags;
		if (op)
			op->fn(u, op, cqe->res);
	}
	io_uring_cq_advance(&u->ring, n);
	u->cqes += n;
	return n;
}

void host_uring_register_files(struct host_uring *u, const int *files, unsigned n)
{
	u->fixed_files = n && io_uring_register_files(&u->ring, files, n) == 0;
}

void host_uring_sqe_file(const struct host_uring *u, struct io_uring_sqe *sqe, int fd, int slot)
{
	if (u->fixed_files && slot >= 0) {
		sqe->fd = slot;
		sqe->flags |= IOSQE_FIXED_FILE;
	} else {
		sqe->fd = fd;
	}
}

int host_uring_buffers_init(struct host_uring *u, unsigned n)
{
	if (!n || n > HOST_URING_BUFS_LIMIT)
		return -EINVAL;
	u->buf = calloc(n, sizeof(*u->buf));
	if (!u->buf)
		return -ENOMEM;
	int ret = io_uring_register_buffers_sparse(&u->ring, n);
	if (ret < 0) {
		free(u->buf);
		u->buf = NULL;
		return ret;
	}
	u->nbufs = n;
	u->fixed_bufs = true;
	return 0;
}

void host_uring_buffers_track(struct host_uring *u, unsigned first, const struct iovec *iov,
			      unsigned n)
{
	for (unsigned i = 0; i < n && first + i < u->nbufs; i++) {
		u->buf[first + i].base = iov[i].iov_base;
		u->buf[first + i].len = iov[i].iov_len;
	}
}

int host_uring_buffers_set(struct host_uring *u, unsigned first, const struct iovec *iov,
			   unsigned n)
{
	if (!u->fixed_bufs || first > u->nbufs || n > u->nbufs - first)
		return -EINVAL;
	int ret = io_uring_register_buffers_update_tag(&u->ring, first, iov, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		bool ok = ret > 0 && i < (unsigned)ret;
		u->buf[first + i].base = ok ? iov[i].iov_base : NULL;
		u->buf[first + i].len = ok ? iov[i].iov_len : 0;
	}
	if (ret >= 0)
		return 0;
	/* Clear what may have been taken before the failure, one slot at a time (no array of
	 * the table's size on the stack). */
	struct iovec none = {0};
	for (unsigned i = 0; i < n; i++)
		io_uring_register_buffers_update_tag(&u->ring, first + i, &none, NULL, 1);
	return ret;
}

/* IORING_REGISTER_CLONE_BUFFERS (Linux 6.12; replacing a table and offsets: 6.13), which
 * liburing 2.3 does not know. */
#define CLONE_BUFFERS	  30
#define CLONE_DST_REPLACE (1u << 1)

struct clone_buffers {
	uint32_t src_fd, flags, src_off, dst_off, nr, pad[3];
};

int host_uring_buffers_clone(struct host_uring *u, int src_fd)
{
	/* The whole table, offsets 0: a replace that leaves nothing of the old table behind (a
	 * range inside a larger table lost the slots after it before 6.18.3). */
	struct clone_buffers c = {.src_fd = (uint32_t)src_fd, .flags = CLONE_DST_REPLACE};
	if (syscall(__NR_io_uring_register, u->ring.ring_fd, CLONE_BUFFERS, &c, 1) < 0)
		return -errno;
	return 0;
}

void host_uring_buffers_drop(struct host_uring *u)
{
	io_uring_unregister_buffers(&u->ring);
}

int host_uring_buf_index(const struct host_uring *u, unsigned first, unsigned n, const void *p,
			 uint64_t len)
{
	const uint8_t *b = p;
	for (unsigned i = first; u->fixed_bufs && i < first + n && i < u->nbufs; i++)
		if (u->buf[i].len && b >= u->buf[i].base &&
		    (uint64_t)(b - u->buf[i].base) <= u->buf[i].len &&
		    len <= u->buf[i].len - (uint64_t)(b - u->buf[i].base))
			return (int)i;
	return -1;
}
