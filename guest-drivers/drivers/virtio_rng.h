/* SPDX-License-Identifier: MIT */
/* virtio-rng driver (virtio 1.2, 5.4): one request queue of device-writable buffers. */
#ifndef G_DRIVERS_VIRTIO_RNG_H
#define G_DRIVERS_VIRTIO_RNG_H

#include <stdint.h>

#include "drivers/virtio.h"

#define G_VRNG_BUF 4096

struct g_vrng {
	struct g_virtio_dev *dev;
	struct g_virtq q;
	uint8_t *buf; /* G_VRNG_BUF bytes the device fills */
};

/* Sets up the queue and interrupts and starts the device. 0 or -errno (left FAILED). */
int g_vrng_init(struct g_vrng *r, struct g_virtio_dev *d, const struct g_virtio_opts *o);

/* Fills up to len bytes of out (one request of at most G_VRNG_BUF): the count the device
 * wrote, or -ETIMEDOUT/-errno. */
int g_vrng_read(struct g_vrng *r, void *out, uint32_t len, uint64_t timeout_us);

#endif
