/* SPDX-License-Identifier: MIT */
/*
 * Guest memory registered as fixed buffers off the data path (proxy/bufs.c), with real queue
 * threads and the pinner:
 *  - iop_bufs_want returns at once, and a queue thread answers commands while a large region
 *    is being pinned (it never waits for the pinning); then each queue thread's record names
 *    the region and a fixed read through its own ring lands in the guest memory;
 *  - iop_bufs_forget clears the records before it returns, and the pinner then drops the
 *    buffers from the queue threads' tables too (a fixed read on the slot fails);
 *  - memory tables replaced one after another in a hurry end with the last one recorded, and
 *    no record ever names a table that was replaced; a clone that lands after iop_bufs_forget
 *    (the queue threads were busy) records nothing.
 *  - regions map to slots of at most 1 GiB (io_uring's largest buffer), no more than 8.
 * Needs Linux 6.13 (a queue thread clones the pinner's table); older kernels skip, saying so.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bufs.h"
#include "worker.h"

#define NDEV	 2
#define NWORKERS 2
#define BIG	 (256u << 20)
#define SMALL	 (2u << 20)
#define NREG	 VHOST_USER_MEM_REGIONS

struct fixture {
	struct iop_pool pool;
	struct iop_worker w[NWORKERS];
	struct iop_bufs bufs;
	struct iop_dev dev[NDEV];
	bool skip; /* the kernel cannot clone a buffer table */
};

static struct fixture x;

/* ------------------------------------------------------------------ helpers --------------- */

/* d's memory table: one region of a fresh memfd of size bytes. */
static void table(struct iop_dev *d, unsigned size)
{
	int fd = memfd_create("test-bufs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	struct vhost_user_memory t = {.nregions = 1};
	t.regions[0] = (struct vhost_user_mem_region){
		.guest_phys_addr = 0, .memory_size = size, .userspace_addr = 0x7000000000};
	assert_int_equal(iop_mem_set(&d->mem, &t, &fd), 0);
	close(fd);
}

struct probe {
	const struct iop_dev *d;
	const void *p;
	int slot; /* out: the slot the worker's record gives for p, or -1 */
};

static void probe_fn(struct iop_worker *w, void *arg)
{
	struct probe *pr = arg;
	pr->slot = host_uring_buf_index(&w->uring, pr->d->id * NREG, NREG, pr->p, 4096);
}

/* The slot worker i's record gives for d's address p. */
static int slot_of(unsigned i, const struct iop_dev *d, const void *p)
{
	struct probe pr = {.d = d, .p = p};
	iop_worker_run(&x.w[i], probe_fn, &pr);
	return pr.slot;
}

struct fixed_read {
	struct host_op op;
	void *p;
	int slot, pipe_rd, res;
	bool done;
};

static void read_done(struct host_uring *u, struct host_op *op, int res)
{
	(void)u;
	struct fixed_read *r = container_of(op, struct fixed_read, op);
	r->res = res;
	r->done = true;
}

/* On the queue thread: a fixed read through its own ring, its completion reaped like any. */
static void read_fn(struct iop_worker *w, void *arg)
{
	struct fixed_read *r = arg;
	r->op.fn = read_done;
	struct io_uring_sqe *sqe = host_uring_sqe(&w->uring, &r->op);
	io_uring_prep_read_fixed(sqe, r->pipe_rd, r->p, 64, 0, r->slot);
	while (!r->done) {
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait(&w->uring.ring, 1);
		if (io_uring_peek_cqe(&w->uring.ring, &cqe) == 0)
			host_uring_reap(&w->uring);
	}
}

/* 64 bytes of `byte` read into p through slot on worker i: the read's result. */
static int read_fixed(unsigned i, void *p, int slot, uint8_t byte)
{
	int pfd[2];
	uint8_t src[64];
	assert_int_equal(pipe(pfd), 0);
	memset(src, byte, sizeof(src));
	assert_int_equal(write(pfd[1], src, sizeof(src)), (ssize_t)sizeof(src));
	struct fixed_read r = {.p = p, .slot = slot, .pipe_rd = pfd[0]};
	iop_worker_run(&x.w[i], read_fn, &r);
	close(pfd[0]);
	close(pfd[1]);
	return r.res;
}

static void nop_fn(struct iop_worker *w, void *arg)
{
	(void)w, (void)arg;
}

static uint64_t counter(const uint64_t *c)
{
	pthread_mutex_lock(&x.bufs.lock);
	uint64_t v = *c;
	pthread_mutex_unlock(&x.bufs.lock);
	return v;
}

/* ------------------------------------------------------------------ fixture ---------------- */

static int setup(void **state)
{
	(void)state;
	memset(&x, 0, sizeof(x));
	x.pool = (struct iop_pool){.w = x.w, .n = NWORKERS};
	struct iop_worker_cfg wc = {.nbufs = NDEV * NREG, .max_queues = 1};
	struct host_err err = {{0}};
	for (unsigned i = 0; i < NWORKERS; i++)
		assert_int_equal(iop_worker_start(&x.w[i], i, &wc, &err), 0);
	int ret = iop_bufs_start(&x.bufs, &x.pool, NDEV, &err);
	if (ret == -EOPNOTSUPP) {
		fprintf(stderr, "SKIP: %s\n", err.msg);
		x.skip = true;
		return 0;
	}
	assert_int_equal(ret, 0);
	x.pool.bufs = &x.bufs;
	for (unsigned i = 0; i < NDEV; i++)
		iop_dev_init(&x.dev[i], i, i ? "blk1" : "blk0", &x.pool);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NDEV && !x.skip; i++) {
		iop_bufs_forget(&x.dev[i]);
		iop_mem_clear(&x.dev[i].mem);
	}
	if (!x.skip)
		iop_bufs_stop(&x.bufs);
	for (unsigned i = 0; i < NWORKERS; i++)
		iop_worker_stop(&x.w[i]);
	return 0;
}

/* Until every worker's record of d names p (true), or 20 s pass; meanwhile the longest a
 * no-op command took on worker 0, in ns. */
static bool wait_recorded(const struct iop_dev *d, const void *p, uint64_t *worst_ns)
{
	uint64_t end = host_now_ns() + 20000000000ull;
	while (host_now_ns() < end) {
		uint64_t t0 = host_now_ns();
		iop_worker_run(&x.w[0], nop_fn, NULL);
		uint64_t ns = host_now_ns() - t0;
		if (worst_ns && ns > *worst_ns)
			*worst_ns = ns;
		bool all = true;
		for (unsigned i = 0; i < NWORKERS; i++)
			all &= slot_of(i, d, p) >= 0;
		if (all)
			return true;
		usleep(1000);
	}
	return false;
}

/* ------------------------------------------------------------------ tests ------------------ */

static void pinned_off_the_queue_threads(void **state)
{
	(void)state;
	if (x.skip)
		skip();
	struct iop_dev *d = &x.dev[1];
	table(d, BIG);
	uint8_t *p = d->mem.r[0].map;
	uint64_t t0 = host_now_ns();
	iop_bufs_want(d);
	uint64_t want_ns = host_now_ns() - t0;
	uint64_t worst = 0;
	assert_true(wait_recorded(d, p, &worst));
	uint64_t pin_ns = counter(&x.bufs.pin_max_ns);
	fprintf(stderr,
		"pinned %u MiB in %.1f ms; iop_bufs_want took %.3f ms, a queue thread "
		"answered within %.3f ms meanwhile\n",
		BIG >> 20, pin_ns / 1e6, want_ns / 1e6, worst / 1e6);
	assert_true(want_ns < 20000000);
	/* The pinning takes a while (memory allocated and zeroed); a queue thread that waited for
	 * it would have answered only after it. */
	assert_true(worst < pin_ns / 2);
	for (unsigned i = 0; i < NWORKERS; i++) {
		assert_int_equal(slot_of(i, d, p + BIG - 4096), 1 * NREG);
		assert_int_equal(read_fixed(i, p + 4096 * (i + 1), 1 * NREG, 0x5a + i), 64);
		assert_int_equal(p[4096 * (i + 1)], 0x5a + i);
	}
	assert_int_equal(slot_of(0, &x.dev[0], p), -1); /* another device's slots: nothing */
}

static void forget_then_release(void **state)
{
	(void)state;
	if (x.skip)
		skip();
	struct iop_dev *d = &x.dev[0];
	table(d, SMALL);
	uint8_t *p = d->mem.r[0].map;
	iop_bufs_want(d);
	assert_true(wait_recorded(d, p, NULL));
	assert_int_equal(read_fixed(0, p, 0, 0x11), 64);
	uint64_t released = counter(&x.bufs.releases);
	iop_bufs_forget(d);
	/* Synchronous: no queue thread names the slot once it returns. */
	for (unsigned i = 0; i < NWORKERS; i++)
		assert_int_equal(slot_of(i, d, p), -1);
	/* Then the pinner drops the buffers from the queue threads' tables as well. */
	uint64_t end = host_now_ns() + 10000000000ull;
	while (counter(&x.bufs.releases) == released && host_now_ns() < end)
		usleep(1000);
	assert_int_equal(counter(&x.bufs.releases), released + 1);
	for (unsigned i = 0; i < NWORKERS; i++)
		assert_int_equal(read_fixed(i, p, 0, 0x22), -EFAULT);
	assert_int_equal(counter(&x.bufs.failures), 0);
}

/* Tables replaced faster than they are pinned: the last one is recorded, never one before. */
static void newest_table_wins(void **state)
{
	(void)state;
	if (x.skip)
		skip();
	struct iop_dev *d = &x.dev[0];
	uint8_t *old[8] = {0};
	for (unsigned k = 0; k < 8; k++) {
		iop_bufs_forget(d);
		table(d, SMALL << (k % 3));
		old[k] = d->mem.r[0].map;
		iop_bufs_want(d);
	}
	uint8_t *last = d->mem.r[0].map;
	uint64_t last_len = d->mem.r[0].map_len;
	uint64_t end = host_now_ns() + 20000000000ull;
	bool done = false;
	while (!done && host_now_ns() < end) {
		for (unsigned k = 0; k < 7; k++) /* an address the last table took again aside */
			if (old[k] < last || old[k] >= last + last_len)
				for (unsigned i = 0; i < NWORKERS; i++)
					assert_int_equal(slot_of(i, d, old[k]), -1);
		done = slot_of(0, d, last) >= 0 && slot_of(1, d, last) >= 0;
		usleep(500);
	}
	assert_true(done);
	assert_int_equal(read_fixed(1, last + 8192, 0, 0x77), 64);
	assert_int_equal(last[8192], 0x77);
	assert_int_equal(counter(&x.bufs.failures), 0);
}

struct blocker {
	unsigned w;
	atomic_bool running;
};

static void busy_fn(struct iop_worker *w, void *arg)
{
	(void)w;
	struct blocker *b = arg;
	atomic_store(&b->running, true);
	usleep(300000);
}

static void *block_worker(void *arg)
{
	struct blocker *b = arg;
	iop_worker_run(&x.w[b->w], busy_fn, b);
	return NULL;
}

/* A clone for a table that iop_bufs_forget replaced meanwhile records nothing: the queue
 * threads are kept busy so that the pinner's clone waits behind them, iop_bufs_forget is
 * called while it waits, and both commands run after the busy one. */
static void stale_clone_records_nothing(void **state)
{
	(void)state;
	if (x.skip)
		skip();
	struct iop_dev *d = &x.dev[0];
	table(d, SMALL);
	uint8_t *p = d->mem.r[0].map;
	struct blocker b[NWORKERS];
	pthread_t t[NWORKERS];
	for (unsigned i = 0; i < NWORKERS; i++) {
		b[i] = (struct blocker){.w = i};
		assert_int_equal(pthread_create(&t[i], NULL, block_worker, &b[i]), 0);
		while (!atomic_load(&b[i].running))
			usleep(100);
	}
	uint64_t pins = counter(&x.bufs.pins);
	iop_bufs_want(d);
	while (counter(&x.bufs.pins) == pins) /* pinned: its clone is posted next */
		usleep(100);
	usleep(20000);
	iop_bufs_forget(d);
	for (unsigned i = 0; i < NWORKERS; i++)
		assert_int_equal(slot_of(i, d, p), -1);
	for (unsigned i = 0; i < NWORKERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(slot_of(0, d, p), -1);
}

/* Regions to slots: one each up to 1 GiB, larger ones in 1 GiB pieces, no more than 8. */
static void slots(void **state)
{
	(void)state;
	const uint64_t G = IOP_BUFS_MAX;
	struct iop_mem m = {.nr = 3};
	m.r[0] = (struct iop_mem_region){.map = (uint8_t *)0x10000000, .map_len = 640ull << 20};
	m.r[1] = (struct iop_mem_region){.map = (uint8_t *)0x100000000, .map_len = 2 * G + 4096};
	m.r[2] = (struct iop_mem_region){.map = (uint8_t *)0x1000000000, .map_len = G};
	struct iovec iov[NREG];
	iop_bufs_slots(&m, iov);
	const struct iovec want[] = {
		{(void *)0x10000000, 640ull << 20}, {(void *)0x100000000, G},
		{(void *)(0x100000000 + G), G},	    {(void *)(0x100000000 + 2 * G), 4096},
		{(void *)0x1000000000, G},	    {NULL, 0}};
	for (unsigned i = 0; i < NREG; i++) {
		const struct iovec *w = i < 6 ? &want[i] : &want[5];
		assert_ptr_equal(iov[i].iov_base, w->iov_base);
		assert_int_equal(iov[i].iov_len, w->iov_len);
	}
	/* Eight slots and no more: a 9 GiB region leaves its last GiB to readv/writev. */
	m.nr = 1;
	m.r[0].map_len = 9 * G;
	iop_bufs_slots(&m, iov);
	for (unsigned i = 0; i < NREG; i++) {
		assert_ptr_equal(iov[i].iov_base, (uint8_t *)0x10000000 + i * G);
		assert_int_equal(iov[i].iov_len, G);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slots),
		cmocka_unit_test_setup_teardown(pinned_off_the_queue_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(forget_then_release, setup, teardown),
		cmocka_unit_test_setup_teardown(newest_table_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_clone_records_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
