/* SPDX-License-Identifier: MIT */
/* Tests that play a hostile vhost-user peer send bytes the message layer would refuse to make:
 * a header that lies about its size, more fds than allowed. This sends them as given. */
#ifndef TESTS_SENDFDS_H
#define TESTS_SENDFDS_H

#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SENDFDS_MAX 16

/* sendmsg of buf[0..len) with fds[0..nfds) (at most SENDFDS_MAX) in one SCM_RIGHTS message. */
static inline ssize_t sendfds(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(SENDFDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > SENDFDS_MAX)
		return -1;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, 0);
}

#endif
