/* SPDX-License-Identifier: MIT */
/* Internal to rings/: what virtq.c shares with the split and packed layouts. */
#ifndef VMMON_RINGS_VIRTQ_IMPL_H
#define VMMON_RINGS_VIRTQ_IMPL_H

#include "virtq.h"

/* Starts a chain: clears everything but the caller's segment storage. */
void vq_chain_reset(struct vq_chain *c, uint16_t id);
/* Appends one descriptor's buffer to c after checking it: length, direction order, and that
 * it lies in guest memory (split into per-region segments). Returns VQ_OK or the error. */
enum vq_chain_err vq_chain_add(struct vq_chain *c, const struct gmem *mem, uint64_t addr,
			       uint32_t len, bool write);
/* Records a malformed chain: drops its segments so no one touches them, and counts it. */
void vq_chain_fail(struct vq *q, struct vq_chain *c, enum vq_chain_err err);

int vq_split_init(struct vq *q);
int vq_split_pop_batch(struct vq *q, struct vq_chain *c, unsigned n);
void vq_split_push(struct vq *q, const struct vq_chain *c, uint32_t written);
bool vq_split_publish(struct vq *q);
bool vq_split_notify_enable(struct vq *q, bool on);
bool vq_split_has_work(struct vq *q);

int vq_packed_init(struct vq *q);
int vq_packed_pop_batch(struct vq *q, struct vq_chain *c, unsigned n);
void vq_packed_push(struct vq *q, const struct vq_chain *c, uint32_t written);
bool vq_packed_publish(struct vq *q);
bool vq_packed_notify_enable(struct vq *q, bool on);
bool vq_packed_has_work(struct vq *q);

int vq_drv_split_init(struct vq_drv *q, void *mem, uint64_t mem_gpa);
int vq_drv_split_add(struct vq_drv *q, const struct vq_sg *sg, unsigned nout, unsigned nin,
		     void *token, void *indirect, uint64_t indirect_gpa);
bool vq_drv_split_kick_prepare(struct vq_drv *q);
void *vq_drv_split_get(struct vq_drv *q, uint32_t *len);
bool vq_drv_split_intr_enable(struct vq_drv *q, bool on);

int vq_drv_packed_init(struct vq_drv *q, void *mem, uint64_t mem_gpa);
int vq_drv_packed_add(struct vq_drv *q, const struct vq_sg *sg, unsigned nout, unsigned nin,
		      void *token, void *indirect, uint64_t indirect_gpa);
bool vq_drv_packed_kick_prepare(struct vq_drv *q);
void *vq_drv_packed_get(struct vq_drv *q, uint32_t *len);
bool vq_drv_packed_intr_enable(struct vq_drv *q, bool on);

static inline uint64_t vq_align64(uint64_t v)
{
	return (v + 63) & ~63ull;
}

#endif
