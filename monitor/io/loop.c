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

int vmm_io_init(struct vmm_io *io, unsigned entries, struct host_err *err)
{
	memset(io, 0, sizeof(*io));
	io->stop.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->stop.fd < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
	io->stop.fn = stop_fired;
	/* Made here, enabled by the I/O thread, so SINGLE_ISSUER binds the ring to that thread;
	 * DEFER_TASKRUN then runs completions only when that thread waits. */
	return host_uring_init(&io->uring, entries, HOST_URING_DEFER | HOST_URING_DISABLED, err);
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
	io->stop.fd = -1;
}
