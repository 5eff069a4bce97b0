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

void iop_dev_init(struct iop_dev *d, unsigned id, const char *name, struct iop_pool *pool)
{
	memset(d, 0, sizeof(*d));
	d->id = id;
	d->name = name;
	d->pool = pool;
	d->listen_fd = d->conn_fd = -1;
	d->inflight_watch = -1;
	iop_mem_init(&d->mem, &d->mem_fault);
	for (unsigned i = 0; i < IOP_MAX_QUEUES; i++) {
		struct iop_queue *q = &d->q[i];
		q->dev = d;
		q->index = i;
		q->kick_fd = q->call_fd = q->err_fd = -1;
		if (pool && pool->n)
			q->w = &pool->w[pool->next++ % pool->n];
	}
}

/* A chain just taken: counted, its head marked in flight (split), or refused if it already
 * is. A packed chain was recorded before (every chain, refused or not, holds ring slots that
 * the restart arithmetic counts). */
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
	if (!q->vq.cfg.packed)
		iop_inflight_get(&q->inflight, c->id);
}

static void replay_end(struct iop_queue *q)
{
	free(q->replay_mem);
	free(q->replay_heads);
	q->replay_mem = NULL;
	q->replay_heads = NULL;
	q->replay_n = q->replay_done = 0;
}

/* Chains to submit again; a packed one keeps the inflight entry it has. */
static int pop_replay(struct iop_queue *q, struct vq_chain *c, unsigned n)
{
	int got = vq_pop_batch(&q->replay, c, n);
	for (int k = 0; q->replay_heads && k < got; k++) {
		unsigned i = q->replay_done + (unsigned)k;
		c[k].tag = i < q->replay_n ? q->replay_heads[i] : IOP_INFLIGHT_NONE;
	}
	if (got > 0) {
		q->resubmitted += (unsigned)got;
		q->replay_done += (unsigned)got;
	}
	if (got < 0 || (unsigned)got < n || q->replay_done >= q->replay_n)
		replay_end(q); /* every chain in flight at the restart is back */
	return got;
}

/* Packed: each chain's descriptors are copied into the inflight region from the slots it
 * took, before anything is pushed over them. */
static void record(struct iop_queue *q, struct vq_chain *c, int got, uint16_t slot)
{
	for (int k = 0; k < got; k++) {
		c[k].tag = iop_inflight_packed_get(&q->inflight, q->vq.pdesc, slot, c[k].ndesc);
		slot = (uint16_t)((slot + c[k].ndesc) % q->num);
	}
}

int iop_queue_pop(struct iop_queue *q, struct vq_chain *c, unsigned n)
{
	int got;
	if (q->replay_mem) {
		got = pop_replay(q, c, n);
	} else {
		struct vq_pos at;
		vq_get_pos(&q->vq, &at);
		got = vq_pop_batch(&q->vq, c, n);
		if (q->vq.cfg.packed)
			record(q, c, got, at.avail);
	}
	for (int k = 0; k < got; k++)
		take(q, &c[k]);
	return got;
}

void iop_queue_push(struct iop_queue *q, const struct vq_chain *c, uint32_t written)
{
	vq_push(&q->vq, c, written);
	if (q->vq.cfg.packed)
		iop_inflight_packed_put(&q->inflight, c->tag);
	/* A refused duplicate (VQ_ERR_HEAD with a head below num) leaves the first in flight: its
	 * busy flag and, split, its inflight mark, which a restart resubmits it by. */
	if (c->id < q->num && c->err != VQ_ERR_HEAD) {
		q->busy[c->id] = 0;
		if (!q->vq.cfg.packed)
			iop_inflight_put(&q->inflight, c->id);
	}
	q->dirty = true;
}

void iop_queue_publish(struct iop_queue *q)
{
	if (!q->dirty)
		return;
	q->dirty = false;
	bool packed = q->vq.cfg.packed;
	struct vq_pos at;
	vq_get_pos(&q->vq, &at);
	if (packed)
		iop_inflight_packed_publishing(&q->inflight, at.used, at.used_wrap);
	bool notify = vq_publish(&q->vq);
	if (packed)
		iop_inflight_packed_batch_done(&q->inflight);
	else
		iop_inflight_batch_done(&q->inflight, at.used);
	if (notify && q->call_fd >= 0) {
		iop_worker_signal(q->w, q->call_fd);
		q->calls++;
	}
}

/* Split: restores the position from the inflight region: the driver's used index plus what
 * was in flight, which is resubmitted first through a private available ring that lists the
 * heads oldest first (the chains are still read and checked from the driver's table). */
static int recover(struct iop_queue *q)
{
	uint16_t num = q->num;
	uint16_t used = vq_load_acquire(&q->vq.used->idx);
	uint16_t *heads = malloc(sizeof(*heads) * num);
	if (!heads)
		return -ENOMEM;
	unsigned n = iop_inflight_recover(&q->inflight, used, heads);
	vq_set_pos(&q->vq, &(struct vq_pos){.avail = (uint16_t)(used + n), .used = used});
	if (n) {
		void *avail = calloc(1, vq_replay_avail_size(&q->vq));
		if (!avail) {
			free(heads);
			return -ENOMEM;
		}
		vq_replay_init_split(&q->replay, &q->vq, avail, heads, (uint16_t)n);
		q->replay_mem = avail;
		q->replay_n = n;
		q->replay_done = 0;
		fprintf(stderr,
			"ioproxy: %s: queue %u: %u request(s) in flight before the "
			"restart are submitted again\n",
			q->dev->name, q->index, n);
	}
	free(heads);
	return 0;
}

/* Packed: the region gives the position (nothing in the ring does, so the front-end's
 * SET_VRING_BASE after a crash is only what it last knew) and the chains in flight, which
 * are resubmitted first from a private descriptor ring holding their copies (their buffers
 * are read and checked again). */
static int recover_packed(struct iop_queue *q, uint16_t base)
{
	struct iop_inflight_resume rs;
	int ret = iop_inflight_packed_recover(&q->inflight, q->vq.pdesc, base, &rs);
	if (ret)
		return ret;
	vq_set_pos(&q->vq, &(struct vq_pos){.avail = rs.avail_pos,
					    .used = rs.used_pos,
					    .avail_wrap = rs.avail_wrap,
					    .used_wrap = rs.used_wrap});
	if (vq_get_base(&q->vq) != base || rs.nchains)
		fprintf(stderr,
			"ioproxy: %s: queue %u: ring position from the inflight region: used %u "
			"wrap %d, next %u wrap %d (SET_VRING_BASE said %u wrap %d)\n",
			q->dev->name, q->index, rs.used_pos, rs.used_wrap, rs.avail_pos,
			rs.avail_wrap, base & 0x7fffu, base >> 15);
	if (!rs.nchains)
		return 0;
	vq_replay_init_packed(&q->replay, &q->vq, rs.ring);
	q->replay_mem = rs.ring;
	q->replay_heads = rs.heads;
	q->replay_n = rs.nchains;
	q->replay_done = 0;
	fprintf(stderr,
		"ioproxy: %s: queue %u: %u request(s) in flight before the restart are "
		"submitted again\n",
		q->dev->name, q->index, rs.nchains);
	return 0;
}

/* The queue's part of the inflight buffer, if the front-end gave one that fits this ring. */
static int attach(struct iop_queue *q, uint16_t base)
{
	struct iop_dev *d = q->dev;
	bool packed = q->vq.cfg.packed;
	uint64_t bytes = iop_inflight_queue_bytes(q->num, packed);
	if (!d->inflight_map || q->index >= d->inflight_queues || d->inflight_qsize != q->num ||
	    (q->index + 1) * bytes > d->inflight_size)
		return 0;
	void *region = d->inflight_map + q->index * bytes;
	if (!packed) {
		iop_inflight_attach(&q->inflight, region, q->num);
		return recover(q);
	}
	iop_inflight_packed_attach(&q->inflight, region, q->num);
	return recover_packed(q, base);
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
	ret = attach(q, base);
	if (ret)
		iop_queue_release(q);
	return ret;
}

void iop_queue_release(struct iop_queue *q)
{
	free(q->busy);
	q->busy = NULL;
	replay_end(q);
	iop_inflight_detach(&q->inflight);
}
