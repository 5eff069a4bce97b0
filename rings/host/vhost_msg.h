/* SPDX-License-Identifier: MIT */
/*
 * vhost-user messages on a stream socket, for both ends (vmmon's front-end, ioproxy's
 * back-end): a 12-byte header, `size` bytes of payload, and up to VHOST_USER_MAX_FDS file
 * descriptors in SCM_RIGHTS. Receiving never reads past the message: a header that claims more
 * payload than the largest one, file descriptors the kernel had to cut off (MSG_CTRUNC), or a
 * message whose rest does not follow its header in time is a framing error, after which the
 * connection cannot be trusted. The wire layouts are include/vhost_user.h.
 */
#ifndef HOST_VHOST_MSG_H
#define HOST_VHOST_MSG_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vhost_user.h"

#define HOST_VU_MSG_TIMEOUT_MS	 1000  /* the rest of a message must follow its header this soon */
#define HOST_VU_REPLY_TIMEOUT_MS 30000 /* a back-end answers this soon (GET_VRING_BASE drains) */

struct host_vu_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload p; /* bytes past hdr.size read as zero */
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
};

/* Reads one message, waiting up to wait_ms (-1: forever) for its header. Returns 0;
 * -ECONNRESET when the peer closed; -ETIMEDOUT when nothing came; -EMSGSIZE, -EBADMSG or
 * -ETIMEDOUT for a framing error. The fds are the caller's (host_vu_close_fds); on an error
 * none are left open. */
int host_vu_recv(int sock, struct host_vu_msg *m, int wait_ms);
/* Sends a header (its size giving the payload length) and payload with up to
 * VHOST_USER_MAX_FDS fds. Returns 0 or -errno. */
int host_vu_send(int sock, const struct vhost_user_header *hdr, const void *payload, const int *fds,
		 unsigned nfds);
/* The bytes of iov[0..niov) with up to VHOST_USER_MAX_FDS fds in one SCM_RIGHTS message, as
 * they are (tests use it to send what host_vu_send would refuse). Bytes sent, or -errno. */
ssize_t host_vu_sendmsg(int sock, const struct iovec *iov, unsigned niov, const int *fds,
			unsigned nfds);
/* A front-end's request: the header made here (version 1 plus flags). */
int host_vu_request(int sock, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
		    const int *fds, unsigned nfds);
/* A request that expects a reply carrying the same request code, version 1 and the reply
 * flag. Returns 0 or -errno (-EPROTO for a reply that is not one); the reply's fds are the
 * caller's. */
int host_vu_call(int sock, uint32_t request, const void *payload, uint32_t size,
		 struct host_vu_msg *reply);
/* Closes the message's fds that are still >= 0. */
void host_vu_close_fds(struct host_vu_msg *m);

#endif
