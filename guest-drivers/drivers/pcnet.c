// SPDX-License-Identifier: MIT
/*
 * The PCnet driver. Ownership of a descriptor passes with its OWN bit: the driver writes every
 * other field first and OWN last, with a release store, and reads OWN with an acquire load
 * before the rest; the chip does the reverse. A port write to CSR0 (TDMD, INIT) comes after the
 * memory it points the chip at (g_io_barrier: x86 keeps the order, the compiler must too).
 *
 * Interrupts: INTA is programmed edge-triggered (runtime/platform.h) and the chip holds it while
 * CSR0 has an enabled status bit set and INEA. The service loops until a read of CSR0 shows
 * none of RINT, TINT or ERR, then sets INEA again with a write that clears the rest. Every
 * service drops INEA before that last write, so that INTA goes low in it: an event the chip
 * flags after the service's last read of CSR0 then raises INTA again at the last write, an
 * edge. Were INTA high throughout (the service for IDON, or for an interrupt whose events an
 * earlier service took), such an event would leave it high with no edge, and the driver would
 * wait for an interrupt that never comes. A service runs for every interrupt counted since the
 * last one, before the driver looks at the rings and sleeps.
 */
#include <linux/pci_regs.h>

#include "barrier.h"
#include "drivers/pcnet.h"
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "runtime/mem.h"
#include "runtime/platform.h"

#define PCNET_VENDOR 0x1022
#define PCNET_DEVICE 0x2000
/* Word I/O register offsets (data sheet, "I/O resources"). */
#define PCNET_APROM 0x00
#define PCNET_RDP   0x10
#define PCNET_RAP   0x12
#define PCNET_RESET 0x14
#define PCNET_BDP   0x16
/* CSR0 */
#define CSR0_INIT    0x0001
#define CSR0_STRT    0x0002
#define CSR0_STOP    0x0004
#define CSR0_TDMD    0x0008
#define CSR0_INEA    0x0040
#define CSR0_IDON    0x0100
#define CSR0_TINT    0x0200
#define CSR0_RINT    0x0400
#define CSR0_MERR    0x0800
#define CSR0_MISS    0x1000
#define CSR0_CERR    0x2000
#define CSR0_BABL    0x4000
#define CSR0_ERR     0x8000
#define CSR0_CONTROL (CSR0_INIT | CSR0_STRT | CSR0_STOP | CSR0_TDMD | CSR0_INEA)
#define CSR0_EVENTS  (CSR0_ERR | CSR0_RINT | CSR0_TINT) /* what the service loops on */
#define CSR0_OTHERS  (CSR0_BABL | CSR0_CERR | CSR0_MISS | CSR0_MERR | CSR0_IDON)
#define CSR_IADR_LO  1
#define CSR_IADR_HI  2
/* CSR4 as pcnet32 writes it: transmit auto-pad (APAD_XMT), and the jabber, transmit-start,
 * collision- and missed-frame-counter interrupts masked. */
#define CSR4	    4
#define CSR4_VALUE  0x0915
#define CSR_SWSTYLE 58
#define CSR_CHIP_LO 88
#define CSR_CHIP_HI 89
#define BCR_SWSTYLE 20
#define SWSTYLE_2   2 /* PCnet-PCI: 32-bit structures */
/* Descriptor status */
#define DESC_OWN	0x8000
#define DESC_ERR	0x4000
#define DESC_STP	0x0200
#define DESC_ENP	0x0100
#define ETH_HDR		14
#define ETH_FCS		4
#define ETH_ZLEN	60
#define PROM_SIG	0x57 /* 'W', bytes 14 and 15 of the address PROM */
#define CHIP_PCNET_MASK 0xfff
#define CHIP_PCNET	0x003
#define INIT_TIMEOUT_US 1000000
#define POLL_US		20
#define SERVICE_ROUNDS	2 /* CSR0 rounds per service, pcnet32's max_interrupt_work */
#define NRX		(1u << G_PCNET_RX_LOG2)
#define NTX		(1u << G_PCNET_TX_LOG2)

_Static_assert(sizeof(struct g_pcnet_rxd) == 16, "SWSTYLE 2 receive descriptor");
_Static_assert(sizeof(struct g_pcnet_txd) == 16, "SWSTYLE 2 transmit descriptor");
_Static_assert(sizeof(struct g_pcnet_init) == 28, "SSIZE32 initialization block");

/* Register access in word I/O mode, each I/O instruction counted. */
static uint16_t rd_rap(struct g_pcnet *n)
{
	n->io++;
	return g_inw(n->port + PCNET_RAP);
}

static void wr_rap(struct g_pcnet *n, uint16_t v)
{
	n->io++;
	g_outw(n->port + PCNET_RAP, v);
}

static uint16_t rd_csr(struct g_pcnet *n, uint16_t idx)
{
	wr_rap(n, idx);
	n->io++;
	return g_inw(n->port + PCNET_RDP);
}

static void wr_csr(struct g_pcnet *n, uint16_t idx, uint16_t v)
{
	wr_rap(n, idx);
	n->io++;
	g_outw(n->port + PCNET_RDP, v);
}

static void wr_bcr(struct g_pcnet *n, uint16_t idx, uint16_t v)
{
	wr_rap(n, idx);
	n->io++;
	g_outw(n->port + PCNET_BDP, v);
}

static uint16_t inea(const struct g_pcnet *n)
{
	return n->poll ? 0 : CSR0_INEA;
}

static void arm_rx(struct g_pcnet *n, unsigned int i)
{
	struct g_pcnet_rxd *d = &n->rx[i];

	d->base = (uint32_t)g_mem_phys(n->rxbuf + (size_t)i * G_PCNET_BUF);
	d->buf_length = (uint16_t)-G_PCNET_BUF;
	d->msg_length = 0;
	/* The buffer's fields are in place before the chip may own it (pairs with its read of
	 * OWN). */
	vq_store_release(&d->status, (uint16_t)DESC_OWN);
}

/* Takes back the transmit descriptors the chip is done with. */
static void reap_tx(struct g_pcnet *n)
{
	while (n->dirty_tx != n->cur_tx) {
		/* OWN before the rest (pairs with the chip's clearing it last). */
		uint16_t st = vq_load_acquire(&n->tx[n->dirty_tx % NTX].status);

		if (st & DESC_OWN)
			break;
		if (st & DESC_ERR)
			n->tx_errors++;
		n->dirty_tx++;
	}
}

/* The interrupt service (see the top of the file). */
static void service(struct g_pcnet *n)
{
	uint64_t io0 = n->io;
	uint16_t rap = rd_rap(n), csr0, seen = 0;

	for (int round = 0; round < SERVICE_ROUNDS && ((csr0 = rd_csr(n, 0)) & CSR0_EVENTS);
	     round++) {
		/* Writing the status bits back clears them; INEA stays off until the end. */
		wr_csr(n, 0, csr0 & ~CSR0_CONTROL);
		seen |= csr0;
		if (csr0 & CSR0_MISS)
			n->missed++;
		reap_tx(n);
	}
	/* No event showed, so nothing above dropped INEA: drop it now (see the top of the file). */
	if (!seen && !n->poll)
		wr_csr(n, 0, csr0 & ~CSR0_CONTROL);
	wr_csr(n, 0, CSR0_OTHERS | inea(n));
	wr_rap(n, rap);
	n->services++;
	if (seen & CSR0_RINT)
		n->io_rx += n->io - io0;
	else if (seen & CSR0_TINT)
		n->io_tx += n->io - io0;
}

/* The status of the next receive descriptor; the rest of it may be read once OWN is clear
 * (acquire: pairs with the chip clearing OWN last). */
static uint16_t rx_status(struct g_pcnet *n)
{
	return vq_load_acquire(&n->rx[n->cur_rx % NRX].status);
}

static bool rx_ready(struct g_pcnet *n)
{
	return !(rx_status(n) & DESC_OWN);
}

void *g_pcnet_recv(struct g_pcnet *n, uint8_t **frame, uint32_t *len)
{
	uint16_t st;

	while (!((st = rx_status(n)) & DESC_OWN)) {
		unsigned int i = n->cur_rx++ % NRX;
		uint8_t *buf = n->rxbuf + (size_t)i * G_PCNET_BUF;
		uint32_t mcnt = n->rx[i].msg_length & 0xfff;

		/* One buffer per frame, no error, room for a header and the FCS: anything else
		 * goes straight back. */
		if ((st & (DESC_ERR | DESC_STP | DESC_ENP)) != (DESC_STP | DESC_ENP) ||
		    mcnt < ETH_HDR + ETH_FCS || mcnt > G_PCNET_BUF) {
			n->rx_bad++;
			arm_rx(n, i);
			continue;
		}
		n->rx_frames++;
		*frame = buf;
		*len = mcnt - ETH_FCS;
		return buf;
	}
	return NULL;
}

void g_pcnet_recv_done(struct g_pcnet *n, void *buf)
{
	arm_rx(n, (unsigned int)(((uint8_t *)buf - n->rxbuf) / G_PCNET_BUF));
}

int g_pcnet_send(struct g_pcnet *n, const void *frame, uint32_t len)
{
	uint64_t io0 = n->io;
	struct g_pcnet_txd *d;
	uint8_t *buf;

	if (len > G_PCNET_FRAME_MAX)
		return -EINVAL;
	reap_tx(n); /* polled there are no interrupts to do it */
	if (n->cur_tx - n->dirty_tx == NTX)
		return -ENOSPC;
	d = &n->tx[n->cur_tx % NTX];
	buf = n->txbuf + (size_t)(n->cur_tx % NTX) * G_PCNET_BUF;
	memcpy(buf, frame, len);
	if (len < ETH_ZLEN) {
		memset(buf + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	d->base = (uint32_t)g_mem_phys(buf);
	d->length = (uint16_t)-len;
	d->misc = 0;
	/* The frame and the fields are in place before the chip owns the descriptor. */
	vq_store_release(&d->status, (uint16_t)(DESC_OWN | DESC_STP | DESC_ENP));
	n->cur_tx++;
	n->tx_frames++;
	g_io_barrier();
	wr_csr(n, 0, inea(n) | CSR0_TDMD);
	n->io_send += n->io - io0;
	return 0;
}

static bool tx_room(const struct g_pcnet *n)
{
	return n->cur_tx - n->dirty_tx < NTX;
}

/* One look at CSR0 without interrupts, counted as polling I/O. */
static void poll_once(struct g_pcnet *n)
{
	uint64_t io0 = n->io;
	uint16_t csr0 = rd_csr(n, 0);

	n->io_poll += n->io - io0;
	if (csr0 & (CSR0_EVENTS | CSR0_OTHERS))
		service(n);
	else
		g_udelay(POLL_US);
}

int g_pcnet_wait(struct g_pcnet *n, uint64_t deadline)
{
	uint64_t mark, now;
	int rc;

	if (n->poll) {
		if (rx_ready(n))
			return 0;
		if (g_tsc_passed(deadline))
			return -ETIMEDOUT;
		poll_once(n);
		return 0;
	}
	/* An interrupt that came while the program was busy is serviced now, before the rings
	 * are looked at and the CPU sleeps. */
	mark = g_irq_count(n->vector);
	if (mark != n->irq_acked) {
		service(n);
		n->irq_acked = mark;
	}
	if (rx_ready(n))
		return 0;
	now = g_rdtsc();
	if ((int64_t)(deadline - now) <= 0)
		return -ETIMEDOUT;
	rc = g_irq_wait(n->vector, mark, g_tsc_to_us(deadline - now) + 1);
	if (rc)
		return rc;
	n->irq_acked = g_irq_count(n->vector);
	service(n);
	return 0;
}

int g_pcnet_tx_wait(struct g_pcnet *n, uint64_t deadline)
{
	for (;;) {
		uint64_t mark = 0, now;
		int rc;

		if (!n->poll) {
			mark = g_irq_count(n->vector);
			if (mark != n->irq_acked) {
				service(n);
				n->irq_acked = mark;
			}
		}
		reap_tx(n);
		if (tx_room(n))
			return 0;
		now = g_rdtsc();
		if ((int64_t)(deadline - now) <= 0)
			return -ETIMEDOUT;
		if (n->poll) {
			poll_once(n);
			continue;
		}
		rc = g_irq_wait(n->vector, mark, g_tsc_to_us(deadline - now) + 1);
		if (rc)
			return rc;
	}
}

uint64_t g_pcnet_irq_count(const struct g_pcnet *n)
{
	return n->poll ? 0 : g_irq_count(n->vector);
}

void g_pcnet_stop(struct g_pcnet *n)
{
	wr_csr(n, 0, CSR0_STOP);
}

static int find(struct g_pcnet *n)
{
	struct g_pci_scan scan;

	g_pci_scan_start(&scan);
	while (!g_pci_scan_next(&scan, &n->pci)) {
		if (n->pci.vendor != PCNET_VENDOR || n->pci.device != PCNET_DEVICE)
			continue;
		if (!n->pci.bar[0].io || !n->pci.bar[0].addr) {
			n->why = "BAR0 is not an assigned I/O BAR";
			return -ENODEV;
		}
		n->port = (uint16_t)n->pci.bar[0].addr;
		g_pci_command(&n->pci, PCI_COMMAND_IO | PCI_COMMAND_MASTER, true);
		g_snprintf(n->where, sizeof(n->where), "pci %02x:%02x.%x io 0x%x", n->pci.bus,
			   n->pci.dev, n->pci.fn, n->port);
		return 0;
	}
	n->why = "no AMD PCnet (1022:2000) on PCI";
	return -ENODEV;
}

/* Reset, then what pcnet32's probe checks: CSR0 reads STOP, RAP holds what was written, the
 * chip ID says PCnet, the PROM carries its signature; then SWSTYLE 2. */
static int identify(struct g_pcnet *n)
{
	g_inw(n->port + PCNET_RESET);
	n->io++;
	if (rd_csr(n, 0) != CSR0_STOP) {
		n->why = "CSR0 does not read STOP after the reset (word I/O mode)";
		return -ENODEV;
	}
	wr_rap(n, CSR_CHIP_LO);
	if (rd_rap(n) != CSR_CHIP_LO) {
		n->why = "RAP does not read back what was written";
		return -ENODEV;
	}
	n->chip = rd_csr(n, CSR_CHIP_LO) | (uint32_t)rd_csr(n, CSR_CHIP_HI) << 16;
	if ((n->chip & CHIP_PCNET_MASK) != CHIP_PCNET) {
		n->why = "CSR88 is not a PCnet chip ID";
		return -ENODEV;
	}
	for (unsigned int i = 0; i < sizeof(n->mac); i++)
		n->mac[i] = g_inb(n->port + PCNET_APROM + i);
	n->io += sizeof(n->mac) + 2;
	if (g_inb(n->port + PCNET_APROM + 14) != PROM_SIG ||
	    g_inb(n->port + PCNET_APROM + 15) != PROM_SIG) {
		n->why = "the address PROM lacks its signature (\"WW\" in bytes 14-15)";
		return -ENODEV;
	}
	wr_bcr(n, BCR_SWSTYLE, SWSTYLE_2);
	if ((rd_csr(n, CSR_SWSTYLE) & 0xff) != SWSTYLE_2) {
		n->why = "software style 2 was not taken (CSR58)";
		return -ENODEV;
	}
	return 0;
}

static int alloc_rings(struct g_pcnet *n)
{
	n->init = g_mem_alloc(sizeof(*n->init), 16);
	n->rx = g_mem_alloc(NRX * sizeof(*n->rx), 16);
	n->tx = g_mem_alloc(NTX * sizeof(*n->tx), 16);
	n->rxbuf = g_mem_alloc((size_t)NRX * G_PCNET_BUF, 4096);
	n->txbuf = g_mem_alloc((size_t)NTX * G_PCNET_BUF, 4096);
	if (!n->init || !n->rx || !n->tx || !n->rxbuf || !n->txbuf) {
		n->why = "out of memory";
		return -ENOMEM;
	}
	if (g_mem_phys(n->rxbuf + NRX * G_PCNET_BUF) > (1ull << 32) ||
	    g_mem_phys(n->txbuf + NTX * G_PCNET_BUF) > (1ull << 32)) {
		n->why = "rings above 4 GiB";
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < NRX; i++)
		arm_rx(n, i);
	*n->init = (struct g_pcnet_init){
		.mode = 0, /* receive and transmit on, no promiscuity */
		.tlen_rlen = G_PCNET_TX_LOG2 << 12 | G_PCNET_RX_LOG2 << 4,
		.rx_ring = (uint32_t)g_mem_phys(n->rx),
		.tx_ring = (uint32_t)g_mem_phys(n->tx),
	};
	memcpy(n->init->mac, n->mac, sizeof(n->mac));
	return 0;
}

/* CSR1/CSR2, CSR4, INIT, wait for IDON (left set, as pcnet32 does), STRT|INEA. */
static int start(struct g_pcnet *n)
{
	uint64_t deadline = g_tsc_deadline(INIT_TIMEOUT_US);
	uint64_t phys = g_mem_phys(n->init);

	wr_csr(n, CSR_IADR_LO, (uint16_t)phys);
	wr_csr(n, CSR_IADR_HI, (uint16_t)(phys >> 16));
	wr_csr(n, CSR4, CSR4_VALUE);
	g_io_barrier();
	wr_csr(n, 0, CSR0_INIT);
	while (!(rd_csr(n, 0) & CSR0_IDON)) {
		if (g_tsc_passed(deadline)) {
			n->why = "no IDON after INIT";
			return -ETIMEDOUT;
		}
		g_udelay(POLL_US);
	}
	wr_csr(n, 0, CSR0_STRT | inea(n));
	return 0;
}

int g_pcnet_probe(struct g_pcnet *n, bool poll)
{
	int rc;

	memset(n, 0, sizeof(*n));
	n->poll = poll;
	rc = find(n);
	if (!rc)
		rc = identify(n);
	if (!rc)
		rc = alloc_rings(n);
	if (rc)
		return rc;
	if (!poll) {
		if (!n->pci.irq_pin || n->pci.irq_pin > 4) {
			n->why = "no INTx pin";
			return -ENODEV;
		}
		rc = g_platform_route_pci_intx(n->pci.bus, n->pci.dev, n->pci.irq_pin - 1u,
					       n->pci.irq_line, &n->vector);
		if (rc) {
			n->why = "cannot route INTx";
			return rc;
		}
		g_pci_command(&n->pci, PCI_COMMAND_INTX_DISABLE, false);
		n->irq_acked = g_irq_count(n->vector);
	}
	rc = start(n);
	/* What the program does from here on is what gets counted. */
	n->io = 0;
	return rc;
}
