/* SPDX-License-Identifier: MIT */
/* vmmon's vhost-user message layer: framing, fds in SCM_RIGHTS, and refusal of malformed
 * replies (bad version, a size beyond the payload union, truncation, EOF). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost_user/msg.h"

static int sp[2];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
}

static int teardown(void **state)
{
	(void)state;
	close(sp[0]);
	close(sp[1]);
	return 0;
}

static void round_trip_with_fds(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct vhost_vring_state st = {.index = 3, .num = 256};
	assert_int_equal(vu_send(sp[0], VHOST_USER_SET_VRING_NUM, VHOST_USER_NEED_REPLY_MASK, &st,
				 sizeof(st), p, 2),
			 0);
	struct vhost_user_msg m;
	int fds[4] = {-1, -1, -1, -1};
	unsigned nfds = 4;
	assert_int_equal(vu_recv(sp[1], &m, fds, &nfds), 0);
	assert_int_equal(m.hdr.request, VHOST_USER_SET_VRING_NUM);
	assert_int_equal(m.hdr.flags, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK);
	assert_int_equal(m.hdr.size, sizeof(st));
	assert_int_equal(m.payload.state.index, 3);
	assert_int_equal(m.payload.state.num, 256);
	assert_int_equal(nfds, 2);
	/* the fds are live copies: what goes into the write end comes out of the read end */
	assert_int_equal(write(fds[1], "x", 1), 1);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	for (int i = 0; i < 2; i++) {
		close(fds[i]);
		close(p[i]);
	}
}

static void unwanted_fds_are_closed(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	uint64_t v = 7;
	assert_int_equal(vu_send(sp[0], VHOST_USER_GET_FEATURES, VHOST_USER_REPLY_MASK, &v,
				 sizeof(v), p, 1),
			 0);
	close(p[0]);
	struct vhost_user_msg m;
	assert_int_equal(vu_recv(sp[1], &m, NULL, NULL), 0);
	assert_int_equal(m.payload.u64, 7);
	/* the received copy was closed: the pipe has no reader left */
	assert_int_equal(write(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);
}

static void send_raw(const void *buf, size_t len)
{
	assert_int_equal(write(sp[0], buf, len), (ssize_t)len);
}

static void malformed(void **state)
{
	(void)state;
	struct vhost_user_msg m;
	struct vhost_user_header h = {.request = 1, .flags = 2 /* version 2 */, .size = 0};
	send_raw(&h, sizeof(h));
	assert_int_equal(vu_recv(sp[1], &m, NULL, NULL), -EPROTO);
	h = (struct vhost_user_header){.request = 1, .flags = 1, .size = 0x10000};
	send_raw(&h, sizeof(h)); /* claims more than any payload */
	assert_int_equal(vu_recv(sp[1], &m, NULL, NULL), -EPROTO);
	/* a reply with a different request code is refused by vu_call */
	h = (struct vhost_user_header){.request = 2, .flags = 1 | VHOST_USER_REPLY_MASK, .size = 8};
	uint64_t v = 0;
	send_raw(&h, sizeof(h));
	send_raw(&v, sizeof(v));
	assert_int_equal(vu_call(sp[1], VHOST_USER_GET_FEATURES, NULL, 0, &m, NULL, NULL), -EPROTO);
	/* truncated payload, then EOF */
	h = (struct vhost_user_header){.request = 1, .flags = 1, .size = 8};
	send_raw(&h, sizeof(h));
	send_raw(&v, 4);
	shutdown(sp[0], SHUT_WR);
	assert_int_equal(vu_recv(sp[1], &m, NULL, NULL), -ECONNRESET);
	assert_int_equal(vu_recv(sp[1], &m, NULL, NULL), -ECONNRESET);
}

static void too_many_fds(void **state)
{
	(void)state;
	int fds[VHOST_USER_MAX_FDS + 1] = {0};
	assert_int_equal(vu_send(sp[0], 1, 0, NULL, 0, fds, VHOST_USER_MAX_FDS + 1), -EINVAL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a write to a reader-less pipe must fail with EPIPE */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip_with_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(unwanted_fds_are_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(too_many_fds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
