/* SPDX-License-Identifier: MIT */
/*
 * The API's listening socket. A socket file left by a vmmon that died must be replaced, but a
 * live one must never be: the lock file (PATH.lock, flock'd for the server's life) says whether
 * a vmmon owns PATH, and a connect() says whether anyone answers on it, for owners that never
 * took the lock. Only a socket that refuses connections is removed; any other file is left.
 */
#include "server.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int vmm_api_check_listen_fd(int fd, struct host_err *err)
{
	int v = 0;
	socklen_t len = sizeof(v);
	if (fcntl(fd, F_GETFD) < 0)
		return host_err_set(err, EBADF, "--api-socket fd=%d: not an open descriptor", fd);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX)
		return host_err_set(err, ENOTSOCK, "--api-socket fd=%d: not a Unix domain socket",
				    fd);
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM)
		return host_err_set(err, EINVAL, "--api-socket fd=%d: not a stream socket", fd);
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
		return host_err_set(err, EINVAL,
				    "--api-socket fd=%d: the socket is not listening (call "
				    "listen() before passing it)",
				    fd);
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int take_lock(struct vmm_api_listener *l, struct host_err *err)
{
	l->lock_fd = open(l->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->lock_fd < 0)
		return host_err_set(err, errno, "--api-socket %s: cannot create %s: %s", l->path,
				    l->lock_path, strerror(errno));
	if (flock(l->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int e = errno;
	close(l->lock_fd);
	l->lock_fd = -1;
	if (e == EWOULDBLOCK)
		return host_err_set(err, EADDRINUSE,
				    "--api-socket %s: another vmmon owns it (%s is locked)",
				    l->path, l->lock_path);
	return host_err_set(err, e, "--api-socket %s: cannot lock %s: %s", l->path, l->lock_path,
			    strerror(e));
}

/* Removes PATH when it is a socket nobody answers on; refuses anything else. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, struct host_err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
				       : host_err_set(err, errno, "--api-socket %s: %s", path,
						      strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return host_err_set(err, EEXIST,
				    "--api-socket %s: the file exists and is not a socket; "
				    "not replacing it",
				    path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return host_err_set(err, errno, "socket: %s", strerror(errno));
	int ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	if (ret == 0)
		return host_err_set(err, EADDRINUSE,
				    "--api-socket %s: a live socket (something answers on it); "
				    "not replacing it",
				    path);
	if (e != ECONNREFUSED)
		return host_err_set(err, e, "--api-socket %s: cannot tell whether it is live: %s",
				    path, strerror(e));
	if (unlink(path) < 0 && errno != ENOENT)
		return host_err_set(err, errno,
				    "--api-socket %s: cannot remove the stale socket: %s", path,
				    strerror(errno));
	return 0;
}

static int bind_path(struct vmm_api_listener *l, const char *path, bool *bound,
		     struct host_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!*path || strlen(path) >= sizeof(sa.sun_path))
		return host_err_set(err, ENAMETOOLONG,
				    "--api-socket %s: give a path of 1 to %zu bytes", path,
				    sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	l->path = strdup(path);
	if (!l->path || asprintf(&l->lock_path, "%s.lock", path) < 0) {
		l->lock_path = NULL;
		return host_err_set(err, ENOMEM, "out of memory");
	}
	int ret = take_lock(l, err);
	if (ret)
		return ret;
	ret = clear_stale(path, &sa, err);
	if (ret)
		return ret;
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0)
		return host_err_set(err, errno, "socket: %s", strerror(errno));
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return host_err_set(err, errno, "--api-socket %s: bind: %s", path, strerror(errno));
	*bound = true;
	if (listen(l->fd, SOMAXCONN) < 0)
		return host_err_set(err, errno, "--api-socket %s: listen: %s", path,
				    strerror(errno));
	return 0;
}

int vmm_api_listen(struct vmm_api_listener *l, const struct vmm_api_socket_opts *o,
		   struct host_err *err)
{
	*l = (struct vmm_api_listener){.fd = -1, .lock_fd = -1};
	if (!o->path) {
		int ret = vmm_api_check_listen_fd(o->fd, err);
		if (ret)
			return ret;
		ret = set_nonblock(o->fd);
		if (ret)
			return host_err_set(err, -ret, "--api-socket fd=%d: %s", o->fd,
					    strerror(-ret));
		l->fd = o->fd;
		return 0;
	}
	bool bound = false;
	int ret = bind_path(l, o->path, &bound, err);
	if (ret) {
		/* Ours to remove only once bound: a refused path stays as it was. */
		if (!bound) {
			free(l->path);
			l->path = NULL;
		}
		vmm_api_unlisten(l);
	}
	return ret;
}

void vmm_api_unlisten(struct vmm_api_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->path)
		unlink(l->path);
	if (l->lock_fd >= 0) {
		unlink(l->lock_path);
		close(l->lock_fd);
	}
	free(l->path);
	free(l->lock_path);
	*l = (struct vmm_api_listener){.fd = -1, .lock_fd = -1};
}
