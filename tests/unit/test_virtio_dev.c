/* SPDX-License-Identifier: MIT */
/*
 * vmmon's virtio device core (monitor/virtio/device.c): a reset waits for the I/O in flight,
 * quiescing the device from the real I/O thread. A fake device stands in for virtio-net, whose
 * quiesce cancels the posted tap reads: one round of cancels can miss a hard-linked read that
 * has not started (rings/host/net.h), so the request only ends after several. Checked: the
 * reset asks again until the I/O is back and returns within a bound, with nothing in flight
 * when the device's own reset runs (it frees the queue the reads were in); and a device whose
 * first quiesce ends its I/O is quiesced once.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "host/util.h"
#include "virtio/device.h"

#define RESET_BOUND_NS 2000000000ull /* a reset that takes longer waited out its drain */

struct fixture {
	struct vmm_io io;
	struct gmem mem;
	struct vmm_virtio_dev d;
	unsigned quiesce_needed; /* quiesce calls before the request ends */
	unsigned quiesces;	 /* I/O thread, lock held */
	unsigned resets;
	unsigned inflight_at_reset;
};

static struct fixture fx;

static void quiesce(struct vmm_virtio_dev *d)
{
	struct fixture *f = d->priv;
	if (++f->quiesces == f->quiesce_needed)
		vmm_virtio_io_end(d); /* the cancel that finally found the read */
}

static void reset(struct vmm_virtio_dev *d)
{
	struct fixture *f = d->priv;
	f->resets++;
	f->inflight_at_reset = d->inflight;
}

static void kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	(void)d;
	(void)q;
}

static const struct vmm_virtio_dev_ops ops = {
	.name = "fake", .device_id = 1, .reset = reset, .quiesce = quiesce, .kick = kick};

static int setup(void **state)
{
	struct fixture *f = &fx;
	memset(f, 0, sizeof(*f));
	gmem_init(&f->mem);
	struct host_err err = {{0}};
	if (vmm_io_init(&f->io, 64, &err)) {
		print_message("io_uring unavailable: %s\n", err.msg);
		return -1;
	}
	assert_int_equal(vmm_virtio_dev_init(&f->d, &ops, f, 0, 1, 64, &f->io, &f->mem), 0);
	assert_int_equal(vmm_io_start(&f->io), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	vmm_io_stop(&f->io);
	vmm_virtio_dev_destroy(&f->d);
	vmm_io_destroy(&f->io);
	return 0;
}

/* Driver side: the device live (no queues needed), one request in flight. */
static void start_with_one_request(struct fixture *f)
{
	struct vmm_virtio_dev *d = &f->d;
	pthread_mutex_lock(&d->lock);
	vmm_virtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vmm_virtio_set_driver_features(d, 1, 1u << (VIRTIO_F_VERSION_1 - 32));
	vmm_virtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					 VIRTIO_CONFIG_S_FEATURES_OK);
	vmm_virtio_set_status(d, d->status | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(d->active);
	vmm_virtio_io_begin(d); /* a tap read posted */
	pthread_mutex_unlock(&d->lock);
}

/* The driver writes status 0 (a vCPU, lock held); returns how long that took. */
static uint64_t driver_reset(struct fixture *f)
{
	uint64_t t0 = host_now_ns();
	pthread_mutex_lock(&f->d.lock);
	vmm_virtio_set_status(&f->d, 0);
	pthread_mutex_unlock(&f->d.lock);
	return host_now_ns() - t0;
}

static void test_reset_quiesces_until_idle(void **state)
{
	struct fixture *f = *state;
	f->quiesce_needed = 3; /* two rounds of cancels miss */
	start_with_one_request(f);
	uint64_t took = driver_reset(f);
	if (took > RESET_BOUND_NS)
		fail_msg("the reset took %llu ms, quiesced %u times",
			 (unsigned long long)took / 1000000, f->quiesces);
	assert_int_equal(f->quiesces, 3);
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->inflight_at_reset, 0);
	assert_int_equal(f->d.status, 0);
	assert_false(f->d.resetting);
}

static void test_reset_quiesces_once_when_enough(void **state)
{
	struct fixture *f = *state;
	f->quiesce_needed = 1;
	start_with_one_request(f);
	assert_true(driver_reset(f) < RESET_BOUND_NS);
	assert_int_equal(f->inflight_at_reset, 0);
	/* Nothing more after the reset: the I/O thread is not asked again. */
	pthread_mutex_lock(&f->d.lock);
	unsigned q = f->quiesces;
	pthread_mutex_unlock(&f->d.lock);
	assert_int_equal(q, 1);
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
		cmocka_unit_test_setup_teardown(test_reset_quiesces_until_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_quiesces_once_when_enough, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
