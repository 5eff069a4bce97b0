// SPDX-License-Identifier: MIT
/*
 * virtio-pci modern transport. Register names are Linux's <linux/virtio_pci.h>; every access
 * has the field's width, as 4.1.3.1 requires.
 */
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include "drivers/lapic.h"
#include "drivers/virtio_pci.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "runtime/platform.h"

#define COMMON_MIN_LEN 0x38 /* through queue_used_hi: struct virtio_pci_common_cfg */
#define NOTIFY_CAP_LEN 20   /* struct virtio_pci_notify_cap */

static struct g_virtio_pci *to_vp(struct g_virtio_dev *d)
{
	return (struct g_virtio_pci *)d; /* vdev is the first member */
}

static uint8_t get_status(struct g_virtio_dev *d)
{
	return g_mmio_read8(to_vp(d)->common + VIRTIO_PCI_COMMON_STATUS);
}

static void set_status(struct g_virtio_dev *d, uint8_t status)
{
	g_mmio_write8(to_vp(d)->common + VIRTIO_PCI_COMMON_STATUS, status);
}

static uint64_t get_features(struct g_virtio_dev *d)
{
	uintptr_t c = to_vp(d)->common;
	uint64_t f;

	g_mmio_write32(c + VIRTIO_PCI_COMMON_DFSELECT, 0);
	f = g_mmio_read32(c + VIRTIO_PCI_COMMON_DF);
	g_mmio_write32(c + VIRTIO_PCI_COMMON_DFSELECT, 1);
	return f | (uint64_t)g_mmio_read32(c + VIRTIO_PCI_COMMON_DF) << 32;
}

static void set_features(struct g_virtio_dev *d, uint64_t f)
{
	uintptr_t c = to_vp(d)->common;

	g_mmio_write32(c + VIRTIO_PCI_COMMON_GFSELECT, 0);
	g_mmio_write32(c + VIRTIO_PCI_COMMON_GF, (uint32_t)f);
	g_mmio_write32(c + VIRTIO_PCI_COMMON_GFSELECT, 1);
	g_mmio_write32(c + VIRTIO_PCI_COMMON_GF, (uint32_t)(f >> 32));
}

static uint32_t config_generation(struct g_virtio_dev *d)
{
	return g_mmio_read8(to_vp(d)->common + VIRTIO_PCI_COMMON_CFGGENERATION);
}

static uint32_t config_read(struct g_virtio_dev *d, unsigned int off, unsigned int len)
{
	struct g_virtio_pci *vp = to_vp(d);

	if (!vp->device || off + len > vp->device_len || (off & (len - 1)))
		return 0xffffffff; /* outside what the device offers: read as absent */
	if (len == 1)
		return g_mmio_read8(vp->device + off);
	if (len == 2)
		return g_mmio_read16(vp->device + off);
	return g_mmio_read32(vp->device + off);
}

static uint16_t queue_max(struct g_virtio_dev *d, uint16_t index)
{
	struct g_virtio_pci *vp = to_vp(d);

	if (index >= vp->num_queues)
		return 0;
	g_mmio_write16(vp->common + VIRTIO_PCI_COMMON_Q_SELECT, index);
	return g_mmio_read16(vp->common + VIRTIO_PCI_COMMON_Q_SIZE);
}

static void write64(uintptr_t lo, uint64_t v)
{
	g_mmio_write32(lo, (uint32_t)v);
	g_mmio_write32(lo + 4, (uint32_t)(v >> 32));
}

static int queue_enable(struct g_virtio_dev *d, struct g_virtq *q)
{
	struct g_virtio_pci *vp = to_vp(d);
	uintptr_t c = vp->common;
	uint16_t vec = d->irq_mode == G_VIRTIO_IRQ_MSIX ? q->msix_entry : VIRTIO_MSI_NO_VECTOR;
	uint64_t off;

	g_mmio_write16(c + VIRTIO_PCI_COMMON_Q_SELECT, q->index);
	g_mmio_write16(c + VIRTIO_PCI_COMMON_Q_SIZE, q->num);
	g_mmio_write16(c + VIRTIO_PCI_COMMON_Q_MSIX, vec);
	/* A device out of vectors answers NO_VECTOR (4.1.4.3.2). */
	if (g_mmio_read16(c + VIRTIO_PCI_COMMON_Q_MSIX) != vec)
		return -EIO;
	write64(c + VIRTIO_PCI_COMMON_Q_DESCLO, q->drv.cfg.desc);
	write64(c + VIRTIO_PCI_COMMON_Q_AVAILLO, q->drv.cfg.driver);
	write64(c + VIRTIO_PCI_COMMON_Q_USEDLO, q->drv.cfg.device);
	off = (uint64_t)g_mmio_read16(c + VIRTIO_PCI_COMMON_Q_NOFF) * vp->notify_mult;
	if (off + 2 > vp->notify_len)
		return -EINVAL;
	q->notify = vp->notify + off;
	g_mmio_write16(c + VIRTIO_PCI_COMMON_Q_ENABLE, 1);
	return 0;
}

static int queue_set_vector(struct g_virtio_dev *d, struct g_virtq *q, uint16_t entry)
{
	uintptr_t c = to_vp(d)->common;

	g_mmio_write16(c + VIRTIO_PCI_COMMON_Q_SELECT, q->index);
	g_mmio_write16(c + VIRTIO_PCI_COMMON_Q_MSIX, entry);
	return g_mmio_read16(c + VIRTIO_PCI_COMMON_Q_MSIX) == entry ? 0 : -EIO;
}

static void notify(struct g_virtio_dev *d, struct g_virtq *q)
{
	(void)d;
	/* Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index (4.1.5.2). The ring
	 * stores before it are ordered by vq_drv_kick_prepare's barrier. */
	g_mmio_write16(q->notify, q->index);
}

static void irq_ack(struct g_virtio_dev *d)
{
	/* Reading the ISR status acknowledges it and drops INTx (4.1.4.5). */
	g_mmio_read8(to_vp(d)->isr);
}

/* One vector per queue plus the config vector in entry 0; a table too small for that gets the
 * config vector and one vector shared by every queue. */
static int setup_msix(struct g_virtio_pci *vp, unsigned int nq)
{
	struct g_virtio_dev *d = &vp->vdev;
	unsigned int entries;
	int rc;

	rc = g_msix_init(&vp->msix, &vp->pci);
	if (rc)
		return rc;
	if (vp->msix.size < 2)
		return -ENOSPC;
	d->shared_queue_vector = vp->msix.size < nq + 1;
	d->queue_vector_base = 1;
	entries = d->shared_queue_vector ? 2 : nq + 1;
	for (unsigned int i = 0; i < entries; i++) {
		rc = g_platform_alloc_vector(&d->vector[i]);
		if (rc)
			return rc;
		rc = g_msix_route(&vp->msix, i, g_lapic_id(), (uint8_t)d->vector[i]);
		if (rc)
			return rc;
	}
	d->nvectors = entries;
	g_msix_enable(&vp->msix, true);
	g_mmio_write16(vp->common + VIRTIO_PCI_COMMON_MSIX, 0);
	if (g_mmio_read16(vp->common + VIRTIO_PCI_COMMON_MSIX) != 0)
		return -EIO;
	d->irq_mode = G_VIRTIO_IRQ_MSIX;
	return 0;
}

static int setup_intx(struct g_virtio_pci *vp)
{
	struct g_virtio_dev *d = &vp->vdev;
	int rc;

	if (!vp->pci.irq_pin || vp->pci.irq_pin > 4)
		return -ENODEV;
	rc = g_platform_route_pci_intx(vp->pci.bus, vp->pci.dev, vp->pci.irq_pin - 1u,
				       vp->pci.irq_line, &d->vector[0]);
	if (rc)
		return rc;
	d->nvectors = 1;
	g_pci_command(&vp->pci, PCI_COMMAND_INTX_DISABLE, false);
	d->irq_mode = G_VIRTIO_IRQ_LINE;
	return 0;
}

static int irq_setup(struct g_virtio_dev *d, const struct g_virtio_opts *o, unsigned int nq)
{
	struct g_virtio_pci *vp = to_vp(d);

	if (!o->intx && !setup_msix(vp, nq))
		return 0;
	if (vp->msix.cap)
		g_msix_enable(&vp->msix, false);
	d->nvectors = 0;
	return setup_intx(vp);
}

static const struct g_virtio_ops pci_ops = {
	.get_status = get_status,
	.set_status = set_status,
	.get_features = get_features,
	.set_features = set_features,
	.config_generation = config_generation,
	.config_read = config_read,
	.queue_max = queue_max,
	.queue_enable = queue_enable,
	.notify = notify,
	.irq_setup = irq_setup,
	.irq_ack = irq_ack,
	.queue_set_vector = queue_set_vector,
};

/* The virtio device type of a PCI function, or 0 if it is not a virtio device. */
static uint32_t virtio_type(const struct g_pci_dev *p)
{
	if (p->vendor != G_VIRTIO_PCI_VENDOR)
		return 0;
	if (p->device >= G_VIRTIO_PCI_MODERN_BASE)
		return p->device - G_VIRTIO_PCI_MODERN_BASE;
	if (p->device >= G_VIRTIO_PCI_TRANSITIONAL_LO && p->device <= G_VIRTIO_PCI_TRANSITIONAL_HI)
		return g_pci_read16(p, PCI_SUBSYSTEM_ID);
	return 0;
}

/* Maps the structure a virtio capability at cap describes; the first of each type wins (4.1.4). */
static int map_cap(struct g_virtio_pci *vp, unsigned int cap)
{
	const struct g_pci_dev *p = &vp->pci;
	uint8_t type = g_pci_read8(p, cap + VIRTIO_PCI_CAP_CFG_TYPE);
	uint8_t bar = g_pci_read8(p, cap + VIRTIO_PCI_CAP_BAR);
	uint32_t off = g_pci_read32(p, cap + VIRTIO_PCI_CAP_OFFSET);
	uint32_t len = g_pci_read32(p, cap + VIRTIO_PCI_CAP_LENGTH);
	uintptr_t *slot;
	void *m;

	switch (type) {
	case VIRTIO_PCI_CAP_COMMON_CFG:
		slot = &vp->common;
		break;
	case VIRTIO_PCI_CAP_NOTIFY_CFG:
		slot = &vp->notify;
		break;
	case VIRTIO_PCI_CAP_ISR_CFG:
		slot = &vp->isr;
		break;
	case VIRTIO_PCI_CAP_DEVICE_CFG:
		slot = &vp->device;
		break;
	default:
		return 0; /* PCI_CFG access window, shared memory: not used */
	}
	/* A later duplicate, an empty structure (a device without configuration may describe
	 * one), or one this driver cannot reach: as if absent. */
	if (*slot || !len || bar >= G_PCI_BARS || p->bar[bar].io)
		return 0;
	m = g_pci_bar_map(p, bar, off, len);
	if (!m)
		return -EINVAL;
	*slot = (uintptr_t)m;
	if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
		vp->device_len = len;
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
		vp->notify_len = len;
		vp->notify_mult = g_pci_read32(p, cap + VIRTIO_PCI_NOTIFY_CAP_MULT);
	}
	if (type == VIRTIO_PCI_CAP_COMMON_CFG && len < COMMON_MIN_LEN)
		return -EINVAL;
	return 0;
}

static int map_caps(struct g_virtio_pci *vp)
{
	int rc;

	for (unsigned int cap = g_pci_find_cap(&vp->pci, PCI_CAP_ID_VNDR, 0); cap;
	     cap = g_pci_find_cap(&vp->pci, PCI_CAP_ID_VNDR, cap)) {
		rc = map_cap(vp, cap);
		if (rc)
			return rc;
	}
	return vp->common && vp->notify && vp->isr ? 0 : -ENODEV;
}

int g_virtio_pci_probe(struct g_virtio_pci *vp, uint32_t device_id, unsigned int *skip)
{
	struct g_pci_scan scan;
	int rc;

	g_pci_scan_start(&scan);
	memset(vp, 0, sizeof(*vp));
	while (!g_pci_scan_next(&scan, &vp->pci)) {
		if (virtio_type(&vp->pci) != device_id)
			continue;
		vp->common = vp->notify = vp->isr = vp->device = 0;
		rc = map_caps(vp);
		if (rc == -ENODEV)
			continue; /* legacy only */
		if (rc)
			return rc;
		if (*skip) {
			(*skip)--;
			continue;
		}
		/* Decoding first: until then the structures just mapped answer nothing. */
		g_pci_command(&vp->pci, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, true);
		vp->vdev.ops = &pci_ops;
		vp->vdev.device_id = device_id;
		vp->num_queues = g_mmio_read16(vp->common + VIRTIO_PCI_COMMON_NUMQ);
		g_snprintf(vp->vdev.where, sizeof(vp->vdev.where), "pci %02x:%02x.%x", vp->pci.bus,
			   vp->pci.dev, vp->pci.fn);
		return 0;
	}
	return -ENODEV;
}
