/* SPDX-License-Identifier: MIT */
/*
 * What every device model does with its rings: taking chains (resubmitted ones first, with
 * in-flight marking and refusal of a head already in flight), completing them, publishing a
 * batch, and preparing a ring from the front-end's user addresses.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "barrier.h"
#include "iop.h"
#include "worker.h"

void iop_signal(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated and a wakeup is pending anyway */
	}
}

void iop_dev_init(struct iop_dev *d, unsigned id, const char *name, struct iop_pool *pool)
{
	memset(d, 0, sizeof(*d));
	d->id = id;
	d->name = name;
	d->pool = pool;
	d->listen_fd = d->conn_fd = -1;
	iop_mem_init(&d->mem);
	for (unsigned i = 0; i < IOP_MAX_QUEUES; i++) {
		struct iop_queue *q = &d->q[i];
		q->dev = d;
		q->index = i;
		q->kick_fd = q->call_fd = q->err_fd = -1;
		if (pool && pool->n)
			q->w = &pool->w[pool->next++ % pool->n];
	}
}

/* A chain just taken: counted, its head marked in flight, or refused if it already is. */
static void take(struct iop_queue *q, struct vq_chain *c)
{
	q->chains++;
	if (c->err) {
		q->bad_chains++;
	}
	if (c->id >= q->num)
		return; /* VQ_ERR_HEAD: no head to track */
	if (q->busy[c->id]) {
		/* The driver offered a buffer that is still ours: it is refused like a malformed
		 * chain (no segments, used length 0), and the one in flight is left alone. */
		c->err = VQ_ERR_HEAD;
		c->nseg = c->nread = 0;
		c->read_len = c->write_len = 0;
		q->dup_heads++;
		q->bad_chains++;
		return;
	}
	q->busy[c->id] = 1;
	iop_inflight_get(&q->inflight, c->id);
}

int iop_queue_pop(struct iop_queue *q, struct vq_chain *c, unsigned n)
{
	int got;
	if (q->replay_avail) {
		got = vq_pop_batch(&q->replay, c, n);
		if (got >= 0)
			q->resubmitted += (unsigned)got;
		if (got < 0 || q->replay.last_avail == q->replay_avail[1]) {
			free(q->replay_avail); /* every head in flight at the restart is back */
			q->replay_avail = NULL;
		}
	} else {
		got = vq_pop_batch(&q->vq, c, n);
	}
	for (int k = 0; k < got; k++)
		take(q, &c[k]);
	return got;
}

void iop_queue_push(struct iop_queue *q, const struct vq_chain *c, uint32_t written)
{
	vq_push(&q->vq, c, written);
	if (c->id < q->num) {
		if (c->err != VQ_ERR_HEAD) /* a refused duplicate leaves the first in flight */
			q->busy[c->id] = 0;
		iop_inflight_put(&q->inflight, c->id);
	}
	q->dirty = true;
}

void iop_queue_publish(struct iop_queue *q)
{
	if (!q->dirty)
		return;
	q->dirty = false;
	bool notify = vq_publish(&q->vq);
	if (!q->vq.cfg.packed)
		iop_inflight_batch_done(&q->inflight, q->vq.used_idx);
	if (notify && q->call_fd >= 0) {
		iop_signal(q->call_fd);
		q->calls++;
	}
}

/* Restores the position from the inflight region: the driver's used index plus what was
 * in flight, which is resubmitted first through a private available ring that lists the
 * heads oldest first (the chains are still read and checked from the driver's table). */
static int recover(struct iop_queue *q)
{
	uint16_t num = q->num;
	uint16_t used = vq_load_acquire(&q->vq.used->idx);
	uint16_t *heads = malloc(sizeof(*heads) * num);
	if (!heads)
		return -ENOMEM;
	unsigned n = iop_inflight_recover(&q->inflight, used, heads);
	q->vq.last_avail = (uint16_t)(used + n);
	q->vq.used_idx = q->vq.published_idx = used;
	if (n) {
		/* struct vring_avail: flags, idx, ring[num], used_event */
		q->replay_avail = calloc(num + 3u, sizeof(uint16_t));
		if (!q->replay_avail) {
			free(heads);
			return -ENOMEM;
		}
		memcpy(q->replay_avail + 2, heads, n * sizeof(*heads));
		q->replay_avail[1] = (uint16_t)n;
		q->replay = q->vq;
		q->replay.avail = (struct vring_avail *)q->replay_avail;
		q->replay.last_avail = 0;
		q->replay.notify_enabled = false; /* never write the driver's avail_event */
		q->replay.cfg.event_idx = false;
		fprintf(stderr,
			"ioproxy: %s: queue %u: %u request(s) in flight before the "
			"restart are submitted again\n",
			q->dev->name, q->index, n);
	}
	free(heads);
	return 0;
}

int iop_queue_prepare(struct iop_queue *q)
{
	struct iop_dev *d = q->dev;
	uint64_t f = d->features;
	struct vq_config cfg = {
		.num = q->num,
		.packed = f & (1ull << VIRTIO_F_RING_PACKED),
		.event_idx = f & (1ull << VIRTIO_RING_F_EVENT_IDX),
		.indirect = f & (1ull << VIRTIO_RING_F_INDIRECT_DESC),
	};
	if (!q->num_set || !q->addr_set || cfg.num == 0)
		return -EINVAL;
	if (iop_mem_uva_to_gpa(&d->mem, q->desc_uva, vq_desc_size(&cfg), &cfg.desc) ||
	    iop_mem_uva_to_gpa(&d->mem, q->avail_uva, vq_driver_size(&cfg), &cfg.driver) ||
	    iop_mem_uva_to_gpa(&d->mem, q->used_uva, vq_device_size(&cfg), &cfg.device))
		return -EFAULT;
	int ret = vq_init(&q->vq, &d->mem.gmem, &cfg);
	if (ret)
		return ret;
	uint16_t base = (uint16_t)q->base;
	vq_set_base(&q->vq, base);
	q->busy = calloc(q->num, 1);
	if (!q->busy)
		return -ENOMEM;
	iop_inflight_detach(&q->inflight);
	if (!cfg.packed && d->inflight_map && q->index < d->inflight_queues &&
	    d->inflight_qsize == q->num) {
		iop_inflight_attach(&q->inflight,
				    d->inflight_map + q->index * iop_inflight_queue_bytes(q->num),
				    q->num);
		ret = recover(q);
		if (ret) {
			iop_queue_release(q);
			return ret;
		}
	}
	return 0;
}

void iop_queue_release(struct iop_queue *q)
{
	free(q->busy);
	q->busy = NULL;
	free(q->replay_avail);
	q->replay_avail = NULL;
	iop_inflight_detach(&q->inflight);
}
