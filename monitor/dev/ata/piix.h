/* SPDX-License-Identifier: MIT */
/*
 * The PIIX3 IDE function (Intel 82371SB, 8086:7010) as vmmon's guests see it: a PCI function of
 * class 0x0101 with prog-if 0x80 (both channels in compatibility mode, bus-master capable), the
 * legacy ports of its two channels (primary 0x1F0-0x1F7 and 0x3F6 on ISA IRQ 14, secondary
 * 0x170-0x177 and 0x376 on IRQ 15, always decoded, as in QEMU) and the bus-master registers in
 * I/O BAR4 (16 bytes: primary at +0, secondary at +8), decoded by the PCI host's I/O window
 * (pci_host_io_trap) while the command register enables I/O. DMA needs the command register's
 * bus-master bit.
 *
 * Disks: the first is the primary master, then primary slave, secondary master, secondary
 * slave. Each is a block engine disk (rings/host/blk.c); its reads, writes and flushes run on
 * vmmon's I/O thread. A vCPU that starts one only marks it queued and signals the thread's
 * eventfd; the thread starts it, and its completion (on the thread) updates the channel and
 * raises the interrupt.
 *
 * The optimisations (`--disk ...,transport=ata,opt=`, VMM_ATA_OPT_*, per channel: both drives
 * share its ports): taskfile puts ports 1-6 of the command block (features, count, LBA,
 * device: writes that only latch) in a coalesced PIO zone, data the data register (writes
 * that only fill the buffer until the DRQ block is whole; 16-bit only unless taskfile is on as
 * well, as the zone must cover a 32-bit write whole), bm the channel's bus-master status
 * (write-one-to-clear bits and the drive-capable latches: nothing reads them but the guest)
 * and PRD table address (read when the start bit is set, which exits) in BAR4, moving with it.
 * cmd makes the command register's DMA opcodes and the bus-master command register's start
 * and stop doorbells (piix_db.c, ata_db.c): datamatched ioeventfds that KVM signals instead of
 * exiting, read in order with the ring before any exit on the channel's ports and by the I/O
 * thread as soon as they are rung, which then starts the transfer. Any other command byte
 * exits: its status read follows at once. While a data-out block waits for words that may sit in
 * the ring (an interrupt-driven driver writes the block and sleeps), the I/O thread drains the
 * ring on a timer, from PIIX_WATCH_FIRST_US up to PIIX_WATCH_MAX_US apart, until the block is
 * whole.
 */
#ifndef VMMON_DEV_ATA_PIIX_H
#define VMMON_DEV_ATA_PIIX_H

#include <stdio.h>

#include "../../bus.h"
#include "../../coalesce.h"
#include "../../config.h"
#include "../../io/loop.h"
#include "../pci.h"
#include "ata.h"

#define PIIX_IDE_VENDOR	       0x8086
#define PIIX_IDE_DEVICE	       0x7010
#define PIIX_IDE_CLASS	       0x010180 /* mass storage, IDE, prog-if 0x80 */
#define PIIX_IDE_BAR	       4
#define PIIX_IDE_BAR_SIZE      16
#define PIIX_IDETIM	       0x40   /* word per channel at 0x40 and 0x42 */
#define PIIX_IDETIM_DECODE     0x8000 /* IDE decode enable, which firmware sets and Linux checks */
#define PIIX_IDE_MAX_DISKS     4
#define PIIX_IDE_PRIMARY_IRQ   14
#define PIIX_IDE_SECONDARY_IRQ 15
#define PIIX_WATCH_FIRST_US    50
#define PIIX_WATCH_MAX_US      1000

struct piix_ide {
	struct pci_dev pci;
	struct ata_chan chan[2];
	bool chan_ready[2];
	struct host_blk disk[PIIX_IDE_MAX_DISKS]; /* index = channel * 2 + unit */
	unsigned nr_disks;
	struct vmm_bus *pio;
	struct vmm_io *io;
	/* Requests the channels queued for the I/O thread (under the channel's lock). */
	bool queued[2];
	unsigned queued_unit[2];
	struct vmm_io_event kick;  /* a vCPU queued a request */
	struct vmm_io_flush flush; /* the I/O thread queued one itself: start it after the batch */
	unsigned legacy_traps;	   /* registered legacy port ranges, for destroy */

	/* The optimisations. */
	struct vmm_coalesce *coalesce; /* NULL: none */
	unsigned opt[2];	       /* per channel, VMM_ATA_OPT_* as its first disk asked */
	bool opt_set[2];	       /* a disk on the channel set opt[] */
	uint32_t zone[2][2];	       /* registered zone per channel: port, size (size 0: none) */
	uint16_t bm_zone;	       /* BAR4 where the bus-master zones are (0: none) */
	struct vmm_io_event watch_ev;  /* a vCPU set DRQ for a data-out block */
	struct vmm_io_timer watch;     /* the I/O thread's drains while such a block waits */
	uint64_t watch_ns;
	struct piix_port {
		struct piix_ide *p;
		unsigned c;
	} port[2]; /* the command block traps' dev */
	/* Coalesced writes applied to each channel: task file, data register, bus master. */
	atomic_uint_fast64_t drained[2][3];
	uint64_t watch_drains;
	/* opt=cmd (piix_db.c): each channel's doorbell, one eventfd per ata_db_values entry. */
	struct vmm_doorbell db[2];
	struct piix_db_event {
		struct vmm_io_event ev;
		struct piix_ide *p;
	} db_ev[2][ATA_DB_VALUES];
	uint16_t db_cmd[2]; /* command block the ioeventfds are on (0: none) */
	uint16_t db_bm[2];  /* BAR4 the bus-master ioeventfds are on (0: none) */
};

/*
 * Sets up the controller with no disks: the PCI function (BAR4 pre-assigned at bm_port, as
 * firmware would), the legacy traps on pio, and the I/O thread's eventfd (call before the
 * thread starts). irq_set/irq_ctx drive ISA IRQs 14 and 15. Returns 0 or -errno with err set.
 */
int piix_ide_init(struct piix_ide *p, struct vmm_bus *pio, struct vmm_io *io,
		  const struct gmem *mem, int (*irq_set)(void *ctx, unsigned gsi, bool level),
		  void *irq_ctx, uint16_t bm_port, struct vmm_coalesce *c, struct host_err *err);
/* Opens the next disk (o->path) into the next position, with the optimisations `opt`
 * (VMM_ATA_OPT_*; its channel's other disk must ask for the same; without a coalesce module
 * they are ignored). */
int piix_ide_add_disk(struct piix_ide *p, const struct host_blk_opts *o, unsigned opt,
		      struct host_err *err);
/* After the I/O thread has stopped (no request may be in flight any more). */
void piix_ide_destroy(struct piix_ide *p);
void piix_ide_print_stats(struct piix_ide *p, FILE *out);

/* ---- between piix.c and piix_db.c ---- */

/* Before the I/O thread starts: channel c's doorbell (its command block at cmd, control block
 * at ctl), its eventfds, I/O events and command-register ioeventfds. 0 or -errno, err set. */
int piix_db_init(struct piix_ide *p, unsigned c, uint16_t cmd, uint16_t ctl, struct host_err *err);
/* PCI host lock held: the bus-master ioeventfds follow BAR4 at base (0: not decoded). */
void piix_db_move(struct piix_ide *p, uint16_t base);
/* After the I/O thread has stopped: ioeventfds away, eventfds closed. */
void piix_db_destroy(struct piix_ide *p);

#endif
