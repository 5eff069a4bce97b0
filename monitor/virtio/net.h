/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.2, 5.1) on a host tap device with the virtio-net header (IFF_VNET_HDR):
 * frames pass between the guest's buffers and the tap through io_uring on vmmon's I/O thread.
 * Receive reads stay posted in hard-linked chains, so frames land in arrival order; several
 * queue pairs use a multi-queue tap and the control queue.
 */
#ifndef VMMON_VIRTIO_NET_H
#define VMMON_VIRTIO_NET_H

#include <linux/virtio_net.h>

#include "../config.h"
#include "host/err.h"
#include "device.h"

#define NET_QUEUE_SIZE 256
#define NET_MAX_PAIRS  8

struct net_req;

struct net_vq {
	struct net_dev *net;
	struct vmm_virtio_queue *q;
	int fd; /* this pair's tap queue */
	bool rx;
	struct vmm_io_flush flush;
	struct net_req *slots;
	unsigned *free;
	unsigned nfree;
	unsigned inflight;
};

struct net_dev {
	struct vmm_virtio_dev vdev;
	struct vmm_net_config cfg;
	unsigned pairs;
	int fd[NET_MAX_PAIRS];
	struct virtio_net_config config;
	struct net_vq vq[2 * NET_MAX_PAIRS];
	uint64_t rx_frames, tx_frames, dropped, bad_chains;
};

/* Attaches to (or creates) the tap and sets up the device. */
int net_dev_init(struct net_dev *n, const struct vmm_net_config *cfg, unsigned index,
		 struct vmm_io *io, const struct gmem *mem, struct host_err *err);
void net_dev_destroy(struct net_dev *n);

#endif
