// SPDX-License-Identifier: MIT
/*
 * Every header is copied out of the frame before it is looked at and copied into the answer
 * when done: the frame sits 12 bytes into a buffer (after the virtio header), so its IPv4
 * fields are not aligned and are never accessed in place.
 */
#include <linux/icmp.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include "lib/errno.h"
#include "lib/string.h"
#include "programs/netproto.h"

#define ETH_HLEN_   sizeof(struct ethhdr)
#define ARP_LEN	    (sizeof(struct arphdr) + 2 * (ETH_ALEN + 4))
#define ETH_MIN	    60 /* shorter frames are padded (IEEE 802.3, without the FCS) */
#define IP_DF	    0x4000
#define IP_FRAGMENT 0x3fff /* more-fragments flag and offset */
#define TTL	    64

static uint16_t be16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

uint32_t g_net_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t g_net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The checksum field value (network order) of len bytes whose checksum field is zero. */
static uint16_t csum(uint32_t sum, const void *data, size_t len)
{
	return be16((uint16_t)~g_net_csum_fold(g_net_csum_add(sum, data, len)));
}

int g_net_parse_ip(const char *s, uint8_t ip[4])
{
	for (int i = 0; i < 4; i++) {
		unsigned int v = 0, digits = 0;

		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			v = v * 10 + (unsigned int)(*s - '0');
		if (!digits || v > 255 || *s != (i < 3 ? '.' : '\0'))
			return -EINVAL;
		ip[i] = (uint8_t)v;
		s++;
	}
	return 0;
}

/* The answer's Ethernet header: back to the sender, from us. */
static void reply_eth(const struct g_net_self *self, const uint8_t *frame, uint8_t *out)
{
	struct ethhdr in, eth;

	memcpy(&in, frame, sizeof(in));
	memcpy(eth.h_dest, in.h_source, ETH_ALEN);
	memcpy(eth.h_source, self->mac, ETH_ALEN);
	eth.h_proto = in.h_proto;
	memcpy(out, &eth, sizeof(eth));
}

static size_t pad(uint8_t *out, size_t len)
{
	if (len < ETH_MIN) {
		memset(out + len, 0, ETH_MIN - len);
		len = ETH_MIN;
	}
	return len;
}

static size_t arp(const struct g_net_self *self, const uint8_t *frame, size_t len, uint8_t *out)
{
	const uint8_t *a = frame + ETH_HLEN_;
	const uint8_t *sha = a + sizeof(struct arphdr), *spa = sha + ETH_ALEN;
	const uint8_t *tpa = spa + 4 + ETH_ALEN;
	struct arphdr h;
	uint8_t *r = out + ETH_HLEN_;

	if (len < ETH_HLEN_ + ARP_LEN)
		return 0;
	memcpy(&h, a, sizeof(h));
	if (h.ar_hrd != be16(ARPHRD_ETHER) || h.ar_pro != be16(ETH_P_IP) || h.ar_hln != ETH_ALEN ||
	    h.ar_pln != 4 || h.ar_op != be16(ARPOP_REQUEST) || memcmp(tpa, self->ip, 4))
		return 0;
	reply_eth(self, frame, out);
	h.ar_op = be16(ARPOP_REPLY);
	memcpy(r, &h, sizeof(h));
	r += sizeof(h);
	memcpy(r, self->mac, ETH_ALEN); /* sender: us */
	memcpy(r + ETH_ALEN, self->ip, 4);
	memcpy(r + ETH_ALEN + 4, sha, ETH_ALEN); /* target: who asked */
	memcpy(r + 2 * ETH_ALEN + 4, spa, 4);
	return pad(out, ETH_HLEN_ + ARP_LEN);
}

/* ICMP echo reply: the request's identifier, sequence and data, type changed. */
static size_t icmp(uint8_t *out, size_t ip_end, size_t l4)
{
	struct icmphdr h;

	if (ip_end - l4 < sizeof(h))
		return 0;
	memcpy(&h, out + l4, sizeof(h));
	if (h.type != ICMP_ECHO || h.code)
		return 0;
	h.type = ICMP_ECHOREPLY;
	h.checksum = 0;
	memcpy(out + l4, &h, sizeof(h));
	h.checksum = csum(0, out + l4, ip_end - l4);
	memcpy(out + l4, &h, sizeof(h));
	return ip_end;
}

/* UDP echo: the same payload back to the sender's port, from the port it was sent to. */
static size_t udp(uint8_t *out, const struct iphdr *ip, size_t ip_end, size_t l4)
{
	struct udphdr h;
	uint16_t ulen, port;
	uint32_t sum;

	if (ip_end - l4 < sizeof(h))
		return 0;
	memcpy(&h, out + l4, sizeof(h));
	ulen = be16(h.len);
	if (ulen < sizeof(h) || ulen > ip_end - l4)
		return 0;
	port = h.source;
	h.source = h.dest;
	h.dest = port;
	h.check = 0;
	memcpy(out + l4, &h, sizeof(h));
	/* Pseudo-header (RFC 768): addresses, protocol, UDP length. */
	sum = g_net_csum_add(0, &ip->saddr, 8) + IPPROTO_UDP + ulen;
	h.check = csum(sum, out + l4, ulen);
	if (!h.check)
		h.check = 0xffff; /* 0 would mean "no checksum" */
	memcpy(out + l4, &h, sizeof(h));
	return l4 + ulen;
}

static size_t ipv4(const struct g_net_self *self, const uint8_t *frame, size_t len, uint8_t *out,
		   enum g_net_kind *kind)
{
	struct iphdr ip;
	size_t hlen, tot, answer;
	uint32_t addr;

	if (len < ETH_HLEN_ + sizeof(ip))
		return 0;
	memcpy(&ip, frame + ETH_HLEN_, sizeof(ip));
	hlen = ip.ihl * 4u;
	tot = be16(ip.tot_len);
	if (ip.version != 4 || hlen < sizeof(ip) || tot < hlen || tot > len - ETH_HLEN_ ||
	    memcmp(&ip.daddr, self->ip, 4) || (be16(ip.frag_off) & IP_FRAGMENT) ||
	    g_net_csum_fold(g_net_csum_add(0, frame + ETH_HLEN_, hlen)) != 0xffff)
		return 0;
	memcpy(out, frame, ETH_HLEN_ + tot);
	reply_eth(self, frame, out);
	addr = ip.saddr;
	ip.saddr = ip.daddr;
	ip.daddr = addr;
	ip.ttl = TTL;
	ip.frag_off = be16(IP_DF);
	ip.check = 0;
	memcpy(out + ETH_HLEN_, &ip, sizeof(ip));
	if (ip.protocol == IPPROTO_ICMP) {
		answer = icmp(out, ETH_HLEN_ + tot, ETH_HLEN_ + hlen);
		*kind = G_NET_ICMP;
	} else if (ip.protocol == IPPROTO_UDP) {
		answer = udp(out, &ip, ETH_HLEN_ + tot, ETH_HLEN_ + hlen);
		*kind = G_NET_UDP;
	} else {
		return 0;
	}
	if (!answer)
		return 0;
	ip.check = csum(0, out + ETH_HLEN_, hlen);
	memcpy(out + ETH_HLEN_, &ip, sizeof(ip));
	return pad(out, answer);
}

size_t g_net_respond(const struct g_net_self *self, const uint8_t *frame, size_t len, uint8_t *out,
		     enum g_net_kind *kind)
{
	struct ethhdr eth;
	size_t n = 0;

	*kind = G_NET_IGNORED;
	if (len < ETH_HLEN_)
		return 0;
	memcpy(&eth, frame, sizeof(eth));
	if (eth.h_proto == be16(ETH_P_ARP)) {
		n = arp(self, frame, len, out);
		*kind = G_NET_ARP;
	} else if (eth.h_proto == be16(ETH_P_IP)) {
		n = ipv4(self, frame, len, out, kind);
	}
	if (!n)
		*kind = G_NET_IGNORED;
	return n;
}
