/* SPDX-License-Identifier: MIT */
/*
 * virtio-console driver (virtio 1.2, 5.3), port 0 only: VIRTIO_CONSOLE_F_MULTIPORT is not
 * negotiated, so the device has one receive and one transmit queue and no control queue.
 * Receive buffers are kept posted; writes wait until the device has taken the bytes.
 */
#ifndef G_DRIVERS_VIRTIO_CONSOLE_H
#define G_DRIVERS_VIRTIO_CONSOLE_H

#include <stdint.h>

#include "drivers/virtio.h"

#define G_VCONS_RX_QUEUE 0
#define G_VCONS_TX_QUEUE 1
#define G_VCONS_RX_BUFS	 8
#define G_VCONS_BUF	 512

struct g_vcons {
	struct g_virtio_dev *dev;
	struct g_virtq rx, tx;
	uint8_t *rxbuf; /* G_VCONS_RX_BUFS buffers of G_VCONS_BUF */
	uint8_t *txbuf; /* one buffer of G_VCONS_BUF */
	uint8_t *cur;	/* receive buffer being read, or NULL */
	uint32_t cur_len, cur_off;
	uint64_t rx_bad;
};

/* Sets up both queues and interrupts, posts the receive buffers and starts the device.
 * Returns 0 or -errno (the device is left FAILED). */
int g_vcons_init(struct g_vcons *c, struct g_virtio_dev *d, const struct g_virtio_opts *o);

/* Sends len bytes and waits until the device has taken them: 0, or -ETIMEDOUT/-errno. */
int g_vcons_write(struct g_vcons *c, const void *buf, uint32_t len, uint64_t timeout_us);

/* Up to max received bytes, waiting until some arrive or the TSC passes deadline: the count,
 * or -ETIMEDOUT/-errno. */
int g_vcons_read(struct g_vcons *c, void *buf, uint32_t max, uint64_t deadline);

#endif
