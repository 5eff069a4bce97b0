/* SPDX-License-Identifier: MIT */
#include "worker_impl.h"

/* Longest sleep. Kicks, completions and the doorbell end a sleep; the bound only keeps a lost
 * one from hanging a queue or the control thread (seen once: a SIGTERM that waited forever
 * for a worker asleep in io_uring_enter with a command posted, cause not found). */
#define WAIT_BOUND_NS 100000000
/* How long a kick may take to arrive once the driver published a buffer, before it counts as
 * lost. */
#define KICK_GRACE_NS 50000000
/* Polling: kicks stay on until this long has passed without a call (a driver that polls asks
 * for none). */
#define CALL_QUIET_NS 10000000

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ kicks and commands ---- */

static void kick_done(struct host_uring *u, struct host_op *op, int res);

/* A multishot poll on the kick eventfd: armed once, one completion per wake-up the driver's
 * kicks cause (several kicks before the thread looks are one). The eventfd is never read:
 * a read per kick (through the ring: a poll armed again each time, and the read itself on
 * the wake-up path) is what this saves. Its count only grows, by one per kick (2^64 - 1
 * kicks would block a front-end that writes it), and a count left from before the arming
 * completes the poll at once: one spurious look at the ring. */
void iop_worker_arm_kick(struct iop_worker *w, struct iop_queue *q)
{
	q->kick_op.fn = kick_done;
	struct io_uring_sqe *sqe = host_uring_sqe(&w->uring, &q->kick_op);
	io_uring_prep_poll_multishot(sqe, q->kick_fd, POLLIN);
	q->kick_posted = true;
}

static void kick_done(struct host_uring *u, struct host_op *op, int res)
{
	struct iop_worker *w = iop_worker_of(u);
	struct iop_queue *q = container_of(op, struct iop_queue, kick_op);
	bool armed = u->cqe_flags & IORING_CQE_F_MORE;
	if (!armed)
		q->kick_posted = false;
	if (q->stopping)
		return;
	if (res > 0 && (res & POLLIN)) {
		q->kicks++;
		q->kicked = true;
		if (!q->kick_ns)
			q->kick_ns = host_now_ns();
	}
	if (armed)
		return;
	/* The poll ended: the kernel drops a multishot poll when it cannot post (a full CQ)
	 * or on an error; an end with a readable result is the former. */
	if (res >= 0 || res == -EAGAIN || res == -EINTR || res == -ENOMEM || res == -ECANCELED) {
		iop_worker_arm_kick(w, q);
	} else {
		/* Not pollable after all: the ring is polled from here on. */
		fprintf(stderr, "ioproxy: %s: queue %u: kick fd unusable (%s): polling it\n",
			q->dev->name, q->index, strerror(-res));
		q->polled = true;
		w->polled_rings++;
	}
}

static void arm_bell(struct iop_worker *w);

static void bell_done(struct host_uring *u, struct host_op *op, int res)
{
	(void)op;
	struct iop_worker *w = iop_worker_of(u);
	if (w->exit)
		return;
	if (res == (int)sizeof(w->bell_val) || res == -EAGAIN || res == -EINTR) {
		arm_bell(w);
		return;
	}
	/* Not re-armed, so that an error cannot loop: commands are then found by the bounded
	 * wait, later but not lost. */
	fprintf(stderr,
		"ioproxy: worker %u: doorbell read failed (%s): commands wait up to %d ms\n", w->id,
		strerror(res < 0 ? -res : EIO), WAIT_BOUND_NS / 1000000);
}

static void arm_bell(struct iop_worker *w)
{
	w->bell_op.fn = bell_done;
	struct io_uring_sqe *sqe = host_uring_sqe(&w->uring, &w->bell_op);
	io_uring_prep_read(sqe, w->bell_fd, &w->bell_val, sizeof(w->bell_val), 0);
}

/* ------------------------------------------------------------------ calls ----------------- */

static const uint64_t call_one = 1; /* what a call adds to the eventfd */

void iop_worker_signal(struct iop_worker *w, int fd)
{
	if (!w || w->cfg.poll || !w->uring.ready) {
		host_signal(fd);
		if (w)
			w->called = true;
		return;
	}
	/* An eventfd write completes inline at submission (eventfds take IOCB_NOWAIT): the
	 * interrupt leaves when the write would have, a few instructions later. A success posts
	 * no CQE, which would end the wait it is submitted with at once; a failure's CQE runs
	 * nothing. */
	struct io_uring_sqe *sqe = host_uring_sqe(&w->uring, NULL);
	io_uring_prep_write(sqe, fd, &call_one, sizeof(call_one), 0);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	w->calls_queued = true;
}

void iop_worker_flush_calls(struct iop_worker *w)
{
	if (!w->calls_queued)
		return;
	w->calls_queued = false;
	io_uring_submit(&w->uring.ring);
	w->uring.submits++;
}

/* ------------------------------------------------------------------ the loop -------------- */

/* The device's memory was replaced by zero pages after its front-end shrank it (fault.h):
 * the control thread is dropping that front-end, and its rings hold nothing worth serving. */
static bool faulted(const struct iop_queue *q)
{
	return atomic_load_explicit(&q->dev->mem_fault, memory_order_relaxed);
}

static void ring_broken(struct iop_queue *q)
{
	/* Zero pages are no driver's doing. */
	if (q->err_signalled || faulted(q))
		return;
	q->err_signalled = true;
	fprintf(stderr, "ioproxy: %s: queue %u: the driver broke the ring (index jump); %s\n",
		q->dev->name, q->index,
		q->err_fd >= 0 ? "signalled on the error fd" : "no error fd to signal");
	if (q->err_fd >= 0)
		host_signal(q->err_fd);
}

static void run_queue(struct iop_worker *w, struct iop_queue *q)
{
	for (;;) {
		int r = q->dev->ops->queue_run(w, q);
		if (r < 0) {
			ring_broken(q);
			return;
		}
		if (r == 0) {
			q->stalled = true; /* run again once completions free slots */
			return;
		}
		/* Re-enabling kicks re-checks the ring: a buffer added meanwhile is not left
		 * waiting for a kick that was suppressed. */
		if (w->notify_off || q->polled || !vq_notify_enable(&q->vq, true))
			return;
	}
}

/* Returns how many chains were taken. */
static uint64_t run_queues(struct iop_worker *w)
{
	uint64_t took = 0;
	for (unsigned i = 0; i < w->nq; i++) {
		struct iop_queue *q = w->q[i];
		if (q->stopping || q->vq.broken || !q->enabled || faulted(q))
			continue;
		bool look = q->kicked || q->replay_mem ||
			    ((w->cfg.poll || q->polled) && vq_has_work(&q->vq));
		if (!look)
			continue;
		q->kicked = false;
		uint64_t before = q->chains;
		run_queue(w, q);
		if (!q->stalled)
			q->kick_ns = 0; /* everything the kick announced is taken */
		took += q->chains - before;
	}
	return took;
}

static unsigned reap(struct iop_worker *w)
{
	return host_uring_reap(&w->uring);
}

void iop_worker_publish(struct iop_worker *w)
{
	for (unsigned i = 0; i < w->nq; i++) {
		struct iop_queue *q = w->q[i];
		iop_queue_publish(q);
		if (q->stalled) {
			q->stalled = false;
			q->kicked = true;
		}
	}
}

/* Waits for a completion for at most timeout_ns, 200 us where a ring is polled without
 * kicks. Returns false if the wait timed out. */
static bool wait_events(struct iop_worker *w, long timeout_ns)
{
	bool timed_out = false;
	if (w->polled_rings && timeout_ns > 200000)
		timeout_ns = 200000;
	struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
				       .tv_nsec = timeout_ns % 1000000000};
	struct io_uring_cqe *cqe;
	w->calls_queued = false; /* submitted here */
	int ret = io_uring_submit_and_wait_timeout(&w->uring.ring, &cqe, 1, &ts, NULL);
	if (ret == -ETIME) {
		ret = 0;
		timed_out = true;
	}
	w->uring.submits++;
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
		fprintf(stderr, "ioproxy: worker %u: io_uring_enter: %s\n", w->id, strerror(-ret));
	return !timed_out;
}

static bool blocked(const struct iop_queue *q)
{
	return q->dev->ops->queue_blocked(q);
}

/* A ring served on kicks (not polled, not stopping, enabled) with buffers the device would
 * take now. */
static bool waits_for_kick(struct iop_queue *q)
{
	return !q->stopping && !q->polled && q->enabled && !q->vq.broken && !faulted(q) &&
	       !blocked(q) && vq_has_work(&q->vq);
}

bool iop_worker_rings_have_work(struct iop_worker *w)
{
	for (unsigned i = 0; i < w->nq; i++)
		if (waits_for_kick(w->q[i]))
			return true;
	return false;
}

void iop_worker_mark_waiting(struct iop_worker *w)
{
	for (unsigned i = 0; i < w->nq; i++)
		if (waits_for_kick(w->q[i]))
			w->q[i]->kicked = true;
}

/* A wait that nothing ended, with kicks on, found a ring with work. Its kick may still be on
 * the way, so wait the grace time more; if nothing comes, the kick was lost: counted (SIGUSR1
 * and the exit show it) and the ring served anyway. (A driver without a full barrier between
 * publishing its index and reading whether a kick is wanted would lose kicks this way.) A
 * queue blocked on its own I/O is not waiting for a kick. */
static void catch_lost_kicks(struct iop_worker *w)
{
	if (!iop_worker_rings_have_work(w) || wait_events(w, KICK_GRACE_NS) ||
	    !iop_worker_rings_have_work(w))
		return;
	w->lost_kicks++;
	iop_worker_mark_waiting(w);
}

/* A wait that nothing ended found a command posted. The control thread posts it, then rings
 * the doorbell, so the bound can expire between the two: only a doorbell that does not follow
 * within the grace time is lost. */
static void catch_lost_bell(struct iop_worker *w)
{
	if (atomic_load(&w->has_cmds) && !wait_events(w, KICK_GRACE_NS) &&
	    atomic_load(&w->has_cmds))
		w->lost_bells++;
}

/* Polling: the driver's kicks on or off on every ring. On, it re-checks each ring and returns
 * true if one has buffers it would take now (a blocked queue's wait for its own I/O, whose
 * completion ends a sleep). */
static bool kicks_on(struct iop_worker *w, bool on)
{
	bool work = false;
	for (unsigned i = 0; i < w->nq; i++) {
		struct iop_queue *q = w->q[i];
		if (!q->stopping && !q->vq.broken && vq_notify_enable(&q->vq, on) && !blocked(q))
			work = true;
	}
	w->notify_off = !on;
	return work;
}

/* Polling went idle: kicks on (if they were off), one more look, then sleep until something
 * arrives (a bounded sleep, with lost kicks caught). */
static void poll_sleep(struct iop_worker *w)
{
	bool was_off = w->notify_off;
	if (!kicks_on(w, true) && !atomic_load(&w->has_cmds)) {
		w->sleeps++;
		if (!wait_events(w, WAIT_BOUND_NS))
			catch_lost_kicks(w);
		reap(w);
	}
	if (was_off)
		kicks_on(w, false);
	for (unsigned i = 0; i < w->nq; i++)
		w->q[i]->kicked = true;
}

/* Polling idle with kicks on: the driver takes interrupts, and its vCPU may share this CPU, in
 * its sleep path or about to look at its ring. The yield lets it go first rather than wait for
 * the end of our time slice; alone here, it returns at once. If it took long, that vCPU (or
 * another thread) wants this CPU: the loop then sleeps on the kick for a while instead of
 * spinning, as event mode does, so that the kick wakes it and it runs the request while the
 * vCPU is out in the kick's exit, before the driver looks at its ring again. */
void iop_worker_yield(struct iop_worker *w, uint64_t now)
{
	sched_yield();
	w->yield_ns = host_now_ns();
	if (w->yield_ns - now >= SHARED_NS) {
		w->shared_until_ns = now + SHARED_HOLD_NS;
		w->shared_spells++;
	}
}

/* Polling, once per loop: a driver that takes interrupts keeps its kicks on, so that each
 * request's kick, an exit, holds its vCPU while this thread runs the request; a driver that
 * polls (no call for CALL_QUIET_NS) has them off. */
static void poll_kicks(struct iop_worker *w, uint64_t now)
{
	if (w->called) {
		w->called = false;
		w->last_call_ns = now;
		if (w->notify_off && kicks_on(w, true))
			for (unsigned i = 0; i < w->nq; i++)
				w->q[i]->kicked = true;
	} else if (!w->notify_off && now - w->last_call_ns >= CALL_QUIET_NS) {
		kicks_on(w, false);
	}
}

static void loop(struct iop_worker *w)
{
	uint64_t idle_since = host_now_ns(), spin_ns = (uint64_t)w->cfg.poll_us * 1000;
	w->notify_off = w->cfg.poll;
	while (!w->exit) {
		w->loops++;
		if (atomic_load(&w->has_cmds))
			iop_worker_run_cmds(w);
		if (w->exit)
			break;
		uint64_t took = run_queues(w);
		iop_worker_publish(
			w); /* what completed without I/O (errors, GET_ID), before any wait */
		if (!w->cfg.poll) {
			iop_worker_window_note(w, took);
			/* The window returns at once when there is no reason to poll; true when it
			 * found chains (or a command, or a completion): then no sleep. */
			if (!iop_worker_window(w)) {
				if (!wait_events(w, WAIT_BOUND_NS)) {
					catch_lost_bell(w);
					catch_lost_kicks(w);
				}
				reap(w);
			}
		} else {
			if (io_uring_sq_ready(&w->uring.ring)) {
				io_uring_submit(&w->uring.ring);
				w->uring.submits++;
			}
			unsigned got = reap(w);
			uint64_t now = host_now_ns();
			poll_kicks(w, now);
			if (took || got) {
				idle_since = now;
			} else if (now - idle_since >= spin_ns || now < w->shared_until_ns) {
				poll_sleep(w);
				idle_since = host_now_ns();
			} else if (!w->notify_off && now - w->yield_ns >= YIELD_GAP_NS) {
				/* Kicks off: a driver that polls, whose vCPU spins and would
				 * keep the CPU for its whole time slice, so no yield. */
				iop_worker_yield(w, now);
			}
		}
		iop_worker_publish(w);
		iop_worker_finish_stops(w);
	}
}

static void exit_fn(struct iop_worker *w, void *arg)
{
	(void)arg;
	w->exit = true;
}

/* On the thread, so that SINGLE_ISSUER binds the ring to it. DEFER_TASKRUN only in event
 * mode: with --poll completions must show up in the CQ while the thread spins, and they do
 * with COOP_TASKRUN (the reap enters when the kernel has some waiting), which spares the
 * spinning thread an IPI per kick. */
static int ring_setup(struct iop_worker *w)
{
	int ret = host_uring_init(&w->uring, IOP_RING_ENTRIES,
				  w->cfg.poll ? HOST_URING_COOP : HOST_URING_DEFER, &w->setup_msg);
	if (ret)
		return ret;
	host_uring_register_files(&w->uring, w->cfg.files, w->cfg.nfiles);
	/* Filled by the pinner (bufs.h); without a table requests use readv/writev. */
	if (w->cfg.nbufs && host_uring_buffers_init(&w->uring, w->cfg.nbufs))
		fprintf(stderr, "ioproxy: worker %u: no buffer table: requests use readv/writev\n",
			w->id);
	return 0;
}

static void *worker_main(void *arg)
{
	struct iop_worker *w = arg;
	sigset_t all;
	sigfillset(&all);
	/* SIGBUS stays open: a blocked one raised by a fault would kill the process instead of
	 * reaching the handler that survives guest memory shrinking (fault.h). */
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the control thread's */
	int ret = ring_setup(w);
	pthread_mutex_lock(&w->lock);
	w->setup_done = true;
	w->setup_err = ret;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (ret)
		return NULL;
	arm_bell(w);
	loop(w);
	iop_worker_flush_calls(w);
	if (w->lost_kicks)
		fprintf(stderr,
			"ioproxy: worker %u: %llu lost kick(s): buffers published while kicks "
			"were on, and no kick within %d ms\n",
			w->id, (unsigned long long)w->lost_kicks, KICK_GRACE_NS / 1000000);
	if (w->lost_bells)
		fprintf(stderr,
			"ioproxy: worker %u: %llu lost doorbell(s): commands found after a wait "
			"nothing woke\n",
			w->id, (unsigned long long)w->lost_bells);
	host_uring_exit(&w->uring);
	return NULL;
}

int iop_worker_start(struct iop_worker *w, unsigned id, const struct iop_worker_cfg *cfg,
		     struct host_err *err)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = *cfg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	iop_window_init(&w->win, cfg->poll ? 0 : (uint64_t)cfg->window_us * 1000);
	w->q = calloc(cfg->max_queues ? cfg->max_queues : 1, sizeof(*w->q));
	w->bell_fd = w->q ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	if (!w->q)
		return host_err_set(err, ENOMEM, "out of memory");
	if (w->bell_fd < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
	int ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret)
		return host_err_set(err, ret, "cannot start a queue thread: %s", strerror(ret));
	pthread_mutex_lock(&w->lock);
	while (!w->setup_done)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	if (w->setup_err) {
		pthread_join(w->thread, NULL);
		ret = -w->setup_err;
		return host_err_set(err, ret, "io_uring_queue_init: %s%s", strerror(ret),
				    ret == EPERM || ret == ENOSYS
					    ? " (io_uring disabled here: sysctl "
					      "kernel.io_uring_disabled)"
					    : "");
	}
	w->running = true;
	return 0;
}

void iop_worker_stop(struct iop_worker *w)
{
	if (w->running) {
		iop_worker_run(w, exit_fn, NULL);
		pthread_join(w->thread, NULL);
		w->running = false;
	}
	if (w->bell_fd >= 0)
		close(w->bell_fd);
	w->bell_fd = -1;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->q);
	w->q = NULL;
}
