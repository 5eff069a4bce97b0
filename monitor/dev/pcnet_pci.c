/* SPDX-License-Identifier: MIT */
#include "pcnet_pci.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "host/util.h"

#define RX_FAILURES_MAX 8 /* tap reads failing in a row before receive gives up */

/* ------------------------------------------------------------ transmit --------------------------
 */

/* The core's sink (I/O thread, core lock held): the frame into a free buffer, sent after the
 * run with the rest of its batch. */
static int core_tx(void *ctx, const uint8_t *frame, size_t len)
{
	struct pcnet_pci *n = ctx;
	if (!n->ntx_free) {
		n->tx_waiting = true;
		return -EAGAIN;
	}
	unsigned i = n->tx_free[--n->ntx_free];
	memcpy(n->tx_buf[i], frame, len);
	struct iovec iov = {.iov_base = n->tx_buf[i], .iov_len = len};
	host_net_frame_set(&n->tx[i], &iov, 1); /* cannot fail: one buffer, the frame is idle */
	n->tx_batch[n->ntx_batch++] = &n->tx[i];
	return 0;
}

/* Any thread, core lock held: the guest wants the transmitter run. A vCPU hands that to the
 * I/O thread; the I/O thread itself (a doorbell it applied) serves it once the lock is gone. */
static void core_kick(void *ctx)
{
	struct pcnet_pci *n = ctx;
	if (vmm_io_on_thread(n->io))
		n->kick_local++;
	else
		host_signal(n->kick.fd);
}

/* Core lock held, with the chip starting or stopping: the doorbell is armed only while it
 * runs (pcnet_opt.c). */
static void core_run_state(void *ctx, bool running)
{
	pcnet_pci_db_update(ctx, running, -1);
}

/* I/O thread, core lock held: interrupt coalescing holds the line for up to ns. */
static void core_irq_hold(void *ctx, uint64_t ns)
{
	struct pcnet_pci *n = ctx;
	vmm_io_timer_arm(n->io, &n->irq_timer, ns);
}

static const struct pcnet_ops core_ops = {.tx_kick = core_kick,
					  .tx = core_tx,
					  .run_state = core_run_state,
					  .irq_hold = core_irq_hold};

/* I/O thread: the transmitter, then its frames to the tap in ring order. Whatever demands
 * were waiting (send combining) are served by it. */
static void tx_run(struct pcnet_pci *n)
{
	n->pending = 0;
	pcnet_tx_run(&n->core);
	if (!n->ntx_batch)
		return;
	n->runs++;
	n->run_frames += n->ntx_batch;
	/* Cannot fail: the frames were free and the port is never cancelled. */
	host_net_port_send(&n->port, &n->io->uring, n->tx_batch, n->ntx_batch);
	n->ntx_batch = 0;
}

void pcnet_pci_demand(struct pcnet_pci *n, uint64_t count)
{
	count += n->kick_local;
	n->kick_local = 0;
	if (!count || !(n->opt & VMM_PCNET_OPT_COMBINE)) { /* a poll of its own: at once */
		tx_run(n);
		return;
	}
	/* Send combining: the frames wait in the guest's ring for more, within the bounds. */
	uint64_t t = host_now_ns();
	if (!n->pending)
		n->first_ns = t;
	n->pending =
		n->pending + count > n->combine_max ? n->combine_max : n->pending + (unsigned)count;
	if (pcnet_combine_due(n->pending, n->first_ns, t, n->combine_max, n->combine_ns)) {
		tx_run(n);
		return;
	}
	n->held_demands++;
	vmm_io_timer_arm(n->io, &n->combine_timer, n->first_ns + n->combine_ns - t);
}

/* I/O thread: send combining's bound, or an earlier timer (it was armed for a group that
 * went already): run if the waiting group's time has come, else wait for the rest. */
static void combine_expired(struct vmm_io *io, struct vmm_io_timer *t)
{
	(void)io;
	struct pcnet_pci *n = container_of(t, struct pcnet_pci, combine_timer);
	if (!n->pending)
		return;
	uint64_t now = host_now_ns();
	if (pcnet_combine_due(n->pending, n->first_ns, now, n->combine_max, n->combine_ns))
		tx_run(n);
	else
		vmm_io_timer_arm(n->io, t, n->first_ns + n->combine_ns - now);
}

static void irq_expired(struct vmm_io *io, struct vmm_io_timer *t)
{
	(void)io;
	pcnet_irq_release(&container_of(t, struct pcnet_pci, irq_timer)->core);
}

static void tx_done(struct host_net_frame *f, int len)
{
	struct pcnet_pci *n = f->priv;
	n->tx_free[n->ntx_free++] = (unsigned)(f - n->tx);
	if (len < 0)
		n->tap_errors++;
	if (n->tx_waiting) {
		n->tx_waiting = false;
		tx_run(n);
	}
}

/* ------------------------------------------------------------ receive ---------------------------
 */

static void rx_post(struct pcnet_pci *n)
{
	struct host_net_frame *f[PCNET_PCI_RX_BUFS];
	for (unsigned i = 0; i < PCNET_PCI_RX_BUFS; i++)
		f[i] = &n->rx[i];
	if (host_net_port_recv(&n->port, &n->io->uring, f, PCNET_PCI_RX_BUFS) == 0)
		n->rx_posted = PCNET_PCI_RX_BUFS;
}

static void rx_done(struct host_net_frame *f, int len)
{
	struct pcnet_pci *n = f->priv;
	n->rx_posted--;
	if (len >= 0) {
		n->rx_failures = 0;
		pcnet_rx(&n->core, n->rx_buf[f - n->rx], (size_t)len);
		tx_run(n); /* the chip polls its transmit ring on receive activity */
	} else if (len != -ECANCELED) {
		n->tap_errors++;
		/* A tap that is gone fails every read at once: do not spin on it. */
		if (++n->rx_failures == RX_FAILURES_MAX) {
			n->rx_stopped = true;
			fprintf(stderr,
				"vmmon: pcnet: reading tap %s fails (%s): receive stopped\n",
				n->tap.opts.name, strerror(-len));
		}
	}
	if (!n->rx_posted && !n->rx_stopped)
		rx_post(n);
}

/* I/O thread: a vCPU asked for a transmit. The first kick, made at init, posts the reads: only
 * this thread may submit to its ring. */
static void kicked(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	struct pcnet_pci *n = container_of(ev, struct pcnet_pci, kick);
	uint64_t kicks = ev->value - !n->started; /* the one made at init is no guest's */
	n->kicks += kicks;
	n->started = true;
	if (!n->rx_posted && !n->rx_stopped)
		rx_post(n);
	pcnet_pci_demand(n, kicks);
}

/* ------------------------------------------------------------ PCI ------------------------------
 */

/* The host's lock held: bus mastering gates the chip's memory accesses; BAR0's place moves
 * the coalesced zones and the doorbells with it. */
static void config_written(struct pci_dev *d, unsigned off, unsigned len)
{
	(void)off;
	(void)len;
	struct pcnet_pci *n = container_of(d, struct pcnet_pci, pci);
	uint16_t command = (uint16_t)(d->cfg[PCI_COMMAND] | d->cfg[PCI_COMMAND + 1] << 8);
	pcnet_set_bus_master(&n->core, command & PCI_COMMAND_MASTER);
	uint64_t bar = pci_dev_bar_addr(d, 0);
	uint16_t base =
		(command & PCI_COMMAND_IO) && bar && bar < PCI_IO_WINDOW_END ? (uint16_t)bar : 0;
	pcnet_pci_db_update(n, -1, base);
	pcnet_pci_zones_move(n, base);
}

/* BAR0 as the host's I/O window hands it over: the core's trap, with the writes that arrive
 * from the coalesced ring counted. */
static int bar_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pcnet_pci *n = dev;
	if (is_write && vmm_coalesce_draining())
		atomic_fetch_add_explicit(&n->drained, 1, memory_order_relaxed);
	return pcnet_trap(&n->core, off, data, len, is_write);
}

static void pci_setup(struct pcnet_pci *n, uint16_t io_bar)
{
	struct pci_dev *d = &n->pci;
	pci_dev_init(d, PCNET_PCI_VENDOR, PCNET_PCI_DEVICE, PCNET_PCI_CLASS, PCNET_PCI_REVISION);
	pci_dev_set_bar(d, 0, PCNET_IO_SIZE, PCI_BAR_IO); /* valid arguments: cannot fail */
	/* Pre-assigned as firmware leaves it; decoding waits for the guest's command write. */
	uint32_t bar = io_bar | PCI_BASE_ADDRESS_SPACE_IO;
	memcpy(&d->cfg[PCI_BASE_ADDRESS_0], &bar, 4);
	d->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	d->cfg[PCI_MIN_GNT] = 0x06;    /* datasheet: MIN_GNT 06h, MAX_LAT FFh */
	d->cfg[PCI_MAX_LAT] = 0xff;
	d->io_trap[0] = bar_trap;
	d->opaque = n;
	d->config_written = config_written;
}

int pcnet_pci_init(struct pcnet_pci *n, const struct vmm_net_config *nc, unsigned opt,
		   unsigned index, struct vmm_io *io, const struct gmem *mem, struct vmm_irq intx,
		   uint16_t io_bar, struct vmm_coalesce *c, struct host_err *err)
{
	const struct host_tap_opts *tap = &nc->tap;
	memset(n, 0, sizeof(*n));
	n->kick.fd = -1;
	n->io = io;
	n->opt = opt;
	n->coalesce = c;
	n->combine_max = nc->combine_frames;
	n->combine_ns = (uint64_t)nc->combine_us * 1000;
	n->combine_timer.fn = combine_expired;
	n->irq_timer.fn = irq_expired;
	n->db.nfd = PCNET_PCI_DB_VALUES;
	for (unsigned i = 0; i < VMM_DOORBELL_FDS; i++)
		n->db.fd[i] = -1;
	int ret = host_tap_open(&n->tap, "--net", tap, err);
	if (ret)
		return ret;
	n->tap_open = true;
	host_net_port_init(&n->port, n->tap.fd[0], HOST_NET_HDR_LEN);
	struct virtio_net_config cfg;
	host_net_config(&tap->mac, 1, index, &cfg); /* the MAC, by virtio-net's convention */
	pcnet_init(&n->core, cfg.mac, mem, intx, &core_ops, n);
	n->core_ready = true;
	if (opt & VMM_PCNET_OPT_COALESCE)
		pcnet_set_coalesce(&n->core, (uint64_t)nc->coalesce_us * 1000,
				   VMM_PCNET_COALESCE_MAX);
	for (unsigned i = 0; i < PCNET_PCI_RX_BUFS; i++) {
		host_net_frame_init(&n->rx[i], rx_done, n);
		struct iovec iov = {.iov_base = n->rx_buf[i], .iov_len = sizeof(n->rx_buf[i])};
		host_net_frame_set(&n->rx[i], &iov, 1);
	}
	for (unsigned i = 0; i < PCNET_PCI_TX_SLOTS; i++) {
		host_net_frame_init(&n->tx[i], tx_done, n);
		n->tx_free[i] = PCNET_PCI_TX_SLOTS - 1 - i;
	}
	n->ntx_free = PCNET_PCI_TX_SLOTS;
	n->kick.fn = kicked;
	n->kick.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->kick.fd < 0)
		return host_err_set(err, errno, "--net tap=%s,model=pcnet: eventfd: %s", tap->name,
				    strerror(errno));
	ret = vmm_io_add_event(io, &n->kick);
	if (ret)
		return host_err_set(err, -ret, "--net tap=%s,model=pcnet: too many I/O events",
				    tap->name);
	host_signal(n->kick.fd); /* the I/O thread's first round posts the reads */
	ret = pcnet_pci_db_init(n, err);
	if (ret)
		return ret;
	pci_setup(n, io_bar);
	return 0;
}

void pcnet_pci_set_intx(struct pcnet_pci *n, unsigned gsi)
{
	n->core.irq.gsi = gsi;
	n->pci.cfg[PCI_INTERRUPT_LINE] = (uint8_t)gsi;
}

void pcnet_pci_destroy(struct pcnet_pci *n)
{
	pcnet_pci_kvm_destroy(n);
	if (n->kick.fd >= 0)
		close(n->kick.fd);
	n->kick.fd = -1;
	if (n->tap_open)
		host_tap_close(&n->tap);
	n->tap_open = false;
	if (n->core_ready)
		pcnet_destroy(&n->core);
	n->core_ready = false;
}

void pcnet_pci_print_stats(struct pcnet_pci *n, unsigned index)
{
	struct pcnet_stats s = pcnet_stats(&n->core);
	fprintf(stderr,
		"vmmon: stats: pcnet %u: kicks %" PRIu64 ", tx frames %" PRIu64 " (errors %" PRIu64
		", waits for room %" PRIu64 "), rx frames %" PRIu64 " (errors %" PRIu64
		", missed %" PRIu64 ", dropped %" PRIu64 "), memory errors %" PRIu64
		", interrupts %" PRIu64 ", tap errors %" PRIu64 ", unhandled registers %" PRIu64
		"; opt %s%s%s%s%s: coalesced writes %" PRIu64 ", doorbells %" PRIu64
		" (ambiguous reads %" PRIu64 "), transmit runs %" PRIu64 " (frames %" PRIu64
		", demands held %" PRIu64 "), interrupts held %" PRIu64 "\n",
		index, n->kicks, s.tx_frames, s.tx_errors, s.tx_stalls, s.rx_frames, s.rx_errors,
		s.rx_missed, s.rx_dropped, s.merr, s.irqs, n->tap_errors, s.unhandled,
		n->opt ? "" : "none", n->opt & VMM_PCNET_OPT_RAP ? "+rap" : "",
		n->opt & VMM_PCNET_OPT_TDMD ? "+tdmd" : "",
		n->opt & VMM_PCNET_OPT_COMBINE ? "+combine" : "",
		n->opt & VMM_PCNET_OPT_COALESCE ? "+coalesce" : "", (uint64_t)n->drained,
		s.doorbells, s.doorbells_ambiguous, n->runs, n->run_frames, n->held_demands,
		s.irq_holds);
}
