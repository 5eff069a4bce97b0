/* SPDX-License-Identifier: MIT */
/*
 * Virtqueues (virtio 1.2, section 2.7): the split and the packed layout behind one API, with
 * VIRTIO_F_EVENT_IDX and VIRTIO_F_INDIRECT_DESC. Two sides:
 *
 *   device side (vq_*):      used by vmmon and ioproxy. Every chain is validated against the
 *                            guest memory map before anyone sees it; a malformed chain is still
 *                            handed out (with .err set) so the device completes it and the
 *                            driver never hangs. A broken ring (not just a bad chain) makes the
 *                            queue sticky-broken: the device must set NEEDS_RESET.
 *   driver side (vq_drv_*):  used by the guest's drivers and by tests. Freestanding.
 *
 * Layouts are Linux's <linux/virtio_ring.h>. Virtio 1.x is little-endian and so is x86, so
 * fields are used as they are (a big-endian port would convert here).
 */
#ifndef VMMON_RINGS_VIRTQ_H
#define VMMON_RINGS_VIRTQ_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

#define VQ_MAX_SIZE  32768 /* largest queue size the spec allows */
#define VQ_MAX_CHAIN 1024  /* descriptors per chain, direct and indirect together */

/* What the driver and device agreed on for one queue. */
struct vq_config {
	uint16_t num;	 /* queue size; a power of two for split rings */
	bool packed;	 /* VIRTIO_F_RING_PACKED */
	bool event_idx;	 /* VIRTIO_F_EVENT_IDX */
	bool indirect;	 /* VIRTIO_F_INDIRECT_DESC */
	uint64_t desc;	 /* descriptor area (guest-physical) */
	uint64_t driver; /* split: available ring; packed: driver event suppression */
	uint64_t device; /* split: used ring; packed: device event suppression */
};

/* Bytes each area takes, for a driver laying them out and a device checking them. */
uint64_t vq_desc_size(const struct vq_config *cfg);
uint64_t vq_driver_size(const struct vq_config *cfg);
uint64_t vq_device_size(const struct vq_config *cfg);

/* ---------------------------------------------------------------- device side ---------------- */

/* Why a chain was refused. The chain is still completed (used length 0) and counted. */
enum vq_chain_err {
	VQ_OK = 0,
	VQ_ERR_HEAD,	      /* head (split) index >= queue size */
	VQ_ERR_NEXT,	      /* a next index >= queue size */
	VQ_ERR_LOOP,	      /* more descriptors than any chain may have: a loop */
	VQ_ERR_ADDR,	      /* a buffer outside guest memory, or addr + len overflows */
	VQ_ERR_LEN,	      /* a zero-length descriptor */
	VQ_ERR_ORDER,	      /* a device-readable descriptor after a device-writable one */
	VQ_ERR_INDIRECT,      /* indirect not negotiated, or combined with NEXT */
	VQ_ERR_INDIRECT_SIZE, /* indirect table length 0 or not a multiple of 16 */
	VQ_ERR_NESTED,	      /* an indirect descriptor inside an indirect table */
	VQ_ERR_TOO_MANY,      /* more segments than the caller's array holds */
};

const char *vq_chain_err_str(enum vq_chain_err err);

/* One validated piece of a buffer: wholly inside one guest memory region. A descriptor that
 * spans adjacent regions becomes several segments. */
struct vq_seg {
	uint8_t *hva;
	uint64_t gpa;
	uint32_t len;
};

/* A popped chain. The caller points .seg at storage for .max_seg segments before popping. */
struct vq_chain {
	uint16_t id;	/* split: head index; packed: buffer id */
	uint16_t ndesc; /* packed: ring slots the chain took (not its indirect entries) */
	enum vq_chain_err err;
	uint16_t nseg;	/* segments filled */
	uint16_t nread; /* the first nread segments are device-readable, the rest writable */
	uint32_t read_len, write_len;
	uint16_t max_seg;
	uint16_t tag; /* the caller's own (ioproxy: the chain's inflight entry); rings/ leaves it */
	struct vq_seg *seg;
};

struct vq {
	const struct gmem *mem;
	struct vq_config cfg;
	bool broken;	     /* sticky: the ring itself is invalid; needs a reset */
	uint64_t bad_chains; /* completed with an error */

	/* split */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;	/* next avail ring entry to take */
	uint16_t used_idx;	/* shadow of used->idx, ahead of it until vq_publish */
	uint16_t published_idx; /* used->idx at the last vq_publish */
	bool notify_enabled;	/* the driver's kicks are wanted */

	/* packed */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event, *device_event;
	uint16_t avail_pos, used_pos; /* next ring slot to read / write */
	bool avail_wrap, used_wrap;   /* wrap counters for those slots */
	uint16_t published_pos;	      /* used_pos at the last vq_publish */
	bool published_wrap;
	uint16_t pending;		     /* completions pushed since the last vq_publish */
	struct vring_packed_desc first_used; /* packed: the first used descriptor of a batch,
					      * written last so the driver sees all or none */
	uint16_t first_used_pos;
};

/* Maps the areas of cfg through mem and checks them: -EINVAL for a bad size or alignment,
 * -EFAULT for an area outside guest memory. The queue starts empty with notifications on. */
int vq_init(struct vq *q, const struct gmem *mem, const struct vq_config *cfg);

/* Takes the next available chain into *c: 1 if one was taken (check c->err), 0 if the ring is
 * empty, -EIO if the ring is broken (q->broken is set; the device must set NEEDS_RESET). */
int vq_pop(struct vq *q, struct vq_chain *c);
/* Up to n chains: returns how many were taken, or -EIO. One acquire of the index per batch. */
int vq_pop_batch(struct vq *q, struct vq_chain *c, unsigned n);

/* Completes a chain with `written` bytes written to its writable part. Every popped chain gets
 * exactly one push, error or not. Completions may come in any order. Invisible to the driver
 * until vq_publish. */
void vq_push(struct vq *q, const struct vq_chain *c, uint32_t written);
/* Makes the pushed completions visible. Returns true if the driver asked to be notified of
 * them (its event index or flags): one interrupt decision per batch. */
bool vq_publish(struct vq *q);

/* Turns the driver's kicks on (interrupt-style device) or off (polling device). Turning them on
 * returns true if chains are already waiting, which the caller must then process: a kick for
 * them may have been suppressed. A device that found the ring empty must call this (with true)
 * and check its result before it sleeps: vq_pop's own event update has no barrier. */
bool vq_notify_enable(struct vq *q, bool on);
/* True if a chain is available (a cheap check for polling). */
bool vq_has_work(struct vq *q);

/* Ring position, for handing a queue over (vhost-user GET/SET_VRING_BASE): split uses the
 * avail index; packed adds the wrap counter in bit 15. */
uint16_t vq_get_base(const struct vq *q);
void vq_set_base(struct vq *q, uint16_t base);

/* Where the device is, in full: the next chain it takes (split: an avail index; packed: a slot
 * and its wrap counter) and where its next used entry goes (split: a used index; packed: a
 * slot and its wrap counter). What a back-end that died recovers (vhost-user inflight). */
struct vq_pos {
	uint16_t avail, used;
	bool avail_wrap, used_wrap; /* packed only */
};

void vq_get_pos(const struct vq *q, struct vq_pos *p);
/* Moves the device to p with nothing pushed and unpublished. */
void vq_set_pos(struct vq *q, const struct vq_pos *p);

/* A replay queue hands out, oldest first, chains that were in flight when a back-end died, read
 * and checked like any other; each is completed on the queue it belongs to (vq_push on q, not
 * on the replay). It never writes the driver's event areas, and q is not changed.
 *   split:  heads[0..n) index q's descriptor table; `avail` is the caller's memory of
 *           vq_replay_avail_size(q) bytes, the replay's private available ring.
 *   packed: `ring` is the caller's packed ring of q's size holding copies of the chains'
 *           descriptors, lists back to back from slot 0, available in the first lap. */
uint64_t vq_replay_avail_size(const struct vq *q);
void vq_replay_init_split(struct vq *replay, const struct vq *q, void *avail, const uint16_t *heads,
			  uint16_t n);
void vq_replay_init_packed(struct vq *replay, const struct vq *q, struct vring_packed_desc *ring);

/* ---------------------------------------------------------------- driver side ---------------- */

/* A piece of a buffer the driver hands over: guest-physical address and length. */
struct vq_sg {
	uint64_t addr;
	uint32_t len;
};

/* Per-slot bookkeeping, num entries, storage given by the caller (the guest has no malloc). */
struct vq_drv_slot {
	void *token;
	uint16_t ndesc; /* descriptors the buffer holds in the ring */
	uint16_t next;	/* free list / last descriptor of the chain (split) */
};

struct vq_drv {
	struct vq_config cfg;
	struct vq_drv_slot *slot;
	uint16_t num_free;
	uint16_t free_head;
	/* split */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;  /* shadow of avail->idx */
	uint16_t kicked_idx; /* avail->idx at the last kick decision */
	uint16_t last_used;
	/* packed */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event, *device_event;
	uint16_t next_avail, next_used;
	bool avail_wrap, used_wrap;
	uint16_t kicked_pos;
	bool kicked_wrap;
	bool intr_enabled;
};

/* Bytes of memory for a queue of cfg->num (cfg->packed) entries, every area 64-byte aligned. */
uint64_t vq_drv_mem_size(const struct vq_config *cfg);
/* Lays the areas out in mem (host view) at guest-physical mem_gpa, zeroes them, and fills the
 * area addresses into q->cfg for programming the device. slot has cfg->num entries. */
int vq_drv_init(struct vq_drv *q, const struct vq_config *cfg, void *mem, uint64_t mem_gpa,
		struct vq_drv_slot *slot);
/* Adds a buffer of nout device-readable then nin device-writable pieces. If indirect is not
 * NULL (and the feature is on), the pieces go into that table (nout + nin entries of 16 bytes,
 * 8-byte aligned, at guest-physical indirect_gpa) and take one ring slot. Returns 0 or
 * -ENOSPC. */
int vq_drv_add(struct vq_drv *q, const struct vq_sg *sg, unsigned nout, unsigned nin, void *token,
	       void *indirect, uint64_t indirect_gpa);
/* Publishes what was added (split: the index; packed: add already made each buffer available)
 * and returns true if the device wants a notification now. */
bool vq_drv_kick_prepare(struct vq_drv *q);
/* The next completed buffer's token (and the bytes the device wrote), or NULL when none is
 * pending. Used entries that name no buffer in flight (a device bug) are skipped. */
void *vq_drv_get(struct vq_drv *q, uint32_t *len);
/* Asks for (or stops asking for) used-buffer notifications. Enabling returns false if
 * completions are already waiting (so the caller polls instead of sleeping). */
bool vq_drv_intr_enable(struct vq_drv *q, bool on);

#endif
