/* SPDX-License-Identifier: MIT */
/* Guest memory map: every translation is bounds- and overflow-checked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gmem.h"

static uint8_t low[0x1000], high[0x2000];

static void setup_map(struct gmem *m)
{
	gmem_init(m);
	assert_int_equal(gmem_add(m, 0x0, sizeof(low), low, -1, 0), 0);
	/* Adjacent to low, so copies may cross from one region into the next. */
	assert_int_equal(gmem_add(m, sizeof(low), sizeof(high), high, -1, 0), 0);
}

static void add_rules(void **state)
{
	(void)state;
	struct gmem m;
	setup_map(&m);
	uint8_t x[16];
	assert_int_equal(gmem_add(&m, 0x800, 0x10, x, -1, 0), -EEXIST);
	assert_int_equal(gmem_add(&m, 0x10000, 0, x, -1, 0), -EINVAL);
	assert_int_equal(gmem_add(&m, UINT64_MAX - 4, 16, x, -1, 0), -EINVAL);
	assert_int_equal(gmem_add(&m, 0x10000, 16, NULL, -1, 0), -EINVAL);
	for (unsigned i = m.nr; i < GMEM_MAX_REGIONS; i++)
		assert_int_equal(gmem_add(&m, 0x100000 * (i + 1), 16, x, -1, 0), 0);
	assert_int_equal(gmem_add(&m, 0x7000000, 16, x, -1, 0), -ENOSPC);
}

static void ptr_bounds(void **state)
{
	(void)state;
	struct gmem m;
	setup_map(&m);
	assert_ptr_equal(gmem_ptr(&m, 0, 1), low);
	assert_ptr_equal(gmem_ptr(&m, 0xfff, 1), low + 0xfff);
	assert_null(gmem_ptr(&m, 0xfff, 2)); /* crosses regions: no single pointer */
	assert_ptr_equal(gmem_ptr(&m, 0x1000, 0x2000), high);
	assert_null(gmem_ptr(&m, 0x1000, 0x2001));
	assert_null(gmem_ptr(&m, 0x3000, 1));	     /* past the end */
	assert_null(gmem_ptr(&m, 0x10, UINT64_MAX)); /* length overflow */
	assert_null(gmem_ptr(&m, UINT64_MAX, 1));
}

static void copies_across_regions(void **state)
{
	(void)state;
	struct gmem m;
	setup_map(&m);
	uint8_t src[32], dst[32];
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)i;
	assert_int_equal(gmem_write(&m, 0xff0, src, sizeof(src)), 0);
	assert_memory_equal(low + 0xff0, src, 16);
	assert_memory_equal(high, src + 16, 16);
	assert_int_equal(gmem_read(&m, 0xff0, dst, sizeof(dst)), 0);
	assert_memory_equal(dst, src, sizeof(src));
	assert_true(gmem_contains(&m, 0, 0x3000));
	assert_false(gmem_contains(&m, 0, 0x3001));
	/* A copy that runs off the end copies nothing at all. */
	memset(high + 0x1ff0, 0x5a, 16);
	assert_int_equal(gmem_write(&m, 0x2ff0, src, sizeof(src)), -EFAULT);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(high[0x1ff0 + i], 0x5a);
	assert_int_equal(gmem_read(&m, UINT64_MAX - 3, dst, 8), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_rules),
		cmocka_unit_test(ptr_bounds),
		cmocka_unit_test(copies_across_regions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
