/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2, 5.2) over a file or a raw block device: read, write, flush,
 * discard, write-zeroes and get-id, one or more queues, read-only, O_DIRECT with a page-cache
 * descriptor for unaligned buffers. Requests are parsed by rings/blk_req.c. A request's used
 * entry is pushed only after its io_uring completion: a write is acknowledged once the kernel
 * has it, a flush once fsync returned.
 */
#ifndef IOPROXY_BLK_H
#define IOPROXY_BLK_H

#include "cli.h"
#include "host/err.h"
#include "iop.h"

/* Opens the backing file and makes the device. Its descriptors are appended to files[] (up
 * to max) for registration with the workers' rings. */
int iop_blk_create(struct iop_dev **out, unsigned id, const struct iop_dev_cfg *cfg,
		   struct iop_pool *pool, int *files, unsigned *nfiles, unsigned max,
		   struct host_err *err);

#endif
