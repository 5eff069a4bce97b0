/* SPDX-License-Identifier: MIT */
/*
 * One API connection on the I/O thread: reads (with the descriptors that come along), the
 * parser, replies, and its hand-over to the controller. A connection carries one request at a
 * time: once a request is complete it reads nothing more until the reply is written, so
 * replies come in request order, a peer that never reads costs at most one request and one
 * reply, and the kernel's socket buffers hold the rest back. vmm.ping and requests outside
 * /api/v1/ are answered here, never waiting for the controller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "host/util.h"
#include "jsonw.h"

#ifndef VMMON_VERSION
#define VMMON_VERSION "unknown"
#endif

#define READ_CHUNK (64u << 10)
#define IN_MAX	   (VMM_API_MAX_HEADER + VMM_API_MAX_BODY + READ_CHUNK)
#define RUN_ROUNDS 16 /* reads per wakeup, so one busy client cannot starve the others */

void vmm_api_close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void conn_free(struct api_conn *c)
{
	struct vmm_api_server *s = c->s;
	/* The reply is out, or the peer left before it was: either way the request was carried
	 * out, and what follows it (vmm.shutdown's exit) must still happen. */
	if (c->after)
		c->after(c->after_arg);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	vmm_api_close_fds(c->fds, c->nfds);
	free(c->in);
	free(c->out);
	free(c);
	s->nconns--;
	vmm_api_server_accepting(s, true);
}

void vmm_api_conn_close(struct api_conn *c)
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
static bool conn_reply(struct api_conn *c, int status, const char *body, bool close)
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

bool vmm_api_conn_error(struct api_conn *c, int status, const char *why, bool close)
{
	struct vmm_api_response r = {0};
	vmm_api_error(&r, status, why, NULL);
	bool ok = r.body && conn_reply(c, status, r.body, close);
	free(r.body);
	return ok;
}

static bool reply_ping(struct api_conn *c, bool keep_alive)
{
	if (strcmp(c->p.msg.method, "GET") != 0)
		return vmm_api_conn_error(c, 400, "vmm.ping takes GET", !keep_alive);
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

/* Hands a complete request to the controller. false: out of memory. */
static bool start_job(struct api_conn *c)
{
	const struct vmm_http_msg *m = &c->p.msg;
	struct api_job *j = calloc(1, sizeof(*j));
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
	vmm_api_server_queue(c->s, j);
	return true;
}

/* A complete request: answered here (ping, no route) or handed on. Consumes its bytes. */
static bool conn_dispatch(struct api_conn *c)
{
	const struct vmm_http_msg *m = &c->p.msg;
	size_t total = m->head_len + m->body_len;
	bool ok;
	if (!m->endpoint[0]) {
		ok = vmm_api_conn_error(c, 404, "not found: the API's endpoints are under /api/v1/",
					!m->keep_alive);
	} else if (strcmp(m->endpoint, "vmm.ping") == 0) {
		ok = reply_ping(c, m->keep_alive);
	} else {
		ok = start_job(c);
	}
	vmm_api_close_fds(c->fds, c->nfds);
	c->nfds = 0;
	memmove(c->in, c->in + total, c->in_len - total);
	c->in_len -= total;
	if (c->in_cap > 2 * READ_CHUNK && c->in_len < READ_CHUNK) {
		/* after a large body: an idle connection keeps a small buffer */
		char *in = realloc(c->in, READ_CHUNK);
		if (in) {
			c->in = in;
			c->in_cap = READ_CHUNK;
		}
	}
	vmm_http_parser_reset(&c->p);
	c->req_start = c->in_len ? host_now_ns() : 0;
	return ok;
}

/* Takes the descriptors that came with a read; false when there were too many. */
static bool take_fds(struct api_conn *c, struct msghdr *mh)
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
static ssize_t conn_read(struct api_conn *c)
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
static int conn_flush(struct api_conn *c)
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
static int conn_step(struct api_conn *c, int *rounds)
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
		return vmm_api_conn_error(c, c->p.msg.status, c->p.msg.error, true) ? 1 : -1;
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
		return vmm_api_conn_error(c, 400,
					  "too many file descriptors with the request (at most 16)",
					  true)
			       ? 1
			       : -1;
	if (n == 0 && c->in_len)
		return vmm_api_conn_error(c, 400, "connection closed before the end of the request",
					  true)
			       ? 1
			       : -1;
	return -1; /* EOF between requests, or a socket error */
}

static void conn_update_events(struct api_conn *c)
{
	uint32_t want = c->out ? EPOLLOUT : (c->busy ? 0 : EPOLLIN);
	struct epoll_event ev = {.events = want, .data.ptr = c};
	if (want != c->events && epoll_ctl(c->s->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* Moves a connection on as far as it goes without blocking. */
void vmm_api_conn_run(struct api_conn *c)
{
	int rounds = 0;
	for (;;) {
		if (c->out) {
			int ret = conn_flush(c);
			if (ret == -EAGAIN)
				break;
			if (ret < 0 || c->close_after) {
				vmm_api_conn_close(c);
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
			vmm_api_conn_close(c);
			return;
		}
		if (ret == 0)
			break;
	}
	conn_update_events(c);
}

void vmm_api_conn_event(struct api_conn *c, uint32_t events)
{
	/* The peer is gone: a busy connection would be woken again and again until its job
	 * returns, and nobody will read the reply. */
	if ((events & (EPOLLHUP | EPOLLERR)) && c->busy) {
		vmm_api_conn_close(c);
		return;
	}
	vmm_api_conn_run(c);
}

/* The controller's reply, back on the I/O thread. */
void vmm_api_job_finish(struct api_job *j)
{
	struct api_conn *c = j->c;
	struct vmm_api_response *r = &j->resp;
	vmm_api_close_fds(j->fds, j->req.nfds);
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
			vmm_api_conn_close(c);
		else
			vmm_api_conn_run(c);
	}
	free(r->body);
	free(j->body);
	free(j);
}

/* A connection's deadline (0: none): its request's first byte, or its reply's last progress,
 * plus the timeout. The controller's time does not count. */
uint64_t vmm_api_conn_deadline(struct vmm_api_server *s, const struct api_conn *c)
{
	if (c->dead || c->busy)
		return 0;
	if (c->out)
		return c->out_moved + vmm_api_server_timeout_ns(s);
	return c->req_start ? c->req_start + vmm_api_server_timeout_ns(s) : 0;
}
