/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request parsing (rings/blk_req.c) with chains made by hand: struct vq_chain over
 * vq_seg arrays that point into a local buffer, as rings/ would hand them out after validation
 * (readable segments first). Every request type, every enum blk_req_err, and the status byte
 * each error maps to.
 *
 * The expected values are written from the virtio 1.2 spec (5.2.6), not from the parser: the
 * request is le32 type, le32 reserved, le64 sector, data, then one status byte the device
 * writes; types IN 0, OUT 1, FLUSH 4, GET_ID 8, DISCARD 11, WRITE_ZEROES 13; statuses OK 0,
 * IOERR 1, UNSUPP 2; a discard/write-zeroes segment is le64 sector, le32 num_sectors, le32
 * flags (bit 0 unmap, write-zeroes only: UNSUPP for a discard with it or any unknown flag);
 * GET_ID returns at most 20 bytes; IN/OUT data is a multiple of 512 bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "blk_req.h"

/* The spec's numbers, kept apart from the headers the parser uses. */
enum {
	T_IN = 0,
	T_OUT = 1,
	T_FLUSH = 4,
	T_GET_ID = 8,
	T_GET_LIFETIME = 10, /* defined by 1.2, not implemented here */
	T_DISCARD = 11,
	T_WRITE_ZEROES = 13,
	T_SECURE_ERASE = 14, /* likewise */
};
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };
#define ID_BYTES 20
#define HDR	 16
#define RANGE	 16

#define CAPACITY 1000 /* sectors */
#define MAX_DISC 64
#define MAX_WZ	 128
#define BUF	 (1u << 20)
#define MAX_SEGS 300

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

/* A chain under construction: pieces of buf, readable ones first. */
struct tc {
	uint8_t buf[BUF];
	size_t used; /* bytes of buf handed out */
	struct vq_seg seg[MAX_SEGS];
	struct vq_chain c;
	struct blk_limits lim;
	struct blk_req r;
};

static struct tc T;

static struct tc *fresh(void)
{
	memset(&T, 0, sizeof(T));
	memset(T.buf, 0xcc, sizeof(T.buf));
	T.c.seg = T.seg;
	T.c.max_seg = MAX_SEGS;
	T.lim = (struct blk_limits){.capacity = CAPACITY,
				    .max_discard_sectors = MAX_DISC,
				    .max_write_zeroes_sectors = MAX_WZ};
	return &T;
}

/* Appends a segment of len bytes (a fresh piece of buf, 8 bytes apart from the last so no two
 * touch); returns its bytes. */
static uint8_t *piece(struct tc *t, uint32_t len, bool writable)
{
	assert_true(t->c.nseg < MAX_SEGS);
	assert_true(t->used + len + 8 <= BUF);
	/* rings/ puts readable segments first; a test that breaks that is itself wrong */
	assert_true(writable || t->c.nseg == t->c.nread);
	uint8_t *p = t->buf + t->used;
	t->used += len + 8;
	t->seg[t->c.nseg++] = (struct vq_seg){.hva = p, .gpa = 0x10000 + (p - t->buf), .len = len};
	if (writable) {
		t->c.write_len += len;
	} else {
		t->c.nread++;
		t->c.read_len += len;
	}
	return p;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void hdr_bytes(uint8_t out[HDR], uint32_t type, uint64_t sector)
{
	le32(out, type);
	le32(out + 4, 0xdeadbeef); /* reserved: the device must not care */
	le64(out + 8, sector);
}

/* A readable header in one segment. */
static void hdr(struct tc *t, uint32_t type, uint64_t sector)
{
	hdr_bytes(piece(t, HDR, false), type, sector);
}

static void range_bytes(uint8_t out[RANGE], uint64_t sector, uint32_t n, uint32_t flags)
{
	le64(out, sector);
	le32(out + 8, n);
	le32(out + 12, flags);
}

static enum blk_req_err parse(struct tc *t)
{
	memset(&t->r, 0x5a, sizeof(t->r)); /* anything the parser leaves is garbage */
	return blk_req_parse(&t->c, &t->lim, &t->r);
}

/* A request with a header, data of `len` bytes the direction says, and a status byte of its
 * own. Returns the status byte's address. */
static uint8_t *simple(struct tc *t, uint32_t type, uint64_t sector, uint32_t rlen, uint32_t wlen)
{
	hdr(t, type, sector);
	if (rlen)
		piece(t, rlen, false);
	if (wlen)
		piece(t, wlen, true);
	return piece(t, 1, true);
}

/* Parses and checks the error and that the status byte is where the spec puts it; a failure
 * names the caller's line. */
#define expect_err(t, want, status) expect_err_at(t, want, status, __LINE__)
static void expect_err_at(struct tc *t, enum blk_req_err want, const uint8_t *status, int line)
{
	enum blk_req_err got = parse(t);
	if (got != want)
		fail_msg("line %d: got \"%s\", want \"%s\"", line, blk_req_err_str(got),
			 blk_req_err_str(want));
	if (t->r.status != status)
		fail_msg("line %d: status byte at %p, want %p", line, (void *)t->r.status,
			 (const void *)status);
}

/* ------------------------------------------------------------------ status mapping --------- */

static void status_mapping(void **state)
{
	(void)state;
	assert_int_equal(blk_req_status(BLK_REQ_OK), S_OK);
	assert_int_equal(blk_req_status(BLK_ERR_UNSUPPORTED), S_UNSUPP);
	/* Everything else is the driver's error or the device's: IOERR. */
	const enum blk_req_err ioerr[] = {BLK_ERR_NO_STATUS, BLK_ERR_SHORT_HEADER, BLK_ERR_LAYOUT,
					  BLK_ERR_ALIGN,     BLK_ERR_RANGE,	   BLK_ERR_READONLY,
					  BLK_ERR_SEGMENT,   BLK_ERR_TOO_MANY};
	for (unsigned i = 0; i < sizeof(ioerr) / sizeof(ioerr[0]); i++)
		assert_int_equal(blk_req_status(ioerr[i]), S_IOERR);
	/* Each error has its own name; a value past the enum has a name too. */
	for (int a = BLK_REQ_OK; a <= BLK_ERR_UNSUPPORTED; a++) {
		assert_non_null(blk_req_err_str(a));
		for (int b = BLK_REQ_OK; b < a; b++)
			assert_string_not_equal(blk_req_err_str(a), blk_req_err_str(b));
	}
	assert_non_null(blk_req_err_str(BLK_ERR_UNSUPPORTED + 1));
	assert_non_null(blk_req_err_str((enum blk_req_err) - 1));
}

/* ------------------------------------------------------------------ request types ---------- */

static void read_request(void **state)
{
	(void)state;
	struct tc *t = fresh();
	hdr(t, T_IN, 7);
	uint8_t *d1 = piece(t, 1024, true);
	uint8_t *d2 = piece(t, 512, true);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.type, T_IN);
	assert_int_equal(t->r.sector, 7);
	assert_int_equal(t->r.len, 1536);
	assert_int_equal(t->r.niov, 2);
	assert_ptr_equal(t->r.iov[0].iov_base, d1);
	assert_int_equal(t->r.iov[0].iov_len, 1024);
	assert_ptr_equal(t->r.iov[1].iov_base, d2);
	assert_int_equal(t->r.iov[1].iov_len, 512);
	/* The parser only reads: the status byte is for the device to write later. */
	assert_int_equal(*st, 0xcc);

	/* Data and status in one writable buffer: the status is its last byte. */
	t = fresh();
	hdr(t, T_IN, 0);
	uint8_t *both = piece(t, 4097, true);
	expect_err(t, BLK_REQ_OK, both + 4096);
	assert_int_equal(t->r.len, 4096);
	assert_int_equal(t->r.niov, 1);
	assert_ptr_equal(t->r.iov[0].iov_base, both);
	assert_int_equal(t->r.iov[0].iov_len, 4096);

	/* The status alone at the end, after a data segment that holds part of a sector. */
	t = fresh();
	hdr(t, T_IN, 1);
	uint8_t *a = piece(t, 700, true);
	uint8_t *b = piece(t, 325, true); /* 1024 data bytes + 1 status byte */
	expect_err(t, BLK_REQ_OK, b + 324);
	assert_int_equal(t->r.len, 1024);
	assert_int_equal(t->r.niov, 2);
	assert_ptr_equal(t->r.iov[0].iov_base, a);
	assert_int_equal(t->r.iov[0].iov_len, 700);
	assert_int_equal(t->r.iov[1].iov_len, 324);
}

static void write_request(void **state)
{
	(void)state;
	struct tc *t = fresh();
	hdr(t, T_OUT, 999); /* the last sector */
	uint8_t *d = piece(t, 512, false);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.type, T_OUT);
	assert_int_equal(t->r.sector, 999);
	assert_int_equal(t->r.len, 512);
	assert_int_equal(t->r.niov, 1);
	assert_ptr_equal(t->r.iov[0].iov_base, d);

	/* Header and data in one readable buffer: the data starts 16 bytes in. */
	t = fresh();
	uint8_t *one = piece(t, HDR + 2048, false);
	hdr_bytes(one, T_OUT, 3);
	st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.sector, 3);
	assert_int_equal(t->r.len, 2048);
	assert_int_equal(t->r.niov, 1);
	assert_ptr_equal(t->r.iov[0].iov_base, one + HDR);
	assert_int_equal(t->r.iov[0].iov_len, 2048);
}

/* ANY_LAYOUT (virtio 1.x): the header may be cut anywhere. */
static void header_split_across_segments(void **state)
{
	(void)state;
	uint8_t h[HDR];
	hdr_bytes(h, T_IN, 0x0102030405ull % CAPACITY);
	const unsigned cuts[][4] = {
		{5, 7, 4, 0}, {1, 1, 14, 0}, {8, 8, 0, 0}, {15, 1, 0, 0}, {4, 4, 4, 4}};
	for (unsigned k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
		struct tc *t = fresh();
		unsigned off = 0;
		for (unsigned i = 0; i < 4 && cuts[k][i]; i++) {
			memcpy(piece(t, cuts[k][i], false), h + off, cuts[k][i]);
			off += cuts[k][i];
		}
		assert_int_equal(off, HDR);
		uint8_t *st = piece(t, 513, true);
		expect_err(t, BLK_REQ_OK, st + 512);
		assert_int_equal(t->r.type, T_IN);
		assert_int_equal(t->r.sector, 0x0102030405ull % CAPACITY);
		assert_int_equal(t->r.len, 512);
	}
	/* An OUT whose header's last bytes share a buffer with the data. */
	uint8_t ho[HDR];
	hdr_bytes(ho, T_OUT, 42);
	struct tc *t = fresh();
	memcpy(piece(t, 10, false), ho, 10);
	uint8_t *rest = piece(t, 6 + 512, false);
	memcpy(rest, ho + 10, 6);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.sector, 42);
	assert_int_equal(t->r.len, 512);
	assert_int_equal(t->r.niov, 1);
	assert_ptr_equal(t->r.iov[0].iov_base, rest + 6);
}

static void flush_request(void **state)
{
	(void)state;
	struct tc *t = fresh();
	uint8_t *st = simple(t, T_FLUSH, 0, 0, 0);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.type, T_FLUSH);
	assert_int_equal(t->r.niov,
			 0); /* (r.len is left as it was: nothing reads it for a flush) */
	/* A flush carries no data in either direction. */
	t = fresh();
	st = simple(t, T_FLUSH, 0, 512, 0);
	expect_err(t, BLK_ERR_LAYOUT, st);
	t = fresh();
	st = simple(t, T_FLUSH, 0, 0, 512);
	expect_err(t, BLK_ERR_LAYOUT, st);
}

static void get_id_request(void **state)
{
	(void)state;
	/* Exactly 20 bytes, more (only 20 are the ID), fewer (the driver gets what fits). */
	const uint32_t sizes[] = {ID_BYTES, 64, 8, 1};
	const uint64_t want[] = {ID_BYTES, ID_BYTES, 8, 1};
	for (unsigned i = 0; i < 4; i++) {
		struct tc *t = fresh();
		hdr(t, T_GET_ID, 0);
		uint8_t *id = piece(t, sizes[i], true);
		uint8_t *st = piece(t, 1, true);
		expect_err(t, BLK_REQ_OK, st);
		assert_int_equal(t->r.type, T_GET_ID);
		assert_int_equal(t->r.len, want[i]);
		assert_int_equal(t->r.niov, 1);
		assert_ptr_equal(t->r.iov[0].iov_base, id);
		assert_int_equal(t->r.iov[0].iov_len, want[i]);
	}
	/* The 20 bytes spread over pieces. */
	struct tc *t = fresh();
	hdr(t, T_GET_ID, 0);
	piece(t, 12, true);
	piece(t, 12, true);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.len, ID_BYTES);
	assert_int_equal(t->r.niov, 2);
	assert_int_equal(t->r.iov[0].iov_len + t->r.iov[1].iov_len, ID_BYTES);
	/* No room for the ID, or data to read: a layout error. */
	t = fresh();
	st = simple(t, T_GET_ID, 0, 0, 0);
	expect_err(t, BLK_ERR_LAYOUT, st);
	t = fresh();
	st = simple(t, T_GET_ID, 0, 20, 20);
	expect_err(t, BLK_ERR_LAYOUT, st);
}

/* A DISCARD or WRITE_ZEROES with one range segment (header and segment in separate pieces or
 * one, as `joined` says). */
static uint8_t *range_req(struct tc *t, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags,
			  bool joined)
{
	if (joined) {
		uint8_t *p = piece(t, HDR + RANGE, false);
		hdr_bytes(p, type, 0);
		range_bytes(p + HDR, sector, n, flags);
	} else {
		hdr(t, type, 0);
		range_bytes(piece(t, RANGE, false), sector, n, flags);
	}
	return piece(t, 1, true);
}

static void discard_request(void **state)
{
	(void)state;
	for (int joined = 0; joined < 2; joined++) {
		struct tc *t = fresh();
		uint8_t *st = range_req(t, T_DISCARD, 10, 20, 0, joined);
		expect_err(t, BLK_REQ_OK, st);
		assert_int_equal(t->r.type, T_DISCARD);
		assert_int_equal(t->r.range_sector, 10);
		assert_int_equal(t->r.range_sectors, 20);
		assert_false(t->r.unmap);
	}
	/* The segment cut in two. */
	struct tc *t = fresh();
	hdr(t, T_DISCARD, 0);
	uint8_t r[RANGE];
	range_bytes(r, CAPACITY - MAX_DISC, MAX_DISC, 0); /* ends exactly at the capacity */
	memcpy(piece(t, 9, false), r, 9);
	memcpy(piece(t, 7, false), r + 9, 7);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.range_sector, CAPACITY - MAX_DISC);
	assert_int_equal(t->r.range_sectors, MAX_DISC);
}

static void write_zeroes_request(void **state)
{
	(void)state;
	struct tc *t = fresh();
	uint8_t *st = range_req(t, T_WRITE_ZEROES, 5, 6, 0, false);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.type, T_WRITE_ZEROES);
	assert_int_equal(t->r.range_sector, 5);
	assert_int_equal(t->r.range_sectors, 6);
	assert_false(t->r.unmap);
	/* The unmap flag (bit 0) is allowed for write-zeroes and reported. */
	t = fresh();
	st = range_req(t, T_WRITE_ZEROES, 5, 6, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_true(t->r.unmap);
	/* A reserved flag bit, with or without unmap: UNSUPP (5.2.6.2). */
	const uint32_t bad[] = {2, 3, 0x80000000u, 0xffffffffu};
	for (unsigned i = 0; i < 4; i++) {
		t = fresh();
		st = range_req(t, T_WRITE_ZEROES, 5, 6, bad[i], false);
		expect_err(t, BLK_ERR_UNSUPPORTED, st);
		assert_int_equal(blk_req_status(BLK_ERR_UNSUPPORTED), S_UNSUPP);
	}
}

static void unknown_types(void **state)
{
	(void)state;
	const uint32_t types[] = {2,  3,	   5,	       T_GET_LIFETIME, T_SECURE_ERASE,
				  99, 0x80000000u, 0xffffffffu};
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct tc *t = fresh();
		uint8_t *st = simple(t, types[i], 0, 0, 64);
		expect_err(t, BLK_ERR_UNSUPPORTED, st);
		assert_int_equal(t->r.type, types[i]);
	}
}

/* ------------------------------------------------------------------ errors ----------------- */

static void no_status(void **state)
{
	(void)state;
	/* Nothing writable at all: nowhere to put a status. */
	struct tc *t = fresh();
	hdr(t, T_IN, 0);
	expect_err(t, BLK_ERR_NO_STATUS, NULL);
	t = fresh();
	hdr(t, T_OUT, 0);
	piece(t, 512, false);
	expect_err(t, BLK_ERR_NO_STATUS, NULL);
	/* Not even a header. */
	t = fresh();
	piece(t, 8, false);
	expect_err(t, BLK_ERR_NO_STATUS, NULL);
	/* No segments at all (what rings/ hands out for a bad chain). */
	t = fresh();
	expect_err(t, BLK_ERR_NO_STATUS, NULL);
}

static void short_header(void **state)
{
	(void)state;
	/* 15 readable bytes, in one or two pieces, then a status. */
	struct tc *t = fresh();
	piece(t, 15, false);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_ERR_SHORT_HEADER, st);
	t = fresh();
	piece(t, 8, false);
	piece(t, 7, false);
	st = piece(t, 513, true);
	expect_err(t, BLK_ERR_SHORT_HEADER, st + 512);
	/* Only writable buffers: the header cannot come from them. */
	t = fresh();
	st = piece(t, 17, true);
	expect_err(t, BLK_ERR_SHORT_HEADER, st + 16);
}

static void layout_errors(void **state)
{
	(void)state;
	/* A read with data to read (readable after the header) as well as data to fill. */
	struct tc *t = fresh();
	uint8_t *st = simple(t, T_IN, 0, 512, 512);
	expect_err(t, BLK_ERR_LAYOUT, st);
	/* A write with data to write and writable data besides the status. */
	t = fresh();
	st = simple(t, T_OUT, 0, 512, 512);
	expect_err(t, BLK_ERR_LAYOUT, st);
}

static void alignment(void **state)
{
	(void)state;
	/* No data, and lengths that are not multiples of 512. */
	const uint32_t lens[] = {0, 1, 100, 511, 513, 1000, 4095};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct tc *t = fresh();
		uint8_t *st = simple(t, T_IN, 0, 0, lens[i]);
		expect_err(t, BLK_ERR_ALIGN, st);
		t = fresh();
		st = simple(t, T_OUT, 0, lens[i], 0);
		expect_err(t, BLK_ERR_ALIGN, st);
	}
	/* 512 in total over odd pieces is fine. */
	struct tc *t = fresh();
	hdr(t, T_OUT, 0);
	piece(t, 100, false);
	piece(t, 412, false);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.len, 512);
}

static void sector_range(void **state)
{
	(void)state;
	struct {
		uint64_t sector;
		uint32_t len;
		enum blk_req_err want;
	} cases[] = {
		{0, 512, BLK_REQ_OK},
		{CAPACITY - 1, 512, BLK_REQ_OK},	  /* the last sector */
		{CAPACITY - 2, 1024, BLK_REQ_OK},	  /* the last two */
		{CAPACITY, 512, BLK_ERR_RANGE},		  /* one past */
		{CAPACITY - 1, 1024, BLK_ERR_RANGE},	  /* runs past the end */
		{0, (CAPACITY + 1) * 512, BLK_ERR_RANGE}, /* longer than the disk */
		{UINT64_MAX, 512, BLK_ERR_RANGE},
		{UINT64_MAX - 1, 1024, BLK_ERR_RANGE}, /* sector + sectors wraps to 0 */
		{1ull << 63, 512, BLK_ERR_RANGE},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int write = 0; write < 2; write++) {
			struct tc *t = fresh();
			uint8_t *st = write ? simple(t, T_OUT, cases[i].sector, cases[i].len, 0)
					    : simple(t, T_IN, cases[i].sector, 0, cases[i].len);
			expect_err(t, cases[i].want, st);
		}
	}
	/* A disk as large as a sector number can say: sector + sectors must not wrap. */
	struct tc *t = fresh();
	t->lim.capacity = UINT64_MAX;
	uint8_t *st = simple(t, T_IN, UINT64_MAX - 1, 0, 1024);
	expect_err(t, BLK_ERR_RANGE, st);
	t = fresh();
	t->lim.capacity = UINT64_MAX;
	st = simple(t, T_IN, UINT64_MAX - 1, 0, 512);
	expect_err(t, BLK_REQ_OK, st);
}

static void readonly_disk(void **state)
{
	(void)state;
	/* Writes of every kind fail with IOERR; reads, flushes and the ID still work. */
	struct tc *t = fresh();
	t->lim.readonly = true;
	uint8_t *st = simple(t, T_OUT, 0, 512, 0);
	expect_err(t, BLK_ERR_READONLY, st);
	assert_int_equal(blk_req_status(BLK_ERR_READONLY), S_IOERR);
	const uint32_t types[] = {T_DISCARD, T_WRITE_ZEROES};
	for (unsigned i = 0; i < 2; i++) {
		t = fresh();
		t->lim.readonly = true;
		st = range_req(t, types[i], 0, 8, 0, false);
		expect_err(t, BLK_ERR_READONLY, st);
	}
	t = fresh();
	t->lim.readonly = true;
	st = simple(t, T_IN, 0, 0, 512);
	expect_err(t, BLK_REQ_OK, st);
	t = fresh();
	t->lim.readonly = true;
	st = simple(t, T_FLUSH, 0, 0, 0);
	expect_err(t, BLK_REQ_OK, st);
	t = fresh();
	t->lim.readonly = true;
	st = simple(t, T_GET_ID, 0, 0, ID_BYTES);
	expect_err(t, BLK_REQ_OK, st);
}

static void range_segments(void **state)
{
	(void)state;
	const uint32_t types[] = {T_DISCARD, T_WRITE_ZEROES};
	for (unsigned i = 0; i < 2; i++) {
		uint32_t type = types[i], max = type == T_DISCARD ? MAX_DISC : MAX_WZ;
		struct tc *t = fresh();
		uint8_t *st = range_req(t, type, 0, max, 0, false); /* exactly the limit */
		expect_err(t, BLK_REQ_OK, st);
		assert_int_equal(t->r.range_sectors, max);
		struct {
			uint64_t sector;
			uint32_t n;
		} bad[] = {
			{0, 0},		     /* an empty range */
			{0, max + 1},	     /* over the limit for this type */
			{CAPACITY - 1, 2},   /* runs past the end */
			{CAPACITY, 1},	     /* starts past it */
			{UINT64_MAX - 1, 4}, /* sector + num_sectors wraps */
		};
		for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			t = fresh();
			st = range_req(t, type, bad[k].sector, bad[k].n, 0, k % 2);
			expect_err(t, BLK_ERR_SEGMENT, st);
		}
		/* max_*_seg is 1: two segments, half of one, or writable data are refused. */
		t = fresh();
		hdr(t, type, 0);
		uint8_t *two = piece(t, 2 * RANGE, false);
		range_bytes(two, 0, 1, 0);
		range_bytes(two + RANGE, 8, 1, 0);
		st = piece(t, 1, true);
		expect_err(t, BLK_ERR_SEGMENT, st);
		t = fresh();
		hdr(t, type, 0);
		piece(t, RANGE / 2, false);
		st = piece(t, 1, true);
		expect_err(t, BLK_ERR_SEGMENT, st);
		t = fresh();
		hdr(t, type, 0);
		range_bytes(piece(t, RANGE, false), 0, 1, 0);
		piece(t, 512, true);
		st = piece(t, 1, true);
		expect_err(t, BLK_ERR_SEGMENT, st);
	}
	/* Each type has its own limit: a write-zeroes over the discard limit is fine. */
	struct tc *t = fresh();
	uint8_t *st = range_req(t, T_WRITE_ZEROES, 0, MAX_DISC + 1, 0, false);
	expect_err(t, BLK_REQ_OK, st);
	t = fresh();
	st = range_req(t, T_DISCARD, 0, MAX_DISC + 1, 0, false);
	expect_err(t, BLK_ERR_SEGMENT, st);
	/* A discard with unmap, or any other flag: UNSUPP (5.2.6.2). */
	const uint32_t flags[] = {1, 2, 0x80000000u};
	for (unsigned k = 0; k < 3; k++) {
		t = fresh();
		st = range_req(t, T_DISCARD, 0, 8, flags[k], false);
		expect_err(t, BLK_ERR_UNSUPPORTED, st);
	}
}

static void too_many_pieces(void **state)
{
	(void)state;
	/* BLK_MAX_IOV pieces of data fit; one more does not. */
	for (unsigned n = BLK_MAX_IOV; n <= BLK_MAX_IOV + 1; n++) {
		struct tc *t = fresh();
		hdr(t, T_IN, 0);
		for (unsigned i = 0; i < n; i++)
			piece(t, 512, true);
		uint8_t *st = piece(t, 1, true);
		expect_err(t, n == BLK_MAX_IOV ? BLK_REQ_OK : BLK_ERR_TOO_MANY, st);
		if (n == BLK_MAX_IOV) {
			assert_int_equal(t->r.niov, BLK_MAX_IOV);
			assert_int_equal(t->r.len, 512ull * BLK_MAX_IOV);
		}
		t = fresh();
		hdr(t, T_OUT, 0);
		for (unsigned i = 0; i < n; i++)
			piece(t, 512, false);
		st = piece(t, 1, true);
		expect_err(t, n == BLK_MAX_IOV ? BLK_REQ_OK : BLK_ERR_TOO_MANY, st);
	}
	/* GET_ID in 21 one-byte pieces: 20 of them are the ID, so it fits easily. */
	struct tc *t = fresh();
	hdr(t, T_GET_ID, 0);
	for (unsigned i = 0; i < ID_BYTES + 1; i++)
		piece(t, 1, true);
	uint8_t *st = piece(t, 1, true);
	expect_err(t, BLK_REQ_OK, st);
	assert_int_equal(t->r.niov, ID_BYTES);
}

/* A request completed with an error still has its status where the spec puts it, so the
 * device can write it; the parse leaves data fields of an error request empty. */
static void error_keeps_status(void **state)
{
	(void)state;
	struct tc *t = fresh();
	hdr(t, T_IN, CAPACITY);
	uint8_t *both = piece(t, 513, true);
	expect_err(t, BLK_ERR_RANGE, both + 512);
	assert_int_equal(t->r.niov, 0);
	assert_int_equal(blk_req_status(BLK_ERR_RANGE), S_IOERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_mapping),  cmocka_unit_test(read_request),
		cmocka_unit_test(write_request),   cmocka_unit_test(header_split_across_segments),
		cmocka_unit_test(flush_request),   cmocka_unit_test(get_id_request),
		cmocka_unit_test(discard_request), cmocka_unit_test(write_zeroes_request),
		cmocka_unit_test(unknown_types),   cmocka_unit_test(no_status),
		cmocka_unit_test(short_header),	   cmocka_unit_test(layout_errors),
		cmocka_unit_test(alignment),	   cmocka_unit_test(sector_range),
		cmocka_unit_test(readonly_disk),   cmocka_unit_test(range_segments),
		cmocka_unit_test(too_many_pieces), cmocka_unit_test(error_keeps_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
