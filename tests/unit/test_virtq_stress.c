/* SPDX-License-Identifier: MIT */
/*
 * Virtqueues under load: a driver thread and a device thread share fake guest memory and one
 * queue, per configuration (split/packed, EVENT_IDX on/off, indirect on/off), for up to
 * N_REQ requests or BUDGET_MS, whichever comes first.
 *
 * Both sides use the suppression decisions for real: the device sleeps when vq_notify_enable
 * says nothing is waiting and wakes only on a kick the driver sent because kick_prepare asked
 * for it; the driver sleeps when vq_drv_intr_enable says nothing is waiting and wakes only on an
 * interrupt vq_publish asked for. A lost wakeup in the barrier or event logic therefore shows
 * as both sides asleep, which the watchdog (the main thread) turns into a failure. Short pauses
 * just before each side's re-enable widen the windows such a bug needs.
 *
 * Every request carries a unique sequence number; the device checks what it reads and writes a
 * pattern of it, the driver checks the length and data of each completion and that every
 * request completes exactly once.
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
#include <time.h>

#include "virtq.h"
#include "ring_configs.h"

#define N_REQ	    200000
#define BUDGET_MS   1000
#define HANG_MS	    5000 /* no progress for this long: a lost wakeup */
#define A_SIZE	    (1ull << 20)
#define B_GPA	    A_SIZE /* adjacent to A */
#define B_SIZE	    (1ull << 20)
#define TABLE_GPA   0x40000ull /* TABLE_BYTES of indirect table per request */
#define TABLE_BYTES 128ull
#define DATA_GPA    (B_GPA - 0x10000 + 0x35) /* DATA_BYTES per request, some cross into B */
#define DATA_BYTES  512ull
#define MAX_NUM	    256
#define MAX_SEG	    16
#define BATCH	    32
#define HOLD	    8 /* completions the device may keep back across batches */

/* Under UBSan (build-asan), undefined behaviour fails the test instead of only printing. */
/* An eventfd: a signal is remembered until the sleeper takes it. */
struct wake {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool pending;
	unsigned long signals, sleeps;
};

struct sreq {
	uint32_t seq;
	unsigned nout, nin;
	struct vq_sg sg[5];
	uint32_t wlen;
};

struct held {
	struct vq_chain c;
	uint32_t written;
};

struct stress {
	const struct tcfg *t;
	uint8_t *a, *b;
	struct gmem mem;
	struct vq dev;
	struct vq_drv drv;
	struct vq_drv_slot slot[MAX_NUM];
	struct wake kick, irq;
	bool stop, driver_done; /* __atomic */
	uint64_t progress;	/* __atomic: completions and pops, for the watchdog */
	int failed;		/* __atomic */
	char err[512];
	/* driver thread */
	struct sreq req[MAX_NUM];
	unsigned free_req[MAX_NUM], nfree;
	uint64_t submitted, completed;
	uint8_t done[N_REQ];
	/* device thread */
	struct vq_chain batch[BATCH];
	struct vq_seg seg[BATCH][MAX_SEG];
	struct held held[HOLD];
	unsigned nheld;
	uint64_t popped;
	uint32_t rng;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pause_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

static bool stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

static void wake_signal(struct wake *w)
{
	pthread_mutex_lock(&w->m);
	w->pending = true;
	w->signals++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

/* Sleeps until signalled (or the run stops). No timeout: a lost wakeup must hang. */
static void wake_wait(struct wake *w, struct stress *s)
{
	pthread_mutex_lock(&w->m);
	w->sleeps++;
	while (!w->pending && !stopped(s))
		pthread_cond_wait(&w->cv, &w->m);
	w->pending = false;
	pthread_mutex_unlock(&w->m);
}

static void stop_all(struct stress *s)
{
	__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
	wake_signal(&s->kick);
	wake_signal(&s->irq);
}

/* Records the first failure of either thread and stops both. Returns false. */
static bool fail_run(struct stress *s, int line, const char *fmt, ...)
{
	if (__atomic_exchange_n(&s->failed, 1, __ATOMIC_ACQ_REL) == 0) {
		va_list ap;
		int n = snprintf(s->err, sizeof(s->err), "line %d: ", line);
		va_start(ap, fmt);
		vsnprintf(s->err + n, sizeof(s->err) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	stop_all(s);
	return false;
}

#define CHECK(s, cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return fail_run(s, __LINE__, __VA_ARGS__);                                 \
	} while (0)

static uint8_t out_byte(uint32_t seq, uint32_t off)
{
	return (uint8_t)(seq * 131 + off * 7 + 1);
}

static uint8_t in_byte(uint32_t seq, uint32_t off)
{
	return (uint8_t)(seq * 17 + off * 3) ^ 0x5a;
}

/* The shape of request seq: an 8-byte header (seq, ~seq), maybe a payload, 1-3 writable
 * pieces; and how much of them the device fills. */
static uint32_t payload_len(uint32_t seq)
{
	return seq % 2 ? 1 + seq % 61 : 0;
}

static uint32_t piece_len(uint32_t seq, unsigned k)
{
	return 1 + (seq * 7 + k * 13) % 97;
}

static uint32_t want_written(uint32_t seq, uint32_t wlen)
{
	return wlen > seq % 5 ? wlen - seq % 5 : 0;
}

/* ------------------------------------------------------------------ driver thread ----------- */

static int drv_submit(struct stress *s, unsigned ridx, uint32_t seq)
{
	struct sreq *r = &s->req[ridx];
	uint64_t gpa = DATA_GPA + ridx * DATA_BYTES;
	uint8_t buf[128];
	r->seq = seq;
	r->nout = payload_len(seq) ? 2 : 1;
	r->nin = 1 + seq % 3;
	uint32_t hdr[2] = {seq, ~seq};
	memcpy(buf, hdr, 8);
	for (uint32_t i = 0; i < payload_len(seq); i++)
		buf[8 + i] = out_byte(seq, i);
	r->sg[0] = (struct vq_sg){gpa, 8};
	r->sg[1] = (struct vq_sg){gpa + 8, payload_len(seq)};
	gmem_write(&s->mem, gpa, buf, 8 + payload_len(seq));
	gpa += 8 + payload_len(seq);
	memset(buf, 0xee, sizeof(buf)); /* what the device must not overwrite */
	r->wlen = 0;
	for (unsigned k = 0; k < r->nin; k++) {
		uint32_t n = piece_len(seq, k);
		r->sg[r->nout + k] = (struct vq_sg){gpa, n};
		gmem_write(&s->mem, gpa, buf, n);
		gpa += n;
		r->wlen += n;
	}
	uint64_t tgpa = TABLE_GPA + ridx * TABLE_BYTES;
	return vq_drv_add(&s->drv, r->sg, r->nout, r->nin, r, s->a + tgpa, tgpa);
}

static bool drv_check(struct stress *s, struct sreq *r, uint32_t len)
{
	uint8_t buf[3 * 97];
	uint32_t want = want_written(r->seq, r->wlen), off = 0;
	CHECK(s, len == want, "seq %u: used len %u, want %u", r->seq, len, want);
	for (unsigned k = 0; k < r->nin; k++) {
		const struct vq_sg *sg = &r->sg[r->nout + k];
		gmem_read(&s->mem, sg->addr, buf + off, sg->len);
		off += sg->len;
	}
	for (uint32_t i = 0; i < r->wlen; i++)
		CHECK(s, buf[i] == (i < want ? in_byte(r->seq, i) : 0xee),
		      "seq %u: byte %u of what the device wrote is wrong", r->seq, i);
	CHECK(s, r->seq < s->submitted && !s->done[r->seq], "seq %u completed twice", r->seq);
	s->done[r->seq] = 1;
	return true;
}

/* Adds what fits; kicks when the device asks for it. */
static bool drv_fill(struct stress *s, uint64_t deadline, bool *busy)
{
	unsigned added = 0;
	while (s->submitted < N_REQ && s->nfree && now_ms() < deadline) {
		unsigned ridx = s->free_req[--s->nfree];
		int rc = drv_submit(s, ridx, (uint32_t)s->submitted);
		if (rc == -ENOSPC) {
			s->free_req[s->nfree++] = ridx;
			break;
		}
		CHECK(s, rc == 0, "vq_drv_add: %d", rc);
		s->submitted++;
		*busy = true;
		if (++added % 16 == 0 && vq_drv_kick_prepare(&s->drv))
			wake_signal(&s->kick);
	}
	if (vq_drv_kick_prepare(&s->drv))
		wake_signal(&s->kick);
	return true;
}

static void *driver(void *arg)
{
	struct stress *s = arg;
	uint64_t deadline = now_ms() + BUDGET_MS;
	vq_drv_intr_enable(&s->drv, false); /* busy: poll */
	while (!stopped(s)) {
		bool busy = false;
		if (!drv_fill(s, deadline, &busy))
			break;
		struct sreq *r;
		uint32_t len;
		while ((r = vq_drv_get(&s->drv, &len))) {
			if (!drv_check(s, r, len))
				return NULL;
			s->free_req[s->nfree++] = (unsigned)(r - s->req);
			s->completed++;
			__atomic_add_fetch(&s->progress, 1, __ATOMIC_RELAXED);
			busy = true;
		}
		if (s->completed == s->submitted && (s->submitted == N_REQ || now_ms() >= deadline))
			break;
		if (busy)
			continue;
		/* Idle: sleep until an interrupt, unless completions came in meanwhile. */
		if (s->submitted % 8 == 0)
			pause_us(50);
		if (vq_drv_intr_enable(&s->drv, true))
			wake_wait(&s->irq, s);
		vq_drv_intr_enable(&s->drv, false);
	}
	__atomic_store_n(&s->driver_done, true, __ATOMIC_RELEASE);
	stop_all(s);
	return NULL;
}

/* ------------------------------------------------------------------ device thread ----------- */

static uint32_t rnd(struct stress *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 17;
	s->rng ^= s->rng << 5;
	return s->rng;
}

/* Checks what the driver sent, fills the writable part and returns how much it wrote. */
static bool dev_serve(struct stress *s, const struct vq_chain *c, uint32_t *written)
{
	uint8_t buf[128];
	uint32_t off = 0, seq, hdr[2], wlen = 0;
	CHECK(s, c->err == VQ_OK, "chain %u: %s", c->id, vq_chain_err_str(c->err));
	CHECK(s, c->read_len >= 8 && c->read_len <= sizeof(buf), "read_len %u", c->read_len);
	for (unsigned k = 0; k < c->nread; k++) {
		memcpy(buf + off, c->seg[k].hva, c->seg[k].len);
		off += c->seg[k].len;
	}
	memcpy(hdr, buf, 8);
	seq = hdr[0];
	CHECK(s, hdr[1] == ~seq && seq < N_REQ, "bad header %08x %08x", hdr[0], hdr[1]);
	CHECK(s, c->read_len == 8 + payload_len(seq), "seq %u: read_len %u", seq, c->read_len);
	for (uint32_t i = 0; i < payload_len(seq); i++)
		CHECK(s, buf[8 + i] == out_byte(seq, i), "seq %u: payload byte %u", seq, i);
	for (unsigned k = 0; k < 1 + seq % 3; k++)
		wlen += piece_len(seq, k);
	CHECK(s, c->write_len == wlen, "seq %u: write_len %u, want %u", seq, c->write_len, wlen);
	*written = want_written(seq, wlen);
	off = 0;
	for (unsigned k = c->nread; k < c->nseg; k++)
		for (uint32_t i = 0; i < c->seg[k].len && off < *written; i++)
			c->seg[k].hva[i] = in_byte(seq, off++);
	return true;
}

static void dev_complete(struct stress *s)
{
	if (vq_publish(&s->dev))
		wake_signal(&s->irq);
}

/* Completes a popped batch in a random order, keeping a few back for a later batch. */
static bool dev_batch(struct stress *s, unsigned n)
{
	uint32_t written[BATCH];
	unsigned order[BATCH];
	for (unsigned k = 0; k < n; k++) {
		if (!dev_serve(s, &s->batch[k], &written[k]))
			return false;
		order[k] = k;
	}
	for (unsigned k = n; k > 1; k--) {
		unsigned j = rnd(s) % k, t = order[k - 1];
		order[k - 1] = order[j];
		order[j] = t;
	}
	for (unsigned k = 0; k < n; k++) {
		const struct vq_chain *c = &s->batch[order[k]];
		if (s->nheld < HOLD && rnd(s) % 4 == 0)
			s->held[s->nheld++] = (struct held){*c, written[order[k]]};
		else
			vq_push(&s->dev, c, written[order[k]]);
	}
	while (s->nheld && rnd(s) % 2) {
		s->nheld--;
		vq_push(&s->dev, &s->held[s->nheld].c, s->held[s->nheld].written);
	}
	dev_complete(s);
	return true;
}

static void *device(void *arg)
{
	struct stress *s = arg;
	while (!stopped(s)) {
		int n = vq_pop_batch(&s->dev, s->batch, BATCH);
		if (n < 0) {
			fail_run(s, __LINE__, "vq_pop_batch: %d", n);
			break;
		}
		if (n > 0) {
			s->popped += (unsigned)n;
			__atomic_add_fetch(&s->progress, (unsigned)n, __ATOMIC_RELAXED);
			if (!dev_batch(s, (unsigned)n))
				break;
			continue;
		}
		while (s->nheld) { /* never sleep on completions the driver waits for */
			s->nheld--;
			vq_push(&s->dev, &s->held[s->nheld].c, s->held[s->nheld].written);
		}
		dev_complete(s);
		/* Idle: sleep until a kick, unless chains came in meanwhile. Sometimes stay
		 * interrupt-style (kicks on) while busy, sometimes poll (kicks off). */
		if (rnd(s) % 8 == 0)
			pause_us(50);
		if (!vq_notify_enable(&s->dev, true))
			wake_wait(&s->kick, s);
		if (rnd(s) % 2)
			vq_notify_enable(&s->dev, false);
	}
	return NULL;
}

/* ------------------------------------------------------------------ the run ----------------- */

static int setup(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->t = *state;
	s->a = calloc(1, A_SIZE);
	s->b = calloc(1, B_SIZE);
	gmem_init(&s->mem);
	if (!s->a || !s->b || gmem_add(&s->mem, 0, A_SIZE, s->a, -1, 0) ||
	    gmem_add(&s->mem, B_GPA, B_SIZE, s->b, -1, 0))
		return -1;
	for (unsigned k = 0; k < BATCH; k++)
		s->batch[k] = (struct vq_chain){.max_seg = MAX_SEG, .seg = s->seg[k]};
	pthread_mutex_init(&s->kick.m, NULL);
	pthread_cond_init(&s->kick.cv, NULL);
	pthread_mutex_init(&s->irq.m, NULL);
	pthread_cond_init(&s->irq.cv, NULL);
	s->rng = 0x9e3779b9;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct stress *s = *state;
	free(s->a);
	free(s->b);
	free(s);
	return 0;
}

static void describe(struct stress *s, char *buf, size_t n)
{
	if (s->t->packed)
		snprintf(buf, n,
			 "dev avail %u/%d used %u/%d notify %d dev_event %04x/%u; drv next_avail "
			 "%u/%d next_used %u/%d drv_event %04x/%u",
			 s->dev.avail_pos, s->dev.avail_wrap, s->dev.used_pos, s->dev.used_wrap,
			 s->dev.notify_enabled, s->dev.device_event->off_wrap,
			 s->dev.device_event->flags, s->drv.next_avail, s->drv.avail_wrap,
			 s->drv.next_used, s->drv.used_wrap, s->drv.driver_event->off_wrap,
			 s->drv.driver_event->flags);
	else
		snprintf(buf, n,
			 "dev last_avail %u used %u notify %d used->flags %x; drv avail->idx %u "
			 "last_used %u avail->flags %x",
			 s->dev.last_avail, s->dev.used_idx, s->dev.notify_enabled,
			 s->dev.used->flags, s->drv.avail->idx, s->drv.last_used,
			 s->drv.avail->flags);
}

/* Watches the two threads; no progress for HANG_MS means a lost wakeup. */
static void watch(struct stress *s)
{
	uint64_t last = 0, since = now_ms();
	while (!__atomic_load_n(&s->driver_done, __ATOMIC_ACQUIRE) && !stopped(s)) {
		pause_us(10000);
		uint64_t p = __atomic_load_n(&s->progress, __ATOMIC_RELAXED);
		if (p != last) {
			last = p;
			since = now_ms();
		} else if (now_ms() - since > HANG_MS) {
			char state[400];
			describe(s, state, sizeof(state));
			fail_run(s, __LINE__, "hang (lost wakeup?): %llu submitted, %llu done; %s",
				 (unsigned long long)s->submitted, (unsigned long long)s->completed,
				 state);
		}
	}
}

static void stress(void **state)
{
	struct stress *s = *state;
	struct vq_config cfg = {.num = s->t->packed ? 250 : 256,
				.packed = s->t->packed,
				.event_idx = s->t->event_idx,
				.indirect = s->t->indirect};
	assert_int_equal(vq_drv_init(&s->drv, &cfg, s->a, 0, s->slot), 0);
	assert_int_equal(vq_init(&s->dev, &s->mem, &s->drv.cfg), 0);
	for (unsigned i = 0; i < cfg.num; i++)
		s->free_req[s->nfree++] = cfg.num - 1 - i;

	pthread_t drv, dev;
	uint64_t t0 = now_ms();
	assert_int_equal(pthread_create(&dev, NULL, device, s), 0);
	assert_int_equal(pthread_create(&drv, NULL, driver, s), 0);
	watch(s);
	pthread_join(drv, NULL);
	pthread_join(dev, NULL);
	uint64_t ms = now_ms() - t0;
	if (s->failed)
		fail_msg("%s", s->err);

	assert_true(s->submitted > 1000);
	assert_int_equal(s->completed, s->submitted);
	assert_int_equal(s->popped, s->submitted);
	for (uint64_t i = 0; i < s->submitted; i++)
		assert_int_equal(s->done[i], 1);
	assert_int_equal(s->drv.num_free, cfg.num);
	assert_int_equal(s->dev.bad_chains, 0);
	print_message("%-26s %7llu requests in %4llu ms: %8.0f/s; kicks %lu, interrupts %lu, "
		      "device slept %lu, driver slept %lu\n",
		      s->t->name, (unsigned long long)s->completed, (unsigned long long)ms,
		      s->completed * 1000.0 / (double)(ms ? ms : 1), s->kick.signals,
		      s->irq.signals, s->kick.sleeps, s->irq.sleeps);
}

int main(void)
{
	enum { NC = sizeof(cfgs) / sizeof(cfgs[0]) };
	static struct CMUnitTest all[NC];
	static char names[NC][64];
	for (unsigned c = 0; c < NC; c++) {
		snprintf(names[c], sizeof(names[c]), "stress/%s", cfgs[c].name);
		all[c] = (struct CMUnitTest){.name = names[c],
					     .test_func = stress,
					     .setup_func = setup,
					     .teardown_func = teardown,
					     .initial_state = (void *)&cfgs[c]};
	}
	return _cmocka_run_group_tests("virtq_stress", all, NC, NULL, NULL);
}
