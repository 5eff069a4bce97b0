/* SPDX-License-Identifier: MIT */
/*
 * PCI config space and the host bridge, against PCI Local Bus Specification 3.0: mechanism #1
 * through ports 0xCF8-0xCFF (3.2.2.3.2), master aborts reading all ones, BAR sizing (6.2.5.1),
 * command/status semantics (6.2.2, 6.2.3), and the PIIX/ICH reset control byte at 0xCF9.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "dev/i440fx.h"
#include "dev/pci.h"

/* What a test device's callbacks saw. */
struct written {
	unsigned calls, off, len;
	unsigned io_calls, io_len; /* its I/O BAR's accesses */
	uint64_t io_off;
	bool io_write;
};

static int on_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct written *w = opaque;
	w->io_calls++;
	w->io_off = off;
	w->io_len = len;
	w->io_write = is_write;
	if (!is_write)
		memset(data, 0x3c, len);
	return 0;
}

/* An access to port `port` through the host's I/O window. */
static int io_access(struct pci_host *h, unsigned port, unsigned len, bool is_write)
{
	uint8_t buf[4] = {0};
	return pci_host_io_trap(h, port - PCI_IO_WINDOW, buf, len, is_write);
}

static void on_config_written(struct pci_dev *d, unsigned off, unsigned len)
{
	struct written *w = d->opaque;
	w->calls++;
	w->off = off;
	w->len = len;
}

static void on_reset(void *ctx)
{
	unsigned *resets = ctx;
	(*resets)++;
}

static uint32_t cfg_address(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return PCI_CONFIG_ENABLE | bus << 16 | dev << 11 | fn << 8 | reg;
}

static int port_write(struct pci_host *h, unsigned port, unsigned len, uint32_t val)
{
	uint8_t buf[4];
	memcpy(buf, &val, sizeof(buf)); /* x86 is little endian, as the config space */
	if (port >= PCI_HOST_DATA_PORT)
		return pci_host_data_trap(h, port - PCI_HOST_DATA_PORT, buf, len, true);
	return pci_host_addr_trap(h, port - PCI_HOST_ADDR_PORT, buf, len, true);
}

/* Reads len bytes; a refused access leaves the 0x5a fill, so callers also check the result. */
static uint32_t port_read_ret(struct pci_host *h, unsigned port, unsigned len, int *ret)
{
	uint8_t buf[4];
	memset(buf, 0x5a, sizeof(buf));
	if (port >= PCI_HOST_DATA_PORT)
		*ret = pci_host_data_trap(h, port - PCI_HOST_DATA_PORT, buf, len, false);
	else
		*ret = pci_host_addr_trap(h, port - PCI_HOST_ADDR_PORT, buf, len, false);
	uint32_t val = 0;
	memcpy(&val, buf, len);
	return val;
}

static uint32_t port_read(struct pci_host *h, unsigned port, unsigned len)
{
	int ret;
	uint32_t val = port_read_ret(h, port, len, &ret);
	assert_int_equal(ret, 0);
	return val;
}

/* One config read through the ports, as a guest does it. */
static uint32_t cfg_read(struct pci_host *h, unsigned dev, unsigned reg, unsigned len)
{
	assert_int_equal(port_write(h, PCI_HOST_ADDR_PORT, 4, cfg_address(0, dev, 0, reg & 0xfc)),
			 0);
	return port_read(h, PCI_HOST_DATA_PORT + (reg & 3), len);
}

static void cfg_write(struct pci_host *h, unsigned dev, unsigned reg, unsigned len, uint32_t val)
{
	assert_int_equal(port_write(h, PCI_HOST_ADDR_PORT, 4, cfg_address(0, dev, 0, reg & 0xfc)),
			 0);
	assert_int_equal(port_write(h, PCI_HOST_DATA_PORT + (reg & 3), len, val), 0);
}

/* A device with every BAR kind, plugged in at slot 3. */
static void setup_dev(struct pci_host *h, struct pci_dev *d, struct written *w)
{
	pci_host_init(h, NULL, NULL);
	pci_dev_init(d, 0x1af4, 0x1041, 0x020000, 0x01);
	assert_int_equal(pci_dev_set_bar(d, 0, 0x1000, PCI_BAR_MEM32), 0);
	assert_int_equal(pci_dev_set_bar(d, 1, 1 << 20, PCI_BAR_MEM32 | PCI_BAR_PREFETCH), 0);
	assert_int_equal(pci_dev_set_bar(d, 2, 0x20, PCI_BAR_IO), 0);
	assert_int_equal(pci_dev_set_bar(d, 3, 0x4000, PCI_BAR_MEM64), 0);
	d->opaque = w;
	d->config_written = on_config_written;
	memset(w, 0, sizeof(*w));
	assert_int_equal(pci_host_add(h, d, 3), 3);
}

/* The host bridge's type-0 header as the spec fixes it after reset: vendor 8086 (Intel), device
 * 0D57, revision 0; class code 06/00/00 (base class bridge, subclass host, interface 0, PCI Code
 * and ID Assignment); header type 00 (type 0, single function); command 0000 (6.2.2: reset
 * disconnects the device from everything but config cycles); status 0000 (no capability list,
 * no error latched); no BARs, no ROM, no interrupt pin: zeros. */
static const uint8_t bridge_header[0x40] = {
	[0x00] = 0x86, [0x01] = 0x80, [0x02] = 0x57, [0x03] = 0x0d, /* vendor, device */
	[0x0b] = 0x06,						    /* base class: bridge */
};

/* Bytes off..off+len-1 of a little-endian table, as a config read of that width returns them. */
static uint32_t lanes(const uint8_t *t, unsigned off, unsigned len)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)t[off + i] << (8 * i);
	return v;
}

/* Every dword of the header read as a dword, as each naturally aligned word and byte, and as
 * the word at 0xCFD (byte enables 0110: 3.2.2.3.2 translates any access inside CONFIG_DATA),
 * against the values above, not against another read. */
static void test_host_bridge_header_at_each_width(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	static const unsigned acc[][2] = {{0, 4}, {0, 2}, {2, 2}, {1, 2},
					  {0, 1}, {1, 1}, {2, 1}, {3, 1}};
	for (unsigned reg = 0; reg < sizeof(bridge_header); reg += 4)
		for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++)
			assert_int_equal(cfg_read(&h, 0, reg + acc[i][0], acc[i][1]),
					 lanes(bridge_header, reg + acc[i][0], acc[i][1]));
	/* The same through the function-level entry point. */
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_VENDOR_ID, 4), 0x0d578086);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_CLASS_REVISION, 4), 0x06000000);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_VENDOR_ID + 1, 2), 0x5780);
	pci_host_destroy(&h);
}

/* 6.2.5.1: software sizes a BAR by writing all ones and reading back the size mask with the
 * flag bits; an unimplemented BAR reads 0 however it is written. Writing all ones a byte, a
 * word or a dword at a time sets the same bits. */
static void test_bar_sizing_at_each_width(void **state)
{
	(void)state;
	struct pci_host h;
	struct pci_dev d;
	struct written w;
	for (unsigned len = 1; len <= 4; len *= 2) {
		setup_dev(&h, &d, &w);
		for (unsigned bar = 0; bar < PCI_NR_BARS; bar++)
			for (unsigned b = 0; b < 4; b += len)
				cfg_write(&h, 0, PCI_BASE_ADDRESS_0 + 4 * bar + b, len, 0xffffffff);
		for (unsigned bar = 0; bar < PCI_NR_BARS; bar++)
			for (unsigned b = 0; b < 4; b += len)
				assert_int_equal(
					cfg_read(&h, 0, PCI_BASE_ADDRESS_0 + 4 * bar + b, len), 0);
		/* Slot 3: BAR 0 is 4 KiB of 32-bit memory, BAR 2 32 bytes of I/O space. */
		for (unsigned b = 0; b < 4; b += len) {
			cfg_write(&h, 3, PCI_BASE_ADDRESS_0 + b, len, 0xffffffff);
			cfg_write(&h, 3, PCI_BASE_ADDRESS_2 + b, len, 0xffffffff);
		}
		static const uint8_t bar0[4] = {0x00, 0xf0, 0xff, 0xff},
				     bar2[4] = {0xe1, 0xff, 0xff, 0xff};
		for (unsigned rlen = 1; rlen <= 4; rlen *= 2)
			for (unsigned b = 0; b < 4; b += rlen) {
				assert_int_equal(cfg_read(&h, 3, PCI_BASE_ADDRESS_0 + b, rlen),
						 lanes(bar0, b, rlen));
				assert_int_equal(cfg_read(&h, 3, PCI_BASE_ADDRESS_2 + b, rlen),
						 lanes(bar2, b, rlen));
			}
		/* Command and status of a device out of reset: all zero, at every width. */
		assert_int_equal(cfg_read(&h, 3, PCI_COMMAND, 4), 0);
		assert_int_equal(cfg_read(&h, 3, PCI_STATUS, 2), 0);
		assert_int_equal(cfg_read(&h, 3, PCI_COMMAND + 1, 1), 0);
		pci_host_destroy(&h);
	}
}

static void test_absent_targets_read_all_ones(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	static const unsigned targets[][3] = {
		{0, 1, 0}, {0, 31, 0}, {0, 0, 1}, {0, 0, 7}, {1, 0, 0}, {255, 0, 0},
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		unsigned bus = targets[i][0], dev = targets[i][1], fn = targets[i][2];
		assert_int_equal(
			port_write(&h, PCI_HOST_ADDR_PORT, 4, cfg_address(bus, dev, fn, 0)), 0);
		assert_int_equal(port_read(&h, PCI_HOST_DATA_PORT, 4), 0xffffffff);
		assert_int_equal(port_read(&h, PCI_HOST_DATA_PORT + 2, 2), 0xffff);
		assert_int_equal(port_read(&h, PCI_HOST_DATA_PORT + 3, 1), 0xff);
		/* A write is dropped, not sent to the bridge at 00:00.0. */
		assert_int_equal(port_write(&h, PCI_HOST_DATA_PORT, 4, 0), 0);
		assert_int_equal(pci_host_cfg_read(&h, bus, dev, fn, 0, 4), 0xffffffff);
	}
	assert_int_equal(cfg_read(&h, 0, PCI_VENDOR_ID, 4), 0x0d578086); /* the bridge answers */
	pci_host_destroy(&h);
}

static void test_config_address_reads_back(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	assert_int_equal(port_read(&h, PCI_HOST_ADDR_PORT, 4), 0);
	uint32_t a = cfg_address(0x12, 0x1f, 5, 0xfc);
	assert_int_equal(port_write(&h, PCI_HOST_ADDR_PORT, 4, a), 0);
	assert_int_equal(port_read(&h, PCI_HOST_ADDR_PORT, 4), a);
	assert_int_equal(port_write(&h, PCI_HOST_ADDR_PORT, 4, 0x00001234 & ~3u), 0);
	assert_int_equal(port_read(&h, PCI_HOST_ADDR_PORT, 4), 0x00001234 & ~3u);
	pci_host_destroy(&h);
}

/* 3.2.2.3.2: "Bits 30 to 24 are reserved, read-only, and must return 0's when read ... Bits 1
 * and 0 are read-only and must return 0's when read." */
static void test_config_address_reserved_bits_read_zero(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	assert_int_equal(port_write(&h, PCI_HOST_ADDR_PORT, 4, 0xffffffff), 0);
	assert_int_equal(port_read(&h, PCI_HOST_ADDR_PORT, 4), 0x80fffffc);
	pci_host_destroy(&h);
}

/* Only a whole-dword access at 0xCF8 is CONFIG_ADDRESS; others leave it alone. */
static void test_non_dword_address_access_ignored(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	uint32_t a = cfg_address(0, 2, 0, 0x10);
	assert_int_equal(port_write(&h, PCI_HOST_ADDR_PORT, 4, a), 0);
	int ret;
	static const unsigned acc[][2] = {{0xcf8, 1}, {0xcf8, 2}, {0xcfa, 1}, {0xcfa, 2},
					  {0xcfb, 1}, {0xcf9, 2}, {0xcf9, 4}};
	for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++) {
		assert_int_equal(port_write(&h, acc[i][0], acc[i][1], 0), -EINVAL);
		port_read_ret(&h, acc[i][0], acc[i][1], &ret);
		assert_int_equal(ret, -EINVAL);
	}
	assert_int_equal(port_read(&h, PCI_HOST_ADDR_PORT, 4), a);
	pci_host_destroy(&h);
}

static void test_data_port_without_enable_not_handled(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	assert_int_equal(port_write(&h, PCI_HOST_ADDR_PORT, 4, PCI_INTERRUPT_LINE & 0xfc), 0);
	int ret;
	port_read_ret(&h, PCI_HOST_DATA_PORT, 4, &ret);
	assert_int_equal(ret, -EINVAL);
	port_read_ret(&h, PCI_HOST_DATA_PORT + 1, 1, &ret);
	assert_int_equal(ret, -EINVAL);
	assert_int_equal(port_write(&h, PCI_HOST_DATA_PORT, 1, 0x0b), -EINVAL);
	assert_int_equal(cfg_read(&h, 0, PCI_INTERRUPT_LINE, 1), 0); /* the write went nowhere */
	/* Enabled now, but an access running past 0xCFF is no config cycle either. */
	assert_int_equal(port_write(&h, PCI_HOST_DATA_PORT + 2, 4, 0xffffffff), -EINVAL);
	port_read_ret(&h, PCI_HOST_DATA_PORT + 3, 2, &ret);
	assert_int_equal(ret, -EINVAL);
	assert_int_equal(cfg_read(&h, 0, PCI_INTERRUPT_LINE, 4), 0);
	pci_host_destroy(&h);
}

static void test_bar_sizing(void **state)
{
	(void)state;
	struct pci_host h;
	struct pci_dev d;
	struct written w;
	setup_dev(&h, &d, &w);
	assert_int_equal(pci_dev_set_bar(&d, 5, 1ull << 33, PCI_BAR_MEM64 | PCI_BAR_PREFETCH),
			 -EINVAL); /* BAR 5 has no upper half */
	static const struct {
		unsigned bar;
		uint32_t before, sized;
	} exp[] = {
		{0, 0x00000000, 0xfffff000}, {1, 0x00000008, 0xfff00008},
		{2, 0x00000001, 0xffffffe1}, {3, 0x00000004, 0xffffc004},
		{4, 0x00000000, 0xffffffff}, /* upper half of the 64-bit BAR */
		{5, 0x00000000, 0x00000000}, /* unimplemented: hardwired to zero */
	};
	for (size_t i = 0; i < sizeof(exp) / sizeof(exp[0]); i++) {
		unsigned reg = PCI_BASE_ADDRESS_0 + 4 * exp[i].bar;
		assert_int_equal(cfg_read(&h, 3, reg, 4), exp[i].before);
		cfg_write(&h, 3, reg, 4, 0xffffffff);
		assert_int_equal(cfg_read(&h, 3, reg, 4), exp[i].sized);
	}
	/* The ROM BAR is not implemented either. */
	cfg_write(&h, 3, PCI_ROM_ADDRESS, 4, 0xffffffff);
	assert_int_equal(cfg_read(&h, 3, PCI_ROM_ADDRESS, 4), 0);
	pci_host_destroy(&h);
}

static void test_bar_sizing_64bit_above_4g(void **state)
{
	(void)state;
	struct pci_dev d;
	pci_dev_init(&d, 0x1234, 0x5678, 0x030000, 0);
	assert_int_equal(pci_dev_set_bar(&d, 4, 8ull << 30, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	assert_int_equal(pci_dev_cfg_read(&d, PCI_BASE_ADDRESS_4, 4), 0x0000000c);
	pci_dev_cfg_write(&d, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
	pci_dev_cfg_write(&d, PCI_BASE_ADDRESS_5, 4, 0xffffffff);
	assert_int_equal(pci_dev_cfg_read(&d, PCI_BASE_ADDRESS_4, 4), 0x0000000c);
	assert_int_equal(pci_dev_cfg_read(&d, PCI_BASE_ADDRESS_5, 4), 0xfffffffe);
	pci_dev_cfg_write(&d, PCI_BASE_ADDRESS_4, 4, 0);
	pci_dev_cfg_write(&d, PCI_BASE_ADDRESS_5, 4, 0x4);
	assert_int_equal(pci_dev_bar_addr(&d, 4), 0x400000000ull);
}

static void test_bar_addr_after_programming(void **state)
{
	(void)state;
	struct pci_host h;
	struct pci_dev d;
	struct written w;
	setup_dev(&h, &d, &w);
	for (unsigned n = 0; n < PCI_NR_BARS; n++)
		assert_int_equal(pci_dev_bar_addr(&d, n), 0);
	cfg_write(&h, 3, PCI_BASE_ADDRESS_0, 4, 0xfebc1234); /* low bits below the size drop */
	cfg_write(&h, 3, PCI_BASE_ADDRESS_1, 4, 0xfe000000);
	cfg_write(&h, 3, PCI_BASE_ADDRESS_2, 4, 0xc043);
	cfg_write(&h, 3, PCI_BASE_ADDRESS_3, 4, 0xf0000000);
	cfg_write(&h, 3, PCI_BASE_ADDRESS_4, 4, 0x00000001);
	assert_int_equal(pci_dev_bar_addr(&d, 0), 0xfebc1000);
	assert_int_equal(pci_dev_bar_addr(&d, 1), 0xfe000000);
	assert_int_equal(pci_dev_bar_addr(&d, 2), 0xc040);
	assert_int_equal(pci_dev_bar_addr(&d, 3), 0x1f0000000ull);
	assert_int_equal(pci_dev_bar_addr(&d, 4), 0); /* the upper half is not a BAR */
	assert_int_equal(pci_dev_bar_addr(&d, PCI_NR_BARS), 0);
	/* The flag bits survive programming. */
	assert_int_equal(cfg_read(&h, 3, PCI_BASE_ADDRESS_1, 4), 0xfe000008);
	assert_int_equal(cfg_read(&h, 3, PCI_BASE_ADDRESS_2, 4), 0xc041);
	pci_host_destroy(&h);
}

static void test_read_only_registers_ignore_writes(void **state)
{
	(void)state;
	struct pci_host h;
	struct pci_dev d;
	struct written w;
	setup_dev(&h, &d, &w);
	d.cfg[PCI_INTERRUPT_PIN] = 1;
	/* IDs, class, subsystem, capability pointer, and device-specific space. */
	static const unsigned ro[] = {PCI_VENDOR_ID,
				      PCI_CLASS_REVISION,
				      PCI_SUBSYSTEM_VENDOR_ID,
				      PCI_CAPABILITY_LIST,
				      0x40,
				      0xfc};
	for (unsigned dev = 0; dev <= 3; dev += 3) {
		for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
			uint32_t before = cfg_read(&h, dev, ro[i], 4);
			cfg_write(&h, dev, ro[i], 4, ~before);
			assert_int_equal(cfg_read(&h, dev, ro[i], 4), before);
		}
		cfg_write(&h, dev, PCI_HEADER_TYPE, 1, 0xff);
		assert_int_equal(cfg_read(&h, dev, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
		cfg_write(&h, dev, PCI_BIST, 1, 0xff);
		assert_int_equal(cfg_read(&h, dev, PCI_BIST, 1), 0);
	}
	cfg_write(&h, 3, PCI_INTERRUPT_PIN, 1, 4);
	assert_int_equal(cfg_read(&h, 3, PCI_INTERRUPT_PIN, 1), 1);
	/* The plain read/write registers do take writes. */
	cfg_write(&h, 3, PCI_CACHE_LINE_SIZE, 2, 0x4010);
	assert_int_equal(cfg_read(&h, 3, PCI_CACHE_LINE_SIZE, 2), 0x4010);
	cfg_write(&h, 3, PCI_INTERRUPT_LINE, 1, 0x0b);
	assert_int_equal(cfg_read(&h, 3, PCI_INTERRUPT_LINE, 1), 0x0b);
	pci_host_destroy(&h);
}

static void test_command_keeps_implemented_bits(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	cfg_write(&h, 0, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(cfg_read(&h, 0, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	cfg_write(&h, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(cfg_read(&h, 0, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	cfg_write(&h, 0, PCI_COMMAND, 1, 0);
	assert_int_equal(cfg_read(&h, 0, PCI_COMMAND, 2), 0);
	pci_host_destroy(&h);
}

static void test_status_error_bits_write_one_to_clear(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	const uint16_t errors = PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
				PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
				PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY;
	const uint16_t fixed = PCI_STATUS_CAP_LIST | PCI_STATUS_66MHZ | PCI_STATUS_DEVSEL_MEDIUM;
	/* The device latched every error. */
	h.bridge.cfg[PCI_STATUS] = (uint8_t)(errors | fixed);
	h.bridge.cfg[PCI_STATUS + 1] = (uint8_t)((errors | fixed) >> 8);

	cfg_write(&h, 0, PCI_STATUS, 2, 0); /* writing 0 changes nothing */
	assert_int_equal(cfg_read(&h, 0, PCI_STATUS, 2), errors | fixed);
	cfg_write(&h, 0, PCI_COMMAND, 4, PCI_COMMAND_MEMORY); /* status half zero */
	assert_int_equal(cfg_read(&h, 0, PCI_STATUS, 2), errors | fixed);
	cfg_write(&h, 0, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
	assert_int_equal(cfg_read(&h, 0, PCI_STATUS, 2),
			 (errors & ~PCI_STATUS_REC_MASTER_ABORT) | fixed);
	cfg_write(&h, 0, PCI_STATUS, 2, 0xffff);
	assert_int_equal(cfg_read(&h, 0, PCI_STATUS, 2), fixed);
	assert_int_equal(cfg_read(&h, 0, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	pci_host_destroy(&h);
}

static void test_host_add(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	struct pci_dev devs[PCI_SLOTS + 1];
	for (unsigned i = 0; i <= PCI_SLOTS; i++)
		pci_dev_init(&devs[i], 0x1af4, (uint16_t)(0x1000 + i), 0xff0000, 0);
	assert_int_equal(pci_host_add(&h, &devs[0], 5), 5);
	assert_int_equal(pci_host_add(&h, &devs[1], 5), -EBUSY);
	assert_int_equal(pci_host_add(&h, &devs[1], 0), -EBUSY); /* the bridge */
	assert_int_equal(pci_host_add(&h, &devs[1], PCI_SLOTS), -EINVAL);
	assert_int_equal(pci_host_add(&h, &devs[1], -1), 1);
	assert_int_equal(cfg_read(&h, 5, PCI_DEVICE_ID, 2), 0x1000);
	assert_int_equal(cfg_read(&h, 1, PCI_DEVICE_ID, 2), 0x1001);
	/* Fill the bus: 2-4 and 6-31 remain. */
	unsigned next = 2;
	for (int slot = 2; slot < PCI_SLOTS; slot++) {
		if (slot == 5)
			continue;
		assert_int_equal(pci_host_add(&h, &devs[next++], -1), slot);
	}
	assert_int_equal(pci_host_add(&h, &devs[PCI_SLOTS], -1), -ENOSPC);
	assert_int_equal(cfg_read(&h, 31, PCI_DEVICE_ID, 2), 0x1000 + next - 1);
	pci_host_destroy(&h);
}

static void test_set_bar_rejects_bad_arguments(void **state)
{
	(void)state;
	struct pci_dev d;
	pci_dev_init(&d, 0x1af4, 0x1000, 0xff0000, 0);
	static const struct {
		unsigned n;
		uint64_t size;
		unsigned flags;
	} bad[] = {
		{PCI_NR_BARS, 0x1000, PCI_BAR_MEM32},
		{5, 0x1000, PCI_BAR_MEM64},
		{0, 0, PCI_BAR_MEM32},
		{0, 0x3000, PCI_BAR_MEM32},
		{0, 8, PCI_BAR_MEM32},
		{0, 2, PCI_BAR_IO},
		{0, 0x24, PCI_BAR_IO},
		{0, 512, PCI_BAR_IO},
		{0, 1ull << 32, PCI_BAR_MEM32},
		{0, 0x1000, PCI_BAR_IO | PCI_BAR_MEM64},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pci_dev_set_bar(&d, bad[i].n, bad[i].size, bad[i].flags), -EINVAL);
		for (unsigned b = 0; b < PCI_NR_BARS; b++)
			assert_int_equal(pci_dev_cfg_read(&d, PCI_BASE_ADDRESS_0 + 4 * b, 4), 0);
	}
	/* The edges that are allowed. */
	assert_int_equal(pci_dev_set_bar(&d, 0, 16, PCI_BAR_MEM32), 0);
	assert_int_equal(pci_dev_set_bar(&d, 1, 4, PCI_BAR_IO | PCI_BAR_PREFETCH), 0);
	assert_int_equal(pci_dev_cfg_read(&d, PCI_BASE_ADDRESS_1, 4), PCI_BASE_ADDRESS_SPACE_IO);
	pci_dev_cfg_write(&d, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	pci_dev_cfg_write(&d, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(pci_dev_cfg_read(&d, PCI_BASE_ADDRESS_0, 4), 0xfffffff0);
	assert_int_equal(pci_dev_cfg_read(&d, PCI_BASE_ADDRESS_1, 4), 0xfffffffd);
	assert_int_equal(pci_dev_set_bar(&d, 2, 256, PCI_BAR_IO), 0);
	assert_int_equal(pci_dev_set_bar(&d, 3, 1ull << 31, PCI_BAR_MEM32), 0);
	assert_int_equal(pci_dev_set_bar(&d, 4, 1ull << 32, PCI_BAR_MEM64), 0);
}

/* 0xCF9: RST_CPU going 0 -> 1 resets; SYS_RST only chooses the kind of reset. */
static void test_reset_control_rising_edge(void **state)
{
	(void)state;
	struct pci_host h;
	unsigned resets = 0;
	pci_host_init(&h, on_reset, &resets);
	assert_int_equal(port_read(&h, 0xcf9, 1), 0);
	assert_int_equal(port_write(&h, 0xcf9, 1, PCI_RCR_SYS_RST), 0);
	assert_int_equal(resets, 0);
	assert_int_equal(port_read(&h, 0xcf9, 1), PCI_RCR_SYS_RST);
	assert_int_equal(port_write(&h, 0xcf9, 1, PCI_RCR_SYS_RST | PCI_RCR_RST_CPU), 0);
	assert_int_equal(resets, 1);
	assert_int_equal(port_write(&h, 0xcf9, 1, 0), 0);
	assert_int_equal(port_write(&h, 0xcf9, 1, PCI_RCR_RST_CPU), 0);
	assert_int_equal(resets, 2);
	pci_host_destroy(&h);
}

/* RST_CPU is a read/write bit: while it stays 1, writing 1 again is no transition. */
static void test_reset_control_no_reset_without_transition(void **state)
{
	(void)state;
	struct pci_host h;
	unsigned resets = 0;
	pci_host_init(&h, on_reset, &resets);
	assert_int_equal(port_write(&h, 0xcf9, 1, PCI_RCR_RST_CPU), 0);
	assert_int_equal(resets, 1);
	assert_int_equal(port_write(&h, 0xcf9, 1, PCI_RCR_RST_CPU), 0);
	assert_int_equal(resets, 1);
	pci_host_destroy(&h);
}

static void test_config_written_callback(void **state)
{
	(void)state;
	struct pci_host h;
	struct pci_dev d;
	struct written w;
	setup_dev(&h, &d, &w);
	cfg_read(&h, 3, PCI_COMMAND, 4);
	assert_int_equal(w.calls, 0);
	cfg_write(&h, 3, PCI_BASE_ADDRESS_0, 4, 0xfebc0000);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.off, PCI_BASE_ADDRESS_0);
	assert_int_equal(w.len, 4);
	/* The callback sees the new value already in place. */
	assert_int_equal(pci_dev_bar_addr(&d, 0), 0xfebc0000);
	cfg_write(&h, 3, PCI_STATUS, 2, 0);
	assert_int_equal(w.calls, 2);
	assert_int_equal(w.off, PCI_STATUS);
	assert_int_equal(w.len, 2);
	cfg_write(&h, 3, PCI_INTERRUPT_LINE, 1, 5);
	assert_int_equal(w.calls, 3);
	assert_int_equal(w.off, PCI_INTERRUPT_LINE);
	assert_int_equal(w.len, 1);
	pci_host_destroy(&h);
}

/* I/O BARs are reached through the host's port window only where the guest put them, only
 * while the command register's I/O bit is on, and only wholly inside the BAR. */
static void test_io_window_follows_bar_and_command(void **state)
{
	(void)state;
	struct pci_host h;
	struct pci_dev d;
	struct written w;
	setup_dev(&h, &d, &w);
	d.io_trap[2] = on_io;
	cfg_write(&h, 3, PCI_BASE_ADDRESS_2, 4, 0xc020);
	assert_int_equal(io_access(&h, 0xc020, 2, false), -ENOENT); /* I/O decoding off */
	cfg_write(&h, 3, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(io_access(&h, 0xc032, 2, true), 0);
	assert_int_equal(w.io_calls, 1);
	assert_int_equal(w.io_off, 0x12);
	assert_int_equal(w.io_len, 2);
	assert_true(w.io_write);
	assert_int_equal(io_access(&h, 0xc03c, 4, false), 0); /* the last dword */
	assert_int_equal(w.io_off, 0x1c);
	assert_int_equal(io_access(&h, 0xc03e, 4, false), -ENOENT); /* straddles the end */
	assert_int_equal(io_access(&h, 0xc040, 1, false), -ENOENT);
	assert_int_equal(io_access(&h, 0xc01f, 1, false), -ENOENT);
	assert_int_equal(w.io_calls, 2);
	/* Moved: the old ports answer nothing, the new ones reach the device. */
	cfg_write(&h, 3, PCI_BASE_ADDRESS_2, 4, 0xe000);
	assert_int_equal(io_access(&h, 0xc020, 1, false), -ENOENT);
	assert_int_equal(io_access(&h, 0xe001, 1, false), 0);
	assert_int_equal(w.io_off, 1);
	cfg_write(&h, 3, PCI_COMMAND, 2, 0);
	assert_int_equal(io_access(&h, 0xe001, 1, false), -ENOENT);
	assert_int_equal(w.io_calls, 3);
	/* A BAR with no handler is never reached, even where it decodes. */
	d.io_trap[2] = NULL;
	cfg_write(&h, 3, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(io_access(&h, 0xe001, 1, false), -ENOENT);
	pci_host_destroy(&h);
}

/* With --firmware the host bridge is the i440FX's 82441FX with QEMU's subsystem IDs (what
 * SeaBIOS checks before it trusts fw_cfg); its PAM registers keep what the firmware writes,
 * the rest of the header stays read-only. */
static void test_i440fx_identity_and_pam(void **state)
{
	(void)state;
	struct pci_host h;
	pci_host_init(&h, NULL, NULL);
	i440fx_init(&h.bridge);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_VENDOR_ID, 4), 0x12378086);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_CLASS_REVISION, 4), 0x06000002);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, I440FX_PAM0 - 1, 4), 0);
	/* SeaBIOS's sequence: dwords at 0x58 and 0x5C, then byte writes. */
	pci_host_cfg_write(&h, 0, 0, 0, 0x58, 4, 0x333330ff);
	pci_host_cfg_write(&h, 0, 0, 0, 0x5c, 4, 0xff333333);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, 0x58, 4), 0x33333000); /* 0x58 read-only */
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, 0x5c, 4), 0xff333333); /* 0x5F: PAM6 */
	pci_host_cfg_write(&h, 0, 0, 0, I440FX_PAM0 + I440FX_NR_PAM, 1, 0xff);
	pci_host_cfg_write(&h, 0, 0, 0, I440FX_PAM0, 1, 0x10);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, I440FX_PAM0, 1), 0x10);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, I440FX_PAM0 + I440FX_NR_PAM, 1), 0);
	pci_host_cfg_write(&h, 0, 0, 0, PCI_VENDOR_ID, 4, 0);
	pci_host_cfg_write(&h, 0, 0, 0, PCI_SUBSYSTEM_VENDOR_ID, 4, 0);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_VENDOR_ID, 4), 0x12378086);
	assert_int_equal(pci_host_cfg_read(&h, 0, 0, 0, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
	pci_host_destroy(&h);
}

static void test_slot_of(void **state)
{
	(void)state;
	struct pci_host h;
	struct pci_dev a, b;
	pci_host_init(&h, NULL, NULL);
	pci_dev_init(&a, 0x1af4, 0x1042, 0x010000, 1);
	pci_dev_init(&b, 0x1af4, 0x1042, 0x010000, 1);
	assert_int_equal(pci_host_add(&h, &a, 5), 5);
	assert_int_equal(pci_host_slot_of(&h, &a), 5);
	assert_int_equal(pci_host_slot_of(&h, &h.bridge), 0);
	assert_int_equal(pci_host_slot_of(&h, &b), -ENOENT);
	pci_host_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_i440fx_identity_and_pam),
		cmocka_unit_test(test_slot_of),
		cmocka_unit_test(test_host_bridge_header_at_each_width),
		cmocka_unit_test(test_bar_sizing_at_each_width),
		cmocka_unit_test(test_absent_targets_read_all_ones),
		cmocka_unit_test(test_config_address_reads_back),
		cmocka_unit_test(test_config_address_reserved_bits_read_zero),
		cmocka_unit_test(test_non_dword_address_access_ignored),
		cmocka_unit_test(test_data_port_without_enable_not_handled),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_bar_sizing_64bit_above_4g),
		cmocka_unit_test(test_bar_addr_after_programming),
		cmocka_unit_test(test_read_only_registers_ignore_writes),
		cmocka_unit_test(test_command_keeps_implemented_bits),
		cmocka_unit_test(test_status_error_bits_write_one_to_clear),
		cmocka_unit_test(test_host_add),
		cmocka_unit_test(test_set_bar_rejects_bad_arguments),
		cmocka_unit_test(test_reset_control_rising_edge),
		cmocka_unit_test(test_reset_control_no_reset_without_transition),
		cmocka_unit_test(test_config_written_callback),
		cmocka_unit_test(test_io_window_follows_bar_and_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
