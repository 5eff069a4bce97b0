/* SPDX-License-Identifier: MIT */
#include "rng.h"
#include "host/util.h"

#include <linux/virtio_ids.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>

#define BATCH	16
#define MAX_SEG 16

static void publish(struct vmm_io *io, struct vmm_io_flush *f)
{
	(void)io;
	struct vrng_dev *r = container_of(f, struct vrng_dev, flush);
	pthread_mutex_lock(&r->vdev.lock);
	if (r->vdev.active && r->vdev.q[0].live)
		vmm_virtio_queue_publish(&r->vdev, &r->vdev.q[0]);
	pthread_mutex_unlock(&r->vdev.lock);
}

/* Fills a chain's writable part; returns the bytes written. */
static uint32_t fill(const struct vq_chain *c)
{
	uint32_t done = 0;
	for (unsigned i = c->nread; i < c->nseg; i++) {
		ssize_t n = getrandom(c->seg[i].hva, c->seg[i].len, GRND_NONBLOCK);
		if (n <= 0)
			break; /* entropy not ready: hand back what we have */
		done += (uint32_t)n;
		if ((uint32_t)n < c->seg[i].len)
			break;
	}
	return done;
}

static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct vrng_dev *r = d->priv;
	struct vq_seg seg[BATCH][MAX_SEG];
	struct vq_chain c[BATCH];
	for (;;) {
		for (unsigned i = 0; i < BATCH; i++)
			c[i] = (struct vq_chain){.seg = seg[i], .max_seg = MAX_SEG};
		int got = vq_pop_batch(&q->vq, c, BATCH);
		if (got < 0) {
			vmm_virtio_violation(d, "the available ring index jumped: ring broken");
			return;
		}
		for (int i = 0; i < got; i++) {
			uint32_t n = c[i].err ? 0 : fill(&c[i]);
			r->bytes += n;
			vq_push(&q->vq, &c[i], n);
		}
		if (got)
			vmm_io_defer_flush(d->io, &r->flush);
		if (got < BATCH && !vq_notify_enable(&q->vq, true))
			return;
	}
}

static void config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	(void)d, (void)off;
	memset(data, 0, len); /* no configuration space */
}

static const struct vmm_virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.config_size = 0,
	.config_read = config_read,
	.kick = kick,
};

int vrng_dev_init(struct vrng_dev *r, struct vmm_io *io, const struct gmem *mem)
{
	memset(r, 0, sizeof(*r));
	r->flush.fn = publish;
	return vmm_virtio_dev_init(&r->vdev, &rng_ops, r, 0, 1, 64, io, mem);
}

void vrng_dev_destroy(struct vrng_dev *r)
{
	vmm_virtio_dev_destroy(&r->vdev);
}
