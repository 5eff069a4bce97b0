// SPDX-License-Identifier: MIT
/*
 * blktest: a block device (programs/blkdev.h: the first virtio-blk device by default, over PCI
 * or MMIO; dev=ata or dev=ata-dma an ATA disk), with interrupts or polling.
 *  (a) writes a pattern to the first 1 MiB, reads it back and compares; the pattern stays on
 *      the disk so the host can check it: sector s holds 64 little-endian words, word k being
 *      ((s << 8) | k) ^ 0x5A5A5A5A00000000;
 *  (b) flushes, if offered;
 *  (c) write-zeroes (read back as zeros) and discard on a scratch range after it, if offered;
 *  (d) prints the device ID (GET_ID);
 *  (e) a random mix of 4 KiB reads and writes at queue depth qd for some seconds over up to
 *      16 MiB after the scratch range; each write stamps the block with a new generation and
 *      each read is checked against the last write (programs/blkmix.c).
 * disks=N (virtio only, 1-8, default 1): the first N virtio-blk devices, each through (a)-(d)
 * in turn, then all in one mix at once, each with qd requests in flight and its own generation
 * table; each disk's lines then start with its name, blk0, blk1, ... instead of blk.
 * Arguments: qd=N (1-128, default 8), seconds=S (default 2), rw=mix|randread|randwrite|read|
 * write (default mix; read and write are sequential), bs=N (4096-131072, a multiple of 4096),
 * digest=on (print the generations written, for the host), dev=virtio|ata|ata-dma,
 * mode=irq|poll; virtio: ring=packed, irq=intx, transport=pci|mmio, event_idx=off,
 * indirect=off, revector=on (MSI-X: before the mix, the first disk's queue 0 interrupt moves
 * to the config entry; every mix interrupt must then arrive there and none on its old
 * entry); ata: multiple=off, lba48=on (programs/blkdev_ata.c).
 */
#include <stdarg.h>

#include "drivers/virtio_blk.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/blktest.h"
#include "programs/programs.h"
#include "runtime/mem.h"
#include "runtime/platform.h"

#define PATTERN_SECTORS	 2048 /* 1 MiB */
#define PATTERN_XOR	 0x5A5A5A5A00000000ull
#define WORDS_PER_SECTOR (G_BLKDEV_SECTOR / 8)
#define SCRATCH_SECTOR	 PATTERN_SECTORS
#define SCRATCH_SECTORS	 128 /* 64 KiB */
#define CHUNK_MAX	 (64 * 1024)
#define SYNC_TIMEOUT_US	 10000000

int g_blktest_fail(struct g_run *run, const struct g_blktest_disk *k, const char *fmt, ...)
{
	char why[sizeof(run->why)];
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return g_run_fail(run, "%s%s", k->tag, why);
}

static uint64_t pattern_word(uint64_t sector, unsigned int k)
{
	return ((sector << 8) | k) ^ PATTERN_XOR;
}

/* The largest request the device takes, up to CHUNK_MAX, in whole sectors. */
static uint32_t chunk_bytes(const struct g_blkdev *d)
{
	uint32_t c = CHUNK_MAX;

	if (d->max_bytes && d->max_bytes < c)
		c = d->max_bytes & ~(uint32_t)(G_BLKDEV_SECTOR - 1);
	return c ? c : G_BLKDEV_SECTOR;
}

/* Reads or writes [sector, sector + bytes / 512) in chunks, one request after the other. */
static int transfer(struct g_run *run, struct g_blktest_disk *k, enum g_blkdev_op op,
		    uint64_t sector, uint8_t *buf, uint32_t bytes)
{
	struct g_blkdev *d = k->dev;
	uint32_t chunk = chunk_bytes(d);

	for (uint32_t done = 0; done < bytes;) {
		uint32_t n = bytes - done < chunk ? bytes - done : chunk;
		int rc = g_blkdev_sync(d, op, sector + done / G_BLKDEV_SECTOR, buf + done, n,
				       SYNC_TIMEOUT_US);

		if (rc)
			return g_blktest_fail(run, k, "%s of sector %lu failed (error %d)",
					      op == G_BLKDEV_WRITE ? "write" : "read",
					      (unsigned long)(sector + done / G_BLKDEV_SECTOR), rc);
		done += n;
	}
	return 0;
}

static int check_pattern(struct g_run *run, struct g_blktest_disk *b, uint8_t *buf)
{
	uint64_t *w = (uint64_t *)buf;

	for (uint64_t s = 0; s < PATTERN_SECTORS; s++)
		for (unsigned int k = 0; k < WORDS_PER_SECTOR; k++)
			w[s * WORDS_PER_SECTOR + k] = pattern_word(s, k);
	if (transfer(run, b, G_BLKDEV_WRITE, 0, buf, PATTERN_SECTORS * G_BLKDEV_SECTOR))
		return -1;
	memset(buf, 0, PATTERN_SECTORS * G_BLKDEV_SECTOR);
	if (transfer(run, b, G_BLKDEV_READ, 0, buf, PATTERN_SECTORS * G_BLKDEV_SECTOR))
		return -1;
	for (uint64_t s = 0; s < PATTERN_SECTORS; s++)
		for (unsigned int k = 0; k < WORDS_PER_SECTOR; k++)
			if (w[s * WORDS_PER_SECTOR + k] != pattern_word(s, k))
				return g_blktest_fail(run, b,
						      "pattern read back wrong: sector %lu word %u "
						      "is 0x%016lx, expected 0x%016lx",
						      (unsigned long)s, k,
						      (unsigned long)w[s * WORDS_PER_SECTOR + k],
						      (unsigned long)pattern_word(s, k));
	g_printf("%s: pattern written and read back (%u sectors)\n", b->name, PATTERN_SECTORS);
	return 0;
}

static int check_flush(struct g_run *run, struct g_blktest_disk *k)
{
	struct g_blkdev *b = k->dev;
	int rc;

	if (!(b->caps & G_BLKDEV_CAN_FLUSH)) {
		g_printf("%s: flush not offered\n", k->name);
		return 0;
	}
	rc = g_blkdev_sync(b, G_BLKDEV_FLUSH, 0, NULL, 0, SYNC_TIMEOUT_US);
	if (rc)
		return g_blktest_fail(run, k, "flush failed (error %d)", rc);
	g_printf("%s: flush ok\n", k->name);
	return 0;
}

static int check_write_zeroes(struct g_run *run, struct g_blktest_disk *k, uint8_t *buf)
{
	struct g_blkdev *b = k->dev;
	uint32_t n = SCRATCH_SECTORS;
	int rc;

	if (!(b->caps & G_BLKDEV_CAN_WRITE_ZEROES)) {
		g_printf("%s: write-zeroes not offered\n", k->name);
		return 0;
	}
	if (b->max_write_zeroes_sectors && b->max_write_zeroes_sectors < n)
		n = b->max_write_zeroes_sectors;
	memset(buf, 0xa5, n * G_BLKDEV_SECTOR);
	if (transfer(run, k, G_BLKDEV_WRITE, SCRATCH_SECTOR, buf, n * G_BLKDEV_SECTOR))
		return -1;
	rc = g_blkdev_sync(b, G_BLKDEV_WRITE_ZEROES, SCRATCH_SECTOR, NULL, n, SYNC_TIMEOUT_US);
	if (rc)
		return g_blktest_fail(run, k, "write-zeroes of %u sectors failed (error %d)", n,
				      rc);
	if (transfer(run, k, G_BLKDEV_READ, SCRATCH_SECTOR, buf, n * G_BLKDEV_SECTOR))
		return -1;
	for (uint32_t i = 0; i < n * G_BLKDEV_SECTOR; i++)
		if (buf[i])
			return g_blktest_fail(run, k, "write-zeroes left 0x%02x at byte %u", buf[i],
					      i);
	g_printf("%s: write-zeroes ok\n", k->name);
	return 0;
}

static int check_discard(struct g_run *run, struct g_blktest_disk *k)
{
	struct g_blkdev *b = k->dev;
	uint32_t align = b->discard_align ? b->discard_align : 1, n = SCRATCH_SECTORS;
	uint64_t start = (SCRATCH_SECTOR + align - 1) / align * align;
	int rc;

	if (!(b->caps & G_BLKDEV_CAN_DISCARD)) {
		g_printf("%s: discard not offered\n", k->name);
		return 0;
	}
	if (b->max_discard_sectors && b->max_discard_sectors < n)
		n = b->max_discard_sectors;
	if (start + n > SCRATCH_SECTOR + SCRATCH_SECTORS) {
		g_printf("%s: discard skipped (alignment %u sectors)\n", k->name, align);
		return 0;
	}
	rc = g_blkdev_sync(b, G_BLKDEV_DISCARD, start, NULL, n, SYNC_TIMEOUT_US);
	if (rc)
		return g_blktest_fail(run, k, "discard of %u sectors failed (error %d)", n, rc);
	g_printf("%s: discard ok\n", k->name);
	return 0;
}

static int check_id(struct g_run *run, struct g_blktest_disk *k, uint8_t *buf)
{
	struct g_blkdev *b = k->dev;
	char id[G_BLKDEV_ID_SIZE + 1];
	int rc = -ENOTSUP;

	if (b->caps & G_BLKDEV_CAN_GET_ID) {
		memset(buf, 0, G_BLKDEV_ID_SIZE);
		rc = g_blkdev_sync(b, G_BLKDEV_GET_ID, 0, buf, G_BLKDEV_ID_SIZE, SYNC_TIMEOUT_US);
	}
	if (rc == -ENOTSUP) {
		g_printf("%s: id not supported\n", k->name);
		return 0;
	}
	if (rc)
		return g_blktest_fail(run, k, "get-id failed (error %d)", rc);
	/* Not NUL-terminated when it fills all 20 bytes (virtio 1.2, 5.2.6). */
	memcpy(id, buf, G_BLKDEV_ID_SIZE);
	id[G_BLKDEV_ID_SIZE] = '\0';
	g_printf("%s: id %s\n", k->name, id);
	return 0;
}

/* The mix with the first disk's queue 0 interrupt moved, while idle, from its own MSI-X entry
 * to entry 0. */
static int revector(struct g_run *run, struct g_blktest *t)
{
	struct g_vblk *b = g_blkdev_vblk(t->disk[0].dev);
	struct g_virtio_dev *d;
	struct g_virtq *q;
	unsigned int old;
	uint64_t old_n, new_n;
	int rc;

	if (!b)
		return g_run_fail(run, "revector=on needs a virtio device");
	d = b->dev;
	q = &b->q[0];
	old = q->vector;
	if (q->msix_entry == 0)
		return g_run_fail(run, "revector=on: queue 0 is not on an MSI-X entry of its own");
	rc = g_virtio_queue_move_vector(d, q, 0);
	if (rc)
		return g_run_fail(run, "revector=on: moving queue 0 to entry 0 failed (error %d)",
				  rc);
	old_n = g_irq_count(old);
	new_n = g_irq_count(q->vector);
	rc = g_blktest_mix(run, t);
	if (rc)
		return rc;
	old_n = g_irq_count(old) - old_n;
	new_n = g_irq_count(q->vector) - new_n;
	if (old_n || !new_n)
		return g_run_fail(run,
				  "revector=on: %lu interrupt(s) on queue 0's old entry and %lu on "
				  "entry 0 during the mix",
				  (unsigned long)old_n, (unsigned long)new_n);
	g_printf("%s: queue 0 moved to MSI-X entry 0; its interrupts followed it\n",
		 t->disk[0].name);
	return 0;
}

static int parse_args(struct g_run *run, struct g_blktest *t)
{
	static const char *const rw_names[] = {"mix", "randread", "randwrite", "read", "write"};
	const char *rw = g_arg("rw"), *dev = g_arg("dev");

	memset(t, 0, sizeof(*t));
	if (g_arg_uint("qd", 8, &t->qd) || t->qd < 1 || t->qd > G_BLKTEST_MAX_QD)
		return g_run_fail(run, "bad qd=%s (1-%d)", g_arg("qd"), G_BLKTEST_MAX_QD);
	if (g_arg_uint("seconds", 2, &t->seconds))
		return g_run_fail(run, "bad seconds=%s", g_arg("seconds"));
	t->rw = G_RW_MIX;
	t->rw_name = rw_names[0];
	for (unsigned int i = 0; rw && i < sizeof(rw_names) / sizeof(rw_names[0]); i++)
		if (!strcmp(rw, rw_names[i])) {
			t->rw = (enum g_blktest_rw)i;
			t->rw_name = rw_names[i];
			rw = NULL;
		}
	if (rw)
		return g_run_fail(run, "bad rw=%s (mix, randread, randwrite, read, write)", rw);
	if (g_arg_uint("bs", G_BLKTEST_BLOCK, &t->bs) || t->bs < G_BLKTEST_BLOCK ||
	    t->bs > G_BLKTEST_MAX_BS || t->bs % G_BLKTEST_BLOCK)
		return g_run_fail(run, "bad bs=%s (4096-%d, a multiple of 4096)", g_arg("bs"),
				  G_BLKTEST_MAX_BS);
	if (g_arg_uint("disks", 1, &t->ndisks) || t->ndisks < 1 || t->ndisks > G_BLKTEST_MAX_DISKS)
		return g_run_fail(run, "bad disks=%s (1-%d)", g_arg("disks"), G_BLKTEST_MAX_DISKS);
	/* An IDE channel runs one command at a time and blkdev_ata.c drives one disk. */
	if (t->ndisks > 1 && dev && *dev && strcmp(dev, "virtio"))
		return g_run_fail(run, "disks=%u needs dev=virtio: dev=%s drives one disk",
				  t->ndisks, dev);
	t->digest = g_arg("digest") && !strcmp(g_arg("digest"), "on");
	for (unsigned int k = 0; k < t->ndisks; k++) {
		struct g_blktest_disk *d = &t->disk[k];

		d->index = k;
		g_strlcpy(d->name, "blk", sizeof(d->name));
		if (t->ndisks > 1) {
			g_snprintf(d->name, sizeof(d->name), "blk%u", k);
			g_snprintf(d->tag, sizeof(d->tag), "blk%u: ", k);
		}
	}
	return 0;
}

/* Opens disk k and checks it can take the test. */
static int open_disk(struct g_run *run, struct g_blktest_disk *k)
{
	struct g_blkdev *d;

	if (g_blkdev_open(run, k->index, k->name, &k->dev))
		return -1;
	d = k->dev;
	g_printf("%s: capacity %lu sectors\n", k->name, (unsigned long)d->capacity);
	if (d->caps & G_BLKDEV_READ_ONLY)
		return g_blktest_fail(run, k, "the disk is read-only");
	if (d->capacity < G_BLKTEST_MIX_SECTOR + G_BLKTEST_MIN_BLOCKS * 8)
		return g_blktest_fail(run, k,
				      "the disk is too small: %lu sectors, at least %u needed",
				      (unsigned long)d->capacity,
				      G_BLKTEST_MIX_SECTOR + G_BLKTEST_MIN_BLOCKS * 8);
	return 0;
}

/* Parts (a) to (d) on one disk, buf holding the pattern. */
static int prepare_disk(struct g_run *run, const struct g_blktest *t, struct g_blktest_disk *k,
			uint8_t *buf)
{
	int rc = check_pattern(run, k, buf);

	if (!rc)
		rc = check_flush(run, k);
	if (!rc)
		rc = check_write_zeroes(run, k, buf);
	if (!rc)
		rc = check_discard(run, k);
	if (!rc)
		rc = check_id(run, k, buf);
	if (!rc && k->dev->max_bytes && k->dev->max_bytes < t->bs)
		rc = g_blktest_fail(run, k, "bs=%u is more than the device's largest segment (%u)",
				    t->bs, k->dev->max_bytes);
	return rc;
}

int g_blktest_main(struct g_run *run)
{
	struct g_blktest t;
	uint8_t *buf = NULL;
	int rc = 0;

	if (parse_args(run, &t))
		return -1;
	for (unsigned int k = 0; k < t.ndisks && !rc; k++) {
		rc = open_disk(run, &t.disk[k]);
		if (!rc && !buf) {
			buf = g_mem_alloc(PATTERN_SECTORS * G_BLKDEV_SECTOR, 4096);
			if (!buf)
				rc = g_run_fail(run, "out of memory for the pattern");
		}
		if (!rc)
			rc = prepare_disk(run, &t, &t.disk[k], buf);
	}
	if (!rc && g_arg("revector") && !strcmp(g_arg("revector"), "on"))
		rc = revector(run, &t);
	else if (!rc)
		rc = g_blktest_mix(run, &t);
	for (unsigned int k = 0; k < t.ndisks; k++) {
		if (t.disk[k].dev)
			g_blkdev_close(t.disk[k].dev);
	}
	return rc;
}
