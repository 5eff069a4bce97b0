/* SPDX-License-Identifier: MIT */
/* Packed virtqueues (virtio 1.2, 2.8): not yet implemented. */
#include <errno.h>

#include "virtq_impl.h"

int vq_packed_init(struct vq *q)
{
	(void)q;
	return -ENOTSUP;
}

int vq_packed_pop_batch(struct vq *q, struct vq_chain *c, unsigned n)
{
	(void)q, (void)c, (void)n;
	return -EIO;
}

void vq_packed_push(struct vq *q, const struct vq_chain *c, uint32_t written)
{
	(void)q, (void)c, (void)written;
}

bool vq_packed_publish(struct vq *q)
{
	(void)q;
	return false;
}

bool vq_packed_notify_enable(struct vq *q, bool on)
{
	(void)q, (void)on;
	return false;
}

bool vq_packed_has_work(struct vq *q)
{
	(void)q;
	return false;
}

int vq_drv_packed_init(struct vq_drv *q, void *mem, uint64_t mem_gpa)
{
	(void)q, (void)mem, (void)mem_gpa;
	return -ENOTSUP;
}

int vq_drv_packed_add(struct vq_drv *q, const struct vq_sg *sg, unsigned nout, unsigned nin,
		      void *token, void *indirect, uint64_t indirect_gpa)
{
	(void)q, (void)sg, (void)nout, (void)nin, (void)token, (void)indirect, (void)indirect_gpa;
	return -ENOTSUP;
}

bool vq_drv_packed_kick_prepare(struct vq_drv *q)
{
	(void)q;
	return false;
}

void *vq_drv_packed_get(struct vq_drv *q, uint32_t *len)
{
	(void)q, (void)len;
	return NULL;
}

bool vq_drv_packed_intr_enable(struct vq_drv *q, bool on)
{
	(void)q, (void)on;
	return true;
}
