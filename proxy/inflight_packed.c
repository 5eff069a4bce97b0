/* SPDX-License-Identifier: MIT */
/*
 * In-flight tracking for packed rings: QueueRegionPacked of QEMU's "Inflight I/O tracking",
 * with the changes listed below.
 *
 * As the spec has it:
 *   - every descriptor taken from the ring is copied (addr, len, flags, id) into an entry
 *     taken from the free list (free_head, linked through next); a chain's entries stay
 *     linked from its head to its last, and the head entry holds num (descriptors), last, the
 *     counter and, written after the rest, the in-flight mark;
 *   - used_idx/used_wrap_counter is the used position a batch being published ends at, and
 *     old_used_idx/old_used_wrap_counter the one up to which every batch is cleared;
 *   - on a restart, a batch cut short that the driver can already see in the ring (the flags
 *     at old_used_idx are no longer the available flags of that lap) is committed, otherwise
 *     rolled back; the chains still in flight are submitted again in counter order.
 * Changed, and why:
 *   - a chain put in the used ring waits on a list of its own until its batch is published
 *     (old_free_head heads it, linked through each chain's last entry) instead of going back
 *     on the free list at once: ioproxy takes new chains while completions wait to be
 *     published (a malformed chain is completed within the pop loop), and an entry freed
 *     early could go to a new chain, losing the record of a completion the driver has not
 *     seen. The spec's other use of old_free_head (the entry a chain being taken starts at)
 *     is not needed: that is free_head until the chain is complete.
 *   - on a restart the free list is rebuilt from the chains in flight instead of rolled back:
 *     right whatever step a crash interrupted, and a region scribbled on by the front-end
 *     cannot make two chains share entries.
 *   - the available position, which the spec leaves out, is the used position plus the
 *     descriptors in flight: the device takes slots in order and gives a chain's slots back
 *     with its used descriptor, so the two positions differ by exactly those. So every chain
 *     taken is recorded, malformed or refused as a duplicate too (queue.c keeps its head entry
 *     in vq_chain.tag for put).
 *   - used descriptors already written for a batch never published (only the batch's first
 *     flags wait for vq_publish) are withdrawn: left in the ring, the driver would read them
 *     once the next batch is published in front of them.
 *   - a fresh region has no position (old_used_idx out of range): the ring's first start takes
 *     SET_VRING_BASE. From then on the region gives the position, since nothing in shared
 *     memory says where a device that died was, and a front-end sends what it last knew.
 *
 * Ordering: no one reads the region while we run; the fences below are for whoever maps it
 * after this process is gone. A SIGKILL can land between any two stores, and the fences keep
 * the compiler (and a weakly ordered CPU) from reordering those a restart relies on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "inflight.h"
#include "packed_bits.h"

#define NONE	   IOP_INFLIGHT_NONE
#define KEPT_FLAGS (VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT)

void iop_inflight_packed_format(void *region, uint16_t num)
{
	struct vhost_user_inflight_packed *p = region;
	memset(p, 0, iop_inflight_queue_bytes(num, true));
	p->desc_num = num;
	for (uint32_t i = 0; i < num; i++)
		p->desc[i].next = i + 1 < num ? (uint16_t)(i + 1) : NONE;
	p->free_head = 0;
	p->old_free_head = NONE;
	p->used_idx = p->old_used_idx = NONE; /* no position yet */
	p->version = VHOST_USER_INFLIGHT_VERSION;
}

void iop_inflight_packed_attach(struct iop_inflight *f, void *region, uint16_t num)
{
	*f = (struct iop_inflight){
		.p = region, .num = num, .counter = 1, .batch_head = NONE, .batch_tail = NONE};
}

static void copy_in(struct vhost_user_inflight_desc_packed *e, const struct vring_packed_desc *d)
{
	VQ_WRITE_ONCE(e->addr, VQ_READ_ONCE(d->addr));
	VQ_WRITE_ONCE(e->len, VQ_READ_ONCE(d->len));
	VQ_WRITE_ONCE(e->id, VQ_READ_ONCE(d->id));
	VQ_WRITE_ONCE(e->flags, VQ_READ_ONCE(d->flags));
	VQ_WRITE_ONCE(e->inflight, 0); /* only a head's mark counts */
}

uint16_t iop_inflight_packed_get(struct iop_inflight *f, const struct vring_packed_desc *ring,
				 uint16_t slot, uint16_t ndesc)
{
	struct vhost_user_inflight_packed *p = f->p;
	if (!p || ndesc == 0 || ndesc > f->num || slot >= f->num)
		return NONE;
	/* The chain takes the first ndesc entries of the free list, linked as they are. */
	uint16_t head = VQ_READ_ONCE(p->free_head), e = head, last = NONE;
	for (uint16_t k = 0; k < ndesc; k++) {
		if (e >= f->num)
			return NONE; /* out of entries; those written are still free */
		copy_in(&p->desc[e], &ring[slot]);
		slot = (uint16_t)(slot + 1 == f->num ? 0 : slot + 1);
		last = e;
		e = VQ_READ_ONCE(p->desc[e].next);
	}
	struct vhost_user_inflight_desc_packed *h = &p->desc[head];
	VQ_WRITE_ONCE(h->num, ndesc);
	VQ_WRITE_ONCE(h->last, last);
	VQ_WRITE_ONCE(h->counter, f->counter++);
	/* The whole chain before its mark: a head found in flight has its copy complete. */
	vq_wmb();
	VQ_WRITE_ONCE(h->inflight, 1);
	VQ_WRITE_ONCE(p->free_head, e);
	return head;
}

void iop_inflight_packed_put(struct iop_inflight *f, uint16_t head)
{
	struct vhost_user_inflight_packed *p = f->p;
	if (!p || head >= f->num)
		return;
	uint16_t last = VQ_READ_ONCE(p->desc[head].last);
	if (last >= f->num)
		return; /* scribbled on: the chain cannot be listed */
	VQ_WRITE_ONCE(p->desc[last].next, f->batch_head);
	/* The link before the list's new head, so the list always ends. */
	vq_wmb();
	VQ_WRITE_ONCE(p->old_free_head, head);
	if (f->batch_head == NONE)
		f->batch_tail = last;
	f->batch_head = head;
}

void iop_inflight_packed_publishing(struct iop_inflight *f, uint16_t used_pos, bool used_wrap)
{
	if (!f->p)
		return;
	f->used_pos = used_pos;
	f->used_wrap = used_wrap;
	/* vq_publish's release of the batch's first flags follows and orders these before them:
	 * a batch found published in the ring has its end recorded here. */
	VQ_WRITE_ONCE(f->p->used_idx, used_pos);
	VQ_WRITE_ONCE(f->p->used_wrap_counter, used_wrap);
}

/* Clears the mark of every chain on a batch list. The list is in shared memory: a link out
 * of range ends the walk, and num steps bound it. */
static void clear_batch(struct vhost_user_inflight_packed *p, uint16_t num, uint16_t head)
{
	for (uint32_t k = 0; head < num && k < num; k++) {
		VQ_WRITE_ONCE(p->desc[head].inflight, 0);
		uint16_t last = VQ_READ_ONCE(p->desc[head].last);
		if (last >= num)
			return;
		head = VQ_READ_ONCE(p->desc[last].next);
	}
}

void iop_inflight_packed_batch_done(struct iop_inflight *f)
{
	struct vhost_user_inflight_packed *p = f->p;
	if (!p)
		return;
	clear_batch(p, f->num, f->batch_head);
	/* The marks cleared before the list is dropped: a restart that commits this batch
	 * clears what the list still holds. */
	vq_wmb();
	VQ_WRITE_ONCE(p->old_free_head, NONE);
	if (f->batch_head != NONE) {
		/* The oldest chain's last entry ended the list: the free list goes on from it. */
		VQ_WRITE_ONCE(p->desc[f->batch_tail].next, VQ_READ_ONCE(p->free_head));
		VQ_WRITE_ONCE(p->free_head, f->batch_head);
	}
	/* The batch cleared before the position that says it is: a restart that finds
	 * old_used_idx current finds no chain of the batch in flight. */
	vq_wmb();
	VQ_WRITE_ONCE(p->old_used_idx, f->used_pos);
	VQ_WRITE_ONCE(p->old_used_wrap_counter, f->used_wrap);
	f->batch_head = f->batch_tail = NONE;
}

/* ------------------------------------------------------------------ restart --------------- */

struct chain {
	uint64_t counter;
	uint16_t head;
	uint16_t first; /* its entries are path[first .. first + n) */
	uint16_t n;
};

/* The chains found in flight. */
struct scan {
	uint8_t *taken;	 /* num: the entry belongs to a chain in flight */
	uint16_t *path;	 /* num: the chains' entries, chain after chain */
	struct chain *c; /* num */
	unsigned nchains;
	uint32_t ndesc;
};

static void scan_free(struct scan *s)
{
	free(s->taken);
	free(s->path);
	free(s->c);
}

void iop_inflight_resume_free(struct iop_inflight_resume *rs)
{
	free(rs->heads);
	free(rs->ring);
	*rs = (struct iop_inflight_resume){0};
}

/* True if the driver can see the batch whose first used descriptor goes at pos of lap wrap.
 * The flags there are the last thing vq_publish writes: until then they are the available
 * flags of that lap; after, the used flags of that lap or, once the driver filled the slot
 * again, the available flags of the next. */
static bool published(const struct vring_packed_desc *ring, uint16_t pos, bool wrap)
{
	return (VQ_READ_ONCE(ring[pos].flags) & (VQ_F_AVAIL | VQ_F_USED)) !=
	       vq_packed_avail_bits(wrap);
}

/* The position the driver has seen every completion before: a batch cut short is committed
 * (its chains cleared) if published, else rolled back (its chains stay in flight). */
static void settle(struct vhost_user_inflight_packed *p, uint16_t num,
		   const struct vring_packed_desc *ring, uint16_t *pos, bool *wrap)
{
	uint16_t used = VQ_READ_ONCE(p->used_idx);
	uint8_t uw = VQ_READ_ONCE(p->used_wrap_counter);
	*pos = VQ_READ_ONCE(p->old_used_idx);
	*wrap = VQ_READ_ONCE(p->old_used_wrap_counter);
	if ((used == *pos && uw == *wrap) || used >= num || uw > 1 || !published(ring, *pos, *wrap))
		return;
	clear_batch(p, num, VQ_READ_ONCE(p->old_free_head));
	*pos = used;
	*wrap = uw;
}

/* Takes the chain at head entry h into s if its num entries, linked from h to its last, are
 * in range and in no other chain. */
static bool claim(const struct vhost_user_inflight_packed *p, uint16_t num, uint16_t h,
		  struct scan *s)
{
	uint16_t n = VQ_READ_ONCE(p->desc[h].num), e = h, first = (uint16_t)s->ndesc, k;
	if (n == 0 || n > num - s->ndesc)
		return false;
	for (k = 0; k < n && e < num && !s->taken[e]; k++) {
		s->taken[e] = 1;
		s->path[first + k] = e;
		if (k + 1 < n)
			e = VQ_READ_ONCE(p->desc[e].next);
	}
	if (k == n && e == VQ_READ_ONCE(p->desc[h].last)) {
		s->c[s->nchains++] = (struct chain){.counter = VQ_READ_ONCE(p->desc[h].counter),
						    .head = h,
						    .first = first,
						    .n = n};
		s->ndesc += n;
		return true;
	}
	while (k--)
		s->taken[s->path[first + k]] = 0;
	return false;
}

static int by_counter(const void *a, const void *b)
{
	const struct chain *x = a, *y = b;
	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* Finds the chains in flight, oldest first. A chain that cannot be walked is dropped: it
 * cannot be submitted again. */
static void scan_chains(struct vhost_user_inflight_packed *p, uint16_t num, struct scan *s)
{
	for (uint32_t i = 0; i < num; i++)
		if (VQ_READ_ONCE(p->desc[i].inflight) == 1 && !claim(p, num, (uint16_t)i, s))
			VQ_WRITE_ONCE(p->desc[i].inflight, 0);
	qsort(s->c, s->nchains, sizeof(*s->c), by_counter);
}

/* Every entry outside the chains in flight is free, in index order. */
static void rebuild_free(struct vhost_user_inflight_packed *p, uint16_t num, const uint8_t *taken)
{
	uint16_t next = NONE;
	for (uint32_t i = num; i-- > 0;) {
		if (taken[i])
			continue;
		VQ_WRITE_ONCE(p->desc[i].inflight, 0);
		VQ_WRITE_ONCE(p->desc[i].next, next);
		next = (uint16_t)i;
	}
	VQ_WRITE_ONCE(p->free_head, next);
	VQ_WRITE_ONCE(p->old_free_head, NONE);
}

/* The slots after pos, up to n of them, belong to the chains in flight. Used descriptors of
 * this lap there were written by a device that died before publishing them: they go back to
 * the available flags they had when taken. The driver reads none of these slots before the
 * one at pos is used, and the one at pos is never written before publishing. */
static void withdraw(struct vring_packed_desc *ring, uint16_t num, uint16_t pos, bool wrap,
		     uint32_t n)
{
	for (uint32_t k = 1; k < n; k++) {
		vq_packed_advance(&pos, &wrap, 1, num);
		uint16_t flags = VQ_READ_ONCE(ring[pos].flags);
		if ((flags & (VQ_F_AVAIL | VQ_F_USED)) == vq_packed_used_bits(wrap))
			VQ_WRITE_ONCE(ring[pos].flags,
				      (uint16_t)((flags & ~(VQ_F_AVAIL | VQ_F_USED)) |
						 vq_packed_avail_bits(wrap)));
	}
}

/* The chains to submit again as a ring of their own, from slot 0 of lap 1, with their flags
 * made whole: NEXT on all but a chain's last descriptor, so the ring holds exactly these
 * chains whatever the copies say. */
static void fill_resume(const struct vhost_user_inflight_packed *p, const struct scan *s,
			struct iop_inflight_resume *out)
{
	uint32_t slot = 0;
	for (unsigned i = 0; i < s->nchains; i++) {
		const struct chain *c = &s->c[i];
		out->heads[i] = c->head;
		for (uint16_t k = 0; k < c->n; k++) {
			const struct vhost_user_inflight_desc_packed *e =
				&p->desc[s->path[c->first + k]];
			uint16_t flags = (uint16_t)((VQ_READ_ONCE(e->flags) & KEPT_FLAGS) |
						    (k + 1 < c->n ? VRING_DESC_F_NEXT : 0) |
						    vq_packed_avail_bits(true));
			out->ring[slot++] =
				(struct vring_packed_desc){.addr = VQ_READ_ONCE(e->addr),
							   .len = VQ_READ_ONCE(e->len),
							   .id = VQ_READ_ONCE(e->id),
							   .flags = flags};
		}
	}
	out->nchains = s->nchains;
}

/* A region with no usable position starts empty at base. */
static void check_position(struct vhost_user_inflight_packed *p, uint16_t num, uint16_t base)
{
	if (VQ_READ_ONCE(p->version) == VHOST_USER_INFLIGHT_VERSION &&
	    VQ_READ_ONCE(p->desc_num) == num && VQ_READ_ONCE(p->old_used_idx) < num &&
	    VQ_READ_ONCE(p->old_used_wrap_counter) <= 1)
		return;
	iop_inflight_packed_format(p, num);
	uint16_t pos = (uint16_t)(base & 0x7fff);
	p->used_idx = p->old_used_idx = pos < num ? pos : 0;
	p->used_wrap_counter = p->old_used_wrap_counter = base >> 15;
}

int iop_inflight_packed_recover(struct iop_inflight *f, struct vring_packed_desc *ring,
				uint16_t base, struct iop_inflight_resume *out)
{
	struct vhost_user_inflight_packed *p = f->p;
	uint16_t num = f->num, pos;
	bool wrap;
	*out = (struct iop_inflight_resume){0};
	if (!p)
		return 0;
	struct scan s = {.taken = calloc(num, 1),
			 .path = malloc(num * sizeof(*s.path)),
			 .c = malloc(num * sizeof(*s.c))};
	out->heads = malloc(num * sizeof(*out->heads));
	out->ring = calloc(num, sizeof(*out->ring));
	if (!s.taken || !s.path || !s.c || !out->heads || !out->ring) {
		scan_free(&s);
		iop_inflight_resume_free(out);
		return -ENOMEM;
	}
	check_position(p, num, base);
	settle(p, num, ring, &pos, &wrap);
	scan_chains(p, num, &s);
	rebuild_free(p, num, s.taken);
	withdraw(ring, num, pos, wrap, s.ndesc);
	VQ_WRITE_ONCE(p->used_idx, pos);
	VQ_WRITE_ONCE(p->used_wrap_counter, wrap);
	/* The batch settled before the position that says so (as in batch_done). */
	vq_wmb();
	VQ_WRITE_ONCE(p->old_used_idx, pos);
	VQ_WRITE_ONCE(p->old_used_wrap_counter, wrap);
	fill_resume(p, &s, out);
	out->used_pos = out->avail_pos = pos;
	out->used_wrap = out->avail_wrap = wrap;
	vq_packed_advance(&out->avail_pos, &out->avail_wrap, s.ndesc, num);
	f->counter = s.nchains ? s.c[s.nchains - 1].counter + 1 : 1;
	f->used_pos = pos;
	f->used_wrap = wrap;
	scan_free(&s);
	if (!out->nchains) {
		free(out->heads);
		free(out->ring);
		out->heads = NULL;
		out->ring = NULL;
	}
	return 0;
}
