/* SPDX-License-Identifier: MIT */
/*
 * rings/host/blk.c's one-request level on a real io_uring and a real file: where a write goes.
 * Without sync_write_max every read and write is an SQE on the caller's ring and completes
 * through done(); with it (ioproxy: any size with --poll, up to 64 KiB in event mode) a buffered
 * write of up to that many bytes is made at once on the caller's thread, nothing on the ring,
 * the data in the file before host_blk_start returns, while reads and larger writes still go on
 * the ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/blk.h"
#include "host/util.h"

#define DISK_BYTES (1u << 20)
#define SECTOR	   8 /* the request's sector: 4 KiB in */

struct fix {
	char path[64];
	struct host_blk disk;
	struct host_uring u;
	struct host_blk_io io;
	unsigned done;
	uint8_t status, buf[4096];
};

static void done(struct host_blk_io *io)
{
	struct fix *f = container_of(io, struct fix, io);
	f->done++;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/test-host-blk.XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK_BYTES), 0);
	close(fd);
	struct host_blk_opts o = {.path = f->path};
	struct host_err err;
	assert_int_equal(host_blk_open(&f->disk, "--disk", &o, &err), 0);
	assert_int_equal(host_uring_init(&f->u, 8, 0, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	host_uring_exit(&f->u);
	host_blk_close(&f->disk);
	unlink(f->path);
	free(f);
	return 0;
}

/* A request of type t on f->buf at SECTOR. */
static bool start(struct fix *f, uint32_t t)
{
	struct blk_req *r = &f->io.req;
	memset(r, 0, sizeof(*r));
	r->type = t;
	r->sector = SECTOR;
	r->status = &f->status;
	r->iov[0] = (struct iovec){.iov_base = f->buf, .iov_len = sizeof(f->buf)};
	r->niov = 1;
	r->len = sizeof(f->buf);
	f->io.done = done;
	f->status = 0xff;
	return host_blk_start(&f->disk, &f->u, &f->io, BLK_REQ_OK);
}

/* Submits what is on the ring and runs one completion. */
static void complete_one(struct fix *f)
{
	assert_int_equal(io_uring_submit_and_wait(&f->u.ring, 1), 1);
	assert_int_equal(host_uring_reap(&f->u), 1);
}

static void file_holds(struct fix *f, uint8_t byte)
{
	uint8_t got[sizeof(f->buf)];
	FILE *fp = fopen(f->path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, SECTOR * 512, SEEK_SET), 0);
	assert_int_equal(fread(got, 1, sizeof(got), fp), sizeof(got));
	fclose(fp);
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], byte);
}

static void write_on_ring(void **state)
{
	struct fix *f = *state;
	memset(f->buf, 0x5a, sizeof(f->buf));
	assert_false(start(f, VIRTIO_BLK_T_OUT));
	assert_int_equal(io_uring_sq_ready(&f->u.ring), 1);
	assert_false(f->io.sync);
	complete_one(f);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->status, VIRTIO_BLK_S_OK);
	assert_int_equal(f->io.used_len, 1);
	file_holds(f, 0x5a);
}

static void write_at_once(void **state)
{
	struct fix *f = *state;
	f->disk.sync_write_max = sizeof(f->buf); /* the limit itself is included */
	memset(f->buf, 0xa5, sizeof(f->buf));
	assert_true(start(f, VIRTIO_BLK_T_OUT));
	assert_int_equal(io_uring_sq_ready(&f->u.ring), 0); /* nothing on the ring */
	assert_true(f->io.sync);
	assert_int_equal(f->done, 0); /* completed at once: done() is not called */
	assert_int_equal(f->status, VIRTIO_BLK_S_OK);
	assert_int_equal(f->io.used_len, 1);
	file_holds(f, 0xa5);
	/* A read is still the ring's, and finds the write. */
	memset(f->buf, 0, sizeof(f->buf));
	assert_false(start(f, VIRTIO_BLK_T_IN));
	assert_false(f->io.sync);
	complete_one(f);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->status, VIRTIO_BLK_S_OK);
	assert_int_equal(f->io.used_len, sizeof(f->buf) + 1);
	for (size_t i = 0; i < sizeof(f->buf); i++)
		assert_int_equal(f->buf[i], 0xa5);
}

/* A write longer than the limit goes on the ring, like any write without one. */
static void write_above_limit(void **state)
{
	struct fix *f = *state;
	f->disk.sync_write_max = sizeof(f->buf) - 512;
	memset(f->buf, 0x3c, sizeof(f->buf));
	assert_false(start(f, VIRTIO_BLK_T_OUT));
	assert_int_equal(io_uring_sq_ready(&f->u.ring), 1);
	assert_false(f->io.sync);
	complete_one(f);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->status, VIRTIO_BLK_S_OK);
	file_holds(f, 0x3c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_on_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(write_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(write_above_limit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
