/* SPDX-License-Identifier: MIT */
/*
 * The API server: one I/O thread owns every socket (epoll, level-triggered, non-blocking;
 * connections in conn.c) and one controller thread runs the handler, a job at a time in
 * arrival order. A request incomplete for the timeout is answered 408; a reply the peer leaves
 * unread that long closes the connection; neither delays anyone else, since nothing on the I/O
 * thread blocks. Past VMM_API_MAX_CONNS the listening socket is left unwatched, so further
 * clients wait in the backlog instead of being refused.
 *
 * A job belongs to the controller from the todo queue until it is on the done queue; its
 * connection is freed only after the job comes back (conn.c), so the controller never sees a
 * freed connection, and the I/O thread never touches the job meanwhile. Returned jobs are
 * taken last in each epoll batch, since one may free a connection with an event later in it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "host/util.h"

#define ACCEPT_RETRY 100000000ull /* ns before accept() is tried again after EMFILE */

/* epoll tags for the two fds that are not connections */
static char tag_listen, tag_event;

void vmm_api_server_set_timeout(struct vmm_api_server *s, unsigned ms)
{
	atomic_store(&s->timeout_ms, ms);
}

uint64_t vmm_api_server_timeout_ns(struct vmm_api_server *s)
{
	return (uint64_t)atomic_load(&s->timeout_ms) * 1000000ull;
}

void vmm_api_server_accepting(struct vmm_api_server *s, bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &tag_listen};
	if (s->accepting != on && epoll_ctl(s->ep, EPOLL_CTL_MOD, s->l.fd, &ev) == 0)
		s->accepting = on;
}

void vmm_api_server_queue(struct vmm_api_server *s, struct api_job *j)
{
	pthread_mutex_lock(&s->lock);
	*s->todo_tail = j;
	s->todo_tail = &j->next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void drain_done(struct vmm_api_server *s)
{
	uint64_t v;
	if (read(s->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wakeup already consumed */
	}
	pthread_mutex_lock(&s->lock);
	struct api_job *j = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->lock);
	while (j) {
		struct api_job *next = j->next;
		vmm_api_job_finish(j);
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
				vmm_api_server_accepting(s, false);
				s->accept_retry = host_now_ns() + ACCEPT_RETRY;
			}
			return; /* EAGAIN, or a connection that died in the backlog */
		}
		struct api_conn *c = calloc(1, sizeof(*c));
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
	vmm_api_server_accepting(s, false); /* full: the rest wait in the backlog */
}

/* Acts on expired deadlines; returns epoll_wait's timeout in ms until the next one. */
static int expire(struct vmm_api_server *s)
{
	uint64_t now = host_now_ns(), next = UINT64_MAX;
	struct api_conn *c = s->conns;
	while (c) {
		struct api_conn *n = c->next;
		uint64_t d = vmm_api_conn_deadline(s, c);
		if (d && d <= now) {
			if (c->out || !vmm_api_conn_error(c, 408,
							  "request timeout: the request was not "
							  "complete in time",
							  true))
				vmm_api_conn_close(c); /* the peer does not read its reply */
			else
				vmm_api_conn_run(c);
		} else if (d && d < next) {
			next = d;
		}
		c = n;
	}
	if (!s->accepting && s->accept_retry) {
		if (s->accept_retry <= now) {
			s->accept_retry = 0;
			vmm_api_server_accepting(s, s->nconns < VMM_API_MAX_CONNS);
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
				vmm_api_conn_event(p, evs[i].events);
		}
		/* Last: see the note at the top. */
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
		struct api_job *j = s->todo;
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

static void free_jobs(struct api_job *j)
{
	while (j) {
		struct api_job *next = j->next;
		vmm_api_close_fds(j->fds, j->req.nfds);
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
		struct api_conn *c = s->conns;
		c->after = NULL; /* stopping: nothing runs after a reply that never went out */
		c->busy = false; /* its job, if any, was freed above */
		vmm_api_conn_close(c);
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
