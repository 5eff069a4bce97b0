/* SPDX-License-Identifier: MIT */
/*
 * Virtqueues, hostile drivers: descriptors written straight into ring memory (no vq_drv_*), one
 * test per VQ_ERR_* cause in both layouts. Each malformed chain must pop as 1 with its error and
 * no segments, complete with used length 0 under the right id (packed: and skip the right slots),
 * be counted, and leave the queue working for the next good chain. Every test reruns across the
 * eight configurations; with indirect off, any indirect descriptor is VQ_ERR_INDIRECT instead.
 *
 * Guest memory: region A at 0 (1 MiB), region B right after it (64 KiB), then a gap, then
 * region C at 4 MiB (64 KiB).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "virtq.h"
#include "ring_configs.h"

#define A_SIZE	 0x100000ull
#define B_GPA	 A_SIZE
#define B_SIZE	 0x10000ull
#define GAP_GPA	 (B_GPA + B_SIZE)
#define C_GPA	 0x400000ull
#define C_SIZE	 0x10000ull
#define END_GPA	 (C_GPA + C_SIZE)
#define DESC_GPA 0x0ull
#define DRV_GPA	 0x10000ull
#define DEV_GPA	 0x20000ull
#define TABLE	 0x40000ull /* indirect tables */
#define MAX_SEG	 2048

#define NEXT	 VRING_DESC_F_NEXT
#define WRITE	 VRING_DESC_F_WRITE
#define INDIRECT VRING_DESC_F_INDIRECT

/* Under UBSan (build-asan), undefined behaviour fails the test instead of only printing. */
/* One descriptor as a test writes it; nx is the next index (split) or the buffer id (packed). */
struct dsc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, nx;
};

static const struct dsc R = {0x80000, 64, 0, 0};      /* a good readable buffer */
static const struct dsc W = {0x90000, 64, WRITE, 0};  /* a good writable buffer */
static const struct dsc SPAN = {B_GPA - 8, 16, 0, 0}; /* good, two segments (A and B) */

struct menv {
	const struct tcfg *t;
	uint8_t *a, *b, *c;
	struct gmem mem;
	struct vq q;
	uint16_t num;
	uint16_t avail_idx, used_seen; /* split: the test's driver */
	uint16_t pos, upos;	       /* packed: next slot to fill / to find used */
	bool wrap, uwrap;
	struct vq_seg seg[MAX_SEG];
	struct vq_chain ch;
};

static void open_queue(struct menv *e, uint16_t num)
{
	struct vq_config cfg = {.num = num,
				.packed = e->t->packed,
				.event_idx = e->t->event_idx,
				.indirect = e->t->indirect,
				.desc = DESC_GPA,
				.driver = DRV_GPA,
				.device = DEV_GPA};
	memset(e->a, 0, DEV_GPA + 0x10000); /* a zeroed ring, as the spec has it */
	e->num = num;
	e->avail_idx = e->used_seen = e->pos = e->upos = 0;
	e->wrap = e->uwrap = true;
	assert_int_equal(vq_init(&e->q, &e->mem, &cfg), 0);
}

static int setup(void **state)
{
	struct menv *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->t = *state;
	e->a = calloc(1, A_SIZE);
	e->b = calloc(1, B_SIZE);
	e->c = calloc(1, C_SIZE);
	gmem_init(&e->mem);
	if (!e->a || !e->b || !e->c || gmem_add(&e->mem, 0, A_SIZE, e->a, -1, 0) ||
	    gmem_add(&e->mem, B_GPA, B_SIZE, e->b, -1, 0) ||
	    gmem_add(&e->mem, C_GPA, C_SIZE, e->c, -1, 0))
		return -1;
	*state = e;
	open_queue(e, 16);
	return 0;
}

static int teardown(void **state)
{
	struct menv *e = *state;
	free(e->a);
	free(e->b);
	free(e->c);
	free(e);
	return 0;
}

static struct vring_desc *sdesc(struct menv *e)
{
	return (struct vring_desc *)(e->a + DESC_GPA);
}

static struct vring_packed_desc *pdesc(struct menv *e)
{
	return (struct vring_packed_desc *)(e->a + DESC_GPA);
}

static uint16_t avail_bits(bool wrap)
{
	return wrap ? 1u << VRING_PACKED_DESC_F_AVAIL : 1u << VRING_PACKED_DESC_F_USED;
}

/* split: writes descriptor i; a chain is made available by split_offer(head). */
static void split_put(struct menv *e, uint16_t i, struct dsc d)
{
	sdesc(e)[i] = (struct vring_desc){d.addr, d.len, d.flags, d.nx};
}

static void split_offer(struct menv *e, uint16_t head)
{
	struct vring_avail *av = (struct vring_avail *)(e->a + DRV_GPA);
	av->ring[e->avail_idx % e->num] = head;
	__atomic_store_n(&av->idx, ++e->avail_idx, __ATOMIC_RELEASE);
}

/* packed: writes a list at the next slots, ids as given, the first flags last. */
static void packed_offer(struct menv *e, const struct dsc *l, unsigned n)
{
	uint16_t first = e->pos, first_flags = 0;
	for (unsigned k = 0; k < n; k++) {
		struct vring_packed_desc *d = &pdesc(e)[e->pos];
		uint16_t flags = l[k].flags | avail_bits(e->wrap);
		*d = (struct vring_packed_desc){l[k].addr, l[k].len, l[k].nx, k ? flags : 0};
		if (k == 0)
			first_flags = flags;
		if (++e->pos == e->num) {
			e->pos = 0;
			e->wrap = !e->wrap;
		}
	}
	__atomic_store_n(&pdesc(e)[first].flags, first_flags, __ATOMIC_RELEASE);
}

/* A list of n descriptors: split chains 0 -> 1 -> ... with head 0; packed ids are 9 except
 * the last one's, 3. NEXT is added on all but the last. */
static void offer(struct menv *e, const struct dsc *l, unsigned n)
{
	struct dsc m[n];
	for (unsigned k = 0; k < n; k++) {
		m[k] = l[k];
		m[k].flags |= k + 1 < n ? NEXT : 0;
		m[k].nx = e->t->packed ? (k + 1 < n ? 9 : 3) : (uint16_t)(k + 1);
	}
	if (e->t->packed) {
		packed_offer(e, m, n);
		return;
	}
	for (unsigned k = 0; k < n; k++)
		split_put(e, (uint16_t)k, m[k]);
	split_offer(e, 0);
}

/* Writes an indirect table at gpa in the layout's format (nx: next for split). */
static void table_put(struct menv *e, uint64_t gpa, const struct dsc *l, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint8_t raw[16];
		if (e->t->packed) {
			struct vring_packed_desc d = {l[k].addr, l[k].len, 0, l[k].flags};
			memcpy(raw, &d, 16);
		} else {
			struct vring_desc d = {l[k].addr, l[k].len, l[k].flags, l[k].nx};
			memcpy(raw, &d, 16);
		}
		assert_int_equal(gmem_write(&e->mem, gpa + 16 * k, raw, 16), 0);
	}
}

static enum vq_chain_err ind_err(struct menv *e, enum vq_chain_err err)
{
	return e->t->indirect ? err : VQ_ERR_INDIRECT;
}

static int pop(struct menv *e, uint16_t max_seg)
{
	e->ch = (struct vq_chain){.max_seg = max_seg, .seg = e->seg};
	return vq_pop(&e->q, &e->ch);
}

/* Completes the popped chain claiming 123 bytes and checks the used entry the driver sees. */
static void complete(struct menv *e, uint16_t id, uint16_t ndesc, uint32_t want_len)
{
	vq_push(&e->q, &e->ch, 123);
	vq_publish(&e->q);
	if (!e->t->packed) {
		struct vring_used *u = (struct vring_used *)(e->a + DEV_GPA);
		assert_int_equal(u->idx, ++e->used_seen);
		assert_int_equal(u->ring[(e->used_seen - 1) % e->num].id, id);
		assert_int_equal(u->ring[(e->used_seen - 1) % e->num].len, want_len);
		return;
	}
	struct vring_packed_desc *d = &pdesc(e)[e->upos];
	uint16_t both = (1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED);
	assert_int_equal(d->flags & both, e->uwrap ? both : 0);
	assert_int_equal(d->id, id);
	assert_int_equal(d->flags & WRITE ? d->len : 0, want_len);
	assert_int_equal(e->ch.ndesc, ndesc);
	for (unsigned k = 0; k < ndesc; k++)
		if (++e->upos == e->num) {
			e->upos = 0;
			e->uwrap = !e->uwrap;
		}
}

/* After any bad chain: a good one (split: descriptors 0 and 1 again) goes through. */
static void good_chain(struct menv *e)
{
	const struct dsc l[2] = {R, W};
	offer(e, l, 2);
	assert_int_equal(pop(e, MAX_SEG), 1);
	assert_int_equal(e->ch.err, VQ_OK);
	assert_int_equal(e->ch.nseg, 2);
	assert_int_equal(e->ch.read_len, 64);
	assert_int_equal(e->ch.write_len, 64);
	complete(e, e->t->packed ? 3 : 0, 2, 64);
	assert_int_equal(pop(e, MAX_SEG), 0);
}

/* Pops what was offered and checks it failed with err (VQ_OK: passed) under id, ndesc. */
static void expect_id(struct menv *e, enum vq_chain_err err, uint16_t id, uint16_t ndesc,
		      uint16_t max_seg)
{
	uint64_t bad = e->q.bad_chains;
	assert_int_equal(pop(e, max_seg), 1);
	if (e->ch.err != err)
		print_error("want \"%s\", got \"%s\"\n", vq_chain_err_str(err),
			    vq_chain_err_str(e->ch.err));
	assert_int_equal(e->ch.err, err);
	assert_int_equal(e->ch.id, id);
	assert_int_equal(e->q.bad_chains, bad + (err != VQ_OK));
	if (err != VQ_OK) {
		assert_int_equal(e->ch.nseg, 0);
		assert_int_equal(e->ch.read_len + e->ch.write_len, 0);
	}
	complete(e, id, ndesc, err == VQ_OK ? e->ch.write_len : 0);
	assert_false(e->q.broken);
	good_chain(e);
}

/* For lists made by offer(): id 0 (split head) or 3 (packed, from the last descriptor). */
static void expect(struct menv *e, enum vq_chain_err err, unsigned n)
{
	expect_id(e, err, e->t->packed ? 3 : 0, (uint16_t)n, MAX_SEG);
}

/* ---------------------------------------------------------------- both layouts -------------- */

static void head_out_of_range(void **state)
{
	struct menv *e = *state;
	const uint16_t ids[] = {16, 0xffff};
	for (unsigned i = 0; i < 2; i++) {
		struct dsc d = R;
		d.nx = ids[i];
		if (e->t->packed) {
			packed_offer(e, &d, 1); /* packed: the buffer id */
		} else {
			split_put(e, 0, R);
			split_offer(e, ids[i]); /* split: the head index */
		}
		expect_id(e, VQ_ERR_HEAD, ids[i], 1, MAX_SEG);
	}
}

static void addr_outside(void **state)
{
	struct menv *e = *state;
	const struct dsc bad[] = {
		{END_GPA, 16, 0, 0},		     /* past the end */
		{GAP_GPA + 0x1000, 16, 0, 0},	     /* in the gap between B and C */
		{C_GPA - 8, 16, 0, 0},		     /* from the gap into C */
		{B_GPA + B_SIZE - 8, 16, WRITE, 0},  /* from B into the gap */
		{UINT64_MAX - 7, 16, WRITE, 0},	     /* addr + len overflows */
		{0x1000, 0x200000, 0, 0},	     /* longer than A and B together */
		{C_GPA, (uint32_t)C_SIZE + 1, 0, 0}, /* one byte past C */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct dsc l[3] = {R, bad[i], W};
		bool w = bad[i].flags & WRITE;
		offer(e, w ? l + 1 : l, 2);
		expect(e, VQ_ERR_ADDR, 2);
	}
}

/* Zero length, and lengths whose sum passes 4 GiB. */
static void bad_length(void **state)
{
	struct menv *e = *state;
	const struct dsc l[3] = {R, {0x80000, 0, 0, 0}, W};
	offer(e, l, 3);
	expect(e, VQ_ERR_LEN, 3);
	/* 3 GiB of address space the device never touches while validating. */
	const uint64_t size = 3ull << 30, gpa = 1ull << 32;
	void *big = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(big != MAP_FAILED);
	assert_int_equal(gmem_add(&e->mem, gpa, size, big, -1, 0), 0);
	const struct dsc l2[2] = {{gpa, (uint32_t)size, 0, 0}, {gpa, (uint32_t)size, 0, 0}};
	offer(e, l2, 2);
	expect(e, VQ_ERR_LEN, 2);
	e->mem.nr--;
	munmap(big, size);
}

static void readable_after_writable(void **state)
{
	struct menv *e = *state;
	const struct dsc l[3] = {R, W, R};
	offer(e, l, 3);
	expect(e, VQ_ERR_ORDER, 3);
	if (!e->t->indirect)
		return;
	const struct dsc t[2] = {{0x90000, 8, WRITE | NEXT, 1},
				 {0x80000, 8, 0, 0}}; /* in a table */
	const struct dsc ind = {TABLE, 32, INDIRECT, 0};
	table_put(e, TABLE, t, 2);
	offer(e, &ind, 1);
	expect(e, VQ_ERR_ORDER, 1);
}

static void indirect_not_negotiated(void **state)
{
	struct menv *e = *state;
	const struct dsc t[2] = {{0x80000, 8, NEXT, 1}, {0x90000, 8, WRITE, 0}};
	const struct dsc ind = {TABLE, 32, INDIRECT, 0};
	table_put(e, TABLE, t, 2);
	offer(e, &ind, 1);
	expect(e, e->t->indirect ? VQ_OK : VQ_ERR_INDIRECT, 1); /* a good table, if allowed */
}

/* INDIRECT together with NEXT, and (packed) an indirect descriptor inside a NEXT list. */
static void indirect_in_list(void **state)
{
	struct menv *e = *state;
	const struct dsc t[1] = {{0x80000, 8, 0, 0}};
	const struct dsc l[2] = {{TABLE, 16, INDIRECT, 0}, W};
	table_put(e, TABLE, t, 1);
	offer(e, l, 2); /* offer() adds NEXT to the first */
	expect(e, VQ_ERR_INDIRECT, 2);
	if (!e->t->packed)
		return;
	const struct dsc l2[2] = {R, {TABLE, 16, INDIRECT, 0}};
	offer(e, l2, 2);
	expect(e, VQ_ERR_INDIRECT, 2);
}

static void indirect_size(void **state)
{
	struct menv *e = *state;
	const uint32_t lens[] = {0, 8, 24, 16 * (VQ_MAX_CHAIN + 1)};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct dsc ind = {TABLE, lens[i], INDIRECT, 0};
		offer(e, &ind, 1);
		expect(e, ind_err(e, VQ_ERR_INDIRECT_SIZE), 1);
	}
	struct dsc outside = {B_GPA - 16, 32, INDIRECT, 0}; /* a table must lie in one region */
	offer(e, &outside, 1);
	expect(e, ind_err(e, VQ_ERR_ADDR), 1);
}

static void nested_indirect(void **state)
{
	struct menv *e = *state;
	const struct dsc t[2] = {{0x80000, 8, NEXT, 1}, {TABLE + 0x100, 16, INDIRECT, 0}};
	const struct dsc ind = {TABLE, 32, INDIRECT, 0};
	table_put(e, TABLE, t, 2);
	offer(e, &ind, 1);
	expect(e, ind_err(e, VQ_ERR_NESTED), 1);
}

/* Errors in a table's entries are the table's chain's errors. */
static void bad_entry_in_table(void **state)
{
	struct menv *e = *state;
	const struct dsc t[3] = {
		{0x80000, 8, NEXT, 1}, {END_GPA, 8, NEXT, 2}, {0x90000, 0, WRITE, 0}};
	const struct dsc ind = {TABLE, 48, INDIRECT, 0};
	table_put(e, TABLE, t, 3);
	offer(e, &ind, 1);
	expect(e, ind_err(e, VQ_ERR_ADDR), 1);
	const struct dsc fixed = {0x80000, 8, NEXT, 2};
	table_put(e, TABLE + 16, &fixed, 1);
	offer(e, &ind, 1);
	expect(e, ind_err(e, VQ_ERR_LEN), 1);
}

static void too_many_segments(void **state)
{
	struct menv *e = *state;
	const struct dsc l[5] = {R, R, R, W, W};
	offer(e, l, 5);
	expect_id(e, VQ_ERR_TOO_MANY, e->t->packed ? 3 : 0, 5, 4);
	offer(e, &SPAN, 1); /* one descriptor, two segments */
	expect_id(e, VQ_ERR_TOO_MANY, e->t->packed ? 3 : 0, 1, 1);
	offer(e, &SPAN, 1); /* the same with room for both */
	expect_id(e, VQ_OK, e->t->packed ? 3 : 0, 1, 2);
	if (!e->t->indirect)
		return;
	const struct dsc ind = {TABLE, 5 * 16, INDIRECT, 0};
	struct dsc t[5];
	for (unsigned k = 0; k < 5; k++)
		t[k] = (struct dsc){l[k].addr, l[k].len, l[k].flags | (k < 4 ? NEXT : 0), k + 1};
	table_put(e, TABLE, t, 5);
	offer(e, &ind, 1);
	expect_id(e, VQ_ERR_TOO_MANY, e->t->packed ? 3 : 0, 1, 4);
}

/* A chain longer than VQ_MAX_CHAIN (ring of 2048): loops and runaways are bounded. */
static void chain_too_long(void **state)
{
	struct menv *e = *state;
	enum { N = VQ_MAX_CHAIN + 76 };
	static struct dsc l[N];
	open_queue(e, 2048);
	for (unsigned k = 0; k < N; k++)
		l[k] = (struct dsc){0x80000 + k, 1, 0, 0};
	offer(e, l, N);
	expect(e, VQ_ERR_LOOP, N);	     /* packed: all N slots skipped, the id from the last */
	if (!e->t->indirect || e->t->packed) /* packed: an indirect descriptor stands alone */
		return;
	/* Direct and indirect together: 10 in the ring, 1020 in a table. */
	static struct dsc t[1020];
	for (unsigned k = 0; k < 1020; k++)
		t[k] = (struct dsc){0x80000 + k, 1, k + 1 < 1020 ? NEXT : 0, k + 1};
	table_put(e, TABLE, t, 1020);
	for (unsigned k = 0; k < 10; k++)
		l[k] = R;
	l[10] = (struct dsc){TABLE, 1020 * 16, INDIRECT, 0};
	offer(e, l, 11);
	expect(e, VQ_ERR_LOOP, 11);
}

/* The device validates a copy: what the guest writes after (or while) a chain is popped does
 * not change what the device uses. */
static void changed_after_pop(void **state)
{
	struct menv *e = *state;
	const struct dsc l[2] = {R, W};
	offer(e, l, 2);
	assert_int_equal(pop(e, MAX_SEG), 1);
	struct vq_chain before = e->ch;
	struct vq_seg seg[2] = {e->seg[0], e->seg[1]};
	for (unsigned k = 0; k < 2; k++) { /* now make both descriptors as bad as can be */
		uint16_t slot = e->t->packed ? (uint16_t)((e->pos + e->num - 2 + k) % e->num) : k;
		struct vring_packed_desc *p = &pdesc(e)[slot];
		struct vring_desc *d = &sdesc(e)[k];
		if (e->t->packed)
			*p = (struct vring_packed_desc){END_GPA, 0, 0xbad, p->flags | INDIRECT};
		else
			*d = (struct vring_desc){END_GPA, 0, INDIRECT | NEXT, 0xbad};
	}
	assert_memory_equal(&e->ch, &before, sizeof(before));
	assert_memory_equal(e->seg, seg, sizeof(seg));
	assert_int_equal(e->ch.err, VQ_OK);
	complete(e, e->t->packed ? 3 : 0, 2, 64); /* the id popped, not the one now there */
	good_chain(e);
}

/* The same while another thread keeps rewriting the descriptor: every popped chain is
 * consistent with values the guest wrote, and never uses an address it refused. */
struct flipper {
	struct menv *e;
	volatile int stop;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;
	const uint64_t addr[3] = {0x80000, 0x90000, END_GPA};
	const uint32_t len[2] = {64, 32};
	for (unsigned i = 0; !f->stop; i++) {
		if (f->e->t->packed) {
			struct vring_packed_desc *p = pdesc(f->e);
			__atomic_store_n(&p->addr, addr[i % 3], __ATOMIC_RELAXED);
			__atomic_store_n(&p->len, len[i % 2], __ATOMIC_RELAXED);
			__atomic_store_n(&p->id, i % 5 ? 3 : 1000, __ATOMIC_RELAXED);
		} else {
			struct vring_desc *d = sdesc(f->e);
			__atomic_store_n(&d->addr, addr[i % 3], __ATOMIC_RELAXED);
			__atomic_store_n(&d->len, len[i % 2], __ATOMIC_RELAXED);
			__atomic_store_n(&d->flags, i % 7 ? 0 : WRITE, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void changed_during_pop(void **state)
{
	struct menv *e = *state;
	struct flipper f = {.e = e};
	unsigned ok = 0, bad = 0;
	pthread_t th;
	open_queue(e, 1); /* one slot: the flipper always knows where */
	split_put(e, 0, R);
	assert_int_equal(pthread_create(&th, NULL, flip, &f), 0);
	for (unsigned i = 0; i < 20000; i++) {
		struct dsc d = {0x80000, 64, 0, 3};
		if (e->t->packed) {
			packed_offer(e, &d, 1);
		} else {
			split_offer(e, 0);
		}
		assert_int_equal(pop(e, MAX_SEG), 1);
		struct vq_chain *c = &e->ch;
		if (c->err == VQ_OK) {
			ok++;
			assert_int_equal(c->nseg, 1);
			assert_true(c->seg[0].gpa == 0x80000 || c->seg[0].gpa == 0x90000);
			assert_true(c->seg[0].len == 64 || c->seg[0].len == 32);
			assert_int_equal(c->read_len + c->write_len, c->seg[0].len);
			assert_int_equal(c->nread, c->read_len ? 1 : 0);
			assert_ptr_equal(c->seg[0].hva, e->a + c->seg[0].gpa);
		} else {
			bad++;
			if (c->err != VQ_ERR_ADDR && c->err != VQ_ERR_HEAD)
				print_error("%s\n", vq_chain_err_str(c->err));
			assert_true(c->err == VQ_ERR_ADDR ||
				    (e->t->packed && c->err == VQ_ERR_HEAD));
			assert_int_equal(c->nseg, 0);
		}
		if (e->t->packed)
			assert_true(c->id == 3 || c->id == 1000);
		vq_push(&e->q, c, 0);
		vq_publish(&e->q);
		if (e->t->packed) {
			e->upos = 0;
			e->uwrap = !e->uwrap;
		}
	}
	f.stop = 1;
	pthread_join(th, NULL);
	assert_int_equal(ok + bad, 20000);
	assert_int_equal(e->q.bad_chains, bad);
}

/* ---------------------------------------------------------------- split only ---------------- */

static void next_out_of_range(void **state)
{
	struct menv *e = *state;
	split_put(e, 0, (struct dsc){0x80000, 8, NEXT, 16});
	split_offer(e, 0);
	expect(e, VQ_ERR_NEXT, 1);
	if (!e->t->indirect)
		return;
	/* Inside a table of two, next 2 is out of range too. */
	const struct dsc t[2] = {{0x80000, 8, NEXT, 1}, {0x90000, 8, WRITE | NEXT, 2}};
	table_put(e, TABLE, t, 2);
	split_put(e, 0, (struct dsc){TABLE, 32, INDIRECT, 0});
	split_offer(e, 0);
	expect(e, VQ_ERR_NEXT, 1);
}

static void loops(void **state)
{
	struct menv *e = *state;
	split_put(e, 5, (struct dsc){0x80000, 8, NEXT, 5}); /* itself */
	split_offer(e, 5);
	expect_id(e, VQ_ERR_LOOP, 5, 0, MAX_SEG);
	split_put(e, 6, (struct dsc){0x80000, 8, NEXT, 7}); /* 6 -> 7 -> 6 */
	split_put(e, 7, (struct dsc){0x90000, 8, NEXT, 6});
	split_offer(e, 6);
	expect_id(e, VQ_ERR_LOOP, 6, 0, MAX_SEG);
	/* 0 -> 1 -> 2 -> 1 inside a table. */
	const struct dsc t[3] = {
		{0x80000, 8, NEXT, 1}, {0x80000, 8, NEXT, 2}, {0x80000, 8, NEXT, 1}};
	table_put(e, TABLE, t, 3);
	split_put(e, 8, (struct dsc){TABLE, 48, INDIRECT, 0});
	split_offer(e, 8);
	expect_id(e, ind_err(e, VQ_ERR_LOOP), 8, 0, MAX_SEG);
}

/* An avail index more than num ahead breaks the ring for good: NEEDS_RESET. */
static void avail_index_jump(void **state)
{
	struct menv *e = *state;
	struct vring_avail *av = (struct vring_avail *)(e->a + DRV_GPA);
	good_chain(e);
	split_put(e, 0, R);
	av->idx = (uint16_t)(e->avail_idx + e->num + 1);
	assert_int_equal(pop(e, MAX_SEG), -EIO);
	assert_true(e->q.broken);
	av->idx = (uint16_t)(e->avail_idx + 1); /* sticky, even once the index looks sane */
	assert_int_equal(pop(e, MAX_SEG), -EIO);
	assert_int_equal(vq_pop_batch(&e->q, &e->ch, 4), -EIO);
	assert_false(vq_has_work(&e->q));
}

/* ---------------------------------------------------------------- packed only --------------- */

/* A NEXT list whose next slot the driver never made available: the list ends there. */
static void next_not_available(void **state)
{
	struct menv *e = *state;
	struct dsc d = {0x80000, 8, NEXT, 3};
	uint16_t after = (uint16_t)((e->pos + 1) % e->num);
	packed_offer(e, &d, 1);
	pdesc(e)[after].flags = avail_bits(!e->wrap); /* a stale lap's flags */
	expect_id(e, VQ_ERR_NEXT, 3, 1, MAX_SEG);
}

/* A NEXT list all around the ring never ends: num slots are taken, not more. */
static void list_around_ring(void **state)
{
	struct menv *e = *state;
	struct dsc l[16];
	for (unsigned k = 0; k < 16; k++)
		l[k] = (struct dsc){0x80000, 8, NEXT, 3};
	good_chain(e); /* start mid-ring, so the list crosses the end */
	packed_offer(e, l, 16);
	expect_id(e, VQ_ERR_LOOP, 3, 16, MAX_SEG);
}

/* In a packed table only WRITE counts: NEXT and next-like ids are ignored, entries in order. */
static void table_next_ignored(void **state)
{
	struct menv *e = *state;
	const struct dsc t[3] = {
		{0x80000, 8, NEXT, 0}, {0x80008, 8, NEXT, 0}, {0x90000, 8, WRITE, 0}};
	const struct dsc ind = {TABLE, 48, INDIRECT, 3};
	table_put(e, TABLE, t, 3);
	packed_offer(e, &ind, 1);
	assert_int_equal(pop(e, MAX_SEG), 1);
	assert_int_equal(e->ch.err, ind_err(e, VQ_OK));
	if (e->t->indirect) {
		assert_int_equal(e->ch.nseg, 3);
		assert_int_equal(e->ch.nread, 2);
	}
	complete(e, 3, 1, e->t->indirect ? 8 : 0);
	good_chain(e);
}

/* A good table at an odd address: allowed (the spec says anywhere), read without misaligned
 * accesses (UBSan checks in the sanitizer build). */
static void table_anywhere(void **state)
{
	struct menv *e = *state;
	const struct dsc t[2] = {{0x80000, 8, NEXT, 1}, {0x90000, 8, WRITE, 0}};
	const struct dsc ind = {TABLE + 3, 32, INDIRECT, 0};
	table_put(e, TABLE + 3, t, 2);
	offer(e, &ind, 1);
	expect(e, ind_err(e, VQ_OK), 1);
}

enum { BOTH, SPLIT, PACKED };

static const struct {
	const char *name;
	CMUnitTestFunction fn;
	int layout;
} tests[] = {
	{"head_out_of_range", head_out_of_range, BOTH},
	{"addr_outside", addr_outside, BOTH},
	{"bad_length", bad_length, BOTH},
	{"readable_after_writable", readable_after_writable, BOTH},
	{"indirect_not_negotiated", indirect_not_negotiated, BOTH},
	{"indirect_in_list", indirect_in_list, BOTH},
	{"indirect_size", indirect_size, BOTH},
	{"nested_indirect", nested_indirect, BOTH},
	{"bad_entry_in_table", bad_entry_in_table, BOTH},
	{"too_many_segments", too_many_segments, BOTH},
	{"chain_too_long", chain_too_long, BOTH},
	{"table_anywhere", table_anywhere, BOTH},
	{"changed_after_pop", changed_after_pop, BOTH},
	{"changed_during_pop", changed_during_pop, BOTH},
	{"next_out_of_range", next_out_of_range, SPLIT},
	{"loops", loops, SPLIT},
	{"avail_index_jump", avail_index_jump, SPLIT},
	{"next_not_available", next_not_available, PACKED},
	{"list_around_ring", list_around_ring, PACKED},
	{"table_next_ignored", table_next_ignored, PACKED},
};

int main(void)
{
	enum { NT = sizeof(tests) / sizeof(tests[0]), NC = sizeof(cfgs) / sizeof(cfgs[0]) };
	static struct CMUnitTest all[NT * NC];
	static char names[NT * NC][64];
	unsigned n = 0;
	for (unsigned t = 0; t < NT; t++)
		for (unsigned c = 0; c < NC; c++) {
			if (tests[t].layout != BOTH &&
			    (tests[t].layout == PACKED) != cfgs[c].packed)
				continue;
			snprintf(names[n], sizeof(names[n]), "%s/%s", tests[t].name, cfgs[c].name);
			all[n] = (struct CMUnitTest){.name = names[n],
						     .test_func = tests[t].fn,
						     .setup_func = setup,
						     .teardown_func = teardown,
						     .initial_state = (void *)&cfgs[c]};
			n++;
		}
	return _cmocka_run_group_tests("virtq_malformed", all, n, NULL, NULL);
}
