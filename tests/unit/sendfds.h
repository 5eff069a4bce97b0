/* SPDX-License-Identifier: MIT */
/* Tests that play a hostile vhost-user peer send bytes the message layer would refuse to make:
 * a header that lies about its size, more fds than allowed. This sends them as given (up to
 * SENDFDS_MAX fds, past what the layer itself sends). */
#ifndef TESTS_SENDFDS_H
#define TESTS_SENDFDS_H

#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "host/vhost_msg.h"

#define SENDFDS_MAX 16

static inline ssize_t sendfds(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	if (nfds <= VHOST_USER_MAX_FDS)
		return host_vu_sendmsg(sock, &iov, 1, fds, nfds);
	/* More than the layer sends: the message built here. */
	union {
		char b[CMSG_SPACE(SENDFDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl = {{0}};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (nfds > SENDFDS_MAX)
		return -1;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	return sendmsg(sock, &mh, 0);
}

#endif
