/* SPDX-License-Identifier: MIT */
/*
 * virtio-net driver (virtio 1.2, 5.1): one receive and one transmit queue, no offloads, no
 * mergeable receive buffers. Every frame carries struct virtio_net_hdr_v1 (12 bytes with
 * VIRTIO_F_VERSION_1), zeroed on transmit. Receive buffers are kept posted: each taken frame is
 * given back with g_vnet_recv_done. Layouts are Linux's <linux/virtio_net.h>.
 */
#ifndef G_DRIVERS_VIRTIO_NET_H
#define G_DRIVERS_VIRTIO_NET_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio.h"

#define G_VNET_HDR	 sizeof(struct virtio_net_hdr_v1)
#define G_VNET_FRAME_MAX 1514 /* Ethernet without FCS; no GSO is negotiated */
#define G_VNET_BUF	 2048 /* header + frame, rounded up */
#define G_VNET_RX_BUFS	 128
#define G_VNET_TX_BUFS	 32
#define G_VNET_RX_QUEUE	 0
#define G_VNET_TX_QUEUE	 1

struct g_vnet {
	struct g_virtio_dev *dev;
	struct g_virtq rx, tx;
	struct g_virtq *qp[2];
	uint8_t mac[6];
	bool has_mac;	  /* VIRTIO_NET_F_MAC: mac is the device's */
	unsigned int nrx; /* receive buffers posted */
	uint8_t *rxbuf;	  /* nrx buffers of G_VNET_BUF */
	uint8_t *txbuf;	  /* G_VNET_TX_BUFS buffers of G_VNET_BUF */
	uint8_t tx_free[G_VNET_TX_BUFS];
	unsigned int ntx_free;
	uint64_t rx_frames, rx_bad, tx_frames;
};

/* Negotiates VIRTIO_NET_F_MAC when offered, sets up both queues and interrupts, posts the
 * receive buffers and starts the device. Returns 0 or -errno (the device is left FAILED). */
int g_vnet_init(struct g_vnet *n, struct g_virtio_dev *d, const struct g_virtio_opts *o);

/* The next received frame (Ethernet header first) in *frame and *len; returns its buffer,
 * which the caller gives back with g_vnet_recv_done, or NULL if nothing arrived. Frames with
 * a bad length are dropped and counted in rx_bad. */
void *g_vnet_recv(struct g_vnet *n, uint8_t **frame, uint32_t *len);
void g_vnet_recv_done(struct g_vnet *n, void *buf);

/* Copies a frame out and queues it; the device is notified. -ENOSPC when every transmit
 * buffer is in flight, -EINVAL for a frame longer than G_VNET_FRAME_MAX. */
int g_vnet_send(struct g_vnet *n, const void *frame, uint32_t len);

/* Notifies the device of receive buffers given back. */
void g_vnet_kick_rx(struct g_vnet *n);

/* Waits for a received frame, up to the TSC deadline (see g_virtio_wait). */
int g_vnet_wait(struct g_vnet *n, uint64_t deadline);

/* Waits until a transmit buffer is free, up to the TSC deadline: with interrupts, the transmit
 * queue's is armed only for the sleep (see g_virtio_wait). 0 or -ETIMEDOUT. */
int g_vnet_tx_wait(struct g_vnet *n, uint64_t deadline);

#endif
