/* SPDX-License-Identifier: MIT */
/* Event mode's adaptive poll window (proxy/window.h): it grows while the next chain comes
 * within the bound, stays while it covers the gap, halves (and ends) when the gap exceeds the
 * bound, never passes the bound, and a bound of 0 never polls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "window.h"

#define US 1000ull

/* A steady guest whose gap is inside the bound: 4, 8, ..., then the bound, then hits. */
static void grows_to_the_gap_and_stays(void **state)
{
	(void)state;
	struct iop_window w;
	iop_window_init(&w, 200 * US);
	assert_int_equal(w.ns, 0);
	uint64_t want[] = {4 * US, 8 * US, 16 * US, 32 * US, 64 * US, 128 * US, 200 * US};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		iop_window_adapt(&w, 150 * US);
		assert_int_equal(w.ns, want[i]);
	}
	assert_int_equal(w.grows, 7);
	/* Covered now: the fast regime's short gaps leave it alone. */
	iop_window_adapt(&w, 150 * US);
	iop_window_adapt(&w, 15 * US);
	assert_int_equal(w.ns, 200 * US);
	assert_int_equal(w.hits, 2);
	assert_int_equal(w.shrinks, 0);
}

/* A gap just past the window but within the bound grows it; exactly the window is a hit. */
static void edges(void **state)
{
	(void)state;
	struct iop_window w;
	iop_window_init(&w, 32 * US);
	iop_window_adapt(&w, 32 * US); /* the bound itself: within */
	assert_int_equal(w.ns, 4 * US);
	iop_window_adapt(&w, 4 * US);
	assert_int_equal(w.ns, 4 * US);
	assert_int_equal(w.hits, 1);
	iop_window_adapt(&w, 4 * US + 1);
	assert_int_equal(w.ns, 8 * US);
	iop_window_adapt(&w, 32 * US + 1); /* past the bound */
	assert_int_equal(w.ns, 4 * US);
	assert_int_equal(w.shrinks, 1);
}

/* An idle or slow guest: every gap past the bound halves the window, down to none. */
static void shrinks_to_nothing(void **state)
{
	(void)state;
	struct iop_window w;
	iop_window_init(&w, 200 * US);
	for (int i = 0; i < 7; i++)
		iop_window_adapt(&w, 150 * US);
	assert_int_equal(w.ns, 200 * US);
	uint64_t want[] = {100 * US, 50 * US, 25 * US, 12500, 6250, 3125, 0, 0};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		iop_window_adapt(&w, 1000 * US);
		assert_int_equal(w.ns, want[i]);
	}
	/* and starts again from the smallest step */
	iop_window_adapt(&w, 10 * US);
	assert_int_equal(w.ns, 4 * US);
}

/* --poll-window=0: nothing moves. */
static void off(void **state)
{
	(void)state;
	struct iop_window w;
	iop_window_init(&w, 0);
	iop_window_adapt(&w, 0);
	iop_window_adapt(&w, 10 * US);
	iop_window_adapt(&w, 10000 * US);
	assert_int_equal(w.ns, 0);
	assert_int_equal(w.hits + w.grows + w.shrinks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grows_to_the_gap_and_stays),
		cmocka_unit_test(edges),
		cmocka_unit_test(shrinks_to_nothing),
		cmocka_unit_test(off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
