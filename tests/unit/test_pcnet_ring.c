/* SPDX-License-Identifier: MIT */
/*
 * The PCnet buffer management unit (monitor/dev/pcnet_ring.c) against the Am79C970A datasheet,
 * with fake guest RAM and a fake wire: the rings in SWSTYLE 2, 3 and 0, single and chained
 * frames both ways, ring wrap, transmit padding, the receive FCS and message count, address
 * filtering, missed frames, interrupt suppression, a full wire.
 *
 * And the ring bad input of issue 9, each ending with the error the datasheet gives and
 * nothing touched outside guest RAM (the sanitizer build runs this file too): rings and
 * buffers outside RAM, a ring that wraps into garbage, a frame longer than 1518 bytes, a chain
 * without ENP, TDMD storms on an empty ring.
 */
#include "fake_pcnet.h"

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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 2);
	fill(f, TXBUF + 0x1000, 700, 9);
	tx_give(f, 3, TXBUF + 0x1000 + 100, 500, 0);
	tx_give(f, 0, TXBUF + 0x1000 + 600, 100, PCNET_DESC_ENP);
	tx_give(f, 2, TXBUF + 0x1000, 100, PCNET_DESC_STP); /* STP last, as drivers do */
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 0);
	assert_int_equal(desc_status(f, txd(f, 0)) & (PCNET_DESC_OWN | PCNET_DESC_ERR), 0);
	assert_int_equal(desc_status(f, txd(f, 1)) & (PCNET_DESC_OWN | PCNET_DESC_ERR),
			 PCNET_DESC_ERR);
	assert_int_equal(desc_misc(f, txd(f, 1), false), PCNET_TMD2_BUFF | PCNET_TMD2_UFLO);
	uint16_t c0 = rcsr(f, 0);
	assert_true(c0 & PCNET_CSR0_TINT);
	assert_false(c0 & PCNET_CSR0_TXON);
	tx_give(f, 2, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(f->len[0], 60);
	assert_true(desc_status(f, txd(f, 0)) & PCNET_DESC_ERR);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TXON);
	/* A chain that runs a whole lap without ENP is bounded and refused the same way. */
	for (unsigned i = 3; i < 8 + 2; i++)
		tx_give(f, i % 8, TXBUF, 10, 0);
	tx_give(f, 2, TXBUF, 10, PCNET_DESC_STP);
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 0);
	uint16_t c0 = rcsr(f, 0);
	assert_int_equal(c0 & (PCNET_CSR0_BABL | PCNET_CSR0_ERR | PCNET_CSR0_TXON),
			 PCNET_CSR0_BABL | PCNET_CSR0_ERR | PCNET_CSR0_TXON);
	assert_true(f->line); /* BABL interrupts unless BABLM */
	assert_false(desc_status(f, txd(f, 0)) & PCNET_DESC_OWN);
	assert_false(desc_status(f, txd(f, 1)) & PCNET_DESC_OWN);
	tx_give(f, 3, TXBUF + 1000, 518, PCNET_DESC_ENP);
	tx_give(f, 2, TXBUF, 1000, PCNET_DESC_STP);
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(f->len[0], 1518);
}

static void test_tx_without_stp_skipped(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 2, 2);
	tx_give(f, 0, TXBUF, 80, PCNET_DESC_ENP);
	tx_give(f, 1, TXBUF, 70, PCNET_DESC_STP | PCNET_DESC_ENP);
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 1);
	assert_false(rcsr(f, 0) & PCNET_CSR0_TINT);
	wcsr(f, 5, PCNET_CSR5_TOKINTD | PCNET_CSR5_LTINTEN);
	tx_give(f, 1, TXBUF, 60, PCNET_DESC_STP | PCNET_DESC_ENP | PCNET_TMD1_LTINT);
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_true(rcsr(f, 0) & PCNET_CSR0_TINT);
}

/* Bad input: TDMD storms with an empty ring cost a descriptor read each and change nothing. */
static void test_tdmd_storm_empty_ring(void **state)
{
	struct fx *f = *state;
	bring_up(f, 2, 4, 4);
	uint8_t before[16 * 16];
	assert_int_equal(gmem_read(&f->g.mem, TXR, before, sizeof(before)), 0);
	wcsr(f, 0, 0);
	/* The I/O thread's TDMD is the whole CSR0 write: INEA comes back with it. */
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_true(rcsr(f, 0) & PCNET_CSR0_INEA);
	for (unsigned i = 0; i < 10000; i++) {
		wcsr(f, 0, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
		pcnet_tx_run(&f->p);
		pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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

/* ------------------------------------------------------------ memory errors ----------------- */

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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
	pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
	assert_int_equal(f->nframes, 1);
	assert_int_equal(rcsr(f, 0) & (PCNET_CSR0_MERR | PCNET_CSR0_TXON | PCNET_CSR0_RXON),
			 PCNET_CSR0_MERR);
}

/* Bad input: rings whose descriptors past the driver's are garbage. Random words in every
 * descriptor (addresses anywhere, in RAM, or at its very end), random frames and TDMDs: the
 * chip never touches memory outside RAM (ASan watches), never sends more than a frame's worth,
 * and each run stays within one lap. */
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
					/* Anywhere (mostly outside RAM), inside RAM, or in the
					 * last 4 KiB of RAM, so buffers straddle its end. */
					if (seed % 3 == 1)
						x &= RAM_SIZE - 1;
					else if (seed % 3 == 2)
						x = RAM_SIZE - 1 - (x & 0xfff);
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
			pcnet_tdmd(&f->p, PCNET_CSR0_INEA | PCNET_CSR0_TDMD);
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
		T(test_rings_outside_ram),
		T(test_ring_wraps_into_garbage),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
