/* SPDX-License-Identifier: MIT */
#include "msg.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void iop_msg_close_fds(struct iop_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

static int wait_readable(int sock)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	int n = poll(&p, 1, IOP_MSG_TIMEOUT_MS);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Takes the fds out of the control messages; returns -EBADMSG if some were cut off. */
static int take_fds(struct msghdr *mh, struct iop_msg *m)
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

/* Reads exactly len bytes (fds may ride on any part); -ETIMEDOUT if they do not come. */
static int read_full(int sock, void *buf, size_t len, struct iop_msg *m, bool first)
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
			int ret = wait_readable(sock);
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

int iop_msg_recv(int sock, struct iop_msg *m)
{
	m->nfds = 0;
	int ret = read_full(sock, &m->hdr, sizeof(m->hdr), m, true);
	if (ret) {
		m->hdr = (struct vhost_user_header){0}; /* not a whole header: nothing to answer */
	} else {
		if (m->hdr.size > sizeof(m->p))
			ret = -EMSGSIZE;
		else if (m->hdr.size)
			ret = read_full(sock, &m->p, m->hdr.size, m, false);
	}
	if (ret) {
		iop_msg_close_fds(m);
		return ret;
	}
	/* Bytes the header did not claim are zero, so a short payload reads as zeros. */
	memset((char *)&m->p + m->hdr.size, 0, sizeof(m->p) - m->hdr.size);
	return 0;
}

int iop_msg_send(int sock, const struct vhost_user_header *hdr, const void *payload, const int *fds,
		 unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {{.iov_base = (void *)hdr, .iov_len = sizeof(*hdr)},
			       {.iov_base = (void *)payload, .iov_len = hdr->size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = hdr->size ? 2 : 1};
	if (nfds) {
		if (nfds > VHOST_USER_MAX_FDS)
			return -EINVAL;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	size_t want = sizeof(*hdr) + hdr->size;
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == want ? 0 : -EIO; /* replies are small: a short send means trouble */
}
