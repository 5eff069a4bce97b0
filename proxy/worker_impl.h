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

#endif
