/* SPDX-License-Identifier: MIT */
#include "device.h"
#include "host/util.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RESET_DRAIN_SECONDS 10
#define STATUS_ALL                                                                                 \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |      \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)

uint64_t vmm_virtio_common_features(void)
{
	return 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
	       1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_F_RING_PACKED;
}

bool vmm_virtio_has_feature(const struct vmm_virtio_dev *d, unsigned bit)
{
	return d->driver_features & (1ull << bit);
}

/* I/O thread: the guest notified queue q. */
static void kicked(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	struct vmm_virtio_queue *q = container_of(ev, struct vmm_virtio_queue, kick);
	struct vmm_virtio_dev *d = q->dev;
	pthread_mutex_lock(&d->lock);
	q->kicks += ev->value; /* the eventfd counts kicks that arrived since the last read */
	if (d->active && q->live && !q->vq.broken)
		d->ops->kick(d, q);
	else
		q->early_kicks += ev->value; /* before DRIVER_OK, or on a dead queue: ignored */
	pthread_mutex_unlock(&d->lock);
}

/* I/O thread: a reset is waiting for in-flight work. */
static void control(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	struct vmm_virtio_dev *d = container_of(ev, struct vmm_virtio_dev, control);
	pthread_mutex_lock(&d->lock);
	if (d->resetting && d->ops->quiesce)
		d->ops->quiesce(d);
	pthread_mutex_unlock(&d->lock);
}

void vmm_virtio_io_begin(struct vmm_virtio_dev *d)
{
	d->inflight++;
}

void vmm_virtio_io_end(struct vmm_virtio_dev *d)
{
	if (--d->inflight == 0)
		pthread_cond_broadcast(&d->idle);
}

int vmm_virtio_dev_init(struct vmm_virtio_dev *d, const struct vmm_virtio_dev_ops *ops, void *priv,
			uint64_t device_features, unsigned nr_queues, uint16_t max_size,
			struct vmm_io *io, const struct gmem *mem)
{
	memset(d, 0, sizeof(*d));
	d->control.fd = -1;
	for (unsigned i = 0; i < VMM_VIRTIO_MAX_QUEUES; i++)
		d->q[i].kick.fd = -1;
	if (nr_queues == 0 || nr_queues > VMM_VIRTIO_MAX_QUEUES)
		return -EINVAL;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->idle, NULL);
	d->ops = ops;
	d->priv = priv;
	d->io = io;
	d->mem = mem;
	d->device_features = device_features | vmm_virtio_common_features();
	d->nr_queues = nr_queues;
	d->config_vector = VMM_VIRTIO_NO_VECTOR;
	d->control.fn = control;
	d->control.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->control.fd < 0 || vmm_io_add_event(io, &d->control))
		return -ENOSPC;
	for (unsigned i = 0; i < nr_queues; i++) {
		struct vmm_virtio_queue *q = &d->q[i];
		*q = (struct vmm_virtio_queue){.dev = d,
					       .index = i,
					       .size = max_size,
					       .max_size = max_size,
					       .vector = VMM_VIRTIO_NO_VECTOR};
		q->kick.fn = kicked;
		q->kick.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick.fd < 0)
			return -errno;
		int ret = ops->external_queues ? 0 : vmm_io_add_event(io, &q->kick);
		if (ret)
			return ret;
	}
	return 0;
}

void vmm_virtio_dev_destroy(struct vmm_virtio_dev *d)
{
	for (unsigned i = 0; i < d->nr_queues; i++)
		if (d->q[i].kick.fd >= 0)
			close(d->q[i].kick.fd);
	if (d->control.fd >= 0)
		close(d->control.fd);
	pthread_cond_destroy(&d->idle);
	pthread_mutex_destroy(&d->lock);
}

uint32_t vmm_virtio_device_features(const struct vmm_virtio_dev *d, unsigned sel)
{
	return sel < 2 ? (uint32_t)(d->device_features >> (32 * sel)) : 0;
}

void vmm_virtio_set_driver_features(struct vmm_virtio_dev *d, unsigned sel, uint32_t val)
{
	/* Only between DRIVER and FEATURES_OK (spec 3.1.1). */
	if ((d->status & VIRTIO_CONFIG_S_FEATURES_OK) || !(d->status & VIRTIO_CONFIG_S_DRIVER)) {
		vmm_virtio_violation(d, "driver features written outside feature negotiation");
		return;
	}
	if (sel >= 2)
		return;
	uint64_t mask = 0xffffffffull << (32 * sel);
	d->driver_features = (d->driver_features & ~mask) | ((uint64_t)val << (32 * sel));
}

void vmm_virtio_violation(struct vmm_virtio_dev *d, const char *what)
{
	d->violations++;
	if (d->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	fprintf(stderr, "vmmon: %s: %s; device needs reset\n", d->ops->name, what);
	d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	d->config_generation++;
	if (d->tops && (d->status & VIRTIO_CONFIG_S_DRIVER_OK))
		d->tops->notify_config(d);
}

/* Waits (lock released meanwhile) until no I/O touches guest memory on the device's behalf,
 * so the driver may reuse its buffers once it reads status 0. The I/O thread quiesces the
 * device again every QUIESCE_RETRY_NS while I/O remains: one round of cancels can miss (a
 * hard-linked tap read that has not started is found by none, host/net.h), and a reset that
 * gave up would free the queue under reads still in the kernel. */
#define QUIESCE_RETRY_NS 10000000

static struct timespec ts_add(struct timespec t, uint64_t ns)
{
	ns += (uint64_t)t.tv_nsec;
	t.tv_sec += (time_t)(ns / 1000000000);
	t.tv_nsec = (long)(ns % 1000000000);
	return t;
}

static void drain(struct vmm_virtio_dev *d)
{
	if (!d->inflight)
		return;
	d->resetting = true;
	host_signal(d->control.fd);
	struct timespec now, until;
	clock_gettime(CLOCK_REALTIME, &now);
	until = ts_add(now, (uint64_t)RESET_DRAIN_SECONDS * 1000000000);
	while (d->inflight) {
		struct timespec step = ts_add(now, QUIESCE_RETRY_NS);
		bool last = step.tv_sec > until.tv_sec ||
			    (step.tv_sec == until.tv_sec && step.tv_nsec >= until.tv_nsec);
		int ret = pthread_cond_timedwait(&d->idle, &d->lock, last ? &until : &step);
		if (ret == ETIMEDOUT && d->inflight && last) {
			fprintf(stderr,
				"vmmon: %s: reset: %u requests still in flight after %d s\n",
				d->ops->name, d->inflight, RESET_DRAIN_SECONDS);
			break;
		}
		if (ret == ETIMEDOUT && d->inflight)
			host_signal(d->control.fd); /* quiesce again */
		clock_gettime(CLOCK_REALTIME, &now);
	}
	d->resetting = false;
}

static void reset(struct vmm_virtio_dev *d)
{
	d->active = false; /* no new work from here on */
	drain(d);
	if (d->ops->reset)
		d->ops->reset(d);
	d->generation++;
	d->status = 0;
	d->driver_features = 0;
	d->config_vector = VMM_VIRTIO_NO_VECTOR;
	for (unsigned i = 0; i < d->nr_queues; i++) {
		struct vmm_virtio_queue *q = &d->q[i];
		q->size = q->max_size;
		q->enabled = q->live = false;
		q->vector = VMM_VIRTIO_NO_VECTOR;
		q->desc = q->driver = q->device = 0;
	}
}

static bool features_ok(struct vmm_virtio_dev *d)
{
	/* Modern devices only: VERSION_1 is required, and nothing we did not offer. */
	return !(d->driver_features & ~d->device_features) &&
	       vmm_virtio_has_feature(d, VIRTIO_F_VERSION_1);
}

/* Brings every enabled queue to life. Returns false (with NEEDS_RESET set) on a bad queue. */
static bool activate(struct vmm_virtio_dev *d)
{
	for (unsigned i = 0; i < d->nr_queues; i++) {
		struct vmm_virtio_queue *q = &d->q[i];
		if (!q->enabled)
			continue;
		struct vq_config cfg = {
			.num = q->size,
			.packed = vmm_virtio_has_feature(d, VIRTIO_F_RING_PACKED),
			.event_idx = vmm_virtio_has_feature(d, VIRTIO_RING_F_EVENT_IDX),
			.indirect = vmm_virtio_has_feature(d, VIRTIO_RING_F_INDIRECT_DESC),
			.desc = q->desc,
			.driver = q->driver,
			.device = q->device,
		};
		int ret = vq_init(&q->vq, d->mem, &cfg);
		if (ret) {
			char why[96];
			snprintf(why, sizeof(why), "queue %u: %s", i,
				 ret == -EFAULT ? "ring outside guest memory"
						: "bad ring size or alignment");
			vmm_virtio_violation(d, why);
			return false;
		}
		q->live = true;
	}
	if (d->ops->activate && d->ops->activate(d)) {
		vmm_virtio_violation(d, "the device could not start");
		return false;
	}
	d->active = true;
	return true;
}

void vmm_virtio_set_status(struct vmm_virtio_dev *d, uint8_t status)
{
	if (status == 0) {
		reset(d);
		return;
	}
	uint8_t old = d->status & STATUS_ALL, set = status & ~old;
	if ((status & old) != old) {
		vmm_virtio_violation(d, "status bits cleared without a reset");
		return;
	}
	if ((set & VIRTIO_CONFIG_S_FEATURES_OK) && !features_ok(d))
		status &= ~VIRTIO_CONFIG_S_FEATURES_OK; /* refused: the driver re-reads status */
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && !(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		vmm_virtio_violation(d, "DRIVER_OK without FEATURES_OK");
		return;
	}
	d->status = status | (d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && !(d->status & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	    activate(d)) {
		/* Buffers added before DRIVER_OK (receive rings) get looked at now, on the I/O
		 * thread like any kick. */
		for (unsigned i = 0; i < d->nr_queues; i++)
			if (d->q[i].live)
				host_signal(d->q[i].kick.fd);
	}
}

bool vmm_virtio_queue_setup_allowed(struct vmm_virtio_dev *d)
{
	return (d->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	       !(d->status & VIRTIO_CONFIG_S_DRIVER_OK);
}

void vmm_virtio_queue_enable(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	if (!vmm_virtio_queue_setup_allowed(d)) {
		vmm_virtio_violation(d, "queue enabled before FEATURES_OK or after DRIVER_OK");
		return;
	}
	bool packed = vmm_virtio_has_feature(d, VIRTIO_F_RING_PACKED);
	if (q->size == 0 || q->size > q->max_size || (!packed && (q->size & (q->size - 1)))) {
		vmm_virtio_violation(d, "queue size zero, too large, or not a power of two");
		return;
	}
	q->enabled = true;
}

void vmm_virtio_queue_publish(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	if (vq_publish(&q->vq)) {
		q->notifies++;
		d->tops->notify_queue(d, q);
	}
}
