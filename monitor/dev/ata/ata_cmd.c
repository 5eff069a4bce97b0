/* SPDX-License-Identifier: MIT */
/*
 * ATA commands and their data phases (ATA/ATAPI-6 chapters 8 and 9), run by the register core
 * with the channel lock held.
 *
 * A PIO read moves one DRQ block per engine request: BSY while the engine reads it into the
 * buffer, then DRQ and an interrupt; when the host has read the block the next one is fetched.
 * A PIO write takes the block into the buffer under DRQ, then BSY while the engine writes it,
 * then DRQ and an interrupt for the next block, or the end of the command (after a flush when
 * the drive's write cache is off). Every address is checked against the capacity before any
 * data moves.
 */
#include "ata.h"

#include <string.h>

#include "host/util.h"

static void io_done(struct host_blk_io *io);

/* ------------------------------------------------------------ command endings --------------- */

void ata_cmd_done(struct ata_chan *ch, uint8_t error)
{
	struct ata_drive *d = &ch->drive[ch->unit];
	ch->phase = ATA_IDLE;
	ch->pos = ch->end = 0;
	d->error = error;
	d->status = error ? ATA_DRDY | ATA_ERR : ATA_STATUS_READY;
	if (error)
		ch->stats.errors++;
	ata_raise_irq(ch);
}

/* After a failed transfer the task file names the first sector that failed (ATA-6 outputs). */
static void set_tf_lba(struct ata_chan *ch, uint64_t lba)
{
	struct ata_taskfile *t = &ch->tf;
	t->lbal = (uint8_t)lba;
	t->lbam = (uint8_t)(lba >> 8);
	t->lbah = (uint8_t)(lba >> 16);
	t->hob_lbal = (uint8_t)(lba >> 24);
	t->hob_lbam = (uint8_t)(lba >> 32);
	t->hob_lbah = (uint8_t)(lba >> 40);
	if (lba <= ATA_LBA28_MAX && (t->device & ATA_LBA))
		t->device = (uint8_t)((t->device & 0xf0) | ((lba >> 24) & 0x0f));
}

void ata_submit(struct ata_chan *ch, enum ata_step step)
{
	ch->step = step;
	ch->phase = ATA_ENGINE;
	ch->drive[ch->unit].status = ATA_DRDY | ATA_BUSY;
	ch->io.req.status = NULL; /* ATA status lives in the registers, not in guest memory */
	ch->inflight = true;
	ch->io_gen = ch->gen;
	ch->io.done = io_done;
	ch->ops->submit(ch->ctx, ch, ch->unit);
}

static void set_rw(struct ata_chan *ch, uint32_t type, uint64_t sector, uint8_t *p, uint64_t len)
{
	struct blk_req *r = &ch->io.req;
	r->type = type;
	r->sector = sector;
	r->iov[0] = (struct iovec){.iov_base = p, .iov_len = len};
	r->niov = 1;
	r->len = len;
}

void ata_submit_flush(struct ata_chan *ch)
{
	set_rw(ch, VIRTIO_BLK_T_FLUSH, 0, ch->buf, 0);
	ch->io.req.niov = 0;
	ata_submit(ch, ATA_STEP_FLUSH);
}

/* ------------------------------------------------------------ PIO --------------------------- */

static uint32_t block_sectors(const struct ata_chan *ch)
{
	return ch->left < ch->block ? ch->left : ch->block;
}

static void pio_read_block(struct ata_chan *ch)
{
	ch->cur = block_sectors(ch);
	set_rw(ch, VIRTIO_BLK_T_IN, ch->lba, ch->buf, (uint64_t)ch->cur * ATA_SECTOR);
	ata_submit(ch, ATA_STEP_READ);
}

/* DRQ for the next block the host writes. */
static void pio_out_block(struct ata_chan *ch)
{
	ch->cur = block_sectors(ch);
	ch->pos = 0;
	ch->end = ch->cur * ATA_SECTOR;
	ch->phase = ATA_PIO_OUT;
	ch->drive[ch->unit].status = ATA_STATUS_READY | ATA_DRQ;
	if (ch->ops->pio_out_wait)
		ch->ops->pio_out_wait(ch->ctx, ch);
}

/* The buffer holds `bytes` for the host to read: DRQ and an interrupt. */
static void pio_in_ready(struct ata_chan *ch, unsigned bytes)
{
	ch->pos = 0;
	ch->end = bytes;
	ch->phase = ATA_PIO_IN;
	ch->drive[ch->unit].status = ATA_STATUS_READY | ATA_DRQ;
	ata_raise_irq(ch);
}

/* The host read the whole block: fetch the next, or end (no interrupt after the last block of
 * a PIO read, ATA-6 9.7). */
void ata_pio_in_consumed(struct ata_chan *ch)
{
	ch->left -= ch->cur;
	ch->lba += ch->cur;
	if (ch->from_disk && ch->left) {
		pio_read_block(ch);
		return;
	}
	ch->phase = ATA_IDLE;
	ch->pos = ch->end = 0;
	ch->drive[ch->unit].status = ATA_STATUS_READY;
}

/* The host filled the block: write it. */
void ata_pio_out_full(struct ata_chan *ch)
{
	set_rw(ch, VIRTIO_BLK_T_OUT, ch->lba, ch->buf, (uint64_t)ch->cur * ATA_SECTOR);
	ata_submit(ch, ATA_STEP_WRITE);
}

/* The engine wrote the block: DRQ and an interrupt for the next, or the end of the command. */
static void pio_written(struct ata_chan *ch)
{
	ch->left -= ch->cur;
	ch->lba += ch->cur;
	if (ch->left) {
		pio_out_block(ch);
		ata_raise_irq(ch);
	} else if (!ch->drive[ch->unit].wcache) {
		ata_submit_flush(
			ch); /* write-through: the data is stable before the command ends */
	} else {
		ata_cmd_done(ch, 0);
	}
}

/* ------------------------------------------------------------ commands ---------------------- */

enum rw_mode { RW_PIO, RW_MULT, RW_DMA };

/* The command's first sector and count from the task file (LBA48, LBA28 or CHS through the
 * current translation). False for a CHS address the translation does not have. */
static bool decode_address(const struct ata_chan *ch, bool lba48, uint64_t *lba, uint32_t *count)
{
	const struct ata_taskfile *t = &ch->tf;
	const struct ata_drive *d = &ch->drive[ch->unit];
	if (lba48) {
		*lba = (uint64_t)t->hob_lbah << 40 | (uint64_t)t->hob_lbam << 32 |
		       (uint64_t)t->hob_lbal << 24 | (uint64_t)t->lbah << 16 |
		       (uint64_t)t->lbam << 8 | t->lbal;
		*count = (uint32_t)t->hob_nsect << 8 | t->nsect;
		if (!*count)
			*count = 65536;
		return true;
	}
	*count = t->nsect ? t->nsect : 256;
	if (t->device & ATA_LBA) {
		*lba = (uint64_t)(t->device & 0x0f) << 24 | (uint64_t)t->lbah << 16 |
		       (uint64_t)t->lbam << 8 | t->lbal;
		return true;
	}
	unsigned cyl = (unsigned)t->lbah << 8 | t->lbam, head = t->device & 0x0f, sect = t->lbal;
	if (!sect || sect > d->cur_spt || head >= d->cur_heads)
		return false;
	*lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_spt + sect - 1;
	return true;
}

static void cmd_rw(struct ata_chan *ch, bool write, bool lba48, enum rw_mode mode)
{
	struct ata_drive *d = &ch->drive[ch->unit];
	uint64_t lba;
	uint32_t count;
	/* The whole range is checked before any data moves: a count of 0 (256 or 65536 sectors)
	 * that crosses the end fails up front, with nothing transferred. */
	if (!decode_address(ch, lba48, &lba, &count) || lba > d->sectors ||
	    count > d->sectors - lba) {
		ata_cmd_done(ch, ATA_IDNF);
		return;
	}
	if ((write && d->readonly) || (mode == RW_MULT && !d->mult)) {
		ata_cmd_done(ch, ATA_ABORTED);
		return;
	}
	ch->write = write;
	ch->lba = lba;
	ch->left = count;
	ch->block = mode == RW_MULT ? d->mult : 1;
	ch->from_disk = true;
	if (mode == RW_DMA) {
		/* DMARQ: the data moves once the bus master is started (it may be already). */
		ch->phase = ATA_DMA_WAIT;
		d->status = ATA_STATUS_READY | ATA_DRQ;
		if ((ch->bm.cmd & ATA_DMA_START) && (ch->bm.status & ATA_DMA_ACTIVE))
			ata_dma_begin(ch);
	} else if (write) {
		pio_out_block(ch); /* no interrupt before the first block of a PIO write */
	} else {
		pio_read_block(ch);
	}
}

static void cmd_identify(struct ata_chan *ch)
{
	uint16_t id[256];
	ata_identify(&ch->drive[ch->unit], ch->unit, id);
	memcpy(ch->buf, id, sizeof(id));
	ch->cur = ch->left = 1;
	ch->from_disk = false;
	pio_in_ready(ch, sizeof(id));
}

static void cmd_set_multiple(struct ata_chan *ch)
{
	unsigned n = ch->tf.nsect;
	/* A power of two up to IDENTIFY word 47's maximum; 0 turns MULTIPLE commands off. */
	if (n > ATA_MAX_MULT || (n & (n - 1))) {
		ata_cmd_done(ch, ATA_ABORTED);
		return;
	}
	ch->drive[ch->unit].mult = (uint8_t)n;
	ata_cmd_done(ch, 0);
}

/* SET FEATURES 03h: the transfer modes IDENTIFY advertises (ATA-6 table 43). */
static bool xfer_mode_ok(uint8_t mode)
{
	unsigned n = mode & 7;
	switch (mode >> 3) {
	case 0: /* PIO default, with or without IORDY */
		return n <= 1;
	case 1: /* PIO flow control mode n */
		return n <= 4;
	case 4: /* multiword DMA mode n */
		return n <= 2;
	case 8: /* Ultra DMA mode n */
		return n <= 5;
	}
	return false;
}

static void cmd_set_features(struct ata_chan *ch)
{
	struct ata_drive *d = &ch->drive[ch->unit];
	switch (ch->tf.feature) {
	case SETFEATURES_EN_WCACHE:
		d->wcache = true;
		break;
	case SETFEATURES_DIS_WCACHE:
		d->wcache = false;
		break;
	case 0x03: /* set transfer mode from the sector count */
		if (!xfer_mode_ok(ch->tf.nsect)) {
			ata_cmd_done(ch, ATA_ABORTED);
			return;
		}
		d->xfer_mode = ch->tf.nsect;
		break;
	default:
		ata_cmd_done(ch, ATA_ABORTED);
		return;
	}
	ata_cmd_done(ch, 0);
}

static void cmd_init_params(struct ata_chan *ch)
{
	struct ata_drive *d = &ch->drive[ch->unit];
	if (!ch->tf.nsect) {
		ata_cmd_done(ch, ATA_ABORTED);
		return;
	}
	d->cur_spt = ch->tf.nsect;
	d->cur_heads = (uint16_t)((ch->tf.device & 0x0f) + 1);
	ata_cmd_done(ch, 0);
}

/* Both drives run their diagnostics whichever is selected; device 0 reports and interrupts. */
static void cmd_diagnose(struct ata_chan *ch)
{
	for (unsigned u = 0; u < 2; u++) {
		if (!ch->drive[u].present)
			continue;
		ch->drive[u].status = ATA_STATUS_READY;
		ch->drive[u].error = ATA_DIAG_OK;
	}
	ata_set_signature(ch);
	ch->phase = ATA_IDLE;
	ata_raise_irq(ch);
}

void ata_command(struct ata_chan *ch, uint8_t cmd)
{
	struct ata_drive *d = &ch->drive[ch->sel];
	if (!d->present)
		return; /* nothing answers for an absent drive */
	if ((d->status & (ATA_BUSY | ATA_DRQ)) || ch->phase != ATA_IDLE || ch->inflight) {
		ch->stats.ignored++; /* only a reset stops a command in progress */
		return;
	}
	ch->stats.commands++;
	ch->irq_pending = false; /* writing the command register acknowledges, as a status read */
	ata_update_irq(ch);
	ch->cmd = cmd;
	ch->unit = ch->sel;
	d->error = 0;
	d->status = ATA_DRDY | ATA_BUSY;
	switch (cmd) {
	case WIN_READ:
	case WIN_READ_ONCE:
	case WIN_READ_EXT:
		cmd_rw(ch, false, cmd == WIN_READ_EXT, RW_PIO);
		break;
	case WIN_WRITE:
	case WIN_WRITE_ONCE:
	case WIN_WRITE_EXT:
		cmd_rw(ch, true, cmd == WIN_WRITE_EXT, RW_PIO);
		break;
	case WIN_MULTREAD:
	case WIN_MULTREAD_EXT:
		cmd_rw(ch, false, cmd == WIN_MULTREAD_EXT, RW_MULT);
		break;
	case WIN_MULTWRITE:
	case WIN_MULTWRITE_EXT:
		cmd_rw(ch, true, cmd == WIN_MULTWRITE_EXT, RW_MULT);
		break;
	case WIN_READDMA:
	case WIN_READDMA_ONCE:
	case WIN_READDMA_EXT:
		cmd_rw(ch, false, cmd == WIN_READDMA_EXT, RW_DMA);
		break;
	case WIN_WRITEDMA:
	case WIN_WRITEDMA_ONCE:
	case WIN_WRITEDMA_EXT:
		cmd_rw(ch, true, cmd == WIN_WRITEDMA_EXT, RW_DMA);
		break;
	case WIN_FLUSH_CACHE:
	case WIN_FLUSH_CACHE_EXT:
		ata_submit_flush(ch);
		break;
	case WIN_IDENTIFY:
		cmd_identify(ch);
		break;
	case WIN_SETMULT:
		cmd_set_multiple(ch);
		break;
	case WIN_SETFEATURES:
		cmd_set_features(ch);
		break;
	case WIN_SPECIFY: /* INITIALIZE DEVICE PARAMETERS */
		cmd_init_params(ch);
		break;
	case WIN_DIAGNOSE:
		cmd_diagnose(ch);
		break;
	default: /* IDENTIFY PACKET DEVICE included: a hard disk is no packet device */
		ata_cmd_done(ch, ATA_ABORTED);
		break;
	}
}

/* ------------------------------------------------------------ engine completions ------------ */

static void io_done(struct host_blk_io *io)
{
	struct ata_chan *ch = container_of(io, struct ata_chan, io);
	pthread_mutex_lock(&ch->lock);
	bool ok = io->status == VIRTIO_BLK_S_OK;
	ch->inflight = false;
	if (ch->io_gen != ch->gen) {
		/* A reset abandoned the command; the buffer is free again, so a reset that was
		 * waiting for it can end now. */
		if (ch->reset_pending)
			ata_reset_finish(ch);
		pthread_mutex_unlock(&ch->lock);
		return;
	}
	switch (ch->step) {
	case ATA_STEP_READ:
		if (ok) {
			pio_in_ready(ch, ch->cur * ATA_SECTOR);
		} else {
			set_tf_lba(ch, ch->lba);
			ata_cmd_done(ch, ATA_UNC);
		}
		break;
	case ATA_STEP_WRITE:
		if (ok) {
			pio_written(ch);
		} else {
			set_tf_lba(ch, ch->lba);
			ata_cmd_done(ch, ATA_ABORTED);
		}
		break;
	case ATA_STEP_FLUSH:
		ata_cmd_done(ch, ok ? 0 : ATA_ABORTED);
		break;
	case ATA_STEP_DMA:
		ata_dma_chunk_done(ch, ok);
		break;
	}
	pthread_mutex_unlock(&ch->lock);
}
