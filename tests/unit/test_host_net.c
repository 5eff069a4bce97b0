/* SPDX-License-Identifier: MIT */
/*
 * The net engine's frames for devices without virtio rings (rings/host/net.c, host_net_port),
 * on a real io_uring. A SOCK_SEQPACKET socket pair stands in for the tap: like a tap, each
 * read returns one whole frame and each write sends one. Checked: received frames arrive in
 * order with the header dropped, a read shorter than the header is an error, writes carry a
 * zeroed header and the caller's buffers in order, cancelled reads each complete once with
 * -ECANCELED and the port works after, and frames already posted are refused. And the tap
 * descriptors a client passes (the API's SCM_RIGHTS): host_tap_check_fd on real taps in a
 * network namespace of the test's own, and host_tap_open adopting them (dups, made blocking).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_tap.h"
#include "host/net.h"

#define NFRAMES 4
#define BUF	64
#define HDR	HOST_NET_HDR_LEN

struct fixture {
	struct host_uring u;
	int sock[2]; /* [0]: the port's "tap", [1]: the other end (the host's network) */
	struct host_net_port port;
	struct host_net_frame f[NFRAMES];
	uint8_t buf[NFRAMES][BUF];
	int len[NFRAMES * 4]; /* every done(), in order: the length */
	unsigned who[NFRAMES * 4];
	unsigned ndone;
};

static void done(struct host_net_frame *f, int len)
{
	struct fixture *x = f->priv;
	assert_true(x->ndone < NFRAMES * 4);
	x->who[x->ndone] = (unsigned)(f - x->f);
	x->len[x->ndone++] = len;
}

static int setup(void **state)
{
	static struct fixture x;
	memset(&x, 0, sizeof(x));
	struct host_err err;
	assert_int_equal(host_uring_init(&x.u, 64, 0, &err), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, x.sock), 0);
	host_net_port_init(&x.port, x.sock[0], HDR);
	for (unsigned i = 0; i < NFRAMES; i++) {
		host_net_frame_init(&x.f[i], done, &x);
		struct iovec iov = {.iov_base = x.buf[i], .iov_len = BUF};
		assert_int_equal(host_net_frame_set(&x.f[i], &iov, 1), 0);
	}
	*state = &x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	close(x->sock[0]);
	close(x->sock[1]);
	host_uring_exit(&x->u);
	return 0;
}

/* Submits and runs completions until `n` more done() calls came, failing after 2 s idle. */
static void wait_done(struct fixture *x, unsigned n)
{
	unsigned want = x->ndone + n;
	while (x->ndone < want) {
		io_uring_submit(&x->u.ring);
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_sec = 2};
		int ret = io_uring_wait_cqe_timeout(&x->u.ring, &cqe, &ts);
		if (ret == -ETIME)
			fail_msg("%u of %u completions came", n - (want - x->ndone), n);
		assert_int_equal(ret, 0);
		host_uring_reap(&x->u);
	}
	assert_int_equal(x->ndone, want);
}

/* The other end sends a frame as a tap delivers it: a header (garbage here) and the bytes. */
static void peer_send(struct fixture *x, const char *payload)
{
	uint8_t msg[HDR + 2 * BUF];
	assert_true(strlen(payload) <= 2 * BUF);
	memset(msg, 0x77, HDR);
	memcpy(msg + HDR, payload, strlen(payload));
	ssize_t n = write(x->sock[1], msg, HDR + strlen(payload));
	assert_int_equal(n, (ssize_t)(HDR + strlen(payload)));
}

static struct host_net_frame **all(struct fixture *x, struct host_net_frame **p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = &x->f[i];
	return p;
}

static void test_recv_in_arrival_order(void **state)
{
	struct fixture *x = *state;
	struct host_net_frame *p[NFRAMES];
	assert_int_equal(host_net_port_recv(&x->port, &x->u, all(x, p, NFRAMES), NFRAMES), 0);
	assert_int_equal(host_net_port_busy(&x->port), NFRAMES);
	io_uring_submit(&x->u.ring);
	static const char *const msg[] = {"first frame", "2nd", "the third one"};
	for (unsigned i = 0; i < 3; i++)
		peer_send(x, msg[i]);
	wait_done(x, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(x->who[i], i); /* frame i got the i-th frame sent */
		assert_int_equal(x->len[i], (int)strlen(msg[i]));
		assert_memory_equal(x->buf[i], msg[i], strlen(msg[i]));
	}
	assert_int_equal(host_net_port_busy(&x->port), 1);
	assert_int_equal(x->port.rx_frames, 3);
	/* The fourth read is still posted, and takes the next frame. */
	peer_send(x, "last");
	wait_done(x, 1);
	assert_int_equal(x->who[3], 3);
	assert_int_equal(x->len[3], 4);
	assert_int_equal(host_net_port_busy(&x->port), 0);
}

static void test_recv_shorter_than_header(void **state)
{
	struct fixture *x = *state;
	struct host_net_frame *p = &x->f[0];
	assert_int_equal(host_net_port_recv(&x->port, &x->u, &p, 1), 0);
	io_uring_submit(&x->u.ring);
	assert_int_equal(write(x->sock[1], "short", 5), 5);
	wait_done(x, 1);
	assert_int_equal(x->len[0], -EIO);
	assert_int_equal(x->port.errors, 1);
	assert_int_equal(x->port.rx_frames, 0);
}

/* A frame longer than the buffers is cut to them (a tap does the same). */
static void test_recv_longer_than_buffer(void **state)
{
	struct fixture *x = *state;
	struct host_net_frame *p = &x->f[0];
	assert_int_equal(host_net_port_recv(&x->port, &x->u, &p, 1), 0);
	io_uring_submit(&x->u.ring);
	char big[BUF + 20];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	peer_send(x, big);
	wait_done(x, 1);
	assert_int_equal(x->len[0], BUF);
	assert_int_equal(x->buf[0][BUF - 1], 'z');
}

static void test_send_zero_header_and_buffers_in_order(void **state)
{
	struct fixture *x = *state;
	static char a[] = "hello, ", b[] = "world", c[] = "second";
	struct iovec two[2] = {{a, 7}, {b, 5}}, one[1] = {{c, 6}};
	assert_int_equal(host_net_frame_set(&x->f[0], two, 2), 0);
	assert_int_equal(host_net_frame_set(&x->f[1], one, 1), 0);
	memset(x->f[0].hdr, 0xee, HDR); /* left over from a read: must not reach the tap */
	struct host_net_frame *p[2] = {&x->f[0], &x->f[1]};
	assert_int_equal(host_net_port_send(&x->port, &x->u, p, 2), 0);
	wait_done(x, 2);
	assert_int_equal(x->len[0], 12);
	assert_int_equal(x->len[1], 6);
	assert_int_equal(x->port.tx_frames, 2);
	static const uint8_t zero[HDR];
	uint8_t msg[HDR + BUF];
	assert_int_equal(read(x->sock[1], msg, sizeof(msg)), HDR + 12);
	assert_memory_equal(msg, zero, HDR);
	assert_memory_equal(msg + HDR, "hello, world", 12);
	assert_int_equal(read(x->sock[1], msg, sizeof(msg)), HDR + 6);
	assert_memory_equal(msg + HDR, "second", 6);
}

/* A batch posted while the one before is still in the kernel (the tap is full) waits for it,
 * so the frames reach the tap in the order posted; a cancel ends the waiting ones at once. */
static void test_send_batches_in_order(void **state)
{
	struct fixture *x = *state;
	uint8_t filler[HDR + 8] = {0};
	unsigned filled = 0;
	while (send(x->sock[0], filler, sizeof(filler), MSG_DONTWAIT) == (ssize_t)sizeof(filler))
		filled++;
	assert_true(filled > 0);
	static char data[NFRAMES][8] = {"frame0", "frame1", "frame2", "frame3"};
	for (unsigned i = 0; i < NFRAMES; i++) {
		struct iovec iov = {data[i], 6};
		assert_int_equal(host_net_frame_set(&x->f[i], &iov, 1), 0);
	}
	struct host_net_frame *a[2] = {&x->f[0], &x->f[1]}, *b[2] = {&x->f[2], &x->f[3]};
	assert_int_equal(host_net_port_send(&x->port, &x->u, a, 2), 0);
	io_uring_submit(&x->u.ring);
	assert_int_equal(host_net_port_send(&x->port, &x->u, b, 2), 0);
	assert_int_equal(x->port.posted, 2);	 /* the first batch in the kernel, */
	assert_int_equal(x->port.tx_waiting, 2); /* the second waiting for it */
	assert_int_equal(host_net_port_busy(&x->port), 4);
	assert_int_equal(host_net_port_send(&x->port, &x->u, b, 1), -EBUSY); /* it has them */
	uint8_t msg[HDR + BUF];
	for (unsigned i = 0; i < filled; i++)
		assert_int_equal(read(x->sock[1], msg, sizeof(msg)), (ssize_t)sizeof(filler));
	for (unsigned i = 0; i < NFRAMES; i++) {
		if (i == 2)
			wait_done(x, 2); /* the first batch done, the second posted */
		io_uring_submit(&x->u.ring);
		assert_int_equal(read(x->sock[1], msg, sizeof(msg)), HDR + 6);
		assert_memory_equal(msg + HDR, data[i], 6);
	}
	wait_done(x, 2);
	for (unsigned i = 0; i < NFRAMES; i++)
		assert_int_equal(x->who[i], i);
	assert_int_equal(host_net_port_busy(&x->port), 0);

	/* Cancelled while waiting: done at once with -ECANCELED, in order, nothing sent. */
	while (send(x->sock[0], filler, sizeof(filler), MSG_DONTWAIT) == (ssize_t)sizeof(filler))
		;
	assert_int_equal(host_net_port_send(&x->port, &x->u, a, 2), 0);
	io_uring_submit(&x->u.ring);
	assert_int_equal(host_net_port_send(&x->port, &x->u, b, 2), 0);
	unsigned before = x->ndone;
	host_net_port_cancel(&x->port, &x->u);
	assert_int_equal(x->ndone, before + 2);
	assert_int_equal(x->who[before], 2);
	assert_int_equal(x->who[before + 1], 3);
	assert_int_equal(x->len[before], -ECANCELED);
	wait_done(x, 2); /* the two in the kernel, cancelled or written */
	assert_int_equal(host_net_port_busy(&x->port), 0);
}

static void test_cancel_completes_each_once(void **state)
{
	struct fixture *x = *state;
	struct host_net_frame *p[NFRAMES];
	assert_int_equal(host_net_port_recv(&x->port, &x->u, all(x, p, 3), 3), 0);
	io_uring_submit(&x->u.ring);
	host_net_port_cancel(&x->port, &x->u);
	assert_true(x->port.cancelling);
	/* Cancelling: nothing new is taken. */
	assert_int_equal(host_net_port_recv(&x->port, &x->u, &p[3], 1), -EBUSY);
	wait_done(x, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(x->len[i], -ECANCELED);
	assert_int_equal(host_net_port_busy(&x->port), 0);
	assert_false(x->port.cancelling);
	assert_int_equal(x->port.errors, 0);
	/* Nothing more comes, and the port works again. */
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_nsec = 100 * 1000 * 1000};
	io_uring_submit(&x->u.ring);
	while (io_uring_wait_cqe_timeout(&x->u.ring, &cqe, &ts) == 0)
		host_uring_reap(&x->u);
	assert_int_equal(x->ndone, 3);
	assert_int_equal(host_net_port_recv(&x->port, &x->u, &p[0], 1), 0);
	io_uring_submit(&x->u.ring);
	peer_send(x, "after");
	wait_done(x, 1);
	assert_int_equal(x->len[3], 5);
}

static void test_refuses_posted_frames(void **state)
{
	struct fixture *x = *state;
	struct host_net_frame *p[2] = {&x->f[0], &x->f[0]};
	/* The same frame twice in one batch: nothing is posted. */
	assert_int_equal(host_net_port_recv(&x->port, &x->u, p, 2), -EBUSY);
	assert_int_equal(host_net_port_send(&x->port, &x->u, p, 2), -EBUSY);
	assert_int_equal(host_net_port_busy(&x->port), 0);
	/* Posted once: not again, in any batch or direction. */
	assert_int_equal(host_net_port_recv(&x->port, &x->u, p, 1), 0);
	assert_int_equal(host_net_port_recv(&x->port, &x->u, p, 1), -EBUSY);
	assert_int_equal(host_net_port_send(&x->port, &x->u, p, 1), -EBUSY);
	assert_int_equal(host_net_port_busy(&x->port), 1);
	struct iovec iov[HOST_NET_FRAME_IOV + 1] = {{x->buf[1], 1}};
	assert_int_equal(host_net_frame_set(&x->f[0], iov, 1), -EBUSY);
	assert_int_equal(host_net_frame_set(&x->f[1], iov, HOST_NET_FRAME_IOV + 1), -EINVAL);
	io_uring_submit(&x->u.ring);
	peer_send(x, "x");
	wait_done(x, 1);
	assert_int_equal(x->len[0], 1);
}

static void need_taps(void)
{
	int ret = tap_netns();
	if (ret) {
		print_message("no taps here (%s): skipped\n", strerror(-ret));
		skip();
	}
}

/* A tap queue vmmon's NIC can use, and each reason a descriptor is not one (IFF_NO_PI cannot be
 * seen: TUNGETIFF answers that bit as IFF_NOFILTER). */
static void test_tap_check_fd(void **state)
{
	(void)state;
	need_taps();
	struct host_err err = {{0}};
	char name[16];
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(host_tap_check_fd(p[0], 1, name, "fds[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "fds[0]: descriptor"));
	assert_non_null(strstr(err.msg, "not a tap's queue"));
	int good = tap_make("ut-good", TAP_FLAGS);
	assert_true(good >= 0);
	assert_int_equal(host_tap_check_fd(good, 1, name, "x", &err), 0);
	assert_string_equal(name, "ut-good");
	/* A single-queue tap has one queue: it cannot serve two pairs. */
	assert_int_equal(host_tap_check_fd(good, 2, name, "x", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "IFF_MULTI_QUEUE"));
	int mq = tap_make("ut-mq", TAP_FLAGS | IFF_MULTI_QUEUE);
	assert_true(mq >= 0);
	assert_int_equal(host_tap_check_fd(mq, 2, name, "x", &err), 0);
	static const struct {
		const char *name;
		short flags;
		const char *missing;
	} bad[] = {
		{"ut-tun", IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, "IFF_TAP"},
		{"ut-nohdr", IFF_TAP | IFF_NO_PI, "IFF_VNET_HDR"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = tap_make(bad[i].name, bad[i].flags);
		assert_true(fd >= 0);
		err.msg[0] = '\0';
		assert_int_equal(host_tap_check_fd(fd, 1, name, "x", &err), -EINVAL);
		if (!strstr(err.msg, bad[i].missing) || !strstr(err.msg, bad[i].name))
			fail_msg("%s: %s", bad[i].name, err.msg);
		close(fd);
	}
	close(good);
	close(mq);
	close(p[0]);
	close(p[1]);
}

/* host_tap_open on passed queues: it works on dups (the owner's stay open for the next boot),
 * clears O_NONBLOCK (older io_uring ends reads with EAGAIN), sets the header, takes the tap's
 * name; a count that is not the pairs', and queues of two taps, are refused. */
static void test_tap_open_passed(void **state)
{
	(void)state;
	need_taps();
	int q0 = tap_make("ut-two", TAP_FLAGS | IFF_MULTI_QUEUE);
	int q1 = tap_make("ut-two", TAP_FLAGS | IFF_MULTI_QUEUE);
	int other = tap_make("ut-other", TAP_FLAGS | IFF_MULTI_QUEUE);
	assert_true(q0 >= 0 && q1 >= 0 && other >= 0);
	assert_int_equal(fcntl(q0, F_SETFL, O_NONBLOCK), 0);
	struct host_tap_opts o = {.queues = 2, .fd = {q0, q1}, .nfds = 2};
	struct host_tap t;
	struct host_err err = {{0}};
	assert_int_equal(host_tap_open(&t, "--net", &o, &err), 0);
	assert_string_equal(t.opts.name, "ut-two");
	assert_int_equal(t.pairs, 2);
	assert_true(t.fd[0] >= 0 && t.fd[0] != q0 && t.fd[1] >= 0 && t.fd[1] != q1);
	assert_false(fcntl(q0, F_GETFL) & O_NONBLOCK);
	int hdr = 0;
	assert_int_equal(ioctl(t.fd[1], TUNGETVNETHDRSZ, &hdr), 0);
	assert_int_equal(hdr, HOST_NET_HDR_LEN);
	host_tap_close(&t);
	assert_true(fcntl(q0, F_GETFD) >= 0 && fcntl(q1, F_GETFD) >= 0);

	o.nfds = 1;
	assert_int_equal(host_tap_open(&t, "--net", &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "1 tap descriptors for 2 queue pairs"));
	o = (struct host_tap_opts){.queues = 2, .fd = {q0, other}, .nfds = 2};
	assert_int_equal(host_tap_open(&t, "--net", &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "a queue of tap ut-other, fds[0] is of ut-two"));
	assert_int_equal(t.fd[0], -1); /* the dup made before the refusal is closed */
	close(q0);
	close(q1);
	close(other);
}

int main(void)
{
	/* io_uring refused by the host (EPERM) or absent from the kernel (ENOSYS): skip. */
	struct io_uring probe;
	int ret = io_uring_queue_init(4, &probe, 0);
	if (ret == -EPERM || ret == -ENOSYS) {
		printf("SKIP: io_uring is not available here (%s)\n", strerror(-ret));
		return 77;
	}
	if (ret < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	io_uring_queue_exit(&probe);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recv_in_arrival_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_shorter_than_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_longer_than_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_zero_header_and_buffers_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_send_batches_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_completes_each_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_posted_frames, setup, teardown),
		cmocka_unit_test(test_tap_check_fd),
		cmocka_unit_test(test_tap_open_passed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
