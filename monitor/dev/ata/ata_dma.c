/* SPDX-License-Identifier: MIT */
/*
 * Bus-master IDE DMA (SFF-8038i rev 1.0): the channel's command, status and PRD table registers,
 * and the transfer through the table in guest memory.
 *
 * A transfer starts once both sides want it: a DMA command waits for the start bit, or the start
 * bit was set before the command. The whole table is then checked before any data moves: every
 * entry and every buffer must be guest RAM, the entries must cover the transfer before the EOT
 * bit and before the table's 64 KiB block ends. Any failure is a bus-master error (Error and
 * Interrupt set, Active clear) with the command aborted and its interrupt raised, so the driver
 * sees it at once; nothing outside guest RAM is ever touched. A table longer than the transfer
 * is a normal completion that leaves Active set (the spec's Interrupt=1, Active=1 case). The
 * checked data then goes to the engine straight from and to guest memory, in chunks of at most
 * BLK_MAX_IOV pieces that each end on a sector boundary; every chunk walks the table again with
 * the same checks, so a table the guest rewrites meanwhile fails cleanly too.
 */
#include "ata.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

struct prd_cursor {
	uint64_t entry; /* guest address of the entry */
	uint32_t off;	/* bytes of it already walked */
};

/* Reads one entry: its buffer, length (0 means 64 KiB) and EOT bit. */
static int prd_read(const struct ata_chan *ch, uint64_t entry, uint32_t *addr, uint32_t *len,
		    bool *eot)
{
	uint64_t limit = (ch->bm.table & ~(uint64_t)(ATA_PRD_TABLE_SPAN - 1)) + ATA_PRD_TABLE_SPAN;
	uint32_t e[2];
	if (entry + ATA_PRD_ENTRY_SIZE > limit)
		return -E2BIG; /* no EOT within the table's 64 KiB block */
	if (gmem_read(ch->mem, entry, e, sizeof(e)))
		return -EFAULT;
	uint32_t n = le32toh(e[1]) & 0xfffe; /* bit 0 of base and count are ignored */
	*addr = le32toh(e[0]) & ~1u;
	*len = n ? n : 0x10000;
	*eot = le32toh(e[1]) & ATA_PRD_EOT;
	return 0;
}

/* Appends a piece, merged with the last one when contiguous in host memory. False if full. */
static bool iov_add(struct iovec *iov, unsigned *niov, uint8_t *p, uint64_t n)
{
	if (*niov && (uint8_t *)iov[*niov - 1].iov_base + iov[*niov - 1].iov_len == p) {
		iov[*niov - 1].iov_len += n;
		return true;
	}
	if (*niov == BLK_MAX_IOV)
		return false;
	iov[(*niov)++] = (struct iovec){.iov_base = p, .iov_len = n};
	return true;
}

/*
 * Walks up to `want` bytes of the table from c. Without iov it only checks that the buffers are
 * guest RAM; with iov it appends them as host pieces and may stop early when the list is full.
 * *moved says how far c got. Returns 0, -EFAULT (an entry or buffer outside RAM), -ENODATA (EOT
 * before `want` bytes) or -E2BIG (no EOT within the 64 KiB block). *exact: the walk ended at
 * the end of the EOT entry.
 */
static int prd_walk(const struct ata_chan *ch, struct prd_cursor *c, uint64_t want,
		    struct iovec *iov, unsigned *niov, uint64_t *moved, bool *exact)
{
	*moved = 0;
	*exact = false;
	while (*moved < want) {
		uint32_t addr, len;
		bool eot;
		int ret = prd_read(ch, c->entry, &addr, &len, &eot);
		if (ret)
			return ret;
		if (c->off >= len)
			return -ENODATA; /* only an EOT entry is left fully walked */
		uint64_t take = len - c->off < want - *moved ? len - c->off : want - *moved;
		uint64_t gpa = (uint64_t)addr + c->off, took;
		if (!iov && !gmem_contains(ch->mem, gpa, take))
			return -EFAULT;
		for (took = iov ? 0 : take; took < take;) {
			uint64_t contig;
			uint8_t *p = gmem_ptr_prefix(ch->mem, gpa + took, take - took, &contig);
			if (!p)
				return -EFAULT;
			if (!iov_add(iov, niov, p, contig))
				break;
			took += contig;
		}
		*moved += took;
		c->off += (uint32_t)took;
		if (took < take)
			return 0; /* the piece list is full */
		if (c->off < len)
			continue;
		if (eot) {
			*exact = *moved == want;
			return *moved == want ? 0 : -ENODATA;
		}
		c->entry += ATA_PRD_ENTRY_SIZE;
		c->off = 0;
	}
	return 0;
}

/* The transfer cannot go on: a bus-master error, and the command aborted. */
static void dma_fail(struct ata_chan *ch)
{
	ch->bm.status = (uint8_t)((ch->bm.status & ~ATA_DMA_ACTIVE) | ATA_DMA_ERR);
	ch->stats.dma_errors++;
	ata_cmd_done(ch, ATA_ABORTED);
}

/* Starts the next chunk at the cursor: as much as BLK_MAX_IOV pieces hold, cut back to a sector
 * boundary unless it is the transfer's last. */
static void next_chunk(struct ata_chan *ch)
{
	struct ata_bm *bm = &ch->bm;
	struct blk_req *r = &ch->io.req;
	struct prd_cursor c = {bm->entry, bm->entry_off}, start = c;
	uint64_t want = bm->total - bm->done, moved, keep;
	bool exact;
	r->niov = 0;
	if (prd_walk(ch, &c, want, r->iov, &r->niov, &moved, &exact) || !moved) {
		dma_fail(ch);
		return;
	}
	keep = moved < want ? moved - moved % ATA_SECTOR : moved;
	if (keep != moved) {
		/* Give the tail back: trim the pieces and walk the cursor to the boundary. */
		uint64_t over = moved - keep;
		while (over) {
			struct iovec *v = &r->iov[r->niov - 1];
			uint64_t cut = v->iov_len < over ? v->iov_len : over;
			v->iov_len -= cut;
			over -= cut;
			if (!v->iov_len)
				r->niov--;
		}
		c = start;
		if (!keep || prd_walk(ch, &c, keep, NULL, NULL, &moved, &exact)) {
			dma_fail(ch);
			return;
		}
	}
	bm->entry = c.entry;
	bm->entry_off = c.off;
	r->type = ch->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	r->sector = ch->lba + bm->done / ATA_SECTOR;
	r->len = keep;
	ata_submit(ch, ATA_STEP_DMA);
}

void ata_dma_begin(struct ata_chan *ch)
{
	struct ata_bm *bm = &ch->bm;
	bm->total = (uint64_t)ch->left * ATA_SECTOR;
	bm->done = 0;
	bm->stopped = false;
	bm->entry = bm->table;
	bm->entry_off = 0;
	struct prd_cursor c = {bm->table, 0};
	uint64_t moved;
	/* Without the PCI bus-master enable the controller's cycles end in a master abort. */
	if (!bm->master_enabled || prd_walk(ch, &c, bm->total, NULL, NULL, &moved, &bm->exact)) {
		dma_fail(ch);
		return;
	}
	next_chunk(ch);
}

void ata_dma_chunk_done(struct ata_chan *ch, bool ok)
{
	struct ata_bm *bm = &ch->bm;
	if (!ok) {
		/* A device error: the drive reports it; the controller saw nothing wrong. */
		ata_cmd_done(ch, ch->write ? ATA_ABORTED : ATA_UNC);
		return;
	}
	bm->done += ch->io.req.len;
	ch->stats.dma_bytes += ch->io.req.len;
	if (bm->stopped) {
		ata_cmd_done(ch, ATA_ABORTED); /* the driver stopped the engine mid-transfer */
		return;
	}
	if (bm->done < bm->total) {
		next_chunk(ch);
		return;
	}
	if (bm->exact)
		bm->status &= (uint8_t)~ATA_DMA_ACTIVE; /* the table is used up */
	if (ch->write && !ch->drive[ch->unit].wcache)
		ata_submit_flush(ch);
	else
		ata_cmd_done(ch, 0);
}

/* ------------------------------------------------------------ registers --------------------- */

void ata_bm_cmd_write(struct ata_chan *ch, uint8_t val)
{
	struct ata_bm *bm = &ch->bm;
	uint8_t old = bm->cmd;
	if (old & ATA_DMA_START) /* the direction may not change while the engine runs */
		val = (uint8_t)((val & ATA_DMA_START) | (old & ATA_DMA_WR));
	bm->cmd = val & (ATA_DMA_START | ATA_DMA_WR);
	if (!(old & ATA_DMA_START) && (val & ATA_DMA_START)) {
		bm->status |= ATA_DMA_ACTIVE;
		if (ch->phase == ATA_DMA_WAIT)
			ata_dma_begin(ch);
	} else if ((old & ATA_DMA_START) && !(val & ATA_DMA_START)) {
		bm->status &= (uint8_t)~ATA_DMA_ACTIVE;
		/* A chunk in flight finishes (it is the engine's); nothing follows it. */
		if (ch->phase == ATA_ENGINE && ch->step == ATA_STEP_DMA)
			bm->stopped = true;
	}
}

static void write_status(struct ata_bm *bm, uint8_t val)
{
	uint8_t clear = val & (ATA_DMA_ERR | ATA_DMA_INTR);
	bm->status = (uint8_t)((bm->status & ~clear & ~ATA_DMA_DRV_CAP) | (val & ATA_DMA_DRV_CAP));
}

int ata_bm_read(struct ata_chan *ch, unsigned off, uint8_t *data, unsigned len)
{
	if (off >= ATA_BM_CHAN_SIZE || len > ATA_BM_CHAN_SIZE - off)
		return -EINVAL;
	bool table = off >= ATA_DMA_TABLE_OFS;
	if ((!table && (len != 1 || (off != ATA_DMA_CMD && off != ATA_DMA_STATUS))) ||
	    (table && len == 3))
		return -EINVAL; /* reserved bytes 1 and 3, odd widths */
	pthread_mutex_lock(&ch->lock);
	if (off == ATA_DMA_CMD) {
		data[0] = ch->bm.cmd;
	} else if (off == ATA_DMA_STATUS) {
		data[0] = ch->bm.status;
	} else {
		uint32_t v = htole32(ch->bm.table);
		memcpy(data, (uint8_t *)&v + (off - ATA_DMA_TABLE_OFS), len);
	}
	pthread_mutex_unlock(&ch->lock);
	return 0;
}

int ata_bm_write(struct ata_chan *ch, unsigned off, const uint8_t *data, unsigned len)
{
	if (off >= ATA_BM_CHAN_SIZE || len > ATA_BM_CHAN_SIZE - off)
		return -EINVAL;
	bool table = off >= ATA_DMA_TABLE_OFS;
	if ((!table && (len != 1 || (off != ATA_DMA_CMD && off != ATA_DMA_STATUS))) ||
	    (table && len == 3))
		return -EINVAL;
	pthread_mutex_lock(&ch->lock);
	if (off == ATA_DMA_CMD) {
		ata_bm_cmd_write(ch, data[0]);
	} else if (off == ATA_DMA_STATUS) {
		write_status(&ch->bm, data[0]);
	} else {
		uint32_t v = htole32(ch->bm.table);
		memcpy((uint8_t *)&v + (off - ATA_DMA_TABLE_OFS), data, len);
		ch->bm.table = le32toh(v) & ~3u; /* dword aligned: bits 1:0 read 0 */
	}
	pthread_mutex_unlock(&ch->lock);
	return 0;
}

void ata_bm_set_master(struct ata_chan *ch, bool on)
{
	pthread_mutex_lock(&ch->lock);
	ch->bm.master_enabled = on;
	pthread_mutex_unlock(&ch->lock);
}
