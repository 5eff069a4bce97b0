/* SPDX-License-Identifier: MIT */
#include "vhost_msg.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void host_vu_close_fds(struct host_vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

static int wait_readable(int sock, int ms)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Takes the fds out of the control messages; -EBADMSG if some were cut off. */
static int take_fds(struct msghdr *mh, struct host_vu_msg *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (m->nfds < VHOST_USER_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	return (mh->msg_flags & MSG_CTRUNC) ? -EBADMSG : 0;
}

/* Reads exactly len bytes (fds may ride on any part), waiting up to wait_ms for the first and
 * HOST_VU_MSG_TIMEOUT_MS for each later piece. */
static int read_full(int sock, void *buf, size_t len, struct host_vu_msg *m, bool first,
		     int wait_ms)
{
	size_t done = 0;
	while (done < len) {
		union {
			char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {.iov_base = (char *)buf + done, .iov_len = len - done};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl.buf,
				    .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int ret = wait_readable(sock,
						first && !done ? wait_ms : HOST_VU_MSG_TIMEOUT_MS);
			if (ret)
				return ret;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		int ret = take_fds(&mh, m);
		if (ret)
			return ret;
		if (n == 0)
			return first && done == 0 ? -ECONNRESET : -EBADMSG;
		done += (size_t)n;
	}
	return 0;
}

int host_vu_recv(int sock, struct host_vu_msg *m, int wait_ms)
{
	m->nfds = 0;
	int ret = read_full(sock, &m->hdr, sizeof(m->hdr), m, true, wait_ms);
	if (ret) {
		m->hdr = (struct vhost_user_header){0}; /* not a whole header: nothing to answer */
	} else {
		if (m->hdr.size > sizeof(m->p))
			ret = -EMSGSIZE;
		else if (m->hdr.size)
			ret = read_full(sock, &m->p, m->hdr.size, m, false, HOST_VU_MSG_TIMEOUT_MS);
	}
	if (ret) {
		host_vu_close_fds(m);
		return ret;
	}
	/* Bytes the header did not claim are zero, so a short payload reads as zeros. */
	memset((char *)&m->p + m->hdr.size, 0, sizeof(m->p) - m->hdr.size);
	return 0;
}

ssize_t host_vu_sendmsg(int sock, const struct iovec *iov, unsigned niov, const int *fds,
			unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = niov};
	if (nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int host_vu_send(int sock, const struct vhost_user_header *hdr, const void *payload, const int *fds,
		 unsigned nfds)
{
	struct iovec iov[2] = {{.iov_base = (void *)hdr, .iov_len = sizeof(*hdr)},
			       {.iov_base = (void *)payload, .iov_len = hdr->size}};
	if (hdr->size > sizeof(union vhost_user_payload))
		return -EINVAL;
	ssize_t n = host_vu_sendmsg(sock, iov, hdr->size ? 2 : 1, fds, nfds);
	if (n < 0)
		return (int)n;
	/* Messages are small: a short send means trouble. */
	return (size_t)n == sizeof(*hdr) + hdr->size ? 0 : -EIO;
}

int host_vu_request(int sock, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
		    const int *fds, unsigned nfds)
{
	struct vhost_user_header hdr = {
		.request = request, .flags = VHOST_USER_VERSION | flags, .size = size};
	return host_vu_send(sock, &hdr, payload, fds, nfds);
}

int host_vu_call(int sock, uint32_t request, const void *payload, uint32_t size,
		 struct host_vu_msg *reply)
{
	reply->nfds = 0;
	int ret = host_vu_request(sock, request, 0, payload, size, NULL, 0);
	if (!ret)
		ret = host_vu_recv(sock, reply, HOST_VU_REPLY_TIMEOUT_MS);
	if (!ret && (reply->hdr.request != request || !(reply->hdr.flags & VHOST_USER_REPLY_MASK) ||
		     (reply->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)) {
		host_vu_close_fds(reply);
		ret = -EPROTO;
	}
	return ret;
}
