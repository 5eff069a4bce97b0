/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.2, 5.1) on a host tap with the virtio-net header (IFF_VNET_HDR):
 * frames pass between the guest's buffers and the tap through io_uring. Receive reads stay
 * posted in hard-linked chains, one chain per queue at a time, so frames fill buffers in
 * arrival order; transmits are hard-linked writes in ring order. Several queue pairs use a
 * multi-queue tap, one tap queue per pair, attached only while the front-end has the pair's
 * receive ring enabled. The control queue, if any, stays with the front-end (as with QEMU).
 */
#ifndef IOPROXY_NET_H
#define IOPROXY_NET_H

#include "cli.h"
#include "host/err.h"
#include "iop.h"

int iop_net_create(struct iop_dev **out, unsigned id, const struct iop_dev_cfg *cfg,
		   struct iop_pool *pool, struct host_err *err);

#endif
