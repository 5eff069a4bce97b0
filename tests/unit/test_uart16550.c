/* SPDX-License-Identifier: MIT */
/*
 * 16550A register core against the PC16550D datasheet: reset values, divisor latch, transmit,
 * loopback and modem status, FIFOs and trigger levels, overrun, interrupt priority and the PC's
 * OUT2-gated interrupt line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/serial_reg.h>
#include <string.h>

#include "dev/uart16550.h"

#define TEST_GSI   4
#define MAX_EVENTS 64

/* Everything the UART tells the outside world: line changes, transmitted bytes, FIFO room. */
struct fake {
	struct uart16550 u;
	bool levels[MAX_EVENTS]; /* every level the line was driven to, in order */
	unsigned nr_levels;
	uint8_t tx[MAX_EVENTS];
	unsigned nr_tx;
	unsigned rx_space;
};

static int fake_irq_set(void *ctx, unsigned gsi, bool level)
{
	struct fake *f = ctx;
	assert_int_equal(gsi, TEST_GSI);
	assert_true(f->nr_levels < MAX_EVENTS);
	f->levels[f->nr_levels++] = level;
	return 0;
}

static void fake_tx(void *ctx, uint8_t byte)
{
	struct fake *f = ctx;
	assert_true(f->nr_tx < MAX_EVENTS);
	f->tx[f->nr_tx++] = byte;
}

static void fake_rx_space(void *ctx)
{
	struct fake *f = ctx;
	f->rx_space++;
}

static void setup(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	struct vmm_irq irq = {.set = fake_irq_set, .ctx = f, .gsi = TEST_GSI};
	uart_init(&f->u, irq, fake_tx, fake_rx_space, f);
}

static uint8_t rd(struct fake *f, unsigned off)
{
	return uart_read(&f->u, off);
}

static void wr(struct fake *f, unsigned off, uint8_t val)
{
	uart_write(&f->u, off, val);
}

/* The level the line was last driven to; low until the first change. */
static bool line(const struct fake *f)
{
	return f->nr_levels ? f->levels[f->nr_levels - 1] : false;
}

static size_t push(struct fake *f, size_t n)
{
	uint8_t buf[2 * UART_FIFO_SIZE];
	assert_true(n <= sizeof(buf));
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)('a' + i);
	return uart_rx_push(&f->u, buf, n);
}

static void test_reset_values(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	assert_int_equal(rd(&f, UART_IER), 0x00);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(rd(&f, UART_LCR), 0x00);
	assert_int_equal(rd(&f, UART_MCR), 0x00);
	assert_int_equal(rd(&f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(rd(&f, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	/* FCR resets to 0: 16450 mode, a one-byte receiver. */
	assert_int_equal(uart_rx_room(&f.u), 1);
	assert_false(line(&f));
	uart_destroy(&f.u);
}

static void test_unimplemented_bits_read_zero(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_IER, 0xff);
	assert_int_equal(rd(&f, UART_IER), 0x0f);
	wr(&f, UART_MCR, 0xff);
	assert_int_equal(rd(&f, UART_MCR), 0x1f);
	assert_int_equal(rd(&f, UART_IIR) & 0x30, 0);
	uart_destroy(&f.u);
}

static void test_dlab_selects_divisor_latches(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_IER, UART_IER_RDI | UART_IER_RLSI);
	wr(&f, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	wr(&f, UART_DLL, 0x0c);
	wr(&f, UART_DLM, 0x01);
	assert_int_equal(rd(&f, UART_DLL), 0x0c);
	assert_int_equal(rd(&f, UART_DLM), 0x01);
	assert_int_equal(rd(&f, UART_LCR), UART_LCR_DLAB | UART_LCR_WLEN8);
	assert_int_equal(f.nr_tx, 0); /* a DLL write is not a transmit */
	/* IIR is not behind the latch. */
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);

	wr(&f, UART_LCR, UART_LCR_WLEN8);
	assert_int_equal(rd(&f, UART_IER), UART_IER_RDI | UART_IER_RLSI);
	wr(&f, UART_TX, 'x');
	assert_int_equal(f.nr_tx, 1);

	wr(&f, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	assert_int_equal(rd(&f, UART_DLL), 0x0c);
	assert_int_equal(rd(&f, UART_DLM), 0x01);
	uart_destroy(&f.u);
}

static void test_tx_calls_callback(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_TX, 'h');
	wr(&f, UART_TX, 'i');
	assert_int_equal(f.nr_tx, 2);
	assert_memory_equal(f.tx, "hi", 2);
	assert_int_equal(rd(&f, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
			 UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(rd(&f, UART_LSR) & UART_LSR_DR, 0);
	uart_destroy(&f.u);
}

static void test_loopback_echoes_thr_into_rbr(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_MCR, UART_MCR_LOOP);
	wr(&f, UART_TX, 'x');
	assert_int_equal(f.nr_tx, 0); /* SOUT is held marking in loopback */
	assert_true(rd(&f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(rd(&f, UART_RX), 'x');
	assert_false(rd(&f, UART_LSR) & UART_LSR_DR);
	/* The receiver is disconnected from the outside. */
	assert_int_equal(push(&f, 1), 0);
	assert_int_equal(uart_rx_room(&f.u), 0);
	wr(&f, UART_MCR, 0);
	wr(&f, UART_TX, 'y');
	assert_int_equal(f.nr_tx, 1);
	assert_int_equal(f.tx[0], 'y');
	uart_destroy(&f.u);
}

/* Entering loopback disconnects the modem inputs: the lines of the terminal fall. */
static void test_loopback_entry_sets_deltas(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_MCR, UART_MCR_LOOP);
	assert_int_equal(rd(&f, UART_MSR), UART_MSR_DDCD | UART_MSR_DDSR | UART_MSR_DCTS);
	assert_int_equal(rd(&f, UART_MSR), 0);
	wr(&f, UART_MCR, 0);
	assert_int_equal(rd(&f, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS |
						   UART_MSR_DDCD | UART_MSR_DDSR | UART_MSR_DCTS);
	assert_int_equal(rd(&f, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	uart_destroy(&f.u);
}

static void test_loopback_maps_mcr_to_msr(void **state)
{
	(void)state;
	static const struct {
		uint8_t mcr, msr, rise_delta, fall_delta;
	} map[] = {
		{UART_MCR_RTS, UART_MSR_CTS, UART_MSR_DCTS, UART_MSR_DCTS},
		{UART_MCR_DTR, UART_MSR_DSR, UART_MSR_DDSR, UART_MSR_DDSR},
		{UART_MCR_OUT1, UART_MSR_RI, 0, UART_MSR_TERI}, /* TERI: trailing edge only */
		{UART_MCR_OUT2, UART_MSR_DCD, UART_MSR_DDCD, UART_MSR_DDCD},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		struct fake f;
		setup(&f);
		wr(&f, UART_MCR, UART_MCR_LOOP);
		rd(&f, UART_MSR);
		wr(&f, UART_MCR, UART_MCR_LOOP | map[i].mcr);
		assert_int_equal(rd(&f, UART_MSR), map[i].msr | map[i].rise_delta);
		assert_int_equal(rd(&f, UART_MSR), map[i].msr); /* the read cleared the delta */
		wr(&f, UART_MCR, UART_MCR_LOOP);
		assert_int_equal(rd(&f, UART_MSR), map[i].fall_delta);
		assert_int_equal(rd(&f, UART_MSR), 0);
		uart_destroy(&f.u);
	}
}

static void test_fifo_enable_and_disable_clear_it(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(push(&f, 5), 5);
	wr(&f, UART_FCR, 0);
	assert_false(rd(&f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(uart_rx_room(&f.u), 1);

	assert_int_equal(push(&f, 1), 1);
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_false(rd(&f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(uart_rx_room(&f.u), UART_FIFO_SIZE);

	/* Rewriting FCR without changing bit 0 keeps the data... */
	assert_int_equal(push(&f, 3), 3);
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_4);
	assert_true(rd(&f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(uart_rx_room(&f.u), UART_FIFO_SIZE - 3);
	/* ...unless it asks for a receiver reset. */
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
	assert_false(rd(&f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(uart_rx_room(&f.u), UART_FIFO_SIZE);
	uart_destroy(&f.u);
}

static void test_fifo_depth(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(push(&f, 20), UART_FIFO_SIZE);
	assert_int_equal(uart_rx_room(&f.u), 0);
	for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(rd(&f, UART_RX), 'a' + i);
	assert_false(rd(&f, UART_LSR) & (UART_LSR_DR | UART_LSR_OE));

	wr(&f, UART_FCR, 0);
	assert_int_equal(push(&f, 5), 1);
	assert_int_equal(uart_rx_room(&f.u), 0);
	assert_int_equal(rd(&f, UART_RX), 'a');
	assert_false(rd(&f, UART_LSR) & (UART_LSR_DR | UART_LSR_OE));
	uart_destroy(&f.u);
}

static void test_overrun_sets_oe_and_lsr_read_clears_it(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	/* FIFO mode: the 17th character is lost, the 16 before it are kept. */
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(&f, UART_MCR, UART_MCR_LOOP);
	for (unsigned i = 0; i <= UART_FIFO_SIZE; i++)
		wr(&f, UART_TX, (uint8_t)('A' + i));
	assert_int_equal(rd(&f, UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
	assert_int_equal(rd(&f, UART_LSR) & UART_LSR_OE, 0);
	for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(rd(&f, UART_RX), 'A' + i);
	assert_false(rd(&f, UART_LSR) & UART_LSR_DR);

	/* 16450 mode: the second unread character overruns. */
	wr(&f, UART_FCR, 0);
	wr(&f, UART_TX, 'a');
	assert_false(rd(&f, UART_LSR) & UART_LSR_OE);
	wr(&f, UART_TX, 'b');
	assert_true(rd(&f, UART_LSR) & UART_LSR_OE);
	assert_false(rd(&f, UART_LSR) & UART_LSR_OE);
	uart_destroy(&f.u);
}

/* PC16550D, LSR bit 1: in 16450 mode the next character is transferred into RBR, "thereby
 * destroying the previous character"; only in FIFO mode is the new character the one lost. */
static void test_overrun_in_16450_mode_keeps_newest(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_MCR, UART_MCR_LOOP);
	wr(&f, UART_TX, 'a');
	wr(&f, UART_TX, 'b');
	assert_true(rd(&f, UART_LSR) & UART_LSR_OE);
	assert_int_equal(rd(&f, UART_RX), 'b');
	uart_destroy(&f.u);
}

static void test_rx_trigger_levels(void **state)
{
	(void)state;
	static const struct {
		uint8_t fcr_bits;
		unsigned level;
	} trig[] = {
		{UART_FCR_TRIGGER_1, 1},
		{UART_FCR_TRIGGER_4, 4},
		{UART_FCR_TRIGGER_8, 8},
		{UART_FCR_TRIGGER_14, 14},
	};
	for (size_t t = 0; t < sizeof(trig) / sizeof(trig[0]); t++) {
		struct fake f;
		setup(&f);
		wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO | trig[t].fcr_bits);
		wr(&f, UART_IER, UART_IER_RDI);
		for (unsigned n = 1; n <= UART_FIFO_SIZE; n++) {
			assert_int_equal(push(&f, 1), 1);
			uint8_t id = n < trig[t].level ? UART_IIR_RX_TIMEOUT : UART_IIR_RDI;
			assert_int_equal(rd(&f, UART_IIR), 0xc0 | id);
		}
		/* Reading below the trigger again turns it back into a timeout. */
		while (uart_rx_room(&f.u) < UART_FIFO_SIZE - trig[t].level + 1)
			rd(&f, UART_RX);
		if (trig[t].level > 1)
			assert_int_equal(rd(&f, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
		uart_destroy(&f.u);
	}

	/* 16450 mode: one character is the trigger. */
	struct fake f;
	setup(&f);
	wr(&f, UART_IER, UART_IER_RDI);
	assert_int_equal(push(&f, 1), 1);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_RDI);
	rd(&f, UART_RX);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	uart_destroy(&f.u);
}

/* All four sources pending at once are reported one by one, highest first. */
static void check_priorities(bool fifo)
{
	struct fake f;
	setup(&f);
	uint8_t fifo_bits = fifo ? 0xc0 : 0;
	wr(&f, UART_FCR, fifo ? UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_4 : 0);
	wr(&f, UART_MCR, UART_MCR_LOOP); /* modem status deltas */
	wr(&f, UART_IER, UART_IER_RLSI | UART_IER_RDI | UART_IER_THRI | UART_IER_MSI);
	unsigned n = fifo ? UART_FIFO_SIZE + 1 : 2; /* one more than fits: an overrun */
	for (unsigned i = 0; i < n; i++)
		wr(&f, UART_TX, (uint8_t)i);

	assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_RLSI);
	assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_RLSI); /* IIR does not clear it */
	assert_true(rd(&f, UART_LSR) & UART_LSR_OE);
	assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_RDI); /* at/above the trigger */
	while (rd(&f, UART_LSR) & UART_LSR_DR) {
		if (fifo && uart_rx_room(&f.u) == UART_FIFO_SIZE - 3)
			assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_RX_TIMEOUT);
		rd(&f, UART_RX);
	}
	assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_THRI);
	assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_MSI); /* THRE acknowledged */
	assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_MSI);
	rd(&f, UART_MSR);
	assert_int_equal(rd(&f, UART_IIR), fifo_bits | UART_IIR_NO_INT);
	uart_destroy(&f.u);
}

static void test_interrupt_priorities(void **state)
{
	(void)state;
	check_priorities(false);
	check_priorities(true);
}

static void test_msr_interrupt(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_MCR, UART_MCR_LOOP);
	rd(&f, UART_MSR);
	wr(&f, UART_IER, UART_IER_MSI);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	wr(&f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_MSI);
	rd(&f, UART_MSR);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	/* A rising RI is no event; a falling one is. */
	wr(&f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT1);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	wr(&f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_MSI);
	uart_destroy(&f.u);
}

static void test_thre_interrupt_on_enable(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_MCR, UART_MCR_OUT2);
	assert_false(line(&f));
	wr(&f, UART_IER, UART_IER_THRI);
	assert_true(line(&f));
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_THRI);
	assert_false(line(&f)); /* the IIR read acknowledged it */
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	/* Only a 0 -> 1 change of IER.THRI raises THRE; rewriting the same IER does not. */
	wr(&f, UART_IER, UART_IER_THRI);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	/* Disable and enable again: THR is still empty, so it fires again. */
	wr(&f, UART_IER, 0);
	wr(&f, UART_IER, UART_IER_THRI);
	assert_true(line(&f));
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_THRI);
	uart_destroy(&f.u);
}

static void test_thr_write_rearms_thre(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_MCR, UART_MCR_OUT2);
	wr(&f, UART_IER, UART_IER_THRI);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_THRI);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	wr(&f, UART_TX, 'z');
	assert_true(line(&f));
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_THRI);
	uart_destroy(&f.u);
}

/* An edge-triggered controller only sees the THRE after a THR write if the line drops first. */
static void test_thr_write_gives_falling_then_rising_edge(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_MCR, UART_MCR_OUT2);
	wr(&f, UART_IER, UART_IER_THRI);
	assert_true(line(&f));
	f.nr_levels = 0;
	wr(&f, UART_TX, 'z');
	assert_int_equal(f.nr_levels, 2);
	assert_false(f.levels[0]);
	assert_true(f.levels[1]);
	uart_destroy(&f.u);
}

static void test_irq_line_gated_by_out2_and_loopback(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_IER, UART_IER_RDI);
	assert_int_equal(push(&f, 1), 1);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_RDI); /* pending inside the chip... */
	assert_false(line(&f));				  /* ...but OUT2 is off */
	wr(&f, UART_MCR, UART_MCR_OUT1);
	assert_false(line(&f));
	wr(&f, UART_MCR, UART_MCR_OUT2);
	assert_true(line(&f));
	wr(&f, UART_MCR, UART_MCR_OUT2 | UART_MCR_LOOP);
	assert_false(line(&f));
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_RDI);
	wr(&f, UART_MCR, UART_MCR_OUT2);
	assert_true(line(&f));
	rd(&f, UART_RX);
	assert_false(line(&f));
	/* Every recorded call was a change. */
	for (unsigned i = 1; i < f.nr_levels; i++)
		assert_int_not_equal(f.levels[i], f.levels[i - 1]);
	uart_destroy(&f.u);
}

static void test_iir_fifo_bits(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(rd(&f, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_14);
	assert_int_equal(rd(&f, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	wr(&f, UART_FCR, 0);
	assert_int_equal(rd(&f, UART_IIR), UART_IIR_NO_INT);
	uart_destroy(&f.u);
}

static void test_rx_push_never_overruns_and_signals_room(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(push(&f, 10), 10);
	assert_int_equal(uart_rx_room(&f.u), UART_FIFO_SIZE - 10);
	assert_int_equal(push(&f, 10), UART_FIFO_SIZE - 10);
	assert_int_equal(push(&f, 1), 0);
	assert_false(rd(&f, UART_LSR) & UART_LSR_OE);
	for (unsigned i = 0; i < UART_FIFO_SIZE - 1; i++)
		rd(&f, UART_RX);
	assert_int_equal(f.rx_space, 0);
	rd(&f, UART_RX);
	assert_int_equal(f.rx_space, 1);
	assert_int_equal(uart_rx_room(&f.u), UART_FIFO_SIZE);
	uart_destroy(&f.u);
}

static void test_scratch_register(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_SCR, 0xa5);
	assert_int_equal(rd(&f, UART_SCR), 0xa5);
	wr(&f, UART_SCR, 0x5a);
	assert_int_equal(rd(&f, UART_SCR), 0x5a);
	assert_int_equal(rd(&f, UART_IER), 0);
	assert_int_equal(rd(&f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(f.nr_tx, 0);
	uart_destroy(&f.u);
}

static void test_status_registers_are_read_only(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	wr(&f, UART_LSR, 0x1f);
	assert_int_equal(rd(&f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	wr(&f, UART_MSR, 0x0f);
	assert_int_equal(rd(&f, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	uart_destroy(&f.u);
}

static void test_trap(void **state)
{
	(void)state;
	struct fake f;
	setup(&f);
	uint8_t buf[4] = {0x42, 0, 0, 0};
	assert_int_equal(uart_trap(&f.u, UART_SCR, buf, 1, true), 0);
	assert_int_equal(rd(&f, UART_SCR), 0x42);
	assert_int_equal(uart_trap(&f.u, UART_LSR, buf, 1, false), 0);
	assert_int_equal(buf[0], UART_LSR_THRE | UART_LSR_TEMT);

	buf[0] = 0x99;
	assert_int_equal(uart_trap(&f.u, UART_SCR, buf, 2, true), -EINVAL);
	assert_int_equal(uart_trap(&f.u, 0, buf, 4, false), -EINVAL);
	assert_int_equal(uart_trap(&f.u, UART_NR_PORTS, buf, 1, true), -EINVAL);
	assert_int_equal(uart_trap(&f.u, UART_NR_PORTS, buf, 1, false), -EINVAL);
	assert_int_equal(rd(&f, UART_SCR), 0x42);
	assert_int_equal(f.nr_tx, 0);
	uart_destroy(&f.u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_values),
		cmocka_unit_test(test_unimplemented_bits_read_zero),
		cmocka_unit_test(test_dlab_selects_divisor_latches),
		cmocka_unit_test(test_tx_calls_callback),
		cmocka_unit_test(test_loopback_echoes_thr_into_rbr),
		cmocka_unit_test(test_loopback_entry_sets_deltas),
		cmocka_unit_test(test_loopback_maps_mcr_to_msr),
		cmocka_unit_test(test_fifo_enable_and_disable_clear_it),
		cmocka_unit_test(test_fifo_depth),
		cmocka_unit_test(test_overrun_sets_oe_and_lsr_read_clears_it),
		cmocka_unit_test(test_overrun_in_16450_mode_keeps_newest),
		cmocka_unit_test(test_rx_trigger_levels),
		cmocka_unit_test(test_interrupt_priorities),
		cmocka_unit_test(test_msr_interrupt),
		cmocka_unit_test(test_thre_interrupt_on_enable),
		cmocka_unit_test(test_thr_write_rearms_thre),
		cmocka_unit_test(test_thr_write_gives_falling_then_rising_edge),
		cmocka_unit_test(test_irq_line_gated_by_out2_and_loopback),
		cmocka_unit_test(test_iir_fifo_bits),
		cmocka_unit_test(test_rx_push_never_overruns_and_signals_room),
		cmocka_unit_test(test_scratch_register),
		cmocka_unit_test(test_status_registers_are_read_only),
		cmocka_unit_test(test_trap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
