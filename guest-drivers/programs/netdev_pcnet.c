// SPDX-License-Identifier: MIT
/*
 * The PCnet backend of the NIC interface (dev=pcnet), with mode=irq|poll. At the end it prints
 * what the driver's I/O instructions served, per frame: "io/tx" is the I/O of sending plus that
 * of the interrupt services that found only transmit completions (TINT), divided by the frames
 * sent, the figure the paper gives for pcnet32 (12: 2 to send, 10 for its interrupt); "io/rx"
 * is the services that found received frames (RINT), per frame received. These differ between
 * machines with the timing of interrupts, so they go on a "time:" line.
 */
#include "drivers/pcnet.h"
#include "lib/printf.h"
#include "programs/netdev.h"
#include "programs/vdev.h"
#include "runtime/mem.h"

struct pcnetdev {
	struct g_netdev gen; /* first: the ops get it */
	struct g_pcnet pcnet;
};

static struct g_pcnet *to_p(struct g_netdev *n)
{
	return &((struct pcnetdev *)n)->pcnet;
}

static void *p_recv(struct g_netdev *n, uint8_t **frame, uint32_t *len)
{
	return g_pcnet_recv(to_p(n), frame, len);
}

static void p_recv_done(struct g_netdev *n, void *buf)
{
	g_pcnet_recv_done(to_p(n), buf);
}

/* The chip looks at the receive ring when a frame comes: nothing to tell it. */
static void p_kick_rx(struct g_netdev *n)
{
	(void)n;
}

static int p_send(struct g_netdev *n, const void *frame, uint32_t len)
{
	return g_pcnet_send(to_p(n), frame, len);
}

static int p_wait(struct g_netdev *n, uint64_t deadline)
{
	return g_pcnet_wait(to_p(n), deadline);
}

static int p_tx_wait(struct g_netdev *n, uint64_t deadline)
{
	return g_pcnet_tx_wait(to_p(n), deadline);
}

static void p_stats(struct g_netdev *n, struct g_netdev_stats *s)
{
	const struct g_pcnet *p = to_p(n);

	*s = (struct g_netdev_stats){p->rx_frames, p->rx_bad, p->tx_frames, g_pcnet_irq_count(p)};
}

/* x / y with one decimal, as "N.N". */
static void per(char *out, size_t size, uint64_t x, uint64_t y)
{
	uint64_t tenths = y ? (x * 10 + y / 2) / y : 0;

	g_snprintf(out, size, "%lu.%lu", (unsigned long)(tenths / 10),
		   (unsigned long)(tenths % 10));
}

static void p_report(struct g_netdev *n)
{
	const struct g_pcnet *p = to_p(n);
	char tx[24], rx[24];

	per(tx, sizeof(tx), p->io_send + p->io_tx, p->tx_frames);
	per(rx, sizeof(rx), p->io_rx, p->rx_frames);
	g_printf("time: net: pcnet io/tx %s io/rx %s (%lu I/O instructions: %lu sending, %lu in "
		 "%lu interrupt services, %lu polling; %lu missed, %lu transmit errors)\n",
		 tx, rx, (unsigned long)p->io, (unsigned long)p->io_send,
		 (unsigned long)(p->io - p->io_send - p->io_poll), (unsigned long)p->services,
		 (unsigned long)p->io_poll, (unsigned long)p->missed, (unsigned long)p->tx_errors);
}

static void p_close(struct g_netdev *n)
{
	g_pcnet_stop(to_p(n));
}

static const struct g_netdev_ops pcnet_ops = {
	.recv = p_recv,
	.recv_done = p_recv_done,
	.kick_rx = p_kick_rx,
	.send = p_send,
	.wait = p_wait,
	.tx_wait = p_tx_wait,
	.stats = p_stats,
	.report = p_report,
	.close = p_close,
};

static const char *chip_name(uint32_t chip)
{
	return (chip >> 12 & 0xffff) == 0x2621 ? "Am79C970A" : "PCnet (not an Am79C970A)";
}

int g_netdev_open_pcnet(struct g_run *run, struct g_netdev **out)
{
	struct pcnetdev *pd = g_mem_alloc(sizeof(*pd), 64);
	struct g_pcnet *p;
	bool poll;
	int rc;

	if (!pd)
		return g_run_fail(run, "out of memory for the device");
	p = &pd->pcnet;
	if (g_vprog_open_legacy(run, "pcnet", &poll))
		return -1;
	rc = g_pcnet_probe(p, poll);
	if (rc)
		return g_run_fail(run, "pcnet: %s (error %d)", p->why, rc);
	g_printf("mem: net: pcnet at %s, chip id 0x%08x\n", p->where, p->chip);
	g_printf("mem: net: rings of %u receive and %u transmit descriptors\n",
		 1u << G_PCNET_RX_LOG2, 1u << G_PCNET_TX_LOG2);
	g_printf("net: pcnet %s, swstyle 2, word i/o, interrupts %s\n", chip_name(p->chip),
		 poll ? "poll" : "line");
	pd->gen.ops = &pcnet_ops;
	pd->gen.has_mac = true;
	for (unsigned int i = 0; i < sizeof(p->mac); i++)
		pd->gen.mac[i] = p->mac[i];
	*out = &pd->gen;
	return 0;
}
