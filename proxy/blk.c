/* SPDX-License-Identifier: MIT */
#include "blk.h"

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/blk.h"
#include "worker.h"

struct blk_dev {
	struct iop_dev dev;
	struct iop_dev_cfg cfg;
	struct host_blk disk;
	struct virtio_blk_config config;
	char name[32];
};

/* How long requests stay in ioproxy, from the driver's kick (or, for chains no kick
 * announced, from leaving the ring) to their used entry: a histogram with 8 buckets per power
 * of two of nanoseconds (12.5% apart), read for SIGUSR1. */
/* Event mode: buffered writes up to this size are made on the queue thread (iop_blk_new). */
#define IOP_SYNC_WRITE_MAX (64u << 10)
#define LAT_SUB		   8
#define LAT_BUCKETS	   (62 * LAT_SUB)

/* The engine's queue and what ioproxy measures around it. */
struct blk_queue {
	struct host_blk_queue eq;
	uint64_t *taken_ns; /* by chain id: when it was announced or left the ring */
	uint64_t lat[LAT_BUCKETS], lat_n, lat_max_ns;
};

static struct blk_dev *to_blk(const struct iop_dev *d)
{
	return container_of(d, struct blk_dev, dev);
}

static unsigned lat_bucket(uint64_t ns)
{
	if (ns < LAT_SUB)
		return (unsigned)ns;
	unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
	return (msb - 2) * LAT_SUB + (unsigned)((ns >> (msb - 3)) & (LAT_SUB - 1));
}

/* The upper end of bucket b, in ns. */
static uint64_t lat_edge(unsigned b)
{
	if (b < LAT_SUB)
		return b + 1;
	unsigned msb = b / LAT_SUB + 2;
	return (uint64_t)(LAT_SUB + b % LAT_SUB + 1) << (msb - 3);
}

/* The latency under which permille/1000 of the requests completed, in ns. */
static uint64_t lat_percentile(const struct blk_queue *bq, unsigned permille)
{
	uint64_t want = (bq->lat_n * permille + 999) / 1000, seen = 0;
	for (unsigned b = 0; b < LAT_BUCKETS; b++) {
		seen += bq->lat[b];
		if (seen >= want && seen)
			return lat_edge(b) < bq->lat_max_ns ? lat_edge(b) : bq->lat_max_ns;
	}
	return bq->lat_max_ns;
}

/* ------------------------------------------------------------------ the engine's queue ---- */

static int pop(struct host_blk_queue *eq, struct vq_chain *c, unsigned n)
{
	struct blk_queue *bq = container_of(eq, struct blk_queue, eq);
	struct iop_queue *q = eq->priv;
	int got = iop_queue_pop(q, c, n);
	uint64_t now = got > 0 ? (q->kick_ns ? q->kick_ns : host_now_ns()) : 0;
	for (int i = 0; i < got; i++)
		if (!c[i].err && c[i].id < eq->num) /* a refused duplicate is not timed */
			bq->taken_ns[c[i].id] = now;
	return got;
}

static void complete(struct host_blk_queue *eq, const struct vq_chain *c,
		     const struct host_blk_io *io, bool from_ring)
{
	(void)from_ring; /* one thread: the worker's */
	struct blk_queue *bq = container_of(eq, struct blk_queue, eq);
	if (!c->err && c->id < eq->num) {
		uint64_t ns = host_now_ns() - bq->taken_ns[c->id];
		bq->lat[lat_bucket(ns)]++;
		bq->lat_n++;
		if (ns > bq->lat_max_ns)
			bq->lat_max_ns = ns;
	}
	iop_queue_push(eq->priv, c, io->used_len);
}

static const struct host_blk_queue_ops queue_ops = {.pop = pop, .complete = complete};

static int queue_run(struct iop_worker *w, struct iop_queue *q)
{
	return host_blk_queue_run(q->priv, &w->uring);
}

static unsigned queue_busy(const struct iop_queue *q)
{
	return host_blk_queue_busy(q->priv);
}

static bool queue_blocked(const struct iop_queue *q)
{
	const struct host_blk_queue *eq = q->priv;
	return eq->nfree == 0;
}

static int queue_start(struct iop_queue *q)
{
	struct blk_queue *bq = calloc(1, sizeof(*bq));
	uint64_t *taken = calloc(q->num, sizeof(*taken));
	int ret = bq && taken ? host_blk_queue_init(&bq->eq, &to_blk(q->dev)->disk, q->num,
						    &queue_ops, q)
			      : -ENOMEM;
	if (ret) {
		free(taken);
		free(bq);
		return ret;
	}
	bq->taken_ns = taken;
	q->priv = &bq->eq;
	return 0;
}

static void queue_stop(struct iop_queue *q)
{
	struct host_blk_queue *eq = q->priv;
	if (!eq)
		return;
	struct blk_queue *bq = container_of(eq, struct blk_queue, eq);
	host_blk_queue_destroy(eq);
	free(bq->taken_ns);
	free(bq);
	q->priv = NULL;
}

static void queue_stats(const struct iop_queue *q, char *buf, size_t len)
{
	const struct host_blk_queue *eq = q->priv;
	const struct blk_queue *bq = container_of(eq, struct blk_queue, eq);
	snprintf(buf, len,
		 "%llu requests (%llu errors, %llu fixed, %llu vectored, %llu written at once), in "
		 "ioproxy p50 %.1f us p99 %.1f us max %.1f us",
		 (unsigned long long)eq->requests, (unsigned long long)eq->errors,
		 (unsigned long long)eq->fixed, (unsigned long long)eq->vectored,
		 (unsigned long long)eq->synced, lat_percentile(bq, 500) / 1e3,
		 lat_percentile(bq, 990) / 1e3, bq->lat_max_ns / 1e3);
}

/* ------------------------------------------------------------------ device ops ------------ */

static uint64_t features(const struct iop_dev *d)
{
	return 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
	       1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_F_RING_PACKED |
	       host_blk_features(&to_blk(d)->disk, HOST_BLK_MAX_QUEUES);
}

static unsigned queue_num(const struct iop_dev *d)
{
	return d->nq;
}

static void destroy(struct iop_dev *d)
{
	struct blk_dev *b = to_blk(d);
	host_blk_close(&b->disk);
	free(b);
}

static const struct iop_dev_ops blk_ops = {
	.name = "blk",
	.features = features,
	.protocol_features =
		1ull << VHOST_USER_PROTOCOL_F_CONFIG | 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
	.queue_num = queue_num,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
	.queue_run = queue_run,
	.queue_busy = queue_busy,
	.queue_blocked = queue_blocked,
	.queue_stats = queue_stats,
	.destroy = destroy,
};

/* The disk's descriptors go into the workers' registered-file table, if there is room. */
static void register_files(struct host_blk *disk, int *files, unsigned *nfiles, unsigned max)
{
	if (*nfiles < max) {
		disk->slot = (int)*nfiles;
		files[(*nfiles)++] = disk->fd;
	}
	disk->slot_cached = disk->slot;
	if (disk->fd_cached != disk->fd) {
		disk->slot_cached = *nfiles < max ? (int)*nfiles : -1;
		if (*nfiles < max)
			files[(*nfiles)++] = disk->fd_cached;
	}
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
	b->dev.nq = cfg->blk.queues ? cfg->blk.queues : 1;
	int ret = host_blk_open(&b->disk, "--blk", &cfg->blk, err);
	if (ret) {
		free(b);
		return ret;
	}
	/* Requests whose data lies in one region of this device's memory use its buffers. */
	b->disk.buf_first = id * VHOST_USER_MEM_REGIONS;
	b->disk.buf_n = VHOST_USER_MEM_REGIONS;
	/* A buffered write the kernel would give to an io-wq worker is made on the queue thread
	 * instead (host/blk.h): any size when it polls (it keeps its CPU busy); in event mode up
	 * to IOP_SYNC_WRITE_MAX, so that a request is complete before the driver's vCPU runs
	 * again when the kick woke the thread on that vCPU's CPU, as a read is, while a large
	 * write, which takes long and more likely waits on writeback, stays off the thread. */
	b->disk.sync_write_max = pool && pool->poll ? UINT32_MAX : IOP_SYNC_WRITE_MAX;
	register_files(&b->disk, files, nfiles, max);
	host_blk_config(&b->disk, b->dev.nq, &b->config);
	b->dev.config = &b->config;
	b->dev.config_size = sizeof(b->config);
	*out = &b->dev;
	return 0;
}
