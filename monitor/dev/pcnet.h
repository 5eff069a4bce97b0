/* SPDX-License-Identifier: MIT */
/*
 * AMD Am79C970A PCnet-PCI II (AMD publication 19436, "the datasheet"): the register core and the
 * buffer management unit that walks the guest's descriptor rings, free of KVM, PCI and the tap.
 * The glue (pcnet_pci.c) puts it behind an I/O BAR and moves its frames through the net engine;
 * the unit tests drive it directly with fake guest memory and a fake frame sink.
 *
 * Threads: register accesses come from vCPU threads; transmits (pcnet_tx_run) and received
 * frames (pcnet_rx) run on the I/O thread. One lock covers the state. A vCPU never walks a
 * ring: a transmit demand (CSR0 TDMD) only asks the I/O thread for a run (ops->tx_kick). RAP is
 * a plain store with no side effect, so its writes may wait in KVM's coalesced PIO ring as long
 * as they are applied in order before the next RDP or BDP access; the transmit demand may be
 * an ioeventfd (pcnet_opt.c says what it stands for with RAP coalesced).
 *
 * Every guest address goes through the guest memory map (rings/gmem.h) and is checked: a ring,
 * buffer or initialization block outside guest RAM, or any access while PCI bus mastering is
 * off, is a memory error (CSR0 MERR) that stops the unit that met it, never a host access.
 */
#ifndef VMMON_DEV_PCNET_H
#define VMMON_DEV_PCNET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../irq.h"
#include "gmem.h"

/* PCI identity (datasheet: PCI configuration registers). */
#define PCNET_PCI_VENDOR   0x1022   /* AMD */
#define PCNET_PCI_DEVICE   0x2000   /* PCnet family */
#define PCNET_PCI_CLASS	   0x020000 /* network, Ethernet */
#define PCNET_PCI_REVISION 0x10
#define PCNET_IO_SIZE	   32

/* The I/O map. Word I/O (WIO) after H_RESET; a DWord write to RDP switches to DWord I/O (DWIO)
 * until the next H_RESET. The address PROM sits at 0-15 in both. */
#define PCNET_APROM_SIZE  16
#define PCNET_RDP	  0x10
#define PCNET_WIO_RAP	  0x12
#define PCNET_WIO_RESET	  0x14
#define PCNET_WIO_BDP	  0x16
#define PCNET_DWIO_RAP	  0x14
#define PCNET_DWIO_RESET  0x18
#define PCNET_DWIO_BDP	  0x1c
#define PCNET_APROM_SIG	  0x57 /* 'W' at bytes 14 and 15: what AMD's and Linux's drivers look for */
#define PCNET_APROM_HW_ID 0x11 /* byte 9 */

/* CSR0, controller status and control. */
#define PCNET_CSR0_INIT 0x0001
#define PCNET_CSR0_STRT 0x0002
#define PCNET_CSR0_STOP 0x0004
#define PCNET_CSR0_TDMD 0x0008
#define PCNET_CSR0_TXON 0x0010
#define PCNET_CSR0_RXON 0x0020
#define PCNET_CSR0_INEA 0x0040
#define PCNET_CSR0_INTR 0x0080
#define PCNET_CSR0_IDON 0x0100
#define PCNET_CSR0_TINT 0x0200
#define PCNET_CSR0_RINT 0x0400
#define PCNET_CSR0_MERR 0x0800
#define PCNET_CSR0_MISS 0x1000
#define PCNET_CSR0_CERR 0x2000
#define PCNET_CSR0_BABL 0x4000
#define PCNET_CSR0_ERR	0x8000

/* CSR3 masks (an interrupt source in CSR0 with its mask bit set does not set INTR). */
#define PCNET_CSR3_IDONM   0x0100
#define PCNET_CSR3_TINTM   0x0200
#define PCNET_CSR3_RINTM   0x0400
#define PCNET_CSR3_MERRM   0x0800
#define PCNET_CSR3_MISSM   0x1000
#define PCNET_CSR3_BABLM   0x4000
#define PCNET_CSR3_DXSUFLO 0x0040 /* keep transmitting after an underflow */

/* CSR4 test and features control. */
#define PCNET_CSR4_TXSTRT   0x0008
#define PCNET_CSR4_UINTCMD  0x0080
#define PCNET_CSR4_UINT	    0x0040
#define PCNET_CSR4_MFCO	    0x0200
#define PCNET_CSR4_MFCOM    0x0100
#define PCNET_CSR4_APAD_XMT 0x0800
#define PCNET_CSR4_DPOLL    0x1000

/* CSR5 extended control and interrupt 1. */
#define PCNET_CSR5_SPND	   0x0001
#define PCNET_CSR5_LTINTEN 0x4000
#define PCNET_CSR5_TOKINTD 0x8000

/* CSR15 mode (loaded from the initialization block). */
#define PCNET_MODE_DRX	   0x0001
#define PCNET_MODE_DTX	   0x0002
#define PCNET_MODE_DRCVPA  0x2000
#define PCNET_MODE_DRCVBC  0x4000
#define PCNET_MODE_PROM	   0x8000
#define PCNET_MODE_PORTSEL 0x0180

/* Chip ID, CSR88 (low) and CSR89 (high): version 0, part 2621h (Am79C970A), AMD (001h), 1. */
#define PCNET_CHIP_ID 0x02621003u

/* BCRs the model implements. */
#define PCNET_BCR_MC	     2	/* miscellaneous configuration */
#define PCNET_BCR_LNKST	     4	/* link status LED; LED1-3 follow */
#define PCNET_BCR_FDC	     9	/* full-duplex control */
#define PCNET_BCR_BSBC	     18 /* burst and bus control */
#define PCNET_BCR_SWS	     20 /* software style, mirrored by CSR58 */
#define PCNET_BCR2_APROMWE   0x0100
#define PCNET_BCR18_DWIO     0x0080
#define PCNET_BCR20_SSIZE32  0x0100
#define PCNET_BCR20_CSRPCNET 0x0200
#define PCNET_LED_OUT	     0x8000 /* LEDOUT: the LED's state, read only */
#define PCNET_LED_LNKSTE     0x0040 /* the LED shows link status */

/* Descriptor bits in the 32-bit layout (SWSTYLE 2; RMD1/TMD1 and RMD2/TMD2). */
#define PCNET_DESC_OWN	 0x80000000u
#define PCNET_DESC_ERR	 0x40000000u
#define PCNET_DESC_STP	 0x02000000u
#define PCNET_DESC_ENP	 0x01000000u
#define PCNET_RMD1_BUFF	 0x04000000u
#define PCNET_RMD1_PAM	 0x00400000u
#define PCNET_RMD1_LAFM	 0x00200000u
#define PCNET_RMD1_BAM	 0x00100000u
#define PCNET_TMD1_LTINT 0x10000000u
#define PCNET_TMD2_BUFF	 0x80000000u
#define PCNET_TMD2_UFLO	 0x40000000u
#define PCNET_DESC_ONES	 0x0000f000u
#define PCNET_DESC_BCNT	 0x00000fffu
#define PCNET_RMD2_MCNT	 0x00000fffu

#define PCNET_NR_CSR	 128
#define PCNET_NR_BCR	 32
#define PCNET_MAX_RING	 512  /* 2^9: the longest ring an initialization block encodes */
#define PCNET_MIN_FRAME	 60   /* without FCS: shorter received frames are padded */
#define PCNET_MAX_FRAME	 1518 /* without FCS: a longest frame, VLAN tag included */
#define PCNET_FCS	 4

/* What frames leave through and how the chip asks for work; the glue's, or a test's. */
struct pcnet_ops {
	/* The guest demanded a transmit (TDMD) or (re)started the transmitter: run
	 * pcnet_tx_run on the I/O thread soon. Called with the lock held, from any thread. */
	void (*tx_kick)(void *ctx);
	/* A frame for the wire (copied before it returns): 0, or -EAGAIN when there is no room
	 * now. The frame then stays in the guest's ring; the caller runs pcnet_tx_run again once
	 * there is room. Called with the lock held, from pcnet_tx_run's thread. */
	int (*tx)(void *ctx, const uint8_t *frame, size_t len);
	/* Optional, for the optimisations (pcnet_opt.c), lock held. run_state: the chip started
	 * (STRT, not STOP) or stopped, from the register write or reset that did it; irq_hold:
	 * interrupt coalescing holds the line, call pcnet_irq_release in `ns` nanoseconds (from
	 * pcnet_tx_run's or pcnet_rx's thread); now: the clock, CLOCK_MONOTONIC without it. */
	void (*run_state)(void *ctx, bool running);
	void (*irq_hold)(void *ctx, uint64_t ns);
	uint64_t (*now)(void *ctx);
};

/* What pcnet_rx did with a frame. */
enum pcnet_rx_result {
	PCNET_RX_DELIVERED, /* in the ring, RINT set */
	PCNET_RX_OFF,	    /* receiver off, stopped or suspended: dropped */
	PCNET_RX_FILTERED,  /* not addressed to this station: dropped */
	PCNET_RX_TOO_LONG,  /* longer than PCNET_MAX_FRAME: dropped */
	PCNET_RX_MISSED,    /* no receive descriptor owned by the chip: MISS, CSR112 counts it */
	PCNET_RX_BUFF,	    /* the ring ran out in the middle of the frame: BUFF in the ring */
	PCNET_RX_MERR,	    /* a ring or buffer outside guest RAM: MERR, receiver off */
};

struct pcnet_stats {
	uint64_t tx_frames, tx_errors, tx_stalls;
	uint64_t rx_frames, rx_errors, rx_missed, rx_dropped;
	uint64_t merr;		      /* memory errors */
	uint64_t irqs;		      /* times the interrupt line was raised */
	uint64_t unhandled;	      /* register accesses the chip does not implement */
	uint64_t irq_holds;	      /* raises interrupt coalescing delayed */
	uint64_t doorbells;	      /* swallowed RDP writes applied (pcnet_db_apply) */
	uint64_t doorbells_ambiguous; /* reads of them whose RAP was not surely 0 */
};

/* One frame's buffers while the transmitter gathers it. */
struct pcnet_seg {
	uint32_t addr;
	uint32_t flags; /* the descriptor's RMD1/TMD1 as read */
	uint16_t len;
};

struct pcnet {
	pthread_mutex_t lock;

	/* Wiring. */
	struct vmm_irq irq;
	const struct gmem *mem;
	const struct pcnet_ops *ops;
	void *ctx;
	bool bus_master; /* PCI command register: the chip may access memory */
	uint8_t mac[6];	 /* what H_RESET loads into the address PROM */

	/* Registers. */
	uint8_t aprom[PCNET_APROM_SIZE];
	bool dwio;
	uint16_t rap;
	uint16_t csr[PCNET_NR_CSR];
	uint16_t bcr[PCNET_NR_BCR];
	bool irq_level; /* what the line was last driven to */

	/* The optimisations (pcnet_opt.c). */
	bool running;	      /* STRT and not STOP, as ops->run_state last heard */
	unsigned rap_cand;    /* RAP values a doorbell not yet read may have met (zero, not zero) */
	unsigned db_cand;     /* the same for the doorbells being read */
	bool db_window;	      /* between pcnet_db_begin and pcnet_db_apply */
	uint64_t coalesce_ns; /* interrupt coalescing's bound; 0: off */
	unsigned coalesce_max; /* frames after which a held interrupt goes at once */
	bool data_path;	       /* in pcnet_tx_run, pcnet_rx or pcnet_tdmd: a rise may wait */
	bool held;	       /* a rise is being held */
	uint64_t hold_since;   /* when the hold began */
	uint64_t irq_frames;   /* frames moved when the line last rose or a hold ended */

	/* The buffer management unit: rings as INIT read them. */
	uint32_t rx_base, tx_base;
	unsigned rx_len, tx_len;
	unsigned rx_cur, tx_cur;

	/* Scratch for the frame being moved (lock held). */
	struct pcnet_seg seg[PCNET_MAX_RING];
	uint8_t frame[PCNET_MAX_FRAME + PCNET_FCS];

	struct pcnet_stats stats;
};

/* H_RESET state with this station address. irq.gsi may be set later, before the guest runs. */
void pcnet_init(struct pcnet *p, const uint8_t mac[6], const struct gmem *mem, struct vmm_irq irq,
		const struct pcnet_ops *ops, void *ctx);
void pcnet_destroy(struct pcnet *p);
/* The PCI command register's bus master bit, as the guest sets it. */
void pcnet_set_bus_master(struct pcnet *p, bool on);

/* The register core: one I/O access at offset off of the BAR (vmm_trap_fn). */
int pcnet_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);
/* Direct register access, as RDP and BDP give it with RAP = n. */
uint16_t pcnet_csr_read(struct pcnet *p, unsigned n);
void pcnet_csr_write(struct pcnet *p, unsigned n, uint16_t val);
uint16_t pcnet_bcr_read(struct pcnet *p, unsigned n);
void pcnet_bcr_write(struct pcnet *p, unsigned n, uint16_t val);

/* I/O thread: transmits what the guest's ring holds, if the transmitter is on and there is a
 * demand (TDMD) or transmit polling is allowed (CSR4 DPOLL clear). */
void pcnet_tx_run(struct pcnet *p);
/* I/O thread: the CSR0 write `csr0` (a transmit demand: TDMD, with INEA as pcnet32 writes it),
 * applied as the register write applies it, then the transmitter's run. The write a doorbell
 * (an ioeventfd with datamatch on RDP while RAP selects CSR0) stands for. */
void pcnet_tdmd(struct pcnet *p, uint16_t csr0);
/* I/O thread: a frame from the wire (without FCS). */
enum pcnet_rx_result pcnet_rx(struct pcnet *p, const uint8_t *frame, size_t len);
/* A copy of the counters. */
struct pcnet_stats pcnet_stats(struct pcnet *p);

/* ---- the seed paper's optimisations, the core's side (pcnet_opt.c) ---- */

/*
 * The transmit demand as a doorbell (opt=tdmd): KVM swallows a write of a datamatched value to
 * RDP (an ioeventfd) whatever RAP holds, and RAP writes themselves wait in the coalesced ring
 * (opt=rap). Around reading the doorbells' counters (coalesce.c: with the ring drained before
 * and after), the glue calls pcnet_db_begin before and pcnet_db_apply after: `count[i]` writes
 * of `val[i]`. They are applied as the CSR0 writes they stand for when every RAP value they
 * can have met is 0 (PCNET_DB_EXACT); otherwise as pcnet_opt.c's design note says
 * (PCNET_DB_AMBIGUOUS, counted).
 */
enum pcnet_db_result { PCNET_DB_NONE, PCNET_DB_EXACT, PCNET_DB_AMBIGUOUS };
void pcnet_db_begin(struct pcnet *p);
enum pcnet_db_result pcnet_db_apply(struct pcnet *p, const uint16_t *val, const uint64_t *count,
				    unsigned n);
/* Interrupt coalescing (opt=coalesce): a rise of the line caused by frames moved on the I/O
 * thread (TINT, RINT) waits up to delay_ns, or until `max` frames moved. 0: off. */
void pcnet_set_coalesce(struct pcnet *p, uint64_t delay_ns, unsigned max);
/* The glue's timer for ops->irq_hold: the held rise goes now if its time has come. */
void pcnet_irq_release(struct pcnet *p);
/* Pure decisions, for the glue and the tests. A held interrupt goes once `frames` moved since
 * the line last rose reach max, or delay_ns passed since the hold began; send combining runs
 * the transmitter once `pending` demands reach max or tick_ns passed since the first. */
bool pcnet_coalesce_due(uint64_t since_ns, uint64_t now_ns, uint64_t frames, uint64_t delay_ns,
			unsigned max);
bool pcnet_combine_due(unsigned pending, uint64_t first_ns, uint64_t now_ns, unsigned max,
		       uint64_t tick_ns);

/* ---- inside the core (pcnet.c and pcnet_ring.c), lock held ---- */
void pcnet_update_irq(struct pcnet *p);
void pcnet_csr0_write(struct pcnet *p, uint16_t val);
/* Reads the initialization block: 0, or -EFAULT (MERR set). */
int pcnet_ring_init(struct pcnet *p);
void pcnet_tx_locked(struct pcnet *p);
bool pcnet_ssize32(const struct pcnet *p);
unsigned pcnet_swstyle(const struct pcnet *p);
void pcnet_csr_write_locked(struct pcnet *p, unsigned n, uint16_t val);
/* pcnet_opt.c: a RAP write; the run state after a CSR0 write or reset; whether a rise of the
 * line to `level` (only_data: TINT or RINT alone ask for it) waits. */
void pcnet_rap_written(struct pcnet *p);
void pcnet_run_check(struct pcnet *p);
bool pcnet_irq_hold_locked(struct pcnet *p, bool level, bool only_data);

#endif
