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

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/err.h"

struct vmm_io;

/* A completion target: the CQE's user_data points at one of these. */
struct vmm_io_cb {
	void (*fn)(struct vmm_io *io, struct vmm_io_cb *cb, int res);
};

/* A per-batch hook; queued at most once per batch. */
struct vmm_io_flush {
	void (*fn)(struct vmm_io *io, struct vmm_io_flush *f);
	struct vmm_io_flush *next;
	bool queued;
};

/* An eventfd read forever through the ring: fn runs on every signal. */
struct vmm_io_event {
	struct vmm_io_cb cb;
	void (*fn)(struct vmm_io *io, struct vmm_io_event *ev);
	int fd;
	uint64_t value;
};

#define VMM_IO_MAX_EVENTS 256

struct vmm_io {
	struct io_uring ring;
	struct vmm_io_event *events[VMM_IO_MAX_EVENTS]; /* armed when the thread starts */
	unsigned nr_events;
	bool ring_ready;
	pthread_t thread;
	bool started;
	bool stopping;
	struct vmm_io_event stop;
	struct vmm_io_flush *flush_head;
	unsigned setup_flags; /* what io_uring_queue_init accepted, for --stats */
	uint64_t submits, cqes, batches;
};

int vmm_io_init(struct vmm_io *io, unsigned entries, struct host_err *err);
/* Before vmm_io_start: an eventfd the thread reads for as long as it runs (a queue's kick). */
int vmm_io_add_event(struct vmm_io *io, struct vmm_io_event *ev);
/* Starts the thread; later, vmm_io_stop ends it (from any other thread). */
int vmm_io_start(struct vmm_io *io);
void vmm_io_stop(struct vmm_io *io);
void vmm_io_destroy(struct vmm_io *io);

/* From the I/O thread only: an SQE (submitting first if the ring is full), tagged with cb. */
struct io_uring_sqe *vmm_io_sqe(struct vmm_io *io, struct vmm_io_cb *cb);
/* From the I/O thread: arms an eventfd reader (again after each signal). */
void vmm_io_event_arm(struct vmm_io *io, struct vmm_io_event *ev);
/* From the I/O thread: runs f once after the current batch of completions. */
void vmm_io_defer_flush(struct vmm_io *io, struct vmm_io_flush *f);

#endif
