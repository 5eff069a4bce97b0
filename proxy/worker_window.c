/* SPDX-License-Identifier: MIT */
/*
 * Event mode's poll window (window.h has the why and the adaptation). With a driver that sleeps
 * on interrupts, a request at queue depth 1 otherwise costs the wake-up of an idle CPU and, since
 * the driver takes its second look at the used ring a few microseconds after its kick, its whole
 * interrupt path (120-145 us here). A thread that is already running when the next chain lands
 * completes it while the vCPU is still in its kick's exit, the driver finds it at once and sends
 * the next one within the window: the fast regime keeps itself going, as poll mode's does.
 *
 * What the window looks at is what it can see without a system call: the rings' available
 * indexes (and commands, and CQEs already posted). With DEFER_TASKRUN the thread's own I/O
 * completes only when it enters the kernel, so the window does not open while any of its
 * queues has I/O there (a request, a posted receive): that completion ends the wait at once, and
 * a window would delay it. The driver's kicks stay on: the exit is what holds the vCPU while the
 * chain is served. The kick's own completion is found by the next wait and costs one look.
 */
#include <stdatomic.h>

#include "worker_impl.h"

void iop_worker_window_note(struct iop_worker *w, uint64_t took)
{
	if (!took || !w->win.max_ns)
		return;
	if (w->win_idle_ns) {
		iop_window_adapt(&w->win, host_now_ns() - w->win_idle_ns);
		w->win_idle_ns = 0;
	}
	w->win_armed = true;
}

/* Some queue's I/O is in the kernel: its completion, not a driver, is what comes next. */
static bool io_in_kernel(struct iop_worker *w)
{
	for (unsigned i = 0; i < w->nq; i++)
		if (w->q[i]->dev->ops->queue_busy(w->q[i]))
			return true;
	return false;
}

/* Spins until the window ends; true if something arrived. */
static bool spin(struct iop_worker *w, uint64_t start)
{
	uint64_t now = start;
	bool found = false;
	for (;;) {
		if (iop_worker_rings_have_work(w)) {
			iop_worker_mark_waiting(w);
			w->window_found++;
			found = true;
			break;
		}
		if (atomic_load_explicit(&w->has_cmds, memory_order_relaxed) ||
		    io_uring_cq_ready(&w->uring.ring)) {
			found = true;
			break;
		}
		now = host_now_ns();
		if (now - start >= w->win.ns)
			break;
		/* Alone on the CPU the yield returns at once; a long one means the vCPU wants this
		 * CPU, and spinning would keep the driver from sending anything. */
		if (now - w->yield_ns >= YIELD_GAP_NS) {
			iop_worker_yield(w, now);
			if (w->shared_until_ns > now)
				break;
		}
	}
	w->window_spin_ns += host_now_ns() - start;
	return found;
}

bool iop_worker_window(struct iop_worker *w)
{
	if (!w->win_armed || io_in_kernel(w))
		return false;
	w->win_armed = false;
	uint64_t start = host_now_ns();
	w->win_idle_ns = start; /* the gap to the next chain adapts the window */
	if (!w->win.ns || start < w->shared_until_ns)
		return false;
	/* The calls this batch queued leave now, not with a wait that may not come. */
	if (io_uring_sq_ready(&w->uring.ring)) {
		io_uring_submit(&w->uring.ring);
		w->uring.submits++;
	}
	w->calls_queued = false;
	w->windows++;
	return spin(w, start);
}
