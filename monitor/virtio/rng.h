/* SPDX-License-Identifier: MIT */
/* virtio-rng (virtio 1.2, 5.4): one queue, filled from the host's getrandom(). */
#ifndef VMMON_VIRTIO_RNG_H
#define VMMON_VIRTIO_RNG_H

#include "device.h"

struct rng_dev {
	struct vmm_virtio_dev vdev;
	struct vmm_io_flush flush;
	uint64_t bytes;
};

int rng_dev_init(struct rng_dev *r, struct vmm_io *io, const struct gmem *mem);
void rng_dev_destroy(struct rng_dev *r);

#endif
