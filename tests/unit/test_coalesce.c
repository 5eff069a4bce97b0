/* SPDX-License-Identifier: MIT */
/*
 * The coalesced PIO ring's drain and the doorbells read with it (monitor/coalesce.c), on a fake
 * ring as KVM fills it (KVM writes `last`, vmmon `first`): entries applied in order across the
 * wrap, a run of writes to one port as one string access, each slot handed back only once its
 * write is applied, slots KVM never writes skipped; and a sync drains, reads a doorbell, drains
 * what came meanwhile and applies it, only for exits on the doorbell's ports (any of its port
 * ranges), reading only the eventfds that were rung of a doorbell with many.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "coalesce.h"
#include "host/util.h"

#define MAX  8 /* a small ring, to wrap it */
#define PORT 0x1f0

struct call {
	bool pio;
	uint64_t addr;
	unsigned len, count;
	uint8_t data[2048];
	uint32_t first; /* ring->first when the write arrived */
};

struct fx {
	struct kvm_coalesced_mmio_ring *ring;
	unsigned max;
	struct call calls[32];
	unsigned ncalls;
	/* sync: the bus, a doorbell, and the order things happened in */
	struct vmm_coalesce c;
	struct vmm_bus pio, mmio;
	struct vmm_doorbell db;
	char log[128];
	uint64_t got[VMM_DOORBELL_FDS];
	bool in_drain, inject;
};

static struct kvm_coalesced_mmio_ring *ring_new(unsigned max)
{
	return calloc(1, sizeof(struct kvm_coalesced_mmio_ring) +
				 max * sizeof(struct kvm_coalesced_mmio));
}

/* KVM's side: one write at the ring's end. */
static void put(struct fx *f, bool pio, uint64_t addr, unsigned len, uint64_t val)
{
	struct kvm_coalesced_mmio *e = &f->ring->coalesced_mmio[f->ring->last];
	e->phys_addr = addr;
	e->len = len;
	e->pio = pio;
	memcpy(e->data, &val, sizeof(e->data));
	f->ring->last = (f->ring->last + 1) % f->max;
	assert_int_not_equal(f->ring->last, f->ring->first); /* KVM never fills the last slot */
}

static void record(void *ctx, bool pio, uint64_t addr, const uint8_t *data, unsigned len,
		   unsigned count)
{
	struct fx *f = ctx;
	assert_true(f->ncalls < 32 && len * count <= 2048);
	struct call *c = &f->calls[f->ncalls++];
	*c = (struct call){.pio = pio, .addr = addr, .len = len, .count = count};
	memcpy(c->data, data, (size_t)len * count);
	c->first = f->ring->first;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->max = MAX;
	f->ring = ring_new(MAX);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	free(f->ring);
	free(f);
	return 0;
}

static void empty_ring_applies_nothing(void **state)
{
	struct fx *f = *state;
	f->ring->first = f->ring->last = 5;
	assert_int_equal(vmm_coalesce_ring_drain(f->ring, f->max, record, f), 0);
	assert_int_equal(f->ncalls, 0);
	assert_int_equal(f->ring->first, 5);
}

/* Writes to different ports, across the end of the ring, arrive one by one in ring order. */
static void order_across_the_wrap(void **state)
{
	struct fx *f = *state;
	f->ring->first = f->ring->last = 6;
	put(f, true, 0x1f2, 1, 0x11); /* slot 6 */
	put(f, true, 0x1f3, 1, 0x22); /* slot 7 */
	put(f, true, 0x1f4, 1, 0x33); /* slot 0 */
	put(f, false, 0xd0000000, 4, 0xdeadbeef);
	put(f, true, 0x1f5, 1, 0x44);
	assert_int_equal(vmm_coalesce_ring_drain(f->ring, f->max, record, f), 5);
	assert_int_equal(f->ncalls, 5);
	static const uint64_t addr[] = {0x1f2, 0x1f3, 0x1f4, 0xd0000000, 0x1f5};
	static const uint8_t first[] = {0x11, 0x22, 0x33, 0xef, 0x44};
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(f->calls[i].addr, addr[i]);
		assert_int_equal(f->calls[i].count, 1);
		assert_int_equal(f->calls[i].data[0], first[i]);
		assert_int_equal(f->calls[i].pio, i != 3);
	}
	assert_int_equal(f->calls[3].len, 4);
	assert_int_equal(f->ring->first, f->ring->last);
}

/* A run of writes to one port with one width is one string access (rep outsw), its data in
 * order; another port, another width or the other space ends the run. A run's slots are
 * handed back only after it is applied: until then the ring must not look empty to a sync that
 * peeks without the lock (a vCPU would apply its own write ahead of them). */
static void runs_become_string_writes(void **state)
{
	struct fx *f = *state;
	f->max = 64;
	free(f->ring);
	f->ring = ring_new(f->max);
	f->ring->first = f->ring->last = 60;
	for (uint16_t w = 0; w < 6; w++) /* across the wrap */
		put(f, true, PORT, 2, 0x100u + w);
	put(f, true, PORT, 4, 0xabcd);	 /* another width */
	put(f, true, PORT + 7, 1, 0x30); /* another port: the command */
	put(f, false, PORT, 2, 0x5555);	 /* MMIO at the same number */
	put(f, true, PORT, 2, 0x200);
	put(f, true, PORT, 2, 0x201);
	assert_int_equal(vmm_coalesce_ring_drain(f->ring, f->max, record, f), 11);
	assert_int_equal(f->ncalls, 5);
	assert_int_equal(f->calls[0].count, 6);
	for (unsigned w = 0; w < 6; w++) {
		uint16_t v;
		memcpy(&v, f->calls[0].data + 2 * w, 2);
		assert_int_equal(v, 0x100 + w);
	}
	assert_int_equal(f->calls[0].first, 60); /* not handed back while being applied */
	assert_int_equal(f->calls[1].len, 4);
	assert_int_equal(f->calls[2].addr, PORT + 7);
	assert_false(f->calls[3].pio);
	assert_int_equal(f->calls[4].count, 2);
	assert_int_equal(f->calls[4].first, (f->ring->last + f->max - 2) % f->max);
	assert_int_equal(f->ring->first, f->ring->last);
}

/* A run stops at 256 entries: the rest is the next call. */
static void long_runs_are_split(void **state)
{
	struct fx *f = *state;
	f->max = 400;
	free(f->ring);
	f->ring = ring_new(f->max);
	for (unsigned i = 0; i < 300; i++)
		put(f, true, PORT, 1, i & 0xff);
	assert_int_equal(vmm_coalesce_ring_drain(f->ring, f->max, record, f), 300);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[0].count, 256);
	assert_int_equal(f->calls[1].count, 44);
	assert_int_equal(f->calls[1].data[0], 0);   /* entry 256 */
	assert_int_equal(f->calls[1].data[43], 43); /* entry 299 */
}

/* A slot with a length KVM never writes (0, or more than the 8 data bytes) is passed over. */
static void bad_slots_are_skipped(void **state)
{
	struct fx *f = *state;
	put(f, true, PORT, 1, 1);
	put(f, true, PORT, 0, 2);
	put(f, true, PORT, 9, 3);
	put(f, true, PORT, 1, 4);
	assert_int_equal(vmm_coalesce_ring_drain(f->ring, f->max, record, f), 4);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[0].data[0], 1);
	assert_int_equal(f->calls[1].data[0], 4);
}

/* ------------------------------------------------------------ vmm_coalesce_sync ------------- */

static void logc(struct fx *f, char c)
{
	size_t n = strlen(f->log);
	assert_true(n + 1 < sizeof(f->log));
	f->log[n] = c;
}

/* The device behind the bus: 'w' per write, and whether it came from a drain. */
static int trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	(void)off;
	(void)data;
	(void)len;
	struct fx *f = dev;
	assert_true(is_write);
	f->in_drain = vmm_coalesce_draining();
	logc(f, 'w');
	return 0;
}

/* A write KVM appends while the doorbells are read comes after the read: drained before the
 * apply all the same. */
static void db_begin(void *ctx)
{
	struct fx *f = ctx;
	logc(f, 'b');
	if (f->inject) {
		put(f, true, PORT + 4, 1, 0x55);
		f->inject = false;
	}
}

static void db_apply(void *ctx, const uint64_t count[VMM_DOORBELL_FDS])
{
	struct fx *f = ctx;
	logc(f, 'a');
	memcpy(f->got, count, sizeof(f->got));
}

static int sync_setup(void **state)
{
	setup(state);
	struct fx *f = *state;
	assert_int_equal(vmm_bus_init(&f->pio, "pio"), 0);
	assert_int_equal(vmm_bus_init(&f->mmio, "mmio"), 0);
	assert_int_equal(vmm_bus_register(&f->pio, PORT, 8, trap, f, "dev"), 0);
	vmm_coalesce_init(&f->c, -1, &f->pio, &f->mmio);
	f->c.ring = f->ring;
	f->c.max = f->max;
	f->db = (struct vmm_doorbell){.nfd = 2, .begin = db_begin, .apply = db_apply, .ctx = f};
	for (unsigned i = 0; i < 2; i++)
		f->db.fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_store(&f->db.range[0].lo, 0xc000);
	atomic_store(&f->db.range[0].hi, 0xc020);
	atomic_store(&f->db.armed, true);
	assert_int_equal(vmm_coalesce_add_doorbell(&f->c, &f->db), 0);
	return 0;
}

static int sync_teardown(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 0; i < 2; i++)
		close(f->db.fd[i]);
	vmm_coalesce_destroy(&f->c);
	vmm_bus_destroy(&f->pio);
	vmm_bus_destroy(&f->mmio);
	return teardown(state);
}

/* An exit elsewhere drains the ring alone; the doorbell's count waits in its eventfd. */
static void sync_elsewhere_drains_only(void **state)
{
	struct fx *f = *state;
	put(f, true, PORT + 1, 1, 7);
	put(f, true, PORT + 2, 1, 8);
	host_signal(f->db.fd[0]);
	vmm_coalesce_sync(&f->c, 0x3f8);
	assert_string_equal(f->log, "ww");
	assert_true(f->in_drain);
	assert_false(vmm_coalesce_draining());
	assert_int_equal(f->ring->first, f->ring->last);
	assert_int_equal(atomic_load(&f->c.entries), 2);
	/* Nothing left to do: nothing happens. */
	vmm_coalesce_sync(&f->c, 0);
	assert_string_equal(f->log, "ww");
	/* An exit on the doorbell's ports: the ring drained, the doorbell read, what came
	 * meanwhile drained, the doorbell applied. */
	put(f, true, PORT + 3, 1, 9);
	host_signal(f->db.fd[1]);
	host_signal(f->db.fd[1]);
	f->inject = true;
	vmm_coalesce_sync(&f->c, 0xc010);
	assert_string_equal(f->log, "wwwbwa");
	assert_int_equal(atomic_load(&f->c.entries), 4);
	assert_int_equal(f->got[0], 1);
	assert_int_equal(f->got[1], 2);
	/* Read once: the next sync on its ports finds none. */
	vmm_coalesce_sync(&f->c, 0xc01f);
	assert_string_equal(f->log, "wwwbwaba");
	assert_int_equal(f->got[0] + f->got[1], 0);
	/* Past the end of its ports, or disarmed: not read. */
	host_signal(f->db.fd[0]);
	vmm_coalesce_sync(&f->c, 0xc020);
	atomic_store(&f->db.armed, false);
	vmm_coalesce_sync(&f->c, VMM_COALESCE_ANY_PORT);
	assert_string_equal(f->log, "wwwbwaba");
	/* The I/O thread's sync reads every armed doorbell. */
	atomic_store(&f->db.armed, true);
	vmm_coalesce_sync(&f->c, VMM_COALESCE_ANY_PORT);
	assert_string_equal(f->log, "wwwbwababa");
	assert_int_equal(f->got[0], 1);
}

/* Without a ring (no capability) a sync still serves the doorbells. */
static void sync_without_ring(void **state)
{
	struct fx *f = *state;
	f->c.ring = NULL;
	host_signal(f->db.fd[0]);
	vmm_coalesce_sync(&f->c, 0);
	assert_string_equal(f->log, "");
	vmm_coalesce_sync(&f->c, 0xc000);
	assert_string_equal(f->log, "ba");
	assert_int_equal(f->got[0], 1);
}

/* Many values, several ranges (the ATA channel's: command block, control block, bus master,
 * PCI data), no begin hook: an exit in any range reads it, the counts land by value. */
static uint64_t got2[VMM_DOORBELL_FDS];
static unsigned applied2;

static void db2_apply(void *ctx, const uint64_t count[VMM_DOORBELL_FDS])
{
	(void)ctx;
	memcpy(got2, count, sizeof(got2));
	applied2++;
}

static void sync_ranges_and_many_values(void **state)
{
	struct fx *f = *state;
	struct vmm_doorbell db = {.nfd = VMM_DOORBELL_FDS, .apply = db2_apply};
	static const uint32_t range[VMM_DOORBELL_RANGES][2] = {
		{0x1f0, 0x1f8}, {0x3f6, 0x3f7}, {0xc000, 0xc008}, {0xcfc, 0xd00}};
	for (unsigned i = 0; i < VMM_DOORBELL_FDS; i++)
		db.fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned r = 0; r < VMM_DOORBELL_RANGES; r++) {
		atomic_store(&db.range[r].lo, range[r][0]);
		atomic_store(&db.range[r].hi, range[r][1]);
	}
	atomic_store(&db.armed, true);
	assert_int_equal(vmm_coalesce_add_doorbell(&f->c, &db), 0);
	applied2 = 0;
	host_signal(db.fd[5]);
	host_signal(db.fd[5]);
	host_signal(db.fd[7]);
	/* Just outside each range: not read. */
	static const uint32_t outside[] = {0x1ef,  0x1f8,  0x3f5, 0x3f7,
					   0xbfff, 0xc008, 0xcfb, 0xd00};
	for (unsigned i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
		vmm_coalesce_sync(&f->c, outside[i]);
	assert_int_equal(applied2, 0);
	vmm_coalesce_sync(&f->c, 0x3f6);
	assert_int_equal(applied2, 1);
	for (unsigned i = 0; i < VMM_DOORBELL_FDS; i++)
		assert_int_equal(got2[i], i == 5 ? 2 : i == 7 ? 1 : 0);
	/* Each range's ends. */
	static const uint32_t inside[] = {0x1f0, 0x1f7, 0xc000, 0xc007, 0xcfc, 0xcff};
	for (unsigned i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		host_signal(db.fd[i]);
		vmm_coalesce_sync(&f->c, inside[i]);
		assert_int_equal(applied2, 2 + i);
		for (unsigned k = 0; k < VMM_DOORBELL_FDS; k++)
			assert_int_equal(got2[k], k == i);
	}
	/* An empty range (a BAR not decoded) covers nothing. */
	atomic_store(&db.range[2].hi, 0xc000);
	vmm_coalesce_sync(&f->c, 0xc000);
	assert_int_equal(applied2, 7);
	atomic_store(&db.armed, false);
	for (unsigned i = 0; i < VMM_DOORBELL_FDS; i++)
		close(db.fd[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_ring_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(order_across_the_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(runs_become_string_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(long_runs_are_split, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_slots_are_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_elsewhere_drains_only, sync_setup,
						sync_teardown),
		cmocka_unit_test_setup_teardown(sync_without_ring, sync_setup, sync_teardown),
		cmocka_unit_test_setup_teardown(sync_ranges_and_many_values, sync_setup,
						sync_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
