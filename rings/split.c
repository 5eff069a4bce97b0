/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2, 2.7): descriptor table, available ring written by the driver,
 * used ring written by the device. Device side first, then driver side.
 */
#include <errno.h>
#include <string.h>

#include "barrier.h"
#include "virtq_impl.h"

/* The event-index words live past the ends of the rings (spec 2.7.7 and 2.7.10). */
static uint16_t *used_event(struct vring_avail *avail, uint16_t num)
{
	return &avail->ring[num];
}

static uint16_t *avail_event(struct vring_used *used, uint16_t num)
{
	return (uint16_t *)&used->ring[num];
}

/* ------------------------------------------------------------------ device side ------------- */

int vq_split_init(struct vq *q)
{
	/* Nothing is written to guest memory here: a queue taken over mid-flight (vhost-user)
	 * keeps what its previous owner published. */
	q->last_avail = q->used_idx = q->published_idx = 0;
	return 0;
}

/* A descriptor copied out of guest memory field by field, once: what is checked is what is
 * used, whatever the guest writes meanwhile. */
static struct vring_desc read_desc(const struct vring_desc *d)
{
	return (struct vring_desc){.addr = VQ_READ_ONCE(d->addr),
				   .len = VQ_READ_ONCE(d->len),
				   .flags = VQ_READ_ONCE(d->flags),
				   .next = VQ_READ_ONCE(d->next)};
}

/* An indirect table may lie anywhere in memory (2.7.5.3), unaligned too: its entries are
 * copied bytewise, once, and the copy is what is checked and used. */
static struct vring_desc copy_desc(const uint8_t *table, uint32_t i)
{
	struct vring_desc d;
	memcpy(&d, table + i * sizeof(d), sizeof(d));
	return d;
}

/* Switches the walk into an indirect table. */
static enum vq_chain_err enter_indirect(struct vq *q, const struct vring_desc *d,
					const uint8_t **table, uint32_t *size)
{
	if (!q->cfg.indirect || (d->flags & VRING_DESC_F_NEXT))
		return VQ_ERR_INDIRECT;
	if (d->len == 0 || d->len % sizeof(struct vring_desc) ||
	    d->len / sizeof(struct vring_desc) > VQ_MAX_CHAIN)
		return VQ_ERR_INDIRECT_SIZE;
	*table = gmem_ptr(q->mem, d->addr, d->len);
	if (!*table)
		return VQ_ERR_ADDR;
	*size = d->len / sizeof(struct vring_desc);
	return VQ_OK;
}

/* Follows the chain at head and fills c with its validated segments. */
static void walk(struct vq *q, uint16_t head, struct vq_chain *c)
{
	const uint8_t *table = NULL; /* the indirect table, once in one */
	uint32_t size = q->cfg.num, in_table = 0, total = 0;
	bool indirect = false;
	uint32_t i = head;
	enum vq_chain_err err = VQ_OK;

	vq_chain_reset(c, head);
	if (head >= q->cfg.num) {
		vq_chain_fail(q, c, VQ_ERR_HEAD);
		return;
	}
	for (;;) {
		struct vring_desc d = indirect ? copy_desc(table, i) : read_desc(&q->desc[i]);
		/* A table of n entries holds no chain longer than n: more means a loop. */
		if (++in_table > size || ++total > VQ_MAX_CHAIN) {
			err = VQ_ERR_LOOP;
			break;
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			err = indirect ? VQ_ERR_NESTED : enter_indirect(q, &d, &table, &size);
			if (err)
				break;
			indirect = true;
			in_table = 0;
			i = 0;
			continue;
		}
		err = vq_chain_add(c, q->mem, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (err || !(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= size) {
			err = VQ_ERR_NEXT;
			break;
		}
	}
	if (err)
		vq_chain_fail(q, c, err);
}

int vq_split_pop_batch(struct vq *q, struct vq_chain *c, unsigned n)
{
	uint16_t num = q->cfg.num;
	/* Acquire pairs with the driver's release of avail->idx: the ring entries and
	 * descriptors it wrote before are visible once the index is. */
	uint16_t avail = vq_load_acquire(&q->avail->idx);
	uint16_t pending = (uint16_t)(avail - q->last_avail);
	if (pending > num) {
		q->broken = true; /* the index jumped further than the ring holds */
		return -EIO;
	}
	unsigned take = pending < n ? pending : n;
	for (unsigned k = 0; k < take; k++) {
		uint16_t head = VQ_READ_ONCE(q->avail->ring[q->last_avail % num]);
		q->last_avail++;
		walk(q, head, &c[k]);
	}
	/* With event indexes, ask for a kick when the driver passes what we have taken. */
	if (take && q->notify_enabled && q->cfg.event_idx)
		VQ_WRITE_ONCE(*avail_event(q->used, num), q->last_avail);
	return (int)take;
}

void vq_split_push(struct vq *q, const struct vq_chain *c, uint32_t written)
{
	struct vring_used_elem *e = &q->used->ring[q->used_idx % q->cfg.num];
	VQ_WRITE_ONCE(e->id, (uint32_t)c->id);
	VQ_WRITE_ONCE(e->len, written);
	q->used_idx++;
}

bool vq_split_publish(struct vq *q)
{
	uint16_t old = q->published_idx, new = q->used_idx;
	if (old == new)
		return false;
	/* Release pairs with the driver's acquire of used->idx: the entries before it. */
	vq_store_release(&q->used->idx, new);
	q->published_idx = new;
	/* The index store must be visible before we read the driver's wish (pairs with the full
	 * barrier between its used_event store and its re-read of used->idx). */
	vq_mb();
	if (q->cfg.event_idx)
		return vring_need_event(VQ_READ_ONCE(*used_event(q->avail, q->cfg.num)), new, old);
	return !(VQ_READ_ONCE(q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

bool vq_split_has_work(struct vq *q)
{
	return vq_load_acquire(&q->avail->idx) != q->last_avail;
}

bool vq_split_notify_enable(struct vq *q, bool on)
{
	q->notify_enabled = on;
	if (!q->cfg.event_idx)
		VQ_WRITE_ONCE(q->used->flags, on ? 0 : VRING_USED_F_NO_NOTIFY);
	else /* off: an index the driver has passed already, so no kick for 2^16 - 1 buffers */
		VQ_WRITE_ONCE(*avail_event(q->used, q->cfg.num),
			      (uint16_t)(q->last_avail - (on ? 0 : 1)));
	if (!on)
		return false;
	/* The flag or event store before re-reading avail->idx: a driver that added a buffer
	 * and read "no kick wanted" before our store is caught here (pairs with the full barrier
	 * in the driver's kick decision). */
	vq_mb();
	return vq_split_has_work(q);
}

/* ------------------------------------------------------------------ driver side ------------- */

int vq_drv_split_init(struct vq_drv *q, void *mem, uint64_t mem_gpa)
{
	uint8_t *base = mem;
	q->desc = (struct vring_desc *)base;
	q->avail = (struct vring_avail *)(base + (q->cfg.driver - mem_gpa));
	q->used = (struct vring_used *)(base + (q->cfg.device - mem_gpa));
	q->free_head = 0;
	return 0;
}

static void put_desc(struct vring_desc *d, const struct vq_sg *sg, uint16_t flags)
{
	d->addr = sg->addr;
	d->len = sg->len;
	d->flags = flags;
}

int vq_drv_split_add(struct vq_drv *q, const struct vq_sg *sg, unsigned nout, unsigned nin,
		     void *token, void *indirect, uint64_t indirect_gpa)
{
	unsigned total = nout + nin;
	bool use_indirect = indirect && total > 1;
	unsigned need = use_indirect ? 1 : total;
	if (need > q->num_free)
		return -ENOSPC;
	uint16_t head = q->free_head, i = head;
	if (use_indirect) {
		struct vring_desc *t = indirect;
		for (unsigned k = 0; k < total; k++) {
			uint16_t f = (k >= nout ? VRING_DESC_F_WRITE : 0) |
				     (k + 1 < total ? VRING_DESC_F_NEXT : 0);
			put_desc(&t[k], &sg[k], f);
			t[k].next = (uint16_t)(k + 1);
		}
		struct vq_sg table = {.addr = indirect_gpa,
				      .len = (uint32_t)(total * sizeof(struct vring_desc))};
		put_desc(&q->desc[head], &table, VRING_DESC_F_INDIRECT);
	} else {
		for (unsigned k = 0; k < total; k++) {
			uint16_t f = k >= nout ? VRING_DESC_F_WRITE : 0;
			if (k + 1 < total) {
				f |= VRING_DESC_F_NEXT;
				q->desc[i].next = q->slot[i].next;
			}
			put_desc(&q->desc[i], &sg[k], f);
			if (k + 1 < total)
				i = q->slot[i].next;
		}
	}
	q->free_head = q->slot[i].next;
	q->num_free -= need;
	q->slot[head].token = token;
	q->slot[head].ndesc = (uint16_t)need;
	q->avail->ring[q->avail_idx % q->cfg.num] = head;
	q->avail_idx++;
	return 0;
}

bool vq_drv_split_kick_prepare(struct vq_drv *q)
{
	uint16_t old = q->kicked_idx, new = q->avail_idx;
	if (old == new)
		return false;
	/* Release pairs with the device's acquire of avail->idx: descriptors and entries first. */
	vq_store_release(&q->avail->idx, new);
	q->kicked_idx = new;
	/* The index before the device's wish (pairs with the device's barrier after it
	 * re-enables notifications). */
	vq_mb();
	if (q->cfg.event_idx)
		return vring_need_event(VQ_READ_ONCE(*avail_event(q->used, q->cfg.num)), new, old);
	return !(VQ_READ_ONCE(q->used->flags) & VRING_USED_F_NO_NOTIFY);
}

void *vq_drv_split_get(struct vq_drv *q, uint32_t *len)
{
	struct vring_used_elem e;
	for (;;) {
		/* Acquire pairs with the device's release of used->idx. */
		if (q->last_used == vq_load_acquire(&q->used->idx)) {
			if (!q->cfg.event_idx || !q->intr_enabled ||
			    VQ_READ_ONCE(*used_event(q->avail, q->cfg.num)) == q->last_used)
				return NULL;
			/* Entries were skipped: the event index must still move past them, or the
			 * device would think we do not want the next interrupt yet. Then look
			 * again, as vq_drv_intr_enable does (the barrier pairs with the device's
			 * between publishing and reading used_event). */
			VQ_WRITE_ONCE(*used_event(q->avail, q->cfg.num), q->last_used);
			vq_mb();
			continue;
		}
		e = q->used->ring[q->last_used % q->cfg.num];
		q->last_used++;
		if (e.id < q->cfg.num && q->slot[e.id].token)
			break;
		/* An entry naming nothing we handed over is a device bug: skip it. */
	}
	uint16_t head = (uint16_t)e.id, last = head;
	for (unsigned k = 1; k < q->slot[head].ndesc; k++)
		last = q->slot[last].next;
	void *token = q->slot[head].token;
	q->slot[head].token = NULL;
	q->slot[last].next = q->free_head;
	q->free_head = head;
	q->num_free += q->slot[head].ndesc;
	if (q->cfg.event_idx && q->intr_enabled)
		VQ_WRITE_ONCE(*used_event(q->avail, q->cfg.num), q->last_used);
	if (len)
		*len = e.len;
	return token;
}

bool vq_drv_split_intr_enable(struct vq_drv *q, bool on)
{
	q->intr_enabled = on;
	if (!q->cfg.event_idx)
		VQ_WRITE_ONCE(q->avail->flags, on ? 0 : VRING_AVAIL_F_NO_INTERRUPT);
	else /* off: an index the device has passed already, so no interrupt for 2^16 - 1 */
		VQ_WRITE_ONCE(*used_event(q->avail, q->cfg.num),
			      (uint16_t)(q->last_used - (on ? 0 : 1)));
	if (!on)
		return true;
	/* The event store before re-reading used->idx (pairs with the device's barrier between
	 * publishing and reading used_event). */
	vq_mb();
	return vq_load_acquire(&q->used->idx) == q->last_used;
}
