/* SPDX-License-Identifier: MIT */
/*
 * The net engine's queue over a virtio ring (rings/host/net.c, host_net_queue) on a real
 * io_uring, stopped while its receives wait. A SOCK_SEQPACKET socket pair stands in for the tap
 * (each read takes one whole frame, as from a tap), and a fake pop hands out chains of one
 * writable buffer each. Posted receives complete only when a frame arrives, so a stop cancels
 * them; they are hard-linked, and a cancel finds no linked read that has not started yet, so
 * the engine sends its cancels again until every read is back. Checked, on both ring setups
 * ioproxy uses (DEFER_TASKRUN in event mode, plain with --poll): a stop, driven as ioproxy's
 * queue thread drives it (host_net_queue_cancel on every turn, waits bounded), gets every read
 * back, each chain completed exactly once with length 0, within a bound; many times over, since
 * whether a round of cancels misses depends on when the kernel starts the next linked read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/net.h"
#include "host/util.h"

#define NUM	   64			     /* the ring's size: slots */
#define BUFSZ	   (HOST_NET_HDR_LEN + 1514) /* the smallest receive buffer the engine takes */
#define ROUNDS	   50			     /* stops per ring setup */
#define STOP_BOUND 2000000000ull	     /* ns: a stop that takes longer hung */
#define TURN_NS	   1000000		     /* a turn of the loop waits at most this */

struct qfix {
	struct host_uring u;
	int sock[2]; /* [0]: the queue's "tap", [1]: the host's side */
	struct host_net_queue q;
	uint8_t buf[NUM][BUFSZ];
	unsigned avail;		 /* chains the fake ring still holds */
	uint16_t next_id;	 /* the next chain's id (its buffer) */
	unsigned taken[NUM];	 /* per id: pops */
	unsigned completed[NUM]; /* per id: completions */
	uint32_t len[NUM];	 /* per id: the last completion's length */
	unsigned ncomplete;
};

static int pop(struct host_net_queue *q, struct vq_chain *c, unsigned n)
{
	struct qfix *x = q->priv;
	unsigned got = n < x->avail ? n : x->avail;
	for (unsigned i = 0; i < got; i++) {
		uint16_t id = x->next_id++ % NUM;
		assert_int_equal(x->taken[id], x->completed[id]); /* not in flight already */
		x->taken[id]++;
		c[i].id = id;
		c[i].err = 0;
		c[i].nseg = 1;
		c[i].nread = 0;
		c[i].read_len = 0;
		c[i].write_len = BUFSZ;
		c[i].seg[0] = (struct vq_seg){.hva = x->buf[id], .len = BUFSZ};
	}
	x->avail -= got;
	return (int)got;
}

static void complete(struct host_net_queue *q, const struct vq_chain *c, uint32_t len,
		     bool from_ring)
{
	struct qfix *x = q->priv;
	assert_true(from_ring); /* every usable chain went to the kernel */
	assert_true(c->id < NUM);
	x->completed[c->id]++;
	assert_int_equal(x->completed[c->id], x->taken[c->id]); /* exactly once */
	x->len[c->id] = len;
	x->ncomplete++;
}

static const struct host_net_queue_ops ops = {.pop = pop, .complete = complete};

static struct qfix fix;

static int setup_ring(void **state, unsigned flags)
{
	struct qfix *x = &fix;
	memset(x, 0, sizeof(*x));
	struct host_err err;
	assert_int_equal(host_uring_init(&x->u, 256, flags, &err), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, x->sock), 0);
	assert_int_equal(
		host_net_queue_init(&x->q, x->sock[0], true, NUM, HOST_NET_HDR_LEN, &ops, x), 0);
	*state = x;
	return 0;
}

static int setup_defer(void **state)
{
	return setup_ring(state, HOST_URING_DEFER); /* ioproxy's event mode */
}

static int setup_plain(void **state)
{
	return setup_ring(state, 0); /* ioproxy --poll */
}

static int teardown(void **state)
{
	struct qfix *x = *state;
	host_net_queue_destroy(&x->q);
	close(x->sock[0]);
	close(x->sock[1]);
	host_uring_exit(&x->u);
	return 0;
}

/* One turn of a queue thread's loop: submit, wait a little for a completion, run them. */
static void turn(struct qfix *x)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_nsec = TURN_NS};
	int ret = io_uring_submit_and_wait_timeout(&x->u.ring, &cqe, 1, &ts, NULL);
	assert_true(ret >= 0 || ret == -ETIME || ret == -EINTR);
	host_uring_reap(&x->u);
}

/* A frame from the host's side, as a tap hands it over: a header and the bytes. */
static void peer_send(struct qfix *x, uint8_t fill)
{
	uint8_t msg[HOST_NET_HDR_LEN + 60];
	memset(msg, 0, HOST_NET_HDR_LEN);
	memset(msg + HOST_NET_HDR_LEN, fill, sizeof(msg) - HOST_NET_HDR_LEN);
	assert_int_equal(write(x->sock[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));
}

/* Stops the queue as ioproxy's queue thread does (iop_worker_finish_stops): a cancel on every
 * turn until no request is in the kernel. Fails if that takes longer than STOP_BOUND. */
static void stop(struct qfix *x, unsigned round)
{
	uint64_t start = host_now_ns();
	while (host_net_queue_busy(&x->q)) {
		if (host_now_ns() - start > STOP_BOUND)
			fail_msg("stop %u hung: %u reads still posted after %llu ms", round,
				 host_net_queue_busy(&x->q), STOP_BOUND / 1000000);
		host_net_queue_cancel(&x->q, &x->u);
		turn(x);
	}
}

/* The receive chain posted, some frames taken (the cancel then lands mid-chain), stopped:
 * every chain back exactly once, the cancelled ones empty. */
static void stop_gets_every_read_back(void **state)
{
	struct qfix *x = *state;
	for (unsigned round = 0; round < ROUNDS; round++) {
		unsigned frames = round % 4; /* 0..3 frames before the stop */
		unsigned before = x->ncomplete;
		uint64_t moved = x->q.frames;
		x->avail = NUM;
		assert_int_equal(host_net_queue_run(&x->q, &x->u), 0); /* a chain posted */
		unsigned posted = host_net_queue_busy(&x->q);
		assert_true(posted > frames);
		io_uring_submit(&x->u.ring);
		for (unsigned i = 0; i < frames; i++)
			peer_send(x, (uint8_t)(round + i));
		while (x->ncomplete - before < frames)
			turn(x);
		stop(x, round);
		assert_int_equal(x->ncomplete - before, posted);
		assert_int_equal(x->q.frames - moved, frames);
		for (uint16_t id = 0; id < NUM; id++)
			assert_int_equal(x->completed[id], x->taken[id]);
		/* The ones that took a frame have its length; the rest were cancelled: 0. */
		for (unsigned k = 0; k < posted; k++) {
			uint16_t id = (uint16_t)((x->next_id - posted + k) % NUM);
			uint32_t want = k < frames ? HOST_NET_HDR_LEN + 60 : 0;
			assert_int_equal(x->len[id], want);
		}
		assert_int_equal(x->q.dropped, 0);
		/* A new start: the queue takes chains again (ioproxy makes a new one; vmmon
		 * re-inits after a reset). */
		host_net_queue_destroy(&x->q);
		assert_int_equal(host_net_queue_init(&x->q, x->sock[0], true, NUM, HOST_NET_HDR_LEN,
						     &ops, x),
				 0);
	}
}

static void test_stop_defer_taskrun(void **state)
{
	stop_gets_every_read_back(state);
}

static void test_stop_plain_ring(void **state)
{
	stop_gets_every_read_back(state);
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
		cmocka_unit_test_setup_teardown(test_stop_defer_taskrun, setup_defer, teardown),
		cmocka_unit_test_setup_teardown(test_stop_plain_ring, setup_plain, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
