// SPDX-License-Identifier: MIT
/*
 * Headers are copied out of a received frame before they are looked at (the frame may sit at an
 * odd offset in its buffer, after virtio's header), as netproto.c does. The UDP checksum of a
 * frame nettx sends is summed once over everything but the datagram's number; each frame then
 * adds its number's two 16-bit words (RFC 1071's sum is order-free).
 */
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/netflow.h"
#include "runtime/platform.h"

#define ETH_HLEN_   sizeof(struct ethhdr)
#define IP_OFF	    ETH_HLEN_
#define UDP_OFF	    (ETH_HLEN_ + sizeof(struct iphdr))
#define ARP_LEN	    (sizeof(struct arphdr) + 2 * (ETH_ALEN + 4))
#define IP_DF	    0x4000
#define IP_FRAGMENT 0x3fff
#define TTL	    64
#define ARP_EVERY   200000 /* us between ARP requests */

_Static_assert(UDP_OFF + sizeof(struct udphdr) == G_NETFLOW_HDRS, "frame headers");

static const uint8_t default_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

static uint16_t be16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

int g_netflow_open(struct g_run *run, struct g_netflow *f, bool peer)
{
	unsigned int port;
	const uint8_t *m;

	memset(f, 0, sizeof(*f));
	if (!g_arg("ip") || g_net_parse_ip(g_arg("ip"), f->self.ip))
		return g_run_fail(run, "ip=A.B.C.D is required (got %s)",
				  g_arg("ip") ? g_arg("ip") : "none");
	if (g_arg_uint("seconds", G_NETFLOW_SECONDS, &f->seconds) || !f->seconds)
		return g_run_fail(run, "bad seconds=%s", g_arg("seconds"));
	if (g_arg_uint("port", G_NETFLOW_PORT, &port) || !port || port > 0xffff)
		return g_run_fail(run, "bad port=%s", g_arg("port"));
	f->port = (uint16_t)port;
	if (peer && g_arg("dst")) {
		if (g_net_parse_ip(g_arg("dst"), f->peer_ip) || !memcmp(f->peer_ip, f->self.ip, 4))
			return g_run_fail(run, "bad dst=%s (an address other than ip=)",
					  g_arg("dst"));
	} else if (peer) {
		memcpy(f->peer_ip, f->self.ip, 3);
		f->peer_ip[3] = f->self.ip[3] == 1 ? 2 : 1;
	}
	if (g_netdev_open(run, &f->net))
		return -1;
	memcpy(f->self.mac, f->net->has_mac ? f->net->mac : default_mac, sizeof(f->self.mac));
	m = f->self.mac;
	g_printf("net: mac %02x:%02x:%02x:%02x:%02x:%02x%s\n", m[0], m[1], m[2], m[3], m[4], m[5],
		 f->net->has_mac ? "" : " (the device has none: a fixed one)");
	return 0;
}

bool g_netflow_answer(struct g_netflow *f, const uint8_t *frame, uint32_t len)
{
	enum g_net_kind kind;
	size_t n = g_net_respond(&f->self, frame, len, f->out, &kind);

	if (kind != G_NET_ARP && kind != G_NET_ICMP)
		return false;
	if (!f->net->ops->send(f->net, f->out, (uint32_t)n))
		f->answered++;
	return true;
}

static void send_arp_request(struct g_netflow *f)
{
	struct ethhdr eth;
	struct arphdr h = {
		.ar_hrd = be16(ARPHRD_ETHER),
		.ar_pro = be16(ETH_P_IP),
		.ar_hln = ETH_ALEN,
		.ar_pln = 4,
		.ar_op = be16(ARPOP_REQUEST),
	};
	uint8_t *a = f->out + ETH_HLEN_ + sizeof(h);

	memset(f->out, 0, G_NETFLOW_MIN);
	memset(eth.h_dest, 0xff, ETH_ALEN);
	memcpy(eth.h_source, f->self.mac, ETH_ALEN);
	eth.h_proto = be16(ETH_P_ARP);
	memcpy(f->out, &eth, sizeof(eth));
	memcpy(f->out + ETH_HLEN_, &h, sizeof(h));
	memcpy(a, f->self.mac, ETH_ALEN); /* sender: us */
	memcpy(a + ETH_ALEN, f->self.ip, 4);
	memcpy(a + 2 * ETH_ALEN + 4, f->peer_ip, 4); /* target: the peer, hardware address 0 */
	/* -ENOSPC (every buffer in flight) only delays the next request. */
	f->net->ops->send(f->net, f->out, G_NETFLOW_MIN);
}

/* The peer's ARP reply (to anyone: a reply names its sender): its MAC into peer_mac. */
static bool arp_reply(struct g_netflow *f, const uint8_t *frame, uint32_t len)
{
	const uint8_t *a = frame + ETH_HLEN_ + sizeof(struct arphdr);
	struct ethhdr eth;
	struct arphdr h;

	if (len < ETH_HLEN_ + ARP_LEN)
		return false;
	memcpy(&eth, frame, sizeof(eth));
	memcpy(&h, frame + ETH_HLEN_, sizeof(h));
	if (eth.h_proto != be16(ETH_P_ARP) || h.ar_hrd != be16(ARPHRD_ETHER) ||
	    h.ar_pro != be16(ETH_P_IP) || h.ar_hln != ETH_ALEN || h.ar_pln != 4 ||
	    h.ar_op != be16(ARPOP_REPLY) || memcmp(a + ETH_ALEN, f->peer_ip, 4))
		return false;
	memcpy(f->peer_mac, a, ETH_ALEN);
	return true;
}

/* Takes every frame there is: the peer's ARP reply, or what g_netflow_answer answers. */
static bool drain_for_reply(struct g_netflow *f)
{
	struct g_netdev *n = f->net;
	bool got = false, any = false;
	uint8_t *frame;
	uint32_t len;
	void *buf;

	while ((buf = n->ops->recv(n, &frame, &len))) {
		if (arp_reply(f, frame, len))
			got = true;
		else
			g_netflow_answer(f, frame, len);
		n->ops->recv_done(n, buf);
		any = true;
	}
	if (any)
		n->ops->kick_rx(n);
	return got;
}

int g_netflow_resolve(struct g_run *run, struct g_netflow *f)
{
	uint64_t end = g_tsc_deadline(G_NETFLOW_RESOLVE), next = 0;
	const uint8_t *p = f->peer_ip, *m = f->peer_mac;

	for (;;) {
		int rc;

		if (g_tsc_passed(next)) {
			send_arp_request(f);
			next = g_tsc_deadline(ARP_EVERY);
		}
		if (drain_for_reply(f))
			break;
		if (g_tsc_passed(end))
			return g_run_fail(run, "no ARP reply from %u.%u.%u.%u within %u ms", p[0],
					  p[1], p[2], p[3], G_NETFLOW_RESOLVE / 1000);
		rc = f->net->ops->wait(f->net, (int64_t)(next - end) < 0 ? next : end);
		if (rc && rc != -ETIMEDOUT)
			return g_run_fail(run, "waiting for frames failed (error %d)", rc);
	}
	/* The peer's MAC differs between runs (a tap's is random): a "mem:" line. */
	g_printf("net: %u.%u.%u.%u resolved\n", p[0], p[1], p[2], p[3]);
	g_printf("mem: net: %u.%u.%u.%u is at %02x:%02x:%02x:%02x:%02x:%02x\n", p[0], p[1], p[2],
		 p[3], m[0], m[1], m[2], m[3], m[4], m[5]);
	return 0;
}

uint32_t g_netflow_udp_build(const struct g_netflow *f, uint8_t *frame, uint32_t size)
{
	uint16_t ulen = (uint16_t)(size - UDP_OFF);
	struct ethhdr eth;
	struct iphdr ip = {
		.ihl = 5,
		.version = 4,
		.tot_len = be16((uint16_t)(size - IP_OFF)),
		.frag_off = be16(IP_DF),
		.ttl = TTL,
		.protocol = IPPROTO_UDP,
	};
	struct udphdr udp = {
		.source = be16(f->port),
		.dest = be16(f->port),
		.len = be16(ulen),
	};

	memcpy(eth.h_dest, f->peer_mac, ETH_ALEN);
	memcpy(eth.h_source, f->self.mac, ETH_ALEN);
	eth.h_proto = be16(ETH_P_IP);
	memcpy(&ip.saddr, f->self.ip, 4);
	memcpy(&ip.daddr, f->peer_ip, 4);
	ip.check = be16((uint16_t)~g_net_csum_fold(g_net_csum_add(0, &ip, sizeof(ip))));
	memcpy(frame, &eth, sizeof(eth));
	memcpy(frame + IP_OFF, &ip, sizeof(ip));
	memcpy(frame + UDP_OFF, &udp, sizeof(udp));
	memset(frame + G_NETFLOW_HDRS, 0, G_NETFLOW_SEQ);
	for (uint32_t i = G_NETFLOW_HDRS + G_NETFLOW_SEQ; i < size; i++)
		frame[i] = (uint8_t)(i - G_NETFLOW_HDRS);
	/* Pseudo-header (RFC 768), then the datagram with its checksum and number zero. */
	return g_net_csum_add(g_net_csum_add(0, &ip.saddr, 8) + IPPROTO_UDP + ulen, frame + UDP_OFF,
			      ulen);
}

void g_netflow_udp_stamp(uint8_t *frame, uint32_t sum, uint32_t seq)
{
	uint8_t n[G_NETFLOW_SEQ] = {(uint8_t)(seq >> 24), (uint8_t)(seq >> 16), (uint8_t)(seq >> 8),
				    (uint8_t)seq};
	uint16_t check = (uint16_t)~g_net_csum_fold(sum + (seq >> 16) + (seq & 0xffff));

	if (!check)
		check = 0xffff; /* 0 would mean "no checksum" */
	memcpy(frame + G_NETFLOW_HDRS, n, sizeof(n));
	frame[UDP_OFF + 6] = (uint8_t)(check >> 8);
	frame[UDP_OFF + 7] = (uint8_t)check;
}

bool g_netflow_udp_parse(const struct g_netflow *f, const uint8_t *frame, uint32_t len,
			 const uint8_t **payload, uint32_t *plen)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	uint32_t hlen, tot, ulen;

	if (len < G_NETFLOW_HDRS)
		return false;
	memcpy(&eth, frame, sizeof(eth));
	memcpy(&ip, frame + IP_OFF, sizeof(ip));
	hlen = ip.ihl * 4u;
	tot = be16(ip.tot_len);
	if (eth.h_proto != be16(ETH_P_IP) || ip.version != 4 || hlen < sizeof(ip) ||
	    tot < hlen + sizeof(udp) || tot > len - IP_OFF || ip.protocol != IPPROTO_UDP ||
	    memcmp(&ip.daddr, f->self.ip, 4) || (be16(ip.frag_off) & IP_FRAGMENT) ||
	    g_net_csum_fold(g_net_csum_add(0, frame + IP_OFF, hlen)) != 0xffff)
		return false;
	memcpy(&udp, frame + IP_OFF + hlen, sizeof(udp));
	ulen = be16(udp.len);
	if (ulen < sizeof(udp) || ulen > tot - hlen)
		return false;
	if (udp.check &&
	    g_net_csum_fold(g_net_csum_add(g_net_csum_add(0, &ip.saddr, 8) + IPPROTO_UDP + ulen,
					   frame + IP_OFF + hlen, ulen)) != 0xffff)
		return false;
	*payload = frame + IP_OFF + hlen + sizeof(udp);
	*plen = ulen - (uint32_t)sizeof(udp);
	return true;
}

void g_netflow_mark(struct g_netflow *f, struct g_netflow_mark *m)
{
	struct g_netdev_stats st;

	f->net->ops->stats(f->net, &st);
	m->irqs = st.irqs;
	m->wait_tsc = g_wait_tsc();
	m->tsc = g_rdtsc();
}

/* x / y as a decimal with `places` (1 or 2) places, rounded. */
static void fixed(char *out, size_t size, uint64_t x, uint64_t y, unsigned int places)
{
	uint64_t scale = places == 1 ? 10 : 100;
	uint64_t v = y ? (x * scale + y / 2) / y : 0;

	g_snprintf(out, size, places == 1 ? "%lu.%01lu" : "%lu.%02lu", (unsigned long)(v / scale),
		   (unsigned long)(v % scale));
}

void g_netflow_report(const char *what, uint64_t frames, uint64_t bytes,
		      const struct g_netflow_mark *a, const struct g_netflow_mark *b,
		      const char *extra)
{
	uint64_t ticks = b->tsc - a->tsc, us = g_tsc_to_us(ticks), irqs = b->irqs - a->irqs;
	char mbs[24], idle[24], per[24];

	fixed(mbs, sizeof(mbs), bytes * 8, us, 2); /* bits per microsecond */
	fixed(idle, sizeof(idle), (b->wait_tsc - a->wait_tsc) * 100, ticks, 1);
	fixed(per, sizeof(per), irqs, frames, 2);
	g_printf("time: %s: %lu frames, %lu bytes in %lu us: %lu pps, %s Mb/s, idle %s%%, %lu "
		 "interrupts (%s per frame)%s%s\n",
		 what, (unsigned long)frames, (unsigned long)bytes, (unsigned long)us,
		 (unsigned long)(us ? frames * 1000000 / us : 0), mbs, idle, (unsigned long)irqs,
		 per, extra ? "; " : "", extra ? extra : "");
}
