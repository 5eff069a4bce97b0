// SPDX-License-Identifier: MIT
/*
 * The ATA backend of the block-device interface (dev=ata, dev=ata-dma). An IDE channel takes
 * one command at a time, so requests wait in a queue in submission order and the kick runs
 * them, one after the other, each to its end (asleep on the interrupt, or polling); the
 * completed ones are then there to poll. A queue depth above 1 is thus served serially.
 * READ, WRITE and FLUSH are the only operations: anything else completes with -ENOTSUP, and the
 * capabilities say so up front.
 * Options: mode=irq|poll (nIEN clear or set), multiple=off (PIO by READ/WRITE SECTORS instead
 * of READ/WRITE MULTIPLE), lba48=on (the 48-bit commands for every transfer).
 */
#include "drivers/ata.h"
#include "drivers/tsc.h"
#include "lib/io.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/blkdev.h"
#include "programs/vdev.h"
#include "runtime/mem.h"

struct atadev {
	struct g_blkdev gen; /* first: the ops get it */
	struct g_ata ata;
	struct g_blkdev_req *queued, **queued_tail; /* submitted, not yet run */
	struct g_blkdev_req *done, **done_tail;	    /* run, not yet polled */
};

static struct atadev *to_a(struct g_blkdev *d)
{
	return (struct atadev *)d;
}

static void push(struct g_blkdev_req ***tail, struct g_blkdev_req *r)
{
	r->next = NULL;
	**tail = r;
	*tail = &r->next;
}

static struct g_blkdev_req *pop(struct g_blkdev_req **head, struct g_blkdev_req ***tail)
{
	struct g_blkdev_req *r = *head;

	if (r) {
		*head = r->next;
		if (!*head)
			*tail = head;
	}
	return r;
}

static struct g_blkdev_req *a_reqs_alloc(struct g_blkdev *d, unsigned int n)
{
	(void)d;
	return g_mem_alloc(n * sizeof(struct g_blkdev_req), 64);
}

static int a_submit(struct g_blkdev *d, unsigned int q, struct g_blkdev_req *r)
{
	if (q)
		return -EINVAL;
	push(&to_a(d)->queued_tail, r);
	return 0;
}

static int run_one(struct g_ata *a, struct g_blkdev_req *r)
{
	switch (r->op) {
	case G_BLKDEV_READ:
	case G_BLKDEV_WRITE:
		if (!r->len || r->len % G_ATA_SECTOR)
			return -EINVAL;
		return g_ata_rw(a, r->op == G_BLKDEV_WRITE, r->sector, r->buf,
				r->len / G_ATA_SECTOR);
	case G_BLKDEV_FLUSH:
		return g_ata_flush(a);
	default:
		return -ENOTSUP;
	}
}

static void a_kick(struct g_blkdev *d)
{
	struct atadev *ad = to_a(d);
	struct g_blkdev_req *r;

	while ((r = pop(&ad->queued, &ad->queued_tail))) {
		r->status = run_one(&ad->ata, r);
		r->written = !r->status && r->op == G_BLKDEV_READ ? r->len : 0;
		if (r->status == -EIO || r->status == -ETIMEDOUT)
			g_printf("blk: ata command 0x%02x failed: status 0x%02x error 0x%02x\n",
				 ad->ata.fail_cmd, ad->ata.fail_status, ad->ata.fail_error);
		push(&ad->done_tail, r);
	}
}

static struct g_blkdev_req *a_poll(struct g_blkdev *d, unsigned int q)
{
	struct atadev *ad = to_a(d);

	return q ? NULL : pop(&ad->done, &ad->done_tail);
}

/* Commands finish inside the kick, so there is never anything to sleep for. */
static int a_wait(struct g_blkdev *const *devs, unsigned int n, uint64_t deadline)
{
	(void)devs;
	(void)n;
	if (g_tsc_passed(deadline))
		return -ETIMEDOUT;
	g_cpu_relax();
	return 0;
}

static void a_counts(struct g_blkdev *d, uint64_t *notifications, uint64_t *interrupts)
{
	*notifications = to_a(d)->ata.commands;
	*interrupts = g_ata_irq_count(&to_a(d)->ata);
}

static void a_close(struct g_blkdev *d)
{
	(void)d;
}

static const struct g_blkdev_ops ata_ops = {
	.reqs_alloc = a_reqs_alloc,
	.submit = a_submit,
	.kick = a_kick,
	.poll = a_poll,
	.wait = a_wait,
	.counts = a_counts,
	.close = a_close,
};

static int parse_opts(struct g_run *run, struct g_ata_opts *o, bool dma)
{
	const char *multiple = g_arg("multiple"), *lba48 = g_arg("lba48");

	memset(o, 0, sizeof(*o));
	o->dma = dma;
	if (g_vprog_open_legacy(run, dma ? "ata-dma" : "ata", &o->poll))
		return -1;
	if (multiple && strcmp(multiple, "on") && strcmp(multiple, "off"))
		return g_run_fail(run, "bad multiple=%s (on, off)", multiple);
	if (lba48 && strcmp(lba48, "on") && strcmp(lba48, "auto"))
		return g_run_fail(run, "bad lba48=%s (auto, on)", lba48);
	o->sectors = multiple && !strcmp(multiple, "off");
	o->lba48_always = lba48 && !strcmp(lba48, "on");
	return 0;
}

static void report(const struct g_ata *a)
{
	const char *how = a->o.dma	? "dma"
			  : a->multiple ? "pio, read/write multiple"
					: "pio, read/write sectors";

	g_printf("mem: blk: ata at %s\n", a->where);
	g_printf("mem: blk: ata disk \"%s\" serial \"%s\" firmware \"%s\", multiple up to %u, "
		 "48-bit commands %s\n",
		 a->model, a->serial, a->firmware, a->max_multiple, a->lba48 ? "yes" : "no");
	g_printf("blk: ata %s%s, interrupts %s\n", how,
		 a->o.lba48_always ? ", 48-bit commands always" : "", a->o.poll ? "poll" : "line");
}

int g_blkdev_open_ata(struct g_run *run, struct g_blkdev **out, bool dma)
{
	struct atadev *ad = g_mem_alloc(sizeof(*ad), 64);
	struct g_ata_opts o;
	struct g_blkdev *d;
	int rc;

	if (!ad)
		return g_run_fail(run, "out of memory for the device");
	if (parse_opts(run, &o, dma))
		return -1;
	rc = g_ata_probe(&ad->ata, &o);
	if (rc)
		return g_run_fail(
			run, "ata: %s (error %d; command 0x%02x status 0x%02x error 0x%02x)",
			ad->ata.why, rc, ad->ata.fail_cmd, ad->ata.fail_status, ad->ata.fail_error);
	report(&ad->ata);
	ad->queued_tail = &ad->queued;
	ad->done_tail = &ad->done;
	d = &ad->gen;
	d->ops = &ata_ops;
	d->kind = "ata";
	d->irq_mode = o.poll ? "poll" : "line";
	d->capacity = ad->ata.sectors;
	d->nq = 1;
	d->caps = ad->ata.flush ? G_BLKDEV_CAN_FLUSH : 0;
	d->sync = a_reqs_alloc(d, 1);
	if (!d->sync)
		return g_run_fail(run, "out of memory for the device");
	*out = d;
	return 0;
}
