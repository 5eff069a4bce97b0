/* SPDX-License-Identifier: MIT */
/*
 * Bus-master IDE DMA (SFF-8038i) on the fake engine (fake_ata.h): the registers, transfers
 * through PRD tables in fake guest RAM (exact, longer than the transfer, 64 KiB entries, tiny
 * entries that need several engine requests cut at sector boundaries), the driver stopping the
 * engine or resetting the drive mid-transfer, and each bad table on its own: a buffer or the
 * table outside RAM, no EOT within the table's 64 KiB block, entries shorter than the transfer,
 * bus mastering off. A bad table is refused before any byte moves, with Error and Interrupt
 * set, Active clear and the command aborted; RAM outside the table stays as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "fake_ata.h"

#define DISK	  4096
#define TABLE	  (RAM_GPA + 0x10000) /* 64 KiB aligned */
#define BUF	  (RAM_GPA + 0x40000)
#define BUF2	  (RAM_GPA + 0x80000)
#define OFF(gpa)  ((size_t)((gpa)-RAM_GPA))
#define BM_FAILED (ATA_DMA_ERR | ATA_DMA_INTR)

static const uint8_t ready = ATA_DRDY | ATA_DSC;

static void put32(struct fake *f, uint64_t gpa, uint32_t v)
{
	memcpy(&f->ram[OFF(gpa)], &v, 4);
}

/* PRD entry i of the table at `table`; count 0x10000 is written as 0, as the format has it. */
static void prd(struct fake *f, uint64_t table, unsigned i, uint64_t addr, uint32_t count, bool eot)
{
	put32(f, table + 8 * i, (uint32_t)addr);
	put32(f, table + 8 * i + 4, (count & 0xffff) | (eot ? ATA_PRD_EOT : 0));
}

static void bm_write8(struct fake *f, unsigned off, uint8_t v)
{
	assert_int_equal(ata_bm_write(&f->ch, off, &v, 1), 0);
}

static uint8_t bm_status(struct fake *f)
{
	uint8_t v;
	assert_int_equal(ata_bm_read(&f->ch, ATA_DMA_STATUS, &v, 1), 0);
	return v;
}

static void bm_table(struct fake *f, uint64_t table)
{
	uint32_t v = (uint32_t)table;
	assert_int_equal(ata_bm_write(&f->ch, ATA_DMA_TABLE_OFS, (uint8_t *)&v, 4), 0);
}

/* Table, direction, the ATA command, then the start bit: Linux's order. */
static void dma(struct fake *f, uint64_t table, bool write, uint32_t lba, uint8_t n)
{
	bm_write8(f, ATA_DMA_CMD, 0);
	bm_write8(f, ATA_DMA_STATUS, ATA_DMA_ERR | ATA_DMA_INTR);
	bm_table(f, table);
	bm_write8(f, ATA_DMA_CMD, write ? 0 : ATA_DMA_WR);
	lba28(f, 0, lba, n);
	cmd(f, write ? WIN_WRITEDMA : WIN_READDMA);
	bm_write8(f, ATA_DMA_CMD, (write ? 0 : ATA_DMA_WR) | ATA_DMA_START);
}

static void check_ram(struct fake *f, uint64_t gpa, uint64_t sector, unsigned i, unsigned n)
{
	for (unsigned k = 0; k < n; k++, i++) {
		sector += i / ATA_SECTOR;
		i %= ATA_SECTOR;
		assert_int_equal(f->ram[OFF(gpa) + k], disk_byte(f, 0, sector, i));
	}
}

/* Every RAM byte but the table still has the fill: the device touched nothing. */
static void assert_ram_untouched(struct fake *f)
{
	for (size_t i = 0; i < RAM_SIZE; i++)
		if ((i < OFF(TABLE) || i >= OFF(TABLE) + ATA_PRD_TABLE_SPAN) &&
		    f->ram[i] != RAM_FILL)
			fail_msg("RAM byte 0x%zx written", i);
}

static void assert_dma_refused(struct fake *f)
{
	assert_int_equal(bm_status(f) & (BM_FAILED | ATA_DMA_ACTIVE), BM_FAILED);
	assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	assert_false(f->pending);
	assert_int_equal(f->submits, 0);
}

/* ------------------------------------------------------------ transfers --------------------- */

static void test_read_exact_table(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	prd(f, TABLE, 0, BUF, 1024, false);
	prd(f, TABLE, 1, BUF2, 512, true);
	bm_table(f, TABLE);
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_WR);
	lba28(f, 0, 40, 3);
	cmd(f, WIN_READDMA);
	/* Waiting for the start bit: DRQ (DMARQ), nothing with the engine yet. */
	assert_int_equal(ata_alt_status(&f->ch), ready | ATA_DRQ);
	assert_false(f->pending);
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_WR | ATA_DMA_START);
	assert_int_equal(bm_status(f) & ATA_DMA_ACTIVE, ATA_DMA_ACTIVE);
	assert_int_equal(ata_alt_status(&f->ch), ATA_DRDY | ATA_BUSY);
	assert_int_equal(f->last.type, VIRTIO_BLK_T_IN);
	assert_int_equal(f->last.sector, 40);
	assert_int_equal(f->last.len, 1536);
	assert_int_equal(f->last.niov, 2);
	fake_complete(f);
	/* The table is used up: Active clear, Interrupt set, no error. */
	assert_int_equal(bm_status(f) & 7, ATA_DMA_INTR);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(f->rises, 1);
	check_ram(f, BUF, 40, 0, 1024);
	check_ram(f, BUF2, 42, 0, 512);
	assert_int_equal(f->ram[OFF(BUF2) + 512], RAM_FILL);
	assert_int_equal(f->ram[OFF(BUF) + 1024], RAM_FILL);
	assert_int_equal(f->ch.stats.dma_bytes, 1536);
	fake_free(f);
}

static void test_write_with_start_before_command(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	memset(&f->ram[OFF(BUF)], 0x3c, 1024);
	prd(f, TABLE, 0, BUF, 1024, true);
	bm_table(f, TABLE);
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_START); /* some drivers start the engine first */
	lba28(f, 0, 60, 2);
	cmd(f, WIN_WRITEDMA);
	assert_true(f->pending);
	assert_int_equal(f->last.type, VIRTIO_BLK_T_OUT);
	fake_complete(f);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(f->store[0][60 * ATA_SECTOR + i], 0x3c);
	fake_free(f);
}

static void test_table_longer_than_transfer(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	/* One 4 KiB entry for one sector: a normal end with Active still set (SFF-8038i:
	 * Interrupt=1, Active=1), and nothing written past the sector. */
	prd(f, TABLE, 0, BUF, 4096, true);
	dma(f, TABLE, false, 3, 1);
	assert_int_equal(f->last.len, ATA_SECTOR);
	fake_complete(f);
	assert_int_equal(bm_status(f) & 7, ATA_DMA_INTR | ATA_DMA_ACTIVE);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	check_ram(f, BUF, 3, 0, ATA_SECTOR);
	for (unsigned i = ATA_SECTOR; i < 4096; i++)
		assert_int_equal(f->ram[OFF(BUF) + i], RAM_FILL);
	/* Entries covering the transfer before any EOT: the same. */
	prd(f, TABLE, 0, BUF, 512, false);
	prd(f, TABLE, 1, BUF2, 512, false);
	dma(f, TABLE, false, 4, 1);
	fake_complete(f);
	assert_int_equal(bm_status(f) & 7, ATA_DMA_INTR | ATA_DMA_ACTIVE);
	assert_int_equal(rd(f, ATA_REG_ERR), 0);
	fake_free(f);
}

static void test_64k_entries_lba48(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	/* A count field of 0 is 64 KiB: two of them carry 256 sectors. */
	prd(f, TABLE, 0, RAM_GPA + 0x100000, 0x10000, false);
	prd(f, TABLE, 1, RAM_GPA + 0x110000, 0x10000, true);
	bm_table(f, TABLE);
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_WR | ATA_DMA_START);
	lba48(f, 1000, 256);
	cmd(f, WIN_READDMA_EXT);
	assert_int_equal(f->last.sector, 1000);
	assert_int_equal(f->last.len, 0x20000);
	assert_int_equal(f->last.niov, 1); /* contiguous in host memory: one piece */
	fake_complete(f);
	assert_int_equal(bm_status(f) & 7, ATA_DMA_INTR);
	check_ram(f, RAM_GPA + 0x100000, 1000, 0, 0x20000);
	fake_free(f);
}

/* 255 two-byte entries 4 bytes apart, then 1024 and 514 bytes: 2048 bytes (4 sectors) whose
 * first BLK_MAX_IOV pieces end 510 bytes into a sector. */
static void tiny_table(struct fake *f)
{
	for (unsigned i = 0; i < 255; i++)
		prd(f, TABLE, i, BUF + 4 * i, 2, false);
	prd(f, TABLE, 255, BUF2, 1024, false);
	prd(f, TABLE, 256, BUF2 + 0x1000, 514, true);
}

static void test_chunks_end_on_sector_boundaries(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	tiny_table(f);
	dma(f, TABLE, false, 50, 4);
	/* 256 pieces hold 1534 bytes; the request is cut back to 1024 (two sectors). */
	assert_int_equal(f->last.sector, 50);
	assert_int_equal(f->last.len, 1024);
	assert_int_equal(f->last.niov, 256);
	fake_complete(f);
	assert_int_equal(f->last.sector, 52);
	assert_int_equal(f->last.len, 1024);
	assert_int_equal(f->last.niov, 2);
	fake_complete(f);
	assert_int_equal(f->submits, 2);
	assert_int_equal(bm_status(f) & 7, ATA_DMA_INTR);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	for (unsigned i = 0; i < 255; i++) {
		check_ram(f, BUF + 4 * i, 50, 2 * i, 2);
		assert_int_equal(f->ram[OFF(BUF) + 4 * i + 2], RAM_FILL);
	}
	check_ram(f, BUF2, 50, 510, 1024);
	check_ram(f, BUF2 + 0x1000, 52, 510, 514);
	assert_int_equal(f->ram[OFF(BUF2) + 0x1000 + 514], RAM_FILL);
	fake_free(f);
}

static void test_driver_stops_engine_midway(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	tiny_table(f);
	dma(f, TABLE, false, 50, 4);
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_WR); /* start cleared with a chunk in flight */
	assert_int_equal(bm_status(f) & ATA_DMA_ACTIVE, 0);
	fake_complete(f);
	assert_false(f->pending); /* nothing after the chunk in flight */
	assert_int_equal(f->submits, 1);
	assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_ABORTED);
	fake_free(f);
}

static void test_reset_midway(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	tiny_table(f);
	dma(f, TABLE, false, 50, 4);
	ata_devctl_write(&f->ch, ATA_SRST);
	assert_int_equal(bm_status(f) & ATA_DMA_ACTIVE, 0);
	ata_devctl_write(&f->ch, 0);
	assert_int_equal(ata_alt_status(&f->ch), ATA_BUSY | ATA_DSC);
	fake_complete(f);
	assert_false(f->pending);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(f->rises, 0);
	fake_free(f);
}

static void test_waiting_dma_holds_the_drive(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	prd(f, TABLE, 0, BUF, 512, true);
	bm_table(f, TABLE);
	lba28(f, 0, 1, 1);
	cmd(f, WIN_READDMA);
	cmd(f, WIN_IDENTIFY); /* DRQ: ignored */
	assert_int_equal(f->ch.stats.commands, 1);
	assert_int_equal(ata_alt_status(&f->ch), ready | ATA_DRQ);
	ata_devctl_write(&f->ch, ATA_SRST);
	ata_devctl_write(&f->ch, 0);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	/* The reset dropped the command: starting the engine now moves nothing. */
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_WR | ATA_DMA_START);
	assert_false(f->pending);
	assert_int_equal(rd(f, ATA_REG_STATUS), ready);
	assert_int_equal(bm_status(f) & (ATA_DMA_ERR | ATA_DMA_INTR), 0);
	assert_ram_untouched(f);
	fake_free(f);
}

static void test_engine_error_is_the_drives(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	prd(f, TABLE, 0, BUF, 512, true);
	dma(f, TABLE, false, 7, 1);
	f->fail_next = true;
	fake_complete(f);
	assert_int_equal(rd(f, ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
	assert_int_equal(rd(f, ATA_REG_ERR), ATA_UNC);
	assert_int_equal(bm_status(f) & ATA_DMA_ERR, 0); /* the controller did its part */
	fake_free(f);
}

/* ------------------------------------------------------------ bad tables -------------------- */

static void test_bad_buffer_outside_ram(void **state)
{
	(void)state;
	static const struct {
		uint64_t addr;
		uint32_t len;
	} cases[] = {
		{RAM_GPA + RAM_SIZE - 256, 512}, /* straddles the end of RAM */
		{0xf0000000, 512},		 /* the MMIO hole */
		{0, 512},			 /* below RAM */
		{0xfffffffe, 0x10000},		 /* wraps past 4 GiB */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake *f = fake_new(DISK, 0, false);
		prd(f, TABLE, 0, BUF, 512, false);
		prd(f, TABLE, 1, cases[i].addr, cases[i].len, true);
		dma(f, TABLE, false, 0, 2);
		assert_dma_refused(f);
		assert_ram_untouched(f);
		fake_free(f);
	}
}

static void test_bad_table_outside_ram(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	dma(f, 0xfec00000, false, 0, 1); /* the I/O APIC */
	assert_dma_refused(f);
	assert_ram_untouched(f);
	fake_free(f);
	/* The table runs off the end of RAM before its EOT. */
	f = fake_new(DISK, 0, false);
	uint64_t last = RAM_GPA + RAM_SIZE - 8;
	prd(f, last, 0, BUF, 2, false);
	dma(f, last, false, 0, 1);
	assert_dma_refused(f);
	fake_free(f);
}

static void test_bad_table_without_eot(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	/* Two entries before the 64 KiB boundary, no EOT, less than the transfer. */
	uint64_t near_end = TABLE + ATA_PRD_TABLE_SPAN - 16;
	prd(f, near_end, 0, BUF, 2, false);
	prd(f, near_end, 1, BUF, 2, false);
	dma(f, near_end, false, 0, 1);
	assert_dma_refused(f);
	fake_free(f);
	/* A whole 64 KiB of entries without EOT: 8192 x 2 bytes cannot carry 32 KiB. The walk
	 * stops at the boundary (the next block holds plausible entries too). */
	f = fake_new(DISK, 0, false);
	for (unsigned i = 0; i < 2 * ATA_PRD_MAX_ENTRIES; i++)
		prd(f, TABLE, i, BUF, 2, false);
	dma(f, TABLE, false, 0, 64);
	assert_dma_refused(f);
	assert_int_equal(f->ch.stats.dma_errors, 1);
	fake_free(f);
}

static void test_bad_table_shorter_than_transfer(void **state)
{
	(void)state;
	for (int write = 0; write < 2; write++) {
		struct fake *f = fake_new(DISK, 0, false);
		prd(f, TABLE, 0, BUF, 512, false);
		prd(f, TABLE, 1, BUF2, 510, true); /* 1022 bytes for 1024 */
		dma(f, TABLE, write, 30, 2);
		assert_dma_refused(f);
		assert_ram_untouched(f);
		assert_int_equal(f->store[0][30 * ATA_SECTOR], pattern(0, 30, 0));
		/* The same drive works after it. */
		prd(f, TABLE, 1, BUF2, 512, true);
		dma(f, TABLE, write, 30, 2);
		assert_true(f->pending);
		fake_free(f);
	}
}

static void test_bad_bus_master_disabled(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	ata_bm_set_master(&f->ch, false);
	prd(f, TABLE, 0, BUF, 512, true);
	dma(f, TABLE, false, 0, 1);
	assert_dma_refused(f);
	fake_free(f);
}

/* ------------------------------------------------------------ registers --------------------- */

static void test_bm_registers(void **state)
{
	(void)state;
	struct fake *f = fake_new(DISK, 0, false);
	uint8_t b[4];
	assert_int_equal(ata_bm_read(&f->ch, 1, b, 1), -EINVAL); /* reserved */
	assert_int_equal(ata_bm_read(&f->ch, 3, b, 1), -EINVAL);
	assert_int_equal(ata_bm_read(&f->ch, 0, b, 2), -EINVAL);
	assert_int_equal(ata_bm_read(&f->ch, 4, b, 3), -EINVAL);
	assert_int_equal(ata_bm_read(&f->ch, 6, b, 4), -EINVAL);
	/* The table address is dword aligned; any width inside it works. */
	bm_table(f, 0x12345677);
	uint32_t v;
	assert_int_equal(ata_bm_read(&f->ch, 4, (uint8_t *)&v, 4), 0);
	assert_int_equal(v, 0x12345674);
	b[0] = 0xab;
	assert_int_equal(ata_bm_write(&f->ch, 6, b, 1), 0);
	assert_int_equal(ata_bm_read(&f->ch, 4, (uint8_t *)&v, 4), 0);
	assert_int_equal(v, 0x12ab5674);
	/* Status: Active is read-only, Error and Interrupt clear by writing 1, the drive-capable
	 * bits are the driver's. */
	bm_write8(f, ATA_DMA_STATUS, 0xff);
	assert_int_equal(bm_status(f), ATA_DMA_DRV_CAP);
	lba28(f, 0, 0, 1);
	ata_bm_set_master(&f->ch, false);
	bm_write8(f, ATA_DMA_CMD, ATA_DMA_START);
	cmd(f, WIN_READDMA); /* fails: Error and Interrupt set */
	assert_int_equal(bm_status(f), ATA_DMA_DRV_CAP | ATA_DMA_ERR | ATA_DMA_INTR);
	bm_write8(f, ATA_DMA_STATUS, ATA_DMA_ERR | ATA_DMA_DRV_CAP);
	assert_int_equal(bm_status(f), ATA_DMA_DRV_CAP | ATA_DMA_INTR);
	/* The direction cannot change while started; the command reads bits 0 and 3 only. */
	bm_write8(f, ATA_DMA_CMD, 0xff);
	assert_int_equal(ata_bm_read(&f->ch, ATA_DMA_CMD, b, 1), 0);
	assert_int_equal(b[0], ATA_DMA_START);
	bm_write8(f, ATA_DMA_CMD, 0);
	bm_write8(f, ATA_DMA_CMD, 0xff);
	assert_int_equal(ata_bm_read(&f->ch, ATA_DMA_CMD, b, 1), 0);
	assert_int_equal(b[0], ATA_DMA_START | ATA_DMA_WR);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_exact_table),
		cmocka_unit_test(test_write_with_start_before_command),
		cmocka_unit_test(test_table_longer_than_transfer),
		cmocka_unit_test(test_64k_entries_lba48),
		cmocka_unit_test(test_chunks_end_on_sector_boundaries),
		cmocka_unit_test(test_driver_stops_engine_midway),
		cmocka_unit_test(test_reset_midway),
		cmocka_unit_test(test_waiting_dma_holds_the_drive),
		cmocka_unit_test(test_engine_error_is_the_drives),
		cmocka_unit_test(test_bad_buffer_outside_ram),
		cmocka_unit_test(test_bad_table_outside_ram),
		cmocka_unit_test(test_bad_table_without_eot),
		cmocka_unit_test(test_bad_table_shorter_than_transfer),
		cmocka_unit_test(test_bad_bus_master_disabled),
		cmocka_unit_test(test_bm_registers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
