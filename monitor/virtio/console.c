/* SPDX-License-Identifier: MIT */
#include "console.h"
#include "host/util.h"

#include <linux/virtio_ids.h>
#include <string.h>

static void publish(struct vmm_io *io, struct vmm_io_flush *f)
{
	(void)io;
	struct vcon_queue *cq = container_of(f, struct vcon_queue, flush);
	struct vmm_virtio_dev *d = &cq->con->vdev;
	pthread_mutex_lock(&d->lock);
	if (d->active && cq->q->live)
		vmm_virtio_queue_publish(d, cq->q);
	pthread_mutex_unlock(&d->lock);
}

static unsigned to_iov(const struct vq_chain *c, unsigned from, unsigned to, struct iovec *iov)
{
	for (unsigned i = from; i < to; i++)
		iov[i - from] = (struct iovec){.iov_base = c->seg[i].hva, .iov_len = c->seg[i].len};
	return to - from;
}

static void post_rx(struct vmm_virtio_dev *d);
static void send_tx(struct vmm_virtio_dev *d);

static void io_done(struct host_uring *u, struct host_op *op, int res)
{
	struct vmm_io *io = vmm_io_of(u);
	struct vcon_req *r = container_of(op, struct vcon_req, op);
	struct vcon_queue *cq = r->vq;
	struct vcon_dev *c = cq->con;
	struct vmm_virtio_dev *d = &c->vdev;
	pthread_mutex_lock(&d->lock);
	vmm_virtio_io_end(d);
	cq->inflight--;
	if (r->generation != d->generation || res == -ECANCELED) {
		if (d->resetting && cq->inflight && cq == &c->rx)
			io_uring_prep_cancel_fd(host_uring_sqe(&io->uring, NULL), c->in_fd,
						IORING_ASYNC_CANCEL_ALL);
		goto out;
	}
	bool rx = cq == &c->rx;
	if (rx && res == 0)
		c->in_eof = true; /* stdin closed: the guest simply gets no more input */
	if (res > 0)
		*(rx ? &c->in_bytes : &c->out_bytes) += (uint64_t)res;
	vq_push(&cq->q->vq, &r->chain, rx && res > 0 ? (uint32_t)res : 0);
	vmm_io_defer_flush(io, &cq->flush);
	if (!cq->inflight && d->active) { /* a reset in progress starts nothing new */
		if (rx)
			post_rx(d);
		else
			send_tx(d);
	}
out:
	pthread_mutex_unlock(&d->lock);
}

/* Pops up to n chains into the queue's request slots; returns how many. */
static int take(struct vmm_virtio_dev *d, struct vcon_queue *cq, unsigned n)
{
	struct vq_chain c[VCON_TX_BATCH];
	for (unsigned i = 0; i < n; i++)
		c[i] = (struct vq_chain){.seg = cq->req[i].seg, .max_seg = VCON_MAX_SEG};
	int got = vq_pop_batch(&cq->q->vq, c, n);
	if (got < 0)
		vmm_virtio_violation(d, "the available ring index jumped: ring broken");
	for (int i = 0; i < got; i++) {
		cq->req[i].chain = c[i];
		cq->req[i].generation = d->generation;
	}
	return got;
}

/* Completes a chain the device cannot use (wrong direction, invalid) with nothing. */
static bool reject(struct vmm_virtio_dev *d, struct vcon_queue *cq, struct vcon_req *r, bool bad)
{
	if (!bad)
		return false;
	vq_push(&cq->q->vq, &r->chain, 0);
	vmm_io_defer_flush(d->io, &cq->flush);
	return true;
}

static void post_rx(struct vmm_virtio_dev *d)
{
	struct vcon_dev *c = d->priv;
	struct vcon_queue *cq = &c->rx;
	while (!cq->inflight && !c->in_eof && c->in_fd >= 0 && take(d, cq, 1) == 1) {
		struct vcon_req *r = &cq->req[0];
		if (reject(d, cq, r, r->chain.err || r->chain.write_len == 0 || r->chain.nread))
			continue;
		struct io_uring_sqe *sqe = host_uring_sqe(&d->io->uring, &r->op);
		io_uring_prep_readv(sqe, c->in_fd, r->iov,
				    to_iov(&r->chain, 0, r->chain.nseg, r->iov), (uint64_t)-1);
		cq->inflight++;
		vmm_virtio_io_begin(d);
	}
}

static void send_tx(struct vmm_virtio_dev *d)
{
	struct vcon_dev *c = d->priv;
	struct vcon_queue *cq = &c->tx;
	if (cq->inflight)
		return; /* the batch in flight finishes first: output stays in order */
	int got = take(d, cq, VCON_TX_BATCH);
	struct io_uring_sqe *prev = NULL;
	for (int i = 0; i < got; i++) {
		struct vcon_req *r = &cq->req[i];
		if (reject(d, cq, r, r->chain.err || r->chain.write_len || c->out_fd < 0))
			continue;
		struct io_uring_sqe *sqe = host_uring_sqe(&d->io->uring, &r->op);
		io_uring_prep_writev(sqe, c->out_fd, r->iov,
				     to_iov(&r->chain, 0, r->chain.nread, r->iov), (uint64_t)-1);
		if (prev)
			prev->flags |= IOSQE_IO_HARDLINK;
		prev = sqe;
		cq->inflight++;
		vmm_virtio_io_begin(d);
	}
}

static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	if (q->index == 0)
		post_rx(d);
	else
		send_tx(d);
	vq_notify_enable(&q->vq, true);
}

static void quiesce(struct vmm_virtio_dev *d)
{
	struct vcon_dev *c = d->priv;
	if (c->rx.inflight) /* a read of stdin may never complete by itself */
		io_uring_prep_cancel_fd(host_uring_sqe(&d->io->uring, NULL), c->in_fd,
					IORING_ASYNC_CANCEL_ALL);
}

static void config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	struct vcon_dev *c = d->priv;
	memcpy(data, (uint8_t *)&c->config + off, len);
}

static const struct vmm_virtio_dev_ops vcon_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.config_size = sizeof(struct virtio_console_config),
	.config_read = config_read,
	.quiesce = quiesce,
	.kick = kick,
};

int vcon_dev_init(struct vcon_dev *c, int in_fd, int out_fd, struct vmm_io *io,
		  const struct gmem *mem)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->config.max_nr_ports = 1;
	struct vcon_queue *qs[2] = {&c->rx, &c->tx};
	for (unsigned i = 0; i < 2; i++) {
		*qs[i] = (struct vcon_queue){.con = c, .q = &c->vdev.q[i], .flush.fn = publish};
		for (unsigned k = 0; k < VCON_TX_BATCH; k++)
			qs[i]->req[k] = (struct vcon_req){.op.fn = io_done, .vq = qs[i]};
	}
	return vmm_virtio_dev_init(&c->vdev, &vcon_ops, c, 0, 2, VCON_QUEUE_SIZE, io, mem);
}

void vcon_dev_destroy(struct vcon_dev *c)
{
	vmm_virtio_dev_destroy(&c->vdev);
}
