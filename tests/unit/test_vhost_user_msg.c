/* SPDX-License-Identifier: MIT */
/* The vhost-user message layer both ends share (rings/host/vhost_msg.c): framing, fds in
 * SCM_RIGHTS, and refusal of what a hostile peer sends: a size beyond the payload union, fds
 * the kernel had to cut off (MSG_CTRUNC), a message whose rest never comes (timeout), a
 * truncated message, and replies that are not replies. */
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
#include <time.h>
#include <unistd.h>

#include "host/util.h"
#include "host/vhost_msg.h"
#include "sendfds.h"

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

static void send_raw(const void *buf, size_t len)
{
	assert_int_equal(write(sp[0], buf, len), (ssize_t)len);
}

/* Counts the open descriptors of this process. */
static unsigned open_fds(void)
{
	unsigned n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void round_trip_with_fds(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct vhost_vring_state st = {.index = 3, .num = 256};
	assert_int_equal(host_vu_request(sp[0], VHOST_USER_SET_VRING_NUM,
					 VHOST_USER_NEED_REPLY_MASK, &st, sizeof(st), p, 2),
			 0);
	struct host_vu_msg m;
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(host_vu_recv(sp[1], &m, 1000), 0);
	assert_int_equal(m.hdr.request, VHOST_USER_SET_VRING_NUM);
	assert_int_equal(m.hdr.flags, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK);
	assert_int_equal(m.hdr.size, sizeof(st));
	assert_int_equal(m.p.state.index, 3);
	assert_int_equal(m.p.state.num, 256);
	/* what the header did not claim reads as zeros, not as the 0xff left there */
	assert_int_equal(m.p.memory.regions[0].guest_phys_addr, 0);
	assert_int_equal(m.nfds, 2);
	/* the fds are live copies: what goes into the write end comes out of the read end */
	assert_int_equal(write(m.fds[1], "x", 1), 1);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	host_vu_close_fds(&m);
	assert_int_equal(m.nfds, 0);
	close(p[0]);
	/* the received read end was closed too: the pipe has no reader left */
	assert_int_equal(write(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);
}

static void oversized_and_truncated(void **state)
{
	(void)state;
	struct host_vu_msg m;
	int p[2];
	assert_int_equal(pipe(p), 0);
	unsigned before = open_fds();
	/* a size beyond the largest payload, with an fd riding along: refused, fd closed */
	struct vhost_user_header h = {.request = 1, .flags = 1, .size = 0x10000};
	assert_int_equal(
		host_vu_send(sp[0],
			     &(struct vhost_user_header){.request = 1, .flags = 1, .size = 0}, NULL,
			     p, 1),
		0);
	assert_int_equal(host_vu_recv(sp[1], &m, 1000), 0); /* a whole message with its fd */
	host_vu_close_fds(&m);
	assert_int_equal(sendfds(sp[0], &h, sizeof(h), p, 1), (ssize_t)sizeof(h));
	assert_int_equal(host_vu_recv(sp[1], &m, 1000), -EMSGSIZE);
	assert_int_equal(m.nfds, 0);
	assert_int_equal(open_fds(), before);
	/* a payload cut short by EOF is a framing error; the next read sees the EOF */
	h = (struct vhost_user_header){.request = 1, .flags = 1, .size = 8};
	uint64_t v = 0;
	send_raw(&h, sizeof(h));
	send_raw(&v, 4);
	shutdown(sp[0], SHUT_WR);
	assert_int_equal(host_vu_recv(sp[1], &m, 1000), -EBADMSG);
	assert_int_equal(host_vu_recv(sp[1], &m, 1000), -ECONNRESET);
	close(p[0]);
	close(p[1]);
}

/* More fds than the layer has room for: the kernel cuts them off and says so (MSG_CTRUNC),
 * which is refused with nothing left open. */
static void truncated_fds(void **state)
{
	(void)state;
	enum { N = VHOST_USER_MAX_FDS + 4 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = dup(1);
	unsigned before = open_fds();
	struct vhost_user_header h = {.request = VHOST_USER_SET_MEM_TABLE, .flags = 1};
	assert_int_equal(sendfds(sp[0], &h, sizeof(h), fds, N), (ssize_t)sizeof(h));
	struct host_vu_msg m;
	assert_int_equal(host_vu_recv(sp[1], &m, 1000), -EBADMSG);
	assert_int_equal(open_fds(), before);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	/* and a sender never sends more than the limit */
	assert_int_equal(host_vu_request(sp[0], 1, 0, NULL, 0, fds, VHOST_USER_MAX_FDS + 1),
			 -EINVAL);
}

static void timeouts(void **state)
{
	(void)state;
	struct host_vu_msg m;
	/* nothing at all within the wait */
	uint64_t t0 = host_now_ns();
	assert_int_equal(host_vu_recv(sp[1], &m, 50), -ETIMEDOUT);
	assert_true(host_now_ns() - t0 >= 40000000ull);
	/* a header whose payload never follows: the rest must come within the message timeout */
	struct vhost_user_header h = {.request = 1, .flags = 1, .size = 8};
	send_raw(&h, sizeof(h));
	t0 = host_now_ns();
	assert_int_equal(host_vu_recv(sp[1], &m, -1), -ETIMEDOUT);
	uint64_t waited = host_now_ns() - t0;
	assert_true(waited >= (HOST_VU_MSG_TIMEOUT_MS - 100) * 1000000ull);
	assert_true(waited < (HOST_VU_MSG_TIMEOUT_MS + 2000) * 1000000ull);
}

/* A front-end's call takes only a reply to its own request, in version 1. */
static void calls(void **state)
{
	(void)state;
	struct host_vu_msg m, in;
	uint64_t v = 0x1234;
	struct {
		uint32_t request, flags;
		int want;
	} cases[] = {
		{VHOST_USER_GET_FEATURES, 1 | VHOST_USER_REPLY_MASK, 0},
		{VHOST_USER_GET_PROTOCOL_FEATURES, 1 | VHOST_USER_REPLY_MASK, -EPROTO},
		{VHOST_USER_GET_FEATURES, 1, -EPROTO},			       /* not a reply */
		{VHOST_USER_GET_FEATURES, 2 | VHOST_USER_REPLY_MASK, -EPROTO}, /* version 2 */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vhost_user_header h = {
			.request = cases[i].request, .flags = cases[i].flags, .size = sizeof(v)};
		assert_int_equal(host_vu_send(sp[0], &h, &v, NULL, 0), 0);
		assert_int_equal(host_vu_call(sp[1], VHOST_USER_GET_FEATURES, NULL, 0, &m),
				 cases[i].want);
		if (!cases[i].want)
			assert_int_equal(m.p.u64, 0x1234);
		/* the request went out as version 1 */
		assert_int_equal(host_vu_recv(sp[0], &in, 1000), 0);
		assert_int_equal(in.hdr.request, VHOST_USER_GET_FEATURES);
		assert_int_equal(in.hdr.flags, VHOST_USER_VERSION);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a write to a reader-less pipe must fail with EPIPE */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip_with_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(oversized_and_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(truncated_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(calls, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
