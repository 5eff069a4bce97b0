/* SPDX-License-Identifier: MIT */
/*
 * The API server: one I/O thread owns every socket (epoll, level-triggered, non-blocking) and
 * one controller thread runs the handler. A connection carries one request at a time: once a
 * request is complete the connection reads nothing more until its reply is written, so replies
 * come in request order, a peer that never reads costs at most one request and one reply, and
 * the kernel's socket buffers hold the rest back. vmm.ping is answered on the I/O thread, so it
 * never waits for the controller. A request incomplete for the timeout is answered 408; a reply
 * the peer leaves unread that long closes the connection; neither delays anyone else, since
 * nothing on the I/O thread blocks.
 *
 * A job (a request handed to the controller) belongs to the controller from the todo queue
 * until it is on the done queue; its connection is freed only after the job comes back, so the
 * controller never sees a freed connection, and the I/O thread never touches the job meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/util.h"
#include "http.h"
#include "jsonw.h"
#include "server.h"

#ifndef VMMON_VERSION
#define VMMON_VERSION "unknown"
#endif

#define IN_MAX	     (VMM_API_MAX_HEADER + VMM_API_MAX_BODY + READ_CHUNK)
#define READ_CHUNK   (64u << 10)
#define RUN_ROUNDS   16 /* reads per wakeup, so one busy client cannot starve the others */
#define ACCEPT_RETRY 100000000ull /* ns before accept() is tried again after EMFILE */

struct job {
	struct job *next;
	struct conn *c;
	bool keep_alive;
	char method[VMM_HTTP_METHOD_MAX];
	char endpoint[VMM_HTTP_ENDPOINT_MAX];
	char *body;
	int fds[VMM_API_MAX_FDS];
	struct vmm_api_request req;
	struct vmm_api_response resp;
};

struct conn {
	struct conn *prev, *next;
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
	struct job *todo, **todo_tail, *done, **done_tail;
	bool ctl_stop;
	/* The I/O thread's own. */
	struct conn *conns;
	unsigned nconns;
	bool accepting;
	uint64_t accept_retry;
};

/* epoll tags for the two fds that are not connections */
static char tag_listen, tag_event;

void vmm_api_server_set_timeout(struct vmm_api_server *s, unsigned ms)
{
	atomic_store(&s->timeout_ms, ms);
}

static uint64_t timeout_ns(struct vmm_api_server *s)
{
	return (uint64_t)atomic_load(&s->timeout_ms) * 1000000ull;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void set_accepting(struct vmm_api_server *s, bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &tag_listen};
	if (s->accepting != on && epoll_ctl(s->ep, EPOLL_CTL_MOD, s->l.fd, &ev) == 0)
		s->accepting = on;
}

static void conn_free(struct conn *c)
{
	struct vmm_api_server *s = c->s;
	if (c->after)
		c->after(c->after_arg); /* the reply is out, or nobody is left to read it */
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close_fds(c->fds, c->nfds);
	free(c->in);
	free(c->out);
	free(c);
	s->nconns--;
	set_accepting(s, true);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(c->s->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->busy)
		c->dead = true;
	else
		conn_free(c);
}

/* Queues a reply (the connection holds one at a time). false: out of memory. */
static bool conn_reply(struct conn *c, int status, const char *body, bool close)
{
	size_t len;
	char *r = vmm_http_reply(status, body, close, &len);
	if (!r)
		return false;
	c->out = r;
	c->out_len = len;
	c->out_off = 0;
	c->out_moved = host_now_ns();
	c->close_after = close;
	return true;
}

static bool conn_error(struct conn *c, int status, const char *why, bool close)
{
	struct vmm_api_response r = {0};
	vmm_api_error(&r, status, why, NULL);
	bool ok = r.body && conn_reply(c, status, r.body, close);
	free(r.body);
	return ok;
}

static bool reply_ping(struct conn *c, bool keep_alive)
{
	if (strcmp(c->p.msg.method, "GET") != 0)
		return conn_error(c, 400, "vmm.ping takes GET", !keep_alive);
	struct jsonw w = {0};
	jsonw_raw(&w, "{\"build_version\":");
	jsonw_str(&w, VMMON_VERSION);
	jsonw_raw(&w, ",\"version\":");
	jsonw_str(&w, VMMON_VERSION);
	jsonw_printf(&w, ",\"pid\":%ld,\"features\":[]}", (long)getpid());
	char *body = jsonw_take(&w);
	bool ok = body && conn_reply(c, 200, body, !keep_alive);
	free(body);
	return ok;
}

static void queue_job(struct vmm_api_server *s, struct job *j)
{
	pthread_mutex_lock(&s->lock);
	*s->todo_tail = j;
	s->todo_tail = &j->next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Hands a complete request to the controller. false: out of memory. */
static bool start_job(struct conn *c)
{
	const struct vmm_http_msg *m = &c->p.msg;
	struct job *j = calloc(1, sizeof(*j));
	char *body = j ? malloc(m->body_len + 1) : NULL;
	if (!body) {
		free(j);
		return false;
	}
	memcpy(body, c->in + m->head_len, m->body_len);
	body[m->body_len] = '\0';
	j->c = c;
	j->keep_alive = m->keep_alive;
	memcpy(j->method, m->method, sizeof(j->method));
	memcpy(j->endpoint, m->endpoint, sizeof(j->endpoint));
	j->body = body;
	memcpy(j->fds, c->fds, c->nfds * sizeof(int));
	j->req = (struct vmm_api_request){.method = j->method,
					  .endpoint = j->endpoint,
					  .body = body,
					  .body_len = m->body_len,
					  .fds = j->fds,
					  .nfds = c->nfds};
	c->nfds = 0;
	c->busy = true;
	queue_job(c->s, j);
	return true;
}

/* A complete request: answered here (ping, no route) or handed on. Consumes its bytes. */
static bool conn_dispatch(struct conn *c)
{
	const struct vmm_http_msg *m = &c->p.msg;
	size_t total = m->head_len + m->body_len;
	bool ok;
	if (!m->endpoint[0]) {
		ok = conn_error(c, 404, "not found: the API's endpoints are under /api/v1/",
				!m->keep_alive);
	} else if (strcmp(m->endpoint, "vmm.ping") == 0) {
		ok = reply_ping(c, m->keep_alive);
	} else {
		ok = start_job(c);
	}
	close_fds(c->fds, c->nfds);
	c->nfds = 0;
	memmove(c->in, c->in + total, c->in_len - total);
	c->in_len -= total;
	vmm_http_parser_reset(&c->p);
	c->req_start = c->in_len ? host_now_ns() : 0;
	return ok;
}

/* Takes the descriptors that came with a read; false when there were too many. */
static bool take_fds(struct conn *c, struct msghdr *mh)
{
	bool ok = !(mh->msg_flags & MSG_CTRUNC);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned n = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int fds[VMM_API_MAX_FDS];
		memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
		for (unsigned i = 0; i < n; i++) {
			if (c->nfds < VMM_API_MAX_FDS)
				c->fds[c->nfds++] = fds[i];
			else {
				close(fds[i]);
				ok = false;
			}
		}
	}
	return ok;
}

/* One recvmsg. >0 bytes, 0 EOF, -EAGAIN, -E2BIG (too many fds), or another -errno. */
static ssize_t conn_read(struct conn *c)
{
	if (c->in_cap - c->in_len < READ_CHUNK) {
		size_t cap = c->in_len + READ_CHUNK;
		char *in = cap <= IN_MAX ? realloc(c->in, cap) : NULL;
		if (!in)
			return -ENOMEM;
		c->in = in;
		c->in_cap = cap;
	}
	union {
		char b[CMSG_SPACE(VMM_API_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = c->in + c->in_len, .iov_len = c->in_cap - c->in_len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (!take_fds(c, &mh))
		return -E2BIG;
	if (n > 0 && !c->in_len && !c->req_start)
		c->req_start = host_now_ns();
	c->in_len += (size_t)n;
	return n;
}

/* Writes what it can. 0 when all is out, -EAGAIN, or -errno (the peer is gone). */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EINTR ? -EAGAIN : -errno;
		c->out_off += (size_t)n;
		c->out_moved = host_now_ns();
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 0;
}

/* What the parser makes of the bytes so far: a reply or a job queued, or a read wanted.
 * Returns 1 to go round again, 0 to wait for epoll, -1 when the connection must close. */
static int conn_step(struct conn *c, int *rounds)
{
	switch (vmm_http_parse(&c->p, c->in, c->in_len)) {
	case VMM_HTTP_READY:
		return conn_dispatch(c) ? 1 : -1;
	case VMM_HTTP_HEAD:
		if (!c->p.msg.expect_continue)
			return 1;
		c->out = strdup("HTTP/1.1 100 Continue\r\n\r\n");
		c->out_len = c->out ? strlen(c->out) : 0;
		c->out_moved = host_now_ns();
		return c->out ? 1 : -1;
	case VMM_HTTP_ERROR:
		return conn_error(c, c->p.msg.status, c->p.msg.error, true) ? 1 : -1;
	case VMM_HTTP_MORE:
		break;
	}
	if ((*rounds)++ == RUN_ROUNDS)
		return 0;
	ssize_t n = conn_read(c);
	if (n > 0)
		return 1;
	if (n == -EAGAIN)
		return 0;
	if (n == -E2BIG)
		return conn_error(c, 400, "too many file descriptors with the request (at most 16)",
				  true)
			       ? 1
			       : -1;
	if (n == 0 && c->in_len)
		return conn_error(c, 400, "connection closed before the end of the request", true)
			       ? 1
			       : -1;
	return -1; /* EOF between requests, or a socket error */
}

static void conn_update_events(struct conn *c)
{
	uint32_t want = c->out ? EPOLLOUT : (c->busy ? 0 : EPOLLIN);
	struct epoll_event ev = {.events = want, .data.ptr = c};
	if (want != c->events && epoll_ctl(c->s->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* Moves a connection on as far as it goes without blocking. */
static void conn_run(struct conn *c)
{
	int rounds = 0;
	for (;;) {
		if (c->out) {
			int ret = conn_flush(c);
			if (ret == -EAGAIN)
				break;
			if (ret < 0 || c->close_after) {
				conn_close(c);
				return;
			}
			if (c->after) {
				void (*after)(void *) = c->after;
				c->after = NULL;
				after(c->after_arg);
			}
		}
		if (c->busy)
			break;
		int ret = conn_step(c, &rounds);
		if (ret < 0) {
			conn_close(c);
			return;
		}
		if (ret == 0)
			break;
	}
	conn_update_events(c);
}

static void conn_event(struct conn *c, uint32_t events)
{
	/* The peer is gone: a busy connection would be woken again and again until its job
	 * returns, and nobody will read the reply. */
	if ((events & (EPOLLHUP | EPOLLERR)) && c->busy) {
		conn_close(c);
		return;
	}
	conn_run(c);
}

/* The controller's reply, back on the I/O thread. */
static void finish_job(struct job *j)
{
	struct conn *c = j->c;
	struct vmm_api_response *r = &j->resp;
	close_fds(j->fds, j->req.nfds);
	c->busy = false;
	c->after = r->after_reply;
	c->after_arg = r->after_arg;
	if (r->status == 0)
		vmm_api_error(r, 404, "unknown endpoint", j->endpoint);
	else if (r->status >= 400 && !r->body)
		vmm_api_error(r, r->status, vmm_http_reason(r->status), NULL);
	if (c->dead) {
		conn_free(c);
	} else {
		if (!conn_reply(c, r->status, r->body, !j->keep_alive))
			conn_close(c);
		else
			conn_run(c);
	}
	free(r->body);
	free(j->body);
	free(j);
}

static void drain_done(struct vmm_api_server *s)
{
	uint64_t v;
	if (read(s->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wakeup already consumed */
	}
	pthread_mutex_lock(&s->lock);
	struct job *j = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->lock);
	while (j) {
		struct job *next = j->next;
		finish_job(j);
		j = next;
	}
}

static void accept_all(struct vmm_api_server *s)
{
	while (s->nconns < VMM_API_MAX_CONNS) {
		int fd = accept4(s->l.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				set_accepting(s, false);
				s->accept_retry = host_now_ns() + ACCEPT_RETRY;
			}
			return; /* EAGAIN, or a connection that died in the backlog */
		}
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		c->events = EPOLLIN;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
	}
	set_accepting(s, false); /* full: the rest wait in the backlog */
}

/* A connection's deadline (0: none): its request's first byte, or its reply's last progress,
 * plus the timeout. The controller's time does not count. */
static uint64_t conn_deadline(struct vmm_api_server *s, const struct conn *c)
{
	if (c->dead || c->busy)
		return 0;
	if (c->out)
		return c->out_moved + timeout_ns(s);
	return c->req_start ? c->req_start + timeout_ns(s) : 0;
}

/* Acts on expired deadlines; returns epoll_wait's timeout in ms until the next one. */
static int expire(struct vmm_api_server *s)
{
	uint64_t now = host_now_ns(), next = UINT64_MAX;
	struct conn *c = s->conns;
	while (c) {
		struct conn *n = c->next;
		uint64_t d = conn_deadline(s, c);
		if (d && d <= now) {
			if (c->out || !conn_error(c, 408,
						  "request timeout: the request was not "
						  "complete in time",
						  true))
				conn_close(c); /* the peer does not read its reply */
			else
				conn_run(c);
		} else if (d && d < next) {
			next = d;
		}
		c = n;
	}
	if (!s->accepting && s->accept_retry) {
		if (s->accept_retry <= now) {
			s->accept_retry = 0;
			set_accepting(s, s->nconns < VMM_API_MAX_CONNS);
		} else if (s->accept_retry < next) {
			next = s->accept_retry;
		}
	}
	return next == UINT64_MAX ? -1 : (int)((next - now) / 1000000 + 1);
}

static void *io_main(void *arg)
{
	struct vmm_api_server *s = arg;
	struct epoll_event evs[32];
	while (!atomic_load(&s->io_stop)) {
		int n = epoll_wait(s->ep, evs, 32, expire(s));
		bool done = false;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &tag_listen)
				accept_all(s);
			else if (p == &tag_event)
				done = true;
			else
				conn_event(p, evs[i].events);
		}
		/* Last: a returning job may free its connection, which may have an event
		 * further on in this batch. */
		if (done)
			drain_done(s);
	}
	return NULL;
}

static void *ctl_main(void *arg)
{
	struct vmm_api_server *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->todo && !s->ctl_stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->ctl_stop)
			break;
		struct job *j = s->todo;
		s->todo = j->next;
		if (!s->todo)
			s->todo_tail = &s->todo;
		pthread_mutex_unlock(&s->lock);
		j->next = NULL;
		s->fn(s->ctx, &j->req, &j->resp);
		pthread_mutex_lock(&s->lock);
		*s->done_tail = j;
		s->done_tail = &j->next;
		host_signal(s->evfd);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int watch(struct vmm_api_server *s, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int vmm_api_server_start(struct vmm_api_server **out, const struct vmm_api_socket_opts *o,
			 vmm_api_handler fn, void *ctx, struct host_err *err)
{
	struct vmm_api_server *s = calloc(1, sizeof(*s));
	if (!s)
		return host_err_set(err, ENOMEM, "out of memory");
	s->ep = s->evfd = -1;
	s->todo_tail = &s->todo;
	s->done_tail = &s->done;
	s->fn = fn;
	s->ctx = ctx;
	s->accepting = true;
	atomic_init(&s->timeout_ms, VMM_API_TIMEOUT_MS);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	int ret = vmm_api_listen(&s->l, o, err);
	if (ret) {
		s->l.fd = -1;
		goto fail;
	}
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->ep < 0 || s->evfd < 0 || (ret = watch(s, s->l.fd, &tag_listen)) ||
	    (ret = watch(s, s->evfd, &tag_event))) {
		ret = host_err_set(err, ret ? -ret : errno, "API server: epoll/eventfd: %s",
				   strerror(ret ? -ret : errno));
		goto fail;
	}
	ret = -pthread_create(&s->ctl, NULL, ctl_main, s);
	if (ret)
		goto fail_thread;
	s->ctl_started = true;
	ret = -pthread_create(&s->io, NULL, io_main, s);
	if (ret)
		goto fail_thread;
	s->io_started = true;
	*out = s;
	return 0;
fail_thread:
	host_err_set(err, -ret, "API server: cannot start a thread: %s", strerror(-ret));
fail:
	vmm_api_server_stop(s);
	return ret;
}

static void free_jobs(struct job *j)
{
	while (j) {
		struct job *next = j->next;
		close_fds(j->fds, j->req.nfds);
		free(j->resp.body);
		free(j->body);
		free(j);
		j = next;
	}
}

void vmm_api_server_stop(struct vmm_api_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->ctl_stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->ctl_started)
		pthread_join(s->ctl, NULL);
	atomic_store(&s->io_stop, true);
	if (s->io_started) {
		host_signal(s->evfd);
		pthread_join(s->io, NULL);
	}
	/* Both threads are gone: what is left is this thread's to free. */
	free_jobs(s->todo);
	free_jobs(s->done);
	while (s->conns) {
		struct conn *c = s->conns;
		c->after = NULL; /* stopping: nothing runs after a reply that never went out */
		if (c->fd >= 0)
			close(c->fd);
		c->busy = false;
		conn_free(c);
	}
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->ep >= 0)
		close(s->ep);
	vmm_api_unlisten(&s->l);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
