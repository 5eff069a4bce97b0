/* SPDX-License-Identifier: MIT */
/*
 * fw_cfg against QEMU's docs/specs/fw_cfg.rst: the selector and data ports (signature, ID,
 * offsets, zeros past an item's end and for unknown keys, the write-channel bit ignored, data
 * writes ignored), the file directory (big-endian count, entries sorted by name, keys from
 * 0x20), and the DMA interface (select, read, skip, write refused; the control word written
 * back; requests and buffers outside RAM), with the widths the ports take.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dev/fw_cfg.h"
#include "fake_guest.h"

#define RAM   (4u << 20) /* the smallest fake guest */
#define REQ   0x1000	 /* where tests put an FWCfgDmaAccess */
#define BUF   0x2000	 /* and its buffer */
#define ABOVE (RAM + 0x1000)

struct fixture {
	struct fake_guest g;
	struct fw_cfg c;
};

static int setup(void **state)
{
	int ret = fake_guest_setup(state, RAM);
	if (ret)
		return ret;
	struct fake_guest *g = *state;
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->g = *g;
	free(g);
	*state = f;
	return fw_cfg_init(&f->c, &f->g.mem);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fw_cfg_destroy(&f->c);
	fake_guest_free(&f->g);
	free(f);
	return 0;
}

static int port(struct fw_cfg *c, unsigned off, void *data, unsigned len, bool write)
{
	return fw_cfg_trap(c, off, data, len, write);
}

static void select_key(struct fw_cfg *c, uint16_t key)
{
	uint16_t le = htole16(key);
	assert_int_equal(port(c, FW_CFG_SEL_OFF, &le, 2, true), 0);
}

static void read_data(struct fw_cfg *c, uint8_t *buf, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(port(c, FW_CFG_DATA_OFF, &buf[i], 1, false), 0);
}

/* Starts the DMA request at gpa: the high half at 0x514, the low half at 0x518 runs it. */
static void dma_go(struct fw_cfg *c, uint64_t gpa)
{
	uint32_t hi = htobe32((uint32_t)(gpa >> 32)), lo = htobe32((uint32_t)gpa);
	assert_int_equal(port(c, FW_CFG_DMA_OFF, &hi, 4, true), 0);
	assert_int_equal(port(c, FW_CFG_DMA_OFF + 4, &lo, 4, true), 0);
}

/* Writes an FWCfgDmaAccess at REQ, runs it, and returns the control word it left. */
static uint32_t dma(struct fixture *f, uint32_t control, uint32_t len, uint64_t addr)
{
	struct fw_cfg_dma_access a = {
		.control = htobe32(control), .length = htobe32(len), .address = htobe64(addr)};
	memcpy(f->g.ram + REQ, &a, sizeof(a));
	dma_go(&f->c, REQ);
	uint32_t done;
	memcpy(&done, f->g.ram + REQ, 4);
	return be32toh(done);
}

static void test_signature_and_id(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];
	select_key(&f->c, FW_CFG_SIGNATURE);
	read_data(&f->c, buf, 6);
	assert_memory_equal(buf, "QEMU\0\0", 6); /* 0 past the item's end */
	select_key(&f->c, FW_CFG_ID);
	uint32_t id;
	read_data(&f->c, (uint8_t *)&id, 4);
	assert_int_equal(le32toh(id), FW_CFG_VERSION | FW_CFG_VERSION_DMA);
	/* Selecting again rewinds; the write-channel bit changes nothing. */
	select_key(&f->c, FW_CFG_SIGNATURE | FW_CFG_WRITE_CHANNEL);
	read_data(&f->c, buf, 4);
	assert_memory_equal(buf, "QEMU", 4);
	/* The DMA address register reads the DMA signature, in bytes or dwords. */
	uint32_t hi, lo;
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF, &hi, 4, false), 0);
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF + 4, &lo, 4, false), 0);
	assert_int_equal(((uint64_t)be32toh(hi) << 32) | be32toh(lo), FW_CFG_DMA_SIGNATURE);
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF + 7, buf, 1, false), 0);
	assert_int_equal(buf[0], 'G');
}

static void test_rep_insb_matches_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t one[6], burst[6];
	select_key(&f->c, FW_CFG_SIGNATURE);
	read_data(&f->c, one, 3);
	assert_int_equal(fw_cfg_trap_rep(&f->c, FW_CFG_DATA_OFF, burst, 1, 3, false), 0);
	assert_memory_equal(burst, "U\0\0", 3); /* the burst went on from the same offset */
	select_key(&f->c, FW_CFG_SIGNATURE);
	assert_int_equal(fw_cfg_trap_rep(&f->c, FW_CFG_DATA_OFF, burst, 1, 6, false), 0);
	select_key(&f->c, FW_CFG_SIGNATURE);
	read_data(&f->c, one, 6);
	assert_memory_equal(burst, one, 6);
}

static void test_unknown_keys_read_zero(void **state)
{
	struct fixture *f = *state;
	static const uint16_t keys[] = {FW_CFG_UUID,
					FW_CFG_NB_CPUS,
					FW_CFG_FILE_FIRST,
					FW_CFG_FILE_FIRST + 31,
					0x3fff,
					FW_CFG_ARCH_LOCAL + 3,
					FW_CFG_ARCH_LOCAL + 0x100,
					FW_CFG_INVALID};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		uint8_t buf[16];
		memset(buf, 0xa5, sizeof(buf));
		select_key(&f->c, keys[k]);
		read_data(&f->c, buf, sizeof(buf));
		for (unsigned i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0);
	}
}

static void test_items_and_data_writes(void **state)
{
	struct fixture *f = *state;
	uint16_t cpus = htole16(3);
	assert_int_equal(fw_cfg_add(&f->c, FW_CFG_NB_CPUS, &cpus, 2), 0);
	uint8_t irq0 = 1;
	assert_int_equal(fw_cfg_add(&f->c, FW_CFG_IRQ0_OVERRIDE, &irq0, 1), 0);
	/* Data-port writes are ignored: the item is unchanged. */
	select_key(&f->c, FW_CFG_NB_CPUS);
	uint8_t junk = 0x77;
	assert_int_equal(port(&f->c, FW_CFG_DATA_OFF, &junk, 1, true), 0);
	select_key(&f->c, FW_CFG_NB_CPUS);
	uint8_t buf[3];
	read_data(&f->c, buf, 3);
	assert_memory_equal(buf, "\x03\x00\x00", 3);
	select_key(&f->c, FW_CFG_IRQ0_OVERRIDE);
	read_data(&f->c, buf, 2);
	assert_memory_equal(buf, "\x01\x00", 2);
	/* Keys that are not items of their own. */
	assert_int_equal(fw_cfg_add(&f->c, FW_CFG_FILE_DIR, &irq0, 1), -EINVAL);
	assert_int_equal(fw_cfg_add(&f->c, FW_CFG_FILE_FIRST, &irq0, 1), -EINVAL);
	assert_int_equal(fw_cfg_add(&f->c, FW_CFG_NB_CPUS | FW_CFG_WRITE_CHANNEL, &irq0, 1),
			 -EINVAL);
	assert_int_equal(fw_cfg_add(&f->c, FW_CFG_ARCH_LOCAL + FW_CFG_ARCH_KEYS, &irq0, 1),
			 -EINVAL);
}

static void test_file_directory(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(fw_cfg_add_file(&f->c, "etc/sercon-port", "\xf8\x03", 2),
			 FW_CFG_FILE_FIRST);
	assert_int_equal(fw_cfg_add_file(&f->c, "bootorder", "/pci@i0cf8/x", 12),
			 FW_CFG_FILE_FIRST + 1);
	assert_int_equal(fw_cfg_add_file(&f->c, "etc/e820", NULL, 0), FW_CFG_FILE_FIRST + 2);
	assert_int_equal(fw_cfg_add_file(&f->c, "bootorder", "x", 1), -EEXIST);
	char name[FW_CFG_MAX_FILE_PATH + 1];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	assert_int_equal(fw_cfg_add_file(&f->c, name, "x", 1), -EINVAL); /* 56 characters */
	name[FW_CFG_MAX_FILE_PATH - 1] = 0;
	assert_int_equal(fw_cfg_add_file(&f->c, name, "x", 1), FW_CFG_FILE_FIRST + 3);
	assert_int_equal(fw_cfg_add_file(&f->c, "", "x", 1), -EINVAL);

	select_key(&f->c, FW_CFG_FILE_DIR);
	uint32_t count;
	read_data(&f->c, (uint8_t *)&count, 4);
	assert_int_equal(be32toh(count), 4);
	static const struct {
		const char *name;
		uint32_t size;
		uint16_t key;
	} want[] = {{"bootorder", 12, FW_CFG_FILE_FIRST + 1},
		    {"etc/e820", 0, FW_CFG_FILE_FIRST + 2},
		    {"etc/sercon-port", 2, FW_CFG_FILE_FIRST},
		    {NULL, 1, FW_CFG_FILE_FIRST + 3}}; /* "nnn...", sorted last */
	for (unsigned i = 0; i < 4; i++) {
		struct fw_cfg_file e;
		read_data(&f->c, (uint8_t *)&e, sizeof(e));
		assert_string_equal(e.name, want[i].name ? want[i].name : name);
		assert_int_equal(be32toh(e.size), want[i].size);
		assert_int_equal(be16toh(e.select), want[i].key);
	}
	/* A file read by its key. */
	select_key(&f->c, FW_CFG_FILE_FIRST + 1);
	uint8_t buf[13];
	read_data(&f->c, buf, 13);
	assert_memory_equal(buf, "/pci@i0cf8/x\0", 13);
	/* The directory has room for FW_CFG_MAX_FILES. */
	for (unsigned i = 4; i < FW_CFG_MAX_FILES; i++) {
		char n[16];
		snprintf(n, sizeof(n), "opt/%u", i);
		assert_int_equal(fw_cfg_add_file(&f->c, n, "x", 1), (int)(FW_CFG_FILE_FIRST + i));
	}
	assert_int_equal(fw_cfg_add_file(&f->c, "one/too/many", "x", 1), -ENOSPC);
}

static void test_dma_select_read_skip(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(fw_cfg_add_file(&f->c, "opt/data", "0123456789", 10), FW_CFG_FILE_FIRST);
	memset(f->g.ram + BUF, 0xa5, 32);
	uint32_t sel = (uint32_t)FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_CTL_SELECT;
	/* Select and read 4, skip 3, read the rest and past the end: zeros, not stale bytes. */
	assert_int_equal(dma(f, sel | FW_CFG_DMA_CTL_READ, 4, BUF), 0);
	assert_memory_equal(f->g.ram + BUF, "0123", 4);
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_SKIP, 3, 0), 0);
	assert_int_equal(dma(f, FW_CFG_DMA_CTL_READ, 8, BUF + 4), 0);
	assert_memory_equal(f->g.ram + BUF, "0123789\0\0\0\0\0", 12);
	assert_int_equal(f->g.ram[BUF + 12], 0xa5); /* nothing beyond the length */
	/* The port interface sees the offset DMA left. */
	uint8_t b;
	read_data(&f->c, &b, 1);
	assert_int_equal(b, 0);
	assert_int_equal(f->c.stats.dma, 3);
	assert_int_equal(f->c.stats.dma_errors, 0);
	/* A read spanning the whole of RAM's end is refused whole. */
	assert_int_equal(dma(f, sel | FW_CFG_DMA_CTL_READ, 16, RAM - 8), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(f->g.ram[RAM - 8], 0xa5);
	assert_int_equal(f->c.stats.dma_errors, 1);
}

static void test_dma_write_refused(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(fw_cfg_add_file(&f->c, "etc/x", "abcd", 4), FW_CFG_FILE_FIRST);
	memcpy(f->g.ram + BUF, "WXYZ", 4);
	uint32_t sel = (uint32_t)FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_CTL_SELECT;
	assert_int_equal(dma(f, sel | FW_CFG_DMA_CTL_WRITE, 4, BUF), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(dma(f, sel | FW_CFG_DMA_CTL_READ, 4, BUF), 0);
	assert_memory_equal(f->g.ram + BUF, "abcd", 4);
}

/* A request outside RAM is dropped (there is nowhere to report it); the register then reads
 * 0 in its high half again, so the next operation's 32-bit address stands alone. */
static void test_dma_request_outside_ram(void **state)
{
	struct fixture *f = *state;
	uint8_t before[RAM / 1024];
	memcpy(before, f->g.ram, sizeof(before));
	dma_go(&f->c, ABOVE);
	dma_go(&f->c, (uint64_t)1 << 40);
	assert_int_equal(f->c.stats.dma, 2);
	assert_int_equal(f->c.stats.dma_errors, 2);
	assert_memory_equal(f->g.ram, before, sizeof(before));
	/* High half latched, then an operation: the next low half alone means high 0. */
	uint32_t hi = htobe32(1);
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF, &hi, 4, true), 0);
	uint32_t lo = htobe32(REQ);
	struct fw_cfg_dma_access a = {.control = htobe32(FW_CFG_DMA_CTL_SKIP)};
	memcpy(f->g.ram + REQ, &a, sizeof(a));
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF + 4, &lo, 4, true), 0); /* at 4 GiB + REQ */
	assert_int_equal(f->c.stats.dma_errors, 3);
	a.control = htobe32(FW_CFG_DMA_CTL_SKIP | FW_CFG_DMA_CTL_ERROR);
	memcpy(f->g.ram + REQ, &a, sizeof(a));
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF + 4, &lo, 4, true), 0); /* at REQ */
	uint32_t done;
	memcpy(&done, f->g.ram + REQ, 4);
	assert_int_equal(done, 0);
	assert_int_equal(f->c.stats.dma_errors, 3);
}

static void test_widths_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t b[8] = {0};
	assert_int_equal(port(&f->c, FW_CFG_SEL_OFF, b, 1, true), -EINVAL); /* 8-bit select */
	assert_int_equal(port(&f->c, FW_CFG_SEL_OFF, b, 2, false), -EINVAL);
	assert_int_equal(port(&f->c, FW_CFG_DATA_OFF, b, 2, false), -EINVAL);
	assert_int_equal(port(&f->c, 2, b, 1, false), -EINVAL); /* 0x512: nothing */
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF, b, 2, true), -EINVAL);
	assert_int_equal(port(&f->c, FW_CFG_DMA_OFF + 2, b, 4, true), -EINVAL);
	assert_int_equal(port(&f->c, FW_CFG_NR_PORTS - 1, b, 2, false), -EINVAL); /* past 0x51B */
	assert_int_equal(f->c.stats.refused, 6); /* the last one never reached the core */
	assert_int_equal(f->c.stats.dma, 0);
	/* Other string accesses are their elements one by one: `rep outsw` to the selector
	 * selects each key in turn, a burst of a refused width is refused. */
	uint16_t keys[2] = {htole16(FW_CFG_ID), htole16(FW_CFG_SIGNATURE)};
	assert_int_equal(fw_cfg_trap_rep(&f->c, FW_CFG_SEL_OFF, (uint8_t *)keys, 2, 2, true), 0);
	read_data(&f->c, b, 4);
	assert_memory_equal(b, "QEMU", 4);
	assert_int_equal(fw_cfg_trap_rep(&f->c, FW_CFG_DATA_OFF, b, 2, 2, false), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signature_and_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rep_insb_matches_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys_read_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_items_and_data_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_select_read_skip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_write_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_request_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_widths_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
