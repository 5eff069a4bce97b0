// SPDX-License-Identifier: MIT
/*
 * The virtio core: what every device driver does the same way whatever the transport. Each
 * device is one struct g_virtio_dev inside its transport's state; nothing here is global.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "drivers/tsc.h"
#include "drivers/virtio.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/string.h"
#include "runtime/mem.h"
#include "runtime/platform.h"

/* A reset completes when the status reads 0 again (4.1.4.3.2); QEMU and vmmon do it at once,
 * so this only bounds a broken device. */
#define RESET_POLL_LIMIT 1000000
#define RING_ALIGN	 4096

const char *g_virtio_irq_mode_name(enum g_virtio_irq_mode m)
{
	switch (m) {
	case G_VIRTIO_IRQ_MSIX:
		return "msix";
	case G_VIRTIO_IRQ_LINE:
		return "line";
	default:
		return "poll";
	}
}

void g_virtio_reset(struct g_virtio_dev *d)
{
	d->ops->set_status(d, 0);
	for (int i = 0; i < RESET_POLL_LIMIT && d->ops->get_status(d); i++)
		g_cpu_relax();
}

void g_virtio_fail(struct g_virtio_dev *d)
{
	d->ops->set_status(d, d->ops->get_status(d) | VIRTIO_CONFIG_S_FAILED);
}

int g_virtio_negotiate(struct g_virtio_dev *d, const struct g_virtio_opts *o, uint64_t want)
{
	uint8_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	uint64_t offered;

	g_virtio_reset(d);
	d->ops->set_status(d, status);
	status |= VIRTIO_CONFIG_S_DRIVER;
	d->ops->set_status(d, status);
	offered = d->ops->get_features(d);
	if (!(offered & (1ull << VIRTIO_F_VERSION_1))) {
		g_virtio_fail(d);
		return -ENOTSUP; /* a legacy-only device */
	}
	want |= 1ull << VIRTIO_F_VERSION_1;
	if (!o->no_event_idx)
		want |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (!o->no_indirect)
		want |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (o->packed)
		want |= 1ull << VIRTIO_F_RING_PACKED;
	d->features = offered & want;
	d->ops->set_features(d, d->features);
	status |= VIRTIO_CONFIG_S_FEATURES_OK;
	d->ops->set_status(d, status);
	/* The device may refuse the subset (3.1.1 step 6): it then leaves FEATURES_OK clear. */
	if (!(d->ops->get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		g_virtio_fail(d);
		return -EIO;
	}
	return 0;
}

int g_virtio_irq_setup(struct g_virtio_dev *d, const struct g_virtio_opts *o, unsigned int nq)
{
	if (nq > G_VIRTIO_MAX_QUEUES)
		return -EINVAL;
	d->nvectors = 0;
	d->line_acked = UINT64_MAX; /* the first wait acknowledges whatever came before */
	if (o->poll) {
		d->irq_mode = G_VIRTIO_IRQ_POLL;
		return 0;
	}
	return d->ops->irq_setup(d, o, nq);
}

/* The largest size not above max that the ring layout allows: split rings need a power of 2. */
static uint16_t queue_size(uint16_t dev_max, uint16_t max_num, bool packed)
{
	uint16_t n = max_num && max_num < dev_max ? max_num : dev_max;

	while (!packed && (n & (n - 1)))
		n &= (uint16_t)(n - 1);
	return n;
}

int g_virtq_init(struct g_virtio_dev *d, struct g_virtq *q, uint16_t index, uint16_t max_num)
{
	uint16_t dev_max = d->ops->queue_max(d, index);
	struct vq_config cfg = {
		.packed = g_virtio_has(d, VIRTIO_F_RING_PACKED),
		.event_idx = g_virtio_has(d, VIRTIO_RING_F_EVENT_IDX),
		.indirect = g_virtio_has(d, VIRTIO_RING_F_INDIRECT_DESC),
	};
	struct vq_drv_slot *slot;
	void *mem;
	int rc;

	memset(q, 0, sizeof(*q));
	if (!dev_max)
		return -ENOENT;
	cfg.num = queue_size(dev_max, max_num, cfg.packed);
	mem = g_mem_alloc(vq_drv_mem_size(&cfg), RING_ALIGN);
	slot = g_mem_alloc(cfg.num * sizeof(*slot), 64);
	if (!mem || !slot)
		return -ENOMEM;
	rc = vq_drv_init(&q->drv, &cfg, mem, g_mem_phys(mem), slot);
	if (rc)
		return rc;
	q->dev = d;
	q->index = index;
	q->num = cfg.num;
	if (d->irq_mode == G_VIRTIO_IRQ_MSIX) {
		q->msix_entry = d->shared_queue_vector ? d->queue_vector_base
						       : (uint16_t)(d->queue_vector_base + index);
		q->vector = d->vector[q->msix_entry];
	} else if (d->irq_mode == G_VIRTIO_IRQ_LINE) {
		q->vector = d->vector[0];
	}
	/* Interrupts stay off at the ring except while the program sleeps (g_virtio_wait). */
	vq_drv_intr_enable(&q->drv, false);
	return d->ops->queue_enable(d, q);
}

int g_virtio_ready(struct g_virtio_dev *d)
{
	uint8_t status = d->ops->get_status(d);

	d->ops->set_status(d, status | VIRTIO_CONFIG_S_DRIVER_OK);
	if (d->ops->get_status(d) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED))
		return -EIO;
	return 0;
}

/* Reads len bytes at off until two generation reads agree around them. */
static uint64_t cfg_read(struct g_virtio_dev *d, unsigned int off, unsigned int len)
{
	uint32_t gen;
	uint64_t v;

	do {
		gen = d->ops->config_generation(d);
		if (len == 8)
			v = d->ops->config_read(d, off, 4) |
			    ((uint64_t)d->ops->config_read(d, off + 4, 4) << 32);
		else
			v = d->ops->config_read(d, off, len);
	} while (gen != d->ops->config_generation(d));
	return v;
}

uint8_t g_virtio_cfg8(struct g_virtio_dev *d, unsigned int off)
{
	return (uint8_t)cfg_read(d, off, 1);
}

uint16_t g_virtio_cfg16(struct g_virtio_dev *d, unsigned int off)
{
	return (uint16_t)cfg_read(d, off, 2);
}

uint32_t g_virtio_cfg32(struct g_virtio_dev *d, unsigned int off)
{
	return (uint32_t)cfg_read(d, off, 4);
}

uint64_t g_virtio_cfg64(struct g_virtio_dev *d, unsigned int off)
{
	return cfg_read(d, off, 8);
}

void g_virtq_kick(struct g_virtq *q)
{
	if (vq_drv_kick_prepare(&q->drv)) {
		q->dev->ops->notify(q->dev, q);
		q->kicks++;
	}
}

uint64_t g_virtio_irq_count(struct g_virtio_dev *d)
{
	return g_irq_count_sum(d->vector, d->nvectors);
}

int g_virtio_queue_move_vector(struct g_virtio_dev *d, struct g_virtq *q, uint16_t entry)
{
	int rc;

	if (d->irq_mode != G_VIRTIO_IRQ_MSIX || !d->ops->queue_set_vector || entry >= d->nvectors)
		return -EINVAL;
	rc = d->ops->queue_set_vector(d, q, entry);
	if (rc)
		return rc;
	q->msix_entry = entry;
	q->vector = d->vector[entry];
	return 0;
}

/* Arms one device of a wait: its interrupt count goes into *mark and its vectors into
 * vectors[*nvec...]; returns true if completions raced in before its queues were armed. */
static bool wait_arm(const struct g_virtio_waiter *w, uint64_t *mark, unsigned int *vectors,
		     unsigned int *nvec)
{
	struct g_virtio_dev *d = w->dev;
	/* The count before the acknowledgement and the re-check: an interrupt after this read
	 * ends the sleep at once, so no completion is slept through. */
	uint64_t m = g_irq_count_sum(d->vector, d->nvectors);
	bool ready = false;

	/* The line must be low before the sleep, or the next event makes no edge. It can only
	 * have risen since the last acknowledgement with an edge, which was counted: without one,
	 * the acknowledgement (an exit under vmmon) is skipped. */
	if (d->irq_mode == G_VIRTIO_IRQ_LINE && m != d->line_acked) {
		d->ops->irq_ack(d);
		d->line_acked = m;
	}
	*mark += m;
	for (unsigned int i = 0; i < d->nvectors; i++)
		vectors[(*nvec)++] = d->vector[i];
	for (unsigned int i = 0; i < w->nq; i++) {
		if (!vq_drv_intr_enable(&w->qs[i]->drv, true))
			ready = true; /* completions raced in before the interrupt was armed */
	}
	return ready;
}

int g_virtio_wait_any(const struct g_virtio_waiter *w, unsigned int n, uint64_t deadline)
{
	unsigned int vectors[G_VIRTIO_WAIT_MAX_DEVS * G_VIRTIO_MAX_VECTORS], nvec = 0;
	uint64_t mark = 0, now;
	bool ready = false;
	int rc = 0;

	if (n > G_VIRTIO_WAIT_MAX_DEVS)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		if (w[k].dev->irq_mode != G_VIRTIO_IRQ_POLL)
			continue;
		/* A polled device has no interrupt to wake the sleep: the caller polls them all. */
		if (g_tsc_passed(deadline))
			return -ETIMEDOUT;
		g_cpu_relax();
		return 0;
	}
	for (unsigned int k = 0; k < n; k++)
		ready |= wait_arm(&w[k], &mark, vectors, &nvec);
	if (!ready) {
		now = g_rdtsc();
		if ((int64_t)(deadline - now) <= 0)
			rc = -ETIMEDOUT;
		else
			rc = g_irq_wait_any(vectors, nvec, mark, g_tsc_to_us(deadline - now) + 1);
	}
	for (unsigned int k = 0; k < n; k++) {
		for (unsigned int i = 0; i < w[k].nq; i++)
			vq_drv_intr_enable(&w[k].qs[i]->drv, false);
	}
	return rc;
}

int g_virtio_wait(struct g_virtio_dev *d, struct g_virtq *const *qs, unsigned int n,
		  uint64_t deadline)
{
	const struct g_virtio_waiter w = {.dev = d, .qs = qs, .nq = n};

	return g_virtio_wait_any(&w, 1, deadline);
}
