/* SPDX-License-Identifier: MIT */
#include "net.h"
#include "host/util.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_SEG	 64
#define RX_LINK	 16 /* reads posted per hard-linked chain */
#define TX_BATCH 32
#define HDR_SIZE sizeof(struct virtio_net_hdr_v1)
#define MIN_RX	 (HDR_SIZE + 1514) /* header and a full Ethernet frame without FCS */

struct net_req {
	struct vmm_io_cb cb;
	struct net_vq *nq;
	uint32_t generation;
	unsigned index;
	struct vq_chain chain;
	struct vq_seg seg[MAX_SEG];
	struct iovec iov[MAX_SEG];
};

static void publish(struct vmm_io *io, struct vmm_io_flush *f)
{
	(void)io;
	struct net_vq *nq = container_of(f, struct net_vq, flush);
	struct vmm_virtio_dev *d = &nq->net->vdev;
	pthread_mutex_lock(&d->lock);
	if (d->active && nq->q->live)
		vmm_virtio_queue_publish(d, nq->q);
	pthread_mutex_unlock(&d->lock);
}

static void finish(struct vmm_io *io, struct net_req *r, uint32_t len)
{
	struct net_vq *nq = r->nq;
	vq_push(&nq->q->vq, &r->chain, len);
	vmm_io_defer_flush(io, &nq->flush);
	nq->free[nq->nfree++] = r->index;
}

static unsigned to_iov(const struct vq_chain *c, struct iovec *iov)
{
	for (unsigned i = 0; i < c->nseg; i++)
		iov[i] = (struct iovec){.iov_base = c->seg[i].hva, .iov_len = c->seg[i].len};
	return c->nseg;
}

/* The tap fills the 10-byte legacy header; num_buffers (virtio 1.x) is the device's: 1. */
static void set_num_buffers(const struct vq_chain *c)
{
	uint16_t one = 1;
	unsigned off = offsetof(struct virtio_net_hdr_v1, num_buffers);
	for (unsigned i = c->nread, at = 0; i < c->nseg; at += c->seg[i].len, i++) {
		for (unsigned k = 0; k < sizeof(one); k++)
			if (off + k >= at && off + k < at + c->seg[i].len)
				c->seg[i].hva[off + k - at] = ((uint8_t *)&one)[k];
	}
}

static void post_rx(struct vmm_virtio_dev *d, struct net_vq *nq);
static void send_tx(struct vmm_virtio_dev *d, struct net_vq *nq);

static void io_done(struct vmm_io *io, struct vmm_io_cb *cb, int res)
{
	struct net_req *r = (struct net_req *)cb;
	struct net_vq *nq = r->nq;
	struct net_dev *n = nq->net;
	struct vmm_virtio_dev *d = &n->vdev;
	pthread_mutex_lock(&d->lock);
	vmm_virtio_io_end(d);
	nq->inflight--;
	if (r->generation != d->generation || res == -ECANCELED) {
		nq->free[nq->nfree++] = r->index; /* reset, or cancelled for one */
		/* Cancelling a hard-linked read only starts the next one: cancel again until the
		 * chain is gone. */
		if (d->resetting && nq->inflight)
			io_uring_prep_cancel_fd(vmm_io_sqe(io, NULL), nq->fd,
						IORING_ASYNC_CANCEL_ALL);
		goto out;
	}
	if (nq->rx) {
		if (res > 0) {
			set_num_buffers(&r->chain);
			n->rx_frames++;
		}
		finish(io, r, res > 0 ? (uint32_t)res : 0);
		if (!nq->inflight && d->active)
			post_rx(d, nq); /* the chain ran out: post the next */
	} else {
		if (res > 0)
			n->tx_frames++;
		else
			n->dropped++;
		finish(io, r, 0);
		if (nq->nfree == 1 && d->active && vq_has_work(&nq->q->vq))
			send_tx(d, nq); /* slots were the limit: the ring may hold more */
	}
out:
	pthread_mutex_unlock(&d->lock);
}

/* Takes up to n chains into free slots; returns how many, <0 if the ring broke. */
static int take(struct vmm_virtio_dev *d, struct net_vq *nq, struct net_req **out, unsigned n)
{
	struct vq_chain c[RX_LINK > TX_BATCH ? RX_LINK : TX_BATCH];
	if (n > nq->nfree)
		n = nq->nfree;
	for (unsigned i = 0; i < n; i++) {
		out[i] = &nq->slots[nq->free[nq->nfree - 1 - i]];
		c[i] = (struct vq_chain){.seg = out[i]->seg, .max_seg = MAX_SEG};
	}
	int got = n ? vq_pop_batch(&nq->q->vq, c, n) : 0;
	if (got < 0) {
		vmm_virtio_violation(d, "the available ring index jumped: ring broken");
		return got;
	}
	nq->nfree -= (unsigned)got;
	for (int i = 0; i < got; i++) {
		out[i]->chain = c[i];
		out[i]->generation = d->generation;
	}
	return got;
}

/* Posts a hard-linked chain of receive reads: each starts when the one before completes, so
 * frames fill buffers in order; a short read (every frame is one) does not break the chain. */
static void post_rx(struct vmm_virtio_dev *d, struct net_vq *nq)
{
	struct net_dev *n = nq->net;
	struct net_req *r[RX_LINK];
	if (nq->inflight)
		return;
	int got = take(d, nq, r, RX_LINK);
	struct io_uring_sqe *prev = NULL;
	for (int i = 0; i < got; i++) {
		const struct vq_chain *c = &r[i]->chain;
		if (c->err || c->nread || c->write_len < MIN_RX) {
			n->bad_chains++; /* not a usable receive buffer: hand it back empty */
			finish(d->io, r[i], 0);
			continue;
		}
		struct io_uring_sqe *sqe = vmm_io_sqe(d->io, &r[i]->cb);
		io_uring_prep_readv(sqe, nq->fd, r[i]->iov, to_iov(c, r[i]->iov), 0);
		if (prev)
			prev->flags |= IOSQE_IO_HARDLINK;
		prev = sqe;
		nq->inflight++;
		vmm_virtio_io_begin(d);
	}
}

static void send_tx(struct vmm_virtio_dev *d, struct net_vq *nq)
{
	struct net_dev *n = nq->net;
	struct net_req *r[TX_BATCH];
	for (;;) {
		int got = take(d, nq, r, TX_BATCH);
		if (got <= 0)
			break;
		struct io_uring_sqe *prev = NULL;
		for (int i = 0; i < got; i++) {
			const struct vq_chain *c = &r[i]->chain;
			if (c->err || c->write_len || c->read_len <= HDR_SIZE) {
				n->bad_chains++;
				finish(d->io, r[i], 0);
				continue;
			}
			struct io_uring_sqe *sqe = vmm_io_sqe(d->io, &r[i]->cb);
			io_uring_prep_writev(sqe, nq->fd, r[i]->iov, to_iov(c, r[i]->iov), 0);
			if (prev)
				prev->flags |= IOSQE_IO_HARDLINK; /* frames leave in order */
			prev = sqe;
			nq->inflight++;
			vmm_virtio_io_begin(d);
		}
		if (got < TX_BATCH)
			break;
	}
}

/* Only the first `active` pairs' tap queues stay attached: the kernel spreads host frames
 * over attached queues, and a pair the driver does not use would swallow them. */
static void set_active_pairs(struct net_dev *n, unsigned active)
{
	for (unsigned p = 1; p < n->pairs; p++) {
		struct ifreq ifr = {.ifr_flags = p < active ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE};
		if (ioctl(n->fd[p], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
			n->dropped++; /* EINVAL: already in that state */
	}
}

/* The control queue: multiqueue steering is the only class offered. */
static void control(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
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
			    pairs <= ((struct net_dev *)d->priv)->pairs)
				ack = VIRTIO_NET_OK; /* every pair is served anyway */
			const struct vq_seg *last = &c.seg[c.nseg - 1];
			last->hva[last->len - 1] = ack;
			written = 1;
		}
		vq_push(&q->vq, &c, written);
		vmm_virtio_queue_publish(d, q);
	}
}

static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct net_dev *n = d->priv;
	if (q->index == 2 * n->pairs) {
		control(d, q);
		return;
	}
	struct net_vq *nq = &n->vq[q->index];
	/* Re-enabling kicks re-checks the ring: a buffer added meanwhile is not left waiting. */
	do {
		if (nq->rx)
			post_rx(d, nq);
		else
			send_tx(d, nq);
	} while (vq_notify_enable(&q->vq, true) && !nq->rx && nq->nfree);
}

static void quiesce(struct vmm_virtio_dev *d)
{
	/* Posted receives complete only when a frame arrives: cancel them for the reset. */
	struct net_dev *n = d->priv;
	for (unsigned p = 0; p < n->pairs; p++) {
		struct io_uring_sqe *sqe = vmm_io_sqe(d->io, NULL);
		io_uring_prep_cancel_fd(sqe, n->fd[p], IORING_ASYNC_CANCEL_ALL);
	}
}

static int activate(struct vmm_virtio_dev *d)
{
	struct net_dev *n = d->priv;
	/* Until VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, only the first pair is in use (spec 5.1.6.5.5). */
	set_active_pairs(n, 1);
	for (unsigned i = 0; i < 2 * n->pairs; i++) {
		struct net_vq *nq = &n->vq[i];
		if (!nq->q->live)
			continue;
		nq->slots = calloc(nq->q->size, sizeof(*nq->slots));
		nq->free = calloc(nq->q->size, sizeof(*nq->free));
		if (!nq->slots || !nq->free)
			return -ENOMEM;
		for (unsigned k = 0; k < nq->q->size; k++) {
			nq->slots[k] = (struct net_req){.cb.fn = io_done, .nq = nq, .index = k};
			nq->free[k] = k;
		}
		nq->nfree = nq->q->size;
		nq->inflight = 0;
	}
	return 0;
}

static void reset(struct vmm_virtio_dev *d)
{
	struct net_dev *n = d->priv;
	for (unsigned i = 0; i < 2 * n->pairs; i++) {
		free(n->vq[i].slots);
		free(n->vq[i].free);
		n->vq[i].slots = NULL;
		n->vq[i].free = NULL;
		n->vq[i].nfree = 0;
	}
}

static void config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	struct net_dev *n = d->priv;
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

static int open_tap(struct net_dev *n, struct host_err *err)
{
	for (unsigned p = 0; p < n->pairs; p++) {
		n->fd[p] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (n->fd[p] < 0)
			return host_err_set(err, errno,
					    "--net tap=%s: cannot open /dev/net/tun: %s",
					    n->cfg.tap, strerror(errno));
		struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
		if (n->pairs > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		memcpy(ifr.ifr_name, n->cfg.tap, sizeof(n->cfg.tap)); /* NUL-terminated, <= 16 */
		if (ioctl(n->fd[p], TUNSETIFF, &ifr) < 0)
			return host_err_set(err, errno, "--net tap=%s: cannot attach: %s%s",
					    n->cfg.tap, strerror(errno),
					    errno == EPERM
						    ? " (create it first: ip tuntap add NAME "
						      "mode tap user $USER)"
					    : errno == EINVAL && n->pairs > 1
						    ? " (queues=N needs a tap made with "
						      "multi_queue)"
						    : "");
		int hdr = (int)HDR_SIZE;
		if (ioctl(n->fd[p], TUNSETVNETHDRSZ, &hdr) < 0 ||
		    ioctl(n->fd[p], TUNSETOFFLOAD, 0) < 0)
			return host_err_set(err, errno,
					    "--net tap=%s: cannot set the virtio-net "
					    "header: %s",
					    n->cfg.tap, strerror(errno));
	}
	return 0;
}

int net_dev_init(struct net_dev *n, const struct vmm_net_config *cfg, unsigned index,
		 struct vmm_io *io, const struct gmem *mem, struct host_err *err)
{
	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	n->pairs = cfg->queues ? cfg->queues : 1;
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		n->fd[p] = -1;
	if (n->pairs > NET_MAX_PAIRS)
		return host_err_set(err, EINVAL, "--net: queues=%u: at most %d", n->pairs,
				    NET_MAX_PAIRS);
	int ret = open_tap(n, err);
	if (ret)
		return ret;
	/* Without mac=, QEMU's convention: 52:54:00:12:34:56, the last byte counting devices. */
	static const uint8_t dflt[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	memcpy(n->config.mac, cfg->mac_set ? cfg->mac : dflt, 6);
	if (!cfg->mac_set)
		n->config.mac[5] = (uint8_t)(n->config.mac[5] + index);
	n->config.status = VIRTIO_NET_S_LINK_UP;
	n->config.max_virtqueue_pairs = (uint16_t)n->pairs;
	uint64_t features = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS;
	if (n->pairs > 1)
		features |= 1ull << VIRTIO_NET_F_MQ | 1ull << VIRTIO_NET_F_CTRL_VQ;
	unsigned nq = 2 * n->pairs + (n->pairs > 1);
	for (unsigned i = 0; i < 2 * n->pairs; i++)
		n->vq[i] = (struct net_vq){.net = n,
					   .q = &n->vdev.q[i],
					   .fd = n->fd[i / 2],
					   .rx = !(i & 1),
					   .flush.fn = publish};
	ret = vmm_virtio_dev_init(&n->vdev, &net_ops, n, features, nq, NET_QUEUE_SIZE, io, mem);
	if (ret)
		return host_err_set(err, -ret, "--net tap=%s: %s", cfg->tap, strerror(-ret));
	return 0;
}

void net_dev_destroy(struct net_dev *n)
{
	reset(&n->vdev);
	vmm_virtio_dev_destroy(&n->vdev);
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		if (n->fd[p] >= 0)
			close(n->fd[p]);
}
