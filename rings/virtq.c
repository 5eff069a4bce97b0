/* SPDX-License-Identifier: MIT */
/* What both ring layouts share: sizes, chain building and checking, and the dispatch. */
#include <errno.h>
#include <string.h>

#include "virtq_impl.h"

uint64_t vq_desc_size(const struct vq_config *cfg)
{
	return 16ull * cfg->num; /* struct vring_desc and struct vring_packed_desc alike */
}

uint64_t vq_driver_size(const struct vq_config *cfg)
{
	/* split: flags, idx, ring[num], used_event; packed: one event suppression struct */
	return cfg->packed ? sizeof(struct vring_packed_desc_event) : 6ull + 2ull * cfg->num;
}

uint64_t vq_device_size(const struct vq_config *cfg)
{
	/* split: flags, idx, ring[num] of {id, len}, avail_event */
	return cfg->packed ? sizeof(struct vring_packed_desc_event) : 6ull + 8ull * cfg->num;
}

const char *vq_chain_err_str(enum vq_chain_err err)
{
	static const char *const names[] = {
		[VQ_OK] = "ok",
		[VQ_ERR_HEAD] = "head index out of range",
		[VQ_ERR_NEXT] = "next index out of range",
		[VQ_ERR_LOOP] = "chain too long (a loop)",
		[VQ_ERR_ADDR] = "buffer outside guest memory",
		[VQ_ERR_LEN] = "zero-length or oversized descriptor",
		[VQ_ERR_ORDER] = "readable descriptor after a writable one",
		[VQ_ERR_INDIRECT] = "indirect descriptor not allowed here",
		[VQ_ERR_INDIRECT_SIZE] = "indirect table size not a non-zero multiple of 16",
		[VQ_ERR_NESTED] = "indirect table inside an indirect table",
		[VQ_ERR_TOO_MANY] = "more segments than the device takes",
	};
	return (unsigned)err < sizeof(names) / sizeof(names[0]) ? names[err] : "unknown";
}

void vq_chain_reset(struct vq_chain *c, uint16_t id)
{
	c->id = id;
	c->ndesc = 0;
	c->err = VQ_OK;
	c->nseg = c->nread = 0;
	c->read_len = c->write_len = 0;
}

enum vq_chain_err vq_chain_add(struct vq_chain *c, const struct gmem *mem, uint64_t addr,
			       uint32_t len, bool write)
{
	if (len == 0)
		return VQ_ERR_LEN;
	/* Device-readable buffers come first (spec 2.7.4.2). */
	if (!write && c->nseg > c->nread)
		return VQ_ERR_ORDER;
	uint32_t *total = write ? &c->write_len : &c->read_len;
	if (*total + len < *total)
		return VQ_ERR_LEN;
	uint64_t done = 0;
	while (done < len) {
		uint64_t n;
		uint8_t *hva = gmem_ptr_prefix(mem, addr + done, len - done, &n);
		if (!hva || addr + done < addr)
			return VQ_ERR_ADDR;
		if (c->nseg == c->max_seg)
			return VQ_ERR_TOO_MANY;
		c->seg[c->nseg++] =
			(struct vq_seg){.hva = hva, .gpa = addr + done, .len = (uint32_t)n};
		if (!write)
			c->nread++;
		done += n;
	}
	*total += len;
	return VQ_OK;
}

void vq_chain_fail(struct vq *q, struct vq_chain *c, enum vq_chain_err err)
{
	c->err = err;
	c->nseg = c->nread = 0;
	c->read_len = c->write_len = 0;
	q->bad_chains++;
}

static bool aligned(uint64_t v, uint64_t a)
{
	return (v & (a - 1)) == 0;
}

int vq_init(struct vq *q, const struct gmem *mem, const struct vq_config *cfg)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->cfg = *cfg;
	q->notify_enabled = true;
	if (cfg->num == 0 || cfg->num > VQ_MAX_SIZE ||
	    (!cfg->packed && (cfg->num & (cfg->num - 1))))
		return -EINVAL;
	/* Alignments of spec 2.7 (split) and 2.8.10.1 (packed). */
	if (!aligned(cfg->desc, 16) || !aligned(cfg->driver, cfg->packed ? 4 : 2) ||
	    !aligned(cfg->device, 4))
		return -EINVAL;
	void *desc = gmem_ptr(mem, cfg->desc, vq_desc_size(cfg));
	void *driver = gmem_ptr(mem, cfg->driver, vq_driver_size(cfg));
	void *device = gmem_ptr(mem, cfg->device, vq_device_size(cfg));
	if (!desc || !driver || !device)
		return -EFAULT;
	if (cfg->packed) {
		q->pdesc = desc;
		q->driver_event = driver;
		q->device_event = device;
		return vq_packed_init(q);
	}
	q->desc = desc;
	q->avail = driver;
	q->used = device;
	return vq_split_init(q);
}

int vq_pop_batch(struct vq *q, struct vq_chain *c, unsigned n)
{
	if (q->broken)
		return -EIO;
	return q->cfg.packed ? vq_packed_pop_batch(q, c, n) : vq_split_pop_batch(q, c, n);
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	return vq_pop_batch(q, c, 1);
}

void vq_push(struct vq *q, const struct vq_chain *c, uint32_t written)
{
	/* Never claim more than the driver offered to be written. */
	if (written > c->write_len)
		written = c->write_len;
	if (q->cfg.packed)
		vq_packed_push(q, c, written);
	else
		vq_split_push(q, c, written);
}

bool vq_publish(struct vq *q)
{
	return q->cfg.packed ? vq_packed_publish(q) : vq_split_publish(q);
}

bool vq_notify_enable(struct vq *q, bool on)
{
	return q->cfg.packed ? vq_packed_notify_enable(q, on) : vq_split_notify_enable(q, on);
}

bool vq_has_work(struct vq *q)
{
	if (q->broken)
		return false;
	return q->cfg.packed ? vq_packed_has_work(q) : vq_split_has_work(q);
}

uint16_t vq_get_base(const struct vq *q)
{
	if (q->cfg.packed)
		return (uint16_t)(q->avail_pos | (q->avail_wrap ? 0x8000 : 0));
	return q->last_avail;
}

void vq_set_base(struct vq *q, uint16_t base)
{
	if (q->cfg.packed) {
		q->avail_pos = q->used_pos = q->published_pos = base & 0x7fff;
		q->avail_wrap = q->used_wrap = q->published_wrap = base >> 15;
		return;
	}
	q->last_avail = q->used_idx = q->published_idx = base;
}

void vq_get_pos(const struct vq *q, struct vq_pos *p)
{
	if (q->cfg.packed)
		*p = (struct vq_pos){.avail = q->avail_pos,
				     .used = q->used_pos,
				     .avail_wrap = q->avail_wrap,
				     .used_wrap = q->used_wrap};
	else
		*p = (struct vq_pos){.avail = q->last_avail, .used = q->used_idx};
}

void vq_set_pos(struct vq *q, const struct vq_pos *p)
{
	if (q->cfg.packed) {
		q->avail_pos = p->avail;
		q->avail_wrap = p->avail_wrap;
		q->used_pos = q->published_pos = p->used;
		q->used_wrap = q->published_wrap = p->used_wrap;
		q->pending = 0;
		return;
	}
	q->last_avail = p->avail;
	q->used_idx = q->published_idx = p->used;
}

uint64_t vq_replay_avail_size(const struct vq *q)
{
	return 6ull + 2ull * q->cfg.num; /* flags, idx, ring[num], used_event */
}

/* What both layouts share: the driver's ring is only read, its event areas never written. */
static void replay_init(struct vq *replay, const struct vq *q)
{
	*replay = *q;
	replay->notify_enabled = false;
	replay->cfg.event_idx = false;
	replay->bad_chains = 0;
}

void vq_replay_init_split(struct vq *replay, const struct vq *q, void *avail, const uint16_t *heads,
			  uint16_t n)
{
	replay_init(replay, q);
	struct vring_avail *a = avail;
	if (n > q->cfg.num)
		n = q->cfg.num;
	memset(a, 0, vq_replay_avail_size(q));
	memcpy(a->ring, heads, n * sizeof(*heads));
	a->idx = n;
	replay->avail = a;
	replay->last_avail = 0;
}

void vq_replay_init_packed(struct vq *replay, const struct vq *q, struct vring_packed_desc *ring)
{
	replay_init(replay, q);
	replay->pdesc = ring;
	replay->avail_pos = 0;
	replay->avail_wrap = true;
}

/* ------------------------------------------------------------------ driver side ------------- */

uint64_t vq_drv_mem_size(const struct vq_config *cfg)
{
	return vq_align64(vq_desc_size(cfg)) + vq_align64(vq_driver_size(cfg)) +
	       vq_align64(vq_device_size(cfg));
}

int vq_drv_init(struct vq_drv *q, const struct vq_config *cfg, void *mem, uint64_t mem_gpa,
		struct vq_drv_slot *slot)
{
	memset(q, 0, sizeof(*q));
	q->cfg = *cfg;
	q->slot = slot;
	if (cfg->num == 0 || cfg->num > VQ_MAX_SIZE ||
	    (!cfg->packed && (cfg->num & (cfg->num - 1))) || (mem_gpa & 63))
		return -EINVAL;
	memset(mem, 0, vq_drv_mem_size(cfg));
	q->cfg.desc = mem_gpa;
	q->cfg.driver = mem_gpa + vq_align64(vq_desc_size(cfg));
	q->cfg.device = q->cfg.driver + vq_align64(vq_driver_size(cfg));
	q->num_free = cfg->num;
	q->intr_enabled = true;
	for (uint16_t i = 0; i < cfg->num; i++)
		slot[i] =
			(struct vq_drv_slot){.token = NULL, .ndesc = 0, .next = (uint16_t)(i + 1)};
	return cfg->packed ? vq_drv_packed_init(q, mem, mem_gpa)
			   : vq_drv_split_init(q, mem, mem_gpa);
}

int vq_drv_add(struct vq_drv *q, const struct vq_sg *sg, unsigned nout, unsigned nin, void *token,
	       void *indirect, uint64_t indirect_gpa)
{
	if (nout + nin == 0 || !token)
		return -EINVAL;
	if (!q->cfg.indirect)
		indirect = NULL;
	return q->cfg.packed ? vq_drv_packed_add(q, sg, nout, nin, token, indirect, indirect_gpa)
			     : vq_drv_split_add(q, sg, nout, nin, token, indirect, indirect_gpa);
}

bool vq_drv_kick_prepare(struct vq_drv *q)
{
	return q->cfg.packed ? vq_drv_packed_kick_prepare(q) : vq_drv_split_kick_prepare(q);
}

void *vq_drv_get(struct vq_drv *q, uint32_t *len)
{
	return q->cfg.packed ? vq_drv_packed_get(q, len) : vq_drv_split_get(q, len);
}

bool vq_drv_intr_enable(struct vq_drv *q, bool on)
{
	return q->cfg.packed ? vq_drv_packed_intr_enable(q, on) : vq_drv_split_intr_enable(q, on);
}
