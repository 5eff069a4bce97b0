/* SPDX-License-Identifier: MIT */
#include "msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int vu_send(int sock, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
	    const int *fds, unsigned nfds)
{
	struct vhost_user_header hdr = {
		.request = request, .flags = VHOST_USER_VERSION | flags, .size = size};
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, size}};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};
	if (nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(hdr) + size ? 0 : -EIO;
}

static int read_full(int sock, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = recv(sock, (char *)buf + done, len - done, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

int vu_recv(int sock, struct vhost_user_msg *msg, int *fds, unsigned *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {&msg->hdr, sizeof(msg->hdr)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return -errno;
	unsigned got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int tmp[VHOST_USER_MAX_FDS];
		memcpy(tmp, CMSG_DATA(c), k * sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			if (fds && nfds && got < *nfds)
				fds[got++] = tmp[i];
			else
				close(tmp[i]); /* nobody asked for it */
		}
	}
	if (nfds)
		*nfds = got;
	if ((size_t)n != sizeof(msg->hdr) || msg->hdr.size > sizeof(msg->payload) ||
	    (msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		return -EPROTO;
	return msg->hdr.size ? read_full(sock, &msg->payload, msg->hdr.size) : 0;
}

int vu_call(int sock, uint32_t request, const void *payload, uint32_t size,
	    struct vhost_user_msg *reply, int *fds, unsigned *nfds)
{
	int ret = vu_send(sock, request, 0, payload, size, NULL, 0);
	if (!ret)
		ret = vu_recv(sock, reply, fds, nfds);
	if (!ret && (reply->hdr.request != request || !(reply->hdr.flags & VHOST_USER_REPLY_MASK)))
		ret = -EPROTO;
	return ret;
}
