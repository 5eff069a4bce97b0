/* SPDX-License-Identifier: MIT */
/*
 * An ATA channel on a fake block engine, for test_ata.c and test_ata_dma.c: the engine records
 * each request and performs it only when the test says so (fake_complete), on a disk whose first
 * FAKE_STORE sectors are memory and the rest a pattern, so a drive can be terabytes large. The
 * interrupt line records its level and rising edges; guest RAM is one region at RAM_GPA.
 */
#ifndef TESTS_FAKE_ATA_H
#define TESTS_FAKE_ATA_H

#include <stdlib.h>
#include <string.h>

#include "dev/ata/ata.h"

#define FAKE_STORE 4096 /* sectors backed by memory */
#define RAM_GPA	   0x100000ull
#define RAM_SIZE   (2u << 20)
#define RAM_FILL   0xcc
#define TEST_GSI   14

struct fake {
	struct ata_chan ch;
	uint8_t *store[2];
	uint8_t *ram;
	struct gmem mem;
	/* The engine. */
	bool pending;
	unsigned unit, submits, flushes;
	struct blk_req last; /* type, sector, len, niov of the last request */
	bool fail_next;
	/* The line. */
	bool level;
	unsigned rises;
};

/* What an unwritten sector holds; every bit of the sector number shows in it. */
static inline uint8_t pattern(unsigned unit, uint64_t sector, unsigned i)
{
	return (uint8_t)(sector * 7 + (sector >> 8) * 3 + (sector >> 24) * 5 + (sector >> 32) * 11 +
			 i + unit * 101);
}

static inline int fake_irq(void *ctx, unsigned gsi, bool level)
{
	struct fake *f = ctx;
	assert_int_equal(gsi, TEST_GSI);
	if (level && !f->level)
		f->rises++;
	f->level = level;
	return 0;
}

static inline void fake_submit(void *ctx, struct ata_chan *ch, unsigned unit)
{
	struct fake *f = ctx;
	assert_false(f->pending); /* one request per channel at a time */
	f->pending = true;
	f->unit = unit;
	f->submits++;
	f->last = ch->io.req;
}

static const struct ata_ops fake_ops = {.submit = fake_submit};

static inline uint8_t disk_byte(struct fake *f, unsigned unit, uint64_t sector, unsigned i)
{
	return sector < FAKE_STORE ? f->store[unit][sector * ATA_SECTOR + i]
				   : pattern(unit, sector, i);
}

/* The engine performs the request and calls done(), as the real one does on its thread. */
static inline void fake_complete(struct fake *f)
{
	assert_true(f->pending);
	f->pending = false;
	struct blk_req *r = &f->ch.io.req;
	bool ok = !f->fail_next;
	f->fail_next = false;
	uint64_t at = 0;
	for (unsigned v = 0; ok && v < r->niov && r->type != VIRTIO_BLK_T_FLUSH; v++) {
		uint8_t *p = r->iov[v].iov_base;
		for (size_t k = 0; k < r->iov[v].iov_len; k++, at++) {
			uint64_t sector = r->sector + at / ATA_SECTOR;
			unsigned i = (unsigned)(at % ATA_SECTOR);
			if (r->type == VIRTIO_BLK_T_IN) {
				p[k] = disk_byte(f, f->unit, sector, i);
			} else {
				assert_true(sector < FAKE_STORE);
				f->store[f->unit][sector * ATA_SECTOR + i] = p[k];
			}
		}
	}
	if (ok && r->type != VIRTIO_BLK_T_FLUSH)
		assert_int_equal(at, r->len);
	f->flushes += r->type == VIRTIO_BLK_T_FLUSH;
	f->ch.io.status = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	f->ch.io.done(&f->ch.io);
}

/* Completes requests until the engine has none (a multi-block command's whole run). */
static inline void fake_drain(struct fake *f)
{
	while (f->pending)
		fake_complete(f);
}

static inline struct fake *fake_new(uint64_t sectors0, uint64_t sectors1, bool readonly0)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct vmm_irq irq = {.set = fake_irq, .ctx = f, .gsi = TEST_GSI};
	f->ram = malloc(RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, RAM_FILL, RAM_SIZE);
	gmem_init(&f->mem);
	assert_int_equal(gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram, -1, 0), 0);
	assert_int_equal(ata_chan_init(&f->ch, irq, &fake_ops, f, &f->mem), 0);
	uint64_t sectors[2] = {sectors0, sectors1};
	for (unsigned u = 0; u < 2; u++) {
		f->store[u] = malloc((size_t)FAKE_STORE * ATA_SECTOR);
		assert_non_null(f->store[u]);
		for (uint64_t s = 0; s < FAKE_STORE; s++)
			for (unsigned i = 0; i < ATA_SECTOR; i++)
				f->store[u][s * ATA_SECTOR + i] = pattern(u, s, i);
		if (!sectors[u])
			continue;
		struct ata_drive_info info = {.sectors = sectors[u],
					      .readonly = u == 0 && readonly0,
					      .serial = u ? "SLAVE-0002" : "MASTER-0001",
					      .model = "TEST DISK",
					      .firmware = "1.2"};
		ata_drive_attach(&f->ch, u, &info);
	}
	ata_bm_set_master(&f->ch, true);
	return f;
}

static inline void fake_free(struct fake *f)
{
	ata_chan_destroy(&f->ch);
	free(f->store[0]);
	free(f->store[1]);
	free(f->ram);
	free(f);
}

/* ---- the host side of the registers ---- */

static inline void wr(struct fake *f, unsigned reg, uint8_t v)
{
	ata_write(&f->ch, reg, v);
}

static inline uint8_t rd(struct fake *f, unsigned reg)
{
	return ata_read(&f->ch, reg);
}

static inline void cmd(struct fake *f, uint8_t c)
{
	wr(f, ATA_REG_STATUS, c);
}

/* An LBA28 address on drive `unit`. */
static inline void lba28(struct fake *f, unsigned unit, uint32_t lba, uint8_t nsect)
{
	wr(f, ATA_REG_DEVICE, (uint8_t)(0xe0 | (unit ? ATA_DEV1 : 0) | ((lba >> 24) & 0x0f)));
	wr(f, ATA_REG_NSECT, nsect);
	wr(f, ATA_REG_LBAL, (uint8_t)lba);
	wr(f, ATA_REG_LBAM, (uint8_t)(lba >> 8));
	wr(f, ATA_REG_LBAH, (uint8_t)(lba >> 16));
}

/* An LBA48 address on drive 0: each register written twice, high byte first. */
static inline void lba48(struct fake *f, uint64_t lba, uint16_t count)
{
	wr(f, ATA_REG_DEVICE, 0xe0);
	wr(f, ATA_REG_NSECT, (uint8_t)(count >> 8));
	wr(f, ATA_REG_NSECT, (uint8_t)count);
	wr(f, ATA_REG_LBAL, (uint8_t)(lba >> 24));
	wr(f, ATA_REG_LBAL, (uint8_t)lba);
	wr(f, ATA_REG_LBAM, (uint8_t)(lba >> 32));
	wr(f, ATA_REG_LBAM, (uint8_t)(lba >> 8));
	wr(f, ATA_REG_LBAH, (uint8_t)(lba >> 40));
	wr(f, ATA_REG_LBAH, (uint8_t)(lba >> 16));
}

/* Reads n bytes from the data register as one rep insw. */
static inline void pio_in(struct fake *f, void *buf, unsigned n)
{
	ata_data_read(&f->ch, buf, 2, n / 2);
}

static inline void pio_out(struct fake *f, const void *buf, unsigned n)
{
	ata_data_write(&f->ch, buf, 2, n / 2);
}

#endif
