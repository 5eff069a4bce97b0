/* SPDX-License-Identifier: MIT */
/*
 * The responder behind nettest, as a pure function of one received frame: ARP requests for our
 * address, ICMP echo requests, and UDP datagrams to any port (echoed back). Layouts are
 * Linux's <linux/if_ether.h>, <linux/if_arp.h>, <linux/ip.h>, <linux/icmp.h>, <linux/udp.h>.
 */
#ifndef G_PROGRAMS_NETPROTO_H
#define G_PROGRAMS_NETPROTO_H

#include <stddef.h>
#include <stdint.h>

struct g_net_self {
	uint8_t mac[6];
	uint8_t ip[4];
};

enum g_net_kind {
	G_NET_IGNORED, /* not for us, or not something we answer */
	G_NET_ARP,
	G_NET_ICMP,
	G_NET_UDP,
};

/* Builds the answer to frame (len bytes, Ethernet header first) in out, which holds at least
 * len bytes and at least 60; returns the answer's length (0: none) and what it was in *kind.
 * Malformed frames (short, bad IPv4 header checksum, inconsistent lengths, fragments) get no
 * answer. */
size_t g_net_respond(const struct g_net_self *self, const uint8_t *frame, size_t len, uint8_t *out,
		     enum g_net_kind *kind);

/* The Internet checksum (RFC 1071) of len bytes, folded, not complemented, added to sum. */
uint32_t g_net_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t g_net_csum_fold(uint32_t sum);

/* "A.B.C.D" into ip; -EINVAL if it is not one. */
int g_net_parse_ip(const char *s, uint8_t ip[4]);

#endif
