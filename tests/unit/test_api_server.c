/* SPDX-License-Identifier: MIT */
/* The API server on real Unix sockets in a temporary directory, with a test handler: keep-alive,
 * pipelining, 100-continue, malformed requests, descriptors gathered across reads, ping while a
 * handler runs, more connections than the server holds, slow clients and the timeout, the
 * socket file's lock and stale/live checks, fd=N, and after_reply's moment. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/jsonw.h"
#include "api/server.h"
#include "host/util.h"

static char dir[64], sock_path[128];
static atomic_int after_pending; /* FIONREAD on the client when after_reply ran, or -1 */
static int after_client = -1;
static sem_t after_sem;

static void after_cb(void *arg)
{
	(void)arg;
	int n = -1;
	ioctl(after_client, FIONREAD, &n);
	atomic_store(&after_pending, n);
	sem_post(&after_sem);
}

/* The test handler: echo (method, endpoint, body length, fds' inodes), sleep (ms in the body),
 * after (204 with after_reply), none (status 0: unknown), fail (500 without a body). */
static void handler(void *ctx, const struct vmm_api_request *req, struct vmm_api_response *resp)
{
	(void)ctx;
	if (strcmp(req->endpoint, "sleep") == 0) {
		usleep((useconds_t)atoi(req->body) * 1000);
		resp->status = 204;
	} else if (strcmp(req->endpoint, "after") == 0) {
		resp->status = 204;
		resp->after_reply = after_cb;
	} else if (strcmp(req->endpoint, "fail") == 0) {
		resp->status = 500;
	} else if (strncmp(req->endpoint, "echo", 4) == 0) {
		struct jsonw w = {0};
		jsonw_raw(&w, "{\"method\":");
		jsonw_str(&w, req->method);
		jsonw_raw(&w, ",\"endpoint\":");
		jsonw_str(&w, req->endpoint);
		jsonw_printf(&w, ",\"body_len\":%zu,\"nul\":%d,\"ino\":[", req->body_len,
			     req->body[req->body_len] == '\0');
		for (unsigned i = 0; i < req->nfds; i++) {
			struct stat st;
			fstat(req->fds[i], &st);
			jsonw_printf(&w, "%s%lu", i ? "," : "", (unsigned long)st.st_ino);
		}
		jsonw_raw(&w, "]}");
		resp->status = 200;
		resp->body = jsonw_take(&w);
	}
}

static struct vmm_api_server *start(void)
{
	struct vmm_api_socket_opts o = {.path = sock_path, .fd = -1};
	struct vmm_api_server *s = NULL;
	struct host_err e = {{0}};
	int ret = vmm_api_server_start(&s, &o, handler, NULL, &e);
	if (ret)
		print_error("start: %s\n", e.msg);
	assert_int_equal(ret, 0);
	return s;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/vmmon-api-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	sem_init(&after_sem, 0, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char lock[160];
	snprintf(lock, sizeof(lock), "%s.lock", sock_path);
	unlink(sock_path);
	unlink(lock);
	rmdir(dir);
	return 0;
}

/* A client with a receive buffer, so pipelined replies can be read one at a time. */
struct client {
	int fd;
	char buf[1 << 16];
	size_t len;
};

struct reply {
	int status;
	bool close;
	char head[1024];
	char body[8192];
};

static int dial(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static struct client *client_new(void)
{
	struct client *c = calloc(1, sizeof(*c));
	c->fd = dial(sock_path);
	return c;
}

static void client_free(struct client *c)
{
	close(c->fd);
	free(c);
}

static void send_str(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void fill(struct client *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, 0);
	if (n <= 0)
		fail_msg("recv: %zd (%s) with %zu bytes buffered", n, n ? strerror(errno) : "EOF",
			 c->len);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
}

/* Reads one reply: head, then Content-Length bytes of body. */
static void read_reply(struct client *c, struct reply *r)
{
	char *end;
	c->buf[c->len] = '\0';
	while (!(end = strstr(c->buf, "\r\n\r\n")))
		fill(c);
	size_t hlen = (size_t)(end - c->buf) + 4;
	assert_true(hlen < sizeof(r->head));
	memcpy(r->head, c->buf, hlen);
	r->head[hlen] = '\0';
	assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	size_t blen = 0;
	const char *cl = strstr(r->head, "Content-Length: ");
	if (cl)
		blen = strtoul(cl + 16, NULL, 10);
	r->close = strstr(r->head, "Connection: close\r\n") != NULL;
	while (c->len < hlen + blen)
		fill(c);
	assert_true(blen < sizeof(r->body));
	memcpy(r->body, c->buf + hlen, blen);
	r->body[blen] = '\0';
	memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
	c->len -= hlen + blen;
}

static void expect_eof(struct client *c)
{
	char b;
	assert_int_equal(c->len, 0);
	ssize_t n = recv(c->fd, &b, 1, 0);
	/* A server that closes with our bytes unread resets the connection (Unix sockets do
	 * that): closed all the same. */
	if (n != 0 && !(n < 0 && errno == ECONNRESET))
		fail_msg("expected the connection closed: recv %zd (%s)", n, strerror(errno));
}

static void ping(struct client *c)
{
	struct reply r;
	send_str(c->fd, "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
	read_reply(c, &r);
	assert_int_equal(r.status, 200);
	char pid[64];
	snprintf(pid, sizeof(pid), "\"pid\":%d,", getpid());
	assert_non_null(strstr(r.body, pid));
	assert_non_null(strstr(r.body, "\"version\":\""));
	assert_non_null(strstr(r.body, "\"build_version\":\""));
	assert_non_null(strstr(r.body, "\"features\":[]"));
	assert_non_null(strstr(r.head, "Content-Type: application/json\r\n"));
}

static void keep_alive(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *c = client_new();
	struct reply r;
	for (int i = 0; i < 3; i++) {
		send_str(c->fd, "PUT /api/v1/echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
		read_reply(c, &r);
		assert_int_equal(r.status, 200);
		assert_false(r.close);
		assert_string_equal(r.body, "{\"method\":\"PUT\",\"endpoint\":\"echo\","
					    "\"body_len\":4,\"nul\":1,\"ino\":[]}");
		ping(c);
	}
	/* Unknown routes are 404s that keep the connection; so are the handler's. */
	send_str(c->fd, "GET /nothing HTTP/1.1\r\n\r\n");
	read_reply(c, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "/api/v1/"));
	send_str(c->fd, "GET /api/v1/vm.nothing HTTP/1.1\r\n\r\n");
	read_reply(c, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "[\"unknown endpoint\",\"vm.nothing\"]");
	send_str(c->fd, "PUT /api/v1/fail HTTP/1.1\r\n\r\n");
	read_reply(c, &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "[\"Internal Server Error\"]");
	send_str(c->fd, "PUT /api/v1/vmm.ping HTTP/1.1\r\n\r\n");
	read_reply(c, &r);
	assert_int_equal(r.status, 400);
	/* Connection: close: the reply says so and the server closes. */
	send_str(c->fd, "PUT /api/v1/after HTTP/1.1\r\nConnection: close\r\n\r\n");
	read_reply(c, &r);
	assert_int_equal(r.status, 204);
	assert_true(r.close);
	expect_eof(c);
	sem_wait(&after_sem);
	client_free(c);
	vmm_api_server_stop(s);
	/* Stopped: the socket file and its lock are gone. */
	char lock[160];
	snprintf(lock, sizeof(lock), "%s.lock", sock_path);
	assert_int_equal(access(sock_path, F_OK), -1);
	assert_int_equal(access(lock, F_OK), -1);
}

/* Three requests in one write, answered in order, the handler's and the I/O thread's mixed. */
static void pipelining(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *c = client_new();
	struct reply r;
	send_str(c->fd, "PUT /api/v1/sleep HTTP/1.1\r\nContent-Length: 2\r\n\r\n50"
			"GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n"
			"GET /api/v1/echo1 HTTP/1.1\r\n\r\n"
			"GET /api/v1/echo2?q HTTP/1.1\r\n\r\n");
	read_reply(c, &r);
	assert_int_equal(r.status, 204);
	read_reply(c, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"pid\""));
	read_reply(c, &r);
	assert_non_null(strstr(r.body, "\"endpoint\":\"echo1\""));
	read_reply(c, &r);
	assert_non_null(strstr(r.body, "\"endpoint\":\"echo2\""));
	client_free(c);
	vmm_api_server_stop(s);
}

static void expect_continue(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *c = client_new();
	struct reply r;
	send_str(c->fd, "PUT /api/v1/echo HTTP/1.1\r\nExpect: 100-continue\r\n"
			"Content-Length: 5\r\n\r\n");
	const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
	while (c->len < strlen(cont))
		fill(c);
	assert_int_equal(c->len, strlen(cont));
	assert_memory_equal(c->buf, cont, strlen(cont));
	c->len = 0;
	send_str(c->fd, "hello");
	read_reply(c, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"body_len\":5"));
	client_free(c);
	vmm_api_server_stop(s);
}

/* Sends all of buf on a non-blocking socket while reading what comes back, so a server that
 * answers early (and closes) is read rather than deadlocked on. */
static void send_while_reading(struct client *c, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return;
		assert_int_equal(errno, EAGAIN);
		ssize_t m = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, MSG_DONTWAIT);
		if (m > 0)
			c->len += (size_t)m;
		else
			usleep(1000);
	}
}

static void malformed_case(const char *req, size_t len, int status, const char *words, bool shut)
{
	struct client *c = client_new();
	struct reply r;
	send_while_reading(c, req, len);
	if (shut)
		shutdown(c->fd, SHUT_WR);
	read_reply(c, &r);
	assert_int_equal(r.status, status);
	assert_true(r.close);
	if (!strstr(r.body, words))
		fail_msg("%d: '%s' lacks '%s'", status, r.body, words);
	assert_int_equal(r.body[0], '[');
	expect_eof(c);
	client_free(c);
}

/* Each malformed request gets its status, then the connection closes; others carry on. */
static void malformed(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *other = client_new();
	ping(other);
#define BAD(req, status, words, shut) malformed_case(req, strlen(req), status, words, shut)
	BAD("GET /api/v1/vmm.ping HTTP/1.1\nHost: x\n\n", 400, "CRLF", false);
	BAD("PUT /api/v1/echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort", 400,
	    "closed before the end", true);
	BAD("PUT /api/v1/echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, "Content-Length",
	    false);
	BAD("PUT /api/v1/echo HTTP/1.1\r\nContent-Length: 18446744073709551617\r\n\r\n", 413,
	    "too large", false);
	BAD("PUT /api/v1/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	    411, "chunked", false);
	size_t big = 1u << 20;
	char *r = malloc(big);
	int off = sprintf(r, "GET /api/v1/vmm.ping HTTP/1.1\r\nX-Big: ");
	memset(r + off, 'a', big - (size_t)off);
	malformed_case(r, big, 431, "too large", false);
	free(r);
#undef BAD
	/* A client gone mid-request costs nothing either. */
	struct client *c = client_new();
	send_str(c->fd, "PUT /api/v1/echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
	client_free(c);
	ping(other);
	client_free(other);
	vmm_api_server_stop(s);
}

static void send_fds(int sock, const char *buf, const int *fds, unsigned n)
{
	union {
		char b[CMSG_SPACE(32 * sizeof(int))];
		struct cmsghdr align;
	} ctl = {{0}};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = strlen(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)strlen(buf));
}

/* Descriptors sent with the head and with the body (two reads for sure: the body goes only
 * after 100 Continue) reach the handler together, in order; more than 16 are refused. */
static void fds_gathered(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *c = client_new();
	struct reply r;
	int p[2], q[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	int first[2] = {p[0], p[1]}, second[1] = {q[0]};
	send_fds(c->fd,
		 "PUT /api/v1/echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
		 first, 2);
	while (!strstr(c->buf, "\r\n\r\n"))
		fill(c);
	assert_non_null(strstr(c->buf, "100 Continue"));
	c->len = 0;
	c->buf[0] = '\0';
	send_fds(c->fd, "ab", second, 1);
	send_str(c->fd, "cd");
	read_reply(c, &r);
	assert_int_equal(r.status, 200);
	char want[128];
	struct stat a, b, d;
	fstat(p[0], &a);
	fstat(p[1], &b);
	fstat(q[0], &d);
	snprintf(want, sizeof(want), "\"ino\":[%lu,%lu,%lu]", (unsigned long)a.st_ino,
		 (unsigned long)b.st_ino, (unsigned long)d.st_ino);
	if (!strstr(r.body, want))
		fail_msg("%s lacks %s", r.body, want);
	/* The next request starts with none. */
	send_str(c->fd, "GET /api/v1/echo HTTP/1.1\r\n\r\n");
	read_reply(c, &r);
	assert_non_null(strstr(r.body, "\"ino\":[]"));
	/* 17 descriptors in two reads: 400 and close. */
	int many[9];
	for (int i = 0; i < 9; i++)
		many[i] = p[0];
	send_fds(c->fd, "PUT /api/v1/echo HTTP/1.1\r\n", many, 9);
	send_fds(c->fd, "Content-Length: 0\r\n\r\n", many, 8);
	read_reply(c, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "file descriptors"));
	expect_eof(c);
	client_free(c);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	vmm_api_server_stop(s);
}

static uint64_t ms_since(uint64_t t0)
{
	return (host_now_ns() - t0) / 1000000;
}

/* vmm.ping is answered while the controller sleeps in a handler. */
static void ping_while_busy(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *a = client_new(), *b = client_new();
	struct reply r;
	uint64_t t0 = host_now_ns();
	send_str(a->fd, "PUT /api/v1/sleep HTTP/1.1\r\nContent-Length: 4\r\n\r\n1000");
	usleep(50000);
	ping(b);
	assert_true(ms_since(t0) < 500);
	read_reply(a, &r);
	assert_int_equal(r.status, 204);
	assert_true(ms_since(t0) >= 1000);
	client_free(a);
	client_free(b);
	vmm_api_server_stop(s);
}

/* More connections than the server holds at once: all answered, the later ones from the
 * backlog as earlier ones close. */
static void many_connections(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	enum { N = VMM_API_MAX_CONNS + 11 };
	struct client *c[N];
	for (int i = 0; i < N; i++) {
		c[i] = client_new();
		char req[128];
		snprintf(req, sizeof(req), "GET /api/v1/echo%d HTTP/1.1\r\n\r\n", i);
		send_str(c[i]->fd, req);
	}
	for (int i = 0; i < N; i++) {
		struct reply r;
		char want[64];
		read_reply(c[i], &r);
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof(want), "\"endpoint\":\"echo%d\"", i);
		assert_non_null(strstr(r.body, want));
		client_free(c[i]);
	}
	vmm_api_server_stop(s);
}

/* A client sending a byte at a time delays nobody; after the timeout it gets 408 and is closed;
 * an idle keep-alive connection is not. */
static void slow_client_and_timeout(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	vmm_api_server_set_timeout(s, 1500);
	struct client *slow = client_new(), *fast = client_new(), *idle = client_new();
	const char *req = "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n";
	uint64_t t0 = host_now_ns();
	for (int i = 0; i < 4; i++) {
		assert_int_equal(send(slow->fd, req + i, 1, 0), 1);
		uint64_t t1 = host_now_ns();
		ping(fast);
		assert_true(ms_since(t1) < 400); /* not held up by the slow one */
		usleep(100000);
	}
	struct reply r;
	read_reply(slow, &r);
	assert_int_equal(r.status, 408);
	assert_true(r.close);
	assert_true(ms_since(t0) >= 1450);
	assert_true(ms_since(t0) < 5000);
	expect_eof(slow);
	/* Idle for longer than the timeout, then used: still open. */
	usleep(1600000);
	ping(idle);
	client_free(slow);
	client_free(fast);
	client_free(idle);
	vmm_api_server_stop(s);
}

/* A peer that never reads its replies: the server stops reading from it, so its writes soon
 * block, rather than the server buffering without bound. */
static void unread_replies_bounded(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *c = client_new();
	const char *req = "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n";
	size_t sent = 0, limit = 64u << 20;
	int stalls = 0;
	while (sent < limit && stalls < 20) {
		ssize_t n = send(c->fd, req, strlen(req), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			stalls = 0;
		} else {
			assert_int_equal(errno, EAGAIN);
			stalls++;
			usleep(5000);
		}
	}
	assert_true(sent < limit);
	/* And the server still serves others. */
	struct client *other = client_new();
	ping(other);
	client_free(other);
	client_free(c);
	vmm_api_server_stop(s);
}

/* after_reply runs once the whole reply is in the client's socket. */
static void after_reply_moment(void **state)
{
	(void)state;
	struct vmm_api_server *s = start();
	struct client *c = client_new();
	struct reply r;
	atomic_store(&after_pending, -2);
	after_client = c->fd;
	send_str(c->fd, "PUT /api/v1/after HTTP/1.1\r\n\r\n");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	assert_int_equal(sem_timedwait(&after_sem, &ts), 0);
	assert_int_equal(atomic_load(&after_pending), strlen("HTTP/1.1 204 No Content\r\n\r\n"));
	read_reply(c, &r);
	assert_int_equal(r.status, 204);
	client_free(c);
	vmm_api_server_stop(s);
}

static int listen_at(const char *path, bool do_listen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int try_start(const struct vmm_api_socket_opts *o, struct vmm_api_server **s,
		     struct host_err *e)
{
	memset(e, 0, sizeof(*e));
	*s = NULL;
	int ret = vmm_api_server_start(s, o, handler, NULL, e);
	assert_null(strchr(e->msg, '\n'));
	return ret;
}

static void socket_file(void **state)
{
	(void)state;
	struct vmm_api_socket_opts o = {.path = sock_path, .fd = -1};
	struct vmm_api_server *s, *s2;
	struct host_err e;
	/* Stale: bound once, nobody listening. Replaced. */
	close(listen_at(sock_path, false));
	assert_int_equal(try_start(&o, &s, &e), 0);
	struct client *c = client_new();
	ping(c);
	client_free(c);
	/* Held: a second server is refused by the lock, and the first one still answers. */
	assert_int_equal(try_start(&o, &s2, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "another vmmon owns it"));
	c = client_new();
	ping(c);
	client_free(c);
	vmm_api_server_stop(s);
	/* Live, without a lock: not stolen. */
	int live = listen_at(sock_path, true);
	assert_int_equal(try_start(&o, &s2, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "live socket"));
	close(dial(sock_path));
	close(live);
	unlink(sock_path);
	/* A lock some other process holds. */
	char lock[160];
	snprintf(lock, sizeof(lock), "%s.lock", sock_path);
	int lf = open(lock, O_RDWR | O_CREAT, 0600);
	assert_int_equal(flock(lf, LOCK_EX), 0);
	assert_int_equal(try_start(&o, &s2, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "is locked"));
	close(lf);
	unlink(lock);
	/* A file that is not a socket is left alone. */
	close(open(sock_path, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(try_start(&o, &s2, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "not a socket"));
	assert_int_equal(access(sock_path, F_OK), 0);
	unlink(sock_path);
	/* A path longer than sun_path. */
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	o.path = longp;
	assert_int_equal(try_start(&o, &s2, &e), -ENAMETOOLONG);
}

static void adopt_fd(void **state)
{
	(void)state;
	struct vmm_api_server *s;
	struct host_err e;
	int fd = listen_at(sock_path, true);
	struct vmm_api_socket_opts o = {.fd = fd};
	assert_int_equal(try_start(&o, &s, &e), 0);
	struct client *c = client_new();
	ping(c);
	client_free(c);
	vmm_api_server_stop(s);
	unlink(sock_path);
	/* Not listening, not a socket, not open, not a stream. */
	fd = listen_at(sock_path, false);
	o.fd = fd;
	assert_int_equal(try_start(&o, &s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not listening"));
	close(fd);
	unlink(sock_path);
	int p[2];
	assert_int_equal(pipe(p), 0);
	o.fd = p[0];
	assert_int_equal(try_start(&o, &s, &e), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	o.fd = 1000;
	assert_int_equal(try_start(&o, &s, &e), -EBADF);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	o.fd = fd;
	assert_int_equal(try_start(&o, &s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a stream socket"));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelining, setup, teardown),
		cmocka_unit_test_setup_teardown(expect_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(fds_gathered, setup, teardown),
		cmocka_unit_test_setup_teardown(ping_while_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(many_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_client_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(unread_replies_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(after_reply_moment, setup, teardown),
		cmocka_unit_test_setup_teardown(socket_file, setup, teardown),
		cmocka_unit_test_setup_teardown(adopt_fd, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
