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
 *
 * The seed paper's optimisations (`opt=`, each a bit of `opt`, VMM_PCNET_OPT_*):
 *  - rap: writes that only latch go to KVM's coalesced PIO ring (coalesce.h) instead of
 *    exiting: RAP (and the word-I/O RESET port, whose writes do nothing: the zone is
 *    0x12-0x15) and the address PROM (0x00-0x0F; its writes only latch, and only while BCR2
 *    APROMWE allows). RDP and BDP writes reach CSRs and BCRs with side effects (CSR0, the
 *    interrupt masks) and still exit; so do all reads. DWord I/O mode's RAP (0x14, 4 bytes) is
 *    outside the zone and exits. The zone follows BAR0.
 *  - tdmd: ioeventfds on RDP for the 16-bit writes 0x0048 (INEA|TDMD, pcnet32's and the
 *    guest's driver's) and 0x0008 (TDMD, polled), armed while the chip runs; each is read
 *    through the coalesce module (a vmm_doorbell) by the I/O thread when it fires and by a
 *    vCPU before it handles an exit on the BAR. pcnet_opt.c says what RAP means for them.
 *  - combine: a transmit demand waits, with the frames in the guest's ring, until
 *    combine_frames demands came, combine_us passed since the first, or a received frame
 *    makes the chip poll its ring anyway; the run's frames go to the tap as one batch.
 *  - coalesce: a rise of INTA# that moved frames ask for waits up to coalesce_us, or until
 *    VMM_PCNET_COALESCE_MAX frames moved (pcnet_opt.c).
 */
#ifndef VMMON_DEV_PCNET_PCI_H
#define VMMON_DEV_PCNET_PCI_H

#include <stdint.h>

#include "../coalesce.h"
#include "../config.h"
#include "../io/loop.h"
#include "../irq.h"
#include "host/err.h"
#include "host/net.h"
#include "pci.h"
#include "pcnet.h"

#define PCNET_PCI_RX_BUFS   16
#define PCNET_PCI_TX_SLOTS  32
#define PCNET_PCI_DB_VALUES 2 /* the transmit doorbell's datamatched RDP values */

struct pcnet_pci;

/* A doorbell's eventfd as the I/O thread polls it. */
struct pcnet_db_event {
	struct vmm_io_event ev;
	struct pcnet_pci *n;
};

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
	/* Where BAR0 decodes now (0 while I/O decoding is off): where the doorbells and the
	 * coalesced zones go (pcnet_kvm.c; under db_lock once the doorbells exist). */
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

	/* The optimisations (VMM_PCNET_OPT_*). */
	unsigned opt;
	struct vmm_coalesce *coalesce;
	uint16_t zone_base;	/* where the coalesced zones are (0: none registered) */
	struct vmm_doorbell db; /* fd[i] counts swallowed RDP writes of db_val[i] */
	struct pcnet_db_event db_ev[PCNET_PCI_DB_VALUES];
	pthread_mutex_t db_lock; /* leaf: the ioeventfds' registration */
	bool db_lock_ready;
	bool running;	     /* the core's run state, as run_state told it */
	bool db_off;	     /* a doorbell was guessed: never armed again */
	uint16_t db_port;    /* RDP the ioeventfds are registered on (0: none) */
	uint64_t kick_local; /* demands the I/O thread made itself (a doorbell applied) */
	unsigned combine_max, pending;
	uint64_t combine_ns, coalesce_ns, first_ns;
	struct vmm_io_timer combine_timer, irq_timer;
	atomic_uint_fast64_t drained; /* coalesced writes applied to the BAR */
	uint64_t runs, run_frames;    /* transmitter runs that sent, and their frames */
	uint64_t held_demands;	      /* demands send combining kept waiting */
	uint8_t rx_buf[PCNET_PCI_RX_BUFS][PCNET_MAX_FRAME + 1]; /* + 1: a longer frame shows */
	uint8_t tx_buf[PCNET_PCI_TX_SLOTS][PCNET_MAX_FRAME];
};

/* Opens the tap and builds the function with its BAR at port io_bar (decoding off until the
 * guest turns it on). The MAC: mac= or 52:54:00:12:34:56 plus `index`. `opt`: the
 * optimisations the host allows of those nc asks for; their zones and doorbells go through c
 * (whose VM fd takes the ioeventfds). On failure the caller still calls pcnet_pci_destroy. */
int pcnet_pci_init(struct pcnet_pci *n, const struct vmm_net_config *nc, unsigned opt,
		   unsigned index, struct vmm_io *io, const struct gmem *mem, struct vmm_irq intx,
		   uint16_t io_bar, struct vmm_coalesce *c, struct host_err *err);
/* The I/O APIC pin of INTA#, once the function has a slot. Before the guest runs. */
void pcnet_pci_set_intx(struct pcnet_pci *n, unsigned gsi);
/* After the I/O thread has stopped. */
void pcnet_pci_destroy(struct pcnet_pci *n);
/* One `vmmon: stats:` line. */
void pcnet_pci_print_stats(struct pcnet_pci *n, unsigned index);

/* ---- between pcnet_pci.c and pcnet_kvm.c ---- */

/* PCI host lock held: the coalesced zones to BAR0 at base (0: none). */
void pcnet_pci_zones_move(struct pcnet_pci *n, uint16_t base);
/* The doorbells' eventfds, I/O events and registration with the coalesce module. */
int pcnet_pci_db_init(struct pcnet_pci *n, struct host_err *err);
/* The chip's run state and BAR0 (-1: unchanged) and the ioeventfds placed to match. */
void pcnet_pci_db_update(struct pcnet_pci *n, int running, int io_base);
/* Before the tap closes: ioeventfds and zones away, eventfds closed. */
void pcnet_pci_kvm_destroy(struct pcnet_pci *n);
/* I/O thread: `count` transmit demands more (and those the thread made itself): send
 * combining decides when the transmitter runs. */
void pcnet_pci_demand(struct pcnet_pci *n, uint64_t count);

#endif
