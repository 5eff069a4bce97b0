/* SPDX-License-Identifier: MIT */
#include "blk.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_req.h"
#include "worker.h"

#define BATCH	32
#define MAX_SEG (IOP_BLK_SEG_MAX + 8) /* data, header, status, pieces split across regions */

struct blk_dev {
	struct iop_dev dev;
	struct iop_dev_cfg cfg;
	int fd;			/* O_DIRECT when direct=on */
	int fd_cached;		/* the same file through the page cache, for unaligned buffers */
	int slot, slot_cached;	/* their registered-file slots */
	uint32_t logical_block; /* O_DIRECT alignment */
	struct blk_limits lim;
	struct virtio_blk_config config;
	char name[32];
};

/* One request in flight. */
struct blk_slot {
	struct iop_op op;
	struct iop_queue *q;
	unsigned index;
	bool fallback; /* write-zeroes retried as a hole punch */
	struct vq_chain chain;
	struct blk_req req;
	struct vq_seg seg[MAX_SEG];
};

struct blk_queue {
	struct blk_slot *slots;
	unsigned *free;
	unsigned nfree;
	uint64_t requests, errors, fixed, vectored;
};

static struct blk_dev *to_blk(const struct iop_dev *d)
{
	return container_of(d, struct blk_dev, dev);
}

/* ------------------------------------------------------------------ completion ------------ */

static void complete(struct blk_slot *s, uint8_t status, uint32_t data_written)
{
	struct blk_queue *bq = s->q->priv;
	if (s->req.status)
		*s->req.status = status;
	if (status != VIRTIO_BLK_S_OK)
		bq->errors++;
	/* No status byte (a malformed chain): length 0, nothing written. */
	iop_queue_push(s->q, &s->chain, s->req.status ? data_written + 1 : 0);
	bq->free[bq->nfree++] = s->index;
}

static void submit(struct iop_worker *w, struct blk_slot *s);

static void io_done(struct iop_worker *w, struct iop_op *op, int res)
{
	struct blk_slot *s = container_of(op, struct blk_slot, op);
	struct blk_req *r = &s->req;
	s->q->ops--;
	if (r->type == VIRTIO_BLK_T_WRITE_ZEROES && res == -EOPNOTSUPP && !s->fallback) {
		/* tmpfs and some block devices lack FALLOC_FL_ZERO_RANGE; a hole reads as zeros. */
		s->fallback = true;
		submit(w, s);
		return;
	}
	bool ok = res >= 0;
	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT)
		ok = res == (int64_t)r->len; /* a short transfer is an error, not a retry */
	complete(s, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
		 ok && r->type == VIRTIO_BLK_T_IN ? (uint32_t)r->len : 0);
}

/* ------------------------------------------------------------------ submission ------------ */

/* O_DIRECT needs every buffer, length and offset aligned to the logical block size. */
static bool needs_cache(const struct blk_dev *b, const struct blk_req *r)
{
	if (!b->cfg.direct)
		return false;
	uint64_t mask = b->logical_block - 1;
	if ((r->sector * BLK_SECTOR) & mask)
		return true;
	for (unsigned i = 0; i < r->niov; i++)
		if (((uintptr_t)r->iov[i].iov_base & mask) || (r->iov[i].iov_len & mask))
			return true;
	return false;
}

/* A read or write: into one registered region with the fixed-buffer opcodes, else vectored. */
static void prep_rw(struct iop_worker *w, struct blk_dev *b, struct blk_slot *s,
		    struct io_uring_sqe *sqe)
{
	struct blk_req *r = &s->req;
	struct blk_queue *bq = s->q->priv;
	bool cached = needs_cache(b, r), write = r->type == VIRTIO_BLK_T_OUT;
	int fd = cached ? b->fd_cached : b->fd, slot = cached ? b->slot_cached : b->slot;
	uint64_t off = r->sector * BLK_SECTOR;
	int bi = r->niov != 1 ? -1
			      : iop_worker_buf_index(w, b->dev.id * VHOST_USER_MEM_REGIONS,
						     VHOST_USER_MEM_REGIONS, r->iov[0].iov_base,
						     r->iov[0].iov_len);
	if (bi >= 0) {
		if (write)
			io_uring_prep_write_fixed(sqe, fd, r->iov[0].iov_base,
						  (unsigned)r->iov[0].iov_len, off, bi);
		else
			io_uring_prep_read_fixed(sqe, fd, r->iov[0].iov_base,
						 (unsigned)r->iov[0].iov_len, off, bi);
		bq->fixed++;
	} else {
		if (write)
			io_uring_prep_writev(sqe, fd, r->iov, r->niov, off);
		else
			io_uring_prep_readv(sqe, fd, r->iov, r->niov, off);
		bq->vectored++;
	}
	iop_worker_sqe_file(w, sqe, fd, slot);
}

static void submit(struct iop_worker *w, struct blk_slot *s)
{
	struct blk_dev *b = to_blk(s->q->dev);
	struct blk_req *r = &s->req;
	struct io_uring_sqe *sqe = iop_worker_sqe(w, &s->op);
	uint64_t roff = r->range_sector * BLK_SECTOR,
		 rlen = (uint64_t)r->range_sectors * BLK_SECTOR;
	int mode = FALLOC_FL_KEEP_SIZE;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		prep_rw(w, b, s, sqe);
		break;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, b->fd, 0);
		iop_worker_sqe_file(w, sqe, b->fd, b->slot);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		mode |= r->type == VIRTIO_BLK_T_DISCARD || r->unmap || s->fallback
				? FALLOC_FL_PUNCH_HOLE
				: FALLOC_FL_ZERO_RANGE;
		io_uring_prep_fallocate(sqe, b->fd, mode, roff, rlen);
		iop_worker_sqe_file(w, sqe, b->fd, b->slot);
		break;
	}
	s->q->ops++;
}

/* Requests that need no I/O: GET_ID, and every malformed one. */
static bool immediate(struct blk_slot *s, enum blk_req_err err)
{
	struct blk_dev *b = to_blk(s->q->dev);
	if (err) {
		complete(s, blk_req_status(err), 0);
		return true;
	}
	if (s->req.type != VIRTIO_BLK_T_GET_ID)
		return false;
	char padded[VIRTIO_BLK_ID_BYTES] = {0};
	memcpy(padded, b->cfg.serial, strnlen(b->cfg.serial, VIRTIO_BLK_ID_BYTES));
	uint64_t done = 0;
	for (unsigned i = 0; i < s->req.niov && done < s->req.len; i++) {
		size_t n = s->req.iov[i].iov_len;
		memcpy(s->req.iov[i].iov_base, padded + done, n);
		done += n;
	}
	complete(s, VIRTIO_BLK_S_OK, (uint32_t)s->req.len);
	return true;
}

static void start_request(struct iop_worker *w, struct blk_dev *b, struct blk_slot *s)
{
	struct blk_queue *bq = s->q->priv;
	bq->requests++;
	s->fallback = false;
	enum blk_req_err err = BLK_ERR_NO_STATUS;
	if (s->chain.err)
		memset(&s->req, 0, offsetof(struct blk_req, iov)); /* no status byte to touch */
	else
		err = blk_req_parse(&s->chain, &b->lim, &s->req);
	if (!immediate(s, err))
		submit(w, s);
}

static int queue_run(struct iop_worker *w, struct iop_queue *q)
{
	struct blk_dev *b = to_blk(q->dev);
	struct blk_queue *bq = q->priv;
	struct vq_chain chains[BATCH];
	struct blk_slot *slot[BATCH];
	for (;;) {
		unsigned n = bq->nfree < BATCH ? bq->nfree : BATCH;
		if (n == 0)
			return 0;
		for (unsigned i = 0; i < n; i++) {
			slot[i] = &bq->slots[bq->free[bq->nfree - 1 - i]];
			chains[i] = (struct vq_chain){.seg = slot[i]->seg, .max_seg = MAX_SEG};
		}
		int got = iop_queue_pop(q, chains, n);
		if (got < 0 || (unsigned)got > n)
			return -EIO;
		bq->nfree -= (unsigned)got;
		for (int i = 0; i < got; i++) {
			slot[i]->chain = chains[i];
			start_request(w, b, slot[i]);
		}
		if ((unsigned)got < n)
			return 1;
	}
}

/* ------------------------------------------------------------------ device ops ------------ */

static int queue_start(struct iop_queue *q)
{
	struct blk_queue *bq = calloc(1, sizeof(*bq));
	if (!bq)
		return -ENOMEM;
	bq->slots = calloc(q->num, sizeof(*bq->slots));
	bq->free = calloc(q->num, sizeof(*bq->free));
	if (!bq->slots || !bq->free) {
		free(bq->slots);
		free(bq->free);
		free(bq);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < q->num; k++) {
		bq->slots[k] = (struct blk_slot){.op.fn = io_done, .q = q, .index = k};
		bq->free[k] = q->num - 1 - k;
	}
	bq->nfree = q->num;
	q->priv = bq;
	return 0;
}

static void queue_stop(struct iop_queue *q)
{
	struct blk_queue *bq = q->priv;
	if (!bq)
		return;
	free(bq->slots);
	free(bq->free);
	free(bq);
	q->priv = NULL;
}

static uint64_t features(const struct iop_dev *d)
{
	const struct blk_dev *b = to_blk(d);
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
		     1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_F_RING_PACKED |
		     1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_DISCARD |
		     1ull << VIRTIO_BLK_F_WRITE_ZEROES | 1ull << VIRTIO_BLK_F_MQ;
	if (b->cfg.readonly)
		f |= 1ull << VIRTIO_BLK_F_RO;
	return f;
}

static unsigned queue_num(const struct iop_dev *d)
{
	return d->nq;
}

static int get_config(struct iop_dev *d, uint32_t off, uint8_t *buf, uint32_t len)
{
	struct blk_dev *b = to_blk(d);
	if (off > sizeof(b->config) || len > sizeof(b->config) - off)
		return -EINVAL;
	memcpy(buf, (uint8_t *)&b->config + off, len);
	return 0;
}

static int set_config(struct iop_dev *d, uint32_t off, const uint8_t *buf, uint32_t len,
		      uint32_t flags)
{
	(void)d, (void)off, (void)buf, (void)len;
	/* Nothing here is writable (no CONFIG_WCE); a migration restore (flags 1) is taken as
	 * the same device. */
	return flags == 1 ? 0 : -EPERM;
}

static void destroy(struct iop_dev *d)
{
	struct blk_dev *b = to_blk(d);
	if (b->fd_cached >= 0 && b->fd_cached != b->fd)
		close(b->fd_cached);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

static const struct iop_dev_ops blk_ops = {
	.name = "blk",
	.features = features,
	.protocol_features =
		1ull << VHOST_USER_PROTOCOL_F_CONFIG | 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
	.queue_num = queue_num,
	.get_config = get_config,
	.set_config = set_config,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
	.queue_run = queue_run,
	.destroy = destroy,
};

static int open_backing(struct blk_dev *b, struct host_err *err)
{
	const struct iop_dev_cfg *c = &b->cfg;
	int mode = (c->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	b->fd = open(c->path, mode | (c->direct ? O_DIRECT : 0));
	if (b->fd < 0)
		return host_err_set(err, errno, "--blk path=%s: cannot open%s: %s", c->path,
				    c->direct ? " with O_DIRECT" : "", strerror(errno));
	b->fd_cached = c->direct ? open(c->path, mode) : b->fd;
	if (b->fd_cached < 0)
		return host_err_set(err, errno, "--blk path=%s: %s", c->path, strerror(errno));
	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return host_err_set(err, errno, "--blk path=%s: %s", c->path, strerror(errno));
	uint64_t bytes = (uint64_t)st.st_size;
	b->logical_block = BLK_SECTOR;
	if (S_ISBLK(st.st_mode)) {
		int lbs = BLK_SECTOR;
		if (ioctl(b->fd, BLKGETSIZE64, &bytes) < 0 || ioctl(b->fd, BLKSSZGET, &lbs) < 0)
			return host_err_set(err, errno, "--blk path=%s: cannot size the device: %s",
					    c->path, strerror(errno));
		b->logical_block = (uint32_t)lbs;
	} else if (!S_ISREG(st.st_mode)) {
		return host_err_set(err, EINVAL,
				    "--blk path=%s: not a regular file or block device", c->path);
	}
	if (bytes < BLK_SECTOR)
		return host_err_set(err, EINVAL, "--blk path=%s: smaller than one 512-byte sector",
				    c->path);
	b->lim.capacity = bytes / BLK_SECTOR;
	return 0;
}

static void fill_config(struct blk_dev *b)
{
	struct virtio_blk_config *c = &b->config;
	b->lim.readonly = b->cfg.readonly;
	b->lim.max_discard_sectors = b->lim.max_write_zeroes_sectors = 1u << 22; /* 2 GiB */
	c->capacity = b->lim.capacity;
	c->seg_max = IOP_BLK_SEG_MAX;
	c->blk_size = b->logical_block;
	c->num_queues = (uint16_t)b->dev.nq;
	c->max_discard_sectors = c->max_write_zeroes_sectors = b->lim.max_discard_sectors;
	c->max_discard_seg = c->max_write_zeroes_seg = 1;
	c->discard_sector_alignment = b->logical_block / BLK_SECTOR;
	c->write_zeroes_may_unmap = 1;
}

int iop_blk_create(struct iop_dev **out, unsigned id, const struct iop_dev_cfg *cfg,
		   struct iop_pool *pool, int *files, unsigned *nfiles, unsigned max,
		   struct host_err *err)
{
	struct blk_dev *b = calloc(1, sizeof(*b));
	if (!b)
		return host_err_set(err, ENOMEM, "out of memory");
	b->cfg = *cfg;
	snprintf(b->name, sizeof(b->name), "blk%u", id);
	iop_dev_init(&b->dev, id, b->name, pool);
	b->dev.ops = &blk_ops;
	b->dev.nq = cfg->queues ? cfg->queues : 1;
	b->fd = b->fd_cached = b->slot = b->slot_cached = -1;
	int ret = open_backing(b, err);
	if (ret) {
		destroy(&b->dev);
		return ret;
	}
	if (*nfiles < max) {
		b->slot = (int)*nfiles;
		files[(*nfiles)++] = b->fd;
	}
	b->slot_cached = b->slot;
	if (b->fd_cached != b->fd && *nfiles < max) {
		b->slot_cached = (int)*nfiles;
		files[(*nfiles)++] = b->fd_cached;
	} else if (b->fd_cached != b->fd) {
		b->slot_cached = -1;
	}
	fill_config(b);
	*out = &b->dev;
	return 0;
}
