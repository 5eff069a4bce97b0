/* SPDX-License-Identifier: MIT */
/*
 * Virtqueues, well-behaved traffic: the driver side (vq_drv_*) hands buffers to the device side
 * (vq_*) through fake guest memory and back. Every test reruns across the eight configurations
 * (split/packed, EVENT_IDX on/off, indirect on/off).
 *
 * Guest memory is two adjacent heap regions (A then B) and nothing else: rings and indirect
 * tables sit in A, data buffers start at an odd address near the end of A so that some of them
 * cross into B and become two segments.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packed_bits.h"
#include "virtq.h"
#include "ring_configs.h"

#define A_SIZE	    (4ull << 20)
#define B_GPA	    A_SIZE /* adjacent to A */
#define B_SIZE	    (1ull << 20)
#define RING_GPA    0x0ull
#define TABLE_GPA   0x100000ull /* TABLE_BYTES of indirect table per request */
#define TABLE_BYTES 256ull
#define DATA_GPA    (B_GPA - 0x80000 + 0x123) /* DATA_BYTES per request; odd, crosses into B */
#define DATA_BYTES  4096ull
#define MAX_REQ	    256
#define MAX_SG	    8
#define MAX_SEG	    16

/* Under UBSan (build-asan), undefined behaviour fails the test instead of only printing. */
struct req {
	unsigned idx; /* owns TABLE_BYTES at TABLE_GPA and DATA_BYTES at DATA_GPA */
	uint32_t seq;
	unsigned nout, nin;
	struct vq_sg sg[MAX_SG];
	uint32_t written; /* what the device said it wrote */
};

struct env {
	const struct tcfg *t;
	uint8_t *a, *b;
	struct gmem mem;
	struct vq dev;
	struct vq_drv drv;
	struct vq_drv_slot slot[VQ_MAX_SIZE];
	struct req req[MAX_REQ];
	unsigned free_req[MAX_REQ], nfree;
	uint32_t seq;
	struct vq_seg seg[MAX_REQ][MAX_SEG];
	struct vq_chain chain[MAX_REQ];
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->t = *state;
	e->a = calloc(1, A_SIZE);
	e->b = calloc(1, B_SIZE);
	gmem_init(&e->mem);
	if (!e->a || !e->b || gmem_add(&e->mem, 0, A_SIZE, e->a, -1, 0) ||
	    gmem_add(&e->mem, B_GPA, B_SIZE, e->b, -1, 0))
		return -1;
	for (unsigned i = 0; i < MAX_REQ; i++) {
		e->req[i].idx = i;
		e->free_req[i] = MAX_REQ - 1 - i;
		e->chain[i] = (struct vq_chain){.max_seg = MAX_SEG, .seg = e->seg[i]};
	}
	e->nfree = MAX_REQ;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	free(e->a);
	free(e->b);
	free(e);
	return 0;
}

/* Both sides of a queue of num entries, rings at RING_GPA. */
static void open_queue(struct env *e, uint16_t num)
{
	struct vq_config cfg = {.num = num,
				.packed = e->t->packed,
				.event_idx = e->t->event_idx,
				.indirect = e->t->indirect};
	assert_int_equal(vq_drv_init(&e->drv, &cfg, e->a + RING_GPA, RING_GPA, e->slot), 0);
	assert_int_equal(vq_init(&e->dev, &e->mem, &e->drv.cfg), 0);
}

static uint8_t out_byte(uint32_t seq, uint32_t off)
{
	return (uint8_t)(seq * 131 + off * 7 + 1);
}

static uint8_t in_byte(uint32_t seq, uint32_t off)
{
	return (uint8_t)(seq * 17 + off * 3) ^ 0x5a;
}

/* A request of nout readable then nin writable pieces of about len bytes each. The first 4
 * readable bytes are its sequence number, the rest a pattern the device checks. */
static struct req *req_new(struct env *e, unsigned nout, unsigned nin, uint32_t len)
{
	assert_true(e->nfree > 0 && nout >= 1 && nout + nin <= MAX_SG);
	struct req *r = &e->req[e->free_req[--e->nfree]];
	r->seq = e->seq++;
	r->nout = nout;
	r->nin = nin;
	uint64_t gpa = DATA_GPA + r->idx * DATA_BYTES;
	uint32_t off = 0;
	for (unsigned k = 0; k < nout + nin; k++) {
		uint32_t n = len + (r->seq + k) % 5 + (k == 0 ? 4 : 0);
		r->sg[k] = (struct vq_sg){.addr = gpa, .len = n};
		for (uint32_t i = 0; k < nout && i < n; i++, off++) {
			uint8_t v =
				off < 4 ? (uint8_t)(r->seq >> (8 * off)) : out_byte(r->seq, off);
			assert_int_equal(gmem_write(&e->mem, gpa + i, &v, 1), 0);
		}
		gpa += n;
	}
	assert_true(gpa <= DATA_GPA + (r->idx + 1) * DATA_BYTES);
	return r;
}

static int req_submit(struct env *e, struct req *r)
{
	uint64_t tgpa = TABLE_GPA + r->idx * TABLE_BYTES;
	return vq_drv_add(&e->drv, r->sg, r->nout, r->nin, r, e->a + tgpa, tgpa);
}

/* The device's work: checks the readable bytes against the pattern of the sequence number they
 * start with, fills the writable part (all but seq % 3 bytes of it) and returns how much. */
static uint32_t serve(struct env *e, const struct vq_chain *c)
{
	assert_int_equal(c->err, VQ_OK);
	uint32_t seq = 0, off = 0, w = 0, len = 0;
	for (unsigned s = 0; s < c->nseg; s++) /* each segment wholly inside one region */
		assert_ptr_equal(c->seg[s].hva, gmem_ptr(&e->mem, c->seg[s].gpa, c->seg[s].len));
	for (unsigned s = 0; s < c->nread; s++) {
		for (uint32_t i = 0; i < c->seg[s].len; i++, off++) {
			if (off < 4)
				seq |= (uint32_t)c->seg[s].hva[i] << (8 * off);
			else
				assert_int_equal(c->seg[s].hva[i], out_byte(seq, off));
		}
		len += c->seg[s].len;
	}
	assert_int_equal(len, c->read_len);
	uint32_t written = c->write_len > seq % 3 ? c->write_len - seq % 3 : 0;
	for (unsigned s = c->nread; s < c->nseg; s++)
		for (uint32_t i = 0; i < c->seg[s].len; i++, w++)
			c->seg[s].hva[i] = in_byte(seq, w);
	assert_int_equal(w, c->write_len);
	return written;
}

/* Takes one completion: checks the length and what the device wrote, frees the request. */
static struct req *reap(struct env *e)
{
	uint32_t len = 0xdead;
	struct req *r = vq_drv_get(&e->drv, &len);
	if (!r)
		return NULL;
	uint32_t wlen = 0, w = 0;
	for (unsigned k = r->nout; k < r->nout + r->nin; k++)
		wlen += r->sg[k].len;
	assert_int_equal(len, wlen > r->seq % 3 ? wlen - r->seq % 3 : 0);
	for (unsigned k = r->nout; k < r->nout + r->nin; k++)
		for (uint32_t i = 0; i < r->sg[k].len; i++, w++) {
			uint8_t v;
			assert_int_equal(gmem_read(&e->mem, r->sg[k].addr + i, &v, 1), 0);
			assert_int_equal(v, in_byte(r->seq, w));
		}
	r->written = len;
	e->free_req[e->nfree++] = r->idx;
	return r;
}

static const unsigned shapes[][2] = {{1, 0}, {1, 1}, {2, 1}, {1, 3}, {3, 2}, {4, 4}};
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* One buffer at a time, every shape and many sizes: data and lengths survive. */
static void round_trip(void **state)
{
	struct env *e = *state;
	open_queue(e, 64);
	for (unsigned i = 0; i < 600; i++) {
		struct req *r =
			req_new(e, shapes[i % NSHAPES][0], shapes[i % NSHAPES][1], i % 400 + 1);
		assert_int_equal(req_submit(e, r), 0);
		vq_drv_kick_prepare(&e->drv);
		assert_true(vq_has_work(&e->dev));
		assert_int_equal(vq_pop(&e->dev, &e->chain[0]), 1);
		assert_int_equal(vq_pop(&e->dev, &e->chain[1]), 0);
		vq_push(&e->dev, &e->chain[0], serve(e, &e->chain[0]));
		vq_publish(&e->dev);
		assert_ptr_equal(reap(e), r);
		assert_null(vq_drv_get(&e->drv, NULL));
	}
	assert_int_equal(e->drv.num_free, 64);
	assert_int_equal(e->dev.bad_chains, 0);
}

/* Pops a batch, completes it in the order given by perm (indexes into the batch), publishes
 * once, and checks the driver sees exactly those completions in that order. */
static void complete_batch(struct env *e, struct req **sent, unsigned n, const unsigned *perm)
{
	assert_int_equal(vq_pop_batch(&e->dev, e->chain, MAX_REQ), (int)n);
	for (unsigned k = 0; k < n; k++)
		vq_push(&e->dev, &e->chain[perm[k]], serve(e, &e->chain[perm[k]]));
	vq_publish(&e->dev);
	for (unsigned k = 0; k < n; k++)
		assert_ptr_equal(reap(e), sent[perm[k]]);
	assert_null(vq_drv_get(&e->drv, NULL));
}

/* Batches of every size up to the ring, in order, reversed and shuffled. */
static void batch_out_of_order(void **state)
{
	struct env *e = *state;
	struct req *sent[MAX_REQ];
	unsigned perm[MAX_REQ], rng = 1;
	uint16_t num = e->t->packed ? 61 : 64; /* packed: any size, so an odd one */
	open_queue(e, num);
	for (unsigned round = 0; round < 60; round++) {
		unsigned n = 0, slots = 0;
		for (;; n++) {
			const unsigned *s = shapes[(round + n) % NSHAPES];
			unsigned need = e->t->indirect && s[0] + s[1] > 1 ? 1 : s[0] + s[1];
			if (n == round % 20 + 1 || slots + need > num)
				break;
			sent[n] = req_new(e, s[0], s[1], 10);
			assert_int_equal(req_submit(e, sent[n]), 0);
			slots += need;
		}
		vq_drv_kick_prepare(&e->drv);
		/* In order, reversed, or shuffled (Fisher-Yates on a fixed generator). */
		for (unsigned k = 0; k < n; k++)
			perm[k] = round % 3 == 1 ? n - 1 - k : k;
		for (unsigned k = n; round % 3 == 2 && k > 1; k--) {
			rng = rng * 1103515245 + 12345;
			unsigned j = (rng >> 16) % k, t = perm[k - 1];
			perm[k - 1] = perm[j];
			perm[j] = t;
		}
		complete_batch(e, sent, n, perm);
		assert_int_equal(e->drv.num_free, num);
	}
}

/* Many more buffers than indexes or laps: past the 16-bit split index three times, packed
 * wrap counters flipping tens of thousands of times, lists straddling the ring's end. */
static void wraps_many_times(void **state)
{
	struct env *e = *state;
	uint16_t num = e->t->packed ? 7 : 8;
	unsigned total = e->t->packed ? 60000 : 3 * 65536 + 1234, done = 0, slots = 0;
	struct req *sent[8];
	unsigned perm[8];
	open_queue(e, num);
	while (done < total) {
		unsigned n = 0, used = 0;
		for (; n < 1 + done % 4; n++) {
			unsigned nin = (done + n) % 3, need = e->t->indirect && nin ? 1 : 1 + nin;
			if (used + need > num)
				break;
			sent[n] = req_new(e, 1, nin, 1);
			assert_int_equal(req_submit(e, sent[n]), 0);
			used += need;
		}
		vq_drv_kick_prepare(&e->drv);
		for (unsigned k = 0; k < n; k++)
			perm[k] = done % 2 ? k : n - 1 - k;
		complete_batch(e, sent, n, perm);
		done += n;
		slots += used;
	}
	if (e->t->packed) { /* both sides agree on where they are */
		assert_int_equal(e->dev.avail_pos, slots % num);
		assert_int_equal(e->dev.avail_wrap, (slots / num) % 2 == 0);
		assert_int_equal(vq_get_base(&e->dev),
				 e->drv.next_avail | (e->drv.avail_wrap ? 0x8000 : 0));
	} else {
		assert_int_equal(vq_get_base(&e->dev), (uint16_t)done);
		assert_int_equal(e->drv.avail_idx, (uint16_t)done);
	}
}

/* A device not wanting kicks gets none; turning them back on reports what is waiting; with
 * event indexes a second buffer before the device looked is not kicked again. */
static void notify_suppression(void **state)
{
	struct env *e = *state;
	open_queue(e, 16);
	assert_false(vq_notify_enable(&e->dev, false));
	assert_int_equal(req_submit(e, req_new(e, 1, 1, 8)), 0);
	assert_false(vq_drv_kick_prepare(&e->drv));
	assert_true(vq_notify_enable(&e->dev, true)); /* work is waiting: process it */
	assert_int_equal(vq_pop(&e->dev, &e->chain[0]), 1);
	assert_false(vq_notify_enable(&e->dev, true)); /* nothing left: may sleep */
	assert_int_equal(req_submit(e, req_new(e, 1, 1, 8)), 0);
	assert_true(vq_drv_kick_prepare(&e->drv));
	assert_false(vq_drv_kick_prepare(&e->drv)); /* nothing new */
	assert_int_equal(req_submit(e, req_new(e, 1, 1, 8)), 0);
	/* The device was kicked for the last one and has not looked yet. */
	assert_int_equal(vq_drv_kick_prepare(&e->drv), !e->t->event_idx);
	assert_int_equal(vq_pop_batch(&e->dev, &e->chain[1], 2), 2);
	for (unsigned k = 0; k < 3; k++)
		vq_push(&e->dev, &e->chain[k], serve(e, &e->chain[k]));
	vq_publish(&e->dev);
	for (unsigned k = 0; k < 3; k++)
		assert_non_null(reap(e));
}

/* Linear position n (slots for packed, entries for split; may be negative) in ring format. */
static uint16_t ring_pos(const struct env *e, int64_t n)
{
	int64_t num = e->dev.cfg.num, m = ((n % (2 * num)) + 2 * num) % (2 * num);
	if (!e->t->packed)
		return (uint16_t)n;
	return (uint16_t)(m % num | (m < num ? 0x8000 : 0)); /* lap 0 has wrap counter 1 */
}

/* The other side's event index, written the way that side would. */
static void set_event(struct env *e, bool for_driver, int64_t n)
{
	uint16_t num = e->dev.cfg.num, ev = ring_pos(e, n);
	if (e->t->packed) {
		struct vring_packed_desc_event *s =
			for_driver ? e->drv.driver_event : e->dev.device_event;
		s->off_wrap = ev;
		s->flags = VRING_PACKED_EVENT_FLAG_DESC;
	} else if (for_driver) {
		e->drv.avail->ring[num] = ev; /* used_event */
	} else {
		*(uint16_t *)((uint8_t *)e->dev.used + 4 + 8 * num) = ev; /* avail_event */
	}
}

/* publish and kick_prepare ask exactly when the other side's event index lies among the
 * positions just published: checked against a linear model, with events from num before to
 * num after each batch, over many laps. Without event indexes: always. */
static void event_index_exact(void **state)
{
	struct env *e = *state;
	int64_t num = e->t->packed ? 13 : 16;
	int64_t avail = 0, used = 0; /* linear positions, never wrapping */
	struct req *sent[4];
	open_queue(e, (uint16_t)num);
	for (unsigned round = 0; round < 3000; round++) {
		unsigned n = 1 + round % 4;
		int64_t adv = e->t->packed ? 0 : n; /* split: one entry each; packed: slots */
		for (unsigned k = 0; k < n; k++) {
			unsigned nin = (round + k) % 3;
			sent[k] = req_new(e, 1, nin, 2);
			adv += e->t->packed ? (e->t->indirect && nin ? 1 : 1 + nin) : 0;
		}
		int64_t ev = avail + adv - num + (round * 7) % (2 * num);
		set_event(e, false, ev);
		for (unsigned k = 0; k < n; k++)
			assert_int_equal(req_submit(e, sent[k]), 0);
		bool kick = !e->t->event_idx || (ev >= avail && ev < avail + adv);
		assert_int_equal(vq_drv_kick_prepare(&e->drv), kick);
		avail += adv;
		assert_int_equal(vq_pop_batch(&e->dev, e->chain, MAX_REQ), (int)n);
		for (unsigned k = 0; k < n; k++) {
			unsigned j = (k + round) % n; /* completes out of order */
			int64_t len = e->t->packed ? e->chain[j].ndesc : 1;
			ev = used + len - num + (round * 5 + k * 3) % (2 * num);
			set_event(e, true, ev);
			vq_push(&e->dev, &e->chain[j], serve(e, &e->chain[j]));
			bool irq = !e->t->event_idx || (ev >= used && ev < used + len);
			assert_int_equal(vq_publish(&e->dev), irq);
			used += len;
		}
		while (reap(e))
			;
	}
}

/* The protocol of a driver sleeping on interrupts: enabling reports completions already
 * waiting; one interrupt per crossing of the event index, none while disabled. */
static void interrupt_suppression(void **state)
{
	struct env *e = *state;
	bool ei = e->t->event_idx;
	open_queue(e, 16);
	assert_true(vq_drv_intr_enable(&e->drv, true)); /* nothing waiting: may sleep */
	for (unsigned k = 0; k < 8; k++)
		assert_int_equal(req_submit(e, req_new(e, 1, 1, 4)), 0);
	vq_drv_kick_prepare(&e->drv);
	assert_int_equal(vq_pop_batch(&e->dev, e->chain, 8), 8);
	vq_push(&e->dev, &e->chain[0], serve(e, &e->chain[0]));
	assert_true(vq_publish(&e->dev));
	vq_push(&e->dev, &e->chain[1], serve(e, &e->chain[1]));
	assert_int_equal(vq_publish(&e->dev), !ei);	 /* the driver has not looked yet */
	assert_false(vq_drv_intr_enable(&e->drv, true)); /* completions waiting: poll */
	assert_non_null(reap(e));
	vq_push(&e->dev, &e->chain[2], serve(e, &e->chain[2]));
	assert_int_equal(vq_publish(&e->dev), !ei); /* its event was the 2nd, published already */
	while (reap(e))
		;
	assert_true(vq_drv_intr_enable(&e->drv, true));
	vq_push(&e->dev, &e->chain[3], serve(e, &e->chain[3]));
	vq_push(&e->dev, &e->chain[4], serve(e, &e->chain[4]));
	assert_true(vq_publish(&e->dev));  /* one interrupt for the batch of two */
	assert_false(vq_publish(&e->dev)); /* nothing new */
	while (reap(e))
		;
	vq_drv_intr_enable(&e->drv, false);
	vq_push(&e->dev, &e->chain[5], serve(e, &e->chain[5]));
	assert_false(vq_publish(&e->dev));
	vq_push(&e->dev, &e->chain[6], serve(e, &e->chain[6]));
	assert_false(vq_publish(&e->dev));
	assert_false(vq_drv_intr_enable(&e->drv, true));
	while (reap(e))
		;
	vq_push(&e->dev, &e->chain[7], serve(e, &e->chain[7]));
	assert_true(vq_publish(&e->dev));
	assert_non_null(reap(e));
}

/* A second device struct continues where the first stopped (vhost-user hand-over), with the
 * packed wrap counter in bit 15 of the base. */
static void handover(void **state)
{
	struct env *e = *state;
	struct req *sent[6];
	open_queue(e, 8);
	for (unsigned i = 0; i < 13; i++) { /* single-slot buffers: packed ends at slot 5, lap 1 */
		assert_int_equal(req_submit(e, req_new(e, 1, 0, 3)), 0);
		vq_drv_kick_prepare(&e->drv);
		assert_int_equal(vq_pop(&e->dev, e->chain), 1);
		vq_push(&e->dev, e->chain, serve(e, e->chain));
		vq_publish(&e->dev);
		assert_non_null(reap(e));
	}
	for (unsigned i = 0; i < 6; i++) {
		sent[i] = req_new(e, 1, 0, 3);
		assert_int_equal(req_submit(e, sent[i]), 0);
	}
	vq_drv_kick_prepare(&e->drv);
	assert_int_equal(vq_pop_batch(&e->dev, e->chain, 2), 2);
	vq_push(&e->dev, &e->chain[1], serve(e, &e->chain[1]));
	vq_push(&e->dev, &e->chain[0], serve(e, &e->chain[0]));
	vq_publish(&e->dev);
	uint16_t base = vq_get_base(&e->dev);
	assert_int_equal(base, e->t->packed ? 7 : 15); /* packed: slot 7, wrap counter 0 */

	struct vq next;
	assert_int_equal(vq_init(&next, &e->mem, &e->drv.cfg), 0);
	vq_set_base(&next, base);
	assert_int_equal(vq_get_base(&next), base);
	assert_int_equal(vq_pop_batch(&next, e->chain, MAX_REQ), 4);
	for (unsigned k = 0; k < 4; k++)
		vq_push(&next, &e->chain[k], serve(e, &e->chain[k]));
	vq_publish(&next);
	assert_ptr_equal(reap(e), sent[1]);
	assert_ptr_equal(reap(e), sent[0]);
	for (unsigned k = 2; k < 6; k++)
		assert_ptr_equal(reap(e), sent[k]);
	for (unsigned i = 0; i < 40; i++) { /* and goes on across more laps */
		assert_int_equal(req_submit(e, req_new(e, 1, i % 3, 3)), 0);
		vq_drv_kick_prepare(&e->drv);
		assert_int_equal(vq_pop(&next, e->chain), 1);
		vq_push(&next, e->chain, serve(e, e->chain));
		vq_publish(&next);
		assert_non_null(reap(e));
	}
}

/* A back-end dies with chains in flight; a new device struct takes the position it had
 * (vq_set_pos) and a replay queue hands the in-flight chains out again, oldest first, checked
 * like new ones, before the ring's new chains; the driver gets every request back once. */
static void crash_replay(void **state)
{
	struct env *e = *state;
	enum { NUM = 8, N = 5 };
	open_queue(e, NUM);
	for (unsigned i = 0; i < 13; i++) { /* single-slot buffers: 13 taken, 13 used */
		assert_int_equal(req_submit(e, req_new(e, 1, 0, 3)), 0);
		vq_drv_kick_prepare(&e->drv);
		assert_int_equal(vq_pop(&e->dev, e->chain), 1);
		vq_push(&e->dev, e->chain, serve(e, e->chain));
		vq_publish(&e->dev);
		assert_non_null(reap(e));
	}
	struct vq_pos pos;
	vq_get_pos(&e->dev, &pos);
	if (e->t->packed) /* slot 13 % 8 = 5 in the second lap, whose counter is 0 */
		assert_true(pos.avail == 5 && pos.used == 5 && !pos.avail_wrap && !pos.used_wrap);
	else
		assert_true(pos.avail == 13 && pos.used == 13);

	struct req *sent[N];
	for (unsigned i = 0; i < N; i++) { /* 1 + i % 2 readable pieces: packed lists of 1-2 */
		sent[i] = req_new(e, 1 + i % 2, 0, 3);
		assert_int_equal(req_submit(e, sent[i]), 0);
	}
	vq_drv_kick_prepare(&e->drv);
	/* What a back-end records as it takes chains: packed, a copy of each list's slots (the
	 * used entries written later overwrite them). */
	struct vring_packed_desc copy[N][2];
	uint16_t slot = pos.avail;
	assert_int_equal(vq_pop_batch(&e->dev, e->chain, N), N);
	for (unsigned k = 0; e->t->packed && k < N; k++)
		for (unsigned j = 0; j < e->chain[k].ndesc; j++, slot = (slot + 1) % NUM)
			copy[k][j] = e->dev.pdesc[slot];
	vq_push(&e->dev, &e->chain[1], serve(e, &e->chain[1]));
	vq_push(&e->dev, &e->chain[3], serve(e, &e->chain[3]));
	vq_publish(&e->dev);
	assert_ptr_equal(reap(e), sent[1]);
	assert_ptr_equal(reap(e), sent[3]);
	vq_get_pos(&e->dev, &pos); /* the position the dead back-end leaves */

	/* The new back-end: the position, and chains 0, 2, 4 to replay. */
	struct vq next, replay;
	assert_int_equal(vq_init(&next, &e->mem, &e->drv.cfg), 0);
	vq_set_pos(&next, &pos);
	struct vq_pos again;
	vq_get_pos(&next, &again);
	assert_memory_equal(&again, &pos, sizeof(pos));
	uint16_t avail[64];
	assert_true(vq_replay_avail_size(&next) <= sizeof(avail));
	uint16_t heads[3] = {e->chain[0].id, e->chain[2].id, e->chain[4].id};
	struct vring_packed_desc ring[NUM] = {{0}};
	unsigned used_slots = 0;
	for (unsigned k = 0; e->t->packed && k < N; k += 2)
		for (unsigned j = 0; j < e->chain[k].ndesc; j++) {
			struct vring_packed_desc d = copy[k][j];
			d.flags = (uint16_t)((d.flags & ~(VQ_F_AVAIL | VQ_F_USED)) |
					     vq_packed_avail_bits(true));
			ring[used_slots++] = d;
		}
	if (e->t->packed)
		vq_replay_init_packed(&replay, &next, ring);
	else
		vq_replay_init_split(&replay, &next, avail, heads, 3);
	struct vq_chain c[4];
	for (unsigned k = 0; k < 4; k++)
		c[k] = (struct vq_chain){.max_seg = MAX_SEG, .seg = e->seg[k]};
	assert_int_equal(vq_pop_batch(&replay, c, 4), 3);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(c[k].id, heads[k]);
		vq_push(&next, &c[k], serve(e, &c[k])); /* on the real queue */
	}
	assert_false(vq_has_work(&next)); /* the ring itself has nothing new */
	vq_publish(&next);
	assert_ptr_equal(reap(e), sent[0]);
	assert_ptr_equal(reap(e), sent[2]);
	assert_ptr_equal(reap(e), sent[4]);
	assert_null(vq_drv_get(&e->drv, NULL));
	for (unsigned i = 0; i < 40; i++) { /* and the ring goes on across more laps */
		assert_int_equal(req_submit(e, req_new(e, 1 + i % 2, i % 3, 3)), 0);
		vq_drv_kick_prepare(&e->drv);
		assert_int_equal(vq_pop(&next, e->chain), 1);
		vq_push(&next, e->chain, serve(e, e->chain));
		vq_publish(&next);
		assert_non_null(reap(e));
	}
	assert_int_equal(next.bad_chains + replay.bad_chains, 0);
}

static int init_with(struct env *e, uint16_t num, uint64_t desc, uint64_t driver, uint64_t device)
{
	struct vq q;
	struct vq_config c = {.num = num,
			      .packed = e->t->packed,
			      .event_idx = e->t->event_idx,
			      .indirect = e->t->indirect,
			      .desc = desc,
			      .driver = driver,
			      .device = device};
	return vq_init(&q, &e->mem, &c);
}

/* vq_init and vq_drv_init refuse sizes and areas the spec does not allow. */
static void init_refusals(void **state)
{
	struct env *e = *state;
	const uint64_t d = 0x10000, dr = 0x20000, dv = 0x30000, end = B_GPA + B_SIZE;
	assert_int_equal(init_with(e, 16, d, dr, dv), 0);
	assert_int_equal(init_with(e, 0, d, dr, dv), -EINVAL);
	assert_int_equal(init_with(e, VQ_MAX_SIZE + 1, d, dr, dv), -EINVAL);
	assert_int_equal(init_with(e, VQ_MAX_SIZE, d, 0x90000, 0xa0000), 0);
	assert_int_equal(init_with(e, 100, d, dr, dv), e->t->packed ? 0 : -EINVAL);
	assert_int_equal(init_with(e, 16, d + 8, dr, dv), -EINVAL);
	assert_int_equal(init_with(e, 16, d, dr + 1, dv), -EINVAL);
	assert_int_equal(init_with(e, 16, d, dr + 2, dv), e->t->packed ? -EINVAL : 0);
	assert_int_equal(init_with(e, 16, d, dr, dv + 2), -EINVAL);
	assert_int_equal(init_with(e, 16, end, dr, dv), -EFAULT);
	assert_int_equal(init_with(e, 16, end - 16 * 8, dr, dv), -EFAULT); /* runs off the end */
	assert_int_equal(init_with(e, 16, d, end, dv), -EFAULT);
	assert_int_equal(init_with(e, 16, d, dr, end - 4), e->t->packed ? 0 : -EFAULT);
	assert_int_equal(init_with(e, 16, d, dr, UINT64_MAX - 3), -EFAULT);
	/* Areas must each lie in one region: the descriptors may not straddle A and B. */
	assert_int_equal(init_with(e, 16, B_GPA - 128, dr, dv), -EFAULT);

	struct vq_drv q;
	struct vq_config c = {.num = 0, .packed = e->t->packed};
	assert_int_equal(vq_drv_init(&q, &c, e->a, 0, e->slot), -EINVAL);
	c.num = 100;
	assert_int_equal(vq_drv_init(&q, &c, e->a, 0, e->slot), e->t->packed ? 0 : -EINVAL);
	c.num = 64;
	assert_int_equal(vq_drv_init(&q, &c, e->a + 32, 32, e->slot), -EINVAL);
}

/* A buffer crossing from region A into region B becomes two segments, readable or not. */
static void spanning_regions(void **state)
{
	struct env *e = *state;
	struct vq_sg sg[2] = {{B_GPA - 100, 300}, {B_GPA - 3, 7}};
	struct vq_chain *c = e->chain;
	open_queue(e, 16);
	assert_int_equal(vq_drv_add(&e->drv, sg, 1, 1, e, e->a + TABLE_GPA, TABLE_GPA), 0);
	vq_drv_kick_prepare(&e->drv);
	assert_int_equal(vq_pop(&e->dev, c), 1);
	assert_int_equal(c->err, VQ_OK);
	assert_int_equal(c->nseg, 4);
	assert_int_equal(c->nread, 2);
	assert_int_equal(c->read_len, 300);
	assert_int_equal(c->write_len, 7);
	const struct vq_seg want[4] = {{e->a + A_SIZE - 100, B_GPA - 100, 100},
				       {e->b, B_GPA, 200},
				       {e->a + A_SIZE - 3, B_GPA - 3, 3},
				       {e->b, B_GPA, 4}};
	for (unsigned s = 0; s < 4; s++) {
		assert_ptr_equal(c->seg[s].hva, want[s].hva);
		assert_int_equal(c->seg[s].gpa, want[s].gpa);
		assert_int_equal(c->seg[s].len, want[s].len);
	}
	vq_push(&e->dev, c, 7);
	vq_publish(&e->dev);
	uint32_t len = 0;
	assert_ptr_equal(vq_drv_get(&e->drv, &len), e);
	assert_int_equal(len, 7);
}

/* The device cannot claim more than the writable part: vq_push clamps `written`. */
static void push_clamps(void **state)
{
	struct env *e = *state;
	const struct vq_sg rw[2] = {{DATA_GPA, 10}, {DATA_GPA + 100, 100}};
	const struct {
		unsigned nout, nin;
		uint32_t claim, want;
	} cases[] = {{1, 1, 1000, 100}, {1, 1, 60, 60}, {1, 0, 50, 0}, {0, 1, 0, 0}, {0, 1, 5, 5}};
	open_queue(e, 16);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vq_sg *sg = cases[i].nout ? rw : rw + 1;
		assert_int_equal(vq_drv_add(&e->drv, sg, cases[i].nout, cases[i].nin, e,
					    e->a + TABLE_GPA, TABLE_GPA),
				 0);
		vq_drv_kick_prepare(&e->drv);
		assert_int_equal(vq_pop(&e->dev, e->chain), 1);
		vq_push(&e->dev, e->chain, cases[i].claim);
		vq_publish(&e->dev);
		uint32_t len = 0xdead;
		assert_ptr_equal(vq_drv_get(&e->drv, &len), e);
		assert_int_equal(len, cases[i].want);
	}
}

/* A used entry naming no buffer in flight (a device bug) is skipped, and the driver's event
 * index still moves past it, so the next completion interrupts. */
static void bogus_used_skipped(void **state)
{
	struct env *e = *state;
	struct req *r[2];
	open_queue(e, 16);
	assert_true(vq_drv_intr_enable(&e->drv, true));
	for (unsigned k = 0; k < 2; k++) {
		r[k] = req_new(e, 1, 0, 4);
		assert_int_equal(req_submit(e, r[k]), 0);
	}
	vq_drv_kick_prepare(&e->drv);
	assert_int_equal(vq_pop_batch(&e->dev, e->chain, 2), 2);
	struct vq_chain bogus = e->chain[0];
	bogus.id = 0xfff0;
	vq_push(&e->dev, &bogus, 0);
	assert_true(vq_publish(&e->dev));
	assert_null(vq_drv_get(&e->drv, NULL)); /* skipped */
	for (unsigned k = 2; k-- > 0;) {
		vq_push(&e->dev, &e->chain[k], serve(e, &e->chain[k]));
		assert_true(vq_publish(&e->dev));
		assert_ptr_equal(reap(e), r[k]);
		assert_null(vq_drv_get(&e->drv, NULL));
	}
}

/* Packed makes a buffer available in vq_drv_add already, so a polling device can take more
 * than a lap of them between two kick_prepare calls. A device that then goes to sleep must still
 * get its kick for the next one (2 * num slots later is where positions alias). */
static void kick_after_polled_laps(void **state)
{
	struct env *e = *state;
	uint16_t num = 13;
	open_queue(e, num);
	for (unsigned laps = 1; laps <= 4; laps++) {
		assert_false(vq_notify_enable(&e->dev, false)); /* polling */
		for (unsigned i = 0; i < laps * num - 1u; i++) {
			assert_int_equal(req_submit(e, req_new(e, 1, 0, 2)),
					 0); /* no kick_prepare */
			assert_int_equal(vq_pop(&e->dev, e->chain), 1);
			vq_push(&e->dev, e->chain, serve(e, e->chain));
			vq_publish(&e->dev);
			assert_non_null(reap(e));
		}
		assert_false(vq_notify_enable(&e->dev, true)); /* nothing waiting: sleeps */
		assert_int_equal(req_submit(e, req_new(e, 1, 0, 2)), 0);
		assert_true(vq_drv_kick_prepare(&e->drv));
		assert_int_equal(vq_pop(&e->dev, e->chain), 1);
		vq_push(&e->dev, e->chain, serve(e, e->chain));
		vq_publish(&e->dev);
		assert_non_null(reap(e));
	}
}

enum { BOTH, PACKED };

static const struct {
	const char *name;
	CMUnitTestFunction fn;
	int layout;
} tests[] = {
	{"round_trip", round_trip, BOTH},
	{"batch_out_of_order", batch_out_of_order, BOTH},
	{"wraps_many_times", wraps_many_times, BOTH},
	{"notify_suppression", notify_suppression, BOTH},
	{"event_index_exact", event_index_exact, BOTH},
	{"interrupt_suppression", interrupt_suppression, BOTH},
	{"handover", handover, BOTH},
	{"crash_replay", crash_replay, BOTH},
	{"init_refusals", init_refusals, BOTH},
	{"spanning_regions", spanning_regions, BOTH},
	{"push_clamps", push_clamps, BOTH},
	{"bogus_used_skipped", bogus_used_skipped, BOTH},
	{"kick_after_polled_laps", kick_after_polled_laps, PACKED},
};

int main(void)
{
	enum { NT = sizeof(tests) / sizeof(tests[0]), NC = sizeof(cfgs) / sizeof(cfgs[0]) };
	static struct CMUnitTest all[NT * NC];
	static char names[NT * NC][64];
	unsigned n = 0;
	for (unsigned t = 0; t < NT; t++)
		for (unsigned c = 0; c < NC; c++) {
			if (tests[t].layout == PACKED && !cfgs[c].packed)
				continue;
			snprintf(names[n], sizeof(names[n]), "%s/%s", tests[t].name, cfgs[c].name);
			all[n] = (struct CMUnitTest){.name = names[n],
						     .test_func = tests[t].fn,
						     .setup_func = setup,
						     .teardown_func = teardown,
						     .initial_state = (void *)&cfgs[c]};
			n++;
		}
	return _cmocka_run_group_tests("virtq", all, n, NULL, NULL);
}
