/* SPDX-License-Identifier: MIT */
#include "uring.h"

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
	unsigned want = IORING_SETUP_SINGLE_ISSUER;
	if (flags & HOST_URING_DEFER)
		want |= IORING_SETUP_DEFER_TASKRUN;
	if (flags & HOST_URING_DISABLED)
		want |= IORING_SETUP_R_DISABLED;
	/* Each step back is what an older kernel refuses with EINVAL: DEFER_TASKRUN (before
	 * 6.1), SINGLE_ISSUER (before 6.0); a plain ring needs no enabling. */
	static const unsigned drop[] = {0, IORING_SETUP_DEFER_TASKRUN,
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
	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		struct host_op *op = io_uring_cqe_get_data(cqe);
		n++;
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

void host_uring_buffers_init(struct host_uring *u)
{
	u->fixed_bufs = io_uring_register_buffers_sparse(&u->ring, HOST_URING_MAX_BUFS) == 0;
}

int host_uring_buffers_set(struct host_uring *u, unsigned first, const struct iovec *iov,
			   unsigned n)
{
	if (!u->fixed_bufs || first > HOST_URING_MAX_BUFS || n > HOST_URING_MAX_BUFS - first)
		return -EINVAL;
	int ret = io_uring_register_buffers_update_tag(&u->ring, first, iov, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		bool ok = ret > 0 && i < (unsigned)ret;
		u->buf[first + i].base = ok ? iov[i].iov_base : NULL;
		u->buf[first + i].len = ok ? iov[i].iov_len : 0;
	}
	if (ret >= 0)
		return 0;
	/* Clear what may have been taken before the failure. */
	struct iovec none[HOST_URING_MAX_BUFS] = {{0}};
	io_uring_register_buffers_update_tag(&u->ring, first, none, NULL, n);
	return ret;
}

int host_uring_buf_index(const struct host_uring *u, unsigned first, unsigned n, const void *p,
			 uint64_t len)
{
	const uint8_t *b = p;
	for (unsigned i = first; u->fixed_bufs && i < first + n && i < HOST_URING_MAX_BUFS; i++)
		if (u->buf[i].len && b >= u->buf[i].base &&
		    (uint64_t)(b - u->buf[i].base) <= u->buf[i].len &&
		    len <= u->buf[i].len - (uint64_t)(b - u->buf[i].base))
			return (int)i;
	return -1;
}
