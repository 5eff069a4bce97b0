/* SPDX-License-Identifier: MIT */
/*
 * A virtio device as the transports see it (virtio 1.2, chapters 2-3): features, status,
 * queues and config space, with the driver's protocol checked at every step. A device model
 * (blk, net, console, rng) fills in vmm_virtio_dev_ops; a transport (PCI, MMIO) maps registers
 * onto these functions and delivers the interrupts.
 *
 * Threads: vCPU threads call the register-side functions (status, features, queue setup); the
 * I/O thread runs queue kicks and completions. Both hold dev->lock.
 */
#ifndef VMMON_VIRTIO_DEVICE_H
#define VMMON_VIRTIO_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../io/loop.h"
#include "virtq.h"

#define VMM_VIRTIO_MAX_QUEUES 64
#define VMM_VIRTIO_NO_VECTOR  0xffff

struct vmm_virtio_dev;

struct vmm_virtio_queue {
	struct vmm_virtio_dev *dev;
	unsigned index;
	/* Programmed by the driver through the transport. */
	uint16_t size, max_size;
	bool enabled;
	uint16_t vector; /* MSI-X vector, or VMM_VIRTIO_NO_VECTOR */
	uint64_t desc, driver, device;
	/* Live after DRIVER_OK. */
	struct vq vq;
	bool live;
	struct vmm_io_event kick; /* kick.fd: the eventfd the guest's notifications land in */
	uint64_t kicks, early_kicks, notifies;
};

struct vmm_virtio_dev_ops {
	const char *name;
	uint32_t device_id;   /* VIRTIO_ID_* */
	uint32_t config_size; /* device-specific config space */
	/* Config space access; off + len <= config_size. */
	void (*config_read)(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len);
	void (*config_write)(struct vmm_virtio_dev *d, unsigned off, const uint8_t *data,
			     unsigned len);
	/* DRIVER_OK with every enabled queue valid (vCPU thread, lock held). Non-zero fails it:
	 * the device then sets NEEDS_RESET. */
	int (*activate)(struct vmm_virtio_dev *d);
	/* The driver reset the device (vCPU thread, lock held, no I/O in flight any more). */
	void (*reset)(struct vmm_virtio_dev *d);
	/* A reset waits for in-flight I/O: cancel what may never complete by itself, such as
	 * posted receives (I/O thread, lock held). Optional. */
	void (*quiesce)(struct vmm_virtio_dev *d);
	/* Queue q has new buffers, or was just activated (I/O thread, lock held). */
	void (*kick)(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);
	/* Queue q's interrupt changed while it is live: the driver gave it another MSI-X vector,
	 * or turned MSI-X on or off (vCPU thread, lock held). Optional: for a device that handed
	 * q's interrupt eventfd (queue_irqfd) to another process, which must get the new one. */
	void (*queue_irq_changed)(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);
	/* Queues are served by another process (vhost-user): their kick eventfds go there and
	 * vmmon's I/O thread must not read them. */
	bool external_queues;
};

/* What the transport provides. */
struct vmm_virtio_transport_ops {
	/* A used-buffer notification for q (I/O thread or vCPU thread, lock held). */
	void (*notify_queue)(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);
	/* A configuration change notification (lock held). */
	void (*notify_config)(struct vmm_virtio_dev *d);
	/* An eventfd whose write raises q's interrupt inside KVM (an MSI-X irqfd), for another
	 * process to signal directly; -1 if the transport has none (INTx, virtio-mmio). */
	int (*queue_irqfd)(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);
};

struct vmm_virtio_dev {
	pthread_mutex_t lock;
	const struct vmm_virtio_dev_ops *ops;
	void *priv; /* the device model's state */
	const struct vmm_virtio_transport_ops *tops;
	void *tpriv; /* the transport's state */
	struct vmm_io *io;
	const struct gmem *mem;

	uint64_t device_features, driver_features;
	uint8_t status;
	uint8_t config_generation;
	uint16_t config_vector;
	unsigned nr_queues;
	struct vmm_virtio_queue q[VMM_VIRTIO_MAX_QUEUES];
	bool active;	     /* DRIVER_OK accepted */
	uint32_t generation; /* bumped by every reset */
	uint64_t violations; /* driver protocol errors seen */
	uint64_t exits;	     /* userspace exits on its registers (the transport's traps) */

	/* Reset waits for the I/O in flight, which may still write guest memory. */
	unsigned inflight;
	pthread_cond_t idle;
	bool resetting;
	struct vmm_io_event control; /* wakes the I/O thread to quiesce */
};

/* Features every vmmon device offers, besides its own. */
uint64_t vmm_virtio_common_features(void);

/* Sets up the device and one kick eventfd per queue (armed on the I/O thread). Returns 0 or
 * -errno. */
int vmm_virtio_dev_init(struct vmm_virtio_dev *d, const struct vmm_virtio_dev_ops *ops, void *priv,
			uint64_t device_features, unsigned nr_queues, uint16_t max_size,
			struct vmm_io *io, const struct gmem *mem);
void vmm_virtio_dev_destroy(struct vmm_virtio_dev *d);

/* Register side (lock held by the caller: the transport). */
uint32_t vmm_virtio_device_features(const struct vmm_virtio_dev *d, unsigned sel);
void vmm_virtio_set_driver_features(struct vmm_virtio_dev *d, unsigned sel, uint32_t val);
void vmm_virtio_set_status(struct vmm_virtio_dev *d, uint8_t status);
/* May the driver (re)configure queues now: after FEATURES_OK, before DRIVER_OK. */
bool vmm_virtio_queue_setup_allowed(struct vmm_virtio_dev *d);
void vmm_virtio_queue_enable(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);
/* Marks a driver protocol violation: NEEDS_RESET and a config interrupt. */
void vmm_virtio_violation(struct vmm_virtio_dev *d, const char *what);
bool vmm_virtio_has_feature(const struct vmm_virtio_dev *d, unsigned bit);

/* Data side (I/O thread, lock held): I/O that touches guest memory is bracketed so a reset can
 * wait for it. */
void vmm_virtio_io_begin(struct vmm_virtio_dev *d);
void vmm_virtio_io_end(struct vmm_virtio_dev *d);
/* Publishes q's completions and notifies the driver if it asked. */
void vmm_virtio_queue_publish(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q);

#endif
