/* SPDX-License-Identifier: MIT */
/* --event-monitor: one JSON object per line, written whole under one lock so that events from
 * the controller, the VM thread and main never interleave. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "host/util.h"
#include "jsonw.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int out_fd = -1;
static uint64_t start_ns;

int vmm_events_open(const struct vmm_event_opts *o, struct host_err *err)
{
	int fd = o->fd;
	if (o->path) {
		fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return host_err_set(err, errno, "--event-monitor path=%s: %s", o->path,
					    strerror(errno));
	} else if (fcntl(fd, F_GETFD) < 0) {
		return host_err_set(err, EBADF, "--event-monitor fd=%d: not an open descriptor",
				    fd);
	}
	pthread_mutex_lock(&lock);
	out_fd = fd;
	start_ns = host_now_ns();
	pthread_mutex_unlock(&lock);
	return 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a monitor that went away must not stop the VM */
		p += w;
		n -= (size_t)w;
	}
}

void vmm_event(const char *source, const char *event, const char *properties)
{
	pthread_mutex_lock(&lock);
	if (out_fd < 0) {
		pthread_mutex_unlock(&lock);
		return;
	}
	uint64_t t = host_now_ns() - start_ns;
	struct jsonw w = {0};
	jsonw_printf(&w, "{\"timestamp\":{\"secs\":%llu,\"nanos\":%u},\"source\":",
		     (unsigned long long)(t / 1000000000u), (unsigned)(t % 1000000000u));
	jsonw_str(&w, source);
	jsonw_raw(&w, ",\"event\":");
	jsonw_str(&w, event);
	jsonw_raw(&w, ",\"properties\":");
	jsonw_raw(&w, properties ? properties : "null");
	jsonw_raw(&w, "}\n");
	char *s = jsonw_take(&w);
	if (s)
		write_all(out_fd, s, strlen(s));
	free(s);
	pthread_mutex_unlock(&lock);
}

void vmm_events_close(void)
{
	pthread_mutex_lock(&lock);
	if (out_fd > 2)
		close(out_fd);
	out_fd = -1;
	pthread_mutex_unlock(&lock);
}
