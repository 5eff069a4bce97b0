/* SPDX-License-Identifier: MIT */
/*
 * The net engine: a host tap (one file descriptor per queue pair, with the virtio-net header,
 * IFF_VNET_HDR) and the frame I/O on it, run on an io_uring its caller owns. vmmon's
 * virtio-net, ioproxy's virtio-net and the PCnet model are front ends over it; nothing else
 * opens or touches a tap.
 *
 * A host_net_queue is one direction of one pair over a virtio ring. Receive reads stay posted
 * in a hard-linked chain (each starts when the one before completes, so frames fill buffers in
 * arrival order; a short read, which every frame is, does not break the chain); a new chain is
 * posted once the last one has run out. Transmits are hard-linked writes in ring order, a batch
 * at a time (the next waits until the one in the kernel is done: io_uring may run two batches
 * at once on its workers, and a NIC does not reorder frames). Every
 * chain taken gets exactly one completion, with the bytes written (a received frame) or 0.
 *
 * A host_net_port is a tap queue for a device without virtio rings (see below).
 */
#ifndef HOST_NET_H
#define HOST_NET_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "err.h"
#include "opts.h"
#include "uring.h"
#include "virtq.h"

#define HOST_NET_MAX_PAIRS 8
#define HOST_NET_HDR_LEN   sizeof(struct virtio_net_hdr_v1) /* virtio 1.x: 12 bytes */

/* What the command line says about a tap (vmmon --net, ioproxy --net), or the tap queues a
 * client passed already open (the management API's SCM_RIGHTS descriptors: nfds > 0, one a
 * pair; then name is unused). Whoever fills fd[] owns them: host_tap_open works on dups. */
struct host_tap_opts {
	char name[16];	 /* IFNAMSIZ */
	unsigned queues; /* queue pairs */
	struct host_mac mac;
	int fd[HOST_NET_MAX_PAIRS];
	unsigned nfds;
};

/* The keys of struct host_tap_opts, for a host_opt_key table over struct T whose member m
 * holds them. */
#define HOST_TAP_OPT_KEYS(T, m)                                                                    \
	{"tap", host_opt_strbuf, offsetof(T, m.name), 0, 15, NULL},                                \
		{"queues", host_opt_uint, offsetof(T, m.queues), 1, HOST_NET_MAX_PAIRS, NULL},     \
	{                                                                                          \
		"mac", host_opt_mac, offsetof(T, m.mac), 0, 0, NULL                                \
	}

struct host_tap {
	struct host_tap_opts opts;
	const char *opt_name; /* "--net": for messages */
	unsigned pairs;
	int fd[HOST_NET_MAX_PAIRS]; /* one tap queue per pair, -1 when unset */
};

/* Attaches to the tap, one queue per pair (a multi-queue tap for more than one), with the
 * 12-byte virtio-net header and no offloads. With several pairs every queue starts detached:
 * the caller attaches the pairs the driver uses. With o->nfds, the queues are dups of o->fd[]
 * (checked with host_tap_check_fd, made blocking: an older io_uring answers EAGAIN on a
 * non-blocking file instead of waiting), and t->opts.name is the tap's name as the kernel
 * reports it. */
int host_tap_open(struct host_tap *t, const char *opt_name, const struct host_tap_opts *o,
		  struct host_err *err);
void host_tap_close(struct host_tap *t);
/* Checks that fd is a queue of a tap that can serve `pairs` pairs: attached to a tap (TUNGETIFF
 * answers), IFF_TAP (not tun), IFF_VNET_HDR (the engine's frames carry the virtio-net header),
 * and IFF_MULTI_QUEUE for more than one pair. IFF_NO_PI is the opener's to set: TUNGETIFF
 * cannot tell it (that bit of its answer means IFF_NOFILTER). name (16 bytes) gets the tap's
 * name. 0, or -EINVAL with err saying which (prefixed by `what`). */
int host_tap_check_fd(int fd, unsigned pairs, char *name, const char *what, struct host_err *err);
/* Attaches (on) or detaches a pair's tap queue: the kernel spreads host frames over attached
 * queues, so a pair nobody serves must be detached or it swallows them. 0 or -errno. */
int host_tap_attach(struct host_tap *t, unsigned pair, bool on);
/* The header length the tap reads and writes for a pair: 12 (virtio 1.x) or 10 (legacy). */
int host_tap_set_hdr_len(struct host_tap *t, unsigned pair, unsigned len);
/* The virtio-net config space: the MAC (given, or QEMU's 52:54:00:12:34:56 plus `index`, the
 * device's number), link up, the pair count. */
void host_net_config(const struct host_mac *mac, unsigned pairs, unsigned index,
		     struct virtio_net_config *c);

/* ---- one direction of one pair over a virtio ring ---- */

struct host_net_queue;
struct host_net_req;

struct host_net_queue_ops {
	/* Takes up to n chains (vq_pop_batch's contract): how many, or -EIO (ring broken). */
	int (*pop)(struct host_net_queue *q, struct vq_chain *c, unsigned n);
	/* Chain c is done with `len` bytes written into it. from_ring: from a completion on the
	 * ring (else from within host_net_queue_run, whose caller's locks are held). Its slot
	 * is already free; c stays valid until this returns as long as it does not run the
	 * queue itself (run it after the batch instead: see host_net_queue_wants_run). */
	void (*complete)(struct host_net_queue *q, const struct vq_chain *c, uint32_t len,
			 bool from_ring);
};

struct host_net_queue {
	int fd;
	bool rx;
	unsigned hdr_len;
	const struct host_net_queue_ops *ops;
	void *priv; /* the caller's */
	struct host_net_req *slots;
	unsigned *free;
	unsigned nfree, num;
	unsigned posted; /* reads or writes in the kernel */
	bool stalled;	 /* transmit: slots ran out with the ring not drained */
	bool cancelling;
	uint64_t cancel_ns; /* the last round of cancels (host_now_ns) */
	uint64_t frames, dropped, bad;
	uint64_t bytes; /* of the frames moved, the virtio-net header left out */
};

/* num slots (the ring's size); hdr_len as set on the tap. 0 or -ENOMEM. */
int host_net_queue_init(struct host_net_queue *q, int fd, bool rx, unsigned num, unsigned hdr_len,
			const struct host_net_queue_ops *ops, void *priv);
void host_net_queue_destroy(struct host_net_queue *q);
/* Takes chains and posts their I/O on ring u. Returns 1 when the ring ran empty, 0 when the
 * queue must wait for its I/O first (a posted receive chain, or no free slot), -EIO when the
 * ring broke. */
int host_net_queue_run(struct host_net_queue *q, struct host_uring *u);
/* After a batch of completions: true if running the queue now would take more (the receive
 * chain ran out, or transmit slots were the limit). */
bool host_net_queue_wants_run(const struct host_net_queue *q);
/* Stopping: posted receives complete only when a frame arrives, so they are cancelled (and a
 * hard-linked read that starts meanwhile is cancelled when it does). A cancel can miss (a
 * linked read not started yet is found by none), so the caller calls this again on every turn
 * of its loop until the queue is idle: another round goes out every 10 ms. Cancelled chains
 * complete with length 0. */
void host_net_queue_cancel(struct host_net_queue *q, struct host_uring *u);
/* Requests in the kernel. */
unsigned host_net_queue_busy(const struct host_net_queue *q);

/* ---- frames for devices without virtio rings ----
 *
 * A legacy NIC model (PCnet) has no chains: it reads each received frame into a buffer of its
 * own and copies it into the guest's descriptors, and writes each frame it gathered from the
 * guest's transmit ring. A host_net_port is one tap queue used that way, on the caller's
 * io_uring; a host_net_frame is one read or write of one frame. The frame keeps the virtio-net
 * header the tap carries (zero on a write: no offloads; dropped on a read), so the caller's
 * buffers hold bare Ethernet frames. Reads posted together are hard-linked, each starting when
 * the one before completes, so frames land in arrival order (a short read, which every frame
 * is, does not break the chain); writes reach the tap in the order they were posted: a batch
 * posted while the one before is still in the kernel waits for it (io_uring may run two
 * batches at once, on its workers, and a NIC does not reorder frames). Every
 * posted frame gets exactly one `done`, from a completion on the ring: the frame's length
 * without the header, or -errno (-ECANCELED once cancelled, -EIO for a read shorter than the
 * header); a write cancelled before it reached the kernel gets its `done` from
 * host_net_port_cancel. A received frame longer than its buffers arrives cut to their length (the
 * tap copies what fits): a buffer one byte longer than the longest frame the caller takes tells it
 * apart.
 */

#define HOST_NET_FRAME_IOV 4 /* the caller's buffers per frame */

struct host_net_port;
struct host_net_frame;

typedef void host_net_frame_done_fn(struct host_net_frame *f, int len);

struct host_net_frame {
	struct host_op op;			  /* the engine's */
	struct host_net_port *port;		  /* the engine's: where it is posted */
	host_net_frame_done_fn *done;		  /* the caller's, run on the ring's thread */
	void *priv;				  /* the caller's */
	struct iovec iov[1 + HOST_NET_FRAME_IOV]; /* [0] is the header */
	unsigned niov;
	bool posted, rx; /* posted: the engine has it (in the kernel, or a write waiting) */
	struct host_net_frame *next; /* the engine's: writes waiting for the batch before */
	uint8_t hdr[HOST_NET_HDR_LEN];
};

struct host_net_port {
	int fd;
	unsigned hdr_len; /* as set on the tap */
	unsigned posted;  /* frames in the kernel */
	unsigned tx_in_kernel;
	struct host_net_frame *tx_head, *tx_tail; /* writes waiting for those in the kernel */
	unsigned tx_waiting;
	bool cancelling;
	uint64_t rx_frames, tx_frames, errors;
};

/* hdr_len: the tap's header, 10 or 12 bytes (host_tap_open sets 12). */
void host_net_port_init(struct host_net_port *p, int fd, unsigned hdr_len);
void host_net_frame_init(struct host_net_frame *f, host_net_frame_done_fn *done, void *priv);
/* The caller's buffers for the frame's next read or write. -EINVAL for more than
 * HOST_NET_FRAME_IOV of them, -EBUSY while the frame is posted. */
int host_net_frame_set(struct host_net_frame *f, const struct iovec *iov, unsigned n);
/* Posts reads into f[0..n), hard-linked in that order. 0, or -EBUSY (nothing posted) if one of
 * them is posted already or twice in f, or the port is cancelling. */
int host_net_port_recv(struct host_net_port *p, struct host_uring *u, struct host_net_frame **f,
		       unsigned n);
/* Posts writes of f[0..n), in that order. 0, or -EBUSY as for host_net_port_recv. */
int host_net_port_send(struct host_net_port *p, struct host_uring *u, struct host_net_frame **f,
		       unsigned n);
/* Cancels every frame posted on the port (reads wait for a frame forever); each still gets its
 * `done`. The port takes new frames again once the last one is done. */
void host_net_port_cancel(struct host_net_port *p, struct host_uring *u);
/* Frames the engine has: in the kernel or waiting to go there. */
unsigned host_net_port_busy(const struct host_net_port *p);

#endif
