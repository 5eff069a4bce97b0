/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The vmm_io whose thread this is, if any. */
static __thread const struct vmm_io *current_io;

bool vmm_io_on_thread(const struct vmm_io *io)
{
	return current_io == io;
}

static void event_done(struct host_uring *u, struct host_op *op, int res)
{
	struct vmm_io *io = vmm_io_of(u);
	struct vmm_io_event *ev = container_of(op, struct vmm_io_event, op);
	if (io->stopping)
		return;
	/* A read gives the counter's 8 bytes, a poll the ready mask. */
	bool fired = ev->poll ? res > 0 : res == (int)sizeof(ev->value);
	if (fired || res == -EAGAIN || res == -EINTR)
		vmm_io_event_arm(io, ev);
	if (fired)
		ev->fn(io, ev);
}

void vmm_io_event_arm(struct vmm_io *io, struct vmm_io_event *ev)
{
	ev->op.fn = event_done;
	struct io_uring_sqe *sqe = host_uring_sqe(&io->uring, &ev->op);
	if (ev->poll)
		io_uring_prep_poll_add(sqe, ev->fd, POLLIN);
	else
		io_uring_prep_read(sqe, ev->fd, &ev->value, sizeof(ev->value), 0);
}

static void timer_done(struct host_uring *u, struct host_op *op, int res)
{
	(void)res; /* -ETIME: expired; -ECANCELED only when the ring goes away */
	struct vmm_io *io = vmm_io_of(u);
	struct vmm_io_timer *t = container_of(op, struct vmm_io_timer, op);
	t->armed = false;
	if (!io->stopping)
		t->fn(io, t);
}

void vmm_io_timer_arm(struct vmm_io *io, struct vmm_io_timer *t, uint64_t ns)
{
	if (t->armed)
		return;
	t->armed = true;
	t->op.fn = timer_done;
	t->ts = (struct __kernel_timespec){.tv_sec = (long long)(ns / 1000000000u),
					   .tv_nsec = (long long)(ns % 1000000000u)};
	io_uring_prep_timeout(host_uring_sqe(&io->uring, &t->op), &t->ts, 0, 0);
}

void vmm_io_defer_flush(struct vmm_io *io, struct vmm_io_flush *f)
{
	if (f->queued)
		return;
	f->queued = true;
	f->next = io->flush_head;
	io->flush_head = f;
}

static void run_flushes(struct vmm_io *io)
{
	while (io->flush_head) {
		struct vmm_io_flush *f = io->flush_head;
		io->flush_head = f->next;
		f->queued = false;
		f->fn(io, f);
	}
}

static void stop_fired(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)ev;
	io->stopping = true;
}

static void wake_fired(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	(void)ev; /* only ends the wait: the loop looks at pause_req */
}

int vmm_io_init(struct vmm_io *io, unsigned entries, struct host_err *err)
{
	memset(io, 0, sizeof(*io));
	pthread_mutex_init(&io->pause_lock, NULL);
	pthread_cond_init(&io->pause_cond, NULL);
	io->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	io->stop.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->stop.fd < 0 || io->wake.fd < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
	io->wake.fn = wake_fired;
	io->stop.fn = stop_fired;
	/* Made here, enabled by the I/O thread, so SINGLE_ISSUER binds the ring to that thread;
	 * DEFER_TASKRUN then runs completions only when that thread waits. */
	return host_uring_init(&io->uring, entries, HOST_URING_DEFER | HOST_URING_DISABLED, err);
}

/* Between batches, while paused: nothing is submitted or reaped, so no device takes work. */
static void park(struct vmm_io *io)
{
	pthread_mutex_lock(&io->pause_lock);
	if (io->pause_req) {
		io->paused = true;
		pthread_cond_broadcast(&io->pause_cond);
		while (io->pause_req)
			pthread_cond_wait(&io->pause_cond, &io->pause_lock);
		io->paused = false;
	}
	pthread_mutex_unlock(&io->pause_lock);
}

void vmm_io_pause(struct vmm_io *io)
{
	if (!io->started)
		return;
	pthread_mutex_lock(&io->pause_lock);
	io->pause_req = true;
	uint64_t one = 1;
	if (write(io->wake.fd, &one, sizeof(one)) < 0) {
		/* a fresh eventfd cannot be full */
	}
	while (!io->paused)
		pthread_cond_wait(&io->pause_cond, &io->pause_lock);
	pthread_mutex_unlock(&io->pause_lock);
}

void vmm_io_resume(struct vmm_io *io)
{
	pthread_mutex_lock(&io->pause_lock);
	io->pause_req = false;
	pthread_cond_broadcast(&io->pause_cond);
	pthread_mutex_unlock(&io->pause_lock);
}

static void *io_thread(void *arg)
{
	struct vmm_io *io = arg;
	current_io = io;
	/* Only the vCPU threads take the kick signal. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	int ret = host_uring_enable(&io->uring);
	if (ret) {
		fprintf(stderr, "vmmon: I/O thread: cannot enable its io_uring: %s\n",
			strerror(-ret));
		return NULL;
	}
	vmm_io_event_arm(io, &io->stop);
	vmm_io_event_arm(io, &io->wake);
	for (unsigned i = 0; i < io->nr_events; i++)
		vmm_io_event_arm(io, io->events[i]);
	while (!io->stopping) {
		ret = io_uring_submit_and_wait(&io->uring.ring, 1);
		io->uring.submits++;
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "vmmon: I/O thread: io_uring_submit_and_wait: %s\n",
				strerror(-ret));
			break;
		}
		if (io->before_batch)
			io->before_batch(io->before_ctx);
		host_uring_reap(&io->uring);
		io->batches++;
		run_flushes(io);
		park(io);
	}
	return NULL;
}

int vmm_io_add_event(struct vmm_io *io, struct vmm_io_event *ev)
{
	if (io->started || io->nr_events == VMM_IO_MAX_EVENTS)
		return -ENOSPC;
	io->events[io->nr_events++] = ev;
	return 0;
}

int vmm_io_start(struct vmm_io *io)
{
	int ret = pthread_create(&io->thread, NULL, io_thread, io);
	if (ret)
		return -ret;
	io->started = true;
	return 0;
}

void vmm_io_stop(struct vmm_io *io)
{
	if (!io->started)
		return;
	vmm_io_resume(io); /* a parked thread must run to see the stop */
	uint64_t one = 1;
	if (write(io->stop.fd, &one, sizeof(one)) < 0) {
		/* a fresh eventfd cannot be full */
	}
	pthread_join(io->thread, NULL);
	io->started = false;
}

void vmm_io_destroy(struct vmm_io *io)
{
	vmm_io_stop(io);
	host_uring_exit(&io->uring);
	if (io->stop.fd >= 0)
		close(io->stop.fd);
	if (io->wake.fd >= 0)
		close(io->wake.fd);
	io->stop.fd = io->wake.fd = -1;
	pthread_mutex_destroy(&io->pause_lock);
	pthread_cond_destroy(&io->pause_cond);
}
