/* SPDX-License-Identifier: MIT */
/*
 * ioproxy's ring operations (proxy/queue.c) over fake guest memory: a memfd that the test maps
 * as the driver's view and hands to ioproxy's memory table (iop_mem_set) as a front-end would,
 * with the driver side of rings/ (vq_drv_*) making the buffers. Covered through iop_queue_*
 * and the fields iop.h documents: pop order and batches, a head offered again while in flight
 * (refused as VQ_ERR_HEAD with no segments, the first left in flight), push clearing busy,
 * publish signalling the call eventfd only when the driver asked (EVENT_IDX on and off), the
 * inflight region's marks, resubmission after a restart (split and packed), and
 * iop_queue_prepare refusing rings outside the memory table or badly sized or aligned. Each
 * test reruns across split/packed x EVENT_IDX x indirect.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "barrier.h"
#include "iop.h"
#include "ring_configs.h"

#define NUM	  16
#define RAM_GPA	  0x40000000ull	    /* guest-physical base of the one region */
#define RAM_UVA	  0x7f1200000000ull /* the front-end's address for it: neither is ours */
#define RAM_SIZE  (1u << 20)
#define TABLE_OFF 0x10000u /* indirect table of buffer t at TABLE_OFF + t * 0x100 */
#define DATA_OFF  0x20000u /* buffer t: 16 readable bytes at + t * 0x100, 64 writable at +0x40 */
#define MAX_TOK	  64
#define MAX_SEG	  8
#define F_AVAIL	  (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED	  (1u << VRING_PACKED_DESC_F_USED)

struct fx {
	const struct tcfg *t;
	int memfd;
	uint8_t *ram; /* the driver's view of guest memory */
	struct vq_drv drv;
	struct vq_drv_slot slots[NUM];
	int tok[MAX_TOK];
	uint8_t *inflight; /* the front-end's inflight buffer, kept across device restarts */
	uint64_t inflight_bytes;
	/* The device: one ioproxy "process"; dev_start makes a fresh one. */
	struct iop_dev d;
	struct iop_queue *q;
	int call_fd;
	struct vq_chain c[MAX_TOK];
	struct vq_seg seg[MAX_TOK][MAX_SEG];
};

static uint64_t gpa(uint64_t off)
{
	return RAM_GPA + off;
}

static uint64_t uva_of(uint64_t g)
{
	return RAM_UVA + (g - RAM_GPA);
}

static uint64_t features(const struct tcfg *t)
{
	return 1ull << VIRTIO_F_VERSION_1 | (t->packed ? 1ull << VIRTIO_F_RING_PACKED : 0) |
	       (t->event_idx ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0) |
	       (t->indirect ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0);
}

/* What the control thread has before a ring starts: the memory table, the ring's size, its
 * addresses and base (SET_VRING_*), the inflight buffer if any, and a call eventfd. */
static void dev_config(struct fx *f, uint32_t base)
{
	struct iop_dev *d = &f->d;
	iop_dev_init(d, 0, "test", NULL);
	d->nq = 1;
	d->features = features(f->t);
	struct vhost_user_memory tbl = {.nregions = 1};
	tbl.regions[0] = (struct vhost_user_mem_region){
		.guest_phys_addr = RAM_GPA, .memory_size = RAM_SIZE, .userspace_addr = RAM_UVA};
	assert_int_equal(iop_mem_set(&d->mem, &tbl, &f->memfd), 0);
	if (f->inflight) {
		d->inflight_map = f->inflight;
		d->inflight_size = f->inflight_bytes;
		d->inflight_queues = 1;
		d->inflight_qsize = NUM;
	}
	struct iop_queue *q = f->q = &d->q[0];
	q->num = NUM;
	q->num_set = q->addr_set = true;
	q->desc_uva = uva_of(f->drv.cfg.desc);
	q->avail_uva = uva_of(f->drv.cfg.driver);
	q->used_uva = uva_of(f->drv.cfg.device);
	q->base = base;
	q->call_fd = f->call_fd;
}

static void dev_start(struct fx *f, uint32_t base)
{
	dev_config(f, base);
	assert_int_equal(iop_queue_prepare(f->q), 0);
}

/* The device goes away without completing anything more (a crash, as far as the ring and the
 * inflight buffer can tell). */
static void dev_stop(struct fx *f)
{
	iop_queue_release(f->q);
	iop_mem_clear(&f->d.mem);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->t = *state;
	f->memfd = memfd_create("test-iop-queue", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, RAM_SIZE) < 0)
		return -1;
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->ram == MAP_FAILED)
		return -1;
	f->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->call_fd < 0)
		return -1;
	struct vq_config cfg = {.num = NUM,
				.packed = f->t->packed,
				.event_idx = f->t->event_idx,
				.indirect = f->t->indirect};
	if (vq_drv_init(&f->drv, &cfg, f->ram, RAM_GPA, f->slots))
		return -1;
	for (unsigned t = 0; t < MAX_TOK; t++)
		f->tok[t] = (int)t;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->q)
		dev_stop(f);
	close(f->call_fd);
	munmap(f->ram, RAM_SIZE);
	close(f->memfd);
	free(f->inflight);
	free(f);
	return 0;
}

/* The front-end's inflight buffer (GET_INFLIGHT_FD), formatted for one queue. */
static void with_inflight(struct fx *f)
{
	f->inflight_bytes = iop_inflight_queue_bytes(NUM, f->t->packed);
	f->inflight = aligned_alloc(64, f->inflight_bytes);
	assert_non_null(f->inflight);
	iop_inflight_format(f->inflight, 1, NUM, f->t->packed);
}

/* ------------------------------------------------------------------ driver side ----------- */

/* The driver offers buffer t (16 bytes to read, 64 to write); returns its buffer id. */
static uint16_t offer(struct fx *f, unsigned t)
{
	uint16_t id = f->drv.free_head;
	uint64_t base = DATA_OFF + t * 0x100ull;
	const struct vq_sg sg[2] = {{gpa(base), 16}, {gpa(base + 0x40), 64}};
	void *table = f->t->indirect ? f->ram + TABLE_OFF + t * 0x100 : NULL;
	f->ram[base] = (uint8_t)(0x80 + t);
	assert_int_equal(
		vq_drv_add(&f->drv, sg, 1, 1, &f->tok[t], table, gpa(TABLE_OFF + t * 0x100)), 0);
	vq_drv_kick_prepare(&f->drv);
	return id;
}

/* A hostile driver offers buffer t again under id, bypassing its own bookkeeping (one ring
 * slot, one readable descriptor). */
static void offer_again(struct fx *f, uint16_t id, unsigned t)
{
	if (f->t->packed) {
		struct vring_packed_desc *d = &f->drv.pdesc[f->drv.next_avail];
		bool wrap = f->drv.avail_wrap;
		d->addr = gpa(DATA_OFF + t * 0x100ull);
		d->len = 16;
		d->id = id;
		/* Released after the rest (pairs with the device's acquire of the flags). */
		vq_store_release(&d->flags, (uint16_t)(wrap ? F_AVAIL : F_USED));
		if (++f->drv.next_avail == NUM) {
			f->drv.next_avail = 0;
			f->drv.avail_wrap = !wrap;
		}
	} else {
		f->drv.avail->ring[f->drv.avail_idx % NUM] = id;
		f->drv.avail_idx++;
		vq_drv_kick_prepare(&f->drv);
	}
}

/* The buffer the driver gets back next, as a token number, or -1 for none. */
static int reap(struct fx *f, uint32_t *len)
{
	int *tok = vq_drv_get(&f->drv, len);
	return tok ? *tok : -1;
}

/* The k-th used entry the device has published since the ring started (split: used ring
 * entry k; packed: the used descriptor in ring slot k of the first lap); false if not there. */
static bool used_at(struct fx *f, unsigned k, uint16_t *id, uint32_t *len)
{
	if (f->t->packed) {
		const struct vring_packed_desc *d = &f->drv.pdesc[k];
		uint16_t flags = vq_load_acquire(&d->flags);
		if ((flags & (F_AVAIL | F_USED)) != (F_AVAIL | F_USED))
			return false;
		*id = d->id;
		*len = d->len;
		return true;
	}
	uint16_t ahead = (uint16_t)(vq_load_acquire(&f->drv.used->idx) - k);
	if (ahead == 0 || ahead > NUM)
		return false;
	*id = (uint16_t)f->drv.used->ring[k % NUM].id;
	*len = f->drv.used->ring[k % NUM].len;
	return true;
}

/* ------------------------------------------------------------------ device side ----------- */

/* Pops up to n chains into f->c[first..]; returns how many. */
static int pop(struct fx *f, unsigned first, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		f->c[first + i] = (struct vq_chain){.seg = f->seg[first + i], .max_seg = MAX_SEG};
	return iop_queue_pop(f->q, &f->c[first], n);
}

/* The token a good chain carries, from where its readable buffer lies. */
static unsigned token_of(const struct vq_chain *c)
{
	assert_int_equal(c->err, VQ_OK);
	assert_int_equal(c->nseg, 2);
	assert_int_equal(c->nread, 1);
	assert_int_equal(c->read_len, 16);
	assert_int_equal(c->write_len, 64);
	uint64_t off = c->seg[0].gpa - RAM_GPA - DATA_OFF;
	assert_int_equal(off % 0x100, 0);
	assert_int_equal(c->seg[1].gpa, c->seg[0].gpa + 0x40);
	/* ioproxy's mapping shows what the driver wrote there (offer's marker) */
	unsigned t = (unsigned)(off / 0x100);
	assert_int_equal(c->seg[0].hva[0], (uint8_t)(0x80 + t));
	return t;
}

/* The call eventfd's counter, read and reset: how many signals since the last look. */
static uint64_t calls(struct fx *f)
{
	uint64_t v = 0;
	if (read(f->call_fd, &v, sizeof(v)) < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return v;
}

/* ------------------------------------------------------------------ tests ----------------- */

static void pop_in_order(void **state)
{
	struct fx *f = *state;
	dev_start(f, f->t->packed ? 0x8000 : 0);
	uint16_t id[6];
	for (unsigned t = 0; t < 6; t++)
		id[t] = offer(f, t);
	/* Batches of 4 then the rest: ring order, each chain's id as the driver gave it. */
	assert_int_equal(pop(f, 0, 4), 4);
	assert_int_equal(pop(f, 4, 4), 2);
	assert_int_equal(pop(f, 6, 4), 0);
	for (unsigned k = 0; k < 6; k++) {
		assert_int_equal(token_of(&f->c[k]), k);
		assert_int_equal(f->c[k].id, id[k]);
		assert_int_equal(f->q->busy[id[k]], 1);
	}
	assert_int_equal(f->q->chains, 6);
	assert_int_equal(f->q->bad_chains, 0);
	/* Completed out of order, each comes back to the driver once, with its length. */
	const unsigned order[] = {3, 0, 5, 1, 4, 2};
	for (unsigned i = 0; i < 6; i++)
		iop_queue_push(f->q, &f->c[order[i]], 10 + order[i]);
	iop_queue_publish(f->q);
	for (unsigned i = 0; i < 6; i++) {
		uint32_t len;
		assert_int_equal(reap(f, &len), order[i]);
		assert_int_equal(len, 10 + order[i]);
	}
	assert_int_equal(reap(f, NULL), -1);
}

static void push_clears_busy(void **state)
{
	struct fx *f = *state;
	dev_start(f, f->t->packed ? 0x8000 : 0);
	uint16_t a = offer(f, 0), b = offer(f, 1);
	assert_int_equal(pop(f, 0, 2), 2);
	assert_int_equal(f->q->busy[a], 1);
	assert_int_equal(f->q->busy[b], 1);
	iop_queue_push(f->q, &f->c[1], 64);
	assert_int_equal(f->q->busy[b], 0);
	assert_int_equal(f->q->busy[a], 1);
	/* Pushed is not yet visible: the driver sees it after the publish. */
	assert_int_equal(reap(f, NULL), -1);
	iop_queue_publish(f->q);
	assert_int_equal(reap(f, NULL), 1);
	/* The driver reuses b's id for a new buffer: taken normally. */
	uint16_t c = offer(f, 2);
	assert_int_equal(c, b);
	assert_int_equal(pop(f, 2, 1), 1);
	assert_int_equal(token_of(&f->c[2]), 2);
	assert_int_equal(f->q->busy[b], 1);
	assert_int_equal(f->q->dup_heads, 0);
	iop_queue_push(f->q, &f->c[0], 0);
	iop_queue_push(f->q, &f->c[2], 0);
	assert_int_equal(f->q->busy[a], 0);
	assert_int_equal(f->q->busy[b], 0);
}

/* A head the driver offers again while it is in flight is refused; the first stays in flight
 * (busy, and marked in the inflight buffer) until it completes itself. */
static void duplicate_head(void **state)
{
	struct fx *f = *state;
	with_inflight(f);
	dev_start(f, f->t->packed ? 0x8000 : 0);
	uint16_t a = offer(f, 0);
	assert_int_equal(pop(f, 0, 1), 1);
	assert_int_equal(f->c[0].id, a);
	offer_again(f, a, 1);
	assert_int_equal(pop(f, 1, 4), 1);
	const struct vq_chain *dup = &f->c[1];
	assert_int_equal(dup->err, VQ_ERR_HEAD);
	assert_int_equal(dup->id, a);
	assert_int_equal(dup->nseg, 0);
	assert_int_equal(dup->read_len + dup->write_len, 0);
	assert_int_equal(f->q->dup_heads, 1);
	assert_int_equal(f->q->bad_chains, 1);
	assert_int_equal(f->q->chains, 2);
	assert_int_equal(f->q->busy[a], 1);
	/* The refused one completes first, with length 0: the first is still ours. */
	iop_queue_push(f->q, dup, 0);
	iop_queue_publish(f->q);
	assert_int_equal(f->q->busy[a], 1);
	uint16_t id;
	uint32_t len;
	assert_true(used_at(f, 0, &id, &len));
	assert_int_equal(id, a);
	assert_int_equal(len, 0);
	if (!f->t->packed) {
		struct vhost_user_inflight_split *r = (void *)f->inflight;
		assert_int_equal(r->desc[a].inflight, 1);
	}
	/* Then the first, with its length. */
	iop_queue_push(f->q, &f->c[0], 64);
	iop_queue_publish(f->q);
	assert_int_equal(f->q->busy[a], 0);
	assert_true(used_at(f, 1, &id, &len)); /* packed: after the refused chain's one slot */
	assert_int_equal(id, a);
	assert_int_equal(len, 64);
	if (!f->t->packed) {
		struct vhost_user_inflight_split *r = (void *)f->inflight;
		assert_int_equal(r->desc[a].inflight, 0);
	}
	/* Free again, a is accepted again. */
	offer_again(f, a, 2);
	assert_int_equal(pop(f, 2, 1), 1);
	assert_int_equal(f->c[2].err, VQ_OK);
	assert_int_equal(f->q->busy[a], 1);
	assert_int_equal(f->q->dup_heads, 1);
}

/* A refused duplicate completed before a restart: the chains really in flight (the first
 * offer of the head, and one behind it) come back, each once; the duplicate does not. */
static void duplicate_head_then_restart(void **state)
{
	struct fx *f = *state;
	with_inflight(f);
	dev_start(f, f->t->packed ? 0x8000 : 0);
	uint16_t a = offer(f, 0);
	assert_int_equal(pop(f, 0, 1), 1);
	offer_again(f, a, 1);
	uint16_t b = offer(f, 2);
	assert_int_equal(pop(f, 1, 4), 2);
	assert_int_equal(f->c[1].err, VQ_ERR_HEAD);
	assert_int_equal(token_of(&f->c[2]), 2);
	iop_queue_push(f->q, &f->c[1], 0);
	iop_queue_publish(f->q);
	uint16_t used = f->t->packed ? 0 : f->drv.used->idx;
	dev_stop(f);
	dev_start(f, f->t->packed ? 0x8000 : used);
	unsigned n = 0;
	for (int got; (got = pop(f, 10 + n, 4)) > 0;)
		n += (unsigned)got;
	assert_int_equal(n, 2);
	assert_int_equal(f->c[10].id, a);
	assert_int_equal(token_of(&f->c[10]), 0);
	assert_int_equal(f->c[11].id, b);
	assert_int_equal(token_of(&f->c[11]), 2);
	assert_int_equal(f->q->resubmitted, 2);
}

/* The call eventfd is written when, and only when, the driver asked for the interrupt. */
static void publish_signals_when_asked(void **state)
{
	struct fx *f = *state;
	dev_start(f, f->t->packed ? 0x8000 : 0);
	/* Nothing pushed: nothing to publish, no signal. */
	iop_queue_publish(f->q);
	assert_int_equal(calls(f), 0);
	/* The driver turned interrupts off. */
	vq_drv_intr_enable(&f->drv, false);
	offer(f, 0);
	assert_int_equal(pop(f, 0, 1), 1);
	iop_queue_push(f->q, &f->c[0], 1);
	iop_queue_publish(f->q);
	assert_int_equal(calls(f), 0);
	assert_int_equal(f->q->calls, 0);
	assert_int_equal(reap(f, NULL), 0);
	/* On again: the next completion is signalled, once per publish (a batch of two). */
	vq_drv_intr_enable(&f->drv, true);
	offer(f, 1);
	offer(f, 2);
	assert_int_equal(pop(f, 1, 2), 2);
	iop_queue_push(f->q, &f->c[1], 1);
	iop_queue_push(f->q, &f->c[2], 1);
	iop_queue_publish(f->q);
	assert_int_equal(calls(f), 1);
	assert_int_equal(f->q->calls, 1);
	/* The driver has not looked yet. With EVENT_IDX it asked for one interrupt at the entry
	 * it expects next, which was signalled: no other until it has caught up. Without, every
	 * publish signals. */
	offer(f, 3);
	assert_int_equal(pop(f, 3, 1), 1);
	iop_queue_push(f->q, &f->c[3], 1);
	iop_queue_publish(f->q);
	uint64_t want = f->t->event_idx ? 0 : 1;
	assert_int_equal(calls(f), want);
	assert_int_equal(f->q->calls, 1 + want);
	/* Caught up: the next one is signalled again. */
	assert_int_equal(reap(f, NULL), 1);
	assert_int_equal(reap(f, NULL), 2);
	assert_int_equal(reap(f, NULL), 3);
	assert_int_equal(reap(f, NULL), -1);
	offer(f, 4);
	assert_int_equal(pop(f, 4, 1), 1);
	iop_queue_push(f->q, &f->c[4], 1);
	iop_queue_publish(f->q);
	assert_int_equal(calls(f), 1);
	/* No call fd: completions still published, nothing signalled. */
	f->q->call_fd = -1;
	uint64_t before = f->q->calls;
	offer(f, 5);
	assert_int_equal(pop(f, 5, 1), 1);
	iop_queue_push(f->q, &f->c[5], 1);
	iop_queue_publish(f->q);
	assert_int_equal(f->q->calls, before);
	assert_int_equal(reap(f, NULL), 4);
	assert_int_equal(reap(f, NULL), 5);
	assert_int_equal(calls(f), 0);
	f->q->call_fd = f->call_fd;
}

/* Heads in flight per the inflight buffer (split: by head; packed: chains by buffer id). */
static bool marked(struct fx *f, uint16_t id)
{
	if (!f->t->packed) {
		struct vhost_user_inflight_split *r = (void *)f->inflight;
		return r->desc[id].inflight == 1;
	}
	/* Packed: a chain's head entry is marked; its copied descriptors carry the id. */
	struct vhost_user_inflight_packed *p = (void *)f->inflight;
	for (unsigned i = 0; i < NUM; i++)
		if (p->desc[i].inflight == 1 && p->desc[p->desc[i].last % NUM].id == id)
			return true;
	return false;
}

static void inflight_marks(void **state)
{
	struct fx *f = *state;
	with_inflight(f);
	dev_start(f, f->t->packed ? 0x8000 : 0);
	uint16_t id[3];
	for (unsigned t = 0; t < 3; t++)
		id[t] = offer(f, t);
	for (unsigned t = 0; t < 3; t++)
		assert_false(marked(f, id[t]));
	assert_int_equal(pop(f, 0, 3), 3);
	for (unsigned t = 0; t < 3; t++)
		assert_true(marked(f, id[t]));
	/* Completed: still in flight until published (a crash before would resubmit it). */
	iop_queue_push(f->q, &f->c[1], 0);
	assert_true(marked(f, id[1]));
	iop_queue_publish(f->q);
	assert_false(marked(f, id[1]));
	assert_true(marked(f, id[0]));
	assert_true(marked(f, id[2]));
	iop_queue_push(f->q, &f->c[2], 0);
	iop_queue_push(f->q, &f->c[0], 0);
	iop_queue_publish(f->q);
	for (unsigned t = 0; t < 3; t++)
		assert_false(marked(f, id[t]));
}

/* A device restart: what was in flight comes back first, in the order it was first taken, then
 * the ring continues; the driver gets every buffer back exactly once. */
static void replay_after_restart(void **state)
{
	struct fx *f = *state;
	with_inflight(f);
	dev_start(f, f->t->packed ? 0x8000 : 0);
	/* A first round completed out of order shuffles the driver's free ids. */
	for (unsigned t = 0; t < 4; t++)
		offer(f, t);
	assert_int_equal(pop(f, 0, 4), 4);
	const unsigned first[] = {2, 0, 3, 1};
	for (unsigned i = 0; i < 4; i++)
		iop_queue_push(f->q, &f->c[first[i]], 0);
	iop_queue_publish(f->q);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(reap(f, NULL), first[i]);
	/* Five in flight, then 6 and 8 complete and are published; 5, 7, 9 are not. */
	uint16_t id[10];
	for (unsigned t = 4; t < 10; t++)
		id[t] = offer(f, t);
	assert_int_equal(pop(f, 4, 6), 6);
	iop_queue_push(f->q, &f->c[6], 0);
	iop_queue_push(f->q, &f->c[8], 0);
	iop_queue_publish(f->q);
	assert_int_equal(reap(f, NULL), 6);
	assert_int_equal(reap(f, NULL), 8);
	iop_queue_push(f->q, &f->c[9], 0); /* pushed, never published: still in flight */
	/* ioproxy dies; the driver offers one more meanwhile; a new ioproxy starts with the
	 * front-end's (stale) base. */
	uint16_t used_before = f->t->packed ? 0 : f->drv.used->idx;
	dev_stop(f);
	offer(f, 10);
	dev_start(f, f->t->packed ? 0x8000 : used_before);
	assert_int_equal(f->q->resubmitted, 0);
	/* First the four in flight, in the order taken (4, 5, 7, 9), then the new one; in
	 * batches of any size (a batch may end early where the resubmissions end). */
	const unsigned again[] = {4, 5, 7, 9, 10};
	unsigned n = (unsigned)pop(f, 20, 2);
	assert_int_equal(n, 2);
	for (int got; (got = pop(f, 20 + n, 8)) > 0;)
		n += (unsigned)got;
	assert_int_equal(n, 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(token_of(&f->c[20 + i]), again[i]);
		if (i < 4)
			assert_int_equal(f->c[20 + i].id, id[again[i]]);
	}
	assert_int_equal(f->q->resubmitted, 4);
	/* All complete; each reaches the driver once. */
	for (unsigned i = 20; i < 25; i++)
		iop_queue_push(f->q, &f->c[i], 0);
	iop_queue_publish(f->q);
	uint64_t seen = 0;
	for (int t; (t = reap(f, NULL)) >= 0;) {
		assert_false(seen & 1ull << t);
		seen |= 1ull << t;
	}
	assert_int_equal(seen, 1u << 4 | 1u << 5 | 1u << 7 | 1u << 9 | 1u << 10);
	/* And a restart with nothing in flight resubmits nothing. */
	dev_stop(f);
	dev_start(f, f->t->packed ? 0x8000 : f->drv.used->idx);
	offer(f, 11);
	assert_int_equal(pop(f, 30, 4), 1);
	assert_int_equal(token_of(&f->c[30]), 11);
	assert_int_equal(f->q->resubmitted, 0);
}

static void prepare_refuses(void **state)
{
	struct fx *f = *state;
	uint64_t end = RAM_UVA + RAM_SIZE;
	struct {
		const char *what;
		int want;
	} cases[] = {
		{"num not set", -EINVAL},
		{"addresses not set", -EINVAL},
		{"size 0", -EINVAL},
		{"descriptors before the region", -EFAULT},
		{"descriptors past its end", -EFAULT},
		{"driver area straddling the end", -EFAULT},
		{"device area at a gpa, not a uva", -EFAULT},
		{"descriptors misaligned", -EINVAL},
		{"split size not a power of two", -EINVAL},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dev_config(f, 0);
		struct iop_queue *q = f->q;
		switch (i) {
		case 0:
			q->num_set = false;
			break;
		case 1:
			q->addr_set = false;
			break;
		case 2:
			q->num = 0;
			break;
		case 3:
			q->desc_uva = RAM_UVA - 0x1000;
			break;
		case 4:
			q->desc_uva = end;
			break;
		case 5:
			q->avail_uva = end - 2;
			break;
		case 6:
			q->used_uva = f->drv.cfg.device;
			break;
		case 7:
			q->desc_uva += 8;
			break;
		case 8:
			if (f->t->packed) /* any size goes for a packed ring */
				q->desc_uva = end;
			else
				q->num = 12;
			cases[i].want = f->t->packed ? -EFAULT : -EINVAL;
			break;
		}
		int ret = iop_queue_prepare(q);
		if (ret != cases[i].want)
			fail_msg("%s: %s: got %d, want %d", f->t->name, cases[i].what, ret,
				 cases[i].want);
		iop_queue_release(q);
		iop_mem_clear(&f->d.mem);
	}
	/* And the same queue, right this time, works. */
	dev_start(f, f->t->packed ? 0x8000 : 0);
	offer(f, 0);
	assert_int_equal(pop(f, 0, 1), 1);
	assert_int_equal(token_of(&f->c[0]), 0);
}

/* A test once per ring configuration (cfgs[]), named after it. */
#define ON(fn, i, label) ((struct CMUnitTest){#fn "/" label, fn, setup, teardown, (void *)&cfgs[i]})
#define ON_ALL(fn)                                                                                 \
	ON(fn, 0, "split"), ON(fn, 1, "split+event_idx"), ON(fn, 2, "split+indirect"),             \
		ON(fn, 3, "split+event_idx+indirect"), ON(fn, 4, "packed"),                        \
		ON(fn, 5, "packed+event_idx"), ON(fn, 6, "packed+indirect"),                       \
		ON(fn, 7, "packed+event_idx+indirect")

int main(void)
{
	const struct CMUnitTest tests[] = {
		ON_ALL(pop_in_order),
		ON_ALL(push_clears_busy),
		ON_ALL(duplicate_head),
		ON_ALL(duplicate_head_then_restart),
		ON_ALL(publish_signals_when_asked),
		ON_ALL(inflight_marks),
		ON_ALL(replay_after_restart),
		ON_ALL(prepare_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
