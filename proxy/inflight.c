/* SPDX-License-Identifier: MIT */
/* In-flight tracking for split rings; what both layouts share (see inflight.h). */
#include "inflight.h"

#include <stdlib.h>
#include <string.h>

#include "barrier.h"

uint64_t iop_inflight_queue_bytes(uint16_t num, bool packed)
{
	return vhost_user_inflight_queue_size(num, packed);
}

static void format_queue(struct vhost_user_inflight_split *r, uint16_t num)
{
	memset(r, 0, iop_inflight_queue_bytes(num, false));
	r->desc_num = num;
	r->version = VHOST_USER_INFLIGHT_VERSION;
}

void iop_inflight_format(void *base, uint16_t nqueues, uint16_t num, bool packed)
{
	uint64_t bytes = iop_inflight_queue_bytes(num, packed);
	for (uint16_t i = 0; i < nqueues; i++) {
		void *q = (uint8_t *)base + i * bytes;
		if (packed)
			iop_inflight_packed_format(q, num);
		else
			format_queue(q, num);
	}
}

void iop_inflight_attach(struct iop_inflight *f, void *region, uint16_t num)
{
	*f = (struct iop_inflight){.r = region, .num = num, .counter = 1};
	if (!region)
		return;
	if (VQ_READ_ONCE(f->r->version) != VHOST_USER_INFLIGHT_VERSION ||
	    VQ_READ_ONCE(f->r->desc_num) != num)
		format_queue(f->r, num);
}

void iop_inflight_detach(struct iop_inflight *f)
{
	*f = (struct iop_inflight){0};
}

void iop_inflight_get(struct iop_inflight *f, uint16_t head)
{
	if (!f->r || head >= f->num)
		return;
	VQ_WRITE_ONCE(f->r->desc[head].counter, f->counter++);
	VQ_WRITE_ONCE(f->r->desc[head].inflight, 1);
}

void iop_inflight_put(struct iop_inflight *f, uint16_t head)
{
	if (!f->r || head >= f->num)
		return;
	VQ_WRITE_ONCE(f->r->desc[head].next, VQ_READ_ONCE(f->r->last_batch_head));
	VQ_WRITE_ONCE(f->r->last_batch_head, head);
	f->batch++;
}

/* Clears n heads of the last-batch list. The list is in shared memory: a link out of range
 * ends the walk, and n bounds it. */
static void clear_batch(struct vhost_user_inflight_split *r, uint16_t num, uint16_t n)
{
	uint16_t i = VQ_READ_ONCE(r->last_batch_head);
	for (uint16_t k = 0; k < n && i < num; k++) {
		VQ_WRITE_ONCE(r->desc[i].inflight, 0);
		i = VQ_READ_ONCE(r->desc[i].next);
	}
}

void iop_inflight_batch_done(struct iop_inflight *f, uint16_t used_idx)
{
	if (!f->r)
		return;
	/* A batch may hold used entries of no tracked head (a refused duplicate, a head past
	 * the ring): used_idx must still follow the ring, or a restart would take them for a
	 * batch never cleared and clear older heads of the list, some in flight again. */
	clear_batch(f->r, f->num, f->batch);
	/* The clears before used_idx: a later ioproxy (this one having died) that finds
	 * used_idx current must find the batch cleared. Release orders our stores; the reader
	 * runs after this process is gone, so nothing else pairs with it. */
	vq_wmb();
	VQ_WRITE_ONCE(f->r->used_idx, used_idx);
	f->batch = 0;
}

struct entry {
	uint64_t counter;
	uint16_t head;
};

static int by_counter(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

unsigned iop_inflight_recover(struct iop_inflight *f, uint16_t used_idx, uint16_t *heads)
{
	if (!f->r)
		return 0;
	struct vhost_user_inflight_split *r = f->r;
	uint16_t recorded = VQ_READ_ONCE(r->used_idx);
	if (recorded != used_idx) {
		/* The last batch reached the used ring but was not cleared here. */
		clear_batch(r, f->num, (uint16_t)(used_idx - recorded));
		VQ_WRITE_ONCE(r->used_idx, used_idx);
	}
	struct entry *e = malloc(sizeof(*e) * f->num);
	unsigned n = 0;
	uint64_t newest = 0;
	for (uint16_t i = 0; e && i < f->num; i++) {
		if (VQ_READ_ONCE(r->desc[i].inflight) != 1)
			continue;
		e[n] = (struct entry){.counter = VQ_READ_ONCE(r->desc[i].counter), .head = i};
		if (e[n].counter > newest)
			newest = e[n].counter;
		n++;
	}
	if (e) {
		qsort(e, n, sizeof(*e), by_counter);
		for (unsigned k = 0; k < n; k++)
			heads[k] = e[k].head;
	}
	free(e);
	f->counter = newest + 1;
	f->batch = 0;
	return n;
}
