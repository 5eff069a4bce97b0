/* SPDX-License-Identifier: MIT */
/* The API server's parts below api.h: the listening socket (listen.c), and the knobs tests
 * turn. */
#ifndef VMMON_API_SERVER_H
#define VMMON_API_SERVER_H

#include "api.h"

#define VMM_API_TIMEOUT_MS 10000 /* a request left incomplete this long is answered 408 */

struct vmm_api_listener {
	int fd;	     /* listening, non-blocking */
	int lock_fd; /* flock'd PATH.lock, or -1 with fd=N */
	char *path;  /* the socket file and its lock (removed by vmm_api_unlisten), or NULL */
	char *lock_path;
};

/* path=PATH: takes PATH.lock, refuses a live socket, replaces a stale one, binds and listens.
 * fd=N: checks it is a listening Unix stream socket and adopts it. */
int vmm_api_listen(struct vmm_api_listener *l, const struct vmm_api_socket_opts *o,
		   struct host_err *err);
/* Closes the socket; removes the socket file and its lock when they were ours. */
void vmm_api_unlisten(struct vmm_api_listener *l);
/* 0 when fd is an open, listening AF_UNIX stream socket; -errno and a one-line message. */
int vmm_api_check_listen_fd(int fd, struct host_err *err);

/* How long a request may stay incomplete, or a reply unread, before the connection is answered
 * 408 or closed (VMM_API_TIMEOUT_MS by default). Tests shorten it. */
void vmm_api_server_set_timeout(struct vmm_api_server *s, unsigned ms);

#endif
