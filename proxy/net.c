/* SPDX-License-Identifier: MIT */
#include "net.h"

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/net.h"
#include "worker.h"

struct net_dev {
	struct iop_dev dev;
	struct iop_dev_cfg cfg;
	struct host_tap tap;
	struct virtio_net_config config;
	char name[32];
};

static struct net_dev *to_net(const struct iop_dev *d)
{
	return container_of(d, struct net_dev, dev);
}

/* ------------------------------------------------------------------ the engine's queue ---- */

static int pop(struct host_net_queue *eq, struct vq_chain *c, unsigned n)
{
	return iop_queue_pop(eq->priv, c, n);
}

/* Every chain gets its used entry, a cancelled receive one of length 0. */
static void complete(struct host_net_queue *eq, const struct vq_chain *c, uint32_t len,
		     bool from_ring)
{
	struct iop_queue *q = eq->priv;
	iop_queue_push(q, c, len);
	if (from_ring && host_net_queue_wants_run(eq))
		q->kicked = true; /* the receive chain ran out: post the next */
}

static const struct host_net_queue_ops queue_ops = {.pop = pop, .complete = complete};

static int queue_run(struct iop_worker *w, struct iop_queue *q)
{
	return host_net_queue_run(q->priv, &w->uring);
}

static unsigned queue_busy(const struct iop_queue *q)
{
	return host_net_queue_busy(q->priv);
}

/* Buffers in the ring wait for this queue's own I/O (no free slot, a posted receive chain, a
 * transmit batch in the kernel), not for a kick. */
static bool queue_blocked(const struct iop_queue *q)
{
	const struct host_net_queue *eq = q->priv;
	return eq->nfree == 0 || eq->posted;
}

static void queue_cancel(struct iop_worker *w, struct iop_queue *q)
{
	host_net_queue_cancel(q->priv, &w->uring);
}

static void queue_stats(const struct iop_queue *q, char *buf, size_t len)
{
	const struct host_net_queue *eq = q->priv;
	snprintf(buf, len, "%llu frames (%llu dropped, %llu unusable buffers)",
		 (unsigned long long)eq->frames, (unsigned long long)eq->dropped,
		 (unsigned long long)eq->bad);
}

static int queue_start(struct iop_queue *q)
{
	struct net_dev *n = to_net(q->dev);
	unsigned pair = q->index / 2;
	struct host_net_queue *eq = calloc(1, sizeof(*eq));
	if (!eq)
		return -ENOMEM;
	/* virtio 1.x (or mergeable buffers) has the 12-byte header, legacy the 10-byte one. */
	uint64_t f = q->dev->features;
	unsigned hdr = (f & (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MRG_RXBUF))
			       ? sizeof(struct virtio_net_hdr_v1)
			       : sizeof(struct virtio_net_hdr);
	int ret = host_tap_set_hdr_len(&n->tap, pair, hdr);
	if (ret)
		fprintf(stderr, "ioproxy: %s: TUNSETVNETHDRSZ: %s\n", n->name, strerror(-ret));
	ret = host_net_queue_init(eq, n->tap.fd[pair], !(q->index & 1), q->num, hdr, &queue_ops, q);
	if (ret) {
		free(eq);
		return ret;
	}
	q->priv = eq;
	return 0;
}

static void queue_stop(struct iop_queue *q)
{
	struct host_net_queue *eq = q->priv;
	if (!eq)
		return;
	host_net_queue_destroy(eq);
	free(eq);
	q->priv = NULL;
}

/* Only enabled pairs keep their tap queue attached (see host_tap_attach). */
static void queue_enable(struct iop_queue *q, bool on)
{
	struct net_dev *n = to_net(q->dev);
	if (q->index & 1)
		return;
	int ret = host_tap_attach(&n->tap, q->index / 2, on);
	if (ret)
		fprintf(stderr, "ioproxy: %s: pair %u: TUNSETQUEUE: %s\n", n->name, q->index / 2,
			strerror(-ret));
}

/* ------------------------------------------------------------------ device ops ------------ */

static uint64_t features(const struct iop_dev *d)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
		     1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_F_RING_PACKED |
		     1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS;
	if (to_net(d)->tap.pairs > 1)
		f |= 1ull << VIRTIO_NET_F_MQ;
	return f;
}

static unsigned queue_num(const struct iop_dev *d)
{
	return to_net(d)->tap.pairs;
}

static void destroy(struct iop_dev *d)
{
	struct net_dev *n = to_net(d);
	host_tap_close(&n->tap);
	free(n);
}

static const struct iop_dev_ops net_ops = {
	.name = "net",
	.features = features,
	/* CONFIG too, for a front-end that asks (QEMU's virtio-net keeps its own config
	 * space and warns about the offer). INFLIGHT_SHMFD: nothing of a frame needs replaying,
	 * but a packed ring's position after a crash is only in the region. */
	.protocol_features =
		1ull << VHOST_USER_PROTOCOL_F_CONFIG | 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
	.queue_num = queue_num,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
	.queue_run = queue_run,
	.queue_busy = queue_busy,
	.queue_blocked = queue_blocked,
	.queue_cancel = queue_cancel,
	.queue_stats = queue_stats,
	.queue_enable = queue_enable,
	.destroy = destroy,
};

int iop_net_create(struct iop_dev **out, unsigned id, const struct iop_dev_cfg *cfg,
		   struct iop_pool *pool, struct host_err *err)
{
	struct net_dev *n = calloc(1, sizeof(*n));
	if (!n)
		return host_err_set(err, ENOMEM, "out of memory");
	n->cfg = *cfg;
	snprintf(n->name, sizeof(n->name), "net%u", id);
	iop_dev_init(&n->dev, id, n->name, pool);
	n->dev.ops = &net_ops;
	int ret = host_tap_open(&n->tap, "--net", &cfg->net, err);
	if (ret) {
		free(n);
		return ret;
	}
	n->dev.nq = 2 * n->tap.pairs;
	host_net_config(&cfg->net.mac, n->tap.pairs, id, &n->config);
	n->dev.config = &n->config;
	n->dev.config_size = sizeof(n->config);
	*out = &n->dev;
	return 0;
}
