/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user back-end protocol (QEMU's docs/interop/vhost-user.rst) for one device and its
 * current front-end. Every request goes through one table of {handler, min_size, max_fds,
 * needs_reply} plus the request's fd and ring-index rules, checked in one place before any
 * handler runs: the version, the payload size against the request's minimum and against the
 * counts inside it, the fds (unexpected ones closed and the message refused, missing ones
 * refused), and the ring index against the device's queue count. A refused message gets an
 * error reply when one is due; a request with need_reply set gets its REPLY_ACK here.
 */
#ifndef IOPROXY_VHOST_H
#define IOPROXY_VHOST_H

#include "iop.h"
#include "host/vhost_msg.h"

struct iop_reply {
	struct vhost_user_header hdr;
	union vhost_user_payload p;
	int fd; /* sent with the reply, then closed; -1: none */
};

/* Reads one message from d->conn_fd and serves it. Returns 0, or -errno when the connection
 * must be closed (the peer left, or the stream can no longer be trusted). */
int iop_vhost_serve(struct iop_dev *d);
/* Serves a received message (and closes its fds). Returns 0 or -errno as iop_vhost_serve. */
int iop_vhost_dispatch(struct iop_dev *d, struct host_vu_msg *m);
/* The front-end went away: rings stopped with their in-flight I/O drained, memory unmapped,
 * fds closed, the negotiated state and a memory fault (fault.h) forgotten. The device itself
 * stays for the next one. */
void iop_vhost_disconnect(struct iop_dev *d);
/* Protocol features ioproxy offers for d. */
uint64_t iop_vhost_protocol_features(const struct iop_dev *d);

/* vring.c: the ring requests and the memory table. */
int iop_vring_set_mem_table(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);
int iop_vring_set_num(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);
int iop_vring_set_addr(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);
int iop_vring_set_base(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);
int iop_vring_get_base(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);
int iop_vring_set_fd(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);
int iop_vring_set_enable(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);
/* Stops every started ring, draining it; what the front-end set is kept. */
void iop_vring_stop_all(struct iop_dev *d);
/* Forgets every ring's configuration and closes its fds (rings stopped). */
void iop_vring_reset_all(struct iop_dev *d);
bool iop_vring_any_started(const struct iop_dev *d);

#endif
