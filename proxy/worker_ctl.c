/* SPDX-License-Identifier: MIT */
/*
 * The control thread's side of a worker: synchronous commands (start a queue, stop one and
 * wait for its I/O, run a function on the worker) through a mailbox and a doorbell eventfd
 * the worker reads through its ring, and the counters printed on SIGUSR1.
 *
 * A command's wait is bounded only once the process is ending (SIGTERM or SIGINT pending, or
 * read by the control thread: iop_worker_set_exiting). Before that, giving up would let the
 * caller unmap guest memory or free a queue the worker still uses, so it only says, once, that
 * a command is slow. After EXIT_BOUND_NS of waiting while ending, the process ends by SIGTERM's
 * default action: nothing is freed under the worker, and the kernel takes back the I/O.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "barrier.h"
#include "worker_impl.h"

struct iop_cmd {
	void (*fn)(struct iop_worker *w, struct iop_cmd *c);
	struct iop_queue *q;
	void (*call)(struct iop_worker *w, void *arg);
	void *arg;
	int ret;
	bool done, pending;
	struct iop_cmd *next;
};

static void complete(struct iop_worker *w, struct iop_cmd *c)
{
	pthread_mutex_lock(&w->lock);
	c->done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

#define SLOW_NS	      5000000000ull /* a command this slow is reported */
#define EXIT_BOUND_NS 5000000000ull /* ending: how long a command may hold the exit up */
#define STEP_NS	      100000000	    /* the wait's step */

static atomic_bool exiting;

void iop_worker_set_exiting(void)
{
	atomic_store(&exiting, true);
}

/* Ending: the control thread read SIGTERM or SIGINT, or one waits for it (blocked in every
 * thread, taken only through the signalfd: pending until read). */
static bool ending(void)
{
	sigset_t set;
	if (atomic_load(&exiting))
		return true;
	return !sigpending(&set) &&
	       (sigismember(&set, SIGTERM) == 1 || sigismember(&set, SIGINT) == 1);
}

static void stop_fn(struct iop_worker *w, struct iop_cmd *c);

static void describe(const struct iop_cmd *c, char *buf, size_t len)
{
	if (c->q)
		snprintf(buf, len, "the %s of %s queue %u", c->fn == stop_fn ? "stop" : "start",
			 c->q->dev->name, c->q->index);
	else
		snprintf(buf, len, "a call");
}

/* Ends the process as SIGTERM's default action does (status 128 + 15). */
static void give_up(struct iop_worker *w, const struct iop_cmd *c, uint64_t waited)
{
	char what[96];
	describe(c, what, sizeof(what));
	fprintf(stderr,
		"ioproxy: worker %u: ending, and %s has waited %llu s for it: exiting without it "
		"(its I/O left to the kernel)\n",
		w->id, what, (unsigned long long)(waited / 1000000000));
	signal(SIGTERM, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGTERM);
}

static void post(struct iop_worker *w, struct iop_cmd *c)
{
	pthread_mutex_lock(&w->lock);
	c->next = w->cmds;
	w->cmds = c;
	atomic_store(&w->has_cmds, true);
	pthread_mutex_unlock(&w->lock);
	host_signal(w->bell_fd);
	uint64_t start = host_now_ns();
	bool reported = false;
	pthread_mutex_lock(&w->lock);
	while (!c->done) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t); /* the condition's clock */
		t.tv_nsec += STEP_NS;
		t.tv_sec += t.tv_nsec / 1000000000;
		t.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&w->cond, &w->lock, &t);
		uint64_t waited = host_now_ns() - start;
		if (c->done)
			break;
		if (!reported && waited >= SLOW_NS) {
			char what[96];
			describe(c, what, sizeof(what));
			fprintf(stderr, "ioproxy: worker %u: %s has waited %llu s so far\n", w->id,
				what, (unsigned long long)(waited / 1000000000));
			reported = true;
		}
		if (waited >= EXIT_BOUND_NS && ending())
			give_up(w, c, waited);
	}
	pthread_mutex_unlock(&w->lock);
}

void iop_worker_run_cmds(struct iop_worker *w)
{
	iop_worker_flush_calls(w); /* a command may swap or close a call fd */
	pthread_mutex_lock(&w->lock);
	struct iop_cmd *c = w->cmds;
	w->cmds = NULL;
	atomic_store(&w->has_cmds, false);
	pthread_mutex_unlock(&w->lock);
	while (c) {
		struct iop_cmd *next = c->next;
		c->fn(w, c);
		if (!c->pending)
			complete(w, c);
		c = next;
	}
}

static void start_fn(struct iop_worker *w, struct iop_cmd *c)
{
	struct iop_queue *q = c->q;
	if (w->nq == w->cfg.max_queues) {
		c->ret = -ENOSPC;
		return;
	}
	w->q[w->nq++] = q;
	q->on_worker = true;
	q->stopping = q->kicked = q->stalled = q->dirty = q->err_signalled = false;
	q->kick_ns = 0;
	q->polled = q->kick_fd < 0;
	if (q->polled)
		w->polled_rings++;
	else
		iop_worker_arm_kick(w, q);
	if (w->notify_off)
		vq_notify_enable(&q->vq, false);
	q->kicked = true; /* buffers may be waiting from before the start */
}

static void cancel_kick(struct iop_worker *w, struct iop_queue *q)
{
	struct io_uring_sqe *sqe = host_uring_sqe(&w->uring, NULL);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&q->kick_op, 0);
}

static void stop_fn(struct iop_worker *w, struct iop_cmd *c)
{
	struct iop_queue *q = c->q;
	q->stopping = true;
	q->stop_cmd = c;
	c->pending = true;
	if (!q->polled)
		cancel_kick(w, q);
}

static void run_fn(struct iop_worker *w, struct iop_cmd *c)
{
	c->call(w, c->arg);
}

int iop_worker_queue_start(struct iop_worker *w, struct iop_queue *q)
{
	struct iop_cmd c = {.fn = start_fn, .q = q};
	post(w, &c);
	return c.ret;
}

void iop_worker_queue_stop(struct iop_worker *w, struct iop_queue *q)
{
	struct iop_cmd c = {.fn = stop_fn, .q = q};
	post(w, &c);
}

void iop_worker_run(struct iop_worker *w, void (*fn)(struct iop_worker *w, void *arg), void *arg)
{
	struct iop_cmd c = {.fn = run_fn, .call = fn, .arg = arg};
	post(w, &c);
}

/* Removes stopped queues whose I/O is all back, after publishing their last completions. */
void iop_worker_finish_stops(struct iop_worker *w)
{
	for (unsigned i = 0; i < w->nq;) {
		struct iop_queue *q = w->q[i];
		if (!q->stopping) {
			i++;
			continue;
		}
		if (q->kick_posted || q->dev->ops->queue_busy(q)) {
			if (q->dev->ops->queue_cancel)
				q->dev->ops->queue_cancel(w, q);
			i++;
			continue;
		}
		iop_queue_publish(q);
		iop_worker_flush_calls(w); /* the control thread may close the call fd next */
		if (q->polled)
			w->polled_rings--;
		w->q[i] = w->q[--w->nq];
		q->on_worker = false;
		complete(w, q->stop_cmd);
	}
}

static void dump_fn(struct iop_worker *w, void *arg)
{
	(void)arg;
	fprintf(stderr,
		"ioproxy: worker %u: %u queue(s), %llu loops, %llu submits, %llu cqes, "
		"%llu sleeps, %llu lost kicks, %llu lost doorbells, %llu shared-CPU spells%s\n",
		w->id, w->nq, (unsigned long long)w->loops, (unsigned long long)w->uring.submits,
		(unsigned long long)w->uring.cqes, (unsigned long long)w->sleeps,
		(unsigned long long)w->lost_kicks, (unsigned long long)w->lost_bells,
		(unsigned long long)w->shared_spells,
		!w->cfg.poll	? ""
		: w->notify_off ? ", polling"
				: ", polling with kicks on");
	if (w->win.max_ns)
		fprintf(stderr,
			"ioproxy: worker %u: poll window %llu us (bound %llu): %llu windows, %llu "
			"found chains, %llu us spun; %llu hits, %llu grows, %llu shrinks\n",
			w->id, (unsigned long long)(w->win.ns / 1000),
			(unsigned long long)(w->win.max_ns / 1000), (unsigned long long)w->windows,
			(unsigned long long)w->window_found,
			(unsigned long long)(w->window_spin_ns / 1000),
			(unsigned long long)w->win.hits, (unsigned long long)w->win.grows,
			(unsigned long long)w->win.shrinks);
	for (unsigned i = 0; i < w->nq; i++) {
		struct iop_queue *q = w->q[i];
		uint16_t avail = q->vq.cfg.packed ? 0 : VQ_READ_ONCE(q->vq.avail->idx);
		uint16_t event = 0;
		if (!q->vq.cfg.packed)
			memcpy(&event, &q->vq.used->ring[q->num], sizeof(event));
		struct vq_pos at;
		vq_get_pos(&q->vq, &at);
		char model[240] = "";
		if (q->dev->ops->queue_stats)
			q->dev->ops->queue_stats(q, model, sizeof(model));
		fprintf(stderr,
			"ioproxy: %s: queue %u: %llu kicks, %llu calls, %llu chains (%llu bad, %llu "
			"duplicate), %u requests in flight, enabled %d, avail %u, taken %u, used %u, "
			"event %u; %s\n",
			q->dev->name, q->index, (unsigned long long)q->kicks,
			(unsigned long long)q->calls, (unsigned long long)q->chains,
			(unsigned long long)q->bad_chains, (unsigned long long)q->dup_heads,
			q->dev->ops->queue_busy(q), q->enabled, avail, at.avail, at.used, event,
			model);
	}
}

void iop_worker_dump(struct iop_worker *w)
{
	iop_worker_run(w, dump_fn, NULL);
}
