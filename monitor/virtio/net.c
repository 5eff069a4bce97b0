/* SPDX-License-Identifier: MIT */
#include "net.h"

#include <linux/virtio_ids.h>
#include <string.h>

#include "host/util.h"

static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);

/* After a batch of completions (I/O thread): publish once; run the queue again if it wants
 * (its receive chain ran out, or transmit slots were the limit). */
static void publish(struct vmm_io *io, struct vmm_io_flush *f)
{
	(void)io;
	struct vnet_queue *nq = container_of(f, struct vnet_queue, flush);
	struct vmm_virtio_dev *d = &nq->net->vdev;
	pthread_mutex_lock(&d->lock);
	if (d->active && nq->q->live) {
		vmm_virtio_queue_publish(d, nq->q);
		if (host_net_queue_wants_run(&nq->eq))
			kick(d, nq->q);
	}
	pthread_mutex_unlock(&d->lock);
}

static int pop(struct host_net_queue *eq, struct vq_chain *c, unsigned n)
{
	struct vnet_queue *nq = eq->priv;
	return vq_pop_batch(&nq->q->vq, c, n);
}

/* I/O thread. from_ring: a completion, without the lock; else inside kick(), with it. */
static void complete(struct host_net_queue *eq, const struct vq_chain *c, uint32_t len,
		     bool from_ring)
{
	struct vnet_queue *nq = eq->priv;
	struct vmm_virtio_dev *d = &nq->net->vdev;
	if (from_ring) {
		pthread_mutex_lock(&d->lock);
		vmm_virtio_io_end(d);
		/* A reset waits for this request (io_end); after one, nothing to complete into. */
		if (!d->active || !nq->q->live) {
			pthread_mutex_unlock(&d->lock);
			return;
		}
	}
	vq_push(&nq->q->vq, c, len);
	vmm_io_defer_flush(d->io, &nq->flush);
	if (from_ring)
		pthread_mutex_unlock(&d->lock);
}

static const struct host_net_queue_ops queue_ops = {.pop = pop, .complete = complete};

/* The control queue: multiqueue steering is the only class offered. Only the first `pairs`
 * tap queues stay attached: the kernel spreads host frames over attached queues. */
static void control(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct vnet_dev *n = d->priv;
	struct vq_seg seg[8];
	struct vq_chain c = {.seg = seg, .max_seg = 8};
	while (vq_pop(&q->vq, &c) == 1) {
		struct virtio_net_ctrl_hdr hdr = {0};
		uint8_t ack = VIRTIO_NET_ERR;
		uint32_t written = 0;
		if (!c.err && c.nread && c.seg[0].len >= sizeof(hdr) + 2 && c.write_len) {
			memcpy(&hdr, c.seg[0].hva, sizeof(hdr));
			uint16_t pairs;
			memcpy(&pairs, c.seg[0].hva + sizeof(hdr), sizeof(pairs));
			if (hdr.class == VIRTIO_NET_CTRL_MQ &&
			    hdr.cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && pairs >= 1 &&
			    pairs <= n->tap.pairs) {
				ack = VIRTIO_NET_OK;
				for (unsigned p = 0; p < n->tap.pairs; p++)
					host_tap_attach(&n->tap, p, p < pairs);
			}
			const struct vq_seg *last = &c.seg[c.nseg - 1];
			last->hva[last->len - 1] = ack;
			written = 1;
		}
		vq_push(&q->vq, &c, written);
		vmm_virtio_queue_publish(d, q);
	}
}

/* I/O thread, lock held. */
static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct vnet_dev *n = d->priv;
	if (q->index == 2 * n->tap.pairs) {
		control(d, q);
		return;
	}
	struct vnet_queue *nq = &n->vq[q->index];
	for (;;) {
		unsigned before = host_net_queue_busy(&nq->eq);
		int ret = host_net_queue_run(&nq->eq, &d->io->uring);
		/* Requests that went to the tap: a reset waits for them. */
		for (unsigned k = host_net_queue_busy(&nq->eq); k > before; k--)
			vmm_virtio_io_begin(d);
		if (ret < 0) {
			vmm_virtio_violation(d, "the available ring index jumped: ring broken");
			return;
		}
		/* Re-enabling kicks re-checks the ring: a buffer added meanwhile is not left
		 * waiting. A blocked queue is run again from publish(). */
		if (ret == 0 || !vq_notify_enable(&q->vq, true))
			return;
	}
}

static void quiesce(struct vmm_virtio_dev *d)
{
	/* Posted receives complete only when a frame arrives: cancel them for the reset. */
	struct vnet_dev *n = d->priv;
	for (unsigned i = 0; i < 2 * n->tap.pairs; i++)
		if (n->vq[i].eq.num)
			host_net_queue_cancel(&n->vq[i].eq, &d->io->uring);
}

static int activate(struct vmm_virtio_dev *d)
{
	struct vnet_dev *n = d->priv;
	/* Until VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, only the first pair is in use (5.1.6.5.5). */
	host_tap_attach(&n->tap, 0, true);
	for (unsigned p = 1; p < n->tap.pairs; p++)
		host_tap_attach(&n->tap, p, false);
	for (unsigned i = 0; i < 2 * n->tap.pairs; i++) {
		struct vnet_queue *nq = &n->vq[i];
		if (!nq->q->live)
			continue;
		int ret = host_net_queue_init(&nq->eq, n->tap.fd[i / 2], !(i & 1), nq->q->size,
					      HOST_NET_HDR_LEN, &queue_ops, nq);
		if (ret)
			return ret;
	}
	return 0;
}

static void reset(struct vmm_virtio_dev *d)
{
	struct vnet_dev *n = d->priv;
	for (unsigned i = 0; i < 2 * n->tap.pairs; i++)
		host_net_queue_destroy(&n->vq[i].eq);
}

static void config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	struct vnet_dev *n = d->priv;
	memcpy(data, (uint8_t *)&n->config + off, len);
}

static const struct vmm_virtio_dev_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.config_size = sizeof(struct virtio_net_config),
	.config_read = config_read,
	.activate = activate,
	.reset = reset,
	.quiesce = quiesce,
	.kick = kick,
};

int vnet_dev_init(struct vnet_dev *n, const struct vmm_net_config *cfg, unsigned index,
		  struct vmm_io *io, const struct gmem *mem, struct host_err *err)
{
	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	int ret = host_tap_open(&n->tap, "--net", &cfg->tap, err);
	if (ret)
		return ret;
	unsigned pairs = n->tap.pairs;
	host_net_config(&cfg->tap.mac, pairs, index, &n->config);
	uint64_t features = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS;
	if (pairs > 1)
		features |= 1ull << VIRTIO_NET_F_MQ | 1ull << VIRTIO_NET_F_CTRL_VQ;
	unsigned nq = 2 * pairs + (pairs > 1);
	for (unsigned i = 0; i < 2 * pairs; i++)
		n->vq[i] = (struct vnet_queue){.net = n, .q = &n->vdev.q[i], .flush.fn = publish};
	ret = vmm_virtio_dev_init(&n->vdev, &net_ops, n, features, nq, NET_QUEUE_SIZE, io, mem);
	if (ret) {
		host_tap_close(&n->tap);
		return host_err_set(err, -ret, "--net tap=%s: %s", cfg->tap.name, strerror(-ret));
	}
	return 0;
}

void vnet_dev_destroy(struct vnet_dev *n)
{
	reset(&n->vdev);
	vmm_virtio_dev_destroy(&n->vdev);
	host_tap_close(&n->tap);
}
