/* SPDX-License-Identifier: MIT */
/*
 * The transport-independent part of a virtio 1.x driver (virtio 1.2, sections 2 and 3): device
 * status, feature negotiation, device configuration reads, virtqueues over rings/ (vq_drv_*),
 * and waiting for completions with interrupts or by polling. A transport (virtio_pci.c,
 * virtio_mmio.c) embeds struct g_virtio_dev first in its own state and fills in the ops.
 *
 * Interrupt modes:
 *   irq:  each queue's interrupt is armed only while the program sleeps for it, so a burst of
 *         completions that are being drained costs no interrupts;
 *   poll: interrupts stay off at the ring (vq_drv_intr_enable(false)) and at the transport (no
 *         MSI-X vector, no routed line); the used rings are polled.
 * Kicks happen only when vq_drv_kick_prepare says the device wants one, in both modes.
 */
#ifndef G_DRIVERS_VIRTIO_H
#define G_DRIVERS_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "virtq.h"

#define G_VIRTIO_MAX_QUEUES  8
#define G_VIRTIO_MAX_VECTORS (G_VIRTIO_MAX_QUEUES + 1) /* queues plus config */

/* What the program asks of every virtio device (programs/vdev.c reads it from the command
 * line). */
struct g_virtio_opts {
	const char *transport; /* transport=pci|mmio; NULL: PCI first, then MMIO */
	bool poll;	       /* mode=poll */
	bool intx;	       /* irq=intx: the PCI INTx line even if MSI-X is there */
	bool packed;	       /* ring=packed: the packed ring if the device offers it */
	bool no_event_idx;     /* event_idx=off */
	bool no_indirect;      /* indirect=off */
};

enum g_virtio_irq_mode {
	G_VIRTIO_IRQ_POLL,
	G_VIRTIO_IRQ_MSIX, /* one vector per queue, plus one for configuration changes */
	G_VIRTIO_IRQ_LINE, /* PCI INTx or the MMIO interrupt, acknowledged by the driver */
};

struct g_virtio_dev;
struct g_virtq;

struct g_virtio_ops {
	uint8_t (*get_status)(struct g_virtio_dev *d);
	void (*set_status)(struct g_virtio_dev *d, uint8_t status); /* 0 resets */
	uint64_t (*get_features)(struct g_virtio_dev *d);
	void (*set_features)(struct g_virtio_dev *d, uint64_t features);
	uint32_t (*config_generation)(struct g_virtio_dev *d);
	/* len 1, 2 or 4, naturally aligned (4.1.3.1, 4.2.2.2) */
	uint32_t (*config_read)(struct g_virtio_dev *d, unsigned int off, unsigned int len);
	uint16_t (*queue_max)(struct g_virtio_dev *d, uint16_t index); /* 0: no such queue */
	/* Size, areas and vector of q, then enabled. Returns 0 or -errno. */
	int (*queue_enable)(struct g_virtio_dev *d, struct g_virtq *q);
	void (*notify)(struct g_virtio_dev *d, struct g_virtq *q);
	/* Picks and sets up the interrupt mode for nvec vectors (queues + config). */
	int (*irq_setup)(struct g_virtio_dev *d, const struct g_virtio_opts *o, unsigned int nq);
	/* G_VIRTIO_IRQ_LINE: acknowledges the device's interrupt so its line drops. */
	void (*irq_ack)(struct g_virtio_dev *d);
	/* MSI-X: points live queue q at table entry `entry`. Returns 0 or -errno. Optional. */
	int (*queue_set_vector)(struct g_virtio_dev *d, struct g_virtq *q, uint16_t entry);
};

struct g_virtio_dev {
	const struct g_virtio_ops *ops;
	uint32_t device_id;
	uint64_t features; /* negotiated */
	enum g_virtio_irq_mode irq_mode;
	unsigned int nvectors; /* LAPIC vectors this device's interrupts arrive on */
	unsigned int vector[G_VIRTIO_MAX_VECTORS];
	unsigned int queue_vector_base; /* MSI-X entry of queue 0 (entry 0 is config) */
	bool shared_queue_vector;	/* MSI-X table too small: all queues on one entry */
	uint64_t line_acked;		/* G_VIRTIO_IRQ_LINE: interrupt count at the last ack */
	char where[64];			/* "pci 00:03.0 ...", for "mem:" lines */
};

struct g_virtq {
	struct vq_drv drv;
	struct g_virtio_dev *dev;
	uint16_t index;
	uint16_t num;
	unsigned int vector; /* LAPIC vector in the interrupt modes */
	uint16_t msix_entry;
	uintptr_t notify; /* transport's notify address for this queue */
	uint64_t kicks;	  /* notifications sent */
};

static inline bool g_virtio_has(const struct g_virtio_dev *d, unsigned int bit)
{
	return d->features & (1ull << bit);
}

/*
 * Initialization up to FEATURES_OK (3.1.1): reset, ACKNOWLEDGE, DRIVER, then the features the
 * device offers among want, VERSION_1 (required), EVENT_IDX, INDIRECT_DESC and, with
 * ring=packed, RING_PACKED. FEATURES_OK is read back. On error the device is left FAILED.
 * Returns 0, -ENOTSUP (no VERSION_1) or -EIO (features refused).
 */
int g_virtio_negotiate(struct g_virtio_dev *d, const struct g_virtio_opts *o, uint64_t want);

/* Interrupts for nq queues, per o (see above); after g_virtio_negotiate. */
int g_virtio_irq_setup(struct g_virtio_dev *d, const struct g_virtio_opts *o, unsigned int nq);

/* Sets up queue index with at most max_num entries (the device's maximum otherwise), memory
 * from the runtime. Returns 0, -ENOENT (no such queue) or -errno. */
int g_virtq_init(struct g_virtio_dev *d, struct g_virtq *q, uint16_t index, uint16_t max_num);

/* DRIVER_OK: the device is live. */
int g_virtio_ready(struct g_virtio_dev *d);

/* FAILED (after an error during set-up), or a reset. */
void g_virtio_fail(struct g_virtio_dev *d);
void g_virtio_reset(struct g_virtio_dev *d);

/* Device configuration, re-read until the generation is stable (2.5.1). */
uint8_t g_virtio_cfg8(struct g_virtio_dev *d, unsigned int off);
uint16_t g_virtio_cfg16(struct g_virtio_dev *d, unsigned int off);
uint32_t g_virtio_cfg32(struct g_virtio_dev *d, unsigned int off);
uint64_t g_virtio_cfg64(struct g_virtio_dev *d, unsigned int off);

/* Publishes what was added to q and notifies the device if it asked for it. */
void g_virtq_kick(struct g_virtq *q);

/*
 * Waits for a completion on any of the n queues, until the TSC passes deadline (-ETIMEDOUT).
 * poll: returns 0 at once after a pause (the caller polls the rings). irq: arms the queues'
 * interrupts, returns 0 at once if completions are already there, else sleeps until one of
 * the device's vectors fires; the queues are disarmed again before it returns.
 */
int g_virtio_wait(struct g_virtio_dev *d, struct g_virtq *const *qs, unsigned int n,
		  uint64_t deadline);

/* One device's part in a wait over several: the queues to arm. */
struct g_virtio_waiter {
	struct g_virtio_dev *dev;
	struct g_virtq *const *qs;
	unsigned int nq;
};

#define G_VIRTIO_WAIT_MAX_DEVS 8

/* g_virtio_wait over the queues of n devices (at most G_VIRTIO_WAIT_MAX_DEVS; -EINVAL
 * otherwise): an interrupt of any of them ends the sleep. If any of them is polled it returns
 * at once after a pause, as g_virtio_wait does in poll mode. */
int g_virtio_wait_any(const struct g_virtio_waiter *w, unsigned int n, uint64_t deadline);

/* Interrupts taken on the device's vectors, by this CPU. */
uint64_t g_virtio_irq_count(struct g_virtio_dev *d);

/* MSI-X: moves live queue q's interrupt to the device's table entry `entry` (0 is the config
 * entry), as a driver may do at any time (4.1.4.3). Returns 0 or -errno (-EINVAL without
 * MSI-X or with no such entry, -EIO if the device refused it). */
int g_virtio_queue_move_vector(struct g_virtio_dev *d, struct g_virtq *q, uint16_t entry);

const char *g_virtio_irq_mode_name(enum g_virtio_irq_mode m);

#endif
