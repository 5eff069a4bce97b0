/* SPDX-License-Identifier: MIT */
/*
 * One ATA channel (ATA/ATAPI-6, T13/1410D): the command and control block registers its two
 * drives share, the hard disks on it, PIO data through a sector buffer, and the channel's
 * bus-master IDE registers (SFF-8038i) with DMA through a PRD table in guest memory.
 *
 * The core is pure: disk I/O leaves through ops->submit as a struct host_blk_io (the block
 * engine's request) and comes back through that request's done(), on whatever thread the engine
 * runs; the interrupt line is a struct vmm_irq. The unit tests drive it with a fake engine; the
 * PIIX glue (piix.c) puts it on the bus and the engine on vmmon's I/O thread.
 *
 * Threads: register accesses come from vCPU threads, completions from the I/O thread; both hold
 * ch->lock. While a request is with the engine (ch->inflight) the core does not touch ch->io or
 * the buffer it names: the drive shows BSY, and a reset waits for the request to come back.
 *
 * Side effects: of the command block writes only the command register acts; features, sector
 * count, LBA and device writes only latch (and push the previous byte into the LBA48 HOB copy),
 * and a data-register write only fills the buffer until the DRQ block is whole. The PIIX glue
 * (piix.c, opt=) therefore lets them wait in KVM's coalesced PIO ring; vmmon applies them, in
 * order, before it handles the next exit and before the I/O thread's next completion. The DMA
 * commands and the bus-master start and stop may be doorbells (ata_db.c): swallowed by KVM and
 * applied, after the ring, once vmmon reads their counts. Reads, the other command bytes and
 * device control (SRST, nIEN) still exit.
 */
#ifndef VMMON_DEV_ATA_H
#define VMMON_DEV_ATA_H

#include <linux/hdreg.h> /* WIN_* command opcodes, SETFEATURES_* */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../irq.h"
#include "gmem.h"
#include "host/blk.h"

/* Command block registers (offsets from 0x1F0 / 0x170); reads and writes differ at 1 and 7. */
#define ATA_REG_DATA   0
#define ATA_REG_ERR    1 /* read: error; write: features */
#define ATA_REG_NSECT  2
#define ATA_REG_LBAL   3
#define ATA_REG_LBAM   4
#define ATA_REG_LBAH   5
#define ATA_REG_DEVICE 6
#define ATA_REG_STATUS 7 /* read: status; write: command */
#define ATA_CMD_PORTS  8
#define ATA_CTL_PORTS  1 /* 0x3F6 / 0x376: alternate status, device control */

/* Status register (the names Linux's <linux/ata.h> uses). */
#define ATA_BUSY 0x80
#define ATA_DRDY 0x40
#define ATA_DF	 0x20
#define ATA_DSC	 0x10 /* obsolete in ATA-6; set where drives (and QEMU) still set it */
#define ATA_DRQ	 0x08
#define ATA_ERR	 0x01

/* Error register. */
#define ATA_ICRC    0x80
#define ATA_UNC	    0x40
#define ATA_IDNF    0x10
#define ATA_ABORTED 0x04
#define ATA_DIAG_OK 0x01 /* after a reset or EXECUTE DEVICE DIAGNOSTIC: device 0 passed */

/* Device register. */
#define ATA_LBA	 0x40
#define ATA_DEV1 0x10

/* Device control register. */
#define ATA_NIEN 0x02
#define ATA_SRST 0x04
#define ATA_HOB	 0x80

/* Bus-master IDE registers of one channel (SFF-8038i), 8 bytes; BAR4 holds both channels. */
#define ATA_DMA_CMD	    0
#define ATA_DMA_STATUS	    2
#define ATA_DMA_TABLE_OFS   4
#define ATA_BM_CHAN_SIZE    8
#define ATA_DMA_START	    0x01 /* command */
#define ATA_DMA_WR	    0x08 /* command: the controller writes memory (a disk read) */
#define ATA_DMA_ACTIVE	    0x01 /* status */
#define ATA_DMA_ERR	    0x02 /* status, write 1 to clear */
#define ATA_DMA_INTR	    0x04 /* status, write 1 to clear */
#define ATA_DMA_DRV_CAP	    0x60 /* status: drive 0/1 DMA capable, the driver's to set */
#define ATA_PRD_EOT	    0x80000000u
#define ATA_PRD_TABLE_SPAN  0x10000u /* a PRD table may not cross a 64 KiB boundary */
#define ATA_PRD_ENTRY_SIZE  8
#define ATA_PRD_MAX_ENTRIES (ATA_PRD_TABLE_SPAN / ATA_PRD_ENTRY_SIZE)

#define ATA_SECTOR	    512u
#define ATA_MAX_MULT	    16 /* sectors per DRQ block for READ/WRITE MULTIPLE */
#define ATA_BUF_SIZE	    ((size_t)ATA_MAX_MULT * ATA_SECTOR)
#define ATA_LBA28_MAX	    0x0fffffffull /* sectors an LBA28 command reaches (IDENTIFY words 60-61) */

/* What the command line says about a disk. */
struct ata_drive_info {
	uint64_t sectors;
	bool readonly;
	const char *serial, *model, *firmware; /* ASCII, cut to 20, 40 and 8 characters */
};

struct ata_drive {
	bool present;
	uint64_t sectors;
	bool readonly;
	char serial[21], model[41], firmware[9];
	uint16_t cyls, heads, spt;   /* the default CHS translation */
	uint16_t cur_heads, cur_spt; /* INITIALIZE DEVICE PARAMETERS */
	uint8_t status, error;
	uint8_t mult;	   /* sectors per block for READ/WRITE MULTIPLE; 0: they abort */
	bool wcache;	   /* volatile write cache on: writes complete before a flush */
	uint8_t xfer_mode; /* SET FEATURES 03h value: 0 is the default PIO mode */
};

/* The command block both drives latch (ATA-6 writes reach both), each byte with its previous
 * value for LBA48 reads with HOB set. */
struct ata_taskfile {
	uint8_t feature, nsect, lbal, lbam, lbah;
	uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
	uint8_t device;
};

enum ata_phase {
	ATA_IDLE,
	ATA_PIO_IN,   /* DRQ: the host reads the buffer */
	ATA_PIO_OUT,  /* DRQ: the host fills the buffer */
	ATA_DMA_WAIT, /* a DMA command waits for the bus master's start bit */
	ATA_ENGINE,   /* BSY: a read, write or flush is with the engine */
};

/* What the engine request in flight is for. */
enum ata_step { ATA_STEP_READ, ATA_STEP_WRITE, ATA_STEP_FLUSH, ATA_STEP_DMA };

struct ata_chan;

struct ata_ops {
	/* Start ch->io on drive `unit`'s disk (lock held; vCPU or I/O thread). The engine calls
	 * ch->io.done once it completes, on its own thread and without the lock. */
	void (*submit)(void *ctx, struct ata_chan *ch, unsigned unit);
	/* Optional (lock held, vCPU or I/O thread): the channel set DRQ for a PIO data-out block.
	 * Its data-port writes may wait in KVM's coalesced ring, where nothing but a drain makes
	 * them arrive: the glue makes sure one comes. */
	void (*pio_out_wait)(void *ctx, struct ata_chan *ch);
};

/* The bus-master half of the channel and the DMA transfer's position in the PRD table. */
struct ata_bm {
	uint8_t cmd, status;
	uint32_t table;
	bool master_enabled;  /* PCI command bit: without it DMA is a master abort */
	bool exact;	      /* the PRD table ends (EOT) exactly where the transfer does */
	bool stopped;	      /* the start bit was cleared while a chunk was in flight */
	uint64_t entry;	      /* guest address of the PRD entry the next chunk starts in */
	uint32_t entry_off;   /* bytes of that entry already transferred */
	uint64_t done, total; /* bytes of the transfer moved, and to move */
};

struct ata_stats {
	uint64_t commands, errors, irqs;
	/* Data register traps (a rep burst is one) each way, and the bytes PIO moved. */
	uint64_t data_reads, data_writes, pio_bytes;
	uint64_t dma_bytes, dma_errors;
	uint64_t ignored; /* writes while BSY/DRQ, data accesses without DRQ */
	/* Writes the doorbells swallowed (ata_db.c), and reads of them whose order was open. */
	uint64_t db_commands, db_starts, db_stops, db_ambiguous;
};

struct ata_chan {
	pthread_mutex_t lock;

	/* Wiring. */
	struct vmm_irq irq;
	const struct ata_ops *ops;
	void *ctx;
	const struct gmem *mem;

	struct ata_drive drive[2];

	/* Registers. */
	struct ata_taskfile tf;
	uint8_t devctl;
	unsigned sel;	  /* the DEV bit: the drive the registers talk to */
	bool irq_pending; /* INTRQ wanted: set at the end of a step, cleared by status/command */
	bool irq_level;	  /* what the line was last driven to */

	/* The command in progress. */
	enum ata_phase phase;
	uint8_t cmd;
	unsigned unit;
	bool write;
	uint64_t lba;	/* the next sector to move */
	uint32_t left;	/* sectors still to move, the current block included */
	uint32_t block; /* sectors per DRQ block */
	uint32_t cur;	/* sectors in the current block or engine request */
	bool from_disk; /* PIO-in data read from the disk (not IDENTIFY's) */
	uint8_t *buf;	/* ATA_BUF_SIZE, page aligned */
	unsigned pos, end;

	/* The engine request; the engine's from submit until done(). */
	struct host_blk_io io;
	enum ata_step step;
	bool inflight;
	bool reset_pending; /* SRST ended while a request was in flight: finish it on return */
	unsigned gen;	    /* bumped by SRST: a request of an older generation is dropped */
	unsigned io_gen;    /* the generation of the request in flight */

	struct ata_bm bm;
	struct ata_stats stats;
};

int ata_chan_init(struct ata_chan *ch, struct vmm_irq irq, const struct ata_ops *ops, void *ctx,
		  const struct gmem *mem);
void ata_chan_destroy(struct ata_chan *ch);
/* Puts a hard disk at unit 0 (master) or 1 (slave), before the guest runs. */
void ata_drive_attach(struct ata_chan *ch, unsigned unit, const struct ata_drive_info *info);
/* The 256 words of IDENTIFY DEVICE for drive d, little-endian (ata_identify.c). */
void ata_identify(const struct ata_drive *d, unsigned unit, uint16_t out[256]);

/* ---- the register core; each call takes ch->lock ---- */

/* Command block registers 1-7. A status read acknowledges the interrupt. */
uint8_t ata_read(struct ata_chan *ch, unsigned reg);
/* Registers 1-6 latch; 7 starts a command. */
void ata_write(struct ata_chan *ch, unsigned reg, uint8_t val);
/* The data register: `count` elements of `len` (2 or 4) bytes in one go (rep ins/outs). */
void ata_data_read(struct ata_chan *ch, uint8_t *data, unsigned len, unsigned count);
void ata_data_write(struct ata_chan *ch, const uint8_t *data, unsigned len, unsigned count);
/* Control block: alternate status (no acknowledgement) and device control (nIEN, SRST, HOB). */
uint8_t ata_alt_status(struct ata_chan *ch);
void ata_devctl_write(struct ata_chan *ch, uint8_t val);

/* Bus-master registers at offset 0-7 (ata_dma.c). Return 0, or -EINVAL for an access the
 * registers do not take (width, reserved bytes). */
int ata_bm_read(struct ata_chan *ch, unsigned off, uint8_t *data, unsigned len);
int ata_bm_write(struct ata_chan *ch, unsigned off, const uint8_t *data, unsigned len);
/* The PCI command register's bus-master enable. */
void ata_bm_set_master(struct ata_chan *ch, bool on);

/* ---- the command doorbells (ata_db.c, opt=cmd) ---- */

/* The writes KVM may swallow, by register and value, one eventfd each (ATA_DB_LEN bytes
 * wide), in the order ata_db_apply applies their counts. */
enum ata_db_block { ATA_DB_CMD, ATA_DB_BM }; /* the command block, the channel's bus master */
enum {
	ATA_DB_STOP,
	ATA_DB_STOP_WR,
	ATA_DB_READ_DMA,
	ATA_DB_READ_DMA_EXT,
	ATA_DB_WRITE_DMA,
	ATA_DB_WRITE_DMA_EXT,
	ATA_DB_START,
	ATA_DB_START_WR,
	ATA_DB_VALUES
};
#define ATA_DB_LEN 1
struct ata_db_value {
	enum ata_db_block block;
	uint8_t off, val; /* offset in the block, the value written */
};
extern const struct ata_db_value ata_db_values[ATA_DB_VALUES];
/* The doorbell a write of `len` bytes of val at off swallows, or -1: the write exits. */
int ata_db_find(enum ata_db_block block, unsigned off, unsigned len, uint64_t val);
/* Takes ch->lock: the writes counted since the last read (count[i] of ata_db_values[i]), as
 * if they had exited, in the order ata_db.c argues for. */
void ata_db_apply(struct ata_chan *ch, const uint64_t count[ATA_DB_VALUES]);

/* Bus glue (vmm_trap_fn / vmm_trap_rep_fn) for the command and control blocks. */
int ata_cmd_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);
int ata_cmd_trap_rep(void *dev, uint64_t off, uint8_t *data, unsigned len, unsigned count,
		     bool is_write);
int ata_ctl_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

/* ---- between ata.c, ata_cmd.c and ata_dma.c (lock held) ---- */

#define ATA_STATUS_READY (ATA_DRDY | ATA_DSC)

/* ata.c */
void ata_raise_irq(struct ata_chan *ch);
void ata_update_irq(struct ata_chan *ch);
void ata_set_signature(struct ata_chan *ch);
void ata_reset_finish(struct ata_chan *ch);
/* ata_cmd.c */
void ata_command(struct ata_chan *ch, uint8_t cmd);
void ata_pio_in_consumed(struct ata_chan *ch);
void ata_pio_out_full(struct ata_chan *ch);
/* Ends the command: the drive ready, or ERR with `error`; the interrupt follows. */
void ata_cmd_done(struct ata_chan *ch, uint8_t error);
/* Hands ch->io to the engine for the command's drive. */
void ata_submit(struct ata_chan *ch, enum ata_step step);
void ata_submit_flush(struct ata_chan *ch);
/* ata_dma.c: a write to the bus-master command register. */
void ata_bm_cmd_write(struct ata_chan *ch, uint8_t val);
/* ata_dma.c: a DMA command is waiting and the bus master is started: go. */
void ata_dma_begin(struct ata_chan *ch);
/* ata_dma.c: the engine finished a DMA chunk (ok or not). */
void ata_dma_chunk_done(struct ata_chan *ch, bool ok);

#endif
