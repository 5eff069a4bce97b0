/* SPDX-License-Identifier: MIT */
/*
 * The PCnet-PCI II core against the Am79C970A datasheet, driven through its I/O BAR as a
 * driver does (RAP, then RDP or BDP) with fake guest RAM and a fake wire: reset values and
 * chip ID, the address PROM, word and dword I/O, CSR0's command and write-one-to-clear bits,
 * the interrupt line (INTR && INEA, masks), the initialization block in both sizes, and the
 * rings in SWSTYLE 2, 3 and 0: single and chained frames both ways, ring wrap, transmit
 * padding, the receive FCS and message count, address filtering, missed frames.
 *
 * And the bad input of issue 9 item 5, each ending with the error the datasheet gives and
 * nothing touched outside guest RAM (the sanitizer build runs this file too): an
 * initialization block outside RAM, rings and buffers outside RAM, a ring that wraps into
 * garbage, a frame longer than 1518 bytes, a chain without ENP, TDMD storms on an empty ring.
 */
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
};

static int fake_irq(void *ctx, unsigned gsi, bool level)
{
	struct fx *f = ctx;
	assert_int_equal(gsi, TEST_GSI);
	assert_true(level != f->line); /* the core drives only changes */
	f->line = level;
	f->raises += level;
	return 0;
}

static void fake_kick(void *ctx)
{
	struct fx *f = ctx;
	f->kicks++;
}

static int fake_tx(void *ctx, const uint8_t *frame, size_t len)
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

static const struct pcnet_ops fake_ops = {.tx_kick = fake_kick, .tx = fake_tx};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || fake_guest_init(&f->g, RAM_SIZE))
		return -1;
	f->room = -1;
	struct vmm_irq irq = {.set = fake_irq, .ctx = f, .gsi = TEST_GSI};
	pcnet_init(&f->p, mac, &f->g.mem, irq, &fake_ops, f);
	pcnet_set_bus_master(&f->p, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pcnet_destroy(&f->p);
	fake_guest_free(&f->g);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ port I/O as a driver does it ---- */

static int io(struct fx *f, unsigned off, unsigned len, bool wr, uint32_t *val)
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

static void outw(struct fx *f, unsigned off, uint16_t v)
{
	uint32_t x = v;
	assert_int_equal(io(f, off, 2, true, &x), 0);
}

static uint16_t inw(struct fx *f, unsigned off)
{
	uint32_t x;
	assert_int_equal(io(f, off, 2, false, &x), 0);
	return (uint16_t)x;
}

static void wcsr(struct fx *f, unsigned n, uint16_t v)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	outw(f, PCNET_RDP, v);
}

static uint16_t rcsr(struct fx *f, unsigned n)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	return inw(f, PCNET_RDP);
}

static void wbcr(struct fx *f, unsigned n, uint16_t v)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	outw(f, PCNET_WIO_BDP, v);
}

static uint16_t rbcr(struct fx *f, unsigned n)
{
	outw(f, PCNET_WIO_RAP, (uint16_t)n);
	return inw(f, PCNET_WIO_BDP);
}

/* ------------------------------------------------------------ guest memory -------------------- */

static void put32(struct fx *f, uint64_t gpa, uint32_t v)
{
	assert_int_equal(gmem_write(&f->g.mem, gpa, &v, 4), 0);
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	assert_int_equal(gmem_write(&f->g.mem, gpa, &v, 2), 0);
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(gmem_read(&f->g.mem, gpa, &v, 4), 0);
	return v;
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;
	assert_int_equal(gmem_read(&f->g.mem, gpa, &v, 2), 0);
	return v;
}

static unsigned dsize(const struct fx *f)
{
	return f->style ? 16 : 8;
}

/* A descriptor as a driver writes it, in the chip's current style; flags and misc in the
 * 32-bit layout (RMD1/TMD1, RMD2/TMD2). OWN goes in last. */
static void put_desc(struct fx *f, uint64_t gpa, uint32_t addr, uint32_t flags, uint32_t misc,
		     bool rx)
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
static uint32_t desc_status(struct fx *f, uint64_t gpa)
{
	if (f->style == 0)
		return (uint32_t)(get16(f, gpa + 2) & 0xff00) << 16;
	return get32(f, gpa + 4) & 0xffff0000u;
}

static uint32_t desc_misc(struct fx *f, uint64_t gpa, bool rx)
{
	if (f->style == 0)
		return rx ? get16(f, gpa + 6) : (uint32_t)get16(f, gpa + 6) << 16;
	return get32(f, gpa + (f->style == 3 ? 0 : 8));
}

static uint32_t bcnt(unsigned len)
{
	return PCNET_DESC_ONES | ((0u - len) & PCNET_DESC_BCNT);
}

static uint64_t rxd(const struct fx *f, unsigned i)
{
	return RXR + (uint64_t)i * dsize(f);
}

static uint64_t txd(const struct fx *f, unsigned i)
{
	return TXR + (uint64_t)i * dsize(f);
}

/* Receive descriptor i owned by the chip, with a buffer of len bytes. */
static void rx_give(struct fx *f, unsigned i, unsigned len)
{
	put_desc(f, rxd(f, i), RXBUF + i * BUFSZ, PCNET_DESC_OWN | bcnt(len), 0, true);
}

/* Transmit descriptor i for len bytes at addr. */
static void tx_give(struct fx *f, unsigned i, uint32_t addr, unsigned len, uint32_t flags)
{
	put_desc(f, txd(f, i), addr, PCNET_DESC_OWN | flags | bcnt(len), 0, false);
}

/* n bytes of a recognisable pattern (seed s) at gpa. */
static void fill(struct fx *f, uint64_t gpa, unsigned n, uint8_t s)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(s + i * 7);
		assert_int_equal(gmem_write(&f->g.mem, gpa + i, &b, 1), 0);
	}
}

/* Writes the initialization block for the chip's current style at IB. */
static void write_ib(struct fx *f, uint16_t mode, unsigned rlog, unsigned tlog, uint32_t rdra,
		     uint32_t tdra, const uint8_t ladrf[8])
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
static void bring_up(struct fx *f, unsigned style, unsigned rlog, unsigned tlog)
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
static void make_frame(uint8_t *b, size_t len, const uint8_t dst[6], uint8_t seed)
{
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x99};
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		b[i] = (uint8_t)(seed + i);
}

/* ------------------------------------------------------------ registers ----------------------- */

static void test_reset_values_and_identity(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rcsr(f, 0), PCNET_CSR0_STOP);
	assert_int_equal(rcsr(f, 3), 0);
	assert_int_equal(rcsr(f, 4), 0x0115);
	assert_int_equal(rcsr(f, 88), 0x1003);
	assert_int_equal(rcsr(f, 89), 0x0262);
	/* The station address is in CSR12-14 after reset, as Linux's probe compares. */
	assert_int_equal(rcsr(f, 12), 0x5452);
	assert_int_equal(rcsr(f, 13), 0xab00);
	assert_int_equal(rcsr(f, 14), 0x01cd);
	/* PROM: the address, hardware ID 11h, checksum of bytes 0-11 and 14-15, 'W' 'W'. */
	uint32_t v;
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(io(f, i, 1, false, &v), 0);
		assert_int_equal(v, mac[i]);
	}
	assert_int_equal(io(f, 14, 2, false, &v), 0);
	assert_int_equal(v, 0x5757);
	assert_int_equal(io(f, 8, 4, false, &v), 0);
	assert_int_equal(v, 0x1100);
	unsigned sum = 0;
	for (unsigned i = 0; i < 6; i++)
		sum += mac[i];
	sum += 0x11 + 2 * 0x57;
	assert_int_equal(io(f, 12, 2, false, &v), 0);
	assert_int_equal(v, sum);
	assert_int_not_equal(io(f, 14, 4, false, &v), 0); /* past the PROM into RDP */
	/* BCRs a driver reads; LEDOUT shows the link up in BCR4 (pcnet32's link test). */
	assert_int_equal(rbcr(f, 2), 0x0002);
	assert_int_equal(rbcr(f, 4), 0x80c0);
	assert_int_equal(rbcr(f, 9), 0);
	assert_int_equal(rbcr(f, 18), 0x9001);
	assert_int_equal(rbcr(f, 20), 0x0200);
	assert_int_equal(rcsr(f, 58), 0x0200);
	/* A register that does not exist reads all ones and is counted. */
	uint64_t before = pcnet_stats(&f->p).unhandled;
	assert_int_equal(rcsr(f, 7), 0xffff);
	assert_int_equal(rbcr(f, 31), 0xffff);
	assert_int_equal(pcnet_stats(&f->p).unhandled, before + 2);
}

static void test_word_and_dword_io(void **state)
{
	struct fx *f = *state;
	uint32_t v = 88;
	outw(f, PCNET_WIO_RAP, 88);
	assert_int_equal(inw(f, PCNET_WIO_RAP), 88); /* pcnet32_wio_check */
	/* WIO: registers take words only. */
	assert_int_equal(io(f, PCNET_RDP, 1, false, &v), -EINVAL);
	assert_int_equal(io(f, PCNET_WIO_RAP, 4, false, &v), -EINVAL);
	assert_int_equal(io(f, 0x18, 2, false, &v), -EINVAL);
	assert_false(rbcr(f, 18) & PCNET_BCR18_DWIO);
	/* A DWord write to RDP selects DWIO (and writes RDP: CSR88 is read only). */
	v = 0;
	assert_int_equal(io(f, PCNET_RDP, 4, true, &v), 0);
	v = 18;
	assert_int_equal(io(f, PCNET_DWIO_RAP, 4, true, &v), 0);
	assert_int_equal(io(f, PCNET_DWIO_BDP, 4, false, &v), 0);
	assert_int_equal(v, 0x9001 | PCNET_BCR18_DWIO);
	assert_int_equal(io(f, PCNET_WIO_RAP, 2, false, &v), -EINVAL); /* words are refused now */
	v = 0x00ff0001; /* the upper half is written as zeros */
	assert_int_equal(io(f, PCNET_DWIO_RAP, 4, true, &v), 0);
	assert_int_equal(io(f, PCNET_DWIO_RAP, 4, false, &v), 0);
	assert_int_equal(v, 1);
	v = 0x1234;
	assert_int_equal(io(f, PCNET_RDP, 4, true, &v), 0); /* CSR1, stopped: writable */
	assert_int_equal(io(f, PCNET_RDP, 4, false, &v), 0);
	assert_int_equal(v, 0x1234);
	/* Reading RESET is an S_RESET: CSRs back, DWIO kept (only H_RESET leaves it). */
	v = 0;
	assert_int_equal(io(f, PCNET_DWIO_RAP, 4, true, &v), 0);
	v = PCNET_CSR0_INEA;
	assert_int_equal(io(f, PCNET_RDP, 4, true, &v), 0);
	assert_int_equal(io(f, PCNET_DWIO_RESET, 4, false, &v), 0);
	assert_int_equal(io(f, PCNET_RDP, 4, false, &v), 0);
	assert_int_equal(v, PCNET_CSR0_STOP);
	v = 18;
	assert_int_equal(io(f, PCNET_DWIO_RAP, 4, true, &v), 0);
	assert_int_equal(io(f, PCNET_DWIO_BDP, 4, false, &v), 0);
	assert_true(v & PCNET_BCR18_DWIO);
	/* The PROM still reads at any width. */
	assert_int_equal(io(f, 0, 4, false, &v), 0);
	assert_int_equal(v, 0xab005452);
}

static void test_csr0_commands_and_flags(void **state)
{
	struct fx *f = *state;
	f->style = 2;
	wbcr(f, PCNET_BCR_SWS, 2);
	assert_int_equal(rbcr(f, 20), 0x0302); /* SSIZE32, CSRPCNET */
	write_ib(f, 0, 2, 2, RXR, TXR, NULL);
	wcsr(f, 1, IB);
	wcsr(f, 2, 0);
	wcsr(f, 0, PCNET_CSR0_INIT);
	uint16_t c0 = rcsr(f, 0);
	assert_int_equal(c0 & (PCNET_CSR0_INIT | PCNET_CSR0_IDON | PCNET_CSR0_STOP),
			 PCNET_CSR0_INIT | PCNET_CSR0_IDON);
	assert_true(c0 & PCNET_CSR0_INTR); /* IDON unmasked: INTR, but INEA is off */
	assert_false(f->line);
	/* Registers writable only while stopped ignore writes now. */
	wcsr(f, 1, 0x5555);
	assert_int_equal(rcsr(f, 1), IB);
	wbcr(f, PCNET_BCR_SWS, 0);
	assert_int_equal(rbcr(f, 20), 0x0302);
	/* Writing 0 to a flag leaves it; writing 1 clears it. */
	wcsr(f, 0, 0);
	assert_true(rcsr(f, 0) & PCNET_CSR0_IDON);
	wcsr(f, 0, PCNET_CSR0_IDON);
	assert_false(rcsr(f, 0) & (PCNET_CSR0_IDON | PCNET_CSR0_INTR));
	/* STOP wins over INIT and STRT, and clears every other bit. */
	wcsr(f, 0, PCNET_CSR0_STRT | PCNET_CSR0_INEA);
	assert_true(rcsr(f, 0) & PCNET_CSR0_RXON);
	wcsr(f, 0, PCNET_CSR0_STOP | PCNET_CSR0_STRT | PCNET_CSR0_INIT);
	assert_int_equal(rcsr(f, 0), PCNET_CSR0_STOP);
	/* ERR is the OR of BABL, CERR, MISS, MERR: a missed frame sets it. */
	wcsr(f, 0, PCNET_CSR0_INIT);
	wcsr(f, 0, PCNET_CSR0_STRT);
	for (unsigned i = 0; i < 4; i++)
		put_desc(f, rxd(f, i), 0, 0, 0, true);
	uint8_t b[64];
	make_frame(b, sizeof(b), mac, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_MISSED);
	c0 = rcsr(f, 0);
	assert_int_equal(c0 & (PCNET_CSR0_ERR | PCNET_CSR0_MISS), PCNET_CSR0_ERR | PCNET_CSR0_MISS);
	wcsr(f, 0, PCNET_CSR0_MISS);
	assert_false(rcsr(f, 0) & PCNET_CSR0_ERR);
	/* CSR4: write one to clear; UINTCMD raises UINT, which interrupts unmasked. */
	wcsr(f, 0, PCNET_CSR0_INEA | PCNET_CSR0_IDON);
	assert_false(f->line);
	wcsr(f, 4, 0x0115 | PCNET_CSR4_UINTCMD);
	assert_true(rcsr(f, 4) & PCNET_CSR4_UINT);
	assert_true(f->line);
	wcsr(f, 4, 0x0115 | PCNET_CSR4_UINT);
	assert_int_equal(rcsr(f, 4), 0x0115);
	assert_false(f->line);
}

static void test_interrupt_line_is_intr_and_inea(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	uint8_t b[100];
	make_frame(b, sizeof(b), mac, 3);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	assert_true(f->line);
	assert_int_equal(f->raises, 1);
	/* Masked (as pcnet32 does while it polls): the flag stays, the line drops. */
	wcsr(f, 3, 0x5f00);
	assert_false(f->line);
	assert_true(rcsr(f, 0) & PCNET_CSR0_RINT);
	assert_false(rcsr(f, 0) & PCNET_CSR0_INTR);
	wcsr(f, 3, 0);
	assert_true(f->line);
	/* INEA off: INTR still reads 1, the line is low. */
	wcsr(f, 0, 0);
	assert_false(f->line);
	assert_true(rcsr(f, 0) & PCNET_CSR0_INTR);
	wcsr(f, 0, PCNET_CSR0_INEA);
	assert_true(f->line);
	/* Acknowledged as pcnet32 does: write back what was read, minus the commands. */
	wcsr(f, 0, rcsr(f, 0) & ~0x004f);
	assert_false(rcsr(f, 0) & (PCNET_CSR0_RINT | PCNET_CSR0_INTR));
	assert_false(f->line);
	assert_int_equal(f->raises, 3);
}

static void test_init_block_32_and_16(void **state)
{
	struct fx *f = *state;
	static const uint8_t ladrf[8] = {1, 2, 3, 4, 5, 6, 7, 0x88};
	f->style = 2;
	wbcr(f, PCNET_BCR_SWS, 2);
	write_ib(f, PCNET_MODE_PROM | PCNET_MODE_DTX, 4, 12, 0x00a123f0, 0x00b45670, ladrf);
	wcsr(f, 1, IB);
	wcsr(f, 0, PCNET_CSR0_INIT);
	assert_int_equal(rcsr(f, 15), PCNET_MODE_PROM | PCNET_MODE_DTX);
	assert_int_equal(rcsr(f, 8), 0x0201);
	assert_int_equal(rcsr(f, 11), 0x8807);
	assert_int_equal(rcsr(f, 13), 0xab00);
	assert_int_equal(rcsr(f, 76), (uint16_t)-16);
	assert_int_equal(rcsr(f, 78), (uint16_t)-512); /* TLEN above 9 means 512 */
	assert_int_equal(rcsr(f, 24), 0x23f0);
	assert_int_equal(rcsr(f, 25), 0x00a1);
	assert_int_equal(rcsr(f, 30), 0x5670);
	assert_int_equal(rcsr(f, 6), 0xc400);
	/* DTX in the mode: STRT turns on the receiver only. */
	wcsr(f, 0, PCNET_CSR0_STRT);
	assert_int_equal(rcsr(f, 0) & (PCNET_CSR0_TXON | PCNET_CSR0_RXON), PCNET_CSR0_RXON);

	/* The 16-bit block: 24-bit ring addresses, the top byte from CSR2's upper byte, 3-bit
	 * lengths; bases aligned to 8 bytes. */
	(void)inw(f, PCNET_WIO_RESET);
	f->style = 0;
	assert_int_equal(rbcr(f, 20), 0x0200);
	write_ib(f, 0, 7, 3, 0x0a1234, 0x0b5678, NULL);
	wcsr(f, 1, IB);
	wcsr(f, 2, 0x1200);
	/* The block itself is at CSR2:CSR1 = 0x12001000, outside RAM: MERR, no IDON. */
	wcsr(f, 0, PCNET_CSR0_INIT);
	assert_int_equal(rcsr(f, 0) & (PCNET_CSR0_MERR | PCNET_CSR0_IDON | PCNET_CSR0_STOP),
			 PCNET_CSR0_MERR | PCNET_CSR0_STOP);
	wcsr(f, 2, 0);
	wcsr(f, 0, PCNET_CSR0_MERR | PCNET_CSR0_INIT);
	assert_true(rcsr(f, 0) & PCNET_CSR0_IDON);
	assert_int_equal(rcsr(f, 76), (uint16_t)-128);
	assert_int_equal(rcsr(f, 78), (uint16_t)-8);
	assert_int_equal(rcsr(f, 24), 0x1230);
	assert_int_equal(rcsr(f, 25), 0x000a);
	assert_int_equal(rcsr(f, 31), 0x000b);
	assert_int_equal(rcsr(f, 14), 0x01cd);
}

/* ------------------------------------------------------------ transmit ------------------------ */

static void test_tx_frame_padded(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	fill(f, TXBUF, 42, 5);
	tx_give(f, 0, TXBUF, 42, PCNET_DESC_STP | PCNET_DESC_ENP);
	unsigned kicks = f->kicks;
	wcsr(f, 0, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->kicks, kicks + 1); /* the vCPU only asks the I/O thread */
	assert_int_equal(f->nframes, 0);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TDMD);
	pcnet_tx_run(&f->p);
	assert_false(rcsr(f, 0) & PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(f->len[0], 60); /* APAD_XMT: padded to 60 with zeros */
	uint8_t want[60] = {0};
	assert_int_equal(gmem_read(&f->g.mem, TXBUF, want, 42), 0);
	assert_memory_equal(f->frame[0], want, 60);
	assert_int_equal(desc_status(f, txd(f, 0)), PCNET_DESC_STP | PCNET_DESC_ENP);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TINT);
	assert_true(rcsr(f, 4) & PCNET_CSR4_TXSTRT);
	assert_true(f->line);
	/* Without APAD_XMT the frame goes as it is. */
	wcsr(f, 4, 0x0115);
	tx_give(f, 1, TXBUF, 42, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 2);
	assert_int_equal(f->len[1], 42);
}

static void test_tx_chained_across_the_ring_end(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	/* Run the ring to index 2, so that a three-buffer frame wraps: 2, 3, 0. */
	for (unsigned i = 0; i < 2; i++)
		tx_give(f, i, TXBUF, 64, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 2);
	fill(f, TXBUF + 0x1000, 700, 9);
	tx_give(f, 3, TXBUF + 0x1000 + 100, 500, 0);
	tx_give(f, 0, TXBUF + 0x1000 + 600, 100, PCNET_DESC_ENP);
	tx_give(f, 2, TXBUF + 0x1000, 100, PCNET_DESC_STP); /* STP last, as drivers do */
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 3);
	assert_int_equal(f->len[2], 700);
	uint8_t want[700];
	assert_int_equal(gmem_read(&f->g.mem, TXBUF + 0x1000, want, 700), 0);
	assert_memory_equal(f->frame[2], want, 700);
	for (unsigned i = 0; i < 4; i++)
		assert_false(desc_status(f, txd(f, i)) & PCNET_DESC_OWN);
	assert_int_equal(rcsr(f, 74), 4 - 1); /* the next descriptor is 1 */
}

/* Bad input: a chain whose next descriptor is not the chip's. Nothing is sent; the last
 * descriptor taken carries ERR with BUFF and UFLO; the transmitter turns off, unless DXSUFLO. */
static void test_tx_chain_without_enp(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 3, 3);
	tx_give(f, 1, TXBUF, 100, 0);
	tx_give(f, 0, TXBUF, 100, PCNET_DESC_STP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 0);
	assert_int_equal(desc_status(f, txd(f, 0)) & (PCNET_DESC_OWN | PCNET_DESC_ERR), 0);
	assert_int_equal(desc_status(f, txd(f, 1)) & (PCNET_DESC_OWN | PCNET_DESC_ERR),
			 PCNET_DESC_ERR);
	assert_int_equal(desc_misc(f, txd(f, 1), false), PCNET_TMD2_BUFF | PCNET_TMD2_UFLO);
	uint16_t c0 = rcsr(f, 0);
	assert_true(c0 & PCNET_CSR0_TINT);
	assert_false(c0 & PCNET_CSR0_TXON);
	tx_give(f, 2, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 0); /* off until restarted */

	/* With DXSUFLO the transmitter carries on with the next frame. */
	wcsr(f, 0, PCNET_CSR0_STOP);
	for (unsigned i = 0; i < 8; i++)
		put_desc(f, txd(f, i), 0, 0, 0, false);
	wcsr(f, 3, PCNET_CSR3_DXSUFLO);
	wcsr(f, 0, PCNET_CSR0_INIT);
	wcsr(f, 0, PCNET_CSR0_STRT);
	tx_give(f, 0, TXBUF, 100, PCNET_DESC_STP);
	tx_give(f, 1, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP); /* a new frame: breaks it */
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(f->len[0], 60);
	assert_true(desc_status(f, txd(f, 0)) & PCNET_DESC_ERR);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TXON);
	/* A chain that runs a whole lap without ENP is bounded and refused the same way. */
	for (unsigned i = 3; i < 8 + 2; i++)
		tx_give(f, i % 8, TXBUF, 10, 0);
	tx_give(f, 2, TXBUF, 10, PCNET_DESC_STP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	for (unsigned i = 0; i < 8; i++)
		assert_false(desc_status(f, txd(f, i)) & PCNET_DESC_OWN);
	assert_true(desc_status(f, txd(f, 1)) & PCNET_DESC_ERR);
	assert_int_equal(pcnet_stats(&f->p).tx_errors, 3);
}

/* Bad input: a frame longer than 1518 bytes is not sent: BABL; 1518 bytes go. */
static void test_tx_frame_too_long(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	tx_give(f, 1, TXBUF + 1000, 519, PCNET_DESC_ENP);
	tx_give(f, 0, TXBUF, 1000, PCNET_DESC_STP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 0);
	uint16_t c0 = rcsr(f, 0);
	assert_int_equal(c0 & (PCNET_CSR0_BABL | PCNET_CSR0_ERR | PCNET_CSR0_TXON),
			 PCNET_CSR0_BABL | PCNET_CSR0_ERR | PCNET_CSR0_TXON);
	assert_true(f->line); /* BABL interrupts unless BABLM */
	assert_false(desc_status(f, txd(f, 0)) & PCNET_DESC_OWN);
	assert_false(desc_status(f, txd(f, 1)) & PCNET_DESC_OWN);
	tx_give(f, 3, TXBUF + 1000, 518, PCNET_DESC_ENP);
	tx_give(f, 2, TXBUF, 1000, PCNET_DESC_STP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(f->len[0], 1518);
}

static void test_tx_without_stp_skipped(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	tx_give(f, 0, TXBUF, 80, PCNET_DESC_ENP);
	tx_give(f, 1, TXBUF, 70, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(f->len[0], 70);
	assert_true(desc_status(f, txd(f, 0)) & PCNET_DESC_OWN); /* skipped, not taken */
}

/* The wire full: frames wait in the ring with TDMD still set, and go on the next run, even
 * with polling disabled. */
static void test_tx_waits_for_room(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	wcsr(f, 4, 0x0915 | PCNET_CSR4_DPOLL);
	for (unsigned i = 0; i < 3; i++)
		tx_give(f, i, TXBUF, 60 + i, PCNET_DESC_STP | PCNET_DESC_ENP);
	f->room = 1;
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	assert_true(desc_status(f, txd(f, 1)) & PCNET_DESC_OWN);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TDMD);
	f->room = -1;
	pcnet_tx_run(&f->p);
	assert_int_equal(f->nframes, 3);
	assert_int_equal(f->len[2], 62);
	/* DPOLL, no demand: a run (a receive's poll) sends nothing. */
	tx_give(f, 3, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tx_run(&f->p);
	assert_int_equal(f->nframes, 3);
	wcsr(f, 4, 0x0915);
	pcnet_tx_run(&f->p);
	assert_int_equal(f->nframes, 4);
}

static void test_tx_interrupt_suppression(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	wcsr(f, 5, PCNET_CSR5_TOKINTD);
	tx_give(f, 0, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	assert_false(rcsr(f, 0) & PCNET_CSR0_TINT);
	wcsr(f, 5, PCNET_CSR5_TOKINTD | PCNET_CSR5_LTINTEN);
	tx_give(f, 1, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP | PCNET_TMD1_LTINT);
	pcnet_tdmd(&f->p);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TINT);
}

/* Bad input: TDMD storms with an empty ring cost a descriptor read each and change nothing. */
static void test_tdmd_storm_empty_ring(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 4, 4);
	uint8_t before[16 * 16];
	assert_int_equal(gmem_read(&f->g.mem, TXR, before, sizeof(before)), 0);
	for (unsigned i = 0; i < 10000; i++) {
		wcsr(f, 0, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
		pcnet_tx_run(&f->p);
		pcnet_tdmd(&f->p);
	}
	assert_int_equal(f->nframes, 0);
	assert_false(rcsr(f, 0) & (PCNET_CSR0_TINT | PCNET_CSR0_ERR | PCNET_CSR0_TDMD));
	assert_int_equal(f->raises, 0);
	uint8_t after[sizeof(before)];
	assert_int_equal(gmem_read(&f->g.mem, TXR, after, sizeof(after)), 0);
	assert_memory_equal(before, after, sizeof(before));
	struct pcnet_stats s = pcnet_stats(&f->p);
	assert_int_equal(s.tx_frames + s.tx_errors + s.merr, 0);
}

/* ------------------------------------------------------------ receive ------------------------- */

static void test_rx_frame_padded_with_fcs(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	uint8_t b[42];
	make_frame(b, sizeof(b), mac, 7);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	/* 60 bytes (zero padded) and the FCS: MCNT 64, as pcnet32 subtracts 4. */
	assert_int_equal(desc_misc(f, rxd(f, 0), true), 64);
	assert_int_equal(desc_status(f, rxd(f, 0)),
			 PCNET_DESC_STP | PCNET_DESC_ENP | PCNET_RMD1_PAM);
	uint8_t got[64], want[60] = {0};
	memcpy(want, b, sizeof(b));
	assert_int_equal(gmem_read(&f->g.mem, RXBUF, got, 64), 0);
	assert_memory_equal(got, want, 60);
	/* The FCS of the padded frame: CRC-32 over it plus its FCS leaves the 802.3 residue. */
	uint32_t c = 0xffffffff;
	for (unsigned i = 0; i < 64; i++) {
		c ^= got[i];
		for (unsigned k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & -(c & 1));
	}
	assert_int_equal(c, 0xdebb20e3);
	assert_true(rcsr(f, 0) & PCNET_CSR0_RINT);
	assert_true(f->line);
	assert_int_equal(rcsr(f, 72), 4 - 1);
}

static void test_rx_chained_across_the_ring_end(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 3, 2);
	uint8_t b[1000];
	make_frame(b, 64, mac, 0);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(pcnet_rx(&f->p, b, 64), PCNET_RX_DELIVERED);
	/* Small buffers from 6 on: a 1000-byte frame (1004 with FCS) takes 6, 7, 0, 1. */
	for (unsigned i = 0; i < 8; i++)
		rx_give(f, i, 256);
	make_frame(b, sizeof(b), mac, 2);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	assert_int_equal(desc_status(f, rxd(f, 6)) & 0xff000000u, PCNET_DESC_STP);
	assert_int_equal(desc_status(f, rxd(f, 7)) & 0xff000000u, 0);
	assert_int_equal(desc_status(f, rxd(f, 0)) & 0xff000000u, 0);
	assert_int_equal(desc_status(f, rxd(f, 1)) & 0xff000000u, PCNET_DESC_ENP);
	assert_int_equal(desc_misc(f, rxd(f, 1), true), 1004);
	assert_true(desc_status(f, rxd(f, 2)) & PCNET_DESC_OWN);
	uint8_t got[256];
	for (unsigned k = 0; k < 4; k++) {
		unsigned i = (6 + k) % 8, n = k < 3 ? 256 : 1004 - 3 * 256;
		assert_int_equal(gmem_read(&f->g.mem, RXBUF + i * BUFSZ, got, n), 0);
		assert_memory_equal(got, b + 256 * k, k < 3 ? n : n - 4);
	}
}

/* A full ring: the frame is missed, counted in CSR112 (MFCO when it wraps), RAM untouched. */
static void test_rx_ring_full_missed(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 1, 1);
	uint8_t b[60];
	make_frame(b, sizeof(b), mac, 4);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	wcsr(f, 0, PCNET_CSR0_INEA | PCNET_CSR0_RINT);
	assert_false(f->line);
	uint8_t before[2 * BUFSZ], after[2 * BUFSZ];
	assert_int_equal(gmem_read(&f->g.mem, RXBUF, before, sizeof(before)), 0);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_MISSED);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_MISSED);
	assert_int_equal(rcsr(f, 112), 2);
	assert_true(rcsr(f, 0) & PCNET_CSR0_MISS);
	assert_true(f->line);
	assert_int_equal(gmem_read(&f->g.mem, RXBUF, after, sizeof(after)), 0);
	assert_memory_equal(before, after, sizeof(before));
	/* Given back, the ring takes frames again where it stopped. */
	rx_give(f, 0, BUFSZ);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	/* The counter wraps into MFCO, masked by default (MFCOM). */
	wcsr(f, 0, PCNET_CSR0_STOP);
	wcsr(f, 112, 0xffff);
	wcsr(f, 0, PCNET_CSR0_INIT);
	wcsr(f, 0, PCNET_CSR0_STRT);
	for (unsigned i = 0; i < 2; i++)
		put_desc(f, rxd(f, i), 0, 0, 0, true);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_MISSED);
	assert_int_equal(rcsr(f, 112), 0);
	assert_true(rcsr(f, 4) & PCNET_CSR4_MFCO);
	assert_int_equal(pcnet_stats(&f->p).rx_missed, 3);
}

/* The ring runs out in the middle of a frame: BUFF and ERR on the last buffer, no ENP. */
static void test_rx_out_of_buffers_mid_frame(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	rx_give(f, 0, 128);
	rx_give(f, 1, 128);
	put_desc(f, rxd(f, 2), RXBUF, bcnt(128), 0, true);
	uint8_t b[600];
	make_frame(b, sizeof(b), mac, 5);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_BUFF);
	assert_int_equal(desc_status(f, rxd(f, 0)) & 0xff000000u, PCNET_DESC_STP);
	assert_int_equal(desc_status(f, rxd(f, 1)) & 0xff000000u, PCNET_DESC_ERR | PCNET_RMD1_BUFF);
	assert_true(rcsr(f, 0) & PCNET_CSR0_RINT);
	assert_int_equal(rcsr(f, 72), 4 - 2);
}

static void test_rx_address_filter(void **state)
{
	struct fx *f = *state;
	uint8_t b[60];
	static const uint8_t other[6] = {0x52, 0x54, 0, 0xab, 0xcd, 0x02},
			     bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			     mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	/* The filter bit of 01:00:5e:00:00:01, as pcnet32 computes it (ether_crc_le >> 26). */
	uint32_t c = 0xffffffff;
	for (unsigned i = 0; i < 6; i++) {
		c ^= mcast[i];
		for (unsigned k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & -(c & 1));
	}
	unsigned h = c >> 26;
	uint8_t ladrf[8] = {0};
	ladrf[h / 8] = (uint8_t)(1u << (h % 8));
	bring_up(f, 2, 3, 2);
	make_frame(b, sizeof(b), other, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_FILTERED);
	make_frame(b, sizeof(b), bcast, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	assert_true(desc_status(f, rxd(f, 0)) & PCNET_RMD1_BAM);
	make_frame(b, sizeof(b), mcast, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_FILTERED);
	/* With the filter bit, DRCVBC and PROM in a new initialization block. */
	wcsr(f, 0, PCNET_CSR0_STOP);
	write_ib(f, PCNET_MODE_DRCVBC, 3, 2, RXR, TXR, ladrf);
	wcsr(f, 0, PCNET_CSR0_INIT);
	wcsr(f, 0, PCNET_CSR0_STRT);
	rx_give(f, 0, BUFSZ);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	assert_int_equal(desc_status(f, rxd(f, 0)) & RMD1_MATCH, PCNET_RMD1_LAFM);
	make_frame(b, sizeof(b), bcast, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_FILTERED); /* its bit is clear */
	wcsr(f, 0, PCNET_CSR0_STOP);
	write_ib(f, PCNET_MODE_PROM, 3, 2, RXR, TXR, NULL);
	wcsr(f, 0, PCNET_CSR0_INIT);
	wcsr(f, 0, PCNET_CSR0_STRT);
	rx_give(f, 0, BUFSZ);
	make_frame(b, sizeof(b), other, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	assert_int_equal(desc_status(f, rxd(f, 0)) & RMD1_MATCH, 0);
	/* Receiver off (STOP), a frame too long: dropped, the ring untouched. */
	static uint8_t big[PCNET_MAX_FRAME + 1];
	make_frame(big, sizeof(big), mac, 1);
	assert_int_equal(pcnet_rx(&f->p, big, sizeof(big)), PCNET_RX_TOO_LONG);
	wcsr(f, 0, PCNET_CSR0_STOP);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_OFF);
}

/* ------------------------------------------------------------ other software styles ---------- */

/* A frame each way in SWSTYLE 3 (words 0 and 2 swapped) and 0 (16-bit structures). */
static void round_trip(struct fx *f, unsigned style)
{
	bring_up(f, style, 2, 2);
	fill(f, TXBUF, 200, 3);
	tx_give(f, 1, TXBUF + 50, 150, PCNET_DESC_ENP);
	tx_give(f, 0, TXBUF, 50, PCNET_DESC_STP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(f->len[0], 200);
	uint8_t want[200];
	assert_int_equal(gmem_read(&f->g.mem, TXBUF, want, 200), 0);
	assert_memory_equal(f->frame[0], want, 200);
	assert_false(desc_status(f, txd(f, 0)) & PCNET_DESC_OWN);
	assert_true(desc_status(f, txd(f, 0)) & PCNET_DESC_STP);
	uint8_t b[300];
	make_frame(b, sizeof(b), mac, 8);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_DELIVERED);
	assert_int_equal(desc_misc(f, rxd(f, 0), true), 304);
	uint32_t st = desc_status(f, rxd(f, 0)) & 0xff000000u;
	assert_int_equal(st, PCNET_DESC_STP | PCNET_DESC_ENP);
	uint8_t got[300];
	assert_int_equal(gmem_read(&f->g.mem, RXBUF, got, 300), 0);
	assert_memory_equal(got, b, 300);
}

static void test_swstyle3(void **state)
{
	round_trip(*state, 3);
}

static void test_swstyle0(void **state)
{
	struct fx *f = *state;
	round_trip(f, 0);
	/* Unsupported styles (ILACC, reserved) fall back to 0. */
	wcsr(f, 0, PCNET_CSR0_STOP);
	wcsr(f, 58, 1);
	assert_int_equal(rbcr(f, 20), 0x0200);
	wcsr(f, 58, 4);
	assert_int_equal(rcsr(f, 58), 0x0200);
}

/* ------------------------------------------------------------ memory errors --------------------
 */

/* Bad input: the initialization block outside RAM, and DMA with bus mastering off. */
static void test_init_block_outside_ram(void **state)
{
	struct fx *f = *state;
	wbcr(f, PCNET_BCR_SWS, 2);
	wcsr(f, 1, 0xfff0);
	wcsr(f, 2, (uint16_t)(OUTSIDE >> 16));
	wcsr(f, 0, PCNET_CSR0_INEA | PCNET_CSR0_INIT | PCNET_CSR0_STRT);
	uint16_t c0 = rcsr(f, 0);
	assert_int_equal(c0 & (PCNET_CSR0_MERR | PCNET_CSR0_ERR | PCNET_CSR0_IDON |
			       PCNET_CSR0_INIT | PCNET_CSR0_STRT | PCNET_CSR0_STOP),
			 PCNET_CSR0_MERR | PCNET_CSR0_ERR | PCNET_CSR0_STOP);
	assert_true(f->line);
	/* Straddling the end of RAM is outside too. */
	wcsr(f, 0, PCNET_CSR0_MERR);
	wcsr(f, 1, (uint16_t)(RAM_SIZE - 8));
	wcsr(f, 2, (uint16_t)((RAM_SIZE - 8) >> 16));
	wcsr(f, 0, PCNET_CSR0_INIT);
	assert_true(rcsr(f, 0) & PCNET_CSR0_MERR);
	/* Inside RAM but without bus mastering: the chip cannot reach memory. */
	wcsr(f, 0, PCNET_CSR0_MERR);
	write_ib(f, 0, 2, 2, RXR, TXR, NULL);
	wcsr(f, 1, IB);
	wcsr(f, 2, 0);
	pcnet_set_bus_master(&f->p, false);
	wcsr(f, 0, PCNET_CSR0_INIT);
	assert_int_equal(rcsr(f, 0) & (PCNET_CSR0_MERR | PCNET_CSR0_IDON), PCNET_CSR0_MERR);
	pcnet_set_bus_master(&f->p, true);
	wcsr(f, 0, PCNET_CSR0_MERR | PCNET_CSR0_INIT);
	assert_int_equal(rcsr(f, 0) & (PCNET_CSR0_MERR | PCNET_CSR0_IDON), PCNET_CSR0_IDON);
	assert_int_equal(pcnet_stats(&f->p).merr, 3);
}

/* Bad input: rings and buffers outside RAM stop the unit that meets them with MERR. */
static void test_rings_outside_ram(void **state)
{
	struct fx *f = *state;
	f->style = 2;
	wbcr(f, PCNET_BCR_SWS, 2);
	write_ib(f, 0, 2, 2, OUTSIDE, RAM_SIZE - 16 * 2, NULL); /* TX ring: 2 of 4 inside */
	wcsr(f, 1, IB);
	wcsr(f, 0, PCNET_CSR0_INIT);
	wcsr(f, 0, PCNET_CSR0_STRT | PCNET_CSR0_INEA);
	uint8_t b[60];
	make_frame(b, sizeof(b), mac, 1);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_MERR);
	uint16_t c0 = rcsr(f, 0);
	assert_int_equal(c0 & (PCNET_CSR0_MERR | PCNET_CSR0_RXON | PCNET_CSR0_TXON),
			 PCNET_CSR0_MERR | PCNET_CSR0_TXON);
	assert_true(f->line);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_OFF);
	/* The transmit ring's first two descriptors are in RAM, the rest outside: a frame that
	 * chains from 1 into 2 meets the end of RAM. */
	uint64_t t = RAM_SIZE - 32;
	put_desc(f, t, TXBUF, PCNET_DESC_OWN | PCNET_DESC_STP | PCNET_DESC_ENP | bcnt(60), 0,
		 false);
	put_desc(f, t + 16, TXBUF, PCNET_DESC_OWN | PCNET_DESC_STP | bcnt(60), 0, false);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	c0 = rcsr(f, 0);
	assert_false(c0 & PCNET_CSR0_TXON);
	assert_true(get32(f, t + 16 + 4) & PCNET_DESC_OWN); /* the broken frame stays put */
	assert_int_equal(pcnet_stats(&f->p).merr, 2);
	/* Buffers outside RAM: the descriptors in RAM, their buffers not. */
	bring_up(f, 2, 2, 2);
	put_desc(f, rxd(f, 0), OUTSIDE - 30, PCNET_DESC_OWN | bcnt(BUFSZ), 0, true);
	assert_int_equal(pcnet_rx(&f->p, b, sizeof(b)), PCNET_RX_MERR);
	assert_true(get32(f, rxd(f, 0) + 4) & PCNET_DESC_OWN);
	tx_give(f, 0, OUTSIDE - 30, 60, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(rcsr(f, 0) & (PCNET_CSR0_MERR | PCNET_CSR0_TXON | PCNET_CSR0_RXON),
			 PCNET_CSR0_MERR);
}

/* Bad input: rings whose descriptors past the driver's are garbage. Random words in every
 * descriptor, random frames and TDMDs: the chip never touches memory outside RAM (ASan
 * watches), never sends more than a frame's worth, and each run stays within one lap. */
static void test_ring_wraps_into_garbage(void **state)
{
	struct fx *f = *state;
	uint64_t seed = 0x243f6a8885a308d3ull;
	for (unsigned style = 0; style <= 3; style++) {
		if (style == 1)
			continue;
		bring_up(f, style, 4, 4);
		f->nframes = 0;
		for (unsigned round = 0; round < 200; round++) {
			/* Four good descriptors, then twelve of garbage: some own, some chain,
			 * with addresses anywhere in 32 bits. */
			for (unsigned i = 0; i < 16; i++) {
				for (unsigned w = 0; w < dsize(f) / 4; w++) {
					seed = seed * 6364136223846793005ull +
					       1442695040888963407ull;
					uint32_t x = (uint32_t)(seed >> 32);
					if (seed & 1) /* half inside RAM, half anywhere */
						x &= RAM_SIZE - 1;
					put32(f, rxd(f, i) + 4 * w, x);
					put32(f, txd(f, i) + 4 * w, x ^ 0x5a5a5a5a);
				}
			}
			for (unsigned i = 0; i < 4; i++) {
				rx_give(f, i, 256);
				tx_give(f, i, TXBUF, 64, PCNET_DESC_STP | PCNET_DESC_ENP);
			}
			uint8_t b[1200];
			make_frame(b, sizeof(b), mac, (uint8_t)round);
			(void)pcnet_rx(&f->p, b, 60 + round * 5 % 1100);
			pcnet_tdmd(&f->p);
			f->nframes = 0;
			if (!(rcsr(f, 0) & PCNET_CSR0_RXON) || !(rcsr(f, 0) & PCNET_CSR0_TXON)) {
				wcsr(f, 0, PCNET_CSR0_STOP); /* what a driver does after MERR */
				wcsr(f, 0, PCNET_CSR0_INIT);
				wcsr(f, 0, PCNET_CSR0_STRT | PCNET_CSR0_INEA);
			}
		}
	}
	struct pcnet_stats s = pcnet_stats(&f->p);
	assert_true(s.merr > 0);      /* garbage addresses outside RAM were met */
	assert_true(s.tx_frames > 0); /* and the good descriptors still went out */
	assert_true(s.rx_frames > 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_values_and_identity),
		T(test_word_and_dword_io),
		T(test_csr0_commands_and_flags),
		T(test_interrupt_line_is_intr_and_inea),
		T(test_init_block_32_and_16),
		T(test_tx_frame_padded),
		T(test_tx_chained_across_the_ring_end),
		T(test_tx_chain_without_enp),
		T(test_tx_frame_too_long),
		T(test_tx_without_stp_skipped),
		T(test_tx_waits_for_room),
		T(test_tx_interrupt_suppression),
		T(test_tdmd_storm_empty_ring),
		T(test_rx_frame_padded_with_fcs),
		T(test_rx_chained_across_the_ring_end),
		T(test_rx_ring_full_missed),
		T(test_rx_out_of_buffers_mid_frame),
		T(test_rx_address_filter),
		T(test_swstyle3),
		T(test_swstyle0),
		T(test_init_block_outside_ram),
		T(test_rings_outside_ram),
		T(test_ring_wraps_into_garbage),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
