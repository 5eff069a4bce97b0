/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2, 5.2) over a file or a raw block device, served on vmmon's I/O thread
 * with io_uring: read, write, flush, discard, write-zeroes and get-id, one or more queues.
 */
#ifndef VMMON_VIRTIO_BLK_H
#define VMMON_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../config.h"
#include "host/err.h"
#include "blk_req.h"
#include "device.h"

#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX    126 /* data pieces per request the driver may use */

struct blk_slot;

struct blk_dev {
	struct vmm_virtio_dev vdev;
	struct vmm_disk_config cfg;
	int fd;	       /* O_DIRECT when direct=on */
	int fd_cached; /* the same file through the page cache, for unaligned buffers */
	bool is_blockdev;
	uint32_t logical_block; /* O_DIRECT alignment */
	struct blk_limits lim;
	struct virtio_blk_config config;
	/* Per queue: request slots (one per ring entry) and what needs publishing. */
	struct blk_queue {
		struct blk_slot *slots;
		unsigned nfree;
		unsigned *free;
		bool stalled; /* the ring has work but all slots are busy */
		struct vmm_io_flush flush;
		struct vmm_virtio_queue *q;
		struct blk_dev *blk;
	} queue[VMM_VIRTIO_MAX_QUEUES];
	uint64_t requests, errors, bad_chains;
};

/* Opens the backing file and sets up the device (not yet on a transport). */
int blk_dev_init(struct blk_dev *b, const struct vmm_disk_config *cfg, struct vmm_io *io,
		 const struct gmem *mem, struct host_err *err);
void blk_dev_destroy(struct blk_dev *b);

#endif
