/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

static void event_done(struct vmm_io *io, struct vmm_io_cb *cb, int res)
{
	struct vmm_io_event *ev = (struct vmm_io_event *)cb;
	if (io->stopping)
		return;
	if (res == (int)sizeof(ev->value) || res == -EAGAIN || res == -EINTR)
		vmm_io_event_arm(io, ev);
	if (res == (int)sizeof(ev->value))
		ev->fn(io, ev);
}

void vmm_io_event_arm(struct vmm_io *io, struct vmm_io_event *ev)
{
	ev->cb.fn = event_done;
	struct io_uring_sqe *sqe = vmm_io_sqe(io, &ev->cb);
	io_uring_prep_read(sqe, ev->fd, &ev->value, sizeof(ev->value), 0);
}

struct io_uring_sqe *vmm_io_sqe(struct vmm_io *io, struct vmm_io_cb *cb)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	while (!sqe) {
		/* Full: hand what is prepared to the kernel and take a fresh slot. */
		io_uring_submit(&io->ring);
		io->submits++;
		sqe = io_uring_get_sqe(&io->ring);
	}
	io_uring_sqe_set_data(sqe, cb);
	return sqe;
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
	/* The ring is created disabled and enabled by the I/O thread, so SINGLE_ISSUER binds it
	 * to that thread; DEFER_TASKRUN then runs completions only when that thread waits. Older
	 * kernels refuse the flags: fall back to a plain ring. */
	struct io_uring_params p = {.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER |
					     IORING_SETUP_DEFER_TASKRUN};
	int ret = io_uring_queue_init_params(entries, &io->ring, &p);
	if (ret == -EINVAL) {
		p = (struct io_uring_params){0};
		ret = io_uring_queue_init_params(entries, &io->ring, &p);
	}
	if (ret < 0)
		return host_err_set(
			err, -ret, "io_uring_queue_init: %s%s", strerror(-ret),
			ret == -EPERM || ret == -ENOSYS
				? " (io_uring disabled here: sysctl kernel.io_uring_disabled)"
				: "");
	io->setup_flags = p.flags;
	io->ring_ready = true;
	return 0;
}

static void *io_thread(void *arg)
{
	struct vmm_io *io = arg;
	/* Only the vCPU threads take the kick signal. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* liburing 2.3 has no io_uring_enable_rings(): the register opcode does the same. */
	if ((io->setup_flags & IORING_SETUP_R_DISABLED) &&
	    syscall(__NR_io_uring_register, io->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0) {
		fprintf(stderr, "vmmon: I/O thread: cannot enable its io_uring: %s\n",
			strerror(errno));
		return NULL;
	}
	vmm_io_event_arm(io, &io->stop);
	for (unsigned i = 0; i < io->nr_events; i++)
		vmm_io_event_arm(io, io->events[i]);
	while (!io->stopping) {
		int ret = io_uring_submit_and_wait(&io->ring, 1);
		io->submits++;
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "vmmon: I/O thread: io_uring_submit_and_wait: %s\n",
				strerror(-ret));
			break;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&io->ring, head, cqe)
		{
			struct vmm_io_cb *cb = io_uring_cqe_get_data(cqe);
			n++;
			if (cb)
				cb->fn(io, cb, cqe->res);
		}
		io_uring_cq_advance(&io->ring, n);
		io->cqes += n;
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
	if (io->ring_ready)
		io_uring_queue_exit(&io->ring);
	io->ring_ready = false;
	if (io->stop.fd >= 0)
		close(io->stop.fd);
	io->stop.fd = -1;
}
