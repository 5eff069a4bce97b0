/* SPDX-License-Identifier: MIT */
#include "blk.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"

#define BATCH	32
#define MAX_SEG (HOST_BLK_SEG_MAX + 8) /* data, header, status, pieces split across regions */

/* ------------------------------------------------------------ the disk ---------------------- */

int host_blk_open(struct host_blk *b, const char *opt_name, const struct host_blk_opts *o,
		  struct host_err *err)
{
	memset(b, 0, sizeof(*b));
	b->opts = *o;
	b->opt_name = opt_name;
	b->fd = b->fd_cached = b->slot = b->slot_cached = -1;
	int mode = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, ret;
	b->fd = open(o->path, mode | (o->direct ? O_DIRECT : 0));
	if (b->fd < 0)
		return host_err_set(err, errno, "%s path=%s: cannot open%s: %s", opt_name, o->path,
				    o->direct ? " with O_DIRECT" : "", strerror(errno));
	b->fd_cached = o->direct ? open(o->path, mode) : b->fd;
	if (b->fd_cached < 0) {
		ret = host_err_set(err, errno, "%s path=%s: %s", opt_name, o->path,
				   strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(b->fd, &st) < 0) {
		ret = host_err_set(err, errno, "%s path=%s: %s", opt_name, o->path,
				   strerror(errno));
		goto fail;
	}
	uint64_t bytes = (uint64_t)st.st_size;
	b->logical_block = BLK_SECTOR;
	if (S_ISBLK(st.st_mode)) {
		int lbs = BLK_SECTOR;
		if (ioctl(b->fd, BLKGETSIZE64, &bytes) < 0 || ioctl(b->fd, BLKSSZGET, &lbs) < 0) {
			ret = host_err_set(err, errno, "%s path=%s: cannot size the device: %s",
					   opt_name, o->path, strerror(errno));
			goto fail;
		}
		b->is_blockdev = true;
		b->logical_block = (uint32_t)lbs;
	} else if (!S_ISREG(st.st_mode)) {
		ret = host_err_set(err, EINVAL, "%s path=%s: not a regular file or block device",
				   opt_name, o->path);
		goto fail;
	}
	if (bytes < BLK_SECTOR) {
		ret = host_err_set(err, EINVAL, "%s path=%s: smaller than one 512-byte sector",
				   opt_name, o->path);
		goto fail;
	}
	b->lim.capacity = bytes / BLK_SECTOR;
	b->lim.readonly = o->readonly;
	b->lim.max_discard_sectors = b->lim.max_write_zeroes_sectors = 1u << 22; /* 2 GiB */
	return 0;
fail:
	host_blk_close(b);
	return ret;
}

void host_blk_close(struct host_blk *b)
{
	if (b->fd_cached >= 0 && b->fd_cached != b->fd)
		close(b->fd_cached);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = b->fd_cached = -1;
}

uint64_t host_blk_features(const struct host_blk *b, unsigned queues)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_DISCARD |
		     1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	if (queues > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;
	if (b->opts.readonly)
		f |= 1ull << VIRTIO_BLK_F_RO;
	return f;
}

void host_blk_config(const struct host_blk *b, unsigned queues, struct virtio_blk_config *c)
{
	memset(c, 0, sizeof(*c));
	c->capacity = b->lim.capacity;
	c->seg_max = HOST_BLK_SEG_MAX;
	c->blk_size = b->logical_block;
	c->num_queues = (uint16_t)queues;
	c->max_discard_sectors = b->lim.max_discard_sectors;
	c->max_write_zeroes_sectors = b->lim.max_write_zeroes_sectors;
	c->max_discard_seg = c->max_write_zeroes_seg = 1;
	c->discard_sector_alignment = b->logical_block / BLK_SECTOR;
	c->write_zeroes_may_unmap = 1;
}

/* ------------------------------------------------------------ one request ------------------- */

static void finish(struct host_blk_io *io, uint8_t status, uint32_t data_written)
{
	io->status = status;
	if (io->req.status)
		*io->req.status = status;
	/* No status byte (a malformed chain): length 0, nothing written. */
	io->used_len = io->req.status ? data_written + 1 : 0;
}

/* O_DIRECT needs every buffer, length and offset aligned to the logical block size. */
static bool needs_cache(const struct host_blk *b, const struct blk_req *r)
{
	if (!b->opts.direct)
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
static void prep_rw(struct host_blk *b, struct host_uring *u, struct host_blk_io *io,
		    struct io_uring_sqe *sqe)
{
	const struct blk_req *r = &io->req;
	bool cached = needs_cache(b, r), write = r->type == VIRTIO_BLK_T_OUT;
	int fd = cached ? b->fd_cached : b->fd, slot = cached ? b->slot_cached : b->slot;
	uint64_t off = r->sector * BLK_SECTOR;
	int bi = r->niov != 1 ? -1
			      : host_uring_buf_index(u, b->buf_first, b->buf_n, r->iov[0].iov_base,
						     r->iov[0].iov_len);
	io->fixed = bi >= 0;
	if (bi >= 0 && write)
		io_uring_prep_write_fixed(sqe, fd, r->iov[0].iov_base, (unsigned)r->iov[0].iov_len,
					  off, bi);
	else if (bi >= 0)
		io_uring_prep_read_fixed(sqe, fd, r->iov[0].iov_base, (unsigned)r->iov[0].iov_len,
					 off, bi);
	else if (write)
		io_uring_prep_writev(sqe, fd, r->iov, r->niov, off);
	else
		io_uring_prep_readv(sqe, fd, r->iov, r->niov, off);
	host_uring_sqe_file(u, sqe, fd, slot);
}

static void io_done(struct host_uring *u, struct host_op *op, int res);

/* A buffered write made at once (sync_write_max): whole or an error, as on the ring. Returns
 * false when the request is not one (a read, an O_DIRECT write, a larger write). */
static bool write_now(struct host_blk *b, struct host_blk_io *io)
{
	const struct blk_req *r = &io->req;
	if (r->type != VIRTIO_BLK_T_OUT || r->len > b->sync_write_max ||
	    (b->opts.direct && !needs_cache(b, r)))
		return false;
	ssize_t n = pwritev(b->fd_cached, r->iov, (int)r->niov, (off_t)(r->sector * BLK_SECTOR));
	io->sync = true;
	finish(io, n == (ssize_t)r->len ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, 0);
	return true;
}

static void submit(struct host_blk *b, struct host_uring *u, struct host_blk_io *io)
{
	const struct blk_req *r = &io->req;
	struct io_uring_sqe *sqe = host_uring_sqe(u, &io->op);
	uint64_t roff = r->range_sector * BLK_SECTOR,
		 rlen = (uint64_t)r->range_sectors * BLK_SECTOR;
	int mode = FALLOC_FL_KEEP_SIZE;
	io->op.fn = io_done;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		prep_rw(b, u, io, sqe);
		return;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, b->fd, 0);
		break;
	default: /* DISCARD, WRITE_ZEROES */
		mode |= r->type == VIRTIO_BLK_T_DISCARD || r->unmap || io->fallback
				? FALLOC_FL_PUNCH_HOLE
				: FALLOC_FL_ZERO_RANGE;
		io_uring_prep_fallocate(sqe, b->fd, mode, roff, rlen);
		break;
	}
	host_uring_sqe_file(u, sqe, b->fd, b->slot);
}

static void io_done(struct host_uring *u, struct host_op *op, int res)
{
	struct host_blk_io *io = container_of(op, struct host_blk_io, op);
	const struct blk_req *r = &io->req;
	if (r->type == VIRTIO_BLK_T_WRITE_ZEROES && res == -EOPNOTSUPP && !io->fallback) {
		/* tmpfs and some block devices lack FALLOC_FL_ZERO_RANGE; a hole reads as zeros. */
		io->fallback = true;
		submit(io->blk, u, io);
		return;
	}
	bool ok = res >= 0;
	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT)
		ok = res == (int64_t)r->len; /* a short transfer is an error, not a retry */
	finish(io, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
	       ok && r->type == VIRTIO_BLK_T_IN ? (uint32_t)r->len : 0);
	io->done(io);
}

/* GET_ID: the serial, NUL-padded to 20 bytes, as far as the buffer goes. */
static void get_id(const struct host_blk *b, struct host_blk_io *io)
{
	const struct blk_req *r = &io->req;
	char padded[VIRTIO_BLK_ID_BYTES] = {0};
	memcpy(padded, b->opts.serial, strnlen(b->opts.serial, VIRTIO_BLK_ID_BYTES));
	uint64_t done = 0;
	for (unsigned i = 0; i < r->niov && done < r->len; i++) {
		size_t n = r->iov[i].iov_len;
		memcpy(r->iov[i].iov_base, padded + done, n);
		done += n;
	}
	finish(io, VIRTIO_BLK_S_OK, (uint32_t)r->len);
}

bool host_blk_start(struct host_blk *b, struct host_uring *u, struct host_blk_io *io,
		    enum blk_req_err err)
{
	io->blk = b;
	io->fallback = io->fixed = io->sync = false;
	if (err) {
		finish(io, blk_req_status(err), 0);
		return true;
	}
	if (io->req.type == VIRTIO_BLK_T_GET_ID) {
		get_id(b, io);
		return true;
	}
	if (write_now(b, io))
		return true;
	submit(b, u, io);
	return false;
}

/* ------------------------------------------------------------ a virtio queue ---------------- */

struct host_blk_slot {
	struct host_blk_io io;
	struct host_blk_queue *q;
	unsigned index;
	struct vq_chain chain;
	struct vq_seg seg[MAX_SEG];
};

static void slot_done(struct host_blk_io *io)
{
	struct host_blk_slot *s = container_of(io, struct host_blk_slot, io);
	struct host_blk_queue *q = s->q;
	if (io->status != VIRTIO_BLK_S_OK)
		q->errors++;
	q->free[q->nfree++] = s->index;
	q->ops->complete(q, &s->chain, io, true); /* may free q: nothing after this */
}

int host_blk_queue_init(struct host_blk_queue *q, struct host_blk *b, unsigned num,
			const struct host_blk_queue_ops *ops, void *priv)
{
	*q = (struct host_blk_queue){.blk = b, .ops = ops, .priv = priv, .num = num};
	q->slots = calloc(num, sizeof(*q->slots));
	q->free = calloc(num, sizeof(*q->free));
	if (!q->slots || !q->free) {
		host_blk_queue_destroy(q);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < num; k++) {
		q->slots[k] = (struct host_blk_slot){.io.done = slot_done, .q = q, .index = k};
		q->free[k] = num - 1 - k;
	}
	q->nfree = num;
	return 0;
}

void host_blk_queue_destroy(struct host_blk_queue *q)
{
	free(q->slots);
	free(q->free);
	q->slots = NULL;
	q->free = NULL;
	q->nfree = q->num = 0;
}

unsigned host_blk_queue_busy(const struct host_blk_queue *q)
{
	return q->num - q->nfree;
}

static void start_chain(struct host_blk_queue *q, struct host_uring *u, struct host_blk_slot *s)
{
	struct host_blk_io *io = &s->io;
	enum blk_req_err err = BLK_ERR_NO_STATUS;
	q->requests++;
	if (s->chain.err) {
		/* An invalid chain has no status byte we may touch: length 0. */
		memset(&io->req, 0, offsetof(struct blk_req, iov));
		q->bad_chains++;
	} else {
		err = blk_req_parse(&s->chain, &q->blk->lim, &io->req);
	}
	if (!host_blk_start(q->blk, u, io, err)) {
		bool rw = io->req.type == VIRTIO_BLK_T_IN || io->req.type == VIRTIO_BLK_T_OUT;
		q->fixed += io->fixed;
		q->vectored += rw && !io->fixed;
		return;
	}
	if (io->status != VIRTIO_BLK_S_OK)
		q->errors++;
	q->synced += io->sync;
	q->free[q->nfree++] = s->index;
	q->ops->complete(q, &s->chain, io, false);
}

int host_blk_queue_run(struct host_blk_queue *q, struct host_uring *u)
{
	struct vq_chain chains[BATCH];
	struct host_blk_slot *slot[BATCH];
	q->u = u;
	for (;;) {
		unsigned n = q->nfree < BATCH ? q->nfree : BATCH;
		if (n == 0)
			return 0;
		for (unsigned i = 0; i < n; i++) {
			slot[i] = &q->slots[q->free[q->nfree - 1 - i]];
			chains[i] = (struct vq_chain){.seg = slot[i]->seg, .max_seg = MAX_SEG};
		}
		int got = q->ops->pop(q, chains, n);
		if (got < 0 || (unsigned)got > n)
			return -EIO;
		q->nfree -= (unsigned)got;
		for (int i = 0; i < got; i++) {
			slot[i]->chain = chains[i];
			start_chain(q, u, slot[i]);
		}
		if ((unsigned)got < n)
			return 1;
	}
}
