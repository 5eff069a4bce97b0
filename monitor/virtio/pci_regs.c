/* SPDX-License-Identifier: MIT */
#include "pci_regs.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <string.h>

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* modern device IDs: 0x1040 + the virtio ID */
#define VIRTIO_PCI_SUBSYS      0x0040 /* any subsystem ID >= 0x40 (spec 4.1.2.1) */
#define VIRTIO_PCI_REVISION    1

/* Capability list in config space. */
#define CAP_COMMON  0x40
#define CAP_NOTIFY  0x50
#define CAP_ISR	    0x64
#define CAP_DEVCFG  0x74
#define CAP_PCICFG  0x84
#define CAP_MSIX    0x98
#define PCICFG_DATA (CAP_PCICFG + 16)
#define ISR_QUEUE   0x1 /* ISR bit 0: a used buffer (spec 4.1.4.5) */

static uint32_t rd(const uint8_t *p, unsigned len)
{
	uint32_t v = 0;
	memcpy(&v, p, len);
	return v;
}

static void wr(uint8_t *p, unsigned len, uint32_t v)
{
	memcpy(p, &v, len);
}

/* A read nothing answers: all ones, counted. */
static void unhandled_read(struct vmm_vpci *vp, uint8_t *data, unsigned len)
{
	memset(data, 0xff, len);
	vp->bad_accesses++;
}

static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_NET:
		return 0x020000; /* ethernet */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* communication, other */
	default:
		return 0x00ff00; /* unclassified */
	}
}

/* ------------------------------------------------------------ common configuration ---------- */

static struct vmm_virtio_queue *selected(struct vmm_vpci *vp)
{
	return vp->queue_select < vp->dev->nr_queues ? &vp->dev->q[vp->queue_select] : NULL;
}

static void common_read(struct vmm_vpci *vp, unsigned off, uint8_t *data, unsigned len)
{
	struct vmm_virtio_dev *d = vp->dev;
	struct vmm_virtio_queue *q = selected(vp);
	struct virtio_pci_common_cfg c = {
		.device_feature_select = vp->dfselect,
		.device_feature = vmm_virtio_device_features(d, vp->dfselect),
		.guest_feature_select = vp->gfselect,
		.guest_feature = vp->gfselect < 2
					 ? (uint32_t)(d->driver_features >> (32 * vp->gfselect))
					 : 0,
		.msix_config = d->config_vector,
		.num_queues = (uint16_t)d->nr_queues,
		.device_status = d->status,
		.config_generation = d->config_generation,
		.queue_select = vp->queue_select,
		.queue_size = q ? q->size : 0,
		.queue_msix_vector = q ? q->vector : VMM_VIRTIO_NO_VECTOR,
		.queue_enable = q && q->enabled,
		.queue_notify_off = vp->queue_select,
		.queue_desc_lo = q ? (uint32_t)q->desc : 0,
		.queue_desc_hi = q ? (uint32_t)(q->desc >> 32) : 0,
		.queue_avail_lo = q ? (uint32_t)q->driver : 0,
		.queue_avail_hi = q ? (uint32_t)(q->driver >> 32) : 0,
		.queue_used_lo = q ? (uint32_t)q->device : 0,
		.queue_used_hi = q ? (uint32_t)(q->device >> 32) : 0,
	};
	if (off + len <= sizeof(c))
		memcpy(data, (uint8_t *)&c + off, len);
	else
		unhandled_read(vp, data, len);
}

static uint16_t vector_or_none(struct vmm_vpci *vp, uint32_t v)
{
	/* A vector the device lacks reads back as NO_VECTOR: the driver sees the refusal. */
	return v < vp->msix.nvec ? (uint16_t)v : VMM_VIRTIO_NO_VECTOR;
}

/* Sets the low or high half (or all) of a 64-bit queue address. */
static void set_addr(uint64_t *addr, unsigned half_off, unsigned len, const uint8_t *data)
{
	uint64_t v = 0;
	memcpy(&v, data, len);
	if (len == 8)
		*addr = v;
	else if (half_off == 0)
		*addr = (*addr & 0xffffffff00000000ull) | (uint32_t)v;
	else
		*addr = (*addr & 0xffffffffull) | v << 32;
}

static void queue_write(struct vmm_vpci *vp, unsigned off, const uint8_t *data, unsigned len)
{
	struct vmm_virtio_dev *d = vp->dev;
	struct vmm_virtio_queue *q = selected(vp);
	uint32_t val = len <= 4 ? rd(data, len) : 0;
	if (!q) {
		vmm_virtio_violation(d, "queue register written with no queue selected");
		return;
	}
	if (off == VIRTIO_PCI_COMMON_Q_MSIX) {
		uint16_t old = q->vector;
		q->vector = vector_or_none(vp, val);
		if (q->vector != old && q->live && d->ops->queue_irq_changed)
			d->ops->queue_irq_changed(d, q);
		return;
	}
	if (!vmm_virtio_queue_setup_allowed(d) || q->enabled) {
		vmm_virtio_violation(d,
				     "queue configured outside the setup window or while enabled");
		return;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		q->size = (uint16_t)val;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (val == 1)
			vmm_virtio_queue_enable(d, q);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_addr(&q->desc, off - VIRTIO_PCI_COMMON_Q_DESCLO, len, data);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_addr(&q->driver, off - VIRTIO_PCI_COMMON_Q_AVAILLO, len, data);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_addr(&q->device, off - VIRTIO_PCI_COMMON_Q_USEDLO, len, data);
		break;
	default:
		vp->bad_accesses++;
	}
}

static void common_write(struct vmm_vpci *vp, unsigned off, const uint8_t *data, unsigned len)
{
	struct vmm_virtio_dev *d = vp->dev;
	uint32_t val = len <= 4 ? rd(data, len) : 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->dfselect = val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->gfselect = val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		vmm_virtio_set_driver_features(d, vp->gfselect, val);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		d->config_vector = vector_or_none(vp, val);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		vmm_virtio_set_status(d, (uint8_t)val);
		if (d->status == 0) {
			vp->isr = 0; /* a reset also clears the interrupt */
			vmm_irq_set(&vp->intx, false);
		}
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)val;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		queue_write(vp, off, data, len);
		break;
	default:
		vp->bad_accesses++; /* read-only or unknown: ignored */
	}
}

/* ------------------------------------------------------------ BARs ---------------------------- */

/* Reading the ISR acknowledges it and drops INTx (spec 4.1.4.5). The ISR is the region's first
 * byte; the rest of the region is unhandled and leaves it alone. */
static void isr_access(struct vmm_vpci *vp, unsigned off, uint8_t *data, unsigned len, bool write)
{
	if (write) {
		vp->bad_accesses++; /* read-only */
	} else if (off != 0) {
		unhandled_read(vp, data, len);
	} else {
		memset(data, 0, len);
		data[0] = vp->isr;
		vp->isr = 0;
		vmm_irq_set(&vp->intx, false);
	}
}

static void devcfg_access(struct vmm_vpci *vp, unsigned off, uint8_t *data, unsigned len,
			  bool write)
{
	struct vmm_virtio_dev *d = vp->dev;
	if (off + len > d->ops->config_size) {
		if (write)
			vp->bad_accesses++;
		else
			unhandled_read(vp, data, len);
	} else if (write) {
		if (d->ops->config_write)
			d->ops->config_write(d, off, data, len);
	} else {
		d->ops->config_read(d, off, data, len);
	}
}

/* Normally an ioeventfd takes a notification inside KVM; this is the trapped path. */
static void notify_access(struct vmm_vpci *vp, unsigned off, uint8_t *data, unsigned len,
			  bool write)
{
	unsigned qi = off / VPCI_NOTIFY_MULT;
	if (!write)
		unhandled_read(vp, data, len); /* the area is write-only */
	else if (qi < vp->dev->nr_queues)
		vp->ops->kick(vp, qi);
	else
		vp->bad_accesses++;
}

/* BAR 0 with dev->lock held. */
static void bar0_locked(struct vmm_vpci *vp, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	if (off < VPCI_COMMON_OFF + VPCI_COMMON_SIZE) {
		if (write)
			common_write(vp, (unsigned)off, data, len);
		else
			common_read(vp, (unsigned)off, data, len);
	} else if (off < VPCI_ISR_OFF + VPCI_ISR_SIZE) {
		isr_access(vp, (unsigned)(off - VPCI_ISR_OFF), data, len, write);
	} else if (off < VPCI_DEVCFG_OFF + VPCI_DEVCFG_SIZE) {
		devcfg_access(vp, (unsigned)(off - VPCI_DEVCFG_OFF), data, len, write);
	} else {
		notify_access(vp, (unsigned)(off - VPCI_NOTIFY_OFF), data, len, write);
	}
}

int vmm_vpci_bar0_access(struct vmm_vpci *vp, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	if (len > 8) {
		vp->bad_accesses++;
		return -EINVAL;
	}
	pthread_mutex_lock(&vp->dev->lock);
	bar0_locked(vp, off, data, len, write);
	pthread_mutex_unlock(&vp->dev->lock);
	return 0;
}

int vmm_vpci_bar1_access(struct vmm_vpci *vp, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	pthread_mutex_lock(&vp->dev->lock);
	if (off < VPCI_MSIX_PBA_OFF)
		msix_table_access(&vp->msix, off - VPCI_MSIX_TABLE_OFF, data, len, write);
	else if (!write)
		msix_pba_read(&vp->msix, off - VPCI_MSIX_PBA_OFF, data, len);
	pthread_mutex_unlock(&vp->dev->lock);
	return 0;
}

/* ------------------------------------------------------------ config space -------------------- */

static bool touches(unsigned off, unsigned len, unsigned from, unsigned size)
{
	return off < from + size && from < off + len;
}

/* The PCI configuration access capability: a window onto BAR 0 through config space. */
static void pcicfg_window(struct vmm_vpci *vp, bool write)
{
	uint8_t *cap = &vp->pci.cfg[CAP_PCICFG];
	uint32_t bar = cap[VIRTIO_PCI_CAP_BAR], off = rd(cap + VIRTIO_PCI_CAP_OFFSET, 4);
	uint32_t len = rd(cap + VIRTIO_PCI_CAP_LENGTH, 4);
	if (bar != 0 || (len != 1 && len != 2 && len != 4) || off + len > VPCI_BAR0_SIZE ||
	    (off & (len - 1))) {
		if (!write)
			memset(&vp->pci.cfg[PCICFG_DATA], 0, 4);
		return;
	}
	vmm_vpci_bar0_access(vp, off, &vp->pci.cfg[PCICFG_DATA], len, write);
}

/* MSI-X enable or function mask changed: msix.c rewires the vectors; a device that handed a
 * live queue's irqfd to another process learns the queue's interrupt changed. */
static void msix_control_written(struct vmm_vpci *vp)
{
	struct vmm_virtio_dev *d = vp->dev;
	pthread_mutex_lock(&d->lock);
	bool was = vp->msix.enabled;
	msix_set_control(&vp->msix, (uint16_t)rd(&vp->pci.cfg[CAP_MSIX + PCI_MSIX_FLAGS], 2));
	for (unsigned i = 0; i < d->nr_queues && vp->msix.enabled != was; i++)
		if (d->q[i].live && d->ops->queue_irq_changed)
			d->ops->queue_irq_changed(d, &d->q[i]);
	pthread_mutex_unlock(&d->lock);
}

static void config_written(struct pci_dev *pd, unsigned off, unsigned len)
{
	struct vmm_vpci *vp = pd->opaque;
	if (touches(off, len, PCI_COMMAND, 2) || touches(off, len, PCI_BASE_ADDRESS_0, 8))
		vp->ops->remap(vp);
	if (touches(off, len, CAP_MSIX + PCI_MSIX_FLAGS, 2))
		msix_control_written(vp);
	if (touches(off, len, PCICFG_DATA, 4))
		pcicfg_window(vp, true);
}

static void config_read(struct pci_dev *pd, unsigned off, unsigned len)
{
	if (touches(off, len, PCICFG_DATA, 4))
		pcicfg_window(pd->opaque, false);
}

static void put_cap(struct pci_dev *pd, unsigned at, unsigned next, unsigned len, uint8_t type,
		    uint32_t offset, uint32_t length)
{
	uint8_t *c = &pd->cfg[at];
	c[VIRTIO_PCI_CAP_VNDR] = PCI_CAP_ID_VNDR;
	c[VIRTIO_PCI_CAP_NEXT] = (uint8_t)next;
	c[VIRTIO_PCI_CAP_LEN] = (uint8_t)len;
	c[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	c[VIRTIO_PCI_CAP_BAR] = 0;
	wr(c + VIRTIO_PCI_CAP_OFFSET, 4, offset);
	wr(c + VIRTIO_PCI_CAP_LENGTH, 4, length);
}

static void build_caps(struct vmm_vpci *vp)
{
	struct pci_dev *pd = &vp->pci;
	wr(&pd->cfg[PCI_STATUS], 2, PCI_STATUS_CAP_LIST);
	pd->cfg[PCI_CAPABILITY_LIST] = CAP_COMMON;
	put_cap(pd, CAP_COMMON, CAP_NOTIFY, 16, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF,
		sizeof(struct virtio_pci_common_cfg));
	put_cap(pd, CAP_NOTIFY, CAP_ISR, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF,
		VPCI_NOTIFY_MULT * vp->dev->nr_queues);
	wr(&pd->cfg[CAP_NOTIFY + 16], 4, VPCI_NOTIFY_MULT); /* notify_off_multiplier */
	/* A device without configuration space (rng) has no device-config capability. */
	bool devcfg = vp->dev->ops->config_size != 0;
	put_cap(pd, CAP_ISR, devcfg ? CAP_DEVCFG : CAP_PCICFG, 16, VIRTIO_PCI_CAP_ISR_CFG,
		VPCI_ISR_OFF, 1);
	if (devcfg)
		put_cap(pd, CAP_DEVCFG, CAP_PCICFG, 16, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVCFG_OFF,
			vp->dev->ops->config_size);
	put_cap(pd, CAP_PCICFG, CAP_MSIX, 20, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
	/* The window's bar, offset, length and data are the driver's to write. */
	pd->wmask[CAP_PCICFG + VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(&pd->wmask[CAP_PCICFG + VIRTIO_PCI_CAP_OFFSET], 0xff, 8);
	memset(&pd->wmask[PCICFG_DATA], 0xff, 4);
	/* MSI-X: table in BAR 1 at 0, PBA in BAR 1 at VPCI_MSIX_PBA_OFF. */
	pd->cfg[CAP_MSIX] = PCI_CAP_ID_MSIX;
	pd->cfg[CAP_MSIX + 1] = 0;
	wr(&pd->cfg[CAP_MSIX + PCI_MSIX_FLAGS], 2, vp->msix.nvec - 1);
	wr(&pd->cfg[CAP_MSIX + PCI_MSIX_TABLE], 4, VPCI_MSIX_TABLE_OFF | 1);
	wr(&pd->cfg[CAP_MSIX + PCI_MSIX_PBA], 4, VPCI_MSIX_PBA_OFF | 1);
	wr(&pd->wmask[CAP_MSIX + PCI_MSIX_FLAGS], 2,
	   PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
}

/* ------------------------------------------------------------ interrupts ---------------------- */

static void interrupt(struct vmm_vpci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (vp->msix.enabled) {
		if (vector != VMM_VIRTIO_NO_VECTOR)
			vp->ops->msi(vp, vector);
		return;
	}
	vp->isr |= isr_bit;
	vmm_irq_set(&vp->intx, true);
}

static void notify_queue(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	interrupt(d->tpriv, q->vector, ISR_QUEUE);
}

static void notify_config(struct vmm_virtio_dev *d)
{
	interrupt(d->tpriv, d->config_vector, VIRTIO_PCI_ISR_CONFIG);
}

static int queue_irqfd(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct vmm_vpci *vp = d->tpriv;
	if (!vp->msix.enabled || q->vector == VMM_VIRTIO_NO_VECTOR || q->vector >= vp->msix.nvec)
		return -1;
	return vp->msix.vec[q->vector].efd;
}

static const struct vmm_virtio_transport_ops pci_transport = {
	.notify_queue = notify_queue,
	.notify_config = notify_config,
	.queue_irqfd = queue_irqfd,
};

int vmm_vpci_init(struct vmm_vpci *vp, struct vmm_virtio_dev *dev, const struct vmm_vpci_ops *ops,
		  struct vmm_irq intx, const struct msix_ops *msix_ops, void *msix_ctx)
{
	memset(vp, 0, sizeof(*vp));
	vp->dev = dev;
	vp->ops = ops;
	vp->intx = intx;
	dev->tops = &pci_transport;
	dev->tpriv = vp;
	int ret = msix_init(&vp->msix, dev->nr_queues + 1, msix_ops, msix_ctx);
	if (ret)
		return ret;
	struct pci_dev *pd = &vp->pci;
	pci_dev_init(pd, VIRTIO_PCI_VENDOR,
		     (uint16_t)(VIRTIO_PCI_DEVICE_BASE + dev->ops->device_id),
		     class_of(dev->ops->device_id), VIRTIO_PCI_REVISION);
	wr(&pd->cfg[PCI_SUBSYSTEM_VENDOR_ID], 2, VIRTIO_PCI_VENDOR);
	wr(&pd->cfg[PCI_SUBSYSTEM_ID], 2, VIRTIO_PCI_SUBSYS);
	pd->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	pd->cfg[PCI_INTERRUPT_LINE] = (uint8_t)intx.gsi;
	if (pci_dev_set_bar(pd, 0, VPCI_BAR0_SIZE, PCI_BAR_MEM32) ||
	    pci_dev_set_bar(pd, 1, VPCI_BAR1_SIZE, PCI_BAR_MEM32))
		return -EINVAL;
	build_caps(vp);
	pd->config_written = config_written;
	pd->config_read = config_read;
	pd->opaque = vp;
	return 0;
}

void vmm_vpci_destroy(struct vmm_vpci *vp)
{
	msix_destroy(&vp->msix);
}
