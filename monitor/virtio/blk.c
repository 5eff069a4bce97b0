/* SPDX-License-Identifier: MIT */
#include "blk.h"
#include "host/util.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH	32
#define MAX_SEG (BLK_SEG_MAX + 8) /* data, header, status, and pieces split across regions */

/* One request in flight: its chain, parsed request, and completion. */
struct blk_slot {
	struct vmm_io_cb cb;
	struct blk_queue *bq;
	uint32_t generation;
	unsigned index;
	bool fallback; /* write-zeroes retried as a hole punch */
	struct vq_chain chain;
	struct blk_req req;
	struct vq_seg seg[MAX_SEG];
};

static struct blk_dev *to_blk(struct vmm_virtio_dev *d)
{
	return d->priv;
}

/* ------------------------------------------------------------ completion -------------------- */

static void publish(struct vmm_io *io, struct vmm_io_flush *f)
{
	(void)io;
	struct blk_queue *bq = container_of(f, struct blk_queue, flush);
	struct vmm_virtio_dev *d = &bq->blk->vdev;
	pthread_mutex_lock(&d->lock);
	if (d->active && bq->q->live)
		vmm_virtio_queue_publish(d, bq->q);
	pthread_mutex_unlock(&d->lock);
}

/* Writes the status, hands the chain back, frees the slot (lock held). */
static void complete(struct vmm_io *io, struct blk_slot *s, uint8_t status, uint32_t data_written)
{
	struct blk_queue *bq = s->bq;
	struct blk_dev *b = bq->blk;
	if (s->req.status)
		*s->req.status = status;
	if (status != VIRTIO_BLK_S_OK)
		b->errors++;
	vq_push(&bq->q->vq, &s->chain, s->req.status ? data_written + 1 : 0);
	vmm_io_defer_flush(io, &bq->flush);
	bq->free[bq->nfree++] = s->index;
}

static void submit(struct vmm_io *io, struct blk_slot *s);
static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);

static void io_done(struct vmm_io *io, struct vmm_io_cb *cb, int res)
{
	struct blk_slot *s = (struct blk_slot *)cb;
	struct blk_dev *b = s->bq->blk;
	struct vmm_virtio_dev *d = &b->vdev;
	pthread_mutex_lock(&d->lock);
	vmm_virtio_io_end(d);
	if (s->generation != d->generation) {
		/* The driver reset the device meanwhile: nothing to complete into. */
		s->bq->free[s->bq->nfree++] = s->index;
		goto out;
	}
	struct blk_req *r = &s->req;
	if (r->type == VIRTIO_BLK_T_WRITE_ZEROES && res == -EOPNOTSUPP && !s->fallback) {
		/* tmpfs and some block devices lack FALLOC_FL_ZERO_RANGE; a hole reads as zeros. */
		s->fallback = true;
		vmm_virtio_io_begin(d);
		submit(io, s);
		goto out;
	}
	bool ok = res >= 0;
	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT)
		ok = res == (int64_t)r->len; /* a short transfer is an error, not a retry */
	complete(io, s, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
		 ok && r->type == VIRTIO_BLK_T_IN ? (uint32_t)r->len : 0);
	if (s->bq->stalled && d->active) {
		s->bq->stalled = false;
		kick(d, s->bq->q); /* slots were the limit: the ring may hold more */
	}
out:
	pthread_mutex_unlock(&d->lock);
}

/* ------------------------------------------------------------ submission -------------------- */

/* O_DIRECT needs every buffer and length aligned to the logical block size. */
static int fd_for(const struct blk_dev *b, const struct blk_req *r)
{
	if (!b->cfg.direct)
		return b->fd;
	uint64_t mask = b->logical_block - 1;
	if ((r->sector * BLK_SECTOR) & mask)
		return b->fd_cached;
	for (unsigned i = 0; i < r->niov; i++)
		if (((uintptr_t)r->iov[i].iov_base & mask) || (r->iov[i].iov_len & mask))
			return b->fd_cached;
	return b->fd;
}

static void submit(struct vmm_io *io, struct blk_slot *s)
{
	struct blk_dev *b = s->bq->blk;
	struct blk_req *r = &s->req;
	struct io_uring_sqe *sqe = vmm_io_sqe(io, &s->cb);
	uint64_t off = r->sector * BLK_SECTOR;
	uint64_t roff = r->range_sector * BLK_SECTOR,
		 rlen = (uint64_t)r->range_sectors * BLK_SECTOR;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		io_uring_prep_readv(sqe, fd_for(b, r), r->iov, r->niov, off);
		break;
	case VIRTIO_BLK_T_OUT:
		io_uring_prep_writev(sqe, fd_for(b, r), r->iov, r->niov, off);
		break;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, b->fd, 0);
		break;
	case VIRTIO_BLK_T_DISCARD:
		io_uring_prep_fallocate(sqe, b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					roff, rlen);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, b->fd,
					r->unmap || s->fallback
						? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
						: FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					roff, rlen);
		break;
	}
}

/* Requests that need no I/O: GET_ID, and every malformed one. */
static bool immediate(struct vmm_io *io, struct blk_slot *s, enum blk_req_err err)
{
	struct blk_dev *b = s->bq->blk;
	if (err) {
		complete(io, s, blk_req_status(err), 0);
		return true;
	}
	if (s->req.type != VIRTIO_BLK_T_GET_ID)
		return false;
	uint64_t left = s->req.len;
	const char *id = b->cfg.serial;
	char padded[VIRTIO_BLK_ID_BYTES] = {0};
	memcpy(padded, id, strnlen(id, VIRTIO_BLK_ID_BYTES));
	for (unsigned i = 0, done = 0; i < s->req.niov && left; i++) {
		size_t n = s->req.iov[i].iov_len;
		memcpy(s->req.iov[i].iov_base, padded + done, n);
		done += (unsigned)n;
		left -= n;
	}
	complete(io, s, VIRTIO_BLK_S_OK, (uint32_t)s->req.len);
	return true;
}

/* I/O thread, lock held: take what the ring has, as far as slots allow. */
static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct blk_dev *b = to_blk(d);
	struct blk_queue *bq = &b->queue[q->index];
	struct vq_chain chains[BATCH];
	struct blk_slot *slot[BATCH];
	for (;;) {
		unsigned n = bq->nfree < BATCH ? bq->nfree : BATCH;
		if (n == 0) {
			bq->stalled = vq_has_work(&q->vq);
			return;
		}
		for (unsigned i = 0; i < n; i++) {
			slot[i] = &bq->slots[bq->free[bq->nfree - 1 - i]];
			chains[i] = (struct vq_chain){.seg = slot[i]->seg, .max_seg = MAX_SEG};
		}
		int got = vq_pop_batch(&q->vq, chains, n);
		if (got < 0) {
			vmm_virtio_violation(d, "the available ring index jumped: ring broken");
			return;
		}
		bq->nfree -= (unsigned)got;
		for (int i = 0; i < got; i++) {
			struct blk_slot *s = slot[i];
			s->chain = chains[i];
			s->generation = d->generation;
			s->fallback = false;
			b->requests++;
			enum blk_req_err err = s->chain.err
						       ? BLK_ERR_NO_STATUS
						       : blk_req_parse(&s->chain, &b->lim, &s->req);
			if (s->chain.err) {
				/* An invalid chain has no status byte we may touch: length 0. */
				memset(&s->req, 0, offsetof(struct blk_req, iov));
				b->bad_chains++;
			}
			if (immediate(d->io, s, err))
				continue;
			vmm_virtio_io_begin(d);
			submit(d->io, s);
		}
		if ((unsigned)got < n && !vq_notify_enable(&q->vq, true))
			return; /* drained, and nothing slipped in while kicks were off */
	}
}

/* ------------------------------------------------------------ device ops -------------------- */

static void config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	memcpy(data, (uint8_t *)&to_blk(d)->config + off, len);
}

static int activate(struct vmm_virtio_dev *d)
{
	struct blk_dev *b = to_blk(d);
	for (unsigned i = 0; i < d->nr_queues; i++) {
		struct blk_queue *bq = &b->queue[i];
		struct vmm_virtio_queue *q = &d->q[i];
		if (!q->live)
			continue;
		bq->slots = calloc(q->size, sizeof(*bq->slots));
		bq->free = calloc(q->size, sizeof(*bq->free));
		if (!bq->slots || !bq->free)
			return -ENOMEM;
		for (unsigned k = 0; k < q->size; k++) {
			bq->slots[k] = (struct blk_slot){.cb.fn = io_done, .bq = bq, .index = k};
			bq->free[k] = q->size - 1 - k;
		}
		bq->nfree = q->size;
		bq->stalled = false;
	}
	return 0;
}

static void reset(struct vmm_virtio_dev *d)
{
	struct blk_dev *b = to_blk(d);
	/* No I/O is in flight (the core drained it): the slots can go. */
	for (unsigned i = 0; i < d->nr_queues; i++) {
		free(b->queue[i].slots);
		free(b->queue[i].free);
		b->queue[i].slots = NULL;
		b->queue[i].free = NULL;
		b->queue[i].nfree = 0;
	}
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

static int open_backing(struct blk_dev *b, struct host_err *err)
{
	const struct vmm_disk_config *c = &b->cfg;
	int mode = (c->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	b->fd = open(c->path, mode | (c->direct ? O_DIRECT : 0));
	if (b->fd < 0)
		return host_err_set(err, errno, "--disk path=%s: cannot open%s: %s", c->path,
				    c->direct ? " with O_DIRECT" : "", strerror(errno));
	b->fd_cached = c->direct ? open(c->path, mode) : b->fd;
	if (b->fd_cached < 0)
		return host_err_set(err, errno, "--disk path=%s: %s", c->path, strerror(errno));
	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return host_err_set(err, errno, "--disk path=%s: %s", c->path, strerror(errno));
	uint64_t bytes = (uint64_t)st.st_size;
	b->logical_block = BLK_SECTOR;
	if (S_ISBLK(st.st_mode)) {
		int lbs = BLK_SECTOR;
		if (ioctl(b->fd, BLKGETSIZE64, &bytes) < 0 || ioctl(b->fd, BLKSSZGET, &lbs) < 0)
			return host_err_set(err, errno,
					    "--disk path=%s: cannot size the device: %s", c->path,
					    strerror(errno));
		b->is_blockdev = true;
		b->logical_block = (uint32_t)lbs;
	} else if (!S_ISREG(st.st_mode)) {
		return host_err_set(err, EINVAL,
				    "--disk path=%s: not a regular file or block device", c->path);
	}
	if (bytes < BLK_SECTOR)
		return host_err_set(err, EINVAL, "--disk path=%s: smaller than one 512-byte sector",
				    c->path);
	b->lim.capacity = bytes / BLK_SECTOR;
	return 0;
}

int blk_dev_init(struct blk_dev *b, const struct vmm_disk_config *cfg, struct vmm_io *io,
		 const struct gmem *mem, struct host_err *err)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	b->fd = b->fd_cached = -1;
	int ret = open_backing(b, err);
	if (ret)
		return ret;
	unsigned queues = cfg->queues ? cfg->queues : 1;
	b->lim.readonly = cfg->readonly;
	b->lim.max_discard_sectors = b->lim.max_write_zeroes_sectors = 1u << 22; /* 2 GiB */
	struct virtio_blk_config *c = &b->config;
	c->capacity = b->lim.capacity;
	c->seg_max = BLK_SEG_MAX;
	c->blk_size = b->logical_block;
	c->num_queues = (uint16_t)queues;
	c->max_discard_sectors = c->max_write_zeroes_sectors = b->lim.max_discard_sectors;
	c->max_discard_seg = c->max_write_zeroes_seg = 1;
	c->discard_sector_alignment = b->logical_block / BLK_SECTOR;
	c->write_zeroes_may_unmap = 1;
	uint64_t features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			    1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_DISCARD |
			    1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	if (queues > 1)
		features |= 1ull << VIRTIO_BLK_F_MQ;
	if (cfg->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	for (unsigned i = 0; i < queues && i < VMM_VIRTIO_MAX_QUEUES; i++) {
		b->queue[i].blk = b;
		b->queue[i].q = &b->vdev.q[i];
		b->queue[i].flush.fn = publish;
	}
	ret = vmm_virtio_dev_init(&b->vdev, &blk_ops, b, features, queues, BLK_QUEUE_SIZE, io, mem);
	if (ret)
		return host_err_set(err, -ret, "--disk path=%s: cannot set up the device: %s",
				    cfg->path, strerror(-ret));
	return 0;
}

void blk_dev_destroy(struct blk_dev *b)
{
	reset(&b->vdev);
	vmm_virtio_dev_destroy(&b->vdev);
	if (b->fd_cached >= 0 && b->fd_cached != b->fd)
		close(b->fd_cached);
	if (b->fd >= 0)
		close(b->fd);
}
