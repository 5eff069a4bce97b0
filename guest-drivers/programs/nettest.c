// SPDX-License-Identifier: MIT
/*
 * nettest: a NIC (programs/netdev.h: the first virtio-net device by default, dev=pcnet an AMD
 * PCnet) answers, at ip=A.B.C.D, ARP requests, ICMP echo requests and UDP datagrams to any port
 * (echoed back), for seconds=S (default: until the VM is stopped), then prints what it answered
 * and passes. The device's MAC is used and printed when it has one (VIRTIO_NET_F_MAC, the
 * PCnet's address PROM; the host sets it under QEMU and vmmon alike); otherwise a fixed locally
 * administered one. Arguments: ip=, seconds=, dev=virtio|pcnet, mode=irq|poll; virtio:
 * ring=packed, irq=intx, transport=pci|mmio.
 */
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/netdev.h"
#include "programs/netproto.h"
#include "programs/programs.h"

#define ROUND_US 1000000 /* without seconds=, the loop's wait deadline */

static const uint8_t default_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

struct nettest {
	struct g_netdev *net;
	struct g_net_self self;
	uint64_t count[G_NET_UDP + 1];
	uint64_t unsent;
	uint8_t out[2048]; /* an answer is at most as long as the frame it answers */
};

static void answer(struct nettest *t, const uint8_t *frame, uint32_t len)
{
	enum g_net_kind kind;
	size_t n = g_net_respond(&t->self, frame, len, t->out, &kind);

	if (!n)
		return;
	if (t->net->ops->send(t->net, t->out, (uint32_t)n))
		t->unsent++; /* every transmit buffer in flight, or too long: dropped like a NIC */
	else
		t->count[kind]++;
}

/* Takes every frame there is and gives the buffers back in one notification. */
static void drain(struct nettest *t)
{
	uint8_t *frame;
	uint32_t len;
	void *buf;
	bool any = false;

	while ((buf = t->net->ops->recv(t->net, &frame, &len))) {
		answer(t, frame, len);
		t->net->ops->recv_done(t->net, buf);
		any = true;
	}
	if (any)
		t->net->ops->kick_rx(t->net);
}

static int serve(struct g_run *run, struct nettest *t, unsigned int seconds)
{
	uint64_t end = g_tsc_deadline((uint64_t)seconds * 1000000);

	for (;;) {
		int rc;

		drain(t);
		if (seconds && g_tsc_passed(end))
			return 0;
		rc = t->net->ops->wait(t->net, seconds ? end : g_tsc_deadline(ROUND_US));
		if (rc && rc != -ETIMEDOUT)
			return g_run_fail(run, "waiting for frames failed (error %d)", rc);
	}
}

int g_nettest_main(struct g_run *run)
{
	static struct nettest t; /* 2 KiB of answer buffer: not on the 32 KiB stack */
	struct g_netdev_stats st;
	unsigned int seconds;
	const uint8_t *m;
	int rc;

	memset(&t, 0, sizeof(t));
	if (!g_arg("ip") || g_net_parse_ip(g_arg("ip"), t.self.ip))
		return g_run_fail(run, "ip=A.B.C.D is required (got %s)",
				  g_arg("ip") ? g_arg("ip") : "none");
	if (g_arg_uint("seconds", 0, &seconds))
		return g_run_fail(run, "bad seconds=%s", g_arg("seconds"));
	if (g_netdev_open(run, &t.net))
		return -1;
	memcpy(t.self.mac, t.net->has_mac ? t.net->mac : default_mac, sizeof(t.self.mac));
	m = t.self.mac;
	g_printf("net: mac %02x:%02x:%02x:%02x:%02x:%02x%s\n", m[0], m[1], m[2], m[3], m[4], m[5],
		 t.net->has_mac ? "" : " (the device has none: a fixed one)");
	if (seconds)
		g_printf("net: serving %u.%u.%u.%u for %u s\n", t.self.ip[0], t.self.ip[1],
			 t.self.ip[2], t.self.ip[3], seconds);
	else
		g_printf("net: serving %u.%u.%u.%u until stopped\n", t.self.ip[0], t.self.ip[1],
			 t.self.ip[2], t.self.ip[3]);
	rc = serve(run, &t, seconds);
	g_printf("net: arp %lu icmp %lu udp %lu\n", (unsigned long)t.count[G_NET_ARP],
		 (unsigned long)t.count[G_NET_ICMP], (unsigned long)t.count[G_NET_UDP]);
	t.net->ops->stats(t.net, &st);
	g_printf("time: net: %lu frames in (%lu bad), %lu out, %lu answers dropped\n",
		 (unsigned long)st.rx_frames, (unsigned long)st.rx_bad, (unsigned long)st.tx_frames,
		 (unsigned long)t.unsent);
	if (t.net->ops->report)
		t.net->ops->report(t.net);
	if (!rc && st.rx_bad)
		rc = g_run_fail(run, "%lu frame(s) came back with an impossible length",
				(unsigned long)st.rx_bad);
	t.net->ops->close(t.net);
	return rc;
}
