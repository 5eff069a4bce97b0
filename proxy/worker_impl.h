/* SPDX-License-Identifier: MIT */
/* Internal to the worker: what worker.c (the loop) and worker_ctl.c (the commands) share. */
#ifndef IOPROXY_WORKER_IMPL_H
#define IOPROXY_WORKER_IMPL_H

#include "worker.h"

/* Arms the read of q's kick eventfd through the ring. */
void iop_worker_arm_kick(struct iop_worker *w, struct iop_queue *q);
/* Submits the call writes iop_worker_signal queued. Before anything that lets the control
 * thread close or replace a call fd (a command, a finished stop, the exit): an SQE names the
 * descriptor by number, and the kernel takes the file only when it is submitted. */
void iop_worker_flush_calls(struct iop_worker *w);
/* Runs the commands posted since the last call. */
void iop_worker_run_cmds(struct iop_worker *w);
/* Every queue that completed work publishes once and calls at most once. */
void iop_worker_publish(struct iop_worker *w);
/* Removes stopped queues whose I/O is all back, after publishing their last completions. */
void iop_worker_finish_stops(struct iop_worker *w);

/* Polling with kicks on (--poll) and event mode's poll window: an idle loop yields at most
 * every YIELD_GAP_NS. A yield that gave the CPU away for SHARED_NS or more means a thread that
 * wants this CPU shares it (the vCPU, usually), and the thread sleeps on the kick instead of
 * spinning for SHARED_HOLD_NS; then a yield asks again. */
#define YIELD_GAP_NS   5000
#define SHARED_NS      10000
#define SHARED_HOLD_NS 20000000

/* Yields the CPU and starts a shared-CPU spell if the yield took SHARED_NS or more (worker.c). */
void iop_worker_yield(struct iop_worker *w, uint64_t now);
/* Whether a ring served on kicks has buffers the device would take now. */
bool iop_worker_rings_have_work(struct iop_worker *w);
/* Marks every such ring to be run, as its kick would. */
void iop_worker_mark_waiting(struct iop_worker *w);

/* Event mode's poll window (worker_window.c, window.h). Note: once per loop, with the chains
 * the loop took. Window: polls the rings for the current window if the thread took chains since
 * its last window and has no I/O of its own in the kernel; returns true if it found chains (they
 * are marked to run), a command or a completion, false when the thread should sleep. */
void iop_worker_window_note(struct iop_worker *w, uint64_t took);
bool iop_worker_window(struct iop_worker *w);

#endif
