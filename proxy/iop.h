/* SPDX-License-Identifier: MIT */
/*
 * ioproxy's core objects. A device (blk, net) is served on one vhost-user socket to one
 * front-end at a time; its vrings are queues, each run by one worker thread with its own
 * io_uring (worker.h). Ownership: the control thread (the socket's messages) configures a
 * queue while it is stopped; once started, only its worker touches the ring, and the control
 * thread reaches it through worker calls, which are synchronous.
 */
#ifndef IOPROXY_IOP_H
#define IOPROXY_IOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/uring.h"
#include "host/util.h"
#include "inflight.h"
#include "mem.h"
#include "virtq.h"

#define IOP_MAX_QUEUES 32 /* vrings per device */

struct iop_worker;
struct iop_queue;
struct iop_dev;
struct iop_bufs;

struct iop_dev_ops {
	const char *name;
	uint64_t (*features)(const struct iop_dev *d);	/* virtio features offered */
	uint64_t protocol_features;			/* besides MQ and REPLY_ACK */
	unsigned (*queue_num)(const struct iop_dev *d); /* the GET_QUEUE_NUM answer */
	/* Control thread, before the worker runs q: per-queue state. */
	int (*queue_start)(struct iop_queue *q);
	/* Control thread, after the worker drained q. */
	void (*queue_stop)(struct iop_queue *q);
	/* Worker: take what the ring has and prepare I/O. Returns 1 when the ring is empty, 0
	 * when the device's request slots ran out first, -EIO when the ring is broken. */
	int (*queue_run)(struct iop_worker *w, struct iop_queue *q);
	/* Worker: q's requests in the kernel (a stop waits for them). */
	unsigned (*queue_busy)(const struct iop_queue *q);
	/* Worker: q leaves buffers in its ring until some of its I/O completes (no free request
	 * slot; a receive chain posted), so buffers there are no reason to stay awake or to
	 * expect a kick. */
	bool (*queue_blocked)(const struct iop_queue *q);
	/* Worker, while q stops: cancel I/O that would never complete by itself (posted
	 * receives). Optional. */
	void (*queue_cancel)(struct iop_worker *w, struct iop_queue *q);
	/* Worker: the model's counters for q, one line without a newline (SIGUSR1). */
	void (*queue_stats)(const struct iop_queue *q, char *buf, size_t len);
	/* Control thread: the front-end enabled or disabled q (SET_VRING_ENABLE). Optional. */
	void (*queue_enable)(struct iop_queue *q, bool on);
	void (*destroy)(struct iop_dev *d);
};

struct iop_queue {
	struct iop_dev *dev;
	struct iop_worker *w;
	unsigned index;

	/* Set by the front-end while the ring is stopped (control thread). */
	uint16_t num;
	uint32_t base; /* SET_VRING_BASE */
	bool num_set, addr_set, kick_set;
	uint64_t desc_uva, avail_uva, used_uva;
	int kick_fd, call_fd, err_fd; /* -1: none (kick: the ring is polled) */
	bool enabled;
	bool started; /* the worker runs it */

	/* The worker's, while started. */
	struct vq vq;
	struct host_op kick_op;
	bool kicked;	  /* run the ring on the next loop */
	uint64_t kick_ns; /* when the kick that is not served yet came (0: none) */
	bool stalled;	  /* the device ran out of slots with work waiting */
	bool dirty;	  /* completions pushed, not yet published */
	bool stopping;	  /* draining for a stop */
	bool err_signalled;
	bool polled;	  /* no kick fd (or it failed): the ring is looked at every loop */
	bool kick_posted; /* the kick eventfd's poll is armed on the ring */
	void *stop_cmd;
	bool on_worker;

	/* In-flight tracking and duplicate heads. */
	struct iop_inflight inflight;
	uint8_t *busy; /* num entries: the head is in flight (a second take is refused) */
	/* Chains in flight before a restart, submitted again first: the ring with a private
	 * available ring (split) or descriptor ring (packed) listing them oldest first. */
	struct vq replay;
	void *replay_mem;	/* that private ring; NULL once every chain is back */
	uint16_t *replay_heads; /* packed: each chain's inflight entry */
	unsigned replay_n, replay_done;

	void *priv; /* the device model's per-queue state */
	uint64_t kicks, calls, chains, bad_chains, dup_heads, resubmitted;
};

struct iop_dev {
	const struct iop_dev_ops *ops;
	const void *config; /* the virtio config space GET_CONFIG reads; nothing is writable */
	uint32_t config_size;
	unsigned id; /* registered-buffer slots: id * VHOST_USER_MEM_REGIONS on */
	const char *name;
	int listen_fd, conn_fd;
	bool owns_path; /* the socket file is ours */

	/* Negotiated with the current front-end (reset on disconnect). */
	uint64_t features, protocol_features;
	bool features_set;
	struct iop_mem mem;
	/* Raised from the SIGBUS handler when a mapping of the front-end's (its memory or its
	 * inflight region) lost its pages (fault.h); the control thread then drops it. */
	atomic_bool mem_fault;
	/* The memory table's generation for its fixed buffers (bufs.h): bumped by the control
	 * thread before the table's mappings go, read by the threads that register them. */
	atomic_uint bufs_gen;

	unsigned nq; /* vrings the device has */
	struct iop_queue q[IOP_MAX_QUEUES];

	/* The inflight buffer (GET/SET_INFLIGHT_FD), in the layout of the negotiated rings. */
	uint8_t *inflight_map;
	uint64_t inflight_size;
	int inflight_watch; /* its fault.h slot, -1: none */
	uint16_t inflight_queues, inflight_qsize;

	struct iop_pool *pool;
	uint64_t msgs, refused;
};

struct iop_pool {
	struct iop_worker *w;
	unsigned n;
	unsigned next; /* round-robin assignment of queues */
	bool poll;
	unsigned poll_us;
	struct iop_bufs *bufs; /* guest memory as fixed buffers; NULL: readv/writev only */
};

/* Sets up the fields every device has; the model fills ops, nq and its own state. */
void iop_dev_init(struct iop_dev *d, unsigned id, const char *name, struct iop_pool *pool);

/* ---- queue.c: the ring operations every device model uses (worker thread). ---- */

/* Takes up to n chains: chains to resubmit after a restart first, then the available ring.
 * Marks each in flight; a head already in flight comes back as an error chain (VQ_ERR_HEAD,
 * no segments) that must be completed like any other. Returns the count or -EIO. */
int iop_queue_pop(struct iop_queue *q, struct vq_chain *c, unsigned n);
/* Completes a chain (exactly once per popped chain). */
void iop_queue_push(struct iop_queue *q, const struct vq_chain *c, uint32_t written);
/* Publishes the pushed completions and signals the call fd if the driver wants it. */
void iop_queue_publish(struct iop_queue *q);

/* Control thread: maps the ring from the front-end's addresses and restores its position
 * (split: the inflight region adds the heads in flight to the used index; packed: a region
 * that has recorded a position gives it, SET_VRING_BASE otherwise). Returns 0 or -errno. */
int iop_queue_prepare(struct iop_queue *q);
void iop_queue_release(struct iop_queue *q);

#endif
