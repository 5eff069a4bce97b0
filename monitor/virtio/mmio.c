/* SPDX-License-Identifier: MIT */
#include "mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../irq_route.h"

static struct vmm_virtio_queue *selected(struct vmm_virtio_mmio *m)
{
	return m->queue_select < m->dev->nr_queues ? &m->dev->q[m->queue_select] : NULL;
}

static uint32_t reg_read(struct vmm_virtio_mmio *m, unsigned off)
{
	struct vmm_virtio_dev *d = m->dev;
	struct vmm_virtio_queue *q = selected(m);
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VMMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VMMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VMMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return vmm_virtio_device_features(d, m->dfselect);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? q->max_size : 0; /* 0: no such queue */
	case VIRTIO_MMIO_QUEUE_READY:
		return q && q->enabled;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return m->int_status;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return q ? (uint32_t)q->desc : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return q ? (uint32_t)(q->desc >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return q ? (uint32_t)q->driver : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return q ? (uint32_t)(q->driver >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return q ? (uint32_t)q->device : 0;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return q ? (uint32_t)(q->device >> 32) : 0;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return d->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffff; /* no shared memory regions */
	default:
		m->bad_accesses++;
		return 0;
	}
}

static void queue_addr(uint64_t *addr, bool high, uint32_t val)
{
	*addr = high ? (*addr & 0xffffffffull) | (uint64_t)val << 32
		     : (*addr & 0xffffffff00000000ull) | val;
}

static void queue_write(struct vmm_virtio_mmio *m, unsigned off, uint32_t val)
{
	struct vmm_virtio_dev *d = m->dev;
	struct vmm_virtio_queue *q = selected(m);
	if (!q || !vmm_virtio_queue_setup_allowed(d) || q->enabled) {
		vmm_virtio_violation(d,
				     "queue configured without a queue, outside the setup window "
				     "or while ready");
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->size = (uint16_t)val;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (val == 1)
			vmm_virtio_queue_enable(d, q);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		queue_addr(&q->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		queue_addr(&q->driver, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	default:
		queue_addr(&q->device, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
	}
}

static void reg_write(struct vmm_virtio_mmio *m, unsigned off, uint32_t val)
{
	struct vmm_virtio_dev *d = m->dev;
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dfselect = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		vmm_virtio_set_driver_features(d, m->gfselect, val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->gfselect = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_select = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		queue_write(m, off, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Only when the ioeventfd is missing: the same kick, one exit dearer. */
		if (val < d->nr_queues) {
			uint64_t one = 1;
			if (write(d->q[val].kick.fd, &one, sizeof(one)) < 0)
				m->bad_accesses++;
		}
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		m->int_status &= ~val;
		break;
	case VIRTIO_MMIO_STATUS:
		vmm_virtio_set_status(d, (uint8_t)val);
		if (d->status == 0)
			m->int_status = 0;
		break;
	default:
		m->bad_accesses++;
	}
}

static int trap(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct vmm_virtio_mmio *m = opaque;
	struct vmm_virtio_dev *d = m->dev;
	__atomic_fetch_add(&d->exits, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&d->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		/* Config space: any width within it (spec 4.2.2.2). */
		unsigned cfg = (unsigned)(off - VIRTIO_MMIO_CONFIG);
		if (cfg + len > d->ops->config_size) {
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			if (d->ops->config_write)
				d->ops->config_write(d, cfg, data, len);
		} else {
			d->ops->config_read(d, cfg, data, len);
		}
	} else if (len != 4 || (off & 3)) {
		m->bad_accesses++; /* registers are 32-bit wide and aligned */
		if (!is_write)
			memset(data, 0xff, len);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		reg_write(m, (unsigned)off, v);
	} else {
		uint32_t v = reg_read(m, (unsigned)off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void interrupt(struct vmm_virtio_mmio *m, uint32_t bit)
{
	m->int_status |= bit;
	uint64_t one = 1;
	if (write(m->irq_fd, &one, sizeof(one)) < 0)
		m->bad_accesses++;
}

static void notify_queue(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	(void)q;
	interrupt(d->tpriv, VIRTIO_MMIO_INT_VRING);
}

static void notify_config(struct vmm_virtio_dev *d)
{
	interrupt(d->tpriv, VIRTIO_MMIO_INT_CONFIG);
}

static int queue_irqfd(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	(void)d, (void)q;
	return -1; /* the interrupt status register must be set first: vmmon relays */
}

static const struct vmm_virtio_transport_ops mmio_transport = {
	.notify_queue = notify_queue,
	.notify_config = notify_config,
	.queue_irqfd = queue_irqfd,
};

static void set_ioeventfds(struct vmm_virtio_mmio *m, bool on)
{
	for (unsigned i = 0; i < m->dev->nr_queues; i++) {
		struct kvm_ioeventfd ev = {
			.datamatch = i,
			.addr = m->base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = m->dev->q[i].kick.fd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
				 (on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
		};
		if (ioctl(m->host->vm_fd, KVM_IOEVENTFD, &ev) < 0 && on)
			fprintf(stderr,
				"vmmon: %s: no ioeventfd for queue %u (%s): kicks will exit\n",
				m->dev->ops->name, i, strerror(errno));
	}
	m->ioeventfds = on;
}

int vmm_virtio_mmio_init(struct vmm_virtio_mmio *m, struct vmm_virtio_dev *dev,
			 const struct vmm_virtio_host *host, uint64_t base, unsigned gsi)
{
	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->host = host;
	m->base = base;
	m->gsi = gsi;
	dev->tops = &mmio_transport;
	dev->tpriv = m;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0)
		return -errno;
	int ret = vmm_irqfd(host->vm_fd, m->irq_fd, gsi, true);
	if (ret)
		return ret;
	ret = vmm_bus_register(host->mmio, base, VMMIO_SIZE, trap, m, dev->ops->name);
	if (ret)
		return ret;
	set_ioeventfds(m, true);
	return 0;
}

void vmm_virtio_mmio_destroy(struct vmm_virtio_mmio *m)
{
	if (m->ioeventfds)
		set_ioeventfds(m, false);
	vmm_bus_unregister(m->host->mmio, m->base);
	if (m->irq_fd >= 0) {
		vmm_irqfd(m->host->vm_fd, m->irq_fd, m->gsi, false);
		close(m->irq_fd);
	}
}

int vmm_virtio_mmio_cmdline(const struct vmm_virtio_mmio *m, char *buf, size_t len)
{
	return snprintf(buf, len, " virtio_mmio.device=%u@0x%" PRIx64 ":%u", VMMIO_SIZE, m->base,
			m->gsi) < (int)len
		       ? 0
		       : -ENOSPC;
}
