/* SPDX-License-Identifier: MIT */
/*
 * In-flight request tracking (vhost-user INFLIGHT_SHMFD, "Inflight I/O tracking" in QEMU's
 * docs/interop/vhost-user.rst), over one queue's region of the shared buffer the front-end
 * keeps across back-end restarts.
 *
 * Split rings (inflight.c):
 *   - a head taken from the available ring is marked in flight with the next counter value;
 *   - a head put in the used ring joins the last-batch list (desc[head].next);
 *   - after the batch is published (used->idx stored), its heads are cleared and used_idx
 *     records the published index;
 *   - on a restart, a batch published but not yet cleared (used_idx behind used->idx) is
 *     cleared first, then the heads still in flight come back in counter order, to be
 *     submitted again before any new one.
 * Packed rings (inflight_packed.c): the device writes used descriptors over the slots of
 * buffers still in flight, so the region keeps a copy of every chain taken (its descriptors'
 * addr, len, flags and id, in entries from a free list) and the ring position, which no
 * shared index records; the details are at the top of inflight_packed.c.
 *
 * The region is shared memory the front-end could scribble on: every index read from it is
 * bounded before use.
 */
#ifndef IOPROXY_INFLIGHT_H
#define IOPROXY_INFLIGHT_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"

#define IOP_INFLIGHT_NONE 0xffffu /* packed: no entry (a list's end, a chain not tracked) */

struct iop_inflight {
	struct vhost_user_inflight_split *r;  /* split; NULL: not tracked */
	struct vhost_user_inflight_packed *p; /* packed; NULL: not tracked */
	uint16_t num;
	uint64_t counter; /* the next value to stamp a taken head with */
	uint16_t batch;	  /* split: heads put since the last batch_done */
	/* packed: the chains put since the last batch_done, newest first (their head entries
	 * linked through each chain's last entry); tail is the oldest one's last entry */
	uint16_t batch_head, batch_tail;
	uint16_t used_pos; /* packed: where the batch being published ends */
	bool used_wrap;
};

/* Bytes of one queue's region for a ring of num entries. */
uint64_t iop_inflight_queue_bytes(uint16_t num, bool packed);
/* Formats a fresh region (GET_INFLIGHT_FD): version 1 and desc_num in every queue's part. */
void iop_inflight_format(void *base, uint16_t nqueues, uint16_t num, bool packed);
void iop_inflight_detach(struct iop_inflight *f);

/* ---- split ---- */

/* Attaches queue `region` of a ring of num entries. A region never written (version 0) or
 * made for another size is formatted empty. */
void iop_inflight_attach(struct iop_inflight *f, void *region, uint16_t num);

void iop_inflight_get(struct iop_inflight *f, uint16_t head);
void iop_inflight_put(struct iop_inflight *f, uint16_t head);
/* The batch was published and the used ring's index is now used_idx. */
void iop_inflight_batch_done(struct iop_inflight *f, uint16_t used_idx);

/* Reconnect: repairs the last batch against used_idx (the used ring's index as the driver
 * sees it), then writes the heads still in flight into heads[] (num entries) oldest first and
 * returns how many. The counter continues after the newest. */
unsigned iop_inflight_recover(struct iop_inflight *f, uint16_t used_idx, uint16_t *heads);

/* ---- packed ---- */

/* Formats one queue's region: every entry free, no ring position yet (the first start takes
 * the front-end's SET_VRING_BASE). */
void iop_inflight_packed_format(void *region, uint16_t num);
/* Attaches queue `region` of a ring of num entries; iop_inflight_packed_recover must follow
 * before anything else. */
void iop_inflight_packed_attach(struct iop_inflight *f, void *region, uint16_t num);

/* Records the chain just taken from ring slots slot.. (ndesc of them, wrapping at num): its
 * descriptors are copied into free entries and its head entry is marked in flight with the
 * next counter value. Returns the head entry, for put, or IOP_INFLIGHT_NONE if the chain is
 * not tracked (no region, or no free entries left: a driver offering more than num). */
uint16_t iop_inflight_packed_get(struct iop_inflight *f, const struct vring_packed_desc *ring,
				 uint16_t slot, uint16_t ndesc);
/* The chain with that head entry was put in the ring (not yet published). */
void iop_inflight_packed_put(struct iop_inflight *f, uint16_t head);
/* Before vq_publish: the batch ends at this used position. */
void iop_inflight_packed_publishing(struct iop_inflight *f, uint16_t used_pos, bool used_wrap);
/* After vq_publish: the batch's chains leave flight and their entries are free again. */
void iop_inflight_packed_batch_done(struct iop_inflight *f);

/* What a packed region says at a (re)start. */
struct iop_inflight_resume {
	uint16_t used_pos, avail_pos; /* the ring position: next used slot, next slot to read */
	bool used_wrap, avail_wrap;
	unsigned nchains;		/* chains to submit again, oldest first: */
	uint16_t *heads;		/*   their head entries (for put), nchains of them */
	struct vring_packed_desc *ring; /*   their descriptors as a ring of num slots, from slot 0
					 *   of lap 1 (NULL when nchains is 0) */
};

/* Every start: settles a batch cut short (committed if the driver can see it in the ring,
 * else rolled back), withdraws used descriptors never published from the ring, rebuilds the
 * free list, and fills *out: the position and the chains still in flight. A region with no
 * position yet (fresh, made for another size, or out of range) is formatted and starts at base
 * (the SET_VRING_BASE word: slot | wrap << 15). The counter continues after the newest.
 * Returns 0 or -ENOMEM (nothing changed). */
int iop_inflight_packed_recover(struct iop_inflight *f, struct vring_packed_desc *ring,
				uint16_t base, struct iop_inflight_resume *out);
void iop_inflight_resume_free(struct iop_inflight_resume *rs);

#endif
