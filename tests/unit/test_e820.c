/* SPDX-License-Identifier: MIT */
/* The e820 builder: the legacy holes, the 32-bit MMIO hole, RAM above 4 GiB, and size limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e820.h"
#include "layout.h"

static uint64_t total_ram(const struct vmm_e820 *m)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < m->nr; i++)
		if (m->e[i].type == VMM_E820_RAM)
			sum += m->e[i].size;
	return sum;
}

static void check_sorted_disjoint(const struct vmm_e820 *m)
{
	for (unsigned i = 1; i < m->nr; i++)
		assert_true(m->e[i - 1].addr + m->e[i - 1].size <= m->e[i].addr);
}

static void small_guest(void **state)
{
	(void)state;
	struct vmm_e820 m;
	assert_int_equal(vmm_e820_build(128ull << 20, &m), 0);
	check_sorted_disjoint(&m);
	assert_int_equal(m.nr, 4);
	assert_int_equal(m.e[0].addr, 0);
	assert_int_equal(m.e[0].size, 0x9fc00);
	assert_int_equal(m.e[1].type, VMM_E820_RESERVED); /* EBDA */
	assert_int_equal(m.e[2].addr, 0xf0000);		  /* BIOS area, MP table */
	assert_int_equal(m.e[2].type, VMM_E820_RESERVED);
	assert_int_equal(m.e[3].addr, 0x100000);
	assert_int_equal(m.e[3].addr + m.e[3].size, 128ull << 20);
	/* The 384 KiB from 0x9fc00 to 1 MiB are not RAM the guest may use. */
	assert_int_equal(total_ram(&m), (128ull << 20) - (0x100000 - 0x9fc00));
	assert_false(vmm_e820_is_ram(&m, 0xa0000, 1));
	assert_false(vmm_e820_is_ram(&m, 0xf0000, 16));
	assert_true(vmm_e820_is_ram(&m, 0x100000, 4096));
	assert_false(vmm_e820_is_ram(&m, (128ull << 20) - 4096, 4097)); /* past the end */
	assert_false(vmm_e820_is_ram(&m, 0x9f000, 0x2000));		/* straddles a hole */
	assert_true(vmm_e820_is_ram(&m, 0x1000, 0));
	assert_false(vmm_e820_is_ram(&m, UINT64_MAX, 2)); /* wrap */
	assert_int_equal(vmm_e820_low_ram_end(&m), 128ull << 20);
}

static void guest_above_4g(void **state)
{
	(void)state;
	struct vmm_e820 m;
	uint64_t size = 6ull << 30;
	assert_int_equal(vmm_e820_build(size, &m), 0);
	check_sorted_disjoint(&m);
	assert_int_equal(m.nr, 5);
	assert_int_equal(m.e[3].addr + m.e[3].size, LAYOUT_MMIO_HOLE); /* stops at 3 GiB */
	assert_int_equal(m.e[4].addr, LAYOUT_4G);
	assert_int_equal(m.e[4].size, size - LAYOUT_MMIO_HOLE);
	assert_false(vmm_e820_is_ram(&m, 0xfec00000, 4)); /* I/O APIC: hole */
	assert_int_equal(vmm_ram_below_4g(size) + vmm_ram_above_4g(size), size);
	assert_int_equal(vmm_e820_low_ram_end(&m), LAYOUT_MMIO_HOLE);
}

static void exactly_3g(void **state)
{
	(void)state;
	struct vmm_e820 m;
	assert_int_equal(vmm_e820_build(3ull << 30, &m), 0);
	assert_int_equal(m.nr, 4); /* nothing above 4 GiB */
	assert_int_equal(vmm_ram_above_4g(3ull << 30), 0);
}

static void bad_sizes(void **state)
{
	(void)state;
	struct vmm_e820 m;
	assert_int_equal(vmm_e820_build(LAYOUT_MIN_RAM - 4096, &m), -EINVAL);
	assert_int_equal(vmm_e820_build(LAYOUT_MAX_RAM + 4096, &m), -EINVAL);
	assert_int_equal(vmm_e820_build((64ull << 20) + 1, &m), -EINVAL);
	assert_int_equal(vmm_e820_build(LAYOUT_MIN_RAM, &m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(small_guest),
		cmocka_unit_test(guest_above_4g),
		cmocka_unit_test(exactly_3g),
		cmocka_unit_test(bad_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
