/* SPDX-License-Identifier: MIT */
/*
 * MSI-X table and PBA (dev/msix.c) against PCI Local Bus Specification 3.0, 6.8.2: entry layout
 * (address low/high, data, vector control, 16 bytes each), dword and qword accesses, every
 * vector masked after reset, per-vector and function masking, and the pending bit: a vector
 * signalled while masked shows in the PBA and is delivered once unmasked.
 *
 * KVM is a recording fake behind struct msix_ops. It models what KVM does with an irqfd: a
 * signal on an attached eventfd is consumed and delivered, and attaching an eventfd that
 * already counts signals delivers them (KVM checks for a pending event when it assigns one).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/msix.h"

/* The layout the spec fixes (6.8.2.6-6.8.2.10), written out rather than taken from the code. */
#define ENTRY	  16
#define ADDR_LO	  0x0
#define ADDR_HI	  0x4
#define DATA	  0x8
#define CTRL	  0xc
#define CTRL_MASK 0x1	 /* vector control bit 0; bits 31:1 reserved */
#define MC_ENABLE 0x8000 /* message control bit 15 */
#define MC_MASK	  0x4000 /* message control bit 14: function mask */

#define NVEC	  3
#define GSI_BASE  40 /* the fake's first GSI: the test never assumes GSI == vector */
#define MAX_GSI	  8
#define MSI_ADDR  0xfee00000u /* local APIC 0, as x86 MSI addresses are */

struct fake_kvm {
	unsigned allocs;
	int fail_irqfd; /* returned by irqfd() when non-zero */
	unsigned route_calls, irqfd_calls;
	struct {
		bool attached;
		int efd;
		uint64_t addr;
		uint32_t data;
		uint64_t delivered;
	} gsi[MAX_GSI];
};

struct fixture {
	struct fake_kvm kvm;
	struct msix m;
};

static uint64_t drain(int efd)
{
	uint64_t n = 0;
	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0; /* EAGAIN: nothing counted */
	return n;
}

static int fake_gsi_alloc(void *ctx)
{
	struct fake_kvm *k = ctx;
	if (k->allocs == MAX_GSI)
		return -ENOSPC;
	return GSI_BASE + (int)k->allocs++;
}

static int fake_route_set(void *ctx, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct fake_kvm *k = ctx;
	assert_in_range(gsi, GSI_BASE, GSI_BASE + k->allocs - 1);
	k->route_calls++;
	k->gsi[gsi - GSI_BASE].addr = addr;
	k->gsi[gsi - GSI_BASE].data = data;
	return 0;
}

static int fake_irqfd(void *ctx, int efd, unsigned gsi, bool attach)
{
	struct fake_kvm *k = ctx;
	assert_in_range(gsi, GSI_BASE, GSI_BASE + k->allocs - 1);
	k->irqfd_calls++;
	if (k->fail_irqfd)
		return k->fail_irqfd;
	typeof(k->gsi[0]) *g = &k->gsi[gsi - GSI_BASE];
	assert_true(g->attached != attach); /* msix.c never attaches twice nor detaches twice */
	g->attached = attach;
	g->efd = efd;
	if (attach)
		g->delivered += drain(efd); /* what was pending goes out now */
	return 0;
}

static const struct msix_ops fake_ops = {fake_gsi_alloc, fake_route_set, fake_irqfd};

/* KVM's side of an attached irqfd: consume and deliver what the eventfd counts. */
static void kvm_run(struct fake_kvm *k)
{
	for (unsigned i = 0; i < k->allocs; i++)
		if (k->gsi[i].attached)
			k->gsi[i].delivered += drain(k->gsi[i].efd);
}

static uint64_t delivered(struct fixture *f, unsigned v)
{
	kvm_run(&f->kvm);
	return f->kvm.gsi[f->m.vec[v].gsi - GSI_BASE].delivered;
}

static bool attached(struct fixture *f, unsigned v)
{
	return f->kvm.gsi[f->m.vec[v].gsi - GSI_BASE].attached;
}

static uint64_t tbl_read(struct fixture *f, uint64_t off, unsigned len)
{
	uint8_t buf[8];
	memset(buf, 0x5a, sizeof(buf));
	msix_table_access(&f->m, off, buf, len, false);
	uint64_t v = 0;
	memcpy(&v, buf, len);
	return v;
}

static void tbl_write(struct fixture *f, uint64_t off, unsigned len, uint64_t val)
{
	uint8_t buf[8];
	memcpy(buf, &val, sizeof(buf));
	msix_table_access(&f->m, off, buf, len, true);
}

static uint64_t pba_read(struct fixture *f, uint64_t off, unsigned len)
{
	uint8_t buf[8];
	memset(buf, 0x5a, sizeof(buf));
	msix_pba_read(&f->m, off, buf, len);
	uint64_t v = 0;
	memcpy(&v, buf, len);
	return v;
}

/* Gives vector v a message and clears its mask bit, with MSI-X enabled. */
static void route_and_unmask(struct fixture *f, unsigned v, uint32_t data)
{
	tbl_write(f, v * ENTRY + ADDR_LO, 4, MSI_ADDR);
	tbl_write(f, v * ENTRY + ADDR_HI, 4, 0);
	tbl_write(f, v * ENTRY + DATA, 4, data);
	tbl_write(f, v * ENTRY + CTRL, 4, 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || msix_init(&f->m, NVEC, &fake_ops, &f->kvm)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	msix_destroy(&f->m);
	free(f);
	return 0;
}

/* 6.8.2.9: every Mask bit is set after reset; nothing is routed or attached yet. */
static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	for (unsigned v = 0; v < NVEC; v++) {
		assert_int_equal(tbl_read(f, v * ENTRY + CTRL, 4), CTRL_MASK);
		assert_false(attached(f, v));
		for (unsigned w = 0; w < v; w++)
			assert_int_not_equal(f->m.vec[v].gsi, f->m.vec[w].gsi);
	}
	assert_int_equal(f->kvm.allocs, NVEC);
	assert_int_equal(f->kvm.route_calls, 0);
	assert_int_equal(f->kvm.irqfd_calls, 0);
	assert_int_equal(pba_read(f, 0, 8), 0);
	/* Enabling MSI-X alone delivers nothing: every vector is still masked. */
	msix_set_control(&f->m, MC_ENABLE);
	assert_int_equal(f->kvm.irqfd_calls, 0);
}

static void test_init_rejects_bad_counts(void **state)
{
	(void)state;
	struct fake_kvm k = {0};
	struct msix m;
	assert_int_equal(msix_init(&m, 0, &fake_ops, &k), -EINVAL);
	assert_int_equal(msix_init(&m, MSIX_MAX_VECTORS + 1, &fake_ops, &k), -EINVAL);
	assert_int_equal(k.allocs, 0);
	/* A GSI that cannot be had fails the init with its error. */
	assert_int_equal(msix_init(&m, MAX_GSI + 1, &fake_ops, &k), -ENOSPC);
	msix_destroy(&m);
}

/* Each dword of an entry is its own register. */
static void test_entry_dwords(void **state)
{
	struct fixture *f = *state;
	tbl_write(f, 1 * ENTRY + ADDR_LO, 4, 0xfee01004);
	tbl_write(f, 1 * ENTRY + ADDR_HI, 4, 0x00000001);
	tbl_write(f, 1 * ENTRY + DATA, 4, 0x0000c0de);
	assert_int_equal(tbl_read(f, 1 * ENTRY + ADDR_LO, 4), 0xfee01004);
	assert_int_equal(tbl_read(f, 1 * ENTRY + ADDR_HI, 4), 0x00000001);
	assert_int_equal(tbl_read(f, 1 * ENTRY + DATA, 4), 0x0000c0de);
	assert_int_equal(tbl_read(f, 1 * ENTRY + CTRL, 4), CTRL_MASK);
	/* Vector control bits 31:1 are reserved: they read 0 whatever was written. */
	tbl_write(f, 1 * ENTRY + CTRL, 4, 0xfffffffe);
	assert_int_equal(tbl_read(f, 1 * ENTRY + CTRL, 4), 0);
	tbl_write(f, 1 * ENTRY + CTRL, 4, 0xffffffff);
	assert_int_equal(tbl_read(f, 1 * ENTRY + CTRL, 4), CTRL_MASK);
	/* The neighbours are untouched. */
	for (unsigned v = 0; v < NVEC; v += 2) {
		assert_int_equal(tbl_read(f, v * ENTRY + ADDR_LO, 4), 0);
		assert_int_equal(tbl_read(f, v * ENTRY + DATA, 4), 0);
		assert_int_equal(tbl_read(f, v * ENTRY + CTRL, 4), CTRL_MASK);
	}
	assert_int_equal(f->m.errors, 0);
}

/* An aligned qword covers two dwords: address low and high, or data and vector control. */
static void test_entry_qwords(void **state)
{
	struct fixture *f = *state;
	tbl_write(f, 2 * ENTRY + ADDR_LO, 8, 0x00000002fee02008ull);
	tbl_write(f, 2 * ENTRY + DATA, 8, 0x0000000100004321ull);
	assert_int_equal(tbl_read(f, 2 * ENTRY + ADDR_LO, 4), 0xfee02008);
	assert_int_equal(tbl_read(f, 2 * ENTRY + ADDR_HI, 4), 0x00000002);
	assert_int_equal(tbl_read(f, 2 * ENTRY + DATA, 4), 0x00004321);
	assert_int_equal(tbl_read(f, 2 * ENTRY + CTRL, 4), CTRL_MASK);
	assert_int_equal(tbl_read(f, 2 * ENTRY + ADDR_LO, 8), 0x00000002fee02008ull);
	assert_int_equal(tbl_read(f, 2 * ENTRY + DATA, 8), 0x0000000100004321ull);
	/* Unmasking through the qword's upper half. */
	tbl_write(f, 2 * ENTRY + DATA, 8, 0x0000000000004321ull);
	assert_int_equal(tbl_read(f, 2 * ENTRY + CTRL, 4), 0);
	assert_int_equal(f->m.errors, 0);
}

/* Only aligned dwords and qwords inside the table are accesses; the rest read all ones, write
 * nothing, and are counted. */
static void test_bad_table_accesses(void **state)
{
	struct fixture *f = *state;
	msix_set_control(&f->m, MC_ENABLE);
	static const struct {
		uint64_t off;
		unsigned len;
	} bad[] = {
		{0 * ENTRY + DATA, 1},		{0 * ENTRY + DATA, 2},
		{0 * ENTRY + DATA + 2, 4},	{0 * ENTRY + CTRL, 1},
		{NVEC * ENTRY + ADDR_LO, 4},	{NVEC * ENTRY + CTRL, 8},
		{(NVEC - 1) * ENTRY + CTRL, 8}, /* runs past the last entry */
	};
	uint64_t errors = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ones = bad[i].len == 8 ? ~0ull : (1ull << (8 * bad[i].len)) - 1;
		assert_int_equal(tbl_read(f, bad[i].off, bad[i].len), ones);
		tbl_write(f, bad[i].off, bad[i].len, 0);
		errors += 2;
		assert_int_equal(f->m.errors, errors);
	}
	/* The writes changed nothing: vector 0 and the last vector are still masked. */
	assert_int_equal(tbl_read(f, 0 * ENTRY + CTRL, 4), CTRL_MASK);
	assert_int_equal(tbl_read(f, (NVEC - 1) * ENTRY + CTRL, 4), CTRL_MASK);
	assert_int_equal(f->kvm.route_calls, 0);
	assert_int_equal(f->kvm.irqfd_calls, 0);
}

/* Unmasked with MSI-X enabled: routed to its message and attached; a signal is delivered. */
static void test_unmask_delivers(void **state)
{
	struct fixture *f = *state;
	route_and_unmask(f, 0, 0x4041);
	/* MSI-X still disabled: the function does not send messages. */
	assert_false(attached(f, 0));
	msix_set_control(&f->m, MC_ENABLE);
	assert_true(attached(f, 0));
	assert_false(attached(f, 1));
	assert_int_equal(f->kvm.gsi[f->m.vec[0].gsi - GSI_BASE].addr, MSI_ADDR);
	assert_int_equal(f->kvm.gsi[f->m.vec[0].gsi - GSI_BASE].data, 0x4041);
	assert_true(msix_signal(&f->m, 0));
	assert_int_equal(delivered(f, 0), 1);
	assert_int_equal(pba_read(f, 0, 8), 0);
	/* A new message on a live vector is routed at once. */
	tbl_write(f, 0 * ENTRY + DATA, 4, 0x4042);
	assert_int_equal(f->kvm.gsi[f->m.vec[0].gsi - GSI_BASE].data, 0x4042);
	/* Disabling MSI-X detaches it again. */
	msix_set_control(&f->m, 0);
	assert_false(attached(f, 0));
}

/* 6.8.2.9/6.8.2.10: a message the masked vector would send sets its pending bit; unmasking
 * sends it and clears the bit. */
static void test_masked_signal_is_pending(void **state)
{
	struct fixture *f = *state;
	msix_set_control(&f->m, MC_ENABLE);
	route_and_unmask(f, 1, 0x4051);
	assert_true(attached(f, 1));
	tbl_write(f, 1 * ENTRY + CTRL, 4, CTRL_MASK);
	assert_false(attached(f, 1));
	assert_true(msix_signal(&f->m, 1));
	assert_true(msix_signal(&f->m, 1));
	assert_int_equal(delivered(f, 1), 0);
	assert_int_equal(pba_read(f, 0, 8), 1u << 1);
	assert_int_equal(pba_read(f, 0, 4), 1u << 1);
	assert_int_equal(pba_read(f, 4, 4), 0);
	/* Software may change the message while masked; the new one is used at unmask. */
	unsigned routes = f->kvm.route_calls;
	tbl_write(f, 1 * ENTRY + DATA, 4, 0x4052);
	assert_int_equal(f->kvm.route_calls, routes);
	tbl_write(f, 1 * ENTRY + CTRL, 4, 0);
	assert_true(attached(f, 1));
	assert_int_equal(f->kvm.gsi[f->m.vec[1].gsi - GSI_BASE].data, 0x4052);
	assert_true(delivered(f, 1) >= 1); /* two signals may coalesce into one message */
	assert_int_equal(pba_read(f, 0, 8), 0);
	assert_int_equal(f->m.signals, 2);
}

/* 6.8.2.3: the function mask holds back every vector without touching their Mask bits. */
static void test_function_mask(void **state)
{
	struct fixture *f = *state;
	msix_set_control(&f->m, MC_ENABLE);
	route_and_unmask(f, 0, 0x4061);
	route_and_unmask(f, 2, 0x4062);
	msix_set_control(&f->m, MC_ENABLE | MC_MASK);
	for (unsigned v = 0; v < NVEC; v++)
		assert_false(attached(f, v));
	assert_int_equal(tbl_read(f, 0 * ENTRY + CTRL, 4), 0);
	assert_int_equal(tbl_read(f, 2 * ENTRY + CTRL, 4), 0);
	msix_signal(&f->m, 0);
	msix_signal(&f->m, 2);
	assert_int_equal(pba_read(f, 0, 8), 1u << 0 | 1u << 2);
	assert_int_equal(delivered(f, 0) + delivered(f, 2), 0);
	msix_set_control(&f->m, MC_ENABLE);
	assert_int_equal(delivered(f, 0), 1);
	assert_int_equal(delivered(f, 2), 1);
	assert_false(attached(f, 1)); /* its own Mask bit still holds it */
	assert_int_equal(pba_read(f, 0, 8), 0);
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	assert_false(msix_signal(&f->m, NVEC));
	assert_false(msix_signal(&f->m, MSIX_MAX_VECTORS));
	assert_int_equal(f->m.signals, 0);
	/* The PBA of 3 vectors is one qword; past it nothing answers. */
	assert_int_equal(pba_read(f, 8, 8), ~0ull);
	assert_int_equal(pba_read(f, 4, 8), ~0ull);
	assert_int_equal(f->m.errors, 2);
}

/* A failed irqfd is counted and retried: the vector is not taken for attached. */
static void test_kvm_failure_counted(void **state)
{
	struct fixture *f = *state;
	msix_set_control(&f->m, MC_ENABLE);
	f->kvm.fail_irqfd = -EINVAL;
	route_and_unmask(f, 0, 0x4071);
	assert_int_equal(f->m.errors, 1);
	assert_false(attached(f, 0));
	f->kvm.fail_irqfd = 0;
	tbl_write(f, 0 * ENTRY + DATA, 4, 0x4072); /* any update tries again */
	assert_true(attached(f, 0));
	assert_int_equal(f->m.errors, 1);
}

static void test_destroy_detaches(void **state)
{
	struct fixture *f = *state;
	msix_set_control(&f->m, MC_ENABLE);
	route_and_unmask(f, 0, 0x4081);
	route_and_unmask(f, 2, 0x4082);
	msix_destroy(&f->m);
	for (unsigned i = 0; i < f->kvm.allocs; i++)
		assert_false(f->kvm.gsi[i].attached);
	assert_int_equal(f->m.nvec, 0); /* the teardown's second destroy does nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test(test_init_rejects_bad_counts),
		cmocka_unit_test_setup_teardown(test_entry_dwords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_qwords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_table_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmask_delivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masked_signal_is_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_function_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kvm_failure_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_detaches, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
