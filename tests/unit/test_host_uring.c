/* SPDX-License-Identifier: MIT */
/*
 * The registered-buffer table of rings/host/uring.c on real io_urings: its size, the records
 * that say which slot holds which memory (and nothing more), pinning into a slot, and the
 * clone that lets one ring take another's whole table without pinning: a fixed read through
 * the cloned table lands in the memory, a slot the source emptied is empty after the next
 * clone, and a ring bound to one thread (SINGLE_ISSUER) cannot be cloned from another thread
 * while a HOST_URING_SHARED ring can. Cloning a whole table needs Linux 6.13: older kernels
 * skip those cases, saying so. And the completion flags a callback sees (u->cqe_flags), on the
 * multishot poll and the eventfd write that ioproxy's kicks and calls use.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "host/uring.h"
#include "host/util.h"

#define SIZE (1u << 20)
#define N    16

/* Linux 6.13 (a table replaced by a clone). */
static bool can_clone(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;
	if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2)
		return major > 6 || (major == 6 && minor >= 13);
	return false;
}

#define NEED_CLONE()                                                                               \
	do {                                                                                       \
		if (!can_clone())                                                                  \
			skip();                                                                    \
	} while (0)

static uint8_t *guest(void)
{
	int fd = memfd_create("test-uring", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	uint8_t *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	return p;
}

static void ring(struct host_uring *u, unsigned flags)
{
	struct host_err err;
	assert_int_equal(host_uring_init(u, 8, flags, &err), 0);
}

/* Reads len bytes of a pipe holding `byte`s into p through slot `slot` of u: the result. */
static int read_fixed(struct host_uring *u, void *p, unsigned len, int slot, uint8_t byte)
{
	int pfd[2];
	uint8_t src[64];
	assert_int_equal(pipe(pfd), 0);
	memset(src, byte, sizeof(src));
	assert_int_equal(write(pfd[1], src, len), (ssize_t)len);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	io_uring_prep_read_fixed(sqe, pfd[0], p, len, 0, slot);
	assert_int_equal(io_uring_submit(&u->ring), 1);
	struct io_uring_cqe *cqe;
	assert_int_equal(io_uring_wait_cqe(&u->ring, &cqe), 0);
	int res = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	close(pfd[0]);
	close(pfd[1]);
	return res;
}

static void table_size(void **state)
{
	(void)state;
	struct host_uring u;
	ring(&u, 0);
	assert_int_equal(host_uring_buffers_init(&u, 0), -EINVAL);
	assert_int_equal(host_uring_buffers_init(&u, HOST_URING_BUFS_LIMIT + 1), -EINVAL);
	assert_false(u.fixed_bufs);
	assert_int_equal(host_uring_buffers_init(&u, 1000), 0); /* more than the 128 of old */
	assert_true(u.fixed_bufs);
	assert_int_equal(u.nbufs, 1000);
	uint8_t *p = guest();
	struct iovec iov = {p, SIZE};
	assert_int_equal(host_uring_buffers_set(&u, 999, &iov, 1), 0);
	assert_int_equal(host_uring_buf_index(&u, 992, 8, p + 4096, 4096), 999);
	assert_int_equal(host_uring_buffers_set(&u, 1000, &iov, 1), -EINVAL); /* past the end */
	assert_int_equal(read_fixed(&u, p, 64, 999, 0xa5), 64);
	assert_int_equal(p[63], 0xa5);
	host_uring_exit(&u);
	assert_null(u.buf);
	munmap(p, SIZE);
}

/* A record is what host_uring_buf_index answers from, whatever the kernel's table holds. */
static void records(void **state)
{
	(void)state;
	struct host_uring u;
	ring(&u, 0);
	assert_int_equal(host_uring_buffers_init(&u, N), 0);
	uint8_t *p = guest();
	struct iovec two[2] = {{p, SIZE / 2}, {p + SIZE / 2, SIZE / 2}};
	host_uring_buffers_track(&u, 8, two, 2);
	assert_int_equal(host_uring_buf_index(&u, 8, 8, p, 4096), 8);
	assert_int_equal(host_uring_buf_index(&u, 8, 8, p + SIZE / 2, 4096), 9);
	/* A request across the two, past the end, or outside the caller's slot range: none. */
	assert_int_equal(host_uring_buf_index(&u, 8, 8, p + SIZE / 2 - 8, 16), -1);
	assert_int_equal(host_uring_buf_index(&u, 8, 8, p + SIZE - 8, 16), -1);
	assert_int_equal(host_uring_buf_index(&u, 0, 8, p, 4096), -1);
	struct iovec none[2] = {{0}};
	host_uring_buffers_track(&u, 8, none, 2);
	assert_int_equal(host_uring_buf_index(&u, 8, 8, p, 4096), -1);
	host_uring_buffers_track(&u, N - 1, two, 2); /* the slot past the table is ignored */
	assert_int_equal(host_uring_buf_index(&u, 0, N, p, 4096), N - 1);
	host_uring_exit(&u);
	munmap(p, SIZE);
}

/* The source pins, the destination takes the whole table; a slot the source empties is gone
 * from the destination with the next clone. */
static void clone_table(void **state)
{
	(void)state;
	NEED_CLONE();
	struct host_uring src, dst;
	ring(&src, HOST_URING_SHARED);
	ring(&dst, 0);
	assert_int_equal(host_uring_buffers_init(&src, N), 0);
	assert_int_equal(host_uring_buffers_init(&dst, N), 0);
	uint8_t *p = guest();
	struct iovec iov = {p, SIZE};
	assert_int_equal(host_uring_buffers_set(&src, 5, &iov, 1), 0);
	assert_int_equal(host_uring_buffers_clone(&dst, src.ring.ring_fd), 0);
	/* The clone records nothing: the owner says what it uses. */
	assert_int_equal(host_uring_buf_index(&dst, 0, N, p, 64), -1);
	host_uring_buffers_track(&dst, 5, &iov, 1);
	assert_int_equal(host_uring_buf_index(&dst, 0, N, p + 128, 64), 5);
	assert_int_equal(read_fixed(&dst, p + 128, 64, 5, 0x3c), 64);
	assert_int_equal(p[128], 0x3c);
	/* The source lets go; the destination's table still holds the buffer until it clones
	 * again (the pages stay pinned by its reference). */
	struct iovec none = {0};
	assert_int_equal(host_uring_buffers_set(&src, 5, &none, 1), 0);
	assert_int_equal(read_fixed(&dst, p + 256, 64, 5, 0x3d), 64);
	assert_int_equal(host_uring_buffers_clone(&dst, src.ring.ring_fd), 0);
	assert_int_equal(read_fixed(&dst, p + 512, 64, 5, 0x3e), -EFAULT);
	assert_int_equal(p[512], 0);
	/* A table dropped is empty; a ring without one can still take a clone. */
	host_uring_buffers_drop(&dst);
	assert_int_equal(host_uring_buffers_set(&src, 7, &iov, 1), 0);
	assert_int_equal(host_uring_buffers_clone(&dst, src.ring.ring_fd), 0);
	assert_int_equal(read_fixed(&dst, p + 1024, 64, 7, 0x3f), 64);
	assert_int_equal(p[1024], 0x3f);
	host_uring_exit(&dst);
	host_uring_exit(&src);
	munmap(p, SIZE);
}

struct other {
	struct host_uring *src;
	int ret;
};

/* On a thread of its own: a ring (bound to this thread) clones src's table. */
static void *clone_elsewhere(void *arg)
{
	struct other *o = arg;
	struct host_uring dst;
	ring(&dst, 0);
	assert_int_equal(host_uring_buffers_init(&dst, N), 0);
	o->ret = host_uring_buffers_clone(&dst, o->src->ring.ring_fd);
	host_uring_exit(&dst);
	return NULL;
}

/* The kernel refuses to clone from a ring bound to another thread: the pinner's staging ring
 * must be HOST_URING_SHARED. */
static void shared_source(void **state)
{
	(void)state;
	NEED_CLONE();
	for (int shared = 0; shared < 2; shared++) {
		struct host_uring src;
		ring(&src, shared ? HOST_URING_SHARED : 0);
		assert_int_equal(host_uring_buffers_init(&src, N), 0);
		struct other o = {.src = &src};
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, clone_elsewhere, &o), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(o.ret, shared ? 0 : -EEXIST);
		host_uring_exit(&src);
	}
}

struct seen {
	struct host_op op;
	int res[8];
	unsigned flags[8], n;
};

static void saw(struct host_uring *u, struct host_op *op, int res)
{
	struct seen *s = container_of(op, struct seen, op);
	if (s->n < 8) {
		s->res[s->n] = res;
		s->flags[s->n] = u->cqe_flags;
	}
	s->n++;
}

/* ioproxy's kicks: a multishot poll on an eventfd that nobody reads completes once per
 * signal, each time with IORING_CQE_F_MORE in u->cqe_flags while the reap runs its callback,
 * the count growing; a cancel ends it without F_MORE. Its calls: an eventfd write with
 * IOSQE_CQE_SKIP_SUCCESS lands and posts nothing, so the wait it goes out with still sleeps.
 * On every ring ioproxy makes (DEFER_TASKRUN in event mode, none with --poll). */
static void kick_poll(void **state)
{
	(void)state;
	static const unsigned flags[] = {0, HOST_URING_DEFER};
	for (unsigned f = 0; f < 2; f++) {
		struct host_uring u;
		ring(&u, flags[f]);
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(efd >= 0);
		struct seen s = {.op.fn = saw};
		io_uring_prep_poll_multishot(host_uring_sqe(&u, &s.op), efd, POLLIN);
		assert_int_equal(io_uring_submit(&u.ring), 1);
		struct io_uring_cqe *cqe;
		for (unsigned k = 0; k < 3; k++) {
			uint64_t one = 1;
			assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
			assert_int_equal(io_uring_submit_and_wait(&u.ring, 1), 0);
			assert_int_equal(host_uring_reap(&u), 1);
			assert_int_equal(s.n, k + 1);
			assert_true(s.res[k] & POLLIN);
			assert_true(s.flags[k] & IORING_CQE_F_MORE);
		}
		static const uint64_t call = 1;
		struct io_uring_sqe *sqe = host_uring_sqe(&u, NULL);
		io_uring_prep_write(sqe, efd, &call, sizeof(call), 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		struct __kernel_timespec ts = {.tv_nsec = 20000000};
		/* The write wakes the poll (one CQE); it posts none of its own. */
		assert_int_equal(io_uring_submit_and_wait_timeout(&u.ring, &cqe, 1, &ts, NULL), 1);
		assert_int_equal(host_uring_reap(&u), 1);
		assert_int_equal(s.n, 4);
		assert_int_equal(io_uring_submit_and_wait_timeout(&u.ring, &cqe, 1, &ts, NULL),
				 -ETIME);
		uint64_t count = 0;
		assert_int_equal(read(efd, &count, sizeof(count)), sizeof(count));
		assert_int_equal(count, 4); /* three signals and the call: never read before */
		io_uring_prep_cancel64(host_uring_sqe(&u, NULL), (uint64_t)(uintptr_t)&s.op, 0);
		assert_int_equal(io_uring_submit_and_wait(&u.ring, 2), 1);
		while (s.n < 5) {
			host_uring_reap(&u);
			if (s.n < 5)
				assert_int_equal(io_uring_submit_and_wait(&u.ring, 1), 0);
		}
		assert_int_equal(s.res[4], -ECANCELED);
		assert_false(s.flags[4] & IORING_CQE_F_MORE);
		close(efd);
		host_uring_exit(&u);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_size),  cmocka_unit_test(records),
		cmocka_unit_test(clone_table), cmocka_unit_test(shared_source),
		cmocka_unit_test(kick_poll),
	};
	if (!can_clone())
		fprintf(stderr, "NOTE: a kernel before 6.13 cannot clone a buffer table: those "
				"cases skip\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
