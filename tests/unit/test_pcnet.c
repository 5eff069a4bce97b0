/* SPDX-License-Identifier: MIT */
/*
 * The PCnet-PCI II register core (monitor/dev/pcnet.c) against the Am79C970A datasheet, driven
 * through its I/O BAR as a driver does (RAP, then RDP or BDP): reset values and chip ID, the
 * address PROM, word and dword I/O, CSR0's command and write-one-to-clear bits, the interrupt
 * line (INTR && INEA, masks), the initialization block in both sizes, and, from issue 9's bad
 * input, an initialization block outside RAM or read with bus mastering off (MERR). The rings
 * are test_pcnet_ring.c's.
 */
#include "fake_pcnet.h"

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

/* ------------------------------------------------------------ memory errors ----------------- */

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

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_values_and_identity), T(test_word_and_dword_io),
		T(test_csr0_commands_and_flags),   T(test_interrupt_line_is_intr_and_inea),
		T(test_init_block_32_and_16),	   T(test_init_block_outside_ram),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
