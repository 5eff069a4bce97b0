// SPDX-License-Identifier: MIT
#include "drivers/tsc.h"
#include "drivers/virtio_console.h"
#include "lib/errno.h"
#include "lib/string.h"
#include "runtime/mem.h"

static int post_rx(struct g_vcons *c, uint8_t *buf)
{
	struct vq_sg sg = {g_mem_phys(buf), G_VCONS_BUF};

	return vq_drv_add(&c->rx.drv, &sg, 0, 1, buf, NULL, 0);
}

static int setup(struct g_vcons *c, const struct g_virtio_opts *o)
{
	int rc = g_virtio_irq_setup(c->dev, o, 2);

	if (!rc)
		rc = g_virtq_init(c->dev, &c->rx, G_VCONS_RX_QUEUE, 0);
	if (!rc)
		rc = g_virtq_init(c->dev, &c->tx, G_VCONS_TX_QUEUE, 0);
	if (rc)
		return rc;
	c->rxbuf = g_mem_alloc(G_VCONS_RX_BUFS * G_VCONS_BUF, 64);
	c->txbuf = g_mem_alloc(G_VCONS_BUF, 64);
	if (!c->rxbuf || !c->txbuf)
		return -ENOMEM;
	for (unsigned int i = 0; i < G_VCONS_RX_BUFS && i < c->rx.num; i++) {
		rc = post_rx(c, c->rxbuf + i * G_VCONS_BUF);
		if (rc)
			return rc;
	}
	rc = g_virtio_ready(c->dev);
	if (!rc)
		g_virtq_kick(&c->rx);
	return rc;
}

int g_vcons_init(struct g_vcons *c, struct g_virtio_dev *d, const struct g_virtio_opts *o)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->dev = d;
	rc = g_virtio_negotiate(d, o, 0); /* no SIZE, MULTIPORT or EMERG_WRITE: port 0 only */
	if (rc)
		return rc;
	rc = setup(c, o);
	if (rc)
		g_virtio_fail(d);
	return rc;
}

/* Waits for a completion on q alone. */
static int wait_one(struct g_vcons *c, struct g_virtq *q, uint64_t deadline)
{
	struct g_virtq *qs[1] = {q};

	return g_virtio_wait(c->dev, qs, 1, deadline);
}

int g_vcons_write(struct g_vcons *c, const void *buf, uint32_t len, uint64_t timeout_us)
{
	uint64_t deadline = g_tsc_deadline(timeout_us);
	const uint8_t *p = buf;

	while (len) {
		uint32_t n = len < G_VCONS_BUF ? len : G_VCONS_BUF;
		struct vq_sg sg = {g_mem_phys(c->txbuf), n};
		int rc;

		memcpy(c->txbuf, p, n);
		rc = vq_drv_add(&c->tx.drv, &sg, 1, 0, c->txbuf, NULL, 0);
		if (rc)
			return rc;
		g_virtq_kick(&c->tx);
		while (!vq_drv_get(&c->tx.drv, NULL)) { /* the one buffer comes back */
			rc = wait_one(c, &c->tx, deadline);
			if (rc)
				return rc;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Moves on to the next filled receive buffer; false if none has arrived. */
static bool next_rx(struct g_vcons *c)
{
	uint32_t used;
	uint8_t *buf;

	while ((buf = vq_drv_get(&c->rx.drv, &used))) {
		if (used && used <= G_VCONS_BUF) {
			c->cur = buf;
			c->cur_len = used;
			c->cur_off = 0;
			return true;
		}
		c->rx_bad++; /* no length, or more than the buffer: nothing usable */
		post_rx(c, buf);
		g_virtq_kick(&c->rx);
	}
	return false;
}

int g_vcons_read(struct g_vcons *c, void *buf, uint32_t max, uint64_t deadline)
{
	uint32_t n;
	int rc;

	while (!c->cur && !next_rx(c)) {
		rc = wait_one(c, &c->rx, deadline);
		if (rc)
			return rc;
	}
	n = c->cur_len - c->cur_off < max ? c->cur_len - c->cur_off : max;
	memcpy(buf, c->cur + c->cur_off, n);
	c->cur_off += n;
	if (c->cur_off == c->cur_len) { /* used up: back to the device */
		post_rx(c, c->cur);
		g_virtq_kick(&c->rx);
		c->cur = NULL;
	}
	return (int)n;
}
