/* SPDX-License-Identifier: MIT */
/*
 * The ring requests and the memory table. A ring is configured while stopped (NUM, ADDR,
 * BASE), starts when its kick fd arrives (SET_VRING_KICK) with memory mapped, and stops on
 * GET_VRING_BASE, which waits for its in-flight I/O so that nothing completes into a stopped
 * ring and the position returned is final. A new memory table stops the running rings,
 * swaps the mappings and starts them again where they were.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bufs.h"
#include "vhost.h"
#include "worker.h"

static bool ready(const struct iop_queue *q)
{
	return q->num_set && q->addr_set && q->kick_set && q->dev->mem.nr > 0;
}

static int start(struct iop_queue *q)
{
	if (!(q->dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) && !q->enabled) {
		/* No SET_VRING_ENABLE without protocol features: rings start enabled. */
		q->enabled = true;
		if (q->dev->ops->queue_enable)
			q->dev->ops->queue_enable(q, true);
	}
	int ret = iop_queue_prepare(q);
	if (!ret) {
		ret = q->dev->ops->queue_start(q);
		if (ret)
			iop_queue_release(q);
	}
	if (!ret) {
		ret = iop_worker_queue_start(q->w, q);
		if (ret) {
			q->dev->ops->queue_stop(q);
			iop_queue_release(q);
		}
	}
	if (ret) {
		fprintf(stderr, "ioproxy: %s: queue %u cannot start: %s\n", q->dev->name, q->index,
			ret == -EFAULT	 ? "ring outside the memory table"
			: ret == -EINVAL ? "bad ring size or alignment"
					 : strerror(-ret));
		return ret;
	}
	q->started = true;
	return 0;
}

static void stop(struct iop_queue *q)
{
	if (!q->started)
		return;
	iop_worker_queue_stop(q->w, q); /* returns with nothing in flight */
	uint32_t base = vq_get_base(&q->vq);
	/* Packed: the used position rides in the upper half (equal to the available one now
	 * that everything taken is completed), as QEMU and vhost-kernel read it. */
	q->base = q->vq.cfg.packed ? base | base << 16 : base;
	q->dev->ops->queue_stop(q);
	iop_queue_release(q);
	q->started = false;
}

bool iop_vring_any_started(const struct iop_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].started)
			return true;
	return false;
}

void iop_vring_stop_all(struct iop_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++)
		stop(&d->q[i]);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void iop_vring_reset_all(struct iop_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct iop_queue *q = &d->q[i];
		close_fd(&q->kick_fd);
		close_fd(&q->call_fd);
		close_fd(&q->err_fd);
		q->num = 0;
		q->base = 0;
		q->num_set = q->addr_set = q->kick_set = q->enabled = false;
		if (d->ops->queue_enable)
			d->ops->queue_enable(q, false);
	}
}

int iop_vring_set_mem_table(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	bool was[IOP_MAX_QUEUES] = {0};
	for (unsigned i = 0; i < d->nq; i++) {
		was[i] = d->q[i].started;
		stop(&d->q[i]);
	}
	/* The queue threads stop using the old mappings' buffers before they go; the new ones
	 * (or the old, if the table is refused) are registered by the pinner while the rings
	 * already run on readv/writev. */
	iop_bufs_forget(d);
	int ret = iop_mem_set(&d->mem, &m->p.memory, m->fds);
	iop_bufs_want(d);
	/* Refused or not, the rings run on (on the old table if it was refused). */
	for (unsigned i = 0; i < d->nq; i++)
		if (was[i] || (!ret && ready(&d->q[i])))
			start(&d->q[i]);
	return ret;
}

int iop_vring_set_num(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	struct iop_queue *q = &d->q[m->p.state.index];
	if (q->started)
		return -EBUSY;
	if (m->p.state.num == 0 || m->p.state.num > VQ_MAX_SIZE)
		return -EINVAL;
	q->num = (uint16_t)m->p.state.num;
	q->num_set = true;
	return 0;
}

int iop_vring_set_addr(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	const struct vhost_vring_addr *a = &m->p.addr;
	struct iop_queue *q = &d->q[a->index];
	if (q->started)
		return -EBUSY;
	q->desc_uva = a->desc_user_addr;
	q->avail_uva = a->avail_user_addr;
	q->used_uva = a->used_user_addr;
	q->addr_set = true;
	return 0;
}

int iop_vring_set_base(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	struct iop_queue *q = &d->q[m->p.state.index];
	if (q->started)
		return -EBUSY;
	q->base = m->p.state.num;
	return 0;
}

int iop_vring_get_base(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	struct iop_queue *q = &d->q[m->p.state.index];
	stop(q);
	/* Stopped for good: the next start comes with a new kick fd. */
	close_fd(&q->kick_fd);
	q->kick_set = false;
	r->p.state.index = q->index;
	r->p.state.num = q->base;
	r->hdr.size = sizeof(r->p.state);
	return 0;
}

struct fd_swap {
	int *slot;
	int fd;
};

static void swap_fn(struct iop_worker *w, void *arg)
{
	(void)w;
	struct fd_swap *s = arg;
	int old = *s->slot;
	*s->slot = s->fd;
	s->fd = old;
}

/* Replaces a call or error fd; a running ring's worker makes the switch, so it never writes
 * to a closed descriptor. */
static void replace_fd(struct iop_queue *q, int *slot, int fd)
{
	struct fd_swap s = {.slot = slot, .fd = fd};
	if (q->started)
		iop_worker_run(q->w, swap_fn, &s);
	else
		swap_fn(NULL, &s);
	close_fd(&s.fd);
}

int iop_vring_set_fd(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	struct iop_queue *q = &d->q[m->p.u64 & VHOST_USER_VRING_IDX_MASK];
	int fd = -1;
	if (!(m->p.u64 & VHOST_USER_VRING_NOFD_MASK)) {
		fd = m->fds[0];
		m->fds[0] = -1; /* ours now */
	}
	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_CALL:
		replace_fd(q, &q->call_fd, fd);
		return 0;
	case VHOST_USER_SET_VRING_ERR:
		replace_fd(q, &q->err_fd, fd);
		return 0;
	default: /* KICK: (re)starts the ring; no fd means the ring is polled */
		stop(q);
		close_fd(&q->kick_fd);
		q->kick_fd = fd;
		q->kick_set = true;
		return ready(q) ? start(q) : 0;
	}
}

struct enable {
	struct iop_queue *q;
	bool on;
};

static void enable_fn(struct iop_worker *w, void *arg)
{
	(void)w;
	struct enable *e = arg;
	e->q->enabled = e->on;
	e->q->kicked = true;
}

int iop_vring_set_enable(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	struct iop_queue *q = &d->q[m->p.state.index];
	if (m->p.state.num > 1)
		return -EINVAL;
	struct enable e = {.q = q, .on = m->p.state.num};
	if (d->ops->queue_enable)
		d->ops->queue_enable(q, e.on);
	if (q->started)
		iop_worker_run(q->w, enable_fn, &e);
	else
		q->enabled = e.on;
	return 0;
}
