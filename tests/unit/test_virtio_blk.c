/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk end to end without KVM: fake guest RAM, rings/'s driver side, a fake transport
 * that records interrupts, the real I/O thread and a real file. Covers every request type and
 * the hostile cases: bad sectors, split headers, missing status, read-only, broken chains,
 * queue setup out of order, notify before DRIVER_OK.
 *
 * Every completion is checked in the used ring itself, not only through vq_drv_get (which
 * skips used entries that name no buffer it handed out): each request gets exactly one used
 * entry, under its own id, with the length the device wrote. A chain the device refuses (no
 * status byte, a buffer outside RAM, a head or buffer id past the ring) must still get its one
 * used entry with length 0, or the guest waits for it forever. The request tests rerun across
 * split/packed x EVENT_IDX x indirect.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "barrier.h"
#include "virtio/blk.h"
#include "ring_configs.h"

#define RAM_GPA	     0x100000ull
#define RAM_SIZE     (4u << 20)
#define RING_OFF     0x0
#define TABLE_OFF    0x80000  /* the indirect table of the request being made */
#define DATA_OFF     0x100000 /* request buffers from here */
#define QSIZE	     64
#define DISK_SECTORS 2048

/* Tests run without a configuration get this one. */
static const struct tcfg default_cfg = {"split+event_idx", false, true, false};

struct fixture {
	const struct tcfg *t;
	uint8_t *ram;
	struct gmem mem;
	struct vmm_io io;
	struct vblk_dev blk;
	struct vq_drv drv;
	struct vq_drv_slot slots[QSIZE];
	char path[64];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned notifies, config_notifies;
};

static struct fixture *fx_of(struct vmm_virtio_dev *d)
{
	return (struct fixture *)((char *)d->priv - offsetof(struct fixture, blk));
}

static void notify_queue(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	(void)q;
	struct fixture *f = fx_of(d);
	pthread_mutex_lock(&f->lock);
	f->notifies++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void notify_config(struct vmm_virtio_dev *d)
{
	fx_of(d)->config_notifies++;
}

static const struct vmm_virtio_transport_ops fake_transport = {notify_queue, notify_config, NULL};

static uint64_t gpa(size_t off)
{
	return RAM_GPA + off;
}

/* Negotiates like a driver: features, FEATURES_OK, queue 0, DRIVER_OK. */
static void driver_setup(struct fixture *f, uint64_t features)
{
	struct vmm_virtio_dev *d = &f->blk.vdev;
	struct vq_config cfg = {.num = QSIZE,
				.packed = features & (1ull << VIRTIO_F_RING_PACKED),
				.event_idx = features & (1ull << VIRTIO_RING_F_EVENT_IDX),
				.indirect = features & (1ull << VIRTIO_RING_F_INDIRECT_DESC)};
	assert_int_equal(vq_drv_init(&f->drv, &cfg, f->ram + RING_OFF, gpa(RING_OFF), f->slots), 0);
	pthread_mutex_lock(&d->lock);
	vmm_virtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vmm_virtio_set_driver_features(d, 0, (uint32_t)features);
	vmm_virtio_set_driver_features(d, 1, (uint32_t)(features >> 32));
	vmm_virtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					 VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(d->status & VIRTIO_CONFIG_S_FEATURES_OK);
	struct vmm_virtio_queue *q = &d->q[0];
	q->size = QSIZE;
	q->desc = f->drv.cfg.desc;
	q->driver = f->drv.cfg.driver;
	q->device = f->drv.cfg.device;
	vmm_virtio_queue_enable(d, q);
	vmm_virtio_set_status(d, d->status | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(d->active);
	pthread_mutex_unlock(&d->lock);
}

static int setup_with(void **state, bool readonly)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->t = *state ? *state : &default_cfg;
	f->ram = aligned_alloc(4096, RAM_SIZE);
	memset(f->ram, 0, RAM_SIZE);
	gmem_init(&f->mem);
	gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram, -1, 0);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	strcpy(f->path, "/tmp/vmmon-blk-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK_SECTORS * 512), 0);
	close(fd);
	struct host_err err = {{0}};
	if (vmm_io_init(&f->io, 256, &err)) {
		print_message("io_uring unavailable: %s\n", err.msg);
		return -1;
	}
	struct vmm_disk_config cfg = {.blk = {.path = f->path, .readonly = readonly, .queues = 1}};
	strcpy(cfg.blk.serial, "unit-disk");
	assert_int_equal(vblk_dev_init(&f->blk, &cfg, &f->io, &f->mem, &err), 0);
	f->blk.vdev.tops = &fake_transport;
	assert_int_equal(vmm_io_start(&f->io), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_ro(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	vmm_io_stop(&f->io);
	vblk_dev_destroy(&f->blk);
	vmm_io_destroy(&f->io);
	unlink(f->path);
	free(f->ram);
	free(f);
	return 0;
}

static void kick(struct fixture *f)
{
	if (vq_drv_kick_prepare(&f->drv)) {
		uint64_t one = 1;
		assert_int_equal(write(f->blk.vdev.q[0].kick.fd, &one, 8), 8);
	}
}

/* The next used entry past what the driver has taken, read from the ring itself. */
struct used {
	uint16_t id;
	uint32_t len;
};

static bool peek_used(struct fixture *f, struct used *u)
{
	bool found;
	pthread_mutex_lock(&f->blk.vdev.lock); /* the device publishes under it */
	if (f->drv.cfg.packed) {
		const struct vring_packed_desc *d = &f->drv.pdesc[f->drv.next_used];
		uint16_t flags = vq_load_acquire(&d->flags);
		bool avail = flags & (1u << VRING_PACKED_DESC_F_AVAIL);
		bool used = flags & (1u << VRING_PACKED_DESC_F_USED);
		/* used in the driver's current lap: both bits equal its used wrap counter */
		found = avail == f->drv.used_wrap && used == f->drv.used_wrap;
		if (found)
			*u = (struct used){d->id, d->len};
	} else {
		found = vq_load_acquire(&f->drv.used->idx) != f->drv.last_used;
		if (found) {
			const struct vring_used_elem *e =
				&f->drv.used->ring[f->drv.last_used % QSIZE];
			*u = (struct used){(uint16_t)e->id, e->len};
			assert_int_equal(e->id, u->id); /* no id past 16 bits */
		}
	}
	pthread_mutex_unlock(&f->blk.vdev.lock);
	return found;
}

/* Waits (on the fake transport's interrupts, so a missing one fails too) until the device
 * has published a used entry the driver has not taken; returns it. want_id is for the
 * message. */
static struct used wait_used(struct fixture *f, uint16_t want_id)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		unsigned seen = f->notifies; /* read before looking, so no wakeup is missed */
		pthread_mutex_unlock(&f->lock);
		struct used u;
		if (peek_used(f, &u))
			return u;
		pthread_mutex_lock(&f->lock);
		int r = 0;
		while (f->notifies == seen && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&f->cond, &f->lock, &until);
		pthread_mutex_unlock(&f->lock);
		if (r == ETIMEDOUT)
			fail_msg("%s: no used entry within 5 s (waiting for id %u)", f->t->name,
				 want_id);
	}
}

/* Takes the completion of the buffer with id `head`: its used entry must be the next one, and
 * the only one. vq_drv_get must give back `token` (NULL: an id the driver never handed out,
 * which it skips). Returns the used length. */
static uint32_t take_used(struct fixture *f, uint16_t head, void *token)
{
	struct used u = wait_used(f, head);
	if (u.id != head)
		fail_msg("%s: used entry for id %u, want %u", f->t->name, u.id, head);
	uint32_t len = u.len;
	pthread_mutex_lock(&f->blk.vdev.lock);
	void *t = vq_drv_get(&f->drv, &len);
	pthread_mutex_unlock(&f->blk.vdev.lock);
	assert_ptr_equal(t, token);
	assert_int_equal(len, u.len);
	struct used more;
	if (peek_used(f, &more))
		fail_msg("%s: a second used entry (id %u, len %u) after id %u", f->t->name, more.id,
			 more.len, head);
	return len;
}

/* Adds a buffer as a driver does, in an indirect table when the configuration has them;
 * returns the buffer id it gets (split: head index; packed: buffer id). */
static uint16_t add(struct fixture *f, const struct vq_sg *sg, unsigned nout, unsigned nin,
		    void *token)
{
	uint16_t id = f->drv.free_head;
	bool ind = f->t->indirect && nout + nin > 1;
	assert_int_equal(vq_drv_add(&f->drv, sg, nout, nin, token, ind ? f->ram + TABLE_OFF : NULL,
				    ind ? gpa(TABLE_OFF) : 0),
			 0);
	return id;
}

/* A request: header at `off`, optional data, status byte; returns the status. */
static uint8_t request(struct fixture *f, uint32_t type, uint64_t sector, size_t data_off,
		       uint32_t data_len, uint32_t *used)
{
	size_t hdr = DATA_OFF - 64, st = DATA_OFF - 8;
	struct virtio_blk_outhdr h = {.type = type, .sector = sector};
	memcpy(f->ram + hdr, &h, sizeof(h));
	f->ram[st] = 0xee;
	struct vq_sg sg[3] = {{gpa(hdr), sizeof(h)}};
	unsigned nout = 1, nin = 0;
	bool write_data = type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
			  type == VIRTIO_BLK_T_WRITE_ZEROES;
	if (data_len) {
		sg[1] = (struct vq_sg){gpa(data_off), data_len};
		write_data ? nout++ : nin++;
	}
	sg[nout + nin] = (struct vq_sg){gpa(st), 1};
	nin++;
	static int token;
	uint16_t id = add(f, sg, nout, nin, &token);
	kick(f);
	uint32_t len = take_used(f, id, &token);
	if (used)
		*used = len;
	return f->ram[st];
}

static void pread_file(struct fixture *f, void *buf, size_t len, off_t off)
{
	int fd = open(f->path, O_RDONLY);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void pwrite_file(struct fixture *f, const void *buf, size_t len, off_t off)
{
	int fd = open(f->path, O_WRONLY);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

/* What a driver takes: the device's block features and the fixture's ring configuration. */
static uint64_t all_features(const struct fixture *f)
{
	return 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BLK_F_FLUSH |
	       1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES |
	       1ull << VIRTIO_BLK_F_SEG_MAX |
	       (f->t->event_idx ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0) |
	       (f->t->indirect ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0) |
	       (f->t->packed ? 1ull << VIRTIO_F_RING_PACKED : 0);
}

static void read_write_flush_id(void **state)
{
	struct fixture *f = *state;
	driver_setup(f, all_features(f));
	uint8_t *buf = f->ram + DATA_OFF;
	for (unsigned i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	uint32_t used;
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 8, DATA_OFF, 4096, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1); /* only the status byte was written */
	uint8_t disk[4096];
	pread_file(f, disk, sizeof(disk), 8 * 512);
	assert_memory_equal(disk, buf, 4096); /* verified from the host side */
	memset(f->ram + DATA_OFF + 8192, 0, 4096);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 8, DATA_OFF + 8192, 4096, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 4097);
	assert_memory_equal(f->ram + DATA_OFF + 8192, buf, 4096);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	memset(f->ram + DATA_OFF, 0x55, 20);
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, DATA_OFF, 20, &used), VIRTIO_BLK_S_OK);
	assert_string_equal((char *)f->ram + DATA_OFF, "unit-disk");
	assert_int_equal(used, 21);
	/* last sector works, one past it does not */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, DATA_OFF, 512, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, DATA_OFF, 1024, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1); /* a refused request: only its status byte written */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, UINT64_MAX - 1, DATA_OFF, 1024, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, DATA_OFF, 100, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, 99, 0, 0, 0, &used), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(used, 1);
	assert_true(f->notifies > 0);
}

static void discard_and_write_zeroes(void **state)
{
	struct fixture *f = *state;
	driver_setup(f, all_features(f));
	uint8_t *buf = f->ram + DATA_OFF;
	memset(buf, 0xab, 8192);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 100, DATA_OFF, 8192, NULL), VIRTIO_BLK_S_OK);
	struct virtio_blk_discard_write_zeroes seg = {.sector = 100, .num_sectors = 8};
	memcpy(f->ram + DATA_OFF + 16384, &seg, sizeof(seg));
	assert_int_equal(
		request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_OFF + 16384, sizeof(seg), NULL),
		VIRTIO_BLK_S_OK);
	uint8_t disk[8192], zero[4096] = {0};
	pread_file(f, disk, sizeof(disk), 100 * 512);
	assert_memory_equal(disk, zero, 4096);
	assert_int_equal(disk[4096], 0xab);
	seg = (struct virtio_blk_discard_write_zeroes){.sector = 108, .num_sectors = 8};
	memcpy(f->ram + DATA_OFF + 16384, &seg, sizeof(seg));
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, DATA_OFF + 16384, sizeof(seg), NULL),
			 VIRTIO_BLK_S_OK);
	seg.sector = DISK_SECTORS - 4; /* runs past the end */
	memcpy(f->ram + DATA_OFF + 16384, &seg, sizeof(seg));
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, DATA_OFF + 16384, sizeof(seg), NULL),
			 VIRTIO_BLK_S_IOERR);
	seg = (struct virtio_blk_discard_write_zeroes){.sector = 0, .num_sectors = 1, .flags = 1};
	memcpy(f->ram + DATA_OFF + 16384, &seg, sizeof(seg));
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, DATA_OFF + 16384, sizeof(seg), NULL),
			 VIRTIO_BLK_S_UNSUPP); /* unmap flag is write-zeroes only */
}

static void readonly_disk(void **state)
{
	struct fixture *f = *state;
	assert_true(f->blk.vdev.device_features & (1ull << VIRTIO_BLK_F_RO));
	driver_setup(f, all_features(f));
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, DATA_OFF, 512, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, DATA_OFF, 512, NULL), VIRTIO_BLK_S_OK);
}

/* The header split over three descriptors still works (ANY_LAYOUT), and the status byte may
 * share a buffer with data. */
static void split_header(void **state)
{
	struct fixture *f = *state;
	driver_setup(f, all_features(f));
	struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_IN, .sector = 3};
	uint8_t *hb = f->ram + DATA_OFF;
	memcpy(hb, &h, 5);
	memcpy(hb + 64, (uint8_t *)&h + 5, 7);
	memcpy(hb + 128, (uint8_t *)&h + 12, 4);
	struct vq_sg sg[] = {{gpa(DATA_OFF), 5},
			     {gpa(DATA_OFF + 64), 7},
			     {gpa(DATA_OFF + 128), 4},
			     {gpa(DATA_OFF + 4096), 513}}; /* 512 data + status in one */
	static int token;
	f->ram[DATA_OFF + 4096 + 512] = 0xee;
	uint16_t id = add(f, sg, 3, 1, &token);
	kick(f);
	assert_int_equal(take_used(f, id, &token), 513);
	assert_int_equal(f->ram[DATA_OFF + 4096 + 512], VIRTIO_BLK_S_OK);
}

/* Makes a one-descriptor buffer available under an id the driver never handed out (split: a
 * head index past the ring; packed: a buffer id past it), as a hostile driver would. */
static void offer_bad_id(struct fixture *f, uint16_t id, uint64_t addr, uint32_t len)
{
	if (f->drv.cfg.packed) {
		struct vring_packed_desc *d = &f->drv.pdesc[f->drv.next_avail];
		bool wrap = f->drv.avail_wrap;
		d->addr = addr;
		d->len = len;
		d->id = id;
		/* Available in this lap (AVAIL = wrap, USED = !wrap), released after the rest
		 * (pairs with the device's acquire of the flags). */
		vq_store_release(&d->flags, (uint16_t)(wrap ? 1u << VRING_PACKED_DESC_F_AVAIL
							    : 1u << VRING_PACKED_DESC_F_USED));
		if (++f->drv.next_avail == QSIZE) {
			f->drv.next_avail = 0;
			f->drv.avail_wrap = !wrap;
		}
	} else {
		f->drv.avail->ring[f->drv.avail_idx % QSIZE] = id; /* published by the kick */
		f->drv.avail_idx++;
	}
}

static uint64_t ring_bad_chains(struct fixture *f)
{
	pthread_mutex_lock(&f->blk.vdev.lock);
	uint64_t n = f->blk.vdev.q[0].vq.bad_chains;
	pthread_mutex_unlock(&f->blk.vdev.lock);
	return n;
}

#define PATTERN_SECTOR 16

/* The good request after a refused one: 4 KiB the test put in the file come back intact. */
static void good_read(struct fixture *f, const uint8_t *want)
{
	uint8_t *buf = f->ram + DATA_OFF + 0x10000;
	memset(buf, 0, 4096);
	uint32_t used;
	assert_int_equal(
		request(f, VIRTIO_BLK_T_IN, PATTERN_SECTOR, DATA_OFF + 0x10000, 4096, &used),
		VIRTIO_BLK_S_OK);
	assert_int_equal(used, 4097);
	assert_memory_equal(buf, want, 4096);
}

/* Chains the device must refuse: each is completed exactly once, under its own id, with used
 * length 0 and nothing written, and the next good request still works. */
static void hostile_chains(void **state)
{
	struct fixture *f = *state;
	uint8_t pattern[4096];
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 13 + 5);
	pwrite_file(f, pattern, sizeof(pattern), PATTERN_SECTOR * 512);
	driver_setup(f, all_features(f));
	static int t1, t2;

	/* No writable status byte at all: a valid chain, but no request. */
	struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_IN};
	memcpy(f->ram + DATA_OFF, &h, sizeof(h));
	struct vq_sg nostatus[] = {{gpa(DATA_OFF), 16}};
	uint64_t bad = ring_bad_chains(f);
	uint16_t id = add(f, nostatus, 1, 0, &t1);
	kick(f);
	assert_int_equal(take_used(f, id, &t1), 0);
	assert_int_equal(ring_bad_chains(f), bad);
	good_read(f, pattern);

	/* Data outside guest RAM: refused by the ring, its status byte left alone. */
	struct vq_sg outside[] = {{gpa(DATA_OFF), 16}, {0x10, 512}, {gpa(DATA_OFF + 64), 1}};
	f->ram[DATA_OFF + 64] = 0xee;
	id = add(f, outside, 1, 2, &t2);
	kick(f);
	assert_int_equal(take_used(f, id, &t2), 0);
	assert_int_equal(f->ram[DATA_OFF + 64], 0xee);
	assert_int_equal(ring_bad_chains(f), bad + 1);
	good_read(f, pattern);

	/* An id past the ring: completed under that id (the driver skips it) with length 0. */
	const uint16_t bad_ids[] = {QSIZE, QSIZE + 5, 0xffff};
	for (unsigned i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		offer_bad_id(f, bad_ids[i], gpa(DATA_OFF), 16);
		kick(f);
		assert_int_equal(take_used(f, bad_ids[i], NULL), 0);
		assert_int_equal(ring_bad_chains(f), bad + 2 + i);
		good_read(f, pattern);
	}
	assert_false(f->blk.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void ring_index_jump_needs_reset(void **state)
{
	struct fixture *f = *state;
	driver_setup(f, all_features(f));
	f->drv.avail->idx = QSIZE + 10; /* more than the ring holds */
	uint64_t one = 1;
	assert_int_equal(write(f->blk.vdev.q[0].kick.fd, &one, 8), 8);
	for (int i = 0; i < 100 && !(f->blk.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_true(f->blk.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(f->config_notifies, 1);
	/* a reset recovers the device */
	pthread_mutex_lock(&f->blk.vdev.lock);
	vmm_virtio_set_status(&f->blk.vdev, 0);
	pthread_mutex_unlock(&f->blk.vdev.lock);
	assert_int_equal(f->blk.vdev.status, 0);
	driver_setup(f, all_features(f));
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
}

static void protocol_violations(void **state)
{
	struct fixture *f = *state;
	struct vmm_virtio_dev *d = &f->blk.vdev;
	pthread_mutex_lock(&d->lock);
	/* queue enable before FEATURES_OK */
	vmm_virtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vmm_virtio_queue_enable(d, &d->q[0]);
	assert_false(d->q[0].enabled);
	assert_true(d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	vmm_virtio_set_status(d, 0);
	/* a feature that was not offered: FEATURES_OK refused */
	vmm_virtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vmm_virtio_set_driver_features(d, 0, 1u << 30); /* not offered */
	vmm_virtio_set_driver_features(d, 1, 1);	/* VERSION_1 */
	vmm_virtio_set_status(d, d->status | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(d->status & VIRTIO_CONFIG_S_FEATURES_OK);
	vmm_virtio_set_status(d, 0);
	/* queue size not a power of two (split ring) */
	vmm_virtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vmm_virtio_set_driver_features(d, 1, 1);
	vmm_virtio_set_status(d, d->status | VIRTIO_CONFIG_S_FEATURES_OK);
	d->q[0].size = 48;
	vmm_virtio_queue_enable(d, &d->q[0]);
	assert_false(d->q[0].enabled);
	assert_true(d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	vmm_virtio_set_status(d, 0);
	pthread_mutex_unlock(&d->lock);
	/* a kick before DRIVER_OK is ignored and counted */
	uint64_t one = 1;
	assert_int_equal(write(d->q[0].kick.fd, &one, 8), 8);
	for (int i = 0; i < 100 && !d->q[0].early_kicks; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(d->q[0].early_kicks, 1);
	/* and the device still works after all of that */
	driver_setup(f, all_features(f));
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
}

/* A test once per ring configuration (cfgs[]), named after it. */
#define ON(fn, i, label) ((struct CMUnitTest){#fn "/" label, fn, setup, teardown, (void *)&cfgs[i]})
#define ON_ALL(fn)                                                                                 \
	ON(fn, 0, "split"), ON(fn, 1, "split+event_idx"), ON(fn, 2, "split+indirect"),             \
		ON(fn, 3, "split+event_idx+indirect"), ON(fn, 4, "packed"),                        \
		ON(fn, 5, "packed+event_idx"), ON(fn, 6, "packed+indirect"),                       \
		ON(fn, 7, "packed+event_idx+indirect")

int main(void)
{
	/* io_uring refused by the host (kernel.io_uring_disabled: EPERM) or absent from the
	 * kernel (ENOSYS): say so and skip. Any other error is a failure of this host or test. */
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
		ON_ALL(read_write_flush_id),
		cmocka_unit_test_setup_teardown(discard_and_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(readonly_disk, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(split_header, setup, teardown),
		ON_ALL(hostile_chains),
		cmocka_unit_test_setup_teardown(ring_index_jump_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(protocol_violations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
