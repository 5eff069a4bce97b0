/* SPDX-License-Identifier: MIT */
/*
 * The PCnet core's side of the seed paper's optimisations (monitor/dev/pcnet_opt.c), with the
 * fixture's fake clock: the run state that arms the transmit doorbell, what a doorbell read with
 * the coalesced RAP writes stands for (exact with RAP 0 throughout, ambiguous otherwise), interrupt
 * coalescing (a held rise, its bound, a burst at once, causes that never wait), and the pure
 * timing decisions of send combining and coalescing.
 */
#include "fake_pcnet.h"

#define US	     1000ull
#define DB_INEA_TDMD (PCNET_CSR0_INEA | PCNET_CSR0_TDMD)
#define DB_TDMD	     PCNET_CSR0_TDMD
#define COALESCE_NS  (100 * US)
#define COALESCE_MAX 8

static const uint16_t db_val[2] = {DB_INEA_TDMD, DB_TDMD};

/* A doorbell read: begin, what the ring brought meanwhile (RAP writes), apply. */
static enum pcnet_db_result ring(struct fx *f, const int *raps, uint64_t inea_tdmd, uint64_t tdmd)
{
	uint64_t count[2] = {inea_tdmd, tdmd};
	pcnet_db_begin(&f->p);
	for (; raps && *raps >= 0; raps++)
		outw(f, PCNET_WIO_RAP, (uint16_t)*raps);
	return pcnet_db_apply(&f->p, db_val, count, 2);
}

/* ------------------------------------------------------------ run state ------------------------
 */

/* The doorbell may be armed only while the chip runs: run_state follows STRT and STOP. */
static void test_run_state(void **state)
{
	struct fx *f = *state;
	assert_int_equal(f->running, -1); /* reset: stopped, as it was */
	bring_up(f, 2, 2, 2);
	assert_int_equal(f->running, 1);
	assert_int_equal(f->run_calls, 1);
	wcsr(f, 0, PCNET_CSR0_STOP);
	assert_int_equal(f->running, 0);
	wcsr(f, 0, PCNET_CSR0_INIT); /* initialised, not started */
	assert_int_equal(f->running, 0);
	wcsr(f, 0, PCNET_CSR0_STRT | PCNET_CSR0_INEA);
	assert_int_equal(f->running, 1);
	wcsr(f, 0, DB_INEA_TDMD); /* a transmit demand changes nothing */
	assert_int_equal(f->run_calls, 3);
	(void)inw(f, PCNET_WIO_RESET); /* S_RESET: stopped */
	assert_int_equal(f->running, 0);
	assert_int_equal(f->run_calls, 4);
}

/* ------------------------------------------------------------ the doorbell ---------------------
 */

/* RAP 0 all along (pcnet32's send: RAP=0, RDP=0x48): the CSR0 write, exactly. */
static void test_doorbell_exact(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	fill(f, TXBUF, 60, 1);
	tx_give(f, 0, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP);
	unsigned kicks = f->kicks;
	static const int zero[] = {0, 0, -1};
	assert_int_equal(ring(f, zero, 1, 0), PCNET_DB_EXACT);
	assert_int_equal(f->kicks, kicks + 1);
	uint16_t c0 = rcsr(f, 0);
	assert_true(c0 & PCNET_CSR0_TDMD);
	assert_true(c0 & PCNET_CSR0_INEA);
	pcnet_tx_run(&f->p);
	assert_int_equal(f->nframes, 1);
	/* Several read at once are one write's effect; the polled value leaves INEA off. */
	assert_int_equal(ring(f, NULL, 0, 5), PCNET_DB_EXACT);
	assert_false(rcsr(f, 0) & PCNET_CSR0_INEA);
	struct pcnet_stats s = pcnet_stats(&f->p);
	assert_int_equal(s.doorbells, 6);
	assert_int_equal(s.doorbells_ambiguous, 0);
	/* Nothing read: nothing happens. */
	kicks = f->kicks;
	assert_int_equal(ring(f, zero, 0, 0), PCNET_DB_NONE);
	assert_int_equal(f->kicks, kicks);
}

/* A RAP value other than 0 the doorbell may have met (written while its read was open, or
 * RAP's value at the read before): ambiguous. Applied as the CSR0 write when RAP was 0 at one
 * of those points, else to CSR[RAP]; counted. */
static void test_doorbell_ambiguous(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	unsigned kicks = f->kicks;
	static const int zero_three[] = {0, 3, -1};
	assert_int_equal(ring(f, zero_three, 1, 0), PCNET_DB_AMBIGUOUS);
	assert_int_equal(f->kicks, kicks + 1); /* RAP was 0 too: the doorbell's reading */
	assert_true(rcsr(f, 0) & PCNET_CSR0_TDMD);
	/* RAP 3 since the read before, and nothing else: the write was CSR3's. */
	outw(f, PCNET_WIO_RAP, 3);
	assert_int_equal(ring(f, NULL, 0, 0), PCNET_DB_NONE);
	kicks = f->kicks;
	assert_int_equal(ring(f, NULL, 1, 0), PCNET_DB_AMBIGUOUS);
	assert_int_equal(f->kicks, kicks);
	assert_int_equal(rcsr(f, 3), DB_INEA_TDMD); /* CSR3 took the value (in its mask) */
	/* RAP 0 again since the read before the last: exact again. */
	outw(f, PCNET_WIO_RAP, 0);
	assert_int_equal(ring(f, NULL, 0, 0), PCNET_DB_NONE);
	assert_int_equal(ring(f, NULL, 1, 0), PCNET_DB_EXACT);
	/* Both values in one read: their order is unknown, INEA stays as it was. */
	assert_int_equal(ring(f, NULL, 1, 1), PCNET_DB_AMBIGUOUS);
	assert_true(rcsr(f, 0) & PCNET_CSR0_INEA);
	wcsr(f, 0, 0);
	assert_false(rcsr(f, 0) & PCNET_CSR0_INEA);
	assert_int_equal(ring(f, NULL, 1, 1), PCNET_DB_AMBIGUOUS);
	assert_false(rcsr(f, 0) & PCNET_CSR0_INEA);
	struct pcnet_stats s = pcnet_stats(&f->p);
	assert_int_equal(s.doorbells, 7);
	assert_int_equal(s.doorbells_ambiguous, 4);
}

/* What initialisation wrote (CSR1, CSR2 with RAP 1 and 2) happened with the doorbell disarmed:
 * starting the chip forgets it. */
static void test_doorbell_after_start(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2); /* RAP 1, 2, 4 written before STRT; RAP 0 since */
	assert_int_equal(ring(f, NULL, 1, 0), PCNET_DB_EXACT);
}

/* ------------------------------------------------------------ interrupt coalescing -------------
 */

/* n frames from where the chip is in its ring (16 descriptors), then its transmit run. */
static void send(struct fx *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		tx_give(f, (f->p.tx_cur + i) % 16, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tx_run(&f->p);
}

static void coalesced_bring_up(struct fx *f)
{
	pcnet_set_coalesce(&f->p, COALESCE_NS, COALESCE_MAX);
	bring_up(f, 2, 4, 4);
	fill(f, TXBUF, 60, 1);
}

/* One frame's TINT waits for the bound: a timer asked for, an early wake-up waits on for the
 * rest, the bound raises the line. */
static void test_coalesce_lone_frame(void **state)
{
	struct fx *f = *state;
	coalesced_bring_up(f);
	send(f, 1);
	assert_int_equal(f->nframes, 1);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TINT);
	assert_false(f->line);
	assert_int_equal(f->holds, 1);
	assert_int_equal(f->hold_ns, COALESCE_NS);
	f->now += 40 * US;
	pcnet_irq_release(&f->p);
	assert_false(f->line);
	assert_int_equal(f->holds, 2);
	assert_int_equal(f->hold_ns, 60 * US);
	f->now += 60 * US;
	pcnet_irq_release(&f->p);
	assert_true(f->line);
	assert_int_equal(f->raises, 1);
	assert_int_equal(pcnet_stats(&f->p).irq_holds, 1);
	/* The driver's service: acknowledged, down; the next frame waits again. */
	wcsr(f, 0, PCNET_CSR0_TINT | PCNET_CSR0_INEA);
	assert_false(f->line);
	send(f, 1);
	assert_false(f->line);
	assert_int_equal(pcnet_stats(&f->p).irq_holds, 2);
}

/* A burst: the frames a run moved reach the count: at once. Frames that come while a rise is
 * held count too. */
static void test_coalesce_burst(void **state)
{
	struct fx *f = *state;
	coalesced_bring_up(f);
	send(f, COALESCE_MAX);
	assert_true(f->line);
	assert_int_equal(f->holds, 0);
	wcsr(f, 0, PCNET_CSR0_TINT | PCNET_CSR0_INEA);
	send(f, 1);
	assert_false(f->line);
	f->now += 10 * US;
	send(f, COALESCE_MAX - 2);
	assert_false(f->line);
	send(f, 1);
	assert_true(f->line); /* the eighth frame since the line last rose */
	assert_int_equal(f->raises, 2);
}

/* Writes meanwhile (the next send's demand) leave a held rise held; a driver that takes the
 * cause away ends it, and the timer then raises nothing. */
static void test_coalesce_register_writes(void **state)
{
	struct fx *f = *state;
	coalesced_bring_up(f);
	send(f, 1);
	assert_false(f->line);
	wcsr(f, 0, DB_INEA_TDMD);
	assert_false(f->line);
	assert_int_equal(rcsr(f, 0) & PCNET_CSR0_TINT, PCNET_CSR0_TINT); /* polled: there */
	wcsr(f, 0, PCNET_CSR0_TINT | PCNET_CSR0_INEA);
	f->now += COALESCE_NS;
	pcnet_irq_release(&f->p);
	assert_false(f->line);
	assert_int_equal(f->raises, 0);
}

/* Only what moved frames asks for waits: a missed frame (MISS) raises at once, and so does a
 * frame with coalescing off. */
static void test_coalesce_other_causes(void **state)
{
	struct fx *f = *state;
	coalesced_bring_up(f);
	for (unsigned i = 0; i < 16; i++)
		put_desc(f, rxd(f, i), 0, 0, 0, true); /* every receive buffer the host's */
	uint8_t b[64];
	make_frame(b, sizeof(b), mac, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_MISSED);
	assert_true(f->line);
	assert_int_equal(f->holds, 0);
	wcsr(f, 0, PCNET_CSR0_MISS | PCNET_CSR0_INEA);
	assert_false(f->line);
	pcnet_set_coalesce(&f->p, 0, 0);
	send(f, 1);
	assert_true(f->line);
	assert_int_equal(f->holds, 0);
}

/* ------------------------------------------------------------ pure timing ----------------------
 */

static void test_due(void **state)
{
	(void)state;
	/* Coalescing: the count, or the delay since the hold began, whichever first. */
	assert_false(pcnet_coalesce_due(1000, 1000, 1, 100, 8));
	assert_false(pcnet_coalesce_due(1000, 1099, 7, 100, 8));
	assert_true(pcnet_coalesce_due(1000, 1100, 1, 100, 8));
	assert_true(pcnet_coalesce_due(1000, 1000, 8, 100, 8));
	/* Combining: three demands, or one tick since the first. */
	assert_false(pcnet_combine_due(1, 5000, 5000, 3, 1000));
	assert_false(pcnet_combine_due(2, 5000, 5999, 3, 1000));
	assert_true(pcnet_combine_due(3, 5000, 5000, 3, 1000));
	assert_true(pcnet_combine_due(1, 5000, 6000, 3, 1000));
	assert_true(pcnet_combine_due(1, 5000, 5000, 1, 1000)); /* combine_frames=1: never waits */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_run_state),
		T(test_doorbell_exact),
		T(test_doorbell_ambiguous),
		T(test_doorbell_after_start),
		T(test_coalesce_lone_frame),
		T(test_coalesce_burst),
		T(test_coalesce_register_writes),
		T(test_coalesce_other_causes),
		cmocka_unit_test(test_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
