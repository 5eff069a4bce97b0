/* SPDX-License-Identifier: MIT */
/*
 * vmmon as a vhost-user front-end: a virtio device whose queues another process serves (ioproxy,
 * qemu-storage-daemon). The guest sees an ordinary device on vmmon's transport; at DRIVER_OK
 * vmmon hands the back-end the guest's RAM (memfd regions), each queue's ring addresses, the
 * queue's ioeventfd as its kick fd and the queue's MSI-X irqfd as its call fd, so requests and
 * completions never pass through vmmon's userspace. The session with the back-end (socket,
 * handshake, reconnects) is session.c; this is the virtio device on top of it.
 */
#ifndef VMMON_VHOST_USER_FRONTEND_H
#define VMMON_VHOST_USER_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

#include "../virtio/device.h"
#include "host/err.h"
#include "session.h"

#define VU_MAX_QUEUES 16

struct vu_frontend {
	struct vmm_virtio_dev vdev;
	struct vmm_virtio_dev_ops ops; /* per instance: the device type comes from the back-end */
	struct vu_session s;
	const struct gmem *mem;
	bool paused; /* vm.pause: the rings stay stopped until vu_frontend_resume */
	uint8_t config[VHOST_USER_CONFIG_MAX]; /* what the guest reads */

	struct vu_queue {
		struct vu_frontend *fe;
		unsigned index;
		struct vmm_io_event relay; /* back-end's call, when the transport has no irqfd */
		struct vmm_io_event error; /* SET_VRING_ERR: the back-end found the ring broken */
		uint16_t base;		   /* where the back-end stopped the ring at vm.pause */
		bool has_base;
	} q[VU_MAX_QUEUES];
};

/* Connects to path (waiting up to a few seconds for the back-end to appear), learns the
 * device's features, configuration and queues. device_id: VIRTIO_ID_BLOCK or _NET.
 * net_config: the config space vmmon presents for a network device (MAC, status). */
int vu_frontend_init(struct vu_frontend *fe, const char *path, uint32_t device_id,
		     const void *net_config, unsigned net_config_size, struct vmm_io *io,
		     const struct gmem *mem, struct host_err *err);
/* Starts watching the connection (after the transport is set up). */
int vu_frontend_start(struct vu_frontend *fe);
/* vm.pause: the back-end stops every ring (GET_VRING_BASE, answered once its in-flight
 * requests are done), so it takes no new request; resume hands the rings back where they
 * stopped (SET_VRING_BASE, KICK, CALL, ENABLE) and kicks them. 0 or -errno (the back-end
 * is then taken as gone, as on any failed exchange). */
int vu_frontend_pause(struct vu_frontend *fe);
int vu_frontend_resume(struct vu_frontend *fe);
void vu_frontend_destroy(struct vu_frontend *fe);

#endif
