// SPDX-License-Identifier: MIT
#include <linux/virtio_config.h>
#include <stddef.h>

#include "drivers/virtio_net.h"
#include "lib/errno.h"
#include "lib/string.h"
#include "runtime/mem.h"

#define CFG(field) offsetof(struct virtio_net_config, field)

static int post_rx(struct g_vnet *n, uint8_t *buf)
{
	struct vq_sg sg = {g_mem_phys(buf), G_VNET_BUF};

	return vq_drv_add(&n->rx.drv, &sg, 0, 1, buf, NULL, 0);
}

static int setup(struct g_vnet *n, const struct g_virtio_opts *o)
{
	int rc;

	if (n->has_mac) {
		for (unsigned int i = 0; i < sizeof(n->mac); i++)
			n->mac[i] = g_virtio_cfg8(n->dev, CFG(mac) + i);
	}
	rc = g_virtio_irq_setup(n->dev, o, 2);
	if (!rc)
		rc = g_virtq_init(n->dev, &n->rx, G_VNET_RX_QUEUE, 0);
	if (!rc)
		rc = g_virtq_init(n->dev, &n->tx, G_VNET_TX_QUEUE, 0);
	if (rc)
		return rc;
	n->nrx = n->rx.num < G_VNET_RX_BUFS ? n->rx.num : G_VNET_RX_BUFS;
	n->rxbuf = g_mem_alloc((size_t)n->nrx * G_VNET_BUF, 4096);
	n->txbuf = g_mem_alloc((size_t)G_VNET_TX_BUFS * G_VNET_BUF, 4096);
	if (!n->rxbuf || !n->txbuf)
		return -ENOMEM;
	for (unsigned int i = 0; i < G_VNET_TX_BUFS; i++)
		n->tx_free[n->ntx_free++] = (uint8_t)i;
	/* Buffers may be posted before DRIVER_OK (3.1.1 step 7), so none is missing when the
	 * device goes live. */
	for (unsigned int i = 0; i < n->nrx; i++) {
		rc = post_rx(n, n->rxbuf + (size_t)i * G_VNET_BUF);
		if (rc)
			return rc;
	}
	rc = g_virtio_ready(n->dev);
	if (!rc)
		g_virtq_kick(&n->rx);
	return rc;
}

int g_vnet_init(struct g_vnet *n, struct g_virtio_dev *d, const struct g_virtio_opts *o)
{
	int rc;

	memset(n, 0, sizeof(*n));
	n->dev = d;
	n->qp[0] = &n->rx;
	n->qp[1] = &n->tx;
	rc = g_virtio_negotiate(d, o, 1ull << VIRTIO_NET_F_MAC);
	if (rc)
		return rc;
	n->has_mac = g_virtio_has(d, VIRTIO_NET_F_MAC);
	rc = setup(n, o);
	if (rc)
		g_virtio_fail(d);
	return rc;
}

void *g_vnet_recv(struct g_vnet *n, uint8_t **frame, uint32_t *len)
{
	uint8_t *buf;
	uint32_t used;

	while ((buf = vq_drv_get(&n->rx.drv, &used))) {
		/* The used length covers the header too (5.1.6.4); anything outside what a frame
		 * can be is a device error, and the buffer goes straight back. */
		if (used < G_VNET_HDR + 14 || used > G_VNET_BUF) {
			n->rx_bad++;
			post_rx(n, buf);
			continue;
		}
		n->rx_frames++;
		*frame = buf + G_VNET_HDR;
		*len = used - (uint32_t)G_VNET_HDR;
		return buf;
	}
	return NULL;
}

void g_vnet_recv_done(struct g_vnet *n, void *buf)
{
	post_rx(n, buf); /* cannot fail: the buffer's own slot was just freed */
}

void g_vnet_kick_rx(struct g_vnet *n)
{
	g_virtq_kick(&n->rx);
}

/* Takes back the transmit buffers the device is done with. */
static void reclaim_tx(struct g_vnet *n)
{
	uint8_t *buf;

	while ((buf = vq_drv_get(&n->tx.drv, NULL)))
		n->tx_free[n->ntx_free++] = (uint8_t)((size_t)(buf - n->txbuf) / G_VNET_BUF);
}

int g_vnet_send(struct g_vnet *n, const void *frame, uint32_t len)
{
	struct vq_sg sg;
	uint8_t *buf;
	int rc;

	if (len > G_VNET_FRAME_MAX)
		return -EINVAL;
	reclaim_tx(n);
	if (!n->ntx_free)
		return -ENOSPC;
	buf = n->txbuf + (size_t)n->tx_free[n->ntx_free - 1] * G_VNET_BUF;
	memset(buf, 0, G_VNET_HDR); /* no checksum offload, no GSO */
	memcpy(buf + G_VNET_HDR, frame, len);
	sg = (struct vq_sg){g_mem_phys(buf), (uint32_t)G_VNET_HDR + len};
	rc = vq_drv_add(&n->tx.drv, &sg, 1, 0, buf, NULL, 0);
	if (rc)
		return rc;
	n->ntx_free--;
	n->tx_frames++;
	g_virtq_kick(&n->tx);
	return 0;
}

int g_vnet_wait(struct g_vnet *n, uint64_t deadline)
{
	/* Receive only: transmit buffers are taken back when the next frame goes out, so their
	 * completions need no interrupt. */
	return g_virtio_wait(n->dev, &n->qp[0], 1, deadline);
}

int g_vnet_tx_wait(struct g_vnet *n, uint64_t deadline)
{
	for (;;) {
		int rc;

		reclaim_tx(n);
		if (n->ntx_free)
			return 0;
		rc = g_virtio_wait(n->dev, &n->qp[1], 1, deadline);
		if (rc)
			return rc;
	}
}
