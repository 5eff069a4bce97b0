/* SPDX-License-Identifier: MIT */
/* Inside the API server: its state, a connection's and a job's, shared by server.c (threads,
 * accepting, deadlines, start and stop) and conn.c (one connection's reads, parsing, replies).
 * Everything here runs on the I/O thread, except the job queues (under the server's lock) and
 * the handler's call on a job (the controller). */
#ifndef VMMON_API_CONN_H
#define VMMON_API_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "http.h"
#include "server.h"

struct api_job {
	struct api_job *next;
	struct api_conn *c;
	bool keep_alive;
	char method[VMM_HTTP_METHOD_MAX];
	char endpoint[VMM_HTTP_ENDPOINT_MAX];
	char *body;
	int fds[VMM_API_MAX_FDS];
	struct vmm_api_request req;
	struct vmm_api_response resp;
};

struct api_conn {
	struct api_conn *prev, *next;
	struct vmm_api_server *s;
	int fd;
	uint32_t events; /* the epoll interest set now */
	char *in;
	size_t in_len, in_cap;
	struct vmm_http_parser p;
	int fds[VMM_API_MAX_FDS]; /* received with the current request */
	unsigned nfds;
	char *out;
	size_t out_len, out_off;
	bool busy;		       /* a job is with the controller */
	bool close_after;	       /* close once out is written */
	bool dead;		       /* closed while busy: freed when the job returns */
	uint64_t req_start, out_moved; /* ns: the request's first byte; the last write progress */
	void (*after)(void *);
	void *after_arg;
};

struct vmm_api_server {
	struct vmm_api_listener l;
	vmm_api_handler fn;
	void *ctx;
	int ep, evfd;
	pthread_t io, ctl;
	bool io_started, ctl_started;
	atomic_bool io_stop;
	_Atomic unsigned timeout_ms;
	pthread_mutex_t lock; /* the queues and ctl_stop */
	pthread_cond_t cond;
	struct api_job *todo, **todo_tail, *done, **done_tail;
	bool ctl_stop;
	/* The I/O thread's own. */
	struct api_conn *conns;
	unsigned nconns;
	bool accepting;
	uint64_t accept_retry;
};

/* conn.c */
void vmm_api_conn_run(struct api_conn *c); /* moves it on as far as it goes without blocking */
void vmm_api_conn_event(struct api_conn *c, uint32_t events);
void vmm_api_conn_close(struct api_conn *c); /* freed now, or when its job returns */
/* Queues an error reply (vmm_api_error's body). false: out of memory. */
bool vmm_api_conn_error(struct api_conn *c, int status, const char *why, bool close);
/* When the connection times out (0: never). */
uint64_t vmm_api_conn_deadline(struct vmm_api_server *s, const struct api_conn *c);
void vmm_api_job_finish(struct api_job *j); /* the controller's reply, on the I/O thread */
void vmm_api_close_fds(int *fds, unsigned n);

/* server.c */
void vmm_api_server_accepting(struct vmm_api_server *s, bool on);
void vmm_api_server_queue(struct vmm_api_server *s, struct api_job *j);
uint64_t vmm_api_server_timeout_ns(struct vmm_api_server *s);

#endif
