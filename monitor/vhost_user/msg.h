/* SPDX-License-Identifier: MIT */
/* Sending and receiving vhost-user messages, with file descriptors in SCM_RIGHTS. */
#ifndef VMMON_VHOST_USER_MSG_H
#define VMMON_VHOST_USER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "vhost_user.h"

/* Sends a request with `size` payload bytes and up to VHOST_USER_MAX_FDS fds. 0 or -errno. */
int vu_send(int sock, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
	    const int *fds, unsigned nfds);
/* Receives one message into *msg (payload at most sizeof(msg->payload)); fds passed along are
 * closed (a back-end's reply carries none vmmon asks for). 0 or -errno (-ECONNRESET on EOF,
 * -EPROTO for a malformed message). */
int vu_recv(int sock, struct vhost_user_msg *msg, int *fds, unsigned *nfds);
/* A request that expects a reply carrying the same request code. 0 or -errno. */
int vu_call(int sock, uint32_t request, const void *payload, uint32_t size,
	    struct vhost_user_msg *reply, int *fds, unsigned *nfds);

#endif
