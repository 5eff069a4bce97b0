/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2, 5.2) served on vmmon's I/O thread: the device and its queues over the
 * shared block engine (rings/host/blk.h), which owns the disk and its I/O. Read, write, flush,
 * discard, write-zeroes and get-id, one or more queues.
 */
#ifndef VMMON_VIRTIO_BLK_H
#define VMMON_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../config.h"
#include "device.h"
#include "host/blk.h"
#include "host/err.h"

#define BLK_QUEUE_SIZE 256

struct vblk_dev {
	struct vmm_virtio_dev vdev;
	struct vmm_disk_config cfg;
	struct host_blk disk;
	struct virtio_blk_config config;
	/* Per queue: the engine's request slots and what needs publishing. */
	struct vblk_queue {
		struct host_blk_queue eq;
		bool stalled; /* the ring has work but all slots are busy */
		struct vmm_io_flush flush;
		struct vmm_virtio_queue *q;
		struct vblk_dev *blk;
	} queue[VMM_VIRTIO_MAX_QUEUES];
	/* Requests completed (I/O thread; read by the API's vm.counters without the lock). */
	uint64_t read_bytes, write_bytes, read_ops, write_ops;
};

/* Opens the backing file and sets up the device (not yet on a transport). */
int vblk_dev_init(struct vblk_dev *b, const struct vmm_disk_config *cfg, struct vmm_io *io,
		  const struct gmem *mem, struct host_err *err);
void vblk_dev_destroy(struct vblk_dev *b);

#endif
