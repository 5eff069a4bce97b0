/* SPDX-License-Identifier: MIT */
/* The debug console port (QEMU's isa-debugcon): written bytes go out in order, a read returns
 * 0xE9 (how SeaBIOS finds the port), anything but a byte at the port is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "dev/debugcon.h"

struct sink {
	uint8_t buf[16];
	unsigned n;
};

static void out(void *ctx, uint8_t byte)
{
	struct sink *s = ctx;
	if (s->n < sizeof(s->buf))
		s->buf[s->n++] = byte;
}

static void test_debugcon(void **state)
{
	(void)state;
	struct sink s = {0};
	struct debugcon d;
	debugcon_init(&d, out, &s);
	uint8_t b = 0;
	assert_int_equal(debugcon_trap(&d, 0, &b, 1, false), 0);
	assert_int_equal(b, DEBUGCON_READBACK);
	for (const char *p = "ok\n"; *p; p++) {
		b = (uint8_t)*p;
		assert_int_equal(debugcon_trap(&d, 0, &b, 1, true), 0);
	}
	assert_int_equal(s.n, 3);
	assert_memory_equal(s.buf, "ok\n", 3);
	uint8_t w[4] = {'x', 'y', 'z', 'w'};
	assert_int_equal(debugcon_trap(&d, 0, w, 2, true), -EINVAL);
	assert_int_equal(debugcon_trap(&d, 0, w, 4, false), -EINVAL);
	assert_int_equal(debugcon_trap(&d, 1, w, 1, true), -EINVAL);
	assert_int_equal(s.n, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debugcon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
