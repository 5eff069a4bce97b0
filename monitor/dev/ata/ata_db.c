/* SPDX-License-Identifier: MIT */
/*
 * The command doorbells (opt=cmd): which writes to the command register and the bus-master
 * command register KVM swallows (an ioeventfd with datamatch signals an eventfd, no exit), and
 * what the counts mean once vmmon reads them. Free of KVM: the PIIX glue (piix_kvm.c)
 * registers the ioeventfds from ata_db_values and hands the counts to ata_db_apply.
 *
 * Design note: what a doorbell may stand for, and the order the counts are applied in.
 * 1. The values. A datamatch names one value, so each swallowed value gets its own eventfd:
 *    the DMA commands READ/WRITE DMA (EXT) (C8h, 25h, CAh, 35h: a driver sleeps on the
 *    interrupt after them, so nothing reads the device before vmmon has read the doorbell and
 *    the command runs), and the bus-master command register's four meaningful values
 *    (SFF-8038i: bit 0 Start/Stop, bit 3 Read/Write Control, the rest reserved): start in
 *    either direction (01h, 09h) and stop in either direction (00h, 08h). A write of any other
 *    value, any other width, or to any other register exits as before. PIO and non-data
 *    commands stay exits: their status read follows at once, so a doorbell would spare
 *    nothing.
 * 2. Stop. SFF-8038i: writing 0 to Start halts the bus master and loses its state; after the
 *    transfer completed (Interrupt set, or Active clear) that only clears Start (and an Active
 *    left by a table longer than the transfer), which nothing but a read of the registers
 *    sees, and every read exits and applies the doorbells first. Mid-transfer it aborts the
 *    command, "data transferred from the drive may be discarded": applied when vmmon reads the
 *    doorbell (at the next exit on the channel's ports, or at once by the I/O thread, which
 *    polls the eventfds), the chunk in flight finishes and nothing follows it, which is what
 *    an exiting stop does too; a chunk that started meanwhile is a controller that was a
 *    little later to see the stop, as a real one racing the drive may be. Both cases are
 *    safe, so stop is a doorbell; it could not be a coalesced zone on the same port as start
 *    without relying on which of KVM's two devices on one address answers first.
 * 3. Ordering against the coalesced ring (coalesce.c, design note 4): the task file and the PRD
 *    table address the driver wrote before the command byte and the start bit are in the ring,
 *    and a sync drains the ring before it reads the eventfds: they are in place when the
 *    command runs. A ring write made after the doorbell but drained before it is applied would
 *    be applied first; ATA-6 forbids the host writing the command block while BSY (the task
 *    file of the next command follows the completion's Status read, an exit that applies the
 *    doorbells), and SFF-8038i the table address while the bus master is active, so only a
 *    driver breaking those rules sees a difference, and it stays within the channel's
 *    registers and guest RAM.
 * 4. Order among the counts: one read gives how many writes of each value came since the last
 *    read, not their order. A driver following SFF-8038i stops the engine only after it saw
 *    the transfer end (a status read, which exits and applies the start first, or the
 *    interrupt, which the transfer raises after the start was applied), and issues the next
 *    command only after the previous one's Status read: within one read, stops come before the
 *    command, and the command before or after the start (the core starts the transfer once
 *    both are there, either way round). So the counts are applied stops, command, start. A
 *    repeated write of one value changes nothing more than the first (a second stop or start
 *    meets the state the first left; a second command meets BSY, or a command that already
 *    failed the same way), so each value is applied once. Reads that a rule-abiding driver
 *    cannot produce, which leave the order open (two commands, or both values of stop or of
 *    start), are counted as ambiguous and applied in the table's order.
 * 5. A doorbell counts only for the drive the Device register selects when it is applied,
 *    which is the one selected when it was written unless the driver broke the rule in 3.
 */
#include "ata.h"

const struct ata_db_value ata_db_values[ATA_DB_VALUES] = {
	[ATA_DB_STOP] = {ATA_DB_BM, ATA_DMA_CMD, 0},
	[ATA_DB_STOP_WR] = {ATA_DB_BM, ATA_DMA_CMD, ATA_DMA_WR},
	[ATA_DB_READ_DMA] = {ATA_DB_CMD, ATA_REG_STATUS, WIN_READDMA},
	[ATA_DB_READ_DMA_EXT] = {ATA_DB_CMD, ATA_REG_STATUS, WIN_READDMA_EXT},
	[ATA_DB_WRITE_DMA] = {ATA_DB_CMD, ATA_REG_STATUS, WIN_WRITEDMA},
	[ATA_DB_WRITE_DMA_EXT] = {ATA_DB_CMD, ATA_REG_STATUS, WIN_WRITEDMA_EXT},
	[ATA_DB_START] = {ATA_DB_BM, ATA_DMA_CMD, ATA_DMA_START},
	[ATA_DB_START_WR] = {ATA_DB_BM, ATA_DMA_CMD, ATA_DMA_START | ATA_DMA_WR},
};

int ata_db_find(enum ata_db_block block, unsigned off, unsigned len, uint64_t val)
{
	for (unsigned i = 0; i < ATA_DB_VALUES; i++) {
		const struct ata_db_value *v = &ata_db_values[i];
		if (v->block == block && v->off == off && len == ATA_DB_LEN && v->val == val)
			return (int)i;
	}
	return -1;
}

static bool is_cmd(unsigned i)
{
	return ata_db_values[i].block == ATA_DB_CMD;
}

/* Lock held: one write of value i, through the register it was written to. */
static void apply_one(struct ata_chan *ch, unsigned i)
{
	const struct ata_db_value *v = &ata_db_values[i];
	if (v->block == ATA_DB_CMD)
		ata_command(ch, v->val);
	else
		ata_bm_cmd_write(ch, v->val);
}

void ata_db_apply(struct ata_chan *ch, const uint64_t count[ATA_DB_VALUES])
{
	uint64_t cmds = 0;
	unsigned stops = 0, starts = 0;
	for (unsigned i = 0; i < ATA_DB_VALUES; i++) {
		if (is_cmd(i))
			cmds += count[i];
		else if (ata_db_values[i].val & ATA_DMA_START)
			starts += count[i] != 0;
		else
			stops += count[i] != 0;
	}
	pthread_mutex_lock(&ch->lock);
	struct ata_stats *s = &ch->stats;
	for (unsigned i = 0; i < ATA_DB_VALUES; i++) {
		if (is_cmd(i))
			s->db_commands += count[i];
		else if (ata_db_values[i].val & ATA_DMA_START)
			s->db_starts += count[i];
		else
			s->db_stops += count[i];
	}
	s->db_ambiguous += cmds > 1 || stops > 1 || starts > 1;
	/* The table is in the order of the design note (4): stops, commands, starts. */
	for (unsigned i = 0; i < ATA_DB_VALUES; i++)
		if (count[i])
			apply_one(ch, i);
	pthread_mutex_unlock(&ch->lock);
}
