/* SPDX-License-Identifier: MIT */
/* In-flight tracking (vhost-user INFLIGHT_SHMFD), split then packed rings: marking, batched
 * clearing, the repair of a batch cut short by a crash, resubmission order, and a region
 * scribbled on by someone else. The packed tests that kill the device mid-batch drive a real
 * ring (rings/, both sides), so what the driver gets back after the restart is checked too. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "inflight.h"
#include "virtq.h"

#define NUM 8

static struct vhost_user_inflight_split *region(void)
{
	static uint64_t buf[1024];
	memset(buf, 0, sizeof(buf));
	assert_true(iop_inflight_queue_bytes(NUM, false) <= sizeof(buf));
	return (struct vhost_user_inflight_split *)buf;
}

static void format_and_attach(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	assert_int_equal(iop_inflight_queue_bytes(NUM, false) % 64, 0);
	assert_true(iop_inflight_queue_bytes(NUM, false) >= 16 + 16 * NUM);
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	assert_int_equal(r->version, VHOST_USER_INFLIGHT_VERSION);
	assert_int_equal(r->desc_num, NUM);
	/* A region made for another queue size is not trusted: formatted again. */
	r->desc[3].inflight = 1;
	iop_inflight_attach(&f, r, NUM / 2);
	assert_int_equal(r->desc_num, NUM / 2);
	assert_int_equal(r->desc[3].inflight, 0);
	/* Not tracked: every call is a no-op. */
	iop_inflight_detach(&f);
	iop_inflight_get(&f, 1);
	iop_inflight_put(&f, 1);
	iop_inflight_batch_done(&f, 1);
	assert_int_equal(iop_inflight_recover(&f, 0, NULL), 0);
}

static void mark_and_clear_batches(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	iop_inflight_get(&f, 3);
	iop_inflight_get(&f, 1);
	iop_inflight_get(&f, 2);
	assert_int_equal(r->desc[3].inflight, 1);
	assert_true(r->desc[3].counter < r->desc[1].counter);
	assert_true(r->desc[1].counter < r->desc[2].counter);
	/* Completed out of order: 1 then 3 in one batch; both stay marked until published. */
	iop_inflight_put(&f, 1);
	iop_inflight_put(&f, 3);
	assert_int_equal(r->desc[1].inflight, 1);
	assert_int_equal(r->last_batch_head, 3);
	assert_int_equal(r->desc[3].next, 1);
	iop_inflight_batch_done(&f, 2);
	assert_int_equal(r->desc[1].inflight, 0);
	assert_int_equal(r->desc[3].inflight, 0);
	assert_int_equal(r->desc[2].inflight, 1);
	assert_int_equal(r->used_idx, 2);
	/* A published batch of untracked entries only (a refused duplicate, a head past the ring)
	 * still moves used_idx with the ring, and clears nothing. */
	iop_inflight_batch_done(&f, 3);
	assert_int_equal(r->used_idx, 3);
	assert_int_equal(r->desc[2].inflight, 1);
	/* Head out of range (a malformed chain) is not tracked. */
	iop_inflight_get(&f, NUM);
	iop_inflight_put(&f, 0xffff);
	assert_int_equal(f.batch, 0);
}

static void recover_in_counter_order(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	const uint16_t order[] = {5, 0, 7, 2, 6};
	for (unsigned i = 0; i < 5; i++)
		iop_inflight_get(&f, order[i]);
	iop_inflight_put(&f, 0);
	iop_inflight_batch_done(&f, 1);
	/* The back-end dies; a new one attaches the region the front-end kept. */
	struct iop_inflight g;
	iop_inflight_attach(&g, r, NUM);
	uint16_t heads[NUM];
	assert_int_equal(iop_inflight_recover(&g, 1, heads), 4);
	assert_int_equal(heads[0], 5);
	assert_int_equal(heads[1], 7);
	assert_int_equal(heads[2], 2);
	assert_int_equal(heads[3], 6);
	/* New heads get counters after the newest recovered one. */
	iop_inflight_get(&g, 1);
	assert_true(r->desc[1].counter > r->desc[6].counter);
}

static void recover_repairs_last_batch(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	for (uint16_t h = 0; h < 4; h++)
		iop_inflight_get(&f, h);
	iop_inflight_put(&f, 1);
	iop_inflight_batch_done(&f, 1);
	/* A batch of two reaches the used ring (idx 3) but the back-end dies before clearing
	 * it here: the recovery clears it, so those two are not submitted twice. */
	iop_inflight_put(&f, 3);
	iop_inflight_put(&f, 0);
	assert_int_equal(r->used_idx, 1);
	struct iop_inflight g;
	iop_inflight_attach(&g, r, NUM);
	uint16_t heads[NUM];
	assert_int_equal(iop_inflight_recover(&g, 3, heads), 1);
	assert_int_equal(heads[0], 2);
	assert_int_equal(r->used_idx, 3);
	/* Dying before the used ring moved: the batch is still in flight, all of it. */
	r = region();
	iop_inflight_attach(&f, r, NUM);
	iop_inflight_get(&f, 4);
	iop_inflight_get(&f, 5);
	iop_inflight_put(&f, 5);
	iop_inflight_attach(&g, r, NUM);
	assert_int_equal(iop_inflight_recover(&g, 0, heads), 2);
	assert_int_equal(heads[0], 4);
	assert_int_equal(heads[1], 5);
}

static void scribbled_region(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	/* A loop in the batch list and links out of range: bounded walks, no crash. */
	r->last_batch_head = 2;
	r->desc[2].next = 2;
	r->desc[2].inflight = 1;
	r->used_idx = 0;
	uint16_t heads[NUM];
	assert_int_equal(iop_inflight_recover(&f, 0x8000, heads), 0);
	r->last_batch_head = 0xfff0;
	r->used_idx = 0;
	assert_int_equal(iop_inflight_recover(&f, 5, heads), 0);
	/* inflight values other than 1 are not in flight. */
	r->desc[6].inflight = 7;
	assert_int_equal(iop_inflight_recover(&f, 5, heads), 0);
}

/* ------------------------------------------------------------------ packed rings ---------- */

#define PNUM	   16
#define NONE	   IOP_INFLIGHT_NONE
#define F_AVAIL	   (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED	   (1u << VRING_PACKED_DESC_F_USED)
#define LAP_BITS   (F_AVAIL | F_USED)
#define RAM_SIZE   (64u << 10)
#define DATA_GPA   0x8000u
#define REQ_BYTES  64u
#define MAX_TOKENS 64

static struct vhost_user_inflight_packed *pregion(void)
{
	static uint64_t buf[1024];
	memset(buf, 0, sizeof(buf));
	assert_true(iop_inflight_queue_bytes(PNUM, true) <= sizeof(buf));
	return (struct vhost_user_inflight_packed *)buf;
}

/* A descriptor the driver made available in lap `wrap`. */
static void avail_desc(struct vring_packed_desc *d, uint64_t addr, uint16_t id, uint16_t flags,
		       bool wrap)
{
	*d = (struct vring_packed_desc){
		.addr = addr, .len = 512, .id = id, .flags = flags | (wrap ? F_AVAIL : F_USED)};
}

static void packed_format_and_get(void **state)
{
	(void)state;
	struct vhost_user_inflight_packed *p = pregion();
	struct vring_packed_desc ring[PNUM] = {0};
	struct iop_inflight f;
	struct iop_inflight_resume rs;
	assert_int_equal(iop_inflight_queue_bytes(PNUM, true) % 64, 0);
	assert_true(iop_inflight_queue_bytes(PNUM, true) >= 32 + 32 * PNUM);
	iop_inflight_format(p, 1, PNUM, true);
	assert_int_equal(p->version, VHOST_USER_INFLIGHT_VERSION);
	assert_int_equal(p->desc_num, PNUM);
	assert_int_equal(p->free_head, 0);
	assert_int_equal(p->desc[0].next, 1);
	assert_int_equal(p->desc[PNUM - 1].next, NONE);
	assert_int_equal(p->old_free_head, NONE);
	/* A fresh region has no position: the ring's first start takes SET_VRING_BASE's. */
	iop_inflight_packed_attach(&f, p, PNUM);
	assert_int_equal(iop_inflight_packed_recover(&f, ring, 5 | 0x8000, &rs), 0);
	assert_int_equal(rs.used_pos, 5);
	assert_true(rs.used_wrap);
	assert_int_equal(rs.avail_pos, 5);
	assert_true(rs.avail_wrap);
	assert_int_equal(rs.nchains, 0);
	assert_null(rs.ring);
	assert_null(rs.heads);
	assert_int_equal(p->old_used_idx, 5);
	assert_int_equal(p->old_used_wrap_counter, 1);
	/* A chain of three across the ring's end (slots 14, 15, then 0 of the next lap): the first
	 * free entries take copies of its descriptors, the head entry the rest. */
	avail_desc(&ring[14], 0x1000, 9, VRING_DESC_F_NEXT, true);
	avail_desc(&ring[15], 0x2000, 9, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, true);
	avail_desc(&ring[0], 0x3000, 9, VRING_DESC_F_WRITE, false);
	assert_int_equal(iop_inflight_packed_get(&f, ring, 14, 3), 0);
	assert_int_equal(p->desc[0].inflight, 1);
	assert_int_equal(p->desc[0].num, 3);
	assert_int_equal(p->desc[0].last, 2);
	assert_int_equal(p->desc[0].next, 1);
	assert_int_equal(p->desc[1].next, 2);
	assert_int_equal(p->desc[1].inflight, 0);
	assert_int_equal(p->desc[0].addr, 0x1000);
	assert_int_equal(p->desc[1].flags, ring[15].flags);
	assert_int_equal(p->desc[2].addr, 0x3000);
	assert_int_equal(p->desc[2].len, 512);
	assert_int_equal(p->desc[2].id, 9);
	assert_int_equal(p->desc[2].flags, ring[0].flags);
	assert_int_equal(p->free_head, 3);
	uint64_t first = p->desc[0].counter;
	avail_desc(&ring[1], 0x4000, 4, 0, false);
	assert_int_equal(iop_inflight_packed_get(&f, ring, 1, 1), 3);
	assert_true(p->desc[3].counter > first);
	/* More descriptors than free entries (a driver past its ring's size): not tracked, and no
	 * entry taken. Bad arguments likewise. */
	assert_int_equal(iop_inflight_packed_get(&f, ring, 2, PNUM - 3), NONE);
	assert_int_equal(p->free_head, 4);
	assert_int_equal(iop_inflight_packed_get(&f, ring, PNUM, 1), NONE);
	assert_int_equal(iop_inflight_packed_get(&f, ring, 2, 0), NONE);
	/* Not tracked: every call is a no-op. */
	iop_inflight_detach(&f);
	assert_int_equal(iop_inflight_packed_get(&f, ring, 1, 1), NONE);
	iop_inflight_packed_put(&f, 0);
	iop_inflight_packed_publishing(&f, 1, true);
	iop_inflight_packed_batch_done(&f);
	assert_int_equal(iop_inflight_packed_recover(&f, ring, 0, &rs), 0);
	assert_int_equal(rs.nchains, 0);
	assert_int_equal(p->desc[0].inflight, 1);
	assert_int_equal(p->old_used_idx, 5);
}

static void packed_put_and_batch(void **state)
{
	(void)state;
	struct vhost_user_inflight_packed *p = pregion();
	struct vring_packed_desc ring[PNUM] = {0};
	struct iop_inflight f;
	struct iop_inflight_resume rs;
	iop_inflight_packed_format(p, PNUM);
	iop_inflight_packed_attach(&f, p, PNUM);
	assert_int_equal(iop_inflight_packed_recover(&f, ring, 0x8000, &rs), 0);
	/* Three chains of two descriptors in slots 0-5. */
	uint16_t h[3];
	for (uint16_t k = 0; k < 3; k++) {
		avail_desc(&ring[2 * k], 0x1000 * k, k, VRING_DESC_F_NEXT, true);
		avail_desc(&ring[2 * k + 1], 0x1000 * k + 512, k, VRING_DESC_F_WRITE, true);
		h[k] = iop_inflight_packed_get(&f, ring, 2 * k, 2);
		assert_int_equal(h[k], 2 * k);
	}
	/* Chains 2 then 0 complete in one batch: listed newest first, through each chain's last
	 * entry, and still in flight until the batch is published. */
	iop_inflight_packed_put(&f, h[2]);
	iop_inflight_packed_put(&f, h[0]);
	assert_int_equal(p->old_free_head, h[0]);
	assert_int_equal(p->desc[p->desc[h[0]].last].next, h[2]);
	assert_int_equal(p->desc[p->desc[h[2]].last].next, NONE);
	assert_int_equal(p->desc[h[0]].inflight, 1);
	assert_int_equal(p->desc[h[2]].inflight, 1);
	iop_inflight_packed_publishing(&f, 4, true);
	assert_int_equal(p->used_idx, 4);
	assert_int_equal(p->old_used_idx, 0);
	iop_inflight_packed_batch_done(&f);
	assert_int_equal(p->desc[h[0]].inflight, 0);
	assert_int_equal(p->desc[h[2]].inflight, 0);
	assert_int_equal(p->desc[h[1]].inflight, 1);
	assert_int_equal(p->old_used_idx, 4);
	assert_int_equal(p->old_used_wrap_counter, 1);
	assert_int_equal(p->old_free_head, NONE);
	/* Their entries are free again, ahead of those never used: 0, 1, 4, 5, 6, ... */
	const uint16_t free_order[] = {0, 1, 4, 5, 6, 7};
	uint16_t e = p->free_head;
	for (unsigned i = 0; i < 6; i++, e = p->desc[e].next)
		assert_int_equal(e, free_order[i]);
	avail_desc(&ring[6], 0x9000, 7, 0, true);
	assert_int_equal(iop_inflight_packed_get(&f, ring, 6, 1), h[0]);
}

/* ---- a real packed ring, both sides, over fake guest memory, with a device that can die ---- */

struct pq {
	uint8_t *ram;
	struct gmem mem;
	struct vq_drv drv;
	struct vq_drv_slot slot[PNUM];
	struct vhost_user_inflight_packed *region;
	/* What a (re)started device has. */
	struct vq dev, replay;
	struct iop_inflight f;
	struct iop_inflight_resume rs;
	unsigned replay_done;
	/* Requests: request t's buffers are at DATA_GPA + t * REQ_BYTES. */
	int tok[MAX_TOKENS];
	struct vq_chain held[MAX_TOKENS];
	struct vq_seg seg[MAX_TOKENS][4];
	uint64_t done; /* requests the driver got back */
};

/* A device (re)starts on the ring, as iop_queue_prepare does with a packed ring. */
static void pq_start(struct pq *q, uint16_t base)
{
	iop_inflight_resume_free(&q->rs);
	assert_int_equal(vq_init(&q->dev, &q->mem, &q->drv.cfg), 0);
	iop_inflight_packed_attach(&q->f, q->region, PNUM);
	assert_int_equal(iop_inflight_packed_recover(&q->f, q->dev.pdesc, base, &q->rs), 0);
	vq_set_pos(&q->dev, &(struct vq_pos){.avail = q->rs.avail_pos,
					     .used = q->rs.used_pos,
					     .avail_wrap = q->rs.avail_wrap,
					     .used_wrap = q->rs.used_wrap});
	vq_replay_init_packed(&q->replay, &q->dev, q->rs.ring);
	q->replay_done = 0;
}

static struct pq *pq_open(void)
{
	struct pq *q = calloc(1, sizeof(*q));
	assert_non_null(q);
	q->ram = calloc(1, RAM_SIZE);
	assert_non_null(q->ram);
	gmem_init(&q->mem);
	assert_int_equal(gmem_add(&q->mem, 0, RAM_SIZE, q->ram, -1, 0), 0);
	struct vq_config cfg = {.num = PNUM, .packed = true};
	assert_int_equal(vq_drv_init(&q->drv, &cfg, q->ram, 0, q->slot), 0);
	q->region = pregion();
	iop_inflight_format(q->region, 1, PNUM, true);
	pq_start(q, 0x8000);
	return q;
}

static void pq_close(struct pq *q)
{
	iop_inflight_resume_free(&q->rs);
	free(q->ram);
	free(q);
}

/* The driver offers request t: a header to read, two buffers to write (three slots). */
static void pq_add(struct pq *q, unsigned t)
{
	uint64_t a = DATA_GPA + t * REQ_BYTES;
	const struct vq_sg sg[3] = {{a, 16}, {a + 16, 32}, {a + 48, 16}};
	q->tok[t] = (int)t;
	assert_int_equal(vq_drv_add(&q->drv, sg, 1, 2, &q->tok[t], NULL, 0), 0);
}

/* The device takes the next chain, resubmitted ones first, and records it (as iop_queue_pop);
 * returns the request it carries. */
static unsigned pq_take(struct pq *q)
{
	struct vq_seg seg[4];
	struct vq_chain c = {.seg = seg, .max_seg = 4};
	if (q->replay_done < q->rs.nchains) {
		assert_int_equal(vq_pop_batch(&q->replay, &c, 1), 1);
		c.tag = q->rs.heads[q->replay_done++];
	} else {
		uint16_t slot = q->dev.avail_pos;
		assert_int_equal(vq_pop_batch(&q->dev, &c, 1), 1);
		c.tag = iop_inflight_packed_get(&q->f, q->dev.pdesc, slot, c.ndesc);
		assert_int_not_equal(c.tag, NONE);
	}
	assert_int_equal(c.err, VQ_OK);
	assert_int_equal(c.nseg, 3);
	assert_int_equal(c.nread, 1);
	unsigned t = (unsigned)((seg[0].gpa - DATA_GPA) / REQ_BYTES);
	assert_true(t < MAX_TOKENS);
	memcpy(q->seg[t], seg, sizeof(seg));
	q->held[t] = c;
	q->held[t].seg = q->seg[t];
	return t;
}

static void pq_push(struct pq *q, unsigned t)
{
	vq_push(&q->dev, &q->held[t], 1);
	iop_inflight_packed_put(&q->f, q->held[t].tag);
}

/* As iop_queue_publish. */
static void pq_publish(struct pq *q)
{
	iop_inflight_packed_publishing(&q->f, q->dev.used_pos, q->dev.used_wrap);
	vq_publish(&q->dev);
	iop_inflight_packed_batch_done(&q->f);
}

/* The requests the driver gets back now, as a mask; none may come back twice. */
static uint64_t pq_reap(struct pq *q)
{
	uint64_t mask = 0;
	void *tok;
	while ((tok = vq_drv_get(&q->drv, NULL))) {
		uint64_t bit = 1ull << *(int *)tok;
		assert_false((mask | q->done) & bit);
		mask |= bit;
	}
	q->done |= mask;
	return mask;
}

static uint16_t slot_lap_bits(const struct pq *q, uint16_t slot)
{
	return q->dev.pdesc[slot].flags & LAP_BITS;
}

/* Five requests taken; 2 and 0 completed and published; 4 and 1 put in the ring but not
 * published (4's used descriptor first at slot 6, its flags held back; 1's at slot 9, whole). */
static struct pq *five_taken_two_pending(void)
{
	struct pq *q = pq_open();
	for (unsigned t = 0; t < 5; t++)
		pq_add(q, t);
	for (unsigned t = 0; t < 5; t++)
		assert_int_equal(pq_take(q), t);
	pq_push(q, 2);
	pq_push(q, 0);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 1u << 2 | 1u << 0);
	pq_push(q, 4);
	pq_push(q, 1);
	assert_int_equal(slot_lap_bits(q, 6), F_AVAIL);		 /* still available */
	assert_int_equal(slot_lap_bits(q, 9), F_AVAIL | F_USED); /* used, lap 1 */
	return q;
}

static void packed_recover_in_counter_order(void **state)
{
	(void)state;
	/* The device dies before publishing 4 and 1; the front-end's SET_VRING_BASE says the
	 * ring's start, which is stale: the region gives the position. */
	struct pq *q = five_taken_two_pending();
	assert_int_equal(pq_reap(q), 0);
	pq_start(q, 0x8000);
	assert_int_equal(q->rs.used_pos, 6);
	assert_true(q->rs.used_wrap);
	assert_int_equal(q->rs.avail_pos, 15);
	assert_true(q->rs.avail_wrap);
	assert_int_equal(q->rs.nchains, 3);
	/* 1's used descriptor, never published, is withdrawn from the ring. */
	assert_int_equal(slot_lap_bits(q, 9), F_AVAIL);
	/* Resubmitted in the order they were first taken, with their buffers. */
	assert_int_equal(pq_take(q), 1);
	assert_int_equal(pq_take(q), 3);
	assert_int_equal(pq_take(q), 4);
	assert_int_equal(q->held[3].seg[1].gpa, DATA_GPA + 3 * REQ_BYTES + 16);
	/* 3 completes alone: the driver gets it and nothing behind it (1's old descriptor would
	 * follow it at slot 9). */
	pq_push(q, 3);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 1u << 3);
	pq_push(q, 4);
	pq_push(q, 1);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 1u << 4 | 1u << 1);
	/* New requests come from where the driver put them, around the ring's end. */
	for (unsigned t = 5; t < 10; t++)
		pq_add(q, t);
	for (unsigned t = 5; t < 10; t++)
		assert_int_equal(pq_take(q), t);
	for (unsigned t = 9; t >= 5; t--)
		pq_push(q, t);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 0x1fu << 5);
	/* A restart with nothing in flight: the region's position, nothing resubmitted, and a new
	 * chain gets counters after every earlier one. */
	pq_start(q, 0x8000);
	assert_int_equal(q->rs.nchains, 0);
	assert_int_equal(q->rs.used_pos, 14);
	assert_false(q->rs.used_wrap);
	assert_int_equal(q->rs.avail_pos, 14);
	pq_add(q, 10);
	assert_int_equal(pq_take(q), 10);
	pq_push(q, 10);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 1u << 10);
	assert_int_equal(q->done, 0x7ffu);
	pq_close(q);
}

static void packed_half_published_batch_committed(void **state)
{
	(void)state;
	/* The device dies after the ring shows 4 and 1 but before the region is told: the batch
	 * is committed, not submitted twice. */
	struct pq *q = five_taken_two_pending();
	iop_inflight_packed_publishing(&q->f, q->dev.used_pos, q->dev.used_wrap);
	vq_publish(&q->dev);
	assert_int_equal(pq_reap(q), 1u << 4 | 1u << 1);
	pq_start(q, 0);
	assert_int_equal(q->rs.used_pos, 12);
	assert_int_equal(q->rs.avail_pos, 15);
	assert_int_equal(q->rs.nchains, 1);
	assert_int_equal(pq_take(q), 3);
	pq_push(q, 3);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 1u << 3);
	/* Dying later in the same step: the marks cleared and the list dropped, only the
	 * region's final position missing. */
	pq_add(q, 5);
	pq_add(q, 6);
	assert_int_equal(pq_take(q), 5);
	assert_int_equal(pq_take(q), 6);
	uint16_t old = q->region->old_used_idx;
	uint8_t old_wrap = q->region->old_used_wrap_counter;
	pq_push(q, 6);
	pq_push(q, 5);
	pq_publish(q);
	q->region->old_used_idx = old;
	q->region->old_used_wrap_counter = old_wrap;
	assert_int_equal(pq_reap(q), 1u << 5 | 1u << 6);
	pq_start(q, 0);
	assert_int_equal(q->rs.used_pos, 5);
	assert_false(q->rs.used_wrap);
	assert_int_equal(q->rs.nchains, 0);
	assert_int_equal(q->done, 0x7fu);
	pq_close(q);
}

static void packed_half_published_batch_rolled_back(void **state)
{
	(void)state;
	/* The region has the batch's end (used_idx ahead) but the ring never showed it: rolled
	 * back, its chains submitted again. */
	struct pq *q = five_taken_two_pending();
	iop_inflight_packed_publishing(&q->f, q->dev.used_pos, q->dev.used_wrap);
	assert_int_not_equal(q->region->used_idx, q->region->old_used_idx);
	assert_int_equal(pq_reap(q), 0);
	pq_start(q, 0x8000);
	assert_int_equal(q->rs.used_pos, 6);
	assert_int_equal(q->region->used_idx, 6);
	assert_int_equal(q->rs.nchains, 3);
	assert_int_equal(slot_lap_bits(q, 9), F_AVAIL);
	assert_int_equal(pq_take(q), 1);
	assert_int_equal(pq_take(q), 3);
	assert_int_equal(pq_take(q), 4);
	/* Dying again before any of them completes: the same three, in the same order. */
	pq_start(q, 0x8000);
	assert_int_equal(q->rs.nchains, 3);
	assert_int_equal(pq_take(q), 1);
	assert_int_equal(pq_take(q), 3);
	assert_int_equal(pq_take(q), 4);
	pq_push(q, 4);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 1u << 4);
	pq_push(q, 3);
	pq_push(q, 1);
	pq_publish(q);
	assert_int_equal(pq_reap(q), 1u << 3 | 1u << 1);
	assert_int_equal(q->done, 0x1fu);
	pq_close(q);
}

static void packed_scribbled_region(void **state)
{
	(void)state;
	struct vhost_user_inflight_packed *p = pregion();
	struct vring_packed_desc ring[PNUM] = {0};
	struct iop_inflight f;
	struct iop_inflight_resume rs;
	iop_inflight_packed_format(p, PNUM);
	iop_inflight_packed_attach(&f, p, PNUM);
	/* A position out of range, a region made for another size: formatted, started at the
	 * front-end's base. */
	p->old_used_idx = PNUM;
	p->desc[3].inflight = 1;
	assert_int_equal(iop_inflight_packed_recover(&f, ring, 7, &rs), 0);
	assert_int_equal(rs.used_pos, 7);
	assert_false(rs.used_wrap);
	assert_int_equal(p->desc[3].inflight, 0);
	p->desc_num = PNUM / 2;
	assert_int_equal(iop_inflight_packed_recover(&f, ring, 0x8000 | 2, &rs), 0);
	assert_int_equal(rs.used_pos, 2);
	assert_true(rs.used_wrap);
	assert_int_equal(p->desc_num, PNUM);
	/* Chains that cannot be walked are dropped: a loop, a link out of range, a last entry
	 * that is not where the links end, an entry already in another chain, no descriptors,
	 * more than the ring. Only 13 and 7-8 are whole. */
	p->old_used_idx = p->used_idx = 0;
	p->desc[0] = (struct vhost_user_inflight_desc_packed){
		.inflight = 1, .num = 2, .next = 0, .last = 1};
	p->desc[2] = (struct vhost_user_inflight_desc_packed){
		.inflight = 1, .num = 3, .next = 0xfff0, .last = 3};
	p->desc[4] = (struct vhost_user_inflight_desc_packed){
		.inflight = 1, .num = 2, .next = 5, .last = 6};
	p->desc[7] = (struct vhost_user_inflight_desc_packed){
		.inflight = 1, .num = 2, .next = 8, .last = 8, .counter = 5, .id = 1, .flags = 0};
	p->desc[8] = (struct vhost_user_inflight_desc_packed){
		.next = 7, .id = 1, .addr = 0x8000, .flags = VRING_DESC_F_WRITE};
	p->desc[9] = (struct vhost_user_inflight_desc_packed){
		.inflight = 1, .num = 2, .next = 8, .last = 8};
	p->desc[10] = (struct vhost_user_inflight_desc_packed){.inflight = 1, .num = 0};
	p->desc[11] = (struct vhost_user_inflight_desc_packed){.inflight = 1, .num = PNUM + 1};
	p->desc[12] = (struct vhost_user_inflight_desc_packed){.inflight = 7, .num = 1, .last = 12};
	p->desc[13] = (struct vhost_user_inflight_desc_packed){.inflight = 1,
							       .num = 1,
							       .last = 13,
							       .counter = 2,
							       .id = 3,
							       .flags = VRING_DESC_F_NEXT};
	p->free_head = 0xfff0;
	p->old_free_head = 0xfff1;
	assert_int_equal(iop_inflight_packed_recover(&f, ring, 0, &rs), 0);
	assert_int_equal(rs.nchains, 2);
	assert_int_equal(rs.heads[0], 13);
	assert_int_equal(rs.heads[1], 7);
	assert_int_equal(rs.used_pos, 0);
	assert_int_equal(rs.avail_pos, 3);
	/* The copies as a ring of their own, NEXT exactly inside each chain, lap 1. */
	assert_int_equal(rs.ring[0].id, 3);
	assert_int_equal(rs.ring[0].flags, F_AVAIL);
	assert_int_equal(rs.ring[1].flags, F_AVAIL | VRING_DESC_F_NEXT);
	assert_int_equal(rs.ring[2].flags, F_AVAIL | VRING_DESC_F_WRITE);
	assert_int_equal(rs.ring[2].addr, 0x8000);
	assert_int_equal(rs.ring[3].flags, 0);
	for (unsigned i = 0; i < PNUM; i++)
		assert_true(p->desc[i].inflight == 0 || i == 7 || i == 13);
	/* The free list is rebuilt: every other entry, once. */
	unsigned n = 0;
	for (uint16_t e = p->free_head; e != NONE; e = p->desc[e].next, n++)
		assert_true(e < PNUM && e != 7 && e != 8 && e != 13 && n < PNUM);
	assert_int_equal(n, PNUM - 3);
	assert_int_equal(f.counter, 6);
	iop_inflight_resume_free(&rs);
	/* A batch list that loops, in a batch the ring shows published: the walk ends, the batch
	 * is committed. */
	ring[0].flags = F_AVAIL | F_USED;
	p->used_idx = 5;
	p->used_wrap_counter = 1;
	p->old_free_head = 7;
	p->desc[8].next = 7;
	assert_int_equal(iop_inflight_packed_recover(&f, ring, 0, &rs), 0);
	assert_int_equal(rs.used_pos, 5);
	assert_int_equal(rs.nchains, 1);
	assert_int_equal(rs.heads[0], 13);
	iop_inflight_resume_free(&rs);
	/* A free list that runs out of range: not tracked, nothing written out of bounds. */
	p->free_head = 0xfff0;
	assert_int_equal(iop_inflight_packed_get(&f, ring, 0, 1), NONE);
	p->free_head = 0;
	p->desc[0].next = 0xfff0;
	assert_int_equal(iop_inflight_packed_get(&f, ring, 0, 2), NONE);
	/* Put and clear with links out of range. */
	p->desc[0].last = 0xfff0;
	iop_inflight_packed_put(&f, 0);
	iop_inflight_packed_put(&f, 0xfff0);
	iop_inflight_packed_publishing(&f, 5, true);
	iop_inflight_packed_batch_done(&f);
	assert_int_equal(p->old_used_idx, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_and_attach),
		cmocka_unit_test(mark_and_clear_batches),
		cmocka_unit_test(recover_in_counter_order),
		cmocka_unit_test(recover_repairs_last_batch),
		cmocka_unit_test(scribbled_region),
		cmocka_unit_test(packed_format_and_get),
		cmocka_unit_test(packed_put_and_batch),
		cmocka_unit_test(packed_recover_in_counter_order),
		cmocka_unit_test(packed_half_published_batch_committed),
		cmocka_unit_test(packed_half_published_batch_rolled_back),
		cmocka_unit_test(packed_scribbled_region),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
