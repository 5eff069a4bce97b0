/* SPDX-License-Identifier: MIT */
/*
 * The management API (Cloud Hypervisor's REST dialect over a Unix socket): the seam between the
 * HTTP side (server.c, http.c: sockets, connections, parsing, replies; events.c: the event
 * monitor) and the VM side (routes.c: what each endpoint does to the VM).
 *
 * Threads: the server owns one thread that does all socket I/O and answers vmm.ping itself, so a
 * ping is answered while a VM operation runs. Every other complete request is handed, one at a
 * time and in arrival order, to the handler on the server's second thread (the controller): VM
 * operations never overlap, and a slow one (boot, pause) never stops the socket I/O.
 */
#ifndef VMMON_API_H
#define VMMON_API_H

#include <stdbool.h>
#include <stddef.h>

#include "host/err.h"

#define VMM_API_PREFIX	   "/api/v1/"
#define VMM_API_MAX_FDS	   16 /* SCM_RIGHTS descriptors gathered for one request */
#define VMM_API_MAX_CONNS  64 /* connections open at once; more wait in the listen backlog */
#define VMM_API_MAX_BODY   (1u << 20)
#define VMM_API_MAX_HEADER (16u << 10) /* request line and headers */

struct vmm_api_request {
	const char *method;   /* "GET", "PUT", ... as sent */
	const char *endpoint; /* the path after VMM_API_PREFIX, query string removed: "vm.info" */
	const char *body;     /* NUL-terminated (body_len excludes the NUL); "" when none */
	size_t body_len;
	/* Descriptors that came with the request (SCM_RIGHTS, in order, across all its reads).
	 * A handler that keeps one sets its slot to -1; the server closes the rest afterwards. */
	int *fds;
	unsigned nfds;
};

struct vmm_api_response {
	int status; /* 200 with a JSON body, 204 without, or 4xx/5xx */
	char *body; /* malloc'd JSON (the server frees it), or NULL */
	/* Called on the server's I/O thread once the reply is written and flushed (vmm.shutdown
	 * exits the process there), or NULL. */
	void (*after_reply)(void *arg);
	void *after_arg;
};

/* Sets an error reply: `status` with a JSON array of strings, from cause to root (`root` may be
 * NULL for a one-element array). Returns -EINVAL as a convenience for handlers. */
int vmm_api_error(struct vmm_api_response *r, int status, const char *cause, const char *root);

/* A request on the controller thread. Fills *resp (status 0 means "unknown route": 404). */
typedef void (*vmm_api_handler)(void *ctx, const struct vmm_api_request *req,
				struct vmm_api_response *resp);

/* --api-socket path=PATH | PATH | fd=N */
struct vmm_api_socket_opts {
	const char *path; /* NULL with fd */
	int fd;		  /* a socket already listening (from a supervisor), or -1 */
};

struct vmm_api_server;

/* Binds (a stale socket file is replaced under PATH.lock; a live one is refused) or adopts the
 * listening fd, and starts the I/O and controller threads. */
int vmm_api_server_start(struct vmm_api_server **out, const struct vmm_api_socket_opts *o,
			 vmm_api_handler fn, void *ctx, struct host_err *err);
/* Stops both threads (a running handler finishes first), closes every connection, removes the
 * socket file and its lock. NULL is fine. */
void vmm_api_server_stop(struct vmm_api_server *s);

/* --event-monitor path=PATH | fd=N: one JSON object per line, as Cloud Hypervisor writes them:
 * {"timestamp":{"secs":S,"nanos":N},"source":"vm","event":"booted","properties":null}
 * (timestamp: time since vmmon started). */
struct vmm_event_opts {
	const char *path; /* NULL with fd */
	int fd;		  /* or -1 */
};

int vmm_events_open(const struct vmm_event_opts *o, struct host_err *err);
/* Thread-safe; a no-op when no monitor is open. `properties` is a JSON object's text or NULL. */
void vmm_event(const char *source, const char *event, const char *properties);
void vmm_events_close(void);

#endif
