/* SPDX-License-Identifier: MIT */
/*
 * "A block device" as blktest sees it, whatever drives it: requests are submitted to a queue,
 * the device is kicked, completions are polled for, and the program waits when there are none.
 * The device is picked with dev= on the command line:
 *   virtio   (the default) the first virtio-blk device, found as programs/vdev.c does;
 *   ata      the first ATA disk, PIO (programs/blkdev_ata.c);
 *   ata-dma  the same with bus-master DMA.
 * Each backend prints the same kinds of lines at open: where the device is ("mem:" lines,
 * which differ between machines), then one "blk:" line with how it is driven.
 */
#ifndef G_PROGRAMS_BLKDEV_H
#define G_PROGRAMS_BLKDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/program.h"

#define G_BLKDEV_SECTOR	  512
#define G_BLKDEV_ID_SIZE  20
#define G_BLKDEV_WAIT_MAX 8 /* devices one g_blkdev_wait_any takes */

enum g_blkdev_op {
	G_BLKDEV_READ,
	G_BLKDEV_WRITE,
	G_BLKDEV_FLUSH,
	G_BLKDEV_WRITE_ZEROES, /* len: sectors */
	G_BLKDEV_DISCARD,      /* len: sectors */
	G_BLKDEV_GET_ID,       /* buf of G_BLKDEV_ID_SIZE */
};

/* What a device can do besides reading and writing. */
#define G_BLKDEV_CAN_FLUSH	  (1u << 0)
#define G_BLKDEV_CAN_WRITE_ZEROES (1u << 1)
#define G_BLKDEV_CAN_DISCARD	  (1u << 2)
#define G_BLKDEV_CAN_GET_ID	  (1u << 3)
#define G_BLKDEV_READ_ONLY	  (1u << 4)

/* One request; g_blkdev_reqs_alloc gives them, with whatever the backend needs behind them. */
struct g_blkdev_req {
	enum g_blkdev_op op;
	uint64_t sector;
	void *buf;	  /* READ, WRITE (in RAM the device reaches), GET_ID */
	uint32_t len;	  /* bytes (READ, WRITE: a multiple of 512), or sectors */
	int status;	  /* once completed: 0 or -errno (-ENOTSUP: the device refused the type) */
	uint32_t written; /* READ: data bytes the device reported; 0 if it reports none */
	void *cookie;	  /* the caller's */
	void *priv;	  /* the backend's */
	struct g_blkdev_req *next; /* the backend's queue */
};

struct g_blkdev;

struct g_blkdev_ops {
	struct g_blkdev_req *(*reqs_alloc)(struct g_blkdev *d, unsigned int n);
	/* Queues r on queue q without telling the device; -ENOSPC when that queue is full. */
	int (*submit)(struct g_blkdev *d, unsigned int q, struct g_blkdev_req *r);
	void (*kick)(struct g_blkdev *d);
	struct g_blkdev_req *(*poll)(struct g_blkdev *d, unsigned int q);
	/* Waits for a completion on any queue of any of the n devices (all of this backend)
	 * until the TSC deadline: 0 (look again), or -ETIMEDOUT, or -EINVAL if it cannot wait. */
	int (*wait)(struct g_blkdev *const *devs, unsigned int n, uint64_t deadline);
	/* Doorbells rung and interrupts taken so far. */
	void (*counts)(struct g_blkdev *d, uint64_t *notifications, uint64_t *interrupts);
	void (*close)(struct g_blkdev *d);
};

struct g_blkdev {
	const struct g_blkdev_ops *ops;
	const char *name;     /* the prefix of its lines: "blk", or "blk0".. when several */
	const char *kind;     /* "virtio", "ata" */
	const char *irq_mode; /* how completions arrive, for "time:" lines */
	uint64_t capacity;    /* sectors */
	uint32_t max_bytes;   /* largest READ/WRITE; 0: no limit */
	unsigned int nq;
	unsigned int caps; /* G_BLKDEV_CAN_*, G_BLKDEV_READ_ONLY */
	uint32_t max_discard_sectors, discard_align, max_write_zeroes_sectors; /* 0: no limit */
	bool len_optional;	   /* a READ may complete with written 0 (virtio's packed ring) */
	struct g_blkdev_req *sync; /* g_blkdev_sync's request */
};

/* Device number index (0: the first) of the kind dev= names, set up and reported (see above)
 * on lines that start with name. Only virtio has more than one (index > 0 fails with ata). Fails
 * run with the reason. */
int g_blkdev_open(struct g_run *run, unsigned int index, const char *name, struct g_blkdev **d);

static inline struct g_blkdev_req *g_blkdev_reqs_alloc(struct g_blkdev *d, unsigned int n)
{
	return d->ops->reqs_alloc(d, n);
}

void g_blkdev_prep(struct g_blkdev_req *r, enum g_blkdev_op op, uint64_t sector, void *buf,
		   uint32_t len);

static inline int g_blkdev_submit(struct g_blkdev *d, unsigned int q, struct g_blkdev_req *r)
{
	return d->ops->submit(d, q, r);
}

static inline void g_blkdev_kick(struct g_blkdev *d)
{
	d->ops->kick(d);
}

static inline struct g_blkdev_req *g_blkdev_poll(struct g_blkdev *d, unsigned int q)
{
	return d->ops->poll(d, q);
}

static inline int g_blkdev_wait(struct g_blkdev *d, uint64_t deadline)
{
	return d->ops->wait(&d, 1, deadline);
}

/* Waits for a completion on any of n devices, as g_blkdev_wait does for one; -EINVAL if they
 * are not all of one backend. */
int g_blkdev_wait_any(struct g_blkdev *const *devs, unsigned int n, uint64_t deadline);

/* One request on queue 0, waited for: its status, or -ETIMEDOUT. Not to be mixed with
 * requests in flight on queue 0. */
int g_blkdev_sync(struct g_blkdev *d, enum g_blkdev_op op, uint64_t sector, void *buf, uint32_t len,
		  uint64_t timeout_us);

/* Prints on a "time:" line the doorbells rung since the device was opened and the interrupts
 * taken since interrupts_mark (a count from ops->counts). */
void g_blkdev_report_counts(struct g_blkdev *d, uint64_t interrupts_mark);

static inline void g_blkdev_close(struct g_blkdev *d)
{
	d->ops->close(d);
}

/* The backends. */
int g_blkdev_open_virtio(struct g_run *run, unsigned int index, const char *name,
			 struct g_blkdev **d);
int g_blkdev_open_ata(struct g_run *run, struct g_blkdev **d, bool dma);

/* virtio only (blktest's revector=on): the driver under d, or NULL for another kind. */
struct g_vblk *g_blkdev_vblk(struct g_blkdev *d);

#endif
