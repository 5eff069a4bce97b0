/* SPDX-License-Identifier: MIT */
/*
 * "A NIC" as nettest, nettx and netrx see it, whatever drives it: received frames are taken
 * and given back, frames are sent, and the program waits when nothing came or when every
 * transmit buffer is in flight. The device is picked with dev=:
 *   virtio  (the default) the first virtio-net device, found as programs/vdev.c does;
 *   pcnet   the first AMD PCnet-PCI II (programs/netdev_pcnet.c).
 * Each backend prints where the device is on "mem:" lines and how it is driven on a "net:"
 * line when it opens.
 */
#ifndef G_PROGRAMS_NETDEV_H
#define G_PROGRAMS_NETDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/program.h"

#define G_NETDEV_FRAME_MAX 1514 /* Ethernet without FCS */

struct g_netdev_stats {
	uint64_t rx_frames, rx_bad, tx_frames;
	uint64_t irqs; /* interrupts taken on the device's vectors, by this CPU */
};

struct g_netdev;

struct g_netdev_ops {
	/* The next received frame (Ethernet header first); returns its buffer for recv_done, or
	 * NULL. Frames the device delivered broken are dropped and counted in rx_bad. */
	void *(*recv)(struct g_netdev *n, uint8_t **frame, uint32_t *len);
	void (*recv_done)(struct g_netdev *n, void *buf);
	/* Tells the device about buffers given back (where it needs telling). */
	void (*kick_rx)(struct g_netdev *n);
	/* Copies a frame out and sends it: -ENOSPC when every transmit buffer is in flight,
	 * -EINVAL above G_NETDEV_FRAME_MAX. */
	int (*send)(struct g_netdev *n, const void *frame, uint32_t len);
	/* Waits for a frame until the TSC deadline: 0 (look again) or -errno. */
	int (*wait)(struct g_netdev *n, uint64_t deadline);
	/* Waits until a frame can be sent (a transmit buffer is free), until the TSC deadline,
	 * sleeping on the device's interrupt unless polled: 0 or -ETIMEDOUT. */
	int (*tx_wait)(struct g_netdev *n, uint64_t deadline);
	void (*stats)(struct g_netdev *n, struct g_netdev_stats *s);
	/* Device-specific counters at the end, on "time:" lines (may be NULL). */
	void (*report)(struct g_netdev *n);
	void (*close)(struct g_netdev *n);
};

struct g_netdev {
	const struct g_netdev_ops *ops;
	uint8_t mac[6];
	bool has_mac; /* mac is the device's; otherwise the program picks one */
};

/* The device dev= names, set up and reported (see above). Fails run with the reason. */
int g_netdev_open(struct g_run *run, struct g_netdev **n);

/* The backends. */
int g_netdev_open_virtio(struct g_run *run, struct g_netdev **n);
int g_netdev_open_pcnet(struct g_run *run, struct g_netdev **n);

#endif
