// SPDX-License-Identifier: MIT
/*
 * nettx: transmit throughput. Resolves the host's MAC (dst=, by ARP), then for seconds=S sends
 * UDP datagrams to it in Ethernet frames of size= bytes (60, the minimum frame, to 1514, a full
 * one) as fast as the NIC takes them, each numbered from 0 (programs/netflow.h), and reports
 * frames, packets/s, Mb/s and the idle share on a "time:" line (g_netflow_report).
 *
 * Idle: the guest never spins. Before each frame it asks the NIC for a free transmit buffer
 * (netdev tx_wait); when all are in flight it sleeps in SYS_WAIT until the NIC's interrupt says
 * one came back, as a real NIC at line rate keeps its driver waiting. The idle share is the
 * time asleep there over the period; the rest went into building, stamping and handing over
 * frames and into the I/O instructions and interrupts that cost (under a VMM: exits).
 * Arguments: ip= (required), dst=, port= (default 9000), size= (default 1514), seconds=
 * (default 2), dev=virtio|pcnet, mode=irq|poll; virtio: ring=, irq=, transport=.
 */
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "programs/netflow.h"
#include "programs/programs.h"

struct nettx {
	struct g_netflow f;
	uint8_t frame[G_NETDEV_FRAME_MAX];
};

static int blast(struct g_run *run, struct nettx *t, uint32_t size)
{
	struct g_netdev *n = t->f.net;
	struct g_netflow_mark a, b;
	uint32_t sum = g_netflow_udp_build(&t->f, t->frame, size);
	uint64_t end, seq = 0;
	char what[32];
	int rc;

	g_netflow_mark(&t->f, &a);
	end = g_tsc_deadline((uint64_t)t->f.seconds * 1000000);
	for (;;) {
		rc = n->ops->tx_wait(n, end);
		if (rc == -ETIMEDOUT)
			break;
		if (rc)
			return g_run_fail(run, "waiting for a transmit buffer failed (error %d)",
					  rc);
		g_netflow_udp_stamp(t->frame, sum, (uint32_t)seq);
		rc = n->ops->send(n, t->frame, size);
		if (rc)
			return g_run_fail(run, "frame %lu not taken with a buffer free (error %d)",
					  (unsigned long)seq, rc);
		seq++;
		if (g_tsc_passed(end))
			break;
	}
	g_netflow_mark(&t->f, &b);
	g_snprintf(what, sizeof(what), "nettx %u-byte frames", size);
	g_netflow_report(what, seq, seq * size, &a, &b, NULL);
	if (!seq)
		return g_run_fail(run, "no frame went out in %u s", t->f.seconds);
	return 0;
}

int g_nettx_main(struct g_run *run)
{
	static struct nettx t; /* frames and answers: not on the 32 KiB stack */
	const uint8_t *p = t.f.peer_ip;
	unsigned int size;
	int rc;

	if (g_arg_uint("size", G_NETDEV_FRAME_MAX, &size) || size < G_NETFLOW_MIN ||
	    size > G_NETDEV_FRAME_MAX)
		return g_run_fail(run, "bad size=%s (%u-%u)", g_arg("size"), G_NETFLOW_MIN,
				  G_NETDEV_FRAME_MAX);
	if (g_netflow_open(run, &t.f, true) || g_netflow_resolve(run, &t.f))
		return -1;
	g_printf("net: sending %u-byte frames to %u.%u.%u.%u port %u for %u s\n", size, p[0], p[1],
		 p[2], p[3], t.f.port, t.f.seconds);
	rc = blast(run, &t, size);
	if (t.f.net->ops->report)
		t.f.net->ops->report(t.f.net);
	t.f.net->ops->close(t.f.net);
	return rc;
}
