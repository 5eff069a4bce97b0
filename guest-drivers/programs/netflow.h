/* SPDX-License-Identifier: MIT */
/*
 * What the throughput programs nettx and netrx share: their options and device, answering ARP
 * and pings while they run, resolving the host's MAC, the UDP frames they send and count, and
 * the measured period with its report line. Layouts are Linux's <linux/if_ether.h>,
 * <linux/if_arp.h>, <linux/ip.h>, <linux/udp.h>.
 */
#ifndef G_PROGRAMS_NETFLOW_H
#define G_PROGRAMS_NETFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "programs/netdev.h"
#include "programs/netproto.h"
#include "runtime/program.h"

#define G_NETFLOW_HDRS	  42 /* Ethernet 14 + IPv4 20 + UDP 8 */
#define G_NETFLOW_MIN	  60 /* the minimum Ethernet frame without its FCS */
#define G_NETFLOW_SEQ	  4  /* a datagram's payload starts with its number, big-endian */
#define G_NETFLOW_PORT	  9000
#define G_NETFLOW_SECONDS 2
#define G_NETFLOW_RESOLVE 5000000 /* us to get the host's ARP reply */

struct g_netflow {
	struct g_netdev *net;
	struct g_net_self self;
	uint8_t peer_ip[4]; /* nettx: where the datagrams go (dst=) */
	uint8_t peer_mac[6];
	uint16_t port;	      /* port=: nettx's source and destination port */
	unsigned int seconds; /* seconds=: the measured period */
	uint64_t answered;    /* ARP replies and echo replies sent */
	uint8_t out[2048];    /* an answer is at most as long as the frame it answers */
};

/* A point in the measured period: the TSC, the CPU's time in SYS_WAIT, the device's
 * interrupts and frames. */
struct g_netflow_mark {
	uint64_t tsc, wait_tsc, irqs;
};

/* Reads ip= (required), seconds=, port= and, with peer, dst= (default: address 1 of ip's /24,
 * or 2 when ip is that), opens the device dev= names and prints its MAC. Fails run with the
 * reason. */
int g_netflow_open(struct g_run *run, struct g_netflow *f, bool peer);

/* Answers an ARP request or a ping for our address (nothing else). True if the frame was one
 * of those, answered or not. */
bool g_netflow_answer(struct g_netflow *f, const uint8_t *frame, uint32_t len);

/* Asks for the MAC of peer_ip with an ARP request every 200 ms until the reply, answering ARP
 * and pings meanwhile, for up to G_NETFLOW_RESOLVE us. Fails run without a reply. */
int g_netflow_resolve(struct g_run *run, struct g_netflow *f);

/* Builds a size-byte UDP frame (G_NETFLOW_MIN..G_NETDEV_FRAME_MAX) from us to the peer at
 * port, its payload a byte pattern after the number; returns the partial checksum that
 * g_netflow_udp_stamp completes. */
uint32_t g_netflow_udp_build(const struct g_netflow *f, uint8_t *frame, uint32_t size);

/* Writes datagram number seq into a frame g_netflow_udp_build made, and its UDP checksum. */
void g_netflow_udp_stamp(uint8_t *frame, uint32_t sum, uint32_t seq);

/* An intact UDP datagram to our address (header and UDP checksums good, lengths consistent,
 * not a fragment): its payload in *payload and *plen, and true. */
bool g_netflow_udp_parse(const struct g_netflow *f, const uint8_t *frame, uint32_t len,
			 const uint8_t **payload, uint32_t *plen);

void g_netflow_mark(struct g_netflow *f, struct g_netflow_mark *m);

/*
 * The report of a period, one "time:" line:
 *   time: WHAT: F frames, B bytes in T us: P pps, M Mb/s, idle I%, N interrupts (R per frame)
 * Mb/s counts the Ethernet frames' bytes (without preamble and FCS); idle is the share of the
 * period spent in SYS_WAIT (runtime/platform.h: g_wait_tsc). extra, if not NULL, ends the line.
 */
void g_netflow_report(const char *what, uint64_t frames, uint64_t bytes,
		      const struct g_netflow_mark *a, const struct g_netflow_mark *b,
		      const char *extra);

#endif
