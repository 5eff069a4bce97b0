/* SPDX-License-Identifier: MIT */
/*
 * A queue thread: one io_uring that carries the I/O of the queues it runs and their kicks
 * (reads of the kick eventfds). A loop iteration takes what the rings have, prepares every
 * SQE, submits once, reaps a batch of completions, then publishes each queue's used entries
 * and signals its call fd at most once. With --poll it spins on the rings and the completion
 * queue, and after poll_us of idleness turns kicks on, looks once more, and sleeps until a kick
 * or a completion; the driver's kicks are off while it spins unless the driver takes
 * interrupts, and a thread that finds its CPU shared sleeps on the kick instead of spinning
 * (worker.c).
 *
 * The ring is made on the thread itself, so SINGLE_ISSUER binds it there; DEFER_TASKRUN is
 * used in event mode (completions are run when the thread waits), not with --poll, where
 * completions must show up in the CQ while the thread spins (COOP_TASKRUN there). Files (the
 * disks) are registered where the kernel allows it; guest memory, when fixed buffers are on, is
 * pinned by another thread and its buffer table cloned into the ring (bufs.h). Requests fall
 * back to plain file descriptors and readv/writev where neither is there (RLIMIT_MEMLOCK, an
 * old kernel).
 */
#ifndef IOPROXY_WORKER_H
#define IOPROXY_WORKER_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/err.h"
#include "iop.h"
#include "window.h"

#define IOP_RING_ENTRIES 1024

struct iop_cmd;

struct iop_worker_cfg {
	bool poll;
	unsigned poll_us;
	unsigned window_us; /* event mode: the poll window's bound (window.h); 0: none */
	const int *files;   /* registered at start, slot i = files[i] (-1: empty) */
	unsigned nfiles;
	unsigned nbufs;	     /* the buffer table's size (bufs.h); 0: no fixed buffers */
	unsigned max_queues; /* queues it may run at once (every device's, at most) */
};

struct iop_worker {
	unsigned id;
	pthread_t thread;
	bool running;
	struct host_uring uring; /* made on the thread; completions find w by container_of */

	/* Commands from the control thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct iop_cmd *cmds;
	atomic_bool has_cmds;
	int bell_fd;
	struct host_op bell_op;
	uint64_t bell_val;
	bool setup_done;
	int setup_err;
	struct host_err setup_msg;

	struct iop_queue **q; /* cfg.max_queues */
	unsigned nq;
	bool exit;
	struct iop_worker_cfg cfg;
	bool notify_off;       /* polling: the driver's kicks are turned off */
	bool calls_queued;     /* call eventfd writes on the SQ, not yet submitted */
	bool called;	       /* polling: a call since the loop last looked */
	unsigned polled_rings; /* queues without a kick fd: checked every loop */
	/* Polling, when a driver takes interrupts: the last call, the last yield, and until
	 * when this CPU counts as shared with a thread that wants it (worker.c). */
	uint64_t last_call_ns, yield_ns, shared_until_ns;
	/* Event mode's poll window (worker_window.c): chains taken since the last window, when
	 * the thread last went idle after chains (0: not since), and what the windows did. */
	struct iop_window win;
	bool win_armed;
	uint64_t win_idle_ns;
	uint64_t windows, window_found, window_spin_ns;

	uint64_t loops, sleeps, lost_kicks, lost_bells, shared_spells;
};

/* Starts the thread and waits until its ring is set up. */
int iop_worker_start(struct iop_worker *w, unsigned id, const struct iop_worker_cfg *cfg,
		     struct host_err *err);
void iop_worker_stop(struct iop_worker *w);

/* Control thread, synchronous. Start hands a prepared queue to the worker; stop waits until
 * nothing is in flight for it any more and its last completions are published. */
int iop_worker_queue_start(struct iop_worker *w, struct iop_queue *q);
void iop_worker_queue_stop(struct iop_worker *w, struct iop_queue *q);
/* The process is ending (the control thread read SIGTERM or SIGINT): from here on a command
 * that holds the exit up longer than a bound ends the process (worker_ctl.c). */
void iop_worker_set_exiting(void);
/* Runs fn(w, arg) on the worker and waits for it. */
void iop_worker_run(struct iop_worker *w, void (*fn)(struct iop_worker *w, void *arg), void *arg);
/* Signals a queue's call eventfd, on w's thread: in event mode the write goes on w's ring and
 * leaves with the next submission (the one that waits, in the loop), one system call fewer per
 * request; with --poll, or without a worker (tests), it is written at once. */
void iop_worker_signal(struct iop_worker *w, int fd);
/* Prints the worker's and its queues' counters on stderr (SIGUSR1). */
void iop_worker_dump(struct iop_worker *w);

/* The worker whose ring ran a completion. */
static inline struct iop_worker *iop_worker_of(struct host_uring *u)
{
	return container_of(u, struct iop_worker, uring);
}

#endif
