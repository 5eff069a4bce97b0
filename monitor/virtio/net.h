/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.2, 5.1) served on vmmon's I/O thread: the device, its queues and the
 * control queue over the shared net engine (rings/host/net.h), which owns the tap and the
 * frame I/O. Several queue pairs use a multi-queue tap and the control queue.
 */
#ifndef VMMON_VIRTIO_NET_H
#define VMMON_VIRTIO_NET_H

#include <linux/virtio_net.h>

#include "../config.h"
#include "device.h"
#include "host/err.h"
#include "host/net.h"

#define NET_QUEUE_SIZE 256

struct vnet_queue {
	struct vnet_dev *net;
	struct vmm_virtio_queue *q;
	struct host_net_queue eq;
	struct vmm_io_flush flush;
};

struct vnet_dev {
	struct vmm_virtio_dev vdev;
	struct vmm_net_config cfg;
	struct host_tap tap;
	struct virtio_net_config config;
	struct vnet_queue vq[2 * HOST_NET_MAX_PAIRS];
};

/* Attaches to (or creates) the tap and sets up the device. */
int vnet_dev_init(struct vnet_dev *n, const struct vmm_net_config *cfg, unsigned index,
		  struct vmm_io *io, const struct gmem *mem, struct host_err *err);
void vnet_dev_destroy(struct vnet_dev *n);

#endif
