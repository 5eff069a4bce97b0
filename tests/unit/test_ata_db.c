/* SPDX-License-Identifier: MIT */
/*
 * The command doorbells' meaning (ata_db.c) on the fake engine (fake_ata.h): which writes a
 * doorbell swallows and which still exit (the DMA opcodes on the command register, start and
 * stop in either direction on the bus-master command register, one byte wide; nothing else),
 * and what the counts of one read do: the same as the writes made as exits in a rule-abiding
 * driver's order (stops, then the command, then the start), each value once, with a read
 * whose order is open counted as ambiguous.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fake_ata.h"

#define DISK	 4096
#define TABLE	 (RAM_GPA + 0x10000)
#define BUF	 (RAM_GPA + 0x40000)
#define OFF(gpa) ((size_t)((gpa)-RAM_GPA))

static const uint8_t ready = ATA_DRDY | ATA_DSC;

/* ------------------------------------------------------------ the decode -------------------- */

static void test_swallowed_values(void **state)
{
	(void)state;
	static const uint8_t cmds[] = {WIN_READDMA, WIN_READDMA_EXT, WIN_WRITEDMA,
				       WIN_WRITEDMA_EXT};
	static const uint8_t bm[] = {0x00, 0x08, 0x01, 0x09};
	unsigned seen = 0;
	for (unsigned i = 0; i < sizeof(cmds); i++) {
		int k = ata_db_find(ATA_DB_CMD, ATA_REG_STATUS, 1, cmds[i]);
		assert_true(k >= 0);
		seen |= 1u << k;
	}
	for (unsigned i = 0; i < sizeof(bm); i++) {
		int k = ata_db_find(ATA_DB_BM, ATA_DMA_CMD, 1, bm[i]);
		assert_true(k >= 0);
		seen |= 1u << k;
	}
	assert_int_equal(seen, (1u << ATA_DB_VALUES) - 1); /* eight values, eight eventfds */
}

static void test_other_writes_exit(void **state)
{
	(void)state;
	unsigned swallowed = 0;
	/* Every byte value at every register of both blocks: only the eight above. */
	for (unsigned off = 0; off < 8; off++)
		for (unsigned v = 0; v < 256; v++)
			swallowed += (ata_db_find(ATA_DB_CMD, off, 1, v) >= 0) +
				     (ata_db_find(ATA_DB_BM, off, 1, v) >= 0);
	assert_int_equal(swallowed, ATA_DB_VALUES);
	/* The PIO and non-data commands exit: their status read follows at once. */
	static const uint8_t exit_cmds[] = {WIN_READ,	     WIN_WRITE,	       WIN_MULTREAD_EXT,
					    WIN_IDENTIFY,    WIN_SETMULT,      WIN_FLUSH_CACHE,
					    WIN_SETFEATURES, WIN_READDMA_ONCE, 0x00};
	for (unsigned i = 0; i < sizeof(exit_cmds); i++)
		assert_int_equal(ata_db_find(ATA_DB_CMD, ATA_REG_STATUS, 1, exit_cmds[i]), -1);
	/* Reserved bits of the bus-master command, a DMA opcode elsewhere, other widths. */
	assert_int_equal(ata_db_find(ATA_DB_BM, ATA_DMA_CMD, 1, 0x81), -1);
	assert_int_equal(ata_db_find(ATA_DB_BM, ATA_DMA_CMD, 1, 0x05), -1);
	assert_int_equal(ata_db_find(ATA_DB_BM, ATA_DMA_STATUS, 1, 0x01), -1);
	assert_int_equal(ata_db_find(ATA_DB_CMD, ATA_REG_DEVICE, 1, WIN_READDMA), -1);
	assert_int_equal(ata_db_find(ATA_DB_BM, ATA_REG_STATUS, 1, WIN_READDMA), -1);
	assert_int_equal(ata_db_find(ATA_DB_CMD, ATA_REG_STATUS, 2, WIN_READDMA), -1);
	assert_int_equal(ata_db_find(ATA_DB_BM, ATA_DMA_CMD, 2, 0x01), -1);
	assert_int_equal(ata_db_find(ATA_DB_BM, ATA_DMA_CMD, 4, 0x09), -1);
}

/* ------------------------------------------------------------ applying counts --------------- */

static void put32(struct fake *f, uint64_t gpa, uint32_t v)
{
	memcpy(&f->ram[OFF(gpa)], &v, 4);
}

static void bm_write8(struct fake *f, unsigned off, uint8_t v)
{
	assert_int_equal(ata_bm_write(&f->ch, off, &v, 1), 0);
}

static uint8_t bm_read8(struct fake *f, unsigned off)
{
	uint8_t v;
	assert_int_equal(ata_bm_read(&f->ch, off, &v, 1), 0);
	return v;
}

/* What the coalesced ring holds before the doorbells: the table and the task file. */
static void ring_part(struct fake *f, uint32_t lba, uint8_t n)
{
	put32(f, TABLE, (uint32_t)BUF);
	put32(f, TABLE + 4, (n * ATA_SECTOR) | ATA_PRD_EOT);
	uint32_t t = (uint32_t)TABLE;
	assert_int_equal(ata_bm_write(&f->ch, ATA_DMA_TABLE_OFS, (uint8_t *)&t, 4), 0);
	lba28(f, 0, lba, n);
}

static void apply(struct fake *f, unsigned i, uint64_t n)
{
	uint64_t count[ATA_DB_VALUES] = {0};
	count[i] = n;
	ata_db_apply(&f->ch, count);
}

/* The steady state of the guest's driver: direction (a stop), command, start in one read;
 * the read of a later exit then sees the transfer under way; the stop after it completes. */
static void test_one_read_runs_the_command(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	ring_part(f, 40, 2);
	uint64_t count[ATA_DB_VALUES] = {0};
	count[ATA_DB_STOP_WR] = 1;
	count[ATA_DB_READ_DMA] = 1;
	count[ATA_DB_START_WR] = 1;
	ata_db_apply(&f->ch, count);
	assert_true(f->pending);
	assert_int_equal(f->last.type, VIRTIO_BLK_T_IN);
	assert_int_equal(f->last.sector, 40);
	assert_int_equal(f->last.len, 2 * ATA_SECTOR);
	assert_int_equal(ata_alt_status(&f->ch), ATA_DRDY | ATA_BUSY);
	assert_int_equal(bm_read8(f, ATA_DMA_CMD), ATA_DMA_WR | ATA_DMA_START);
	fake_complete(f);
	assert_int_equal(bm_read8(f, ATA_DMA_STATUS) & 7, ATA_DMA_INTR);
	apply(f, ATA_DB_STOP_WR, 1);
	assert_int_equal(bm_read8(f, ATA_DMA_CMD), ATA_DMA_WR);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(f->ram[OFF(BUF)], disk_byte(f, 0, 40, 0));
	assert_int_equal(f->ch.stats.db_commands, 1);
	assert_int_equal(f->ch.stats.db_starts, 1);
	assert_int_equal(f->ch.stats.db_stops, 2);
	assert_int_equal(f->ch.stats.db_ambiguous, 0);
	assert_int_equal(f->ch.stats.commands, 1);
	fake_free(f);
}

/* The previous command's stop and the next one's command and start in one read: the stop
 * goes first (a stop after the start would have needed a status read between). */
static void test_stop_applies_before_start(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	ring_part(f, 10, 1);
	cmd(f, WIN_WRITEDMA);
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_START);
	fake_complete(f);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	/* Start still set: the stop of that command was swallowed, not yet read. */
	assert_int_equal(bm_read8(f, ATA_DMA_CMD), ATA_DMA_START);
	ring_part(f, 11, 1);
	uint64_t count[ATA_DB_VALUES] = {0};
	count[ATA_DB_STOP] = 1;
	count[ATA_DB_WRITE_DMA] = 1;
	count[ATA_DB_START] = 1;
	ata_db_apply(&f->ch, count);
	assert_true(f->pending); /* a new transfer: start met a stopped engine */
	assert_int_equal(f->last.sector, 11);
	assert_int_equal(f->ch.stats.db_ambiguous, 0);
	fake_complete(f);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	fake_free(f);
}

/* A start before the command (some drivers' order) comes to the same. */
static void test_start_then_command(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	ring_part(f, 7, 1);
	apply(f, ATA_DB_START_WR, 1);
	assert_false(f->pending);
	assert_int_equal(bm_read8(f, ATA_DMA_STATUS) & ATA_DMA_ACTIVE, ATA_DMA_ACTIVE);
	apply(f, ATA_DB_READ_DMA, 1);
	assert_true(f->pending);
	assert_int_equal(f->last.sector, 7);
	fake_free(f);
}

/* Repeats: once per value is the whole effect. A second command meets BSY (ignored as an
 * exit would be), but two commands in one read are counted as ambiguous. */
static void test_repeats_and_ambiguous_reads(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	ring_part(f, 3, 1);
	uint64_t count[ATA_DB_VALUES] = {0};
	count[ATA_DB_READ_DMA] = 3;
	count[ATA_DB_START_WR] = 1000000; /* a storm: applied once, not a million times */
	ata_db_apply(&f->ch, count);
	assert_int_equal(f->submits, 1);
	assert_int_equal(f->ch.stats.commands, 1);
	assert_int_equal(f->ch.stats.ignored, 0); /* applied once, not met again by BSY */
	assert_int_equal(f->ch.stats.db_commands, 3);
	assert_int_equal(f->ch.stats.db_starts, 1000000);
	assert_int_equal(f->ch.stats.db_ambiguous, 1);
	fake_complete(f);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	/* Both stop values: ambiguous (which direction was last is open). */
	memset(count, 0, sizeof(count));
	count[ATA_DB_STOP] = count[ATA_DB_STOP_WR] = 1;
	ata_db_apply(&f->ch, count);
	assert_int_equal(bm_read8(f, ATA_DMA_CMD) & ATA_DMA_START, 0);
	assert_int_equal(f->ch.stats.db_ambiguous, 2);
	/* Nothing counted: nothing happens. */
	memset(count, 0, sizeof(count));
	ata_db_apply(&f->ch, count);
	assert_int_equal(f->ch.stats.db_ambiguous, 2);
	assert_int_equal(f->submits, 1);
	fake_free(f);
}

/* A doorbelled command goes through the same checks as an exiting one: past the end it fails
 * with IDNF and its interrupt, nothing moves. A stop mid-transfer aborts after the chunk in
 * flight. */
static void test_same_checks_as_an_exit(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	ring_part(f, DISK, 1);
	apply(f, ATA_DB_WRITE_DMA, 1);
	apply(f, ATA_DB_START, 1);
	assert_false(f->pending);
	assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_IDNF);
	assert_int_equal(f->rises, 1);
	apply(f, ATA_DB_STOP, 1);
	bm_write8(f, ATA_DMA_STATUS, ATA_DMA_INTR | ATA_DMA_ERR);

	/* A stop read while the chunk is with the engine: it finishes, nothing follows, the
	 * command ends aborted, as with an exiting stop (test_ata_dma.c). */
	ring_part(f, 100, 8);
	uint64_t count[ATA_DB_VALUES] = {0};
	count[ATA_DB_READ_DMA] = count[ATA_DB_START_WR] = 1;
	ata_db_apply(&f->ch, count);
	assert_true(f->pending);
	apply(f, ATA_DB_STOP_WR, 1);
	assert_int_equal(bm_read8(f, ATA_DMA_STATUS) & ATA_DMA_ACTIVE, 0);
	fake_complete(f);
	assert_false(f->pending);
	assert_int_equal(f->submits, 1);
	assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swallowed_values),
		cmocka_unit_test(test_other_writes_exit),
		cmocka_unit_test(test_one_read_runs_the_command),
		cmocka_unit_test(test_stop_applies_before_start),
		cmocka_unit_test(test_start_then_command),
		cmocka_unit_test(test_repeats_and_ambiguous_reads),
		cmocka_unit_test(test_same_checks_as_an_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
