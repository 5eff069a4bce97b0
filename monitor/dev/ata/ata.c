/* SPDX-License-Identifier: MIT */
/*
 * The ATA register core: task file, status and interrupts, reset, and the data register. The
 * commands and their data phases are in ata_cmd.c, DMA and the bus-master registers in
 * ata_dma.c, IDENTIFY's data in ata_identify.c.
 */
#include "ata.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define DEFAULT_HEADS 16
#define DEFAULT_SPT   63
#define MAX_CYLS      16383

int ata_chan_init(struct ata_chan *ch, struct vmm_irq irq, const struct ata_ops *ops, void *ctx,
		  const struct gmem *mem)
{
	memset(ch, 0, sizeof(*ch));
	/* Pages of its own (aligned for O_DIRECT), so that a buffer the kernel may still write
	 * after the I/O thread stopped can be left mapped (ata_chan_destroy). */
	void *buf = mmap(NULL, ATA_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (buf == MAP_FAILED)
		return -ENOMEM;
	ch->buf = buf;
	pthread_mutex_init(&ch->lock, NULL);
	ch->irq = irq;
	ch->ops = ops;
	ch->ctx = ctx;
	ch->mem = mem;
	ch->tf.device = 0xa0; /* the obsolete bits 7 and 5 set, as drives power up */
	return 0;
}

void ata_chan_destroy(struct ata_chan *ch)
{
	if (!ch->buf)
		return;
	pthread_mutex_destroy(&ch->lock);
	/* A request the stopped I/O thread never reaped may still be filling the buffer (the
	 * kernel finishes it after the ring is gone): leave those pages to the exiting process. */
	if (!ch->inflight)
		munmap(ch->buf, ATA_BUF_SIZE);
	ch->buf = NULL;
}

static void copy_id(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;
	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
}

/* The signature an ATA device leaves after a reset or diagnostic (ATA-6, 9.12). */
void ata_set_signature(struct ata_chan *ch)
{
	ch->tf.nsect = 1;
	ch->tf.lbal = 1;
	ch->tf.lbam = 0;
	ch->tf.lbah = 0;
	ch->tf.device &= 0xf0; /* head bits; the DEV bit stays, as in QEMU */
}

void ata_drive_attach(struct ata_chan *ch, unsigned unit, const struct ata_drive_info *info)
{
	struct ata_drive *d = &ch->drive[unit & 1];
	memset(d, 0, sizeof(*d));
	d->present = true;
	d->sectors = info->sectors;
	d->readonly = info->readonly;
	copy_id(d->serial, sizeof(d->serial), info->serial);
	copy_id(d->model, sizeof(d->model), info->model);
	copy_id(d->firmware, sizeof(d->firmware), info->firmware);
	uint64_t cyls = info->sectors / ((uint64_t)DEFAULT_HEADS * DEFAULT_SPT);
	d->cyls = (uint16_t)(cyls > MAX_CYLS ? MAX_CYLS : cyls ? cyls : 1);
	d->heads = d->cur_heads = DEFAULT_HEADS;
	d->spt = d->cur_spt = DEFAULT_SPT;
	d->status = ATA_STATUS_READY;
	d->error = ATA_DIAG_OK;
	d->mult = ATA_MAX_MULT; /* QEMU's power-on value */
	d->wcache = true;
	ata_set_signature(ch);
}

/* ------------------------------------------------------------ interrupts -------------------- */

/* The line follows the pending interrupt unless nIEN masks it. The PIIX latches every rising
 * edge in the bus-master status (SFF-8038i, Interrupt bit), DMA or not. */
void ata_update_irq(struct ata_chan *ch)
{
	bool level = ch->irq_pending && !(ch->devctl & ATA_NIEN);
	if (level == ch->irq_level)
		return;
	ch->irq_level = level;
	if (level) {
		ch->bm.status |= ATA_DMA_INTR;
		ch->stats.irqs++;
	}
	vmm_irq_set(&ch->irq, level);
}

void ata_raise_irq(struct ata_chan *ch)
{
	ch->irq_pending = true;
	ata_update_irq(ch);
}

/* ------------------------------------------------------------ registers --------------------- */

static bool no_drives(const struct ata_chan *ch)
{
	return !ch->drive[0].present && !ch->drive[1].present;
}

/* What the selected drive shows: an absent one reads 0 (as QEMU's: Linux and SeaBIOS probe
 * for that), and a channel without drives reads 0 everywhere. */
static uint8_t status_of(const struct ata_chan *ch)
{
	const struct ata_drive *d = &ch->drive[ch->sel];
	return d->present ? d->status : 0;
}

static uint8_t read_locked(struct ata_chan *ch, unsigned reg)
{
	const struct ata_taskfile *t = &ch->tf;
	bool hob = ch->devctl & ATA_HOB;
	if (reg == ATA_REG_STATUS) {
		ch->irq_pending = false; /* reading status acknowledges the interrupt */
		ata_update_irq(ch);
		return status_of(ch);
	}
	if (no_drives(ch))
		return 0;
	switch (reg) {
	case ATA_REG_ERR:
		return ch->drive[ch->sel].present ? ch->drive[ch->sel].error : 0;
	case ATA_REG_NSECT:
		return hob ? t->hob_nsect : t->nsect;
	case ATA_REG_LBAL:
		return hob ? t->hob_lbal : t->lbal;
	case ATA_REG_LBAM:
		return hob ? t->hob_lbam : t->lbam;
	case ATA_REG_LBAH:
		return hob ? t->hob_lbah : t->lbah;
	case ATA_REG_DEVICE:
		return t->device;
	}
	return 0;
}

uint8_t ata_read(struct ata_chan *ch, unsigned reg)
{
	pthread_mutex_lock(&ch->lock);
	uint8_t val = read_locked(ch, reg);
	pthread_mutex_unlock(&ch->lock);
	return val;
}

/* A register write pushes the old byte into its HOB copy (ATA-6 6.20: a two-byte FIFO). */
static void latch(uint8_t *reg, uint8_t *hob, uint8_t val)
{
	*hob = *reg;
	*reg = val;
}

static void write_locked(struct ata_chan *ch, unsigned reg, uint8_t val)
{
	struct ata_taskfile *t = &ch->tf;
	if (reg == ATA_REG_STATUS) {
		ata_command(ch, val);
		return;
	}
	if (status_of(ch) & (ATA_BUSY | ATA_DRQ)) {
		ch->stats.ignored++; /* the drive owns the task file while busy (as QEMU) */
		return;
	}
	ch->devctl &= (uint8_t)~ATA_HOB; /* any command block write clears HOB (ATA-6 7.9) */
	switch (reg) {
	case ATA_REG_ERR:
		latch(&t->feature, &t->hob_feature, val);
		break;
	case ATA_REG_NSECT:
		latch(&t->nsect, &t->hob_nsect, val);
		break;
	case ATA_REG_LBAL:
		latch(&t->lbal, &t->hob_lbal, val);
		break;
	case ATA_REG_LBAM:
		latch(&t->lbam, &t->hob_lbam, val);
		break;
	case ATA_REG_LBAH:
		latch(&t->lbah, &t->hob_lbah, val);
		break;
	case ATA_REG_DEVICE:
		t->device = val;
		ch->sel = (val & ATA_DEV1) ? 1 : 0;
		break;
	}
}

void ata_write(struct ata_chan *ch, unsigned reg, uint8_t val)
{
	pthread_mutex_lock(&ch->lock);
	write_locked(ch, reg, val);
	pthread_mutex_unlock(&ch->lock);
}

uint8_t ata_alt_status(struct ata_chan *ch)
{
	pthread_mutex_lock(&ch->lock);
	uint8_t val = status_of(ch);
	pthread_mutex_unlock(&ch->lock);
	return val;
}

/* ------------------------------------------------------------ reset ------------------------- */

void ata_reset_finish(struct ata_chan *ch)
{
	ch->reset_pending = false;
	for (unsigned u = 0; u < 2; u++) {
		if (!ch->drive[u].present)
			continue;
		ch->drive[u].status = ATA_STATUS_READY;
		ch->drive[u].error = ATA_DIAG_OK;
	}
	ata_set_signature(ch);
}

/* SRST set: both drives abandon what they were doing and stay BSY until it clears. */
static void reset_assert(struct ata_chan *ch)
{
	ch->gen++;
	ch->phase = ATA_IDLE;
	ch->pos = ch->end = 0;
	ch->irq_pending = false;
	ch->bm.status &= (uint8_t)~ATA_DMA_ACTIVE; /* a transfer in progress stops */
	for (unsigned u = 0; u < 2; u++)
		if (ch->drive[u].present)
			ch->drive[u].status = ATA_BUSY | ATA_DSC;
}

void ata_devctl_write(struct ata_chan *ch, uint8_t val)
{
	pthread_mutex_lock(&ch->lock);
	bool was = ch->devctl & ATA_SRST, now = val & ATA_SRST;
	ch->devctl = val & (ATA_NIEN | ATA_SRST | ATA_HOB);
	if (!was && now)
		reset_assert(ch);
	else if (was && !now && ch->inflight)
		ch->reset_pending = true; /* the engine still holds the buffer: finish on return */
	else if (was && !now)
		ata_reset_finish(ch);
	ata_update_irq(ch);
	pthread_mutex_unlock(&ch->lock);
}

/* ------------------------------------------------------------ the data register ------------- */

void ata_data_read(struct ata_chan *ch, uint8_t *data, unsigned len, unsigned count)
{
	size_t n = (size_t)len * count, take = 0;
	pthread_mutex_lock(&ch->lock);
	ch->stats.data_reads++;
	if (ch->phase == ATA_PIO_IN && ch->sel == ch->unit) {
		take = ch->end - ch->pos < n ? ch->end - ch->pos : n;
		memcpy(data, ch->buf + ch->pos, take);
		ch->pos += (unsigned)take;
		ch->stats.pio_bytes += take;
		if (ch->pos == ch->end)
			ata_pio_in_consumed(ch);
	} else {
		ch->stats.ignored++;
	}
	/* Without DRQ (or past the block) the data register reads 0, as QEMU's does. */
	memset(data + take, 0, n - take);
	pthread_mutex_unlock(&ch->lock);
}

void ata_data_write(struct ata_chan *ch, const uint8_t *data, unsigned len, unsigned count)
{
	size_t n = (size_t)len * count;
	pthread_mutex_lock(&ch->lock);
	ch->stats.data_writes++;
	if (ch->phase == ATA_PIO_OUT && ch->sel == ch->unit) {
		size_t take = ch->end - ch->pos < n ? ch->end - ch->pos : n;
		memcpy(ch->buf + ch->pos, data, take);
		ch->pos += (unsigned)take;
		ch->stats.pio_bytes += take;
		if (ch->pos == ch->end)
			ata_pio_out_full(ch);
	} else {
		ch->stats.ignored++; /* no DRQ: the write goes nowhere */
	}
	pthread_mutex_unlock(&ch->lock);
}

/* ------------------------------------------------------------ bus glue ---------------------- */

int ata_cmd_trap_rep(void *dev, uint64_t off, uint8_t *data, unsigned len, unsigned count,
		     bool is_write)
{
	struct ata_chan *ch = dev;
	if (off == ATA_REG_DATA) {
		/* 16- and 32-bit data transfers; a byte access to the data register is refused. */
		if (len != 2 && len != 4)
			return -EINVAL;
		if (is_write)
			ata_data_write(ch, data, len, count);
		else
			ata_data_read(ch, data, len, count);
		return 0;
	}
	if (len != 1 || off >= ATA_CMD_PORTS)
		return -EINVAL;
	for (unsigned i = 0; i < count; i++) {
		if (is_write)
			ata_write(ch, (unsigned)off, data[i]);
		else
			data[i] = ata_read(ch, (unsigned)off);
	}
	return 0;
}

int ata_cmd_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	return ata_cmd_trap_rep(dev, off, data, len, 1, is_write);
}

int ata_ctl_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct ata_chan *ch = dev;
	if (off != 0 || len != 1)
		return -EINVAL;
	if (is_write)
		ata_devctl_write(ch, data[0]);
	else
		data[0] = ata_alt_status(ch);
	return 0;
}
