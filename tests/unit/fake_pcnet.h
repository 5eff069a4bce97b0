/* SPDX-License-Identifier: MIT */
/*
 * The PCnet tests' fixture (test_pcnet.c, test_pcnet_ring.c): the core with fake guest RAM, a
 * fake interrupt line and a fake wire that record what the chip does, port I/O as a driver
 * does it (RAP, then RDP or BDP), descriptors written in the chip's current software style,
 * and the bring-up Linux's pcnet32 performs.
 */
#ifndef TESTS_FAKE_PCNET_H
#define TESTS_FAKE_PCNET_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/pcnet.h"
#include "fake_guest.h"

#define RAM_SIZE   (4u << 20)
#define OUTSIDE	   0x800000u /* above the fake guest's RAM */
#define IB	   0x1000u   /* initialization block */
#define RXR	   0x2000u   /* receive ring (512 x 16 bytes at most) */
#define TXR	   0x4000u   /* transmit ring */
#define RXBUF	   0x10000u  /* receive buffer i at RXBUF + i * BUFSZ */
#define TXBUF	   0x60000u  /* transmit data */
#define BUFSZ	   1536u
#define TEST_GSI   11
#define MAX_FRAMES 64
#define RMD1_MATCH (PCNET_RMD1_PAM | PCNET_RMD1_LAFM | PCNET_RMD1_BAM)

static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0x01};

/* The chip, its RAM, and everything it tells the outside: line levels, kicks, frames sent. */
struct fx {
	struct fake_guest g;
	struct pcnet p;
	unsigned style; /* SWSTYLE the test brought the chip up with */
	bool line;
	unsigned raises, kicks;
	int room; /* frames the fake wire still takes; < 0: any number */
	unsigned nframes;
	size_t len[MAX_FRAMES];
	uint8_t frame[MAX_FRAMES][PCNET_MAX_FRAME];
	/* The optimisations' hooks: run states told, interrupt holds asked for, the clock. */
	int running; /* -1: never told */
	unsigned run_calls, holds;
	uint64_t hold_ns, now;
};

static inline int fake_irq(void *ctx, unsigned gsi, bool level)
{
	struct fx *f = ctx;
	assert_int_equal(gsi, TEST_GSI);
	assert_true(level != f->line); /* the core drives only changes */
	f->line = level;
	f->raises += level;
	return 0;
}

static inline void fake_kick(void *ctx)
{
	struct fx *f = ctx;
	f->kicks++;
}

static inline int fake_tx(void *ctx, const uint8_t *frame, size_t len)
{
	struct fx *f = ctx;
	if (f->room == 0)
		return -EAGAIN;
	if (f->room > 0)
		f->room--;
	assert_true(f->nframes < MAX_FRAMES);
	assert_true(len <= PCNET_MAX_FRAME);
	memcpy(f->frame[f->nframes], frame, len);
	f->len[f->nframes++] = len;
	return 0;
}

static inline void fake_run_state(void *ctx, bool running)
{
	struct fx *f = ctx;
	assert_int_not_equal(f->running, running); /* told changes only */
	f->running = running;
	f->run_calls++;
}

static inline void fake_irq_hold(void *ctx, uint64_t ns)
{
	struct fx *f = ctx;
	f->holds++;
	f->hold_ns = ns;
}

static inline uint64_t fake_now(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static const struct pcnet_ops fake_ops = {.tx_kick = fake_kick,
					  .tx = fake_tx,
					  .run_state = fake_run_state,
					  .irq_hold = fake_irq_hold,
					  .now = fake_now};

static inline int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || fake_guest_init(&f->g, RAM_SIZE))
		return -1;
	f->room = -1;
	f->running = -1;
	f->now = 1000000000;
	struct vmm_irq irq = {.set = fake_irq, .ctx = f, .gsi = TEST_GSI};
	pcnet_init(&f->p, mac, &f->g.mem, irq, &fake_ops, f);
	pcnet_set_bus_master(&f->p, true);
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fx *f = *state;
	pcnet_destroy(&f->p);
	fake_guest_free(&f->g);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ port I/O as a driver does it ---- */

static inline int io(struct fx *f, unsigned off, unsigned len, bool wr, uint32_t *val)
{
	uint8_t b[4] = {0};
	if (wr)
		memcpy(b, val, len);
	int ret = pcnet_trap(&f->p, off, b, len, wr);
	if (!wr && !ret) {
		*val = 0;
		memcpy(val, b, len);
	}
	return ret;
}

static inline void outw(struct fx *f, unsigned off, uint16_t v)
{
	uint32_t x = v;
	assert_int_equal(io(f, off, 2, true, &x), 0);
}

static inline uint16_t inw(struct fx *f, unsigned off)
{
	uint32_t x;
	assert_int_equal(io(f, off, 2, false, &x), 0);
	return (uint16_t)x;
}

static inline void wcsr(struct fx *f, unsigned n, uint16_t v)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	outw(f, PCNET_RDP, v);
}

static inline uint16_t rcsr(struct fx *f, unsigned n)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	return inw(f, PCNET_RDP);
}

static inline void wbcr(struct fx *f, unsigned n, uint16_t v)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	outw(f, PCNET_WIO_BDP, v);
}

static inline uint16_t rbcr(struct fx *f, unsigned n)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	return inw(f, PCNET_WIO_BDP);
}

/* ------------------------------------------------------------ guest memory -------------------- */

static inline void put32(struct fx *f, uint64_t gpa, uint32_t v)
{
	assert_int_equal(gmem_write(&f->g.mem, gpa, &v, 4), 0);
}

static inline void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	assert_int_equal(gmem_write(&f->g.mem, gpa, &v, 2), 0);
}

static inline uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(gmem_read(&f->g.mem, gpa, &v, 4), 0);
	return v;
}

static inline uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;
	assert_int_equal(gmem_read(&f->g.mem, gpa, &v, 2), 0);
	return v;
}

static inline unsigned dsize(const struct fx *f)
{
	return f->style ? 16 : 8;
}

/* A descriptor as a driver writes it, in the chip's current style; flags and misc in the
 * 32-bit layout (RMD1/TMD1, RMD2/TMD2). OWN goes in last. */
static inline void put_desc(struct fx *f, uint64_t gpa, uint32_t addr, uint32_t flags,
			    uint32_t misc, bool rx)
{
	if (f->style == 0) {
		put16(f, gpa, (uint16_t)addr);
		put16(f, gpa + 4, (uint16_t)flags);
		put16(f, gpa + 6, (uint16_t)(rx ? misc : misc >> 16));
		put16(f, gpa + 2, (uint16_t)((addr >> 16 & 0xff) | (flags >> 16 & 0xff00)));
		return;
	}
	put32(f, gpa + (f->style == 3 ? 8 : 0), addr);
	put32(f, gpa + (f->style == 3 ? 0 : 8), misc);
	put32(f, gpa + 12, 0);
	put32(f, gpa + 4, flags);
}

/* A descriptor's status (bits 31:16 of RMD1/TMD1) and third word, as the chip left them. */
static inline uint32_t desc_status(struct fx *f, uint64_t gpa)
{
	if (f->style == 0)
		return (uint32_t)(get16(f, gpa + 2) & 0xff00) << 16;
	return get32(f, gpa + 4) & 0xffff0000u;
}

static inline uint32_t desc_misc(struct fx *f, uint64_t gpa, bool rx)
{
	if (f->style == 0)
		return rx ? get16(f, gpa + 6) : (uint32_t)get16(f, gpa + 6) << 16;
	return get32(f, gpa + (f->style == 3 ? 0 : 8));
}

static inline uint32_t bcnt(unsigned len)
{
	return PCNET_DESC_ONES | ((0u - len) & PCNET_DESC_BCNT);
}

static inline uint64_t rxd(const struct fx *f, unsigned i)
{
	return RXR + (uint64_t)i * dsize(f);
}

static inline uint64_t txd(const struct fx *f, unsigned i)
{
	return TXR + (uint64_t)i * dsize(f);
}

/* Receive descriptor i owned by the chip, with a buffer of len bytes. */
static inline void rx_give(struct fx *f, unsigned i, unsigned len)
{
	put_desc(f, rxd(f, i), RXBUF + i * BUFSZ, PCNET_DESC_OWN | bcnt(len), 0, true);
}

/* Transmit descriptor i for len bytes at addr. */
static inline void tx_give(struct fx *f, unsigned i, uint32_t addr, unsigned len, uint32_t flags)
{
	put_desc(f, txd(f, i), addr, PCNET_DESC_OWN | flags | bcnt(len), 0, false);
}

/* n bytes of a recognisable pattern (seed s) at gpa. */
static inline void fill(struct fx *f, uint64_t gpa, unsigned n, uint8_t s)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(s + i * 7);
		assert_int_equal(gmem_write(&f->g.mem, gpa + i, &b, 1), 0);
	}
}

/* Writes the initialization block for the chip's current style at IB. */
static inline void write_ib(struct fx *f, uint16_t mode, unsigned rlog, unsigned tlog,
			    uint32_t rdra, uint32_t tdra, const uint8_t ladrf[8])
{
	static const uint8_t zero[8];
	ladrf = ladrf ? ladrf : zero;
	if (f->style) {
		put16(f, IB, mode);
		uint8_t lens[2] = {(uint8_t)(rlog << 4), (uint8_t)(tlog << 4)};
		assert_int_equal(gmem_write(&f->g.mem, IB + 2, lens, 2), 0);
		assert_int_equal(gmem_write(&f->g.mem, IB + 4, mac, 6), 0);
		put16(f, IB + 10, 0);
		assert_int_equal(gmem_write(&f->g.mem, IB + 12, ladrf, 8), 0);
		put32(f, IB + 20, rdra);
		put32(f, IB + 24, tdra);
	} else {
		put16(f, IB, mode);
		assert_int_equal(gmem_write(&f->g.mem, IB + 2, mac, 6), 0);
		assert_int_equal(gmem_write(&f->g.mem, IB + 8, ladrf, 8), 0);
		put32(f, IB + 16, (rdra & 0xffffff) | (uint32_t)rlog << 29);
		put32(f, IB + 20, (tdra & 0xffffff) | (uint32_t)tlog << 29);
	}
}

/* Brings the chip up as Linux's pcnet32 does: reset, software style, initialization block,
 * CSR4 with transmit padding, INIT, wait for IDON, STRT with interrupts on. Receive
 * descriptors all owned by the chip with full-size buffers; transmit descriptors the host's. */
static inline void bring_up(struct fx *f, unsigned style, unsigned rlog, unsigned tlog)
{
	(void)inw(f, PCNET_WIO_RESET);
	f->style = style;
	wbcr(f, PCNET_BCR_SWS, (uint16_t)style);
	for (unsigned i = 0; i < (1u << rlog); i++)
		rx_give(f, i, BUFSZ);
	for (unsigned i = 0; i < (1u << tlog); i++)
		put_desc(f, txd(f, i), 0, 0, 0, false);
	write_ib(f, 0, rlog, tlog, RXR, TXR, NULL);
	wcsr(f, 1, (uint16_t)IB);
	wcsr(f, 2, (uint16_t)(IB >> 16));
	wcsr(f, 4, 0x0915);
	wcsr(f, 0, PCNET_CSR0_INIT);
	assert_true(rcsr(f, 0) & PCNET_CSR0_IDON);
	wcsr(f, 0, PCNET_CSR0_STRT | PCNET_CSR0_INEA | PCNET_CSR0_IDON);
	uint16_t c0 = rcsr(f, 0);
	assert_int_equal(
		c0 & (PCNET_CSR0_TXON | PCNET_CSR0_RXON | PCNET_CSR0_STRT | PCNET_CSR0_STOP),
		PCNET_CSR0_TXON | PCNET_CSR0_RXON | PCNET_CSR0_STRT);
	assert_false(f->line);
}

/* A frame to our station: destination, source, type, then the pattern. */
static inline void make_frame(uint8_t *b, size_t len, const uint8_t dst[6], uint8_t seed)
{
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x99};
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		b[i] = (uint8_t)(seed + i);
}

#endif
