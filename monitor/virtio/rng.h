/* SPDX-License-Identifier: MIT */
/* virtio-rng (virtio 1.2, 5.4): one queue, filled from the host's getrandom(). */
#ifndef VMMON_VIRTIO_RNG_H
#define VMMON_VIRTIO_RNG_H

#include "device.h"

struct vrng_dev {
	struct vmm_virtio_dev vdev;
	struct vmm_io_flush flush;
	uint64_t bytes;
};

int vrng_dev_init(struct vrng_dev *r, struct vmm_io *io, const struct gmem *mem);
void vrng_dev_destroy(struct vrng_dev *r);

#endif
