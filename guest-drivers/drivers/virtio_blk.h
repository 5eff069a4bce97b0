/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk driver (virtio 1.2, 5.2): read, write, flush, discard, write-zeroes and get-id,
 * over any transport, with interrupts or polling. Requests are asynchronous: prepare, submit
 * to a queue, kick, then take completions from the queue. Layouts are Linux's
 * <linux/virtio_blk.h>.
 *
 * Multiqueue: with VIRTIO_BLK_F_MQ the driver sets up min(num_queues, G_VBLK_MAX_QUEUES) queues,
 * each with its own MSI-X vector, and the caller picks the queue per request. The guest's
 * programs submit from one CPU and spread requests over the queues; every vector is routed to
 * that CPU.
 */
#ifndef G_DRIVERS_VIRTIO_BLK_H
#define G_DRIVERS_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <stdint.h>

#include "drivers/virtio.h"

#define G_VBLK_MAX_QUEUES 4
#define G_VBLK_SECTOR	  512
#define G_VBLK_ID_BYTES	  VIRTIO_BLK_ID_BYTES

/* One request, in memory the device reaches (g_vblk_reqs_alloc). The header, the range payload
 * and the indirect table are the device's view; the rest is the driver's. */
struct g_vblk_req {
	struct virtio_blk_outhdr hdr;
	struct virtio_blk_discard_write_zeroes range; /* DISCARD, WRITE_ZEROES */
	struct vring_desc indirect[3];		      /* with VIRTIO_RING_F_INDIRECT_DESC */
	uint8_t status;				      /* VIRTIO_BLK_S_*, written by the device */
	void *buf;				      /* data: IN, OUT, GET_ID */
	uint32_t len;
	uint32_t written; /* bytes the device reported writing (packed rings: 0 = not reported) */
	uint16_t queue;
	void *cookie; /* the caller's */
} __attribute__((aligned(64)));

struct g_vblk {
	struct g_virtio_dev *dev;
	unsigned int nq;
	struct g_virtq q[G_VBLK_MAX_QUEUES];
	struct g_virtq *qp[G_VBLK_MAX_QUEUES]; /* for g_virtio_wait */
	uint64_t capacity;		       /* 512-byte sectors */
	uint32_t size_max;		       /* largest data segment; 0: no limit */
	uint32_t max_discard_sectors, discard_align, max_write_zeroes_sectors;
	struct g_vblk_req *sync; /* the synchronous helpers' request */
	uint8_t *sync_buf;	 /* and its small data buffer (get-id) */
};

/* Negotiates (SIZE_MAX, SEG_MAX, RO, BLK_SIZE, FLUSH, MQ, DISCARD, WRITE_ZEROES when offered),
 * reads the configuration, sets up the queues (at most queue_size entries each; 0: the
 * device's maximum) and interrupts, and starts the device. Returns 0 or -errno; the device is
 * left FAILED on error. */
int g_vblk_init(struct g_vblk *b, struct g_virtio_dev *d, const struct g_virtio_opts *o,
		uint16_t queue_size);

static inline bool g_vblk_has(const struct g_vblk *b, unsigned int feature)
{
	return g_virtio_has(b->dev, feature);
}

/* n zeroed requests. NULL when memory is short. */
struct g_vblk_req *g_vblk_reqs_alloc(unsigned int n);

/* Fills in r. VIRTIO_BLK_T_IN/OUT: len bytes at buf (a multiple of 512, one segment, so at most
 * size_max); FLUSH: no data; GET_ID: buf of G_VBLK_ID_BYTES; DISCARD/WRITE_ZEROES: len is the
 * number of sectors from sector, buf unused. */
void g_vblk_prep(struct g_vblk_req *r, uint32_t type, uint64_t sector, void *buf, uint32_t len);

/* Adds r to queue q without notifying the device. -ENOSPC when the ring is full. */
int g_vblk_submit(struct g_vblk *b, unsigned int q, struct g_vblk_req *r);

/* Notifies every queue with new requests, where the device asked for notifications. */
void g_vblk_kick(struct g_vblk *b);

/* The next completed request of queue q, or NULL. */
struct g_vblk_req *g_vblk_poll(struct g_vblk *b, unsigned int q);

/* Waits for a completion on any queue, up to the TSC deadline (see g_virtio_wait). */
int g_vblk_wait(struct g_vblk *b, uint64_t deadline);

/* The same over n devices (at most G_VIRTIO_WAIT_MAX_DEVS): a completion on any queue of any
 * of them ends it (see g_virtio_wait_any). */
int g_vblk_wait_any(struct g_vblk *const *b, unsigned int n, uint64_t deadline);

/* The status as -errno: 0, -EIO (IOERR, or no status written), -ENOTSUP (UNSUPP). */
int g_vblk_status_errno(const struct g_vblk_req *r);

/* One request on queue 0, waited for: the status as -errno, or -ETIMEDOUT. Not to be mixed
 * with asynchronous requests in flight on queue 0. */
int g_vblk_sync(struct g_vblk *b, uint32_t type, uint64_t sector, void *buf, uint32_t len,
		uint64_t timeout_us);

/* The device's ID string (GET_ID), NUL-terminated in id[G_VBLK_ID_BYTES + 1]. */
int g_vblk_get_id(struct g_vblk *b, char *id, uint64_t timeout_us);

#endif
