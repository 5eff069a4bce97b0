/* SPDX-License-Identifier: MIT */
/*
 * vmmon's I/O thread: one io_uring that carries both the devices' I/O (file reads and writes,
 * tap traffic) and their kicks (reads of the ioeventfds the guest's notifications land in).
 * A loop iteration submits everything prepared with one syscall, reaps a batch of completions,
 * then runs the flush hooks of the devices that completed work, so each device publishes its
 * used ring and raises its interrupt once per batch.
 */
#ifndef VMMON_IO_LOOP_H
#define VMMON_IO_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/err.h"
#include "host/uring.h"
#include "host/util.h"

struct vmm_io;

/* A per-batch hook; queued at most once per batch. */
struct vmm_io_flush {
	void (*fn)(struct vmm_io *io, struct vmm_io_flush *f);
	struct vmm_io_flush *next;
	bool queued;
};

/* An eventfd read forever through the ring: fn runs on every signal. With `poll` set the ring
 * only waits for the eventfd to be readable and fn reads it itself (value stays 0): a device
 * that must read its counter under a lock of its own (a doorbell, coalesce.h). */
struct vmm_io_event {
	struct host_op op;
	void (*fn)(struct vmm_io *io, struct vmm_io_event *ev);
	int fd;
	bool poll;
	uint64_t value;
};

/* A one-shot timer on the ring (IORING_OP_TIMEOUT): fn runs on the I/O thread once it expires. */
struct vmm_io_timer {
	struct host_op op;
	struct __kernel_timespec ts;
	void (*fn)(struct vmm_io *io, struct vmm_io_timer *t);
	bool armed; /* in the kernel: a new arm waits for it to fire */
};

#define VMM_IO_MAX_EVENTS 256

struct vmm_io {
	struct host_uring uring; /* completions run with the owning vmm_io at container_of */
	struct vmm_io_event *events[VMM_IO_MAX_EVENTS]; /* armed when the thread starts */
	unsigned nr_events;
	pthread_t thread;
	bool started;
	bool stopping;
	struct vmm_io_event stop;
	struct vmm_io_flush *flush_head;
	uint64_t batches;
	/* Runs before each batch's completions (coalesce.c: the ring is applied before any
	 * device work). Set before the thread starts. */
	void (*before_batch)(void *ctx);
	void *before_ctx;
	/* Pausing (vmm_io_pause): the thread parks between batches, woken by `wake`. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_req, paused;
	struct vmm_io_event wake;
};

int vmm_io_init(struct vmm_io *io, unsigned entries, struct host_err *err);
/* Before vmm_io_start: an eventfd the thread reads for as long as it runs (a queue's kick). */
int vmm_io_add_event(struct vmm_io *io, struct vmm_io_event *ev);
/* Starts the thread; later, vmm_io_stop ends it (from any other thread). */
int vmm_io_start(struct vmm_io *io);
void vmm_io_stop(struct vmm_io *io);
void vmm_io_destroy(struct vmm_io *io);
/* From another thread: returns once the I/O thread has finished its batch and parked (its
 * in-flight I/O goes on in the kernel; no new work is taken from the rings); resume lets it
 * go on. No-ops when the thread does not run. */
void vmm_io_pause(struct vmm_io *io);
void vmm_io_resume(struct vmm_io *io);

/* The vmm_io whose ring ran a completion. */
static inline struct vmm_io *vmm_io_of(struct host_uring *u)
{
	return container_of(u, struct vmm_io, uring);
}
/* True when called on io's own thread (where its ring may be used directly). */
bool vmm_io_on_thread(const struct vmm_io *io);
/* From the I/O thread: arms an eventfd reader (again after each signal). */
void vmm_io_event_arm(struct vmm_io *io, struct vmm_io_event *ev);
/* From the I/O thread: fn runs in about `ns` nanoseconds; if the timer is armed already, when
 * that one expires (fn then checks its own deadline and arms again). */
void vmm_io_timer_arm(struct vmm_io *io, struct vmm_io_timer *t, uint64_t ns);
/* From the I/O thread: runs f once after the current batch of completions. */
void vmm_io_defer_flush(struct vmm_io *io, struct vmm_io_flush *f);

#endif
