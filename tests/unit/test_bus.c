/* SPDX-License-Identifier: MIT */
/*
 * Trap registry: ranges are sorted and never overlap, an access goes to the one trap holding all
 * of it, and anything else (no trap, a straddling access, a handler refusing) reads as all ones
 * and is counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"

/* A device that records its last access and answers with a fixed pattern or error. */
struct fake_dev {
	int ret;
	unsigned calls;
	uint64_t off;
	unsigned len;
	bool is_write;
	uint8_t written[8];
};

#define FILL 0x3c

static int fake_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct fake_dev *d = dev;
	d->calls++;
	d->off = off;
	d->len = len;
	d->is_write = is_write;
	if (is_write)
		memcpy(d->written, data, len < sizeof(d->written) ? len : sizeof(d->written));
	else
		memset(data, FILL, len);
	return d->ret;
}

static void setup(struct vmm_bus *bus)
{
	assert_int_equal(vmm_bus_init(bus, "test"), 0);
	assert_int_equal(bus->unhandled, 0);
}

static int reg(struct vmm_bus *bus, uint64_t base, uint64_t size, struct fake_dev *d)
{
	return vmm_bus_register(bus, base, size, fake_trap, d, "fake");
}

/* Reads len bytes at addr; returns what vmm_bus_access returned and checks the data. */
static int read_at(struct vmm_bus *bus, uint64_t addr, unsigned len)
{
	uint8_t data[8];
	memset(data, 0, sizeof(data));
	int ret = vmm_bus_access(bus, addr, data, len, false);
	for (unsigned i = 0; i < len; i++)
		assert_int_equal(data[i], ret ? 0xff : FILL);
	return ret;
}

static void test_lookup_at_range_edges(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev d = {0};
	assert_int_equal(reg(&bus, 0x100, 0x10, &d), 0);

	assert_int_equal(read_at(&bus, 0x100, 1), 0);
	assert_int_equal(d.off, 0);
	assert_int_equal(read_at(&bus, 0x10f, 1), 0);
	assert_int_equal(d.off, 0xf);
	assert_int_equal(read_at(&bus, 0x10c, 4), 0);
	assert_int_equal(d.off, 0xc);
	assert_int_equal(d.len, 4);
	assert_int_equal(read_at(&bus, 0x108, 8), 0);
	assert_int_equal(d.calls, 4);
	assert_int_equal(bus.unhandled, 0);

	assert_int_equal(read_at(&bus, 0xff, 1), -ENOENT);
	assert_int_equal(read_at(&bus, 0x110, 1), -ENOENT);
	assert_int_equal(read_at(&bus, 0, 1), -ENOENT);
	assert_int_equal(read_at(&bus, UINT64_MAX, 1), -ENOENT);
	assert_int_equal(d.calls, 4);
	assert_int_equal(bus.unhandled, 4);
	vmm_bus_destroy(&bus);
}

static void test_register_overlap_and_adjacent(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev a = {0}, b = {0}, c = {0}, x = {0};
	assert_int_equal(reg(&bus, 0x100, 0x10, &a), 0);
	assert_int_equal(reg(&bus, 0x110, 0x10, &b), 0); /* adjacent above */
	assert_int_equal(reg(&bus, 0xf0, 0x10, &c), 0);	 /* adjacent below */
	static const uint64_t overlap[][2] = {
		{0x100, 0x10}, {0x100, 1}, {0x10f, 1}, {0x10f, 2},    {0x108, 4},
		{0xff, 2},     {0xef, 2},  {0x11f, 1}, {0x0, 0x1000}, {0x105, 0x20},
	};
	for (size_t i = 0; i < sizeof(overlap) / sizeof(overlap[0]); i++)
		assert_int_equal(reg(&bus, overlap[i][0], overlap[i][1], &x), -EEXIST);
	assert_int_equal(bus.nr, 3);
	/* One device may own several ranges. */
	assert_int_equal(reg(&bus, 0xef, 1, &x), 0);
	assert_int_equal(reg(&bus, 0x120, 1, &x), 0);
	assert_int_equal(bus.nr, 5);

	/* Each edge still reaches its own device. */
	static const uint64_t edges[] = {0xef, 0xf0, 0xff, 0x100, 0x10f, 0x110, 0x11f, 0x120};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		assert_int_equal(read_at(&bus, edges[i], 1), 0);
	assert_int_equal(x.calls, 2);
	assert_int_equal(c.calls, 2);
	assert_int_equal(a.calls, 2);
	assert_int_equal(b.calls, 2);
	assert_int_equal(bus.unhandled, 0);
	vmm_bus_destroy(&bus);
}

static void test_register_rejects_empty_and_wrapping(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev d = {0};
	assert_int_equal(reg(&bus, 0x100, 0, &d), -EINVAL);
	assert_int_equal(reg(&bus, UINT64_MAX - 0xf, 0x20, &d), -EINVAL);
	assert_int_equal(reg(&bus, 2, UINT64_MAX, &d), -EINVAL); /* last byte: 2^64 */
	assert_int_equal(vmm_bus_register(&bus, 0x100, 1, NULL, &d, "null"), -EINVAL);
	assert_int_equal(bus.nr, 0);
	/* The very last byte is a valid range. */
	assert_int_equal(reg(&bus, UINT64_MAX - 0xf, 0x10, &d), 0);
	assert_int_equal(read_at(&bus, UINT64_MAX, 1), 0);
	assert_int_equal(d.off, 0xf);
	assert_int_equal(read_at(&bus, UINT64_MAX - 1, 4), -ENOENT); /* would run off the end */
	/* The largest range that does not wrap, and the byte below it. */
	assert_int_equal(vmm_bus_unregister(&bus, UINT64_MAX - 0xf), 0);
	assert_int_equal(reg(&bus, 1, UINT64_MAX, &d), 0);
	assert_int_equal(reg(&bus, 0, 1, &d), 0);
	assert_int_equal(reg(&bus, 0, 2, &d), -EEXIST);
	assert_int_equal(read_at(&bus, UINT64_MAX, 1), 0);
	assert_int_equal(d.off, UINT64_MAX - 1);
	vmm_bus_destroy(&bus);
}

static void test_straddling_access_refused(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev a = {0}, b = {0};
	assert_int_equal(reg(&bus, 0x100, 0x10, &a), 0);
	assert_int_equal(reg(&bus, 0x110, 0x10, &b), 0);
	assert_int_equal(read_at(&bus, 0x10e, 4), -ENOENT); /* into the adjacent trap */
	assert_int_equal(read_at(&bus, 0x11f, 2), -ENOENT); /* off the end */
	assert_int_equal(read_at(&bus, 0xff, 2), -ENOENT);  /* from below the start */
	uint8_t val[4] = {1, 2, 3, 4};
	assert_int_equal(vmm_bus_access(&bus, 0x10e, val, 4, true), -ENOENT);
	assert_int_equal(a.calls + b.calls, 0);
	assert_int_equal(bus.unhandled, 4);
	vmm_bus_destroy(&bus);
}

static void test_unhandled_counted(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	uint8_t data[8];
	memset(data, 0, sizeof(data));
	assert_int_equal(vmm_bus_access(&bus, 0x3f8, data, 1, false), -ENOENT);
	assert_int_equal(data[0], 0xff);
	assert_int_equal(data[1], 0); /* only len bytes are filled */
	assert_int_equal(bus.unhandled, 1);
	memset(data, 0x11, sizeof(data));
	assert_int_equal(vmm_bus_access(&bus, 0xfee00000, data, 8, true), -ENOENT);
	assert_int_equal(data[7], 0x11); /* a dropped write leaves the buffer alone */
	assert_int_equal(bus.unhandled, 2);
	assert_int_equal(read_at(&bus, 0xcfc, 4), -ENOENT);
	assert_int_equal(bus.unhandled, 3);
	vmm_bus_destroy(&bus);
}

static void test_handler_error_is_unhandled(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev d = {.ret = -EINVAL};
	assert_int_equal(reg(&bus, 0x60, 5, &d), 0);
	assert_int_equal(read_at(&bus, 0x61, 1), -ENOENT); /* the handler's fill is discarded */
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.off, 1);
	assert_int_equal(bus.unhandled, 1);
	uint8_t val = 0xfe;
	assert_int_equal(vmm_bus_access(&bus, 0x64, &val, 1, true), -ENOENT);
	assert_int_equal(bus.unhandled, 2);
	d.ret = 0;
	assert_int_equal(vmm_bus_access(&bus, 0x64, &val, 1, true), 0);
	assert_true(d.is_write);
	assert_int_equal(d.written[0], 0xfe);
	assert_int_equal(bus.unhandled, 2);
	vmm_bus_destroy(&bus);
}

static void test_unregister(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev a = {0}, b = {0};
	assert_int_equal(reg(&bus, 0x100, 0x10, &a), 0);
	assert_int_equal(reg(&bus, 0x200, 0x10, &b), 0);
	assert_int_equal(vmm_bus_unregister(&bus, 0x108), -ENOENT); /* inside, not the base */
	assert_int_equal(vmm_bus_unregister(&bus, 0x300), -ENOENT);
	assert_int_equal(read_at(&bus, 0x108, 1), 0);
	assert_int_equal(vmm_bus_unregister(&bus, 0x100), 0);
	assert_int_equal(read_at(&bus, 0x100, 1), -ENOENT);
	assert_int_equal(read_at(&bus, 0x200, 1), 0);
	assert_int_equal(vmm_bus_unregister(&bus, 0x100), -ENOENT);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	/* The freed range can be taken again, by something else. */
	assert_int_equal(reg(&bus, 0x104, 0x20, &b), 0);
	assert_int_equal(read_at(&bus, 0x110, 1), 0);
	assert_int_equal(b.calls, 2);
	assert_int_equal(b.off, 0xc);
	vmm_bus_destroy(&bus);
}

/* A device with a string handler: records bursts, and fills reads with the burst's index. */
struct rep_dev {
	struct fake_dev one;
	int ret;
	unsigned bursts, count, len;
	uint8_t first;
};

static int rep_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, unsigned count,
		    bool is_write)
{
	struct rep_dev *d = dev;
	(void)off;
	d->bursts++;
	d->count = count;
	d->len = len;
	if (is_write)
		d->first = data[0];
	else
		memset(data, 0x40 + (int)d->bursts, (size_t)len * count);
	return d->ret;
}

static void test_string_access_one_burst(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct rep_dev r = {0};
	struct fake_dev plain = {0};
	assert_int_equal(vmm_bus_register_rep(&bus, 0x1f0, 8, fake_trap, rep_trap, &r, "rep"), 0);
	assert_int_equal(reg(&bus, 0x3f6, 1, &plain), 0);
	/* rep insw of 256 words: one call with all of it. */
	uint8_t buf[512];
	assert_int_equal(vmm_bus_access_rep(&bus, 0x1f0, buf, 2, 256, false), 0);
	assert_int_equal(r.bursts, 1);
	assert_int_equal(r.count, 256);
	assert_int_equal(r.len, 2);
	assert_int_equal(buf[511], 0x41);
	buf[0] = 0x77;
	assert_int_equal(vmm_bus_access_rep(&bus, 0x1f0, buf, 4, 128, true), 0);
	assert_int_equal(r.bursts, 2);
	assert_int_equal(r.first, 0x77);
	/* A count of 1 is a plain access. */
	assert_int_equal(vmm_bus_access_rep(&bus, 0x1f0, buf, 2, 1, false), 0);
	assert_int_equal(r.bursts, 2);
	assert_int_equal(r.one.calls, 1);
	/* A trap without a string handler gets one call per element. */
	assert_int_equal(vmm_bus_access_rep(&bus, 0x3f6, buf, 1, 5, false), 0);
	assert_int_equal(plain.calls, 5);
	assert_int_equal(buf[4], FILL);
	/* Nothing there: all ones, every element counted. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(vmm_bus_access_rep(&bus, 0x170, buf, 2, 4, false), -ENOENT);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(buf[i], 0xff);
	assert_int_equal(buf[8], 0);
	assert_int_equal(bus.unhandled, 4);
	/* A refused burst reads as all ones too. */
	r.ret = -EINVAL;
	assert_int_equal(vmm_bus_access_rep(&bus, 0x1f0, buf, 2, 3, false), -ENOENT);
	assert_int_equal(buf[5], 0xff);
	assert_int_equal(bus.unhandled, 7);
	/* Element-wise refusals count one by one. */
	plain.ret = -EINVAL;
	assert_int_equal(vmm_bus_access_rep(&bus, 0x3f6, buf, 1, 2, true), -ENOENT);
	assert_int_equal(bus.unhandled, 9);
	vmm_bus_destroy(&bus);
}

/* xorshift64: a fixed sequence, so a failure reproduces. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define NR_RANDOM 300
#define SLOT	  0x1000 /* range i lives in [i * SLOT, i * SLOT + size_i), size_i <= SLOT / 2 */

static void check_sorted(const struct vmm_bus *bus)
{
	for (size_t i = 1; i < bus->nr; i++)
		assert_true(bus->traps[i - 1].base + bus->traps[i - 1].size <= bus->traps[i].base);
}

static void check_lookup(struct vmm_bus *bus, struct fake_dev *devs, const uint64_t *size,
			 const bool *present)
{
	for (unsigned i = 0; i < NR_RANDOM; i++) {
		uint64_t base = (uint64_t)i * SLOT;
		unsigned calls = devs[i].calls;
		int exp = present[i] ? 0 : -ENOENT;
		assert_int_equal(read_at(bus, base, 1), exp);
		assert_int_equal(read_at(bus, base + size[i] - 1, 1), exp);
		assert_int_equal(read_at(bus, base + size[i], 1), -ENOENT);
		assert_int_equal(devs[i].calls, calls + (present[i] ? 2 : 0));
		if (present[i])
			assert_int_equal(devs[i].off, size[i] - 1);
	}
}

static void test_random_registration_order(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev devs[NR_RANDOM];
	uint64_t size[NR_RANDOM];
	unsigned order[NR_RANDOM];
	bool present[NR_RANDOM];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	memset(devs, 0, sizeof(devs));
	for (unsigned i = 0; i < NR_RANDOM; i++) {
		size[i] = 1 + next_rand(&seed) % (SLOT / 2);
		order[i] = i;
		present[i] = true;
	}
	for (unsigned i = NR_RANDOM - 1; i > 0; i--) { /* Fisher-Yates */
		unsigned j = (unsigned)(next_rand(&seed) % (i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned k = 0; k < NR_RANDOM; k++) {
		unsigned i = order[k];
		assert_int_equal(reg(&bus, (uint64_t)i * SLOT, size[i], &devs[i]), 0);
		check_sorted(&bus);
	}
	assert_int_equal(bus.nr, NR_RANDOM);
	check_lookup(&bus, devs, size, present);

	/* Remove every third, in the shuffled order, and look again. */
	for (unsigned k = 0; k < NR_RANDOM; k += 3) {
		unsigned i = order[k];
		assert_int_equal(vmm_bus_unregister(&bus, (uint64_t)i * SLOT), 0);
		present[i] = false;
		check_sorted(&bus);
	}
	assert_int_equal(bus.nr, NR_RANDOM - (NR_RANDOM + 2) / 3);
	check_lookup(&bus, devs, size, present);
	vmm_bus_destroy(&bus);
}

static uint64_t dispatches(const struct vmm_bus *bus, const char *name)
{
	for (unsigned i = 0; i < bus->nr_counters; i++)
		if (!strcmp(bus->counter[i].name, name))
			return bus->counter[i].dispatches;
	return 0;
}

/* Each dispatch counts once for its trap's name (a string access once for the whole burst,
 * a refused access too, besides the unhandled count); names share a counter, which survives
 * the trap moving; an access nothing takes counts only as unhandled. */
static void test_dispatch_counters(void **state)
{
	(void)state;
	struct vmm_bus bus;
	setup(&bus);
	struct fake_dev a = {0}, b = {0}, c = {.ret = -EINVAL};
	assert_int_equal(vmm_bus_register(&bus, 0x100, 8, fake_trap, &a, "uart"), 0);
	assert_int_equal(vmm_bus_register(&bus, 0x200, 8, fake_trap, &b, "ide"), 0);
	assert_int_equal(vmm_bus_register(&bus, 0x300, 8, fake_trap, &c, "ide"), 0);
	uint8_t buf[64];
	assert_int_equal(vmm_bus_access(&bus, 0x100, buf, 1, true), 0);
	assert_int_equal(vmm_bus_access(&bus, 0x101, buf, 1, false), 0);
	assert_int_equal(vmm_bus_access_rep(&bus, 0x200, buf, 2, 32, false), 0);
	assert_int_equal(vmm_bus_access(&bus, 0x300, buf, 1, false), -ENOENT);
	assert_int_equal(vmm_bus_access(&bus, 0x400, buf, 1, false), -ENOENT);
	assert_int_equal(dispatches(&bus, "uart"), 2);
	assert_int_equal(dispatches(&bus, "ide"), 2);
	assert_int_equal(bus.nr_counters, 2);
	assert_int_equal(bus.unhandled, 2);
	/* The trap moves (a BAR): same name, same counter. */
	assert_int_equal(vmm_bus_unregister(&bus, 0x100), 0);
	assert_int_equal(vmm_bus_register(&bus, 0x180, 8, fake_trap, &a, "uart"), 0);
	assert_int_equal(vmm_bus_access(&bus, 0x180, buf, 1, false), 0);
	assert_int_equal(dispatches(&bus, "uart"), 3);
	/* More names than counters: the last counter takes the rest. */
	static char names[VMM_BUS_MAX_NAMES + 4][8];
	for (unsigned i = 0; i < VMM_BUS_MAX_NAMES + 4; i++) {
		snprintf(names[i], sizeof(names[i]), "d%u", i);
		assert_int_equal(
			vmm_bus_register(&bus, 0x1000 + 16 * i, 8, fake_trap, &b, names[i]), 0);
		assert_int_equal(vmm_bus_access(&bus, 0x1000 + 16 * i, buf, 1, false), 0);
	}
	assert_int_equal(bus.nr_counters, VMM_BUS_MAX_NAMES - 1);
	assert_string_equal(bus.counter[VMM_BUS_MAX_NAMES - 1].name, "(other)");
	assert_int_equal(bus.counter[VMM_BUS_MAX_NAMES - 1].dispatches, 7);
	vmm_bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_counters),
		cmocka_unit_test(test_lookup_at_range_edges),
		cmocka_unit_test(test_register_overlap_and_adjacent),
		cmocka_unit_test(test_register_rejects_empty_and_wrapping),
		cmocka_unit_test(test_straddling_access_refused),
		cmocka_unit_test(test_unhandled_counted),
		cmocka_unit_test(test_handler_error_is_unhandled),
		cmocka_unit_test(test_unregister),
		cmocka_unit_test(test_random_registration_order),
		cmocka_unit_test(test_string_access_one_burst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
