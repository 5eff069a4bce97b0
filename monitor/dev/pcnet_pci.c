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

/* Any thread, core lock held: a vCPU wants the transmitter run. */
static void core_kick(void *ctx)
{
	struct pcnet_pci *n = ctx;
	host_signal(n->kick.fd);
}

static const struct pcnet_ops core_ops = {.tx_kick = core_kick, .tx = core_tx};

/* I/O thread: the transmitter, then its frames to the tap in ring order. */
static void tx_run(struct pcnet_pci *n)
{
	pcnet_tx_run(&n->core);
	if (!n->ntx_batch)
		return;
	/* Cannot fail: the frames were free and the port is never cancelled. */
	host_net_port_send(&n->port, &n->io->uring, n->tx_batch, n->ntx_batch);
	n->ntx_batch = 0;
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
	n->kicks += ev->value - !n->started; /* the one made at init is no guest's */
	n->started = true;
	if (!n->rx_posted && !n->rx_stopped)
		rx_post(n);
	tx_run(n);
}

/* ------------------------------------------------------------ PCI ------------------------------
 */

/* The host's lock held: bus mastering gates the chip's memory accesses; note where BAR0 is. */
static void config_written(struct pci_dev *d, unsigned off, unsigned len)
{
	(void)off;
	(void)len;
	struct pcnet_pci *n = container_of(d, struct pcnet_pci, pci);
	uint16_t command = (uint16_t)(d->cfg[PCI_COMMAND] | d->cfg[PCI_COMMAND + 1] << 8);
	pcnet_set_bus_master(&n->core, command & PCI_COMMAND_MASTER);
	uint64_t bar = pci_dev_bar_addr(d, 0);
	n->io_base = (command & PCI_COMMAND_IO) && bar < PCI_IO_WINDOW_END ? (uint16_t)bar : 0;
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
	d->io_trap[0] = pcnet_trap;
	d->opaque = &n->core;
	d->config_written = config_written;
}

int pcnet_pci_init(struct pcnet_pci *n, const struct host_tap_opts *tap, unsigned index,
		   struct vmm_io *io, const struct gmem *mem, struct vmm_irq intx, uint16_t io_bar,
		   struct host_err *err)
{
	memset(n, 0, sizeof(*n));
	n->kick.fd = -1;
	n->io = io;
	int ret = host_tap_open(&n->tap, "--net", tap, err);
	if (ret)
		return ret;
	n->tap_open = true;
	host_net_port_init(&n->port, n->tap.fd[0], HOST_NET_HDR_LEN);
	struct virtio_net_config c;
	host_net_config(&tap->mac, 1, index, &c); /* the MAC, by virtio-net's convention */
	pcnet_init(&n->core, c.mac, mem, intx, &core_ops, n);
	n->core_ready = true;
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
		"\n",
		index, n->kicks, s.tx_frames, s.tx_errors, s.tx_stalls, s.rx_frames, s.rx_errors,
		s.rx_missed, s.rx_dropped, s.merr, s.irqs, n->tap_errors, s.unhandled);
}
