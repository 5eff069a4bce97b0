/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (virtio 1.2, 5.3), one port: the guest's output goes to out_fd, in_fd feeds
 * its input, both through io_uring on the I/O thread and in order: one receive read at a time
 * (keystrokes), transmit in hard-linked batches.
 */
#ifndef VMMON_VIRTIO_CONSOLE_H
#define VMMON_VIRTIO_CONSOLE_H

#include <linux/virtio_console.h>
#include <sys/uio.h>

#include "device.h"

#define VCON_QUEUE_SIZE 64
#define VCON_TX_BATCH	16
#define VCON_MAX_SEG	16

struct vcon_dev;
struct vcon_queue;

struct vcon_req {
	struct host_op op;
	struct vcon_queue *vq;
	uint32_t generation;
	struct vq_chain chain;
	struct vq_seg seg[VCON_MAX_SEG];
	struct iovec iov[VCON_MAX_SEG];
};

struct vcon_queue {
	struct vcon_dev *con;
	struct vmm_virtio_queue *q;
	struct vmm_io_flush flush;
	unsigned inflight;
	struct vcon_req req[VCON_TX_BATCH];
};

struct vcon_dev {
	struct vmm_virtio_dev vdev;
	int in_fd, out_fd;
	bool in_eof;
	struct virtio_console_config config;
	struct vcon_queue rx, tx;
	uint64_t in_bytes, out_bytes;
};

int vcon_dev_init(struct vcon_dev *c, int in_fd, int out_fd, struct vmm_io *io,
		  const struct gmem *mem);
void vcon_dev_destroy(struct vcon_dev *c);

#endif
