/* SPDX-License-Identifier: MIT */
#include "blk.h"

#include <linux/virtio_ids.h>
#include <stdio.h>
#include <string.h>

#include "host/util.h"

static struct vblk_dev *to_blk(struct vmm_virtio_dev *d)
{
	return d->priv;
}

static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);

/* After a batch of completions (I/O thread): publish once; run the ring again if the slots
 * were what stopped it. */
static void publish(struct vmm_io *io, struct vmm_io_flush *f)
{
	(void)io;
	struct vblk_queue *bq = container_of(f, struct vblk_queue, flush);
	struct vmm_virtio_dev *d = &bq->blk->vdev;
	pthread_mutex_lock(&d->lock);
	if (d->active && bq->q->live) {
		vmm_virtio_queue_publish(d, bq->q);
		if (bq->stalled && bq->eq.nfree) {
			bq->stalled = false;
			kick(d, bq->q);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static int pop(struct host_blk_queue *eq, struct vq_chain *c, unsigned n)
{
	struct vblk_queue *bq = eq->priv;
	return vq_pop_batch(&bq->q->vq, c, n);
}

static void count(struct vblk_dev *b, const struct host_blk_io *io)
{
	if (io->req.type == VIRTIO_BLK_T_IN) {
		__atomic_fetch_add(&b->read_ops, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&b->read_bytes, io->req.len, __ATOMIC_RELAXED);
	} else if (io->req.type == VIRTIO_BLK_T_OUT) {
		__atomic_fetch_add(&b->write_ops, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&b->write_bytes, io->req.len, __ATOMIC_RELAXED);
	}
}

/* I/O thread. from_ring: a completion, without the lock; else inside kick(), with it. */
static void complete(struct host_blk_queue *eq, const struct vq_chain *c,
		     const struct host_blk_io *io, bool from_ring)
{
	struct vblk_queue *bq = eq->priv;
	struct vmm_virtio_dev *d = &bq->blk->vdev;
	struct vmm_io *io_thread = d->io;
	if (from_ring) {
		pthread_mutex_lock(&d->lock);
		vmm_virtio_io_end(d);
		/* A reset waits for this request (io_end), so the queue is still set up; after a
		 * reset there is nothing to complete into. */
		if (!d->active || !bq->q->live) {
			pthread_mutex_unlock(&d->lock);
			return;
		}
	}
	count(bq->blk, io);
	vq_push(&bq->q->vq, c, io->used_len);
	vmm_io_defer_flush(io_thread, &bq->flush);
	if (from_ring)
		pthread_mutex_unlock(&d->lock);
}

static const struct host_blk_queue_ops queue_ops = {.pop = pop, .complete = complete};

/* I/O thread, lock held: take what the ring has, as far as slots allow. */
static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct vblk_queue *bq = &to_blk(d)->queue[q->index];
	for (;;) {
		unsigned before = host_blk_queue_busy(&bq->eq);
		int ret = host_blk_queue_run(&bq->eq, &d->io->uring);
		/* Requests that went to the ring: a reset waits for them. (Those completed at once
		 * left the count as it was.) */
		for (unsigned n = host_blk_queue_busy(&bq->eq); n > before; n--)
			vmm_virtio_io_begin(d);
		if (ret < 0) {
			vmm_virtio_violation(d, "the available ring index jumped: ring broken");
			return;
		}
		if (ret == 0) {
			bq->stalled =
				true; /* slots were the limit: publish() runs the ring again */
			return;
		}
		if (!vq_notify_enable(&q->vq, true))
			return; /* drained, and nothing slipped in while kicks were off */
	}
}

static void config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	memcpy(data, (uint8_t *)&to_blk(d)->config + off, len);
}

static int activate(struct vmm_virtio_dev *d)
{
	struct vblk_dev *b = to_blk(d);
	for (unsigned i = 0; i < d->nr_queues; i++) {
		struct vblk_queue *bq = &b->queue[i];
		if (!d->q[i].live)
			continue;
		bq->stalled = false;
		int ret = host_blk_queue_init(&bq->eq, &b->disk, d->q[i].size, &queue_ops, bq);
		if (ret)
			return ret;
	}
	return 0;
}

static void reset(struct vmm_virtio_dev *d)
{
	struct vblk_dev *b = to_blk(d);
	/* No I/O is in flight (the core drained it): the slots can go. */
	for (unsigned i = 0; i < d->nr_queues; i++)
		host_blk_queue_destroy(&b->queue[i].eq);
}

static const struct vmm_virtio_dev_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.config_size = sizeof(struct virtio_blk_config),
	.config_read = config_read,
	.activate = activate,
	.reset = reset,
	.kick = kick,
};

int vblk_dev_init(struct vblk_dev *b, const struct vmm_disk_config *cfg, struct vmm_io *io,
		  const struct gmem *mem, struct host_err *err)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	int ret = host_blk_open(&b->disk, "--disk", &cfg->blk, err);
	if (ret)
		return ret;
	unsigned queues = cfg->blk.queues ? cfg->blk.queues : 1;
	host_blk_config(&b->disk, queues, &b->config);
	for (unsigned i = 0; i < queues && i < VMM_VIRTIO_MAX_QUEUES; i++) {
		b->queue[i].blk = b;
		b->queue[i].q = &b->vdev.q[i];
		b->queue[i].flush.fn = publish;
	}
	ret = vmm_virtio_dev_init(&b->vdev, &blk_ops, b, host_blk_features(&b->disk, queues),
				  queues, BLK_QUEUE_SIZE, io, mem);
	if (ret)
		return host_err_set(err, -ret, "--disk path=%s: cannot set up the device: %s",
				    cfg->blk.path, strerror(-ret));
	return 0;
}

void vblk_dev_destroy(struct vblk_dev *b)
{
	reset(&b->vdev);
	vmm_virtio_dev_destroy(&b->vdev);
	host_blk_close(&b->disk);
}
