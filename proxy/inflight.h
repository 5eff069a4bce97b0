/* SPDX-License-Identifier: MIT */
/*
 * In-flight request tracking for split rings (vhost-user INFLIGHT_SHMFD, "Inflight I/O
 * tracking" in QEMU's docs/interop/vhost-user.rst), over one queue's region of the shared
 * buffer the front-end keeps across back-end restarts:
 *   - a head taken from the available ring is marked in flight with the next counter value;
 *   - a head put in the used ring joins the last-batch list (desc[head].next);
 *   - after the batch is published (used->idx stored), its heads are cleared and used_idx
 *     records the published index;
 *   - on a restart, a batch published but not yet cleared (used_idx behind used->idx) is
 *     cleared first, then the heads still in flight come back in counter order, to be
 *     submitted again before any new one.
 * The region is shared memory the front-end could scribble on: every index read from it is
 * bounded before use. Packed rings are not tracked (their queues run without it).
 */
#ifndef IOPROXY_INFLIGHT_H
#define IOPROXY_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"

struct iop_inflight {
	struct vhost_user_inflight_split *r; /* NULL: not tracked */
	uint16_t num;
	uint64_t counter; /* the next value to stamp a taken head with */
	uint16_t batch;	  /* heads put since the last batch_done */
};

/* Bytes of one queue's region for a split ring of num entries. */
uint64_t iop_inflight_queue_bytes(uint16_t num);
/* Formats a fresh region (GET_INFLIGHT_FD): version 1 and desc_num in every queue's part. */
void iop_inflight_format(void *base, uint16_t nqueues, uint16_t num);

/* Attaches queue `region` of a ring of num entries. A region never written (version 0) or
 * made for another size is formatted empty. */
void iop_inflight_attach(struct iop_inflight *f, void *region, uint16_t num);
void iop_inflight_detach(struct iop_inflight *f);

void iop_inflight_get(struct iop_inflight *f, uint16_t head);
void iop_inflight_put(struct iop_inflight *f, uint16_t head);
/* The batch was published and the used ring's index is now used_idx. */
void iop_inflight_batch_done(struct iop_inflight *f, uint16_t used_idx);

/* Reconnect: repairs the last batch against used_idx (the used ring's index as the driver
 * sees it), then writes the heads still in flight into heads[] (num entries) oldest first and
 * returns how many. The counter continues after the newest. */
unsigned iop_inflight_recover(struct iop_inflight *f, uint16_t used_idx, uint16_t *heads);

#endif
