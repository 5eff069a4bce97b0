/* SPDX-License-Identifier: MIT */
/*
 * Packed virtqueues (virtio 1.2, 2.8): one descriptor ring that the driver fills with
 * available descriptors and the device overwrites with used ones, plus two event suppression
 * structs (driver area: the driver's wish for used-buffer notifications; device area: the
 * device's wish for kicks). Device side first, then driver side.
 *
 * A ring position is a slot and a wrap counter; both sides start at slot 0 with the counter at
 * 1 and flip it each time they pass the last slot (2.8.1). Positions travel as off_wrap words
 * (slot | wrap << 15, the event suppression format) and compare as sequence numbers modulo
 * 2 * num, which is unambiguous as long as the positions compared are at most num apart (the
 * driver's last kick position is kept so in vq_drv_packed_add).
 */
#include <errno.h>
#include <string.h>

#include "barrier.h"
#include "packed_bits.h"
#include "virtq_impl.h"

#define WRAP_BIT  (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define EVENT_MSK 0x3u /* desc_event_flags; the other 14 bits are reserved */

static uint16_t off_wrap(uint16_t pos, bool wrap)
{
	return (uint16_t)(pos | (wrap ? WRAP_BIT : 0));
}

/* Sequence number of an off_wrap position, modulo 2 * num. */
static uint32_t seq(uint16_t ow, uint16_t num)
{
	return (ow & (WRAP_BIT - 1)) + ((ow & WRAP_BIT) ? 0u : num);
}

/* Slots from position a forward to position b. */
static uint32_t dist(uint16_t a, uint16_t b, uint16_t num)
{
	uint32_t period = 2u * num;
	return (seq(b, num) + period - seq(a, num) % period) % period;
}

/* True if the event position lies in [old, new): the slot the other side asked about was
 * just made available (or used). vring_need_event() of the split ring, modulo 2 * num. */
static bool crossed(uint16_t event, uint16_t old, uint16_t new, uint16_t num)
{
	return dist(event, new, num) - 1 < dist(old, new, num);
}

/* Decides on a notification after old..new was published, from the other side's event
 * suppression struct. */
static bool want_event(struct vring_packed_desc_event *ev, const struct vq_config *cfg,
		       uint16_t old, uint16_t new)
{
	/* Acquire pairs with the release of DESC in event_enable(): off_wrap was written
	 * first. */
	uint16_t flags = vq_load_acquire(&ev->flags) & EVENT_MSK;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !cfg->event_idx)
		return true; /* ENABLE, or a value we cannot honour: notify */
	return crossed(VQ_READ_ONCE(ev->off_wrap), old, new, cfg->num);
}

/* Asks for notifications: every one, or with event indexes the one for position ow. */
static void event_enable(struct vring_packed_desc_event *ev, bool event_idx, uint16_t ow)
{
	if (!event_idx) {
		VQ_WRITE_ONCE(ev->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
		return;
	}
	VQ_WRITE_ONCE(ev->off_wrap, ow);
	/* Release pairs with the acquire in want_event(): the offset before the flag. */
	vq_store_release(&ev->flags, VRING_PACKED_EVENT_FLAG_DESC);
}

/* ------------------------------------------------------------------ device side ------------- */

int vq_packed_init(struct vq *q)
{
	/* Nothing is written to guest memory here: a queue taken over mid-flight (vhost-user)
	 * keeps what its previous owner published. */
	q->avail_pos = q->used_pos = q->published_pos = 0;
	q->avail_wrap = q->used_wrap = q->published_wrap = true;
	q->pending = 0;
	return 0;
}

/* A descriptor copied out of guest memory field by field, once, with flags already read:
 * what is checked is what is used, whatever the guest writes meanwhile. */
static struct vring_packed_desc read_desc(const struct vring_packed_desc *d, uint16_t flags)
{
	return (struct vring_packed_desc){.addr = VQ_READ_ONCE(d->addr),
					  .len = VQ_READ_ONCE(d->len),
					  .id = VQ_READ_ONCE(d->id),
					  .flags = flags};
}

/* An indirect table may lie anywhere in memory, unaligned too: its entries are copied
 * bytewise, once, and the copy is what is checked and used. */
static struct vring_packed_desc copy_desc(const uint8_t *table, uint32_t i)
{
	struct vring_packed_desc d;
	memcpy(&d, table + i * sizeof(d), sizeof(d));
	return d;
}

/* Appends the buffers of an indirect table (2.8.7): entries in order, WRITE the only flag
 * that counts, NEXT and the id ignored, INDIRECT refused. */
static enum vq_chain_err walk_indirect(struct vq *q, struct vq_chain *c,
				       const struct vring_packed_desc *d, uint32_t *total)
{
	if (!q->cfg.indirect || (d->flags & VRING_DESC_F_NEXT))
		return VQ_ERR_INDIRECT;
	if (d->len == 0 || d->len % sizeof(*d) || d->len / sizeof(*d) > VQ_MAX_CHAIN)
		return VQ_ERR_INDIRECT_SIZE;
	const uint8_t *t = gmem_ptr(q->mem, d->addr, d->len);
	if (!t)
		return VQ_ERR_ADDR;
	for (uint32_t i = 0; i < d->len / sizeof(*d); i++) {
		struct vring_packed_desc e = copy_desc(t, i);
		if (++*total > VQ_MAX_CHAIN)
			return VQ_ERR_LOOP;
		if (e.flags & VRING_DESC_F_INDIRECT)
			return VQ_ERR_NESTED;
		enum vq_chain_err err =
			vq_chain_add(c, q->mem, e.addr, e.len, e.flags & VRING_DESC_F_WRITE);
		if (err)
			return err;
	}
	return VQ_OK;
}

/* Checks one ring descriptor of the list (c->ndesc-th) and appends its buffers. */
static enum vq_chain_err check_desc(struct vq *q, struct vq_chain *c,
				    const struct vring_packed_desc *d, uint32_t *total)
{
	if (++*total > VQ_MAX_CHAIN)
		return VQ_ERR_LOOP;
	if (d->flags & VRING_DESC_F_INDIRECT) {
		/* An indirect descriptor is a list of its own, never part of a NEXT list. */
		if (c->ndesc > 1)
			return VQ_ERR_INDIRECT;
		return walk_indirect(q, c, d, total);
	}
	return vq_chain_add(c, q->mem, d->addr, d->len, d->flags & VRING_DESC_F_WRITE);
}

/* Takes the list starting at avail_pos, whose first flags (available) were read already.
 * After an error the walk goes on over the ring, unchecked, to the list's last descriptor:
 * its id and the slots taken are what the device completes. A list that runs into a slot
 * not available, or around the whole ring, ends there (its id is then a guess). */
static void pop_chain(struct vq *q, struct vq_chain *c, uint16_t flags)
{
	uint16_t num = q->cfg.num;
	uint32_t total = 0;
	enum vq_chain_err err = VQ_OK;
	struct vring_packed_desc d;

	vq_chain_reset(c, 0);
	for (;;) {
		d = read_desc(&q->pdesc[q->avail_pos], flags);
		c->ndesc++;
		vq_packed_advance(&q->avail_pos, &q->avail_wrap, 1, num);
		if (!err)
			err = check_desc(q, c, &d, &total);
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (c->ndesc == num) {
			err = err ? err : VQ_ERR_LOOP; /* longer than the ring */
			break;
		}
		/* The driver wrote the whole list before making its first descriptor available
		 * (2.8.6), so the acquire in vq_packed_pop_batch covers these flags too. */
		flags = VQ_READ_ONCE(q->pdesc[q->avail_pos].flags);
		if (!vq_packed_is_avail(flags, q->avail_wrap)) {
			err = err ? err : VQ_ERR_NEXT; /* the list's next slot was never filled */
			break;
		}
	}
	c->id = d.id; /* the buffer id lives in the last descriptor (2.8.6) */
	if (!err && d.id >= num)
		err = VQ_ERR_HEAD;
	if (err)
		vq_chain_fail(q, c, err);
}

int vq_packed_pop_batch(struct vq *q, struct vq_chain *c, unsigned n)
{
	unsigned k;
	for (k = 0; k < n; k++) {
		/* Acquire pairs with the driver's release of the list's first flags: the rest of
		 * the list, written before, is visible once they are. */
		uint16_t flags = vq_load_acquire(&q->pdesc[q->avail_pos].flags);
		if (!vq_packed_is_avail(flags, q->avail_wrap))
			break;
		pop_chain(q, &c[k], flags);
	}
	/* With event indexes, ask for a kick when the driver passes what we have taken. */
	if (k && q->notify_enabled && q->cfg.event_idx)
		VQ_WRITE_ONCE(q->device_event->off_wrap, off_wrap(q->avail_pos, q->avail_wrap));
	return (int)k;
}

void vq_packed_push(struct vq *q, const struct vq_chain *c, uint32_t written)
{
	struct vring_packed_desc *d = &q->pdesc[q->used_pos];
	/* In a used descriptor WRITE says whether len means anything (2.8.3, 2.8.4). */
	uint16_t flags = vq_packed_used_bits(q->used_wrap) | (written ? VRING_DESC_F_WRITE : 0);
	VQ_WRITE_ONCE(d->id, c->id);
	VQ_WRITE_ONCE(d->len, written);
	if (q->pending++ == 0) {
		/* The batch's first flags wait for vq_publish, so the driver sees all or none. */
		q->first_used =
			(struct vring_packed_desc){.id = c->id, .len = written, .flags = flags};
		q->first_used_pos = q->used_pos;
	} else {
		VQ_WRITE_ONCE(d->flags, flags);
	}
	/* The device skips the list's other slots; the driver skips them by the id (2.8.6). */
	vq_packed_advance(&q->used_pos, &q->used_wrap, c->ndesc, q->cfg.num);
}

bool vq_packed_publish(struct vq *q)
{
	if (!q->pending)
		return false;
	uint16_t old = off_wrap(q->published_pos, q->published_wrap);
	uint16_t new = off_wrap(q->used_pos, q->used_wrap);
	/* Release pairs with the driver's acquire of the flags at its next used slot: the
	 * batch's other used descriptors and the buffers' contents before its first one. */
	vq_store_release(&q->pdesc[q->first_used_pos].flags, q->first_used.flags);
	q->pending = 0;
	q->published_pos = q->used_pos;
	q->published_wrap = q->used_wrap;
	/* The flags store must be visible before we read the driver's wish (pairs with the full
	 * barrier in vq_drv_intr_enable between its event store and its re-read of the ring). */
	vq_mb();
	return want_event(q->driver_event, &q->cfg, old, new);
}

bool vq_packed_has_work(struct vq *q)
{
	/* Acquire as in vq_packed_pop_batch. */
	return vq_packed_is_avail(vq_load_acquire(&q->pdesc[q->avail_pos].flags), q->avail_wrap);
}

bool vq_packed_notify_enable(struct vq *q, bool on)
{
	q->notify_enabled = on;
	if (!on) {
		VQ_WRITE_ONCE(q->device_event->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
		return false;
	}
	event_enable(q->device_event, q->cfg.event_idx, off_wrap(q->avail_pos, q->avail_wrap));
	/* The event store before re-reading the ring: a driver that made a list available and
	 * read "no kick wanted" before our store is caught here (pairs with the full barrier in
	 * vq_drv_kick_prepare). */
	vq_mb();
	return vq_packed_has_work(q);
}

/* ------------------------------------------------------------------ driver side ------------- */

int vq_drv_packed_init(struct vq_drv *q, void *mem, uint64_t mem_gpa)
{
	uint8_t *base = mem;
	/* vq_drv_init zeroed the areas: both event structs say ENABLE. */
	q->pdesc = (struct vring_packed_desc *)base;
	q->driver_event = (struct vring_packed_desc_event *)(base + (q->cfg.driver - mem_gpa));
	q->device_event = (struct vring_packed_desc_event *)(base + (q->cfg.device - mem_gpa));
	q->next_avail = q->next_used = q->kicked_pos = 0;
	q->avail_wrap = q->used_wrap = q->kicked_wrap = true;
	q->free_head = 0;
	return 0;
}

/* Writes one descriptor at next_avail and moves on. The flags of a list's first descriptor
 * are returned, not written: the caller makes the list available with them, last. */
static uint16_t put_desc(struct vq_drv *q, const struct vq_sg *sg, uint16_t f, uint16_t id,
			 bool first)
{
	struct vring_packed_desc *d = &q->pdesc[q->next_avail];
	uint16_t flags = (uint16_t)(f | vq_packed_avail_bits(q->avail_wrap));
	d->addr = sg->addr;
	d->len = sg->len;
	d->id = id; /* in every descriptor, though only the last one's counts */
	if (!first)
		VQ_WRITE_ONCE(d->flags, flags);
	vq_packed_advance(&q->next_avail, &q->avail_wrap, 1, q->cfg.num);
	return flags;
}

int vq_drv_packed_add(struct vq_drv *q, const struct vq_sg *sg, unsigned nout, unsigned nin,
		      void *token, void *indirect, uint64_t indirect_gpa)
{
	unsigned total = nout + nin;
	bool use_indirect = indirect && total > 1;
	unsigned need = use_indirect ? 1 : total;
	if (need > q->num_free)
		return -ENOSPC;
	uint16_t id = q->free_head, first = q->next_avail, first_flags = 0;
	uint32_t since_kick = dist(off_wrap(q->kicked_pos, q->kicked_wrap),
				   off_wrap(q->next_avail, q->avail_wrap), q->cfg.num);
	if (use_indirect) {
		struct vring_packed_desc *t = indirect;
		for (unsigned k = 0; k < total; k++)
			t[k] = (struct vring_packed_desc){.addr = sg[k].addr,
							  .len = sg[k].len,
							  .flags = k >= nout ? VRING_DESC_F_WRITE
									     : 0};
		struct vq_sg table = {.addr = indirect_gpa,
				      .len = (uint32_t)(total * sizeof(struct vring_packed_desc))};
		first_flags = put_desc(q, &table, VRING_DESC_F_INDIRECT, id, true);
	} else {
		for (unsigned k = 0; k < total; k++) {
			uint16_t f = (k >= nout ? VRING_DESC_F_WRITE : 0) |
				     (k + 1 < total ? VRING_DESC_F_NEXT : 0);
			uint16_t flags = put_desc(q, &sg[k], f, id, k == 0);
			if (k == 0)
				first_flags = flags;
		}
	}
	q->free_head = q->slot[id].next;
	q->num_free -= need;
	q->slot[id].token = token;
	q->slot[id].ndesc = (uint16_t)need;
	/* The device's event lies at most num slots behind next_avail, so an older kick position
	 * decides alike: keep it within num, where the distance modulo 2 * num stays exact. */
	if (since_kick + need > q->cfg.num) {
		q->kicked_pos = q->next_avail;
		q->kicked_wrap = !q->avail_wrap;
	}
	/* Release pairs with the device's acquire of these flags: the whole list (and the table)
	 * before its first descriptor becomes available (2.8.6). */
	vq_store_release(&q->pdesc[first].flags, first_flags);
	return 0;
}

bool vq_drv_packed_kick_prepare(struct vq_drv *q)
{
	uint16_t old = off_wrap(q->kicked_pos, q->kicked_wrap);
	uint16_t new = off_wrap(q->next_avail, q->avail_wrap);
	if (old == new)
		return false;
	q->kicked_pos = q->next_avail;
	q->kicked_wrap = q->avail_wrap;
	/* The flags that made the lists available before the device's wish (pairs with the full
	 * barrier in vq_notify_enable between its event store and its re-read of the ring). */
	vq_mb();
	return want_event(q->device_event, &q->cfg, old, new);
}

/* Copies the used descriptor at next_used into *u, if there is one. Used descriptors that
 * name no buffer in flight (a device bug) are skipped one slot at a time. */
static bool next_used(struct vq_drv *q, struct vring_packed_desc *u)
{
	for (;;) {
		struct vring_packed_desc *d = &q->pdesc[q->next_used];
		/* Acquire pairs with the device's release in vq_publish: id, len, the batch's
		 * other used descriptors and what the device wrote into the buffers. */
		u->flags = vq_load_acquire(&d->flags);
		if (!vq_packed_is_used(u->flags, q->used_wrap))
			return false;
		u->id = VQ_READ_ONCE(d->id);
		u->len = VQ_READ_ONCE(d->len);
		if (u->id < q->cfg.num && q->slot[u->id].token)
			return true;
		vq_packed_advance(&q->next_used, &q->used_wrap, 1, q->cfg.num);
	}
}

void *vq_drv_packed_get(struct vq_drv *q, uint32_t *len)
{
	struct vring_packed_desc u;
	while (!next_used(q, &u)) {
		uint16_t ow = off_wrap(q->next_used, q->used_wrap);
		if (!q->cfg.event_idx || !q->intr_enabled ||
		    VQ_READ_ONCE(q->driver_event->off_wrap) == ow)
			return NULL;
		/* Slots were skipped: the event must still move past them, or the device would
		 * think we do not want the next interrupt yet. Then look again, as
		 * vq_drv_intr_enable does (the barrier pairs with the device's between publishing
		 * and reading the driver's event). */
		VQ_WRITE_ONCE(q->driver_event->off_wrap, ow);
		vq_mb();
	}
	uint16_t ndesc = q->slot[u.id].ndesc;
	void *token = q->slot[u.id].token;
	vq_packed_advance(&q->next_used, &q->used_wrap, ndesc, q->cfg.num);
	q->slot[u.id].token = NULL;
	q->slot[u.id].next = q->free_head;
	q->free_head = u.id;
	q->num_free += ndesc;
	if (q->cfg.event_idx && q->intr_enabled)
		VQ_WRITE_ONCE(q->driver_event->off_wrap, off_wrap(q->next_used, q->used_wrap));
	if (len)
		/* Spec 2.8.4 says to ignore the length without F_WRITE, but devices (QEMU 7.2)
		 * leave the flag clear on written buffers and Linux reads it anyway: so do we. */
		*len = u.len;
	return token;
}

bool vq_drv_packed_intr_enable(struct vq_drv *q, bool on)
{
	q->intr_enabled = on;
	if (!on) {
		VQ_WRITE_ONCE(q->driver_event->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
		return true;
	}
	event_enable(q->driver_event, q->cfg.event_idx, off_wrap(q->next_used, q->used_wrap));
	/* The event store before re-reading the ring (pairs with the device's barrier between
	 * publishing and reading the driver's event). */
	vq_mb();
	return !vq_packed_is_used(vq_load_acquire(&q->pdesc[q->next_used].flags), q->used_wrap);
}
