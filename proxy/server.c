/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bufs.h"
#include "fault.h"
#include "vhost.h"
#include "worker.h"

int iop_server_listen(struct iop_dev *d, const struct iop_dev_cfg *cfg, struct host_err *err)
{
	if (cfg->listen_fd >= 0) {
		int on = 0;
		socklen_t len = sizeof(on);
		if (getsockopt(cfg->listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on)
			return host_err_set(err, EINVAL, "--fd=%d: not a listening socket",
					    cfg->listen_fd);
		fcntl(cfg->listen_fd, F_SETFD, FD_CLOEXEC);
		d->listen_fd = cfg->listen_fd;
		return 0;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->socket);
	struct stat st;
	if (lstat(cfg->socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return host_err_set(err, EEXIST, "--socket %s: exists and is not a socket",
					    cfg->socket);
		unlink(cfg->socket); /* left over from an earlier run */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return host_err_set(err, errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		close(fd);
		return host_err_set(err, e, "--socket %s: %s", cfg->socket, strerror(e));
	}
	d->listen_fd = fd;
	d->owns_path = true;
	return 0;
}

static void accept_one(struct iop_dev *d)
{
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return; /* the peer gave up already, or a transient error: poll again */
	/* A front-end that stops reading must not hang the control thread. */
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	d->conn_fd = fd;
	fprintf(stderr, "ioproxy: %s: front-end connected\n", d->name);
}

static void drop(struct iop_dev *d, int why)
{
	fprintf(stderr, "ioproxy: %s: front-end %s; waiting for the next one\n", d->name,
		why == -ECONNRESET ? "disconnected"
		: why == -EFAULT   ? "dropped: its memory vanished under a mapping (a file shrank)"
				   : "dropped");
	iop_vhost_disconnect(d);
}

static void serve(struct iop_dev *d, short revents)
{
	int ret = -ECONNRESET;
	if (revents & POLLIN)
		ret = iop_vhost_serve(d);
	/* A handler of this message may have faulted on guest memory (preparing a ring). */
	if (atomic_load(&d->mem_fault))
		ret = -EFAULT;
	if (ret)
		drop(d, ret);
}

/* glibc's own account of the heap, for SIGUSR1: what is allocated against what the process
 * holds, so that RSS a departed front-end left behind can be told apart from a leak. */
static void dump_malloc(void)
{
	struct mallinfo2 mi = mallinfo2();
	fprintf(stderr,
		"ioproxy: malloc: %zu bytes in use (%zu in %zu mmapped chunks), heap %zu bytes "
		"(%zu of them free)\n",
		mi.uordblks + mi.hblkhd, mi.hblkhd, mi.hblks, mi.arena, mi.fordblks);
}

/* The SIGBUS handler absorbed a fault (fault.h): every front-end whose memory it was goes. */
static void drop_faulted(struct iop_dev **devs, unsigned n, int faultfd)
{
	uint64_t v;
	if (read(faultfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already read; the flags below are what counts */
	}
	for (unsigned i = 0; i < n; i++)
		if (devs[i]->conn_fd >= 0 && atomic_load(&devs[i]->mem_fault))
			drop(devs[i], -EFAULT);
}

int iop_server_run(struct iop_dev **devs, unsigned n, int sigfd)
{
	enum { SIG, FAULT, DEV }; /* pfd[DEV + i]: device i's connection or listening socket */
	struct pollfd pfd[DEV + IOP_MAX_DEVICES];
	int faultfd = iop_fault_fd();
	for (;;) {
		pfd[SIG] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		pfd[FAULT] = (struct pollfd){.fd = faultfd, .events = POLLIN}; /* -1: ignored */
		for (unsigned i = 0; i < n; i++) {
			struct iop_dev *d = devs[i];
			pfd[DEV + i] =
				(struct pollfd){.fd = d->conn_fd >= 0 ? d->conn_fd : d->listen_fd,
						.events = POLLIN};
		}
		if (poll(pfd, DEV + n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ioproxy: poll: %s\n", strerror(errno));
			break;
		}
		if (pfd[SIG].revents) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				continue;
			if (si.ssi_signo == SIGUSR1) { /* counters, and on */
				struct iop_pool *pool = n ? devs[0]->pool : NULL;
				for (unsigned i = 0; pool && i < pool->n; i++)
					iop_worker_dump(&pool->w[i]);
				if (pool && pool->bufs)
					iop_bufs_dump(pool->bufs);
				dump_malloc();
				continue;
			}
			fprintf(stderr, "ioproxy: %s: exiting\n", strsignal((int)si.ssi_signo));
			iop_worker_set_exiting(); /* the stops ahead are bounded */
			break;
		}
		/* Before the messages: a faulted front-end's next message is not served. */
		if (pfd[FAULT].revents)
			drop_faulted(devs, n, faultfd);
		for (unsigned i = 0; i < n; i++) {
			struct iop_dev *d = devs[i];
			if (!pfd[DEV + i].revents)
				continue;
			/* A connection drop_faulted just closed is neither: skipped. */
			if (d->conn_fd >= 0 && pfd[DEV + i].fd == d->conn_fd)
				serve(d, pfd[DEV + i].revents);
			else if (pfd[DEV + i].fd == d->listen_fd)
				accept_one(d);
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (devs[i]->conn_fd >= 0)
			iop_vhost_disconnect(devs[i]);
	return 0;
}
