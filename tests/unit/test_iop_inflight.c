/* SPDX-License-Identifier: MIT */
/* In-flight tracking of split rings (vhost-user INFLIGHT_SHMFD): marking, batched clearing,
 * the repair of a batch cut short by a crash, resubmission order, and a region scribbled on
 * by someone else. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "inflight.h"

#define NUM 8

static struct vhost_user_inflight_split *region(void)
{
	static uint64_t buf[1024];
	memset(buf, 0, sizeof(buf));
	assert_true(iop_inflight_queue_bytes(NUM) <= sizeof(buf));
	return (struct vhost_user_inflight_split *)buf;
}

static void format_and_attach(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	assert_int_equal(iop_inflight_queue_bytes(NUM) % 64, 0);
	assert_true(iop_inflight_queue_bytes(NUM) >= 16 + 16 * NUM);
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	assert_int_equal(r->version, VHOST_USER_INFLIGHT_VERSION);
	assert_int_equal(r->desc_num, NUM);
	/* A region made for another queue size is not trusted: formatted again. */
	r->desc[3].inflight = 1;
	iop_inflight_attach(&f, r, NUM / 2);
	assert_int_equal(r->desc_num, NUM / 2);
	assert_int_equal(r->desc[3].inflight, 0);
	/* Not tracked: every call is a no-op. */
	iop_inflight_detach(&f);
	iop_inflight_get(&f, 1);
	iop_inflight_put(&f, 1);
	iop_inflight_batch_done(&f, 1);
	assert_int_equal(iop_inflight_recover(&f, 0, NULL), 0);
}

static void mark_and_clear_batches(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	iop_inflight_get(&f, 3);
	iop_inflight_get(&f, 1);
	iop_inflight_get(&f, 2);
	assert_int_equal(r->desc[3].inflight, 1);
	assert_true(r->desc[3].counter < r->desc[1].counter);
	assert_true(r->desc[1].counter < r->desc[2].counter);
	/* Completed out of order: 1 then 3 in one batch; both stay marked until published. */
	iop_inflight_put(&f, 1);
	iop_inflight_put(&f, 3);
	assert_int_equal(r->desc[1].inflight, 1);
	assert_int_equal(r->last_batch_head, 3);
	assert_int_equal(r->desc[3].next, 1);
	iop_inflight_batch_done(&f, 2);
	assert_int_equal(r->desc[1].inflight, 0);
	assert_int_equal(r->desc[3].inflight, 0);
	assert_int_equal(r->desc[2].inflight, 1);
	assert_int_equal(r->used_idx, 2);
	/* Head out of range (a malformed chain) is not tracked. */
	iop_inflight_get(&f, NUM);
	iop_inflight_put(&f, 0xffff);
	assert_int_equal(f.batch, 0);
}

static void recover_in_counter_order(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	const uint16_t order[] = {5, 0, 7, 2, 6};
	for (unsigned i = 0; i < 5; i++)
		iop_inflight_get(&f, order[i]);
	iop_inflight_put(&f, 0);
	iop_inflight_batch_done(&f, 1);
	/* The back-end dies; a new one attaches the region the front-end kept. */
	struct iop_inflight g;
	iop_inflight_attach(&g, r, NUM);
	uint16_t heads[NUM];
	assert_int_equal(iop_inflight_recover(&g, 1, heads), 4);
	assert_int_equal(heads[0], 5);
	assert_int_equal(heads[1], 7);
	assert_int_equal(heads[2], 2);
	assert_int_equal(heads[3], 6);
	/* New heads get counters after the newest recovered one. */
	iop_inflight_get(&g, 1);
	assert_true(r->desc[1].counter > r->desc[6].counter);
}

static void recover_repairs_last_batch(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	for (uint16_t h = 0; h < 4; h++)
		iop_inflight_get(&f, h);
	iop_inflight_put(&f, 1);
	iop_inflight_batch_done(&f, 1);
	/* A batch of two reaches the used ring (idx 3) but the back-end dies before clearing
	 * it here: the recovery clears it, so those two are not submitted twice. */
	iop_inflight_put(&f, 3);
	iop_inflight_put(&f, 0);
	assert_int_equal(r->used_idx, 1);
	struct iop_inflight g;
	iop_inflight_attach(&g, r, NUM);
	uint16_t heads[NUM];
	assert_int_equal(iop_inflight_recover(&g, 3, heads), 1);
	assert_int_equal(heads[0], 2);
	assert_int_equal(r->used_idx, 3);
	/* Dying before the used ring moved: the batch is still in flight, all of it. */
	r = region();
	iop_inflight_attach(&f, r, NUM);
	iop_inflight_get(&f, 4);
	iop_inflight_get(&f, 5);
	iop_inflight_put(&f, 5);
	iop_inflight_attach(&g, r, NUM);
	assert_int_equal(iop_inflight_recover(&g, 0, heads), 2);
	assert_int_equal(heads[0], 4);
	assert_int_equal(heads[1], 5);
}

static void scribbled_region(void **state)
{
	(void)state;
	struct vhost_user_inflight_split *r = region();
	struct iop_inflight f;
	iop_inflight_attach(&f, r, NUM);
	/* A loop in the batch list and links out of range: bounded walks, no crash. */
	r->last_batch_head = 2;
	r->desc[2].next = 2;
	r->desc[2].inflight = 1;
	r->used_idx = 0;
	uint16_t heads[NUM];
	assert_int_equal(iop_inflight_recover(&f, 0x8000, heads), 0);
	r->last_batch_head = 0xfff0;
	r->used_idx = 0;
	assert_int_equal(iop_inflight_recover(&f, 5, heads), 0);
	/* inflight values other than 1 are not in flight. */
	r->desc[6].inflight = 7;
	assert_int_equal(iop_inflight_recover(&f, 5, heads), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_and_attach),
		cmocka_unit_test(mark_and_clear_batches),
		cmocka_unit_test(recover_in_counter_order),
		cmocka_unit_test(recover_repairs_last_batch),
		cmocka_unit_test(scribbled_region),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
