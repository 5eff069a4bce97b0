// SPDX-License-Identifier: MIT
/*
 * blktest part (e): reads and writes of bs bytes (random or sequential, rw=) at a fixed queue
 * depth, with every request's latency in a histogram. Every block written
 * carries (block, generation) in each of its words; the program remembers the last generation
 * it wrote to each block and checks every read against it. A block is never in flight twice at
 * once, so the expected contents are always known; blocks not yet written in this run are read
 * but not checked.
 * With several disks (disks=N) each has a struct mix of its own: its requests, generation table,
 * histogram and random sequence. One loop reaps them all and sleeps only when none had a
 * completion, until an interrupt of any of them (g_blkdev_wait_any).
 */
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/blktest.h"
#include "runtime/mem.h"

#define DRAIN_TIMEOUT 10000000 /* us for the requests in flight at the end */
#define GOLDEN	      0x9e3779b97f4a7c15ull
#define LAT_BUCKETS   4096 /* of 0.25 us: up to 1.024 ms, then one overflow bucket */
#define LAT_NS	      250
#define FNV_OFFSET    0xcbf29ce484222325ull
#define FNV_PRIME     0x100000001b3ull

/* What a mix counts: requests done and their latencies. */
struct tally {
	uint64_t reads, writes, unchecked;
	uint32_t *lat; /* latency histogram, LAT_BUCKETS + 1 */
	uint64_t lat_max_ns;
};

/* One disk's mix. */
struct mix {
	const struct g_blktest *t;
	struct g_blktest_disk *disk;
	struct g_blkdev *dev;
	uint32_t nblocks;
	uint32_t *gen; /* last generation written to each block, 0 = none yet */
	uint8_t *busy; /* block in flight */
	uint8_t *data; /* qd buffers of a block each */
	struct g_blkdev_req *req;
	uint32_t *block;	/* block of each request */
	uint32_t *new_gen;	/* generation a write request carries */
	unsigned int *idle_req; /* requests waiting for ring space (without indirect descriptors
				 * a deep queue can need more descriptors than the ring has) */
	unsigned int nidle_req;
	bool len_optional; /* the device may leave a read's length unreported */
	unsigned int bs, words, sectors;
	uint32_t next_block; /* the sequential modes' cursor */
	uint64_t *submitted; /* TSC at each request's submission */
	struct tally n;
	uint64_t rng;
	unsigned int inflight;
	uint64_t interrupts_mark; /* the device's interrupt count when the mix began */
};

static uint64_t next_random(struct mix *m)
{
	/* xorshift64*: a fixed seed, so every run asks for the same sequence. */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t stamp(uint32_t block, uint32_t gen, unsigned int k)
{
	return (((uint64_t)gen << 32) | block) ^ (k * GOLDEN);
}

static int mix_alloc(struct mix *m)
{
	unsigned int qd = m->t->qd;

	m->gen = g_mem_alloc(m->nblocks * sizeof(*m->gen), 64);
	m->busy = g_mem_alloc(m->nblocks, 64);
	m->data = g_mem_alloc((size_t)qd * m->bs, G_BLKTEST_BLOCK);
	m->submitted = g_mem_alloc(qd * sizeof(*m->submitted), 64);
	m->n.lat = g_mem_alloc((LAT_BUCKETS + 1) * sizeof(*m->n.lat), 64);
	m->req = g_blkdev_reqs_alloc(m->dev, qd);
	m->block = g_mem_alloc(qd * sizeof(*m->block), 64);
	m->new_gen = g_mem_alloc(qd * sizeof(*m->new_gen), 64);
	m->idle_req = g_mem_alloc(qd * sizeof(*m->idle_req), 64);
	return m->gen && m->busy && m->data && m->req && m->block && m->new_gen && m->idle_req &&
			       m->submitted && m->n.lat
		       ? 0
		       : -ENOMEM;
}

/* The next block and direction, as rw= asks. */
static uint32_t pick(struct mix *m, bool *write)
{
	uint64_t r = next_random(m);
	enum g_blktest_rw rw = m->t->rw;

	*write = rw == G_RW_MIX ? (r >> 40) & 1 : rw == G_RW_RANDWRITE || rw == G_RW_WRITE;
	if (rw == G_RW_READ || rw == G_RW_WRITE)
		return m->next_block++ % m->nblocks;
	return (uint32_t)(r % m->nblocks);
}

/* Starts request i on a block that is not in flight; a full ring parks it. */
static int issue(struct mix *m, unsigned int i)
{
	struct g_blkdev *d = m->dev;
	uint64_t *w = (uint64_t *)(m->data + (size_t)i * m->bs);
	bool write;
	uint32_t blk = pick(m, &write);
	int rc;

	while (m->busy[blk])
		blk = (blk + 1) % m->nblocks;
	m->busy[blk] = 1;
	m->block[i] = blk;
	if (write) {
		m->new_gen[i] = m->gen[blk] + 1;
		for (unsigned int k = 0; k < m->words; k++)
			w[k] = stamp(blk, m->new_gen[i], k);
	}
	g_blkdev_prep(&m->req[i], write ? G_BLKDEV_WRITE : G_BLKDEV_READ,
		      G_BLKTEST_MIX_SECTOR + (uint64_t)blk * m->sectors, w, m->bs);
	m->submitted[i] = g_rdtsc();
	m->req[i].cookie = (void *)(uintptr_t)i;
	rc = g_blkdev_submit(d, i % d->nq, &m->req[i]);
	if (rc == -ENOSPC) {
		m->busy[blk] = 0;
		m->idle_req[m->nidle_req++] = i;
		return 0;
	}
	if (!rc)
		m->inflight++;
	return rc;
}

/* Retries the parked requests once completions have made room. */
static int issue_parked(struct mix *m)
{
	unsigned int n = m->nidle_req;

	m->nidle_req = 0;
	for (unsigned int k = 0; k < n; k++) {
		int rc = issue(m, m->idle_req[k]);

		if (rc)
			return rc;
	}
	return 0;
}

/* Checks a completed request against what the program knows about its block. */
static int complete(struct g_run *run, struct mix *m, struct g_blkdev_req *r)
{
	unsigned int i = (unsigned int)(uintptr_t)r->cookie;
	uint32_t blk = m->block[i];
	const uint64_t *w = r->buf;
	int rc = r->status;

	uint64_t ns = (g_rdtsc() - m->submitted[i]) * 1000000 / g_tsc_khz();

	m->n.lat[ns / LAT_NS < LAT_BUCKETS ? ns / LAT_NS : LAT_BUCKETS]++;
	if (ns > m->n.lat_max_ns)
		m->n.lat_max_ns = ns;
	m->inflight--;
	m->busy[blk] = 0;
	if (rc)
		return g_blktest_fail(run, m->disk, "%s of block %u failed (error %d)",
				      r->op == G_BLKDEV_WRITE ? "write" : "read", blk, rc);
	if (r->op == G_BLKDEV_WRITE) {
		m->gen[blk] = m->new_gen[i];
		m->n.writes++;
		return 0;
	}
	m->n.reads++;
	/* A virtio packed ring may report no length (2.8.4): 0 is only an error elsewhere. */
	if (r->written != m->bs && (r->written || !m->len_optional))
		return g_blktest_fail(run, m->disk,
				      "read of block %u: the device wrote %u bytes, not %u", blk,
				      r->written, m->bs);
	if (!m->gen[blk]) {
		m->n.unchecked++;
		return 0;
	}
	for (unsigned int k = 0; k < m->words; k++)
		if (w[k] != stamp(blk, m->gen[blk], k))
			return g_blktest_fail(
				run, m->disk,
				"read of block %u: word %u is 0x%016lx, expected 0x%016lx "
				"(generation %u)",
				blk, k, (unsigned long)w[k],
				(unsigned long)stamp(blk, m->gen[blk], k), m->gen[blk]);
	return 0;
}

/* Takes every completion there is on one disk; each freed request is started again unless time
 * is up. Returns how many there were, or -1. */
static int reap(struct g_run *run, struct mix *m, bool refill)
{
	struct g_blkdev *d = m->dev;
	struct g_blkdev_req *r;
	int got = 0;

	for (unsigned int q = 0; q < d->nq; q++) {
		while ((r = g_blkdev_poll(d, q))) {
			unsigned int i = (unsigned int)(uintptr_t)r->cookie;

			got++;
			if (complete(run, m, r))
				return -1;
			if (refill && issue(m, i))
				return g_blktest_fail(run, m->disk, "submitting failed at depth %u",
						      m->t->qd);
		}
	}
	if (refill && got && issue_parked(m))
		return g_blktest_fail(run, m->disk, "submitting failed at depth %u", m->t->qd);
	if (got)
		g_blkdev_kick(d);
	return got;
}

/* reap() on every disk: the completions there were in all, or -1. */
static int reap_all(struct g_run *run, struct mix *m, unsigned int n, bool refill)
{
	int got = 0;

	for (unsigned int k = 0; k < n; k++) {
		int rc = reap(run, &m[k], refill);

		if (rc < 0)
			return -1;
		got += rc;
	}
	return got;
}

/* Fills one disk's queue depth and kicks it. */
static int start(struct g_run *run, struct mix *m)
{
	for (unsigned int i = 0; i < m->t->qd; i++) {
		if (issue(m, i))
			return g_blktest_fail(run, m->disk, "submitting failed at depth %u",
					      m->t->qd);
	}
	if (!m->inflight)
		return g_blktest_fail(run, m->disk, "no request could be queued");
	g_blkdev_kick(m->dev);
	return 0;
}

/* The first disk with requests still in flight, or NULL. */
static const struct mix *busy_mix(const struct mix *m, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		if (m[k].inflight)
			return &m[k];
	}
	return NULL;
}

static int run_mix(struct g_run *run, struct mix *m, unsigned int n, uint64_t *elapsed)
{
	uint64_t t0 = g_rdtsc(), end = g_tsc_deadline((uint64_t)m->t->seconds * 1000000);
	struct g_blkdev *devs[G_BLKTEST_MAX_DISKS];
	const struct mix *busy;
	uint64_t drain_end;
	int got, rc;

	for (unsigned int k = 0; k < n; k++) {
		devs[k] = m[k].dev;
		if (start(run, &m[k]))
			return -1;
	}
	while (!g_tsc_passed(end)) {
		got = reap_all(run, m, n, true);
		if (got < 0)
			return -1;
		if (!got && g_blkdev_wait_any(devs, n, end) == -EINVAL)
			return g_run_fail(run, "cannot wait for interrupts");
	}
	*elapsed = g_rdtsc() - t0;
	drain_end = g_tsc_deadline(DRAIN_TIMEOUT);
	while ((busy = busy_mix(m, n))) {
		got = reap_all(run, m, n, false);
		if (got < 0)
			return -1;
		rc = got ? 0 : g_blkdev_wait_any(devs, n, drain_end);
		if (rc == -ETIMEDOUT && (busy = busy_mix(m, n)))
			return g_blktest_fail(run, busy->disk, "%u request(s) never completed",
					      busy->inflight);
	}
	return 0;
}

/* The latency below which a fraction permille/1000 of the requests completed, in ns. */
static uint64_t percentile(const struct tally *n, uint64_t total, unsigned int permille)
{
	uint64_t want = (total * permille + 999) / 1000, seen = 0;

	for (unsigned int b = 0; b <= LAT_BUCKETS; b++) {
		seen += n->lat[b];
		if (seen >= want)
			return b < LAT_BUCKETS ? (uint64_t)(b + 1) * LAT_NS : n->lat_max_ns;
	}
	return n->lat_max_ns;
}

/* The "time:" lines of a tally over us microseconds; what names the figures first. */
static void report_tally(const char *what, const char *tag, const struct tally *n, unsigned int bs,
			 uint64_t us)
{
	static const unsigned int permille[] = {500, 900, 990, 999};
	static const char *const names[] = {"p50", "p90", "p99", "p99.9"};
	uint64_t ops = n->reads + n->writes;

	g_printf("time: %s%s: %lu IOPS, %lu.%02lu MB/s (%lu reads, %lu writes, %lu unchecked, "
		 "%lu us)\n",
		 tag, what, (unsigned long)(us ? ops * 1000000 / us : 0),
		 (unsigned long)(us ? ops * bs / us : 0),
		 (unsigned long)(us ? ops * bs * 100 / us % 100 : 0), (unsigned long)n->reads,
		 (unsigned long)n->writes, (unsigned long)n->unchecked, (unsigned long)us);
	g_printf("time: %sblktest lat", tag);
	for (unsigned int k = 0; k < 4; k++) {
		uint64_t ns = percentile(n, ops, permille[k]);

		g_printf(" %s %lu.%lu us", names[k], (unsigned long)(ns / 1000),
			 (unsigned long)(ns % 1000 / 100));
	}
	g_printf(" max %lu us\n", (unsigned long)(n->lat_max_ns / 1000));
}

/* digest=on: which generation each block holds, so the host can check every acknowledged
 * write is on disk (FNV-1a 64 over gen[], each as 4 little-endian bytes). */
static void report_digest(const struct mix *m)
{
	uint64_t h = FNV_OFFSET;
	uint32_t written = 0;

	for (uint32_t b = 0; b < m->nblocks; b++) {
		written += m->gen[b] != 0;
		for (unsigned int k = 0; k < 4; k++) {
			h ^= (m->gen[b] >> (8 * k)) & 0xff;
			h *= FNV_PRIME;
		}
	}
	g_printf("%s: generations: %u blocks written, digest 0x%016lx\n", m->disk->name, written,
		 (unsigned long)h);
}

/* One disk's lines after the mix; its tally is added to *sum. */
static int report_disk(struct g_run *run, const struct mix *m, uint64_t us, struct tally *sum)
{
	char what[64];

	if (!m->n.reads && !m->n.writes)
		return g_blktest_fail(run, m->disk, "no request completed in %u s", m->t->seconds);
	g_printf("%s: mix ok (qd %u, %u blocks of %u bytes)\n", m->disk->name, m->t->qd, m->nblocks,
		 m->bs);
	if (m->t->digest)
		report_digest(m);
	g_snprintf(what, sizeof(what), "blktest qd %u %s %s bs %u", m->t->qd, m->dev->irq_mode,
		   m->t->rw_name, m->bs);
	report_tally(what, m->disk->tag, &m->n, m->bs, us);
	g_blkdev_report_counts(m->dev, m->interrupts_mark);
	sum->reads += m->n.reads;
	sum->writes += m->n.writes;
	sum->unchecked += m->n.unchecked;
	if (m->n.lat_max_ns > sum->lat_max_ns)
		sum->lat_max_ns = m->n.lat_max_ns;
	for (unsigned int b = 0; b <= LAT_BUCKETS && sum->lat; b++)
		sum->lat[b] += m->n.lat[b];
	return 0;
}

/* Sets up disk k's mix. */
static int mix_init(struct g_run *run, const struct g_blktest *t, struct g_blktest_disk *k,
		    struct mix *m)
{
	struct g_blkdev *d = k->dev;
	uint64_t bytes = (d->capacity - G_BLKTEST_MIX_SECTOR) * G_BLKDEV_SECTOR, kicks;

	/* The first disk keeps the sequence of a single-disk run; the others get their own. */
	*m = (struct mix){.t = t,
			  .disk = k,
			  .dev = d,
			  .len_optional = d->len_optional,
			  .bs = t->bs,
			  .words = t->bs / 8,
			  .sectors = t->bs / G_BLKDEV_SECTOR,
			  .rng = 0x853c49e6748fea9bull ^ (k->index * GOLDEN)};
	d->ops->counts(d, &kicks, &m->interrupts_mark);
	if (bytes > G_BLKTEST_MIX_BYTES)
		bytes = G_BLKTEST_MIX_BYTES;
	m->nblocks = (uint32_t)(bytes / m->bs);
	if (m->nblocks < 2 * t->qd) /* issue() needs a block out of flight to pick */
		return g_blktest_fail(run, k, "the disk is too small for queue depth %u: %u blocks",
				      t->qd, m->nblocks);
	if (mix_alloc(m))
		return g_blktest_fail(run, k, "out of memory for queue depth %u", t->qd);
	return 0;
}

int g_blktest_mix(struct g_run *run, struct g_blktest *t)
{
	struct mix *m = g_mem_alloc(t->ndisks * sizeof(*m), 64);
	struct tally sum = {0};
	uint64_t elapsed = 0, us;
	char what[64];

	if (!m)
		return g_run_fail(run, "out of memory for %u disks", t->ndisks);
	for (unsigned int k = 0; k < t->ndisks; k++) {
		if (mix_init(run, t, &t->disk[k], &m[k]))
			return -1;
	}
	if (run_mix(run, m, t->ndisks, &elapsed))
		return -1;
	us = g_tsc_to_us(elapsed);
	if (t->ndisks > 1) {
		sum.lat = g_mem_alloc((LAT_BUCKETS + 1) * sizeof(*sum.lat), 64);
		if (!sum.lat)
			return g_run_fail(run, "out of memory for the latency histogram");
	}
	for (unsigned int k = 0; k < t->ndisks; k++) {
		if (report_disk(run, &m[k], us, &sum))
			return -1;
	}
	if (t->ndisks > 1) {
		g_snprintf(what, sizeof(what), "blktest disks %u qd %u %s %s bs %u", t->ndisks,
			   t->qd, m[0].dev->irq_mode, t->rw_name, t->bs);
		report_tally(what, "", &sum, t->bs, us);
	}
	return 0;
}
