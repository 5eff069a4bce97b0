/* SPDX-License-Identifier: MIT */
/* The pinner: guest memory registered as fixed buffers off the data path (see bufs.h). */
#include "bufs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "worker.h"

#define NREG	      VHOST_USER_MEM_REGIONS
#define POPULATE_STEP (2u << 20)
#define PINNER_NICE   10

/* ------------------------------------------------------------------ queue-thread commands -- */

struct clone_cmd {
	struct iop_bufs *b;
	struct iop_dev *d; /* NULL: take the table, record nothing (a release) */
	unsigned gen;
	const struct iovec *iov;
	int ret;
};

/* Queue thread: the staging ring's table, and the records of d's slots if the clone is for the
 * memory table d has now. */
static void clone_fn(struct iop_worker *w, void *arg)
{
	struct clone_cmd *c = arg;
	c->ret = host_uring_buffers_clone(&w->uring, c->b->staging.ring.ring_fd);
	if (c->ret || !c->d || atomic_load(&c->d->bufs_gen) != c->gen)
		return;
	host_uring_buffers_track(&w->uring, c->d->id * NREG, c->iov, NREG);
}

/* Queue thread: d's slots are not to be used any more. */
static void forget_fn(struct iop_worker *w, void *arg)
{
	const struct iop_dev *d = arg;
	static const struct iovec none[NREG];
	host_uring_buffers_track(&w->uring, d->id * NREG, none, NREG);
}

static int clone_all(struct iop_bufs *b, struct iop_dev *d, unsigned gen, const struct iovec *iov)
{
	struct clone_cmd c = {.b = b, .d = d, .gen = gen, .iov = iov};
	int ret = 0;
	for (unsigned i = 0; i < b->pool->n; i++) {
		iop_worker_run(&b->pool->w[i], clone_fn, &c);
		if (c.ret)
			ret = c.ret;
	}
	return ret;
}

/* ------------------------------------------------------------------ the pinner ------------- */

static void warn(struct iop_bufs *b, const char *what, int ret)
{
	pthread_mutex_lock(&b->lock);
	b->failures++;
	pthread_mutex_unlock(&b->lock);
	if (b->warned)
		return;
	b->warned = true;
	fprintf(stderr, "ioproxy: fixed buffers: %s: %s; those requests use readv/writev\n", what,
		strerror(-ret));
}

/* The device's slots leave the staging ring and the queue threads, the unpinning happening
 * here (bufs.h gives the order). */
static void release(struct iop_bufs *b, unsigned id)
{
	static const struct iovec none[NREG];
	int ret = host_uring_buffers_clone(&b->graveyard, b->staging.ring.ring_fd);
	if (ret)
		warn(b, "keeping the old table while it is replaced", ret);
	host_uring_buffers_set(&b->staging, id * NREG, none, NREG);
	ret = clone_all(b, NULL, 0, NULL);
	if (ret)
		warn(b, "dropping a device's buffers from a queue thread", ret);
	host_uring_buffers_drop(&b->graveyard);
	b->held[id] = false;
	pthread_mutex_lock(&b->lock);
	b->releases++;
	pthread_mutex_unlock(&b->lock);
}

/* Faults the regions in, a step at a time. Pinning memory that is not there yet allocates it
 * with the process's mmap lock held all along, so the control thread's next mmap (another
 * front-end's memory table) would wait for the whole region; populated in steps, the lock is
 * free between them, and the pinning of present pages is quick (and needs no lock). Stops
 * early when the wish is superseded. Errors are left for the registration to find. */
static bool populate(const struct iop_dev *d, const struct iop_bufs_wish *want)
{
	for (unsigned i = 0; i < NREG; i++) {
		uint8_t *p = want->iov[i].iov_base;
		for (size_t off = 0; off < want->iov[i].iov_len; off += POPULATE_STEP) {
			if (atomic_load(&d->bufs_gen) != want->gen)
				return false;
			size_t len = want->iov[i].iov_len - off;
			if (madvise(p + off, len < POPULATE_STEP ? len : POPULATE_STEP,
				    MADV_POPULATE_WRITE) < 0)
				break;
		}
	}
	return true;
}

static void pin(struct iop_bufs *b, struct iop_dev *d, const struct iop_bufs_wish *want)
{
	uint64_t bytes = 0;
	for (unsigned i = 0; i < NREG; i++)
		bytes += want->iov[i].iov_len;
	if (!bytes || atomic_load(&d->bufs_gen) != want->gen)
		return; /* nothing to register, or a newer wish is queued already */
	uint64_t t0 = host_now_ns();
	if (!populate(d, want))
		return;
	int ret = host_uring_buffers_set(&b->staging, d->id * NREG, want->iov, NREG);
	uint64_t ns = host_now_ns() - t0;
	/* What the kernel took (it stops at the first region it cannot pin). */
	struct iovec got[NREG];
	uint64_t got_bytes = 0;
	unsigned regions = 0;
	for (unsigned i = 0; i < NREG; i++) {
		const struct host_uring_buf *s = &b->staging.buf[d->id * NREG + i];
		got[i] = (struct iovec){.iov_base = s->base, .iov_len = s->len};
		got_bytes += s->len;
		regions += s->len != 0;
	}
	/* Memory that went while it was being pinned (the front-end left, or sent another
	 * table) is no failure: a newer wish is queued. */
	if ((ret || got_bytes != bytes) && atomic_load(&d->bufs_gen) == want->gen)
		warn(b, "cannot register guest memory", ret ? ret : -ENOMEM);
	if (!regions)
		return;
	b->held[d->id] = true;
	pthread_mutex_lock(&b->lock);
	b->pins += regions;
	b->pin_bytes += got_bytes;
	b->pin_ns += ns;
	if (ns > b->pin_max_ns)
		b->pin_max_ns = ns;
	pthread_mutex_unlock(&b->lock);
	/* A table replaced meanwhile: the clone records nothing, and the wish queued for the
	 * newer table releases these slots first. */
	ret = clone_all(b, d, want->gen, got);
	if (ret)
		warn(b, "a queue thread cannot take the registered buffers", ret);
}

/* The next device whose wish changed, round-robin; false when asked to exit. */
static bool next_wish(struct iop_bufs *b, struct iop_bufs_wish *want)
{
	bool found = false;
	pthread_mutex_lock(&b->lock);
	while (!b->exit && !found) {
		if (!b->dirty)
			pthread_cond_wait(&b->cond, &b->lock);
		for (unsigned k = 0; !b->exit && k < b->ndev && !found; k++) {
			unsigned i = (b->next + k) % b->ndev;
			if (b->wish[i].dirty) {
				b->wish[i].dirty = false;
				b->dirty--;
				*want = b->wish[i];
				b->next = i + 1;
				found = true;
			}
		}
	}
	pthread_mutex_unlock(&b->lock);
	return found;
}

static int pinner_setup(struct iop_bufs *b, struct host_err *err)
{
	int ret = host_uring_init(&b->staging, 4, HOST_URING_SHARED, err);
	if (!ret)
		ret = host_uring_init(&b->graveyard, 4, 0, err);
	if (!ret && (ret = host_uring_buffers_init(&b->staging, b->nslots)) < 0)
		host_err_set(err, -ret, "cannot make a buffer table of %u slots: %s", b->nslots,
			     strerror(-ret));
	/* What the kernel must do for the queue threads: replace a table by another's. */
	if (!ret && (ret = host_uring_buffers_clone(&b->graveyard, b->staging.ring.ring_fd)) < 0)
		host_err_set(
			err, ret == -EINVAL ? EOPNOTSUPP : -ret,
			"this kernel cannot clone a buffer table between rings (%s; Linux 6.13 "
			"can)",
			strerror(-ret));
	if (!ret)
		host_uring_buffers_drop(&b->graveyard);
	return ret < 0 ? ret : 0;
}

static void *pinner_main(void *arg)
{
	struct iop_bufs *b = arg;
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGBUS); /* as the queue threads (worker.c) */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* Background work: allocating and zeroing guest RAM takes a core for seconds, which the
	 * queue threads should get first. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), PINNER_NICE);
	struct host_err err = {{0}};
	/* On this thread: SINGLE_ISSUER binds the graveyard to it. */
	int ret = pinner_setup(b, &err);
	pthread_mutex_lock(&b->lock);
	b->setup_done = true;
	b->setup_err = ret;
	b->setup_msg = err;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	struct iop_bufs_wish want;
	while (!ret && next_wish(b, &want)) {
		if (b->held[want.d->id])
			release(b, want.d->id);
		pin(b, want.d, &want);
	}
	host_uring_exit(&b->graveyard);
	host_uring_exit(&b->staging);
	return NULL;
}

/* ------------------------------------------------------------------ the control thread ----- */

void iop_bufs_slots(const struct iop_mem *m, struct iovec *iov)
{
	unsigned n = 0;
	memset(iov, 0, NREG * sizeof(*iov));
	for (unsigned i = 0; i < m->nr; i++)
		for (uint64_t off = 0; off < m->r[i].map_len && n < NREG;
		     off += IOP_BUFS_MAX, n++) {
			uint64_t left = m->r[i].map_len - off;
			iov[n] = (struct iovec){.iov_base = m->r[i].map + off,
						.iov_len =
							left < IOP_BUFS_MAX ? left : IOP_BUFS_MAX};
		}
}

static void wish(struct iop_dev *d, bool table)
{
	struct iop_bufs *b = d->pool->bufs;
	struct iop_bufs_wish *w = &b->wish[d->id];
	pthread_mutex_lock(&b->lock);
	w->d = d;
	w->gen = atomic_load(&d->bufs_gen);
	if (table)
		iop_bufs_slots(&d->mem, w->iov);
	else
		memset(w->iov, 0, sizeof(w->iov));
	if (!w->dirty)
		b->dirty++;
	w->dirty = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

void iop_bufs_forget(struct iop_dev *d)
{
	struct iop_bufs *b = d->pool ? d->pool->bufs : NULL;
	if (!b)
		return;
	/* The generation first: a clone for the old table that lands after this records
	 * nothing (clone_fn). */
	atomic_fetch_add(&d->bufs_gen, 1);
	for (unsigned i = 0; i < b->pool->n; i++)
		iop_worker_run(&b->pool->w[i], forget_fn, d);
	wish(d, false);
}

void iop_bufs_want(struct iop_dev *d)
{
	if (d->pool && d->pool->bufs && d->mem.nr)
		wish(d, true);
}

int iop_bufs_start(struct iop_bufs *b, struct iop_pool *pool, unsigned ndev, struct host_err *err)
{
	memset(b, 0, sizeof(*b));
	b->pool = pool;
	b->ndev = ndev;
	b->nslots = ndev * NREG;
	b->wish = calloc(ndev, sizeof(*b->wish));
	b->held = calloc(ndev, sizeof(*b->held));
	if (!b->wish || !b->held) {
		free(b->wish);
		free(b->held);
		return host_err_set(err, ENOMEM, "out of memory");
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	int ret = pthread_create(&b->thread, NULL, pinner_main, b);
	if (ret) {
		iop_bufs_stop(b);
		return host_err_set(err, ret, "cannot start the pinner thread: %s", strerror(ret));
	}
	pthread_mutex_lock(&b->lock);
	while (!b->setup_done)
		pthread_cond_wait(&b->cond, &b->lock);
	ret = b->setup_err;
	pthread_mutex_unlock(&b->lock);
	b->running = true;
	if (ret) {
		*err = b->setup_msg;
		iop_bufs_stop(b);
		return ret;
	}
	/* What every device's registration ends in: each queue thread takes the staging table. */
	ret = clone_all(b, NULL, 0, NULL);
	if (ret) {
		host_err_set(
			err, ret == -EINVAL ? EOPNOTSUPP : -ret,
			"a queue thread cannot clone the pinner's buffer table (%s; Linux 6.13 "
			"can)",
			strerror(-ret));
		iop_bufs_stop(b);
		return ret == -EINVAL ? -EOPNOTSUPP : ret;
	}
	return 0;
}

void iop_bufs_stop(struct iop_bufs *b)
{
	if (b->running) {
		pthread_mutex_lock(&b->lock);
		b->exit = true;
		pthread_cond_signal(&b->cond);
		pthread_mutex_unlock(&b->lock);
		pthread_join(b->thread, NULL);
		b->running = false;
	}
	free(b->wish);
	free(b->held);
	b->wish = NULL;
	b->held = NULL;
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
}

void iop_bufs_dump(struct iop_bufs *b)
{
	pthread_mutex_lock(&b->lock);
	fprintf(stderr,
		"ioproxy: fixed buffers: %llu region(s) pinned, %llu MiB in %llu ms (slowest %llu "
		"ms), %llu released, %llu failure(s)\n",
		(unsigned long long)b->pins, (unsigned long long)(b->pin_bytes >> 20),
		(unsigned long long)(b->pin_ns / 1000000),
		(unsigned long long)(b->pin_max_ns / 1000000), (unsigned long long)b->releases,
		(unsigned long long)b->failures);
	pthread_mutex_unlock(&b->lock);
}
