/* SPDX-License-Identifier: MIT */
/*
 * The KVM side of opt=cmd (piix.h): per channel, one doorbell (coalesce.h) whose eventfds KVM
 * signals for the writes ata_db_values names, datamatched ioeventfds on the command register
 * (fixed) and on the channel's bus-master command register (following BAR4). What the counts
 * mean is the core's (ata_db.c); when they are read is the coalesce module's: before any exit
 * on the channel's ports, and on the I/O thread as soon as one is rung.
 *
 * The ports whose exits read the doorbell first: the command block and the control block
 * (every status read, SRST and nIEN must see a command that was written before them), the
 * channel's bus-master registers (the status read, a start or stop that exits), and the PCI
 * configuration data port (a write that turns bus mastering or BAR4 decoding off comes after
 * a start written before it).
 *
 * Locks: the ioeventfds move from the PCI host's config write (its lock held) and are set up
 * before the guest runs; KVM's ioctls take none of vmmon's locks. The doorbell's apply runs
 * with the drain lock held and takes the channel's lock (ata_db_apply).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "host/util.h"
#include "piix.h"

_Static_assert(ATA_DB_VALUES <= VMM_DOORBELL_FDS, "a channel's doorbell holds every value");

enum { RANGE_CMD, RANGE_CTL, RANGE_BM, RANGE_PCI }; /* db.range[] */

static int ioeventfds(struct piix_ide *p, unsigned c, enum ata_db_block block, uint16_t base,
		      bool assign)
{
	for (unsigned i = 0; i < ATA_DB_VALUES; i++) {
		const struct ata_db_value *v = &ata_db_values[i];
		if (v->block != block)
			continue;
		int ret = vmm_coalesce_ioeventfd(p->coalesce, base + v->off, ATA_DB_LEN, v->val,
						 p->db[c].fd[i], assign);
		if (ret && assign) {
			while (i--)
				if (ata_db_values[i].block == block)
					vmm_coalesce_ioeventfd(p->coalesce,
							       base + ata_db_values[i].off,
							       ATA_DB_LEN, ata_db_values[i].val,
							       p->db[c].fd[i], false);
			return ret;
		}
	}
	return 0;
}

/* Drain lock held, the ring drained: the writes the doorbell counted. */
static void db_apply(void *ctx, const uint64_t count[VMM_DOORBELL_FDS])
{
	struct piix_port *pp = ctx;
	ata_db_apply(&pp->p->chan[pp->c], count);
}

/* I/O thread: a doorbell is readable. Every device's are read and applied, in order with the
 * ring. */
static void db_fired(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	struct piix_db_event *e = container_of(ev, struct piix_db_event, ev);
	vmm_coalesce_sync(e->p->coalesce, VMM_COALESCE_ANY_PORT);
}

static void set_range(struct vmm_doorbell *db, unsigned r, uint32_t lo, uint32_t size)
{
	atomic_store(&db->range[r].hi, 0); /* never a moment with a range wider than both */
	atomic_store(&db->range[r].lo, lo);
	atomic_store(&db->range[r].hi, lo + size);
}

/* PCI host lock held: the bus-master ioeventfds to BAR4 at base (0: decoding off). */
void piix_db_move(struct piix_ide *p, uint16_t base)
{
	for (unsigned c = 0; c < 2; c++) {
		if (!(p->opt[c] & VMM_ATA_OPT_CMD) || base == p->db_bm[c])
			continue;
		if (p->db_bm[c])
			ioeventfds(p, c, ATA_DB_BM, p->db_bm[c] + c * ATA_BM_CHAN_SIZE, false);
		p->db_bm[c] = 0;
		uint16_t port = (uint16_t)(base + c * ATA_BM_CHAN_SIZE);
		int ret = base ? ioeventfds(p, c, ATA_DB_BM, port, true) : 0;
		if (ret)
			fprintf(stderr,
				"vmmon: ata: cannot register the bus-master doorbells at port 0x%x: "
				"%s; start and stop exit\n",
				port, strerror(-ret));
		else
			p->db_bm[c] = base;
		set_range(&p->db[c], RANGE_BM, base ? port : 0, base ? ATA_BM_CHAN_SIZE : 0);
	}
}

int piix_db_init(struct piix_ide *p, unsigned c, uint16_t cmd, uint16_t ctl, struct host_err *err)
{
	struct vmm_doorbell *db = &p->db[c];
	db->nfd = ATA_DB_VALUES;
	db->apply = db_apply;
	db->ctx = &p->port[c];
	for (unsigned i = 0; i < ATA_DB_VALUES; i++) {
		db->fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (db->fd[i] < 0)
			return host_err_set(err, errno, "eventfd: %s", strerror(errno));
		p->db_ev[c][i] = (struct piix_db_event){
			.ev = {.fn = db_fired, .fd = db->fd[i], .poll = true}, .p = p};
		if (vmm_io_add_event(p->io, &p->db_ev[c][i].ev))
			return host_err_set(err, ENOSPC, "the I/O thread takes no more events");
	}
	int ret = ioeventfds(p, c, ATA_DB_CMD, cmd, true);
	if (ret)
		return host_err_set(err, -ret,
				    "cannot register the command doorbells at port 0x%x: %s",
				    cmd + ATA_REG_STATUS, strerror(-ret));
	p->db_cmd[c] = cmd;
	set_range(db, RANGE_CMD, cmd, ATA_CMD_PORTS);
	set_range(db, RANGE_CTL, ctl, ATA_CTL_PORTS);
	set_range(db, RANGE_PCI, PCI_HOST_DATA_PORT, 4);
	atomic_store(&db->armed, true);
	if (vmm_coalesce_add_doorbell(p->coalesce, db))
		return host_err_set(err, ENOSPC, "too many doorbells");
	return 0;
}

void piix_db_destroy(struct piix_ide *p)
{
	for (unsigned c = 0; c < 2; c++) {
		if (p->db_bm[c])
			ioeventfds(p, c, ATA_DB_BM, p->db_bm[c] + c * ATA_BM_CHAN_SIZE, false);
		p->db_bm[c] = 0;
		if (p->db_cmd[c])
			ioeventfds(p, c, ATA_DB_CMD, p->db_cmd[c], false);
		p->db_cmd[c] = 0;
		for (unsigned i = 0; i < VMM_DOORBELL_FDS; i++) {
			if (p->db[c].fd[i] >= 0)
				close(p->db[c].fd[i]);
			p->db[c].fd[i] = -1;
		}
	}
}
