/* SPDX-License-Identifier: MIT */
/*
 * vmmon's session with a vhost-user back-end: the socket, the handshake (features, protocol
 * features, a block device's configuration), the requests that hand over memory and rings, and
 * a connection thread that notices a hang-up, waits for the back-end to return, redoes the
 * handshake and calls back so the device can hand its rings over again. The device adapter
 * (frontend.c) decides what to hand over; nothing here knows the virtio device.
 *
 * Locking: every exchange on the socket happens under the device's lock (`lock`), so a reply
 * is read by whoever sent the request; the connection thread only polls for a hang-up.
 */
#ifndef VMMON_VHOST_USER_SESSION_H
#define VMMON_VHOST_USER_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"
#include "host/err.h"
#include "vhost_user.h"

struct vu_session;

/* One ring as the back-end gets it. */
struct vu_ring {
	unsigned index;
	uint16_t num;
	uint64_t desc, avail, used; /* vmmon's user addresses of the areas */
	uint16_t base;		    /* SET_VRING_BASE */
	int kick_fd, call_fd, err_fd;
};

struct vu_session {
	char path[108];
	int sock;     /* -1 while the back-end is away */
	bool started; /* the back-end has the rings */
	uint32_t device_id;
	uint64_t backend_features, protocol_features;
	uint8_t config[VHOST_USER_CONFIG_MAX]; /* a block device's, from the back-end */
	/* The back-end's inflight region: kept across reconnects and handed back. */
	int inflight_fd;
	struct vhost_user_inflight inflight;

	pthread_mutex_t *lock; /* the device's */
	/* Connection thread, lock held: the back-end is back and its handshake done; hand the
	 * rings over if they run. Non-zero drops the connection again. */
	int (*reconnected)(struct vu_session *s, void *ctx);
	void *ctx;
	pthread_t thread;
	bool thread_started;
	int stop_fd; /* wakes the connection thread to end */
	uint64_t connects;
};

/* Connects to path (waiting a few seconds for a back-end started alongside) and does the
 * handshake. device_id: VIRTIO_ID_BLOCK or _NET. */
int vu_session_open(struct vu_session *s, const char *path, uint32_t device_id,
		    struct host_err *err);
/* Starts the connection thread; from here on every exchange holds lock. */
int vu_session_watch(struct vu_session *s, pthread_mutex_t *lock,
		     int (*reconnected)(struct vu_session *, void *), void *ctx);
void vu_session_close(struct vu_session *s);
bool vu_session_has_protocol(const struct vu_session *s, unsigned bit);

/* Lock held. Each returns 0 or -errno; on an error the caller drops the connection with
 * vu_session_lost. */
int vu_session_set_features(struct vu_session *s, uint64_t features);
int vu_session_set_mem_table(struct vu_session *s, const struct gmem *mem);
/* Asks for an inflight region (the first time) and hands it over. */
int vu_session_set_inflight(struct vu_session *s, uint16_t queues, uint16_t queue_size);
int vu_session_start_ring(struct vu_session *s, const struct vu_ring *r);
int vu_session_set_call(struct vu_session *s, unsigned index, int call_fd);
/* GET_VRING_BASE: the back-end stops the ring, its in-flight requests done; *base (if not
 * NULL) gets where it stopped, to be handed back by SET_VRING_BASE when the ring starts again. */
int vu_session_stop_ring(struct vu_session *s, unsigned index, uint16_t *base);
/* Forgets the inflight region (a device reset abandons the rings it describes). */
void vu_session_drop_inflight(struct vu_session *s);
/* The back-end is gone: the connection thread waits for it to return. */
void vu_session_lost(struct vu_session *s, const char *why);

#endif
