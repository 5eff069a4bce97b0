/* SPDX-License-Identifier: MIT */
#include "piix.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "host/util.h"

#ifndef VMMON_VERSION
#define VMMON_VERSION "unknown"
#endif

#define MODEL "VMMON HARDDISK"

static const struct {
	uint16_t cmd, ctl;
	unsigned irq;
	const char *name;
} legacy[2] = {
	{0x1f0, 0x3f6, PIIX_IDE_PRIMARY_IRQ, "ide-primary"},
	{0x170, 0x376, PIIX_IDE_SECONDARY_IRQ, "ide-secondary"},
};

/* ------------------------------------------------------------ engine glue ------------------- */

/* I/O thread, no lock held: start what the channels queued. */
static void start_queued(struct piix_ide *p)
{
	for (unsigned c = 0; c < 2; c++) {
		struct ata_chan *ch = &p->chan[c];
		pthread_mutex_lock(&ch->lock);
		bool go = p->queued[c];
		unsigned unit = p->queued_unit[c];
		p->queued[c] = false;
		pthread_mutex_unlock(&ch->lock);
		/* ch->io is the engine's from submit() until done(): no lock needed to start it.
		 * The core builds only reads, writes and flushes, which never complete at once;
		 * if one did, done() still runs here, outside the lock. */
		if (go &&
		    host_blk_start(&p->disk[c * 2 + unit], &p->io->uring, &ch->io, BLK_REQ_OK))
			ch->io.done(&ch->io);
	}
}

static void kicked(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	start_queued(container_of(ev, struct piix_ide, kick));
}

static void flushed(struct vmm_io *io, struct vmm_io_flush *f)
{
	(void)io;
	start_queued(container_of(f, struct piix_ide, flush));
}

/* The core's submit (channel lock held). The ring belongs to the I/O thread: a vCPU hands the
 * request over through the eventfd; the I/O thread itself (a completion starting the next block)
 * starts it after the current batch, when no channel lock is held. */
static void submit(void *ctx, struct ata_chan *ch, unsigned unit)
{
	struct piix_ide *p = ctx;
	unsigned c = ch == &p->chan[1];
	p->queued[c] = true;
	p->queued_unit[c] = unit;
	if (vmm_io_on_thread(p->io))
		vmm_io_defer_flush(p->io, &p->flush);
	else
		host_signal(p->kick.fd);
}

/* ------------------------------------------------------------ the optimisations ------------ */

static bool watching(struct piix_ide *p)
{
	bool wait = false;
	for (unsigned c = 0; c < 2; c++) {
		if (!(p->opt[c] & VMM_ATA_OPT_DATA))
			continue;
		pthread_mutex_lock(&p->chan[c].lock);
		wait |= p->chan[c].phase == ATA_PIO_OUT;
		pthread_mutex_unlock(&p->chan[c].lock);
	}
	return wait;
}

/* I/O thread: drain while a data-out block may be waiting in the ring, backing off. */
static void watch_fired(struct vmm_io *io, struct vmm_io_timer *t)
{
	struct piix_ide *p = container_of(t, struct piix_ide, watch);
	vmm_coalesce_sync(p->coalesce, 0);
	p->watch_drains++;
	if (!watching(p))
		return;
	p->watch_ns = p->watch_ns * 2 < PIIX_WATCH_MAX_US * 1000ull ? p->watch_ns * 2
								    : PIIX_WATCH_MAX_US * 1000ull;
	vmm_io_timer_arm(io, t, p->watch_ns);
}

static void watch_start(struct piix_ide *p)
{
	p->watch_ns = PIIX_WATCH_FIRST_US * 1000ull;
	vmm_io_timer_arm(p->io, &p->watch, p->watch_ns);
}

static void watch_kicked(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	watch_start(container_of(ev, struct piix_ide, watch_ev));
}

/* The core's pio_out_wait (channel lock held): the block's words may wait in the ring. */
static void pio_out_wait(void *ctx, struct ata_chan *ch)
{
	struct piix_ide *p = ctx;
	if (!(p->opt[ch == &p->chan[1]] & VMM_ATA_OPT_DATA))
		return;
	if (vmm_io_on_thread(p->io))
		watch_start(p);
	else
		host_signal(p->watch_ev.fd);
}

/* The command block as the bus reaches it: the core's trap, with the writes that arrive from
 * the coalesced ring counted. */
static int cmd_trap_rep(void *dev, uint64_t off, uint8_t *data, unsigned len, unsigned count,
			bool is_write)
{
	struct piix_port *pp = dev;
	if (is_write && vmm_coalesce_draining())
		atomic_fetch_add_explicit(&pp->p->drained[pp->c][off == ATA_REG_DATA], count,
					  memory_order_relaxed);
	return ata_cmd_trap_rep(&pp->p->chan[pp->c], off, data, len, count, is_write);
}

static int cmd_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	return cmd_trap_rep(dev, off, data, len, 1, is_write);
}

/* The channel's zone: task file (ports 1-6), data register (0, 16-bit), or both (0-6). */
static int zone_add(struct piix_ide *p, unsigned c, unsigned opt)
{
	uint32_t port = legacy[c].cmd + (opt & VMM_ATA_OPT_DATA ? 0 : ATA_REG_ERR);
	uint32_t end = legacy[c].cmd + (opt & VMM_ATA_OPT_TASKFILE ? ATA_REG_DEVICE + 1 : 2);
	if (!p->coalesce || !(opt & (VMM_ATA_OPT_TASKFILE | VMM_ATA_OPT_DATA)))
		return 0;
	int ret = vmm_coalesce_zone(p->coalesce, port, end - port, true);
	if (!ret) {
		p->zone[c][0] = port;
		p->zone[c][1] = end - port;
	}
	return ret;
}

static const struct ata_ops ops = {.submit = submit, .pio_out_wait = pio_out_wait};

/* The bus-master registers whose writes only latch (piix.h), per channel with opt=bm. */
static const struct {
	uint16_t off, size;
} bm_zones[] = {{ATA_DMA_STATUS, 1}, {ATA_DMA_TABLE_OFS, 4}};

static void bm_zones_set(struct piix_ide *p, uint16_t base, bool add)
{
	for (unsigned c = 0; c < 2; c++) {
		if (!(p->opt[c] & VMM_ATA_OPT_BM))
			continue;
		for (unsigned i = 0; i < sizeof(bm_zones) / sizeof(bm_zones[0]); i++) {
			uint32_t port = base + c * ATA_BM_CHAN_SIZE + bm_zones[i].off;
			int ret = vmm_coalesce_zone(p->coalesce, port, bm_zones[i].size, add);
			if (ret && add)
				fprintf(stderr,
					"vmmon: ata: cannot coalesce writes at port 0x%x: %s; they "
					"exit\n",
					port, strerror(-ret));
		}
	}
}

/* PCI host lock held: the bus-master zones and doorbells follow BAR4 (0: decoding off). */
static void bm_zones_move(struct piix_ide *p, uint16_t base)
{
	piix_db_move(p, base);
	if (base == p->bm_zone)
		return;
	if (p->bm_zone)
		bm_zones_set(p, p->bm_zone, false);
	p->bm_zone = base;
	if (base)
		bm_zones_set(p, base, true);
}

/* ------------------------------------------------------------ PCI and the bus --------------- */

/* BAR4, the bus-master registers (the bus trap shape; routed by the host's I/O window). */
static int bm_access(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct piix_ide *p = opaque;
	unsigned c = (unsigned)off / ATA_BM_CHAN_SIZE, o = (unsigned)off % ATA_BM_CHAN_SIZE;
	if (c > 1)
		return -EINVAL;
	if (is_write && vmm_coalesce_draining())
		atomic_fetch_add_explicit(&p->drained[c][2], 1, memory_order_relaxed);
	return is_write ? ata_bm_write(&p->chan[c], o, data, len)
			: ata_bm_read(&p->chan[c], o, data, len);
}

/* PCI host lock held: the bus-master enable follows the command register. (BAR4 itself is
 * decoded by the host's I/O window, pci_host_io_trap.) */
static void config_written(struct pci_dev *d, unsigned off, unsigned len)
{
	(void)off;
	(void)len;
	struct piix_ide *p = d->opaque;
	uint16_t command;
	memcpy(&command, &d->cfg[PCI_COMMAND], sizeof(command));
	for (unsigned c = 0; c < 2; c++)
		ata_bm_set_master(&p->chan[c], command & PCI_COMMAND_MASTER);
	uint64_t bar = pci_dev_bar_addr(d, PIIX_IDE_BAR);
	bm_zones_move(p, (command & PCI_COMMAND_IO) && bar && bar < PCI_IO_WINDOW_END
				 ? (uint16_t)bar
				 : 0);
}

static void setup_pci(struct piix_ide *p, uint16_t bm_port)
{
	struct pci_dev *d = &p->pci;
	pci_dev_init(d, PIIX_IDE_VENDOR, PIIX_IDE_DEVICE, PIIX_IDE_CLASS, 0);
	pci_dev_set_bar(d, PIIX_IDE_BAR, PIIX_IDE_BAR_SIZE, PCI_BAR_IO);
	uint32_t bar = (uint32_t)bm_port | PCI_BASE_ADDRESS_SPACE_IO;
	memcpy(&d->cfg[PCI_BASE_ADDRESS_0 + 4 * PIIX_IDE_BAR], &bar, sizeof(bar));
	uint16_t status = PCI_STATUS_FAST_BACK | PCI_STATUS_DEVSEL_MEDIUM; /* as a PIIX3's */
	memcpy(&d->cfg[PCI_STATUS], &status, sizeof(status));
	/* Firmware turns on IDE decoding of both channels; there is no firmware here. The timing
	 * registers (0x40-0x44) stay writable and have no effect. */
	uint16_t idetim = PIIX_IDETIM_DECODE;
	memcpy(&d->cfg[PIIX_IDETIM], &idetim, sizeof(idetim));
	memcpy(&d->cfg[PIIX_IDETIM + 2], &idetim, sizeof(idetim));
	memset(&d->wmask[PIIX_IDETIM], 0xff, 5);
	d->config_written = config_written;
	d->io_trap[PIIX_IDE_BAR] = bm_access;
	d->opaque = p;
}

int piix_ide_init(struct piix_ide *p, struct vmm_bus *pio, struct vmm_io *io,
		  const struct gmem *mem, int (*irq_set)(void *ctx, unsigned gsi, bool level),
		  void *irq_ctx, uint16_t bm_port, struct vmm_coalesce *c, struct host_err *err)
{
	memset(p, 0, sizeof(*p));
	p->pio = pio;
	p->io = io;
	p->coalesce = c;
	p->kick.fd = p->watch_ev.fd = -1;
	p->watch.fn = watch_fired;
	for (unsigned i = 0; i < PIIX_IDE_MAX_DISKS; i++)
		p->disk[i].fd = p->disk[i].fd_cached = -1;
	for (unsigned c = 0; c < 2; c++)
		for (unsigned i = 0; i < VMM_DOORBELL_FDS; i++)
			p->db[c].fd[i] = -1;
	for (unsigned c = 0; c < 2; c++) {
		struct vmm_irq irq = {.set = irq_set, .ctx = irq_ctx, .gsi = legacy[c].irq};
		if (ata_chan_init(&p->chan[c], irq, &ops, p, mem))
			return host_err_set(err, ENOMEM, "out of memory");
		p->chan_ready[c] = true;
	}
	setup_pci(p, bm_port);
	p->flush.fn = flushed;
	p->kick.fn = kicked;
	p->kick.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->kick.fd < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
	int ret = vmm_io_add_event(io, &p->kick);
	if (ret)
		return host_err_set(err, -ret, "the I/O thread takes no more events");
	if (p->coalesce) {
		p->watch_ev.fn = watch_kicked;
		p->watch_ev.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->watch_ev.fd < 0)
			return host_err_set(err, errno, "eventfd: %s", strerror(errno));
		ret = vmm_io_add_event(io, &p->watch_ev);
		if (ret)
			return host_err_set(err, -ret, "the I/O thread takes no more events");
	}
	for (unsigned c = 0; c < 2; c++) {
		p->port[c] = (struct piix_port){.p = p, .c = c};
		ret = vmm_bus_register_rep(pio, legacy[c].cmd, ATA_CMD_PORTS, cmd_trap,
					   cmd_trap_rep, &p->port[c], legacy[c].name);
		if (!ret) {
			p->legacy_traps |= 1u << (2 * c);
			ret = vmm_bus_register(pio, legacy[c].ctl, ATA_CTL_PORTS, ata_ctl_trap,
					       &p->chan[c], legacy[c].name);
		}
		if (ret)
			return host_err_set(err, -ret, "cannot register %s at port 0x%x",
					    legacy[c].name, legacy[c].cmd);
		p->legacy_traps |= 2u << (2 * c);
	}
	return 0;
}

int piix_ide_add_disk(struct piix_ide *p, const struct host_blk_opts *o, unsigned opt,
		      struct host_err *err)
{
	if (p->nr_disks == PIIX_IDE_MAX_DISKS)
		return host_err_set(err, E2BIG, "at most %d ATA disks", PIIX_IDE_MAX_DISKS);
	unsigned i = p->nr_disks, c = i / 2;
	if (p->opt_set[c] && p->opt[c] != opt)
		return host_err_set(err, EINVAL,
				    "--disk path=%s: opt= differs from the other disk's on the %s "
				    "channel (they share its ports)",
				    o->path, c ? "secondary" : "primary");
	if (!p->opt_set[c]) {
		int ret = zone_add(p, c, opt);
		if (ret)
			return host_err_set(
				err, -ret,
				"--disk path=%s: cannot coalesce writes at port 0x%x: %s", o->path,
				legacy[c].cmd, strerror(-ret));
		p->opt[c] = p->coalesce ? opt : 0;
		p->opt_set[c] = true;
		if (p->opt[c] & VMM_ATA_OPT_CMD) {
			ret = piix_db_init(p, c, legacy[c].cmd, legacy[c].ctl, err);
			if (ret)
				return ret;
			piix_db_move(p, p->bm_zone);
		}
	}
	int ret = host_blk_open(&p->disk[i], "--disk", o, err);
	if (ret)
		return ret;
	p->nr_disks++;
	char serial[HOST_BLK_SERIAL_MAX + 1];
	if (o->serial[0])
		snprintf(serial, sizeof(serial), "%s", o->serial);
	else
		snprintf(serial, sizeof(serial), "VM%05u", i + 1);
	struct ata_drive_info info = {.sectors = p->disk[i].lim.capacity,
				      .readonly = o->readonly,
				      .serial = serial,
				      .model = MODEL,
				      .firmware = VMMON_VERSION};
	struct ata_chan *ch = &p->chan[i / 2];
	pthread_mutex_lock(&ch->lock);
	ata_drive_attach(ch, i % 2, &info);
	pthread_mutex_unlock(&ch->lock);
	return 0;
}

void piix_ide_destroy(struct piix_ide *p)
{
	bm_zones_move(p, 0);
	piix_db_destroy(p);
	for (unsigned c = 0; c < 2; c++) {
		if (p->zone[c][1])
			vmm_coalesce_zone(p->coalesce, p->zone[c][0], p->zone[c][1], false);
		p->zone[c][1] = 0;
		if (p->legacy_traps & (1u << (2 * c)))
			vmm_bus_unregister(p->pio, legacy[c].cmd);
		if (p->legacy_traps & (2u << (2 * c)))
			vmm_bus_unregister(p->pio, legacy[c].ctl);
	}
	p->legacy_traps = 0;
	for (unsigned i = 0; i < p->nr_disks; i++)
		host_blk_close(&p->disk[i]);
	p->nr_disks = 0;
	for (unsigned c = 0; c < 2; c++) {
		if (p->chan_ready[c])
			ata_chan_destroy(&p->chan[c]);
		p->chan_ready[c] = false;
	}
	if (p->kick.fd >= 0)
		close(p->kick.fd);
	if (p->watch_ev.fd >= 0)
		close(p->watch_ev.fd);
	p->kick.fd = p->watch_ev.fd = -1;
}

void piix_ide_print_stats(struct piix_ide *p, FILE *out)
{
	static const char *const names[2] = {"primary", "secondary"};
	for (unsigned c = 0; c < 2; c++) {
		const struct ata_stats *s = &p->chan[c].stats;
		if (!p->chan[c].drive[0].present && !p->chan[c].drive[1].present)
			continue;
		fprintf(out,
			"vmmon: stats: ata %s: commands %" PRIu64 ", errors %" PRIu64
			", interrupts %" PRIu64 ", data-port reads %" PRIu64
			", data-port writes %" PRIu64 " (PIO %" PRIu64 " bytes), DMA %" PRIu64
			" bytes (errors %" PRIu64 "), ignored %" PRIu64
			"; opt %s%s%s%s%s: coalesced "
			"writes: task file %" PRIu64 ", data %" PRIu64 ", bus master %" PRIu64
			"; timed drains %" PRIu64 "; doorbells: commands %" PRIu64
			", starts %" PRIu64 ", stops %" PRIu64 " (ambiguous reads %" PRIu64 ")\n",
			names[c], s->commands, s->errors, s->irqs, s->data_reads, s->data_writes,
			s->pio_bytes, s->dma_bytes, s->dma_errors, s->ignored,
			p->opt[c] ? "" : "none",
			p->opt[c] & VMM_ATA_OPT_TASKFILE ? "+taskfile" : "",
			p->opt[c] & VMM_ATA_OPT_DATA ? "+data" : "",
			p->opt[c] & VMM_ATA_OPT_BM ? "+bm" : "",
			p->opt[c] & VMM_ATA_OPT_CMD ? "+cmd" : "", (uint64_t)p->drained[c][0],
			(uint64_t)p->drained[c][1], (uint64_t)p->drained[c][2], p->watch_drains,
			s->db_commands, s->db_starts, s->db_stops, s->db_ambiguous);
	}
}
