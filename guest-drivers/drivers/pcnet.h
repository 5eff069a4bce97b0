/* SPDX-License-Identifier: MIT */
/*
 * AMD PCnet-PCI II (Am79C970A, PCI 1022:2000), the Lance-family NIC of the paper this project
 * rebuilds (Sugerman et al., USENIX ATC 2001). The driver uses the chip the way Linux's pcnet32
 * does, register access for register access, so that what a VMM sees of it is representative:
 * the I/O BAR in word I/O mode (RAP at 0x12, RDP 0x10, BDP 0x16, reset 0x14, the address PROM
 * at 0x00), software style 2 (32-bit descriptors, through BCR20), an initialization block
 * handed over with CSR1/CSR2 and CSR0.INIT, then STRT|INEA.
 *   send: one descriptor (OWN, STP, ENP, BCNT as a two's complement), then CSR0 = INEA|TDMD;
 *   interrupt: save RAP, read CSR0 and write its status bits back while RINT, TINT or ERR are
 *     set (reaping transmit descriptors; once even if none is, with INEA clear, so that INTA
 *     falls), write BABL|CERR|MISS|MERR|IDON|INEA, restore RAP.
 * That is 2 I/O instructions per frame sent and 10 per interrupt, 12 per transmitted frame when
 * each gets its interrupt: the paper's count for pcnet32. Every I/O instruction is counted
 * (io_*) by what it served.
 * Descriptor layouts are the Am79C970A data sheet's (AMD 19436, SWSTYLE 2).
 */
#ifndef G_DRIVERS_PCNET_H
#define G_DRIVERS_PCNET_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"

#define G_PCNET_RX_LOG2	  5    /* 32 receive descriptors */
#define G_PCNET_TX_LOG2	  4    /* 16 transmit descriptors */
#define G_PCNET_BUF	  1544 /* per descriptor; a frame and its FCS fit */
#define G_PCNET_FRAME_MAX 1514 /* without FCS */

/* SWSTYLE 2 descriptors and initialization block. */
struct g_pcnet_rxd {
	uint32_t base;
	uint16_t buf_length; /* two's complement, bits 15:12 ones */
	uint16_t status;     /* OWN, ERR, ..., STP, ENP */
	uint32_t msg_length; /* MCNT in bits 11:0, the FCS included */
	uint32_t reserved;
};

struct g_pcnet_txd {
	uint32_t base;
	uint16_t length; /* BCNT, two's complement, bits 15:12 ones */
	uint16_t status;
	uint32_t misc; /* error bits */
	uint32_t reserved;
};

struct g_pcnet_init {
	uint16_t mode;
	uint16_t tlen_rlen; /* log2 of the ring sizes: transmit in bits 15:12, receive 7:4 */
	uint8_t mac[6];
	uint16_t reserved;
	uint32_t filter[2]; /* logical address filter (multicast): none */
	uint32_t rx_ring, tx_ring;
};

struct g_pcnet {
	struct g_pci_dev pci;
	uint16_t port; /* the I/O BAR */
	bool poll;     /* mode=poll: INEA never set, CSR0 polled */
	unsigned int vector;
	uint8_t mac[6];
	uint32_t chip; /* CSR88 | CSR89 << 16 */
	char where[64];
	const char *why; /* what g_pcnet_probe found wrong */
	struct g_pcnet_init *init;
	struct g_pcnet_rxd *rx;
	struct g_pcnet_txd *tx;
	uint8_t *rxbuf, *txbuf;
	unsigned int cur_rx;	       /* next receive descriptor to look at */
	unsigned int cur_tx, dirty_tx; /* next to fill, oldest not reaped */
	uint64_t irq_acked;	       /* interrupt count at the last service */
	uint64_t rx_frames, rx_bad, tx_frames, tx_errors, missed, services;
	/* I/O instructions since the start: all, and those of sends, of services that found
	 * RINT (receptions), of services that found TINT alone (transmissions), of polls. */
	uint64_t io, io_send, io_rx, io_tx, io_poll;
};

/* Finds the first 1022:2000 function, resets it, reads the chip ID and the PROM's MAC, sets up
 * the rings (every receive descriptor posted) and interrupts (PCI INTx) unless poll, runs the
 * initialization and starts the chip. 0 or -errno with n->why set. */
int g_pcnet_probe(struct g_pcnet *n, bool poll);

/* The next received frame (no FCS) in *frame and *len; returns its buffer, which goes back to
 * the chip with g_pcnet_recv_done (in the order received), or NULL. Errored or chained frames
 * are given back at once and counted in rx_bad. */
void *g_pcnet_recv(struct g_pcnet *n, uint8_t **frame, uint32_t *len);
void g_pcnet_recv_done(struct g_pcnet *n, void *buf);

/* Copies a frame (padded to 60 bytes) into the next transmit descriptor and rings TDMD.
 * -ENOSPC when every descriptor is still the chip's, -EINVAL above G_PCNET_FRAME_MAX. */
int g_pcnet_send(struct g_pcnet *n, const void *frame, uint32_t len);

/* Waits for a received frame until the TSC deadline, running the interrupt service for every
 * interrupt that came; polled: one look at CSR0. 0 (look again) or -ETIMEDOUT. */
int g_pcnet_wait(struct g_pcnet *n, uint64_t deadline);

/* Waits until a transmit descriptor is free, until the TSC deadline. Interrupt-driven, it first
 * runs the service for an interrupt that came since the last one (where pcnet32's handler
 * would have run on its arrival) and sleeps for the next interrupt while every descriptor is
 * the chip's; polled, it looks at CSR0 as g_pcnet_wait does. 0 (a descriptor is free) or
 * -ETIMEDOUT. */
int g_pcnet_tx_wait(struct g_pcnet *n, uint64_t deadline);

/* Interrupts taken on the chip's vector by this CPU (0 when polled). */
uint64_t g_pcnet_irq_count(const struct g_pcnet *n);

/* CSR0.STOP. */
void g_pcnet_stop(struct g_pcnet *n);

#endif
