// SPDX-License-Identifier: MIT
/*
 * hostile: a buggy or malicious driver, against the first virtio-blk device. Each attack must
 * end in an error status, a used entry of length 0, or NEEDS_RESET, and the device must keep
 * working afterwards (a good request succeeds after every attack):
 *   - a queue enabled before FEATURES_OK; a queue size that is not a power of two; a kick
 *     before DRIVER_OK (nothing may happen until DRIVER_OK);
 *   - buffers outside RAM and in the PCI hole; the device writing into a device-readable
 *     buffer; a sector past the end; a header split over three descriptors (legal: must work);
 *     a descriptor loop; an over-long chain; a zero-length descriptor; no status byte;
 *   - the available index jumping past the ring (the device needs a reset; after it, the
 *     device works again).
 * Split ring only. For vmmon: QEMU answers most of these by stopping the device for good.
 */
#include "drivers/tsc.h"
#include "drivers/virtio_blk.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/programs.h"
#include "programs/vdev.h"
#include "runtime/mem.h"

#define TIMEOUT_US  2000000
#define QUIET_US    100000	     /* how long "nothing happens" is watched */
#define FAR_OUTSIDE 0x20000000000ull /* 2 TiB: no guest has RAM there */
#define IN_PCI_HOLE 0xc0001000ull
#define UNTOUCHED   0xee
#define LONG_CHAIN  1100 /* more descriptors than a device takes in one chain */
#define NEEDS_RESET 0x40

struct hostile {
	struct g_run *run;
	struct g_vprog p;
	struct g_vblk b;
	struct g_vblk_req *r;
	uint8_t *data;
	unsigned int attacks;
};

/* Waits until the used index of q moves past `since`; returns false on a timeout. */
static bool used_moved(struct g_virtq *q, uint16_t since, uint64_t us)
{
	uint64_t deadline = g_tsc_deadline(us);

	while (__atomic_load_n(&q->drv.used->idx, __ATOMIC_ACQUIRE) == since)
		if (g_rdtsc() > deadline)
			return false;
	return true;
}

/* Adds a chain of n pieces (the first nout device-readable) and kicks; returns the used
 * length the device reported, or -ETIMEDOUT. The token is reclaimed with vq_drv_get. */
static int64_t send(struct hostile *h, const struct vq_sg *sg, unsigned int nout, unsigned int n)
{
	struct g_virtq *q = &h->b.q[0];
	uint16_t before = q->drv.used->idx;
	uint32_t len = 0;

	if (vq_drv_add(&q->drv, sg, nout, n - nout, h->r, NULL, 0))
		return -ENOSPC;
	g_virtq_kick(q);
	if (!used_moved(q, before, TIMEOUT_US))
		return -ETIMEDOUT;
	if (vq_drv_get(&q->drv, &len) != h->r)
		return -EIO;
	return len;
}

/* A good request after every attack: the device still works. */
static int still_works(struct hostile *h, const char *after)
{
	int rc = g_vblk_sync(&h->b, VIRTIO_BLK_T_IN, 0, h->data, 4096, TIMEOUT_US);

	if (rc)
		return g_run_fail(h->run, "a good read failed after %s (error %d)", after, rc);
	h->attacks++;
	return 0;
}

/* One chain: header, then pieces, then the status byte; expects used length `want_len` and,
 * if want_status >= 0, that status (else the status byte untouched). */
static int attack(struct hostile *h, const char *what, uint32_t type, uint64_t sector,
		  const struct vq_sg *data, unsigned int ndata, bool data_readable,
		  int64_t want_len, int want_status)
{
	struct vq_sg sg[4];
	unsigned int n = 0, nout;
	int64_t len;

	h->r->hdr = (struct virtio_blk_outhdr){.type = type, .sector = sector};
	h->r->status = UNTOUCHED;
	sg[n++] = (struct vq_sg){g_mem_phys(&h->r->hdr), sizeof(h->r->hdr)};
	for (unsigned int i = 0; i < ndata; i++)
		sg[n++] = data[i];
	nout = data_readable ? n : 1;
	sg[n++] = (struct vq_sg){g_mem_phys(&h->r->status), 1};
	len = send(h, sg, nout, n);
	if (len != want_len || h->r->status != (want_status < 0 ? UNTOUCHED : want_status))
		return g_run_fail(h->run, "%s: used length %ld status %u, expected %ld and %d",
				  what, (long)len, h->r->status, (long)want_len, want_status);
	g_printf("hostile: %s: refused (used length %ld, status %s)\n", what, (long)len,
		 want_status < 0 ? "untouched"
		 : want_status	 ? "IOERR"
				 : "OK");
	return still_works(h, what);
}

/* Descriptors written straight into the ring, bypassing the driver's bookkeeping: a loop, or
 * an indirect table too long for any chain. Returns the used length. */
static int64_t raw_chain(struct hostile *h, bool loop)
{
	struct g_virtq *q = &h->b.q[0];
	struct vq_drv *d = &q->drv;
	uint16_t a = d->free_head, b = d->slot[a].next, before = d->used->idx;

	h->r->hdr = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_IN};
	if (loop) {
		d->desc[a] = (struct vring_desc){g_mem_phys(&h->r->hdr), 16, VRING_DESC_F_NEXT, b};
		d->desc[b] = (struct vring_desc){g_mem_phys(h->data), 512,
						 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, a};
	} else {
		struct vring_desc *t = g_mem_alloc(LONG_CHAIN * sizeof(*t), 16);

		if (!t)
			return -ENOMEM;
		for (uint16_t i = 0; i < LONG_CHAIN; i++)
			t[i] = (struct vring_desc){g_mem_phys(&h->r->hdr), 16,
						   i + 1 < LONG_CHAIN ? VRING_DESC_F_NEXT : 0,
						   (uint16_t)(i + 1)};
		d->desc[a] = (struct vring_desc){g_mem_phys(t), LONG_CHAIN * 16,
						 VRING_DESC_F_INDIRECT, 0};
	}
	/* The descriptors stay on the driver's free list: the device is done with them once it
	 * has put the head in the used ring. */
	d->avail->ring[d->avail_idx % d->cfg.num] = a;
	d->avail_idx++;
	g_virtq_kick(q);
	if (!used_moved(q, before, TIMEOUT_US))
		return -ETIMEDOUT;
	uint32_t len = 0;
	(void)vq_drv_get(&q->drv, &len); /* skips the entry: it names nothing in flight */
	return q->drv.used->ring[(uint16_t)(q->drv.used->idx - 1) % q->drv.cfg.num].len;
}

static int descriptor_attacks(struct hostile *h)
{
	uint64_t cap = h->b.capacity;
	struct vq_sg outside = {FAR_OUTSIDE, 512}, hole = {IN_PCI_HOLE, 512};
	struct vq_sg data = {g_mem_phys(h->data), 512}, empty = {g_mem_phys(h->data), 0};
	int64_t len;

	if (attack(h, "buffer outside RAM", VIRTIO_BLK_T_IN, 0, &outside, 1, false, 0, -1) ||
	    attack(h, "buffer in the PCI hole", VIRTIO_BLK_T_IN, 0, &hole, 1, false, 0, -1) ||
	    attack(h, "read into a device-readable buffer", VIRTIO_BLK_T_IN, 0, &data, 1, true, 1,
		   VIRTIO_BLK_S_IOERR) ||
	    attack(h, "sector past the end", VIRTIO_BLK_T_IN, cap, &data, 1, false, 1,
		   VIRTIO_BLK_S_IOERR) ||
	    attack(h, "zero-length descriptor", VIRTIO_BLK_T_IN, 0, &empty, 1, false, 0, -1))
		return -1;
	/* No status byte: nothing the device may write; it still completes the chain. */
	struct vq_sg nostatus[] = {{g_mem_phys(&h->r->hdr), 16}};
	h->r->hdr = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_FLUSH};
	len = send(h, nostatus, 1, 1);
	if (len != 0)
		return g_run_fail(h->run, "no status byte: used length %ld", (long)len);
	g_printf("hostile: no status byte: refused (used length 0)\n");
	if (still_works(h, "no status byte"))
		return -1;
	/* Legal, though unusual: the header split over three descriptors (ANY_LAYOUT). */
	uint8_t *hdr = (uint8_t *)&h->r->hdr;
	h->r->hdr = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_IN, .sector = 1};
	h->r->status = UNTOUCHED;
	struct vq_sg split[] = {{g_mem_phys(hdr), 5},
				{g_mem_phys(hdr + 5), 7},
				{g_mem_phys(hdr + 12), 4},
				data,
				{g_mem_phys(&h->r->status), 1}};
	len = send(h, split, 3, 5);
	if (len != 513 || h->r->status != VIRTIO_BLK_S_OK)
		return g_run_fail(h->run, "split header: used length %ld status %u", (long)len,
				  h->r->status);
	g_printf("hostile: header split over three descriptors: served\n");
	for (int loop = 1; loop >= 0; loop--) {
		const char *what = loop ? "descriptor loop" : "over-long indirect chain";

		len = raw_chain(h, loop);
		if (len != 0)
			return g_run_fail(h->run, "%s: used length %ld", what, (long)len);
		g_printf("hostile: %s: refused (used length 0)\n", what);
		if (still_works(h, what))
			return -1;
	}
	return 0;
}

/* Brings the device up again after it asked for a reset. */
static int reinit(struct hostile *h)
{
	g_virtio_reset(h->p.dev);
	int rc = g_vblk_init(&h->b, h->p.dev, &h->p.opts, 0);

	return rc ? g_run_fail(h->run, "re-initialisation failed (error %d)", rc) : 0;
}

static int expect_needs_reset(struct hostile *h, const char *what)
{
	if (!(h->p.dev->ops->get_status(h->p.dev) & NEEDS_RESET))
		return g_run_fail(h->run, "%s: the device did not ask for a reset", what);
	g_printf("hostile: %s: device needs reset\n", what);
	return reinit(h) || still_works(h, what);
}

static int setup_attacks(struct hostile *h)
{
	struct g_virtio_dev *d = h->p.dev;
	struct g_virtq q;

	/* A queue enabled before FEATURES_OK. */
	g_virtio_reset(d);
	d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	(void)g_virtq_init(d, &q, 0, 0);
	if (expect_needs_reset(h, "queue enabled before FEATURES_OK"))
		return -1;
	/* A split ring of 48 entries. */
	g_virtio_reset(d);
	if (g_virtio_negotiate(d, &h->p.opts, 0) || g_virtq_init(d, &q, 0, 64))
		return g_run_fail(h->run, "negotiation failed");
	g_virtio_reset(d);
	g_virtio_negotiate(d, &h->p.opts, 0);
	q.num = 48;
	d->ops->queue_enable(d, &q);
	if (expect_needs_reset(h, "queue size 48 on a split ring"))
		return -1;
	/* A kick before DRIVER_OK: nothing may happen until DRIVER_OK. */
	g_virtio_reset(d);
	if (g_virtio_negotiate(d, &h->p.opts, 0) || g_virtio_irq_setup(d, &h->p.opts, 1) ||
	    g_virtq_init(d, &q, 0, 0))
		return g_run_fail(h->run, "queue setup failed");
	h->r->hdr = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_FLUSH};
	h->r->status = UNTOUCHED;
	struct vq_sg sg[] = {{g_mem_phys(&h->r->hdr), 16}, {g_mem_phys(&h->r->status), 1}};
	uint16_t before = q.drv.used->idx;
	vq_drv_add(&q.drv, sg, 1, 1, h->r, NULL, 0);
	vq_drv_kick_prepare(&q.drv);
	d->ops->notify(d, &q);
	if (used_moved(&q, before, QUIET_US))
		return g_run_fail(h->run, "the device served a request before DRIVER_OK");
	g_virtio_ready(d);
	if (!used_moved(&q, before, TIMEOUT_US) || h->r->status != VIRTIO_BLK_S_OK)
		return g_run_fail(h->run,
				  "the request added before DRIVER_OK was not served after it");
	g_printf("hostile: kick before DRIVER_OK: ignored, served after DRIVER_OK\n");
	return reinit(h) || still_works(h, "a kick before DRIVER_OK");
}

static int index_jump(struct hostile *h)
{
	struct g_virtq *q = &h->b.q[0];

	q->drv.avail->idx = (uint16_t)(q->drv.avail_idx + q->drv.cfg.num + 5);
	h->p.dev->ops->notify(h->p.dev, q);
	uint64_t deadline = g_tsc_deadline(TIMEOUT_US);
	while (!(h->p.dev->ops->get_status(h->p.dev) & NEEDS_RESET) && g_rdtsc() < deadline)
		;
	return expect_needs_reset(h, "available index past the ring");
}

int g_hostile_main(struct g_run *run)
{
	static struct hostile h;
	int rc;

	h.run = run;
	rc = g_vprog_open(run, &h.p, "hostile", VIRTIO_ID_BLOCK);
	if (rc)
		return rc;
	if (h.p.opts.packed)
		return g_run_fail(run, "hostile descriptors are written for the split ring only");
	h.r = g_vblk_reqs_alloc(1);
	h.data = g_mem_alloc(4096, 4096);
	if (!h.r || !h.data)
		return g_run_fail(run, "out of memory");
	rc = g_vblk_init(&h.b, h.p.dev, &h.p.opts, 0);
	if (rc)
		return g_run_fail(run, "virtio-blk initialisation failed (error %d)", rc);
	if (descriptor_attacks(&h) || setup_attacks(&h) || index_jump(&h))
		return -1;
	g_printf("hostile: %u attacks, the device served a good request after each\n", h.attacks);
	return 0;
}
