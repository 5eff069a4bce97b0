/* SPDX-License-Identifier: MIT */
/*
 * The PCnet NIC as vmmon plugs it in (`--net tap=NAME,model=pcnet`): a PCI function (1022:2000,
 * class 0200, a 32-byte I/O BAR, INTA#) around the register core (pcnet.h), on a tap through
 * the net engine (rings/host/net.h, host_net_port), served by vmmon's I/O thread.
 *
 * Transmit: a vCPU's TDMD or STRT write signals `kick`, an eventfd the I/O thread reads through
 * its ring, so a vCPU never walks a ring or touches the tap. The I/O thread runs the core's
 * transmitter (pcnet_tx_run), which copies each frame into one of PCNET_PCI_TX_SLOTS buffers;
 * the frames of a run go to the tap as one hard-linked batch. While every buffer is in flight
 * the frames wait in the guest's ring, and the run is repeated when a write completes.
 *
 * Receive: PCNET_PCI_RX_BUFS reads stay posted on the tap, hard-linked so frames land in
 * arrival order, and a new batch is posted when the last read of the old one completes. Each
 * frame goes to pcnet_rx (which fills the guest's ring, or counts a missed frame), and then the
 * transmitter polls its ring, as the chip polls it on receive activity.
 */
#ifndef VMMON_DEV_PCNET_PCI_H
#define VMMON_DEV_PCNET_PCI_H

#include <stdint.h>

#include "../io/loop.h"
#include "../irq.h"
#include "host/err.h"
#include "host/net.h"
#include "pci.h"
#include "pcnet.h"

#define PCNET_PCI_RX_BUFS  16
#define PCNET_PCI_TX_SLOTS 32

struct pcnet_pci {
	struct pci_dev pci;
	struct pcnet core;
	bool core_ready;

	/* The tap and the I/O thread. */
	struct host_tap tap;
	bool tap_open;
	struct host_net_port port;
	struct vmm_io *io;
	struct vmm_io_event kick; /* TDMD and STRT from a vCPU */
	/* Where BAR0 decodes now (0 while I/O decoding is off): where an ioeventfd on TDMD or a
	 * coalesced RAP would go. */
	uint16_t io_base;

	/* Receive: one hard-linked batch of reads at a time. */
	struct host_net_frame rx[PCNET_PCI_RX_BUFS];
	unsigned rx_posted, rx_failures;
	bool rx_stopped; /* the tap kept failing: no more reads */

	/* Transmit: free buffers, and those a run filled that go out after it. */
	struct host_net_frame tx[PCNET_PCI_TX_SLOTS];
	unsigned tx_free[PCNET_PCI_TX_SLOTS], ntx_free;
	struct host_net_frame *tx_batch[PCNET_PCI_TX_SLOTS];
	unsigned ntx_batch;
	bool tx_waiting; /* a frame waits in the guest's ring for a free buffer */

	bool started; /* the I/O thread took the first kick, made at init */
	uint64_t kicks, tap_errors;
	uint8_t rx_buf[PCNET_PCI_RX_BUFS][PCNET_MAX_FRAME + 1]; /* + 1: a longer frame shows */
	uint8_t tx_buf[PCNET_PCI_TX_SLOTS][PCNET_MAX_FRAME];
};

/* Opens the tap and builds the function with its BAR at port io_bar (decoding off until the
 * guest turns it on). The MAC: mac= or 52:54:00:12:34:56 plus `index`. On failure the caller
 * still calls pcnet_pci_destroy. */
int pcnet_pci_init(struct pcnet_pci *n, const struct host_tap_opts *tap, unsigned index,
		   struct vmm_io *io, const struct gmem *mem, struct vmm_irq intx, uint16_t io_bar,
		   struct host_err *err);
/* The I/O APIC pin of INTA#, once the function has a slot. Before the guest runs. */
void pcnet_pci_set_intx(struct pcnet_pci *n, unsigned gsi);
/* After the I/O thread has stopped. */
void pcnet_pci_destroy(struct pcnet_pci *n);
/* One `vmmon: stats:` line. */
void pcnet_pci_print_stats(struct pcnet_pci *n, unsigned index);

#endif
