// SPDX-License-Identifier: MIT
#include "drivers/tsc.h"
#include "drivers/virtio_rng.h"
#include "lib/errno.h"
#include "lib/string.h"
#include "runtime/mem.h"

static int setup(struct g_vrng *r, const struct g_virtio_opts *o)
{
	int rc = g_virtio_irq_setup(r->dev, o, 1);

	if (!rc)
		rc = g_virtq_init(r->dev, &r->q, 0, 0);
	if (rc)
		return rc;
	r->buf = g_mem_alloc(G_VRNG_BUF, 64);
	if (!r->buf)
		return -ENOMEM;
	return g_virtio_ready(r->dev);
}

int g_vrng_init(struct g_vrng *r, struct g_virtio_dev *d, const struct g_virtio_opts *o)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->dev = d;
	rc = g_virtio_negotiate(d, o, 0);
	if (rc)
		return rc;
	rc = setup(r, o);
	if (rc)
		g_virtio_fail(d);
	return rc;
}

int g_vrng_read(struct g_vrng *r, void *out, uint32_t len, uint64_t timeout_us)
{
	uint64_t deadline = g_tsc_deadline(timeout_us);
	struct g_virtq *qs[1] = {&r->q};
	struct vq_sg sg;
	uint32_t used;
	int rc;

	if (len > G_VRNG_BUF)
		len = G_VRNG_BUF;
	sg = (struct vq_sg){g_mem_phys(r->buf), len};
	rc = vq_drv_add(&r->q.drv, &sg, 0, 1, r->buf, NULL, 0);
	if (rc)
		return rc;
	g_virtq_kick(&r->q);
	while (!vq_drv_get(&r->q.drv, &used)) {
		rc = g_virtio_wait(r->dev, qs, 1, deadline);
		if (rc)
			return rc;
	}
	if (used > len)
		return -EIO; /* more than it was given: a device error */
	memcpy(out, r->buf, used);
	return (int)used;
}
