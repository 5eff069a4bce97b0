/* SPDX-License-Identifier: MIT */
/*
 * vhost-user messages on a stream socket: a 12-byte header, `size` bytes of payload, and up
 * to VHOST_USER_MAX_FDS file descriptors in SCM_RIGHTS. Receiving never reads past the
 * message: a header that claims more payload than the largest one, or more than arrives in
 * time, is a framing error (the connection cannot be trusted any more).
 */
#ifndef IOPROXY_MSG_H
#define IOPROXY_MSG_H

#include "vhost_user.h"

#define IOP_MSG_TIMEOUT_MS 1000 /* the rest of a message must follow its header this soon */

struct iop_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload p;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
};

/* Reads one message. Returns 0; -ECONNRESET when the peer closed; -EMSGSIZE, -EBADMSG or
 * -ETIMEDOUT for a framing error (the fds received are closed then). */
int iop_msg_recv(int sock, struct iop_msg *m);
/* Sends a header and payload with optional fds. Returns 0 or -errno. */
int iop_msg_send(int sock, const struct vhost_user_header *hdr, const void *payload, const int *fds,
		 unsigned nfds);
/* Closes the message's fds that are still >= 0. */
void iop_msg_close_fds(struct iop_msg *m);

#endif
