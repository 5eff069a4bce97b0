/* SPDX-License-Identifier: MIT */
/*
 * The ATA register core against ATA/ATAPI-6 (and QEMU where the spec leaves a choice), on a fake
 * block engine (fake_ata.h): reset and signature, absent drives, IDENTIFY, PIO reads and writes
 * per DRQ block with their interrupts, MULTIPLE, LBA28/LBA48/CHS addressing, SET FEATURES, flush
 * and write-through, and each bad input on its own: an LBA past the end, a zero count crossing
 * the end, a data read before DRQ, a command while busy, a write to a read-only disk, an engine
 * error, a reset with a request in flight. Bus-master DMA is in test_ata_dma.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "fake_ata.h"

#define SMALL 4096	   /* sectors of the small disk */
#define HUGE  (1ull << 33) /* 4 TiB: past LBA28 */

static const uint8_t ready = ATA_DRDY | ATA_DSC;

static uint16_t word(const uint8_t *id, unsigned w)
{
	return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

/* IDENTIFY on drive `unit` into id[512]. */
static void identify(struct fake *f, unsigned unit, uint8_t *id)
{
	wr(f, ATA_REG_DEVICE, unit ? 0xb0 : 0xa0);
	cmd(f, WIN_IDENTIFY);
	assert_int_equal(ata_alt_status(&f->ch), ready | ATA_DRQ);
	pio_in(f, id, 512);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
}

static void check_sector(struct fake *f, unsigned unit, uint64_t sector, const uint8_t *p)
{
	for (unsigned i = 0; i < ATA_SECTOR; i++)
		if (p[i] != disk_byte(f, unit, sector, i))
			fail_msg("sector %llu byte %u: %02x, want %02x", (unsigned long long)sector,
				 i, p[i], disk_byte(f, unit, sector, i));
}

/* ------------------------------------------------------------ reset, presence ---------------- */

static void test_power_on_and_srst_signature(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	wr(f, ATA_REG_NSECT, 0x55);
	wr(f, ATA_REG_LBAM, 0x66);
	ata_devctl_write(&f->ch, ATA_SRST);
	assert_int_equal(ata_alt_status(&f->ch), ATA_BUSY | ATA_DSC);
	ata_devctl_write(&f->ch, 0);
	/* ATA-6 9.12: an ATA device's signature, and diagnostic code 01h in the error register. */
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_DIAG_OK);
	assert_int_equal(rd(f, ATA_REG_NSECT), 1);
	assert_int_equal(rd(f, ATA_REG_LBAL), 1);
	assert_int_equal(rd(f, ATA_REG_LBAM), 0);
	assert_int_equal(rd(f, ATA_REG_LBAH), 0);
	assert_int_equal(f->rises, 0); /* a reset interrupts nobody */
	fake_free(f);
}

static void test_absent_devices_read_zero(void **state)
{
	(void)state;
	/* A channel without drives reads 0 in every register, as QEMU's does. */
	struct fake *f = fake_new(0, 0, false);
	wr(f, ATA_REG_NSECT, 0x55);
	for (unsigned reg = 1; reg < 8; reg++)
		assert_int_equal(rd(f, reg), 0);
	assert_int_equal(ata_alt_status(&f->ch), 0);
	cmd(f, WIN_IDENTIFY);
	assert_int_equal(f->rises, 0);
	fake_free(f);

	/* A master without a slave: selecting the slave shows status and error 0, and commands
	 * to it go nowhere, while the latched registers read back (Linux's devchk relies on it). */
	f = fake_new(SMALL, 0, false);
	wr(f, ATA_REG_DEVICE, 0xb0);
	assert_int_equal(rd(f, ATA_REG_STATUS), 0);
	assert_int_equal(rd(f, ATA_REG_ERR), 0);
	wr(f, ATA_REG_NSECT, 0xaa);
	assert_int_equal(rd(f, ATA_REG_NSECT), 0xaa);
	cmd(f, WIN_IDENTIFY);
	assert_int_equal(f->ch.stats.commands, 0);
	assert_int_equal(f->rises, 0);
	wr(f, ATA_REG_DEVICE, 0xa0);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	fake_free(f);
}

/* ------------------------------------------------------------ IDENTIFY ---------------------- */

static void test_identify_device(void **state)
{
	(void)state;
	struct fake *f = fake_new(HUGE, SMALL, false);
	uint8_t id[512];
	identify(f, 0, id);
	assert_int_equal(f->rises, 1);
	assert_int_equal(word(id, 0), 0x0040);
	assert_memory_equal(&id[20], "AMTSRE0-00 1        ", 20); /* bytes swapped per word */
	assert_memory_equal(&id[46], ".1 2    ", 8);
	assert_memory_equal(&id[54], "ETTSD SI K", 10);
	assert_int_equal(word(id, 47), 0x8000 | ATA_MAX_MULT);
	assert_true(word(id, 49) & (1u << 9)); /* LBA */
	assert_true(word(id, 49) & (1u << 8)); /* DMA */
	assert_int_equal(word(id, 59), 0x0100 | ATA_MAX_MULT);
	/* LBA28 capacity saturates; LBA48 has it all. */
	assert_int_equal(word(id, 60) | (uint32_t)word(id, 61) << 16, 0x0fffffff);
	uint64_t cap = 0;
	for (unsigned i = 0; i < 4; i++)
		cap |= (uint64_t)word(id, 100 + i) << (16 * i);
	assert_int_equal(cap, HUGE);
	assert_true(word(id, 83) & (1u << 10)); /* 48-bit address feature set */
	assert_true(word(id, 86) & (1u << 10));
	assert_true(word(id, 83) & (1u << 12)); /* FLUSH CACHE */
	assert_true(word(id, 85) & (1u << 5));	/* write cache on */
	assert_int_equal(word(id, 63) & 0xff, 0x07);
	assert_int_equal(word(id, 88) & 0xff, 0x3f);
	uint8_t sum = 0;
	for (unsigned i = 0; i < 512; i++)
		sum = (uint8_t)(sum + id[i]);
	assert_int_equal(id[510], 0xa5);
	assert_int_equal(sum, 0);

	identify(f, 1, id);
	assert_int_equal(word(id, 60), SMALL);
	assert_int_equal(word(id, 61), 0);
	assert_int_equal(word(id, 93) & 0x0101, 0x0100); /* answered as device 1 */
	fake_free(f);
}

static void test_identify_by_dwords(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	uint8_t a[512], b[512];
	identify(f, 0, a);
	cmd(f, WIN_IDENTIFY);
	ata_data_read(&f->ch, b, 4, 128); /* rep insl */
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	fake_free(f);
}

static void test_identify_packet_and_unknown_abort(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	static const uint8_t refused[] = {WIN_PIDENTIFY, WIN_PACKETCMD, WIN_NOP, WIN_FORMAT,
					  WIN_SMART,	 WIN_SEEK,	0xff};
	for (size_t i = 0; i < sizeof(refused); i++) {
		unsigned rises = f->rises;
		cmd(f, refused[i]);
		assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
		assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
		assert_int_equal(f->rises, rises + 1);
	}
	assert_int_equal(f->submits, 0);
	fake_free(f);
}

/* ------------------------------------------------------------ PIO --------------------------- */

static void test_read_sectors_per_block(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	lba28(f, 0, 5, 3);
	cmd(f, WIN_READ);
	for (unsigned s = 0; s < 3; s++) {
		/* BSY while the engine reads the block; then DRQ and an interrupt. */
		assert_int_equal(ata_alt_status(&f->ch), ATA_DRDY | ATA_BUSY);
		assert_true(f->pending);
		assert_int_equal(f->last.type, VIRTIO_BLK_T_IN);
		assert_int_equal(f->last.sector, 5 + s);
		assert_int_equal(f->last.len, ATA_SECTOR);
		fake_complete(f);
		assert_int_equal(f->rises, s + 1);
		assert_int_equal(rd(f, ATA_REG_STATUS), ready | ATA_DRQ);
		assert_false(f->level);
		uint8_t buf[ATA_SECTOR];
		pio_in(f, buf, sizeof(buf));
		check_sector(f, 0, 5 + s, buf);
	}
	/* After the last block: DRQ off, no interrupt (ATA-6 9.7). */
	assert_false(f->pending);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(f->rises, 3);
	assert_int_equal(f->ch.stats.data_reads, 3); /* one per rep burst */
	fake_free(f);
}

static void test_write_sectors_per_block(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	uint8_t data[2][ATA_SECTOR];
	memset(data[0], 0x11, ATA_SECTOR);
	memset(data[1], 0x22, ATA_SECTOR);
	lba28(f, 0, 7, 2);
	cmd(f, WIN_WRITE);
	/* The first block is asked for at once, without an interrupt. */
	assert_int_equal(rd(f, ATA_REG_STATUS), ready | ATA_DRQ);
	assert_int_equal(f->rises, 0);
	for (unsigned s = 0; s < 2; s++) {
		pio_out(f, data[s], 256);
		assert_false(f->pending); /* half a sector: still DRQ */
		pio_out(f, data[s] + 256, 256);
		assert_int_equal(ata_alt_status(&f->ch), ATA_DRDY | ATA_BUSY);
		assert_int_equal(f->last.type, VIRTIO_BLK_T_OUT);
		assert_int_equal(f->last.sector, 7 + s);
		fake_complete(f);
		/* An interrupt after each block: DRQ for the next, then the command's end. */
		assert_int_equal(f->rises, s + 1);
		assert_int_equal(rd(f, ATA_REG_STATUS), s ? ready : ready | ATA_DRQ);
		assert_false(f->level);
	}
	assert_memory_equal(&f->store[0][7 * ATA_SECTOR], data, sizeof(data));
	assert_int_equal(f->flushes, 0); /* write cache on */
	fake_free(f);
}

static void test_multiple(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	static const uint8_t bad[] = {3, 32, 6};
	for (size_t i = 0; i < sizeof(bad); i++) {
		wr(f, ATA_REG_NSECT, bad[i]);
		cmd(f, WIN_SETMULT);
		assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	}
	wr(f, ATA_REG_NSECT, 4);
	cmd(f, WIN_SETMULT);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	/* 10 sectors in blocks of 4, 4 and 2: one engine request and one interrupt each. */
	lba28(f, 0, 100, 10);
	cmd(f, WIN_MULTREAD);
	static const unsigned blocks[] = {4, 4, 2};
	uint8_t buf[4 * ATA_SECTOR];
	uint64_t s = 100;
	for (unsigned b = 0; b < 3; b++) {
		assert_int_equal(f->last.len, blocks[b] * ATA_SECTOR);
		fake_complete(f);
		assert_int_equal(rd(f, ATA_REG_STATUS), ready | ATA_DRQ);
		pio_in(f, buf, blocks[b] * ATA_SECTOR);
		for (unsigned k = 0; k < blocks[b]; k++)
			check_sector(f, 0, s++, buf + k * ATA_SECTOR);
	}
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(f->rises, 3 + 4); /* three aborts, SET MULTIPLE, three blocks */

	unsigned submits = f->submits;
	memset(buf, 0x5a, sizeof(buf));
	lba28(f, 0, 200, 6);
	cmd(f, WIN_MULTWRITE);
	pio_out(f, buf, 4 * ATA_SECTOR);
	assert_int_equal(f->last.len, 4 * ATA_SECTOR);
	fake_complete(f);
	pio_out(f, buf, 2 * ATA_SECTOR);
	assert_int_equal(f->last.len, 2 * ATA_SECTOR);
	fake_complete(f);
	assert_int_equal(f->submits, submits + 2);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(f->store[0][205 * ATA_SECTOR + 511], 0x5a);

	/* SET MULTIPLE 0 turns the MULTIPLE commands off. */
	wr(f, ATA_REG_NSECT, 0);
	cmd(f, WIN_SETMULT);
	lba28(f, 0, 0, 1);
	cmd(f, WIN_MULTREAD);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	assert_int_equal(f->submits, submits + 2);
	fake_free(f);
}

static void test_lba48_and_hob(void **state)
{
	(void)state;
	struct fake *f = fake_new(HUGE, 0, false);
	uint64_t lba = 0x123456789ull; /* above 2^32: every address byte matters */
	lba48(f, lba, 2);
	/* HOB reads back the previous (high) bytes; a register write clears HOB. */
	ata_devctl_write(&f->ch, ATA_HOB);
	assert_int_equal(rd(f, ATA_REG_LBAL), 0x23);
	assert_int_equal(rd(f, ATA_REG_LBAM), 0x01);
	assert_int_equal(rd(f, ATA_REG_LBAH), 0x00);
	assert_int_equal(rd(f, ATA_REG_NSECT), 0x00);
	ata_devctl_write(&f->ch, 0);
	assert_int_equal(rd(f, ATA_REG_LBAL), 0x89);
	cmd(f, WIN_READ_EXT);
	uint8_t buf[ATA_SECTOR];
	for (unsigned s = 0; s < 2; s++) {
		assert_int_equal(f->last.sector, lba + s);
		fake_complete(f);
		pio_in(f, buf, sizeof(buf));
		check_sector(f, 0, lba + s, buf);
	}
	/* LBA28 on the same drive ignores the HOB bytes: sector 0x0456789. */
	lba28(f, 0, 0x0456789, 1);
	cmd(f, WIN_READ);
	assert_int_equal(f->last.sector, 0x0456789);
	fake_complete(f);
	pio_in(f, buf, sizeof(buf));
	/* A 16-bit count: 0x0102 sectors. */
	lba48(f, 0, 0x0102);
	cmd(f, WIN_READ_EXT);
	unsigned n = 0;
	while (f->pending) {
		fake_complete(f);
		pio_in(f, buf, sizeof(buf));
		n++;
	}
	assert_int_equal(n, 0x0102);
	fake_free(f);
}

static void test_chs_and_init_params(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	/* INITIALIZE DEVICE PARAMETERS: 4 heads (device bits 3:0 + 1), 17 sectors per track. */
	wr(f, ATA_REG_DEVICE, 0xa3);
	wr(f, ATA_REG_NSECT, 17);
	cmd(f, WIN_SPECIFY);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	uint8_t id[512];
	identify(f, 0, id);
	assert_int_equal(word(id, 55), 4);
	assert_int_equal(word(id, 56), 17);
	/* cylinder 1, head 2, sector 3 -> (1 * 4 + 2) * 17 + 2 */
	wr(f, ATA_REG_DEVICE, 0xa2);
	wr(f, ATA_REG_NSECT, 1);
	wr(f, ATA_REG_LBAL, 3);
	wr(f, ATA_REG_LBAM, 1);
	wr(f, ATA_REG_LBAH, 0);
	cmd(f, WIN_READ);
	assert_int_equal(f->last.sector, 104);
	fake_complete(f);
	uint8_t buf[ATA_SECTOR];
	pio_in(f, buf, sizeof(buf));
	/* Sector 0 and a head past the translation do not exist. */
	unsigned submits = f->submits;
	wr(f, ATA_REG_LBAL, 0);
	cmd(f, WIN_READ);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_IDNF);
	wr(f, ATA_REG_DEVICE, 0xa4);
	wr(f, ATA_REG_LBAL, 1);
	cmd(f, WIN_READ);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_IDNF);
	assert_int_equal(f->submits, submits);
	wr(f, ATA_REG_NSECT, 0);
	cmd(f, WIN_SPECIFY);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	fake_free(f);
}

static void test_flush_and_write_cache(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	static const uint8_t flushes[] = {WIN_FLUSH_CACHE, WIN_FLUSH_CACHE_EXT};
	for (size_t i = 0; i < 2; i++) {
		cmd(f, flushes[i]);
		assert_int_equal(ata_alt_status(&f->ch), ATA_DRDY | ATA_BUSY);
		assert_int_equal(f->last.type, VIRTIO_BLK_T_FLUSH);
		fake_complete(f);
		assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	}
	assert_int_equal(f->flushes, 2);
	assert_int_equal(f->rises, 2);

	/* Write cache off: a write is flushed before its command ends. */
	wr(f, ATA_REG_ERR, SETFEATURES_DIS_WCACHE);
	cmd(f, WIN_SETFEATURES);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	uint8_t id[512], buf[ATA_SECTOR] = {0};
	identify(f, 0, id);
	assert_false(word(id, 85) & (1u << 5));
	lba28(f, 0, 1, 1);
	cmd(f, WIN_WRITE);
	pio_out(f, buf, sizeof(buf));
	fake_complete(f); /* the write */
	assert_int_equal(ata_alt_status(&f->ch), ATA_DRDY | ATA_BUSY);
	assert_int_equal(f->last.type, VIRTIO_BLK_T_FLUSH);
	fake_complete(f);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(f->flushes, 3);
	wr(f, ATA_REG_ERR, SETFEATURES_EN_WCACHE);
	cmd(f, WIN_SETFEATURES);
	identify(f, 0, id);
	assert_true(word(id, 85) & (1u << 5));
	fake_free(f);
}

static void test_set_features_transfer_mode(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	static const struct {
		uint8_t mode;
		bool ok;
		unsigned word, bit;
	} cases[] = {
		{0x22, true, 63, 10}, /* multiword DMA 2 */
		{0x45, true, 88, 13}, /* Ultra DMA 5 */
		{0x0c, true, 0, 0},   /* PIO 4 */
		{0x00, true, 0, 0},   /* PIO default */
		{0x46, false, 0, 0},  /* Ultra DMA 6: not offered */
		{0x23, false, 0, 0},  /* multiword DMA 3 */
		{0x12, false, 0, 0},  /* single-word DMA: obsolete */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wr(f, ATA_REG_ERR, 0x03);
		wr(f, ATA_REG_NSECT, cases[i].mode);
		cmd(f, WIN_SETFEATURES);
		assert_int_equal(rd(f, ATA_REG_ERR), cases[i].ok ? 0 : ATA_ABORTED);
		if (!cases[i].word)
			continue;
		uint8_t id[512];
		identify(f, 0, id);
		assert_true(word(id, cases[i].word) & (1u << cases[i].bit));
	}
	wr(f, ATA_REG_ERR, 0x99); /* a subcommand we do not have */
	cmd(f, WIN_SETFEATURES);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	fake_free(f);
}

static void test_execute_device_diagnostic(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, SMALL, false);
	wr(f, ATA_REG_NSECT, 0x77);
	cmd(f, WIN_DIAGNOSE);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_DIAG_OK); /* not an error: ERR stays clear */
	assert_int_equal(rd(f, ATA_REG_NSECT), 1);
	assert_int_equal(rd(f, ATA_REG_LBAL), 1);
	assert_int_equal(f->rises, 1);
	wr(f, ATA_REG_DEVICE, 0xb0);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_DIAG_OK);
	fake_free(f);
}

/* ------------------------------------------------------------ interrupts -------------------- */

static void test_status_acknowledges_alt_status_does_not(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	wr(f, ATA_REG_NSECT, 1);
	cmd(f, WIN_SETMULT); /* any command that ends at once */
	assert_true(f->level);
	assert_int_equal(ata_alt_status(&f->ch), ready);
	assert_true(f->level);
	rd(f, ATA_REG_STATUS);
	assert_false(f->level);
	/* The bus-master status latched the edge (PIIX: every channel interrupt). */
	uint8_t bm;
	assert_int_equal(ata_bm_read(&f->ch, ATA_DMA_STATUS, &bm, 1), 0);
	assert_true(bm & ATA_DMA_INTR);
	fake_free(f);
}

static void test_nien_masks_the_line(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	ata_devctl_write(&f->ch, ATA_NIEN);
	uint8_t id[512];
	cmd(f, WIN_IDENTIFY);
	assert_false(f->level);
	assert_int_equal(f->rises, 0);
	/* The interrupt stays pending behind nIEN and shows when it clears. */
	ata_devctl_write(&f->ch, 0);
	assert_true(f->level);
	pio_in(f, id, sizeof(id));
	rd(f, ATA_REG_STATUS);
	assert_false(f->level);
	fake_free(f);
}

/* ------------------------------------------------------------ bad input --------------------- */

static void test_bad_lba_past_end(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	static const struct {
		uint32_t lba;
		uint8_t n;
		uint8_t cmd;
	} cases[] = {
		{SMALL, 1, WIN_READ},	   {SMALL - 1, 2, WIN_READ}, {SMALL + 100, 1, WIN_WRITE},
		{0x0fffffff, 1, WIN_READ}, {SMALL, 1, WIN_READDMA},  {SMALL - 3, 4, WIN_MULTREAD},
		{SMALL, 1, WIN_WRITEDMA},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned rises = f->rises;
		lba28(f, 0, cases[i].lba, cases[i].n);
		cmd(f, cases[i].cmd);
		assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
		assert_int_equal(rd(f, ATA_REG_ERR), ATA_IDNF);
		assert_int_equal(f->rises, rises + 1);
	}
	assert_int_equal(f->submits, 0);
	assert_int_equal(f->ch.stats.errors, 7);
	/* The last sector itself is fine. */
	lba28(f, 0, SMALL - 1, 1);
	cmd(f, WIN_READ);
	assert_int_equal(f->last.sector, SMALL - 1);
	fake_free(f);
}

static void test_bad_zero_count_crossing_end(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	/* LBA28: a count of 0 is 256 sectors; from SMALL - 255 that is one too many. */
	lba28(f, 0, SMALL - 255, 0);
	cmd(f, WIN_READ);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_IDNF);
	/* LBA48: 0 is 65536 sectors, far past this disk. */
	lba48(f, 0, 0);
	cmd(f, WIN_WRITE_EXT);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_IDNF);
	assert_false(rd(f, ATA_REG_STATUS) & ATA_DRQ); /* no data phase began */
	assert_int_equal(f->submits, 0);
	/* From SMALL - 256 all 256 fit. */
	lba28(f, 0, SMALL - 256, 0);
	cmd(f, WIN_READ);
	uint8_t buf[ATA_SECTOR];
	unsigned n = 0;
	while (f->pending) {
		fake_complete(f);
		pio_in(f, buf, sizeof(buf));
		n++;
	}
	assert_int_equal(n, 256);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	fake_free(f);
}

static void test_bad_data_read_before_drq(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	uint8_t buf[ATA_SECTOR];
	/* Idle: the data register reads 0 (QEMU's answer) and nothing changes. */
	memset(buf, 0xee, sizeof(buf));
	pio_in(f, buf, sizeof(buf));
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	/* BSY (the engine has the request): reads 0 and does not move the transfer on. */
	lba28(f, 0, 9, 1);
	cmd(f, WIN_READ);
	memset(buf, 0xee, sizeof(buf));
	ata_data_read(&f->ch, buf, 2, 1);
	assert_int_equal(buf[0] | buf[1], 0);
	assert_int_equal(f->ch.stats.ignored, 2);
	fake_complete(f);
	pio_in(f, buf, sizeof(buf));
	check_sector(f, 0, 9, buf);
	/* Writes without DRQ go nowhere. */
	memset(buf, 0x99, sizeof(buf));
	pio_out(f, buf, sizeof(buf));
	assert_false(f->pending);
	assert_int_equal(f->store[0][9 * ATA_SECTOR], pattern(0, 9, 0));
	/* A byte access to the data register is refused (the bus reads it as all ones). */
	uint8_t b = 0;
	assert_int_equal(ata_cmd_trap(&f->ch, ATA_REG_DATA, &b, 1, false), -EINVAL);
	fake_free(f);
}

static void test_bad_command_while_busy(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	lba28(f, 0, 10, 1);
	cmd(f, WIN_READ);
	assert_int_equal(f->submits, 1);
	/* BSY: the command and the task file writes are ignored. */
	wr(f, ATA_REG_NSECT, 9);
	wr(f, ATA_REG_DEVICE, 0xb0);
	cmd(f, WIN_WRITE);
	cmd(f, WIN_IDENTIFY);
	assert_int_equal(f->submits, 1);
	assert_int_equal(f->ch.stats.ignored, 4);
	fake_complete(f);
	/* DRQ: still ignored; the read goes on as it was. */
	cmd(f, WIN_FLUSH_CACHE);
	assert_false(f->pending);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready | ATA_DRQ);
	assert_int_equal(rd(f, ATA_REG_NSECT), 1);
	uint8_t buf[ATA_SECTOR];
	pio_in(f, buf, sizeof(buf));
	check_sector(f, 0, 10, buf);
	assert_int_equal(f->ch.stats.commands, 1);
	fake_free(f);
}

static void test_bad_write_to_readonly(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, true);
	static const uint8_t writes[] = {WIN_WRITE, WIN_WRITE_EXT, WIN_MULTWRITE, WIN_WRITEDMA,
					 WIN_WRITEDMA_EXT};
	for (size_t i = 0; i < sizeof(writes); i++) {
		if (writes[i] == WIN_WRITE_EXT || writes[i] == WIN_WRITEDMA_EXT)
			lba48(f, 1, 1);
		else
			lba28(f, 0, 1, 1);
		cmd(f, writes[i]);
		assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
		assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	}
	assert_int_equal(f->submits, 0);
	lba28(f, 0, 1, 1);
	cmd(f, WIN_READ); /* reading is fine */
	assert_true(f->pending);
	fake_free(f);
}

static void test_engine_error(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	lba28(f, 0, 300, 4);
	cmd(f, WIN_READ);
	fake_complete(f);
	uint8_t buf[ATA_SECTOR];
	pio_in(f, buf, sizeof(buf));
	f->fail_next = true;
	fake_complete(f); /* sector 301 fails */
	assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_UNC);
	assert_int_equal(rd(f, ATA_REG_LBAL), 301 & 0xff); /* the failing sector */
	assert_int_equal(rd(f, ATA_REG_LBAM), 301 >> 8);
	assert_false(f->pending);
	lba28(f, 0, 5, 1);
	cmd(f, WIN_WRITE);
	pio_out(f, buf, sizeof(buf));
	f->fail_next = true;
	fake_complete(f);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	fake_free(f);
}

static void test_srst_with_request_in_flight(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	lba28(f, 0, 20, 2);
	cmd(f, WIN_READ);
	assert_true(f->pending);
	ata_devctl_write(&f->ch, ATA_SRST);
	ata_devctl_write(&f->ch, 0);
	/* The engine still holds the buffer: the drive stays BSY until the request returns. */
	assert_int_equal(ata_alt_status(&f->ch), ATA_BUSY | ATA_DSC);
	cmd(f, WIN_IDENTIFY);
	assert_int_equal(f->ch.stats.commands, 1);
	unsigned rises = f->rises;
	fake_complete(f);
	assert_int_equal(f->rises, rises); /* the abandoned read neither interrupts nor DRQs */
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(rd(f, ATA_REG_NSECT), 1);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_DIAG_OK);
	assert_false(f->pending);
	uint8_t id[512];
	identify(f, 0, id);
	assert_int_equal(word(id, 0), 0x0040);
	/* A reset that ends after the request returned needs no waiting. */
	lba28(f, 0, 20, 1);
	cmd(f, WIN_READ);
	ata_devctl_write(&f->ch, ATA_SRST);
	fake_complete(f);
	ata_devctl_write(&f->ch, 0);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	fake_free(f);
}

/* ------------------------------------------------------------ bus glue ---------------------- */

static void test_traps(void **state)
{
	(void)state;
	struct fake *f = fake_new(SMALL, 0, false);
	uint8_t b = 0x42, id[512];
	assert_int_equal(ata_cmd_trap(&f->ch, ATA_REG_NSECT, &b, 1, true), 0);
	b = 0;
	assert_int_equal(ata_cmd_trap(&f->ch, ATA_REG_NSECT, &b, 1, false), 0);
	assert_int_equal(b, 0x42);
	assert_int_equal(ata_cmd_trap(&f->ch, ATA_REG_NSECT, &b, 2, false), -EINVAL);
	assert_int_equal(ata_ctl_trap(&f->ch, 0, &b, 2, false), -EINVAL);
	assert_int_equal(ata_ctl_trap(&f->ch, 0, &b, 1, false), 0);
	assert_int_equal(b, ready);
	/* One rep insw moves the whole block in one call. */
	b = WIN_IDENTIFY;
	ata_cmd_trap(&f->ch, ATA_REG_STATUS, &b, 1, true);
	assert_int_equal(ata_cmd_trap_rep(&f->ch, ATA_REG_DATA, id, 2, 256, false), 0);
	assert_int_equal(f->ch.stats.data_reads, 1);
	assert_int_equal(f->ch.stats.pio_bytes, 512);
	assert_int_equal(id[0], 0x40);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_on_and_srst_signature),
		cmocka_unit_test(test_absent_devices_read_zero),
		cmocka_unit_test(test_identify_device),
		cmocka_unit_test(test_identify_by_dwords),
		cmocka_unit_test(test_identify_packet_and_unknown_abort),
		cmocka_unit_test(test_read_sectors_per_block),
		cmocka_unit_test(test_write_sectors_per_block),
		cmocka_unit_test(test_multiple),
		cmocka_unit_test(test_lba48_and_hob),
		cmocka_unit_test(test_chs_and_init_params),
		cmocka_unit_test(test_flush_and_write_cache),
		cmocka_unit_test(test_set_features_transfer_mode),
		cmocka_unit_test(test_execute_device_diagnostic),
		cmocka_unit_test(test_status_acknowledges_alt_status_does_not),
		cmocka_unit_test(test_nien_masks_the_line),
		cmocka_unit_test(test_bad_lba_past_end),
		cmocka_unit_test(test_bad_zero_count_crossing_end),
		cmocka_unit_test(test_bad_data_read_before_drq),
		cmocka_unit_test(test_bad_command_while_busy),
		cmocka_unit_test(test_bad_write_to_readonly),
		cmocka_unit_test(test_engine_error),
		cmocka_unit_test(test_srst_with_request_in_flight),
		cmocka_unit_test(test_traps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
