// SPDX-License-Identifier: MIT
/*
 * The block-device interface: picking the backend, the synchronous helper, and the virtio-blk
 * backend, a thin layer over drivers/virtio_blk.c. Each generic request has a virtio request
 * behind it (priv), whose cookie points back, so a completion from the ring is the generic
 * request at once.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "drivers/tsc.h"
#include "drivers/virtio_blk.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/blkdev.h"
#include "programs/vdev.h"
#include "runtime/mem.h"

_Static_assert(G_BLKDEV_WAIT_MAX <= G_VIRTIO_WAIT_MAX_DEVS, "a wait's devices fit the driver's");

int g_blkdev_open(struct g_run *run, unsigned int index, const char *name, struct g_blkdev **d)
{
	const char *dev = g_arg("dev");
	int rc;

	if (!dev || !*dev || !strcmp(dev, "virtio"))
		return g_blkdev_open_virtio(run, index, name, d);
	if (strcmp(dev, "ata") && strcmp(dev, "ata-dma"))
		return g_run_fail(run, "bad dev=%s (virtio, ata, ata-dma)", dev);
	if (index)
		return g_run_fail(run, "dev=%s drives one disk", dev);
	rc = g_blkdev_open_ata(run, d, !strcmp(dev, "ata-dma"));
	if (!rc)
		(*d)->name = name;
	return rc;
}

int g_blkdev_wait_any(struct g_blkdev *const *devs, unsigned int n, uint64_t deadline)
{
	for (unsigned int i = 1; i < n; i++) {
		if (devs[i]->ops != devs[0]->ops)
			return -EINVAL;
	}
	return n ? devs[0]->ops->wait(devs, n, deadline) : -EINVAL;
}

void g_blkdev_prep(struct g_blkdev_req *r, enum g_blkdev_op op, uint64_t sector, void *buf,
		   uint32_t len)
{
	r->op = op;
	r->sector = sector;
	r->buf = buf;
	r->len = len;
	r->status = -EIO; /* until a completion says otherwise */
	r->written = 0;
}

int g_blkdev_sync(struct g_blkdev *d, enum g_blkdev_op op, uint64_t sector, void *buf, uint32_t len,
		  uint64_t timeout_us)
{
	uint64_t deadline = g_tsc_deadline(timeout_us);
	struct g_blkdev_req *r = d->sync, *done;
	int rc;

	g_blkdev_prep(r, op, sector, buf, len);
	rc = g_blkdev_submit(d, 0, r);
	if (rc)
		return rc;
	g_blkdev_kick(d);
	while (!(done = g_blkdev_poll(d, 0))) {
		rc = g_blkdev_wait(d, deadline);
		if (rc)
			return rc;
	}
	return done == r ? r->status : -EIO;
}

void g_blkdev_report_counts(struct g_blkdev *d, uint64_t interrupts_mark)
{
	uint64_t kicks, irqs;

	d->ops->counts(d, &kicks, &irqs);
	g_printf("time: %s: %lu notifications, %lu interrupts\n", d->name, (unsigned long)kicks,
		 (unsigned long)(irqs - interrupts_mark));
}

/* ------------------------------------------------------------------ virtio-blk */

struct vblkdev {
	struct g_blkdev gen; /* first: the ops get it */
	struct g_vprog prog;
	struct g_vblk blk;
};

static const uint32_t vblk_type[] = {
	[G_BLKDEV_READ] = VIRTIO_BLK_T_IN,
	[G_BLKDEV_WRITE] = VIRTIO_BLK_T_OUT,
	[G_BLKDEV_FLUSH] = VIRTIO_BLK_T_FLUSH,
	[G_BLKDEV_WRITE_ZEROES] = VIRTIO_BLK_T_WRITE_ZEROES,
	[G_BLKDEV_DISCARD] = VIRTIO_BLK_T_DISCARD,
	[G_BLKDEV_GET_ID] = VIRTIO_BLK_T_GET_ID,
};

static struct vblkdev *to_v(struct g_blkdev *d)
{
	return (struct vblkdev *)d;
}

struct g_vblk *g_blkdev_vblk(struct g_blkdev *d)
{
	return strcmp(d->kind, "virtio") ? NULL : &to_v(d)->blk;
}

static struct g_blkdev_req *v_reqs_alloc(struct g_blkdev *d, unsigned int n)
{
	struct g_blkdev_req *r = g_mem_alloc(n * sizeof(*r), 64);
	struct g_vblk_req *vr = g_vblk_reqs_alloc(n);

	(void)d;
	if (!r || !vr)
		return NULL;
	for (unsigned int i = 0; i < n; i++) {
		r[i].priv = &vr[i];
		vr[i].cookie = &r[i];
	}
	return r;
}

static int v_submit(struct g_blkdev *d, unsigned int q, struct g_blkdev_req *r)
{
	struct g_vblk_req *vr = r->priv;

	g_vblk_prep(vr, vblk_type[r->op], r->sector, r->buf, r->len);
	return g_vblk_submit(&to_v(d)->blk, q, vr);
}

static void v_kick(struct g_blkdev *d)
{
	g_vblk_kick(&to_v(d)->blk);
}

static struct g_blkdev_req *v_poll(struct g_blkdev *d, unsigned int q)
{
	struct g_vblk_req *vr = g_vblk_poll(&to_v(d)->blk, q);
	struct g_blkdev_req *r;

	if (!vr)
		return NULL;
	r = vr->cookie;
	r->status = g_vblk_status_errno(vr);
	/* The used length counts the status byte too (5.2.6); 0 is "not reported". */
	r->written = vr->written ? vr->written - 1 : 0;
	return r;
}

static int v_wait(struct g_blkdev *const *devs, unsigned int n, uint64_t deadline)
{
	struct g_vblk *b[G_VIRTIO_WAIT_MAX_DEVS];

	if (n > G_VIRTIO_WAIT_MAX_DEVS)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		b[i] = &to_v(devs[i])->blk;
	return g_vblk_wait_any(b, n, deadline);
}

static void v_counts(struct g_blkdev *d, uint64_t *notifications, uint64_t *interrupts)
{
	struct g_vblk *b = &to_v(d)->blk;

	*notifications = 0;
	for (unsigned int i = 0; i < b->nq; i++)
		*notifications += b->q[i].kicks;
	*interrupts = g_virtio_irq_count(b->dev);
}

static void v_close(struct g_blkdev *d)
{
	g_virtio_reset(to_v(d)->prog.dev);
}

static const struct g_blkdev_ops vblk_ops = {
	.reqs_alloc = v_reqs_alloc,
	.submit = v_submit,
	.kick = v_kick,
	.poll = v_poll,
	.wait = v_wait,
	.counts = v_counts,
	.close = v_close,
};

int g_blkdev_open_virtio(struct g_run *run, unsigned int index, const char *name,
			 struct g_blkdev **out)
{
	struct vblkdev *v = g_mem_alloc(sizeof(*v), 64);
	struct g_blkdev *d = &v->gen;
	struct g_vblk *b = &v->blk;
	int rc;

	if (!v)
		return g_run_fail(run, "out of memory for the device");
	if (g_vprog_open_nth(run, &v->prog, name, VIRTIO_ID_BLOCK, index))
		return -1;
	rc = g_vblk_init(b, v->prog.dev, &v->prog.opts, 0);
	if (rc)
		return g_run_fail(run, "virtio-blk set-up failed (error %d)", rc);
	g_printf("mem: %s: %u queue(s) of %u entries\n", name, b->nq, b->q[0].num);
	g_vprog_report(&v->prog);
	d->ops = &vblk_ops;
	d->name = name;
	d->kind = "virtio";
	d->irq_mode = g_virtio_irq_mode_name(v->prog.dev->irq_mode);
	d->capacity = b->capacity;
	d->max_bytes = b->size_max;
	d->nq = b->nq;
	d->caps = G_BLKDEV_CAN_GET_ID; /* a device without it answers UNSUPP */
	if (g_vblk_has(b, VIRTIO_BLK_F_FLUSH))
		d->caps |= G_BLKDEV_CAN_FLUSH;
	if (g_vblk_has(b, VIRTIO_BLK_F_WRITE_ZEROES))
		d->caps |= G_BLKDEV_CAN_WRITE_ZEROES;
	if (g_vblk_has(b, VIRTIO_BLK_F_DISCARD))
		d->caps |= G_BLKDEV_CAN_DISCARD;
	if (g_vblk_has(b, VIRTIO_BLK_F_RO))
		d->caps |= G_BLKDEV_READ_ONLY;
	d->max_discard_sectors = b->max_discard_sectors;
	d->discard_align = b->discard_align;
	d->max_write_zeroes_sectors = b->max_write_zeroes_sectors;
	d->len_optional = g_virtio_has(b->dev, VIRTIO_F_RING_PACKED);
	d->sync = v_reqs_alloc(d, 1);
	if (!d->sync)
		return g_run_fail(run, "out of memory for the device");
	*out = d;
	return 0;
}
