/* SPDX-License-Identifier: MIT */
#include "net.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "worker.h"

#define MAX_PAIRS (IOP_CLI_MAX_QUEUES / 2)
#define MAX_SEG	  64
#define RX_LINK	  16 /* reads posted per hard-linked chain */
#define TX_BATCH  32
#define MIN_RX	  (sizeof(struct virtio_net_hdr_v1) + 1514) /* header and a full frame */

struct net_dev {
	struct iop_dev dev;
	struct iop_dev_cfg cfg;
	unsigned pairs;
	int fd[MAX_PAIRS];
	struct virtio_net_config config;
	char name[32];
};

struct net_req {
	struct iop_op op;
	struct iop_queue *q;
	unsigned index;
	bool posted;
	struct vq_chain chain;
	struct vq_seg seg[MAX_SEG];
	struct iovec iov[MAX_SEG];
};

struct net_queue {
	struct net_req *slots;
	unsigned *free;
	unsigned nfree;
	unsigned posted;  /* reads or writes in the kernel */
	unsigned cancels; /* cancel requests in flight */
	struct iop_op cancel_op;
	int fd;
	bool rx;
	unsigned hdr_len;
	uint64_t frames, dropped, bad;
};

static struct net_dev *to_net(const struct iop_dev *d)
{
	return container_of(d, struct net_dev, dev);
}

static void finish(struct net_req *r, uint32_t len)
{
	struct net_queue *nq = r->q->priv;
	iop_queue_push(r->q, &r->chain, len);
	nq->free[nq->nfree++] = r->index;
}

/* The tap fills the legacy header; num_buffers (virtio 1.x) is the device's: always 1. */
static void set_num_buffers(const struct vq_chain *c)
{
	uint16_t one = 1;
	unsigned off = offsetof(struct virtio_net_hdr_v1, num_buffers);
	for (unsigned i = c->nread, at = 0; i < c->nseg; at += c->seg[i].len, i++)
		for (unsigned k = 0; k < sizeof(one); k++)
			if (off + k >= at && off + k < at + c->seg[i].len)
				c->seg[i].hva[off + k - at] = ((uint8_t *)&one)[k];
}

static void io_done(struct iop_worker *w, struct iop_op *op, int res)
{
	(void)w;
	struct net_req *r = container_of(op, struct net_req, op);
	struct iop_queue *q = r->q;
	struct net_queue *nq = q->priv;
	q->ops--;
	nq->posted--;
	r->posted = false;
	if (res > 0) {
		nq->frames++;
		if (nq->rx && nq->hdr_len == sizeof(struct virtio_net_hdr_v1))
			set_num_buffers(&r->chain);
	} else if (res != -ECANCELED) {
		nq->dropped++;
	}
	/* Every chain gets its used entry, a cancelled receive one of length 0. */
	finish(r, nq->rx && res > 0 ? (uint32_t)res : 0);
	if (nq->rx && !nq->posted)
		q->kicked = true; /* the chain ran out: post the next */
}

/* Takes up to n chains into free slots; returns how many, or -EIO. */
static int take(struct iop_queue *q, struct net_req **out, unsigned n)
{
	struct net_queue *nq = q->priv;
	struct vq_chain c[TX_BATCH];
	if (n > nq->nfree)
		n = nq->nfree;
	for (unsigned i = 0; i < n; i++) {
		out[i] = &nq->slots[nq->free[nq->nfree - 1 - i]];
		c[i] = (struct vq_chain){.seg = out[i]->seg, .max_seg = MAX_SEG};
	}
	int got = n ? iop_queue_pop(q, c, n) : 0;
	if (got < 0)
		return got;
	nq->nfree -= (unsigned)got;
	for (int i = 0; i < got; i++)
		out[i]->chain = c[i];
	return got;
}

static unsigned to_iov(struct net_req *r)
{
	for (unsigned i = 0; i < r->chain.nseg; i++)
		r->iov[i] = (struct iovec){.iov_base = r->chain.seg[i].hva,
					   .iov_len = r->chain.seg[i].len};
	return r->chain.nseg;
}

/* Queues a read or write of r, hard-linked after *prev so the tap sees them in order. */
static void post(struct iop_worker *w, struct net_req *r, struct io_uring_sqe **prev)
{
	struct net_queue *nq = r->q->priv;
	struct io_uring_sqe *sqe = iop_worker_sqe(w, &r->op);
	if (nq->rx)
		io_uring_prep_readv(sqe, nq->fd, r->iov, to_iov(r), 0);
	else
		io_uring_prep_writev(sqe, nq->fd, r->iov, to_iov(r), 0);
	if (*prev)
		(*prev)->flags |= IOSQE_IO_HARDLINK; /* a short read does not break the chain */
	*prev = sqe;
	r->posted = true;
	nq->posted++;
	r->q->ops++;
}

static bool usable(const struct net_queue *nq, const struct vq_chain *c)
{
	if (c->err)
		return false;
	if (nq->rx)
		return !c->nread && c->write_len >= MIN_RX;
	return !c->write_len && c->read_len > nq->hdr_len;
}

static int queue_run(struct iop_worker *w, struct iop_queue *q)
{
	struct net_queue *nq = q->priv;
	struct net_req *r[TX_BATCH];
	unsigned want = nq->rx ? RX_LINK : TX_BATCH;
	if (nq->rx && nq->posted)
		return 0; /* the posted chain must run out first */
	for (;;) {
		int got = take(q, r, want);
		if (got < 0)
			return -EIO;
		struct io_uring_sqe *prev = NULL;
		for (int i = 0; i < got; i++) {
			if (usable(nq, &r[i]->chain)) {
				post(w, r[i], &prev);
			} else {
				nq->bad++; /* not a usable buffer: handed back empty */
				finish(r[i], 0);
			}
		}
		if (nq->rx && nq->posted)
			return 0;
		if ((unsigned)got < want)
			return nq->nfree ? 1 : 0;
	}
}

static void cancel_done(struct iop_worker *w, struct iop_op *op, int res)
{
	(void)w, (void)res;
	struct net_queue *nq = container_of(op, struct net_queue, cancel_op);
	struct iop_queue *q = nq->slots[0].q;
	nq->cancels--;
	q->ops--;
}

/* Stopping: posted receives complete only when a frame arrives, so they are cancelled. A
 * hard-linked read not yet started is cancelled in a later round, once it has started. */
static void queue_cancel(struct iop_worker *w, struct iop_queue *q)
{
	struct net_queue *nq = q->priv;
	if (!nq->rx || nq->cancels || !nq->posted)
		return;
	for (unsigned i = 0; i < q->num; i++) {
		if (!nq->slots[i].posted)
			continue;
		struct io_uring_sqe *sqe = iop_worker_sqe(w, &nq->cancel_op);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&nq->slots[i].op, 0);
		nq->cancels++;
		q->ops++;
	}
}

static int queue_start(struct iop_queue *q)
{
	struct net_dev *n = to_net(q->dev);
	struct net_queue *nq = calloc(1, sizeof(*nq));
	if (!nq)
		return -ENOMEM;
	nq->slots = calloc(q->num, sizeof(*nq->slots));
	nq->free = calloc(q->num, sizeof(*nq->free));
	if (!nq->slots || !nq->free) {
		free(nq->slots);
		free(nq->free);
		free(nq);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < q->num; k++) {
		nq->slots[k] = (struct net_req){.op.fn = io_done, .q = q, .index = k};
		nq->free[k] = q->num - 1 - k;
	}
	nq->nfree = q->num;
	nq->cancel_op.fn = cancel_done;
	nq->fd = n->fd[q->index / 2];
	nq->rx = !(q->index & 1);
	/* virtio 1.x (or mergeable buffers) has the 12-byte header, legacy the 10-byte one. */
	uint64_t f = q->dev->features;
	int hdr = (f & (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MRG_RXBUF))
			  ? (int)sizeof(struct virtio_net_hdr_v1)
			  : (int)sizeof(struct virtio_net_hdr);
	nq->hdr_len = (unsigned)hdr;
	if (ioctl(nq->fd, TUNSETVNETHDRSZ, &hdr) < 0)
		fprintf(stderr, "ioproxy: %s: TUNSETVNETHDRSZ: %s\n", q->dev->name,
			strerror(errno));
	q->priv = nq;
	return 0;
}

static void queue_stop(struct iop_queue *q)
{
	struct net_queue *nq = q->priv;
	if (!nq)
		return;
	free(nq->slots);
	free(nq->free);
	free(nq);
	q->priv = NULL;
}

/* Only enabled pairs keep their tap queue attached: the kernel spreads host frames over the
 * attached queues, and a pair nobody serves would swallow them. */
static void queue_enable(struct iop_queue *q, bool on)
{
	struct net_dev *n = to_net(q->dev);
	if (n->pairs < 2 || (q->index & 1))
		return;
	struct ifreq ifr = {.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE};
	if (ioctl(n->fd[q->index / 2], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
		fprintf(stderr, "ioproxy: %s: pair %u: TUNSETQUEUE: %s\n", n->name, q->index / 2,
			strerror(errno));
}

static uint64_t features(const struct iop_dev *d)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
		     1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_F_RING_PACKED |
		     1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS;
	if (to_net(d)->pairs > 1)
		f |= 1ull << VIRTIO_NET_F_MQ;
	return f;
}

static unsigned queue_num(const struct iop_dev *d)
{
	return to_net(d)->pairs;
}

static int get_config(struct iop_dev *d, uint32_t off, uint8_t *buf, uint32_t len)
{
	struct net_dev *n = to_net(d);
	if (off > sizeof(n->config) || len > sizeof(n->config) - off)
		return -EINVAL;
	memcpy(buf, (uint8_t *)&n->config + off, len);
	return 0;
}

static int set_config(struct iop_dev *d, uint32_t off, const uint8_t *buf, uint32_t len,
		      uint32_t flags)
{
	(void)d, (void)off, (void)buf, (void)len;
	return flags == 1 ? 0 : -EPERM;
}

static void destroy(struct iop_dev *d)
{
	struct net_dev *n = to_net(d);
	for (unsigned p = 0; p < MAX_PAIRS; p++)
		if (n->fd[p] >= 0)
			close(n->fd[p]);
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
	.get_config = get_config,
	.set_config = set_config,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
	.queue_run = queue_run,
	.queue_cancel = queue_cancel,
	.queue_enable = queue_enable,
	.destroy = destroy,
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
		memcpy(ifr.ifr_name, n->cfg.tap, sizeof(n->cfg.tap));
		if (ioctl(n->fd[p], TUNSETIFF, &ifr) < 0)
			return host_err_set(
				err, errno, "--net tap=%s: cannot attach: %s%s", n->cfg.tap,
				strerror(errno),
				errno == EINVAL && n->pairs > 1
					? " (queues=N needs a tap made with multi_queue)"
					: "");
		int hdr = (int)sizeof(struct virtio_net_hdr_v1);
		if (ioctl(n->fd[p], TUNSETVNETHDRSZ, &hdr) < 0 ||
		    ioctl(n->fd[p], TUNSETOFFLOAD, 0) < 0)
			return host_err_set(err, errno,
					    "--net tap=%s: cannot set the virtio-net header: %s",
					    n->cfg.tap, strerror(errno));
		if (n->pairs > 1) { /* attached when the front-end enables the pair */
			struct ifreq det = {.ifr_flags = IFF_DETACH_QUEUE};
			ioctl(n->fd[p], TUNSETQUEUE, &det);
		}
	}
	return 0;
}

int iop_net_create(struct iop_dev **out, unsigned id, const struct iop_dev_cfg *cfg,
		   struct iop_pool *pool, struct host_err *err)
{
	struct net_dev *n = calloc(1, sizeof(*n));
	if (!n)
		return host_err_set(err, ENOMEM, "out of memory");
	n->cfg = *cfg;
	n->pairs = cfg->queues ? cfg->queues : 1;
	for (unsigned p = 0; p < MAX_PAIRS; p++)
		n->fd[p] = -1;
	snprintf(n->name, sizeof(n->name), "net%u", id);
	iop_dev_init(&n->dev, id, n->name, pool);
	n->dev.ops = &net_ops;
	n->dev.nq = 2 * n->pairs;
	int ret = n->pairs > MAX_PAIRS
			  ? host_err_set(err, EINVAL, "--net: at most %d queue pairs", MAX_PAIRS)
			  : open_tap(n, err);
	if (ret) {
		destroy(&n->dev);
		return ret;
	}
	static const uint8_t dflt[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	memcpy(n->config.mac, cfg->mac_set ? cfg->mac : dflt, 6);
	if (!cfg->mac_set)
		n->config.mac[5] = (uint8_t)(n->config.mac[5] + id);
	n->config.status = VIRTIO_NET_S_LINK_UP;
	n->config.max_virtqueue_pairs = (uint16_t)n->pairs;
	*out = &n->dev;
	return 0;
}
