// SPDX-License-Identifier: MIT
#include <stddef.h>

#include "drivers/tsc.h"
#include "drivers/virtio_blk.h"
#include "lib/errno.h"
#include "lib/string.h"
#include "runtime/mem.h"

#define WANTED                                                                                     \
	((1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |                        \
	 (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |                             \
	 (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_MQ) |                                \
	 (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES))
#define CFG(field) offsetof(struct virtio_blk_config, field)

static void read_config(struct g_vblk *b)
{
	struct g_virtio_dev *d = b->dev;

	b->capacity = g_virtio_cfg64(d, CFG(capacity));
	if (g_virtio_has(d, VIRTIO_BLK_F_SIZE_MAX))
		b->size_max = g_virtio_cfg32(d, CFG(size_max));
	b->nq = 1;
	if (g_virtio_has(d, VIRTIO_BLK_F_MQ)) {
		uint16_t n = g_virtio_cfg16(d, CFG(num_queues));

		b->nq = n < 1 ? 1 : n > G_VBLK_MAX_QUEUES ? G_VBLK_MAX_QUEUES : n;
	}
	if (g_virtio_has(d, VIRTIO_BLK_F_DISCARD)) {
		b->max_discard_sectors = g_virtio_cfg32(d, CFG(max_discard_sectors));
		b->discard_align = g_virtio_cfg32(d, CFG(discard_sector_alignment));
	}
	if (g_virtio_has(d, VIRTIO_BLK_F_WRITE_ZEROES))
		b->max_write_zeroes_sectors = g_virtio_cfg32(d, CFG(max_write_zeroes_sectors));
}

static int setup(struct g_vblk *b, const struct g_virtio_opts *o, uint16_t queue_size)
{
	int rc;

	read_config(b);
	rc = g_virtio_irq_setup(b->dev, o, b->nq);
	for (unsigned int i = 0; !rc && i < b->nq; i++) {
		rc = g_virtq_init(b->dev, &b->q[i], (uint16_t)i, queue_size);
		b->qp[i] = &b->q[i];
	}
	if (rc)
		return rc;
	b->sync = g_vblk_reqs_alloc(1);
	b->sync_buf = g_mem_alloc(G_VBLK_ID_BYTES, 64);
	if (!b->sync || !b->sync_buf)
		return -ENOMEM;
	return g_virtio_ready(b->dev);
}

int g_vblk_init(struct g_vblk *b, struct g_virtio_dev *d, const struct g_virtio_opts *o,
		uint16_t queue_size)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->dev = d;
	rc = g_virtio_negotiate(d, o, WANTED);
	if (rc)
		return rc;
	rc = setup(b, o, queue_size);
	if (rc)
		g_virtio_fail(d);
	return rc;
}

struct g_vblk_req *g_vblk_reqs_alloc(unsigned int n)
{
	return g_mem_alloc(n * sizeof(struct g_vblk_req), 64);
}

void g_vblk_prep(struct g_vblk_req *r, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	r->hdr = (struct virtio_blk_outhdr){.type = type, .ioprio = 0, .sector = sector};
	r->buf = buf;
	r->len = len;
	r->status = 0xff; /* not a status: shows a completion that wrote none */
	r->written = 0;
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		r->hdr.sector = 0; /* the range says where (5.2.6) */
		r->range = (struct virtio_blk_discard_write_zeroes){
			.sector = sector, .num_sectors = len, .flags = 0};
		r->buf = NULL;
	}
}

/* The chain: header, then what the type carries, then the status byte (5.2.6). */
static unsigned int build_sg(struct g_vblk_req *r, struct vq_sg *sg, unsigned int *nout)
{
	unsigned int n = 0;

	sg[n++] = (struct vq_sg){g_mem_phys(&r->hdr), sizeof(r->hdr)};
	switch (r->hdr.type) {
	case VIRTIO_BLK_T_OUT:
		sg[n++] = (struct vq_sg){g_mem_phys(r->buf), r->len};
		*nout = n;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		sg[n++] = (struct vq_sg){g_mem_phys(&r->range), sizeof(r->range)};
		*nout = n;
		break;
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		*nout = n;
		sg[n++] = (struct vq_sg){g_mem_phys(r->buf), r->len};
		break;
	default: /* FLUSH */
		*nout = n;
		break;
	}
	sg[n++] = (struct vq_sg){g_mem_phys(&r->status), 1};
	return n;
}

int g_vblk_submit(struct g_vblk *b, unsigned int q, struct g_vblk_req *r)
{
	struct vq_sg sg[3];
	unsigned int nout, n;

	if (q >= b->nq)
		return -EINVAL;
	if ((r->hdr.type == VIRTIO_BLK_T_IN || r->hdr.type == VIRTIO_BLK_T_OUT) &&
	    (!r->len || r->len % G_VBLK_SECTOR || (b->size_max && r->len > b->size_max)))
		return -EINVAL;
	n = build_sg(r, sg, &nout);
	r->queue = (uint16_t)q;
	return vq_drv_add(&b->q[q].drv, sg, nout, n - nout, r, r->indirect,
			  g_mem_phys(r->indirect));
}

void g_vblk_kick(struct g_vblk *b)
{
	for (unsigned int i = 0; i < b->nq; i++)
		g_virtq_kick(&b->q[i]);
}

struct g_vblk_req *g_vblk_poll(struct g_vblk *b, unsigned int q)
{
	uint32_t len;
	struct g_vblk_req *r = vq_drv_get(&b->q[q].drv, &len);

	if (r)
		r->written = len;
	return r;
}

int g_vblk_wait(struct g_vblk *b, uint64_t deadline)
{
	return g_virtio_wait(b->dev, b->qp, b->nq, deadline);
}

int g_vblk_wait_any(struct g_vblk *const *b, unsigned int n, uint64_t deadline)
{
	struct g_virtio_waiter w[G_VIRTIO_WAIT_MAX_DEVS];

	if (n > G_VIRTIO_WAIT_MAX_DEVS)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		w[i] = (struct g_virtio_waiter){.dev = b[i]->dev, .qs = b[i]->qp, .nq = b[i]->nq};
	return g_virtio_wait_any(w, n, deadline);
}

int g_vblk_status_errno(const struct g_vblk_req *r)
{
	/* The status byte is read after vq_drv_get's acquire, which pairs with the device's
	 * release of the completion: it is the device's final value. Not the used length: a
	 * packed ring reports none unless the device sets VIRTQ_DESC_F_WRITE in the used
	 * descriptor (2.8.4), so a status never written shows as g_vblk_prep's 0xff. */
	switch (r->status) {
	case VIRTIO_BLK_S_OK:
		return 0;
	case VIRTIO_BLK_S_UNSUPP:
		return -ENOTSUP;
	default:
		return -EIO;
	}
}

int g_vblk_sync(struct g_vblk *b, uint32_t type, uint64_t sector, void *buf, uint32_t len,
		uint64_t timeout_us)
{
	uint64_t deadline = g_tsc_deadline(timeout_us);
	struct g_vblk_req *r = b->sync, *done;
	int rc;

	g_vblk_prep(r, type, sector, buf, len);
	rc = g_vblk_submit(b, 0, r);
	if (rc)
		return rc;
	g_vblk_kick(b);
	while (!(done = g_vblk_poll(b, 0))) {
		rc = g_vblk_wait(b, deadline);
		if (rc)
			return rc;
	}
	return done == r ? g_vblk_status_errno(r) : -EIO;
}

int g_vblk_get_id(struct g_vblk *b, char *id, uint64_t timeout_us)
{
	int rc;

	memset(b->sync_buf, 0, G_VBLK_ID_BYTES);
	rc = g_vblk_sync(b, VIRTIO_BLK_T_GET_ID, 0, b->sync_buf, G_VBLK_ID_BYTES, timeout_us);
	if (rc)
		return rc;
	/* Not NUL-terminated when it fills all 20 bytes (5.2.6). */
	memcpy(id, b->sync_buf, G_VBLK_ID_BYTES);
	id[G_VBLK_ID_BYTES] = '\0';
	return 0;
}
