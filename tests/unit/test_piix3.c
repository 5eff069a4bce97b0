/* SPDX-License-Identifier: MIT */
/*
 * The PIIX3's ISA bridge against the 82371SB datasheet and QEMU's i440FX board: its identity,
 * the PIRQ route control registers (reset 0x80, bit 7 disables, IRQs 0, 1, 2, 8 and 13 not
 * routable), the slot swizzle PIRQ[(slot - 1) & 3], level sharing between devices and between
 * PIRQs routed to one IRQ, rerouting while a line is asserted, and port 0x92 (A20 kept, a
 * rising bit 0 resets).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "dev/piix3.h"

/* The ISA IRQ lines as the fake interrupt controller saw them. */
struct lines {
	unsigned calls;
	bool level[16];
	unsigned resets;
};

static int set_irq(void *ctx, unsigned irq, bool level)
{
	struct lines *l = ctx;
	assert_true(irq < 16);
	assert_true(l->level[irq] != level); /* only changes are driven */
	l->level[irq] = level;
	l->calls++;
	return 0;
}

static void on_reset(void *ctx)
{
	((struct lines *)ctx)->resets++;
}

static void route(struct piix3 *p, unsigned pirq, uint8_t val)
{
	pci_dev_cfg_write(&p->pci, PIIX3_PIRQRC + pirq, 1, val);
}

static void test_identity_and_reset_values(void **state)
{
	(void)state;
	struct piix3 p;
	struct lines l = {0};
	piix3_init(&p, set_irq, on_reset, &l);
	assert_int_equal(pci_dev_cfg_read(&p.pci, PCI_VENDOR_ID, 4), 0x70008086);
	assert_int_equal(pci_dev_cfg_read(&p.pci, PCI_CLASS_REVISION, 4) >> 8, PIIX3_CLASS);
	assert_int_equal(pci_dev_cfg_read(&p.pci, PIIX3_PIRQRC, 4), 0x80808080);
	/* Reserved bits 6:4 read 0; bits 7 and 3:0 are the register. */
	route(&p, 0, 0xff);
	assert_int_equal(pci_dev_cfg_read(&p.pci, PIIX3_PIRQRC, 1), 0x8f);
	/* Nothing raised an interrupt yet. */
	assert_int_equal(piix3_intx(&p, 1, false), 0);
	assert_int_equal(l.calls, 0);
	piix3_destroy(&p);
}

/* INTA# of slot S goes to PIRQ[(S - 1) & 3]; a source is the slot modulo 8. */
static void test_swizzle(void **state)
{
	(void)state;
	static const uint8_t irq_of_pirq[PIIX3_PIRQS] = {5, 9, 10, 11};
	for (unsigned source = 0; source < PIIX3_INTX_SOURCES; source++) {
		struct piix3 p;
		struct lines l = {0};
		piix3_init(&p, set_irq, on_reset, &l);
		for (unsigned i = 0; i < PIIX3_PIRQS; i++)
			route(&p, i, irq_of_pirq[i]);
		assert_int_equal(piix3_intx(&p, source, true), 0);
		unsigned want = irq_of_pirq[(source + 3) % 4];
		for (unsigned irq = 0; irq < 16; irq++)
			assert_int_equal(l.level[irq], irq == want);
		assert_int_equal(piix3_intx(&p, source, false), 0);
		assert_false(l.level[want]);
		assert_int_equal(l.calls, 2);
		piix3_destroy(&p);
	}
}

/* Level-triggered and shared: an IRQ stays high while any device on any PIRQ routed to it
 * asserts; it is driven only when that changes. */
static void test_sharing(void **state)
{
	(void)state;
	struct piix3 p;
	struct lines l = {0};
	piix3_init(&p, set_irq, on_reset, &l);
	route(&p, 0, 10); /* PIRQA: slots 1 and 5 */
	route(&p, 1, 10); /* PIRQB: slot 2 */
	assert_int_equal(piix3_intx(&p, 1, true), 0);
	assert_int_equal(piix3_intx(&p, 5, true), 0);
	assert_int_equal(piix3_intx(&p, 2, true), 0);
	assert_true(l.level[10]);
	assert_int_equal(l.calls, 1);
	assert_int_equal(piix3_intx(&p, 1, false), 0);
	assert_int_equal(piix3_intx(&p, 2, false), 0);
	assert_true(l.level[10]);
	assert_int_equal(piix3_intx(&p, 5, false), 0);
	assert_false(l.level[10]);
	assert_int_equal(l.calls, 2);
	/* Repeating a level changes nothing. */
	assert_int_equal(piix3_intx(&p, 5, false), 0);
	assert_int_equal(l.calls, 2);
	assert_int_equal(piix3_intx(&p, PIIX3_INTX_SOURCES, true), -EINVAL);
	piix3_destroy(&p);
}

/* Routing follows the register at once, also for a line held high; a disabled route or an
 * IRQ the PIIX3 cannot route to drives nothing. */
static void test_reroute_and_disable(void **state)
{
	(void)state;
	struct piix3 p;
	struct lines l = {0};
	piix3_init(&p, set_irq, on_reset, &l);
	assert_int_equal(piix3_intx(&p, 1, true), 0); /* PIRQA, not routed yet */
	assert_int_equal(l.calls, 0);
	route(&p, 0, 11);
	assert_true(l.level[11]);
	route(&p, 0, 5);
	assert_false(l.level[11]);
	assert_true(l.level[5]);
	route(&p, 0, 0x80 | 5);
	assert_false(l.level[5]);
	static const uint8_t reserved[] = {0, 1, 2, 8, 13};
	for (size_t i = 0; i < sizeof(reserved); i++) {
		route(&p, 0, reserved[i]);
		assert_false(l.level[reserved[i]]);
	}
	assert_int_equal(l.calls, 4);
	/* A write elsewhere in config space leaves the lines alone. */
	route(&p, 0, 12);
	pci_dev_cfg_write(&p.pci, PCI_INTERRUPT_LINE, 1, 3);
	assert_true(l.level[12]);
	assert_int_equal(l.calls, 5);
	piix3_destroy(&p);
}

static uint8_t p92(struct piix3 *p)
{
	uint8_t v;
	assert_int_equal(piix3_port92_trap(p, 0, &v, 1, false), 0);
	return v;
}

static void w92(struct piix3 *p, uint8_t v)
{
	assert_int_equal(piix3_port92_trap(p, 0, &v, 1, true), 0);
}

static void test_port92(void **state)
{
	(void)state;
	struct piix3 p;
	struct lines l = {0};
	piix3_init(&p, set_irq, on_reset, &l);
	assert_int_equal(p92(&p), 0);
	w92(&p, PIIX3_PORT92_A20);
	assert_int_equal(p92(&p), PIIX3_PORT92_A20);
	assert_int_equal(l.resets, 0);
	w92(&p, PIIX3_PORT92_A20 | PIIX3_PORT92_RESET);
	assert_int_equal(l.resets, 1);
	w92(&p, 0xff); /* bit 0 stays 1: no new reset; undefined bits read 0 */
	assert_int_equal(l.resets, 1);
	assert_int_equal(p92(&p), PIIX3_PORT92_A20 | PIIX3_PORT92_RESET);
	w92(&p, 0);
	w92(&p, PIIX3_PORT92_RESET);
	assert_int_equal(l.resets, 2);
	uint8_t wide[2] = {1, 0};
	assert_int_equal(piix3_port92_trap(&p, 0, wide, 2, true), -EINVAL);
	assert_int_equal(l.resets, 2);
	piix3_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_and_reset_values),
		cmocka_unit_test(test_swizzle),
		cmocka_unit_test(test_sharing),
		cmocka_unit_test(test_reroute_and_disable),
		cmocka_unit_test(test_port92),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
